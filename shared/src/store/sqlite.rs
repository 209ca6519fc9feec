//! The embedded engine: SQLite (rusqlite, `bundled`).
//!
//! Why SQLite rather than a pure-Rust key-value store (redb, fjall): every DynamoDB feature the
//! item store needs maps onto it one to one — `PRIMARY KEY(pk, sk) WITHOUT ROWID` gives ordered
//! partitions, a partial index is a sparse GSI, `BEGIN IMMEDIATE` gives serialisable
//! all-or-nothing writes whose per-item conditions we check inside the transaction, and an upsert
//! is an atomic counter. With redb the index, the conditions and the query layer would all be
//! hand-written. The bundled C build is paid once per machine and cached.
//!
//! Writes go through one connection behind one mutex, on tokio's blocking pool: they are
//! serialised, which is exactly the isolation DynamoDB transactions give. Reads of a partition
//! (a key, a few keys, a client's or a user's items — small by the key design) run in place on
//! whichever connection is free, because a point read of cached pages takes less time than
//! handing it to another thread; a database file has read connections of its own for that,
//! which WAL lets read beside a write. Index reads, scans and counts, which may read many
//! rows, go to the blocking pool.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Index, Item, ItemStore, Key, Query, StoreError, Write, validate_writes};
use crate::clock::Clock;
use crate::private_files;

pub struct SqliteStore {
    conns: Arc<Connections>,
    clock: Arc<dyn Clock>,
    /// When expired items were last deleted (Unix seconds).
    last_purge: Arc<AtomicI64>,
}

/// The connections to one database.
struct Connections {
    /// Every write, and reads when it is free.
    writer: Mutex<Connection>,
    /// Read-only connections to a database file (none for an in-memory database, which only
    /// its own connection can see).
    readers: Vec<Mutex<Connection>>,
}

impl Connections {
    /// A connection no one holds right now: a reader, else the writer.
    fn free_for_read(&self) -> Option<MutexGuard<'_, Connection>> {
        self.readers
            .iter()
            .chain(std::iter::once(&self.writer))
            .find_map(|conn| match conn.try_lock() {
                Ok(guard) => Some(guard),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            })
    }

    /// A connection for a read, waited for: the first reader, else the writer.
    fn wait_for_read(&self) -> MutexGuard<'_, Connection> {
        lock(self.readers.first().unwrap_or(&self.writer))
    }
}

/// Read connections per database file: one per core, as reads run on the async workers.
fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// How often expired items (rate-limit counters above all) are deleted, as DynamoDB's TTL
/// would: at most once a minute, on a counter increment.
const PURGE_EVERY_SECS: i64 = 60;

const STATEMENT_CACHE: usize = 64;

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
        let writer = Self::prepare(conn, true)?;
        let mut readers = Vec::new();
        for _ in 0..reader_count() {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
            readers.push(Mutex::new(Self::prepare(conn, false)?));
        }
        Ok(Self::new(writer, readers, clock))
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
        Ok(Self::new(Self::prepare(conn, true)?, Vec::new(), clock))
    }

    fn new(writer: Connection, readers: Vec<Mutex<Connection>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            conns: Arc::new(Connections {
                writer: Mutex::new(writer),
                readers,
            }),
            clock,
            last_purge: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Sets a connection up; the writer also creates the schema.
    fn prepare(conn: Connection, writer: bool) -> Result<Connection, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        if writer {
            conn.execute_batch(SCHEMA).map_err(backend)?;
        }
        // Every statement is prepared once per connection and reused (parsing and planning
        // cost more than running a point read); there are about twenty distinct ones. The
        // bundled SQLite (STAT4) would otherwise re-plan a statement whenever a value bound in a
        // range or LIMIT changes — every call here; the plans are key seeks whatever the values,
        // so the planner is told to keep them.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(backend)?;
        Ok(conn)
    }

    /// A write (or an operator's whole-table read), on the writer, on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let conns = Arc::clone(&self.conns);
        let now = self.clock.now_secs();
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conns.writer);
            f(&mut guard, now)
        })
        .await
        .map_err(backend)?
    }

    /// A read of any size, on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let conns = Arc::clone(&self.conns);
        let now = self.clock.now_secs();
        tokio::task::spawn_blocking(move || f(&conns.wait_for_read(), now))
            .await
            .map_err(backend)?
    }

    /// A read of one partition: in place on a free connection, else on the blocking pool.
    async fn read_partition<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let now = self.clock.now_secs();
        if let Some(conn) = self.conns.free_for_read() {
            return f(&conn, now);
        }
        self.read(f).await
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
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(params![key.pk, key.sk, now], row_to_item)
                .optional()
        })
        .map_err(backend)?
        .transpose()
}

fn current_state(conn: &Connection, key: &Key) -> Result<Option<(u64, Option<i64>)>, StoreError> {
    conn.prepare_cached("SELECT ver, exp FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.pk, key.sk], |r| {
                let v: i64 = r.get(0)?;
                let e: Option<i64> = r.get(1)?;
                Ok((u64::try_from(v).unwrap_or(0), e))
            })
            .optional()
        })
        .map_err(backend)
}

