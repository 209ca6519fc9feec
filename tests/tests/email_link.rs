#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Email links through the HTTP surface: a sign-in's first factor, a sign-up's address and an
//! address added in the profile, each opened from the link in the outbox — in another browser
//! (the asking client sees its attempt complete on its next poll, its token unchanged) or in
//! the asking browser itself — and every way a link is refused.

use frontdoor_tests::{Device, TestApp, TestResponse, form, req, settings_with};
use http::{Method, StatusCode};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
const BACK: &str = "http://localhost:5173/verify";

fn link_settings() -> frontdoor::settings::Settings {
    settings_with(&[
        (
            "first_factors = [\"email_code\"]",
            "first_factors = [\"email_code\", \"email_link\"]",
        ),
        (
            "verifications = [\"email_code\"]",
            "verifications = [\"email_code\", \"email_link\"]",
        ),
        ("creates = 5 ", "creates = 1000 "),
        ("attempts = 3 ", "attempts = 1000 "),
        ("prepares = 3 ", "prepares = 1000 "),
    ])
}

async fn setup() -> TestApp {
    TestApp::with_settings(link_settings()).await
}

/// The link mailed to `to`, as a path on this server, and its token.
fn mailed_link(t: &TestApp, to: &str) -> String {
    let url = t.outbox.last_code_for(to).expect("a link was mailed");
    let at = url.find("/v1/verify?token=").expect("a /v1/verify link");
    url[at..].to_owned()
}

/// A browser with no client of its own opens `path`.
async fn open(t: &TestApp, path: &str) -> TestResponse {
    t.send(
        req(Method::GET, path)
            .extension(frontdoor::http::ClientIp("192.0.2.20".into()))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
}

fn status_of(r: &TestResponse) -> (String, Option<String>) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(location.starts_with(BACK), "{location}");
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    (
        get("__clerk_status").unwrap(),
        get("__clerk_created_session"),
    )
}

