//! Sign-ins through the HTTP surface: passwords, email and SMS codes, password reset, second
//! factors, lockout, rate limits, and the settings switching strategies off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use frontdoor_tests::{Device, TestApp, form, settings_with};
use http::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// Signs a user up on its own device, which then forgets its token (a fresh install).
async fn registered(t: &TestApp, email: &str) -> String {
    let mut d = Device::new(t);
    let id = d.sign_up(email, PASSWORD).await;
    // Time passes: the sign-up's code no longer holds the address's send cooldown.
    t.clock.advance(frontdoor::security::OTP_RESEND_COOLDOWN);
    id
}

#[tokio::test]
async fn password_sign_in_in_one_request() {
    let t = TestApp::new().await;
    let user_id = registered(&t, "ada@example.com").await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "ADA@example.com"),
                ("password", PASSWORD),
                ("locale", "en-US"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let si = &r.body["response"];
    assert_eq!(si["object"], "sign_in_attempt");
    assert_eq!(si["status"], "complete");
    assert_eq!(si["identifier"], "ada@example.com");
    let session_id = si["created_session_id"].as_str().unwrap();
    assert_eq!(r.body["client"]["last_active_session_id"], session_id);
    assert_eq!(
        r.body["client"]["sessions"][0]["user"]["id"],
        user_id.as_str()
    );
    assert_eq!(r.body["client"]["last_authentication_strategy"], "password");
    let u = t.user(&user_id).await;
    assert_eq!(u.last_sign_in_at, Some(t.app.now_ms()));
}

#[tokio::test]
async fn wrong_password_and_unknown_identifier_are_form_errors() {
    let t = TestApp::new().await;
    registered(&t, "bob@example.com").await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "bob@example.com"),
                ("password", "wrong password"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_password_incorrect"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "password");
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "nobody@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_identifier_not_found"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "identifier");
    let r = d.post("/v1/client/sign_ins", "password=x").await;
    assert_eq!(r.error_code(), Some("form_param_missing"));
}

