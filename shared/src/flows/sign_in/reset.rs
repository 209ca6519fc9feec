//! Resetting a forgotten password: after a reset code was verified (`first_factor`), the new
//! password is set and the sign-in goes on to the second factor or completes.

use crate::app::App;
use crate::error::Result;
use crate::model::records::SignInStatus;
use crate::password;
use crate::vocabulary::Strategy;

use super::state::{self, SignedIn};
use crate::flows::client::Current;
use crate::flows::command::ClientCommand;
use crate::flows::command::Origin;
use crate::flows::session;

/// `POST …/reset_password`.
#[derive(Debug, Clone)]
pub struct ResetPassword {
    /// The attempt.
    pub id: String,
    pub password: String,
    pub sign_out_of_other_sessions: bool,
}

/// `POST …/reset_password`: sets the new password after a reset code was verified.
impl ClientCommand for ResetPassword {
    type Output = Option<SignedIn>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let mut s = state::at_step(current, id, SignInStatus::NeedsNewPassword)?;
        password::validate(&self.password, &app.settings.password_settings, "password")?;
        let mut user = state::load_user(app, &s).await?;
        let now = app.now_ms();
        user.password_hash = Some(app.passwords.hash(&self.password).await?);
        user.password_last_updated_at = Some(now);
        user.updated_at = now;
        let revoked = if self.sign_out_of_other_sessions {
            session::revoke_others(app, current, &user.id, None).await?
        } else {
            Vec::new()
        };
        if state::needs_second_factor(app, &user) {
            s.status = SignInStatus::NeedsSecondFactor;
            s.updated_at = now;
            state::store(app, current, s, Some(&user), revoked).await?;
            return Ok(None);
        }
        state::complete(app, current, s, user, Strategy::Password, revoked, origin)
            .await
            .map(Some)
    }
}
