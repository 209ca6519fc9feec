//! The repository: domain records ↔ store items, written once for both engines.
//!
//! Flows call these functions; none of them knows which engine is underneath. The key design
//! and access patterns are in [`crate::store::keys`].

pub mod docs;
pub mod events;

pub use docs::{from_doc, to_doc};

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::duration_secs;
use crate::error::{Error, Result};
use crate::model::records::{
    ClientRecord, SessionRecord, SignInRecord, SignUpRecord, StoredUser, UserRecord,
};
use crate::security;
use crate::store::keys::{self, SESSION_PREFIX, SIGN_IN_PREFIX, SIGN_UP_PREFIX};
use crate::store::{Condition, Item, ItemStore, Key, Query, StoreError, Write};
use crate::vocabulary::IdentifierKind;

/// Items read per BatchGetItem (DynamoDB's limit is 100).
const SESSION_READ_BATCH: usize = 100;

/// A client with everything its partition holds: its sessions, newest first, and its current
/// sign-in and sign-up attempts.
#[derive(Debug, Clone)]
pub struct ClientAggregate {
    pub client: ClientRecord,
    pub sessions: Vec<SessionRecord>,
    pub sign_in: Option<SignInRecord>,
    pub sign_up: Option<SignUpRecord>,
}

/// A guard item's document: who holds the identifier.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct IdentifierOwner {
    pub user_id: String,
}

#[derive(Clone)]
pub struct Repo {
    store: Arc<dyn ItemStore>,
    /// Where event markers go (`crate::webhooks`); none without webhook endpoints.
    outbox: Option<Arc<events::Outbox>>,
}

