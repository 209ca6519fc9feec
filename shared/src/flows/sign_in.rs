//! Sign-in: identifying the account, proving the first factor, then the second when the user
//! has one, or resetting a forgotten password.
//!
//! ```text
//!   create ──(no identifier)──► needs_identifier
//!     │ identifier
//!     ▼
//!   needs_first_factor ──password / code ok──┬──(user has 2FA)──► needs_second_factor ──ok──► complete
//!     │  (prepare: email_code, phone_code,    └──(no 2FA)────────────────────────────────────► complete
//!     │   reset_password_*_code)
//!     └─ reset code ok ──► needs_new_password ──reset_password──► (2FA? needs_second_factor : complete)
//! ```
//!
//! Every wrong password or code counts toward the user's lockout (10 → locked 1 h). An unknown
//! identifier with a password costs a full hash, like a wrong password, before it is refused.
//! Strategies and identifiers the instance has switched off are refused.

use serde_json::json;

use crate::app::App;
use crate::clock::duration_ms;
use crate::error::{Code, Error, Result};
use crate::http::Params;
use crate::identifiers;
use crate::model::records::{
    FactorVerification, SessionStatus, SignInRecord, SignInStatus, UserRecord, VerificationStatus,
};
use crate::model::wire::SignInFactor;
use crate::password;
use crate::random;
use crate::repo::Repo;
use crate::security;
use crate::store::Write;
use crate::store::keys::IdentifierKind;
use crate::totp;

use super::client::{Current, commit};
use super::lockout;
use super::session::{self, Origin};
use super::verification::{self, Destination, Purpose};

/// What a completed sign-in needs for rendering: the user it signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: UserRecord,
}

fn first_factor_enabled(app: &App, attribute: &str, strategy: &str) -> bool {
    app.settings.attribute(attribute).is_some_and(|a| {
        a.enabled && a.used_for_first_factor && a.first_factors.iter().any(|f| f == strategy)
    })
}

fn second_factor_enabled(app: &App, attribute: &str, strategy: &str) -> bool {
    app.settings.attribute(attribute).is_some_and(|a| {
        a.enabled && a.used_for_second_factor && a.second_factors.iter().any(|f| f == strategy)
    })
}

fn password_enabled(app: &App) -> bool {
    first_factor_enabled(app, "password", "password")
}

fn is_verified(v: Option<&crate::model::records::VerificationRecord>) -> bool {
    v.is_some_and(|v| v.status == VerificationStatus::Verified)
}

/// The first factors this user can use here, as Clerk lists them.
pub fn first_factors(app: &App, user: &UserRecord) -> Vec<SignInFactor> {
    let mut out = Vec::new();
    let has_password = user.password_hash.is_some() && password_enabled(app);
    if has_password {
        out.push(SignInFactor {
            strategy: "password".into(),
            ..SignInFactor::default()
        });
    }
    for e in user
        .email_addresses
        .iter()
        .filter(|e| is_verified(e.verification.as_ref()))
    {
        let primary = Some(&e.id) == user.primary_email_address_id.as_ref();
        let factor = |strategy: &str| SignInFactor {
            strategy: strategy.into(),
            safe_identifier: Some(e.email_address.clone()),
            email_address_id: Some(e.id.clone()),
            primary: Some(primary),
            ..SignInFactor::default()
        };
        if first_factor_enabled(app, "email_address", "email_code") {
            out.push(factor("email_code"));
        }
        if has_password && app.settings.attributes.email_address.used_for_first_factor {
            out.push(factor("reset_password_email_code"));
        }
    }
    for p in user
        .phone_numbers
        .iter()
        .filter(|p| is_verified(p.verification.as_ref()))
    {
        let primary = Some(&p.id) == user.primary_phone_number_id.as_ref();
        let factor = |strategy: &str| SignInFactor {
            strategy: strategy.into(),
            safe_identifier: Some(p.phone_number.clone()),
            phone_number_id: Some(p.id.clone()),
            primary: Some(primary),
            ..SignInFactor::default()
        };
        if first_factor_enabled(app, "phone_number", "phone_code") {
            out.push(factor("phone_code"));
        }
        if has_password && app.settings.attributes.phone_number.used_for_first_factor {
            out.push(factor("reset_password_phone_code"));
        }
    }
    out
}

