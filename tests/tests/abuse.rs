//! Abuse resistance: each test performs an attack from the security review through the HTTP
//! surface and shows that it now fails, with nothing written that should not be.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use frontdoor::repo::Repo;
use frontdoor_tests::{Device, TestApp, form};
use http::StatusCode;

const PASSWORD: &str = "correct horse battery";

/// A user with a password and TOTP as second factor; returns its id and TOTP secret.
async fn two_factor_user(t: &TestApp, email: &str) -> (String, String) {
    let user_id = Device::new(t).sign_up(email, PASSWORD).await;
    let mut u = t.user(&user_id).await;
    let secret = frontdoor::totp::secret_from_bytes(&[7u8; 20]);
    u.totp_secret = Some(secret.clone());
    t.save_user(&u).await;
    (user_id, secret)
}

/// Signs in with the password, which leaves the sign-in waiting for the second factor.
async fn past_the_password(d: &mut Device<'_>, email: &str) -> String {
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", email), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(
        r.body["response"]["status"], "needs_second_factor",
        "{}",
        r.body
    );
    r.body["response"]["id"].as_str().unwrap().to_owned()
}

/// Finding 1: a password does not buy unlimited second-factor guesses. Wrong TOTP codes count
/// toward the lockout; signing in with the password again forgives nothing; the tenth wrong
/// code locks the account, and then even the right code is refused.
#[tokio::test]
async fn second_factor_guesses_lock_the_account() {
    let t = TestApp::new().await;
    let email = "mfa@example.com";
    let (user_id, secret) = two_factor_user(&t, email).await;
    let mut d = Device::new(&t);
    let mut answers = Vec::new();
    let mut id = String::new();
    for round in 0..10 {
        // A fresh pass of the password between guesses used to reset the count.
        id = past_the_password(&mut d, email).await;
        let r = d
            .post(
                &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
                &form(&[("strategy", "totp"), ("code", "000000")]),
            )
            .await;
        answers.push((round, r.status, r.error_code().map(str::to_owned)));
        if round == 9 {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
            assert_eq!(r.error_code(), Some("user_locked"));
            let secs = r.body["errors"][0]["meta"]["lockout_expires_in_seconds"]
                .as_i64()
                .unwrap();
            assert_eq!(secs, 3600);
        }
    }
    for (round, status, code) in &answers[..9] {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "round {round}");
        assert_eq!(
            code.as_deref(),
            Some("form_code_incorrect"),
            "round {round}"
        );
    }
    // Locked: the right code is refused, and so is the password.
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            &form(&[("strategy", "totp"), ("code", &t.totp_now(&secret))]),
        )
        .await;
    assert_eq!(r.error_code(), Some("user_locked"), "{}", r.body);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", email), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.error_code(), Some("user_locked"), "{}", r.body);
    assert!(t.user(&user_id).await.locked_until.is_some());
}

/// Finding 2a: alternating `email_code` and `reset_password_email_code` used to skip the 30 s
/// cooldown (13 emails in 0.1 s). The cooldown is the destination's, whatever the strategy.
#[tokio::test]
async fn alternating_strategies_do_not_skip_the_cooldown() {
    let t = TestApp::new().await;
    Device::new(&t)
        .sign_up("victim@example.com", PASSWORD)
        .await;
    // (The sign-up's own code started a cooldown too.)
    t.clock.advance(std::time::Duration::from_secs(30));
    let sent_before = t.outbox.messages().len();
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ins", "identifier=victim%40example.com")
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/client/sign_ins/{id}/prepare_first_factor");
    let mut refused = 0;
    for strategy in ["email_code", "reset_password_email_code"].repeat(4) {
        let r = d.post(&path, &form(&[("strategy", strategy)])).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.error_code(), Some("too_many_requests"));
            assert!(r.header("retry-after").is_some());
            refused += 1;
        }
    }
    assert_eq!(
        t.outbox.messages().len() - sent_before,
        1,
        "one email, not eight"
    );
    assert_eq!(refused, 7);
    // After the cooldown, the other strategy sends again.
    t.clock.advance(std::time::Duration::from_secs(30));
    let r = d.post(&path, "strategy=reset_password_email_code").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(t.outbox.messages().len() - sent_before, 2);
}

