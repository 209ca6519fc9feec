//! Email addresses and phone numbers as app servers manage them (the Backend API's
//! `/v1/email_addresses` and `/v1/phone_numbers`): found by id through their locator, changed on
//! their user's document in one transaction with the identifier guards.
//!
//! ```text
//!   create {user_id, value, verified?, primary?} ─► user + (verified: guard claimed) + locator
//!   get {id}     ─► locator ─► user ─► the identification
//!   update {id}  ─► verified ⇄ unverified (guard claimed / released), primary, reserved for 2FA
//!   delete {id}  ─► gone from the user, its guard (if the user held it) and its locator too
//! ```
//!
//! Unlike the user's own changes (`flows::me::identifications`), no code is sent: a verified
//! address arrives verified by the operator (`verification.strategy = "admin"`).

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::{IdentificationRecord, UserRecord};
use crate::random;
use crate::repo::Repo;
use crate::security;
use crate::store::{StoreError, Write};
use crate::vocabulary::{IdentificationKind, Strategy};

use super::client::with_retry;
use super::me::identifications::{claim_unless_held, release_if_held};
use super::me::second_factors::note_mfa_change;

/// `POST /v1/email_addresses` or `/v1/phone_numbers`.
#[derive(Debug, Clone)]
pub struct NewIdentification {
    pub kind: IdentificationKind,
    pub user_id: String,
    pub value: String,
    pub verified: bool,
    pub primary: bool,
    pub reserved_for_second_factor: bool,
}

/// `PATCH /v1/email_addresses/{id}` or `/v1/phone_numbers/{id}`: what is given changes.
#[derive(Debug, Clone, Default)]
pub struct IdentificationUpdate {
    pub verified: Option<bool>,
    pub primary: Option<bool>,
    pub reserved_for_second_factor: Option<bool>,
}

fn not_found(id: &str) -> Error {
    Error::new(Code::ResourceNotFound).long(format!("No identification `{id}` exists."))
}

/// The user holding identification `id` of `kind`, and the identification.
pub async fn find(
    app: &App,
    kind: IdentificationKind,
    id: &str,
) -> Result<(UserRecord, IdentificationRecord)> {
    let user_id = app
        .repo
        .identification_owner(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let user = app
        .repo
        .load_user(&user_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let found = user
        .identification(kind, id)
        .cloned()
        .ok_or_else(|| not_found(id))?;
    Ok((user, found))
}

/// Writes the user with `guards` before it; a guard someone else holds is Clerk's
/// `form_identifier_exists` on the kind's parameter, and nothing is written.
async fn save(
    app: &App,
    u: &UserRecord,
    guards: Vec<Write>,
    kind: IdentificationKind,
) -> Result<()> {
    let n = guards.len();
    let mut writes = guards;
    writes.extend(Repo::user_writes(u)?);
    app.repo.commit(writes).await.map_err(|e| match e {
        StoreError::ConditionFailed { index } if index < n => {
            Error::new(Code::FormIdentifierExists).param(kind.as_str())
        }
        other => other.into(),
    })
}

/// Marks `r` verified by the operator, or not verified.
fn set_verified(r: &mut IdentificationRecord, verified: bool) {
    r.verification = verified.then(|| super::verification::verified(Strategy::Admin));
}

/// Adds an identification to a user; a verified one claims its guard in the same transaction.
pub async fn create(app: &App, n: &NewIdentification) -> Result<IdentificationRecord> {
    let param = n.kind.as_str();
    let value = identifiers::normalise(n.kind.identifier(), &n.value, param)?;
    let id = random::object_id(app.random.as_ref(), "idn");
    with_retry(|| async {
        let mut u = app.repo.load_user(&n.user_id).await?.ok_or_else(|| {
            Error::new(Code::ResourceNotFound).long(format!("No user `{}` exists.", n.user_id))
        })?;
        let now = app.now_ms();
        let held = u.identifications(n.kind);
        if held.iter().any(|r| r.value == value) {
            return Err(Error::new(Code::FormIdentifierExists).param(param));
        }
        if held.len() >= security::MAX_IDENTIFICATIONS_PER_KIND {
            return Err(Error::new(Code::QuotaExceeded).param(param));
        }
        // Someone else's verified identifier stays theirs, verified here or not.
        let guards = claim_unless_held(app, &u.id, n.kind, &value).await?;
        let guards = if n.verified { guards } else { Vec::new() };
        let mut record = IdentificationRecord::new(n.kind, id.clone(), value.clone(), now);
        set_verified(&mut record, n.verified);
        record.reserved_for_second_factor =
            n.kind == IdentificationKind::PhoneNumber && n.reserved_for_second_factor;
        u.identifications_mut(n.kind).push(record.clone());
        if n.primary || u.primary_id(n.kind).is_none() {
            *u.primary_id_mut(n.kind) = Some(id.clone());
        }
        if record.reserved_for_second_factor {
            note_mfa_change(app, &mut u);
        }
        u.updated_at = now;
        save(app, &u, guards, n.kind).await?;
        Ok(record)
    })
    .await
}

/// Changes what the update gives on identification `id`.
pub async fn update(
    app: &App,
    kind: IdentificationKind,
    id: &str,
    upd: &IdentificationUpdate,
) -> Result<IdentificationRecord> {
    with_retry(|| async {
        let (mut u, found) = find(app, kind, id).await?;
        let now = app.now_ms();
        let mut guards = Vec::new();
        match upd.verified {
            Some(true) if !found.is_verified() => {
                guards = claim_unless_held(app, &u.id, kind, &found.value).await?;
            }
            Some(false) if found.is_verified() => {
                guards = release_if_held(app, &u.id, kind, &found.value).await?;
            }
            _ => {}
        }
        let r = u
            .identification_mut(kind, id)
            .ok_or_else(|| not_found(id))?;
        if let Some(v) = upd.verified
            && v != r.is_verified()
        {
            set_verified(r, v);
        }
        if let Some(reserved) = upd.reserved_for_second_factor
            && kind == IdentificationKind::PhoneNumber
        {
            r.reserved_for_second_factor = reserved;
        }
        r.updated_at = now;
        let record = r.clone();
        if upd.primary == Some(true) {
            *u.primary_id_mut(kind) = Some(id.to_owned());
        }
        if upd.reserved_for_second_factor.is_some() {
            note_mfa_change(app, &mut u);
        }
        u.updated_at = now;
        save(app, &u, guards, kind).await?;
        Ok(record)
    })
    .await
}

/// Removes identification `id` from its user, with its guard and locator.
pub async fn delete(app: &App, kind: IdentificationKind, id: &str) -> Result<()> {
    with_retry(|| async {
        let (mut u, found) = find(app, kind, id).await?;
        u.identifications_mut(kind).retain(|r| r.id != id);
        if u.primary_id(kind) == Some(&found.id) {
            let next = u
                .identifications(kind)
                .iter()
                .find(|r| r.is_verified())
                .map(|r| r.id.clone());
            *u.primary_id_mut(kind) = next;
        }
        if found.reserved_for_second_factor {
            note_mfa_change(app, &mut u);
        }
        u.updated_at = app.now_ms();
        let release = release_if_held(app, &u.id, kind, &found.value).await?;
        save(app, &u, release, kind).await
    })
    .await
}
