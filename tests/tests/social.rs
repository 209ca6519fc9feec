#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Social sign-in through the HTTP surface, against a scriptable OpenID Connect provider on
//! loopback (`frontdoor_tests::idp`): the redirect flow, the transfers, linking by verified
//! email, second factors, native apps' rotating-token nonce, connected accounts, and every
//! way a callback must be refused without creating a user or a session.

use frontdoor_tests::idp::{FakeIdp, Script};
use frontdoor_tests::{Device, TestApp, TestResponse, form, req, settings_with};
use http::{Method, StatusCode};
use serde_json::Value;

const STRATEGY: &str = "oauth_custom_acme";

/// The binding cookie each web flow's browser was handed, by the flow's `state`: the tests'
/// browser presents it at the callback, as a browser would.
static BINDINGS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Keeps the binding cookie of the flow an answer began (its provider URL names the state).
fn remember_binding(r: &TestResponse, url: &str) {
    let Some(cookie) = r.cookie("__clerk_oauth_binding") else {
        return;
    };
    let state = url
        .split_once('?')
        .map(|(_, q)| {
            form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<Vec<_>>()
        })
        .and_then(|q| q.into_iter().find(|(k, _)| k == "state").map(|(_, v)| v))
        .unwrap();
    BINDINGS.lock().unwrap().push((state, cookie));
}

/// The cookie header a browser sends with the callback whose query is `query`.
fn binding_for(query: &str) -> Option<String> {
    let state = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v)?;
    BINDINGS
        .lock()
        .unwrap()
        .iter()
        .find(|(s, _)| *s == state)
        .map(|(_, c)| format!("__clerk_oauth_binding={c}"))
}
const WEB_CALLBACK: &str = "http://localhost:5173/sso-callback";
const NATIVE_CALLBACK: &str = "myapp://sso-callback";

async fn setup() -> (TestApp, FakeIdp) {
    let clock = std::sync::Arc::new(frontdoor::clock::ManualClock::new(frontdoor_tests::T0));
    let idp = FakeIdp::start(clock.clone()).await;
    let settings = settings_with(&[
        (
            "[actions]",
            &format!(
                "{}{}{}[actions]",
                idp.settings_table(),
                idp.built_in_table("google"),
                idp.built_in_table("apple")
            ),
        ),
        (
            "trusted_proxies = []",
            &format!("trusted_proxies = []\nnative_redirect_urls = [\"{NATIVE_CALLBACK}\"]"),
        ),
        ("creates = 5 ", "creates = 1000 "),
        ("attempts = 3 ", "attempts = 1000 "),
    ]);
    let store = frontdoor_tests::test_store(clock.clone()).await;
    let t = TestApp::with_store(settings, store, clock).await;
    (t, idp)
}

