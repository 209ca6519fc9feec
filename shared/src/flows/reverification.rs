//! Reverification: a sensitive action (changing identifiers, the password or second factors,
//! deleting the account) needs the session's factors to have been verified recently — the
//! first factor, and the second when the user has one — or the user proves them again.
//!
//! ```text
//!   sensitive action, verification too old ──► 403 session_reverification_required
//!   POST sessions/{id}/verify ──► needs_first_factor ──(password / code / passkey)──┬─(user has 2FA)─► needs_second_factor ──(totp / sms / backup)──► complete
//!                                                                      └─(no 2FA)────────────────────────────────────────────► complete
//!   complete: the session's verification times (`fva`) are now, the action can be retried
//!   (`level=first_factor` stops after the first factor; it does not satisfy the check for a
//!   user with a second factor, and forgives no failures)
//! ```
//!
//! Wrong passwords and codes count toward the user's lockout, as at sign-in. The window comes
//! from `[sessions] reverification_max_age_secs` (`security::REVERIFICATION_MAX_AGE`).

use serde_json::{Value, json};

use crate::app::App;
use crate::clock::UnixMillis;
use crate::error::{Code, Error, Result};
use crate::model::records::{
    FactorVerification, ReverificationLevel, ReverificationRecord, ReverificationStatus,
    SessionRecord, UserRecord,
};
use crate::model::render;
use crate::model::wire::SignInFactor;
use crate::random;
use crate::repo::Repo;
use crate::vocabulary::{FirstFactor, SecondFactor, Strategy};

use super::client::{Acting, Current, commit};
use super::command::{ClientCommand, Origin};
use super::lockout;
use super::session::signed_out;
use super::sign_in::state as sign_in_state;
use super::sign_in::{FactorTarget, FirstFactorProof, passkey};
use super::verification::{self, Purpose, Sender, SentOnce};
use crate::passkeys::RelyingParty;

fn within(verified_at: Option<UnixMillis>, now: UnixMillis, max_age_ms: i64) -> bool {
    verified_at.is_some_and(|t| now - t < max_age_ms)
}

/// Whether `session` may perform a sensitive action for `user` now.
pub fn is_fresh(app: &App, session: &SessionRecord, user: &UserRecord, now: UnixMillis) -> bool {
    let secs = app.settings.sessions.reverification_max_age_secs;
    let max_age = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let first = within(session.first_factor_verified_at, now, max_age);
    let second = !sign_in_state::needs_second_factor(app, user)
        || within(session.second_factor_verified_at, now, max_age);
    first && second
}

/// Refuses a sensitive action on a session whose verification is too old: 403
/// `session_reverification_required`, with the level and window as a hint.
pub fn ensure_fresh(app: &App, a: &Acting) -> Result<()> {
    let now = app.now_ms();
    let session = a
        .current
        .aggregate
        .sessions
        .iter()
        .find(|s| s.id == a.session_id)
        .ok_or_else(signed_out)?;
    if is_fresh(app, session, &a.user, now) {
        return Ok(());
    }
    let level = if sign_in_state::needs_second_factor(app, &a.user) {
        ReverificationLevel::MultiFactor
    } else {
        ReverificationLevel::FirstFactor
    };
    let minutes = app.settings.sessions.reverification_max_age_secs / 60;
    Err(Error::new(Code::SessionReverificationRequired).meta(
        "session_verification",
        json!({ "level": level.as_str(), "after_minutes": minutes }),
    ))
}

/// `POST /v1/client/sessions/{id}/verify`: starts a reverification.
#[derive(Debug, Clone)]
pub struct StartVerification {
    pub id: String,
    pub level: ReverificationLevel,
}

/// `POST …/verify/prepare_first_factor`.
#[derive(Debug, Clone)]
pub struct PrepareVerificationFirstFactor {
    pub id: String,
    pub strategy: FirstFactor,
    pub target: FactorTarget,
    /// The code sent, kept across retries of the unit of work.
    pub sent: SentOnce,
}

/// `POST …/verify/attempt_first_factor`.
#[derive(Debug, Clone)]
pub struct AttemptVerificationFirstFactor {
    pub id: String,
    pub proof: FirstFactorProof,
}

