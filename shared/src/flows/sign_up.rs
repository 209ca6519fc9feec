//! Sign-up: collecting what the instance requires, verifying identifiers, creating the user.
//!
//! ```text
//!   create / update ──► missing_requirements ──(all required fields given,
//!         ▲                 │    ▲               every identifier verified)──► complete
//!         │      prepare ───┘    │ attempt (right code)                         │
//!         └─────── (fields) ─────┘                                              ▼
//!                                           user + guards + session + client, one transaction
//! ```
//!
//! Which fields are required, optional or to be verified comes from the instance settings.
//! Identifiers are unique: each is claimed by a guard item in the same transaction that creates
//! the user, so two clients racing for one email address yield exactly one user.

use serde_json::Map;

use crate::app::App;
use crate::capabilities::Field;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::{
    IdentificationRecord, SignUpRecord, SignUpStatus, UserRecord, VerificationRecord,
};
use crate::password;
use crate::random;
use crate::repo::Repo;
use crate::settings::SignUpMode;
use crate::store::{StoreError, Write};
use crate::vocabulary::{IdentificationKind, IdentifierKind, Strategy, VerificationStrategy};

use super::client::{Current, commit};
use super::command::ClientCommand;
use super::command::Origin;
use super::me::profile::apply_names;
use super::session;
use super::verification;

/// The fields a create or update gives (`None`: not given). Names distinguish "not given" from
/// "cleared" (`Some(None)`).
#[derive(Debug, Clone, Default)]
pub struct SignUpFields {
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub password: Option<String>,
    pub unsafe_metadata: Option<Map<String, serde_json::Value>>,
    pub legal_accepted: Option<bool>,
}

/// `POST /v1/client/sign_ups`: starts a new sign-up on the client (replacing any other).
#[derive(Debug, Clone, Default)]
pub struct CreateSignUp {
    pub fields: SignUpFields,
}

/// `PATCH /v1/client/sign_ups/{id}`: adds or changes fields.
#[derive(Debug, Clone)]
pub struct UpdateSignUp {
    pub id: String,
    pub fields: SignUpFields,
}

/// `POST …/prepare_verification`.
#[derive(Debug, Clone)]
pub struct PrepareVerification {
    pub id: String,
    pub strategy: VerificationStrategy,
    /// Where an email link returns the browser to.
    pub redirect_url: Option<String>,
    /// The code sent, kept across retries of the unit of work.
    pub sent: verification::SentOnce,
}

/// `POST …/attempt_verification`.
#[derive(Debug, Clone)]
pub struct AttemptVerification {
    pub id: String,
    pub strategy: VerificationStrategy,
    pub code: String,
}

/// What a completed sign-up created, for rendering.
#[derive(Debug, Clone)]
pub struct Created {
    pub user: UserRecord,
}

fn current_sign_up<'a>(current: &'a Current, id: &str) -> Result<&'a SignUpRecord> {
    current.sign_up(id)
}

/// Parameters an instance has switched off are refused, not silently dropped.
fn ensure_enabled(app: &App, field: Field) -> Result<()> {
    if app.capabilities.enabled(field) {
        return Ok(());
    }
    let name = field.as_str();
    Err(Error::new(Code::FormParamUnknown)
        .param(name)
        .long(format!("{name} is not enabled for this application.")))
}

async fn ensure_identifier_free(
    app: &App,
    kind: IdentifierKind,
    value: &str,
    param: &str,
) -> Result<()> {
    if app.repo.identifier_owner(kind, value).await?.is_some() {
        return Err(Error::new(Code::FormIdentifierExists).param(param));
    }
    Ok(())
}