/// The second factors this user has set up and the instance allows.
pub fn second_factors(app: &App, user: &UserRecord) -> Vec<SignInFactor> {
    let mut out = Vec::new();
    if user.totp_secret.is_some() && second_factor_enabled(app, "authenticator_app", "totp") {
        out.push(SignInFactor {
            strategy: "totp".into(),
            ..SignInFactor::default()
        });
    }
    if second_factor_enabled(app, "phone_number", "phone_code") {
        for p in user
            .phone_numbers
            .iter()
            .filter(|p| p.reserved_for_second_factor)
        {
            out.push(SignInFactor {
                strategy: "phone_code".into(),
                safe_identifier: Some(p.phone_number.clone()),
                phone_number_id: Some(p.id.clone()),
                default: Some(p.default_second_factor),
                primary: Some(Some(&p.id) == user.primary_phone_number_id.as_ref()),
                ..SignInFactor::default()
            });
        }
    }
    if !user.backup_code_hashes.is_empty()
        && second_factor_enabled(app, "backup_code", "backup_code")
    {
        out.push(SignInFactor {
            strategy: "backup_code".into(),
            ..SignInFactor::default()
        });
    }
    out
}

/// Whether the user must pass a second factor (backup codes alone do not make 2FA).
fn needs_second_factor(app: &App, user: &UserRecord) -> bool {
    second_factors(app, user)
        .iter()
        .any(|f| f.strategy != "backup_code")
}

fn snapshot(app: &App, s: &mut SignInRecord, user: &UserRecord) {
    s.user_id = Some(user.id.clone());
    s.supported_first_factors = first_factors(app, user);
    s.supported_second_factors = second_factors(app, user);
    s.user_data = Some(json!({
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image_url": "",
        "has_image": false,
    }));
}

fn current_sign_in<'a>(current: &'a Current, id: &str) -> Result<&'a SignInRecord> {
    current
        .aggregate
        .sign_in
        .as_ref()
        .filter(|s| s.id == id)
        .ok_or_else(Error::not_found)
}

fn ensure_status(s: &SignInRecord, wanted: SignInStatus) -> Result<()> {
    if s.status != wanted {
        return Err(Error::new(Code::BadRequest).long(format!(
            "This sign-in is {}, not {}.",
            s.status.as_str(),
            wanted.as_str()
        )));
    }
    Ok(())
}

async fn load_user(app: &App, s: &SignInRecord) -> Result<UserRecord> {
    let id = s
        .user_id
        .as_deref()
        .ok_or_else(|| Error::new(Code::FormIdentifierNotFound).param("identifier"))?;
    app.repo
        .load_user(id)
        .await?
        .ok_or_else(|| Error::new(Code::FormIdentifierNotFound).param("identifier"))
}

/// Whether the user holds `identifier` in a state that signs in: verified, or on an instance
/// that does not verify that kind at all.
fn identifier_verified(app: &App, u: &UserRecord, kind: IdentifierKind, identifier: &str) -> bool {
    let attrs = &app.settings.attributes;
    match kind {
        IdentifierKind::Email => u.email_addresses.iter().any(|e| {
            e.email_address == identifier
                && (is_verified(e.verification.as_ref()) || !attrs.email_address.verify_at_sign_up)
        }),
        IdentifierKind::Phone => u.phone_numbers.iter().any(|p| {
            p.phone_number == identifier
                && (is_verified(p.verification.as_ref()) || !attrs.phone_number.verify_at_sign_up)
        }),
        IdentifierKind::Username => u.username.as_deref() == Some(identifier),
    }
}

/// The attribute that makes an identifier kind usable for sign-in.
fn kind_attribute(kind: IdentifierKind) -> &'static str {
    match kind {
        IdentifierKind::Email => "email_address",
        IdentifierKind::Phone => "phone_number",
        IdentifierKind::Username => "username",
    }
}

