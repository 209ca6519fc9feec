//! Importing users from a Clerk export (`crate::clerk_export`), one user per transaction, so a
//! re-run changes nothing and an interrupted run can simply be run again.
//!
//! ```text
//!   row ─► checked: id, identifiers, digest, metadata ──bad──► refused (why)
//!       ─► a user with this id is here already ─────────────► unchanged
//!       ─► dry run ──────────────────────────────────────────► would be created
//!       ─► user + guards of its verified identifiers and external id, one transaction
//!            ├─ created (its bcrypt or argon2 digest kept; argon2id from its first sign-in)
//!            └─ an identifier someone else holds ─► refused (which one), nothing written
//! ```
//!
//! The Clerk user id is kept as the id here, so the app's own records that point at users keep
//! pointing at the right ones. Unverified identifiers come along unverified (they claim nothing,
//! as on sign-up). A digest this server cannot check (a hasher other than bcrypt, argon2i or
//! argon2id) is left behind with a note: that user signs in with a code and sets a password.

use crate::app::App;
use crate::clerk_export::ExportedUser;
use crate::error::Result;
use crate::identifiers;
use crate::model::records::{IdentificationRecord, UserRecord};
use crate::repo::Repo;
use crate::store::StoreError;
use crate::vocabulary::{IdentificationKind, IdentifierKind, Strategy};

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// Dry run: it would have been created.
    WouldCreate,
    /// A user with this id exists: nothing changed.
    AlreadyImported,
    Refused(String),
}

/// One row's result, with what was left behind on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub row: usize,
    pub id: String,
    pub outcome: Outcome,
    pub notes: Vec<String>,
}