#[tokio::test]
async fn identifier_first_lists_the_factors_then_the_password_completes() {
    let t = TestApp::new().await;
    let user_id = registered(&t, "cy@example.com").await;
    let u = t.user(&user_id).await;
    let email_id = u.email_addresses[0].id.clone();
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ins", "identifier=cy@example.com")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let si = &r.body["response"];
    assert_eq!(si["status"], "needs_first_factor");
    assert_eq!(
        si["supported_identifiers"],
        json!(["email_address", "phone_number", "username"])
    );
    assert_eq!(
        si["supported_first_factors"],
        json!([
            {"strategy": "password"},
            {"strategy": "email_code", "safe_identifier": "cy@example.com", "email_address_id": email_id, "primary": true},
            {"strategy": "reset_password_email_code", "safe_identifier": "cy@example.com", "email_address_id": email_id, "primary": true},
        ])
    );
    assert_eq!(si["supported_second_factors"], Value::Null);
    assert_eq!(si["user_data"]["has_image"], false);
    let id = si["id"].as_str().unwrap().to_owned();
    let shown = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(shown.body["response"]["id"], id.as_str());
    assert_eq!(
        d.get("/v1/client/sign_ins/sia_other").await.status,
        StatusCode::NOT_FOUND
    );

    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &form(&[("strategy", "password"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "complete");
    // A finished sign-in takes no more attempts.
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &form(&[("strategy", "password"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn passwordless_email_code_sign_in() {
    let t = TestApp::new().await;
    let user_id = registered(&t, "dee@example.com").await;
    let email_id = t.user(&user_id).await.email_addresses[0].id.clone();
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ins", "identifier=dee@example.com")
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &form(&[("strategy", "email_code"), ("email_address_id", &email_id)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["strategy"], "email_code");
    assert_eq!(v["status"], "unverified");
    let code = t.outbox.last_code_for("dee@example.com").unwrap();
    assert!(
        t.outbox.messages().last().unwrap()["subject"]
            .as_str()
            .unwrap()
            .contains("sign-in code")
    );
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "complete");
    assert_eq!(
        r.body["response"]["first_factor_verification"]["status"],
        "verified"
    );
    assert_eq!(
        r.body["client"]["sessions"][0]["user"]["id"],
        user_id.as_str()
    );
}

#[tokio::test]
async fn strategy_on_create_prepares_the_code_at_once_and_phone_codes_work() {
    let t = TestApp::new().await;
    let mut reg = Device::new(&t);
    let r = reg
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", "pho+clerk_test@example.com"),
                ("phone_number", "+14155552671"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    reg.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        "strategy=email_code",
    )
    .await;
    reg.post(
        &format!("/v1/client/sign_ups/{id}/attempt_verification"),
        "strategy=email_code&code=424242",
    )
    .await;
    reg.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        "strategy=phone_code",
    )
    .await;
    let sms = t.outbox.messages().last().cloned().unwrap();
    assert_eq!(sms["channel"], "sms");
    assert_eq!(sms["to"], "+14155552671");
    let code = sms["code"].as_str().unwrap().to_owned();
    let r = reg
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &form(&[("strategy", "phone_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    t.clock.advance(frontdoor::security::OTP_RESEND_COOLDOWN);

    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "+1 415 555 2671"),
                ("strategy", "phone_code"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["response"]["first_factor_verification"]["strategy"],
        "phone_code"
    );
    let sign_in = r.body["response"]["id"].as_str().unwrap().to_owned();
    let code = t.outbox.last_code_for("+14155552671").unwrap();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{sign_in}/attempt_first_factor"),
            &form(&[("strategy", "phone_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn password_reset_by_email_code_signs_out_other_sessions_when_asked() {
    let t = TestApp::new().await;
    let mut first = Device::new(&t);
    first.sign_up("eve@example.com", PASSWORD).await;
    t.clock.advance(frontdoor::security::OTP_RESEND_COOLDOWN);
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ins", "identifier=eve@example.com")
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            "strategy=reset_password_email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        t.outbox.messages().last().unwrap()["subject"]
            .as_str()
            .unwrap()
            .contains("password reset")
    );
    let code = t.outbox.last_code_for("eve@example.com").unwrap();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &form(&[("strategy", "reset_password_email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(
        r.body["response"]["status"], "needs_new_password",
        "{}",
        r.body
    );
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/reset_password"),
            "password=short",
        )
        .await;
    assert_eq!(r.error_code(), Some("form_password_length_too_short"));
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/reset_password"),
            &form(&[
                ("password", "a brand new passphrase"),
                ("sign_out_of_other_sessions", "true"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "complete");
    // The first device's session was revoked: its client shows no session any more.
    let first_view = first.get("/v1/client").await;
    assert_eq!(first_view.body["client"]["sessions"], json!([]));
    // The old password is gone, the new one works.
    let mut again = Device::new(&t);
    let r = again
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "eve@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_password_incorrect"));
    let r = again
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "eve@example.com"),
                ("password", "a brand new passphrase"),
            ]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete");
}

#[tokio::test]
async fn second_factors_sms_totp_and_single_use_backup_codes() {
    let t = TestApp::new().await;
    let user_id = registered(&t, "fay@example.com").await;
    let mut u = t.user(&user_id).await;
    let now = t.app.now_ms();
    u.phone_numbers
        .push(frontdoor::model::records::IdentificationRecord {
            verification: Some(frontdoor::flows::verification::verified(
                frontdoor::vocabulary::Strategy::PhoneCode,
            )),
            reserved_for_second_factor: true,
            default_second_factor: true,
            ..frontdoor::model::records::IdentificationRecord::new(
                frontdoor::vocabulary::IdentificationKind::PhoneNumber,
                "idn_phone2fa".into(),
                "+14155550000".into(),
                now,
            )
        });
    let secret = frontdoor::totp::secret_from_bytes(&[9u8; 20]);
    u.totp_secret = Some(secret.clone());
    u.backup_code_hashes = vec![
        t.app.codes.hash("backup-one"),
        t.app.codes.hash("backup-two"),
    ];
    t.save_user(&u).await;

    let body = form(&[("identifier", "fay@example.com"), ("password", PASSWORD)]);

    // SMS.
    let mut d = Device::new(&t);
    let r = d.post("/v1/client/sign_ins", &body).await;
    let si = &r.body["response"];
    assert_eq!(si["status"], "needs_second_factor", "{}", r.body);
    let strategies: Vec<_> = si["supported_second_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["strategy"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(strategies, vec!["totp", "phone_code", "backup_code"]);
    assert!(r.body["client"]["sessions"].as_array().unwrap().is_empty());
    let id = si["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_second_factor"),
            "strategy=phone_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let code = t.outbox.last_code_for("+14155550000").unwrap();
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            &form(&[("strategy", "phone_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);

    // TOTP.
    let mut d = Device::new(&t);
    let r = d.post("/v1/client/sign_ins", &body).await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let wrong = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            "strategy=totp&code=000000",
        )
        .await;
    assert_eq!(wrong.error_code(), Some("form_code_incorrect"));
    let code = t.totp_now(&secret);
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            &form(&[("strategy", "totp"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);

    // A backup code works once.
    for expected in [StatusCode::OK, StatusCode::UNPROCESSABLE_ENTITY] {
        let mut d = Device::new(&t);
        let r = d.post("/v1/client/sign_ins", &body).await;
        let id = r.body["response"]["id"].as_str().unwrap().to_owned();
        let r = d
            .post(
                &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
                "strategy=backup_code&code=backup-one",
            )
            .await;
        assert_eq!(r.status, expected, "{}", r.body);
    }
    assert_eq!(t.user(&user_id).await.backup_code_hashes.len(), 1);
}

#[tokio::test]
async fn ten_failures_lock_the_account_for_an_hour() {
    let t = TestApp::new().await;
    registered(&t, "gil@example.com").await;
    let mut d = Device::new(&t);
    let wrong = form(&[
        ("identifier", "gil@example.com"),
        ("password", "not the password"),
    ]);
    for _ in 0..9 {
        let r = d.post("/v1/client/sign_ins", &wrong).await;
        assert_eq!(r.error_code(), Some("form_password_incorrect"));
    }
    let r = d.post("/v1/client/sign_ins", &wrong).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_code(), Some("user_locked"));
    assert_eq!(
        r.body["errors"][0]["meta"]["lockout_expires_in_seconds"],
        3600
    );
    let right = form(&[("identifier", "gil@example.com"), ("password", PASSWORD)]);
    let r = d.post("/v1/client/sign_ins", &right).await;
    assert_eq!(r.error_code(), Some("user_locked"));
    t.clock.advance(Duration::from_secs(1800));
    let r = d.post("/v1/client/sign_ins", &right).await;
    assert_eq!(
        r.body["errors"][0]["meta"]["lockout_expires_in_seconds"],
        1800
    );
    t.clock.advance(Duration::from_secs(1800));
    let r = d.post("/v1/client/sign_ins", &right).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_and_fail_the_verification() {
    let t = TestApp::new().await;
    registered(&t, "hal@example.com").await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "hal@example.com"),
                ("strategy", "email_code"),
            ]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let code = t.outbox.last_code_for("hal@example.com").unwrap();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let attempt = format!("/v1/client/sign_ins/{id}/attempt_first_factor");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = d
            .post(
                &attempt,
                &form(&[("strategy", "email_code"), ("code", wrong)]),
            )
            .await;
        seen.push(r.error_code().unwrap().to_owned());
    }
    assert_eq!(
        seen,
        vec![
            "form_code_incorrect",
            "form_code_incorrect",
            "verification_failed"
        ]
    );
    let r = d
        .post(
            &attempt,
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.error_code(), Some("verification_failed"));
    let u = t
        .app
        .repo
        .load_user(
            &t.app
                .repo
                .identifier_owner(
                    frontdoor::store::keys::IdentifierKind::Email,
                    "hal@example.com",
                )
                .await
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.failed_attempts, 3);
}

#[tokio::test]
async fn single_session_mode_refuses_a_second_sign_in() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("ivy@example.com", PASSWORD).await;
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "ivy@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("session_exists"));
}

#[tokio::test]
async fn attempts_are_rate_limited_per_ip() {
    let t = TestApp::new().await;
    registered(&t, "jo@example.com").await;
    let mut d = Device::with_ip(&t, "198.51.100.4");
    let r = d
        .post("/v1/client/sign_ins", "identifier=jo@example.com")
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let attempt = format!("/v1/client/sign_ins/{id}/attempt_first_factor");
    for _ in 0..3 {
        let r = d
            .post(&attempt, "strategy=password&password=wrong%20password")
            .await;
        assert_eq!(r.error_code(), Some("form_password_incorrect"));
    }
    let r = d
        .post(&attempt, "strategy=password&password=wrong%20password")
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
}

/// The seed's example: an instance where people sign in only with a phone code.
#[tokio::test]
async fn a_phone_code_only_instance_refuses_emails_and_passwords() {
    let settings = settings_with(&[
        (
            "[attributes.email_address]\nenabled = true\nrequired = true\nused_for_first_factor = true\nfirst_factors = [\"email_code\"]\nverifications = [\"email_code\"]\nverify_at_sign_up = true",
            "[attributes.email_address]\nenabled = false",
        ),
        (
            "[attributes.phone_number]\nenabled = true\nrequired = false",
            "[attributes.phone_number]\nenabled = true\nrequired = true",
        ),
        (
            "[attributes.username]\nenabled = true\nrequired = false\nused_for_first_factor = true",
            "[attributes.username]\nenabled = false",
        ),
        (
            "[attributes.password]\nenabled = true\nrequired = true\nused_for_first_factor = true\nfirst_factors = [\"password\"]",
            "[attributes.password]\nenabled = false",
        ),
    ]);
    let t = TestApp::with_settings(settings).await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            "phone_number=%2B12015550142&password=whatever%20it%20is",
        )
        .await;
    assert_eq!(r.error_code(), Some("form_param_unknown"), "{}", r.body);
    let r = d
        .post("/v1/client/sign_ups", "phone_number=%2B12015550142")
        .await;
    assert_eq!(
        r.body["response"]["required_fields"],
        json!(["phone_number"])
    );
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    d.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        "strategy=phone_code",
    )
    .await;
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            "strategy=phone_code&code=424242",
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);

    let mut other = Device::new(&t);
    for (body, param) in [
        ("identifier=someone%40example.com", "identifier"),
        (
            "identifier=%2B12015550142&password=whatever%20it%20is",
            "password",
        ),
        ("identifier=%2B12015550142&strategy=password", "strategy"),
        ("identifier=%2B12015550142&strategy=email_code", "strategy"),
    ] {
        let r = other.post("/v1/client/sign_ins", body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.error_code(), Some("form_param_value_invalid"), "{body}");
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], param, "{body}");
    }
    let r = other
        .post(
            "/v1/client/sign_ins",
            "identifier=%2B12015550142&strategy=phone_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["response"]["supported_first_factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["strategy"].clone())
            .collect::<Vec<_>>(),
        vec![json!("phone_code")]
    );
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = other
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            "strategy=phone_code&code=424242",
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}
