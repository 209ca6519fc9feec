//! The application: everything a request needs, built once per process (per Lambda cold start)
//! and shared by every request.

use std::sync::{Arc, RwLock};

use crate::capabilities::Capabilities;
use crate::client_token::ClientTokens;
use crate::clock::{Clock, SystemClock};
use crate::codes::CodeHasher;
use crate::courier::Courier;
use crate::courier::NoCourier;
use crate::error::{Error, Result};
use crate::keys::{KeyRing, SigningKey, StoredKey};
use crate::password::Passwords;
use crate::random::{OsRandom, Random};
use crate::repo::Repo;
use crate::security;
use crate::settings::Settings;
use crate::store::ItemStore;

const SIGNING_KEYS: &str = "SIGNING_KEYS";
const CLIENT_TOKEN_SECRET: &str = "CLIENT_TOKEN_SECRET";
/// The hashes of the secret keys the operator created (`crate::secret_keys`).
const SECRET_KEYS: &str = "SECRET_KEYS";

pub struct AppInner {
    pub settings: Settings,
    /// What the settings allow, computed once: every flow and the environment ask this.
    pub capabilities: Capabilities,
    pub repo: Repo,
    /// The webhook endpoints and retry policy (`crate::webhooks`); none without endpoints.
    pub webhooks: Option<Arc<crate::repo::events::Outbox>>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub courier: Arc<dyn Courier>,
    /// The social connections and the means to reach their providers (`crate::social`).
    pub social: crate::social::Social,
    /// Where profile images are kept; none in a process that serves no profile images.
    pub images: Option<Arc<dyn crate::images::ImageStore>>,
    /// The WebAuthn relying party; none while passkeys are off.
    pub passkeys: Option<crate::passkeys::RelyingParty>,
    pub client_tokens: ClientTokens,
    pub codes: CodeHasher,
    pub passwords: Passwords,
    /// None only while the first key of a fresh store is being generated in the background.
    keys: RwLock<Option<Arc<KeyRing>>>,
    /// Turns true once `keys` holds a ring.
    keys_ready: tokio::sync::watch::Receiver<bool>,
    /// How long a retired key stays published (the longest token lifetime).
    publish_grace: std::time::Duration,
    /// Whether the keys come from the store (and may be rotated there), not an operator PEM.
    keys_in_store: bool,
    /// When the key ring was last read from the store (real time: this is a cache, not a rule).
    keys_read: std::sync::Mutex<std::time::Instant>,
    /// The hash of the secret key configured for this process (`FRONTDOOR_SECRET_KEY`), if any.
    configured_secret_key: Option<String>,
    /// The stored secret-key hashes in hand, and when they were read (a cache).
    stored_secret_keys: std::sync::Mutex<(Vec<String>, Option<std::time::Instant>)>,
}

/// Cheap to clone; every request holds one.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl std::ops::Deref for App {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

pub struct AppBuilder {
    settings: Settings,
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    courier: Option<Arc<dyn Courier>>,
    provider_http: Option<Arc<dyn crate::social::ProviderHttp>>,
    images: Option<Arc<dyn crate::images::ImageStore>>,
    signing_key_pem: Option<String>,
    secret_key: Option<String>,
    keys_in_background: bool,
}

