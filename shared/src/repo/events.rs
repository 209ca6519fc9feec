//! Clerk-compatible webhooks, the store's side: events written in the same transaction as the
//! change that causes them (an outbox in the store), as messages the delivery flow
//! (`crate::flows::webhooks`) sends at least once, Svix-signed, with back-off.
//!
//! ```text
//!   flow ─► Repo::user_writes / session_writes ─► + an event marker (EVENT#…, never stored)
//!   Repo::commit ─► each marker becomes one message per subscribed endpoint (MSG#…, pending),
//!                   in the same transaction — or is dropped when no endpoint wants it
//!   delivery (flows::webhooks; locally a task of the server, deployed a function fed by
//!             Streams and a one-minute schedule):
//!     pending, due ─lease─► POST (signed) ─2xx─► delivered (kept 7 days)
//!                                        └─else─► pending again after back-off
//!                                                  └─ attempts used up ─► failed ─replay─► pending
//! ```
//!
//! Which changes are events (Clerk's names): `user.created` (a new user document),
//! `user.updated` (a stored user whose visible state changed: not sign-in bookkeeping),
//! `user.deleted`, `session.created`, `session.ended|removed|revoked` (a session reaching that
//! status), `email.created` and `sms.created` (a message sent; the payload never carries the
//! code, which is stored only as a hash).
//!
//! The payload is Clerk's: `{data, object: "event", type, timestamp, instance_id,
//! event_attributes}`, with `data` the Backend API's object as it was at the change.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::UnixMillis;
use crate::clock::duration_ms;
use crate::error::{Error, Result};
use crate::events::SigningSecret;
use crate::model::records::{SessionRecord, UserRecord};
use crate::model::render;
use crate::security;
use crate::settings::Settings;
use crate::store::keys;
use crate::store::{Condition, Item, Write};

use super::docs::{from_doc, to_doc};

/// A change that is an event, before the repository turns it into messages: what the flow's
/// writes carry to `Repo::commit`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingEvent {
    #[serde(rename = "type")]
    event_type: String,
    occurred_at: UnixMillis,
    /// The record as written (a user or session document), or the payload itself.
    record: Value,
}

/// A deterministic id from what identifies a change (the same change, the same id: a retried
/// commit cannot make a second event).
fn derived_id(prefix: &str, parts: &[&str]) -> String {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize());
    format!("{prefix}_{}", &digest[..27])
}

fn marker(event_type: &str, source: &str, occurred_at: UnixMillis, record: Value) -> Write {
    let id = derived_id("evt", &[event_type, source, &occurred_at.to_string()]);
    let pending = PendingEvent {
        event_type: event_type.to_owned(),
        occurred_at,
        record,
    };
    let doc = serde_json::to_value(&pending).unwrap_or(Value::Null);
    Write::put(Item::new(keys::event_marker(&id), doc), Condition::None)
}

/// Whether a write is an event marker (which `Repo::commit` expands or drops).
pub fn is_marker(w: &Write) -> bool {
    matches!(w, Write::Put { item, .. } if item.pk.starts_with(keys::EVENT_MARKER_PREFIX))
}

