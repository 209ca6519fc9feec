//! The client flow: finding the caller's client from its token, creating one, ending one.
//!
//! ```text
//!            create (POST/PUT /v1/client, dev browser, first mutation)
//!   (none) ─────────────────────────────────────────────────────────► active
//!                                                                       │ end (DELETE /v1/client):
//!                                                                       │ every session ends,
//!                                                                       ▼ the token stops working
//!                                                                     ended ──(retention)──► dropped
//! ```
//!
//! A token resolves to a client only when its signature is ours, the client exists and has not
//! ended, and its rotating secret is the client's current one.

use std::collections::HashMap;

use crate::app::App;
use crate::client_token::rotating_matches;
use crate::error::{Code, Error, Result};
use crate::model::records::{ClientRecord, SessionStatus};
use crate::model::{render, wire};
use crate::random;
use crate::repo::{ClientAggregate, Repo};
use crate::store::{Condition, StoreError};

/// The caller's client and the token that reaches it.
#[derive(Debug, Clone)]
pub struct Current {
    pub aggregate: ClientAggregate,
    pub token: String,
}

impl Current {
    pub fn client(&self) -> &ClientRecord {
        &self.aggregate.client
    }

    /// `__client_uat`: the client's last update while it has an active session, else 0.
    pub fn client_uat(&self) -> i64 {
        let signed_in = self
            .aggregate
            .sessions
            .iter()
            .any(|s| s.status == SessionStatus::Active);
        if signed_in {
            self.aggregate.client.updated_at.div_euclid(1000)
        } else {
            0
        }
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
    }))
}

/// Like [`resolve`], but a token that does not check out is an error: for the development
/// browser, whose token clerk-js replaces when told `dev_browser_unauthenticated`.
pub async fn resolve_dev_browser(app: &App, token: Option<&str>) -> Result<Current> {
    resolve(app, token)
        .await?
        .ok_or_else(|| Error::new(Code::DevBrowserUnauthenticated))
}

/// Creates a new, empty client and its first token.
pub async fn create(app: &App) -> Result<Current> {
    let now = app.now_ms();
    let id = random::object_id(app.random.as_ref(), "client");
    let rotation = app.client_tokens.issue(&id, app.random.as_ref(), now)?;
    let client = ClientRecord {
        id,
        rotating_token_hash: rotation.hash,
        last_active_session_id: None,
        sign_in_id: None,
        sign_up_id: None,
        last_authentication_strategy: None,
        ended_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    app.repo
        .commit(vec![Repo::insert_client_write(&client)?])
        .await
        .map_err(|e| match e {
            // Ids are 160 random bits; a collision means the generator is broken.
            StoreError::ConditionFailed { .. } => Error::internal("client id collision"),
            other => other.into(),
        })?;
    Ok(Current {
        aggregate: ClientAggregate {
            client,
            sessions: Vec::new(),
        },
        token: rotation.token,
    })
}

/// The caller's client, created when it has none.
pub async fn resolve_or_create(app: &App, token: Option<&str>) -> Result<Current> {
    match resolve(app, token).await? {
        Some(current) => Ok(current),
        None => create(app).await,
    }
}

/// Renders the whole client: its sessions with their users (one more round trip at most).
pub async fn render(app: &App, aggregate: &ClientAggregate) -> Result<wire::Client> {
    let user_ids: Vec<String> = aggregate
        .sessions
        .iter()
        .map(|s| s.user_id.clone())
        .collect();
    let users = if user_ids.is_empty() {
        HashMap::new()
    } else {
        app.repo.load_users(&user_ids).await?
    };
    Ok(render::client(
        &aggregate.client,
        &aggregate.sessions,
        &users,
        None,
        None,
        &app.settings,
        app.now_ms(),
    ))
}

/// Ends the client: every active session ends and its token stops reaching anything.
/// Returns the ended client as it was last seen.
pub async fn end(app: &App, current: Current) -> Result<ClientAggregate> {
    let now = app.now_ms();
    let mut aggregate = current.aggregate;
    let mut writes = Vec::new();
    for s in &mut aggregate.sessions {
        if s.status == SessionStatus::Active {
            let condition = Condition::Version(s.version);
            s.status = SessionStatus::Ended;
            s.updated_at = now;
            writes.push(Repo::session_write(s, condition)?);
        }
    }
    aggregate.client.ended_at = Some(now);
    aggregate.client.updated_at = now;
    aggregate.client.last_active_session_id = None;
    writes.push(Repo::update_client_write(&aggregate.client)?);
    app.repo.commit(writes).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } | StoreError::Conflict => {
            Error::new(Code::ClientNotFound)
                .long("The client changed while it was being ended; fetch it again and retry.")
        }
        other => other.into(),
    })?;
    Ok(aggregate)
}
