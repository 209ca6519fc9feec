#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! Test support: the composed router in-process, over an injected clock and seeded randomness,
//! with the store wrapped in a call counter and messages kept in an in-memory outbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use frontdoor::App;
use frontdoor::clock::ManualClock;
use frontdoor::courier::Courier;
use frontdoor::courier::outbox::Outbox;
use frontdoor::http::FapiService;
use frontdoor::model::records::UserRecord;
use frontdoor::random::SeededRandom;
use frontdoor::repo::Repo;
use frontdoor::settings::Settings;
use frontdoor::store::ItemStore;
use frontdoor::store::counting::{CountingStore, Counts};
use frontdoor::store::dynamodb::DynamoStore;
use frontdoor::store::sqlite::SqliteStore;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

/// 2026-01-01T00:00:00Z, a fixed start for every test clock.
pub const T0: i64 = 1_767_225_600_000;

pub mod authenticator;
pub mod idp;

pub struct TestApp {
    pub app: App,
    pub service: FapiService,
    pub clock: Arc<ManualClock>,
    pub outbox: Arc<Outbox>,
    pub counts: Arc<Counts>,
    pub store: Arc<dyn ItemStore>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value a `Set-Cookie` header gives `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    pub fn error_code(&self) -> Option<&str> {
        self.body["errors"][0]["code"].as_str()
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_settings(development_settings()).await
    }

    /// The app over the engine `FRONTDOOR_TEST_STORE` names: `sqlite` (default, in memory) or
    /// `dynamodb` (a fresh table on the server at `FRONTDOOR_TEST_DYNAMODB`).
    pub async fn with_settings(settings: Settings) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let store = test_store(clock.clone()).await;
        Self::with_store(settings, store, clock).await
    }

    pub async fn with_store(
        settings: Settings,
        inner: Arc<dyn ItemStore>,
        clock: Arc<ManualClock>,
    ) -> Self {
        Self::assemble(settings, inner, clock, None).await
    }

    /// The app delivering through `courier` instead of the in-memory outbox.
    pub async fn with_courier(settings: Settings, courier: Arc<dyn Courier>) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let store = test_store(clock.clone()).await;
        Self::assemble(settings, store, clock, Some(courier)).await
    }

    async fn assemble(
        settings: Settings,
        inner: Arc<dyn ItemStore>,
        clock: Arc<ManualClock>,
        courier: Option<Arc<dyn Courier>>,
    ) -> Self {
        let (counting, counts) = CountingStore::new(inner);
        let store: Arc<dyn ItemStore> = Arc::new(counting);
        let outbox = Arc::new(Outbox::in_memory(clock.clone()));
        let courier: Arc<dyn Courier> = courier.unwrap_or_else(|| outbox.clone());
        let mut builder = App::builder(settings.clone(), store.clone())
            .clock(clock.clone())
            .random(Arc::new(SeededRandom::new(42)))
            .courier(courier);
        if !settings.social.is_empty() {
            let http = frontdoor::social::hyper::HyperProviderHttp::new().unwrap();
            builder = builder.provider_http(Arc::new(http));
        }
        // Profile images as the local server keeps them: files, here in a directory of this
        // app's own.
        static IMAGE_DIRS: AtomicU64 = AtomicU64::new(0);
        let images = std::env::temp_dir().join(format!(
            "frontdoor-test-images-{}-{}",
            std::process::id(),
            IMAGE_DIRS.fetch_add(1, Ordering::SeqCst)
        ));
        builder = builder.images(Arc::new(frontdoor::images::files::FileImages::new(images)));
        let app = builder.build().await;
        let app = match app {
            Ok(a) => a,
            Err(e) => panic!("app: {e}"),
        };
        let service = frontdoor_local::service(app.clone());
        counts.reset();
        Self {
            app,
            service,
            clock,
            outbox,
            counts,
            store,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let response = match self.service.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = match response.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => panic!("body: {e}"),
        };
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => panic!(
                    "non-JSON body ({e}) with status {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ),
            }
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// GET `path` (query included).
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(req(Method::GET, path).body(Body::empty()).unwrap())
            .await
    }

    /// The stored user `id` (which must exist).
    pub async fn user(&self, id: &str) -> UserRecord {
        self.app.repo.load_user(id).await.unwrap().unwrap()
    }

    /// Stores `user` as it is (to set up states the HTTP surface does not reach directly).
    pub async fn save_user(&self, user: &UserRecord) {
        self.app
            .repo
            .commit(Repo::user_writes(user).unwrap())
            .await
            .unwrap();
    }

    /// Gives the user signed in on `d` `n` more active sessions, copies of its current one, each
    /// on a client of its own (as `n` devices that signed in would), ids `sess_<tag><i>`.
    /// Written in batches small enough for any instance's transactions.
    pub async fn more_sessions(&self, d: &mut Device<'_>, tag: &str, n: usize) {
        let r = d.get("/v1/client").await;
        let sid = r.body["response"]["last_active_session_id"]
            .as_str()
            .unwrap();
        let client_id = r.body["response"]["id"].as_str().unwrap();
        let aggregate = self.app.repo.load_client(client_id).await.unwrap().unwrap();
        let template = aggregate
            .sessions
            .iter()
            .find(|s| s.id == sid)
            .unwrap()
            .clone();
        let sessions: Vec<_> = (0..n)
            .map(|i| frontdoor::model::records::SessionRecord {
                id: format!("sess_{tag}{i}"),
                client_id: format!("client_{tag}{i}"),
                version: 0,
                ..template.clone()
            })
            .collect();
        for batch in sessions.chunks(10) {
            let writes = batch
                .iter()
                .flat_map(|s| Repo::session_writes(s).unwrap())
                .collect();
            self.app.repo.commit(writes).await.unwrap();
        }
    }

    /// The TOTP code an authenticator app shows for `secret` at the app's clock.
    pub fn totp_now(&self, secret: &str) -> String {
        frontdoor::totp::generate(secret, self.app.clock.now_secs()).unwrap()
    }

    /// POST a form body.
    /// The claims of a JWT this instance signed, after checking its header and its signature
    /// against the published JWKS (not its times: the test clock is not the wall clock).
    pub fn verified_claims(&self, jwt: &str) -> Value {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let jwks = self.app.key_ring().unwrap().jwks(self.app.now_ms());
        let key = &jwks["keys"][0];
        let header = jsonwebtoken::decode_header(jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), key["kid"].as_str());
        let dk = DecodingKey::from_rsa_components(
            key["n"].as_str().unwrap(),
            key["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(jwt, &dk, &v).unwrap().claims
    }

    pub async fn post_form(&self, path: &str, form: &str) -> TestResponse {
        self.send(
            req(Method::POST, path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))
                .unwrap(),
        )
        .await
    }
}

/// A fresh, empty store on the engine the run selected.
pub async fn test_store(clock: Arc<ManualClock>) -> Arc<dyn ItemStore> {
    if std::env::var("FRONTDOOR_TEST_STORE").is_ok_and(|v| v == "dynamodb") {
        let endpoint = std::env::var("FRONTDOOR_TEST_DYNAMODB")
            .expect("FRONTDOOR_TEST_STORE=dynamodb needs FRONTDOOR_TEST_DYNAMODB");
        let client = dynamodb_client(&endpoint).await;
        static TABLES: AtomicU64 = AtomicU64::new(0);
        let table = format!(
            "http-{}-{}",
            std::process::id(),
            TABLES.fetch_add(1, Ordering::SeqCst)
        );
        let store = DynamoStore::new(client, table, clock);
        store.ensure_table().await.expect("create test table");
        return Arc::new(store);
    }
    Arc::new(SqliteStore::in_memory(clock).expect("in-memory store"))
}

/// A DynamoDB client for a local DynamoDB-compatible server.
pub async fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&conf)
}

/// A request builder for `path`.
pub fn req(method: Method, path: &str) -> http::request::Builder {
    Request::builder().method(method).uri(path)
}

pub fn development_settings() -> Settings {
    match Settings::development_default() {
        Ok(s) => s,
        Err(e) => panic!("development settings: {e}"),
    }
}

/// The development settings with some text replaced (for variants of the instance).
pub fn settings_with(replace: &[(&str, &str)]) -> Settings {
    let mut text = frontdoor::settings::DEVELOPMENT_SETTINGS.to_owned();
    for (from, to) in replace {
        assert!(text.contains(from), "settings text has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    match Settings::parse(&text) {
        Ok(s) => s,
        Err(e) => panic!("settings variant: {e}"),
    }
}

/// A production instance on `https://clerk.example.test` serving `https://app.example.test`.
pub fn production_settings() -> Settings {
    settings_with(&[
        (
            "environment = \"development\"",
            "environment = \"production\"",
        ),
        (
            "frontend_api_url = \"http://127.0.0.1:3000\"",
            "frontend_api_url = \"https://clerk.example.test\"\ncookie_domain = \"example.test\"",
        ),
        (
            "allowed_origins = [\"http://localhost:5173\", \"http://127.0.0.1:5173\"]",
            "allowed_origins = [\"https://app.example.test\"]",
        ),
        ("delivery = \"outbox\"", "delivery = \"aws\""),
    ])
}

/// A native app (Expo-style): it sends `_is_native=1` and its client token in `Authorization`,
/// and keeps whatever token the server answers with. `ip`, when set, is the caller's address
/// as the edge would report it (rate limits key on it).
pub struct Device<'a> {
    pub t: &'a TestApp,
    pub token: Option<String>,
    pub ip: Option<String>,
}

