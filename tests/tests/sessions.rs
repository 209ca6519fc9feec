//! Sessions and session tokens: the lifecycle, multi-session clients, tokens and templates,
//! expiry and inactivity on an injected clock, and the store budget of a refresh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use axum::body::Body;
use frontdoor_tests::{Device, T0, TestApp, form, production_settings, req, settings_with};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn multi() -> frontdoor::settings::Settings {
    settings_with(&[("mode = \"single\"", "mode = \"multi\"")])
}

async fn signed_in(d: &mut Device<'_>, email: &str) -> (String, String) {
    let user = d.sign_up(email, PASSWORD).await;
    let session = d.get("/v1/client").await.body["client"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (user, session)
}

fn claims(t: &TestApp, jwt: &str) -> Value {
    t.verified_claims(jwt)
}

#[tokio::test]
async fn a_token_carries_clerks_v2_claims_and_verifies_with_the_jwks() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let (user, session) = signed_in(&mut d, "tok+clerk_test@example.com").await;
    let r = d
        .send(
            Method::POST,
            &format!("/v1/client/sessions/{session}/tokens"),
            "organization_id=",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "token");
    assert!(r.body.get("response").is_none(), "tokens are not enveloped");
    let c = claims(&t, r.body["jwt"].as_str().unwrap());
    let iat = T0 / 1000;
    assert_eq!(c["sub"], user.as_str());
    assert_eq!(c["sid"], session.as_str());
    assert_eq!(c["iat"], iat);
    assert_eq!(c["nbf"], iat - 10);
    assert_eq!(c["exp"], iat + 60);
    assert_eq!(c["iss"], "http://127.0.0.1:3000");
    assert_eq!(c["v"], 2);
    assert_eq!(c["fva"], json!([0, -1]));
    assert_eq!(c["sts"], "active");
    assert!(c.get("azp").is_none(), "no Origin, no azp");

    // With an Origin, azp names it.
    let r = t
        .send(
            req(
                Method::POST,
                &format!("/v1/client/sessions/{session}/tokens?_is_native=1"),
            )
            .header("authorization", d.token.clone().unwrap())
            .header("origin", "http://localhost:5173")
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(
        claims(&t, r.body["jwt"].as_str().unwrap())["azp"],
        "http://localhost:5173"
    );
}

#[tokio::test]
async fn a_refresh_is_one_read_and_no_write() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let (_, session) = signed_in(&mut d, "budget+clerk_test@example.com").await;
    t.counts.reset();
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!((t.counts.reads(), t.counts.writes()), (1, 0));
}

#[tokio::test]
async fn sessions_expire_after_their_lifetime() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let (_, session) = signed_in(&mut d, "old+clerk_test@example.com").await;
    t.clock.advance(Duration::from_secs(7 * 24 * 3600 - 1));
    assert_eq!(
        d.post(&format!("/v1/client/sessions/{session}/tokens"), "")
            .await
            .status,
        StatusCode::OK
    );
    t.clock.advance(Duration::from_secs(1));
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("signed_out"));
    let r = d.get(&format!("/v1/client/sessions/{session}")).await;
    assert_eq!(r.body["response"]["status"], "expired");
    assert_eq!(
        d.get("/v1/client").await.body["client"]["sessions"],
        json!([])
    );
}

#[tokio::test]
async fn an_inactivity_timeout_abandons_idle_sessions_and_touch_keeps_them_alive() {
    let t = TestApp::with_settings(settings_with(&[(
        "inactivity_timeout_secs = 0",
        "inactivity_timeout_secs = 3600",
    )]))
    .await;
    let mut d = Device::new(&t);
    let (_, session) = signed_in(&mut d, "idle+clerk_test@example.com").await;
    t.clock.advance(Duration::from_secs(3000));
    let r = d
        .post(
            &format!("/v1/client/sessions/{session}/touch"),
            "intent=select_session",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["last_active_at"], json!(T0 + 3_000_000));
    assert_eq!(
        r.body["response"]["abandon_at"],
        json!(T0 + 3_000_000 + 3_600_000)
    );
    t.clock.advance(Duration::from_secs(3000));
    assert_eq!(
        d.post(&format!("/v1/client/sessions/{session}/tokens"), "")
            .await
            .status,
        StatusCode::OK
    );
    t.clock.advance(Duration::from_secs(601));
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(r.error_code(), Some("signed_out"));
    assert_eq!(
        d.get(&format!("/v1/client/sessions/{session}")).await.body["response"]["status"],
        "abandoned"
    );
}