/// Writes the sign-in, plus the user when it changed and the client when it is new or changed.
async fn store(
    app: &App,
    current: &mut Current,
    s: SignInRecord,
    user: Option<&UserRecord>,
    extra: Vec<Write>,
) -> Result<()> {
    let mut writes = extra;
    writes.push(Repo::sign_in_write(&s)?);
    if let Some(u) = user {
        writes.push(Repo::user_write(u)?);
    }
    let client_changed = current.is_new()
        || current.aggregate.client.sign_in_id.as_deref() != Some(s.id.as_str())
        || s.status == SignInStatus::Complete;
    if client_changed {
        current.aggregate.client.sign_in_id = Some(s.id.clone());
        current.aggregate.client.updated_at = app.now_ms();
        writes.push(current.client_write()?);
    }
    commit(app, writes).await?;
    current.aggregate.sign_in = Some(s);
    Ok(())
}

/// Stores a failed attempt (the user's failure count, and the sign-in's verification), then
/// answers with `error`.
async fn fail(
    app: &App,
    current: &mut Current,
    s: SignInRecord,
    mut user: UserRecord,
    error: Error,
) -> Result<Option<SignedIn>> {
    let answer = lockout::record_failure(&mut user, app.now_ms(), error);
    store(app, current, s, Some(&user), Vec::new()).await?;
    Err(answer)
}

/// The first factor passed: on to the second, or done.
async fn first_factor_passed(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    mut user: UserRecord,
    strategy: &str,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    let now = app.now_ms();
    s.first_factor_verified_at = Some(now);
    if needs_second_factor(app, &user) {
        s.status = SignInStatus::NeedsSecondFactor;
        user.failed_attempts = 0;
        store(app, current, s, Some(&user), Vec::new()).await?;
        return Ok(None);
    }
    complete(app, current, s, user, strategy, origin)
        .await
        .map(Some)
}

async fn complete(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    mut user: UserRecord,
    strategy: &str,
    origin: &Origin,
) -> Result<SignedIn> {
    let (session, write) = session::start(
        app,
        current,
        &mut user,
        strategy,
        s.first_factor_verified_at,
        s.second_factor_verified_at,
        origin,
    )?;
    s.status = SignInStatus::Complete;
    s.created_session_id = Some(session.id);
    store(app, current, s, Some(&user), vec![write]).await?;
    Ok(SignedIn { user })
}

/// Prepares a code factor on `s` for `user`, sending the code.
async fn prepare_code(
    app: &App,
    s: &mut SignInRecord,
    user: &UserRecord,
    strategy: &str,
    params: &Params,
) -> Result<()> {
    let factor = s
        .supported_first_factors
        .iter()
        .filter(|f| f.strategy == strategy)
        .find(|f| match strategy {
            "email_code" | "reset_password_email_code" => params
                .str("email_address_id")
                .is_none_or(|id| f.email_address_id.as_deref() == Some(id)),
            _ => params
                .str("phone_number_id")
                .is_none_or(|id| f.phone_number_id.as_deref() == Some(id)),
        })
        .cloned()
        .ok_or_else(|| Error::new(Code::StrategyForUserInvalid).param("strategy"))?;
    let (dest, purpose) = match strategy {
        "email_code" => (
            Destination::email(factor.safe_identifier.as_deref().unwrap_or_default()),
            Purpose::SignIn,
        ),
        "phone_code" => (
            Destination::sms(factor.safe_identifier.as_deref().unwrap_or_default()),
            Purpose::SignIn,
        ),
        "reset_password_email_code" => (
            Destination::email(factor.safe_identifier.as_deref().unwrap_or_default()),
            Purpose::ResetPassword,
        ),
        _ => (
            Destination::sms(factor.safe_identifier.as_deref().unwrap_or_default()),
            Purpose::ResetPassword,
        ),
    };
    let _ = user;
    let previous = s.first_factor.as_ref().map(|f| &f.verification);
    let v = verification::prepare(app, strategy, &dest, purpose, previous).await?;
    s.first_factor = Some(FactorVerification {
        verification: v,
        email_address_id: factor.email_address_id.clone(),
        phone_number_id: factor.phone_number_id.clone(),
    });
    Ok(())
}

const CODE_STRATEGIES: [&str; 4] = [
    "email_code",
    "phone_code",
    "reset_password_email_code",
    "reset_password_phone_code",
];

