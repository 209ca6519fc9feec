//! Account lockout: too many failed first- or second-factor attempts lock a user for a while.
//!
//! ```text
//!   failures < 10 ──wrong password / code──► failures + 1 ──(10th)──► locked for 1 h
//!   sign-in completes (record_success) ──► failures = 0   locked ──(1 h passes)──► unlocked, failures = 0
//!   an operator (Backend API): lock ──► locked for 1 h; unlock ──► unlocked, failures = 0;
//!                              ban ──► refused until unbanned
//! ```
//!
//! Passing the first factor forgives nothing: wrong second-factor codes after a right password
//! count toward the same lockout, so knowing the password does not buy unlimited guesses.

use crate::clock::{UnixMillis, duration_ms};
use crate::error::{Code, Error, Result};
use crate::model::records::UserRecord;
use crate::security;

fn locked_error(until: UnixMillis, now: UnixMillis) -> Error {
    let secs = ((until - now).max(0) + 999) / 1000;
    Error::new(Code::UserLocked)
        .long(format!(
            "Your account is locked. You will be able to try again in {} minutes.",
            (secs + 59) / 60
        ))
        .meta("lockout_expires_in_seconds", secs)
}

/// Refuses a banned or locked user.
pub fn ensure_unlocked(user: &mut UserRecord, now: UnixMillis) -> Result<()> {
    if user.banned {
        return Err(Error::new(Code::UserBanned));
    }
    match user.locked_until {
        Some(until) if until > now => Err(locked_error(until, now)),
        Some(_) => {
            user.locked_until = None;
            user.failed_attempts = 0;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Counts a failed attempt. Returns the error to answer with: `on_failure`, or `user_locked`
/// when this failure locked the account.
pub fn record_failure(user: &mut UserRecord, now: UnixMillis, on_failure: Error) -> Error {
    user.failed_attempts += 1;
    if user.failed_attempts >= security::LOCKOUT_MAX_ATTEMPTS {
        let until = now + duration_ms(security::LOCKOUT_DURATION);
        user.locked_until = Some(until);
        user.failed_attempts = 0;
        return locked_error(until, now);
    }
    on_failure
}

/// A success: the failure count starts again. The one place failures are forgiven, called when
/// a sign-in completes or a reverification has proven every factor the user has.
pub fn record_success(user: &mut UserRecord) {
    user.failed_attempts = 0;
    user.locked_until = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn user() -> UserRecord {
        let doc = serde_json::json!({
            "id": "user_1", "username": null, "first_name": null, "last_name": null,
            "email_addresses": [], "phone_numbers": [],
            "primary_email_address_id": null, "primary_phone_number_id": null,
            "password_hash": null, "password_last_updated_at": null,
            "totp_secret": null, "totp_pending_secret": null, "backup_code_hashes": [],
            "public_metadata": {}, "unsafe_metadata": {}, "failed_attempts": 0,
            "locked_until": null, "last_sign_in_at": null, "last_active_at": null,
            "mfa_enabled_at": null, "mfa_disabled_at": null, "legal_accepted_at": null,
            "created_at": 0, "updated_at": 0,
        });
        match serde_json::from_value(doc) {
            Ok(u) => u,
            Err(e) => panic!("user: {e}"),
        }
    }

    #[test]
    fn the_tenth_failure_locks_for_an_hour() {
        let mut u = user();
        let now = 1_000_000;
        for _ in 1..security::LOCKOUT_MAX_ATTEMPTS {
            let e = record_failure(&mut u, now, Error::new(Code::FormCodeIncorrect));
            assert_eq!(e.code, Code::FormCodeIncorrect);
        }
        let e = record_failure(&mut u, now, Error::new(Code::FormCodeIncorrect));
        assert_eq!(e.code, Code::UserLocked);
        assert_eq!(e.meta.get("lockout_expires_in_seconds"), Some(&3600.into()));
        assert!(ensure_unlocked(&mut u, now + 3_599_000).is_err());
        assert!(ensure_unlocked(&mut u, now + 3_600_000).is_ok());
        assert_eq!((u.failed_attempts, u.locked_until), (0, None));
    }

    #[test]
    fn success_forgives_failures() {
        let mut u = user();
        let _ = record_failure(&mut u, 0, Error::new(Code::FormCodeIncorrect));
        record_success(&mut u);
        assert_eq!(u.failed_attempts, 0);
    }
}
