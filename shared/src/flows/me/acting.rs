//! Who a `/v1/me` request acts for, and the two ways every change ends: saved, or counted as a
//! failure toward the lockout.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::repo::Repo;
use crate::store::{StoreError, Write};

use crate::flows::client::Current;
use crate::flows::lockout;
use crate::flows::session;

pub use crate::flows::client::Acting;

/// Finds the acting session and loads its user. No active session: 401 `signed_out`.
pub async fn acting(app: &App, current: Current, requested: Option<&str>) -> Result<Acting> {
    let s = session::acting(app, &current, requested)?;
    let session_id = s.id.clone();
    let user = app
        .repo
        .load_user(&s.user_id)
        .await?
        .ok_or_else(session::signed_out)?;
    Ok(Acting {
        current,
        session_id,
        user,
    })
}

/// Stores the user, with `guards` (identifier claims and releases, listed first) and `extra`
/// writes, in one transaction. A guard that fails means someone else holds the identifier
/// named by `param`.
pub async fn save(
    app: &App,
    a: &mut Acting,
    guards: Vec<Write>,
    param: &str,
    extra: Vec<Write>,
) -> Result<()> {
    a.user.updated_at = app.now_ms();
    let n = guards.len();
    let mut writes = guards;
    writes.extend(extra);
    writes.extend(Repo::user_writes(&a.user)?);
    app.repo.commit(writes).await.map_err(|e| match e {
        StoreError::ConditionFailed { index } if index < n => {
            Error::new(Code::FormIdentifierExists).param(param)
        }
        other => other.into(),
    })?;
    Repo::user_written(&mut a.user);
    Ok(())
}

/// Stores the user's changes alone.
pub async fn save_user(app: &App, a: &mut Acting) -> Result<()> {
    save(app, a, Vec::new(), "", Vec::new()).await
}

/// Counts a failed check toward the lockout, stores it, and answers `error` (or `user_locked`).
pub async fn fail<T>(app: &App, a: &mut Acting, error: Error) -> Result<T> {
    let answer = lockout::record_failure(&mut a.user, app.now_ms(), error);
    save_user(app, a).await?;
    Err(answer)
}
