#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Passkeys through the HTTP surface, answered by a software authenticator written from the
//! WebAuthn specification (`frontdoor_tests::authenticator`): registration in the profile,
//! sign-in without an identifier and after one, renaming and removal, and every answer the
//! relying party must refuse — another site's, another page's, a cloned authenticator's, a
//! replayed or expired challenge, a credential another user holds.

use frontdoor_tests::authenticator::SoftPasskey;
use frontdoor_tests::{Device, TestApp, TestResponse, form};
use http::{Method, StatusCode};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
/// The app's page (an allowed origin of the development settings, on the relying party id).
const PAGE: &str = "http://localhost:5173";

/// The development settings' text with passkeys on and `[passkeys]` holding `section`.
fn passkey_settings_text(section: &str) -> String {
    frontdoor::settings::DEVELOPMENT_SETTINGS.replacen(
        "[password_settings]",
        &format!(
            "[attributes.passkey]\nenabled = true\nused_for_first_factor = true\nfirst_factors = [\"passkey\"]\n\n[passkeys]\n{section}\n\n[password_settings]"
        ),
        1,
    )
}

/// The key a settings text with passkeys section `section` is refused on, if it is.
fn refused_on(section: &str) -> Option<String> {
    frontdoor::settings::Settings::parse(&passkey_settings_text(section))
        .err()
        .map(|e| e.key)
}

/// Passkeys on for the page at [`PAGE`] (relying party `localhost`), with `section` added to
/// `[passkeys]`, and the per-IP limits out of the way.
fn passkey_settings_with(section: &str) -> frontdoor::settings::Settings {
    let text = passkey_settings_text(&format!("rp_id = \"localhost\"\n{section}"))
        .replacen("creates = 5 ", "creates = 1000 ", 1)
        .replacen("attempts = 3 ", "attempts = 1000 ", 1)
        .replacen("prepares = 3 ", "prepares = 1000 ", 1);
    match frontdoor::settings::Settings::parse(&text) {
        Ok(s) => s,
        Err(e) => panic!("passkey settings: {e}"),
    }
}

fn passkey_settings() -> frontdoor::settings::Settings {
    passkey_settings_with("")
}

async fn setup() -> TestApp {
    TestApp::with_settings(passkey_settings()).await
}

