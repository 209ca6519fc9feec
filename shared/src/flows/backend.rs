//! What app servers and operators ask of the Backend API (with a secret key): a user, a
//! session's token (optionally from a JWT template) — what `@clerk/nextjs`'s `currentUser()`
//! and `auth().getToken({ template })` call — and the operator's actions on a user.
//!
//! ```text
//!   GET    /v1/users/{id}                    ─► the user (Backend API shape, private fields too)
//!   POST   /v1/sessions/{id}/tokens[/{tpl}]  ─► locator ─► the session's client ─► token
//!   PATCH  /v1/users/{id}/metadata           ─┐
//!   POST   /v1/users/{id}/(un)ban, (un)lock   ├► read the user ─► change ─► write (version-checked)
//!   DELETE /v1/users/{id}/mfa                ─┘   ban ─► then every session revoked
//!   POST   /v1/users/{id}/verify_password    ─► argon2id check, as a sign-in's
//!   GET    /v1/sessions?user_id|client_id    ─► the user index, or the client's partition
//!   GET    /v1/sessions/{id}, POST …/revoke  ─► locator ─► the session's client (─► revoked)
//!   DELETE /v1/users/{id}                    ─► sessions end ─► user and identifiers go
//!   POST   /v1/clients/verify, GET …/{id}    ─► the client a token reaches, or by id
//! ```

use serde_json::{Map, Value};

use crate::app::App;
use crate::clock::duration_ms;
use crate::error::{Code, Error, Result};
use crate::model::records::{SessionRecord, SessionStatus, UserRecord};
use crate::repo::Repo;
use crate::security;

use super::client::{commit, with_retry};
use super::me::profile::merge_patch;
use super::session;

pub use super::tokens::mint_for_backend as session_token;

/// The user with id `id`; Clerk's 404 when there is none.
pub async fn user(app: &App, id: &str) -> Result<UserRecord> {
    app.repo
        .load_user(id)
        .await?
        .ok_or_else(|| Error::new(Code::ResourceNotFound).long(format!("No user `{id}` exists.")))
}

/// Operator actions on a user (the Backend API), each one unit of work on the user's document:
/// read it, change it, write it back unless it changed meanwhile (then again).
#[derive(Debug, Clone)]
pub enum UserAction {
    /// Merge patches (RFC 7396: `null` removes a key) into each kind of metadata.
    MergeMetadata {
        public: Option<Value>,
        private: Option<Value>,
        unsafe_: Option<Value>,
    },
    /// No sign-in until unbanned; every session ends.
    Ban,
    Unban,
    /// Locked as a lockout locks (for [`security::LOCKOUT_DURATION`]), until unlocked.
    Lock,
    /// Unlocked, and the failed attempts forgiven.
    Unlock,
    /// Every second factor off: authenticator app, backup codes, SMS codes.
    DisableMfa,
}