/// A Clerk user id: `user_` and letters and digits.
fn valid_id(id: &str) -> bool {
    id.strip_prefix("user_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// The user a row describes (not stored yet), or why it cannot be one.
fn user_from(
    app: &App,
    u: &ExportedUser,
    notes: &mut Vec<String>,
) -> std::result::Result<UserRecord, String> {
    if !valid_id(&u.id) {
        return Err(format!("`{}` is not a Clerk user id", u.id));
    }
    let now = app.now_ms();
    let mut user = UserRecord::new(u.id.clone(), u.created_at.unwrap_or(now));
    user.updated_at = now;
    let mut identification = |kind: IdentificationKind, (raw, verified): &(String, bool)| {
        let value = identifiers::normalise(kind.identifier(), raw, kind.as_str())
            .map_err(|_| format!("`{raw}` is not a valid {}", kind.as_str().replace('_', " ")))?;
        let id = crate::random::object_id(app.random.as_ref(), "idn");
        let mut r = IdentificationRecord::new(kind, id, value, now);
        if *verified {
            r.verification = Some(super::verification::verified(Strategy::Admin));
        }
        if !user
            .identifications(kind)
            .iter()
            .any(|x| x.value == r.value)
        {
            user.identifications_mut(kind).push(r);
        }
        Ok::<_, String>(())
    };
    for e in &u.email_addresses {
        identification(IdentificationKind::EmailAddress, e)?;
    }
    for p in &u.phone_numbers {
        identification(IdentificationKind::PhoneNumber, p)?;
    }
    for kind in IdentificationKind::ALL {
        let list = user.identifications(*kind);
        if list.len() > crate::security::MAX_IDENTIFICATIONS_PER_KIND {
            return Err(format!(
                "{} {}s: an account holds at most {}",
                list.len(),
                kind.as_str().replace('_', " "),
                crate::security::MAX_IDENTIFICATIONS_PER_KIND
            ));
        }
        let primary = list
            .iter()
            .find(|r| r.is_verified())
            .or(list.first())
            .map(|r| r.id.clone());
        *user.primary_id_mut(*kind) = primary;
    }
    user.username = match &u.username {
        Some(name) => Some(
            identifiers::normalise_username(name, "username").map_err(|e| {
                let why = e.long_message.unwrap_or_else(|| e.code.to_string());
                format!("username `{name}`: {why}")
            })?,
        ),
        None => None,
    };
    if user.email_addresses.is_empty() && user.phone_numbers.is_empty() && user.username.is_none() {
        return Err("no email address, phone number or username to sign in with".into());
    }
    if let Some((hasher, digest)) = &u.password {
        match crate::password::imported_digest(hasher, digest) {
            Ok(hash) => {
                user.password_hash = Some(hash);
                user.password_last_updated_at = Some(now);
            }
            Err(_) => notes.push(format!(
                "password not imported (`{hasher}` digest not usable here): the user signs in with a code and sets one"
            )),
        }
    }
    if let Some(secret) = &u.totp_secret {
        if crate::totp::generate(secret, 0).is_ok() {
            user.totp_secret = Some(secret.clone());
            user.mfa_enabled_at = Some(now);
        } else {
            notes.push("TOTP secret not imported (not a usable base32 secret of 128 bits or more): the user sets up the authenticator again".into());
        }
    }
    for (m, name) in [
        (&u.public_metadata, "public_metadata"),
        (&u.private_metadata, "private_metadata"),
        (&u.unsafe_metadata, "unsafe_metadata"),
    ] {
        crate::metadata::check(m, name).map_err(|e| {
            format!(
                "{name}: {}",
                e.long_message.unwrap_or_else(|| e.code.to_string())
            )
        })?;
    }
    user.first_name = u.first_name.clone();
    user.last_name = u.last_name.clone();
    user.public_metadata = u.public_metadata.clone();
    user.private_metadata = u.private_metadata.clone();
    user.unsafe_metadata = u.unsafe_metadata.clone();
    user.external_id = u.external_id.clone();
    user.banned = u.banned;
    Ok(user)
}

/// Imports one row (or, with `dry_run`, checks it and writes nothing).
pub async fn import_user(app: &App, u: &ExportedUser, dry_run: bool) -> Result<Imported> {
    let mut notes = Vec::new();
    let done = |outcome, notes| Imported {
        row: u.row,
        id: u.id.clone(),
        outcome,
        notes,
    };
    let user = match user_from(app, u, &mut notes) {
        Ok(user) => user,
        Err(why) => return Ok(done(Outcome::Refused(why), notes)),
    };
    if app.repo.load_user(&user.id).await?.is_some() {
        return Ok(done(Outcome::AlreadyImported, Vec::new()));
    }
    // What each guard stands for, in write order: the refusal names it.
    let mut claims: Vec<(IdentifierKind, String)> = Vec::new();
    for kind in IdentificationKind::ALL {
        for r in user
            .identifications(*kind)
            .iter()
            .filter(|r| r.is_verified())
        {
            claims.push((kind.identifier(), r.value.clone()));
        }
    }
    if let Some(name) = &user.username {
        claims.push((IdentifierKind::Username, name.clone()));
    }
    if dry_run {
        for (kind, value) in &claims {
            if let Some(owner) = app.repo.identifier_owner(*kind, value).await?
                && owner != user.id
            {
                return Ok(done(
                    Outcome::Refused(format!("{} `{value}` is another user's", kind.as_str())),
                    notes,
                ));
            }
        }
        return Ok(done(Outcome::WouldCreate, notes));
    }
    let mut writes = Vec::new();
    let mut labels = Vec::new();
    for (kind, value) in &claims {
        writes.push(Repo::claim_identifier_write(*kind, value, &user.id)?);
        labels.push(format!("{} `{value}` is another user's", kind.as_str()));
    }
    if let Some(e) = &user.external_id {
        writes.push(Repo::claim_external_id_write(e, &user.id)?);
        labels.push(format!("external id `{e}` is another user's"));
    }
    let user_index = writes.len();
    writes.extend(Repo::user_writes(&user)?);
    match app.repo.commit(writes).await {
        Ok(()) => Ok(done(Outcome::Created, notes)),
        Err(StoreError::ConditionFailed { index }) if index == user_index => {
            Ok(done(Outcome::AlreadyImported, Vec::new()))
        }
        Err(StoreError::ConditionFailed { index }) if index < user_index => {
            Ok(done(Outcome::Refused(labels[index].clone()), notes))
        }
        Err(StoreError::Invalid(why)) => Ok(done(Outcome::Refused(why), notes)),
        Err(e) => Err(e.into()),
    }
}
