//! Sign-ups through the HTTP surface: requirements from the settings, email and phone codes,
//! completion into a user and a session, and every refusal on the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use frontdoor::courier::{Courier, Message};
use frontdoor::store::keys::{self, IdentifierKind};
use frontdoor_tests::{Device, TestApp, form, settings_with};
use http::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn create_reports_requirements_from_the_settings() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            "first_name=Ada&locale=en-US&timezone=UTC",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let su = &r.body["response"];
    assert_eq!(su["object"], "sign_up_attempt");
    assert_eq!(su["status"], "missing_requirements");
    assert_eq!(su["required_fields"], json!(["email_address", "password"]));
    assert_eq!(
        su["optional_fields"],
        json!(["phone_number", "username", "first_name", "last_name"])
    );
    assert_eq!(su["missing_fields"], json!(["email_address", "password"]));
    assert_eq!(su["unverified_fields"], json!([]));
    assert_eq!(su["first_name"], "Ada");
    assert_eq!(su["verifications"]["email_address"], Value::Null);
    // The piggybacked client carries the sign-up, and a token was issued.
    assert_eq!(r.body["client"]["sign_up"]["id"], su["id"]);
    assert!(d.token.is_some());

    let id = su["id"].as_str().unwrap();
    let r = d
        .send(
            http::Method::PATCH,
            &format!("/v1/client/sign_ups/{id}"),
            &form(&[("email_address", "Ada@Example.com"), ("password", PASSWORD)]),
        )
        .await;
    let su = &r.body["response"];
    assert_eq!(su["email_address"], "ada@example.com");
    assert_eq!(su["password_enabled"], true);
    assert_eq!(su["missing_fields"], json!([]));
    assert_eq!(su["unverified_fields"], json!(["email_address"]));
    // No code was prepared yet: the spec's verification object needs an expiry, so it is null.
    assert_eq!(su["verifications"]["email_address"], Value::Null);
    let shown = d.get(&format!("/v1/client/sign_ups/{id}")).await;
    assert_eq!(shown.body["response"]["id"], id);
    let other = d.get("/v1/client/sign_ups/sua_nope").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn email_code_completes_the_sign_up_into_a_user_and_a_session() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", "grace@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            "strategy=email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = &r.body["response"]["verifications"]["email_address"];
    assert_eq!(v["status"], "unverified");
    assert_eq!(v["strategy"], "email_code");
    assert_eq!(v["next_action"], "needs_attempt");
    assert_eq!(v["expire_at"], json!(frontdoor_tests::T0 + 600_000));

    let sent = t.outbox.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], "grace@example.com");
    assert_eq!(sent[0]["channel"], "email");
    let code = sent[0]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(sent[0]["body"].as_str().unwrap().contains(&code));
    assert!(sent[0]["body"].as_str().unwrap().contains("Frontdoor"));

    // The code is kept only as a keyed hash.
    let item = t
        .store
        .get(&keys::sign_up(
            r.body["client"]["id"].as_str().unwrap(),
            &id,
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(!item.doc.to_string().contains(&code));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &form(&[("strategy", "email_code"), ("code", wrong)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_code_incorrect"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "code");

    let before = d.token.clone();
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let su = &r.body["response"];
    assert_eq!(su["status"], "complete");
    let user_id = su["created_user_id"].as_str().unwrap();
    let session_id = su["created_session_id"].as_str().unwrap();
    let client = &r.body["client"];
    assert_eq!(client["last_active_session_id"], session_id);
    assert_eq!(client["sessions"][0]["id"], session_id);
    assert_eq!(client["sessions"][0]["status"], "active");
    let user = &client["sessions"][0]["user"];
    assert_eq!(user["id"], user_id);
    assert_eq!(user["password_enabled"], true);
    assert_eq!(
        user["email_addresses"][0]["email_address"],
        "grace@example.com"
    );
    assert_eq!(
        user["email_addresses"][0]["verification"]["status"],
        "verified"
    );
    assert_eq!(
        user["primary_email_address_id"],
        user["email_addresses"][0]["id"]
    );
    // Signing in rotates the client token; the old one reaches nothing any more.
    assert_ne!(d.token, before);
    let mut stale = Device::new(&t);
    stale.token = before;
    assert_eq!(stale.get("/v1/client").await.body["client"], Value::Null);
    let again = d.get("/v1/client").await;
    assert_eq!(again.body["client"]["sessions"][0]["user"]["id"], user_id);
    // The email is now taken.
    let mut other = Device::new(&t);
    let r = other
        .post("/v1/client/sign_ups", "email_address=GRACE@example.com")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_identifier_exists"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "email_address");
    // Single-session mode: this client cannot start another sign-up.
    let r = d
        .post("/v1/client/sign_ups", "email_address=else@example.com")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("session_exists"));
}

#[tokio::test]
async fn three_wrong_codes_fail_the_verification_and_codes_expire() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", "wrong@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let prepare = format!("/v1/client/sign_ups/{id}/prepare_verification");
    let attempt = format!("/v1/client/sign_ups/{id}/attempt_verification");
    d.post(&prepare, "strategy=email_code").await;
    let code = t.outbox.last_code_for("wrong@example.com").unwrap();
    let wrong = if code == "999999" { "999998" } else { "999999" };
    let mut codes = Vec::new();
    for _ in 0..3 {
        let r = d
            .post(
                &attempt,
                &form(&[("strategy", "email_code"), ("code", wrong)]),
            )
            .await;
        codes.push(r.error_code().unwrap().to_owned());
    }
    assert_eq!(
        codes,
        vec![
            "form_code_incorrect",
            "form_code_incorrect",
            "verification_failed"
        ]
    );
    // Even the right code no longer works.
    let r = d
        .post(
            &attempt,
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.error_code(), Some("verification_failed"));
    let shown = d.get(&format!("/v1/client/sign_ups/{id}")).await;
    let v = &shown.body["response"]["verifications"]["email_address"];
    assert_eq!(v["status"], "failed");
    assert_eq!(v["next_action"], "needs_prepare");

    // Once the address's cooldown has passed, a new code can be asked for; a second request
    // within 30 s is refused.
    t.clock.advance(Duration::from_secs(30));
    let r = d.post(&prepare, "strategy=email_code").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = d.post(&prepare, "strategy=email_code").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("30"));
    t.clock.advance(Duration::from_secs(30));
    assert_eq!(
        d.post(&prepare, "strategy=email_code").await.status,
        StatusCode::OK
    );
    // Codes live 10 minutes.
    let code = t.outbox.last_code_for("wrong@example.com").unwrap();
    t.clock.advance(Duration::from_secs(600));
    let r = d
        .post(
            &attempt,
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("verification_expired"));
}

