//! What app servers ask of the Backend API (with a secret key) when they render pages: a user,
//! and a session's token (optionally from a JWT template). `@clerk/nextjs`'s `currentUser()`
//! and `auth().getToken({ template })` call these.
//!
//! ```text
//!   GET  /v1/users/{id}                    ─► the user (Backend API shape, private fields too)
//!   POST /v1/sessions/{id}/tokens[/{tpl}]  ─► locator ─► the session's client ─► token
//! ```

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::UserRecord;

pub use super::tokens::mint_for_backend as session_token;

/// The user with id `id`; Clerk's 404 when there is none.
pub async fn user(app: &App, id: &str) -> Result<UserRecord> {
    app.repo
        .load_user(id)
        .await?
        .ok_or_else(|| Error::new(Code::ResourceNotFound).long(format!("No user `{id}` exists.")))
}