/// Signs a user up (code), then starts a sign-in on a new device and has a link mailed.
async fn link_sign_in<'a>(t: &'a TestApp, email: &str) -> (Device<'a>, String) {
    Device::new(t).sign_up(email, PASSWORD).await;
    // Past the address's send cooldown (its sign-up code was just sent).
    t.clock.advance(std::time::Duration::from_secs(31));
    let mut d = Device::new(t);
    let r = d
        .post("/v1/client/sign_ins", &form(&[("identifier", email)]))
        .await;
    let s = &r.body["response"];
    let factor = s["supported_first_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["strategy"] == "email_link")
        .expect("email_link is offered")
        .clone();
    let id = s["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &form(&[
                ("strategy", "email_link"),
                (
                    "email_address_id",
                    factor["email_address_id"].as_str().unwrap(),
                ),
                ("redirect_url", BACK),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["object"], "verification_email_link");
    assert_eq!(v["status"], "unverified");
    (d, id)
}

#[tokio::test]
async fn a_link_opened_on_another_device_completes_the_sign_in_where_it_was_asked_for() {
    let t = setup().await;
    let email = "linda@example.test";
    let (mut d, id) = link_sign_in(&t, email).await;
    let link = mailed_link(&t, email);
    let token_before = d.token.clone();

    let r = open(&t, &link).await;
    let (status, session) = status_of(&r);
    assert_eq!(status, "verified");
    let session = session.expect("the session that started is named");

    // The asking browser's next poll: complete, on its unchanged token.
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = &r.body["response"];
    assert_eq!(s["status"], "complete");
    assert_eq!(s["created_session_id"], session.as_str());
    assert_eq!(s["first_factor_verification"]["status"], "verified");
    assert_eq!(r.body["client"]["sessions"][0]["id"], session.as_str());
    assert_eq!(d.token, token_before);

    // The same link again: used once.
    let (status, session) = status_of(&open(&t, &link).await);
    assert_eq!((status.as_str(), session), ("failed", None));
}

#[tokio::test]
async fn a_link_opened_by_the_browser_that_asked_rotates_its_token_and_says_so() {
    let t = setup().await;
    let email = "same@example.test";
    let (mut d, id) = link_sign_in(&t, email).await;
    let link = mailed_link(&t, email);
    let old = d.token.clone();
    let r = d.get(&link).await;
    let (status, session) = status_of(&r);
    assert_eq!(status, "verified");
    assert!(session.is_some());
    assert_ne!(d.token, old, "the answer carries the rotated token");
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    let v = &r.body["response"]["first_factor_verification"];
    let client = r.body["client"]["id"].as_str().unwrap();
    assert_eq!(v["verified_at_client"], client);
}

#[tokio::test]
async fn expired_forged_and_code_attempted_links_are_refused() {
    let t = setup().await;
    let email = "late@example.test";
    let (mut d, id) = link_sign_in(&t, email).await;
    let link = mailed_link(&t, email);

    // A code cannot stand in for the link.
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &form(&[("strategy", "email_link"), ("code", "123456")]),
        )
        .await;
    assert_eq!(
        r.error_code(),
        Some("verification_strategy_invalid"),
        "{}",
        r.body
    );

    // Another send within the cooldown is refused, like a code's.
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &form(&[("strategy", "email_link"), ("redirect_url", BACK)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);

    let r = open(&t, "/v1/verify").await;
    assert_eq!(r.error_code(), Some("form_param_missing"));
    let r = open(&t, "/v1/verify?token=not-a-token").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("verification_failed"));

    t.clock.advance(std::time::Duration::from_secs(11 * 60));
    let (status, session) = status_of(&open(&t, &link).await);
    assert_eq!((status.as_str(), session), ("expired", None));
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.body["response"]["status"], "needs_first_factor");
    assert!(r.body["client"]["sessions"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_return_page_must_be_allowed() {
    let t = setup().await;
    let email = "page@example.test";
    Device::new(&t).sign_up(email, PASSWORD).await;
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ins", &form(&[("identifier", email)]))
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    for (body, code) in [
        (
            "strategy=email_link&redirect_url=https%3A%2F%2Fevil.test%2F",
            "invalid_redirect_url",
        ),
        ("strategy=email_link", "form_param_missing"),
    ] {
        let r = d
            .post(
                &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
                body,
            )
            .await;
        assert_eq!(r.error_code(), Some(code), "{body}: {}", r.body);
    }
    assert!(
        t.outbox
            .last_code_for(email)
            .is_some_and(|c| !c.contains("/v1/verify"))
    );
}

#[tokio::test]
async fn a_sign_up_verifies_its_address_by_link_and_completes() {
    let t = setup().await;
    let email = "newbie@example.test";
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[("email_address", email), ("password", PASSWORD)]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &form(&[("strategy", "email_link"), ("redirect_url", BACK)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v: &Value = &r.body["response"]["verifications"]["email_address"];
    assert_eq!(v["strategy"], "email_link");
    let (status, session) = status_of(&open(&t, &mailed_link(&t, email)).await);
    assert_eq!(status, "verified");
    let r = d.get(&format!("/v1/client/sign_ups/{id}")).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(
        r.body["response"]["created_session_id"].as_str(),
        session.as_deref()
    );
}

#[tokio::test]
async fn an_address_added_in_the_profile_is_verified_by_link() {
    let t = setup().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("owner@example.test", PASSWORD).await;
    let r = d
        .post(
            "/v1/me/email_addresses",
            "email_address=second%40example.test",
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/me/email_addresses/{id}/prepare_verification"),
            &form(&[("strategy", "email_link"), ("redirect_url", BACK)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (status, _) = status_of(&open(&t, &mailed_link(&t, "second@example.test")).await);
    assert_eq!(status, "verified");
    let u = t.user(&user_id).await;
    assert!(
        u.email_addresses
            .iter()
            .any(|e| e.value == "second@example.test" && e.is_verified())
    );
    // Verified, the address is claimed: nobody else can sign up with it.
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", "second@example.test"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_identifier_exists"));
}

/// `attack_protection.email_link.require_same_client`: a link opened in another browser (a mail
/// scanner, someone who read the mail) answers `client_mismatch` and completes nothing; the
/// browser that asked can still open it.
#[tokio::test]
async fn with_the_same_client_required_another_browser_gets_client_mismatch() {
    let mut settings = link_settings();
    settings.email_links.require_same_client = true;
    let t = TestApp::with_settings(settings).await;
    let env = t.get("/v1/environment").await;
    assert_eq!(
        env.body["user_settings"]["attack_protection"]["email_link"]["require_same_client"],
        true
    );
    let email = "strict@example.test";
    let (mut d, id) = link_sign_in(&t, email).await;
    let link = mailed_link(&t, email);

    let (status, session) = status_of(&open(&t, &link).await);
    assert_eq!((status.as_str(), session), ("client_mismatch", None));
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(
        r.body["response"]["status"], "needs_first_factor",
        "{}",
        r.body
    );
    assert!(
        r.body["client"]["sessions"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );

    // The asking browser opens the same link: it works (the mismatch did not spend it).
    let (status, session) = status_of(&d.get(&link).await);
    assert_eq!(status, "verified");
    assert!(session.is_some());
}
