//! Email addresses and phone numbers on the profile: one code path for both kinds, over the one
//! identification record.
//!
//! ```text
//!   add (nothing reserved) ──prepare──► code sent ──attempt ok──► verified (guard claimed)
//!    └────────── delete (our guard released; never the last identifier the user signs in with)
//! ```

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::{IdentificationRecord, UserRecord};
use crate::random;
use crate::repo::Repo;
use crate::security;
use crate::store::Write;
use crate::vocabulary::{IdentificationKind, VerificationStrategy};

use super::acting::{Acting, fail, save, save_user};
use super::profile::ensure_enabled;
use super::second_factors::note_mfa_change;
use crate::flows::command::UserCommand;
use crate::flows::lockout;
use crate::flows::verification;

/// `POST /v1/me/{email_addresses|phone_numbers}`.
#[derive(Debug, Clone)]
pub struct AddIdentification {
    pub kind: IdentificationKind,
    /// The address or number as given.
    pub value: String,
}

/// `POST …/{id}/prepare_verification`.
#[derive(Debug, Clone)]
pub struct PrepareIdentification {
    pub kind: IdentificationKind,
    pub id: String,
    pub strategy: VerificationStrategy,
    /// Where an email link returns the browser to.
    pub redirect_url: Option<String>,
    /// The code sent, kept across retries of the unit of work.
    pub sent: verification::SentOnce,
}

/// `POST …/{id}/attempt_verification`.
#[derive(Debug, Clone)]
pub struct AttemptIdentification {
    pub kind: IdentificationKind,
    pub id: String,
    pub code: String,
}

/// `DELETE /v1/me/{email_addresses|phone_numbers}/{id}`.
#[derive(Debug, Clone)]
pub struct DeleteIdentification {
    pub kind: IdentificationKind,
    pub id: String,
}

fn field(kind: IdentificationKind) -> crate::capabilities::Field {
    use crate::capabilities::Field;
    match kind {
        IdentificationKind::EmailAddress => Field::EmailAddress,
        IdentificationKind::PhoneNumber => Field::PhoneNumber,
    }
}

/// The guard write that claims `value` for `user_id`: none when the user holds it already
/// (identifications added before claims waited for verification).
pub(crate) async fn claim_unless_held(
    app: &App,
    user_id: &str,
    kind: IdentificationKind,
    value: &str,
) -> Result<Vec<Write>> {
    match app.repo.identifier_owner(kind.identifier(), value).await? {
        Some(owner) if owner == user_id => Ok(Vec::new()),
        Some(_) => Err(Error::new(Code::FormIdentifierExists).param(kind.as_str())),
        None => Ok(vec![Repo::claim_identifier_write(
            kind.identifier(),
            value,
            user_id,
        )?]),
    }
}

/// The guard write that frees `value`, only when `user_id` holds it: an unverified
/// identification never claimed it, and someone else's guard is not ours to remove.
pub(crate) async fn release_if_held(
    app: &App,
    user_id: &str,
    kind: IdentificationKind,
    value: &str,
) -> Result<Vec<Write>> {
    let owner = app.repo.identifier_owner(kind.identifier(), value).await?;
    Ok(if owner.as_deref() == Some(user_id) {
        vec![Repo::release_identifier_write(kind.identifier(), value)]
    } else {
        Vec::new()
    })
}

/// The identification `id` of `kind` on the acting user; 404 when there is none.
pub fn identification<'a>(
    a: &'a Acting,
    kind: IdentificationKind,
    id: &str,
) -> Result<&'a IdentificationRecord> {
    a.user.identification(kind, id).ok_or_else(Error::not_found)
}

fn identification_mut<'a>(
    a: &'a mut Acting,
    kind: IdentificationKind,
    id: &str,
) -> Result<&'a mut IdentificationRecord> {
    a.user
        .identification_mut(kind, id)
        .ok_or_else(Error::not_found)
}

/// Adds an unverified identification. It reserves nothing until it is verified, so adding an
/// address cannot keep its owner from signing up with it.
impl UserCommand for AddIdentification {
    type Output = IdentificationRecord;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let cmd = self;
        let param = cmd.kind.as_str();
        ensure_enabled(app, field(cmd.kind), param)?;
        let value = identifiers::normalise(cmd.kind.identifier(), &cmd.value, param)?;
        let held = a.user.identifications(cmd.kind);
        if held.iter().any(|r| r.value == value) {
            return Err(Error::new(Code::FormIdentifierExists).param(param));
        }
        if held.len() >= security::MAX_IDENTIFICATIONS_PER_KIND {
            return Err(Error::new(Code::QuotaExceeded).param(param).long(format!(
                "An account holds at most {} of these.",
                security::MAX_IDENTIFICATIONS_PER_KIND
            )));
        }
        // Someone else's verified identifier stays theirs. An unverified one claims nothing
        // (the guard is taken on verification), so adding an address cannot squat it.
        if let Some(owner) = app
            .repo
            .identifier_owner(cmd.kind.identifier(), &value)
            .await?
            && owner != a.user.id
        {
            return Err(Error::new(Code::FormIdentifierExists).param(param));
        }
        let record = IdentificationRecord::new(
            cmd.kind,
            random::object_id(app.random.as_ref(), "idn"),
            value.clone(),
            app.now_ms(),
        );
        a.user.identifications_mut(cmd.kind).push(record.clone());
        save_user(app, a).await?;
        Ok(record)
    }
}

