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
use crate::security;
use crate::settings::SessionMode;
use crate::store::{StoreError, Write};

use super::client::Current;
use super::command::{ClientCommand, Origin};

/// `POST …/sessions/{id}/touch`: the session becomes the client's last active one.
#[derive(Debug, Clone)]
pub struct TouchSession {
    pub id: String,
}

/// `POST …/sessions/{id}/end` (`Ended`) or `…/remove` (`Removed`).
#[derive(Debug, Clone)]
pub struct FinishSession {
    pub id: String,
    pub status: SessionStatus,
}

/// `DELETE /v1/client/sessions`: sign out of every session on the client.
#[derive(Debug, Clone, Copy)]
pub struct EndAllSessions;

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
            return (
                Some(name.to_owned()),
                Some(version).filter(|v| !v.is_empty()),
            );
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

fn secs_ms(secs: u64) -> i64 {
    duration_ms(std::time::Duration::from_secs(secs))
}

/// When a session last active at `active_at` is abandoned: after the inactivity timeout when
/// one is set, never later than its expiry.
pub fn abandon_at(app: &App, active_at: UnixMillis, expire_at: UnixMillis) -> UnixMillis {
    match app.settings.sessions.inactivity_timeout_secs {
        0 => expire_at,
        idle => (active_at + secs_ms(idle)).min(expire_at),
    }
}

/// A session just started: its record and write, and whether the user item needs writing too
/// (otherwise the caller checks its version instead, so a concurrent lock still stops it).
#[derive(Debug)]
pub struct Started {
    pub session: SessionRecord,
    /// The session and its locator.
    pub writes: Vec<Write>,
    pub user_write_needed: bool,
}

/// Refuses a new sign-in on a client that already has one, in single-session mode.
pub fn ensure_can_sign_in(app: &App, current: &Current) -> Result<()> {
    if app.settings.sessions.mode == SessionMode::Single
        && current.active_sessions_at(app.now_ms()).next().is_some()
    {
        return Err(Error::new(Code::SessionExists));
    }
    Ok(())
}

/// Completes a sign-in for `user` on the caller's client: a new active session becomes the
/// client's last active one, the client token rotates, the user's sign-in is recorded. Returns
/// the session's writes; the caller adds the user's and the client's writes to the same commit.
pub fn start(
    app: &App,
    current: &mut Current,
    user: &mut UserRecord,
    strategy: &str,
    first_factor_at: Option<UnixMillis>,
    second_factor_at: Option<UnixMillis>,
    origin: &Origin,
) -> Result<Started> {
    ensure_can_sign_in(app, current)?;
    let now = app.now_ms();
    let expire_at = now + secs_ms(app.settings.sessions.max_lifetime_secs);
    let session = SessionRecord {
        id: random::object_id(app.random.as_ref(), "sess"),
        client_id: current.client().id.clone(),
        user_id: user.id.clone(),
        status: SessionStatus::Active,
        expire_at,
        abandon_at: abandon_at(app, now, expire_at),
        last_active_at: now,
        first_factor_verified_at: first_factor_at,
        second_factor_verified_at: second_factor_at,
        activity: activity(app, origin),
        reverification: None,
        created_at: now,
        updated_at: now,
        version: 0,
        stored_status: None,
    };
    let writes = Repo::new_session_writes(&session)?;
    current.aggregate.sessions.insert(0, session.clone());
    let client = &mut current.aggregate.client;
    client.last_active_session_id = Some(session.id.clone());
    client.last_authentication_strategy = Some(strategy.to_owned());
    client.updated_at = now;
    current.rotate_token(app)?;
    // Whether the user item must be written for this sign-in: to forgive failures, or because
    // its activity times are stale. Within the interval, parallel sign-ins of one account do
    // not all write (and race for) the same item.
    let user_write_needed = user.failed_attempts != 0
        || user.locked_until.is_some()
        || user
            .last_sign_in_at
            .is_none_or(|t| now - t >= duration_ms(security::ACTIVITY_WRITE_INTERVAL));
    user.last_sign_in_at = Some(now);
    user.last_active_at = Some(now);
    super::lockout::record_success(user);
    Ok(Started {
        session,
        writes,
        user_write_needed,
    })
}

/// Stores a changed session with its (changed) client, in one transaction.
async fn commit_with_client(
    app: &App,
    current: &mut Current,
    session: SessionRecord,
    now: UnixMillis,
) -> Result<SessionRecord> {
    current.aggregate.client.updated_at = now;
    let mut writes = Repo::session_writes(&session)?;
    writes.push(current.client_write()?);
    super::client::commit(app, writes).await?;
    Ok(session)
}

/// The session `id` on the caller's client.
fn on_client<'a>(current: &'a mut Current, id: &str) -> Result<&'a mut SessionRecord> {
    current
        .aggregate
        .sessions
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| Error::new(Code::SessionNotFound))
}

