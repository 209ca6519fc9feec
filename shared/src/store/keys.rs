//! The single-table key design, written down before it is used.
//!
//! ## Items
//!
//! | item                  | PK                          | SK               | GSI1PK        | GSI1SK          | expires (`exp`)            |
//! |-----------------------|-----------------------------|------------------|---------------|-----------------|----------------------------|
//! | client                | `CLIENT#<client_id>`        | `CLIENT`         |               |                 | ended + 1 d, else idle 90 d |
//! | session               | `CLIENT#<client_id>`        | `SESSION#<id>`   | `USER#<uid>`  | `SESSION#LIVE#<id>` while active, `SESSION#DONE#<id>` once ended (older items: `SESSION#<id>`) | session expiry + retention |
//! | sign-in attempt       | `CLIENT#<client_id>`        | `SIGN_IN#<id>`   |               |                 | `abandon_at`               |
//! | sign-up attempt       | `CLIENT#<client_id>`        | `SIGN_UP#<id>`   |               |                 | `abandon_at`               |
//! | session locator       | `SESSION#<session_id>`      | `SESSION`        |               |                 | as its session             |
//! | user (one document)   | `USER#<user_id>`            | `USER`           | `USERS#<shard>` | `<created_at>#<uid>` |                       |
//! | identifier guard      | `IDENT#<kind>#<normalised>` | `IDENT`          |               |                 |                            |
//! | external-id guard     | `IDENT#external_id#<value>` | `IDENT`          |               |                 |                            |
//! | identification locator| `IDN#<identification_id>`   | `IDN`            |               |                 |                            |
//! | external-account guard| `IDENT#oauth_<p>#<provider user id>` | `IDENT` |              |                 |                            |
//! | passkey guard         | `IDENT#passkey#<credential id, base64url>` | `IDENT` |          |                 |                            |
//! | social sign-in state  | `OAUTH#<sha256(state)>`     | `OAUTH`          |               |                 | 10 minutes after it began  |
//! | email link            | `LINK#<sha256(token)>`      | `LINK`           |               |                 | a day past the link's expiry |
//! | webhook message       | `MSG#<message_id>`          | `MSG`            | `WEBHOOKS#PENDING` / `WEBHOOKS#FAILED` | `<due or failed at>#<id>` | delivered + 7 d |
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
//! | a user's live sessions (the cap, at every sign-in) | Query `GSI1PK = USER#uid`, `GSI1SK` prefix `SESSION#LIVE#` | 1 |
//! | find a session by id alone (Backend API)    | GetItem locator → Query its client           | 2           |
//! | list users newest (oldest) first, a page    | Query each `GSI1PK = USERS#shard`, `Limit` offset+limit, merged | 1 (8 in parallel) |
//! | list users by email / phone / username / external id / id | GetItem guards (BatchGetItem) → BatchGetItem users | 2 |
//! | count users                                 | Query every `USERS#shard`, `Select: COUNT`   | 1 (8 in parallel) |
//! | search users (`query`), another order       | Query every `USERS#shard` whole (reads every user once) | 1 (8 in parallel) |
//! | find an email address / phone number by id  | GetItem locator → GetItem user               | 2           |
//! | find the user a provider account is connected to | GetItem guard → GetItem user            | 2           |
//! | a passkey sign-in: whose credential it is   | GetItem guard → GetItem user                 | 2           |
//! | a social sign-in's callback: its state, used once | GetItem state; deleted (`attribute_exists`) with the attempt's writes | 1 + 1 |
//! | open an email link: what it verifies, once  | GetItem link; marked used (version-checked) before the attempt's writes | 1 + 1 |
//! | webhook messages due for delivery           | Query `GSI1PK = WEBHOOKS#PENDING`, oldest due first, `Limit` | 1 |
//! | failed webhook messages (operators)         | Query `GSI1PK = WEBHOOKS#FAILED`, newest first | 1         |
//! | count requests per IP and window            | UpdateItem `ADD n`                           | 1           |
//! | load signing keys / client-token secret     | GetItem `INSTANCE` (once per cold start)     | 1           |
//!
//! The user index spreads users over [`USER_SHARDS`] index partitions: every write of a user
//! document is also a write to its index partition, and one partition takes about 1,000 writes
//! a second (DynamoDB's per-partition limit), which sign-ins of one popular instance could
//! reach. A page in creation order reads at most offset + limit entries from each shard and
//! merges them. Counting reads no user out (`Select: COUNT`, still priced by the index's size);
//! searching (`query`) reads the index whole, one read of each user.
//!
//! A session's index entry says whether it is live, so the sign-in that checks a user's session
//! cap reads the live ones (at most the cap) rather than every session the user ever had; ended,
//! revoked and removed ones stay listed for `/v1/me/sessions` and the Backend API until their
//! items expire.
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