fn nonce(verification: &Value) -> String {
    verification["nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("a nonce: {verification}"))
        .to_owned()
}

/// Begins a registration on `d`'s session: the passkey object.
async fn begin_registration(d: &mut Device<'_>) -> Value {
    let r = d.post("/v1/me/passkeys", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["response"].clone()
}

async fn attempt_registration(d: &mut Device<'_>, id: &str, answer: &str) -> TestResponse {
    d.post(
        &format!("/v1/me/passkeys/{id}/attempt_verification"),
        &form(&[("strategy", "passkey"), ("public_key_credential", answer)]),
    )
    .await
}

/// Signs a user up and registers a passkey from the page; returns the user id, the device and
/// the authenticator's credential.
async fn user_with_passkey<'a>(t: &'a TestApp, email: &str) -> (String, Device<'a>, SoftPasskey) {
    let mut d = Device::new(t);
    let user_id = d.sign_up(email, PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    assert_eq!(pk["object"], "passkey");
    assert_eq!(pk["verification"]["status"], "unverified");
    let (key, answer) = SoftPasskey::register(&nonce(&pk["verification"]), PAGE);
    let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["verification"]["status"], "verified");
    (user_id, d, key)
}

/// Starts a discoverable sign-in on a new device: the device, the attempt's id, the options.
async fn discoverable_sign_in(t: &TestApp) -> (Device<'_>, String, String) {
    let mut d = Device::new(t);
    let r = d.post("/v1/client/sign_ins", "strategy=passkey").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = &r.body["response"];
    (
        d,
        s["id"].as_str().unwrap().to_owned(),
        nonce(&s["first_factor_verification"]),
    )
}

/// The error's long message.
fn why(r: &TestResponse) -> String {
    r.body["errors"][0]["long_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn attempt_sign_in(d: &mut Device<'_>, id: &str, answer: &str) -> TestResponse {
    d.post(
        &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
        &form(&[("strategy", "passkey"), ("public_key_credential", answer)]),
    )
    .await
}

#[tokio::test]
async fn a_passkey_registered_in_the_profile_signs_in_without_an_identifier() {
    let t = setup().await;
    let (user_id, mut d, mut key) = user_with_passkey(&t, "ada@example.com").await;

    // The creation options asked for a discoverable credential, verified user, this site.
    let me = d.get("/v1/me").await;
    let passkeys = me.body["response"]["passkeys"].as_array().unwrap().clone();
    assert_eq!(passkeys.len(), 1, "{}", me.body);
    assert_eq!(passkeys[0]["verification"]["status"], "verified");
    assert!(passkeys[0]["verification"]["nonce"].is_null());
    assert!(passkeys[0]["last_used_at"].is_null());

    let (mut other, id, options) = discoverable_sign_in(&t).await;
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["rpId"], "localhost");
    assert_eq!(o["userVerification"], "required");
    assert_eq!(o["allowCredentials"], serde_json::json!([]));
    let r = attempt_sign_in(&mut other, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = &r.body["response"];
    assert_eq!(s["status"], "complete", "{}", r.body);
    assert_eq!(s["first_factor_verification"]["status"], "verified");
    assert_eq!(s["first_factor_verification"]["strategy"], "passkey");
    let session = s["created_session_id"].as_str().unwrap();
    let sessions = r.body["client"]["sessions"].as_array().unwrap();
    let signed_in = sessions.iter().find(|x| x["id"] == session).unwrap();
    assert_eq!(signed_in["user"]["id"], user_id.as_str());
    assert!(signed_in["user"]["passkeys"][0]["last_used_at"].is_i64());
    // The counter the authenticator signed is kept.
    let stored = t.user(&user_id).await;
    assert_eq!(
        stored.passkeys[0].credential.as_ref().unwrap()["cred"]["counter"],
        2
    );
}

#[tokio::test]
async fn the_creation_options_are_what_a_browser_needs_for_a_discoverable_passkey() {
    let t = setup().await;
    let mut d = Device::new(&t);
    d.sign_up("bea@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    let o: Value = serde_json::from_str(&nonce(&pk["verification"])).unwrap();
    assert_eq!(o["rp"]["id"], "localhost");
    assert_eq!(o["rp"]["name"], "Frontdoor");
    assert_eq!(o["user"]["name"], "bea@example.com");
    assert!(o["user"]["id"].is_string() && o["challenge"].is_string());
    assert_eq!(o["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(o["authenticatorSelection"]["userVerification"], "required");
    assert!(
        o["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["alg"] == -7)
    );
    assert!(pk["verification"]["expire_at"].is_i64());
    // Unfinished registrations are not the user's passkeys.
    let me = d.get("/v1/me").await;
    assert_eq!(me.body["response"]["passkeys"], serde_json::json!([]));
}

#[tokio::test]
async fn after_an_identifier_the_options_name_the_users_passkeys_and_only_they_answer() {
    let t = setup().await;
    let (_, _, mut key) = user_with_passkey(&t, "cleo@example.com").await;
    let (_, _, mut stranger) = user_with_passkey(&t, "dan@example.com").await;

    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "cleo@example.com")]),
        )
        .await;
    let s = &r.body["response"];
    let id = s["id"].as_str().unwrap().to_owned();
    let strategies: Vec<&str> = s["supported_first_factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["strategy"].as_str())
        .collect();
    assert!(strategies.contains(&"passkey"), "{strategies:?}");
    let prepare = format!("/v1/client/sign_ins/{id}/prepare_first_factor");
    let r = d.post(&prepare, "strategy=passkey").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let o: Value = serde_json::from_str(&options).unwrap();
    use base64::Engine as _;
    let listed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key.credential_id);
    assert_eq!(o["allowCredentials"][0]["id"], listed.as_str());

    // Another account's passkey does not sign this one in, even signing this challenge.
    let r = attempt_sign_in(&mut d, &id, &stranger.assert(&options, PAGE)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.error_code(), Some("passkey_not_registered"));

    let r = d.post(&prepare, "strategy=passkey").await;
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn a_cloned_authenticator_whose_counter_lags_is_refused() {
    let t = setup().await;
    let (_, _, mut key) = user_with_passkey(&t, "eve@example.com").await;
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);

    // A copy taken before that sign-in: same key, same id, a counter that went backwards.
    let mut clone = key.cloned_at(0);
    let (mut thief, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut thief, &id, &clone.assert(&options, PAGE)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error_code(), Some("passkey_authentication_failure"));
    assert!(why(&r).contains("counter"), "{}", r.body);
    assert!(
        r.body["client"]["sessions"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    // So does a copy at the same count (nothing moved forward).
    let mut same = key.cloned_at(key.counter - 1);
    let (mut thief, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut thief, &id, &same.assert(&options, PAGE)).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );

    // The genuine authenticator still signs in.
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

#[tokio::test]
async fn answers_for_another_site_or_page_are_refused() {
    let t = setup().await;
    let (_, _, mut key) = user_with_passkey(&t, "fay@example.com").await;

    // The credential, copied to another relying party, signs our challenge there: refused on
    // its relying party (its authenticator data) even when the page claims to be ours.
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let other_rp = key.assert_as(&options, PAGE, "other.localhost");
    let r = attempt_sign_in(&mut d, &id, &other_rp).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );
    assert!(why(&r).contains("another website"), "{}", r.body);
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let other_site = key.assert_as(&options, "http://other.localhost:5173", "other.localhost");
    let r = attempt_sign_in(&mut d, &id, &other_site).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );

    // Our relying party, but a page the instance does not serve (a phishing origin).
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let phished = key.assert_as(&options, "https://localhost.evil.test", "localhost");
    let r = attempt_sign_in(&mut d, &id, &phished).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );
    assert!(why(&r).contains("page"), "{}", r.body);

    // Registration from another page is refused too, and spends the registration.
    let mut d = Device::new(&t);
    d.sign_up("gus@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    let pk_id = pk["id"].as_str().unwrap();
    let (_, answer) = SoftPasskey::register(&nonce(&pk["verification"]), "https://evil.test");
    let r = attempt_registration(&mut d, pk_id, &answer).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_public_key_credential")
    );
    let (_, answer) = SoftPasskey::register(&nonce(&pk["verification"]), PAGE);
    let r = attempt_registration(&mut d, pk_id, &answer).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );
    let me = d.get("/v1/me").await;
    assert_eq!(me.body["response"]["passkeys"], serde_json::json!([]));
}

