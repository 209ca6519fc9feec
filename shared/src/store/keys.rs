//! The single-table key design, written down before it is used.
//!
//! ## Items
//!
//! | item                  | PK                          | SK               | GSI1PK        | GSI1SK          | expires (`exp`)            |
//! |-----------------------|-----------------------------|------------------|---------------|-----------------|----------------------------|
//! | client                | `CLIENT#<client_id>`        | `CLIENT`         |               |                 | ended + 1 d, else idle 90 d |
//! | session               | `CLIENT#<client_id>`        | `SESSION#<id>`   | `USER#<uid>`  | `SESSION#<id>`  | session expiry + retention |
//! | sign-in attempt       | `CLIENT#<client_id>`        | `SIGN_IN#<id>`   |               |                 | `abandon_at`               |
//! | sign-up attempt       | `CLIENT#<client_id>`        | `SIGN_UP#<id>`   |               |                 | `abandon_at`               |
//! | session locator       | `SESSION#<session_id>`      | `SESSION`        |               |                 | as its session             |
//! | user (one document)   | `USER#<user_id>`            | `USER`           |               |                 |                            |
//! | identifier guard      | `IDENT#<kind>#<normalised>` | `IDENT`          |               |                 |                            |
//! | rate-limit counter    | `RATE#<bucket>#<subject>`   | `<window start>` |               |                 | end of the window          |
//! | instance secret       | `INSTANCE`                  | `<name>`         |               |                 |                            |
//!
//! ## Access patterns
//!
//! | pattern                                     | operation                                    | round trips |
//! |---------------------------------------------|----------------------------------------------|-------------|
//! | load a client with sessions and attempts    | Query `PK = CLIENT#cid`                      | 1           |
//! | render a client (with each session's user)  | the Query above + BatchGetItem of the users  | ≤ 2         |
//! | refresh a session token                     | the Query above                              | 1, no write |
//! | find a user by email / phone / username     | GetItem guard → GetItem user                 | 2           |
//! | create a user with unique identifiers       | TransactWriteItems: user + guards (`attribute_not_exists`) | 1 |
//! | list a user's sessions (all devices)        | Query `GSI1PK = USER#uid`, `GSI1SK` prefix `SESSION#` | 1  |
//! | find a session by id alone (Backend API)    | GetItem locator → Query its client           | 2           |
//! | count requests per IP and window            | UpdateItem `ADD n`                           | 1           |
//! | load signing keys / client-token secret     | GetItem `INSTANCE` (once per cold start)     | 1           |
//!
//! A client's partition stays small (one client, its few sessions, one current sign-in and
//! sign-up), so reading it whole is one cheap Query. Uniqueness of identifiers is never a
//! read-then-write: the guard items are written in the same transaction as the user.

use super::Key;

pub const CLIENT_SK: &str = "CLIENT";
pub const SESSION_PREFIX: &str = "SESSION#";
pub const SIGN_IN_PREFIX: &str = "SIGN_IN#";
pub const SIGN_UP_PREFIX: &str = "SIGN_UP#";
pub const USER_SK: &str = "USER";
pub const IDENT_SK: &str = "IDENT";
pub const INSTANCE_PK: &str = "INSTANCE";

pub fn client_pk(client_id: &str) -> String {
    format!("CLIENT#{client_id}")
}

pub fn client(client_id: &str) -> Key {
    Key::new(client_pk(client_id), CLIENT_SK)
}

pub fn session(client_id: &str, session_id: &str) -> Key {
    Key::new(
        client_pk(client_id),
        format!("{SESSION_PREFIX}{session_id}"),
    )
}

pub fn sign_in(client_id: &str, sign_in_id: &str) -> Key {
    Key::new(
        client_pk(client_id),
        format!("{SIGN_IN_PREFIX}{sign_in_id}"),
    )
}

pub fn sign_up(client_id: &str, sign_up_id: &str) -> Key {
    Key::new(
        client_pk(client_id),
        format!("{SIGN_UP_PREFIX}{sign_up_id}"),
    )
}

pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

pub fn user(user_id: &str) -> Key {
    Key::new(user_pk(user_id), USER_SK)
}

/// Where a session lives, for callers that know only its id (the Backend API): written once,
/// with the session, in the same transaction.
pub fn session_locator(session_id: &str) -> Key {
    Key::new(format!("{SESSION_PREFIX}{session_id}"), "SESSION")
}

/// The session's entry in the user index (`GSI1`).
pub fn session_gsi1(user_id: &str, session_id: &str) -> (String, String) {
    (user_pk(user_id), format!("{SESSION_PREFIX}{session_id}"))
}

pub use crate::vocabulary::IdentifierKind;

/// The guard item for an identifier; `normalised` must already be normalised (lower-cased
/// email, E.164 phone, lower-cased username).
pub fn identifier(kind: IdentifierKind, normalised: &str) -> Key {
    Key::new(format!("IDENT#{}#{normalised}", kind.tag()), IDENT_SK)
}

pub fn rate_counter(bucket: &str, subject: &str, window_start_secs: i64) -> Key {
    Key::new(
        format!("RATE#{bucket}#{subject}"),
        window_start_secs.to_string(),
    )
}

pub fn instance(name: &str) -> Key {
    Key::new(INSTANCE_PK, name)
}
