//! Client tokens: what a browser keeps in the `__client` cookie, a native app in its
//! `Authorization` header, and a development browser in `__clerk_db_jwt`.
//!
//! A client token is a JWT (HS256, keyed by an instance secret) carrying the client id and a
//! rotating secret. The store keeps only the SHA-256 of that secret; a token is accepted only
//! when its secret hashes to the stored value (compared in constant time). Rotating the secret
//! (on every sign-in, and on sign-out of all sessions) makes every earlier token useless, even
//! though its signature is still valid.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::clock::UnixMillis;
use crate::error::{Error, Result};
use crate::random::{self, Random};
use crate::security;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientClaims {
    /// The client id.
    pub id: String,
    /// The rotating secret, base64url.
    pub rotating_token: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
}

#[derive(Clone)]
pub struct ClientTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for ClientTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTokens")
    }
}

/// A freshly minted rotating secret: the token to hand out and the hash to store.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub token: String,
    pub hash: String,
}

pub fn hash_rotating(secret: &str) -> String {
    crate::digest::sha256_hex(secret.as_bytes())
}

impl ClientTokens {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Client tokens live as long as their cookie; freshness is the rotating secret's job.
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Mints a token for `client_id` with a new rotating secret.
    pub fn issue(&self, client_id: &str, random: &dyn Random, now: UnixMillis) -> Result<Rotation> {
        let secret = random::token(random, security::CLIENT_ROTATING_TOKEN_BYTES);
        let claims = ClientClaims {
            id: client_id.to_owned(),
            rotating_token: secret.clone(),
            iat: now.div_euclid(1000),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal(format!("client token signing failed: {e}")))?;
        Ok(Rotation {
            token,
            hash: hash_rotating(&secret),
        })
    }

    /// The claims of a well-signed token; `None` for anything else.
    pub fn decode(&self, token: &str) -> Option<ClientClaims> {
        jsonwebtoken::decode::<ClientClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// Whether the token's rotating secret is the one the client currently has.
pub fn rotating_matches(claims: &ClientClaims, stored_hash: &str) -> bool {
    let presented = hash_rotating(&claims.rotating_token);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn issued_tokens_decode_and_match() {
        let t = ClientTokens::new(b"0123456789abcdef0123456789abcdef");
        let r = SeededRandom::new(3);
        let rot = t.issue("client_1", &r, 1_700_000_000_000).ok();
        let rot = rot.as_ref();
        let claims = rot.and_then(|rot| t.decode(&rot.token));
        assert_eq!(claims.as_ref().map(|c| c.id.as_str()), Some("client_1"));
        assert!(
            claims
                .zip(rot)
                .is_some_and(|(c, rot)| rotating_matches(&c, &rot.hash))
        );
    }

    #[test]
    fn foreign_signatures_are_rejected() {
        let ours = ClientTokens::new(b"0123456789abcdef0123456789abcdef");
        let theirs = ClientTokens::new(b"ffffffffffffffffffffffffffffffff");
        let r = SeededRandom::new(4);
        let token = theirs.issue("client_1", &r, 0).map(|r| r.token).ok();
        assert!(token.is_some_and(|t| ours.decode(&t).is_none()));
    }
}