#[tokio::test]
async fn a_challenge_is_answered_once_and_not_after_it_expires() {
    let t = setup().await;
    let (_, _, mut key) = user_with_passkey(&t, "hal@example.com").await;

    // A refused answer spends the options: the right answer afterwards is refused too.
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let wrong = key.sign(b"another challenge entirely", PAGE, "localhost");
    let r = attempt_sign_in(&mut d, &id, &wrong).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );

    // An answer captured from one sign-in does not complete another.
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let captured = key.assert(&options, PAGE);
    let r = attempt_sign_in(&mut d, &id, &captured).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let (mut replayer, id, _) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut replayer, &id, &captured).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );

    // Options older than their lifetime are refused, under the injected clock.
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    t.clock.advance(
        frontdoor::security::PASSKEY_CEREMONY_LIFETIME + std::time::Duration::from_secs(1),
    );
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn unknown_forged_and_mislabelled_credentials_are_refused() {
    let t = setup().await;
    let (_, _, key) = user_with_passkey(&t, "ida@example.com").await;

    // A credential nobody registered.
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let mut d2 = Device::new(&t);
    d2.sign_up("jon@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d2).await;
    let (mut unregistered, _) = SoftPasskey::register(&nonce(&pk["verification"]), PAGE);
    let r = attempt_sign_in(&mut d, &id, &unregistered.assert(&options, PAGE)).await;
    assert_eq!(r.error_code(), Some("passkey_not_registered"), "{}", r.body);

    // A registered credential id with another user's handle.
    let mut mislabelled = key.cloned_at(50);
    mislabelled.user_handle = vec![7; 16];
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &mislabelled.assert(&options, PAGE)).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );

    // Not a credential at all.
    let (mut d, id, _) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, "{\"id\":1}").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_public_key_credential")
    );
    // No answer.
    let (mut d, id, _) = discoverable_sign_in(&t).await;
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            "strategy=passkey",
        )
        .await;
    assert_eq!(r.error_code(), Some("form_param_missing"), "{}", r.body);
}

