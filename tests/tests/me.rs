//! `/v1/me`: the profile, identifiers, password, TOTP, backup codes and account deletion,
//! through the HTTP surface, with every change visible in the piggybacked client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use frontdoor::store::keys::{self, IdentifierKind};
use frontdoor_tests::{Device, TestApp, form, settings_with};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn me_user(d: &mut Device<'_>) -> Value {
    let r = d.get("/v1/me").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["response"].clone()
}

#[tokio::test]
async fn profile_updates_land_in_the_response_and_the_piggybacked_client() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("pat@example.com", PASSWORD).await;
    let r = d
        .send(
            Method::PATCH,
            "/v1/me",
            &form(&[
                ("first_name", "Pat"),
                ("last_name", "Lee"),
                ("username", "PatLee"),
                (
                    "unsafe_metadata",
                    r#"{"theme":"dark","nested":{"a":1,"b":2}}"#,
                ),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let u = &r.body["response"];
    assert_eq!(u["object"], "user");
    assert_eq!(u["first_name"], "Pat");
    assert_eq!(u["username"], "patlee");
    assert_eq!(u["unsafe_metadata"]["theme"], "dark");
    let piggy = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(piggy["first_name"], "Pat");
    assert_eq!(piggy["username"], "patlee");

    let r = d
        .send(
            Method::PATCH,
            "/v1/me/metadata",
            &form(&[(
                "unsafe_metadata",
                r#"{"nested":{"a":null,"c":3},"theme":"light"}"#,
            )]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["response"]["unsafe_metadata"],
        json!({"theme": "light", "nested": {"b": 2, "c": 3}})
    );

    // A username moves its guard: the old one is free, the new one is taken.
    d.send(Method::PATCH, "/v1/me", "username=pat_two").await;
    let mut other = Device::new(&t);
    other.sign_up("other@example.com", PASSWORD).await;
    let r = other
        .send(Method::PATCH, "/v1/me", "username=pat_two")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_identifier_exists"));
    let r = other.send(Method::PATCH, "/v1/me", "username=patlee").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the old username was released: {}",
        r.body
    );
    let r = d.send(Method::PATCH, "/v1/me", "first_name=").await;
    assert_eq!(r.body["response"]["first_name"], Value::Null);
    let r = d.send(Method::PATCH, "/v1/me", "username=x").await;
    assert_eq!(r.error_code(), Some("form_username_invalid_length"));
}

#[tokio::test]
async fn me_needs_an_active_session() {
    let t = TestApp::new().await;
    let r = Device::new(&t).get("/v1/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), Some("signed_out"));
    let mut d = Device::new(&t);
    d.sign_up("sid@example.com", PASSWORD).await;
    let r = d.get("/v1/me?_clerk_session_id=sess_not_mine").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let sid = d.get("/v1/client").await.body["client"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = d.get(&format!("/v1/me?_clerk_session_id={sid}")).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_second_email_is_verified_made_primary_and_the_old_one_removed() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("first@example.com", PASSWORD).await;
    let old_id = me_user(&mut d).await["primary_email_address_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = d
        .post("/v1/me/email_addresses", "email_address=Second@Example.com")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = &r.body["response"];
    assert_eq!(e["object"], "email_address");
    assert_eq!(e["email_address"], "second@example.com");
    assert_eq!(e["verification"], Value::Null);
    let id = e["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["client"]["sessions"][0]["user"]["email_addresses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Unverified: it cannot be primary and does not sign anyone in.
    let r = d
        .send(
            Method::PATCH,
            "/v1/me",
            &format!("primary_email_address_id={id}"),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_param_value_invalid"));
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "second@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_identifier_not_found"));
    // Not reserved while it waits for its code: adding an address cannot squat it.
    let r = Device::new(&t)
        .post("/v1/client/sign_ups", "email_address=second@example.com")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = d
        .post(
            &format!("/v1/me/email_addresses/{id}/prepare_verification"),
            "strategy=email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["verification"]["status"], "unverified");
    let code = t.outbox.last_code_for("second@example.com").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = d
        .post(
            &format!("/v1/me/email_addresses/{id}/attempt_verification"),
            &format!("code={wrong}"),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_code_incorrect"));
    let r = d
        .post(
            &format!("/v1/me/email_addresses/{id}/attempt_verification"),
            &format!("code={code}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["verification"]["status"], "verified");

    let r = d
        .send(
            Method::PATCH,
            "/v1/me",
            &format!("primary_email_address_id={id}"),
        )
        .await;
    assert_eq!(r.body["response"]["primary_email_address_id"], id.as_str());
    let r = d
        .send(
            Method::DELETE,
            &format!("/v1/me/email_addresses/{old_id}"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["response"],
        json!({"object": "email_address", "id": old_id, "deleted": true})
    );
    let emails = &r.body["client"]["sessions"][0]["user"]["email_addresses"];
    assert_eq!(emails.as_array().unwrap().len(), 1);
    // The old address is free again; the last one cannot go.
    assert!(
        t.app
            .repo
            .identifier_owner(IdentifierKind::Email, "first@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let r = d
        .send(Method::DELETE, &format!("/v1/me/email_addresses/{id}"), "")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.error_code(),
        Some("last_required_identification_deletion_failed")
    );
    let list = d.get("/v1/me/email_addresses").await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(
        d.get(&format!("/v1/me/email_addresses/{id}")).await.body["response"]["id"],
        id.as_str()
    );
    assert_eq!(
        d.get("/v1/me/email_addresses/idn_none").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_email_another_user_holds_is_refused() {
    let t = TestApp::new().await;
    Device::new(&t).sign_up("held@example.com", PASSWORD).await;
    let mut d = Device::new(&t);
    d.sign_up("mine@example.com", PASSWORD).await;
    let r = d
        .post("/v1/me/email_addresses", "email_address=held@example.com")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_identifier_exists"));
    assert_eq!(r.body["errors"][0]["meta"]["param_name"], "email_address");
}

#[tokio::test]
async fn a_verified_phone_becomes_the_default_sms_second_factor() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("sms@example.com", PASSWORD).await;
    let r = d
        .post("/v1/me/phone_numbers", "phone_number=%2B12015550177")
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .send(
            Method::PATCH,
            &format!("/v1/me/phone_numbers/{id}"),
            "reserved_for_second_factor=true",
        )
        .await;
    assert_eq!(
        r.error_code(),
        Some("identification_update_second_factor_unverified")
    );
    d.post(
        &format!("/v1/me/phone_numbers/{id}/prepare_verification"),
        "strategy=phone_code",
    )
    .await;
    let r = d
        .post(
            &format!("/v1/me/phone_numbers/{id}/attempt_verification"),
            "code=424242",
        )
        .await;
    assert_eq!(
        r.body["response"]["verification"]["status"], "verified",
        "{}",
        r.body
    );
    let r = d
        .send(
            Method::PATCH,
            &format!("/v1/me/phone_numbers/{id}"),
            "reserved_for_second_factor=true",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["reserved_for_second_factor"], true);
    assert_eq!(r.body["response"]["default_second_factor"], true);
    let u = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(u["two_factor_enabled"], true);
    assert!(u["mfa_enabled_at"].is_number());

    let mut other = Device::new(&t);
    let r = other
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "sms@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "needs_second_factor");
    let si = r.body["response"]["id"].as_str().unwrap().to_owned();
    other
        .post(
            &format!("/v1/client/sign_ins/{si}/prepare_second_factor"),
            "strategy=phone_code",
        )
        .await;
    let r = other
        .post(
            &format!("/v1/client/sign_ins/{si}/attempt_second_factor"),
            "strategy=phone_code&code=424242",
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn change_password_checks_the_current_one_and_can_sign_out_other_devices() {
    let t =
        TestApp::with_settings(settings_with(&[("mode = \"single\"", "mode = \"multi\"")])).await;
    let mut d = Device::new(&t);
    d.sign_up("pw@example.com", PASSWORD).await;
    let mut tablet = Device::new(&t);
    let r = tablet
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "pw@example.com"), ("password", PASSWORD)]),
        )
        .await;
    let tablet_session = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = d
        .post(
            "/v1/me/change_password",
            &form(&[
                ("current_password", "nope nope nope"),
                ("new_password", "another good one"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), Some("form_password_incorrect"));
    assert_eq!(
        r.body["errors"][0]["meta"]["param_name"],
        "current_password"
    );
    let r = d
        .post(
            "/v1/me/change_password",
            &form(&[("current_password", PASSWORD), ("new_password", "short")]),
        )
        .await;
    assert_eq!(r.error_code(), Some("form_password_length_too_short"));
    let r = d
        .post(
            "/v1/me/change_password",
            &form(&[
                ("current_password", PASSWORD),
                ("new_password", "another good one"),
                ("sign_out_of_other_sessions", "true"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["password_enabled"], true);
    let r = tablet
        .post(&format!("/v1/client/sessions/{tablet_session}/tokens"), "")
        .await;
    assert_eq!(
        r.error_code(),
        Some("signed_out"),
        "the other device lost its session"
    );
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ins",
            &form(&[
                ("identifier", "pw@example.com"),
                ("password", "another good one"),
            ]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete");
    let user_id = d.get("/v1/me").await.body["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let u = t.user(&user_id).await;
    assert_eq!(
        u.failed_attempts, 0,
        "the successful sign-in reset the failure count"
    );
}

#[tokio::test]
async fn the_password_can_be_removed_only_while_a_code_factor_remains() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("nopw@example.com", PASSWORD).await;
    let r = d
        .post(
            "/v1/me/remove_password",
            &form(&[("current_password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["password_enabled"], false);

    let t = TestApp::with_settings(settings_with(&[(
        "used_for_first_factor = true\nfirst_factors = [\"email_code\"]",
        "used_for_first_factor = false",
    )]))
    .await;
    let mut d = Device::new(&t);
    d.sign_up("keep+clerk_test@example.com", PASSWORD).await;
    let r = d
        .post(
            "/v1/me/remove_password",
            &form(&[("current_password", PASSWORD)]),
        )
        .await;
    assert_eq!(
        r.error_code(),
        Some("form_param_value_invalid"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn totp_is_enabled_by_a_code_and_brings_backup_codes() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("totp@example.com", PASSWORD).await;
    let r = d.post("/v1/me/backup_codes", "").await;
    assert_eq!(r.error_code(), Some("no_second_factors"));
    let r = d.post("/v1/me/totp", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let totp = &r.body["response"];
    assert_eq!(totp["object"], "totp");
    assert_eq!(totp["verified"], false);
    let secret = totp["secret"].as_str().unwrap().to_owned();
    assert!(totp["uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let r = d
        .post("/v1/me/totp/attempt_verification", "code=000000")
        .await;
    assert_eq!(r.error_code(), Some("form_code_incorrect"));
    let code = t.totp_now(&secret);
    let r = d
        .post("/v1/me/totp/attempt_verification", &format!("code={code}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["verified"], true);
    assert_eq!(
        r.body["response"]["secret"],
        Value::Null,
        "the secret is shown once"
    );
    let codes: Vec<String> = r.body["response"]["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let u = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(
        (
            u["totp_enabled"].clone(),
            u["two_factor_enabled"].clone(),
            u["backup_code_enabled"].clone()
        ),
        (json!(true), json!(true), json!(true))
    );
    assert_eq!(
        d.post("/v1/me/totp", "").await.error_code(),
        Some("totp_already_enabled")
    );

    // Backup codes are stored only as hashes, and regenerating replaces them all.
    let item = t.store.get(&keys::user(&user_id)).await.unwrap().unwrap();
    assert!(
        codes
            .iter()
            .all(|c| !item.doc.to_string().contains(c.as_str()))
    );
    let r = d.post("/v1/me/backup_codes", "").await;
    assert_eq!(r.body["response"]["object"], "backup_code");
    let fresh = r.body["response"]["codes"].as_array().unwrap().clone();
    assert_eq!(fresh.len(), 10);
    assert!(!fresh.contains(&json!(codes[0])));

    let r = d.send(Method::DELETE, "/v1/me/totp", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["deleted"], true);
    let u = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(
        (
            u["totp_enabled"].clone(),
            u["two_factor_enabled"].clone(),
            u["backup_code_enabled"].clone()
        ),
        (json!(false), json!(false), json!(false))
    );
}

#[tokio::test]
async fn deleting_the_account_ends_its_sessions_and_frees_its_identifiers() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("gone@example.com", PASSWORD).await;
    let r = d.send(Method::DELETE, "/v1/me", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["object"], "user");
    assert_eq!(r.body["response"]["deleted"], true);
    assert_eq!(r.body["client"]["sessions"], json!([]));
    assert_eq!(d.get("/v1/me").await.error_code(), Some("signed_out"));
    // The address is free again (once its send cooldown has passed).
    t.clock.advance(std::time::Duration::from_secs(30));
    Device::new(&t).sign_up("gone@example.com", PASSWORD).await;

    let t = TestApp::with_settings(settings_with(&[(
        "delete_self = true",
        "delete_self = false",
    )]))
    .await;
    let mut d = Device::new(&t);
    d.sign_up("stay@example.com", PASSWORD).await;
    let r = d.send(Method::DELETE, "/v1/me", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_code(), Some("user_delete_self_not_enabled"));
}

#[tokio::test]
async fn parallel_edits_of_different_fields_all_land() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    d.sign_up("many@example.com", PASSWORD).await;
    let token = d.token.clone();
    let edits = [
        "first_name=Ann",
        "last_name=Bell",
        "username=annbell",
        "unsafe_metadata=%7B%22k%22%3A1%7D",
    ];
    let mut devices: Vec<Device<'_>> = edits
        .iter()
        .map(|_| {
            let mut x = Device::new(&t);
            x.token = token.clone();
            x
        })
        .collect();
    let results = join_all(
        devices
            .iter_mut()
            .zip(edits)
            .map(|(x, body)| x.send(Method::PATCH, "/v1/me", body)),
    )
    .await;
    for r in &results {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let u = me_user(&mut d).await;
    assert_eq!(u["first_name"], "Ann");
    assert_eq!(u["last_name"], "Bell");
    assert_eq!(u["username"], "annbell");
    assert_eq!(u["unsafe_metadata"], json!({"k": 1}));
}
