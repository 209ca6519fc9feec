//! The reference `make bench` compares sign-ins and sign-ups with: raw argon2id at the project's
//! parameters (`security::ARGON2_*`), on THREADS threads for SECONDS seconds, nothing else.
//!
//! `cargo run --release -p frontdoor --example argon2_reference -- [THREADS] [SECONDS]`

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
                let mut memory = vec![Block::default(); params.block_count()];
                let mut out = [0u8; 32];
                while Instant::now() < until {
                    if argon2
                        .hash_password_into_with_memory(
                            b"correct horse battery staple",
                            b"sixteen byte salt",
                            &mut out,
                            &mut memory,
                        )
                        .is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.1}");
    Ok(())
}
