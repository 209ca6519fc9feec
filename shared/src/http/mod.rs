//! The HTTP glue every function shares: it turns a request as clerk-js sends it into a call of a
//! handler, and the handler's answer into the response clerk-js expects.
//!
//! ```text
//! request ─► trace id ─► CORS preflight? ─► strip proxy prefix, apply `_method`
//!         ─► identify the caller (native / dev browser / cookie) ─► Origin check for cookie mutations
//!         ─► router (a function group's routes, or all of them) ─► handler (parse → flow → render)
//!         ─► render pending error as the Clerk body ─► client token to header / cookies ─► CORS
//! ```
//!
//! The wrapper is a plain tower service, so the same code serves the local server (axum) and each
//! Lambda (lambda_http).

pub mod caller;
pub mod cors;
pub mod fapi;
pub mod operation;
pub mod params;
pub mod reply;
pub mod unit_of_work;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use tower::ServiceExt as _;
use tracing::Instrument as _;

pub use caller::{Caller, ClientIp, Transport};
pub use fapi::Fapi;
pub use operation::{AbusePolicy, Operation, Route, route_table};
pub use params::{Field, Params};
pub use reply::{Reply, TokenUpdate, see_other};

use crate::app::App;
use crate::error::{Code, Error};
use crate::security;

/// Wraps a router (whose state is already supplied) with the FAPI request/response rules.
#[derive(Clone)]
pub struct FapiService {
    app: App,
    router: Router,
}

/// Builds the service for a router of FAPI routes.
pub fn service(app: App, routes: Router<App>) -> FapiService {
    let router = routes
        .fallback(reply::not_found)
        .method_not_allowed_fallback(reply::method_not_allowed)
        .with_state(app.clone());
    FapiService { app, router }
}

impl tower::Service<Request<Body>> for FapiService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let app = self.app.clone();
        let router = self.router.clone();
        Box::pin(async move { Ok(handle(app, router, req).await) })
    }
}

/// Removes any prefix before `/v1/` (proxy mode, API Gateway stages) and `/.well-known/`, and
/// a trailing slash (clerk-js writes collection paths as `/v1/me/email_addresses/`).
fn strip_prefix(path: &str) -> &str {
    let mut out = path;
    for marker in ["/v1/", "/.well-known/"] {
        if let Some(at) = path.find(marker) {
            out = &path[at..];
            break;
        }
    }
    if out.len() > 1 {
        out = out.trim_end_matches('/');
    }
    out
}

/// The method clerk-js meant: `_method` on a POST, else the wire method.
fn effective_method(method: &Method, query: &Params) -> Result<Method, Error> {
    match query.str("_method") {
        Some(m) if *method == Method::POST => {
            let upper = m.to_ascii_uppercase();
            match upper.as_str() {
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => Method::from_bytes(upper.as_bytes())
                    .map_err(|_| Error::new(Code::MalformedRequestParameters).param("_method")),
                _ => Err(Error::new(Code::MalformedRequestParameters)
                    .param("_method")
                    .long("_method must be one of GET, POST, PUT, PATCH, DELETE.")),
            }
        }
        _ => Ok(method.clone()),
    }
}

fn normalise(req: &mut Request<Body>, query: &Params) -> Result<(), Error> {
    let method = effective_method(req.method(), query)?;
    *req.method_mut() = method;
    let path = req.uri().path();
    let stripped = strip_prefix(path);
    if stripped.len() != path.len() {
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{stripped}?{q}"),
            None => stripped.to_owned(),
        };
        let uri = Uri::builder()
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| Error::new(Code::BadRequest))?;
        *req.uri_mut() = uri;
    }
    Ok(())
}

