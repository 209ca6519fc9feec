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

pub struct AppInner {
    pub settings: Settings,
    /// What the settings allow, computed once: every flow and the environment ask this.
    pub capabilities: Capabilities,
    pub repo: Repo,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub courier: Arc<dyn Courier>,
    pub client_tokens: ClientTokens,
    pub codes: CodeHasher,
    pub passwords: Passwords,
    keys: RwLock<Arc<KeyRing>>,
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
    signing_key_pem: Option<String>,
}

impl AppBuilder {
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

    /// Signs with the operator's key (PKCS#8 PEM) instead of a generated one.
    pub fn signing_key_pem(mut self, pem: Option<String>) -> Self {
        self.signing_key_pem = pem;
        self
    }

    /// Loads (or, on first start, creates and persists) the signing keys and the client-token
    /// secret.
    pub async fn build(self) -> Result<App> {
        let repo = Repo::new(self.store);
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
        let keys = match &self.signing_key_pem {
            Some(pem) => vec![SigningKey::from_pem(pem, now)?],
            None => {
                let stored: Vec<StoredKey> = repo
                    .instance_value(SIGNING_KEYS, || {
                        Ok(vec![SigningKey::generate(now)?.to_stored()])
                    })
                    .await?;
                stored
                    .iter()
                    .map(SigningKey::from_stored)
                    .collect::<Result<Vec<_>>>()?
            }
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
        let courier = match self.courier {
            Some(c) => c,
            None => Arc::new(NoCourier),
        };
        Ok(App(Arc::new(AppInner {
            client_tokens: ClientTokens::new(secret.as_bytes()),
            codes: CodeHasher::new(secret.as_bytes())?,
            passwords: Passwords::new(),
            keys: RwLock::new(Arc::new(KeyRing::new(keys, grace)?)),
            capabilities: Capabilities::from_settings(&self.settings),
            settings: self.settings,
            repo,
            clock: self.clock,
            random: self.random,
            courier,
        })))
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
            signing_key_pem: None,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A snapshot of the key ring.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Adds a new signing key, persists the ring, and makes the new key current.
    pub async fn rotate_signing_key(&self) -> Result<String> {
        let now = self.now_ms();
        let new_key = SigningKey::generate(now)?;
        let kid = new_key.kid.clone();
        let mut ring = KeyRing::clone(&self.key_ring());
        ring.rotate(new_key, now);
        ring.prune(now);
        let stored: Vec<StoredKey> = ring.keys().iter().map(SigningKey::to_stored).collect();
        self.repo.put_instance_value(SIGNING_KEYS, &stored).await?;
        match self.keys.write() {
            Ok(mut g) => *g = Arc::new(ring),
            Err(_) => return Err(Error::internal("key ring lock poisoned")),
        }
        Ok(kid)
    }
}
