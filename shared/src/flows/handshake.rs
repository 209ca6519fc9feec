//! The handshake: how a server-rendered app (Clerk's framework middleware, `@clerk/backend`'s
//! `authenticateRequest`) gets fresh session cookies for its own domain. The middleware
//! redirects a page load here when it cannot decide from its cookies (first visit in
//! development, an expired `__session`, a `__client_uat` newer than the token, …); we answer with
//! a 307 back to the app carrying a signed list of `Set-Cookie` directives, which the middleware
//! verifies against our JWKS and applies.
//!
//! ```text
//!   GET /v1/client/handshake?redirect_url=<app page>&suffixed_cookies=…&__clerk_db_jwt=…
//!     redirect_url not an allowed origin ──► refused (the edge checks it)
//!     the caller's client:  development: the development browser (a new one if it has none)
//!                           production:  the `__client` cookie (none: signed out)
//!     an active last session ──► __session=<new token>, __client_uat=<client uat>
//!     otherwise              ──► __session cleared,    __client_uat=0
//!     (+ the `_<suffix>` copies when asked; + __clerk_db_jwt in development)
//!   ──► a JWT `{handshake: [directives]}` signed with the instance key
//!   ──► 307 to redirect_url: `?__clerk_handshake=<jwt>` (development) or the
//!       `__clerk_handshake` cookie on the app's domain (production)
//! ```
//!
//! `format=nonce` asks for a nonce the app server would exchange through the Backend API;
//! we answer in the token format, which the SDK reads when no nonce comes back.

use serde_json::json;

use crate::app::App;
use crate::clock::duration_secs;
use crate::error::Result;
use crate::security;

use super::client::{self, Current};

pub const HANDSHAKE: &str = "__clerk_handshake";
pub const SESSION_COOKIE: &str = "__session";
pub const CLIENT_UAT_COOKIE: &str = "__client_uat";
pub const DEV_BROWSER_COOKIE: &str = "__clerk_db_jwt";

/// A handshake as the middleware asked for it (the redirect URL already checked).
#[derive(Debug, Clone)]
pub struct HandshakeCommand {
    /// The app page to return to.
    pub redirect_url: String,
    /// Whether the app reads `_<suffix>` cookies (`suffixed_cookies=true`).
    pub suffixed_cookies: bool,
    /// The caller's client token: the development browser's (`__clerk_db_jwt`) or the
    /// `__client` cookie's.
    pub client_token: Option<String>,
    /// The caller's address: creating a development browser counts against its create bucket,
    /// as `POST /v1/dev_browser` does.
    pub ip: Option<String>,
}

/// Where the handshake token travels back to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// In the redirect's query (development: the app is on another site).
    Query,
    /// In a `Set-Cookie` on the app's domain (production: the app shares our site).
    Cookie(String),
}

#[derive(Debug, Clone)]
pub struct HandshakeAnswer {
    /// Where to redirect (307).
    pub location: String,
    pub transport: Transport,
}

/// Cookie attributes shared by every directive.
fn attributes(secure: bool, domain: Option<&str>) -> String {
    let mut a = String::from("Path=/; SameSite=Lax");
    if let Some(d) = domain {
        a.push_str(&format!("; Domain={d}"));
    }
    if secure {
        a.push_str("; Secure");
    }
    a
}

/// The cookie suffix `@clerk/backend` and clerk-js derive from the publishable key: the first
/// 8 characters of the URL-safe base64 of its SHA-1 (`@clerk/shared` `getCookieSuffix`).
pub fn cookie_suffix(publishable_key: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    let encoded = base64::engine::general_purpose::URL_SAFE.encode(digest.as_ref());
    encoded.chars().take(8).collect()
}