impl<'a> Device<'a> {
    pub fn new(t: &'a TestApp) -> Self {
        Self {
            t,
            token: None,
            ip: None,
        }
    }

    pub fn with_ip(t: &'a TestApp, ip: &str) -> Self {
        Self {
            t,
            token: None,
            ip: Some(ip.to_owned()),
        }
    }

    pub async fn send(&mut self, method: Method, path: &str, form: &str) -> TestResponse {
        let sep = if path.contains('?') { '&' } else { '?' };
        let uri = format!("{path}{sep}_is_native=1");
        let mut b = req(method, &uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", self.token.clone().unwrap_or_default());
        if let Some(ip) = &self.ip {
            b = b.extension(frontdoor::http::ClientIp(ip.clone()));
        }
        let r = self
            .t
            .send(b.body(Body::from(form.to_owned())).unwrap())
            .await;
        if let Some(token) = r.header("authorization") {
            self.token = Some(token.to_owned());
        }
        r
    }

    pub async fn post(&mut self, path: &str, form: &str) -> TestResponse {
        self.send(Method::POST, path, form).await
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Method::GET, path, "").await
    }

    /// Signs up with an email code and a password; returns the new user's id.
    pub async fn sign_up(&mut self, email: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/client/sign_ups",
                &form(&[("email_address", email), ("password", password)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "sign-up create: {}", r.body);
        let id = r.body["response"]["id"].as_str().unwrap().to_owned();
        let r = self
            .post(
                &format!("/v1/client/sign_ups/{id}/prepare_verification"),
                "strategy=email_code",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "prepare: {}", r.body);
        let code = if email.contains("+clerk_test") {
            frontdoor::security::DEVELOPMENT_TEST_CODE.to_owned()
        } else {
            self.t.outbox.last_code_for(&email.to_lowercase()).unwrap()
        };
        let r = self
            .post(
                &format!("/v1/client/sign_ups/{id}/attempt_verification"),
                &form(&[("strategy", "email_code"), ("code", &code)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "attempt: {}", r.body);
        assert_eq!(r.body["response"]["status"], "complete");
        r.body["response"]["created_user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Signs in with a password, completing in one step; returns the new session's id.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/client/sign_ins",
                &form(&[("identifier", email), ("password", password)]),
            )
            .await;
        assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
        r.body["response"]["created_session_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Ends one of this device's sessions (`POST …/sessions/{id}/end`).
    pub async fn end_session(&mut self, session: &str) {
        let r = self
            .post(&format!("/v1/client/sessions/{session}/end"), "")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    /// Ends every session on this device (sign-out), by ending the client.
    pub async fn forget(&mut self) {
        self.token = None;
    }
}

/// A form body from pairs, percent-encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}
