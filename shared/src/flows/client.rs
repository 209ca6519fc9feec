//! The client flow: finding the caller's client from its token, creating one, ending one, and
//! the transaction every client-changing flow ends with.
//!
//! ```text
//!            create (POST/PUT /v1/client, dev browser, or the first mutation of a new caller)
//!   (none) ─────────────────────────────────────────────────────────────────────► active
//!                                                                                   │ end (DELETE /v1/client):
//!                                                                                   │ every session ends,
//!                                                                                   ▼ the token stops working
//!                                                                                 ended ──(retention)──► dropped
//! ```
//!
//! A token resolves to a client only when its signature is ours, the client exists and has not
//! ended, and its rotating secret is the client's current one. A client created by a caller's
//! first mutation is not written on its own: it goes into that mutation's transaction, so a
//! refused request leaves nothing behind.

use std::collections::HashMap;
use std::future::Future;

use crate::app::App;
use crate::client_token::rotating_matches;
use crate::error::{Code, Error, Result};
use crate::model::records::{
    ClientRecord, SessionRecord, SessionStatus, SignInRecord, SignUpRecord, UserRecord,
};
use crate::model::{render, wire};
use crate::random;
use crate::repo::{ClientAggregate, Repo};
use crate::store::Write;

/// The user a `/v1/me` request acts for, with the client it came through.
#[derive(Debug, Clone)]
pub struct Acting {
    pub current: Current,
    pub session_id: String,
    pub user: UserRecord,
}

fn matching<T>(
    found: Option<&T>,
    wanted: impl Fn(&T) -> bool,
    missing: impl Fn() -> Error,
) -> Result<&T> {
    found.filter(|x| wanted(x)).ok_or_else(missing)
}

/// The caller's client and the token that reaches it.
#[derive(Debug, Clone)]
pub struct Current {
    pub aggregate: ClientAggregate,
    pub token: String,
    /// A sign-in completed for this client by a request from another browser (an email link
    /// opened on another device) must not rotate its token: the browser that holds it goes
    /// on polling with it.
    pub keep_token: bool,
}

impl Current {
    pub fn client(&self) -> &ClientRecord {
        &self.aggregate.client
    }

    /// The client's current sign-in, if it is `id`.
    pub fn sign_in(&self, id: &str) -> Result<&SignInRecord> {
        matching(
            self.aggregate.sign_in.as_ref(),
            |s| s.id == id,
            Error::not_found,
        )
    }

    /// The client's current sign-up, if it is `id`.
    pub fn sign_up(&self, id: &str) -> Result<&SignUpRecord> {
        matching(
            self.aggregate.sign_up.as_ref(),
            |s| s.id == id,
            Error::not_found,
        )
    }

    /// The client's session `id` (in any status).
    pub fn session(&self, id: &str) -> Result<&SessionRecord> {
        let not_found = || Error::new(Code::SessionNotFound);
        matching(
            self.aggregate.sessions.iter().find(|s| s.id == id),
            |_| true,
            not_found,
        )
    }

    /// Whether the client exists only in memory so far.
    pub fn is_new(&self) -> bool {
        self.aggregate.client.version == 0
    }

    /// Sessions active as of `now` (lifetime and inactivity applied).
    pub fn active_sessions_at(
        &self,
        now: i64,
    ) -> impl Iterator<Item = &crate::model::records::SessionRecord> {
        self.aggregate
            .sessions
            .iter()
            .filter(move |s| s.is_active_at(now))
    }

    /// `__client_uat`: the client's last update while it has an active session, else 0.
    pub fn client_uat_at(&self, now: i64) -> i64 {
        if self.active_sessions_at(now).next().is_some() {
            self.aggregate.client.updated_at.div_euclid(1000)
        } else {
            0
        }
    }

    /// Gives the client a new rotating secret: every earlier token stops reaching it (unless
    /// [`Current::keep_token`]).
    pub fn rotate_token(&mut self, app: &App) -> Result<()> {
        if self.keep_token {
            return Ok(());
        }
        let rotation = app.client_tokens.issue(
            &self.aggregate.client.id,
            app.random.as_ref(),
            app.now_ms(),
        )?;
        self.aggregate.client.rotating_token_hash = rotation.hash;
        self.token = rotation.token;
        Ok(())
    }

    /// The write that stores the client as it now is.
    pub fn client_write(&self) -> Result<Write> {
        Repo::client_write(&self.aggregate.client)
    }
}

/// The client a token reaches, if any. Anything that does not check out is "no client".
pub async fn resolve(app: &App, token: Option<&str>) -> Result<Option<Current>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let Some(claims) = app.client_tokens.decode(token) else {
        return Ok(None);
    };
    let Some(aggregate) = app.repo.load_client(&claims.id).await? else {
        return Ok(None);
    };
    if !rotating_matches(&claims, &aggregate.client.rotating_token_hash) {
        return Ok(None);
    }
    Ok(Some(Current {
        aggregate,
        token: token.to_owned(),
        keep_token: false,
    }))
}

/// The client a token names, even when its rotating secret is no longer the client's (the
/// token was rotated since). Only for proofs that stand on their own — a native app collecting
/// its rotated token with the nonce it was handed (`flows::social::collect_rotated_token`).
pub async fn resolve_rotated(app: &App, token: Option<&str>) -> Result<Option<Current>> {
    let Some(claims) = token.and_then(|t| app.client_tokens.decode(t)) else {
        return Ok(None);
    };
    Ok(app
        .repo
        .load_client(&claims.id)
        .await?
        .filter(|a| a.client.ended_at.is_none())
        .map(|aggregate| Current {
            aggregate,
            token: String::new(),
            keep_token: false,
        }))
}

