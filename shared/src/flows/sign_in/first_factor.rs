//! The first step of a sign-in: create the attempt for an identifier, then prove the first
//! factor with a password or a code (or verify a reset code, which leads to `reset`).

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::{SignInRecord, SignInStatus, UserRecord};
use crate::password::CheckedOnce;
use crate::random;
use crate::vocabulary::{FirstFactor, IdentificationKind, IdentifierKind};

use super::state::{self, FactorTarget, SignedIn};
use crate::flows::client::Current;
use crate::flows::command::ClientCommand;
use crate::flows::command::Origin;
use crate::flows::lockout;
use crate::flows::session;
use crate::flows::verification::{self, LinkTarget, Purpose, Sender, SentOnce};

/// `POST /v1/client/sign_ins`.
#[derive(Debug, Clone, Default)]
pub struct CreateSignIn {
    pub identifier: Option<String>,
    /// A password (signs in at once), or a code strategy to prepare with `target`.
    pub proof: (Option<String>, Option<FirstFactor>, FactorTarget),
    /// The password check and the code sent, kept across retries of the unit of work.
    pub memo: (CheckedOnce, SentOnce),
}

/// `POST …/prepare_first_factor`.
#[derive(Debug, Clone)]
pub struct PrepareFirstFactor {
    /// The attempt.
    pub id: String,
    pub strategy: FirstFactor,
    pub target: FactorTarget,
    /// The code sent, kept across retries of the unit of work.
    pub sent: SentOnce,
}

/// What an attempt at the first factor presents.
#[derive(Debug, Clone)]
pub enum FirstFactorProof {
    Password(String),
    /// A code for a code strategy (sign-in or reset).
    Code(FirstFactor, String),
    /// A passkey's assertion (`public_key_credential`, JSON).
    Passkey(String),
}

/// `POST …/attempt_first_factor`.
#[derive(Debug, Clone)]
pub struct AttemptFirstFactor {
    /// The attempt.
    pub id: String,
    pub proof: FirstFactorProof,
    /// The password check, kept across retries of the unit of work.
    pub checked: CheckedOnce,
}

impl AttemptFirstFactor {
    fn strategy(&self) -> FirstFactor {
        match &self.proof {
            FirstFactorProof::Password(_) => FirstFactor::Password,
            FirstFactorProof::Code(strategy, _) => *strategy,
            FirstFactorProof::Passkey(_) => FirstFactor::Passkey,
        }
    }
}

fn ensure_enabled(app: &App, strategy: FirstFactor) -> Result<()> {
    if app.capabilities.first_factor(strategy) {
        return Ok(());
    }
    Err(Error::new(Code::FormParamValueInvalid)
        .param("strategy")
        .long(format!(
            "The {strategy} strategy is not enabled for this application."
        )))
}

/// Whether the user holds `identifier` in a state that signs in: verified, or on an instance
/// that does not verify that kind at all.
fn identifier_signs_in(app: &App, u: &UserRecord, kind: IdentifierKind, identifier: &str) -> bool {
    let identification = match kind {
        IdentifierKind::Email => IdentificationKind::EmailAddress,
        IdentifierKind::Phone => IdentificationKind::PhoneNumber,
        IdentifierKind::Username => return u.username.as_deref() == Some(identifier),
    };
    let unverified_counts = !app.capabilities.verify_at_sign_up(identification);
    u.identifications(identification)
        .iter()
        .any(|r| r.value == identifier && (r.is_verified() || unverified_counts))
}

