//! One home for the SHA-256 hex digests the instance keeps instead of secrets (client-token
//! rotating secrets, secret keys).

use sha2::{Digest as _, Sha256};

/// The SHA-256 of `data`, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(data).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
