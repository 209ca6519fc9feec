//! The one unit of work that runs an operation's flow: load the caller's client (or acting
//! user), run the flow, commit, and on a lost optimistic-concurrency race do it all again. The
//! operations and their abuse policies are declared beside it (`super::operation`).

use super::fapi::Fapi;
use crate::error::Result;
use crate::flows::client::{Current, Retry};
use crate::flows::command::{ClientCommand, UserCommand};
use crate::flows::me::Acting;
use crate::flows::reverification;

impl Fapi {
    /// Runs a command on the caller's client as one unit of work: load the client (a new,
    /// unsaved one when the command creates clients), run the command (which commits its writes
    /// in one transaction), and — when the commit lost an optimistic-concurrency race — do it
    /// all again on fresh state.
    pub async fn run<C: ClientCommand>(&self, cmd: &C) -> Result<(Current, C::Output)> {
        let origin = self.origin();
        let mut retry = Retry::new();
        loop {
            let mut current = if C::CREATES_CLIENT {
                self.current_or_new_client().await?
            } else {
                self.existing_client().await?
            };
            match cmd.run(&self.app, &mut current, &origin).await {
                Ok(out) => return Ok((current, out)),
                Err(e) if e.conflict => retry.after_conflict().await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs a command of the user a `/v1/me` request acts for, as one unit of work (see
    /// [`Fapi::run`]). A sensitive operation (its policy says so) first needs the session's
    /// factors verified recently.
    pub async fn run_as_user<C: UserCommand>(&self, cmd: &C) -> Result<(Acting, C::Output)> {
        let mut retry = Retry::new();
        loop {
            let mut acting = self.acting().await?;
            if self.operation.policy().reverify {
                reverification::ensure_fresh(&self.app, &acting)?;
            }
            match cmd.run(&self.app, &mut acting).await {
                Ok(out) => return Ok((acting, out)),
                Err(e) if e.conflict => retry.after_conflict().await?,
                Err(e) => return Err(e),
            }
        }
    }
}