/// Like [`resolve`], but a token that does not check out is an error: for the development
/// browser, whose token clerk-js replaces when told `dev_browser_unauthenticated`.
pub async fn resolve_dev_browser(app: &App, token: Option<&str>) -> Result<Current> {
    resolve(app, token)
        .await?
        .ok_or_else(|| Error::new(Code::DevBrowserUnauthenticated))
}

/// A new, empty client and its first token, not yet stored.
pub fn new_unsaved(app: &App) -> Result<Current> {
    let now = app.now_ms();
    let id = random::object_id(app.random.as_ref(), "client");
    let rotation = app.client_tokens.issue(&id, app.random.as_ref(), now)?;
    Ok(Current {
        aggregate: ClientAggregate {
            client: ClientRecord {
                id,
                rotating_token_hash: rotation.hash,
                last_active_session_id: None,
                sign_in_id: None,
                sign_up_id: None,
                last_authentication_strategy: None,
                ended_at: None,
                created_at: now,
                updated_at: now,
                version: 0,
            },
            sessions: Vec::new(),
            sign_in: None,
            sign_up: None,
        },
        token: rotation.token,
        keep_token: false,
    })
}

/// Creates and stores a new, empty client.
pub async fn create(app: &App) -> Result<Current> {
    let mut current = new_unsaved(app)?;
    commit(app, vec![current.client_write()?]).await?;
    current.aggregate.client.version = 1;
    Ok(current)
}

/// Writes all-or-nothing; a lost race becomes a retryable conflict.
pub async fn commit(app: &App, writes: Vec<Write>) -> Result<()> {
    app.repo.commit(writes).await.map_err(Error::from)
}

/// How many times a flow that lost an optimistic-concurrency race is run (on fresh state).
pub const CONFLICT_RETRIES: u32 = 10;

/// The retry policy of a unit of work that lost an optimistic-concurrency race: back off a few
/// jittered milliseconds so contenders spread out; after [`CONFLICT_RETRIES`] lost races answer
/// `concurrent_update` (409): nothing was written, the caller may try again.
#[derive(Debug, Default)]
pub struct Retry {
    lost: u32,
}

impl Retry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits before the next try, or gives up.
    pub async fn after_conflict(&mut self) -> Result<()> {
        self.lost += 1;
        tracing::debug!(
            lost = self.lost,
            "lost a race to a concurrent write; trying again"
        );
        if self.lost >= CONFLICT_RETRIES {
            return Err(Error::new(Code::ConcurrentUpdate));
        }
        let jitter = rand::Rng::random_range(&mut rand::rng(), 0..=u64::from(self.lost) * 3);
        tokio::time::sleep(std::time::Duration::from_millis(1 + jitter)).await;
        Ok(())
    }
}

/// Runs `flow` until it does not lose a race (see [`Retry`]).
pub async fn with_retry<T, F, Fut>(mut flow: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut retry = Retry::new();
    loop {
        match flow().await {
            Err(e) if e.conflict => retry.after_conflict().await?,
            other => return other,
        }
    }
}

/// Renders the whole client: its active sessions with their users, and its current attempts.
/// Users already in hand are not read again; the rest come in one round trip.
pub async fn render(
    app: &App,
    aggregate: &ClientAggregate,
    known_users: &[&UserRecord],
) -> Result<wire::Client> {
    let now = app.now_ms();
    let active: Vec<_> = aggregate
        .sessions
        .iter()
        .filter(|s| s.is_active_at(now))
        .cloned()
        .collect();
    let mut users: HashMap<String, UserRecord> = known_users
        .iter()
        .map(|u| (u.id.clone(), (*u).clone()))
        .collect();
    let missing: Vec<String> = active
        .iter()
        .map(|s| s.user_id.clone())
        .filter(|id| !users.contains_key(id))
        .collect();
    if !missing.is_empty() {
        users.extend(app.repo.load_users(&missing).await?);
    }
    let mut client = render::client(
        &aggregate.client,
        &active,
        &users,
        aggregate
            .sign_in
            .as_ref()
            .map(|s| render::sign_in(s, &app.capabilities)),
        aggregate
            .sign_up
            .as_ref()
            .map(|s| render::sign_up(s, &app.capabilities)),
        &app.settings,
        now,
    );
    // Each active session carries a current token, as Clerk's do: clerk-js 5 writes the
    // `__session` cookie from it when it loads (and removes the cookie when there is none).
    for session in &mut client.sessions {
        let jwt = super::tokens::mint(app, &active, &session.id, None, None).await?;
        session.last_active_token = Some(crate::model::wire::Token {
            object: "token",
            jwt,
        });
    }
    Ok(client)
}

/// Ends the client: every active session ends and its token stops reaching anything.
/// Returns the ended client as it was last seen.
pub async fn end(app: &App, current: Current) -> Result<ClientAggregate> {
    let now = app.now_ms();
    let mut aggregate = current.aggregate;
    let mut writes = Vec::new();
    for s in &mut aggregate.sessions {
        if s.status == SessionStatus::Active {
            writes.extend(Repo::session_writes(
                &crate::model::records::SessionRecord {
                    status: SessionStatus::Ended,
                    updated_at: now,
                    ..s.clone()
                },
            )?);
            s.status = SessionStatus::Ended;
            s.updated_at = now;
        }
    }
    aggregate.client.ended_at = Some(now);
    aggregate.client.updated_at = now;
    aggregate.client.last_active_session_id = None;
    writes.push(Repo::client_write(&aggregate.client)?);
    commit(app, writes).await?;
    Ok(aggregate)
}
