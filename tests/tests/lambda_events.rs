//! The per-group Lambda handlers under API Gateway HTTP API (payload v2) events: the stage in
//! the path, cookies arriving in `cookies` and leaving in `cookies`, base64 bodies, the source
//! IP. Each group runs as its own application over one shared store, as separate Lambdas share
//! one table. A full sign-up → sign-in → token flow goes through them, carrying the client by
//! cookie and by `Authorization`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use base64::Engine as _;
use frontdoor::App;
use frontdoor::clock::ManualClock;
use frontdoor::courier::outbox::Outbox;
use frontdoor::random::SeededRandom;
use frontdoor::settings::Settings;
use frontdoor::store::ItemStore;
use frontdoor_tests::{T0, form, production_settings, test_store};
use lambda_http::request::LambdaRequest;
use lambda_http::tower::{Service, ServiceBuilder};
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{Value, json};

struct Lambdas {
    store: Arc<dyn ItemStore>,
    clock: Arc<ManualClock>,
    outbox: Arc<Outbox>,
    settings: Settings,
}

/// What an HTTP API integration would hand back to API Gateway.
struct Answer {
    status: u16,
    headers: Value,
    cookies: Vec<String>,
    body: Value,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            let (k, v) = c.split(';').next()?.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// A recorded-shape HTTP API v2 event for the `prod` stage.
struct Event<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Vec<(&'a str, String)>,
    cookies: Vec<String>,
    body: Option<String>,
    base64: bool,
    source_ip: &'a str,
}

impl<'a> Event<'a> {
    fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            query: "",
            headers: vec![("origin", "https://app.example.test".into())],
            cookies: Vec::new(),
            body: None,
            base64: false,
            source_ip: "203.0.113.9",
        }
    }

    fn json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        headers.insert(
            "host".into(),
            "abc123.execute-api.us-east-1.amazonaws.com".into(),
        );
        headers.insert("user-agent".into(), "Mozilla/5.0 Chrome/120.0".into());
        for (k, v) in &self.headers {
            headers.insert((*k).into(), v.clone().into());
        }
        if self.body.is_some() {
            headers.insert(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            );
        }
        let raw_path = format!("/prod{}", self.path);
        let mut event = json!({
            "version": "2.0",
            "routeKey": format!("ANY {}", self.path),
            "rawPath": raw_path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {
                    "method": self.method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": "Mozilla/5.0 Chrome/120.0"
                },
                "requestId": "JKJaXmPLvHcESHA=",
                "routeKey": format!("ANY {}", self.path),
                "stage": "prod",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": T0
            },
            "isBase64Encoded": self.base64,
        });
        if !self.cookies.is_empty() {
            event["cookies"] = json!(self.cookies);
        }
        if !self.query.is_empty() {
            let params: serde_json::Map<String, Value> =
                form_urlencoded::parse(self.query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
            event["queryStringParameters"] = Value::Object(params);
        }
        if let Some(body) = &self.body {
            event["body"] = if self.base64 {
                base64::engine::general_purpose::STANDARD
                    .encode(body)
                    .into()
            } else {
                body.clone().into()
            };
        }
        event
    }
}

impl Lambdas {
    async fn new(settings: Settings) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        Self {
            store: test_store(clock.clone()).await,
            outbox: Arc::new(Outbox::in_memory(clock.clone())),
            clock,
            settings,
        }
    }

    /// Invokes the Lambda of one group, built as its main builds it (its own application).
    async fn invoke(&self, routes: fn() -> Router<App>, event: &Event<'_>) -> Answer {
        let app = App::builder(self.settings.clone(), self.store.clone())
            .clock(self.clock.clone())
            .random(Arc::new(SeededRandom::new(rand_seed())))
            .courier(self.outbox.clone())
            .build()
            .await
            .unwrap();
        let service = ServiceBuilder::new()
            .map_request(frontdoor::lambda::into_fapi_request)
            .service(frontdoor::lambda::handler(app, routes()));
        let mut adapter: Adapter<'_, _, _> = Adapter::from(service);
        let payload: LambdaRequest = serde_json::from_value(event.json()).unwrap();
        let response = adapter
            .call(LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap();
        let v = serde_json::to_value(&response).unwrap();
        let body = v["body"].as_str().map(|b| {
            let text = if v["isBase64Encoded"] == true {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
                    .unwrap()
            } else {
                b.to_owned()
            };
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        });
        Answer {
            status: v["statusCode"].as_u64().unwrap() as u16,
            headers: v["headers"].clone(),
            cookies: v["cookies"]
                .as_array()
                .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
            body: body.unwrap_or(Value::Null),
        }
    }
}

/// Each cold start seeds differently, as separate processes would.
fn rand_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: AtomicU64 = AtomicU64::new(1);
    SEED.fetch_add(1, Ordering::SeqCst)
}