#[tokio::test]
async fn passkeys_are_renamed_and_removed_and_removal_frees_the_credential() {
    let t = setup().await;
    let (user_id, mut d, mut key) = user_with_passkey(&t, "kim@example.com").await;
    let me = d.get("/v1/me").await;
    let id = me.body["response"]["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = d
        .send(
            Method::PATCH,
            &format!("/v1/me/passkeys/{id}"),
            "name=Work%20laptop",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["name"], "Work laptop");
    let user = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(user["passkeys"][0]["name"], "Work laptop");
    let r = d
        .send(Method::PATCH, &format!("/v1/me/passkeys/{id}"), "name=%20")
        .await;
    assert_eq!(r.error_code(), Some("form_param_missing"), "{}", r.body);
    let long = "x".repeat(frontdoor::security::PASSKEY_NAME_MAX_CHARS + 1);
    let r = d
        .send(
            Method::PATCH,
            &format!("/v1/me/passkeys/{id}"),
            &form(&[("name", &long)]),
        )
        .await;
    assert_eq!(
        r.error_code(),
        Some("form_param_max_length_exceeded"),
        "{}",
        r.body
    );

    let r = d
        .send(Method::DELETE, &format!("/v1/me/passkeys/{id}"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["deleted"], true);
    assert_eq!(r.body["response"]["object"], "passkey");
    assert_eq!(t.user(&user_id).await.passkeys, vec![]);
    let r = d
        .send(Method::DELETE, &format!("/v1/me/passkeys/{id}"), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // The removed passkey no longer signs in; the user's factors no longer offer one.
    let (mut other, sid, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut other, &sid, &key.assert(&options, PAGE)).await;
    assert_eq!(r.error_code(), Some("passkey_not_registered"), "{}", r.body);
    let mut d3 = Device::new(&t);
    let r = d3
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "kim@example.com")]),
        )
        .await;
    let sid = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d3
        .post(
            &format!("/v1/client/sign_ins/{sid}/prepare_first_factor"),
            "strategy=passkey",
        )
        .await;
    assert_eq!(
        r.error_code(),
        Some("no_passkeys_found_for_user"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_credential_belongs_to_one_account_and_a_deleted_account_frees_it() {
    let t = setup().await;
    let (_, mut owner, key) = user_with_passkey(&t, "lea@example.com").await;

    // Another account presents the same credential at its own registration.
    let mut d = Device::new(&t);
    d.sign_up("max@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    let mut copy = key.cloned_at(10);
    let answer = copy.attest_again(&nonce(&pk["verification"]), PAGE);
    let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_public_key_credential"),
        "{}",
        r.body
    );

    // Once the owner deletes the account, the credential is free and signs no one in.
    let r = owner.send(Method::DELETE, "/v1/me", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut replay = key.cloned_at(20);
    let (mut d2, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d2, &id, &replay.assert(&options, PAGE)).await;
    assert_eq!(r.error_code(), Some("passkey_not_registered"), "{}", r.body);
    let pk = begin_registration(&mut d).await;
    let answer = copy.attest_again(&nonce(&pk["verification"]), PAGE);
    let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_user_has_at_most_the_quota_of_passkeys() {
    let t = setup().await;
    let mut d = Device::new(&t);
    d.sign_up("ned@example.com", PASSWORD).await;
    for _ in 0..frontdoor::security::PASSKEYS_PER_USER_MAX {
        let pk = begin_registration(&mut d).await;
        let (_, answer) = SoftPasskey::register(&nonce(&pk["verification"]), PAGE);
        let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = d.post("/v1/me/passkeys", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.error_code(), Some("passkey_quota_exceeded"));
    // The options exclude the credentials the user has (checked on a fresh registration).
    let me = d.get("/v1/me").await;
    assert_eq!(
        me.body["response"]["passkeys"].as_array().unwrap().len(),
        frontdoor::security::PASSKEYS_PER_USER_MAX
    );
}

#[tokio::test]
async fn the_environment_offers_passkeys_and_an_instance_without_them_refuses_them() {
    let t = setup().await;
    let env = t.get("/v1/environment").await;
    let us = &env.body["user_settings"];
    assert_eq!(us["attributes"]["passkey"]["enabled"], true);
    assert_eq!(us["passkey_settings"]["show_sign_in_button"], true);
    assert_eq!(us["passkey_settings"]["allow_autofill"], true);
    assert!(
        env.body["auth_config"]["first_factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "passkey")
    );

    let off = TestApp::new().await;
    let env = off.get("/v1/environment").await;
    assert_eq!(
        env.body["user_settings"]["attributes"]["passkey"]["enabled"],
        false
    );
    let mut d = Device::new(&off);
    let r = d.post("/v1/client/sign_ins", "strategy=passkey").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    d.sign_up("oli@example.com", PASSWORD).await;
    let r = d.post("/v1/me/passkeys", "").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[test]
fn settings_refuse_a_relying_party_a_browser_would_refuse() {
    let with = refused_on;
    // Derived from the development URLs (127.0.0.1): an IP address is no relying party id.
    assert_eq!(with("").as_deref(), Some("passkeys.rp_id"));
    assert_eq!(
        with("rp_id = \"127.0.0.1\"").as_deref(),
        Some("passkeys.rp_id")
    );
    assert_eq!(
        with("rp_id = \"localhost\"\norigins = [\"https://elsewhere.test\"]").as_deref(),
        Some("passkeys.origins")
    );
    assert_eq!(
        with("rp_id = \"example.test\"").as_deref(),
        Some("passkeys.origins")
    );
    // Browsers refuse WebAuthn over plain http but on localhost.
    assert_eq!(
        with("rp_id = \"example.test\"\norigins = [\"http://app.example.test\"]").as_deref(),
        Some("passkeys.origins")
    );
    assert_eq!(
        with("rp_id = \"example.test\"\norigins = [\"https://app.example.test\"]").as_deref(),
        None
    );
    assert_eq!(with("rp_id = \"localhost\"").as_deref(), None);
}

#[test]
fn the_production_example_makes_passkeys_for_the_apps_domain() {
    let text = include_str!("../../settings/production.example.toml");
    let s = frontdoor::settings::Settings::parse(text).expect("the example parses");
    assert!(s.passkeys_enabled());
    // The app's registrable domain, not the Frontend API's host (clerk.example.com).
    assert_eq!(s.passkey_rp_id().as_deref(), Some("example.com"));
    // The app's pages, and the Frontend API's own (pages it serves itself).
    assert_eq!(
        s.passkey_origins(),
        vec![
            "https://example.com".to_owned(),
            "https://clerk.example.com".to_owned()
        ]
    );
}

/// The answer of a passkey sign-in, counted in store round trips (DESIGN.md's budgets): the
/// client, the rate-limit counter, the credential's guard, its user, the user's live sessions
/// (the session cap), one transaction — whatever the number of users.
#[tokio::test]
async fn a_passkey_sign_in_answer_takes_at_most_six_round_trips_whatever_the_number_of_users() {
    let t = setup().await;
    let mut counts = Vec::new();
    for (round, population) in [1usize, 8].into_iter().enumerate() {
        let mut keys = Vec::new();
        for n in 0..population {
            let (_, _, key) = user_with_passkey(&t, &format!("p{round}x{n}@example.com")).await;
            keys.push(key);
        }
        let (mut d, id, options) = discoverable_sign_in(&t).await;
        let answer = keys[0].assert(&options, PAGE);
        t.counts.reset();
        let r = attempt_sign_in(&mut d, &id, &answer).await;
        assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
        counts.push(t.counts.reads() + t.counts.writes());
    }
    assert!(counts[0] <= 6, "the answer took {} round trips", counts[0]);
    assert_eq!(
        counts[0], counts[1],
        "the cost does not grow with the users"
    );
}

// ---------------------------------------------------------------------------------------------
// The security review's findings, each as an attack that must fail.
// ---------------------------------------------------------------------------------------------

/// An authenticator may send an attestation though "none" is asked for, and its certificate
/// may be as large as the request allows: kept, it would swell the user's record toward the
/// store's item limit, and every later read and write of the user with it.
#[tokio::test]
async fn an_attestation_too_large_to_keep_is_refused() {
    let t = setup().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("ola@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    let answer =
        SoftPasskey::register_with_bloated_attestation(&nonce(&pk["verification"]), PAGE, 30_000);
    let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_public_key_credential")
    );
    assert!(
        t.user(&user_id)
            .await
            .passkeys
            .iter()
            .all(|p| !p.is_registered())
    );

    // The same kind of attestation at an ordinary size is accepted (only the size refused it).
    let pk = begin_registration(&mut d).await;
    let answer =
        SoftPasskey::register_with_bloated_attestation(&nonce(&pk["verification"]), PAGE, 64);
    let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A credential id longer than WebAuthn allows would become a store key no store takes: a
/// Clerk error, not a 500.
#[tokio::test]
async fn an_oversized_credential_id_is_refused_with_a_clerk_error() {
    let t = setup().await;
    let (_, _, key) = user_with_passkey(&t, "pia@example.com").await;
    let mut long = key.cloned_at(40);
    long.credential_id = vec![9; 2000];
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &long.assert(&options, PAGE)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_public_key_credential")
    );
}

/// An answer refused at the last step (a locked account) spends the options too: unlocked a
/// minute later, the captured answer does not sign in.
#[tokio::test]
async fn an_answer_refused_for_a_locked_account_is_spent() {
    let t = setup().await;
    let (user_id, _, mut key) = user_with_passkey(&t, "quin@example.com").await;
    let mut user = t.user(&user_id).await;
    user.locked_until = Some(t.app.now_ms() + 60_000);
    t.save_user(&user).await;
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let answer = key.assert(&options, PAGE);
    let r = attempt_sign_in(&mut d, &id, &answer).await;
    assert_eq!(r.error_code(), Some("user_locked"), "{}", r.body);

    t.clock.advance(std::time::Duration::from_secs(61));
    let r = attempt_sign_in(&mut d, &id, &answer).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );
    assert!(
        r.body["client"]["sessions"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

/// A registration refused because the credential is another account's is over: its challenge
/// cannot be answered again.
#[tokio::test]
async fn a_registration_refused_for_a_taken_credential_is_spent() {
    let t = setup().await;
    let (_, _, key) = user_with_passkey(&t, "rae@example.com").await;
    let mut d = Device::new(&t);
    d.sign_up("sam@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    let options = nonce(&pk["verification"]);
    let id = pk["id"].as_str().unwrap();
    let r = attempt_registration(&mut d, id, &key.cloned_at(5).attest_again(&options, PAGE)).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_public_key_credential"),
        "{}",
        r.body
    );
    let (_, fresh) = SoftPasskey::register(&options, PAGE);
    let r = attempt_registration(&mut d, id, &fresh).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );
}

/// A passkey sign-in of a user with a second factor proves both (the authenticator verified
/// its user): the session may change the account at once, as after a full sign-in.
#[tokio::test]
async fn a_passkey_sign_in_proves_the_second_factor_too() {
    let t = setup().await;
    let (user_id, _, mut key) = user_with_passkey(&t, "tia@example.com").await;
    let mut user = t.user(&user_id).await;
    user.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
    t.save_user(&user).await;
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let r = d.post("/v1/me/passkeys", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Preparing another factor withdraws the passkey options: the attempt shows the code's
/// verification, and the passkey's answer no longer fits.
#[tokio::test]
async fn preparing_another_factor_withdraws_the_passkey_options() {
    let t = setup().await;
    let (_, _, mut key) = user_with_passkey(&t, "uma@example.com").await;
    t.clock.advance(std::time::Duration::from_secs(31)); // past the sign-up code's cooldown
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("identifier", "uma@example.com"), ("strategy", "passkey")]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let r = d
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            "strategy=email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["strategy"], "email_code", "{}", r.body);
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.error_code(), Some("verification_missing"), "{}", r.body);
}

/// Authenticators show the user's name and display name; a blank first name does not make
/// the options unusable.
#[tokio::test]
async fn a_blank_name_still_gets_creation_options() {
    let t = setup().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("val@example.com", PASSWORD).await;
    let mut user = t.user(&user_id).await;
    user.first_name = Some(String::new());
    t.save_user(&user).await;
    let pk = begin_registration(&mut d).await;
    let o: Value = serde_json::from_str(&nonce(&pk["verification"])).unwrap();
    assert_eq!(o["user"]["displayName"], "val@example.com");
}

/// Reverification with a passkey: a session whose verification is too old proves itself again
/// with the passkey (options listing the user's own), and a cloned authenticator cannot.
#[tokio::test]
async fn a_passkey_reverifies_a_session() {
    let t = setup().await;
    let (_, mut d, mut key) = user_with_passkey(&t, "wes@example.com").await;
    let me = d.get("/v1/me").await;
    let session = me.body["client"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.clock.advance(std::time::Duration::from_secs(60 * 60));
    let r = d.post("/v1/me/passkeys", "").await;
    assert_eq!(
        r.error_code(),
        Some("session_reverification_required"),
        "{}",
        r.body
    );

    let verify = format!("/v1/client/sessions/{session}/verify");
    let r = d.post(&verify, "level=first_factor").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let offered: Vec<&str> = r.body["response"]["supported_first_factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["strategy"].as_str())
        .collect();
    assert!(offered.contains(&"passkey"), "{offered:?}");
    let prepare = format!("{verify}/prepare_first_factor");
    let attempt = format!("{verify}/attempt_first_factor");
    let answer = |a: &str| form(&[("strategy", "passkey"), ("public_key_credential", a)]);

    // A copy with a lagging counter is refused, and spends the options.
    let r = d.post(&prepare, "strategy=passkey").await;
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let r = d
        .post(&attempt, &answer(&key.cloned_at(0).assert(&options, PAGE)))
        .await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );
    let r = d.post(&attempt, &answer(&key.assert(&options, PAGE))).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );
    // Options past their lifetime are refused too.
    let r = d.post(&prepare, "strategy=passkey").await;
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let late = frontdoor::security::PASSKEY_CEREMONY_LIFETIME + std::time::Duration::from_secs(1);
    t.clock.advance(late);
    let r = d.post(&attempt, &answer(&key.assert(&options, PAGE))).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );

    let r = d.post(&prepare, "strategy=passkey").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["allowCredentials"].as_array().unwrap().len(), 1);
    let r = d.post(&attempt, &answer(&key.assert(&options, PAGE))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let r = d.post("/v1/me/passkeys", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A passkey that is the account's last way in is not removed; with another one beside it, it
/// is.
#[tokio::test]
async fn the_last_way_in_is_not_removed() {
    let t = setup().await;
    let (user_id, mut d, _) = user_with_passkey(&t, "xia@example.com").await;
    // An account left with its passkey alone (as an imported or provider-made one can be).
    let mut user = t.user(&user_id).await;
    user.password_hash = None;
    user.email_addresses.clear();
    user.primary_email_address_id = None;
    t.save_user(&user).await;
    let id = user.passkeys[0].id.clone();
    let r = d
        .send(Method::DELETE, &format!("/v1/me/passkeys/{id}"), "")
        .await;
    assert_eq!(
        r.error_code(),
        Some("last_required_identification_deletion_failed"),
        "{}",
        r.body
    );

    let pk = begin_registration(&mut d).await;
    let (_, answer) = SoftPasskey::register(&nonce(&pk["verification"]), PAGE);
    let r = attempt_registration(&mut d, pk["id"].as_str().unwrap(), &answer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = d
        .send(Method::DELETE, &format!("/v1/me/passkeys/{id}"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// An Android app's passkeys answer with the app's signing-key hash as their origin: accepted
/// when the settings list that app, refused for any other app.
#[tokio::test]
async fn an_android_app_listed_in_the_settings_signs_in_and_another_app_does_not() {
    const APP: &str = "android:apk-key-hash:Xm9vYmFyLWFwcC1zaWduaW5nLWtleQ";
    let settings = passkey_settings_with(&format!("origins = [\"{APP}\", \"{PAGE}\"]"));
    let t = TestApp::with_settings(settings).await;
    let (_, _, mut key) = user_with_passkey(&t, "yan@example.com").await;
    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, APP)).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);

    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let other = "android:apk-key-hash:YW5vdGhlci1hcHA";
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, other)).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_authentication_failure"),
        "{}",
        r.body
    );
}

#[test]
fn android_app_origins_are_checked_and_need_a_web_origin_beside_them() {
    let with = |origins: &str| refused_on(&format!("rp_id = \"localhost\"\norigins = {origins}"));
    assert_eq!(
        with("[\"android:apk-key-hash:abc\"]").as_deref(),
        Some("passkeys.origins")
    );
    assert_eq!(
        with("[\"http://localhost:5173\", \"android:apk-key-hash:a b\"]").as_deref(),
        Some("passkeys.origins")
    );
    assert_eq!(
        with("[\"android:apk-key-hash:abc\", \"http://localhost:5173\"]"),
        None
    );
}

/// An operator removes a lost device's passkey through the Backend API: the user's passkeys
/// no longer list it, and the credential no longer signs in.
#[tokio::test]
async fn an_operator_removes_a_passkey_through_the_backend_api() {
    let t = setup().await;
    let (user_id, _, mut key) = user_with_passkey(&t, "zoe@example.com").await;
    let passkey_id = t.user(&user_id).await.passkeys[0].id.clone();
    let secret = t.app.create_secret_key().await.unwrap();
    let call = |path: String, auth: String| {
        frontdoor_tests::req(Method::DELETE, &path)
            .header("authorization", auth)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let path = format!("/v1/users/{user_id}/passkeys/{passkey_id}");
    let r = t.send(call(path.clone(), String::new())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = t.send(call(path.clone(), format!("Bearer {secret}"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        serde_json::json!({ "object": "passkey", "id": passkey_id, "deleted": true })
    );
    assert_eq!(t.user(&user_id).await.passkeys, vec![]);
    let r = t.send(call(path, format!("Bearer {secret}"))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let (mut d, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut d, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.error_code(), Some("passkey_not_registered"), "{}", r.body);
}

/// The same registration answer sent several times at once (a double submit, a retry): the
/// passkey ends registered, once, and signs in; no loser undoes the winner.
#[tokio::test]
async fn a_registration_answer_sent_several_times_at_once_registers_once() {
    let t = setup().await;
    let mut d = Device::new(&t);
    let user_id = d.sign_up("ana@example.com", PASSWORD).await;
    let pk = begin_registration(&mut d).await;
    let (mut key, answer) = SoftPasskey::register(&nonce(&pk["verification"]), PAGE);
    let path = format!(
        "/v1/me/passkeys/{}/attempt_verification",
        pk["id"].as_str().unwrap()
    );
    let body = form(&[("strategy", "passkey"), ("public_key_credential", &answer)]);
    let mut devices: Vec<Device<'_>> = (0..4)
        .map(|_| Device {
            t: &t,
            token: d.token.clone(),
            ip: None,
        })
        .collect();
    let results = futures::future::join_all(
        devices
            .iter_mut()
            .map(|d| async { d.post(&path, &body).await }),
    )
    .await;
    let ok = results
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert!(
        ok >= 1,
        "{:?}",
        results.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(
            r.error_code(),
            Some("verification_already_verified"),
            "{}",
            r.body
        );
    }
    let user = t.user(&user_id).await;
    assert_eq!(
        user.passkeys.iter().filter(|p| p.is_registered()).count(),
        1
    );
    let (mut other, id, options) = discoverable_sign_in(&t).await;
    let r = attempt_sign_in(&mut other, &id, &key.assert(&options, PAGE)).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}

/// The last-way-in rule counts passkeys only while the instance takes them: with passkeys
/// switched off, an account holding only an old passkey has no way in left.
#[tokio::test]
async fn passkeys_count_as_a_way_in_only_while_they_are_on() {
    use frontdoor::flows::sign_in::state::{WayIn, signs_in_without};
    let on = setup().await;
    let (user_id, _, _) = user_with_passkey(&on, "bo@example.com").await;
    let mut user = on.user(&user_id).await;
    user.password_hash = None;
    user.email_addresses.clear();
    let off = TestApp::new().await;
    let removed = WayIn::ExternalAccount("eac_gone");
    assert!(signs_in_without(&on.app, &user, removed));
    assert!(!signs_in_without(&off.app, &user, removed));
}

/// A reverification withdraws its passkey options when a code is prepared instead, and a
/// locked account's answer spends them.
#[tokio::test]
async fn a_reverification_withdraws_or_spends_its_passkey_options() {
    let t = setup().await;
    let (user_id, mut d, mut key) = user_with_passkey(&t, "cy@example.com").await;
    let me = d.get("/v1/me").await;
    let session = me.body["client"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.clock.advance(std::time::Duration::from_secs(60 * 60));
    let verify = format!("/v1/client/sessions/{session}/verify");
    let prepare = format!("{verify}/prepare_first_factor");
    let attempt = format!("{verify}/attempt_first_factor");
    d.post(&verify, "level=first_factor").await;

    let r = d.post(&prepare, "strategy=passkey").await;
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let email_id = me.body["response"]["primary_email_address_id"]
        .as_str()
        .unwrap();
    let r = d
        .post(
            &prepare,
            &form(&[("strategy", "email_code"), ("email_address_id", email_id)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["strategy"], "email_code", "{}", r.body);
    let answer = |a: &str| form(&[("strategy", "passkey"), ("public_key_credential", a)]);
    let r = d.post(&attempt, &answer(&key.assert(&options, PAGE))).await;
    assert_eq!(r.error_code(), Some("verification_missing"), "{}", r.body);

    // Locked: refused, and the answer is spent for after the unlock.
    let r = d.post(&prepare, "strategy=passkey").await;
    let options = nonce(&r.body["response"]["first_factor_verification"]);
    let mut user = t.user(&user_id).await;
    user.locked_until = Some(t.app.now_ms() + 60_000);
    t.save_user(&user).await;
    let captured = answer(&key.assert(&options, PAGE));
    let r = d.post(&attempt, &captured).await;
    assert_eq!(r.error_code(), Some("user_locked"), "{}", r.body);
    t.clock.advance(std::time::Duration::from_secs(61));
    let r = d.post(&attempt, &captured).await;
    assert_eq!(
        r.error_code(),
        Some("passkey_invalid_verification"),
        "{}",
        r.body
    );
}

#[test]
fn derived_origins_leave_out_http_pages_browsers_refuse_webauthn_on() {
    let text = passkey_settings_text("rp_id = \"example.test\"").replacen(
        "allowed_origins = [\"http://localhost:5173\", \"http://127.0.0.1:5173\"]",
        "allowed_origins = [\"http://app.example.test\", \"https://app.example.test\"]",
        1,
    );
    let s = frontdoor::settings::Settings::parse(&text).expect("the settings load");
    assert_eq!(
        s.passkey_origins(),
        vec!["https://app.example.test".to_owned()]
    );
}
