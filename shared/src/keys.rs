//! The signing key ring: RSA-2048 (e = 65537) keys that sign session tokens (RS256), and the
//! JWKS that publishes their public halves.
//!
//! Why RSA-2048 exactly: `@clerk/backend` turns a PEM `jwtKey` into a JWK by stripping a fixed
//! 2048-bit SPKI prefix, so any other size fails verification there.
//!
//! ```text
//!   first start ──► generate key (or load the operator's PEM) ──► persist (attribute_not_exists)
//!   rotate ──► new key becomes current ──► older keys stay in the JWKS until every token they
//!                                          signed has expired, then drop out
//! ```
//!
//! Keys live in one store item (`INSTANCE` / `SIGNING_KEYS`), read once per cold start.
//!
//! Signing uses the parsed aws-lc key held in memory. `jsonwebtoken`'s encoder takes the key as
//! DER and re-parses (and re-validates) it on every signature, which measured at about four times
//! the cost of the signature itself — on the hottest path of the API. The token is the same
//! RS256 JWS (RFC 7515 compact form); `jsonwebtoken` still decodes and verifies tokens.

use std::time::Duration;

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::{UnixMillis, duration_ms};
use crate::error::{Error, Result};
use crate::security;

/// A key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    /// PKCS#8 DER, base64.
    pub pkcs8: String,
    pub created_at: UnixMillis,
    /// When a newer key took over; the key is published until this plus the longest token lifetime.
    pub retired_at: Option<UnixMillis>,
    /// When the key starts signing; until then it is only published, so verifiers have it
    /// before the first token signed with it (a staged rotation). `None`: at once.
    #[serde(default)]
    pub activate_at: Option<UnixMillis>,
}

/// A key ready to sign and to publish.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub created_at: UnixMillis,
    pub retired_at: Option<UnixMillis>,
    pub activate_at: Option<UnixMillis>,
    signer: Arc<KeyPair>,
    decoding: DecodingKey,
    /// Modulus and exponent, base64url (JWK `n`, `e`).
    n: String,
    e: String,
    pkcs8_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_unwrap(pem: &str) -> Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| Error::internal(format!("signing key PEM is not base64: {e}")))
}

impl SigningKey {
    fn from_pkcs8(
        pkcs8: &[u8],
        created_at: UnixMillis,
        retired_at: Option<UnixMillis>,
    ) -> Result<Self> {
        let pair = KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| Error::internal(format!("signing key rejected: {e}")))?;
        let public = pair.public_key();
        let n_bytes = public.modulus().big_endian_without_leading_zero().to_vec();
        let e_bytes = public.exponent().big_endian_without_leading_zero().to_vec();
        if n_bytes.len() * 8 != security::SIGNING_KEY_BITS || e_bytes != [1, 0, 1] {
            return Err(Error::internal(
                "signing keys must be RSA-2048 with e = 65537 (what @clerk/backend accepts)",
            ));
        }
        let n = URL_SAFE_NO_PAD.encode(&n_bytes);
        let e = URL_SAFE_NO_PAD.encode(&e_bytes);
        let decoding = DecodingKey::from_rsa_components(&n, &e)
            .map_err(|e| Error::internal(format!("public key unusable: {e}")))?;
        // The kid names the public key, so the same key always has the same kid.
        let kid = format!(
            "ins_{}",
            &URL_SAFE_NO_PAD.encode(Sha256::digest(public.as_ref()))[..24]
        );
        Ok(Self {
            kid,
            created_at,
            retired_at,
            activate_at: None,
            signer: Arc::new(pair),
            decoding,
            n,
            e,
            pkcs8_b64: STANDARD.encode(pkcs8),
        })
    }

    /// A fresh RSA-2048 key.
    pub fn generate(now: UnixMillis) -> Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| Error::internal("RSA key generation failed"))?;
        let der = pair
            .as_der()
            .map_err(|_| Error::internal("RSA key encoding failed"))?;
        Self::from_pkcs8(der.as_ref(), now, None)
    }

    /// An operator-supplied PEM (PKCS#8 `PRIVATE KEY`).
    pub fn from_pem(pem: &str, now: UnixMillis) -> Result<Self> {
        Self::from_pkcs8(&pem_unwrap(pem)?, now, None)
    }

    pub fn from_stored(s: &StoredKey) -> Result<Self> {
        let der = STANDARD
            .decode(&s.pkcs8)
            .map_err(|e| Error::internal(format!("stored key is not base64: {e}")))?;
        let mut key = Self::from_pkcs8(&der, s.created_at, s.retired_at)?;
        key.kid.clone_from(&s.kid);
        key.activate_at = s.activate_at;
        Ok(key)
    }

    pub fn to_stored(&self) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            pkcs8: self.pkcs8_b64.clone(),
            created_at: self.created_at,
            retired_at: self.retired_at,
            activate_at: self.activate_at,
        }
    }

    pub fn jwk(&self) -> Value {
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": self.n,
            "e": self.e,
        })
    }

    /// The public key as an SPKI PEM, the form `@clerk/backend` takes as `jwtKey`.
    pub fn public_pem(&self) -> Result<String> {
        let der = STANDARD
            .decode(&self.pkcs8_b64)
            .map_err(|e| Error::internal(e.to_string()))?;
        let pair = KeyPair::from_pkcs8(&der).map_err(|e| Error::internal(e.to_string()))?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| Error::internal("public key encoding failed"))?;
        Ok(pem_wrap("PUBLIC KEY", spki.as_ref()))
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

