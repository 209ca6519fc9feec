//! The password on the profile: change it (the current one required, optionally signing out
//! everywhere else) or remove it (only while another way to sign in remains).

use crate::app::App;
use crate::capabilities::Field;
use crate::error::{Code, Error, Result};
use crate::model::records::SessionStatus;
use crate::password;
use crate::vocabulary::Strategy;

use super::acting::{Acting, fail, save_user};
use crate::flows::command::UserCommand;
use crate::flows::lockout;
use crate::flows::session;
use crate::flows::sign_in;

/// `POST /v1/me/change_password`.
#[derive(Debug, Clone)]
pub struct ChangePassword {
    pub new_password: String,
    pub current_password: Option<String>,
    pub sign_out_of_other_sessions: bool,
}

/// `POST /v1/me/remove_password`.
#[derive(Debug, Clone)]
pub struct RemovePassword {
    pub current_password: Option<String>,
}

/// Checks the current password, when the user has one; a wrong one counts toward the lockout.
async fn check_current_password(app: &App, a: &mut Acting, given: Option<&str>) -> Result<()> {
    lockout::ensure_unlocked(&mut a.user, app.now_ms())?;
    let Some(hash) = a.user.password_hash.clone() else {
        return Ok(());
    };
    let current = given.ok_or_else(|| Error::missing("current_password"))?;
    if app.passwords.verify(&hash, current).await? {
        return Ok(());
    }
    let err = Error::new(Code::FormPasswordIncorrect).param("current_password");
    fail(app, a, err).await
}

/// `POST /v1/me/change_password`.
impl UserCommand for ChangePassword {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let cmd = self;
        if !app.capabilities.enabled(Field::Password) {
            return Err(Error::new(Code::FormParamUnknown).param("new_password"));
        }
        password::validate(
            &cmd.new_password,
            &app.settings.password_settings,
            "new_password",
        )?;
        check_current_password(app, a, cmd.current_password.as_deref()).await?;
        if let Some(hash) = a.user.password_hash.clone()
            && app.passwords.verify(&hash, &cmd.new_password).await?
        {
            return Err(Error::new(Code::FormNewPasswordMatchesCurrent).param("new_password"));
        }
        a.user.password_hash = Some(app.passwords.hash(&cmd.new_password).await?);
        a.user.password_last_updated_at = Some(app.now_ms());
        save_user(app, a).await?;
        if cmd.sign_out_of_other_sessions {
            // After the password is stored, in batches: any number of sessions.
            let (keep, user_id) = (a.session_id.clone(), a.user.id.clone());
            let revoked = SessionStatus::Revoked;
            session::end_everywhere(app, &mut a.current, &user_id, Some(&keep), revoked).await?;
        }
        Ok(())
    }
}

/// `POST /v1/me/remove_password`: only when the user can still sign in another way.
impl UserCommand for RemovePassword {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let cmd = self;
        if a.user.password_hash.is_none() {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("current_password")
                .long("This account has no password."));
        }
        check_current_password(app, a, cmd.current_password.as_deref()).await?;
        let mut without = a.user.clone();
        without.password_hash = None;
        let other_factor = sign_in::first_factors(app, &without)
            .iter()
            .any(|f| matches!(f.strategy, Strategy::EmailCode | Strategy::PhoneCode));
        if !other_factor {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("current_password")
                .long("Add a way to sign in with a code before removing the password."));
        }
        a.user.password_hash = None;
        a.user.password_last_updated_at = Some(app.now_ms());
        save_user(app, a).await
    }
}
