//! The instance endpoints: the Environment object follows the settings, the JWKS publishes the
//! signing keys (generated once and persisted, or the operator's), health.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use frontdoor::clock::ManualClock;
use frontdoor::store::ItemStore;
use frontdoor::store::sqlite::SqliteStore;
use frontdoor_tests::{T0, TestApp, development_settings, settings_with};
use http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

#[tokio::test]
async fn environment_reflects_the_development_settings() {
    let t = TestApp::new().await;
    let r = t.get("/v1/environment?_is_native=1").await;
    assert_eq!(r.status, StatusCode::OK);
    let env = &r.body;
    assert!(
        env.get("response").is_none(),
        "the environment is not enveloped"
    );
    let auth = &env["auth_config"];
    assert_eq!(auth["object"], "auth_config");
    assert_eq!(auth["email_address"], "required");
    assert_eq!(auth["password"], "required");
    assert_eq!(auth["phone_number"], "on");
    assert_eq!(auth["username"], "on");
    assert_eq!(auth["single_session_mode"], true);
    assert_eq!(
        auth["identification_strategies"],
        json!(["email_address", "phone_number", "username"])
    );
    for f in [
        "email_code",
        "phone_code",
        "password",
        "reset_password_email_code",
    ] {
        assert!(
            auth["first_factors"]
                .as_array()
                .unwrap()
                .contains(&json!(f)),
            "first factor {f}"
        );
    }
    assert_eq!(
        auth["second_factors"],
        json!(["phone_code", "totp", "backup_code"])
    );
    let attrs = &env["user_settings"]["attributes"];
    assert_eq!(attrs["email_address"]["required"], true);
    assert_eq!(attrs["email_address"]["verify_at_sign_up"], true);
    assert_eq!(
        attrs["email_address"]["verifications"],
        json!(["email_code"])
    );
    assert_eq!(attrs["phone_number"]["required"], false);
    assert_eq!(
        attrs["authenticator_app"]["second_factors"],
        json!(["totp"])
    );
    assert_eq!(attrs["web3_wallet"]["enabled"], false);
    assert_eq!(env["user_settings"]["password_settings"]["min_length"], 8);
    assert_eq!(env["user_settings"]["password_settings"]["max_length"], 128);
    assert_eq!(env["organization_settings"]["enabled"], false);
    assert_eq!(
        env["display_config"]["instance_environment_type"],
        "development"
    );
    assert_eq!(env["display_config"]["captcha_public_key"], Value::Null);
    assert_eq!(env["user_settings"]["sign_up"]["captcha_enabled"], false);
    assert_eq!(env["protect_config"]["loaders"], json!([]));
    assert!(env["commerce_settings"]["billing"]["user"].is_object());
    assert!(env["commerce_settings"]["billing"]["organization"].is_object());
}

#[tokio::test]
async fn a_phone_code_only_instance_says_so() {
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
    let env = t.get("/v1/environment").await.body;
    let auth = &env["auth_config"];
    assert_eq!(auth["identification_strategies"], json!(["phone_number"]));
    assert_eq!(auth["first_factors"], json!(["phone_code"]));
    assert_eq!(auth["email_address"], "off");
    assert_eq!(auth["password"], "off");
    assert_eq!(env["display_config"]["preferred_sign_in_strategy"], "otp");
}

#[tokio::test]
async fn multi_session_mode_is_announced() {
    let t =
        TestApp::with_settings(settings_with(&[("mode = \"single\"", "mode = \"multi\"")])).await;
    let env = t.get("/v1/environment").await.body;
    assert_eq!(env["auth_config"]["single_session_mode"], false);
}

#[tokio::test]
async fn patch_environment_answers_the_environment() {
    let t = TestApp::new().await;
    let r = t.post_form("/v1/environment?_method=PATCH", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["auth_config"]["object"], "auth_config");
}

fn rsa_key(jwks: &Value) -> (String, String, String) {
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    (
        key["kid"].as_str().unwrap().to_owned(),
        key["n"].as_str().unwrap().to_owned(),
        key["e"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn jwks_is_served_at_both_paths_with_an_rsa_2048_key_that_verifies_our_signatures() {
    let t = TestApp::new().await;
    let a = t.get("/.well-known/jwks.json").await;
    let b = t.get("/v1/jwks").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, b.body);
    let (kid, n, e) = rsa_key(&a.body);
    assert_eq!(e, "AQAB", "e = 65537");
    use base64::Engine as _;
    let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&n)
        .unwrap();
    assert_eq!(modulus.len() * 8, 2048);

    let token = t
        .app
        .key_ring()
        .unwrap()
        .sign(&json!({"sub": "user_1", "exp": 4_000_000_000u64}), 0)
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.alg, Algorithm::RS256);
    let key = DecodingKey::from_rsa_components(&n, &e).unwrap();
    let decoded = jsonwebtoken::decode::<Value>(&token, &key, &Validation::new(Algorithm::RS256));
    assert_eq!(decoded.unwrap().claims["sub"], "user_1");
}

