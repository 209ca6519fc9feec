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
//!   POST   /v1/users, PATCH /v1/users/{id}   ─► user + identifier guards, one transaction
//!   DELETE /v1/users/{id}                    ─► sessions end ─► user and identifiers go
//!   POST   /v1/clients/verify, GET …/{id}    ─► the client a token reaches, or by id
//!   GET    /v1/users, /v1/users/count        ─► flows::user_search (the user index)
//!   /v1/email_addresses, /v1/phone_numbers   ─► flows::identification_admin (by locator)
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
    /// A passkey removed (a lost device), its credential freed; an operator's call, so the
    /// last way in is not protected here.
    DeletePasskey(String),
}

/// Applies `action` to user `id` and returns the user as stored.
pub async fn act_on_user(app: &App, id: &str, action: &UserAction) -> Result<UserRecord> {
    let user = with_retry(|| async {
        let mut u = user(app, id).await?;
        let now = app.now_ms();
        let mut writes = Vec::new();
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
            UserAction::DeletePasskey(passkey_id) => {
                let Some(at) = u.passkeys.iter().position(|p| &p.id == passkey_id) else {
                    return Err(Error::new(Code::ResourceNotFound)
                        .long(format!("User `{id}` has no passkey `{passkey_id}`.")));
                };
                let removed = u.passkeys.remove(at);
                if let Some(credential) = &removed.credential_id {
                    writes.push(Repo::release_passkey_write(credential));
                }
            }
        }
        u.updated_at = now;
        writes.extend(Repo::user_writes(&u)?);
        commit(app, writes).await?;
        Repo::user_written(&mut u);
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

/// A user an app server creates (`POST /v1/users`): identifiers arrive verified.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email_addresses: Vec<String>,
    pub phone_numbers: Vec<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password: Option<String>,
    /// A hash from another system (`password_digest` with its `password_hasher`), kept as it
    /// is and replaced by an argon2id hash at the user's first sign-in.
    pub password_digest: Option<(String, String)>,
    /// No length or strength rules for `password`.
    pub skip_password_checks: bool,
    /// No password, even where the instance requires one.
    pub skip_password_requirement: bool,
    pub external_id: Option<String>,
    pub public_metadata: Map<String, Value>,
    pub private_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
}

/// Creates a user with its identifiers claimed in the same transaction (an identifier someone
/// holds is Clerk's `form_identifier_exists` on its parameter, and nothing is written).
pub async fn create_user(app: &App, n: &NewUser) -> Result<UserRecord> {
    use crate::identifiers;
    use crate::model::records::IdentificationRecord;
    use crate::store::StoreError;
    use crate::vocabulary::{IdentificationKind, IdentifierKind, Strategy};

    let now = app.now_ms();
    let emails = n
        .email_addresses
        .iter()
        .map(|e| identifiers::normalise_email(e, "email_address"))
        .collect::<Result<Vec<_>>>()?;
    let phones = n
        .phone_numbers
        .iter()
        .map(|p| identifiers::normalise_phone(p, "phone_number"))
        .collect::<Result<Vec<_>>>()?;
    let username = n
        .username
        .as_deref()
        .map(|u| identifiers::normalise_username(u, "username"))
        .transpose()?;
    if emails.is_empty() && phones.is_empty() && username.is_none() {
        return Err(Error::new(Code::FormParamMissing)
            .param("email_address")
            .long("A user needs an email address, a phone number or a username."));
    }
    let password_hash = match (&n.password_digest, &n.password) {
        (Some((hasher, digest)), _) => Some(crate::password::imported_digest(hasher, digest)?),
        (None, Some(pw)) => {
            if !n.skip_password_checks {
                crate::password::validate(pw, &app.settings.password_settings, "password")?;
            }
            Some(app.passwords.hash(pw).await?)
        }
        (None, None) => {
            let required = app.settings.attributes.password.required;
            if required && !n.skip_password_requirement {
                return Err(Error::missing("password"));
            }
            None
        }
    };
    for m in [&n.public_metadata, &n.private_metadata, &n.unsafe_metadata] {
        crate::metadata::check(m, "metadata")?;
    }
    let identification = |kind, value: &String, strategy| IdentificationRecord {
        verification: Some(super::verification::verified(strategy)),
        ..IdentificationRecord::new(
            kind,
            crate::random::object_id(app.random.as_ref(), "idn"),
            value.clone(),
            now,
        )
    };
    let email_records: Vec<_> = emails
        .iter()
        .map(|e| identification(IdentificationKind::EmailAddress, e, Strategy::Admin))
        .collect();
    let phone_records: Vec<_> = phones
        .iter()
        .map(|p| identification(IdentificationKind::PhoneNumber, p, Strategy::Admin))
        .collect();
    let user = UserRecord {
        username: username.clone(),
        first_name: n.first_name.clone(),
        last_name: n.last_name.clone(),
        primary_email_address_id: email_records.first().map(|e| e.id.clone()),
        primary_phone_number_id: phone_records.first().map(|p| p.id.clone()),
        email_addresses: email_records,
        phone_numbers: phone_records,
        password_last_updated_at: password_hash.as_ref().map(|_| now),
        password_hash,
        public_metadata: n.public_metadata.clone(),
        private_metadata: n.private_metadata.clone(),
        unsafe_metadata: n.unsafe_metadata.clone(),
        external_id: n.external_id.clone().filter(|e| !e.is_empty()),
        ..UserRecord::new(crate::random::object_id(app.random.as_ref(), "user"), now)
    };
    let mut writes = Vec::new();
    let mut params = Vec::new();
    let claims = emails
        .iter()
        .map(|e| (IdentifierKind::Email, e, "email_address"))
        .chain(
            phones
                .iter()
                .map(|p| (IdentifierKind::Phone, p, "phone_number")),
        )
        .chain(
            username
                .iter()
                .map(|u| (IdentifierKind::Username, u, "username")),
        );
    for (kind, value, param) in claims {
        writes.push(Repo::claim_identifier_write(kind, value, &user.id)?);
        params.push(param);
    }
    if let Some(external_id) = &user.external_id {
        writes.push(Repo::claim_external_id_write(external_id, &user.id)?);
        params.push("external_id");
    }
    writes.extend(Repo::user_writes(&user)?);
    match app.repo.commit(writes).await {
        Ok(()) => Ok(UserRecord { version: 1, ..user }),
        Err(StoreError::ConditionFailed { index }) if index < params.len() => {
            Err(Error::new(Code::FormIdentifierExists).param(params[index]))
        }
        Err(e) => Err(e.into()),
    }
}

/// What an app server changes on a user (`PATCH /v1/users/{id}`): the profile fields a user may
/// change themselves, plus what only app servers set. Metadata given here replaces the stored
/// value (`PATCH …/metadata` merges).
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub profile: super::me::profile::UpdateProfile,
    pub public_metadata: Option<Map<String, Value>>,
    pub private_metadata: Option<Map<String, Value>>,
    pub external_id: Option<String>,
    pub password: Option<String>,
    pub skip_password_checks: bool,
    /// With a new password: every session of the user ends (revoked).
    pub sign_out_of_other_sessions: bool,
}

