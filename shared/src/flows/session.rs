//! Sessions: how one starts when a sign-in or sign-up completes.
//!
//! ```text
//!   sign-in / sign-up complete ──► active ──touch──► active (last active)
//!                                    │
//!                                    ├─ sign out ───────────► ended
//!                                    ├─ removed from client ─► removed
//!                                    ├─ revoked elsewhere ───► revoked
//!                                    └─ past expire_at ──────► expired
//! ```
//! (The transitions after `active` belong to the sessions endpoints.)

use crate::app::App;
use crate::clock::{UnixMillis, duration_ms};
use crate::error::{Code, Error, Result};
use crate::model::records::{SessionActivity, SessionRecord, SessionStatus, UserRecord};
use crate::random;
use crate::repo::Repo;
use crate::settings::SessionMode;
use crate::store::Write;

use super::client::Current;

/// What is known about where a request came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A short browser name and version from a User-Agent, for the sessions list.
fn browser(user_agent: &str) -> (Option<String>, Option<String>) {
    for (token, name) in [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Chrome/", "Chrome"),
        ("Firefox/", "Firefox"),
        ("Version/", "Safari"),
    ] {
        if let Some(rest) = user_agent.split(token).nth(1) {
            let version = rest.split([' ', ';', ')']).next().unwrap_or("").to_owned();
            return (Some(name.to_owned()), Some(version).filter(|v| !v.is_empty()));
        }
    }
    (None, None)
}

pub fn activity(app: &App, origin: &Origin) -> SessionActivity {
    let ua = origin.user_agent.as_deref().unwrap_or("");
    let (browser_name, browser_version) = browser(ua);
    let is_mobile = ua.contains("Mobile") || ua.contains("Android") || ua.contains("iPhone");
    SessionActivity {
        id: random::object_id(app.random.as_ref(), "sess_activity"),
        browser_name,
        browser_version,
        device_type: None,
        ip_address: origin.ip.clone(),
        city: None,
        country: None,
        is_mobile,
    }
}

/// Refuses a new sign-in on a client that already has one, in single-session mode.
pub fn ensure_can_sign_in(app: &App, current: &Current) -> Result<()> {
    if app.settings.sessions.mode == SessionMode::Single && current.active_sessions().next().is_some()
    {
        return Err(Error::new(Code::SessionExists));
    }
    Ok(())
}

/// Completes a sign-in for `user` on the caller's client: a new active session becomes the
/// client's last active one, the client token rotates, the user's sign-in is recorded. Returns
/// the session's write; the caller adds the user's and the client's writes to the same commit.
pub fn start(
    app: &App,
    current: &mut Current,
    user: &mut UserRecord,
    strategy: &str,
    first_factor_at: Option<UnixMillis>,
    second_factor_at: Option<UnixMillis>,
    origin: &Origin,
) -> Result<(SessionRecord, Write)> {
    ensure_can_sign_in(app, current)?;
    let now = app.now_ms();
    let lifetime = duration_ms(std::time::Duration::from_secs(
        app.settings.sessions.max_lifetime_secs,
    ));
    let session = SessionRecord {
        id: random::object_id(app.random.as_ref(), "sess"),
        client_id: current.client().id.clone(),
        user_id: user.id.clone(),
        status: SessionStatus::Active,
        expire_at: now + lifetime,
        abandon_at: now + lifetime,
        last_active_at: now,
        first_factor_verified_at: first_factor_at,
        second_factor_verified_at: second_factor_at,
        activity: activity(app, origin),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let write = Repo::session_write(&session)?;
    current.aggregate.sessions.insert(0, session.clone());
    let client = &mut current.aggregate.client;
    client.last_active_session_id = Some(session.id.clone());
    client.last_authentication_strategy = Some(strategy.to_owned());
    client.updated_at = now;
    current.rotate_token(app)?;
    user.last_sign_in_at = Some(now);
    user.last_active_at = Some(now);
    user.failed_attempts = 0;
    user.locked_until = None;
    Ok((session, write))
}