/// Finding 2b: changing the phone number on a sign-up and preparing each time used to text any
/// number of strangers. One client gets a handful of sends per hour, then 429.
#[tokio::test]
async fn one_client_cannot_text_a_list_of_numbers() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ups", "email_address=pumper%40example.com")
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let mut texted = 0;
    let mut refused = None;
    for n in 0..10 {
        let phone = format!("+1415555{:04}", 2600 + n);
        let r = d
            .send(
                http::Method::PATCH,
                &format!("/v1/client/sign_ups/{id}"),
                &form(&[("phone_number", &phone)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = d
            .post(
                &format!("/v1/client/sign_ups/{id}/prepare_verification"),
                "strategy=phone_code",
            )
            .await;
        if r.status == StatusCode::OK {
            texted += 1;
        } else {
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{n}: {}", r.body);
            assert!(r.header("retry-after").is_some());
            refused.get_or_insert(n);
        }
    }
    let sms = t
        .outbox
        .messages()
        .iter()
        .filter(|m| m["channel"] == "sms")
        .count();
    assert_eq!(sms, texted);
    assert_eq!(
        texted,
        frontdoor::security::SENDS_PER_CLIENT_PER_HOUR as usize
    );
    assert_eq!(refused, Some(texted));
}

/// Finding 2c: one destination gets at most a few codes per hour, however many clients ask.
#[tokio::test]
async fn one_destination_gets_a_few_codes_per_hour() {
    let t = TestApp::new().await;
    // The sign-up's code is the first of the hour.
    Device::new(&t)
        .sign_up("popular@example.com", PASSWORD)
        .await;
    let before = t.outbox.messages().len() - 1;
    let mut answers = Vec::new();
    for _ in 0..8 {
        t.clock.advance(std::time::Duration::from_secs(31));
        let mut d = Device::new(&t);
        let r = d
            .post(
                "/v1/client/sign_ins",
                "identifier=popular%40example.com&strategy=email_code",
            )
            .await;
        answers.push(r.status);
    }
    let sent = t.outbox.messages().len() - before;
    assert_eq!(
        sent,
        frontdoor::security::SENDS_PER_DESTINATION_PER_HOUR as usize
    );
    assert_eq!(
        answers
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        8 - (sent - 1),
        "the sign-up's code counted: {answers:?}"
    );
    // The next hour, codes flow again.
    t.clock.advance(std::time::Duration::from_secs(3600));
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ins",
            "identifier=popular%40example.com&strategy=email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Finding 2d: every endpoint that sends a code is behind a per-IP bucket.
#[tokio::test]
async fn prepare_endpoints_are_rate_limited_per_ip() {
    let t = TestApp::new().await;
    let limit = t.app.settings.rate_limits.prepares;
    let mut statuses = Vec::new();
    for n in 0..=limit {
        // Separate sign-ups (their own cooldowns), prepared from one address.
        let mut d = Device::new(&t);
        let email = format!("someone{n}%2Bclerk_test%40example.com");
        let r = d
            .post("/v1/client/sign_ups", &format!("email_address={email}"))
            .await;
        let id = r.body["response"]["id"].as_str().unwrap().to_owned();
        d.ip = Some("203.0.113.9".into());
        let path = format!("/v1/client/sign_ups/{id}/prepare_verification");
        let r = d.post(&path, "strategy=email_code").await;
        statuses.push((
            r.status,
            r.error_code().map(str::to_owned),
            r.header("retry-after").is_some(),
        ));
    }
    let last = statuses.pop().unwrap();
    assert!(
        statuses.iter().all(|(s, _, _)| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        last,
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some("too_many_requests".into()),
            true
        )
    );
}

/// Finding 3: updating a sign-up (an identifier-existence oracle, and a password hash per
/// request) counts against the same per-IP bucket as creating one.
#[tokio::test]
async fn sign_up_updates_are_rate_limited_like_creates() {
    let t = TestApp::new().await;
    let mut d = Device::with_ip(&t, "203.0.113.10");
    let r = d.post("/v1/client/sign_ups", "").await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let limit = t.app.settings.rate_limits.creates;
    let mut statuses = Vec::new();
    for n in 0..limit {
        let email = format!("probe{n}%40example.com");
        let r = d
            .send(
                http::Method::PATCH,
                &format!("/v1/client/sign_ups/{id}"),
                &format!("email_address={email}"),
            )
            .await;
        statuses.push(r.status);
    }
    // The create used one of the window's requests: the limit-th update is refused.
    assert!(
        statuses[..(limit as usize - 1)]
            .iter()
            .all(|s| *s == StatusCode::OK)
    );
    assert_eq!(statuses[limit as usize - 1], StatusCode::TOO_MANY_REQUESTS);
}

/// Finding 9: on an account with a second factor, a reset code alone used to change the
/// password and sign out every device before the second factor was checked. The new password
/// now waits for the second factor.
#[tokio::test]
async fn a_reset_waits_for_the_second_factor() {
    let t = TestApp::new().await;
    let email = "reset2fa@example.com";
    let mut owner = Device::new(&t);
    let user_id = owner.sign_up(email, PASSWORD).await;
    let mut u = t.user(&user_id).await;
    let secret = frontdoor::totp::secret_from_bytes(&[5u8; 20]);
    u.totp_secret = Some(secret.clone());
    t.save_user(&u).await;
    t.clock.advance(std::time::Duration::from_secs(31));

    let mut attacker = Device::new(&t);
    let r = attacker
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", email),
                ("strategy", "reset_password_email_code"),
            ]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let code = t.outbox.last_code_for(email).unwrap();
    let r = attacker
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
    let r = attacker
        .post(
            &format!("/v1/client/sign_ins/{id}/reset_password"),
            "password=the%20attackers%20password",
        )
        .await;
    assert_eq!(
        r.body["response"]["status"], "needs_second_factor",
        "{}",
        r.body
    );

    // Nothing changed: the old password still passes, the owner is still signed in.
    let stored = t.user(&user_id).await;
    assert_eq!(stored.password_hash, u.password_hash);
    assert_eq!(owner.get("/v1/me").await.status, StatusCode::OK);
    let mut other = Device::new(&t);
    past_the_password(&mut other, email).await;

    // The second factor completes the reset, and signs out elsewhere (the default).
    let r = attacker
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            &form(&[("strategy", "totp"), ("code", &t.totp_now(&secret))]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_ne!(t.user(&user_id).await.password_hash, u.password_hash);
    assert_eq!(owner.get("/v1/me").await.error_code(), Some("signed_out"));
    assert_eq!(attacker.get("/v1/me").await.status, StatusCode::OK);
}

fn active_sessions(sessions: &[frontdoor::model::records::SessionRecord], now: i64) -> usize {
    sessions.iter().filter(|s| s.is_active_at(now)).count()
}

/// Finding 7: with more than 99 sessions, changing the password with sign-out and deleting the
/// account used to answer 500 and change nothing (the 100-write transaction cap).
#[tokio::test]
async fn large_accounts_can_change_password_and_be_deleted() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("crowded@example.com", PASSWORD).await;
    t.more_sessions(&mut d, "a", 140).await;
    let now = t.app.now_ms();
    assert_eq!(
        active_sessions(&t.app.repo.user_sessions(&user_id).await.unwrap(), now),
        141
    );

    let r = d
        .post(
            "/v1/me/change_password",
            &form(&[
                ("current_password", PASSWORD),
                ("new_password", "a brand new password"),
                ("sign_out_of_other_sessions", "true"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sessions = t.app.repo.user_sessions(&user_id).await.unwrap();
    assert_eq!(
        active_sessions(&sessions, t.app.now_ms()),
        1,
        "only the acting session"
    );

    t.more_sessions(&mut d, "b", 130).await;
    let r = d.send(http::Method::DELETE, "/v1/me", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(t.app.repo.load_user(&user_id).await.unwrap().is_none());
    let sessions = t.app.repo.user_sessions(&user_id).await.unwrap();
    assert_eq!(active_sessions(&sessions, t.app.now_ms()), 0);
}

/// Finding 5: typing a username used to disclose every verified email address and phone number
/// of the account. Only the identifier the caller typed is shown in full.
#[tokio::test]
async fn identifiers_the_caller_did_not_type_are_masked() {
    let t = TestApp::new().await;
    let mut owner = Device::new(&t);
    owner.sign_up("jane.doe@example.com", PASSWORD).await;
    let r = owner
        .send(http::Method::PATCH, "/v1/me", "username=janedoe")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = owner
        .post("/v1/me/phone_numbers", "phone_number=%2B12015550111")
        .await;
    let phone_id = r.body["response"]["id"].as_str().unwrap().to_owned();
    owner
        .post(
            &format!("/v1/me/phone_numbers/{phone_id}/prepare_verification"),
            "strategy=phone_code",
        )
        .await;
    let r = owner
        .post(
            &format!("/v1/me/phone_numbers/{phone_id}/attempt_verification"),
            "code=424242",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    t.clock.advance(std::time::Duration::from_secs(31));

    let shown = |body: &serde_json::Value| -> Vec<String> {
        body["response"]["supported_first_factors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["safe_identifier"].as_str().map(str::to_owned))
            .collect()
    };
    let mut stranger = Device::new(&t);
    let r = stranger
        .post("/v1/client/sign_ins", "identifier=janedoe")
        .await;
    let masked = shown(&r.body);
    assert!(!masked.is_empty(), "{}", r.body);
    for s in &masked {
        assert!(
            s == "j***@example.com" || s == "+1******0111",
            "{s} is not masked"
        );
    }
    // A code still goes to the real address behind the mask.
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = stranger
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            "strategy=email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(t.outbox.last_code_for("jane.doe@example.com").is_some());

    // The identifier typed is shown as typed; the others stay masked.
    let r = Device::new(&t)
        .post("/v1/client/sign_ins", "identifier=jane.doe%40example.com")
        .await;
    let seen = shown(&r.body);
    assert!(
        seen.contains(&"jane.doe@example.com".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"+1******0111".to_owned()), "{seen:?}");
}

fn nested_json(levels: usize) -> String {
    let mut v = "1".to_owned();
    for _ in 0..levels {
        v = format!("{{\"a\":{v}}}");
    }
    v
}

/// Finding 8: metadata nested 127 levels deep used to be stored, then every read of the user
/// answered 500; sign-up took 60 KB of metadata. Depth and size are limited on every path.
#[tokio::test]
async fn deep_or_large_metadata_is_refused_everywhere() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("meta@example.com", PASSWORD).await;
    for (path, method) in [
        ("/v1/me", http::Method::PATCH),
        ("/v1/me/metadata", http::Method::PATCH),
    ] {
        t.counts.reset();
        let body = form(&[("unsafe_metadata", &nested_json(127))]);
        let r = d.send(method, path, &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], "unsafe_metadata");
        assert_eq!(t.counts.commits(), 0, "{path} wrote something");
    }
    // A merge that would make the document too deep is refused too.
    let r = d
        .send(
            http::Method::PATCH,
            "/v1/me/metadata",
            &form(&[("unsafe_metadata", &nested_json(9))]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let deeper = format!("{{\"b\":{{\"c\":{}}}}}", nested_json(9));
    let r = d
        .send(
            http::Method::PATCH,
            "/v1/me/metadata",
            &form(&[("unsafe_metadata", &deeper)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(d.get("/v1/me").await.status, StatusCode::OK);

    // Sign-up: deep or large metadata is refused and nothing is created.
    let large = format!("{{\"k\":\"{}\"}}", "x".repeat(60 * 1024));
    for (metadata, code) in [
        (nested_json(127), "form_param_value_invalid"),
        (large, "form_param_value_too_large"),
    ] {
        let mut fresh = Device::new(&t);
        t.counts.reset();
        let r = fresh
            .post(
                "/v1/client/sign_ups",
                &form(&[
                    ("email_address", "new@example.com"),
                    ("unsafe_metadata", &metadata),
                ]),
            )
            .await;
        assert_eq!(r.error_code(), Some(code), "{}", r.body);
        assert_eq!(t.counts.commits(), 0);
        assert!(fresh.token.as_deref().unwrap_or_default().is_empty());
    }
}

/// Finding 6: an unverified address added in `/v1/me` used to block its owner's sign-up forever,
/// and one account could add any number of addresses. An identifier is reserved only once it is
/// verified, removing an unverified one frees nothing that is not ours, and the number of
/// addresses per account is capped.
#[tokio::test]
async fn unverified_identifiers_do_not_squat() {
    let t = TestApp::new().await;
    let mut squatter = Device::new(&t);
    squatter.sign_up("squatter@example.com", PASSWORD).await;
    let r = squatter
        .post(
            "/v1/me/email_addresses",
            "email_address=owner%40example.com",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let squatted_id = r.body["response"]["id"].as_str().unwrap().to_owned();

    // The real owner signs up with it anyway, and signs in with it.
    t.clock.advance(std::time::Duration::from_secs(31));
    let mut owner = Device::new(&t);
    owner.sign_up("owner@example.com", PASSWORD).await;
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "owner@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);

    // Removing the squatter's unverified copy does not free the owner's address.
    let r = squatter
        .send(
            http::Method::DELETE,
            &format!("/v1/me/email_addresses/{squatted_id}"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = Device::new(&t)
        .post("/v1/client/sign_ups", "email_address=owner%40example.com")
        .await;
    assert_eq!(r.error_code(), Some("form_identifier_exists"), "{}", r.body);

    // And nobody collects addresses without bound.
    let cap = frontdoor::security::MAX_IDENTIFICATIONS_PER_KIND;
    for n in 1..cap {
        let r = squatter
            .post(
                "/v1/me/email_addresses",
                &format!("email_address=extra{n}%40example.com"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.body);
    }
    t.counts.reset();
    let r = squatter
        .post(
            "/v1/me/email_addresses",
            "email_address=one.too.many%40example.com",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.error_code(), Some("quota_exceeded"));
    assert_eq!(t.counts.commits(), 0);
}

/// Starts a reverification on `d`'s session and proves the password (and the TOTP code when
/// `totp` is given); returns the last answer.
async fn reverify(d: &mut Device<'_>, t: &TestApp, totp: Option<&str>) -> serde_json::Value {
    let sid = d.get("/v1/client").await.body["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v1/client/sessions/{sid}/verify");
    let r = d.post(&base, "level=second_factor").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["object"], "session_reverification");
    assert_eq!(r.body["response"]["status"], "needs_first_factor");
    let r = d
        .post(
            &format!("{base}/attempt_first_factor"),
            &form(&[("strategy", "password"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let Some(secret) = totp else {
        assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
        return r.body;
    };
    assert_eq!(
        r.body["response"]["status"], "needs_second_factor",
        "{}",
        r.body
    );
    let r = d
        .post(
            &format!("{base}/attempt_second_factor"),
            &form(&[("strategy", "totp"), ("code", &t.totp_now(secret))]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    r.body
}

/// Finding 4: with only a stolen session, an attacker could regenerate backup codes, remove
/// TOTP, add and make primary their own email, remove the owner's, change the password and
/// delete the account. Every such action now needs a recent factor verification.
#[tokio::test]
async fn sensitive_actions_need_a_recent_verification() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("stolen@example.com", PASSWORD).await;
    let r = d
        .post("/v1/me/email_addresses", "email_address=mine%40example.com")
        .await;
    assert_eq!(r.status, StatusCode::OK, "fresh sessions may: {}", r.body);
    let email_id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let owner_email = t.user(&user_id).await.primary_email_address_id.unwrap();

    // Eleven minutes later, the session is stale.
    t.clock.advance(std::time::Duration::from_secs(11 * 60));
    let attempts: Vec<(http::Method, String, String)> = vec![
        (
            http::Method::POST,
            "/v1/me/email_addresses".into(),
            "email_address=attacker%40example.com".into(),
        ),
        (
            http::Method::DELETE,
            format!("/v1/me/email_addresses/{owner_email}"),
            String::new(),
        ),
        (
            http::Method::PATCH,
            "/v1/me".into(),
            format!("primary_email_address_id={email_id}"),
        ),
        (
            http::Method::POST,
            "/v1/me/change_password".into(),
            form(&[
                ("current_password", PASSWORD),
                ("new_password", "attacker password"),
            ]),
        ),
        (
            http::Method::POST,
            "/v1/me/remove_password".into(),
            form(&[("current_password", PASSWORD)]),
        ),
        (http::Method::POST, "/v1/me/totp".into(), String::new()),
        (http::Method::DELETE, "/v1/me/totp".into(), String::new()),
        (
            http::Method::POST,
            "/v1/me/backup_codes".into(),
            String::new(),
        ),
        (
            http::Method::POST,
            "/v1/me/phone_numbers".into(),
            "phone_number=%2B12015550123".into(),
        ),
        (http::Method::DELETE, "/v1/me".into(), String::new()),
    ];
    for (method, path, body) in &attempts {
        t.counts.reset();
        let r = d.send(method.clone(), path, body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(
            r.error_code(),
            Some("session_reverification_required"),
            "{method} {path}"
        );
        assert_eq!(t.counts.commits(), 0, "{method} {path} wrote something");
    }
    // Harmless edits still work.
    let r = d
        .send(http::Method::PATCH, "/v1/me", "first_name=Still")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // After proving the password again, the action goes through, and the token says so.
    let body = reverify(&mut d, &t, None).await;
    let sid = body["response"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = body["client"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sid.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        session["factor_verification_age"],
        serde_json::json!([0, -1])
    );
    let r = d
        .send(
            http::Method::PATCH,
            "/v1/me",
            &format!("primary_email_address_id={email_id}"),
        )
        .await;
    // (The new address is unverified, so it cannot be primary: the request got past the check.)
    assert_eq!(
        r.error_code(),
        Some("form_param_value_invalid"),
        "{}",
        r.body
    );
    let r = d.post("/v1/me/totp", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Reverification of a user with a second factor asks for both, and a wrong password counts
/// toward the lockout like at sign-in.
#[tokio::test]
async fn reverification_asks_for_the_second_factor_and_counts_failures() {
    let t = TestApp::new().await;
    let email = "both@example.com";
    let (user_id, secret) = two_factor_user(&t, email).await;
    let mut d = Device::new(&t);
    let id = past_the_password(&mut d, email).await;
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            &form(&[("strategy", "totp"), ("code", &t.totp_now(&secret))]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    t.clock.advance(std::time::Duration::from_secs(11 * 60));
    let r = d.post("/v1/me/backup_codes", "").await;
    assert_eq!(r.error_code(), Some("session_reverification_required"));

    let sid = r.body["errors"][0]["meta"]["session_verification"]["level"].clone();
    assert_eq!(sid, "multi_factor");
    let session_id = d.get("/v1/client").await.body["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v1/client/sessions/{session_id}/verify");
    d.post(&base, "level=multi_factor").await;
    let r = d
        .post(
            &format!("{base}/attempt_first_factor"),
            "strategy=password&password=wrong%20password",
        )
        .await;
    assert_eq!(r.error_code(), Some("form_password_incorrect"));
    assert_eq!(t.user(&user_id).await.failed_attempts, 1);

    // The TOTP step accepts each time step once: move to the next one.
    t.clock.advance(std::time::Duration::from_secs(30));
    reverify(&mut d, &t, Some(&secret)).await;
    let r = d.post("/v1/me/backup_codes", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(t.user(&user_id).await.failed_attempts, 0);
}

/// Finding 10 (lows): expired rate-limit counters used to stay in the embedded store forever.
#[tokio::test]
async fn expired_counters_are_purged_from_the_embedded_store() {
    use frontdoor::store::ItemStore;
    use frontdoor::store::keys::rate_counter;
    let clock = std::sync::Arc::new(frontdoor::clock::ManualClock::new(frontdoor_tests::T0));
    let store = frontdoor::store::sqlite::SqliteStore::in_memory(clock.clone()).unwrap();
    let now = frontdoor_tests::T0 / 1000;
    for n in 0..50 {
        store
            .increment(
                &rate_counter("attempt", &format!("198.51.100.{n}"), now),
                1,
                now + 10,
            )
            .await
            .unwrap();
    }
    assert_eq!(store.item_count().await.unwrap(), 50);
    clock.advance(std::time::Duration::from_secs(120));
    let later = now + 120;
    store
        .increment(
            &rate_counter("attempt", "198.51.100.1", later),
            1,
            later + 10,
        )
        .await
        .unwrap();
    assert_eq!(
        store.item_count().await.unwrap(),
        1,
        "only the live counter is left"
    );
}

/// Finding 10 (lows): clients used to be created without limit and kept forever when unused.
#[tokio::test]
async fn clients_are_rate_limited_and_unused_ones_expire() {
    let t = TestApp::new().await;
    let mut statuses = Vec::new();
    for _ in 0..=t.app.settings.rate_limits.creates {
        let mut d = Device::with_ip(&t, "203.0.113.77");
        statuses.push(d.post("/v1/client", "").await.status);
    }
    let refused = statuses.pop().unwrap();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(refused, StatusCode::TOO_MANY_REQUESTS);

    let mut idle = Device::new(&t);
    let r = idle.post("/v1/client", "").await;
    assert_eq!(r.status, StatusCode::OK);
    t.clock.advance(frontdoor::security::IDLE_CLIENT_RETENTION);
    let r = idle.get("/v1/client").await;
    assert_eq!(
        r.body["response"],
        serde_json::Value::Null,
        "the unused client is gone"
    );
}

/// Finding 10 (lows): names took control, NUL and text-direction characters; a malformed form
/// body was taken as an empty form.
#[tokio::test]
async fn hostile_names_and_malformed_forms_are_refused() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("names@example.com", PASSWORD).await;
    for name in ["Eve\u{0}", "Eve\u{202E}gnp.exe", "E\u{7}ve"] {
        t.counts.reset();
        let r = d
            .send(
                http::Method::PATCH,
                "/v1/me",
                &form(&[("first_name", name)]),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}: {}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], "first_name");
        assert_eq!(t.counts.commits(), 0);
    }
    t.counts.reset();
    let r = Device::new(&t)
        .post("/v1/client/sign_ins", "%%%=%%&&==")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error_code(), Some("request_body_invalid"));
    assert_eq!(t.counts.commits(), 0);
}

/// Finding 10 (lows): the embedded store and its directory were world-readable.
#[tokio::test]
async fn the_embedded_store_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("frontdoor-private-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clock = std::sync::Arc::new(frontdoor::clock::ManualClock::new(frontdoor_tests::T0));
    let path = dir.join("data").join("frontdoor.db");
    let _store = frontdoor::store::sqlite::SqliteStore::open(&path, clock.clone()).unwrap();
    let outbox = dir.join("data").join("outbox.jsonl");
    let _outbox = frontdoor::courier::outbox::Outbox::to_file(outbox.clone(), clock).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("data")), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&outbox), 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends a sign-in create as if over TCP from `peer`, with an `X-Forwarded-For` header.
async fn create_from(t: &TestApp, peer: &str, forwarded_for: &str) -> StatusCode {
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    let req = frontdoor_tests::req(http::Method::POST, "/v1/client/sign_ins")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded_for)
        .extension(axum::extract::ConnectInfo(peer))
        .body(axum::body::Body::empty())
        .unwrap();
    t.send(req).await.status
}

/// Finding 10 (lows): behind a reverse proxy the local server saw one address for everyone.
/// An explicit, off-by-default list of trusted proxies makes their `X-Forwarded-For` count; no
/// one else can choose the address their rate limits count against.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let limit = frontdoor_tests::development_settings().rate_limits.creates as usize;
    // Off by default: a caller's X-Forwarded-For is ignored, the peer is what counts.
    let t = TestApp::new().await;
    let mut statuses = Vec::new();
    for n in 0..=limit {
        statuses.push(create_from(&t, "198.51.100.7", &format!("192.0.2.{n}")).await);
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Trusted: each forwarded address has a bucket of its own; the proxy's own does not fill.
    let t = TestApp::with_settings(frontdoor_tests::settings_with(&[(
        "trusted_proxies = []",
        "trusted_proxies = [\"10.0.0.1\"]",
    )]))
    .await;
    for n in 0..=limit {
        let status = create_from(&t, "10.0.0.1", &format!("spoofed, 192.0.2.{n}")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut one = Vec::new();
    for _ in 0..=limit {
        one.push(create_from(&t, "10.0.0.1", "192.0.2.200").await);
    }
    assert_eq!(one.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{one:?}");
}

/// Finding 10 (lows): the local server had no header or body read timeouts, so slow clients
/// could hold its connections. A client that never finishes its headers is disconnected.
#[tokio::test]
async fn the_local_server_drops_clients_that_never_finish_their_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = frontdoor_local::local_router(
        t.app.clone(),
        std::path::Path::new("/nonexistent"),
        Default::default(),
    );
    let timeouts = frontdoor_local::Timeouts {
        headers: std::time::Duration::from_millis(200),
        request: std::time::Duration::from_secs(5),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(frontdoor_local::serve(listener, router, timeouts, async {
        let _ = stopped.await;
    }));

    // A well-behaved client is served.
    let mut good = tokio::net::TcpStream::connect(addr).await.unwrap();
    good.write_all(b"GET /v1/environment HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    good.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A slow one is cut off (bounded wait: the test never hangs).
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /v1/environment HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buf),
    )
    .await;
    assert!(closed.is_ok(), "the connection was still open after 5 s");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Finding 7: the number of active sessions per user is capped; a sign-in past the cap revokes
/// the least recently active one.
#[tokio::test]
async fn active_sessions_per_user_are_capped() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("many.devices@example.com", PASSWORD).await;
    let cap = frontdoor::security::MAX_ACTIVE_SESSIONS_PER_USER;
    t.more_sessions(&mut d, "c", cap - 1).await;
    let now = t.app.now_ms();
    let sessions = t.app.repo.user_sessions(&user_id).await.unwrap();
    assert_eq!(active_sessions(&sessions, now), cap);
    // One of them, neither the first nor the last made, was active longest ago.
    let idle = sessions
        .iter()
        .find(|s| s.id == "sess_c42")
        .unwrap()
        .clone();
    let idle = frontdoor::model::records::SessionRecord {
        last_active_at: idle.last_active_at - 60_000,
        ..idle
    };
    t.app
        .repo
        .commit(Repo::session_writes(&idle).unwrap())
        .await
        .unwrap();
    t.clock.advance(std::time::Duration::from_secs(60));
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "many.devices@example.com"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let sessions = t.app.repo.user_sessions(&user_id).await.unwrap();
    assert_eq!(active_sessions(&sessions, t.app.now_ms()), cap);
    let new_id = r.body["response"]["created_session_id"].as_str().unwrap();
    assert!(
        sessions
            .iter()
            .any(|s| s.id == new_id && s.is_active_at(t.app.now_ms()))
    );
    let revoked: Vec<&str> = sessions
        .iter()
        .filter(|s| !s.is_active_at(t.app.now_ms()))
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(revoked, ["sess_c42"], "the least recently active one goes");
}

/// A first-factor-only reverification of a two-factor account forgives no failures: the
/// password alone cannot reopen the guessing of the second factor.
#[tokio::test]
async fn a_first_factor_reverification_does_not_reset_second_factor_guesses() {
    let t = TestApp::new().await;
    let email = "half@example.com";
    let (user_id, secret) = two_factor_user(&t, email).await;
    let mut owner = Device::new(&t);
    let id = past_the_password(&mut owner, email).await;
    let r = owner
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
            &form(&[("strategy", "totp"), ("code", &t.totp_now(&secret))]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let mut guesser = Device::new(&t);
    for _ in 0..5 {
        let id = past_the_password(&mut guesser, email).await;
        guesser
            .post(
                &format!("/v1/client/sign_ins/{id}/attempt_second_factor"),
                "strategy=totp&code=000000",
            )
            .await;
    }
    assert_eq!(t.user(&user_id).await.failed_attempts, 5);
    let sid = owner.get("/v1/client").await.body["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v1/client/sessions/{sid}/verify");
    let r = owner.post(&base, "level=first_factor").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = owner
        .post(
            &format!("{base}/attempt_first_factor"),
            &form(&[("strategy", "password"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(
        t.user(&user_id).await.failed_attempts,
        5,
        "nothing forgiven"
    );
}

/// Reverification belongs to the caller's own session: another client cannot start or answer
/// it (with the victim's session id and the right password), an attempt with nothing started
/// is refused, and a step already passed cannot be replayed — each a Clerk error with nothing
/// written.
#[tokio::test]
async fn reverification_is_bound_to_the_callers_session_and_not_replayable() {
    let t = TestApp::new().await;
    let mut owner = Device::new(&t);
    owner.sign_up("owner@example.com", PASSWORD).await;
    let sid = owner.get("/v1/client").await.body["response"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v1/client/sessions/{sid}/verify");
    let attempt = format!("{base}/attempt_first_factor");
    let password = form(&[("strategy", "password"), ("password", PASSWORD)]);
    let refused = |r: &frontdoor_tests::TestResponse, status: u16, code: &str| {
        assert_eq!(r.status.as_u16(), status, "{}", r.body);
        assert_eq!(r.error_code(), Some(code), "{}", r.body);
    };

    t.counts.reset();
    refused(
        &owner.post(&attempt, &password).await,
        400,
        "session_reverification_missing",
    );
    let mut stranger = Device::new(&t);
    stranger.sign_up("stranger@example.com", PASSWORD).await;
    let writes_before = t.counts.commits();
    refused(
        &stranger.post(&base, "level=first_factor").await,
        404,
        "resource_not_found",
    );
    assert_eq!(t.counts.commits(), writes_before);
    let r = owner.post(&base, "level=first_factor").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let writes_before_stranger = t.counts.commits();
    refused(
        &stranger.post(&attempt, &password).await,
        404,
        "resource_not_found",
    );
    assert_eq!(t.counts.commits(), writes_before_stranger);

    // The same step sent twice at once (a double submit): one passes, the other is a replay.
    let mut twin = Device::new(&t);
    twin.token = owner.token.clone();
    let (a, b) = futures::join!(
        owner.post(&attempt, &password),
        twin.post(&attempt, &password)
    );
    let mut answers = [a, b].map(|r| {
        r.error_code()
            .map(str::to_owned)
            .unwrap_or_else(|| r.body["response"]["status"].as_str().unwrap().to_owned())
    });
    answers.sort();
    assert_eq!(answers, ["complete", "verification_already_verified"]);
    let done = t.counts.commits();
    refused(
        &owner.post(&attempt, &password).await,
        400,
        "verification_already_verified",
    );
    refused(
        &owner
            .post(&attempt, "strategy=password&password=wrong%20password")
            .await,
        400,
        "verification_already_verified",
    );
    assert_eq!(t.counts.commits(), done);
}
