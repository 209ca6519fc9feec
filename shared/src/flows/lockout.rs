//! Account lockout: too many failed first- or second-factor attempts lock a user for a while.
//!
//! ```text
//!   failures < 10 ──wrong password / code──► failures + 1 ──(10th)──► locked for 1 h
//!   any success ──► failures = 0            locked ──(1 h passes)──► unlocked, failures = 0
//! ```

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

/// Refuses a locked user.
pub fn ensure_unlocked(user: &mut UserRecord, now: UnixMillis) -> Result<()> {
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
