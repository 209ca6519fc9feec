//! The one unit of work that runs an operation's flow: load the caller's client (or acting
//! user), run the flow, commit, and on a lost optimistic-concurrency race do it all again. The
//! operations and their abuse policies are declared beside it (`super::operation`).

use std::future::Future;

use super::fapi::Fapi;
use crate::error::Result;
use crate::flows::client::{Current, Retry};
use crate::flows::me::Acting;

/// What an operation needs of the caller's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNeed {
    /// The caller's client; a new (unsaved) one when it has none: the flow's commit stores it.
    ExistingOrNew,
    /// The caller's client; 404 when it has none.
    Existing,
}

impl Fapi {
    /// Runs `flow` on the caller's client as one unit of work: load the client, run the flow
    /// (which commits its writes in one transaction and hands the client back), and — when the
    /// commit lost an optimistic-concurrency race — do it all again on fresh state.
    pub async fn on_client<T, F, Fut>(&self, need: ClientNeed, mut flow: F) -> Result<(Current, T)>
    where
        F: FnMut(Current) -> Fut,
        Fut: Future<Output = Result<(Current, T)>>,
    {
        let mut retry = Retry::new();
        loop {
            let current = match need {
                ClientNeed::ExistingOrNew => self.current_or_new_client().await?,
                ClientNeed::Existing => self.existing_client().await?,
            };
            match flow(current).await {
                Err(e) if e.conflict => retry.after_conflict().await?,
                other => return other,
            }
        }
    }

    /// Runs `flow` for the user a `/v1/me` request acts for, as one unit of work (see
    /// [`Fapi::on_client`]).
    pub async fn as_user<T, F, Fut>(&self, mut flow: F) -> Result<(Acting, T)>
    where
        F: FnMut(Acting) -> Fut,
        Fut: Future<Output = Result<(Acting, T)>>,
    {
        let mut retry = Retry::new();
        loop {
            let acting = self.acting().await?;
            match flow(acting).await {
                Err(e) if e.conflict => retry.after_conflict().await?,
                other => return other,
            }
        }
    }
}
