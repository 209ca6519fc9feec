//! The courier port: how one-time codes reach people.
//!
//! Adapters: SES v2 (email), SNS (SMS) — built once per cold start — and the development
//! [`outbox::Outbox`], which appends each message to a JSON-lines file that tests and developers
//! read. The outbox is never used by a production instance. A courier failure is an error the
//! caller sees; the verification it belonged to stays retryable.

pub mod aws;
pub mod outbox;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

/// A message ready to send. `code` is carried separately so that the outbox can record it;
/// it is also inside the bodies.
#[derive(Clone, Serialize)]
pub struct Message {
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub code: String,
}

impl std::fmt::Debug for Message {
    // Codes never reach logs, even through a Debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Courier: Send + Sync {
    async fn send(&self, message: &Message) -> Result<()>;
}

/// The courier of an instance that has none configured: every send fails loudly rather than
/// pretending a code went out.
#[derive(Debug, Default)]
pub struct NoCourier;

#[async_trait]
impl Courier for NoCourier {
    async fn send(&self, _message: &Message) -> Result<()> {
        Err(crate::error::Error::internal(
            "no courier is configured for this instance",
        ))
    }
}
