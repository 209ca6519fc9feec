//! A software passkey authenticator, written from the WebAuthn specification (Level 3 §6.1
//! authenticator data, §6.5.4 the COSE key, §8.7 the "none" attestation) rather than from the
//! server's code: ES256, user verified, "none" attestation, a signature counter that advances
//! on every use. It answers the options the server hands out (the `nonce`) as a browser would,
//! serialised as clerk-js sends them (`public_key_credential`).
//!
//! Tests make it misbehave on purpose: answer for another origin or relying party, present a
//! copy of itself whose counter lags (a cloned authenticator), or sign another challenge.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// One credential on one authenticator.
pub struct SoftPasskey {
    pkcs8: Vec<u8>,
    pub credential_id: Vec<u8>,
    /// The user handle registration gave it (returned at sign-in, as discoverable ones do).
    pub user_handle: Vec<u8>,
    /// The relying party id it was made for.
    pub rp_id: String,
    pub counter: u32,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

/// A CBOR head (major type, argument), RFC 8949 §3.
fn cbor_head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=255 => out.extend([m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend(b);
}

fn cbor_text(t: &str, out: &mut Vec<u8>) {
    cbor_head(3, t.len(), out);
    out.extend(t.as_bytes());
}

fn b64_field(v: &Value, path: &[&str]) -> Vec<u8> {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    let text = at
        .as_str()
        .unwrap_or_else(|| panic!("options lack {path:?}: {v}"));
    B64.decode(text.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("{path:?} is not base64url: {e}"))
}

impl SoftPasskey {
    /// Answers creation options (`navigator.credentials.create`) from the page at `origin`:
    /// a new key, and the registration answer as clerk-js serialises it.
    pub fn register(options: &str, origin: &str) -> (SoftPasskey, String) {
        let o: Value = serde_json::from_str(options).expect("creation options are JSON");
        let rp_id = o["rp"]["id"].as_str().expect("rp.id").to_owned();
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("a P-256 key")
            .as_ref()
            .to_vec();
        let mut credential_id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut credential_id).expect("random");
        let mut key = SoftPasskey {
            pkcs8,
            credential_id,
            user_handle: b64_field(&o, &["user", "id"]),
            rp_id,
            counter: 0,
        };
        let answer = key.attest(&o, origin, &key.rp_id.clone());
        (key, answer)
    }

    fn pair(&self) -> EcdsaKeyPair {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.pkcs8).expect("its key")
    }

    /// A copy of this credential (the same key, id and user) whose counter stands at
    /// `counter`: what cloning an authenticator yields.
    pub fn cloned_at(&self, counter: u32) -> SoftPasskey {
        SoftPasskey {
            pkcs8: self.pkcs8.clone(),
            credential_id: self.credential_id.clone(),
            user_handle: self.user_handle.clone(),
            rp_id: self.rp_id.clone(),
            counter,
        }
    }

    fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": B64.encode(challenge),
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn attest(&mut self, o: &Value, origin: &str, rp_id: &str) -> String {
        self.attest_as(o, origin, rp_id, None)
    }

    /// Answers creation options with a "fido-u2f" attestation (WebAuthn §8.6) whose certificate
    /// carries `padding` bytes in an extension: what an authenticator may send though "none"
    /// is asked for, and what would otherwise be kept with the credential.
    pub fn register_with_bloated_attestation(
        options: &str,
        origin: &str,
        padding: usize,
    ) -> String {
        let (mut key, _) = Self::register(options, origin);
        key.counter = 0;
        let o: Value = serde_json::from_str(options).expect("creation options are JSON");
        let rp_id = o["rp"]["id"].as_str().expect("rp.id").to_owned();
        key.attest_as(&o, origin, &rp_id, Some(padding))
    }

