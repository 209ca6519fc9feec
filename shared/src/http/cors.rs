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

/// Response headers the browser may read cross-origin: the client token (native and
/// development modes) and the trace id.
const EXPOSED: &str = "Authorization, Clerk-Db-Jwt, X-Clerk-Trace-Id, Retry-After";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, X-Mobile, X-Expo-Sdk-Version, X-Clerk-Trace-Id";

/// Whether `origin` may make credentialed requests to this instance.
pub fn origin_allowed(settings: &Settings, origin: &str) -> bool {
    settings.origin_allowed(origin)
}

/// Whether an app page may be sent back to (`Settings::redirect_allowed`).
pub fn redirect_allowed(settings: &Settings, url: &str) -> bool {
    settings.redirect_allowed(url)
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
