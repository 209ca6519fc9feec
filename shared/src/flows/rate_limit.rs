//! Rate limits and send caps, counted in the store so they hold across Lambda instances.
//!
//! ```text
//!   per IP, per operation bucket:  fixed window (10 s) ──count > limit──► 429 too_many_requests
//!   per destination:               cooldown (30 s from the last send) and ≤ 5 sends per hour
//!   per client:                    ≤ 6 sends per hour, to any destinations
//!   (defaults from `crate::security`; `[rate_limits]` in the settings may tune them)
//! ```
//!
//! Fixed windows: the counter's key names the window, so a new window is a new item and the old
//! one expires by TTL. The cooldown is one counter that lives exactly as long as the cooldown:
//! while it lives, another send is refused. A caller whose address is unknown (in-process
//! calls) is not limited per IP.

use crate::app::App;
use crate::clock::duration_secs;
use crate::error::{Code, Error, Result};
use crate::security;
use crate::store::keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Creating (and filling in) sign-ins and sign-ups.
    Create,
    /// Verification attempts: codes, passwords, second factors.
    Attempt,
    /// Requests that send a code (`prepare_*`).
    Prepare,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Create => "create",
            Bucket::Attempt => "attempt",
            Bucket::Prepare => "prepare",
        }
    }
}

fn too_many(wait_secs: i64, what: &str) -> Error {
    let wait = u64::try_from(wait_secs.max(1)).unwrap_or(1);
    Error::new(Code::TooManyRequests)
        .long(format!("{what} Please try again in {wait} seconds."))
        .retry_after(wait)
}

/// Counts one event of `name` for `subject` in the current fixed window of `window_secs`, and
/// refuses it (429, `Retry-After` until the window ends) past `limit`.
async fn count_in_window(
    app: &App,
    name: &str,
    subject: &str,
    limit: u32,
    window_secs: i64,
    what: &str,
) -> Result<()> {
    let window = window_secs.max(1);
    let now = app.clock.now_secs();
    let start = now - now.rem_euclid(window);
    let end = start + window;
    let key = keys::rate_counter(name, subject, start);
    let count = app.repo.store().increment(&key, 1, end).await?;
    if count > i64::from(limit) {
        return Err(too_many(end - now, what));
    }
    Ok(())
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
        Bucket::Prepare => limits.prepares,
    };
    let window = i64::try_from(limits.window_secs).unwrap_or(i64::MAX);
    count_in_window(app, bucket.name(), ip, limit, window, "Too many requests.").await
}

/// Admits one message to `destination` (a channel-tagged, normalised address) asked for by
/// `client_id`, or refuses it: within the cooldown of the last send to that destination, or
/// past the hourly caps per destination and per client.
pub async fn admit_send(app: &App, destination: &str, client_id: &str) -> Result<()> {
    let limits = &app.settings.rate_limits;
    let cooldown = i64::try_from(limits.send_cooldown_secs).unwrap_or(i64::MAX);
    let now = app.clock.now_secs();
    // One counter per cooldown: it expires `cooldown` after the send that created it.
    let key = keys::rate_counter("send_cooldown", destination, 0);
    if app.repo.store().increment(&key, 1, now + cooldown).await? > 1 {
        return Err(too_many(cooldown, "A code was just sent there."));
    }
    let hour = duration_secs(security::SEND_CAP_WINDOW);
    let what = "Too many codes were sent.";
    let per_destination = limits.sends_per_destination_per_hour;
    count_in_window(app, "send_to", destination, per_destination, hour, what).await?;
    let per_client = limits.sends_per_client_per_hour;
    count_in_window(app, "send_by", client_id, per_client, hour, what).await
}

/// Gives back what [`admit_send`] counted for a message that was not delivered after all (the
/// courier failed): the caller may try again at once.
pub async fn refund_send(app: &App, destination: &str, client_id: &str) -> Result<()> {
    let now = app.clock.now_secs();
    let hour = duration_secs(security::SEND_CAP_WINDOW);
    let start = now - now.rem_euclid(hour);
    let store = app.repo.store();
    let cooldown_key = keys::rate_counter("send_cooldown", destination, 0);
    let cooldown = i64::try_from(app.settings.rate_limits.send_cooldown_secs).unwrap_or(0);
    let cooldown_end = now + cooldown;
    store.increment(&cooldown_key, -1, cooldown_end).await?;
    for (name, subject) in [("send_to", destination), ("send_by", client_id)] {
        let key = keys::rate_counter(name, subject, start);
        store.increment(&key, -1, start + hour).await?;
    }
    Ok(())
}
