//! Social sign-in's side of the providers: which providers the instance connects
//! ([`catalog`]), the authorization request sent to them, and — once the user comes back with a
//! code — the exchange and the identity it proves ([`ExternalProfile`]). The flows that use it
//! (`crate::flows::social`) know nothing of HTTP; this module knows nothing of sign-ins.
//!
//! ```text
//!   authorization_url ──► provider (user consents) ──► /v1/oauth_callback?code&state
//!                                                         │ complete(code, verifier, nonce)
//!                      OpenID Connect: token endpoint ──► ID token: keys, iss, aud, exp, nonce
//!                                                         │ (+ UserInfo for missing claims)
//!                      OAuth 2.0 (GitHub, Discord): token endpoint ──► profile API
//!                                                         ▼
//!                                                  ExternalProfile (sub, email, verified?, names)
//! ```
//!
//! Discovery documents and signing keys are cached per process (a cache, on real time); an ID
//! token naming a key not in hand makes the keys be read again, at most once a minute.

pub mod http;
pub mod hyper;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

pub use crate::providers::{ExternalProfile, ProfileApi, Protocol, Provider, catalog, oidc};
pub use http::{ProviderHttp, ProviderRequest, ProviderResponse};

use crate::error::{Code, Error, Result};
use crate::security;
use crate::settings::{Settings, SettingsError};

/// What an authorization request carries besides the provider's own parameters.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub state: &'a str,
    pub nonce: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub login_hint: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub extra_scopes: &'a [String],
}

/// What completing a sign-in at the callback needs.
#[derive(Debug, Clone)]
pub struct Completion<'a> {
    pub code: &'a str,
    pub code_verifier: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub now_secs: i64,
}

/// The S256 challenge of a PKCE verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

type Cached<T> = Mutex<HashMap<String, (Arc<T>, Instant)>>;

/// The instance's providers and the means to talk to them; built once per process.
pub struct Social {
    providers: BTreeMap<String, Provider>,
    /// Where providers send the user back: `<frontend API>/v1/oauth_callback`.
    callback_url: String,
    http: Option<Arc<dyn ProviderHttp>>,
    discovery: Cached<oidc::Discovery>,
    jwks: Cached<JwkSet>,
}

