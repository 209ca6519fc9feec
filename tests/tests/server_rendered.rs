#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! What server-rendered apps need besides the Frontend API: the handshake
//! (`GET /v1/client/handshake`), the Backend API calls framework helpers make with a secret key,
//! and Clerk's pinned browser bundles at `/npm/@clerk/*`. (The same, end to end with a real
//! Next.js app and `@clerk/backend`, is in `tests/sdk/nextjs.test.mjs` and
//! `tests/sdk/handshake.test.mjs`.)

use axum::body::Body;
use frontdoor_tests::{Device, TestApp, form, production_settings, req};
use http::{Method, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";
const APP: &str = "http://localhost:4000/dashboard?tab=1";

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The `Set-Cookie` directives a handshake token carries, after checking its signature.
fn directives(t: &TestApp, handshake_jwt: &str) -> Vec<String> {
    let claims = t.verified_claims(handshake_jwt);
    claims["handshake"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect()
}

/// The value a directive gives cookie `name` (`None` when no directive names it).
fn value<'a>(directives: &'a [String], name: &str) -> Option<&'a str> {
    directives.iter().find_map(|d| {
        let (k, rest) = d.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or_default())
    })
}

fn directive<'a>(directives: &'a [String], name: &str) -> &'a str {
    directives
        .iter()
        .find(|d| d.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no directive for {name}: {directives:?}"))
}

/// The handshake token a development answer carries in its redirect.
fn token_in_location(location: &str) -> String {
    let (base, query) = location.split_once("?tab=1&").unwrap();
    assert_eq!(base, "http://localhost:4000/dashboard", "{location}");
    query.strip_prefix("__clerk_handshake=").unwrap().to_owned()
}

async fn handshake(
    t: &TestApp,
    query: &str,
    cookie: Option<&str>,
) -> frontdoor_tests::TestResponse {
    let mut b =
        req(Method::GET, &format!("/v1/client/handshake?{query}")).header("accept", "text/html");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    t.send(b.body(Body::empty()).unwrap()).await
}