/// The answer for a session that can no longer act: clerk-js treats `signed_out` (401) as
/// "this session is gone" and refetches the client.
pub fn signed_out() -> Error {
    Error::new(Code::SignedOut)
}

/// `touch`: the session becomes the client's last active one, and its inactivity clock restarts.
impl ClientCommand for TouchSession {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let now = app.now_ms();
        let session = on_client(current, id)?;
        if !session.is_active_at(now) {
            return Err(signed_out());
        }
        session.last_active_at = now;
        session.abandon_at = abandon_at(app, now, session.expire_at);
        session.updated_at = now;
        let touched = session.clone();
        current.aggregate.client.last_active_session_id = Some(touched.id.clone());
        commit_with_client(app, current, touched, now).await
    }
}

/// The client's last active session after `gone` stops being active: the most recent other
/// active one, or none.
fn next_active(current: &Current, gone: &str, now: UnixMillis) -> Option<String> {
    current
        .active_sessions_at(now)
        .filter(|s| s.id != gone)
        .max_by_key(|s| s.last_active_at)
        .map(|s| s.id.clone())
}

/// `end` (sign out of one session) or `remove` (forget it on this client).
impl ClientCommand for FinishSession {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let status = self.status;
        let now = app.now_ms();
        let session = on_client(current, id)?;
        if session.status == SessionStatus::Active {
            session.status = status;
            session.updated_at = now;
        } else if status == SessionStatus::Removed {
            // A session already over can still be removed from the list.
            session.status = SessionStatus::Removed;
            session.updated_at = now;
        }
        let finished = session.clone();
        if current.aggregate.client.last_active_session_id.as_deref() == Some(id) {
            current.aggregate.client.last_active_session_id = next_active(current, id, now);
        }
        commit_with_client(app, current, finished, now).await
    }
}

/// Signs out of every session on the client. The client token rotates, so a copy of the old
/// token (a stolen cookie, another tab's stale header) reaches nothing.
impl ClientCommand for EndAllSessions {
    type Output = ();

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let now = app.now_ms();
        let mut writes = Vec::new();
        for s in current.aggregate.sessions.iter_mut() {
            if s.status == SessionStatus::Active {
                s.status = SessionStatus::Ended;
                s.updated_at = now;
                writes.extend(Repo::session_writes(s)?);
            }
        }
        current.aggregate.client.last_active_session_id = None;
        current.aggregate.client.sign_in_id = None;
        current.aggregate.client.sign_up_id = None;
        current.aggregate.sign_in = None;
        current.aggregate.sign_up = None;
        current.aggregate.client.updated_at = now;
        current.rotate_token(app)?;
        writes.push(current.client_write()?);
        super::client::commit(app, writes).await
    }
}

/// The session `/v1/me` acts for: `_clerk_session_id` when given, else the client's last active
/// one. It must be on this client and active.
pub fn acting<'a>(
    app: &App,
    current: &'a Current,
    requested: Option<&str>,
) -> Result<&'a SessionRecord> {
    let now = app.now_ms();
    let id = requested
        .map(str::to_owned)
        .or_else(|| current.client().last_active_session_id.clone())
        .ok_or_else(signed_out)?;
    current
        .active_sessions_at(now)
        .find(|s| s.id == id)
        .ok_or_else(signed_out)
}

/// Every session of a user, on all their devices, newest first.
pub async fn of_user(app: &App, user_id: &str) -> Result<Vec<SessionRecord>> {
    let mut sessions = app.repo.user_sessions(user_id).await?;
    sessions.sort_by_key(|s| std::cmp::Reverse(s.last_active_at));
    Ok(sessions)
}

/// Revokes one of the user's sessions, on whichever device it lives.
pub async fn revoke(app: &App, user_id: &str, id: &str) -> Result<SessionRecord> {
    let now = app.now_ms();
    let listed = app
        .repo
        .user_sessions(user_id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Error::new(Code::SessionNotFound))?;
    // Read by key: the index may lag behind the version the write is conditioned on.
    let mut session = app
        .repo
        .reload_sessions(std::slice::from_ref(&listed))
        .await?
        .pop()
        .ok_or_else(|| Error::new(Code::SessionNotFound))?;
    if session.status == SessionStatus::Active {
        session.status = SessionStatus::Revoked;
        session.updated_at = now;
        super::client::commit(app, Repo::session_writes(&session)?).await?;
    }
    Ok(session)
}

