//! Deleting the account: the user, their identifiers' guards and every session go, in one
//! transaction; the identifiers are free for anyone afterwards.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::SessionStatus;
use crate::repo::Repo;
use crate::store::{Condition, Write, keys};
use crate::vocabulary::{IdentificationKind, IdentifierKind};

use super::acting::Acting;
use crate::flows::client::commit;
use crate::flows::command::UserCommand;

/// `DELETE /v1/me`.
#[derive(Debug, Clone, Copy)]
pub struct DeleteAccount;

/// `DELETE /v1/me`.
impl UserCommand for DeleteAccount {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        if !app.settings.actions.delete_self {
            return Err(Error::new(Code::UserDeleteSelfNotEnabled));
        }
        let now = app.now_ms();
        let u = &a.user;
        let mut writes = Vec::new();
        for kind in IdentificationKind::ALL {
            for r in u.identifications(*kind) {
                writes.push(Repo::release_identifier_write(kind.identifier(), &r.value));
            }
        }
        if let Some(name) = &u.username {
            writes.push(Repo::release_identifier_write(
                IdentifierKind::Username,
                name,
            ));
        }
        for mut s in app.repo.user_sessions(&u.id).await? {
            if s.status == SessionStatus::Active {
                s.status = SessionStatus::Ended;
                s.updated_at = now;
                writes.push(Repo::session_write(&s)?);
            }
        }
        writes.push(Write::delete(
            keys::user(&u.id),
            Condition::Version(u.version),
        ));
        let user_id = u.id.clone();
        let current = &mut a.current;
        for s in current.aggregate.sessions.iter_mut() {
            if s.user_id == user_id && s.status == SessionStatus::Active {
                s.status = SessionStatus::Ended;
            }
        }
        let was_last_active = current
            .aggregate
            .client
            .last_active_session_id
            .as_ref()
            .is_some_and(|sid| {
                current
                    .aggregate
                    .sessions
                    .iter()
                    .any(|s| &s.id == sid && s.user_id == user_id)
            });
        if was_last_active {
            current.aggregate.client.last_active_session_id = None;
            current.aggregate.client.updated_at = now;
            writes.push(current.client_write()?);
        }
        commit(app, writes).await
    }
}