fn new_trace_id(app: &App) -> String {
    let mut buf = [0u8; 16];
    app.random.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

async fn handle(app: App, router: Router, mut req: Request<Body>) -> Response {
    let trace_id = new_trace_id(&app);
    let span = tracing::info_span!(
        "request",
        trace_id = %trace_id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    if req.extensions().get::<ClientIp>().is_none() {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(peer) = peer {
            let ip =
                caller::client_address(peer, req.headers(), &app.settings.instance.trusted_proxies);
            req.extensions_mut().insert(ClientIp(ip.to_string()));
        }
    }
    async move {
        let started = Instant::now();
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cors_origin = origin
            .clone()
            .filter(|o| cors::origin_allowed(&app.settings, o));

        let mut response = if req.method() == Method::OPTIONS {
            let mut r = StatusCode::NO_CONTENT.into_response();
            if let Some(o) = &cors_origin {
                cors::apply_preflight(r.headers_mut(), o);
            }
            return finish(r, &trace_id, started);
        } else {
            match prepare(
                &app,
                &mut req,
                &trace_id,
                origin.as_deref(),
                cors_origin.is_some(),
            ) {
                Ok(caller) => {
                    let transport = caller.transport;
                    let presented = caller.token.clone();
                    req.extensions_mut().insert(caller);
                    let r = match router.oneshot(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    apply_outcome(&app, r, &trace_id, transport, presented.as_deref())
                }
                Err(e) => reply::render_error(&e, &trace_id),
            }
        };
        if let Some(o) = &cors_origin {
            cors::apply(response.headers_mut(), o);
        }
        finish(response, &trace_id, started)
    }
    .instrument(span)
    .await
}

fn finish(mut response: Response, trace_id: &str, started: Instant) -> Response {
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        response.headers_mut().insert("x-clerk-trace-id", v);
    }
    tracing::info!(
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request done"
    );
    response
}

/// Normalises the request and identifies the caller; refuses cookie mutations from origins
/// that are not allowed (the cookie is ambient authority, so the Origin is what stops CSRF).
fn prepare(
    app: &App,
    req: &mut Request<Body>,
    trace_id: &str,
    origin: Option<&str>,
    origin_allowed: bool,
) -> Result<Caller, Error> {
    let query = Params::from_query(req.uri().query());
    normalise(req, &query)?;
    let (parts, body) = std::mem::take(req).into_parts();
    let identified = caller::identify(&parts, &app.settings, trace_id);
    *req = Request::from_parts(parts, body);
    let caller = identified?;
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD);
    // A provider's form post (Sign in with Apple) comes from the provider's origin by design;
    // what protects the callback is its single-use state, bound to the client that began it.
    let provider_post = req.uri().path() == "/v1/oauth_callback";
    if mutating && caller.transport == Transport::Cookie && !provider_post {
        // A cookie is ambient authority: only allowed origins may use it. Without a cookie, a
        // foreign origin could still plant a client of its own (login CSRF), so it is refused too;
        // callers that send no Origin and no cookie (servers, tests) are not browsers.
        let refused = match origin {
            Some(_) => !origin_allowed,
            None => caller.token.is_some(),
        };
        if refused {
            return Err(Error::new(Code::OriginInvalid));
        }
    }
    Ok(caller)
}

/// Renders a pending error, or hands the client token to the caller by its transport.
fn apply_outcome(
    app: &App,
    mut response: Response,
    trace_id: &str,
    transport: Transport,
    presented: Option<&str>,
) -> Response {
    if let Some(reply::PendingError(e)) = response.extensions_mut().remove() {
        return reply::render_error(&e, trace_id);
    }
    let Some(update) = response.extensions_mut().remove::<TokenUpdate>() else {
        return response;
    };
    let changed = update.token.as_deref() != presented;
    let headers = response.headers_mut();
    match transport {
        Transport::Native => {
            if let Some(v) = update
                .token
                .as_deref()
                .and_then(|t| HeaderValue::from_str(t).ok())
            {
                headers.insert(header::AUTHORIZATION, v);
            }
        }
        Transport::DevBrowser => {
            if let Some(v) = update
                .token
                .as_deref()
                .filter(|_| changed)
                .and_then(|t| HeaderValue::from_str(t).ok())
            {
                headers.insert(caller::DEV_BROWSER_HEADER, v);
            }
        }
        Transport::Cookie => {
            let secure = app
                .settings
                .instance
                .frontend_api_url
                .starts_with("https://");
            if changed {
                let cookie = match &update.token {
                    Some(t) => client_cookie(t, secure, security::CLIENT_COOKIE_LIFETIME.as_secs()),
                    None => client_cookie("", secure, 0),
                };
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            // The app's cookies, for its server (`@clerk/backend`): `__client_uat` always,
            // `__session` with the last active session's token, or cleared when signed out.
            // Each unsuffixed and suffixed (the SDK reads the suffixed ones when the app has
            // cookies from several instances, or tokens whose issuer is not the key's host).
            let suffix = crate::flows::handshake::cookie_suffix(&app.settings.publishable_key());
            let domain = app.settings.instance.cookie_domain.as_deref();
            let uat = update.client_uat.to_string();
            let mut app_cookies = vec![(caller::CLIENT_UAT_COOKIE, uat.as_str())];
            match (&update.session_token, update.client_uat) {
                (Some(jwt), _) => app_cookies.push((caller::SESSION_COOKIE, jwt.as_str())),
                (None, 0) => app_cookies.push((caller::SESSION_COOKIE, "")),
                (None, _) => {}
            }
            for (name, value) in app_cookies {
                for name in [name.to_owned(), format!("{name}_{suffix}")] {
                    let cookie = app_cookie(&name, value, secure, domain);
                    if let Ok(v) = HeaderValue::from_str(&cookie) {
                        headers.append(header::SET_COOKIE, v);
                    }
                }
            }
        }
    }
    response
}

/// The answer to the start of a web social sign-in, with the cookie that binds the flow to
/// this browser: HttpOnly, for the flow's lifetime; `SameSite=None; Secure` over https, so a
/// provider's form post (Sign in with Apple) carries it too, `Lax` on plain-http hosts.
pub fn with_oauth_binding(
    settings: &crate::settings::Settings,
    reply: Reply,
    secret: Option<String>,
) -> Response {
    let mut response = axum::response::IntoResponse::into_response(reply);
    let Some(secret) = secret else {
        return response;
    };
    let secure = settings.instance.frontend_api_url.starts_with("https://");
    let mut c = format!(
        "{}={secret}; Path=/; HttpOnly; Max-Age={}",
        caller::OAUTH_BINDING_COOKIE,
        security::OAUTH_STATE_LIFETIME.as_secs()
    );
    c.push_str(if secure {
        "; SameSite=None; Secure"
    } else {
        "; SameSite=Lax"
    });
    if let Ok(v) = HeaderValue::from_str(&c) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn client_cookie(value: &str, secure: bool, max_age: u64) -> String {
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        caller::CLIENT_COOKIE
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A cookie for the app's server (not HttpOnly: clerk-js rewrites these too); an empty value
/// removes it.
fn app_cookie(name: &str, value: &str, secure: bool, domain: Option<&str>) -> String {
    let max_age = if value.is_empty() {
        0
    } else {
        security::CLIENT_COOKIE_LIFETIME.as_secs()
    };
    let mut c = format!("{name}={value}; Path=/; SameSite=Lax; Max-Age={max_age}");
    if let Some(d) = domain {
        c.push_str(&format!("; Domain={d}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(strip_prefix("/__clerk/v1/client"), "/v1/client");
        assert_eq!(strip_prefix("/prod/v1/environment"), "/v1/environment");
        assert_eq!(strip_prefix("/v1/client"), "/v1/client");
        assert_eq!(
            strip_prefix("/x/.well-known/jwks.json"),
            "/.well-known/jwks.json"
        );
        assert_eq!(strip_prefix("/"), "/");
        assert_eq!(
            strip_prefix("/v1/me/email_addresses/"),
            "/v1/me/email_addresses"
        );
    }
}
