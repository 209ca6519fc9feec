//! The rules. Flows know no HTTP and no AWS: they take the application (store, clock,
//! randomness, settings, courier) and parameters, and return domain results or the domain error.

pub mod backend;
pub mod client;
pub mod command;
pub mod email_link;
pub mod environment;
pub mod handshake;
pub mod identification_admin;
pub mod import;
pub mod lockout;
pub mod me;
pub mod rate_limit;
pub mod reindex;
pub mod return_urls;
pub mod reverification;
pub mod session;
pub mod sign_in;
pub mod sign_up;
pub mod social;
pub mod tokens;
pub mod user_search;
pub mod verification;
pub mod webhooks;
