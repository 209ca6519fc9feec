#![recursion_limit = "256"]
//! Frontdoor's shared library: the domain, the flows, persistence, adapters and the HTTP glue
//! that every function crate links.
//!
//! ## Layers (dependencies point one way)
//!
//! ```text
//!   edge:    http (glue, operation table, unit of work), runtime, lambda   ── composes ──┐
//!              │                                                                          │
//!   flows:   flows::{sign_in/, sign_up, me/, session, client, tokens, verification, …}    │
//!              │                                                                          ▼
//!   app:     app (settings + capabilities + repo + clock + randomness + courier)    adapters:
//!   repo:    repo (records ↔ items)                                                 store::{dynamodb, sqlite},
//!   ports:   store (item-store trait, keys), courier (trait)   ◄── implement ───── courier::{aws, outbox}
//!   domain:  vocabulary, capabilities, model, settings, error, clock, random, security,
//!            identifiers, codes, password, totp, keys, client_token
//! ```
//!
//! Where to look, one hop from a route: the group's route table (`functions/<group>`) names the
//! [`http::Operation`]; its abuse policy is in `http::operation`; the flow it runs is under
//! `flows`; what is enabled comes from [`capabilities::Capabilities`]; the strategies and
//! identifier kinds are the enums in [`vocabulary`].
//!
//! These layers are modules of one crate with a boundary enforced by a test
//! (`tests/tests/architecture.rs`: no import upward, no cycle, no framework or AWS crate below
//! the edge) rather than separate crates: the design keeps one shared crate, and more crates
//! would lengthen the 2-core CI build (each is a separate compilation unit that the six Lambda
//! binaries and the tests all link) without adding a check the test does not already make.

pub mod app;
pub mod capabilities;
pub mod clerk_export;
pub mod client_token;
pub mod clock;
pub mod codes;
pub mod courier;
pub mod digest;
pub mod error;
pub mod events;
pub mod flows;
pub mod http;
pub mod identifiers;
pub mod image_format;
pub mod images;
pub mod keys;
pub mod lambda;
pub mod metadata;
pub mod model;
pub mod passkeys;
pub mod password;
pub mod private_files;
pub mod providers;
pub mod random;
pub mod repo;
pub mod runtime;
pub mod secret_keys;
pub mod security;
pub mod settings;
pub mod social;
pub mod store;
pub mod totp;
pub mod urls;
pub mod vocabulary;
pub mod webhooks;

pub use app::App;
pub use error::{Code, Error, Result};
