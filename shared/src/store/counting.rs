//! A store wrapper that counts round trips, so tests can hold endpoints to their budgets
//! (`DESIGN.md` §3) by counting calls rather than timing them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{Item, ItemStore, Key, Query, StoreError, Write};

#[derive(Debug, Default)]
pub struct Counts {
    reads: AtomicU64,
    items_read: AtomicU64,
    writes: AtomicU64,
    commits: AtomicU64,
}

impl Counts {
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// Items the reads returned: what a read costs beyond its round trip (DynamoDB prices a
    /// query by the size of what it returns).
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Transactional writes of items (counter increments excluded): what a refused request
    /// must not have made.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.reads.store(0, Ordering::SeqCst);
        self.items_read.store(0, Ordering::SeqCst);
        self.writes.store(0, Ordering::SeqCst);
        self.commits.store(0, Ordering::SeqCst);
    }
}

pub struct CountingStore {
    inner: Arc<dyn ItemStore>,
    counts: Arc<Counts>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ItemStore>) -> (Self, Arc<Counts>) {
        let counts = Arc::new(Counts::default());
        (
            Self {
                inner,
                counts: Arc::clone(&counts),
            },
            counts,
        )
    }
}

impl CountingStore {
    fn counted(&self, items: usize) {
        self.counts
            .items_read
            .fetch_add(u64::try_from(items).unwrap_or(u64::MAX), Ordering::SeqCst);
    }
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        let item = self.inner.get(key).await?;
        self.counted(item.iter().count());
        Ok(item)
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        let items = self.inner.batch_get(keys).await?;
        self.counted(items.len());
        Ok(items)
    }

    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        let items = self.inner.query(query).await?;
        self.counted(items.len());
        Ok(items)
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.counts.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.write(writes).await
    }

    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.count(query).await
    }

    async fn scan(
        &self,
        pk_prefix: &str,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Key>), StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        let page = self.inner.scan(pk_prefix, after, limit).await?;
        self.counted(page.0.len());
        Ok(page)
    }

    async fn increment(&self, key: &Key, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.increment(key, by, expires_at).await
    }
}
