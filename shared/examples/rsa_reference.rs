//! A second reference for `make bench`'s token path: RS256 signatures per second with the
//! server's own signing code (`keys::KeyRing::sign`, aws-lc-rs) and a token-sized payload, on
//! THREADS threads for SECONDS seconds — what a token refresh costs before HTTP and the store.
//!
//! `cargo run --release -p frontdoor --example rsa_reference -- [THREADS] [SECONDS]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use frontdoor::keys::{KeyRing, SigningKey};

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
    let now = 1_767_225_600_000;
    let ring = KeyRing::new(vec![SigningKey::generate(now)?], Duration::from_secs(60))?;
    let claims = serde_json::json!({
        "sub": "user_2abcdefghijklmnopqrstuvwxyz", "sid": "sess_2abcdefghijklmnopqrstuvwxyz",
        "iat": 1_767_225_600, "nbf": 1_767_225_590, "exp": 1_767_225_660,
        "iss": "https://clerk.example.com", "v": 2, "fva": [0, -1], "sts": "active",
    });
    let done = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (ring, claims, done) = (&ring, &claims, &done);
            s.spawn(move || {
                while Instant::now() < until {
                    if ring.sign(claims, now).is_ok() {
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
