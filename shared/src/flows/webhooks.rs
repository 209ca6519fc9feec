//! Delivering webhook messages: at least once, in due order, with back-off and a retry cap;
//! failed ones listed for operators and replayed on request.
//!
//! ```text
//!   pending (due ≤ now) ──lease (due = now + lease)──► POST ──2xx──► delivered
//!        ▲                        │                       └─other / timeout / error──┐
//!        │                        └─ worker stops mid-way: lease released (or expires) │
//!        └──── attempts < max: due = now + first_retry × factor^(attempts-1) ◄─────────┘
//!                     attempts = max ──► failed ──replay──► pending (attempts from 0)
//! ```
//!
//! Every step is one conditional write on the message (its version), so two workers never send
//! the same attempt, and a worker that dies holding a lease leaves the message to be sent again
//! when the lease runs out. Receivers de-duplicate on `svix-id`, which stays the same on every
//! attempt.

use std::sync::Arc;

use crate::app::App;
use crate::clock::{UnixMillis, duration_ms};
use crate::error::{Code, Error, Result};
use crate::repo::events::{
    Endpoint, MessageRecord, MessageStatus, Outbox, message_from, message_write,
};
use crate::security;
use crate::store::{Condition, Query, StoreError, keys};
use crate::webhooks::Transport;

/// Messages read per round.
const ROUND_SIZE: usize = 25;