/// Sends a code to the identification.
impl UserCommand for PrepareIdentification {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let (kind, id, cmd) = (self.kind, self.id.as_str(), self);
        let by_link = kind == IdentificationKind::EmailAddress
            && cmd.strategy == VerificationStrategy::EmailLink;
        if (cmd.strategy != kind.code_strategy() && !by_link)
            || !app.capabilities.verification(kind, cmd.strategy)
        {
            return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy"));
        }
        let r = identification_mut(a, kind, id)?;
        if r.is_verified() {
            return Err(Error::new(Code::VerificationAlreadyVerified));
        }
        let (to, previous) = (r.value.clone(), r.verification.clone());
        let client_id = a.current.aggregate.client.id.clone();
        let link = crate::flows::return_urls::link_back(
            app,
            cmd.strategy,
            cmd.redirect_url.as_deref(),
            || verification::LinkTarget::Identification {
                user_id: a.user.id.clone(),
                id: id.to_owned(),
            },
        )?;
        let v = verification::prove_identification(
            app,
            (kind, &to),
            cmd.strategy,
            previous.as_ref(),
            verification::Sender {
                client_id: &client_id,
                once: &cmd.sent,
                link: link.as_ref(),
            },
        )
        .await?;
        identification_mut(a, kind, id)?.verification = Some(v);
        save_user(app, a).await
    }
}

/// Checks the code sent to the identification.
impl UserCommand for AttemptIdentification {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let (kind, id, cmd) = (self.kind, self.id.as_str(), self);
        lockout::ensure_unlocked(&mut a.user, app.now_ms())?;
        let r = identification_mut(a, kind, id)?;
        let v = r.verification.as_mut().ok_or_else(|| {
            Error::new(Code::VerificationMissing)
                .long("Request a code with prepare_verification first.")
        })?;
        match verification::attempt(app, v, &cmd.code) {
            Ok(verification::Attempt::Verified) => {
                // Verified: now the identifier is claimed for this user, unless someone else
                // verified it first.
                let value = identification(a, kind, id)?.value.clone();
                let claim = claim_unless_held(app, &a.user.id, kind, &value).await?;
                save(app, a, claim, kind.as_str(), Vec::new()).await
            }
            Ok(other) => fail(app, a, verification::attempt_error(other)).await,
            Err(e) => {
                save_user(app, a).await?;
                Err(e)
            }
        }
    }
}

/// How many identifiers this user could sign in with, under this instance's settings.
fn sign_in_identifiers(app: &App, u: &UserRecord) -> usize {
    let caps = &app.capabilities;
    let verified = IdentificationKind::ALL
        .iter()
        .filter(|kind| caps.identification_signs_in(**kind))
        .map(|kind| {
            u.identifications(*kind)
                .iter()
                .filter(|r| r.is_verified())
                .count()
        })
        .sum::<usize>();
    let username =
        caps.signs_in_with(crate::vocabulary::IdentifierKind::Username) && u.username.is_some();
    verified + usize::from(username)
}

/// Removes the identification. The last identifier the user can sign in with stays; a removed
/// primary passes to another verified one, and a required kind keeps a primary.
impl UserCommand for DeleteIdentification {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let (kind, id) = (self.kind, self.id.as_str());
        let before = sign_in_identifiers(app, &a.user);
        let u = &mut a.user;
        let removed = u
            .identification(kind, id)
            .cloned()
            .ok_or_else(Error::not_found)?;
        u.identifications_mut(kind).retain(|r| r.id != id);
        if u.primary_id(kind) == Some(&removed.id) {
            let next = u
                .identifications(kind)
                .iter()
                .find(|r| r.is_verified())
                .map(|r| r.id.clone());
            *u.primary_id_mut(kind) = next;
        }
        if app.capabilities.required(field(kind)) && u.primary_id(kind).is_none() {
            return Err(Error::new(Code::LastRequiredIdentificationDeletionFailed));
        }
        if removed.reserved_for_second_factor {
            note_mfa_change(app, u);
        }
        if before > 0 && sign_in_identifiers(app, &a.user) == 0 {
            return Err(Error::new(Code::LastRequiredIdentificationDeletionFailed));
        }
        let release = release_if_held(app, &a.user.id, kind, &removed.value).await?;
        save(app, a, release, "", Vec::new()).await
    }
}
