//! The repository: domain records ↔ store items, written once for both engines.
//!
//! Flows call these functions; none of them knows which engine is underneath. The key design
//! and access patterns are in [`crate::store::keys`].

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::duration_secs;
use crate::error::{Error, Result};
use crate::model::records::{ClientRecord, SessionRecord, UserRecord};
use crate::security;
use crate::store::keys::{self, SESSION_PREFIX};
use crate::store::{Condition, Item, ItemStore, Key, Query, StoreError, Write};

/// A client with everything its partition holds.
#[derive(Debug, Clone)]
pub struct ClientAggregate {
    pub client: ClientRecord,
    pub sessions: Vec<SessionRecord>,
}

#[derive(Clone)]
pub struct Repo {
    store: Arc<dyn ItemStore>,
}

pub fn to_doc<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::internal(format!("encode: {e}")))
}

pub fn from_doc<T: DeserializeOwned>(item: &Item) -> Result<T> {
    serde_json::from_value(item.doc.clone())
        .map_err(|e| Error::internal(format!("decode {}/{}: {e}", item.pk, item.sk)))
}

impl Repo {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<dyn ItemStore> {
        &self.store
    }

    /// One Query: the client, its sessions (and, later, its attempts). `None` when the client
    /// does not exist or has ended.
    pub async fn load_client(&self, client_id: &str) -> Result<Option<ClientAggregate>> {
        let items = self
            .store
            .query(&Query::partition(keys::client_pk(client_id)))
            .await?;
        let mut client = None;
        let mut sessions = Vec::new();
        for item in &items {
            if item.sk == keys::CLIENT_SK {
                let mut c: ClientRecord = from_doc(item)?;
                c.version = item.version;
                client = Some(c);
            } else if item.sk.starts_with(SESSION_PREFIX) {
                let mut s: SessionRecord = from_doc(item)?;
                s.version = item.version;
                sessions.push(s);
            }
        }
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(client
            .filter(|c| c.ended_at.is_none())
            .map(|client| ClientAggregate { client, sessions }))
    }

    fn client_item(c: &ClientRecord, version: u64) -> Result<Item> {
        let mut item = Item::new(keys::client(&c.id), to_doc(c)?).with_version(version);
        if let Some(ended) = c.ended_at {
            item = item.with_expiry(
                ended.div_euclid(1000) + duration_secs(security::ENDED_CLIENT_RETENTION),
            );
        }
        Ok(item)
    }

    /// The write that creates a client (fails if the id is taken).
    pub fn insert_client_write(c: &ClientRecord) -> Result<Write> {
        Ok(Write::put(Self::client_item(c, 1)?, Condition::NotExists))
    }

    /// The write that stores a changed client, if nobody changed it since it was read.
    pub fn update_client_write(c: &ClientRecord) -> Result<Write> {
        Ok(Write::put(
            Self::client_item(c, c.version + 1)?,
            Condition::Version(c.version),
        ))
    }

    pub fn session_write(s: &SessionRecord, condition: Condition) -> Result<Write> {
        let (gpk, gsk) = keys::session_gsi1(&s.user_id, &s.id);
        let version = match condition {
            Condition::Version(v) => v + 1,
            _ => 1,
        };
        // Kept a little past its own expiry so a stale token still finds "expired", not nothing.
        let exp = s.expire_at.div_euclid(1000) + duration_secs(security::ENDED_CLIENT_RETENTION);
        let item = Item::new(keys::session(&s.client_id, &s.id), to_doc(s)?)
            .with_gsi1(gpk, gsk)
            .with_version(version)
            .with_expiry(exp);
        Ok(Write::put(item, condition))
    }

    /// Applies writes all-or-nothing; a failed version check is a conflict the caller may retry.
    pub async fn commit(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
        self.store.write(writes).await
    }

    /// The users with these ids, in one round trip.
    pub async fn load_users(&self, ids: &[String]) -> Result<HashMap<String, UserRecord>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut unique: Vec<String> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let keys: Vec<Key> = unique.iter().map(|id| keys::user(id)).collect();
        let items = self.store.batch_get(&keys).await?;
        let mut out = HashMap::new();
        for item in &items {
            let mut u: UserRecord = from_doc(item)?;
            u.version = item.version;
            out.insert(u.id.clone(), u);
        }
        Ok(out)
    }

    /// Reads an instance-wide value, creating it with `make` on first use. Two processes that
    /// start together both try; the store's condition lets exactly one win and the other reads.
    pub async fn instance_value<T, F>(&self, name: &str, make: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T>,
    {
        let key = keys::instance(name);
        if let Some(item) = self.store.get(&key).await? {
            return from_doc(&item);
        }
        let value = make()?;
        let item = Item::new(key.clone(), to_doc(&value)?);
        match self
            .store
            .write(vec![Write::put(item, Condition::NotExists)])
            .await
        {
            Ok(()) => Ok(value),
            Err(StoreError::ConditionFailed { .. }) => {
                let item =
                    self.store.get(&key).await?.ok_or_else(|| {
                        Error::internal(format!("instance value {name} vanished"))
                    })?;
                from_doc(&item)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces an instance-wide value unconditionally (key rotation by an operator).
    pub async fn put_instance_value<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let item = Item::new(keys::instance(name), to_doc(value)?);
        self.store
            .write(vec![Write::put(item, Condition::None)])
            .await
            .map_err(Into::into)
    }
}