/// Applies `action` to user `id` and returns the user as stored.
pub async fn act_on_user(app: &App, id: &str, action: &UserAction) -> Result<UserRecord> {
    let user = with_retry(|| async {
        let mut u = user(app, id).await?;
        let now = app.now_ms();
        match action {
            UserAction::MergeMetadata {
                public,
                private,
                unsafe_,
            } => {
                let fields = [
                    (&mut u.public_metadata, public, "public_metadata"),
                    (&mut u.private_metadata, private, "private_metadata"),
                    (&mut u.unsafe_metadata, unsafe_, "unsafe_metadata"),
                ];
                for (target, patch, param) in fields {
                    let Some(patch) = patch else { continue };
                    if !patch.is_object() {
                        return Err(Error::new(Code::FormParamTypeInvalid).param(param));
                    }
                    let mut merged = Value::Object(std::mem::take(target));
                    merge_patch(&mut merged, patch);
                    *target = match merged {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    crate::metadata::check(target, param)?;
                }
            }
            UserAction::Ban => u.banned = true,
            UserAction::Unban => u.banned = false,
            UserAction::Lock => {
                u.locked_until = Some(now + duration_ms(security::LOCKOUT_DURATION))
            }
            UserAction::Unlock => {
                u.locked_until = None;
                u.failed_attempts = 0;
            }
            UserAction::DisableMfa => {
                let had = u.has_second_factor();
                u.totp_secret = None;
                u.totp_pending_secret = None;
                u.backup_code_hashes.clear();
                for p in &mut u.phone_numbers {
                    p.reserved_for_second_factor = false;
                    p.default_second_factor = false;
                }
                if had {
                    u.mfa_disabled_at = Some(now);
                }
            }
        }
        u.updated_at = now;
        commit(app, vec![Repo::user_write(&u)?]).await?;
        u.version += 1;
        Ok(u)
    })
    .await?;
    if matches!(action, UserAction::Ban) {
        // After the ban is stored, so no new session can start while these end.
        session::end_all_of_user(app, id, SessionStatus::Revoked).await?;
    }
    Ok(user)
}

/// Whether `password` is the user's: `{verified: true}`, or Clerk's 422 when it is not (or the
/// user has none). The check costs what a sign-in's does.
pub async fn verify_password(app: &App, id: &str, password: &str) -> Result<()> {
    let u = user(app, id).await?;
    let matches = match &u.password_hash {
        Some(hash) => app.passwords.verify(hash, password).await?,
        None => {
            app.passwords.verify_dummy(password).await?;
            false
        }
    };
    if matches {
        Ok(())
    } else {
        Err(Error::new(Code::FormPasswordIncorrect).param("password"))
    }
}

/// Which sessions an app server lists (`GET /v1/sessions`): a user's or a client's (or those
/// both ways), optionally of one status, a page at a time.
#[derive(Debug, Clone)]
pub struct SessionQuery {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub status: Option<SessionStatus>,
    pub limit: usize,
    pub offset: usize,
}

/// A page of sessions, newest activity first, and how many match in all. A user's come from
/// the user index (one query), a client's from its partition (one query): no scan.
pub async fn sessions(app: &App, q: &SessionQuery) -> Result<(Vec<SessionRecord>, usize)> {
    let now = app.now_ms();
    let mut found = match (&q.user_id, &q.client_id) {
        (Some(user), _) => session::of_user(app, user).await?,
        (None, Some(client)) => match app.repo.load_client(client).await? {
            Some(c) => c.sessions,
            None => Vec::new(),
        },
        (None, None) => {
            return Err(Error::new(Code::FormParamMissing)
                .param("user_id")
                .long("Either user_id or client_id is required."));
        }
    };
    found.retain(|s| {
        q.client_id.as_ref().is_none_or(|c| &s.client_id == c)
            && q.status.is_none_or(|st| s.status_at(now) == st)
    });
    found.sort_by_key(|s| std::cmp::Reverse(s.last_active_at));
    let total = found.len();
    let page = found.into_iter().skip(q.offset).take(q.limit).collect();
    Ok((page, total))
}

/// Session `id`, found by its id alone; Clerk's 404 when there is none.
pub async fn session(app: &App, id: &str) -> Result<SessionRecord> {
    let not_found =
        || Error::new(Code::ResourceNotFound).long(format!("No session `{id}` exists."));
    let locator = app.repo.locate_session(id).await?.ok_or_else(not_found)?;
    app.repo
        .load_client(&locator.client_id)
        .await?
        .and_then(|c| c.sessions.into_iter().find(|s| s.id == id))
        .ok_or_else(not_found)
}

/// Revokes session `id` wherever it lives: its next token refresh is refused.
pub async fn revoke_session(app: &App, id: &str) -> Result<SessionRecord> {
    let found = session(app, id).await?;
    session::revoke(app, &found.user_id, id).await
}

/// The client a client token reaches (a browser's `__client` cookie, a native app's token);
/// Clerk's 404 for anything else.
pub async fn verify_client(app: &App, token: &str) -> Result<crate::repo::ClientAggregate> {
    super::client::resolve(app, Some(token))
        .await?
        .map(|c| c.aggregate)
        .ok_or_else(|| {
            Error::new(Code::ResourceNotFound).long("The client token reaches no client.")
        })
}

/// Client `id`; Clerk's 404 when there is none.
pub async fn client(app: &App, id: &str) -> Result<crate::repo::ClientAggregate> {
    app.repo
        .load_client(id)
        .await?
        .ok_or_else(|| Error::new(Code::ResourceNotFound).long(format!("No client `{id}` exists.")))
}

/// Deletes user `id` as an operator: every session ends, then the user goes with its
/// identifiers (free for anyone afterwards), as an account deletion does.
pub async fn delete_user(app: &App, id: &str) -> Result<()> {
    let later = with_retry(|| async {
        let u = user(app, id).await?;
        session::end_all_of_user(app, id, SessionStatus::Ended).await?;
        let (writes, later) = super::me::account::deletion_writes(app, &u).await?;
        commit(app, writes).await?;
        Ok(later)
    })
    .await?;
    super::me::account::free_the_rest(app, later).await
}