/// `POST …/verify/prepare_second_factor`.
#[derive(Debug, Clone)]
pub struct PrepareVerificationSecondFactor {
    pub id: String,
    pub strategy: SecondFactor,
    pub phone_number_id: Option<String>,
    /// The code sent, kept across retries of the unit of work.
    pub sent: SentOnce,
}

/// `POST …/verify/attempt_second_factor`.
#[derive(Debug, Clone)]
pub struct AttemptVerificationSecondFactor {
    pub id: String,
    pub strategy: SecondFactor,
    pub code: String,
}

/// The session `id` on this client, active, with its user.
async fn active_session(
    app: &App,
    current: &Current,
    id: &str,
) -> Result<(SessionRecord, UserRecord)> {
    let session = current.session(id)?.clone();
    if !session.is_active_at(app.now_ms()) {
        return Err(signed_out());
    }
    let user = app
        .repo
        .load_user(&session.user_id)
        .await?
        .ok_or_else(signed_out)?;
    Ok((session, user))
}

/// The reverification in progress on the session, at `step`.
fn in_progress(
    session: &SessionRecord,
    step: ReverificationStatus,
) -> Result<ReverificationRecord> {
    let r = session
        .reverification
        .clone()
        .ok_or_else(|| Error::new(Code::SessionReverificationMissing))?;
    // A step already passed is a replay: Clerk's answer for a verification attempted again.
    let passed = r.status == ReverificationStatus::Complete
        || (step == ReverificationStatus::NeedsFirstFactor
            && r.status == ReverificationStatus::NeedsSecondFactor);
    if passed {
        return Err(Error::new(Code::VerificationAlreadyVerified));
    }
    if r.status != step {
        return Err(Error::new(Code::BadRequest).long(format!(
            "This verification is {}, not {}.",
            r.status.as_str(),
            step.as_str()
        )));
    }
    Ok(r)
}

/// The session, its user and the reverification at `step`, for a step of it; a locked user
/// goes no further.
async fn at_step(
    app: &App,
    current: &Current,
    id: &str,
    step: ReverificationStatus,
) -> Result<(SessionRecord, UserRecord, ReverificationRecord)> {
    let (session, mut user) = active_session(app, current, id).await?;
    let r = in_progress(&session, step)?;
    lockout::ensure_unlocked(&mut user, app.now_ms())?;
    Ok((session, user, r))
}

/// Sends the code for `factor` (of the step the reverification is at) and keeps the code's
/// verification on the reverification.
async fn send_and_keep(
    app: &App,
    current: &mut Current,
    (session, mut r): (SessionRecord, ReverificationRecord),
    user: &UserRecord,
    (factor, once): (&SignInFactor, &SentOnce),
) -> Result<SessionRecord> {
    let (slot, purpose) = match r.status {
        ReverificationStatus::NeedsSecondFactor => (&mut r.second_factor, Purpose::SecondFactor),
        _ => (&mut r.first_factor, Purpose::Verify),
    };
    let previous = slot.as_ref().map(|f| &f.verification);
    let by = Sender {
        link: None,
        client_id: &session.client_id,
        once,
    };
    let sent = sign_in_state::send_code(app, user, factor, (purpose, previous), by).await?;
    *slot = Some(sent);
    keep(app, current, session, r).await
}

/// Stores the reverification on its session.
async fn keep(
    app: &App,
    current: &mut Current,
    mut session: SessionRecord,
    r: ReverificationRecord,
) -> Result<SessionRecord> {
    session.reverification = Some(r);
    store(app, current, session, None).await
}

/// Stores the session (and the user, when a failure or a used code changed it), keeping the
/// caller's client in step.
async fn store(
    app: &App,
    current: &mut Current,
    mut session: SessionRecord,
    user: Option<&UserRecord>,
) -> Result<SessionRecord> {
    session.updated_at = app.now_ms();
    let mut writes = Repo::session_writes(&session)?;
    if let Some(u) = user {
        writes.extend(Repo::user_writes(u)?);
    }
    commit(app, writes).await?;
    session.version += 1;
    if let Some(mine) = current
        .aggregate
        .sessions
        .iter_mut()
        .find(|s| s.id == session.id)
    {
        *mine = session.clone();
    }
    Ok(session)
}

