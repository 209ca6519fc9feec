//! The sign-in attempt as stored, the factors a user may use, and the transitions every step
//! shares: storing the attempt, counting a failure, passing the first factor, completing.

use serde_json::json;

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::{
    FactorVerification, IdentificationRecord, SignInRecord, SignInStatus, UserRecord,
    VerificationRecord,
};
use crate::model::wire::SignInFactor;
use crate::repo::Repo;
use crate::store::{Condition, Write, keys};
use crate::vocabulary::{FirstFactor, IdentificationKind, SecondFactor, Strategy};

use crate::flows::client::{Current, commit};
use crate::flows::command::Origin;
use crate::flows::lockout;
use crate::flows::session;
use crate::flows::verification::{self, Destination, Purpose, Sender};

/// Which identification a code factor goes to, when the caller names one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorTarget {
    pub email_address_id: Option<String>,
    pub phone_number_id: Option<String>,
    /// Where an email link returns the browser to (`redirect_url`).
    pub redirect_url: Option<String>,
}

/// What a completed sign-in needs for rendering: the user it signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: UserRecord,
}

/// A code factor sent to one identification.
fn code_factor(
    user: &UserRecord,
    strategy: impl Into<Strategy>,
    r: &IdentificationRecord,
) -> SignInFactor {
    let mut f = SignInFactor::of(strategy);
    f.safe_identifier = Some(r.value.clone());
    match r.kind {
        IdentificationKind::EmailAddress => f.email_address_id = Some(r.id.clone()),
        IdentificationKind::PhoneNumber => f.phone_number_id = Some(r.id.clone()),
    }
    f.primary = Some(user.is_primary(r));
    f
}

/// The first factors this user can use here, as Clerk lists them.
pub fn first_factors(app: &App, user: &UserRecord) -> Vec<SignInFactor> {
    let caps = &app.capabilities;
    let mut out = Vec::new();
    let has_password = user.password_hash.is_some() && caps.first_factor(FirstFactor::Password);
    if has_password {
        out.push(SignInFactor::of(FirstFactor::Password));
    }
    if caps.first_factor(FirstFactor::Passkey) && user.passkeys.iter().any(|p| p.is_registered()) {
        out.push(SignInFactor::of(FirstFactor::Passkey));
    }
    for (kind, code, reset) in [
        (
            IdentificationKind::EmailAddress,
            FirstFactor::EmailCode,
            FirstFactor::ResetPasswordEmailCode,
        ),
        (
            IdentificationKind::PhoneNumber,
            FirstFactor::PhoneCode,
            FirstFactor::ResetPasswordPhoneCode,
        ),
    ] {
        for r in user
            .identifications(kind)
            .iter()
            .filter(|r| r.is_verified())
        {
            if caps.first_factor(code) {
                out.push(code_factor(user, code, r));
            }
            if kind == IdentificationKind::EmailAddress && caps.first_factor(FirstFactor::EmailLink)
            {
                out.push(code_factor(user, FirstFactor::EmailLink, r));
            }
            if has_password && caps.first_factor(reset) {
                out.push(code_factor(user, reset, r));
            }
        }
    }
    out
}

/// The second factors this user has set up and the instance allows.
pub fn second_factors(app: &App, user: &UserRecord) -> Vec<SignInFactor> {
    let caps = &app.capabilities;
    let mut out = Vec::new();
    if user.totp_secret.is_some() && caps.second_factor(SecondFactor::Totp) {
        out.push(SignInFactor::of(SecondFactor::Totp));
    }
    if caps.second_factor(SecondFactor::PhoneCode) {
        for p in user
            .phone_numbers
            .iter()
            .filter(|p| p.reserved_for_second_factor)
        {
            let mut f = code_factor(user, SecondFactor::PhoneCode, p);
            f.default = Some(p.default_second_factor);
            out.push(f);
        }
    }
    if !user.backup_code_hashes.is_empty() && caps.second_factor(SecondFactor::BackupCode) {
        out.push(SignInFactor::of(SecondFactor::BackupCode));
    }
    out
}