fn ensure_first_factor_strategy_enabled(app: &App, strategy: &str) -> Result<()> {
    let enabled = match strategy {
        "password" => password_enabled(app),
        "email_code" => first_factor_enabled(app, "email_address", "email_code"),
        "phone_code" => first_factor_enabled(app, "phone_number", "phone_code"),
        "reset_password_email_code" => {
            password_enabled(app) && app.settings.attributes.email_address.used_for_first_factor
        }
        "reset_password_phone_code" => {
            password_enabled(app) && app.settings.attributes.phone_number.used_for_first_factor
        }
        _ => false,
    };
    if enabled {
        Ok(())
    } else {
        Err(Error::new(Code::FormParamValueInvalid)
            .param("strategy")
            .long(format!(
                "The {strategy} strategy is not enabled for this application."
            )))
    }
}

/// `POST /v1/client/sign_ins`: starts a sign-in, and goes as far as the parameters allow.
pub async fn create(
    app: &App,
    current: &mut Current,
    params: &Params,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    session::ensure_can_sign_in(app, current)?;
    let now = app.now_ms();
    let mut s = SignInRecord {
        id: random::object_id(app.random.as_ref(), "sia"),
        client_id: current.client().id.clone(),
        status: SignInStatus::NeedsIdentifier,
        identifier: None,
        user_id: None,
        first_factor: None,
        second_factor: None,
        first_factor_verified_at: None,
        second_factor_verified_at: None,
        supported_first_factors: Vec::new(),
        supported_second_factors: Vec::new(),
        user_data: None,
        created_session_id: None,
        abandon_at: now + duration_ms(security::ATTEMPT_ABANDON_AFTER),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let strategy = params.str("strategy");
    if let Some(strategy) = strategy {
        ensure_first_factor_strategy_enabled(app, strategy)?;
    }
    let password = params.str("password");
    if password.is_some() && !password_enabled(app) {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("password")
            .long("Passwords are not enabled for this application."));
    }
    let Some(raw) = params.str("identifier") else {
        if password.is_some() || strategy.is_some() {
            return Err(Error::missing("identifier"));
        }
        store(app, current, s, None, Vec::new()).await?;
        return Ok(None);
    };
    let kind = identifiers::classify(raw);
    let attribute = kind_attribute(kind);
    if !app
        .settings
        .attribute(attribute)
        .is_some_and(|a| a.enabled && a.used_for_first_factor)
    {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("identifier")
            .long(format!(
                "Signing in with {} is not enabled for this application.",
                attribute.replace('_', " ")
            )));
    }
    let identifier = identifiers::normalise(kind, raw, "identifier")?;
    let owner = app.repo.identifier_owner(kind, &identifier).await?;
    let user = match owner {
        Some(id) => app.repo.load_user(&id).await?,
        None => None,
    };
    // An identifier waiting for its code (added in the profile) does not sign anyone in yet.
    let user = user.filter(|u| identifier_verified(app, u, kind, &identifier));
    let Some(mut user) = user else {
        if let Some(pw) = password {
            // Same cost as a wrong password, so timing does not reveal unknown accounts.
            app.passwords.verify_dummy(pw).await?;
        }
        return Err(Error::new(Code::FormIdentifierNotFound).param("identifier"));
    };
    lockout::ensure_unlocked(&mut user, now)?;
    s.identifier = Some(identifier);
    s.status = SignInStatus::NeedsFirstFactor;
    snapshot(app, &mut s, &user);

    if let Some(pw) = password {
        let Some(hash) = user.password_hash.clone() else {
            return Err(Error::new(Code::StrategyForUserInvalid).param("password"));
        };
        if !app.passwords.verify(&hash, pw).await? {
            let err = Error::new(Code::FormPasswordIncorrect).param("password");
            return fail(app, current, s, user, err).await;
        }
        return first_factor_passed(app, current, s, user, "password", origin).await;
    }
    if let Some(strategy) = strategy.filter(|st| CODE_STRATEGIES.contains(st)) {
        prepare_code(app, &mut s, &user, strategy, params).await?;
    }
    store(app, current, s, None, Vec::new()).await?;
    Ok(None)
}

/// `GET /v1/client/sign_ins/{id}`: the sign-in, if it is the client's current one.
pub fn get<'a>(current: &'a Current, id: &str) -> Result<&'a SignInRecord> {
    current_sign_in(current, id)
}