const EMAIL: &str = "lambda@example.com";
const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_up_sign_in_and_token_through_the_group_lambdas_by_cookie_and_by_authorization() {
    let l = Lambdas::new(production_settings()).await;

    // Environment and JWKS answer under the stage prefix.
    let env = l
        .invoke(
            fn_environment::routes,
            &Event::new("GET", "/v1/environment"),
        )
        .await;
    assert_eq!(env.status, 200);
    assert_eq!(
        env.body["display_config"]["instance_environment_type"],
        "production"
    );
    assert_eq!(
        env.headers["access-control-allow-origin"],
        "https://app.example.test"
    );

    // Sign-up (cookie mode): the client cookie leaves in the `cookies` array, not in headers.
    let mut create = Event::new("POST", "/v1/client/sign_ups");
    create.body = Some(form(&[("email_address", EMAIL), ("password", PASSWORD)]));
    let r = l.invoke(fn_sign_ups::routes, &create).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.get("set-cookie").is_none());
    let client_cookie = r.cookie("__client").expect("__client in cookies");
    assert_eq!(r.cookie("__client_uat").as_deref(), Some("0"));
    assert!(
        r.cookies
            .iter()
            .any(|c| c.starts_with("__client=") && c.contains("HttpOnly") && c.contains("Secure"))
    );
    let sign_up = r.body["response"]["id"].as_str().unwrap().to_owned();

    // The cookie comes back in the event's `cookies`; the body is base64 as API Gateway may send it.
    let path = format!("/v1/client/sign_ups/{sign_up}/prepare_verification");
    let mut prepare = Event::new("POST", &path);
    prepare.cookies = vec![format!("__client={client_cookie}"), "__client_uat=0".into()];
    prepare.body = Some("strategy=email_code".into());
    prepare.base64 = true;
    let r = l.invoke(fn_sign_ups::routes, &prepare).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = l.outbox.last_code_for(EMAIL).unwrap();
    let path = format!("/v1/client/sign_ups/{sign_up}/attempt_verification");
    let mut attempt = Event::new("POST", &path);
    attempt.cookies = vec![format!("__client={client_cookie}")];
    attempt.body = Some(form(&[("strategy", "email_code"), ("code", &code)]));
    let r = l.invoke(fn_sign_ups::routes, &attempt).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    let session = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = r.cookie("__client").expect("signing in rotates the cookie");
    assert_ne!(rotated, client_cookie);
    assert_eq!(r.cookie("__client_uat"), Some((T0 / 1000).to_string()));

    // Another Lambda (sessions) reads the same client and mints the token.
    let path = format!("/v1/client/sessions/{session}/tokens");
    let mut token = Event::new("POST", &path);
    token.cookies = vec![format!("__client={rotated}")];
    let r = l.invoke(fn_sessions::routes, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let jwt = r.body["jwt"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sid"], session.as_str());
    assert_eq!(claims["azp"], "https://app.example.test");
    assert_eq!(claims["iss"], "https://clerk.example.test");

    // A native app signs in through the sign-ins Lambda with `Authorization`.
    let mut sign_in = Event::new("POST", "/v1/client/sign_ins");
    sign_in.query = "_is_native=1";
    sign_in.headers = vec![("authorization", String::new())];
    sign_in.body = Some(form(&[("identifier", EMAIL), ("password", PASSWORD)]));
    let r = l.invoke(fn_sign_ins::routes, &sign_in).await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
    assert!(r.cookies.is_empty(), "native mode sets no cookies");
    let native_token = r.headers["authorization"].as_str().unwrap().to_owned();
    let native_session = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/client/sessions/{native_session}/tokens");
    let mut token = Event::new("POST", &path);
    token.query = "_is_native=1";
    token.headers = vec![("authorization", format!("Bearer {native_token}"))];
    let r = l.invoke(fn_sessions::routes, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The profile Lambda acts for the native session.
    let mut me = Event::new("GET", "/v1/me");
    me.query = "_is_native=1";
    me.headers = vec![("authorization", native_token.clone())];
    let r = l.invoke(fn_me::routes, &me).await;
    assert_eq!(
        r.body["response"]["email_addresses"][0]["email_address"],
        EMAIL
    );

    // The client Lambda renders the client.
    let mut client = Event::new("GET", "/v1/client");
    client.query = "_is_native=1";
    client.headers = vec![("authorization", native_token)];
    let r = l.invoke(fn_client::routes, &client).await;
    assert_eq!(
        r.body["client"]["sessions"][0]["id"],
        native_session.as_str()
    );
}

#[tokio::test]
async fn routes_outside_a_group_are_clerk_404s_and_the_source_ip_feeds_rate_limits() {
    let l = Lambdas::new(production_settings()).await;
    let r = l
        .invoke(fn_sessions::routes, &Event::new("GET", "/v1/environment"))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["errors"][0]["code"], "resource_not_found");

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let mut e = Event::new("POST", "/v1/client/sign_ins");
        e.source_ip = "198.51.100.77";
        e.body = Some("identifier=nobody%40example.com".into());
        statuses.push(l.invoke(fn_sign_ins::routes, &e).await.status);
    }
    assert_eq!(statuses, vec![422, 422, 422, 422, 422, 429]);
    let mut other = Event::new("POST", "/v1/client/sign_ins");
    other.source_ip = "198.51.100.78";
    other.body = Some("identifier=nobody%40example.com".into());
    assert_eq!(l.invoke(fn_sign_ins::routes, &other).await.status, 422);
}
