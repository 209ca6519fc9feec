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

/// The per-user session cap, checked at every sign-in, reads the user's live sessions only: a
/// sign-in reads as many items after the user signed in and out a dozen more times as before.
#[tokio::test]
async fn a_sign_in_reads_the_same_items_however_many_sessions_the_user_ended() {
    let t = TestApp::new().await;
    let email = "ended-many+clerk_test@example.com";
    Device::new(&t).sign_up(email, PASSWORD).await;
    let mut items = Vec::new();
    let mut ip = 0;
    for ended in [2usize, 14] {
        while ip < ended {
            ip += 1;
            let mut d = Device::with_ip(&t, &format!("198.51.100.{ip}"));
            let session = d.sign_in(email, PASSWORD).await;
            d.end_session(&session).await;
        }
        let mut d = Device::with_ip(&t, &format!("203.0.113.{ended}"));
        t.counts.reset();
        let session = d.sign_in(email, PASSWORD).await;
        items.push(t.counts.items_read());
        // Ended too, so each measured sign-in finds the same live sessions (the sign-up's).
        d.end_session(&session).await;
    }
    assert_eq!(
        items[0], items[1],
        "items read by a sign-in after 2 and after 14 ended sessions"
    );
}

/// At the per-user session cap a sign-in revokes the least recently active session and reads
/// again only that one (for the version to write against): against a sign-in just below the
/// cap, one more round trip and two more items (the cap-th entry of the live listing, and the
/// session it revokes), not every live session a second time.
#[tokio::test]
async fn a_sign_in_at_the_session_cap_reads_again_only_the_session_it_revokes() {
    let t = TestApp::new().await;
    let email = "at-the-cap+clerk_test@example.com";
    let mut d = Device::new(&t);
    d.sign_up(email, PASSWORD).await;
    let cap = frontdoor::security::MAX_ACTIVE_SESSIONS_PER_USER;
    // The sign-up's session and these: one below the cap.
    t.more_sessions(&mut d, "cap", cap - 2).await;
    let mut cost = Vec::new();
    for ip in ["198.51.100.1", "198.51.100.2"] {
        let mut device = Device::with_ip(&t, ip);
        t.counts.reset();
        device.sign_in(email, PASSWORD).await;
        cost.push((t.counts.reads() + t.counts.writes(), t.counts.items_read()));
    }
    let [(below_trips, below_items), (at_trips, at_items)] = cost[..] else {
        unreachable!()
    };
    assert_eq!(
        at_trips,
        below_trips + 1,
        "round trips below and at the cap"
    );
    assert_eq!(at_items, below_items + 2, "items read below and at the cap");
}
