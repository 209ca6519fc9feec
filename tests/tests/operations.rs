#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! The operation table is the API: every operation is routed exactly once by the groups' route
//! tables, each has an abuse policy (an exhaustive `match`, so a new operation without one does
//! not compile), and every routed operation answers through the FAPI glue rather than the
//! router's "no such route" fallback.

use std::collections::HashMap;

use frontdoor::flows::rate_limit::Bucket;
use frontdoor::http::Operation;
use frontdoor_tests::{Device, TestApp};
use http::Method;

#[test]
fn every_operation_is_routed_exactly_once() {
    let mut seen: HashMap<Operation, usize> = HashMap::new();
    for route in frontdoor_local::table() {
        *seen.entry(route.operation).or_default() += 1;
    }
    for op in Operation::all() {
        assert_eq!(seen.remove(&op), Some(1), "{op:?} must be routed once");
    }
    assert!(
        seen.is_empty(),
        "routed but not in Operation::all(): {seen:?}"
    );
}

#[test]
fn creates_prepares_and_attempts_count_against_their_buckets() {
    for op in Operation::all() {
        let (method, path) = op.route();
        let bucket = op.policy().bucket;
        if path.ends_with("/attempt_first_factor")
            || path.ends_with("/attempt_second_factor")
            || path.ends_with("/attempt_verification")
            || path.ends_with("/totp/attempt_verification")
        {
            assert_eq!(bucket, Some(Bucket::Attempt), "{op:?}");
        }
        if method == Method::POST && matches!(path, "/v1/client/sign_ins" | "/v1/client/sign_ups") {
            assert_eq!(bucket, Some(Bucket::Create), "{op:?}");
        }
    }
}

#[tokio::test]
async fn every_routed_operation_is_reached() {
    let t = TestApp::new().await;
    for op in Operation::all() {
        let (method, template) = op.route();
        let path = template.replace("{id}", "x").replace("{template}", "t");
        let mut d = Device::new(&t);
        let r = d.send(method.clone(), &path, "").await;
        assert_ne!(r.status, 405, "{op:?} {method} {path}: {}", r.body);
        // The router's fallback names no resource; a handler's 404 comes after it ran.
        assert_ne!(
            r.body["errors"][0]["long_message"], "No route matches this request.",
            "{op:?} {method} {path}"
        );
    }
}