    /// A self-made X.509 certificate (DER) for this key, with an extension of `padding` bytes.
    fn certificate(&self, padding: usize) -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            match content.len() {
                n @ 0..=127 => out.push(n as u8),
                n @ 128..=255 => out.extend([0x81, n as u8]),
                n => {
                    out.push(0x82);
                    out.extend((n as u16).to_be_bytes());
                }
            }
            out.extend(content);
            out
        }
        let seq = |parts: &[Vec<u8>]| tlv(0x30, &parts.concat());
        let ecdsa_sha256 = seq(&[tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]);
        let name = seq(&[tlv(
            0x31,
            &seq(&[
                tlv(0x06, &[0x55, 0x04, 0x03]),
                tlv(0x0c, b"Soft authenticator"),
            ]),
        )]);
        let point = self.pair().public_key().as_ref().to_vec();
        let spki = seq(&[
            seq(&[
                tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
            ]),
            tlv(0x03, &[&[0u8][..], &point].concat()),
        ]);
        let extension = seq(&[
            tlv(
                0x06,
                &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01],
            ),
            tlv(0x04, &vec![0x41; padding]),
        ]);
        let tbs = seq(&[
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1]),
            ecdsa_sha256.clone(),
            name.clone(),
            seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z")]),
            name,
            spki,
            tlv(0xa3, &seq(&[extension])),
        ]);
        let sig = self
            .pair()
            .sign(&SystemRandom::new(), &tbs)
            .expect("a signature");
        seq(&[
            tbs,
            ecdsa_sha256,
            tlv(0x03, &[&[0u8][..], sig.as_ref()].concat()),
        ])
    }

    fn attest_as(&mut self, o: &Value, origin: &str, rp_id: &str, u2f: Option<usize>) -> String {
        self.counter += 1;
        let point = self.pair().public_key().as_ref().to_vec(); // 0x04 ‖ x ‖ y
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut cose = Vec::new();
        cbor_head(5, 5, &mut cose);
        cose.extend([0x01, 0x02]); // kty: EC2
        cose.extend([0x03, 0x26]); // alg: ES256 (-7)
        cose.extend([0x20, 0x01]); // crv: P-256
        cose.push(0x21); // x
        cbor_bytes(x, &mut cose);
        cose.push(0x22); // y
        cbor_bytes(y, &mut cose);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV | AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(cose);
        let challenge = b64_field(o, &["challenge"]);
        let client_data = Self::client_data("webauthn.create", &challenge, origin);
        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        match u2f {
            None => {
                cbor_text("none", &mut attestation);
                cbor_text("attStmt", &mut attestation);
                cbor_head(5, 0, &mut attestation);
            }
            Some(padding) => {
                cbor_text("fido-u2f", &mut attestation);
                cbor_text("attStmt", &mut attestation);
                let mut signed = vec![0u8];
                signed.extend(Sha256::digest(rp_id.as_bytes()));
                signed.extend(Sha256::digest(&client_data));
                signed.extend(&self.credential_id);
                signed.extend(&point);
                let sig = self
                    .pair()
                    .sign(&SystemRandom::new(), &signed)
                    .expect("a signature");
                cbor_head(5, 2, &mut attestation);
                cbor_text("sig", &mut attestation);
                cbor_bytes(sig.as_ref(), &mut attestation);
                cbor_text("x5c", &mut attestation);
                cbor_head(4, 1, &mut attestation);
                cbor_bytes(&self.certificate(padding), &mut attestation);
            }
        }
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        let id = B64.encode(&self.credential_id);
        json!({
            "type": "public-key",
            "id": id,
            "rawId": id,
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "attestationObject": B64.encode(attestation),
                "transports": ["internal"],
            },
        })
        .to_string()
    }

    /// Answers other creation options with this same credential (what registering a copied
    /// credential to another account looks like).
    pub fn attest_again(&mut self, options: &str, origin: &str) -> String {
        let o: Value = serde_json::from_str(options).expect("creation options are JSON");
        let rp_id = o["rp"]["id"].as_str().expect("rp.id").to_owned();
        self.attest(&o, origin, &rp_id)
    }

    /// Answers request options (`navigator.credentials.get`) from the page at `origin`.
    pub fn assert(&mut self, options: &str, origin: &str) -> String {
        let rp_id = self.rp_id.clone();
        self.assert_as(options, origin, &rp_id)
    }

    /// Answers request options, but claims relying party `rp_id` in the authenticator data
    /// (what a credential made for another site signs).
    pub fn assert_as(&mut self, options: &str, origin: &str, rp_id: &str) -> String {
        let o: Value = serde_json::from_str(options).expect("request options are JSON");
        let challenge = b64_field(&o, &["challenge"]);
        self.sign(&challenge, origin, rp_id)
    }

    /// An assertion over `challenge`, whatever the options said.
    pub fn sign(&mut self, challenge: &[u8], origin: &str, rp_id: &str) -> String {
        self.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV);
        auth_data.extend(self.counter.to_be_bytes());
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self
            .pair()
            .sign(&SystemRandom::new(), &signed)
            .expect("a signature");
        let id = B64.encode(&self.credential_id);
        json!({
            "type": "public-key",
            "id": id,
            "rawId": id,
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "authenticatorData": B64.encode(auth_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
        })
        .to_string()
    }
}