/// What in a user its webhooks hear about: everything but sign-in bookkeeping (failed attempts,
/// last sign-in and activity, the TOTP step, a password's rehash on sign-in: only whether there
/// is a password counts) and the update time itself.
pub fn user_fingerprint(u: &UserRecord) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut doc = serde_json::to_value(u).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut doc {
        for volatile in [
            "failed_attempts",
            "last_sign_in_at",
            "last_active_at",
            "updated_at",
            "totp_last_step",
        ] {
            map.remove(volatile);
        }
        if let Some(hash) = map.get_mut("password_hash") {
            *hash = Value::Bool(!hash.is_null());
        }
        // What an app sees of passkeys: the registered ones, by id and name. Their counters,
        // last use and registrations under way are bookkeeping.
        if let Some(Value::Array(passkeys)) = map.get_mut("passkeys") {
            passkeys.retain(|p| p["status"] == "verified");
            for p in passkeys.iter_mut() {
                *p = serde_json::json!({ "id": p["id"], "name": p["name"] });
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    h.finish()
}

/// The event a user write is, if any: created (version 0) or visibly updated.
pub fn user_event(u: &UserRecord) -> Option<Write> {
    let event_type = if u.version == 0 {
        "user.created"
    } else if u.stored.fingerprint != Some(user_fingerprint(u)) {
        "user.updated"
    } else {
        return None;
    };
    let record = serde_json::to_value(u).ok()?;
    let source = format!("{}#{}", u.id, u.version);
    Some(marker(event_type, &source, u.updated_at, record))
}

/// The event of a user's deletion.
pub fn user_deleted_event(u: &UserRecord, at: UnixMillis) -> Write {
    let data = json!({ "object": "user", "id": u.id, "deleted": true });
    marker("user.deleted", &format!("{}#deleted", u.id), at, data)
}

/// The event a session write is, if any: created, or a status it just reached.
pub fn session_event(s: &SessionRecord) -> Option<Write> {
    use crate::model::records::SessionStatus;
    let event_type = if s.version == 0 {
        "session.created"
    } else if s.stored_status == Some(s.status) {
        return None;
    } else {
        match s.status {
            SessionStatus::Ended => "session.ended",
            SessionStatus::Removed => "session.removed",
            SessionStatus::Revoked => "session.revoked",
            _ => return None,
        }
    };
    let record = serde_json::to_value(s).ok()?;
    let source = format!("{}#{}", s.id, s.version);
    Some(marker(event_type, &source, s.updated_at, record))
}

/// The event of a message sent (`email.created` / `sms.created`), without the code.
pub fn message_event(
    channel: crate::courier::Channel,
    message_id: &str,
    to: &str,
    subject: &str,
    at: UnixMillis,
) -> Write {
    use crate::courier::Channel;
    let (event_type, data) = match channel {
        Channel::Email => (
            "email.created",
            json!({
                "object": "email",
                "id": message_id,
                "slug": "verification_code",
                "to_email_address": to,
                "subject": subject,
                "status": "delivered",
                "delivered_by_clerk": true,
                "data": {},
            }),
        ),
        Channel::Sms => (
            "sms.created",
            json!({
                "object": "sms_message",
                "id": message_id,
                "slug": "verification_code",
                "to_phone_number": to,
                "status": "delivered",
                "delivered_by_clerk": true,
                "data": {},
            }),
        ),
    };
    marker(event_type, message_id, at, data)
}

/// One endpoint, ready to send to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    /// Absent in processes that only write events.
    pub secret: Option<SigningSecret>,
    /// Every type when empty.
    pub events: Vec<String>,
}

impl Endpoint {
    fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

/// The instance's webhook configuration in effect: its endpoints (secrets resolved), how it
/// retries, and the wake-up call for a local delivery worker.
pub struct Outbox {
    pub endpoints: Vec<Endpoint>,
    pub max_attempts: u32,
    pub first_retry_ms: u64,
    pub max_retry_delay_ms: u64,
    instance_id: String,
    settings: Settings,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// The outbox the settings describe (secrets named by `secret_env` read through `env`), or
    /// none when there are no endpoints.
    pub fn from_settings(
        settings: &Settings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Arc<Self>>> {
        let w = &settings.webhooks;
        if w.endpoints.is_empty() {
            return Ok(None);
        }
        let mut endpoints = Vec::new();
        for e in &w.endpoints {
            // Only the process that delivers needs the secret (the deployed functions that
            // write events are not given it); `require_secrets` checks it there.
            let text = match (&e.secret, &e.secret_env) {
                (Some(s), _) => Some(s.clone()),
                (None, Some(var)) => env(var).filter(|v| !v.trim().is_empty()),
                (None, None) => None,
            };
            let secret = text
                .map(|t| SigningSecret::parse(&t))
                .transpose()
                .map_err(|problem| {
                    Error::internal(format!("webhook endpoint `{}`: {problem}", e.name))
                })?;
            endpoints.push(Endpoint {
                name: e.name.clone(),
                url: e.url.clone(),
                secret,
                events: e.events.clone(),
            });
        }
        Ok(Some(Arc::new(Self {
            endpoints,
            max_attempts: w.max_attempts,
            first_retry_ms: w.first_retry_ms,
            max_retry_delay_ms: w.max_retry_delay_secs.saturating_mul(1000),
            instance_id: instance_id(settings),
            settings: settings.clone(),
            wake: tokio::sync::Notify::new(),
        })))
    }

    /// Fails unless every endpoint's signing secret is in hand (a delivering process).
    pub fn require_secrets(&self) -> Result<()> {
        match self.endpoints.iter().find(|e| e.secret.is_none()) {
            Some(e) => Err(Error::internal(format!(
                "webhook endpoint `{}` has no signing secret in this process (its `secret_env` variable is unset)",
                e.name
            ))),
            None => Ok(()),
        }
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// Wakes a waiting delivery worker (new messages were committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Outbox::wake`].
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The payload of an event, as Clerk sends it.
    fn payload(&self, e: &PendingEvent) -> Value {
        // A record that does not decode is sent as its id alone: never the stored document,
        // which holds hashes and secrets.
        let bare = |object: &str| json!({ "object": object, "id": e.record.get("id") });
        let data = if e.event_type.starts_with("user.") && e.event_type != "user.deleted" {
            match serde_json::from_value::<UserRecord>(e.record.clone()) {
                Ok(u) => render::backend_user(&u, &self.settings, e.occurred_at),
                Err(_) => bare("user"),
            }
        } else if e.event_type.starts_with("session.") {
            match serde_json::from_value::<SessionRecord>(e.record.clone()) {
                Ok(s) => render::backend_session(&s, e.occurred_at),
                Err(_) => bare("session"),
            }
        } else {
            e.record.clone()
        };
        json!({
            "data": data,
            "object": "event",
            "type": e.event_type,
            "timestamp": e.occurred_at,
            "instance_id": self.instance_id,
            "event_attributes": { "http_request": { "client_ip": "", "user_agent": "" } },
        })
    }

    /// Replaces each event marker with a pending message per endpoint that wants it. Returns
    /// the writes and, for each, the index of the write it came from (to report failed
    /// conditions by the caller's numbering).
    pub fn expand(&self, writes: Vec<Write>) -> Result<(Vec<Write>, Vec<usize>)> {
        let mut out = Vec::with_capacity(writes.len());
        let mut origin = Vec::with_capacity(writes.len());
        for (i, w) in writes.into_iter().enumerate() {
            let Write::Put { item, .. } = &w else {
                out.push(w);
                origin.push(i);
                continue;
            };
            let Some(event_id) = item.pk.strip_prefix(keys::EVENT_MARKER_PREFIX) else {
                out.push(w);
                origin.push(i);
                continue;
            };
            let event: PendingEvent = serde_json::from_value(item.doc.clone())
                .map_err(|e| Error::internal(format!("event marker: {e}")))?;
            let body = self.payload(&event).to_string();
            for endpoint in self.endpoints.iter().filter(|e| e.wants(&event.event_type)) {
                let m = MessageRecord::new(
                    derived_id("msg", &[event_id, &endpoint.name]),
                    event_id,
                    &event.event_type,
                    &endpoint.name,
                    body.clone(),
                    event.occurred_at,
                );
                out.push(message_write(&m, Condition::None)?);
                origin.push(i);
            }
        }
        Ok((out, origin))
    }
}

/// Drops the event markers (an instance without endpoints).
pub fn without_markers(writes: Vec<Write>) -> (Vec<Write>, Vec<usize>) {
    writes
        .into_iter()
        .enumerate()
        .filter(|(_, w)| !is_marker(w))
        .map(|(i, w)| (w, i))
        .unzip()
}

/// The `instance_id` of events: stable for the instance (from its Frontend API URL).
fn instance_id(settings: &Settings) -> String {
    derived_id("ins", &[&settings.instance.frontend_api_url])
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Pending,
    Delivered,
    Failed,
}

/// One event for one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRecord {
    /// `svix-id`: the same on every attempt.
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// The endpoint's name in the settings.
    pub endpoint: String,
    /// The payload, exactly as signed and sent.
    pub body: String,
    pub created_at: UnixMillis,
    pub status: MessageStatus,
    pub attempts: u32,
    /// When it may be sent next (pending), or the end of a worker's lease on it.
    pub next_attempt_at: UnixMillis,
    pub last_attempt_at: Option<UnixMillis>,
    /// What the last attempt got: `HTTP <status>` or the transport's error (never a body).
    pub last_result: Option<String>,
    pub delivered_at: Option<UnixMillis>,
    pub failed_at: Option<UnixMillis>,
    #[serde(skip)]
    pub version: u64,
}

impl MessageRecord {
    pub fn new(
        id: String,
        event_id: &str,
        event_type: &str,
        endpoint: &str,
        body: String,
        now: UnixMillis,
    ) -> Self {
        Self {
            id,
            event_id: event_id.to_owned(),
            event_type: event_type.to_owned(),
            endpoint: endpoint.to_owned(),
            body,
            created_at: now,
            status: MessageStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_attempt_at: None,
            last_result: None,
            delivered_at: None,
            failed_at: None,
            version: 0,
        }
    }
}

/// The write that stores a message, indexed by its status: pending by due time, failed by
/// failure time; a delivered one leaves the index and expires after the retention.
pub fn message_write(m: &MessageRecord, condition: Condition) -> Result<Write> {
    let mut item = Item::new(keys::webhook_message(&m.id), to_doc(m)?).with_version(m.version + 1);
    match m.status {
        MessageStatus::Pending => {
            item = item.with_gsi1(
                keys::WEBHOOKS_PENDING,
                keys::webhook_sort_key(m.next_attempt_at, &m.id),
            );
        }
        MessageStatus::Failed => {
            let at = m.failed_at.unwrap_or(m.created_at);
            item = item.with_gsi1(keys::WEBHOOKS_FAILED, keys::webhook_sort_key(at, &m.id));
        }
        MessageStatus::Delivered => {
            let at = m.delivered_at.unwrap_or(m.created_at);
            let keep = duration_ms(security::WEBHOOK_DELIVERED_RETENTION);
            item = item.with_expiry((at + keep).div_euclid(1000));
        }
    }
    Ok(Write::put(item, condition))
}

pub fn message_from(item: &Item) -> Result<MessageRecord> {
    let mut m: MessageRecord = from_doc(item)?;
    m.version = item.version;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::{PasskeyRecord, VerificationStatus};

    fn passkey(id: &str, status: VerificationStatus) -> PasskeyRecord {
        PasskeyRecord {
            id: id.into(),
            name: "Laptop".into(),
            status,
            ceremony: None,
            credential_id: Some("Y3JlZA".into()),
            credential: Some(json!({ "cred": { "counter": 1 } })),
            last_used_at: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn passkey_bookkeeping_is_no_user_update_but_a_new_name_is() {
        let mut u = UserRecord::new("user_1".into(), 1);
        u.passkeys
            .push(passkey("pk_1", VerificationStatus::Verified));
        let before = user_fingerprint(&u);
        // A sign-in with it: counter, last use.
        u.passkeys[0].credential = Some(json!({ "cred": { "counter": 7 } }));
        u.passkeys[0].last_used_at = Some(99);
        u.passkeys[0].updated_at = 99;
        // A registration under way.
        u.passkeys
            .push(passkey("pk_2", VerificationStatus::Unverified));
        assert_eq!(user_fingerprint(&u), before);
        u.passkeys[0].name = "Work laptop".into();
        assert_ne!(user_fingerprint(&u), before);
    }
}