/// Runs a handshake. Development instances create a development browser when the caller
/// brings none (the first visit), so the app and the browser share one from then on.
pub async fn handshake(app: &App, cmd: HandshakeCommand) -> Result<HandshakeAnswer> {
    let now = app.now_ms();
    let development = app.settings.is_development();
    let (current, new_dev_browser): (Option<Current>, Option<String>) = if development {
        match client::resolve(app, cmd.client_token.as_deref()).await? {
            Some(c) => (Some(c), None),
            None => {
                super::rate_limit::hit(app, super::rate_limit::Bucket::Create, cmd.ip.as_deref())
                    .await?;
                (None, Some(client::create(app).await?.token))
            }
        }
    } else {
        (
            client::resolve(app, cmd.client_token.as_deref()).await?,
            None,
        )
    };
    let origin = crate::urls::origin_of(&cmd.redirect_url);
    let session_token = match current.as_ref().and_then(|c| {
        let id = c.client().last_active_session_id.as_deref()?;
        c.active_sessions_at(now).any(|s| s.id == id).then_some(id)
    }) {
        Some(id) => {
            let current = current.as_ref().ok_or_else(super::session::signed_out)?;
            Some(
                super::tokens::mint(
                    app,
                    &current.aggregate.sessions,
                    id,
                    None,
                    origin.as_deref(),
                )
                .await?,
            )
        }
        None => None,
    };
    let client_uat = match (&current, &session_token) {
        (Some(c), Some(_)) => c.client_uat_at(now),
        _ => 0,
    };
    let secure = cmd.redirect_url.starts_with("https://");
    // The app's cookies: host-only on the app, except `__client_uat`, which production shares
    // across the app's domain as the Frontend API's own responses do.
    let page = attributes(secure, None);
    let shared = attributes(
        secure,
        (!development)
            .then_some(app.settings.instance.cookie_domain.as_deref())
            .flatten(),
    );
    let year = duration_secs(security::CLIENT_COOKIE_LIFETIME);
    let suffix = cmd
        .suffixed_cookies
        .then(|| cookie_suffix(&app.settings.publishable_key()));
    let mut directives = Vec::new();
    let mut push = |name: &str, value: &str, attrs: &str, max_age: Option<i64>| {
        let age = max_age
            .map(|a| format!("; Max-Age={a}"))
            .unwrap_or_default();
        for n in
            std::iter::once(name.to_owned()).chain(suffix.iter().map(|s| format!("{name}_{s}")))
        {
            directives.push(format!("{n}={value}; {attrs}{age}"));
        }
    };
    match &session_token {
        Some(t) => push(SESSION_COOKIE, t, &page, None),
        None => push(SESSION_COOKIE, "", &page, Some(0)),
    }
    push(
        CLIENT_UAT_COOKIE,
        &client_uat.to_string(),
        &shared,
        Some(year),
    );
    if let Some(token) = &new_dev_browser {
        push(DEV_BROWSER_COOKIE, token, &page, Some(year));
    }
    let iat = now.div_euclid(1000);
    let lifetime = duration_secs(security::HANDSHAKE_TOKEN_LIFETIME);
    let transport_domain = app.settings.instance.cookie_domain.as_deref();
    if !development {
        // The handshake cookie clears itself once the middleware applies the directives.
        directives.push(format!(
            "{HANDSHAKE}=; {}; Max-Age=0",
            attributes(secure, transport_domain)
        ));
    }
    let claims = json!({
        "handshake": directives,
        "iat": iat,
        "exp": iat + lifetime,
    });
    let token = app.signing_keys().await.sign(&claims, now)?;
    Ok(if development {
        HandshakeAnswer {
            location: with_query(&cmd.redirect_url, HANDSHAKE, &token),
            transport: Transport::Query,
        }
    } else {
        HandshakeAnswer {
            location: cmd.redirect_url,
            transport: Transport::Cookie(format!(
                "{HANDSHAKE}={token}; HttpOnly; {}; Max-Age={lifetime}",
                attributes(secure, transport_domain)
            )),
        }
    })
}

/// `url` with `name=value` added to its query (before any fragment).
fn with_query(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish();
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{encoded}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_is_the_sdks() {
        // @clerk/shared getCookieSuffix('pk_test_Y2xlcmsuZXhhbXBsZS5jb20k') (computed with Node's
        // WebCrypto as the SDK does).
        assert_eq!(
            cookie_suffix("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"),
            SUFFIX_OF_EXAMPLE
        );
    }

    const SUFFIX_OF_EXAMPLE: &str = "l2OS3d9k";

    #[test]
    fn the_token_goes_into_the_query_before_the_fragment() {
        assert_eq!(
            with_query("http://a.test/p", "k", "v"),
            "http://a.test/p?k=v"
        );
        assert_eq!(
            with_query("http://a.test/p?x=1#f", "k", "v"),
            "http://a.test/p?x=1&k=v#f"
        );
    }
}