/// `POST …/prepare_first_factor`.
pub async fn prepare_first_factor(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
) -> Result<()> {
    let mut s = current_sign_in(current, id)?.clone();
    ensure_status(&s, SignInStatus::NeedsFirstFactor)?;
    let strategy = params.required("strategy")?;
    ensure_first_factor_strategy_enabled(app, strategy)?;
    if !CODE_STRATEGIES.contains(&strategy) {
        // Passwords need no preparation.
        return Ok(());
    }
    let mut user = load_user(app, &s).await?;
    lockout::ensure_unlocked(&mut user, app.now_ms())?;
    snapshot(app, &mut s, &user);
    prepare_code(app, &mut s, &user, strategy, params).await?;
    s.updated_at = app.now_ms();
    store(app, current, s, None, Vec::new()).await
}

/// `POST …/attempt_first_factor`.
pub async fn attempt_first_factor(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    let mut s = current_sign_in(current, id)?.clone();
    ensure_status(&s, SignInStatus::NeedsFirstFactor)?;
    let strategy = params.required("strategy")?;
    ensure_first_factor_strategy_enabled(app, strategy)?;
    let mut user = load_user(app, &s).await?;
    let now = app.now_ms();
    lockout::ensure_unlocked(&mut user, now)?;
    s.updated_at = now;
    if strategy == "password" {
        let pw = params.required("password")?;
        let Some(hash) = user.password_hash.clone() else {
            return Err(Error::new(Code::StrategyForUserInvalid).param("strategy"));
        };
        if !app.passwords.verify(&hash, pw).await? {
            let err = Error::new(Code::FormPasswordIncorrect).param("password");
            return fail(app, current, s, user, err).await;
        }
        return first_factor_passed(app, current, s, user, "password", origin).await;
    }
    let code = params.required("code")?;
    let factor = s
        .first_factor
        .as_mut()
        .filter(|f| f.verification.strategy == strategy)
        .ok_or_else(|| {
            Error::new(Code::VerificationMissing)
                .param("strategy")
                .long("Prepare this strategy before attempting it.")
        })?;
    match verification::attempt(app, &mut factor.verification, code) {
        Ok(verification::Attempt::Verified) => {
            if strategy.starts_with("reset_password") {
                s.status = SignInStatus::NeedsNewPassword;
                s.first_factor_verified_at = Some(now);
                user.failed_attempts = 0;
                store(app, current, s, Some(&user), Vec::new()).await?;
                return Ok(None);
            }
            first_factor_passed(app, current, s, user, strategy, origin).await
        }
        Ok(other) => fail(app, current, s, user, verification::attempt_error(other)).await,
        Err(e) => {
            store(app, current, s, None, Vec::new()).await?;
            Err(e)
        }
    }
}

/// `POST …/reset_password`: sets the new password after a reset code was verified.
pub async fn reset_password(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    let mut s = current_sign_in(current, id)?.clone();
    ensure_status(&s, SignInStatus::NeedsNewPassword)?;
    let pw = params.required("password")?;
    password::validate(pw, &app.settings.password_settings, "password")?;
    let sign_out_others = params.bool("sign_out_of_other_sessions")?.unwrap_or(false);
    let mut user = load_user(app, &s).await?;
    let now = app.now_ms();
    user.password_hash = Some(app.passwords.hash(pw).await?);
    user.password_last_updated_at = Some(now);
    user.updated_at = now;
    let mut extra = Vec::new();
    if sign_out_others {
        for mut other in app.repo.user_sessions(&user.id).await? {
            if other.status == SessionStatus::Active {
                other.status = SessionStatus::Revoked;
                other.updated_at = now;
                extra.push(Repo::session_write(&other)?);
                if let Some(mine) = current
                    .aggregate
                    .sessions
                    .iter_mut()
                    .find(|m| m.id == other.id)
                {
                    mine.status = SessionStatus::Revoked;
                }
            }
        }
    }
    if needs_second_factor(app, &user) {
        s.status = SignInStatus::NeedsSecondFactor;
        s.updated_at = now;
        store(app, current, s, Some(&user), extra).await?;
        return Ok(None);
    }
    let (session, write) = session::start(
        app,
        current,
        &mut user,
        "password",
        s.first_factor_verified_at,
        None,
        origin,
    )?;
    extra.push(write);
    s.status = SignInStatus::Complete;
    s.created_session_id = Some(session.id);
    store(app, current, s, Some(&user), extra).await?;
    Ok(Some(SignedIn { user }))
}