/// A way into an account that is being removed.
#[derive(Debug, Clone, Copy)]
pub enum WayIn<'a> {
    ExternalAccount(&'a str),
    Passkey(&'a str),
}

/// Whether `u` can still sign in without `removed`: a password or a code to a verified
/// identifier, another passkey, or another connected account whose provider signs in.
pub fn signs_in_without(app: &App, u: &UserRecord, removed: WayIn<'_>) -> bool {
    let (account, passkey) = match removed {
        WayIn::ExternalAccount(id) => (Some(id), None),
        WayIn::Passkey(id) => (None, Some(id)),
    };
    let factors = first_factors(app, u)
        .iter()
        .any(|f| f.strategy != Strategy::Passkey);
    // Passkeys count only while the instance takes them.
    let passkeys = app.capabilities.first_factor(FirstFactor::Passkey)
        && u.passkeys
            .iter()
            .any(|p| Some(p.id.as_str()) != passkey && p.is_registered());
    let accounts = u.external_accounts.iter().any(|a| {
        Some(a.id.as_str()) != account
            && a.is_verified()
            && app
                .social
                .provider(&a.provider)
                .is_ok_and(|p| p.authenticatable)
    });
    factors || passkeys || accounts
}

/// Whether the user must pass a second factor (backup codes alone do not make 2FA).
pub fn needs_second_factor(app: &App, user: &UserRecord) -> bool {
    second_factors(app, user)
        .iter()
        .any(|f| f.strategy != Strategy::BackupCode)
}

/// Records who the attempt is for and what they may use.
pub fn snapshot(app: &App, s: &mut SignInRecord, user: &UserRecord) {
    s.user_id = Some(user.id.clone());
    s.supported_first_factors = masked(first_factors(app, user), s.identifier.as_deref());
    s.supported_second_factors = masked(second_factors(app, user), s.identifier.as_deref());
    s.user_data = Some(json!({
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image_url": crate::model::render::image_url(user, &app.settings),
        "has_image": user.image.is_some(),
    }));
}

/// Factors as the caller may see them: every identifier but the one they typed is masked, so
/// typing a username does not disclose the account's addresses and numbers.
fn masked(mut factors: Vec<SignInFactor>, typed: Option<&str>) -> Vec<SignInFactor> {
    for f in &mut factors {
        let kind = match (&f.email_address_id, &f.phone_number_id) {
            (Some(_), _) => IdentificationKind::EmailAddress,
            (_, Some(_)) => IdentificationKind::PhoneNumber,
            _ => continue,
        };
        if let Some(value) = f.safe_identifier.as_mut()
            && Some(value.as_str()) != typed
        {
            *value = identifiers::mask(kind, value);
        }
    }
    factors
}

/// The identification a factor names, on the user (its real address or number).
pub fn destination<'a>(
    user: &'a UserRecord,
    factor: &SignInFactor,
) -> Result<(IdentificationKind, &'a str)> {
    let (kind, id) = match (&factor.email_address_id, &factor.phone_number_id) {
        (Some(id), _) => (IdentificationKind::EmailAddress, id),
        (_, Some(id)) => (IdentificationKind::PhoneNumber, id),
        _ => return Err(Error::new(Code::StrategyForUserInvalid).param("strategy")),
    };
    let r = user
        .identification(kind, id)
        .ok_or_else(|| Error::new(Code::StrategyForUserInvalid).param("strategy"))?;
    Ok((kind, r.value.as_str()))
}

/// The code factor of `strategy` the caller asked for (by identification id, when given).
pub fn pick_factor(
    factors: &[SignInFactor],
    strategy: Strategy,
    target: &FactorTarget,
) -> Result<SignInFactor> {
    let matches = |wanted: &Option<String>, id: &Option<String>| {
        wanted.as_ref().is_none_or(|w| id.as_ref() == Some(w))
    };
    factors
        .iter()
        .filter(|f| f.strategy == strategy)
        .find(|f| {
            matches(&target.email_address_id, &f.email_address_id)
                && matches(&target.phone_number_id, &f.phone_number_id)
        })
        .cloned()
        .ok_or_else(|| Error::new(Code::StrategyForUserInvalid).param("strategy"))
}

/// The SMS second factor the caller asked for: `phone_number_id`, else the default one.
pub fn pick_sms_factor(
    factors: &[SignInFactor],
    phone_number_id: Option<&str>,
) -> Result<SignInFactor> {
    let phones = || factors.iter().filter(|f| f.strategy == Strategy::PhoneCode);
    match phone_number_id {
        Some(wanted) => phones().find(|f| f.phone_number_id.as_deref() == Some(wanted)),
        None => phones()
            .find(|f| f.default == Some(true))
            .or_else(|| phones().next()),
    }
    .cloned()
    .ok_or_else(|| Error::new(Code::StrategyForUserInvalid).param("strategy"))
}

