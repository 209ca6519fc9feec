//! Time-based one-time passwords (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of
//! skew either way — what authenticator apps and Clerk use.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::error::{Error, Result};

pub const DIGITS: u8 = 6;
pub const STEP_SECS: u64 = 30;
pub const SKEW_STEPS: u16 = 1;
/// RFC 4226 recommends 160-bit secrets.
pub const SECRET_BYTES: usize = 20;

fn totp(secret_base32: &str, issuer: Option<&str>, account: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| Error::internal(format!("TOTP secret: {e:?}")))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .with_issuer(issuer)
        .with_account_name(account)
        .build()
        .map_err(|e| Error::internal(format!("TOTP: {e:?}")))
}

fn secs(now_secs: i64) -> u64 {
    u64::try_from(now_secs).unwrap_or(0)
}

/// The time step `code` belongs to, if it is valid for `secret` at `now_secs`.
pub fn matching_step(secret_base32: &str, code: &str, now_secs: i64) -> Option<u64> {
    totp(secret_base32, None, "")
        .ok()?
        .check(code.trim(), secs(now_secs))
}

/// Accepts `code` once: its step must be later than `last_used_step` (RFC 6238 §5.2, OWASP
/// ASVS 2.8.4 — a code seen once, e.g. over a shoulder, cannot be replayed within its window).
/// Returns the step to remember.
pub fn accept(
    secret_base32: &str,
    code: &str,
    now_secs: i64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    matching_step(secret_base32, code, now_secs)
        .filter(|step| last_used_step.is_none_or(|l| *step > l))
}

/// The code for `secret` at `now_secs`.
pub fn generate(secret_base32: &str, now_secs: i64) -> Result<String> {
    Ok(totp(secret_base32, None, "")?
        .generate(secs(now_secs))
        .to_string())
}

/// A secret (base32) from random bytes.
pub fn secret_from_bytes(bytes: &[u8]) -> String {
    Secret::from(bytes.to_vec()).to_base32()
}

/// The `otpauth://` URI authenticator apps scan.
pub fn uri(secret_base32: &str, issuer: &str, account: &str) -> Result<String> {
    totp(secret_base32, Some(issuer), account)?
        .to_url()
        .map_err(|e| Error::internal(format!("TOTP URI: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_accepted_within_one_step_once() {
        let secret = secret_from_bytes(&[7u8; SECRET_BYTES]);
        let now = 1_767_225_600;
        let code = generate(&secret, now).unwrap_or_default();
        let step = matching_step(&secret, &code, now);
        assert!(step.is_some());
        assert!(matching_step(&secret, &code, now + 30).is_some());
        assert!(matching_step(&secret, &code, now + 90).is_none());
        assert_eq!(accept(&secret, &code, now, None), step);
        assert_eq!(accept(&secret, &code, now, step), None, "no replay");
        assert!(
            uri(&secret, "Frontdoor", "a@example.com")
                .is_ok_and(|u| u.starts_with("otpauth://totp/"))
        );
    }
}