/// `POST …/prepare_second_factor`: sends an SMS code to a second-factor phone.
pub async fn prepare_second_factor(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
) -> Result<()> {
    let mut s = current_sign_in(current, id)?.clone();
    ensure_status(&s, SignInStatus::NeedsSecondFactor)?;
    let strategy = params.required("strategy")?;
    if strategy != "phone_code" {
        return Err(Error::new(Code::VerificationStrategyInvalid)
            .param("strategy")
            .long("Only phone_code needs preparing; attempt totp or backup_code directly."));
    }
    let user = load_user(app, &s).await?;
    let factors = second_factors(app, &user);
    let wanted = params.str("phone_number_id");
    let factor = factors
        .iter()
        .filter(|f| f.strategy == "phone_code")
        .find(|f| match wanted {
            Some(id) => f.phone_number_id.as_deref() == Some(id),
            None => f.default == Some(true),
        })
        .or_else(|| {
            factors
                .iter()
                .find(|f| f.strategy == "phone_code" && wanted.is_none())
        })
        .cloned()
        .ok_or_else(|| Error::new(Code::StrategyForUserInvalid).param("strategy"))?;
    let previous = s.second_factor.as_ref().map(|f| &f.verification);
    let v = verification::prepare(
        app,
        strategy,
        &Destination::sms(factor.safe_identifier.as_deref().unwrap_or_default()),
        Purpose::SecondFactor,
        previous,
    )
    .await?;
    s.second_factor = Some(FactorVerification {
        verification: v,
        email_address_id: None,
        phone_number_id: factor.phone_number_id.clone(),
    });
    s.updated_at = app.now_ms();
    store(app, current, s, None, Vec::new()).await
}

/// `POST …/attempt_second_factor`: `phone_code`, `totp` or `backup_code`.
pub async fn attempt_second_factor(
    app: &App,
    current: &mut Current,
    id: &str,
    params: &Params,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    let mut s = current_sign_in(current, id)?.clone();
    ensure_status(&s, SignInStatus::NeedsSecondFactor)?;
    let strategy = params.required("strategy")?;
    let code = params.required("code")?;
    let mut user = load_user(app, &s).await?;
    let now = app.now_ms();
    lockout::ensure_unlocked(&mut user, now)?;
    if !second_factors(app, &user)
        .iter()
        .any(|f| f.strategy == strategy)
    {
        return Err(Error::new(Code::StrategyForUserInvalid).param("strategy"));
    }
    let passed = match strategy {
        "phone_code" => {
            let factor = s.second_factor.as_mut().ok_or_else(|| {
                Error::new(Code::VerificationMissing)
                    .long("Prepare the phone_code second factor first.")
            })?;
            match verification::attempt(app, &mut factor.verification, code) {
                Ok(verification::Attempt::Verified) => true,
                Ok(other) => {
                    return fail(app, current, s, user, verification::attempt_error(other)).await;
                }
                Err(e) => {
                    store(app, current, s, None, Vec::new()).await?;
                    return Err(e);
                }
            }
        }
        "totp" => {
            let secret = user.totp_secret.clone().unwrap_or_default();
            match totp::accept(&secret, code, app.clock.now_secs(), user.totp_last_step) {
                Some(step) => {
                    user.totp_last_step = Some(step);
                    s.second_factor = Some(FactorVerification {
                        verification: verification::verified("totp"),
                        email_address_id: None,
                        phone_number_id: None,
                    });
                    true
                }
                None => false,
            }
        }
        "backup_code" => {
            let position = user
                .backup_code_hashes
                .iter()
                .position(|h| app.codes.matches(code, h));
            match position {
                Some(i) => {
                    // Single use: the code is gone once it has worked.
                    user.backup_code_hashes.remove(i);
                    s.second_factor = Some(FactorVerification {
                        verification: verification::verified("backup_code"),
                        email_address_id: None,
                        phone_number_id: None,
                    });
                    true
                }
                None => false,
            }
        }
        _ => return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy")),
    };
    if !passed {
        s.second_factor = None;
        let err = Error::new(Code::FormCodeIncorrect).param("code");
        return fail(app, current, s, user, err).await;
    }
    s.second_factor_verified_at = Some(now);
    complete(app, current, s, user, strategy, origin)
        .await
        .map(Some)
}
