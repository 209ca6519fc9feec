//! Store round trips per endpoint, counted (never timed): DESIGN.md's budgets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use frontdoor_tests::{Device, TestApp, form};
use http::StatusCode;

const PASSWORD: &str = "correct horse battery";

/// A password sign-in from a fresh device costs the same round trips whatever the number of
/// users: rate-limit counter, guard, user, the user's sessions (the per-user session cap), one
/// transaction.
#[tokio::test]
async fn a_password_sign_in_takes_at_most_five_round_trips_whatever_the_number_of_users() {
    let t = TestApp::new().await;
    let mut counts = Vec::new();
    for (round, population) in [1usize, 12].into_iter().enumerate() {
        for n in 0..population {
            let mut d = Device::new(&t);
            d.sign_up(&format!("user{round}x{n}+clerk_test@example.com"), PASSWORD)
                .await;
        }
        let email = format!("user{round}x0+clerk_test@example.com");
        let mut d = Device::with_ip(&t, &format!("192.0.2.{round}"));
        t.counts.reset();
        let r = d
            .post(
                "/v1/client/sign_ins",
                &form(&[("identifier", &email), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["response"]["status"], "complete");
        counts.push(t.counts.reads() + t.counts.writes());
    }
    assert!(
        counts[0] <= 5,
        "password sign-in took {} round trips",
        counts[0]
    );
    assert_eq!(
        counts[0], counts[1],
        "the cost does not grow with the number of users"
    );
}

/// Rendering the client: one read for the partition, one for the users of its sessions.
#[tokio::test]
async fn get_client_takes_at_most_two_reads_and_no_writes() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("render+clerk_test@example.com", PASSWORD).await;
    t.counts.reset();
    let r = d.get("/v1/client").await;
    assert_eq!(r.body["client"]["sessions"].as_array().unwrap().len(), 1);
    assert!(t.counts.reads() <= 2, "{} reads", t.counts.reads());
    assert_eq!(t.counts.writes(), 0);
}