/// Applies the given fields to `s`.
pub(crate) async fn apply(app: &App, s: &mut SignUpRecord, fields: &SignUpFields) -> Result<()> {
    for (kind, raw) in [
        (IdentificationKind::EmailAddress, &fields.email_address),
        (IdentificationKind::PhoneNumber, &fields.phone_number),
    ] {
        let Some(raw) = raw else { continue };
        let param = kind.as_str();
        ensure_enabled(app, field_of(kind))?;
        let value = identifiers::normalise(kind.identifier(), raw, param)?;
        ensure_identifier_free(app, kind.identifier(), &value, param).await?;
        let (held, _) = s.identification(kind);
        if held != Some(&value) {
            *s.verification_mut(kind) = None;
        }
        match kind {
            IdentificationKind::EmailAddress => s.email_address = Some(value),
            IdentificationKind::PhoneNumber => s.phone_number = Some(value),
        }
    }
    if let Some(raw) = &fields.username {
        ensure_enabled(app, Field::Username)?;
        let username = identifiers::normalise_username(raw, "username")?;
        ensure_identifier_free(app, IdentifierKind::Username, &username, "username").await?;
        s.username = Some(username);
    }
    let names = [&fields.first_name, &fields.last_name];
    apply_names(app, names, [&mut s.first_name, &mut s.last_name])?;
    if let Some(metadata) = &fields.unsafe_metadata {
        crate::metadata::check(metadata, "unsafe_metadata")?;
        s.unsafe_metadata = metadata.clone();
    }
    if fields.legal_accepted == Some(true) {
        s.legal_accepted_at = Some(app.now_ms());
    }
    if let Some(pw) = &fields.password {
        ensure_enabled(app, Field::Password)?;
        password::validate(pw, &app.settings.password_settings, "password")?;
        s.password_hash = Some(app.passwords.hash(pw).await?);
    }
    Ok(())
}

fn field_of(kind: IdentificationKind) -> Field {
    match kind {
        IdentificationKind::EmailAddress => Field::EmailAddress,
        IdentificationKind::PhoneNumber => Field::PhoneNumber,
    }
}

/// Builds the user a finished sign-up describes.
fn user_from(app: &App, s: &SignUpRecord) -> UserRecord {
    let now = app.now_ms();
    let identification = |kind| {
        let (value, verification) = s.identification(kind);
        value.map(|v| IdentificationRecord {
            verification: verification.cloned(),
            ..IdentificationRecord::new(
                kind,
                random::object_id(app.random.as_ref(), "idn"),
                v.clone(),
                now,
            )
        })
    };
    let email = identification(IdentificationKind::EmailAddress);
    let phone = identification(IdentificationKind::PhoneNumber);
    UserRecord {
        username: s.username.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        primary_email_address_id: email.as_ref().map(|e| e.id.clone()),
        primary_phone_number_id: phone.as_ref().map(|p| p.id.clone()),
        email_addresses: email.into_iter().collect(),
        phone_numbers: phone.into_iter().collect(),
        password_hash: s.password_hash.clone(),
        password_last_updated_at: s.password_hash.as_ref().map(|_| now),
        unsafe_metadata: s.unsafe_metadata.clone(),
        legal_accepted_at: s.legal_accepted_at,
        ..UserRecord::new(random::object_id(app.random.as_ref(), "user"), now)
    }
}

/// Stores the sign-up, and — when it is ready — creates the user, claims its identifiers,
/// starts its session, all in one transaction.
async fn save(
    app: &App,
    current: &mut Current,
    s: SignUpRecord,
    origin: &Origin,
) -> Result<Option<Created>> {
    save_with(app, current, s, origin, Vec::new()).await
}