impl std::fmt::Debug for Social {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Social")
            .field("providers", &self.providers.values().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn provider_failure(code: Code, detail: impl Into<String>) -> Error {
    let mut e = Error::new(code);
    e.internal = Some(detail.into());
    e
}

impl Social {
    /// The providers the settings name, their secrets read through `env`.
    pub fn from_settings(
        settings: &Settings,
        env: impl Fn(&str) -> Option<String>,
        http: Option<Arc<dyn ProviderHttp>>,
    ) -> std::result::Result<Self, SettingsError> {
        let mut providers = BTreeMap::new();
        for (key, s) in &settings.social {
            let p = catalog::client_secret(key, s, &env)
                .and_then(|secret| catalog::resolve(key, s, secret))
                .map_err(|(field, problem)| {
                    let at = if field.is_empty() {
                        format!("social.{key}")
                    } else {
                        format!("social.{key}.{field}")
                    };
                    crate::settings::bad(at, problem)
                })?;
            providers.insert(p.strategy.clone(), p);
        }
        Ok(Self {
            providers,
            callback_url: format!(
                "{}/v1/oauth_callback",
                settings.instance.frontend_api_url.trim_end_matches('/')
            ),
            http,
            discovery: Mutex::default(),
            jwks: Mutex::default(),
        })
    }

    /// Every configured provider, enabled or not.
    pub fn providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }

    /// The enabled provider of `strategy`; Clerk's error for any other.
    pub fn provider(&self, strategy: &str) -> Result<&Provider> {
        self.providers
            .get(strategy)
            .filter(|p| p.enabled)
            .ok_or_else(|| {
                Error::new(Code::OauthProviderNotEnabled)
                    .param("strategy")
                    .long(format!("{strategy} is not enabled for this application."))
            })
    }

    pub fn callback_url(&self) -> &str {
        &self.callback_url
    }

    /// The way to the providers; a process built without one (a group that serves no social
    /// operation) never asks.
    fn http(&self) -> Result<&Arc<dyn ProviderHttp>> {
        self.http
            .as_ref()
            .ok_or_else(|| Error::internal("this process does not reach identity providers"))
    }

    async fn send(&self, request: ProviderRequest, failure: Code) -> Result<ProviderResponse> {
        let url = request.url.clone();
        // Endpoints a discovery document names are held to the same rule as the settings.
        if !catalog::is_provider_url(&url) {
            return Err(provider_failure(failure, format!("{url}: not https")));
        }
        let res = self
            .http()?
            .send(request)
            .await
            .map_err(|e| provider_failure(failure, format!("{url}: {e}")))?;
        if !res.is_success() {
            let detail = String::from_utf8_lossy(&res.body[..res.body.len().min(300)]).into_owned();
            return Err(provider_failure(
                failure,
                format!("{url}: status {} {detail}", res.status),
            ));
        }
        Ok(res)
    }

    /// The issuer's discovery document (cached).
    async fn discover(&self, issuer: &str) -> Result<Arc<oidc::Discovery>> {
        if let Some(d) = fresh(&self.discovery, issuer, security::PROVIDER_METADATA_CACHE) {
            return Ok(d);
        }
        let url = format!("{issuer}/.well-known/openid-configuration");
        let misconfigured = Code::MisconfiguredOauthProvider;
        let res = self.send(ProviderRequest::get(&url), misconfigured).await?;
        let doc: oidc::Discovery = res
            .json()
            .map_err(|e| provider_failure(misconfigured, format!("{url}: {e}")))?;
        // The document must be the issuer's own (Core Discovery §4.3); Microsoft's multi-tenant
        // document names a template instead.
        if doc.issuer.trim_end_matches('/') != issuer && !doc.issuer.contains("{tenantid}") {
            return Err(provider_failure(
                misconfigured,
                format!("discovery at {url} names issuer {}", doc.issuer),
            ));
        }
        let doc = Arc::new(doc);
        remember(&self.discovery, issuer, doc.clone());
        Ok(doc)
    }

    /// The issuer's signing keys: cached, read again when `kid` is not among them (at most
    /// every [`security::JWKS_MISS_REFETCH`]).
    async fn keys(&self, jwks_uri: &str, kid: Option<&str>) -> Result<Arc<JwkSet>> {
        let cached = {
            let map = self
                .jwks
                .lock()
                .map_err(|_| Error::internal("jwks cache poisoned"))?;
            map.get(jwks_uri).cloned()
        };
        if let Some((set, at)) = &cached {
            let has_kid = kid.is_none_or(|k| set.find(k).is_some());
            let age = at.elapsed();
            if (has_kid && age < security::PROVIDER_METADATA_CACHE)
                || age < security::JWKS_MISS_REFETCH
            {
                return Ok(set.clone());
            }
        }
        let res = self
            .send(ProviderRequest::get(jwks_uri), Code::OauthCallbackInvalid)
            .await?;
        let set: JwkSet = res.json().map_err(|e| {
            provider_failure(Code::OauthCallbackInvalid, format!("{jwks_uri}: {e}"))
        })?;
        let set = Arc::new(set);
        remember(&self.jwks, jwks_uri, set.clone());
        Ok(set)
    }

    /// Where to send the user: the provider's authorization endpoint with this sign-in's
    /// `state`, PKCE challenge and nonce.
    pub async fn authorization_url(
        &self,
        p: &Provider,
        req: &AuthorizationRequest<'_>,
    ) -> Result<String> {
        let (endpoint, form_post) = match &p.protocol {
            Protocol::Oidc { issuer, form_post } => (
                self.discover(issuer).await?.authorization_endpoint.clone(),
                *form_post,
            ),
            Protocol::Profile { authorize_url, .. } => (authorize_url.clone(), false),
        };
        let mut scopes = p.scopes.clone();
        for s in req.extra_scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let challenge = req.code_verifier.filter(|_| p.pkce).map(pkce_challenge);
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &p.client_id)
            .append_pair("redirect_uri", &self.callback_url)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", req.state);
        if let Some(c) = &challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
        if let Some(n) = req
            .nonce
            .filter(|_| matches!(p.protocol, Protocol::Oidc { .. }))
        {
            q.append_pair("nonce", n);
        }
        if form_post {
            q.append_pair("response_mode", "form_post");
        }
        if let Some(h) = req.login_hint {
            q.append_pair("login_hint", h);
        }
        if let Some(prompt) = req.prompt {
            q.append_pair("prompt", prompt);
        }
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{endpoint}{sep}{}", q.finish()))
    }