/// Updates user `id` in one transaction with its identifier guards (a username someone holds
/// is `form_identifier_exists`, and nothing is written).
pub async fn update_user(app: &App, id: &str, upd: &UserUpdate) -> Result<UserRecord> {
    use crate::store::StoreError;
    // Hashing is slow and does not depend on the stored user: once, before the unit of work.
    let password_hash = match &upd.password {
        Some(pw) => {
            if !upd.skip_password_checks {
                crate::password::validate(pw, &app.settings.password_settings, "password")?;
            }
            Some(app.passwords.hash(pw).await?)
        }
        None => None,
    };
    let updated = with_retry(|| async {
        let mut u = user(app, id).await?;
        let now = app.now_ms();
        let guards = super::me::profile::apply_profile(app, &mut u, &upd.profile)?;
        for (target, given, param) in [
            (
                &mut u.public_metadata,
                &upd.public_metadata,
                "public_metadata",
            ),
            (
                &mut u.private_metadata,
                &upd.private_metadata,
                "private_metadata",
            ),
        ] {
            if let Some(m) = given {
                crate::metadata::check(m, param)?;
                *target = m.clone();
            }
        }
        let mut guards = guards;
        let mut params = vec!["username"; guards.len()];
        if let Some(e) = &upd.external_id {
            let wanted = Some(e.clone()).filter(|e| !e.is_empty());
            if wanted != u.external_id {
                if let Some(new) = &wanted {
                    guards.push(Repo::claim_external_id_write(new, &u.id)?);
                    params.push("external_id");
                }
                if let Some(old) = &u.external_id {
                    guards.push(Repo::release_external_id_write(old));
                    params.push("external_id");
                }
                u.external_id = wanted;
            }
        }
        if let Some(h) = &password_hash {
            u.password_hash = Some(h.clone());
            u.password_last_updated_at = Some(now);
        }
        u.updated_at = now;
        let n = guards.len();
        let mut writes = guards;
        writes.extend(Repo::user_writes(&u)?);
        app.repo.commit(writes).await.map_err(|e| match e {
            StoreError::ConditionFailed { index } if index < n => {
                Error::new(Code::FormIdentifierExists).param(params[index])
            }
            other => other.into(),
        })?;
        Repo::user_written(&mut u);
        Ok(u)
    })
    .await?;
    if password_hash.is_some() && upd.sign_out_of_other_sessions {
        session::end_all_of_user(app, id, SessionStatus::Revoked).await?;
    }
    Ok(updated)
}
