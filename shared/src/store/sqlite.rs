//! The embedded engine: SQLite (rusqlite, `bundled`).
//!
//! Why SQLite rather than a pure-Rust key-value store (redb, fjall): every DynamoDB feature the
//! item store needs maps onto it one to one — `PRIMARY KEY(pk, sk) WITHOUT ROWID` gives ordered
//! partitions, a partial index is a sparse GSI, `BEGIN IMMEDIATE` gives serialisable
//! all-or-nothing writes whose per-item conditions we check inside the transaction, and an upsert
//! is an atomic counter. With redb the index, the conditions and the query layer would all be
//! hand-written. The bundled C build is paid once per machine and cached.
//!
//! The connection is blocking, so each call runs on tokio's blocking pool behind one mutex:
//! writes are serialised, which is exactly the isolation DynamoDB transactions give.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Index, Item, ItemStore, Key, Query, StoreError, Write, validate_writes};
use crate::clock::Clock;
use crate::private_files;

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    /// When expired items were last deleted (Unix seconds).
    last_purge: Arc<AtomicI64>,
}

/// How often expired items (rate-limit counters above all) are deleted, as DynamoDB's TTL
/// would: at most once a minute, on a counter increment.
const PURGE_EVERY_SECS: i64 = 60;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS items (
    pk      TEXT NOT NULL,
    sk      TEXT NOT NULL,
    gsi1pk  TEXT,
    gsi1sk  TEXT,
    ver     INTEGER NOT NULL DEFAULT 0,
    exp     INTEGER,
    doc     TEXT NOT NULL DEFAULT 'null',
    n       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gsi1 ON items (gsi1pk, gsi1sk) WHERE gsi1pk IS NOT NULL;
";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_files::private_dir(dir).map_err(backend)?;
        }
        // Private before SQLite writes anything into it (its journal files take the same mode).
        private_files::create_private_file(path).map_err(backend)?;
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn, clock)
    }

    /// How many items the database holds, live or expired (for operators and tests).
    pub async fn item_count(&self) -> Result<i64, StoreError> {
        self.run(|conn, _| {
            conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
                .map_err(backend)
        })
        .await
    }

    /// A private in-memory database, for tests.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::init(conn, clock)
    }

    fn init(conn: Connection, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            clock,
            last_purge: Arc::new(AtomicI64::new(0)),
        })
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let now = self.clock.now_secs();
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            f(&mut guard, now)
        })
        .await
        .map_err(backend)?
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves SQLite itself consistent (the transaction rolls
    // back when dropped), so a poisoned lock is safe to reuse.
    match conn.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, ver, exp, doc";

fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Item, StoreError>> {
    let pk: String = row.get(0)?;
    let sk: String = row.get(1)?;
    let gpk: Option<String> = row.get(2)?;
    let gsk: Option<String> = row.get(3)?;
    let ver: i64 = row.get(4)?;
    let exp: Option<i64> = row.get(5)?;
    let doc: String = row.get(6)?;
    Ok(serde_json::from_str(&doc).map_err(backend).map(|doc| Item {
        pk,
        sk,
        gsi1: gpk.zip(gsk),
        version: u64::try_from(ver).unwrap_or(0),
        expires_at: exp,
        doc,
    }))
}

fn get_one(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2 AND (exp IS NULL OR exp > ?3)"
    );
    conn.query_row(&sql, params![key.pk, key.sk, now], row_to_item)
        .optional()
        .map_err(backend)?
        .transpose()
}

fn current_state(conn: &Connection, key: &Key) -> Result<Option<(u64, Option<i64>)>, StoreError> {
    conn.query_row(
        "SELECT ver, exp FROM items WHERE pk = ?1 AND sk = ?2",
        params![key.pk, key.sk],
        |r| {
            let v: i64 = r.get(0)?;
            let e: Option<i64> = r.get(1)?;
            Ok((u64::try_from(v).unwrap_or(0), e))
        },
    )
    .optional()
    .map_err(backend)
}