    /// Exchanges the code at the token endpoint (RFC 6749 §4.1.3, with the PKCE verifier).
    async fn exchange(
        &self,
        p: &Provider,
        token_url: &str,
        secret_in_body: bool,
        c: &Completion<'_>,
    ) -> Result<TokenResponse> {
        let client_secret = p
            .client_secret(c.now_secs)
            .map_err(|e| provider_failure(Code::MisconfiguredOauthProvider, e))?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", c.code.to_owned()),
            ("redirect_uri", self.callback_url.clone()),
        ];
        if let Some(v) = c.code_verifier.filter(|_| p.pkce) {
            form.push(("code_verifier", v.to_owned()));
        }
        let mut req = if secret_in_body {
            form.push(("client_id", p.client_id.clone()));
            form.push(("client_secret", client_secret));
            ProviderRequest::post_form(token_url, form)
        } else {
            // RFC 6749 §2.3.1: both form-encoded before they are joined.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(&p.client_id),
                enc(&client_secret)
            ));
            form.push(("client_id", p.client_id.clone()));
            ProviderRequest::post_form(token_url, form)
                .header("authorization", format!("Basic {basic}"))
        };
        req.headers.push(("cache-control", "no-store".to_owned()));
        let res = self.send(req, Code::OauthTokenExchangeError).await?;
        let token: TokenResponse = res.json().map_err(|e| {
            provider_failure(Code::OauthTokenExchangeError, format!("{token_url}: {e}"))
        })?;
        if token.access_token.is_empty() {
            return Err(provider_failure(
                Code::OauthTokenExchangeError,
                format!(
                    "{token_url}: {}",
                    token.error.as_deref().unwrap_or("no access token")
                ),
            ));
        }
        Ok(token)
    }

    /// The identity a callback's code proves.
    pub async fn complete(&self, p: &Provider, c: &Completion<'_>) -> Result<ExternalProfile> {
        match &p.protocol {
            Protocol::Oidc { issuer, .. } => {
                let d = self.discover(issuer).await?;
                let token = self
                    .exchange(p, &d.token_endpoint, d.wants_secret_in_body(), c)
                    .await?;
                let id_token = token.id_token.as_deref().ok_or_else(|| {
                    provider_failure(
                        Code::OauthCallbackInvalid,
                        "no ID token in the token response",
                    )
                })?;
                let issuer_template = if d.issuer.contains("{tenantid}") {
                    d.issuer.clone()
                } else {
                    issuer.clone()
                };
                let claims = self
                    .validated_claims(p, &d, &issuer_template, id_token, c.nonce, c.now_secs)
                    .await?;
                let mut profile = claims.profile;
                if profile.email.is_none()
                    && let Some(userinfo) = &d.userinfo_endpoint
                {
                    profile = profile.or(self
                        .userinfo(userinfo, &token.access_token, &claims.sub)
                        .await?);
                }
                Ok(from_claims(p, claims.sub, profile, token.scope.as_deref()))
            }
            Protocol::Profile {
                api,
                token_url,
                api_url,
                ..
            } => {
                let token = self.exchange(p, token_url, true, c).await?;
                let mut profile = self.profile(*api, api_url, &token.access_token).await?;
                profile.strategy = p.strategy.clone();
                profile.scopes = scopes_of(token.scope.as_deref(), &p.scopes);
                Ok(profile)
            }
        }
    }

    /// The identity an ID token obtained by the app itself proves (Google One Tap, Sign in
    /// with Apple on iOS): validated like any ID token, without a nonce of ours.
    pub async fn verify_id_token(
        &self,
        p: &Provider,
        id_token: &str,
        now_secs: i64,
    ) -> Result<ExternalProfile> {
        let Protocol::Oidc { issuer, .. } = &p.protocol else {
            return Err(Error::new(Code::OauthProviderNotEnabled).param("strategy"));
        };
        let d = self.discover(issuer).await?;
        let claims = self
            .validated_claims(p, &d, issuer, id_token, None, now_secs)
            .await?;
        Ok(from_claims(p, claims.sub, claims.profile, None))
    }

    async fn validated_claims(
        &self,
        p: &Provider,
        d: &oidc::Discovery,
        issuer: &str,
        id_token: &str,
        nonce: Option<&str>,
        now_secs: i64,
    ) -> Result<oidc::IdClaims> {
        let kid = jsonwebtoken::decode_header(id_token)
            .ok()
            .and_then(|h| h.kid);
        let keys = self.keys(&d.jwks_uri, kid.as_deref()).await?;
        let expected = oidc::Expected {
            issuer,
            audiences: &p.audiences,
            nonce,
            now_secs,
        };
        oidc::validate(id_token, &keys, &expected).map_err(|why| {
            tracing::warn!(provider = %p.strategy, %why, "ID token refused");
            provider_failure(Code::OauthCallbackInvalid, format!("ID token: {why}"))
        })
    }

    async fn userinfo(
        &self,
        url: &str,
        access_token: &str,
        sub: &str,
    ) -> Result<oidc::ProfileClaims> {
        #[derive(Deserialize)]
        struct UserInfo {
            sub: String,
            #[serde(flatten)]
            profile: oidc::ProfileClaims,
        }
        let req =
            ProviderRequest::get(url).header("authorization", format!("Bearer {access_token}"));
        let res = self.send(req, Code::OauthFetchUserError).await?;
        let info: UserInfo = res
            .json()
            .map_err(|e| provider_failure(Code::OauthFetchUserError, format!("{url}: {e}")))?;
        // Core §5.3.2: a UserInfo answer for another subject must not be used.
        if info.sub != sub {
            return Err(provider_failure(
                Code::OauthFetchUserError,
                "UserInfo sub differs from the ID token's",
            ));
        }
        Ok(info.profile)
    }

    async fn profile(
        &self,
        api: ProfileApi,
        api_url: &str,
        access_token: &str,
    ) -> Result<ExternalProfile> {
        let get = |path: &str| {
            ProviderRequest::get(&format!("{api_url}{path}"))
                .header("authorization", format!("Bearer {access_token}"))
        };
        let failure = |e: String| provider_failure(Code::OauthFetchUserError, e);
        match api {
            ProfileApi::GitHub => {
                #[derive(Deserialize)]
                struct User {
                    id: serde_json::Value,
                    login: Option<String>,
                    name: Option<String>,
                    avatar_url: Option<String>,
                }
                #[derive(Deserialize)]
                struct Email {
                    email: String,
                    #[serde(default)]
                    primary: bool,
                    #[serde(default)]
                    verified: bool,
                }
                let user: User = self
                    .send(get("/user"), Code::OauthFetchUserError)
                    .await?
                    .json()
                    .map_err(failure)?;
                let emails: Vec<Email> = self
                    .send(get("/user/emails"), Code::OauthFetchUserError)
                    .await?
                    .json()
                    .map_err(failure)?;
                let best = emails
                    .iter()
                    .find(|e| e.primary && e.verified)
                    .or_else(|| emails.iter().find(|e| e.verified))
                    .or_else(|| emails.iter().find(|e| e.primary));
                let (first, last) = split_name(user.name.as_deref());
                Ok(ExternalProfile {
                    strategy: String::new(),
                    subject: id_text(&user.id).ok_or_else(|| failure("no user id".into()))?,
                    email: best.map(|e| e.email.to_lowercase()),
                    email_verified: best.is_some_and(|e| e.verified),
                    first_name: first,
                    last_name: last,
                    username: user.login,
                    image_url: user.avatar_url,
                    scopes: Vec::new(),
                })
            }
            ProfileApi::Discord => {
                #[derive(Deserialize)]
                struct User {
                    id: String,
                    username: Option<String>,
                    global_name: Option<String>,
                    email: Option<String>,
                    #[serde(default)]
                    verified: bool,
                    avatar: Option<String>,
                }
                let u: User = self
                    .send(get("/users/@me"), Code::OauthFetchUserError)
                    .await?
                    .json()
                    .map_err(failure)?;
                let (first, last) = split_name(u.global_name.as_deref());
                Ok(ExternalProfile {
                    strategy: String::new(),
                    image_url: u
                        .avatar
                        .as_ref()
                        .map(|a| format!("https://cdn.discordapp.com/avatars/{}/{a}.png", u.id)),
                    subject: u.id,
                    email_verified: u.email.is_some() && u.verified,
                    email: u.email.map(|e| e.to_lowercase()),
                    first_name: first,
                    last_name: last,
                    username: u.username,
                    scopes: Vec::new(),
                })
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

fn fresh<T>(cache: &Cached<T>, key: &str, max_age: std::time::Duration) -> Option<Arc<T>> {
    let map = cache.lock().ok()?;
    map.get(key)
        .filter(|(_, at)| at.elapsed() < max_age)
        .map(|(v, _)| v.clone())
}

fn remember<T>(cache: &Cached<T>, key: &str, value: Arc<T>) {
    if let Ok(mut map) = cache.lock() {
        map.insert(key.to_owned(), (value, Instant::now()));
    }
}

fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return (None, None);
    };
    match name.split_once(' ') {
        Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned())),
        None => (Some(name.to_owned()), None),
    }
}

fn scopes_of(granted: Option<&str>, asked: &[String]) -> Vec<String> {
    match granted {
        Some(s) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => asked.to_vec(),
    }
}

fn from_claims(
    p: &Provider,
    subject: String,
    claims: oidc::ProfileClaims,
    granted: Option<&str>,
) -> ExternalProfile {
    let (first, last) = match (&claims.given_name, &claims.family_name) {
        (None, None) => split_name(claims.name.as_deref()),
        _ => (claims.given_name.clone(), claims.family_name.clone()),
    };
    ExternalProfile {
        strategy: p.strategy.clone(),
        subject,
        email_verified: claims.email.is_some() && claims.email_verified(),
        email: claims.email.map(|e| e.to_lowercase()),
        first_name: first,
        last_name: last,
        username: claims.preferred_username,
        image_url: claims.picture,
        scopes: scopes_of(granted, &p.scopes),
    }
}