/// Counts a failure toward the lockout (as at sign-in), stores it with the session, and
/// answers `error` (or `user_locked`).
async fn fail<T>(app: &App, current: &mut Current, failed: Failed, error: Error) -> Result<T> {
    let (session, mut user) = failed;
    let answer = lockout::record_failure(&mut user, app.now_ms(), error);
    store(app, current, session, Some(&user))
        .await
        .and(Err(answer))
}

/// The session and the user of a failed step.
type Failed = (SessionRecord, UserRecord);

/// Settles a code attempt that did not verify: a wrong code is stored and counted toward the
/// lockout; an attempt that could not be made (expired, used up) stores the verification as it
/// now is. A verified code hands the state back to carry on.
async fn unless_verified(
    app: &App,
    current: &mut Current,
    (mut session, r): (SessionRecord, ReverificationRecord),
    user: UserRecord,
    outcome: Result<verification::Attempt>,
) -> Result<(SessionRecord, ReverificationRecord)> {
    match outcome {
        Ok(verification::Attempt::Verified) => Ok((session, r)),
        Ok(other) => {
            session.reverification = Some(r);
            let error = verification::attempt_error(other);
            fail(app, current, (session, user), error).await
        }
        Err(e) => {
            keep(app, current, session, r).await?;
            Err(e)
        }
    }
}

/// A step passed: on to the second factor, or complete — the session's verification times
/// become now.
async fn passed(
    app: &App,
    current: &mut Current,
    mut session: SessionRecord,
    mut r: ReverificationRecord,
    user: &UserRecord,
    second: bool,
) -> Result<SessionRecord> {
    let now = app.now_ms();
    if !second && r.needs_second_factor {
        r.status = ReverificationStatus::NeedsSecondFactor;
        session.reverification = Some(r);
        return store(app, current, session, Some(user)).await;
    }
    r.status = ReverificationStatus::Complete;
    session.first_factor_verified_at = Some(now);
    if second {
        session.second_factor_verified_at = Some(now);
    }
    session.reverification = Some(r);
    let mut user = user.clone();
    // Failures are forgiven only when every factor the user has was proven: a first-factor-only
    // reverification of a two-factor account must not reset the second factor's guesses.
    if second || !sign_in_state::needs_second_factor(app, &user) {
        lockout::record_success(&mut user);
    }
    store(app, current, session, Some(&user)).await
}

impl ClientCommand for StartVerification {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let (mut session, mut user) = active_session(app, current, &self.id).await?;
        lockout::ensure_unlocked(&mut user, app.now_ms())?;
        let has_second = sign_in_state::needs_second_factor(app, &user);
        // Clerk falls back to the first factor when the user has no second one.
        let level = match self.level {
            ReverificationLevel::FirstFactor => ReverificationLevel::FirstFactor,
            _ if !has_second => ReverificationLevel::FirstFactor,
            other => other,
        };
        let first_factors = sign_in_state::first_factors(app, &user)
            .into_iter()
            .filter(|f| {
                // A session proves itself again in place: no reset codes, no links that
                // would finish the proof in another browser.
                !matches!(
                    f.strategy,
                    Strategy::ResetPasswordEmailCode
                        | Strategy::ResetPasswordPhoneCode
                        | Strategy::EmailLink
                )
            })
            .collect();
        session.reverification = Some(ReverificationRecord {
            id: random::object_id(app.random.as_ref(), "sessver"),
            level,
            status: ReverificationStatus::NeedsFirstFactor,
            needs_second_factor: level != ReverificationLevel::FirstFactor,
            first_factor: None,
            second_factor: None,
            supported_first_factors: first_factors,
            supported_second_factors: sign_in_state::second_factors(app, &user),
            passkey: None,
            created_at: app.now_ms(),
        });
        store(app, current, session, None).await
    }
}

