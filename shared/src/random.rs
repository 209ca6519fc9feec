//! Randomness, injected. Production draws from a CSPRNG seeded and periodically reseeded by the
//! operating system (`rand`'s thread generator); tests use a seeded generator so identifiers and
//! codes are reproducible.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

pub trait Random: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// The production generator: ChaCha, seeded from the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}

/// A deterministic generator for tests. Still a CSPRNG (ChaCha), just seeded.
#[derive(Debug)]
pub struct SeededRandom(Mutex<StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut rng = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        rng.fill_bytes(buf);
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A random base62 string; rejection sampling keeps every symbol equally likely.
pub fn base62(random: &dyn Random, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        random.fill(&mut buf);
        for b in buf {
            // 248 = 4 * 62: values at or above it would bias the first symbols.
            if b < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// A Clerk-style object id: `<prefix>_<27 base62 chars>` (about 160 bits).
pub fn object_id(random: &dyn Random, prefix: &str) -> String {
    format!("{prefix}_{}", base62(random, 27))
}

/// `n` random bytes, base64url without padding.
pub fn token(random: &dyn Random, n: usize) -> String {
    let mut buf = vec![0u8; n];
    random.fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A numeric code of `digits` digits, uniformly drawn.
pub fn numeric_code(random: &dyn Random, digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    let mut buf = [0u8; 32];
    while out.len() < digits {
        random.fill(&mut buf);
        for b in buf {
            // 250 = 25 * 10 keeps the digits unbiased.
            if b < 250 && out.len() < digits {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let r = SeededRandom::new(7);
        let id = object_id(&r, "client");
        assert!(id.starts_with("client_"));
        assert_eq!(id.len(), "client_".len() + 27);
        assert_ne!(id, object_id(&r, "client"));
    }

    #[test]
    fn numeric_codes_are_digits() {
        let r = SeededRandom::new(1);
        let code = numeric_code(&r, 6);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
}
