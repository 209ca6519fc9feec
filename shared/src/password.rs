//! Passwords: argon2id hashing on a fixed set of hashing workers, and the length rules.
//!
//! Hashing is the one CPU-heavy, memory-heavy step of the API. It runs on one worker thread per
//! core, never on the async workers and never inside a store transaction, so token refreshes
//! keep their speed while sign-ins saturate hashing. Each worker allocates argon2's memory
//! (19 MiB at today's parameters) once and reuses it for every hash: the process's memory is
//! bounded by the workers, not by how many sign-ins arrive (a fresh allocation per hash, freed
//! on another thread, is what let the heap grow to hundreds of MiB under load).
//!
//! ```text
//!   request ─► job queue ─► worker 1..N (own memory blocks) ─► answer (oneshot) ─► request
//! ```
//!
//! The workers run at a lower scheduling priority than the rest of the process (nice
//! [`HASHING_NICENESS`] on Linux): when sign-ins saturate every core, the async workers that
//! serve token refreshes and everything else still get most of a core each, and hashing takes
//! what they leave — all of it when they are idle, so hashing throughput is unchanged.
//!
//! A sign-in for an unknown identifier verifies against a fixed dummy hash, so it costs what a
//! wrong password costs and the response time does not tell whether an account exists.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use std::str::FromStr as _;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::OnceCell;

use crate::error::{Code, Error, Result};
use crate::security;
use crate::settings::PasswordSettings;

/// The largest argon2 memory a stored (imported) hash may ask to be verified with. Four times
/// today's cost leaves room for stronger imports without letting one imported hash exhaust the
/// function's memory.
const MAX_VERIFY_MEMORY_KIB: u32 = 4 * security::ARGON2_MEMORY_KIB;

/// A job for a hashing worker, given the worker's memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct Passwords {
    jobs: std::sync::mpsc::Sender<Job>,
    dummy: Arc<OnceCell<String>>,
    stats: Arc<Stats>,
}

/// What the hashing workers have done, for tests and operators.
#[derive(Debug, Default)]
struct Stats {
    /// Argon2 memory allocations (once per worker, more only for a larger imported hash).
    allocations: AtomicU64,
    /// Password verifications run (dummy ones included).
    verifications: AtomicU64,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passwords")
    }
}

fn params() -> Result<Params> {
    Params::new(
        security::ARGON2_MEMORY_KIB,
        security::ARGON2_ITERATIONS,
        security::ARGON2_PARALLELISM,
        None,
    )
    .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))
}

/// `memory` made at least `blocks` long (counted when it had to grow).
fn ensure_memory(memory: &mut Vec<Block>, blocks: usize, stats: &Stats) {
    if memory.len() < blocks {
        *memory = vec![Block::default(); blocks];
        stats.allocations.fetch_add(1, Ordering::Relaxed);
    }
}

fn hash_blocking(memory: &mut Vec<Block>, stats: &Stats, password: &str) -> Result<String> {
    let params = params()?;
    let mut salt_bytes = [0u8; security::PASSWORD_SALT_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| Error::internal(format!("salt encoding: {e}")))?;
    ensure_memory(memory, params.block_count(), stats);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt_bytes,
            &mut out,
            &mut memory[..params.block_count()],
        )
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| Error::internal(format!("hash output: {e}")))?),
    };
    Ok(phc.to_string())
}

/// Whether a stored hash is a bcrypt one (imported from another system).
fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

fn verify_blocking(memory: &mut Vec<Block>, stats: &Stats, hash: &str, password: &str) -> bool {
    stats.verifications.fetch_add(1, Ordering::Relaxed);
    if is_bcrypt(hash) {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // The parameters come from the stored hash, so older (and imported) hashes keep verifying.
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
        tracing::warn!(
            m_cost = params.m_cost(),
            "a stored password hash asks for more memory than allowed"
        );
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    // Hashes at today's cost or below use the worker's memory; a costlier (imported) one gets
    // memory of its own for this once, so workers keep today's size.
    let standard = self::params().map_or(0, |p| p.block_count());
    let mut own: Vec<Block>;
    let memory: &mut [Block] = if blocks <= standard {
        ensure_memory(memory, standard, stats);
        &mut memory[..blocks]
    } else {
        stats.allocations.fetch_add(1, Ordering::Relaxed);
        own = vec![Block::default(); blocks];
        &mut own[..]
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2
        .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, memory)
        .is_err()
    {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
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

/// The hashing workers' niceness (Linux: -20 highest .. 19 lowest; the async workers run at 0).
/// At +5 a worker's CFS weight is 335 against 1024, so an async worker sharing its core gets
/// about three quarters of it; higher values would also starve hashing behind unrelated
/// processes on a shared machine.
pub const HASHING_NICENESS: i8 = 5;

/// Lowers the calling thread's priority to [`HASHING_NICENESS`]; a refusal is logged, not
/// fatal (hashing still works, only without yielding).
fn lower_hashing_priority() {
    // thread-priority maps its 0..=99 scale (higher = more) onto niceness 19..=-20.
    let scale = 99.0 * (1.0 - (f64::from(HASHING_NICENESS) + 20.5) / 39.0);
    let lowered = u8::try_from(scale.round() as i64)
        .ok()
        .and_then(|v| thread_priority::ThreadPriorityValue::try_from(v).ok())
        .map(thread_priority::ThreadPriority::Crossplatform)
        .ok_or("no such priority")
        .and_then(|p| {
            thread_priority::set_current_thread_priority(p).map_err(|_| "refused by the system")
        });
    if let Err(e) = lowered {
        tracing::warn!(error = e, "hashing workers keep the default priority");
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// One hashing worker per core, each with its own memory.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::with_workers(cores)
    }

    /// `workers` hashing workers (at least one).
    pub fn with_workers(workers: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_hashing_priority();
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        let job = {
                            let guard = match queue.lock() {
                                Ok(g) => g,
                                Err(p) => p.into_inner(),
                            };
                            guard.recv()
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            // Every sender is gone: the app is shutting down.
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a password hashing worker could not start");
            }
        }
        Self {
            jobs,
            dummy: Arc::new(OnceCell::new()),
            stats: Arc::new(Stats::default()),
        }
    }

    /// Runs `work` on a hashing worker, with its memory.
    async fn on_worker<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>, &Stats) -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stats = Arc::clone(&self.stats);
        self.jobs
            .send(Box::new(move |memory| {
                let _ = tx.send(work(memory, &stats));
            }))
            .map_err(|_| Error::internal("password workers stopped"))?;
        rx.await
            .map_err(|_| Error::internal("a password worker dropped its job"))
    }

    /// The PHC string of a new argon2id hash.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.on_worker(move |memory, stats| hash_blocking(memory, stats, &password))
            .await?
    }

    /// Whether `password` matches `hash` (argon2 in constant time, or bcrypt for imports).
    pub async fn verify(&self, hash: &str, password: &str) -> Result<bool> {
        let (hash, password) = (hash.to_owned(), password.to_owned());
        self.on_worker(move |memory, stats| verify_blocking(memory, stats, &hash, &password))
            .await
    }

    /// How many times the workers allocated argon2 memory: once each, whatever the load.
    pub fn memory_allocations(&self) -> u64 {
        self.stats.allocations.load(Ordering::Relaxed)
    }

    /// How many password verifications ran (each costs an argon2id hash).
    pub fn verifications(&self) -> u64 {
        self.stats.verifications.load(Ordering::Relaxed)
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