/// Writes `m` unless it changed since it was read; `false` when another worker got there first.
async fn save(app: &App, m: &mut MessageRecord) -> Result<bool> {
    let w = message_write(m, Condition::Version(m.version))?;
    match app.repo.commit_raw(vec![w]).await {
        Ok(()) => {
            m.version += 1;
            Ok(true)
        }
        Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The wait after attempt number `attempts` failed (1 for the first).
pub fn retry_delay(outbox: &Outbox, attempts: u32) -> UnixMillis {
    let factor = security::WEBHOOK_BACKOFF_FACTOR.saturating_pow(attempts.saturating_sub(1));
    let ms = outbox
        .first_retry_ms
        .saturating_mul(factor)
        .min(outbox.max_retry_delay_ms);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// What one round did, and when the next message falls due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub attempted: usize,
    pub delivered: usize,
    pub failed: usize,
    /// The earliest due time of a message this round left pending.
    pub next_due: Option<UnixMillis>,
    /// The worker was asked to stop mid-round (the message in hand was released).
    pub stopped: bool,
}

/// Sends every message due now (up to a round's worth). `stop`, when it turns true, ends the
/// round at once: the message being sent goes back to pending, due now, its attempt uncounted.
pub async fn deliver_due(
    app: &App,
    transport: &dyn Transport,
    mut stop: Option<&mut tokio::sync::watch::Receiver<bool>>,
) -> Result<Round> {
    let mut round = Round::default();
    let Some(outbox) = app.webhooks.clone() else {
        return Ok(round);
    };
    let now = app.now_ms();
    let items = app
        .repo
        .store()
        .query(&Query::gsi1(keys::WEBHOOKS_PENDING).limit(ROUND_SIZE))
        .await?;
    for item in &items {
        if stop.as_deref().is_some_and(|rx| *rx.borrow()) {
            round.stopped = true;
            return Ok(round);
        }
        let mut m = message_from(item)?;
        if m.status != MessageStatus::Pending {
            continue;
        }
        if m.next_attempt_at > now {
            round.next_due = Some(
                round
                    .next_due
                    .map_or(m.next_attempt_at, |d| d.min(m.next_attempt_at)),
            );
            continue;
        }
        match deliver_one(app, &outbox, transport, &mut m, stop.as_deref_mut()).await? {
            Outcome::Skipped => {}
            Outcome::Stopped => {
                round.stopped = true;
                return Ok(round);
            }
            Outcome::Delivered => {
                round.attempted += 1;
                round.delivered += 1;
            }
            Outcome::Failed => {
                round.attempted += 1;
                round.failed += 1;
            }
            Outcome::Retry(due) => {
                round.attempted += 1;
                round.next_due = Some(round.next_due.map_or(due, |d| d.min(due)));
            }
        }
    }
    let last_was_due = items
        .last()
        .and_then(|i| i.gsi1.as_ref())
        .is_some_and(|(_, sk)| *sk <= keys::webhook_sort_key(now, "~"));
    if items.len() == ROUND_SIZE && last_was_due {
        // More may be due behind this round: at once.
        round.next_due = Some(now);
    }
    Ok(round)
}

enum Outcome {
    /// Another worker holds it, or it changed.
    Skipped,
    Stopped,
    Delivered,
    Failed,
    Retry(UnixMillis),
}

async fn deliver_one(
    app: &App,
    outbox: &Outbox,
    transport: &dyn Transport,
    m: &mut MessageRecord,
    stop: Option<&mut tokio::sync::watch::Receiver<bool>>,
) -> Result<Outcome> {
    let now = app.now_ms();
    m.next_attempt_at = now + duration_ms(security::WEBHOOK_LEASE);
    if !save(app, m).await? {
        return Ok(Outcome::Skipped);
    }
    let result = match outbox.endpoint(&m.endpoint) {
        None => Err(format!("endpoint `{}` is no longer configured", m.endpoint)),
        Some(Endpoint { secret: None, .. }) => Err(format!(
            "endpoint `{}` has no signing secret here",
            m.endpoint
        )),
        Some(
            endpoint @ Endpoint {
                secret: Some(secret),
                ..
            },
        ) => {
            let timestamp = app.clock.now_secs();
            let headers = [
                ("content-type", "application/json".to_owned()),
                ("svix-id", m.id.clone()),
                ("svix-timestamp", timestamp.to_string()),
                ("svix-signature", secret.sign(&m.id, timestamp, &m.body)),
            ];
            let send = tokio::time::timeout(
                security::WEBHOOK_TIMEOUT,
                transport.post(&endpoint.url, &headers, &m.body),
            );
            let stopped = async {
                match stop {
                    Some(rx) => {
                        while !*rx.borrow() {
                            if rx.changed().await.is_err() {
                                std::future::pending::<()>().await;
                            }
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                r = send => match r {
                    Ok(Ok(status)) if (200..300).contains(&status) => Ok(status),
                    Ok(Ok(status)) => Err(format!("HTTP {status}")),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(format!("no answer within {} s", security::WEBHOOK_TIMEOUT.as_secs())),
                },
                () = stopped => {
                    m.next_attempt_at = app.now_ms();
                    save(app, m).await?;
                    return Ok(Outcome::Stopped);
                }
            }
        }
    };
    let now = app.now_ms();
    m.attempts += 1;
    m.last_attempt_at = Some(now);
    let outcome = match result {
        Ok(status) => {
            m.status = MessageStatus::Delivered;
            m.delivered_at = Some(now);
            m.last_result = Some(format!("HTTP {status}"));
            Outcome::Delivered
        }
        Err(why) => {
            tracing::warn!(message = %m.id, endpoint = %m.endpoint, attempt = m.attempts, %why, "webhook delivery failed");
            m.last_result = Some(why);
            if m.attempts >= outbox.max_attempts {
                m.status = MessageStatus::Failed;
                m.failed_at = Some(now);
                Outcome::Failed
            } else {
                m.next_attempt_at = now + retry_delay(outbox, m.attempts);
                Outcome::Retry(m.next_attempt_at)
            }
        }
    };
    // Lost only if the lease ran out and another worker took the message meanwhile: it then
    // counts that worker's attempt instead.
    save(app, m).await?;
    Ok(outcome)
}

/// Failed messages, most recent failure first.
pub async fn failed(app: &App, limit: usize) -> Result<Vec<MessageRecord>> {
    let items = app
        .repo
        .store()
        .query(
            &Query::gsi1(keys::WEBHOOKS_FAILED)
                .newest_first()
                .limit(limit),
        )
        .await?;
    items.iter().map(message_from).collect()
}

/// Sends a failed (or delivered, still kept) message again: pending, due now, with a fresh set
/// of attempts.
pub async fn replay(app: &App, message_id: &str) -> Result<MessageRecord> {
    let item = app
        .repo
        .store()
        .get(&keys::webhook_message(message_id))
        .await?
        .ok_or_else(|| {
            Error::new(Code::ResourceNotFound).long(format!("No webhook message `{message_id}`."))
        })?;
    let mut m = message_from(&item)?;
    if m.status == MessageStatus::Pending {
        return Ok(m);
    }
    m.status = MessageStatus::Pending;
    m.attempts = 0;
    m.next_attempt_at = app.now_ms();
    m.failed_at = None;
    m.delivered_at = None;
    if !save(app, &mut m).await? {
        return Err(Error::conflict());
    }
    if let Some(outbox) = &app.webhooks {
        outbox.wake();
    }
    Ok(m)
}

/// Delivers until `stop` turns true: after each round, waits for the next due message, a new
/// one (the outbox's wake-up), or at most a second (other processes may write messages too).
pub async fn run_worker(
    app: App,
    transport: Arc<dyn Transport>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(outbox) = app.webhooks.clone() else {
        return;
    };
    if let Err(e) = outbox.require_secrets() {
        tracing::error!(error = %e, "webhooks will not be delivered");
        return;
    }
    const POLL: std::time::Duration = std::time::Duration::from_secs(1);
    while !*stop.borrow() {
        let wait = match deliver_due(&app, transport.as_ref(), Some(&mut stop)).await {
            Ok(round) if round.stopped => return,
            Ok(round) => round
                .next_due
                .map(|due| {
                    let ms = u64::try_from(due - app.now_ms()).unwrap_or(0);
                    std::time::Duration::from_millis(ms).min(POLL)
                })
                .unwrap_or(POLL),
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery round failed");
                POLL
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = outbox.woken() => {}
            _ = stop.changed() => {}
        }
    }
}