#[tokio::test]
async fn development_test_identifiers_take_424242_and_send_nothing() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", "jane+clerk_test@example.com"),
                ("phone_number", "+1 201 555 0123"),
                ("username", "Jane_Doe"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let su = &r.body["response"];
    assert_eq!(su["phone_number"], "+12015550123");
    assert_eq!(su["username"], "jane_doe");
    assert_eq!(
        su["unverified_fields"],
        json!(["email_address", "phone_number"])
    );
    let id = su["id"].as_str().unwrap().to_owned();
    for strategy in ["email_code", "phone_code"] {
        let r = d
            .post(
                &format!("/v1/client/sign_ups/{id}/prepare_verification"),
                &format!("strategy={strategy}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = d
            .post(
                &format!("/v1/client/sign_ups/{id}/attempt_verification"),
                &format!("strategy={strategy}&code=424242"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert!(
        t.outbox.messages().is_empty(),
        "test identifiers receive nothing"
    );
    let r = d.get("/v1/client").await;
    let user = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(user["phone_numbers"][0]["phone_number"], "+12015550123");
    assert_eq!(user["username"], "jane_doe");
}

#[tokio::test]
async fn bad_input_gets_field_errors() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let cases: &[(&str, &str, &str)] = &[
        (
            "email_address=not-an-email",
            "form_param_format_invalid",
            "email_address",
        ),
        (
            "phone_number=12345",
            "form_param_format_invalid",
            "phone_number",
        ),
        ("username=ab", "form_username_invalid_length", "username"),
        (
            "username=has%20space",
            "form_username_invalid_character",
            "username",
        ),
        (
            "password=short",
            "form_password_length_too_short",
            "password",
        ),
        ("strategy=saml", "form_param_value_invalid", "strategy"),
        (
            "unsafe_metadata=%5B1%5D",
            "form_param_format_invalid",
            "unsafe_metadata",
        ),
        (
            "legal_accepted=maybe",
            "form_param_value_invalid",
            "legal_accepted",
        ),
    ];
    for (body, code, param) in cases {
        let r = d.post("/v1/client/sign_ups", body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.error_code(), Some(*code), "{body}");
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], *param, "{body}");
    }
    let long = "p".repeat(129);
    let r = d
        .post("/v1/client/sign_ups", &form(&[("password", &long)]))
        .await;
    assert_eq!(r.error_code(), Some("form_password_length_too_long"));
    // Nothing was created by refused requests: no token was handed out.
    assert!(d.token.is_none());
    // A provider the instance has not connected: Clerk's own code for it.
    let r = d
        .post(
            "/v1/client/sign_ups",
            "strategy=oauth_google&redirect_url=http%3A%2F%2Flocalhost%3A5173%2F",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error_code(), Some("oauth_provider_not_enabled"));
}

#[tokio::test]
async fn switched_off_fields_and_restricted_sign_ups_are_refused() {
    let t = TestApp::with_settings(settings_with(&[(
        "[attributes.username]\nenabled = true\nrequired = false\nused_for_first_factor = true",
        "[attributes.username]\nenabled = false",
    )]))
    .await;
    let mut d = Device::new(&t);
    let r = d.post("/v1/client/sign_ups", "username=someone").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_param_unknown"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "username");

    let t = TestApp::with_settings(settings_with(&[(
        "mode = \"public\"",
        "mode = \"restricted\"",
    )]))
    .await;
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ups", "email_address=a@example.com")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_code(), Some("sign_up_mode_restricted"));
}

#[tokio::test]
async fn sign_up_creation_is_rate_limited_per_ip() {
    let t = TestApp::new().await;
    let mut d = Device::with_ip(&t, "203.0.113.7");
    for n in 0..5 {
        let r = d
            .post("/v1/client/sign_ups", &format!("first_name=n{n}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = d.post("/v1/client/sign_ups", "first_name=six").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error_code(), Some("too_many_requests"));
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait));
    // Another address is not affected; the same one recovers in the next window.
    let mut other = Device::with_ip(&t, "203.0.113.8");
    assert_eq!(
        other
            .post("/v1/client/sign_ups", "first_name=x")
            .await
            .status,
        StatusCode::OK
    );
    t.clock.advance(Duration::from_secs(wait));
    assert_eq!(
        d.post("/v1/client/sign_ups", "first_name=x").await.status,
        StatusCode::OK
    );
}

/// Fails the first `failures` sends, then delivers into the outbox.
struct Flaky {
    failures: std::sync::atomic::AtomicU32,
    inner: Arc<frontdoor::courier::outbox::Outbox>,
}

#[async_trait]
impl Courier for Flaky {
    async fn send(&self, m: &Message) -> frontdoor::Result<()> {
        if self
            .failures
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
        {
            return Err(frontdoor::Error::internal("provider down"));
        }
        self.inner.send(m).await
    }
}

#[tokio::test]
async fn a_courier_failure_is_a_5xx_and_the_verification_stays_retryable() {
    let delivered = TestApp::new().await.outbox;
    let flaky = Arc::new(Flaky {
        failures: std::sync::atomic::AtomicU32::new(1),
        inner: delivered.clone(),
    });
    let t = TestApp::with_courier(frontdoor_tests::development_settings(), flaky).await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", "flaky@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let prepare = format!("/v1/client/sign_ups/{id}/prepare_verification");
    let r = d.post(&prepare, "strategy=email_code").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.error_code(), Some("message_delivery_failed"));
    assert_eq!(r.body["errors"][0]["meta"]["channel"], "email");
    // No cooldown was started by the failed send: retrying at once works.
    let r = d.post(&prepare, "strategy=email_code").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let code = delivered.last_code_for("flaky@example.com").unwrap();
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete");
}

#[tokio::test]
async fn the_guard_item_names_the_user() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("guard@example.com", PASSWORD).await;
    let owner = t
        .app
        .repo
        .identifier_owner(IdentifierKind::Email, "guard@example.com")
        .await
        .unwrap();
    assert_eq!(owner.as_deref(), Some(user_id.as_str()));
}
