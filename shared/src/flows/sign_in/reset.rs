//! Resetting a forgotten password: after a reset code was verified (`first_factor`), the new
//! password is set and the sign-in goes on to the second factor or completes.

use crate::app::App;
use crate::error::Result;
use crate::model::records::{SessionStatus, SignInStatus, UserRecord};
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

/// `POST …/reset_password`: sets the new password after a reset code was verified. On an
/// account with a second factor, nothing changes yet: the new password (hashed) waits on the
/// attempt until the second factor passes (`second_factor`), so a reset code alone cannot
/// change the password or sign anyone out.
impl ClientCommand for ResetPassword {
    type Output = Option<SignedIn>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        let id = self.id.as_str();
        let mut s = state::at_step(current, id, SignInStatus::NeedsNewPassword)?;
        password::validate(&self.password, &app.settings.password_settings, "password")?;
        let mut user = state::load_user(app, &s).await?;
        let hash = app.passwords.hash(&self.password).await?;
        if state::needs_second_factor(app, &user) {
            s.status = SignInStatus::NeedsSecondFactor;
            s.pending_password_hash = Some(hash);
            s.pending_sign_out_of_other_sessions = self.sign_out_of_other_sessions;
            s.updated_at = app.now_ms();
            state::store(app, current, s, None, Vec::new()).await?;
            return Ok(None);
        }
        set_password(app, &mut user, hash);
        let sign_out = self.sign_out_of_other_sessions;
        let done = state::complete(
            app,
            current,
            s,
            user,
            Strategy::Password.as_str(),
            Vec::new(),
            origin,
            true,
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

/// Puts a new password (already hashed) on the user.
pub(super) fn set_password(app: &App, user: &mut UserRecord, hash: String) {
    let now = app.now_ms();
    user.password_hash = Some(hash);
    user.password_last_updated_at = Some(now);
    user.updated_at = now;
}
