#![recursion_limit = "256"]
//! Frontdoor's shared library: the domain, the flows, persistence, adapters and the HTTP glue
//! that every function crate links.
//!
//! Dependencies point one way: `http` → `flows` → ports (`store`, `courier`, keys) ← adapters.

pub mod app;
pub mod capabilities;
pub mod client_token;
pub mod clock;
pub mod codes;
pub mod courier;
pub mod error;
pub mod flows;
pub mod http;
pub mod identifiers;
pub mod keys;
pub mod lambda;
pub mod model;
pub mod password;
pub mod random;
pub mod repo;
pub mod runtime;
pub mod security;
pub mod settings;
pub mod store;
pub mod totp;
pub mod vocabulary;

pub use app::App;
pub use error::{Code, Error, Result};