/// How many index partitions the users are spread over (see the module docs). Part of stored
/// keys: changing it needs a re-index.
pub const USER_SHARDS: u8 = 8;

/// The user index partition of shard `n`.
pub fn users_index_pk(shard: u8) -> String {
    format!("USERS#{shard}")
}

/// The user's entry in the user index: a stable shard from its id, sorted by creation time.
pub fn user_gsi1(user_id: &str, created_at_ms: i64) -> (String, String) {
    use sha2::{Digest as _, Sha256};
    let shard = Sha256::digest(user_id.as_bytes())[0] % USER_SHARDS;
    (
        users_index_pk(shard),
        format!("{:015}#{user_id}", created_at_ms.max(0)),
    )
}

/// The guard that keeps an external id (the app's own id for a user) to one user.
pub fn external_id(value: &str) -> Key {
    Key::new(format!("IDENT#external_id#{value}"), IDENT_SK)
}

/// The guard that keeps a provider account (`oauth_google` and the provider's user id) to one
/// user; the guard and identifier guards share the `IDENT#` space (`oauth_` never begins an
/// identifier kind's tag).
pub fn external_account(strategy: &str, provider_user_id: &str) -> Key {
    Key::new(format!("IDENT#{strategy}#{provider_user_id}"), IDENT_SK)
}

/// The guard that keeps a passkey's credential id to one user, and finds the user a
/// discoverable sign-in's credential belongs to (`passkey` never begins an identifier kind's
/// tag).
pub fn passkey(credential_id: &str) -> Key {
    Key::new(format!("IDENT#passkey#{credential_id}"), IDENT_SK)
}

/// A social sign-in's state, by the SHA-256 (hex) of the `state` parameter: the item never
/// holds the value a callback presents.
pub fn oauth_state(state_hash: &str) -> Key {
    Key::new(format!("OAUTH#{state_hash}"), "OAUTH")
}

/// An email link, by the SHA-256 (hex) of its token.
pub fn email_link(token_hash: &str) -> Key {
    Key::new(format!("LINK#{token_hash}"), "LINK")
}

/// Which user holds an email address or phone number, for callers that know only its id.
pub fn identification(identification_id: &str) -> Key {
    Key::new(format!("IDN#{identification_id}"), "IDN")
}

/// Event markers ride in a flow's writes to `Repo::commit`, which turns them into webhook
/// messages (`crate::webhooks`): never stored.
pub const EVENT_MARKER_PREFIX: &str = "EVENT#";

pub fn event_marker(event_id: &str) -> Key {
    Key::new(format!("{EVENT_MARKER_PREFIX}{event_id}"), "EVENT")
}

pub fn webhook_message(message_id: &str) -> Key {
    Key::new(format!("MSG#{message_id}"), "MSG")
}

/// The index partition of messages waiting for delivery, sorted by when they are due.
pub const WEBHOOKS_PENDING: &str = "WEBHOOKS#PENDING";
/// The index partition of messages whose attempts are used up, sorted by when they failed.
pub const WEBHOOKS_FAILED: &str = "WEBHOOKS#FAILED";

/// A message's index sort key: `<time, 15 digits>#<id>`.
pub fn webhook_sort_key(at_ms: i64, message_id: &str) -> String {
    format!("{:015}#{message_id}", at_ms.max(0))
}

/// Where a session lives, for callers that know only its id (the Backend API): written once,
/// with the session, in the same transaction.
pub fn session_locator(session_id: &str) -> Key {
    Key::new(format!("{SESSION_PREFIX}{session_id}"), "SESSION")
}

/// The user-index prefix of sessions that are live (active when last written).
pub const LIVE_SESSION_PREFIX: &str = "SESSION#LIVE#";
/// The user-index prefix of sessions that ended (ended, removed, revoked).
pub const DONE_SESSION_PREFIX: &str = "SESSION#DONE#";

/// The session's entry in the user index (`GSI1`): under the live prefix while it is `live`.
pub fn session_gsi1(user_id: &str, session_id: &str, live: bool) -> (String, String) {
    let prefix = if live {
        LIVE_SESSION_PREFIX
    } else {
        DONE_SESSION_PREFIX
    };
    (user_pk(user_id), format!("{prefix}{session_id}"))
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
