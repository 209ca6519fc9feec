//! One-time codes and backup codes at rest: an HMAC-SHA-256 keyed by a key derived from the
//! instance secret, compared in constant time. A plain hash of a 6-digit code is reversed by
//! trying a million values; a keyed one is not, without the instance secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Keys code hashes; derived from the instance secret.
#[derive(Clone)]
pub struct CodeHasher {
    key: Vec<u8>,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHasher")
    }
}

impl CodeHasher {
    pub fn new(instance_secret: &[u8]) -> Result<Self> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(instance_secret)
            .map_err(|e| Error::internal(format!("code key: {e}")))?;
        mac.update(b"frontdoor one-time codes v1");
        Ok(Self {
            key: mac.finalize().into_bytes().to_vec(),
        })
    }

    /// The stored form of a code: HMAC-SHA-256, hex.
    pub fn hash(&self, code: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(code.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn matches(&self, code: &str, stored: &str) -> bool {
        let presented = self.hash(code.trim());
        !stored.is_empty() && bool::from(presented.as_bytes().ct_eq(stored.as_bytes()))
    }
}
