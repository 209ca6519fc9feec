//! The reference `make bench` compares sign-ins and sign-ups with: raw argon2id at the project's
//! parameters (`security::ARGON2_*`), on THREADS threads for SECONDS seconds, nothing else.
//! Prints the rate and the process's peak RSS in MiB.
//!
//! MEMORY says how each hash gets argon2's 19 MiB, to compare the two ways of bounding memory
//! the issue offered:
//! - `reuse` (the default, and what the server's hashing workers do): one block per thread,
//!   allocated once;
//! - `fresh`: a new allocation per hash (argon2's own `hash_password_into`), as the server did
//!   on tokio's blocking pool. Whether that memory goes back to the system is the allocator's
//!   business: run it under glibc's defaults, or with `MALLOC_MMAP_THRESHOLD_` fixed so every
//!   block is mapped and unmapped.
//!
//! `cargo run --profile server -p frontdoor --example argon2_reference -- [THREADS] [SECONDS] [reuse|fresh]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use frontdoor::security;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = match args.next() {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    };
    let seconds: u64 = match args.next() {
        Some(s) => s.parse()?,
        None => 5,
    };
    let fresh = match args.next().as_deref() {
        None | Some("reuse") => false,
        Some("fresh") => true,
        Some(other) => return Err(format!("MEMORY is reuse or fresh, not {other}").into()),
    };
    let params = Params::new(
        security::ARGON2_MEMORY_KIB,
        security::ARGON2_ITERATIONS,
        security::ARGON2_PARALLELISM,
        None,
    )
    .map_err(|e| format!("argon2 parameters: {e}"))?;
    let done = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (params, done) = (params.clone(), &done);
            s.spawn(move || {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut memory = if fresh {
                    Vec::new()
                } else {
                    vec![Block::default(); params.block_count()]
                };
                let mut out = [0u8; 32];
                let (password, salt) = (b"correct horse battery staple", b"sixteen byte salt");
                while Instant::now() < until {
                    let hashed = if fresh {
                        argon2.hash_password_into(password, salt, &mut out)
                    } else {
                        argon2.hash_password_into_with_memory(password, salt, &mut out, &mut memory)
                    };
                    if hashed.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.1} {:.1}", peak_rss_mib());
    Ok(())
}

/// The process's peak resident set (`VmHWM`), in MiB; 0 where /proc does not say.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