/// The least string above every string that starts with `prefix` (its last character stepped
/// up), so that a prefix is a range `[prefix, upper)` the primary key or the index can seek —
/// in binary collation, UTF-8 byte order is code-point order. `None` when nothing is above
/// (the prefix is empty, or all U+10FFFF).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A key prefix as a range condition on `column`, with its named parameters (`:lower`, and
/// `:upper` when there is one).
struct PrefixRange {
    lower: String,
    upper: Option<String>,
}

impl PrefixRange {
    fn new(prefix: &str) -> Self {
        Self {
            lower: prefix.to_owned(),
            upper: prefix_upper_bound(prefix),
        }
    }

    fn condition(&self, column: &str) -> String {
        match self.upper {
            Some(_) => format!("{column} >= :lower AND {column} < :upper"),
            None => format!("{column} >= :lower"),
        }
    }

    /// The statement's parameters: `named` followed by the range's own.
    fn with<'a>(
        &'a self,
        mut named: Vec<(&'a str, &'a dyn rusqlite::ToSql)>,
    ) -> Vec<(&'a str, &'a dyn rusqlite::ToSql)> {
        named.push((":lower", &self.lower));
        if let Some(upper) = &self.upper {
            named.push((":upper", upper));
        }
        named
    }
}

/// Collects at most `limit` items from a statement's rows: the limit is applied while stepping,
/// so one cached statement serves every limit.
fn collect_items(
    rows: impl Iterator<Item = rusqlite::Result<Result<Item, StoreError>>>,
    limit: Option<usize>,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    for r in rows.take(limit.unwrap_or(usize::MAX)) {
        out.push(r.map_err(backend)??);
    }
    Ok(out)
}

#[async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.read_partition(move |conn, now| get_one(conn, &key, now))
            .await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let keys = keys.to_vec();
        self.read_partition(move |conn, now| {
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
        let read = move |conn: &Connection, now: i64| {
            let (pk_col, sk_col) = match q.index {
                Index::Table => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let order = if q.descending { "DESC" } else { "ASC" };
            let range = PrefixRange::new(q.sk_prefix.as_deref().unwrap_or_default());
            let sql = format!(
                "SELECT {COLUMNS} FROM items WHERE {pk_col} = :pk AND {} \
                 AND (exp IS NULL OR exp > :now) ORDER BY {sk_col} {order}",
                range.condition(sk_col)
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(
                    range.with(vec![(":pk", &q.pk), (":now", &now)]).as_slice(),
                    row_to_item,
                )
                .map_err(backend)?;
            collect_items(rows, q.limit)
        };
        match query.index {
            // A partition of the table is small by the key design; an index partition (the
            // user directory) may hold every user.
            Index::Table => self.read_partition(read).await,
            Index::Gsi1 => self.read(read).await,
        }
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
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, ver, exp, doc, n) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
                        )
                        .and_then(|mut stmt| stmt.execute(params![
                                item.pk,
                                item.sk,
                                gpk,
                                gsk,
                                i64::try_from(item.version).unwrap_or(i64::MAX),
                                item.expires_at,
                                doc
                            ]))
                        .map_err(backend)?;
                    }
                    Write::Delete { key, .. } => {
                        tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                            .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk]))
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
        self.read(move |conn, now| {
            let (pk_col, sk_col) = match q.index {
                Index::Table => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let range = PrefixRange::new(q.sk_prefix.as_deref().unwrap_or_default());
            let sql = format!(
                "SELECT COUNT(*) FROM items WHERE {pk_col} = :pk AND {} \
                 AND (exp IS NULL OR exp > :now)",
                range.condition(sk_col)
            );
            let n: i64 = conn
                .prepare_cached(&sql)
                .and_then(|mut stmt| {
                    stmt.query_row(
                        range.with(vec![(":pk", &q.pk), (":now", &now)]).as_slice(),
                        |r| r.get(0),
                    )
                })
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
        let items = self
            .read(move |conn, now| {
                let range = PrefixRange::new(&prefix);
                let sql = format!(
                    "SELECT {COLUMNS} FROM items WHERE {} \
                     AND (pk > :after_pk OR (pk = :after_pk AND sk > :after_sk)) \
                     AND (exp IS NULL OR exp > :now) ORDER BY pk, sk",
                    range.condition("pk")
                );
                let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
                let rows = stmt
                    .query_map(
                        range
                            .with(vec![
                                (":after_pk", &after_pk),
                                (":after_sk", &after_sk),
                                (":now", &now),
                            ])
                            .as_slice(),
                        row_to_item,
                    )
                    .map_err(backend)?;
                collect_items(rows, Some(limit))
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
            tx.prepare_cached(
                "DELETE FROM items WHERE pk = ?1 AND sk = ?2 AND exp IS NOT NULL AND exp <= ?3",
            )
            .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk, now]))
            .map_err(backend)?;
            let n: i64 = tx
                .prepare_cached(
                    "INSERT INTO items (pk, sk, exp, n) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (pk, sk) DO UPDATE SET n = n + excluded.n RETURNING n",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![key.pk, key.sk, expires_at, by], |r| r.get(0))
                })
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn a_prefix_is_bounded_by_its_last_character_stepped_up() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("SESS#").as_deref(), Some("SESS$"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }
}
