//! Secret keys: what app servers present to the Backend API (`Authorization: Bearer sk_…`),
//! as `@clerk/backend` and the framework SDKs send `CLERK_SECRET_KEY`.
//!
//! A key is `sk_test_` (development instances) or `sk_live_` (production) and 40 random base62
//! characters. Only its SHA-256 is kept — in the store (keys the operator command
//! `frontdoor-local create-secret-key` made) or in the process (a key configured with
//! `FRONTDOOR_SECRET_KEY`, hashed at start). A presented key is hashed and compared with each
//! kept hash in constant time. A key whose prefix is the other instance type's never matches:
//! a development key cannot reach production users.

use subtle::ConstantTimeEq;

use crate::random::{self, Random};

/// Random characters after the prefix (238 bits of base62).
const KEY_CHARS: usize = 40;

/// The prefix of this instance type's keys.
pub fn prefix(development: bool) -> &'static str {
    if development { "sk_test_" } else { "sk_live_" }
}

/// A new key for this instance type: shown once, then only its hash is kept.
pub fn generate(random: &dyn Random, development: bool) -> String {
    format!(
        "{}{}",
        prefix(development),
        random::base62(random, KEY_CHARS)
    )
}

/// The SHA-256 of a key, hex: what is stored.
pub fn hash(key: &str) -> String {
    crate::digest::sha256_hex(key.as_bytes())
}

/// Whether `presented` is a key of this instance type whose hash is one of `kept`.
pub fn matches(presented: &str, development: bool, kept: &[String]) -> bool {
    if !presented.starts_with(prefix(development)) {
        return false;
    }
    let presented = hash(presented);
    // Every kept hash is compared, so the time taken does not tell which one matched.
    kept.iter().fold(false, |found, k| {
        found | bool::from(presented.as_bytes().ct_eq(k.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn a_generated_key_matches_its_hash_and_nothing_else() {
        let r = SeededRandom::new(7);
        let key = generate(&r, true);
        assert!(key.starts_with("sk_test_") && key.len() == 8 + KEY_CHARS);
        let kept = vec![hash("sk_test_other"), hash(&key)];
        assert!(matches(&key, true, &kept));
        assert!(!matches("sk_test_other2", true, &kept));
        assert!(!matches(&key, false, &kept), "a test key is not a live key");
        let live = generate(&r, false);
        assert!(matches(&live, false, &[hash(&live)]));
        assert!(!matches(&live, true, &[hash(&live)]));
    }
}