#[async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.run(move |conn, now| get_one(conn, &key, now)).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let keys = keys.to_vec();
        self.run(move |conn, now| {
            let mut out = Vec::with_capacity(keys.len());
            for k in &keys {
                if let Some(item) = get_one(conn, k, now)? {
                    out.push(item);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        let q = query.clone();
        self.run(move |conn, now| {
            let (pk_col, sk_col) = match q.index {
                Index::Table => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let order = if q.descending { "DESC" } else { "ASC" };
            let limit = q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let prefix = q.sk_prefix.clone().unwrap_or_default();
            let sql = format!(
                "SELECT {COLUMNS} FROM items WHERE {pk_col} = ?1 \
                 AND substr({sk_col}, 1, length(?2)) = ?2 \
                 AND (exp IS NULL OR exp > ?3) ORDER BY {sk_col} {order} LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(params![q.pk, prefix, now, limit], row_to_item)
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r.map_err(backend)??);
            }
            Ok(out)
        })
        .await
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_writes(&writes)?;
        self.run(move |conn, now| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            for (index, w) in writes.iter().enumerate() {
                let current = current_state(&tx, &w.key())?;
                if !w.condition().holds(current, now) {
                    // Dropping `tx` rolls back everything written so far.
                    return Err(StoreError::ConditionFailed { index });
                }
                match w {
                    Write::Put { item, .. } => {
                        let doc = serde_json::to_string(&item.doc).map_err(backend)?;
                        let (gpk, gsk) = item.gsi1.clone().unzip();
                        tx.execute(
                            "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, ver, exp, doc, n) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
                            params![
                                item.pk,
                                item.sk,
                                gpk,
                                gsk,
                                i64::try_from(item.version).unwrap_or(i64::MAX),
                                item.expires_at,
                                doc
                            ],
                        )
                        .map_err(backend)?;
                    }
                    Write::Delete { key, .. } => {
                        tx.execute(
                            "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
                            params![key.pk, key.sk],
                        )
                        .map_err(backend)?;
                    }
                    Write::Check { .. } => {}
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn count(&self, query: &Query) -> Result<usize, StoreError> {
        let q = query.clone();
        self.run(move |conn, now| {
            let (pk_col, sk_col) = match q.index {
                Index::Table => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let prefix = q.sk_prefix.clone().unwrap_or_default();
            let sql = format!(
                "SELECT COUNT(*) FROM items WHERE {pk_col} = ?1 \
                 AND substr({sk_col}, 1, length(?2)) = ?2 AND (exp IS NULL OR exp > ?3)"
            );
            let n: i64 = conn
                .query_row(&sql, params![q.pk, prefix, now], |r| r.get(0))
                .map_err(backend)?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn scan(
        &self,
        pk_prefix: &str,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Key>), StoreError> {
        let prefix = pk_prefix.to_owned();
        let (after_pk, after_sk) = after.map_or((String::new(), String::new()), |k| {
            (k.pk.clone(), k.sk.clone())
        });
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        let items = self
            .run(move |conn, now| {
                let sql = format!(
                    "SELECT {COLUMNS} FROM items WHERE substr(pk, 1, length(?1)) = ?1 \
                     AND (pk > ?2 OR (pk = ?2 AND sk > ?3)) \
                     AND (exp IS NULL OR exp > ?4) ORDER BY pk, sk LIMIT ?5"
                );
                let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
                let rows = stmt
                    .query_map(params![prefix, after_pk, after_sk, now, n], row_to_item)
                    .map_err(backend)?;
                let mut out = Vec::new();
                for r in rows {
                    out.push(r.map_err(backend)??);
                }
                Ok(out)
            })
            .await?;
        let next = (items.len() == limit)
            .then(|| items.last().map(Item::key))
            .flatten();
        Ok((items, next))
    }

    async fn increment(&self, key: &Key, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        let key = key.clone();
        let last = self.last_purge.load(Ordering::Relaxed);
        let now_secs = self.clock.now_secs();
        let purge = now_secs - last >= PURGE_EVERY_SECS
            && self
                .last_purge
                .compare_exchange(last, now_secs, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        self.run(move |conn, now| {
            if purge {
                conn.execute(
                    "DELETE FROM items WHERE exp IS NOT NULL AND exp <= ?1",
                    params![now],
                )
                .map_err(backend)?;
            }
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            // An expired counter that the engine has not dropped yet starts again from zero, as
            // a fresh DynamoDB item would once TTL has removed it.
            tx.execute(
                "DELETE FROM items WHERE pk = ?1 AND sk = ?2 AND exp IS NOT NULL AND exp <= ?3",
                params![key.pk, key.sk, now],
            )
            .map_err(backend)?;
            let n: i64 = tx
                .query_row(
                    "INSERT INTO items (pk, sk, exp, n) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (pk, sk) DO UPDATE SET n = n + excluded.n RETURNING n",
                    params![key.pk, key.sk, expires_at, by],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n)
        })
        .await
    }
}