/// Prepares a code factor on `s`, sending the code to the identification it names.
async fn prepare_code(
    app: &App,
    s: &mut SignInRecord,
    user: &UserRecord,
    strategy: FirstFactor,
    (target, once): (&FactorTarget, &SentOnce),
) -> Result<()> {
    if strategy.code_destination().is_none() {
        return Ok(()); // Passwords need no preparation.
    }
    let factor = state::pick_factor(&s.supported_first_factors, strategy.into(), target)?;
    let purpose = if strategy.is_reset() {
        Purpose::ResetPassword
    } else {
        Purpose::SignIn
    };
    let previous = s.first_factor.as_ref().map(|f| &f.verification);
    let link = crate::flows::return_urls::link_back(
        app,
        strategy,
        target.redirect_url.as_deref(),
        || LinkTarget::SignIn { id: s.id.clone() },
    )?;
    let by = Sender {
        client_id: &s.client_id,
        once,
        link: link.as_ref(),
    };
    let sent = state::send_code(app, user, &factor, (purpose, previous), by).await?;
    s.first_factor = Some(sent);
    Ok(())
}

/// Checks a password against the user's; a wrong one (or none) is a failure counted toward
/// the lockout.
async fn check_password(
    app: &App,
    current: &mut Current,
    s: SignInRecord,
    user: UserRecord,
    (password, checked): (&str, &CheckedOnce),
    origin: &Origin,
    no_password_param: &str,
) -> Result<Option<SignedIn>> {
    let Some(hash) = user.password_hash.clone() else {
        return Err(Error::new(Code::StrategyForUserInvalid).param(no_password_param));
    };
    if !checked.verify(&app.passwords, &hash, password).await? {
        let err = Error::new(Code::FormPasswordIncorrect).param("password");
        return state::fail(app, current, s, user, err).await;
    }
    let mut user = user;
    if crate::password::needs_rehash(&hash) {
        // An imported (bcrypt) or weaker hash, proven right just now: replaced by today's
        // argon2id, stored on its own so a later lost race does not undo it.
        user.password_hash = Some(app.passwords.hash(password).await?);
        user.updated_at = app.now_ms();
        crate::flows::client::commit(app, crate::repo::Repo::user_writes(&user)?).await?;
        crate::repo::Repo::user_written(&mut user);
    }
    state::first_factor_passed(app, current, s, user, FirstFactor::Password, origin).await
}

/// `POST /v1/client/sign_ins`: starts a sign-in, and goes as far as the parameters allow.
impl ClientCommand for CreateSignIn {
    type Output = Option<SignedIn>;
    const CREATES_CLIENT: bool = true;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        session::ensure_can_sign_in(app, current)?;
        let now = app.now_ms();
        let id = random::object_id(app.random.as_ref(), "sia");
        let mut s = SignInRecord::new(id, current.client().id.clone(), now);
        let (password, strategy, target) = &self.proof;
        let (checked, sent) = &self.memo;
        if let Some(strategy) = *strategy {
            ensure_enabled(app, strategy)?;
        }
        let password = password.as_deref();
        if password.is_some() && !app.capabilities.first_factor(FirstFactor::Password) {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("password")
                .long("Passwords are not enabled for this application."));
        }
        let Some(raw) = self.identifier.as_deref() else {
            if password.is_none() && *strategy == Some(FirstFactor::Passkey) {
                // A discoverable passkey names its user itself.
                super::passkey::begin(app, &mut s, None)?;
                state::store(app, current, s, None, Vec::new()).await?;
                return Ok(None);
            }
            if password.is_some() || strategy.is_some() {
                return Err(Error::missing("identifier"));
            }
            state::store(app, current, s, None, Vec::new()).await?;
            return Ok(None);
        };
        let kind = identifiers::classify(raw);
        if !app.capabilities.signs_in_with(kind) {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("identifier")
                .long(format!(
                    "Signing in with {} is not enabled for this application.",
                    kind.as_str().replace('_', " ")
                )));
        }
        let identifier = identifiers::normalise(kind, raw, "identifier")?;
        let owner = app.repo.identifier_owner(kind, &identifier).await?;
        let user = match owner {
            Some(id) => app.repo.load_user(&id).await?,
            None => None,
        };
        // An identifier waiting for its code (added in the profile) does not sign anyone in yet.
        let user = user.filter(|u| identifier_signs_in(app, u, kind, &identifier));
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
        state::snapshot(app, &mut s, &user);

        if let Some(pw) = password {
            let proof = (pw, checked);
            return check_password(app, current, s, user, proof, origin, "password").await;
        }
        match *strategy {
            Some(FirstFactor::Passkey) => super::passkey::begin(app, &mut s, Some(&user))?,
            Some(strategy) => prepare_code(app, &mut s, &user, strategy, (target, sent)).await?,
            None => {}
        }
        state::store(app, current, s, None, Vec::new()).await?;
        Ok(None)
    }
}

