//! Who is calling: how the client is identified, and what came with the request.
//!
//! clerk-js identifies the client in one of three ways, tried in this order:
//!
//! 1. **native** — `_is_native=1` and the client token in `Authorization` (raw, or `Bearer …`);
//!    the current token goes back in the `Authorization` response header;
//! 2. **development browser** — `__clerk_db_jwt` in the query (development instances only);
//!    a rotated token goes back in the `Clerk-Db-Jwt` response header;
//! 3. **cookie** — the `__client` cookie (HttpOnly, SameSite=Lax), with `__client_uat` beside it.

use http::HeaderMap;
use http::request::Parts;

use super::params::Params;
use crate::error::{Code, Error, Result};
use crate::settings::Settings;

pub const CLIENT_COOKIE: &str = "__client";
pub const CLIENT_UAT_COOKIE: &str = "__client_uat";
/// The session token cookie app servers read (`@clerk/backend`).
pub const SESSION_COOKIE: &str = "__session";
pub const DEV_BROWSER_PARAM: &str = "__clerk_db_jwt";
/// Binds a social sign-in to the browser that began it (`flows::social`).
pub const OAUTH_BINDING_COOKIE: &str = "__clerk_oauth_binding";
/// The spec's name for the same parameter.
pub const DEV_SESSION_PARAM: &str = "__dev_session";
pub const NATIVE_FLAG: &str = "_is_native";
pub const DEV_BROWSER_HEADER: &str = "clerk-db-jwt";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Native,
    DevBrowser,
    Cookie,
}

/// The request's trace id, also sent back as `clerk_trace_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

/// The caller's network address, as the edge reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

#[derive(Debug, Clone)]
pub struct Caller {
    pub transport: Transport,
    /// The client token presented, if any.
    pub token: Option<String>,
    pub origin: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub trace_id: String,
    /// The social sign-in binding cookie, if the browser holds one.
    pub oauth_binding: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The address a request comes from: the TCP peer, unless the peer is a trusted proxy, in which
/// case the nearest address in `X-Forwarded-For` that is not itself a trusted proxy (reading
/// from the right: entries further left were written by the caller and prove nothing).
pub fn client_address(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// The value of one cookie in the `Cookie` header(s).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(std::result::Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The secret key in `Authorization: Bearer sk_…`, if that is what the header holds: the mark
/// of a Backend API call.
pub fn presented_secret_key(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && key.starts_with("sk_")).then(|| key.to_owned())
}

/// The token in an `Authorization` header: raw, or after `Bearer `.
fn authorization_token(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = header(headers, "authorization") else {
        return Ok(None);
    };
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return Err(Error::new(Code::AuthorizationHeaderFormatInvalid)),
        None => value,
    };
    Ok((!token.is_empty()).then(|| token.to_owned()))
}

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("1") | Some("true"))
}

/// Identifies the caller of a request whose path and method are already normalised.
pub fn identify(parts: &Parts, settings: &Settings, trace_id: &str) -> Result<Caller> {
    let query = Params::from_query(parts.uri.query());
    let headers = &parts.headers;
    let (transport, token) = if is_true(query.str(NATIVE_FLAG)) {
        if !settings.instance.native_api {
            return Err(Error::new(Code::NativeApiDisabled));
        }
        (Transport::Native, authorization_token(headers)?)
    } else if settings.is_development()
        && (query.contains(DEV_BROWSER_PARAM) || query.contains(DEV_SESSION_PARAM))
    {
        let token = query
            .str(DEV_BROWSER_PARAM)
            .or_else(|| query.str(DEV_SESSION_PARAM))
            .map(str::to_owned);
        (Transport::DevBrowser, token)
    } else {
        (Transport::Cookie, cookie(headers, CLIENT_COOKIE))
    };
    let ip = parts.extensions.get::<ClientIp>().map(|ip| ip.0.clone());
    Ok(Caller {
        transport,
        token,
        origin: header(headers, "origin").map(str::to_owned),
        ip,
        user_agent: header(headers, "user-agent").map(str::to_owned),
        trace_id: trace_id.to_owned(),
        oauth_binding: cookie(headers, OAUTH_BINDING_COOKIE),
    })
}
