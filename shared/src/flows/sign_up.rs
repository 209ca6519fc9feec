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
use crate::clock::duration_ms;
use crate::error::{Code, Error, Result};
use crate::http::Params;
use crate::identifiers;
use crate::model::records::{
    EmailAddressRecord, PhoneNumberRecord, SignUpRecord, SignUpStatus, UserRecord,
};
use crate::model::render;
use crate::password;
use crate::random;
use crate::repo::Repo;
use crate::security;
use crate::settings::SignUpMode;
use crate::store::keys::IdentifierKind;
use crate::store::{StoreError, Write};

use super::client::{Current, commit};
use super::session::{self, Origin};
use super::verification::{self, Destination, Purpose};

/// Longest first or last name accepted.
const NAME_MAX_CHARS: usize = 256;

/// What a completed sign-up created, for rendering.
#[derive(Debug, Clone)]
pub struct Created {
    pub user: UserRecord,
}

fn current_sign_up<'a>(current: &'a Current, id: &str) -> Result<&'a SignUpRecord> {
    current
        .aggregate
        .sign_up
        .as_ref()
        .filter(|s| s.id == id)
        .ok_or_else(Error::not_found)
}

/// Parameters an instance has switched off are refused, not silently dropped.
fn ensure_enabled(app: &App, field: &str) -> Result<()> {
    if app.settings.attribute(field).is_some_and(|a| a.enabled) {
        Ok(())
    } else {
        Err(Error::new(Code::FormParamUnknown)
            .param(field)
            .long(format!("{field} is not enabled for this application.")))
    }
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

fn name_param(params: &Params, field: &str) -> Result<Option<Option<String>>> {
    use crate::http::Field;
    match params.field(field) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Value(v) => {
            let v = v.trim();
            if v.chars().count() > NAME_MAX_CHARS {
                return Err(Error::new(Code::FormParamMaxLengthExceeded).param(field));
            }
            Ok(Some(Some(v.to_owned()).filter(|v| !v.is_empty())))
        }
    }
}

/// Applies the sign-up parameters present in `params` to `s`.
async fn apply(app: &App, s: &mut SignUpRecord, params: &Params) -> Result<()> {
    if let Some(strategy) = params.str("strategy") {
        // OAuth, SAML, tickets and Web3 need providers this server does not run.
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("strategy")
            .long(format!(
                "The {strategy} strategy is not supported by this application."
            )));
    }
    if let Some(raw) = params.str("email_address") {
        ensure_enabled(app, "email_address")?;
        let email = identifiers::normalise_email(raw, "email_address")?;
        ensure_identifier_free(app, IdentifierKind::Email, &email, "email_address").await?;
        if s.email_address.as_deref() != Some(email.as_str()) {
            s.email_verification = None;
        }
        s.email_address = Some(email);
    }
    if let Some(raw) = params.str("phone_number") {
        ensure_enabled(app, "phone_number")?;
        let phone = identifiers::normalise_phone(raw, "phone_number")?;
        ensure_identifier_free(app, IdentifierKind::Phone, &phone, "phone_number").await?;
        if s.phone_number.as_deref() != Some(phone.as_str()) {
            s.phone_verification = None;
        }
        s.phone_number = Some(phone);
    }
    if let Some(raw) = params.str("username") {
        ensure_enabled(app, "username")?;
        let username = identifiers::normalise_username(raw, "username")?;
        ensure_identifier_free(app, IdentifierKind::Username, &username, "username").await?;
        s.username = Some(username);
    }
    for field in ["first_name", "last_name"] {
        if let Some(value) = name_param(params, field)? {
            ensure_enabled(app, field)?;
            match field {
                "first_name" => s.first_name = value,
                _ => s.last_name = value,
            }
        }
    }
    if let Some(metadata) = params.object("unsafe_metadata")? {
        s.unsafe_metadata = metadata;
    }
    if params.bool("legal_accepted")? == Some(true) {
        s.legal_accepted_at = Some(app.now_ms());
    }
    if let Some(pw) = params.str("password") {
        ensure_enabled(app, "password")?;
        password::validate(pw, &app.settings.password_settings, "password")?;
        s.password_hash = Some(app.passwords.hash(pw).await?);
    }
    Ok(())
}

/// Whether nothing stands between the sign-up and a user.
fn ready(app: &App, s: &SignUpRecord) -> bool {
    render::sign_up_missing_fields(s, &app.settings).is_empty()
        && render::sign_up_unverified_fields(s, &app.settings).is_empty()
}