/// Starts a social sign-in (`kind`: "sign_ins" or "sign_ups"); the attempt's id and the
/// provider URL the user is sent to.
async fn start(d: &mut Device<'_>, kind: &str, redirect: &str) -> (String, String) {
    let r = d
        .post(
            &format!("/v1/client/{kind}"),
            &form(&[
                ("strategy", STRATEGY),
                ("redirect_url", redirect),
                ("action_complete_redirect_url", "/dashboard"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = verification(&r.body["response"]);
    assert_eq!(v["object"], "verification_oauth");
    assert_eq!(v["status"], "unverified");
    assert_eq!(v["strategy"], STRATEGY);
    let url = v["external_verification_redirect_url"].as_str().unwrap();
    remember_binding(&r, url);
    (
        r.body["response"]["id"].as_str().unwrap().to_owned(),
        url.to_owned(),
    )
}

fn verification(attempt: &Value) -> &Value {
    match attempt["object"].as_str() {
        Some("sign_in_attempt") => &attempt["first_factor_verification"],
        _ => &attempt["verifications"]["external_account"],
    }
}

/// The browser comes back from the provider: `GET /v1/oauth_callback?…`.
async fn callback(t: &TestApp, query: &str) -> TestResponse {
    let mut b = req(Method::GET, &format!("/v1/oauth_callback?{query}"))
        // The edge reports the browser's address (the callback counts against its limit).
        .extension(frontdoor::http::ClientIp("192.0.2.9".into()));
    if let Some(cookie) = binding_for(query) {
        b = b.header("cookie", cookie);
    }
    t.send(b.body(axum::body::Body::empty()).unwrap()).await
}

/// Apple's way back: a cross-site form POST from the provider's origin.
async fn callback_post(t: &TestApp, body: &str) -> TestResponse {
    let mut b = req(Method::POST, "/v1/oauth_callback")
        .header("origin", "https://appleid.apple.com")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = binding_for(body) {
        b = b.header("cookie", cookie);
    }
    t.send(b.body(axum::body::Body::from(body.to_owned())).unwrap())
        .await
}

fn query(code: &str, state: &str) -> String {
    form(&[("code", code), ("state", state)])
}

/// The whole round trip: consent at the provider, then the callback; its `Location`.
async fn round_trip(t: &TestApp, idp: &FakeIdp, url: &str) -> String {
    let (code, state) = idp.consent(url);
    let r = callback(t, &query(&code, &state)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.header("location").unwrap().to_owned()
}

async fn users(t: &TestApp) -> usize {
    t.app.repo.count_indexed_users().await.unwrap()
}

#[tokio::test]
async fn a_first_time_user_is_created_through_the_transfer_and_then_signs_in_directly() {
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    let (id, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    assert!(url.contains("code_challenge=") && url.contains("code_challenge_method=S256"));
    assert!(url.contains("nonce=") && url.contains("state="));
    let location = round_trip(&t, &idp, &url).await;
    // No session yet: back to the SSO-callback page, not the page after sign-in.
    assert!(location.starts_with(WEB_CALLBACK), "{location}");

    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["status"], "transferable");
    assert_eq!(v["error"]["code"], "external_account_not_found");
    assert_eq!(users(&t).await, 0);

    let r = d.post("/v1/client/sign_ups", "transfer=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = &r.body["response"];
    assert_eq!(s["status"], "complete", "{s}");
    assert_eq!(s["verifications"]["external_account"]["status"], "verified");
    let user = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["email_addresses"][0]["email_address"], "ada@idp.test");
    assert_eq!(
        user["email_addresses"][0]["verification"]["strategy"],
        "from_oauth_custom_acme"
    );
    let account = &user["external_accounts"][0];
    assert_eq!(account["provider"], STRATEGY);
    assert_eq!(account["provider_user_id"], "idp-user-1");
    assert_eq!(account["verification"]["status"], "verified");
    assert_eq!(user["password_enabled"], false);
    assert_eq!(users(&t).await, 1);

    // Another device, the same provider account: signed in at the callback (a form POST this
    // time, as Apple sends it).
    let mut other = Device::new(&t);
    let (id, url) = start(&mut other, "sign_ins", WEB_CALLBACK).await;
    let (code, state) = idp.consent(&url);
    let r = callback_post(&t, &query(&code, &state)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert!(
        location.starts_with("http://localhost:5173/dashboard"),
        "the page after sign-in: {location}"
    );
    let r = other.get(&format!("/v1/client/sign_ins/{id}")).await;
    // The client token rotated at the callback: the old one reaches nothing.
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let token = location
        .split("__clerk_db_jwt=")
        .nth(1)
        .expect("a development browser learns its rotated token from the URL");
    other.token = Some(token.to_owned());
    let r = other.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(r.body["client"]["last_authentication_strategy"], STRATEGY);
    assert_eq!(users(&t).await, 1);
}

#[tokio::test]
async fn a_sign_up_for_an_account_that_exists_is_transferred_to_sign_in() {
    let (t, idp) = setup().await;
    let mut first = Device::new(&t);
    let (_, url) = start(&mut first, "sign_ups", WEB_CALLBACK).await;
    let location = round_trip(&t, &idp, &url).await;
    assert!(
        location.starts_with("http://localhost:5173/dashboard"),
        "{location}"
    );
    assert_eq!(users(&t).await, 1);

    let mut second = Device::new(&t);
    let (id, url) = start(&mut second, "sign_ups", WEB_CALLBACK).await;
    round_trip(&t, &idp, &url).await;
    let r = second.get(&format!("/v1/client/sign_ups/{id}")).await;
    let v = &r.body["response"]["verifications"]["external_account"];
    assert_eq!(v["status"], "transferable", "{}", r.body);
    assert_eq!(v["error"]["code"], "external_account_exists");
    let r = second.post("/v1/client/sign_ins", "transfer=true").await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(users(&t).await, 1);
}

#[tokio::test]
async fn a_verified_provider_email_joins_the_user_who_verified_it_and_an_unverified_one_does_not() {
    let (t, idp) = setup().await;
    let mut owner = Device::new(&t);
    let user_id = owner.sign_up("ada@idp.test", "correct horse battery").await;

    idp.script(|s| s.email_verified = false);
    let mut d = Device::new(&t);
    let (id, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    round_trip(&t, &idp, &url).await;
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(
        r.body["response"]["first_factor_verification"]["status"],
        "transferable"
    );
    assert!(t.user(&user_id).await.external_accounts.is_empty());

    idp.script(|s| s.email_verified = true);
    let mut d = Device::new(&t);
    let (_, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    let location = round_trip(&t, &idp, &url).await;
    assert!(location.contains("/dashboard"), "{location}");
    let u = t.user(&user_id).await;
    assert_eq!(u.external_accounts.len(), 1);
    assert_eq!(u.external_accounts[0].provider_user_id, "idp-user-1");
    assert_eq!(users(&t).await, 1);
}

#[tokio::test]
async fn a_user_with_a_second_factor_still_needs_it_after_the_provider() {
    let (t, idp) = setup().await;
    let mut owner = Device::new(&t);
    let user_id = owner.sign_up("ada@idp.test", "correct horse battery").await;
    let mut u = t.user(&user_id).await;
    u.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
    t.save_user(&u).await;

    let mut d = Device::new(&t);
    let (id, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    let location = round_trip(&t, &idp, &url).await;
    assert!(location.starts_with(WEB_CALLBACK), "{location}");
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(
        r.body["response"]["status"], "needs_second_factor",
        "{}",
        r.body
    );
    assert!(r.body["client"]["sessions"].as_array().unwrap().is_empty());
}

/// Starts a sign-in, lets the provider answer as `script` says, and returns the attempt after
/// the callback (which must still redirect to the SSO-callback page).
async fn refused(script: impl FnOnce(&mut Script)) -> (TestApp, Value) {
    let (t, idp) = setup().await;
    idp.script(script);
    let mut d = Device::new(&t);
    let (id, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    let location = round_trip(&t, &idp, &url).await;
    assert!(location.starts_with(WEB_CALLBACK), "{location}");
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert!(r.body["client"]["sessions"].as_array().unwrap().is_empty());
    assert_eq!(users(&t).await, 0);
    (t, r.body["response"]["first_factor_verification"].clone())
}

/// How the provider misbehaves in one case.
type Misbehaviour = Box<dyn FnOnce(&mut Script)>;

#[tokio::test]
async fn id_tokens_that_do_not_hold_fail_the_attempt_and_create_nothing() {
    let cases: Vec<(&str, Misbehaviour)> = vec![
        (
            "another issuer",
            Box::new(|s| s.issuer = Some("https://evil.test".into())),
        ),
        (
            "another audience",
            Box::new(|s| s.audience = Some("someone-else".into())),
        ),
        (
            "a nonce not sent",
            Box::new(|s| s.nonce = Some("replayed-nonce".into())),
        ),
        ("expired", Box::new(|s| s.issued_offset_secs = -3600)),
        (
            "issued in the future",
            Box::new(|s| s.issued_offset_secs = 3600),
        ),
    ];
    for (case, script) in cases {
        let (_, v) = refused(script).await;
        assert_eq!(v["status"], "failed", "{case}: {v}");
        assert_eq!(v["error"]["code"], "oauth_callback_invalid", "{case}: {v}");
    }
}

#[tokio::test]
async fn provider_errors_come_back_as_clerk_errors_on_the_attempt() {
    let (_, v) = refused(|s| s.token_endpoint_fails = true).await;
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "oauth_token_exchange_error");

    // The user said no at the provider.
    let (t, _) = setup().await;
    let mut d = Device::new(&t);
    let (id, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    let state = url
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let r = callback(&t, &format!("error=access_denied&state={state}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = d.get(&format!("/v1/client/sign_ins/{id}")).await;
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["error"]["code"], "oauth_access_denied", "{v}");
    assert_eq!(
        v["error"]["message"].as_str().map(|m| !m.is_empty()),
        Some(true)
    );
}

#[tokio::test]
async fn a_state_is_used_once_and_only_by_its_own_client() {
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    let (_, url) = start(&mut d, "sign_ups", WEB_CALLBACK).await;
    let (code, state) = idp.consent(&url);

    // A callback carrying another client (login CSRF: someone else's state) is refused.
    let mut stranger = Device::new(&t);
    stranger.post("/v1/client", "").await;
    let r = stranger
        .get(&format!("/v1/oauth_callback?{}", query(&code, &state)))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("oauth_callback_invalid"));

    let r = callback(&t, &query(&code, &state)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(users(&t).await, 1);

    // Replayed: the state is gone, and the provider is not asked again.
    let exchanges = idp.exchanges();
    let r = callback(&t, &query(&code, &state)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("oauth_callback_invalid"));
    assert_eq!(idp.exchanges(), exchanges);

    // Unknown, missing, and expired states.
    for q in ["code=x&state=not-a-state", "code=x"] {
        assert_eq!(
            callback(&t, q).await.error_code(),
            Some("oauth_callback_invalid")
        );
    }
    let mut late = Device::new(&t);
    let (_, url) = start(&mut late, "sign_ins", WEB_CALLBACK).await;
    let (code, state) = idp.consent(&url);
    t.clock.advance(std::time::Duration::from_secs(11 * 60));
    let r = callback(&t, &query(&code, &state)).await;
    assert_eq!(r.error_code(), Some("oauth_callback_invalid"));
    assert_eq!(users(&t).await, 1);
}

#[tokio::test]
async fn redirect_urls_must_be_allowed_pages_or_allow_listed_apps() {
    let (t, _) = setup().await;
    let mut d = Device::new(&t);
    for bad in [
        "https://evil.test/cb",
        "otherapp://sso-callback",
        "javascript:alert(1)",
    ] {
        let r = d
            .post(
                "/v1/client/sign_ins",
                &form(&[("strategy", STRATEGY), ("redirect_url", bad)]),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert_eq!(r.error_code(), Some("invalid_redirect_url"));
    }
    let r = d
        .post(
            "/v1/client/sign_ins",
            &form(&[("strategy", "oauth_github"), ("redirect_url", WEB_CALLBACK)]),
        )
        .await;
    assert_eq!(r.error_code(), Some("oauth_provider_not_enabled"));
}

#[tokio::test]
async fn a_native_app_collects_its_rotated_token_with_the_nonce_exactly_once() {
    let (t, idp) = setup().await;
    // The account exists, so the callback signs in (and rotates the client's token).
    let mut web = Device::new(&t);
    let (_, url) = start(&mut web, "sign_ups", WEB_CALLBACK).await;
    round_trip(&t, &idp, &url).await;

    let mut app = Device::new(&t);
    let (id, url) = start(&mut app, "sign_ins", NATIVE_CALLBACK).await;
    let location = round_trip(&t, &idp, &url).await;
    assert!(
        location.starts_with(&format!("{NATIVE_CALLBACK}?")),
        "{location}"
    );
    assert!(!location.contains("__clerk_db_jwt"), "{location}");
    let nonce = location
        .split("rotating_token_nonce=")
        .nth(1)
        .unwrap()
        .to_owned();

    let r = app
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce=wrong"
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    let old = app.token.clone();
    let r = app
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["status"], "complete");
    assert_ne!(app.token, old, "the answer carries a new client token");
    let r = app.get("/v1/client").await;
    assert_eq!(
        r.body["response"]["sessions"].as_array().map(Vec::len),
        Some(1)
    );

    let mut replay = Device::new(&t);
    replay.token = old;
    let r = replay
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "used once: {}", r.body);
}

/// `POST /v1/me/external_accounts`: the signed-in user starts connecting the provider.
async fn start_connection(d: &mut Device<'_>) -> TestResponse {
    let body = form(&[
        ("strategy", STRATEGY),
        ("redirect_url", "http://localhost:5173/profile"),
    ]);
    let r = d.post("/v1/me/external_accounts", &body).await;
    let url = &r.body["response"]["verification"]["external_verification_redirect_url"];
    if let Some(url) = url.as_str() {
        remember_binding(&r, url);
    }
    r
}

#[tokio::test]
async fn a_signed_in_user_connects_and_disconnects_an_account_but_keeps_a_way_in() {
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    let user_id = d
        .sign_up("grace@example.test", "correct horse battery")
        .await;
    let r = start_connection(&mut d).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let account = &r.body["response"];
    assert_eq!(account["object"], "external_account");
    assert_eq!(account["verification"]["status"], "unverified");
    let url = account["verification"]["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = account["id"].as_str().unwrap().to_owned();
    let location = round_trip(&t, &idp, &url).await;
    assert_eq!(location, "http://localhost:5173/profile");
    let u = t.user(&user_id).await;
    assert_eq!(u.external_accounts.len(), 1);
    assert!(u.external_accounts[0].is_verified());

    // Connected to this user, the provider account signs this user in.
    let mut other = Device::new(&t);
    let (_, url) = start(&mut other, "sign_ins", WEB_CALLBACK).await;
    assert!(round_trip(&t, &idp, &url).await.contains("/dashboard"));

    let r = d
        .send(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["response"]["deleted"], true);
    assert!(t.user(&user_id).await.external_accounts.is_empty());

    // A user who has only the provider account cannot disconnect it.
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    let (_, url) = start(&mut d, "sign_ups", WEB_CALLBACK).await;
    let location = round_trip(&t, &idp, &url).await;
    d.token = Some(location.split("__clerk_db_jwt=").nth(1).unwrap().to_owned());
    let r = d.get("/v1/me").await;
    let id = r.body["response"]["external_accounts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The email address the provider vouched for is also a way in: remove it first.
    let email_id = r.body["response"]["email_addresses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut u = t.user(r.body["response"]["id"].as_str().unwrap()).await;
    u.email_addresses.retain(|e| e.id != email_id);
    u.primary_email_address_id = None;
    t.save_user(&u).await;
    let r = d
        .send(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.error_code(),
        Some("last_required_identification_deletion_failed")
    );
}

#[tokio::test]
async fn the_environment_lists_the_connection_without_its_secret() {
    let (t, _) = setup().await;
    let r = t.get("/v1/environment").await;
    let social = &r.body["user_settings"]["social"][STRATEGY];
    assert_eq!(social["enabled"], true);
    assert_eq!(social["authenticatable"], true);
    assert_eq!(social["strategy"], STRATEGY);
    assert_eq!(social["name"], "Acme");
    assert!(
        !r.body
            .to_string()
            .contains(frontdoor_tests::idp::CLIENT_SECRET)
    );
}

#[tokio::test]
async fn google_one_tap_tokens_sign_up_then_sign_in_and_bad_ones_are_refused() {
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    let token = idp.id_token();
    let one_tap = form(&[("strategy", "google_one_tap"), ("token", &token)]);
    // No user yet: clerk-js answers this error by signing up with the same token.
    let r = d.post("/v1/client/sign_ins", &one_tap).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.error_code(), Some("external_account_not_found"));
    let r = d.post("/v1/client/sign_ups", &one_tap).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(users(&t).await, 1);

    let mut other = Device::new(&t);
    let r = other.post("/v1/client/sign_ins", &one_tap).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(
        r.body["client"]["last_authentication_strategy"],
        "oauth_google"
    );

    for (case, script) in [
        (
            "another audience",
            Script {
                audience: Some("someone-else".into()),
                ..Script::default()
            },
        ),
        (
            "expired",
            Script {
                issued_offset_secs: -3600,
                ..Script::default()
            },
        ),
    ] {
        idp.script(|s| *s = script);
        let bad = form(&[("strategy", "google_one_tap"), ("token", &idp.id_token())]);
        let r = Device::new(&t).post("/v1/client/sign_ins", &bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{case}: {}", r.body);
        assert_eq!(r.error_code(), Some("oauth_callback_invalid"), "{case}");
    }
    let r = Device::new(&t)
        .post(
            "/v1/client/sign_ins",
            &form(&[("strategy", "google_one_tap"), ("token", "not.a.jwt")]),
        )
        .await;
    assert_eq!(r.error_code(), Some("oauth_callback_invalid"));
    assert_eq!(users(&t).await, 1);
}

async fn reauthorize(d: &mut Device<'_>, id: &str) -> TestResponse {
    let path = format!("/v1/me/external_accounts/{id}/reauthorize");
    let body = form(&[
        ("redirect_url", "http://localhost:5173/profile"),
        ("additional_scope", "groups"),
    ]);
    let r = d.send(Method::PATCH, &path, &body).await;
    let url = &r.body["response"]["verification"]["external_verification_redirect_url"];
    if let Some(url) = url.as_str() {
        remember_binding(&r, url);
    }
    r
}

#[tokio::test]
async fn a_connected_account_is_reauthorized_with_the_same_provider_account_only() {
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    d.sign_up("grace@example.test", "correct horse battery")
        .await;
    let r = start_connection(&mut d).await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let url = r.body["response"]["verification"]["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    round_trip(&t, &idp, &url).await;

    let r = reauthorize(&mut d, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Still connected (and still a way in) while the provider is asked again.
    assert_eq!(r.body["response"]["verification"]["status"], "verified");
    let url = r.body["response"]["verification"]["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.contains("groups"),
        "the added scope is asked for: {url}"
    );
    round_trip(&t, &idp, &url).await;
    let me = d.get("/v1/me").await;
    assert_eq!(
        me.body["response"]["external_accounts"][0]["verification"]["status"],
        "verified"
    );

    // Coming back as another provider account does not swap the connection.
    idp.script(|s| s.sub = "someone-else".into());
    let r = reauthorize(&mut d, &id).await;
    let url = r.body["response"]["verification"]["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    round_trip(&t, &idp, &url).await;
    let me = d.get("/v1/me").await;
    let account = &me.body["response"]["external_accounts"][0];
    assert_eq!(account["provider_user_id"], "idp-user-1");
    assert_eq!(
        account["verification"]["error"]["code"],
        "oauth_account_already_connected"
    );
    // The failed re-authorization left the connection as it was.
    assert_eq!(account["verification"]["status"], "verified");
}

#[tokio::test]
async fn sign_in_with_apple_tokens_from_an_ios_app_sign_up_first_then_sign_in() {
    let (t, idp) = setup().await;
    let token = idp.id_token();
    let apple = form(&[("strategy", "oauth_token_apple"), ("token", &token)]);
    // Unknown on a sign-in: transferable, nothing created.
    let mut d = Device::new(&t);
    let r = d.post("/v1/client/sign_ins", &apple).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = &r.body["response"]["first_factor_verification"];
    assert_eq!(v["status"], "transferable");
    assert_eq!(v["strategy"], "oauth_apple");
    assert_eq!(users(&t).await, 0);
    // The app signs up first (Clerk's Expo hook does), then signs in on another device.
    let r = d.post("/v1/client/sign_ups", &apple).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let r = Device::new(&t).post("/v1/client/sign_ins", &apple).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    // A second sign-up with the same account is transferred to a sign-in.
    let mut again = Device::new(&t);
    let r = again.post("/v1/client/sign_ups", &apple).await;
    let v = &r.body["response"]["verifications"]["external_account"];
    assert_eq!(v["status"], "transferable", "{}", r.body);
    let r = again.post("/v1/client/sign_ins", "transfer=true").await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert_eq!(users(&t).await, 1);
}

/// A returning user's callback, counted in store round trips (DESIGN.md's budgets): the
/// rate-limit counter, the state, the client, the account's guard, the user, the user's live
/// sessions (the session cap), one transaction.
#[tokio::test]
async fn a_returning_users_callback_takes_at_most_seven_round_trips() {
    let (t, idp) = setup().await;
    let mut first = Device::new(&t);
    let (_, url) = start(&mut first, "sign_ups", WEB_CALLBACK).await;
    round_trip(&t, &idp, &url).await;
    let mut d = Device::new(&t);
    let (_, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    let (code, state) = idp.consent(&url);
    t.counts.reset();
    let r = callback(&t, &query(&code, &state)).await;
    assert!(r.header("location").unwrap().contains("/dashboard"));
    let trips = t.counts.reads() + t.counts.writes();
    assert!(trips <= 7, "the callback took {trips} round trips");
}

/// The PKCE challenges a provider saw at its authorize step (its consent screen).
type Challenges = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A Discord-like OAuth 2.0 provider on loopback: the token endpoint (client credentials in
/// the body, the PKCE verifier checked against a challenge it saw) and `GET /users/@me`.
async fn discord_like(profile: Value) -> (String, Challenges) {
    use axum::extract::Form;
    use axum::routing::{get, post};
    use std::collections::HashMap;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let challenges: Challenges = Default::default();
    let seen = challenges.clone();
    let token = move |Form(form): Form<HashMap<String, String>>| {
        let seen = seen.clone();
        async move {
            use base64::Engine as _;
            use sha2::Digest as _;
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            let ok = form.get("client_secret").map(String::as_str) == Some("discord-secret")
                && form.get("code").map(String::as_str) == Some("discord-code")
                && seen.lock().unwrap().contains(&computed);
            axum::Json(if ok {
                serde_json::json!({"access_token": "discord-token", "token_type": "Bearer"})
            } else {
                serde_json::json!({"error": "invalid_grant"})
            })
        }
    };
    let me = move |headers: http::HeaderMap| {
        let profile = profile.clone();
        async move {
            let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
            if bearer == Some("Bearer discord-token") {
                (StatusCode::OK, axum::Json(profile))
            } else {
                (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({})))
            }
        }
    };
    let app = axum::Router::new()
        .route("/api/oauth2/token", post(token))
        .route("/api/users/@me", get(me));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, challenges)
}

#[tokio::test]
async fn discord_signs_up_from_its_profile_api() {
    let (base, challenges) = discord_like(serde_json::json!({
        "id": "80351110224678912", "username": "nelly", "global_name": "Nelly Bly",
        "email": "nelly@discord.test", "verified": true,
        "avatar": "8342729096ea3675442027381ff50dfe",
    }))
    .await;
    let table = format!(
        "[social.discord]\nauthorize_url = \"{base}/oauth2/authorize\"\ntoken_url = \"{base}/api/oauth2/token\"\napi_url = \"{base}/api\"\nclient_id = \"discord-client\"\nclient_secret = \"discord-secret\"\n\n[actions]"
    );
    let settings = settings_with(&[
        ("[actions]", &table),
        ("creates = 5 ", "creates = 1000 "),
        ("attempts = 3 ", "attempts = 1000 "),
    ]);
    let t = TestApp::with_settings(settings).await;
    let mut d = Device::new(&t);
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("strategy", "oauth_discord"),
                ("redirect_url", WEB_CALLBACK),
                ("action_complete_redirect_url", "/dashboard"),
            ]),
        )
        .await;
    let url = r.body["response"]["verifications"]["external_account"]
        ["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with(&format!("{base}/oauth2/authorize?")),
        "{url}"
    );
    remember_binding(&r, &url);
    let q: std::collections::HashMap<String, String> =
        form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q["scope"], "identify email");
    // The user consents: the provider keeps the challenge and sends back its code.
    challenges.lock().unwrap().push(q["code_challenge"].clone());
    let r = callback(&t, &query("discord-code", &q["state"])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert!(location.contains("/dashboard"), "{location}");
    d.token = Some(location.split("__clerk_db_jwt=").nth(1).unwrap().to_owned());
    let r = d.get("/v1/me").await;
    let user = &r.body["response"];
    assert_eq!(user["first_name"], "Nelly");
    assert_eq!(
        user["email_addresses"][0]["email_address"],
        "nelly@discord.test"
    );
    let account = &user["external_accounts"][0];
    assert_eq!(account["provider"], "oauth_discord");
    assert_eq!(account["provider_user_id"], "80351110224678912");
    assert_eq!(account["username"], "nelly");
    assert!(
        account["image_url"]
            .as_str()
            .unwrap()
            .ends_with("8342729096ea3675442027381ff50dfe.png")
    );
}

#[tokio::test]
async fn a_web_flow_completes_only_in_the_browser_that_began_it() {
    let (t, idp) = setup().await;
    // Someone prepares a sign-up of their own (their password in it) and gets another browser
    // to complete it at the provider: without the binding cookie, nothing happens.
    let mut attacker = Device::new(&t);
    let r = attacker
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("strategy", STRATEGY),
                ("redirect_url", WEB_CALLBACK),
                ("password", "attacker chosen password"),
            ]),
        )
        .await;
    let url = r.body["response"]["verifications"]["external_account"]
        ["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = r
        .cookie("__clerk_oauth_binding")
        .expect("a web flow binds its browser");
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with("__clerk_oauth_binding=") && c.contains("HttpOnly"))
    );
    let (code, state) = idp.consent(&url);
    let callback_with = |cookie: Option<String>| {
        let mut b = req(
            Method::GET,
            &format!("/v1/oauth_callback?{}", query(&code, &state)),
        );
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        b.body(axum::body::Body::empty()).unwrap()
    };
    let victim = t
        .send(callback_with(Some(
            "__clerk_oauth_binding=someone-elses".into(),
        )))
        .await;
    assert_eq!(victim.status, StatusCode::BAD_REQUEST);
    assert_eq!(victim.error_code(), Some("oauth_callback_invalid"));
    let bare = t.send(callback_with(None)).await;
    assert_eq!(bare.error_code(), Some("oauth_callback_invalid"));
    assert_eq!(users(&t).await, 0);
    // The browser that began it completes it.
    let own = t
        .send(callback_with(Some(format!(
            "__clerk_oauth_binding={cookie}"
        ))))
        .await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);
    assert_eq!(users(&t).await, 1);
}

#[tokio::test]
async fn a_transfer_happens_once() {
    let (t, idp) = setup().await;
    let mut d = Device::new(&t);
    let (_, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    round_trip(&t, &idp, &url).await;
    let r = d.post("/v1/client/sign_ups", "transfer=true").await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    // Signed out, the same client cannot take the provider account over again.
    let sid = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.end_session(&sid).await;
    let r = d.post("/v1/client/sign_ups", "transfer=true").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(users(&t).await, 1);
}

#[tokio::test]
async fn apple_tokens_from_an_ios_app_name_its_bundle_id_as_their_audience() {
    let clock = std::sync::Arc::new(frontdoor::clock::ManualClock::new(frontdoor_tests::T0));
    let idp = FakeIdp::start(clock.clone()).await;
    let apple = idp.built_in_table("apple").replace(
        "link_by_verified_email",
        "audiences = [\"com.example.ios\"]\nlink_by_verified_email",
    );
    let settings = settings_with(&[("[actions]", &format!("{apple}[actions]"))]);
    let store = frontdoor_tests::test_store(clock.clone()).await;
    let t = TestApp::with_store(settings, store, clock).await;
    let sign_up = |token: String| form(&[("strategy", "oauth_token_apple"), ("token", &token)]);
    idp.script(|s| s.audience = Some("com.example.ios".into()));
    let r = Device::new(&t)
        .post("/v1/client/sign_ups", &sign_up(idp.id_token()))
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    idp.script(|s| s.audience = Some("com.someone.else".into()));
    let r = Device::new(&t)
        .post("/v1/client/sign_ups", &sign_up(idp.id_token()))
        .await;
    assert_eq!(r.error_code(), Some("oauth_callback_invalid"), "{}", r.body);
}

#[tokio::test]
async fn a_transfer_asks_for_what_the_instance_requires_and_the_provider_did_not_give() {
    let clock = std::sync::Arc::new(frontdoor::clock::ManualClock::new(frontdoor_tests::T0));
    let idp = FakeIdp::start(clock.clone()).await;
    let settings = settings_with(&[
        ("[actions]", &format!("{}[actions]", idp.settings_table())),
        (
            "[attributes.username]\nenabled = true\nrequired = false",
            "[attributes.username]\nenabled = true\nrequired = true",
        ),
    ]);
    let store = frontdoor_tests::test_store(clock.clone()).await;
    let t = TestApp::with_store(settings, store, clock).await;
    let mut d = Device::new(&t);
    let (_, url) = start(&mut d, "sign_ins", WEB_CALLBACK).await;
    round_trip(&t, &idp, &url).await;
    let r = d.post("/v1/client/sign_ups", "transfer=true").await;
    let s = &r.body["response"];
    assert_eq!(s["status"], "missing_requirements", "{}", r.body);
    assert_eq!(s["missing_fields"], serde_json::json!(["username"]));
    assert_eq!(s["verifications"]["external_account"]["status"], "verified");
    assert_eq!(users(&t).await, 0);
    // Given the username, the user is created with the provider account.
    let id = s["id"].as_str().unwrap().to_owned();
    let r = d
        .send(
            Method::PATCH,
            &format!("/v1/client/sign_ups/{id}"),
            "username=ada_l",
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let user = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(user["external_accounts"][0]["provider"], STRATEGY);
    assert_eq!(user["password_enabled"], false);
}

#[tokio::test]
async fn bad_input_to_the_social_endpoints_gets_clerk_errors() {
    let (t, _) = setup().await;
    let mut d = Device::new(&t);
    let r = d
        .post("/v1/client/sign_ins", &form(&[("strategy", STRATEGY)]))
        .await;
    assert_eq!(r.error_code(), Some("form_param_missing"), "{}", r.body);
    d.sign_up("bad@example.test", "correct horse battery").await;
    for (body, code) in [
        (
            "redirect_url=http%3A%2F%2Flocalhost%3A5173%2F",
            "form_param_missing",
        ),
        (
            "strategy=oauth_nope&redirect_url=http%3A%2F%2Flocalhost%3A5173%2F",
            "oauth_provider_not_enabled",
        ),
    ] {
        let r = d.post("/v1/me/external_accounts", body).await;
        assert_eq!(r.error_code(), Some(code), "{body}: {}", r.body);
    }
    let r = d
        .send(
            Method::PATCH,
            "/v1/me/external_accounts/eac_missing/reauthorize",
            "redirect_url=http%3A%2F%2Flocalhost%3A5173%2F",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = d
        .send(Method::DELETE, "/v1/me/external_accounts/eac_missing", "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = callback(&t, "state=&code=").await;
    assert_eq!(r.error_code(), Some("oauth_callback_invalid"));
}