/// [`save`], with `extra` writes first in the transaction (a social sign-in's used state).
pub(crate) async fn save_with(
    app: &App,
    current: &mut Current,
    mut s: SignUpRecord,
    origin: &Origin,
    extra: Vec<Write>,
) -> Result<Option<Created>> {
    s.updated_at = app.now_ms();
    let mut guards: Vec<(IdentifierKind, &'static str)> = Vec::new();
    let offset = extra.len();
    let mut writes: Vec<Write> = extra;
    let mut created = None;
    if s.is_ready(&app.capabilities) {
        let mut user = user_from(app, &s);
        for (kind, value, param) in [
            (
                IdentifierKind::Email,
                s.email_address.clone(),
                "email_address",
            ),
            (
                IdentifierKind::Phone,
                s.phone_number.clone(),
                "phone_number",
            ),
            (IdentifierKind::Username, s.username.clone(), "username"),
        ] {
            if let Some(v) = value {
                writes.push(Repo::claim_identifier_write(kind, &v, &user.id)?);
                guards.push((kind, param));
            }
        }
        let external = s
            .external_account
            .as_ref()
            .filter(|v| v.status == crate::model::records::OAuthStatus::Verified)
            .and_then(|v| v.profile.as_ref());
        if let Some(p) = external {
            let id = random::object_id(app.random.as_ref(), "eac");
            user.external_accounts.push(
                crate::model::records::ExternalAccountRecord::from_profile(id, p, app.now_ms()),
            );
        }
        let strategy = if let Some(p) = external {
            p.strategy.clone()
        } else if s.email_verification.is_some() {
            Strategy::EmailCode.as_str().to_owned()
        } else if s.phone_verification.is_some() {
            Strategy::PhoneCode.as_str().to_owned()
        } else {
            Strategy::Password.as_str().to_owned()
        };
        let session::Started {
            session,
            writes: session_writes,
            ..
        } = session::start(
            app,
            current,
            &mut user,
            &strategy,
            Some(app.now_ms()),
            None,
            origin,
        )?;
        if let Some(p) = external {
            writes.push(Repo::claim_external_account_write(
                &p.strategy,
                &p.subject,
                &user.id,
            )?);
            guards.push((IdentifierKind::Email, "strategy"));
        }
        writes.extend(Repo::user_writes(&user)?);
        writes.extend(session_writes);
        if let Some(v) = s.external_account.as_mut() {
            // Kept on the user now; the attempt need not hold the profile any longer.
            v.profile = None;
        }
        s.status = SignUpStatus::Complete;
        s.created_user_id = Some(user.id.clone());
        s.created_session_id = Some(session.id.clone());
        created = Some(Created { user });
    }
    writes.push(Repo::sign_up_write(&s)?);
    current.aggregate.client.sign_up_id = Some(s.id.clone());
    current.aggregate.client.updated_at = app.now_ms();
    writes.push(current.client_write()?);
    match app.repo.commit(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index }) if index < offset => {
            // The extra writes' conditions (a social sign-in's state used once) failed: a
            // replay or a race, retried on fresh state.
            return Err(Error::conflict());
        }
        Err(StoreError::ConditionFailed { index })
            if index >= offset && index - offset < guards.len() =>
        {
            let (_, param) = guards[index - offset];
            if param == "strategy" {
                return Err(Error::new(Code::OauthAccountAlreadyConnected).param(param));
            }
            return Err(Error::new(Code::FormIdentifierExists).param(param));
        }
        Err(e) => return Err(e.into()),
    }
    current.aggregate.sign_up = Some(s);
    Ok(created)
}

/// Refuses sign-ups on an instance that takes none (restricted mode).
pub(crate) fn ensure_open_for_sign_up(app: &App) -> Result<()> {
    if app.settings.sign_up.mode == SignUpMode::Restricted {
        return Err(Error::new(Code::SignUpModeRestricted));
    }
    Ok(())
}

/// Stores an open sign-up (no user yet) and makes it the client's, with `extra` writes.
pub(crate) async fn store_open(
    app: &App,
    current: &mut Current,
    s: SignUpRecord,
    extra: Vec<Write>,
) -> Result<()> {
    let mut writes = extra;
    writes.push(Repo::sign_up_write(&s)?);
    current.aggregate.client.sign_up_id = Some(s.id.clone());
    current.aggregate.client.updated_at = app.now_ms();
    writes.push(current.client_write()?);
    commit(app, writes).await?;
    current.aggregate.sign_up = Some(s);
    Ok(())
}

/// `POST /v1/client/sign_ups`: starts a new sign-up on the client (replacing any other).
impl ClientCommand for CreateSignUp {
    type Output = Option<Created>;
    const CREATES_CLIENT: bool = true;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let fields = &self.fields;
        if app.settings.sign_up.mode == SignUpMode::Restricted {
            return Err(Error::new(Code::SignUpModeRestricted));
        }
        session::ensure_can_sign_in(app, current)?;
        let now = app.now_ms();
        let id = random::object_id(app.random.as_ref(), "sua");
        let mut s = SignUpRecord::new(id, current.client().id.clone(), now);
        apply(app, &mut s, fields).await?;
        save(app, current, s, origin).await
    }
}