/// The keys in use, newest last.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    /// How long after retirement a key must stay published (the longest token lifetime).
    publish_grace: Duration,
}

impl KeyRing {
    pub fn new(keys: Vec<SigningKey>, publish_grace: Duration) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::internal("a key ring needs at least one key"));
        }
        Ok(Self {
            keys,
            publish_grace,
        })
    }

    /// The key that signs at `now`: the newest one that is active (a staged key waits for its
    /// activation time).
    pub fn current(&self, now: UnixMillis) -> &SigningKey {
        self.keys
            .iter()
            .rev()
            .find(|k| k.activate_at.is_none_or(|a| a <= now))
            // `new` guarantees at least one key; the oldest signs if all were staged.
            .unwrap_or(&self.keys[0])
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// How long a retired key stays published.
    pub fn publish_grace(&self) -> Duration {
        self.publish_grace
    }

    /// Adds a new current key; the previous one is retired now.
    pub fn rotate(&mut self, new_key: SigningKey, now: UnixMillis) {
        self.stage(new_key, now);
    }

    /// Adds a key that starts signing at `activate_at` and is published from now on; the keys
    /// before it retire when it activates (and stay published while their tokens may live).
    pub fn stage(&mut self, mut new_key: SigningKey, activate_at: UnixMillis) {
        for k in &mut self.keys {
            if k.retired_at.is_none() {
                k.retired_at = Some(activate_at);
            }
        }
        new_key.activate_at = Some(activate_at);
        self.keys.push(new_key);
    }

    /// Keys still worth publishing at `now`: the current one and those whose tokens may live.
    pub fn published(&self, now: UnixMillis) -> impl Iterator<Item = &SigningKey> {
        let grace = duration_ms(self.publish_grace);
        self.keys
            .iter()
            .filter(move |k| k.retired_at.is_none_or(|r| r + grace > now))
    }

    /// Drops keys that no longer need publishing.
    pub fn prune(&mut self, now: UnixMillis) {
        let grace = duration_ms(self.publish_grace);
        self.keys
            .retain(|k| k.retired_at.is_none_or(|r| r + grace > now));
    }

    pub fn jwks(&self, now: UnixMillis) -> Value {
        json!({ "keys": self.published(now).map(SigningKey::jwk).collect::<Vec<_>>() })
    }

    /// Signs claims with the key current at `now`: a compact RS256 JWS with `typ: JWT` and
    /// `kid`.
    pub fn sign(&self, claims: &Value, now: UnixMillis) -> Result<String> {
        let key = self.current(now);
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": key.kid });
        let encode = |v: &Value| {
            serde_json::to_vec(v)
                .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                .map_err(|e| Error::internal(format!("token encoding: {e}")))
        };
        let signing_input = format!("{}.{}", encode(&header)?, encode(claims)?);
        let mut signature = vec![0u8; key.signer.public_modulus_len()];
        key.signer
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::internal("RS256 signing failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}