/// Builds the user a finished sign-up describes.
fn user_from(app: &App, s: &SignUpRecord) -> UserRecord {
    let now = app.now_ms();
    let email = s.email_address.as_ref().map(|address| EmailAddressRecord {
        id: random::object_id(app.random.as_ref(), "idn"),
        email_address: address.clone(),
        verification: s.email_verification.clone(),
        created_at: now,
        updated_at: now,
    });
    let phone = s.phone_number.as_ref().map(|number| PhoneNumberRecord {
        id: random::object_id(app.random.as_ref(), "idn"),
        phone_number: number.clone(),
        verification: s.phone_verification.clone(),
        reserved_for_second_factor: false,
        default_second_factor: false,
        created_at: now,
        updated_at: now,
    });
    UserRecord {
        id: random::object_id(app.random.as_ref(), "user"),
        username: s.username.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        primary_email_address_id: email.as_ref().map(|e| e.id.clone()),
        primary_phone_number_id: phone.as_ref().map(|p| p.id.clone()),
        email_addresses: email.into_iter().collect(),
        phone_numbers: phone.into_iter().collect(),
        password_hash: s.password_hash.clone(),
        password_last_updated_at: s.password_hash.as_ref().map(|_| now),
        totp_secret: None,
        totp_pending_secret: None,
        totp_last_step: None,
        backup_code_hashes: Vec::new(),
        public_metadata: Map::new(),
        unsafe_metadata: s.unsafe_metadata.clone(),
        failed_attempts: 0,
        locked_until: None,
        last_sign_in_at: None,
        last_active_at: None,
        mfa_enabled_at: None,
        mfa_disabled_at: None,
        legal_accepted_at: s.legal_accepted_at,
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

/// Stores the sign-up, and — when it is ready — creates the user, claims its identifiers,
/// starts its session, all in one transaction.
async fn save(
    app: &App,
    current: &mut Current,
    mut s: SignUpRecord,
    origin: &Origin,
) -> Result<Option<Created>> {
    s.updated_at = app.now_ms();
    let mut writes: Vec<Write> = Vec::new();
    let mut guards: Vec<(IdentifierKind, &'static str)> = Vec::new();
    let mut created = None;
    if ready(app, &s) {
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
        let strategy = if s.email_verification.is_some() {
            "email_code"
        } else if s.phone_verification.is_some() {
            "phone_code"
        } else {
            "password"
        };
        let (session, session_write) = session::start(
            app,
            current,
            &mut user,
            strategy,
            Some(app.now_ms()),
            None,
            origin,
        )?;
        writes.push(Repo::user_write(&user)?);
        writes.push(session_write);
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
        Err(StoreError::ConditionFailed { index }) if index < guards.len() => {
            let (_, param) = guards[index];
            return Err(Error::new(Code::FormIdentifierExists).param(param));
        }
        Err(e) => return Err(e.into()),
    }
    current.aggregate.sign_up = Some(s);
    Ok(created)
}

/// `POST /v1/client/sign_ups`: starts a new sign-up on the client (replacing any other).
pub async fn create(
    app: &App,
    current: &mut Current,
    params: &Params,
    origin: &Origin,
) -> Result<Option<Created>> {
    if app.settings.sign_up.mode == SignUpMode::Restricted {
        return Err(Error::new(Code::SignUpModeRestricted));
    }
    session::ensure_can_sign_in(app, current)?;
    let now = app.now_ms();
    let mut s = SignUpRecord {
        id: random::object_id(app.random.as_ref(), "sua"),
        client_id: current.client().id.clone(),
        status: SignUpStatus::MissingRequirements,
        email_address: None,
        phone_number: None,
        username: None,
        first_name: None,
        last_name: None,
        password_hash: None,
        unsafe_metadata: Map::new(),
        legal_accepted_at: None,
        email_verification: None,
        phone_verification: None,
        created_user_id: None,
        created_session_id: None,
        abandon_at: now + duration_ms(security::ATTEMPT_ABANDON_AFTER),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    apply(app, &mut s, params).await?;
    save(app, current, s, origin).await
}

fn ensure_open(s: &SignUpRecord) -> Result<()> {
    if s.status != SignUpStatus::MissingRequirements {
        return Err(
            Error::new(Code::FormParamValueInvalid).long("This sign-up is already complete.")
        );
    }
    Ok(())
}

/// `PATCH /v1/client/sign_ups/{id}`: adds or changes fields.
pub async fn update(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
    origin: &Origin,
) -> Result<Option<Created>> {
    let mut s = current_sign_up(current, id)?.clone();
    ensure_open(&s)?;
    session::ensure_can_sign_in(app, current)?;
    apply(app, &mut s, params).await?;
    save(app, current, s, origin).await
}

/// `POST …/prepare_verification`: sends a code to the email address or phone number.
pub async fn prepare_verification(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
) -> Result<()> {
    let mut s = current_sign_up(current, id)?.clone();
    ensure_open(&s)?;
    let strategy = params.required("strategy")?;
    let attrs = &app.settings.attributes;
    let (address, slot, dest, attribute, what): (_, _, fn(&str) -> Destination, _, _) =
        match strategy {
            "email_code" => (
                s.email_address.clone(),
                &mut s.email_verification,
                Destination::email,
                &attrs.email_address,
                "an email address",
            ),
            "phone_code" => (
                s.phone_number.clone(),
                &mut s.phone_verification,
                Destination::sms,
                &attrs.phone_number,
                "a phone number",
            ),
            _ => return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy")),
        };
    let to = address.ok_or_else(|| {
        Error::new(Code::VerificationMissing)
            .param("strategy")
            .long(format!("Add {what} before verifying it."))
    })?;
    if !attribute.verifications.iter().any(|v| v == strategy) {
        return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy"));
    }
    let v =
        verification::prepare(app, strategy, &dest(&to), Purpose::Verify, slot.as_ref()).await?;
    *slot = Some(v);
    s.updated_at = app.now_ms();
    commit_sign_up(app, current, s).await
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
pub async fn attempt_verification(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
    origin: &Origin,
) -> Result<Option<Created>> {
    let mut s = current_sign_up(current, id)?.clone();
    ensure_open(&s)?;
    let strategy = params.required("strategy")?;
    let code = params.required("code")?;
    let slot = match strategy {
        "email_code" => &mut s.email_verification,
        "phone_code" => &mut s.phone_verification,
        _ => return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy")),
    };
    let v = slot.as_mut().ok_or_else(|| {
        Error::new(Code::VerificationMissing)
            .long("Request a code with prepare_verification first.")
    })?;
    let outcome = verification::attempt(app, v, code);
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