impl AppBuilder {
    /// On a store without signing keys, generates the first one after `build` returns, so the
    /// first requests need not wait for it (the local server); only what signs waits. Without
    /// it, `build` generates the key itself (a Lambda's init, never a request).
    pub fn keys_in_background(mut self, yes: bool) -> Self {
        self.keys_in_background = yes;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    pub fn courier(mut self, courier: Arc<dyn Courier>) -> Self {
        self.courier = Some(courier);
        self
    }

    /// Where profile images are kept.
    pub fn images(mut self, store: Arc<dyn crate::images::ImageStore>) -> Self {
        self.images = Some(store);
        self
    }

    /// How social sign-in reaches the providers (needed when the settings connect any).
    pub fn provider_http(mut self, http: Arc<dyn crate::social::ProviderHttp>) -> Self {
        self.provider_http = Some(http);
        self
    }

    /// Signs with the operator's key (PKCS#8 PEM) instead of a generated one.
    pub fn signing_key_pem(mut self, pem: Option<String>) -> Self {
        self.signing_key_pem = pem;
        self
    }

    /// Accepts this secret key on the Backend API (besides the stored ones); only its hash is
    /// kept. It must be of the instance's type (`sk_test_` in development, `sk_live_` else).
    pub fn secret_key(mut self, key: Option<String>) -> Self {
        self.secret_key = key;
        self
    }

    /// Loads (or, on first start, creates and persists) the signing keys and the client-token
    /// secret.
    pub async fn build(self) -> Result<App> {
        let webhooks =
            crate::repo::events::Outbox::from_settings(&self.settings, |v| std::env::var(v).ok())?;
        let repo = Repo::new(self.store).with_outbox(webhooks.clone());
        let social = crate::social::Social::from_settings(
            &self.settings,
            |v| std::env::var(v).ok(),
            self.provider_http.clone(),
        )
        .map_err(|e| Error::internal(e.to_string()))?;
        let now = self.clock.now_ms();
        let grace = std::time::Duration::from_secs(
            self.settings
                .jwt_templates
                .values()
                .map(|t| t.lifetime_secs)
                .chain([self.settings.sessions.token_lifetime_secs])
                .max()
                .unwrap_or(security::SESSION_TOKEN_LIFETIME.as_secs()),
        );
        let stored_keys = |stored: Vec<StoredKey>| {
            stored
                .iter()
                .map(SigningKey::from_stored)
                .collect::<Result<Vec<_>>>()
        };
        let keys = match &self.signing_key_pem {
            Some(pem) => Some(vec![SigningKey::from_pem(pem, now)?]),
            None => match repo
                .store()
                .get(&crate::store::keys::instance(SIGNING_KEYS))
                .await?
            {
                Some(item) => Some(stored_keys(crate::repo::from_doc(&item)?)?),
                None if self.keys_in_background => None,
                None => Some(stored_keys(
                    repo.instance_value(SIGNING_KEYS, || {
                        Ok(vec![SigningKey::generate(now)?.to_stored()])
                    })
                    .await?,
                )?),
            },
        };
        let random = Arc::clone(&self.random);
        let secret: String = repo
            .instance_value(CLIENT_TOKEN_SECRET, || {
                Ok(crate::random::token(
                    random.as_ref(),
                    security::CLIENT_TOKEN_SECRET_BYTES,
                ))
            })
            .await?;
        let development = self.settings.is_development();
        if let Some(key) = &self.secret_key
            && !key.starts_with(crate::secret_keys::prefix(development))
        {
            return Err(Error::internal(format!(
                "FRONTDOOR_SECRET_KEY must start with {} on a {} instance",
                crate::secret_keys::prefix(development),
                if development {
                    "development"
                } else {
                    "production"
                },
            )));
        }
        let courier = match self.courier {
            Some(c) => c,
            None => Arc::new(NoCourier),
        };
        let pending = keys.is_none();
        let ring = keys.map(|k| KeyRing::new(k, grace)).transpose()?;
        let (keys_ready_tx, keys_ready) = tokio::sync::watch::channel(!pending);
        let passkeys = crate::passkeys::RelyingParty::from_settings(&self.settings)
            .map_err(|e| Error::internal(format!("passkey settings: {e}")))?;
        let app = App(Arc::new(AppInner {
            passkeys,
            webhooks,
            social,
            images: self.images,
            client_tokens: ClientTokens::new(secret.as_bytes()),
            codes: CodeHasher::new(secret.as_bytes())?,
            passwords: Passwords::new(),
            keys: RwLock::new(ring.map(Arc::new)),
            keys_ready,
            publish_grace: grace,
            keys_in_store: self.signing_key_pem.is_none(),
            keys_read: std::sync::Mutex::new(std::time::Instant::now()),
            configured_secret_key: self.secret_key.as_deref().map(crate::secret_keys::hash),
            stored_secret_keys: std::sync::Mutex::new((Vec::new(), None)),
            capabilities: Capabilities::from_settings(&self.settings),
            settings: self.settings,
            repo,
            clock: self.clock,
            random: self.random,
            courier,
        }));
        if pending {
            let background = app.clone();
            tokio::spawn(async move { background.first_keys(keys_ready_tx).await });
        }
        Ok(app)
    }
}

impl App {
    pub fn builder(settings: Settings, store: Arc<dyn ItemStore>) -> AppBuilder {
        AppBuilder {
            settings,
            store,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            courier: None,
            provider_http: None,
            images: None,
            signing_key_pem: None,
            secret_key: None,
            keys_in_background: false,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A snapshot of the key ring.
    /// The key ring in hand; none while the first key of a fresh store is still being made
    /// (see [`AppBuilder::keys_in_background`]; [`App::signing_keys`] waits for it).
    pub fn key_ring(&self) -> Option<Arc<KeyRing>> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Generates, stores and installs the first signing key of a fresh store, then says so.
    /// Another process that stored one first wins, and its key is used. Retried until it works:
    /// what signs waits for it.
    async fn first_keys(&self, ready: tokio::sync::watch::Sender<bool>) {
        loop {
            let made = async {
                let now = self.now_ms();
                let key = tokio::task::spawn_blocking(move || SigningKey::generate(now))
                    .await
                    .map_err(|e| Error::internal(format!("key generation: {e}")))??;
                let stored: Vec<StoredKey> = self
                    .repo
                    .instance_value(SIGNING_KEYS, || Ok(vec![key.to_stored()]))
                    .await?;
                let keys = stored
                    .iter()
                    .map(SigningKey::from_stored)
                    .collect::<Result<Vec<_>>>()?;
                self.install(KeyRing::new(keys, self.publish_grace)?)
            };
            match made.await {
                Ok(()) => {
                    let _ = ready.send(true);
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the first signing key could not be made; trying again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// The ring, once there is one.
    async fn ring(&self) -> Arc<KeyRing> {
        loop {
            if let Some(ring) = self.key_ring() {
                return ring;
            }
            let mut ready = self.keys_ready.clone();
            if ready.wait_for(|r| *r).await.is_err() {
                // The generator is gone without a ring (the runtime is stopping).
                std::future::pending::<()>().await;
            }
        }
    }

    /// The key ring, read again from the store when the copy in hand is older than
    /// [`security::SIGNING_KEYS_REFRESH`]: a rotation an operator staged reaches every warm
    /// instance (every Lambda) within that time, and before the new key signs. A failed read
    /// keeps the keys in hand.
    pub async fn signing_keys(&self) -> Arc<KeyRing> {
        let stale = match self.keys_read.lock() {
            Ok(t) => t.elapsed() >= security::SIGNING_KEYS_REFRESH,
            Err(p) => p.into_inner().elapsed() >= security::SIGNING_KEYS_REFRESH,
        };
        let ring = self.ring().await;
        if stale
            && self.keys_in_store
            && let Err(e) = self.refresh_signing_keys().await
        {
            tracing::warn!(error = %e, "could not re-read the signing keys; keeping them");
            return ring;
        }
        self.key_ring().unwrap_or(ring)
    }

    /// Reads the key ring from the store now.
    pub async fn refresh_signing_keys(&self) -> Result<()> {
        let Some(ring) = self.key_ring() else {
            // The first key is still being made; it is installed when stored.
            return Ok(());
        };
        let in_hand: Vec<StoredKey> = ring.keys().iter().map(SigningKey::to_stored).collect();
        let stored: Vec<StoredKey> = self
            .repo
            .instance_value(SIGNING_KEYS, || Ok(in_hand))
            .await?;
        let keys = stored
            .iter()
            .map(SigningKey::from_stored)
            .collect::<Result<Vec<_>>>()?;
        let ring = KeyRing::new(keys, self.publish_grace)?;
        self.install(ring)?;
        match self.keys_read.lock() {
            Ok(mut t) => *t = std::time::Instant::now(),
            Err(p) => *p.into_inner() = std::time::Instant::now(),
        }
        Ok(())
    }

    fn install(&self, ring: KeyRing) -> Result<()> {
        match self.keys.write() {
            Ok(mut g) => *g = Some(Arc::new(ring)),
            Err(_) => return Err(Error::internal("key ring lock poisoned")),
        }
        Ok(())
    }

    /// Adds a new signing key, persists the ring, and makes the new key current at once.
    pub async fn rotate_signing_key(&self) -> Result<String> {
        self.stage_signing_key(std::time::Duration::ZERO).await
    }

    /// Stages a new signing key in the store: published from now on, signing from
    /// `activate_after` from now, when the keys before it retire (they stay published while
    /// their tokens may live). For operators: choose `activate_after` longer than
    /// [`security::SIGNING_KEYS_REFRESH`], so every instance publishes the key before any signs
    /// with it. Returns the new key's `kid`.
    pub async fn stage_signing_key(&self, activate_after: std::time::Duration) -> Result<String> {
        if !self.keys_in_store {
            return Err(Error::internal(
                "the signing key comes from FRONTDOOR_SIGNING_KEY_PEM: rotate it there",
            ));
        }
        self.refresh_signing_keys().await?;
        let now = self.now_ms();
        let new_key = SigningKey::generate(now)?;
        let kid = new_key.kid.clone();
        let mut ring = KeyRing::clone(&*self.ring().await);
        ring.stage(new_key, now + crate::clock::duration_ms(activate_after));
        ring.prune(now);
        let stored: Vec<StoredKey> = ring.keys().iter().map(SigningKey::to_stored).collect();
        self.repo.put_instance_value(SIGNING_KEYS, &stored).await?;
        self.install(ring)?;
        Ok(kid)
    }

    /// Whether `presented` is one of this instance's secret keys. The stored hashes are read
    /// again when the ones in hand are older than [`security::SECRET_KEYS_REFRESH`], so a key
    /// the operator just created works, and one revoked stops working, within that time; wrong
    /// keys cannot make every request read the store.
    pub async fn secret_key_valid(&self, presented: &str) -> Result<bool> {
        use crate::secret_keys::matches;
        let development = self.settings.is_development();
        if let Some(configured) = &self.configured_secret_key
            && matches(presented, development, std::slice::from_ref(configured))
        {
            return Ok(true);
        }
        let (in_hand, fresh) = {
            let guard = match self.stored_secret_keys.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let fresh = guard
                .1
                .is_some_and(|t| t.elapsed() < security::SECRET_KEYS_REFRESH);
            (guard.0.clone(), fresh)
        };
        // Keys in hand are trusted only while fresh, so a revoked key stops working everywhere
        // within the refresh interval.
        if fresh {
            return Ok(matches(presented, development, &in_hand));
        }
        let stored: Vec<String> = self
            .repo
            .instance_value(SECRET_KEYS, || Ok(Vec::new()))
            .await?;
        let valid = matches(presented, development, &stored);
        match self.stored_secret_keys.lock() {
            Ok(mut g) => *g = (stored, Some(std::time::Instant::now())),
            Err(p) => *p.into_inner() = (stored, Some(std::time::Instant::now())),
        }
        Ok(valid)
    }

    /// Creates a secret key for this instance, keeps its hash in the store, and returns the
    /// key: the only time it is seen. For operators (`frontdoor-local create-secret-key`).
    pub async fn create_secret_key(&self) -> Result<String> {
        let key =
            crate::secret_keys::generate(self.random.as_ref(), self.settings.is_development());
        let hash = crate::secret_keys::hash(&key);
        self.repo
            .update_instance_value(SECRET_KEYS, |stored: &mut Vec<String>| {
                stored.push(hash.clone());
            })
            .await?;
        Ok(key)
    }

    /// The stored secret keys by id (the first 12 hex digits of each one's hash): never the
    /// keys themselves, which are not kept.
    pub async fn secret_key_ids(&self) -> Result<Vec<String>> {
        let stored: Vec<String> = self
            .repo
            .instance_value(SECRET_KEYS, || Ok(Vec::new()))
            .await?;
        Ok(stored.iter().map(|h| secret_key_id(h)).collect())
    }

    /// Revokes the stored secret key that `key_or_id` names (the key, or its id from
    /// [`App::secret_key_ids`]); `false` when none does. Every instance refuses it within
    /// [`security::SECRET_KEYS_REFRESH`]. A key given as `FRONTDOOR_SECRET_KEY` is not stored:
    /// it is revoked by removing it from the deployment.
    pub async fn revoke_secret_key(&self, key_or_id: &str) -> Result<bool> {
        let hash_of_key = crate::secret_keys::hash(key_or_id);
        self.repo
            .update_instance_value(SECRET_KEYS, |stored: &mut Vec<String>| {
                let before = stored.len();
                stored.retain(|h| *h != hash_of_key && secret_key_id(h) != key_or_id);
                stored.len() != before
            })
            .await
    }
}

/// A stored secret key's id: the start of its hash (enough to tell keys apart, nothing to
/// guess the key from).
fn secret_key_id(hash: &str) -> String {
    format!("key_{}", hash.get(..12).unwrap_or(hash))
}