#[tokio::test]
async fn the_signing_key_is_generated_once_and_kept_in_the_store() {
    let clock = Arc::new(ManualClock::new(T0));
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory(clock.clone()).unwrap());
    let first = TestApp::with_store(development_settings(), store.clone(), clock.clone()).await;
    let second = TestApp::with_store(development_settings(), store, clock).await;
    let (kid1, n1, _) = rsa_key(&first.get("/v1/jwks").await.body);
    let (kid2, n2, _) = rsa_key(&second.get("/v1/jwks").await.body);
    assert_eq!(
        kid1, kid2,
        "a second process (cold start) reuses the stored key"
    );
    assert_eq!(n1, n2);
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_publishes_the_old_one_until_its_tokens_expire() {
    let t = TestApp::new().await;
    let (old_kid, _, _) = rsa_key(&t.get("/v1/jwks").await.body);
    let new_kid = t.app.rotate_signing_key().await.unwrap();
    assert_ne!(old_kid, new_kid);
    let token = t
        .app
        .key_ring()
        .unwrap()
        .sign(&json!({"sub": "u"}), t.app.now_ms())
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
        Some(new_kid.as_str())
    );
    let published = kids(&t.get("/v1/jwks").await.body);
    assert!(published.contains(&old_kid) && published.contains(&new_kid));
    // Once every token the old key signed has expired (60 s by default), it drops out.
    t.clock.advance(Duration::from_secs(61));
    let published = kids(&t.get("/v1/jwks").await.body);
    assert_eq!(published, vec![new_kid]);
}

#[tokio::test]
async fn an_operator_supplied_pem_is_used_and_a_wrong_size_is_refused() {
    // Generate a PKCS#8 PEM the way an operator would hand one over.
    let generated = frontdoor::keys::SigningKey::generate(T0).unwrap();
    let stored = generated.to_stored();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&stored.pkcs8)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        b64.as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let clock = Arc::new(ManualClock::new(T0));
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory(clock.clone()).unwrap());
    let app = frontdoor::App::builder(development_settings(), store)
        .clock(clock)
        .signing_key_pem(Some(pem))
        .build()
        .await
        .unwrap();
    assert_eq!(
        app.key_ring().unwrap().current(app.now_ms()).kid,
        generated.kid
    );
    assert!(
        frontdoor::keys::SigningKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            T0
        )
        .is_err()
    );
}

#[tokio::test]
async fn health_is_healthy() {
    let t = TestApp::new().await;
    let r = t.get("/v1/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "healthy"}));
}

#[tokio::test]
async fn timestamps_are_unix_milliseconds() {
    let t = TestApp::new().await;
    let r = t.post_form("/v1/client?_is_native=1", "").await;
    assert_eq!(r.body["client"]["created_at"], json!(T0));
    assert_eq!(r.body["client"]["updated_at"], json!(T0));
}

/// Finding 11 (issue 11): an operator stages a new signing key; it is published at once —
/// also by another instance once that re-reads its keys — signs only from its activation, and
/// the old key stays published until its last token has expired.
#[tokio::test]
async fn a_staged_signing_key_is_published_before_it_signs() {
    use frontdoor_tests::TestApp;
    let t = TestApp::new().await;
    let old = t
        .app
        .key_ring()
        .unwrap()
        .current(t.app.now_ms())
        .kid
        .clone();
    let new = t
        .app
        .stage_signing_key(std::time::Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        kids(&t.get("/v1/jwks").await.body),
        vec![old.clone(), new.clone()]
    );

    // Another instance over the same table sees it when it re-reads its keys.
    let other = TestApp::with_store(
        frontdoor_tests::development_settings(),
        t.store.clone(),
        t.clock.clone(),
    )
    .await;
    other.app.refresh_signing_keys().await.unwrap();
    assert_eq!(
        kids(&other.get("/v1/jwks").await.body),
        vec![old.clone(), new.clone()]
    );

    // Until activation the old key signs; then the new one.
    let kid_of = |jwt: &str| jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    let claims = json!({"sub": "user_1"});
    let now = t.app.now_ms();
    assert_eq!(
        kid_of(&t.app.key_ring().unwrap().sign(&claims, now).unwrap()),
        old
    );
    t.clock.advance(std::time::Duration::from_secs(600));
    let now = t.app.now_ms();
    assert_eq!(
        kid_of(&other.app.key_ring().unwrap().sign(&claims, now).unwrap()),
        new
    );
    assert_eq!(
        kids(&t.get("/v1/jwks").await.body),
        vec![old.clone(), new.clone()]
    );

    // Once the old key's last token has expired, it is no longer published.
    t.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(kids(&t.get("/v1/jwks").await.body), vec![new]);
}

/// The key ids a JWKS publishes.
fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_fresh_local_store_answers_before_its_first_key_exists_and_signs_once_it_does() {
    use tower::ServiceExt as _;
    let clock = Arc::new(ManualClock::new(T0));
    let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory(clock.clone()).unwrap());
    let key_item = frontdoor::store::keys::instance("SIGNING_KEYS");
    let app = frontdoor::App::builder(development_settings(), store.clone())
        .clock(clock.clone())
        .keys_in_background(true)
        .build()
        .await
        .unwrap();
    // Built without waiting for key generation (this test's runtime has one thread, so the
    // generator has not run yet): nothing is stored, and a request that signs nothing is served.
    assert!(app.key_ring().is_none());
    assert!(store.get(&key_item).await.unwrap().is_none());
    let service = frontdoor_local::service(app.clone());
    let r = service
        .clone()
        .oneshot(
            frontdoor_tests::req(http::Method::GET, "/v1/environment?_is_native=1")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // What signs waits for the key, which is then stored for every later start.
    let jwks = app.signing_keys().await.jwks(app.now_ms());
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    assert!(store.get(&key_item).await.unwrap().is_some());
    let again = frontdoor::App::builder(development_settings(), store)
        .clock(clock)
        .keys_in_background(true)
        .build()
        .await
        .unwrap();
    assert_eq!(
        again.key_ring().unwrap().current(again.now_ms()).kid,
        kid,
        "read, not made again"
    );
}