#[tokio::test]
async fn multi_session_clients_switch_with_touch_and_end_one_at_a_time() {
    let t = TestApp::with_settings(multi()).await;
    for email in ["one+clerk_test@example.com", "two+clerk_test@example.com"] {
        Device::new(&t).sign_up(email, PASSWORD).await;
    }
    let mut d = Device::new(&t);
    let first = d.sign_in("one+clerk_test@example.com", PASSWORD).await;
    let second = d.sign_in("two+clerk_test@example.com", PASSWORD).await;
    let c = d.get("/v1/client").await.body["client"].clone();
    assert_eq!(c["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(c["last_active_session_id"], second.as_str());

    t.clock.advance(Duration::from_secs(5));
    let r = d
        .post(
            &format!("/v1/client/sessions/{first}/touch"),
            "active_organization_id=",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["response"]["id"], first.as_str());
    assert_eq!(
        r.body["response"]["user"]["email_addresses"][0]["email_address"],
        "one+clerk_test@example.com"
    );
    assert_eq!(r.body["client"]["last_active_session_id"], first.as_str());

    let r = d
        .post(&format!("/v1/client/sessions/{first}/end"), "")
        .await;
    assert_eq!(r.body["response"]["status"], "ended");
    assert_eq!(r.body["client"]["last_active_session_id"], second.as_str());
    assert_eq!(r.body["client"]["sessions"].as_array().unwrap().len(), 1);
    let r = d
        .post(&format!("/v1/client/sessions/{first}/tokens"), "")
        .await;
    assert_eq!(r.error_code(), Some("signed_out"));
    let r = d
        .post(&format!("/v1/client/sessions/{second}/remove"), "")
        .await;
    assert_eq!(r.body["response"]["status"], "removed");
    assert_eq!(r.body["client"]["last_active_session_id"], Value::Null);
    let r = d
        .post(&format!("/v1/client/sessions/{second}/touch"), "")
        .await;
    assert_eq!(r.error_code(), Some("signed_out"));
    assert_eq!(
        d.get("/v1/client/sessions/sess_unknown").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        d.post("/v1/client/sessions/sess_unknown/tokens", "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn signing_out_of_all_sessions_rotates_the_client_token() {
    let t = TestApp::with_settings(multi()).await;
    let mut d = Device::new(&t);
    let (_, session) = signed_in(&mut d, "all+clerk_test@example.com").await;
    let old_token = d.token.clone();
    let r = d
        .send(Method::POST, "/v1/client/sessions?_method=DELETE", "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["object"], "client");
    assert_eq!(r.body["response"]["sessions"], json!([]));
    assert_eq!(r.body["client"]["sessions"], json!([]));
    assert_ne!(d.token, old_token);
    // The same client lives on under the new token; the old token reaches nothing.
    assert_eq!(
        d.get("/v1/client").await.body["client"]["id"],
        r.body["client"]["id"]
    );
    let mut stale = Device::new(&t);
    stale.token = old_token;
    assert_eq!(stale.get("/v1/client").await.body["client"], Value::Null);
    let r = stale
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("signed_out"));
}

#[tokio::test]
async fn a_session_revoked_from_another_device_stops_minting_tokens() {
    let t = TestApp::new().await;
    let mut phone = Device::with_ip(&t, "198.51.100.20");
    let (_, phone_session) = signed_in(&mut phone, "rev+clerk_test@example.com").await;
    let mut laptop = Device::new(&t);
    laptop.ip = Some("198.51.100.21".into());
    let laptop_session = laptop.sign_in("rev+clerk_test@example.com", PASSWORD).await;

    let r = laptop.get("/v1/me/sessions/active").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let phone_entry = list
        .iter()
        .find(|s| s["id"] == phone_session.as_str())
        .unwrap();
    assert_eq!(
        phone_entry["latest_activity"]["ip_address"],
        "198.51.100.20"
    );
    assert_eq!(phone_entry["latest_activity"]["object"], "session_activity");

    let r = laptop
        .post(
            &format!("/v1/me/sessions/{phone_session}/revoke?_clerk_session_id={laptop_session}"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "revoked");
    let r = phone
        .post(&format!("/v1/client/sessions/{phone_session}/tokens"), "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("signed_out"));
    assert_eq!(
        phone.get("/v1/client").await.body["client"]["sessions"],
        json!([])
    );
    let all = laptop.get("/v1/me/sessions").await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    assert_eq!(
        laptop
            .get("/v1/me/sessions/active")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another user's session cannot be revoked.
    let mut stranger = Device::new(&t);
    signed_in(&mut stranger, "stranger+clerk_test@example.com").await;
    let r = stranger
        .post(&format!("/v1/me/sessions/{laptop_session}/revoke"), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Without a session there is nobody to act for.
    let r = Device::new(&t).get("/v1/me/sessions").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("signed_out"));
}

#[tokio::test]
async fn jwt_templates_add_claims_and_set_their_lifetime() {
    let settings = settings_with(&[(
        "[actions]",
        "[jwt_templates.supabase]\nlifetime_secs = 300\nclaims = { role = \"authenticated\", email = \"{{user.primary_email_address}}\", meta = { uid = \"{{user.id}}\" } }\n\n[actions]",
    )]);
    let t = TestApp::with_settings(settings).await;
    let mut d = Device::new(&t);
    let (user, session) = signed_in(&mut d, "tpl+clerk_test@example.com").await;
    let r = d
        .post(
            &format!("/v1/client/sessions/{session}/tokens/supabase"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = claims(&t, r.body["jwt"].as_str().unwrap());
    assert_eq!(c["exp"], T0 / 1000 + 300);
    assert_eq!(c["role"], "authenticated");
    assert_eq!(c["email"], "tpl+clerk_test@example.com");
    assert_eq!(c["meta"]["uid"], user.as_str());
    assert_eq!(c["sub"], user.as_str());
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens/nope"), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("resource_not_found"));
}

#[tokio::test]
async fn rotation_makes_new_tokens_carry_the_new_kid() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let (_, session) = signed_in(&mut d, "kid+clerk_test@example.com").await;
    let kid = t.app.rotate_signing_key().await.unwrap();
    let r = d
        .post(&format!("/v1/client/sessions/{session}/tokens"), "")
        .await;
    let header = jsonwebtoken::decode_header(r.body["jwt"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
}

#[tokio::test]
async fn client_uat_follows_the_client_in_cookie_mode() {
    let t = TestApp::with_settings(production_settings()).await;
    let origin = "https://app.example.test";
    let send = |cookie: Option<String>, method: Method, path: &str, body: String| {
        let mut b = req(method, path)
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header("cookie", format!("__client={c}"));
        }
        t.send(b.body(Body::from(body)).unwrap())
    };
    let email = format!("uat{}@example.com", 1);
    let r = send(
        None,
        Method::POST,
        "/v1/client/sign_ups",
        form(&[("email_address", &email), ("password", PASSWORD)]),
    )
    .await;
    let mut cookie = r.cookie("__client").unwrap();
    assert_eq!(r.cookie("__client_uat").as_deref(), Some("0"));
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    send(
        Some(cookie.clone()),
        Method::POST,
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        "strategy=email_code".into(),
    )
    .await;
    let code = t.outbox.last_code_for(&email).unwrap();
    let r = send(
        Some(cookie.clone()),
        Method::POST,
        &format!("/v1/client/sign_ups/{id}/attempt_verification"),
        form(&[("strategy", "email_code"), ("code", &code)]),
    )
    .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(r.cookie("__client_uat"), Some((T0 / 1000).to_string()));
    cookie = r.cookie("__client").expect("signing in rotates the cookie");
    let r = send(
        Some(cookie.clone()),
        Method::POST,
        "/v1/client/sessions?_method=DELETE",
        String::new(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.cookie("__client_uat").as_deref(), Some("0"));
    assert!(r.cookie("__client").is_some_and(|c| c != cookie));
}