/// The user's sessions the user index lists as active at `now`, but `keep` (the index may lag:
/// versions to write against are read from the items).
async fn active_in_index(
    app: &App,
    user_id: &str,
    keep: Option<&str>,
    now: UnixMillis,
) -> Result<Vec<SessionRecord>> {
    let all = app.repo.user_sessions(user_id).await?;
    Ok(all
        .into_iter()
        .filter(|s| Some(s.id.as_str()) != keep && s.is_active_at(now))
        .collect())
}

/// Room for one more session of the user: when they already have
/// [`security::MAX_ACTIVE_SESSIONS_PER_USER`] active ones, the writes that revoke the least
/// recently active (at most a batch; an account over the cap from before it existed shrinks by
/// a batch per sign-in).
pub async fn make_room(app: &App, user_id: &str) -> Result<Vec<Write>> {
    let now = app.now_ms();
    // The live entries only: a sign-in reads at most the cap, not every session the user ever
    // had. (Signing out everywhere still reads them all: it must also reach entries from before
    // the index told live from ended apart.)
    let listed: Vec<SessionRecord> = app
        .repo
        .user_live_sessions(user_id)
        .await?
        .into_iter()
        .filter(|s| s.is_active_at(now))
        .collect();
    let cap = security::MAX_ACTIVE_SESSIONS_PER_USER;
    if listed.len() < cap {
        return Ok(Vec::new());
    }
    let mut oldest = listed;
    oldest.sort_by_key(|s| s.last_active_at);
    oldest.truncate((oldest.len() + 1).saturating_sub(cap).min(SESSION_BATCH));
    // Only the ones to revoke are read again, for the versions to write against (the index may
    // lag behind them): a user at the cap signs in at the cost of one more small read, not of
    // reading every live session twice.
    let mut victims = app.repo.reload_sessions(&oldest).await?;
    // One that ended since the index was read has made room already, and is not revoked again.
    victims.retain(|s| s.is_active_at(now));
    victims
        .into_iter()
        .map(|s| {
            Repo::session_writes(&SessionRecord {
                status: SessionStatus::Revoked,
                updated_at: now,
                ..s
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(|w| w.into_iter().flatten().collect())
}

/// Sessions changed per transaction when many are ended at once: with each session's webhook
/// messages (one per endpoint, at most [`security::MAX_WEBHOOK_ENDPOINTS`]) and a sign-in's own
/// writes, well inside the 100-write transaction limit of DynamoDB, so no account is too large
/// to sign out everywhere.
const SESSION_BATCH: usize = 20;

/// Lost races tolerated while ending a user's sessions before giving up.
const SESSION_SWEEPS: usize = 10;

/// Ends every active session of the user on every device except `keep` (as `status`: revoked
/// by a password change, ended by account deletion), in batches after the caller's own commit,
/// so any number of sessions is handled. The caller's client sees the change at once. A
/// session touched meanwhile is read again and ended on the next sweep.
pub async fn end_everywhere(
    app: &App,
    current: &mut Current,
    user_id: &str,
    keep: Option<&str>,
    status: SessionStatus,
) -> Result<()> {
    end_sessions_of(app, Some(current), user_id, keep, status).await
}

/// Ends every active session of the user on every device (as `status`), for callers with no
/// client of their own (an operator banning the user).
pub async fn end_all_of_user(app: &App, user_id: &str, status: SessionStatus) -> Result<()> {
    end_sessions_of(app, None, user_id, None, status).await
}

async fn end_sessions_of(
    app: &App,
    mut current: Option<&mut Current>,
    user_id: &str,
    keep: Option<&str>,
    status: SessionStatus,
) -> Result<()> {
    let mut retry = super::client::Retry::new();
    for _ in 0..SESSION_SWEEPS {
        let now = app.now_ms();
        let listed = active_in_index(app, user_id, keep, now).await?;
        // The index may lag: the versions to write against come from the items themselves.
        let live: Vec<SessionRecord> = app
            .repo
            .reload_sessions(&listed)
            .await?
            .into_iter()
            .filter(|s| s.is_active_at(now))
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        let mut lost_a_race = false;
        for batch in live.chunks(SESSION_BATCH) {
            let mut writes = Vec::with_capacity(batch.len());
            for s in batch {
                writes.extend(Repo::session_writes(&SessionRecord {
                    status,
                    updated_at: now,
                    ..s.clone()
                })?);
            }
            match app.repo.commit(writes).await {
                Ok(()) => {
                    let Some(current) = current.as_deref_mut() else {
                        continue;
                    };
                    for s in batch {
                        if let Some(mine) =
                            current.aggregate.sessions.iter_mut().find(|m| m.id == s.id)
                        {
                            mine.status = status;
                        }
                    }
                }
                Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => {
                    lost_a_race = true
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !lost_a_race {
            return Ok(());
        }
        // Someone touched a session meanwhile: back off a little, read again, end it then.
        retry.after_conflict().await?;
    }
    Err(Error::new(Code::ConcurrentUpdate))
}
