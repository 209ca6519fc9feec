//! Passwords: argon2id hashing on a small bounded pool, and the length rules.
//!
//! Hashing is the one CPU-heavy step of the API. It runs on tokio's blocking pool behind a
//! semaphore sized to the machine's cores, never on the async workers and never inside a store
//! transaction, so token refreshes keep their speed while sign-ins saturate hashing.
//! A sign-in for an unknown identifier verifies against a fixed dummy hash, so it costs what a
//! wrong password costs and the response time does not tell whether an account exists.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use std::str::FromStr as _;

use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::{Code, Error, Result};
use crate::security;
use crate::settings::PasswordSettings;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passwords")
    }
}

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(
        security::ARGON2_MEMORY_KIB,
        security::ARGON2_ITERATIONS,
        security::ARGON2_PARALLELISM,
        None,
    )
    .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String> {
    let mut salt_bytes = [0u8; security::PASSWORD_SALT_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| Error::internal(format!("salt encoding: {e}")))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// Whether a stored hash is a bcrypt one (imported from another system).
fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    if is_bcrypt(hash) {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // The parameters come from the stored hash, so older hashes keep verifying.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether a stored hash should be replaced by a fresh argon2id hash at the next sign-in that
/// proves the password: it is another algorithm (an import) or weaker parameters than today's.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let current = Params::try_from(&parsed).ok();
    parsed.algorithm.as_str() != "argon2id"
        || current.is_none_or(|p| {
            p.m_cost() < security::ARGON2_MEMORY_KIB || p.t_cost() < security::ARGON2_ITERATIONS
        })
}

/// A password hash imported from another system (`password_digest` with its
/// `password_hasher`), checked to be what it claims: bcrypt (`$2a$`/`$2b$`/`$2y$`) or an
/// argon2 PHC string. It verifies as it is and is replaced at the first sign-in.
pub fn imported_digest(hasher: &str, digest: &str) -> Result<String> {
    let bad = |param: &str, why: &str| {
        Error::new(Code::FormParamValueInvalid)
            .param(param)
            .long(why.to_owned())
    };
    let ok = match hasher {
        "bcrypt" => is_bcrypt(digest) && bcrypt::HashParts::from_str(digest).is_ok(),
        "argon2i" | "argon2id" => {
            PasswordHash::new(digest).is_ok_and(|h| h.algorithm.as_str() == hasher)
        }
        _ => {
            return Err(bad(
                "password_hasher",
                "password_hasher must be one of bcrypt, argon2i, argon2id.",
            ));
        }
    };
    if !ok {
        return Err(bad(
            "password_digest",
            "password_digest is not a hash of the kind password_hasher names.",
        ));
    }
    Ok(digest.to_owned())
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("password pool closed"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::internal(format!("password task failed: {e}")))
    }

    /// The PHC string of a new argon2id hash.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.on_pool(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `hash` (constant-time inside argon2).
    pub async fn verify(&self, hash: &str, password: &str) -> Result<bool> {
        let (hash, password) = (hash.to_owned(), password.to_owned());
        self.on_pool(move || verify_blocking(&hash, &password))
            .await
    }

    /// Spends the time of a verification against nothing, for unknown identifiers.
    pub async fn verify_dummy(&self, password: &str) -> Result<()> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                self.hash("frontdoor dummy password for unknown identifiers")
                    .await
            })
            .await?
            .clone();
        self.verify(&dummy, password).await.map(|_| ())
    }
}

/// Checks the length rules (NIST 800-63B: length only, no composition rules).
pub fn validate(password: &str, rules: &PasswordSettings, param: &str) -> Result<()> {
    let len = password.chars().count();
    if len < rules.min_length {
        return Err(Error::new(Code::FormPasswordLengthTooShort)
            .param(param)
            .long(format!(
                "Passwords must be {} characters or more.",
                rules.min_length
            )));
    }
    if len > rules.max_length {
        return Err(Error::new(Code::FormPasswordLengthTooLong)
            .param(param)
            .long(format!(
                "Passwords must be {} characters or fewer.",
                rules.max_length
            )));
    }
    Ok(())
}

/// A password check made once per request: when the unit of work retries after losing a race,
/// the answer is reused as long as the hash it was checked against is unchanged, so a retry
/// costs a store round trip, not another argon2id hash.
#[derive(Debug, Default)]
pub struct CheckedOnce(std::sync::Mutex<Option<(String, bool)>>);

impl CheckedOnce {
    /// Whether `password` matches `hash`, hashing at most once for a given `hash`.
    pub async fn verify(&self, passwords: &Passwords, hash: &str, password: &str) -> Result<bool> {
        let cached = match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if let Some((checked, answer)) = cached
            && checked == hash
        {
            return Ok(answer);
        }
        let answer = passwords.verify(hash, password).await?;
        match self.0.lock() {
            Ok(mut g) => *g = Some((hash.to_owned(), answer)),
            Err(p) => *p.into_inner() = Some((hash.to_owned(), answer)),
        }
        Ok(answer)
    }
}

impl Clone for CheckedOnce {
    /// A copy of a command checks afresh.
    fn clone(&self) -> Self {
        Self::default()
    }
}
