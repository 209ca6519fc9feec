//! Typed commands: what a handler parses a request into, and what the unit of work runs.
//!
//! ```text
//!   handler: request ──parse──► command (typed, validated names)
//!   unit of work: load client / acting user ──► command.run(…) ──commit──► (retry on a lost race)
//! ```
//!
//! A command runs on fresh state each time the unit of work tries it, so `run` must do all of
//! its reading inside (never rely on what an earlier try saw) and commit its writes in one
//! transaction.

use std::future::Future;

use crate::app::App;
use crate::error::Result;

use super::client::{Acting, Current};

/// What is known about where a request came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An operation on the caller's client (sign-in and sign-up steps, sessions).
pub trait ClientCommand: Sync {
    type Output: Send;

    /// Whether a caller without a client gets a new one (stored by the command's commit);
    /// otherwise such a caller gets 404.
    const CREATES_CLIENT: bool = false;

    fn run(
        &self,
        app: &App,
        current: &mut Current,
        origin: &Origin,
    ) -> impl Future<Output = Result<Self::Output>> + Send;
}

/// An operation of a signed-in user on their own account (`/v1/me`).
pub trait UserCommand: Sync {
    type Output: Send;

    fn run(
        &self,
        app: &App,
        acting: &mut Acting,
    ) -> impl Future<Output = Result<Self::Output>> + Send;
}
