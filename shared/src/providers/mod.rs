//! The identity providers an instance can connect (the catalog and its settings), who a
//! provider says the user is ([`ExternalProfile`]), and the validation of ID tokens (`oidc`).
//! Pure: talking to providers is `crate::social`'s.

pub mod catalog;
pub mod oidc;

use serde::{Deserialize, Serialize};

pub use catalog::{ProfileApi, Protocol, Provider};

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalProfile {
    /// `oauth_google`.
    pub strategy: String,
    /// The provider's stable id for the user (`sub`, GitHub's numeric id).
    pub subject: String,
    /// Lower-cased.
    pub email: Option<String>,
    /// Whether the provider vouches that the user controls `email`.
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub scopes: Vec<String>,
}