impl ClientCommand for PrepareVerificationFirstFactor {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let step = ReverificationStatus::NeedsFirstFactor;
        let (session, user, mut r) = at_step(app, current, &self.id, step).await?;
        if self.strategy == FirstFactor::Passkey {
            if !r
                .supported_first_factors
                .iter()
                .any(|f| f.strategy == Strategy::Passkey)
            {
                return Err(Error::new(Code::NoPasskeysFoundForUser).param("strategy"));
            }
            r.passkey = Some(passkey::options_for(app, Some(&user))?);
            r.first_factor = None;
            return keep(app, current, session, r).await;
        }
        if self.strategy.code_destination().is_none() || self.strategy.is_reset() {
            return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy"));
        }
        let strategy = self.strategy.into();
        let factor =
            sign_in_state::pick_factor(&r.supported_first_factors, strategy, &self.target)?;
        // A code instead: passkey options still out are withdrawn.
        r.passkey = None;
        send_and_keep(app, current, (session, r), &user, (&factor, &self.sent)).await
    }
}

/// `attempt_first_factor {strategy: passkey}` on a reverification: the options are spent by
/// any answer — one for a locked account too — as at sign-in.
async fn attempt_passkey(
    app: &App,
    current: &mut Current,
    id: &str,
    answer: &str,
) -> Result<SessionRecord> {
    let (session, mut user) = active_session(app, current, id).await?;
    let mut r = in_progress(&session, ReverificationStatus::NeedsFirstFactor)?;
    // Not an answer at all: refused, the options left as they were.
    let presented = RelyingParty::presented(answer)?;
    let now = app.now_ms();
    let out = r.passkey.take();
    let Some(ceremony) = out.clone().filter(|c| c.expire_at > now) else {
        let spent = r
            .first_factor
            .as_ref()
            .is_some_and(|f| f.verification.strategy == Strategy::Passkey);
        if out.is_none() && !spent {
            return Err(Error::new(Code::VerificationMissing).param("strategy"));
        }
        // Expired, or spent by an answer refused before.
        r.first_factor = Some(passkey::failed());
        keep(app, current, session, r).await?;
        return Err(Error::new(Code::PasskeyInvalidVerification));
    };
    let checked = lockout::ensure_unlocked(&mut user, now)
        .and_then(|()| passkey::verify_for(app, &ceremony, &presented, &mut user));
    if let Err(e) = checked {
        // The options are spent: a refused answer cannot be followed by another.
        r.first_factor = Some(passkey::failed());
        keep(app, current, session, r).await?;
        return Err(e);
    }
    r.first_factor = Some(passkey::verified());
    // A passkey verified its user: both factors, when passkeys satisfy the second.
    let both = app.settings.passkeys.satisfies_second_factor;
    passed(app, current, session, r, &user, both).await
}

impl ClientCommand for AttemptVerificationFirstFactor {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let step = ReverificationStatus::NeedsFirstFactor;
        if let FirstFactorProof::Passkey(answer) = &self.proof {
            return attempt_passkey(app, current, &self.id, answer).await;
        }
        let (mut session, user, mut r) = at_step(app, current, &self.id, step).await?;
        // Another factor instead: passkey options still out are withdrawn.
        r.passkey = None;
        match &self.proof {
            FirstFactorProof::Passkey(_) => return Err(Error::internal("passkey handled above")),
            FirstFactorProof::Password(password) => {
                if !r
                    .supported_first_factors
                    .iter()
                    .any(|f| f.strategy == Strategy::Password)
                {
                    return Err(Error::new(Code::StrategyForUserInvalid).param("strategy"));
                }
                let hash = user
                    .password_hash
                    .clone()
                    .ok_or_else(|| Error::new(Code::StrategyForUserInvalid).param("strategy"))?;
                if !app.passwords.verify(&hash, password).await? {
                    let err = Error::new(Code::FormPasswordIncorrect).param("password");
                    return fail(app, current, (session, user), err).await;
                }
                r.first_factor = Some(FactorVerification {
                    verification: verification::verified(Strategy::Password),
                    email_address_id: None,
                    phone_number_id: None,
                });
            }
            FirstFactorProof::Code(strategy, code) => {
                let factor = r
                    .first_factor
                    .as_mut()
                    .filter(|f| f.verification.strategy == Strategy::from(*strategy))
                    .ok_or_else(|| Error::new(Code::VerificationMissing).param("strategy"))?;
                let outcome = verification::attempt(app, &mut factor.verification, code);
                (session, r) =
                    unless_verified(app, current, (session, r), user.clone(), outcome).await?;
            }
        }
        passed(app, current, session, r, &user, false).await
    }
}