/// Sends a code for `factor` to the user's identification it names, and returns the factor's
/// verification (the caller keeps it on its attempt).
pub async fn send_code(
    app: &App,
    user: &UserRecord,
    factor: &SignInFactor,
    (purpose, previous): (Purpose, Option<&VerificationRecord>),
    by: Sender<'_>,
) -> Result<FactorVerification> {
    let (kind, to) = destination(user, factor)?;
    let dest = Destination::new(kind, to);
    let v = verification::prepare(app, factor.strategy, &dest, purpose, previous, by).await?;
    Ok(FactorVerification {
        verification: v,
        email_address_id: factor.email_address_id.clone(),
        phone_number_id: factor.phone_number_id.clone(),
    })
}

/// `GET /v1/client/sign_ins/{id}`: the sign-in, if it is the client's current one.
pub fn get<'a>(current: &'a Current, id: &str) -> Result<&'a SignInRecord> {
    current.sign_in(id)
}

/// The client's current sign-in `id`, which must be at step `wanted`.
pub fn at_step(current: &Current, id: &str, wanted: SignInStatus) -> Result<SignInRecord> {
    let s = get(current, id)?;
    if s.status != wanted {
        return Err(Error::new(Code::BadRequest).long(format!(
            "This sign-in is {}, not {}.",
            s.status.as_str(),
            wanted.as_str()
        )));
    }
    Ok(s.clone())
}

/// The user the attempt is for.
pub async fn load_user(app: &App, s: &SignInRecord) -> Result<UserRecord> {
    let not_found = || Error::new(Code::FormIdentifierNotFound).param("identifier");
    let id = s.user_id.as_deref().ok_or_else(not_found)?;
    app.repo.load_user(id).await?.ok_or_else(not_found)
}

/// Writes the sign-in, plus the user when it changed and the client when it is new or changed.
pub async fn store(
    app: &App,
    current: &mut Current,
    s: SignInRecord,
    user: Option<&UserRecord>,
    extra: Vec<Write>,
) -> Result<()> {
    let mut writes = extra;
    writes.push(Repo::sign_in_write(&s)?);
    if let Some(u) = user {
        writes.extend(Repo::user_writes(u)?);
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
/// answers with `error` (or `user_locked`).
pub async fn fail<T>(
    app: &App,
    current: &mut Current,
    s: SignInRecord,
    mut user: UserRecord,
    error: Error,
) -> Result<T> {
    let answer = lockout::record_failure(&mut user, app.now_ms(), error);
    store(app, current, s, Some(&user), Vec::new()).await?;
    Err(answer)
}

/// The first factor passed: on to the second, or done.
pub async fn first_factor_passed(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    user: UserRecord,
    strategy: FirstFactor,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    s.first_factor_verified_at = Some(app.now_ms());
    if needs_second_factor(app, &user) {
        // Failures are forgiven only when the sign-in completes: passing the password does not
        // reopen guessing of the second factor.
        s.status = SignInStatus::NeedsSecondFactor;
        store(app, current, s, None, Vec::new()).await?;
        return Ok(None);
    }
    complete(
        app,
        current,
        s,
        user,
        strategy.as_str(),
        Vec::new(),
        origin,
        false,
    )
    .await
    .map(Some)
}

/// The sign-in is done: a session starts, in the same transaction as `extra`. `user_changed`
/// says whether the flow changed the user beyond its activity times (a used backup code, a
/// new password): then it is written; otherwise only when its activity is stale, and its
/// version is checked either way.
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    mut user: UserRecord,
    strategy: &str,
    mut extra: Vec<Write>,
    origin: &Origin,
    user_changed: bool,
) -> Result<SignedIn> {
    let started = session::start(
        app,
        current,
        &mut user,
        strategy,
        s.first_factor_verified_at,
        s.second_factor_verified_at,
        origin,
    )?;
    extra.extend(started.writes);
    extra.extend(session::make_room(app, &user.id).await?);
    s.status = SignInStatus::Complete;
    s.created_session_id = Some(started.session.id);
    if user_changed || started.user_write_needed {
        store(app, current, s, Some(&user), extra).await?;
    } else {
        extra.push(Write::check(
            keys::user(&user.id),
            Condition::Version(user.version),
        ));
        store(app, current, s, None, extra).await?;
    }
    Ok(SignedIn { user })
}
