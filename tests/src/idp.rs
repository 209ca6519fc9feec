//! A scriptable OpenID Connect provider on loopback, for the cases a certified provider never
//! produces: ID tokens from another issuer or for another audience, expired ones, a nonce that
//! is not the one sent, a token endpoint that fails. (The flows themselves are also tested
//! against a certified provider, `oidc-provider`, in the SDK suite.)
//!
//! It serves discovery, its JWKS and a token endpoint over real HTTP; the authorization step
//! (a user consenting in a browser) is [`FakeIdp::consent`], called in-process by the test.
//! The token endpoint checks the client's secret (HTTP Basic), the redirect URI and the PKCE
//! verifier (S256) as RFC 6749 and RFC 7636 ask.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use frontdoor::clock::{Clock, ManualClock};
use frontdoor::keys::{KeyRing, SigningKey};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "frontdoor-test-client";
pub const CLIENT_SECRET: &str = "frontdoor-test-secret";

/// Who signs in at the provider, and how the provider misbehaves.
#[derive(Debug, Clone)]
pub struct Script {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Signs with this `iss` instead of its own.
    pub issuer: Option<String>,
    /// Signs for this `aud` instead of the client.
    pub audience: Option<String>,
    /// Puts this nonce in the token instead of the one the authorization request sent.
    pub nonce: Option<String>,
    /// Seconds added to `iat` (and `exp`, 5 minutes later).
    pub issued_offset_secs: i64,
    /// The token endpoint answers 500.
    pub token_endpoint_fails: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            sub: "idp-user-1".into(),
            email: Some("ada@idp.test".into()),
            email_verified: true,
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            issuer: None,
            audience: None,
            nonce: None,
            issued_offset_secs: 0,
            token_endpoint_fails: false,
        }
    }
}

/// What a consent granted: the code the provider will exchange.
#[derive(Debug, Clone)]
struct Grant {
    nonce: Option<String>,
    challenge: Option<String>,
    redirect_uri: String,
    script: Script,
}

struct Inner {
    issuer: String,
    clock: Arc<ManualClock>,
    ring: KeyRing,
    script: Mutex<Script>,
    grants: Mutex<HashMap<String, Grant>>,
    next: Mutex<u64>,
    /// How many codes were exchanged (each at most once).
    pub exchanges: Mutex<u64>,
}

#[derive(Clone)]
pub struct FakeIdp(Arc<Inner>);

impl FakeIdp {
    /// Starts the provider on a free loopback port; it signs with the test clock's time.
    pub async fn start(clock: Arc<ManualClock>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = SigningKey::generate(clock.now_ms()).unwrap();
        let ring = KeyRing::new(vec![key], std::time::Duration::from_secs(3600)).unwrap();
        let idp = FakeIdp(Arc::new(Inner {
            issuer,
            clock,
            ring,
            script: Mutex::new(Script::default()),
            grants: Mutex::default(),
            next: Mutex::new(0),
            exchanges: Mutex::new(0),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(idp.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        idp
    }

    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The settings table of a custom connection to this provider (`oauth_custom_acme`).
    pub fn settings_table(&self) -> String {
        format!(
            "[social.custom_acme]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nname = \"Acme\"\nlink_by_verified_email = true\n\n",
            self.0.issuer
        )
    }

    /// The settings table of a built-in connection (`google`, `apple`) pointed at this
    /// provider: what `google_one_tap` and `oauth_token_apple` tokens are checked against.
    pub fn built_in_table(&self, key: &str) -> String {
        self.settings_table()
            .replace("[social.custom_acme]", &format!("[social.{key}]"))
            .replace("name = \"Acme\"\n", "")
    }

    /// An ID token as an app obtains it from the provider itself (Google One Tap): for this
    /// client, about the scripted user, without a nonce of the server's.
    pub fn id_token(&self) -> String {
        let s = self.0.script.lock().unwrap().clone();
        let now = self.0.clock.now_ms();
        let iat = now / 1000 + s.issued_offset_secs;
        let claims = json!({
            "iss": s.issuer.clone().unwrap_or_else(|| self.0.issuer.clone()),
            "aud": s.audience.clone().unwrap_or_else(|| CLIENT_ID.to_owned()),
            "sub": s.sub,
            "iat": iat,
            "exp": iat + 300,
            "email": s.email,
            "email_verified": s.email_verified,
            "given_name": s.given_name,
        });
        self.0.ring.sign(&claims, now).unwrap()
    }

    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.0.script.lock().unwrap());
    }

    pub fn exchanges(&self) -> u64 {
        *self.0.exchanges.lock().unwrap()
    }

    /// The user consents at `authorization_url`: the `(code, state)` the provider sends back
    /// to the redirect URI. Checks what a provider checks of the request.
    pub fn consent(&self, authorization_url: &str) -> (String, String) {
        let (base, query) = authorization_url.split_once('?').unwrap();
        assert_eq!(base, format!("{}/authorize", self.0.issuer));
        let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], CLIENT_ID);
        assert!(q["scope"].split(' ').any(|s| s == "openid"), "{query}");
        if let Some(m) = q.get("code_challenge_method") {
            assert_eq!(m, "S256");
        }
        let mut next = self.0.next.lock().unwrap();
        *next += 1;
        let code = format!("code-{next}");
        let grant = Grant {
            nonce: q.get("nonce").cloned(),
            challenge: q.get("code_challenge").cloned(),
            redirect_uri: q["redirect_uri"].clone(),
            script: self.0.script.lock().unwrap().clone(),
        };
        self.0.grants.lock().unwrap().insert(code.clone(), grant);
        (code, q["state"].clone())
    }
}

async fn discovery(State(idp): State<FakeIdp>) -> axum::Json<Value> {
    let i = &idp.0.issuer;
    axum::Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(idp): State<FakeIdp>) -> axum::Json<Value> {
    axum::Json(idp.0.ring.jwks(idp.0.clock.now_ms()))
}

fn refuse(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

async fn token(
    State(idp): State<FakeIdp>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if basic != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return refuse("unsupported_grant_type");
    }
    // A code is exchanged once (RFC 6749 §4.1.2).
    let Some(grant) = form
        .get("code")
        .and_then(|c| idp.0.grants.lock().unwrap().remove(c))
    else {
        return refuse("invalid_grant");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return refuse("invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        use sha2::Digest as _;
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        if &computed != challenge {
            return refuse("invalid_grant");
        }
    }
    *idp.0.exchanges.lock().unwrap() += 1;
    let s = &grant.script;
    if s.token_endpoint_fails {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    let now = idp.0.clock.now_ms();
    let iat = now / 1000 + s.issued_offset_secs;
    let claims = json!({
        "iss": s.issuer.clone().unwrap_or_else(|| idp.0.issuer.clone()),
        "aud": s.audience.clone().unwrap_or_else(|| CLIENT_ID.to_owned()),
        "sub": s.sub,
        "iat": iat,
        "exp": iat + 300,
        "nonce": s.nonce.clone().or(grant.nonce.clone()),
        "email": s.email,
        "email_verified": s.email_verified,
        "given_name": s.given_name,
        "family_name": s.family_name,
    });
    let id_token = idp.0.ring.sign(&claims, now).unwrap();
    axum::Json(json!({
        "access_token": "provider-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
        "scope": "openid email profile",
    }))
    .into_response()
}