impl ClientCommand for PrepareVerificationSecondFactor {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let step = ReverificationStatus::NeedsSecondFactor;
        let (session, user, r) = at_step(app, current, &self.id, step).await?;
        if self.strategy != SecondFactor::PhoneCode {
            return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy"));
        }
        let factors = &r.supported_second_factors;
        let factor = sign_in_state::pick_sms_factor(factors, self.phone_number_id.as_deref())?;
        send_and_keep(app, current, (session, r), &user, (&factor, &self.sent)).await
    }
}

impl ClientCommand for AttemptVerificationSecondFactor {
    type Output = SessionRecord;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let step = ReverificationStatus::NeedsSecondFactor;
        let (mut session, mut user, mut r) = at_step(app, current, &self.id, step).await?;
        let strategy = Strategy::from(self.strategy);
        if !r
            .supported_second_factors
            .iter()
            .any(|f| f.strategy == strategy)
        {
            return Err(Error::new(Code::StrategyForUserInvalid).param("strategy"));
        }
        let passed_now = match self.strategy {
            SecondFactor::PhoneCode => {
                let factor = r
                    .second_factor
                    .as_mut()
                    .ok_or_else(|| Error::new(Code::VerificationMissing).param("strategy"))?;
                let outcome = verification::attempt(app, &mut factor.verification, &self.code);
                (session, r) =
                    unless_verified(app, current, (session, r), user.clone(), outcome).await?;
                true
            }
            SecondFactor::Totp => {
                super::sign_in::second_factor::totp_matches(app, &mut user, &self.code)
            }
            SecondFactor::BackupCode => {
                super::sign_in::second_factor::backup_code_matches(app, &mut user, &self.code)
            }
        };
        if !passed_now {
            session.reverification = Some(r);
            let err = Error::new(Code::FormCodeIncorrect).param("code");
            return fail(app, current, (session, user), err).await;
        }
        if self.strategy != SecondFactor::PhoneCode {
            // (An SMS code's verification is already marked verified, with its expiry.)
            r.second_factor = Some(FactorVerification {
                verification: verification::verified(strategy),
                email_address_id: None,
                phone_number_id: None,
            });
        }
        passed(app, current, session, r, &user, true).await
    }
}

/// The `session_reverification` object (Clerk's `Client.SessionReverification`).
pub fn render(session: &SessionRecord) -> Result<Value> {
    let r = session
        .reverification
        .as_ref()
        .ok_or_else(|| Error::new(Code::SessionReverificationMissing))?;
    let at = session.updated_at;
    let verification = |f: &Option<FactorVerification>| {
        f.as_ref()
            .map(|f| render::factor_verification(&f.verification, at))
    };
    let first = match &r.passkey {
        Some(c) => Some(render::passkey_verification(
            crate::model::records::VerificationStatus::Unverified,
            Some(c),
            c.expire_at,
        )),
        None => verification(&r.first_factor),
    };
    Ok(json!({
        "object": "session_reverification",
        "id": r.id,
        "level": r.level.as_str(),
        "status": r.status.as_str(),
        "session": {
            "object": "session",
            "id": session.id,
            "status": session.status.as_str(),
            "expire_at": session.expire_at,
            "abandon_at": session.abandon_at,
            "last_active_at": session.last_active_at,
            // No token here: clerk-js would cache it over the fresh one it fetches next.
            "last_active_token": null,
        },
        "supported_first_factors": r.supported_first_factors,
        "supported_second_factors": (!r.supported_second_factors.is_empty()).then_some(&r.supported_second_factors),
        "first_factor_verification": first,
        "second_factor_verification": verification(&r.second_factor),
    }))
}
