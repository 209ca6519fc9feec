//! The second step of a sign-in, for users with a second factor: an SMS code, a TOTP code, or a
//! single-use backup code.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::{FactorVerification, SessionStatus, SignInStatus, UserRecord};
use crate::totp;
use crate::vocabulary::{SecondFactor, Strategy};

use super::state::{self, SignedIn};
use crate::flows::client::Current;
use crate::flows::command::ClientCommand;
use crate::flows::command::Origin;
use crate::flows::lockout;
use crate::flows::session;
use crate::flows::verification::{self, Purpose, Sender, SentOnce};

/// `POST …/prepare_second_factor`.
#[derive(Debug, Clone)]
pub struct PrepareSecondFactor {
    /// The attempt.
    pub id: String,
    pub strategy: SecondFactor,
    pub phone_number_id: Option<String>,
    /// The code sent, kept across retries of the unit of work.
    pub sent: SentOnce,
}

/// `POST …/attempt_second_factor`.
#[derive(Debug, Clone)]
pub struct AttemptSecondFactor {
    /// The attempt.
    pub id: String,
    pub strategy: SecondFactor,
    pub code: String,
}

/// `POST …/prepare_second_factor`: sends an SMS code to a second-factor phone.
impl ClientCommand for PrepareSecondFactor {
    type Output = ();

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let mut s = state::at_step(current, id, SignInStatus::NeedsSecondFactor)?;
        if self.strategy != SecondFactor::PhoneCode {
            return Err(Error::new(Code::VerificationStrategyInvalid)
                .param("strategy")
                .long("Only phone_code needs preparing; attempt totp or backup_code directly."));
        }
        let mut user = state::load_user(app, &s).await?;
        lockout::ensure_unlocked(&mut user, app.now_ms())?;
        let factors = state::second_factors(app, &user);
        let factor = state::pick_sms_factor(&factors, self.phone_number_id.as_deref())?;
        let previous = s.second_factor.as_ref().map(|f| &f.verification);
        let purpose = (Purpose::SecondFactor, previous);
        let by = Sender {
            link: None,
            client_id: &s.client_id,
            once: &self.sent,
        };
        s.second_factor = Some(state::send_code(app, &user, &factor, purpose, by).await?);
        s.updated_at = app.now_ms();
        state::store(app, current, s, None, Vec::new()).await
    }
}

/// A second factor proven without a stored code (TOTP, backup code).
fn proven(strategy: SecondFactor) -> Option<FactorVerification> {
    Some(FactorVerification {
        verification: verification::verified(strategy.into()),
        email_address_id: None,
        phone_number_id: None,
    })
}

/// Checks a TOTP code (each time step is accepted once).
pub(crate) fn totp_matches(app: &App, user: &mut UserRecord, code: &str) -> bool {
    let secret = user.totp_secret.clone().unwrap_or_default();
    match totp::accept(&secret, code, app.clock.now_secs(), user.totp_last_step) {
        Some(step) => {
            user.totp_last_step = Some(step);
            true
        }
        None => false,
    }
}

/// Checks a backup code; a code that works is gone.
pub(crate) fn backup_code_matches(app: &App, user: &mut UserRecord, code: &str) -> bool {
    let position = user
        .backup_code_hashes
        .iter()
        .position(|h| app.codes.matches(code, h));
    match position {
        Some(i) => {
            user.backup_code_hashes.remove(i);
            true
        }
        None => false,
    }
}

/// Whether passing this factor changes the user record (TOTP remembers its step, a backup code
/// is spent).
fn cmd_changes_user(strategy: SecondFactor) -> bool {
    matches!(strategy, SecondFactor::Totp | SecondFactor::BackupCode)
}

/// `POST …/attempt_second_factor`: `phone_code`, `totp` or `backup_code`.
impl ClientCommand for AttemptSecondFactor {
    type Output = Option<SignedIn>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let mut s = state::at_step(current, id, SignInStatus::NeedsSecondFactor)?;
        let mut user = state::load_user(app, &s).await?;
        let now = app.now_ms();
        lockout::ensure_unlocked(&mut user, now)?;
        let strategy = Strategy::from(self.strategy);
        if !state::second_factors(app, &user)
            .iter()
            .any(|f| f.strategy == strategy)
        {
            return Err(Error::new(Code::StrategyForUserInvalid).param("strategy"));
        }
        let passed = match self.strategy {
            SecondFactor::PhoneCode => {
                let factor = s.second_factor.as_mut().ok_or_else(|| {
                    Error::new(Code::VerificationMissing)
                        .long("Prepare the phone_code second factor first.")
                })?;
                match verification::attempt(app, &mut factor.verification, &self.code) {
                    Ok(verification::Attempt::Verified) => true,
                    Ok(other) => {
                        let err = verification::attempt_error(other);
                        return state::fail(app, current, s, user, err).await;
                    }
                    Err(e) => {
                        state::store(app, current, s, None, Vec::new()).await?;
                        return Err(e);
                    }
                }
            }
            SecondFactor::Totp => {
                let ok = totp_matches(app, &mut user, &self.code);
                if ok {
                    s.second_factor = proven(self.strategy);
                }
                ok
            }
            SecondFactor::BackupCode => {
                let ok = backup_code_matches(app, &mut user, &self.code);
                if ok {
                    s.second_factor = proven(self.strategy);
                }
                ok
            }
        };
        if !passed {
            s.second_factor = None;
            let err = Error::new(Code::FormCodeIncorrect).param("code");
            return state::fail(app, current, s, user, err).await;
        }
        s.second_factor_verified_at = Some(now);
        // A password reset waiting for this factor takes effect now.
        let reset = s.pending_password_hash.take();
        let reset_pending = reset.is_some();
        let sign_out = reset.is_some() && s.pending_sign_out_of_other_sessions;
        if let Some(hash) = reset {
            super::reset::set_password(app, &mut user, hash);
        }
        // TOTP and backup codes changed the user (the step used, the code spent).
        let changed = cmd_changes_user(self.strategy) || sign_out || reset_pending;
        let done = state::complete(
            app,
            current,
            s,
            user,
            strategy.as_str(),
            Vec::new(),
            origin,
            changed,
        )
        .await?;
        if sign_out {
            let keep = current.aggregate.client.last_active_session_id.clone();
            let revoked = SessionStatus::Revoked;
            session::end_everywhere(app, current, &done.user.id, keep.as_deref(), revoked).await?;
        }
        Ok(Some(done))
    }
}
