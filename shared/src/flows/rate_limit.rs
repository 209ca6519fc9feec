//! Per-IP rate limits, counted in the store so they hold across Lambda instances.
//!
//! Fixed windows: the counter's key names the window, so a new window is a new item and the old
//! one expires by TTL. A caller whose address is unknown (in-process calls) is not limited.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::store::keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Creating sign-ins and sign-ups.
    Create,
    /// Verification attempts: codes, passwords, second factors.
    Attempt,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Create => "create",
            Bucket::Attempt => "attempt",
        }
    }
}

/// Counts one request from `ip` and refuses it (429, `Retry-After`) past the limit.
pub async fn hit(app: &App, bucket: Bucket, ip: Option<&str>) -> Result<()> {
    let Some(ip) = ip else {
        return Ok(());
    };
    let limits = &app.settings.rate_limits;
    let limit = match bucket {
        Bucket::Create => limits.creates,
        Bucket::Attempt => limits.attempts,
    };
    let window = i64::try_from(limits.window_secs).unwrap_or(i64::MAX);
    let now = app.clock.now_secs();
    let start = now - now.rem_euclid(window);
    let end = start + window;
    let key = keys::rate_counter(bucket.name(), ip, start);
    let count = app.repo.store().increment(&key, 1, end).await?;
    if count > i64::from(limit) {
        let wait = u64::try_from((end - now).max(1)).unwrap_or(1);
        return Err(Error::new(Code::TooManyRequests)
            .long(format!(
                "Too many requests. Please try again in {wait} seconds."
            ))
            .retry_after(wait));
    }
    Ok(())
}