/// `POST …/prepare_first_factor`.
impl ClientCommand for PrepareFirstFactor {
    type Output = ();

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let mut s = state::at_step(current, id, SignInStatus::NeedsFirstFactor)?;
        ensure_enabled(app, self.strategy)?;
        if self.strategy == FirstFactor::Password {
            return Ok(()); // Passwords need no preparation.
        }
        let mut user = state::load_user(app, &s).await?;
        lockout::ensure_unlocked(&mut user, app.now_ms())?;
        state::snapshot(app, &mut s, &user);
        if self.strategy == FirstFactor::Passkey {
            super::passkey::begin(app, &mut s, Some(&user))?;
        } else {
            // Another factor instead: the passkey options are withdrawn.
            s.passkey = None;
            let sending = (&self.target, &self.sent);
            prepare_code(app, &mut s, &user, self.strategy, sending).await?;
        }
        s.updated_at = app.now_ms();
        state::store(app, current, s, None, Vec::new()).await
    }
}

/// `POST …/attempt_first_factor`.
impl ClientCommand for AttemptFirstFactor {
    type Output = Option<SignedIn>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let strategy = self.strategy();
        if let FirstFactorProof::Passkey(answer) = &self.proof {
            ensure_enabled(app, strategy)?;
            let s = state::get(current, id)?.clone();
            if !super::passkey::waits_for_passkey(&s) {
                return Err(Error::new(Code::VerificationMissing)
                    .param("strategy")
                    .long("Prepare this strategy before attempting it."));
            }
            return super::passkey::attempt(app, current, s, answer, origin).await;
        }
        let mut s = state::at_step(current, id, SignInStatus::NeedsFirstFactor)?;
        ensure_enabled(app, strategy)?;
        // Proven another way: passkey options still out are withdrawn.
        s.passkey = None;
        let mut user = state::load_user(app, &s).await?;
        let now = app.now_ms();
        lockout::ensure_unlocked(&mut user, now)?;
        s.updated_at = now;
        let code = match &self.proof {
            FirstFactorProof::Password(pw) => {
                let proof = (pw.as_str(), &self.checked);
                return check_password(app, current, s, user, proof, origin, "strategy").await;
            }
            FirstFactorProof::Code(_, code) => code,
            FirstFactorProof::Passkey(_) => return Err(Error::internal("passkey handled above")),
        };
        let factor = s
            .first_factor
            .as_mut()
            .filter(|f| f.verification.strategy == strategy.into())
            .ok_or_else(|| {
                Error::new(Code::VerificationMissing)
                    .param("strategy")
                    .long("Prepare this strategy before attempting it.")
            })?;
        match verification::attempt(app, &mut factor.verification, code) {
            Ok(verification::Attempt::Verified) if strategy.is_reset() => {
                s.status = SignInStatus::NeedsNewPassword;
                s.first_factor_verified_at = Some(now);
                state::store(app, current, s, None, Vec::new()).await?;
                Ok(None)
            }
            Ok(verification::Attempt::Verified) => {
                state::first_factor_passed(app, current, s, user, strategy, origin).await
            }
            Ok(other) => {
                state::fail(app, current, s, user, verification::attempt_error(other)).await
            }
            Err(e) => {
                state::store(app, current, s, None, Vec::new()).await?;
                Err(e)
            }
        }
    }
}