/// A development handshake back to `APP` with `query`, as the middleware asks for it: the
/// directives of its answer (a 307 that is never cached).
async fn dev_handshake(t: &TestApp, query: &str) -> Vec<String> {
    let r = handshake(
        t,
        &format!("redirect_url={}&{query}&format=nonce", encode(APP)),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    directives(t, &token_in_location(r.header("location").unwrap()))
}

#[tokio::test]
async fn a_first_visit_in_development_gets_a_development_browser_and_signed_out_cookies() {
    let t = TestApp::new().await;
    let d = dev_handshake(
        &t,
        "suffixed_cookies=true&__clerk_hs_reason=dev-browser-missing",
    )
    .await;
    let suffix = frontdoor::flows::handshake::cookie_suffix(&t.app.settings.publishable_key());
    for name in ["__session".to_owned(), format!("__session_{suffix}")] {
        assert!(
            directive(&d, &name).contains("Max-Age=0"),
            "{name} cleared: {d:?}"
        );
    }
    assert_eq!(value(&d, "__client_uat"), Some("0"));
    assert_eq!(value(&d, &format!("__client_uat_{suffix}")), Some("0"));
    // The new development browser: the app keeps it, and clerk-js then uses it.
    let db = value(&d, "__clerk_db_jwt").unwrap().to_owned();
    assert_eq!(
        value(&d, &format!("__clerk_db_jwt_{suffix}")),
        Some(db.as_str())
    );
    let r = t
        .send(
            req(Method::GET, &format!("/v1/client?__clerk_db_jwt={db}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the development browser works: {}",
        r.body
    );
}

#[tokio::test]
async fn a_signed_in_development_browser_gets_a_fresh_session_token() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user = d.sign_up("ssr+clerk_test@example.com", PASSWORD).await;
    // A native client token and a development browser token are the same kind of token.
    let db = d.token.clone().unwrap();
    t.clock.advance(std::time::Duration::from_secs(30));
    let d = dev_handshake(&t, &format!("suffixed_cookies=false&__clerk_db_jwt={db}")).await;
    let session = t.verified_claims(value(&d, "__session").unwrap());
    assert_eq!(session["sub"], user.as_str());
    assert_eq!(
        session["azp"], "http://localhost:4000",
        "issued for the app's origin"
    );
    let uat: i64 = value(&d, "__client_uat").unwrap().parse().unwrap();
    assert!(
        uat > 0 && session["iat"].as_i64().unwrap() >= uat,
        "{uat} {session}"
    );
    assert!(
        value(&d, "__clerk_db_jwt").is_none(),
        "the browser keeps its development browser"
    );
    assert!(
        !d.iter().any(|c| c.starts_with("__session_")),
        "no suffixed copies unless asked: {d:?}"
    );
}

#[tokio::test]
async fn production_answers_with_the_handshake_cookie_on_the_apps_domain() {
    let t = TestApp::with_settings(production_settings()).await;
    let app = "https://app.example.test/account";
    // Signed in with the `__client` cookie, as a browser on the app's site is.
    let r = t
        .send(
            req(Method::POST, "/v1/client/sign_ups")
                .header("origin", "https://app.example.test")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form(&[
                    ("email_address", "prod.ssr@example.com"),
                    ("password", PASSWORD),
                ])))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let client = r.cookie("__client").unwrap();
    let r = handshake(
        &t,
        &format!("redirect_url={}", encode(app)),
        Some(&format!("__client={client}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(app),
        "the token is not in the URL"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__clerk_handshake="))
        .unwrap();
    for attribute in [
        "HttpOnly",
        "Domain=example.test",
        "Secure",
        "SameSite=Lax",
        "Max-Age=60",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let d = directives(&t, &r.cookie("__clerk_handshake").unwrap());
    // Signed up but not verified: no session yet.
    assert!(directive(&d, "__session").contains("Max-Age=0"));
    assert!(directive(&d, "__client_uat").contains("Domain=example.test"));
    assert!(
        directive(&d, "__clerk_handshake").contains("Max-Age=0"),
        "the handshake cookie clears itself once applied: {d:?}"
    );
    assert!(
        value(&d, "__clerk_db_jwt").is_none(),
        "no development browser in production"
    );
}

#[tokio::test]
async fn a_redirect_anywhere_but_an_allowed_origin_is_refused_and_nothing_is_written() {
    let t = TestApp::new().await;
    t.counts.reset();
    for url in [
        "https://evil.test/steal",
        "http://localhost:4000@evil.test/",
        "javascript:alert(1)",
        "//evil.test/",
        "/relative",
        "http://localhost:4000/\nLocation: https://evil.test",
    ] {
        let r = handshake(&t, &format!("redirect_url={}", encode(url)), None).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.body
        );
        assert_eq!(r.error_code(), Some("invalid_redirect_url"), "{url}");
    }
    let r = handshake(&t, "suffixed_cookies=true", None).await;
    assert_eq!(r.error_code(), Some("form_param_missing"));
    assert_eq!(t.counts.writes(), 0, "no development browser was created");
}

async fn backend(
    t: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
) -> frontdoor_tests::TestResponse {
    let mut b = req(method, path).header("content-type", "application/json");
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    t.send(b.body(Body::empty()).unwrap()).await
}

async fn post_with_key(t: &TestApp, key: &str, path: &str) -> frontdoor_tests::TestResponse {
    backend(t, Method::POST, path, Some(key)).await
}

#[tokio::test]
async fn the_backend_api_takes_only_this_instances_secret_keys() {
    let t = TestApp::new().await;
    let mut d = Device::new(&t);
    let user = d.sign_up("bapi+clerk_test@example.com", PASSWORD).await;
    let key = t.app.create_secret_key().await.unwrap();
    assert!(key.starts_with("sk_test_"));
    let path = format!("/v1/users/{user}");
    let wrong = format!("{}x", &key[..key.len() - 1]);
    let live = key.replace("sk_test_", "sk_live_");
    for (presented, why, code) in [
        (None, "no key", "authentication_invalid"),
        (Some(wrong.as_str()), "a wrong key", "clerk_key_invalid"),
        (Some(live.as_str()), "a production key", "clerk_key_invalid"),
    ] {
        let r = backend(&t, Method::GET, &path, presented).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.body);
        assert_eq!(r.error_code(), Some(code), "{why}");
        assert!(r.body["clerk_trace_id"].is_string());
    }
    // The JWKS is public, but a wrong key presented to it is still refused.
    assert_eq!(
        backend(&t, Method::GET, "/v1/jwks", Some(&wrong))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        backend(&t, Method::GET, "/v1/jwks", Some(&key))
            .await
            .status,
        StatusCode::OK
    );

    let r = backend(&t, Method::GET, &path, Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "@clerk/backend parses only this"
    );
    assert_eq!(r.body["object"], "user");
    assert_eq!(r.body["id"], user.as_str());
    assert_eq!(
        r.body["email_addresses"][0]["email_address"],
        "bapi+clerk_test@example.com"
    );
    assert_eq!(r.body["private_metadata"], serde_json::json!({}));
    assert!(r.body.get("password_hash").is_none() && !r.body.to_string().contains("argon2"));
    let r = backend(&t, Method::GET, "/v1/users/user_nobody", Some(&key)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("resource_not_found"));
}

#[tokio::test]
async fn a_configured_secret_key_works_and_only_its_hash_is_kept() {
    let t = TestApp::new().await;
    let configured = "sk_test_configuredconfiguredconfiguredconf";
    let app = frontdoor::App::builder(t.app.settings.clone(), t.store.clone())
        .clock(t.clock.clone())
        .secret_key(Some(configured.to_owned()))
        .build()
        .await
        .unwrap();
    assert!(app.secret_key_valid(configured).await.unwrap());
    assert!(
        !app.secret_key_valid("sk_test_configuredconfiguredconfiguredconX")
            .await
            .unwrap()
    );
    // A production key on a development instance is a configuration error, found at start.
    let refused = frontdoor::App::builder(t.app.settings.clone(), t.store.clone())
        .secret_key(Some("sk_live_abc".to_owned()))
        .build()
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn app_servers_mint_session_tokens_and_template_tokens_by_session_id() {
    let t = TestApp::with_settings(frontdoor_tests::settings_with(&[(
        "[actions]",
        "[jwt_templates.supabase]\nlifetime_secs = 120\nclaims = { role = \"authenticated\", email = \"{{user.primary_email_address}}\" }\n\n[actions]",
    )]))
    .await;
    let mut d = Device::new(&t);
    let user = d
        .sign_up("tokens.bapi+clerk_test@example.com", PASSWORD)
        .await;
    let session = d.get("/v1/client").await.body["client"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = t.app.create_secret_key().await.unwrap();
    let r = post_with_key(&t, &key, &format!("/v1/sessions/{session}/tokens")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "token");
    let c = t.verified_claims(r.body["jwt"].as_str().unwrap());
    assert_eq!(
        (c["sub"].as_str(), c["sid"].as_str()),
        (Some(user.as_str()), Some(session.as_str()))
    );
    let r = post_with_key(&t, &key, &format!("/v1/sessions/{session}/tokens/supabase")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = t.verified_claims(r.body["jwt"].as_str().unwrap());
    assert_eq!(c["role"], "authenticated");
    assert_eq!(c["email"], "tokens.bapi+clerk_test@example.com");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    let r = post_with_key(&t, &key, &format!("/v1/sessions/{session}/tokens/nope")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post_with_key(&t, &key, "/v1/sessions/sess_nobody/tokens").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Once the session ends, app servers get no more tokens for it.
    let r = d
        .post(&format!("/v1/client/sessions/{session}/end"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = post_with_key(&t, &key, &format!("/v1/sessions/{session}/tokens")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.error_code(), Some("signed_out"));
}

/// A bundle directory as `scripts/clerk-bundles.sh` lays it out, with a marker in each file.
fn bundle_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("frontdoor-bundles-{}", std::process::id()));
    for (release, file) in [
        ("clerk-js@6.40.0", "clerk.browser.js"),
        ("clerk-js@5.128.0", "clerk.browser.js"),
        ("ui@1.36.0", "ui.browser.js"),
    ] {
        let dist = dir.join("@clerk").join(release).join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join(file), format!("/* {release} */")).unwrap();
    }
    std::fs::write(dir.join("@clerk/clerk-js@6.40.0/.integrity"), "sha512-x").unwrap();
    dir
}

async fn get_bundle(router: &axum::Router, path: &str) -> (StatusCode, Option<String>, String) {
    let r = router
        .clone()
        .oneshot(req(Method::GET, path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = http_body_util::BodyExt::collect(r.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, cache, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_pinned_bundles_are_served_by_line_and_by_release_behind_any_prefix() {
    let t = TestApp::new().await;
    let bundles = fn_assets::Bundles::load(&bundle_dir());
    let router =
        frontdoor_local::local_router(t.app.clone(), std::path::Path::new("/nonexistent"), bundles);
    let (status, cache, body) =
        get_bundle(&router, "/npm/@clerk/clerk-js@6/dist/clerk.browser.js").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "/* clerk-js@6.40.0 */")
    );
    assert_eq!(
        cache.as_deref(),
        Some("public, max-age=300"),
        "a line follows the pin"
    );
    let (status, cache, body) = get_bundle(
        &router,
        "/__clerk/npm/@clerk/clerk-js@5.128.0/dist/clerk.browser.js",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "/* clerk-js@5.128.0 */")
    );
    assert_eq!(
        cache.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let (status, _, body) = get_bundle(&router, "/prod/npm/@clerk/ui@1/dist/ui.browser.js").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "/* ui@1.36.0 */"));
    for missing in [
        "/npm/@clerk/clerk-js@4/dist/clerk.browser.js",
        "/npm/@clerk/clerk-js@6.39.0/dist/clerk.browser.js",
        "/npm/@clerk/clerk-js@6/dist/%2e%2e/.integrity",
        "/npm/@clerk/clerk-js@6/dist/../.integrity",
        "/npm/@clerk/backend@1/dist/index.js",
    ] {
        assert_eq!(
            get_bundle(&router, missing).await.0,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    // Everything else is still the API.
    let (status, _, body) = get_bundle(&router, "/v1/environment").await;
    assert_eq!(status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&body).is_ok());
}

/// A browser on `https://app.example.test` in cookie mode: it keeps the `__client` cookie.
struct CookieBrowser<'a> {
    t: &'a TestApp,
    client: Option<String>,
}

impl CookieBrowser<'_> {
    async fn post(&mut self, path: &str, body: &str) -> frontdoor_tests::TestResponse {
        let mut b = req(Method::POST, path)
            .header("origin", "https://app.example.test")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = &self.client {
            b = b.header("cookie", format!("__client={c}"));
        }
        let r = self
            .t
            .send(b.body(Body::from(body.to_owned())).unwrap())
            .await;
        if let Some(c) = r.cookie("__client") {
            self.client = Some(c);
        }
        r
    }
}

#[tokio::test]
async fn cookie_mode_keeps_the_apps_session_cookie_current() {
    let t = TestApp::with_settings(production_settings()).await;
    let mut b = CookieBrowser {
        t: &t,
        client: None,
    };
    let suffix = frontdoor::flows::handshake::cookie_suffix(&t.app.settings.publishable_key());
    let email = "cookie.session@example.com";
    let r = b
        .post(
            "/v1/client/sign_ups",
            &form(&[("email_address", email), ("password", PASSWORD)]),
        )
        .await;
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.cookie("__session").as_deref(),
        Some(""),
        "no session yet: none for the app"
    );
    b.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        "strategy=email_code",
    )
    .await;
    let code = t.outbox.last_code_for(email).unwrap();
    let r = b
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let session_id = r.body["client"]["last_active_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Signed in: the app's server can read the session from its own domain at once.
    let jwt = r.cookie("__session").unwrap();
    assert_eq!(r.cookie(&format!("__session_{suffix}")), Some(jwt.clone()));
    assert_eq!(t.verified_claims(&jwt)["sid"], session_id.as_str());
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__session="))
        .unwrap();
    assert!(
        cookie.contains("Domain=example.test") && cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("HttpOnly"),
        "clerk-js rewrites it: {cookie}"
    );
    // A token refresh refreshes the cookie with the very token clerk-js gets.
    t.clock.advance(std::time::Duration::from_secs(30));
    let r = b
        .post(&format!("/v1/client/sessions/{session_id}/tokens"), "")
        .await;
    assert_eq!(r.cookie("__session").as_deref(), r.body["jwt"].as_str());
    // Signed out: cleared.
    let r = b
        .post(&format!("/v1/client/sessions/{session_id}/end"), "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.cookie("__session").as_deref(), Some(""));
    assert_eq!(r.cookie("__client_uat").as_deref(), Some("0"));
}

#[tokio::test]
async fn first_visits_create_development_browsers_only_within_the_create_bucket() {
    let t = TestApp::new().await;
    let limit = t.app.settings.rate_limits.creates;
    let from = |query: String| {
        req(Method::GET, &format!("/v1/client/handshake?{query}"))
            .extension(frontdoor::http::ClientIp("203.0.113.9".into()))
            .body(Body::empty())
            .unwrap()
    };
    let first_visit = || from(format!("redirect_url={}", encode(APP)));
    let mut dev_browser = None;
    for _ in 0..limit {
        let r = t.send(first_visit()).await;
        assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{}", r.body);
        let d = directives(&t, &token_in_location(r.header("location").unwrap()));
        dev_browser = value(&d, "__clerk_db_jwt").map(str::to_owned);
    }
    let r = t.send(first_visit()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // A browser that has its development browser creates nothing and is never held back.
    let db = dev_browser.unwrap();
    let r = t
        .send(from(format!(
            "redirect_url={}&__clerk_db_jwt={db}",
            encode(APP)
        )))
        .await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{}", r.body);
}
