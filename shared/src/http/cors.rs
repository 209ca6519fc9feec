//! Which origins may call with credentials.
//!
//! clerk-js never triggers a preflight (it tunnels verbs through `_method` and sends only
//! simple headers), but every response to an allowed origin must carry
//! `Access-Control-Allow-Origin: <origin>` and `Access-Control-Allow-Credentials: true`, errors
//! included. Allowed: the instance's `allowed_origins`, the Frontend API's own origin, and, on
//! development instances only, any `localhost` / `127.0.0.1` origin.

use http::HeaderValue;
use http::header::{self, HeaderMap};

use crate::settings::Settings;
use crate::urls::origin_of;

/// Response headers the browser may read cross-origin: the client token (native and
/// development modes) and the trace id.
const EXPOSED: &str = "Authorization, Clerk-Db-Jwt, X-Clerk-Trace-Id, Retry-After";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, X-Mobile, X-Expo-Sdk-Version, X-Clerk-Trace-Id";

fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    let hostname = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    (scheme == "http" || scheme == "https")
        && matches!(hostname, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether `origin` may make credentialed requests to this instance.
pub fn origin_allowed(settings: &Settings, origin: &str) -> bool {
    settings
        .instance
        .allowed_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
        || origin_of(&settings.instance.frontend_api_url)
            .is_some_and(|own| own.eq_ignore_ascii_case(origin))
        || (settings.is_development() && is_loopback_origin(origin))
}

/// Whether an app page may be sent back to (the handshake's `redirect_url`): an absolute
/// `http(s)` URL, without credentials in it, on an origin allowed to call with credentials.
/// Anything else would make us an open redirector, and hand a session token to its host.
pub fn redirect_allowed(settings: &Settings, url: &str) -> bool {
    let Some((scheme, authority)) = crate::urls::scheme_and_authority(url) else {
        return false;
    };
    let clean = !authority.is_empty()
        && !authority.contains(['@', '\\'])
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    (scheme == "http" || scheme == "https")
        && clean
        && origin_allowed(settings, &format!("{scheme}://{authority}"))
}

/// Adds the CORS response headers for an allowed origin.
pub fn apply(headers: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// Adds the preflight headers (only reached by non-clerk-js callers).
pub fn apply_preflight(headers: &mut HeaderMap, origin: &str) {
    apply(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_origin("http://localhost:5173"));
        assert!(is_loopback_origin("http://127.0.0.1"));
        assert!(!is_loopback_origin("http://localhost.evil.test"));
        assert!(!is_loopback_origin("https://evil.test"));
    }
}
