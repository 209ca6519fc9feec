//! The development outbox: every message becomes one JSON line
//! `{"to","channel","code","subject","body","sent_at"}` appended to a file
//! (`.frontdoor/outbox.jsonl` by default) and kept in memory for in-process tests.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;

use super::{Courier, Message};
use crate::clock::Clock;
use crate::error::{Error, Result};

pub struct Outbox {
    path: Option<PathBuf>,
    sent: Mutex<Vec<serde_json::Value>>,
    clock: Arc<dyn Clock>,
}

impl Outbox {
    /// An outbox that appends to `path` (its directory is created).
    pub fn to_file(path: PathBuf, clock: Arc<dyn Clock>) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::private_dir(dir)
                .map_err(|e| Error::internal(format!("outbox directory: {e}")))?;
        }
        crate::private_files::create_private_file(&path)
            .map_err(|e| Error::internal(format!("outbox file: {e}")))?;
        Ok(Self {
            path: Some(path),
            sent: Mutex::new(Vec::new()),
            clock,
        })
    }

    /// An outbox kept in memory only.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        Self {
            path: None,
            sent: Mutex::new(Vec::new()),
            clock,
        }
    }

    /// Every message sent so far, oldest first.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        match self.sent.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The code of the newest message sent to `to`.
    pub fn last_code_for(&self, to: &str) -> Option<String> {
        self.messages()
            .iter()
            .rev()
            .find(|m| m["to"] == to)
            .and_then(|m| m["code"].as_str().map(str::to_owned))
    }
}

#[async_trait]
impl Courier for Outbox {
    async fn send(&self, message: &Message) -> Result<()> {
        let line = json!({
            "to": message.to,
            "channel": message.channel,
            "code": message.code,
            "subject": message.subject,
            "body": message.text,
            "sent_at": self.clock.now_ms(),
        });
        if let Some(path) = &self.path {
            let mut text = line.to_string();
            text.push('\n');
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| Error::internal(format!("outbox write failed: {e}")))?;
        }
        // The code is in the outbox file, not in the log.
        tracing::info!(channel = ?message.channel, to = %message.to, subject = %message.subject, "outbox: message delivered");
        match self.sent.lock() {
            Ok(mut g) => g.push(line),
            Err(p) => p.into_inner().push(line),
        }
        Ok(())
    }
}
