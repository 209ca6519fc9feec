//! Deleting the account: the user's other sessions end (in batches), then the user, the acting
//! session and the identifiers' guards go in one transaction (identifiers past what one
//! transaction holds are freed right after); the identifiers are free for anyone afterwards.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::{SessionStatus, UserRecord};
use crate::repo::Repo;
use crate::store::Write;
use crate::vocabulary::{IdentificationKind, IdentifierKind};

use super::acting::Acting;
use super::identifications::release_if_held;
use crate::flows::client::commit;
use crate::flows::command::UserCommand;
use crate::flows::session;

/// Identifier releases written in the transaction that deletes the user (with the user and
/// the client: within DynamoDB's 100-write limit).
const IDENTIFIERS_WITH_THE_USER: usize = 90;

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
        // The other sessions first, in batches (any number of them): a deleted user's session
        // must not live on. The acting one ends with the user, in the last transaction, so a
        // retry after a lost race still finds the user to act for.
        let user_id = a.user.id.clone();
        let acting = a.session_id.clone();
        let ended = SessionStatus::Ended;
        session::end_everywhere(app, &mut a.current, &user_id, Some(&acting), ended).await?;
        let (mut writes, later) = deletion_writes(app, &a.user).await?;
        let current = &mut a.current;
        let now = app.now_ms();
        if let Some(mine) = current
            .aggregate
            .sessions
            .iter_mut()
            .find(|s| s.id == acting)
        {
            mine.status = ended;
            mine.updated_at = now;
            writes.extend(Repo::session_writes(mine)?);
        }
        let last_active_was_theirs = current
            .aggregate
            .client
            .last_active_session_id
            .as_ref()
            .and_then(|sid| current.aggregate.sessions.iter().find(|s| &s.id == sid))
            .is_some_and(|s| s.user_id == user_id);
        if last_active_was_theirs {
            let client = &mut current.aggregate.client;
            client.last_active_session_id = None;
            client.updated_at = app.now_ms();
            writes.push(current.client_write()?);
        }
        commit(app, writes).await?;
        free_the_rest(app, later).await
    }
}

/// The writes that delete user `u` (unless it changed since read) with as many of its
/// identifiers (guards and locators) as one transaction holds, and the releases of the rest
/// (accounts that grew before identifiers were capped), for [`free_the_rest`] right after.
pub async fn deletion_writes(app: &App, u: &UserRecord) -> Result<(Vec<Write>, Vec<Write>)> {
    let mut releases = Vec::new();
    for kind in IdentificationKind::ALL {
        for r in u.identifications(*kind) {
            releases.extend(release_if_held(app, &u.id, *kind, &r.value).await?);
        }
    }
    if let Some(name) = &u.username {
        releases.push(Repo::release_identifier_write(
            IdentifierKind::Username,
            name,
        ));
    }
    if let Some(external_id) = &u.external_id {
        releases.push(Repo::release_external_id_write(external_id));
    }
    releases.extend(crate::flows::social::release_all(u));
    releases.extend(super::passkeys::release_all(u));
    let (deletion, locators) = Repo::user_deletion_writes(u, app.now_ms());
    releases.extend(locators);
    // The deletion's event becomes a message per webhook endpoint in the same transaction.
    let room = IDENTIFIERS_WITH_THE_USER - crate::security::MAX_WEBHOOK_ENDPOINTS;
    let later = releases.split_off(releases.len().min(room));
    let mut writes = releases;
    writes.extend(deletion);
    Ok((writes, later))
}

/// Frees the identifiers [`deletion_writes`] left for after the user's deletion.
pub async fn free_the_rest(app: &App, later: Vec<Write>) -> Result<()> {
    for batch in later.chunks(IDENTIFIERS_WITH_THE_USER) {
        commit(app, batch.to_vec()).await?;
    }
    Ok(())
}
