//! The item store: one narrow trait with DynamoDB's semantics, implemented twice.
//!
//! Flows never see it directly; the repository (`crate::repo`) maps domain objects to items once,
//! and the same mapping runs on either engine:
//!
//! - [`dynamodb::DynamoStore`], the production engine (one table, `aws-sdk-dynamodb`);
//! - [`sqlite::SqliteStore`], the embedded engine for `make dev` and most tests.
//!
//! What the trait promises, on both engines (the conformance suite in `tests/` checks each):
//!
//! - items are addressed by `(pk, sk)`; a partition is read in sort-key order, optionally by
//!   sort-key prefix and newest first;
//! - one sparse global secondary index, `gsi1`, on `(gsi1pk, gsi1sk)`;
//! - every write carries a [`Condition`] (`attribute_not_exists`, `attribute_exists`, or an exact
//!   `version`), and a list of writes is all-or-nothing; a failed condition names the write that
//!   failed;
//! - items with an `expires_at` (Unix seconds, the TTL attribute) in the past are invisible to
//!   reads and count as absent for conditions — DynamoDB deletes them up to 48 h late, so the
//!   filter is ours, not the engine's;
//! - atomic counters (`increment`) for rate limits;
//! - a paged scan by partition-key prefix, for operators' maintenance only.
//!
//! The key design (what lives under which `pk`/`sk`) is in [`keys`].

pub mod counting;
pub mod dynamodb;
pub mod keys;
#[cfg(feature = "embedded-store")]
pub mod sqlite;

use async_trait::async_trait;
use serde_json::Value;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item: its keys, its optimistic-concurrency version, its expiry and its document.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// `(gsi1pk, gsi1sk)` when the item is in the secondary index.
    pub gsi1: Option<(String, String)>,
    /// Bumped by the writer on every update; conditions compare it.
    pub version: u64,
    /// Unix seconds after which the item no longer exists for readers.
    pub expires_at: Option<i64>,
    pub doc: Value,
}

impl Item {
    pub fn new(key: Key, doc: Value) -> Self {
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1: None,
            version: 1,
            expires_at: None,
            doc,
        }
    }

    pub fn key(&self) -> Key {
        Key::new(self.pk.clone(), self.sk.clone())
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some((pk.into(), sk.into()));
        self
    }

    pub fn with_expiry(mut self, unix_secs: i64) -> Self {
        self.expires_at = Some(unix_secs);
        self
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
}

/// The condition a write needs to hold on the current item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    None,
    /// No live item has this key (`attribute_not_exists`).
    NotExists,
    /// A live item has this key (`attribute_exists`).
    Exists,
    /// A live item has this key at exactly this version.
    Version(u64),
}

impl Condition {
    /// Whether the condition holds for the current item, given as `(version, expires_at)`.
    pub fn holds(self, current: Option<(u64, Option<i64>)>, now_secs: i64) -> bool {
        let live = current.filter(|(_, exp)| exp.is_none_or(|e| e > now_secs));
        match self {
            Condition::None => true,
            Condition::NotExists => live.is_none(),
            Condition::Exists => live.is_some(),
            Condition::Version(v) => live.is_some_and(|(cur, _)| cur == v),
        }
    }
}

/// One operation of an all-or-nothing write.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Writes nothing; fails the whole write unless the condition holds.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl Write {
    pub fn put(item: Item, condition: Condition) -> Self {
        Write::Put { item, condition }
    }

    pub fn delete(key: Key, condition: Condition) -> Self {
        Write::Delete { key, condition }
    }

    pub fn check(key: Key, condition: Condition) -> Self {
        Write::Check { key, condition }
    }

    pub fn key(&self) -> Key {
        match self {
            Write::Put { item, .. } => item.key(),
            Write::Delete { key, .. } | Write::Check { key, .. } => key.clone(),
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            Write::Put { condition, .. }
            | Write::Delete { condition, .. }
            | Write::Check { condition, .. } => *condition,
        }
    }
}

/// Which index a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Table,
    Gsi1,
}

/// A read of one partition, in sort-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk_prefix: Option<String>,
    pub descending: bool,
    pub limit: Option<usize>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Table,
            pk: pk.into(),
            sk_prefix: None,
            descending: false,
            limit: None,
        }
    }

    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            ..Self::partition(pk)
        }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sk_prefix = Some(prefix.into());
        self
    }

    pub fn newest_first(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The condition of write number `index` (in the order given) did not hold; nothing was written.
    #[error("condition of write {index} failed")]
    ConditionFailed { index: usize },
    /// Another transaction touched the same items at the same time; nothing was written; retry.
    #[error("transaction conflict")]
    Conflict,
    /// The request itself was invalid (e.g. two operations on one item).
    #[error("invalid store request: {0}")]
    Invalid(String),
    #[error("store backend failed: {0}")]
    Backend(String),
}

impl From<StoreError> for crate::error::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed { .. } | StoreError::Conflict => {
                crate::error::Error::conflict()
            }
            other => crate::error::Error::internal(other.to_string()),
        }
    }
}

/// At most this many operations go in one write (DynamoDB's TransactWriteItems limit).
pub const MAX_WRITES: usize = 100;

#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Strongly consistent read of one item.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Strongly consistent read of several items in one round trip; missing ones are skipped.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// Items of one partition (table: strongly consistent; gsi1: eventually consistent on DynamoDB).
    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError>;

    /// How many live items `query` would return (its `limit` and order ignored), without
    /// reading them out: on DynamoDB a `Select: COUNT` query.
    async fn count(&self, query: &Query) -> Result<usize, StoreError>;

    /// All-or-nothing conditional writes.
    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// Up to `limit` live items whose partition key starts with `pk_prefix`, after the item
    /// `after` (the continuation the previous page returned), and the continuation when more
    /// may follow. A read of the whole table: for operators' maintenance (`frontdoor users
    /// reindex`), never on a request path.
    async fn scan(
        &self,
        pk_prefix: &str,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Key>), StoreError>;

    /// Atomically adds `by` to the counter at `key` (creating it at 0) and returns the new value.
    /// `expires_at` is set when the counter is created.
    async fn increment(&self, key: &Key, by: i64, expires_at: i64) -> Result<i64, StoreError>;
}

/// Checks what both engines refuse alike, so the embedded engine is never more lenient.
pub fn validate_writes(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Err(StoreError::Invalid("no writes".into()));
    }
    if writes.len() > MAX_WRITES {
        return Err(StoreError::Invalid(format!(
            "{} writes exceed the limit of {MAX_WRITES}",
            writes.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for w in writes {
        if !seen.insert(w.key()) {
            return Err(StoreError::Invalid(
                "two operations on one item in one transaction".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_items_count_as_absent() {
        let now = 1_000;
        assert!(Condition::NotExists.holds(Some((1, Some(999))), now));
        assert!(!Condition::NotExists.holds(Some((1, Some(1_001))), now));
        assert!(!Condition::Version(1).holds(Some((1, Some(1_000))), now));
        assert!(Condition::Version(2).holds(Some((2, None)), now));
        assert!(!Condition::Exists.holds(None, now));
    }
}