pub(crate) fn ensure_open(s: &SignUpRecord) -> Result<()> {
    if s.status != SignUpStatus::MissingRequirements {
        return Err(
            Error::new(Code::FormParamValueInvalid).long("This sign-up is already complete.")
        );
    }
    Ok(())
}

/// `PATCH /v1/client/sign_ups/{id}`: adds or changes fields.
impl ClientCommand for UpdateSignUp {
    type Output = Option<Created>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let fields = &self.fields;
        let mut s = current_sign_up(current, id)?.clone();
        ensure_open(&s)?;
        session::ensure_can_sign_in(app, current)?;
        apply(app, &mut s, fields).await?;
        save(app, current, s, origin).await
    }
}

/// The identification kind a verification strategy proves.
fn proves(strategy: VerificationStrategy) -> IdentificationKind {
    match strategy {
        VerificationStrategy::EmailCode | VerificationStrategy::EmailLink => {
            IdentificationKind::EmailAddress
        }
        VerificationStrategy::PhoneCode => IdentificationKind::PhoneNumber,
    }
}

/// `POST …/prepare_verification`: sends a code to the email address or phone number.
impl ClientCommand for PrepareVerification {
    type Output = ();

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let cmd = self;
        let mut s = current_sign_up(current, id)?.clone();
        ensure_open(&s)?;
        let kind = proves(cmd.strategy);
        let (value, previous) = s.identification(kind);
        let to = value.cloned().ok_or_else(|| {
            let what = match kind {
                IdentificationKind::EmailAddress => "an email address",
                IdentificationKind::PhoneNumber => "a phone number",
            };
            Error::new(Code::VerificationMissing)
                .param("strategy")
                .long(format!("Add {what} before verifying it."))
        })?;
        if !app.capabilities.verification(kind, cmd.strategy) {
            return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy"));
        }
        let link =
            super::return_urls::link_back(app, cmd.strategy, cmd.redirect_url.as_deref(), || {
                verification::LinkTarget::SignUp { id: s.id.clone() }
            })?;
        let by = verification::Sender {
            client_id: &s.client_id,
            once: &cmd.sent,
            link: link.as_ref(),
        };
        let v = verification::prove_identification(app, (kind, &to), cmd.strategy, previous, by)
            .await?;
        *s.verification_mut(kind) = Some(v);
        s.updated_at = app.now_ms();
        commit_sign_up(app, current, s).await
    }
}

async fn commit_sign_up(app: &App, current: &mut Current, s: SignUpRecord) -> Result<()> {
    let mut writes = vec![Repo::sign_up_write(&s)?];
    if current.is_new() {
        writes.push(current.client_write()?);
    }
    commit(app, writes).await?;
    current.aggregate.sign_up = Some(s);
    Ok(())
}

/// `POST …/attempt_verification`: checks a code; the last one completes the sign-up.
impl ClientCommand for AttemptVerification {
    type Output = Option<Created>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let cmd = self;
        let mut s = current_sign_up(current, id)?.clone();
        ensure_open(&s)?;
        let v: &mut VerificationRecord = s
            .verification_mut(proves(cmd.strategy))
            .as_mut()
            .ok_or_else(|| {
                Error::new(Code::VerificationMissing)
                    .long("Request a code with prepare_verification first.")
            })?;
        let outcome = verification::attempt(app, v, &cmd.code);
        match outcome {
            Ok(verification::Attempt::Verified) => save(app, current, s, origin).await,
            Ok(other) => {
                // The failed try is counted (and kept) before answering.
                commit_sign_up(app, current, s).await?;
                Err(verification::attempt_error(other))
            }
            Err(e) => {
                // Expiry discovered now is worth remembering too.
                commit_sign_up(app, current, s).await?;
                Err(e)
            }
        }
    }
}
