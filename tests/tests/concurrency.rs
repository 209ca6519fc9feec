//! Races: identifiers stay unique and attempt caps hold when requests arrive together.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use frontdoor::store::keys::IdentifierKind;
use frontdoor_tests::{Device, TestApp, form};
use futures::future::join_all;
use http::StatusCode;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn parallel_sign_ups_racing_for_one_email_yield_exactly_one_user() {
    let t = TestApp::new().await;
    const N: usize = 8;
    let email = "race+clerk_test@example.com";
    let mut devices = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..N {
        let mut d = Device::new(&t);
        let r = d
            .post(
                "/v1/client/sign_ups",
                &form(&[("email_address", email), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let id = r.body["response"]["id"].as_str().unwrap().to_owned();
        d.post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            "strategy=email_code",
        )
        .await;
        devices.push(d);
        ids.push(id);
    }
    // Every sign-up reaches completion at the same moment.
    let results = join_all(devices.iter_mut().zip(&ids).map(|(d, id)| {
        let path = format!("/v1/client/sign_ups/{id}/attempt_verification");
        async move { d.post(&path, "strategy=email_code&code=424242").await }
    }))
    .await;
    let completed: Vec<_> = results
        .iter()
        .filter(|r| r.status == StatusCode::OK && r.body["response"]["status"] == "complete")
        .collect();
    assert_eq!(completed.len(), 1, "exactly one sign-up completes");
    for r in results.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(r.error_code(), Some("form_identifier_exists"), "{}", r.body);
    }
    let winner = completed[0].body["response"]["created_user_id"]
        .as_str()
        .unwrap();
    let owner = t
        .app
        .repo
        .identifier_owner(IdentifierKind::Email, email)
        .await
        .unwrap();
    assert_eq!(owner.as_deref(), Some(winner));
    // The losers' clients have no session and no half-made user.
    for (d, r) in devices.iter_mut().zip(&results) {
        if r.status != StatusCode::OK {
            assert_eq!(
                d.get("/v1/client").await.body["client"]["sessions"],
                serde_json::json!([])
            );
        }
    }
}

#[tokio::test]
async fn parallel_wrong_codes_never_exceed_the_attempt_cap() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[("email_address", "cap@example.com"), ("password", PASSWORD)]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    d.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        "strategy=email_code",
    )
    .await;
    let code = t.outbox.last_code_for("cap@example.com").unwrap();
    let wrong = if code == "000001" { "000002" } else { "000001" };
    let token = d.token.clone();
    let mut devices: Vec<Device<'_>> = (0..8)
        .map(|_| {
            let mut x = Device::new(&t);
            x.token = token.clone();
            x
        })
        .collect();
    let path = format!("/v1/client/sign_ups/{id}/attempt_verification");
    let body = form(&[("strategy", "email_code"), ("code", wrong)]);
    let results = join_all(devices.iter_mut().map(|x| x.post(&path, &body))).await;
    let incorrect = results
        .iter()
        .filter(|r| r.error_code() == Some("form_code_incorrect"))
        .count();
    let failed = results
        .iter()
        .filter(|r| r.error_code() == Some("verification_failed"))
        .count();
    assert_eq!(incorrect + failed, 8, "every attempt got a clear answer");
    assert!(
        incorrect <= 2,
        "only two wrong tries are answered as incorrect: {incorrect}"
    );
    let shown = d.get(&format!("/v1/client/sign_ups/{id}")).await;
    let v = &shown.body["response"]["verifications"]["email_address"];
    assert_eq!(v["status"], "failed");
    assert_eq!(v["attempts"], 3);
    let r = d
        .post(&path, &form(&[("strategy", "email_code"), ("code", &code)]))
        .await;
    assert_eq!(r.error_code(), Some("verification_failed"));
}

/// Fifteen devices sign in to one account at the same moment: every one of them completes
/// (no `concurrent_update`), each with a session of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_password_sign_ins_of_one_user_all_succeed() {
    let t = TestApp::new().await;
    let email = "popular+clerk_test@example.com";
    Device::new(&t).sign_up(email, PASSWORD).await;
    t.clock.advance(std::time::Duration::from_secs(60));
    let mut devices: Vec<Device> = (0..15).map(|_| Device::new(&t)).collect();
    let body = form(&[("identifier", email), ("password", PASSWORD)]);
    let results = join_all(
        devices
            .iter_mut()
            .map(|d| async { d.post("/v1/client/sign_ins", &body).await }),
    )
    .await;
    for r in &results {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["response"]["status"], "complete");
    }
    let sessions: std::collections::HashSet<_> = results
        .iter()
        .map(|r| {
            r.body["response"]["created_session_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(sessions.len(), 15);
}
