//! What apps hear about through webhooks: the event types, and the Svix-style signatures their
//! messages carry, as Clerk's webhooks do and `verifyWebhook`
//! (`@clerk/backend/webhooks`), `svix` and `standardwebhooks` check them:
//!
//! ```text
//!   svix-id:        msg_…             (the same on every attempt: receivers de-duplicate on it)
//!   svix-timestamp: <Unix seconds>    (of this attempt)
//!   svix-signature: v1,<base64(HMAC-SHA256(secret, "<id>.<timestamp>.<body>"))>
//! ```
//!
//! The secret is `whsec_` followed by the base64 of the key bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// Every event type this instance sends (Clerk's names).
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "session.created",
    "session.ended",
    "session.removed",
    "session.revoked",
    "email.created",
    "sms.created",
];

/// An endpoint's signing key. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

impl SigningSecret {
    /// Reads `whsec_<base64>`; the problem otherwise (for the settings error).
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("a signing secret starts with `{PREFIX}`"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "the part after `whsec_` must be base64".to_owned())?;
        // Svix issues 24-byte keys; anything under 16 bytes is too weak to sign with.
        if key.len() < 16 {
            return Err("the signing key must be at least 16 bytes".into());
        }
        Ok(Self(key))
    }

    /// The `svix-signature` value for message `id`, sent at `timestamp` with `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            // HMAC takes keys of any length; this arm cannot be reached.
            Err(_) => return String::new(),
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and Svix's docs): this secret, id,
    /// timestamp and body sign to this value.
    #[test]
    fn signs_the_specification_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn refuses_what_is_not_a_secret() {
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        assert!(SigningSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(
            format!(
                "{:?}",
                SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
            ) == "SigningSecret(…)"
        );
    }
}