impl Repo {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self {
            store,
            outbox: None,
        }
    }

    /// The repository, turning event markers into messages for `outbox`.
    pub fn with_outbox(mut self, outbox: Option<Arc<events::Outbox>>) -> Self {
        self.outbox = outbox;
        self
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
        let mut client: Option<ClientRecord> = None;
        let mut sessions = Vec::new();
        let mut sign_ins = Vec::new();
        let mut sign_ups = Vec::new();
        for item in &items {
            if item.sk == keys::CLIENT_SK {
                let mut c: ClientRecord = from_doc(item)?;
                c.version = item.version;
                client = Some(c);
            } else if item.sk.starts_with(SESSION_PREFIX) {
                sessions.push(Self::session_from(item)?);
            } else if item.sk.starts_with(SIGN_IN_PREFIX) {
                let mut s: SignInRecord = from_doc(item)?;
                s.version = item.version;
                sign_ins.push(s);
            } else if item.sk.starts_with(SIGN_UP_PREFIX) {
                let mut s: SignUpRecord = from_doc(item)?;
                s.version = item.version;
                sign_ups.push(s);
            }
        }
        let Some(client) = client.filter(|c| c.ended_at.is_none()) else {
            return Ok(None);
        };
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let sign_in = sign_ins
            .into_iter()
            .find(|s| Some(&s.id) == client.sign_in_id.as_ref());
        let sign_up = sign_ups
            .into_iter()
            .find(|s| Some(&s.id) == client.sign_up_id.as_ref());
        Ok(Some(ClientAggregate {
            client,
            sessions,
            sign_in,
            sign_up,
        }))
    }

    fn client_item(c: &ClientRecord, version: u64) -> Result<Item> {
        let item = Item::new(keys::client(&c.id), to_doc(c)?).with_version(version);
        // An ended client goes soon; any other goes once nothing has touched it for longer than
        // a session can live (sign-ins and touches write it), so unused clients do not pile up.
        let exp = match c.ended_at {
            Some(ended) => ended.div_euclid(1000) + duration_secs(security::ENDED_CLIENT_RETENTION),
            None => c.updated_at.div_euclid(1000) + duration_secs(security::IDLE_CLIENT_RETENTION),
        };
        Ok(item.with_expiry(exp))
    }

    /// The write that stores a client: a new one (version 0) must not exist yet, a loaded one
    /// must not have changed since it was read.
    pub fn client_write(c: &ClientRecord) -> Result<Write> {
        let (version, condition) = next_version(c.version);
        Ok(Write::put(Self::client_item(c, version)?, condition))
    }

    /// The writes that store a session (new, version 0, or unchanged since read), first, and
    /// the webhook event it is, if any.
    pub fn session_writes(s: &SessionRecord) -> Result<Vec<Write>> {
        let (gpk, gsk) = keys::session_gsi1(
            &s.user_id,
            &s.id,
            s.status == crate::model::records::SessionStatus::Active,
        );
        let (version, condition) = next_version(s.version);
        // Kept a little past its own expiry so a stale token still finds "expired", not nothing.
        let exp = s.expire_at.div_euclid(1000) + duration_secs(security::ENDED_CLIENT_RETENTION);
        let item = Item::new(keys::session(&s.client_id, &s.id), to_doc(s)?)
            .with_gsi1(gpk, gsk)
            .with_version(version)
            .with_expiry(exp);
        let mut writes = vec![Write::put(item, condition)];
        writes.extend(events::session_event(s));
        Ok(writes)
    }

    fn session_from(item: &Item) -> Result<SessionRecord> {
        let mut s: SessionRecord = from_doc(item)?;
        s.version = item.version;
        s.stored_status = Some(s.status);
        Ok(s)
    }

    /// The writes that store a new session: the session, and its locator (so the Backend API
    /// can find it by id alone).
    pub fn new_session_writes(s: &SessionRecord) -> Result<Vec<Write>> {
        let exp = s.expire_at.div_euclid(1000) + duration_secs(security::ENDED_CLIENT_RETENTION);
        let locator = SessionLocator {
            client_id: s.client_id.clone(),
            user_id: s.user_id.clone(),
        };
        let item = Item::new(keys::session_locator(&s.id), to_doc(&locator)?).with_expiry(exp);
        let mut writes = Self::session_writes(s)?;
        writes.insert(1, Write::put(item, Condition::NotExists));
        Ok(writes)
    }

    /// The client a session belongs to, found by the session's id alone.
    pub async fn locate_session(&self, session_id: &str) -> Result<Option<SessionLocator>> {
        match self.store.get(&keys::session_locator(session_id)).await? {
            Some(item) => from_doc(&item).map(Some),
            None => Ok(None),
        }
    }

    pub fn sign_in_write(s: &SignInRecord) -> Result<Write> {
        let (version, condition) = next_version(s.version);
        let item = Item::new(keys::sign_in(&s.client_id, &s.id), to_doc(s)?)
            .with_version(version)
            .with_expiry(s.abandon_at.div_euclid(1000));
        Ok(Write::put(item, condition))
    }

    pub fn sign_up_write(s: &SignUpRecord) -> Result<Write> {
        let (version, condition) = next_version(s.version);
        let item = Item::new(keys::sign_up(&s.client_id, &s.id), to_doc(s)?)
            .with_version(version)
            .with_expiry(s.abandon_at.div_euclid(1000));
        Ok(Write::put(item, condition))
    }

    /// The writes that store a user: its document (a new one, version 0, must not exist; a
    /// loaded one must not have changed since it was read), first, then what derives from it:
    /// a locator for each new email address or phone number, the removal of the locators of
    /// those it no longer has, and the webhook event it is, if any.
    pub fn user_writes(u: &UserRecord) -> Result<Vec<Write>> {
        let (version, condition) = next_version(u.version);
        let (gpk, gsk) = keys::user_gsi1(&u.id, u.created_at);
        let mut writes = vec![Write::put(
            Item::new(keys::user(&u.id), to_doc(u)?)
                .with_version(version)
                .with_gsi1(gpk, gsk),
            condition,
        )];
        let now = u.identification_ids();
        let owner = to_doc(&IdentifierOwner {
            user_id: u.id.clone(),
        })?;
        for id in now
            .iter()
            .filter(|id| !u.stored.identification_ids.contains(id))
        {
            writes.push(Write::put(
                Item::new(keys::identification(id), owner.clone()),
                Condition::None,
            ));
        }
        for id in u
            .stored
            .identification_ids
            .iter()
            .filter(|id| !now.contains(id))
        {
            writes.push(Write::delete(keys::identification(id), Condition::None));
        }
        writes.extend(events::user_event(u));
        Ok(writes)
    }

    /// The writes that delete a stored user: its document (unchanged since it was read) and the
    /// `user.deleted` event; then the deletes of its locators, which may follow in later
    /// transactions. Identifier guards are the caller's (they may belong to someone else).
    pub fn user_deletion_writes(u: &UserRecord, now: i64) -> (Vec<Write>, Vec<Write>) {
        let deletion = vec![
            Write::delete(keys::user(&u.id), Condition::Version(u.version)),
            events::user_deleted_event(u, now),
        ];
        let mut locators: Vec<Write> = Vec::new();
        for id in u
            .identification_ids()
            .iter()
            .chain(&u.stored.identification_ids)
        {
            let w = Write::delete(keys::identification(id), Condition::None);
            if !locators.contains(&w) {
                locators.push(w);
            }
        }
        (deletion, locators)
    }

    /// After `u`'s writes were committed: its next write compares against what it is now.
    pub fn user_written(u: &mut UserRecord) {
        u.version += 1;
        u.stored = StoredUser {
            identification_ids: u.identification_ids(),
            fingerprint: Some(events::user_fingerprint(u)),
        };
    }

    /// The user document in `item`, with what its next write compares against.
    fn user_from(item: &Item) -> Result<UserRecord> {
        let mut u: UserRecord = from_doc(item)?;
        u.version = item.version;
        u.stored = StoredUser {
            identification_ids: u.identification_ids(),
            fingerprint: Some(events::user_fingerprint(&u)),
        };
        Ok(u)
    }

    /// Who holds the email address or phone number with this id (its locator).
    pub async fn identification_owner(&self, identification_id: &str) -> Result<Option<String>> {
        match self
            .store
            .get(&keys::identification(identification_id))
            .await?
        {
            Some(item) => Ok(Some(from_doc::<IdentifierOwner>(&item)?.user_id)),
            None => Ok(None),
        }
    }

    /// The holders of these identifier guards, in one round trip (missing ones left out).
    pub async fn guard_owners(&self, guards: &[Key]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for batch in guards.chunks(SESSION_READ_BATCH) {
            for item in self.store.batch_get(batch).await? {
                out.push(from_doc::<IdentifierOwner>(&item)?.user_id);
            }
        }
        Ok(out)
    }

    /// The guard that keeps an external id to one user; fails if anyone holds it.
    pub fn claim_external_id_write(value: &str, user_id: &str) -> Result<Write> {
        let owner = IdentifierOwner {
            user_id: user_id.to_owned(),
        };
        Ok(Write::put(
            Item::new(keys::external_id(value), to_doc(&owner)?),
            Condition::NotExists,
        ))
    }

    pub fn release_external_id_write(value: &str) -> Write {
        Write::delete(keys::external_id(value), Condition::None)
    }

    /// How many users the user index holds: a count of each shard, run together, reading no
    /// user out.
    pub async fn count_indexed_users(&self) -> Result<usize> {
        let mut counts = tokio::task::JoinSet::new();
        for shard in 0..keys::USER_SHARDS {
            let store = Arc::clone(&self.store);
            let q = Query::gsi1(keys::users_index_pk(shard));
            counts.spawn(async move { store.count(&q).await });
        }
        let mut total = 0;
        while let Some(done) = counts.join_next().await {
            total += done.map_err(|e| Error::internal(format!("index count: {e}")))??;
        }
        Ok(total)
    }

    /// Users from the user index in creation order (`newest_first` or oldest first): the first
    /// `take` of them, or every user when `take` is `None`. Each shard is one Query, run
    /// together.
    pub async fn indexed_users(
        &self,
        newest_first: bool,
        take: Option<usize>,
    ) -> Result<Vec<UserRecord>> {
        let mut reads = tokio::task::JoinSet::new();
        for shard in 0..keys::USER_SHARDS {
            let mut q = Query::gsi1(keys::users_index_pk(shard));
            if newest_first {
                q = q.newest_first();
            }
            if let Some(n) = take {
                q = q.limit(n);
            }
            let store = Arc::clone(&self.store);
            reads.spawn(async move { store.query(&q).await });
        }
        let mut entries = Vec::new();
        while let Some(done) = reads.join_next().await {
            let items = done.map_err(|e| Error::internal(format!("index read: {e}")))??;
            entries.extend(items);
        }
        // The sort key is `<created_at>#<id>`: ordering by it merges the shards.
        entries.sort_by(|a, b| {
            let (ka, kb) = (a.gsi1.as_ref().map(|g| &g.1), b.gsi1.as_ref().map(|g| &g.1));
            if newest_first {
                kb.cmp(&ka)
            } else {
                ka.cmp(&kb)
            }
        });
        if let Some(n) = take {
            entries.truncate(n);
        }
        entries.iter().map(Self::user_from).collect()
    }

    /// The guard that reserves an identifier for a user; fails if anyone holds it.
    pub fn claim_identifier_write(
        kind: IdentifierKind,
        normalised: &str,
        user_id: &str,
    ) -> Result<Write> {
        let owner = IdentifierOwner {
            user_id: user_id.to_owned(),
        };
        Ok(Write::put(
            Item::new(keys::identifier(kind, normalised), to_doc(&owner)?),
            Condition::NotExists,
        ))
    }

    /// Claims a provider account for a user: fails if another user holds it.
    pub fn claim_external_account_write(
        strategy: &str,
        provider_user_id: &str,
        user_id: &str,
    ) -> Result<Write> {
        let owner = IdentifierOwner {
            user_id: user_id.to_owned(),
        };
        Ok(Write::put(
            Item::new(
                keys::external_account(strategy, provider_user_id),
                to_doc(&owner)?,
            ),
            Condition::NotExists,
        ))
    }

    /// Claims a passkey's credential id for a user: fails if anyone holds it.
    pub fn claim_passkey_write(credential_id: &str, user_id: &str) -> Result<Write> {
        let owner = IdentifierOwner {
            user_id: user_id.to_owned(),
        };
        Ok(Write::put(
            Item::new(keys::passkey(credential_id), to_doc(&owner)?),
            Condition::NotExists,
        ))
    }

    /// Frees a passkey's credential id.
    pub fn release_passkey_write(credential_id: &str) -> Write {
        Write::delete(keys::passkey(credential_id), Condition::None)
    }

    /// Who registered the passkey with this credential id (one GetItem on its guard).
    pub async fn passkey_owner(&self, credential_id: &str) -> Result<Option<String>> {
        match self.store.get(&keys::passkey(credential_id)).await? {
            Some(item) => Ok(Some(from_doc::<IdentifierOwner>(&item)?.user_id)),
            None => Ok(None),
        }
    }

    /// Frees a provider account.
    pub fn release_external_account_write(strategy: &str, provider_user_id: &str) -> Write {
        Write::delete(
            keys::external_account(strategy, provider_user_id),
            Condition::None,
        )
    }

    /// Frees an identifier.
    pub fn release_identifier_write(kind: IdentifierKind, normalised: &str) -> Write {
        Write::delete(keys::identifier(kind, normalised), Condition::None)
    }

    /// Who holds an identifier (one GetItem on its guard).
    pub async fn identifier_owner(
        &self,
        kind: IdentifierKind,
        normalised: &str,
    ) -> Result<Option<String>> {
        match self.store.get(&keys::identifier(kind, normalised)).await? {
            Some(item) => Ok(Some(from_doc::<IdentifierOwner>(&item)?.user_id)),
            None => Ok(None),
        }
    }

    pub async fn load_user(&self, user_id: &str) -> Result<Option<UserRecord>> {
        match self.store.get(&keys::user(user_id)).await? {
            Some(item) => Ok(Some(Self::user_from(&item)?)),
            None => Ok(None),
        }
    }

    /// Every session of a user, on every client (the user index).
    pub async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>> {
        self.user_sessions_under(user_id, SESSION_PREFIX).await
    }

    /// The user's sessions that were active when last written, on every client: at most the
    /// session cap, however many the user ever had. (Entries written before the index told
    /// live from ended apart are only in [`Repo::user_sessions`], until their items expire.)
    pub async fn user_live_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>> {
        self.user_sessions_under(user_id, keys::LIVE_SESSION_PREFIX)
            .await
    }

    async fn user_sessions_under(&self, user_id: &str, prefix: &str) -> Result<Vec<SessionRecord>> {
        let items = self
            .store
            .query(&Query::gsi1(keys::user_pk(user_id)).prefix(prefix))
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            out.push(Self::session_from(item)?);
        }
        Ok(out)
    }

    /// Applies writes all-or-nothing; a failed version check is a conflict the caller may retry.
    /// Event markers among them become webhook messages in the same transaction (or go, on an
    /// instance without webhooks); a failed condition is reported by the caller's numbering.
    pub async fn commit(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
        if !writes.iter().any(events::is_marker) {
            return self.store.write(writes).await;
        }
        let (writes, origin) = match &self.outbox {
            Some(outbox) => outbox
                .expand(writes)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            None => events::without_markers(writes),
        };
        if writes.is_empty() {
            // Only events nobody subscribed to.
            return Ok(());
        }
        match self.store.write(writes).await {
            Ok(()) => {
                if let Some(outbox) = &self.outbox {
                    outbox.wake();
                }
                Ok(())
            }
            Err(StoreError::ConditionFailed { index }) => Err(StoreError::ConditionFailed {
                index: origin.get(index).copied().unwrap_or(index),
            }),
            Err(e) => Err(e),
        }
    }

    /// Applies writes exactly as given (no event markers among them).
    pub async fn commit_raw(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
        self.store.write(writes).await
    }

    /// The users with these ids, in one round trip.
    /// The sessions as they are now, read by key (consistently: the user index may lag, and a
    /// write conditioned on a stale version would fail). Gone ones are left out.
    pub async fn reload_sessions(&self, sessions: &[SessionRecord]) -> Result<Vec<SessionRecord>> {
        let mut out = Vec::with_capacity(sessions.len());
        for batch in sessions.chunks(SESSION_READ_BATCH) {
            let keys: Vec<Key> = batch
                .iter()
                .map(|s| keys::session(&s.client_id, &s.id))
                .collect();
            for item in &self.store.batch_get(&keys).await? {
                out.push(Self::session_from(item)?);
            }
        }
        Ok(out)
    }

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
            let u = Self::user_from(item)?;
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

    /// Changes an instance-wide value with `change` (starting from `T::default()` when there is
    /// none), unless someone changed it meanwhile: then again, on what they wrote. Returns what
    /// `change` returned.
    pub async fn update_instance_value<T, R, F>(&self, name: &str, mut change: F) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Default,
        F: FnMut(&mut T) -> R,
    {
        let key = keys::instance(name);
        for _ in 0..10 {
            let (mut value, condition, version) = match self.store.get(&key).await? {
                Some(item) => (
                    from_doc::<T>(&item)?,
                    Condition::Version(item.version),
                    item.version + 1,
                ),
                None => (T::default(), Condition::NotExists, 1),
            };
            let out = change(&mut value);
            let item = Item::new(key.clone(), to_doc(&value)?).with_version(version);
            match self.store.write(vec![Write::put(item, condition)]).await {
                Ok(()) => return Ok(out),
                Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict())
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

/// Where a session lives: its client (the partition that holds it) and its user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionLocator {
    pub client_id: String,
    pub user_id: String,
}

/// Records read from the store carry their version; new ones carry 0 and must not exist yet.
fn next_version(current: u64) -> (u64, Condition) {
    if current == 0 {
        (1, Condition::NotExists)
    } else {
        (current + 1, Condition::Version(current))
    }
}
