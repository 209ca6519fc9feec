#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Password hashing under load, through its public functions and HTTP: the workers allocate
//! argon2's memory once each however many hashes arrive (the heap stays bounded), the hashes
//! are standard PHC strings that the reference implementation agrees with (both ways), and a
//! sign-in costs one verification whatever the retries its unit of work needed. The workers
//! run below the async workers' priority, so hashing cannot take every core from them.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use frontdoor::password::Passwords;
use frontdoor_tests::{Device, TestApp, form};
use futures::future::join_all;
use http::StatusCode;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn hashing_memory_is_allocated_once_per_worker_whatever_the_load() {
    let passwords = Passwords::with_workers(2);
    let hashes = join_all((0..12).map(|i| {
        let p = passwords.clone();
        async move { p.hash(&format!("{PASSWORD} {i}")).await.unwrap() }
    }))
    .await;
    let checks = join_all(hashes.iter().enumerate().map(|(i, h)| {
        let p = passwords.clone();
        async move {
            (
                p.verify(h, &format!("{PASSWORD} {i}")).await.unwrap(),
                p.verify(h, "not the password").await.unwrap(),
            )
        }
    }))
    .await;
    assert!(checks.iter().all(|(right, wrong)| *right && !*wrong));
    let allocations = passwords.memory_allocations();
    assert!(
        (1..=2).contains(&allocations),
        "36 hashes, {allocations} allocations: at most one per worker"
    );
    assert_eq!(passwords.verifications(), 24);
}

/// The niceness of each of this process's threads whose name starts with `prefix`, from
/// `/proc/self/task/*/stat` (field 19; the name is in parentheses and may hold spaces).
#[cfg(target_os = "linux")]
fn thread_niceness(prefix: &str) -> Vec<i64> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        // After the name: state is field 3, so niceness (field 19) is the 17th field here.
        let nice = stat[close + 1..].split_whitespace().nth(16).unwrap();
        found.push(nice.parse().unwrap());
    }
    found
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_workers_yield_the_cores_to_the_async_workers() {
    let passwords = Passwords::with_workers(3);
    // A hash on every worker: each has started and set its priority by the time it answers.
    join_all((0..6).map(|i| {
        let p = passwords.clone();
        async move { p.hash(&format!("{PASSWORD} {i}")).await.unwrap() }
    }))
    .await;
    let hashing = thread_niceness("argon2-");
    // Other tests of this binary run workers of their own beside these three.
    assert!(hashing.len() >= 3, "three hashing workers: {hashing:?}");
    assert!(
        hashing
            .iter()
            .all(|n| *n == i64::from(frontdoor::password::HASHING_NICENESS)),
        "hashing workers at niceness {}: {hashing:?}",
        frontdoor::password::HASHING_NICENESS
    );
    let async_workers = thread_niceness("tokio-rt-worker");
    assert!(!async_workers.is_empty());
    assert!(
        async_workers
            .iter()
            .all(|n| *n < i64::from(frontdoor::password::HASHING_NICENESS)),
        "async workers above the hashing workers: {async_workers:?}"
    );
}

#[tokio::test]
async fn hashes_are_standard_argon2id_both_ways() {
    let passwords = Passwords::with_workers(1);
    let ours = passwords.hash(PASSWORD).await.unwrap();
    assert!(
        ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{ours}"
    );
    // The reference implementation verifies ours…
    let parsed = PasswordHash::new(&ours).unwrap();
    assert!(
        argon2::Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .is_ok()
    );
    // …and ours verifies the reference implementation's, at other costs too (older hashes).
    let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
    for (m, t) in [(19_456, 2), (8_192, 3), (65_536, 1)] {
        let params = argon2::Params::new(m, t, 1, None).unwrap();
        let theirs =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password(PASSWORD.as_bytes(), &salt)
                .unwrap()
                .to_string();
        assert!(
            passwords.verify(&theirs, PASSWORD).await.unwrap(),
            "m={m} t={t}"
        );
        assert!(
            !passwords.verify(&theirs, "wrong").await.unwrap(),
            "m={m} t={t}"
        );
    }
    // The worker's memory serves today's cost and below; the costlier hash got memory of its
    // own for each of its two verifications, so the worker keeps today's size.
    assert_eq!(passwords.memory_allocations(), 1 + 2);
    assert!(
        !passwords
            .verify(
                "$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                PASSWORD
            )
            .await
            .unwrap()
    );
    assert!(!passwords.verify("not a hash", PASSWORD).await.unwrap());
}

#[tokio::test]
async fn parallel_sign_ins_of_one_user_verify_the_password_once_each_and_all_succeed() {
    let t = TestApp::new().await;
    let email = "many.devices+clerk_test@example.com";
    Device::new(&t).sign_up(email, PASSWORD).await;
    let before = t.app.passwords.verifications();
    const DEVICES: usize = 8;
    let mut devices: Vec<Device> = (0..DEVICES)
        .map(|i| Device::with_ip(&t, &format!("203.0.113.{i}")))
        .collect();
    // Every device signs in at once: their writes to the one user race, and lost races are
    // run again — without checking the password again.
    let results = join_all(devices.iter_mut().map(|d| async move {
        d.post(
            "/v1/client/sign_ins",
            &form(&[("identifier", email), ("password", PASSWORD)]),
        )
        .await
    }))
    .await;
    for r in &results {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    }
    assert_eq!(
        t.app.passwords.verifications() - before,
        DEVICES as u64,
        "one verification per sign-in request"
    );
}
