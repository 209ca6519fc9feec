//! The providers an instance can connect: the built-in ones by key, with their endpoints and
//! defaults, and any OpenID Connect provider as `custom_<name>`. Settings are turned into a
//! [`Provider`] once, at start; a bad entry stops the start with the key that is wrong.

use serde::Deserialize;

/// One social connection, as the settings give it (`[social.<key>]`). Built-in providers need
/// only their client id and secret; the endpoints may be pointed elsewhere (a test provider, a
/// GitHub Enterprise host).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialProviderSettings {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether it signs users in (else it can only be connected in the profile).
    #[serde(default = "yes")]
    pub authenticatable: bool,
    pub client_id: String,
    /// The client secret, given here…
    #[serde(default)]
    pub client_secret: Option<String>,
    /// …or, better, the environment variable that holds it.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Sign in with Apple: instead of a client secret (a JWT that expires within six months),
    /// the team id, the key id and the variable holding the key's `.p8` PEM; the secret is
    /// then signed afresh for each code exchange (ES256).
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub private_key_env: Option<String>,
    /// OpenID Connect providers: the issuer, whose discovery document names the endpoints.
    /// Required for `custom_*`; for the built-in ones it replaces the provider's own.
    #[serde(default)]
    pub issuer: Option<String>,
    /// OAuth 2.0 providers without OpenID Connect (GitHub, Discord): their endpoints, to
    /// replace the provider's own.
    #[serde(default)]
    pub authorize_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    /// The base of the provider's REST API (GitHub: `/user`, `/user/emails`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Scopes asked for; the provider's defaults (enough for the profile and email) otherwise.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The button's name and logo (`custom_*`; built-ins have Clerk's own).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Further audiences an ID token may name besides `client_id`: an iOS app's bundle id, which
    /// Sign in with Apple tokens obtained in the app carry (`oauth_token_apple`).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Whether a provider account whose email the provider verified joins the existing user
    /// with that verified email. Defaults to on for providers that verify email addresses.
    #[serde(default)]
    pub link_by_verified_email: Option<bool>,
}

fn yes() -> bool {
    true
}

/// How a provider proves who the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// OpenID Connect: endpoints from the issuer's discovery document, identity from a signed
    /// ID token (and the UserInfo endpoint for claims the token leaves out).
    Oidc {
        issuer: String,
        /// Apple answers with a form POST when names or email are asked for.
        form_post: bool,
    },
    /// Plain OAuth 2.0 with a profile API: identity from the API, called with the access token.
    Profile {
        api: ProfileApi,
        authorize_url: String,
        token_url: String,
        api_url: String,
    },
}

/// The profile APIs of the OAuth 2.0 providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileApi {
    /// `GET /user` and `GET /user/emails` (each email with `verified`).
    GitHub,
    /// `GET /users/@me` (`email` and `verified`).
    Discord,
}

/// A social connection as the flows use it.
#[derive(Clone)]
pub struct Provider {
    /// The settings key: `google`, `custom_acme`.
    pub key: String,
    /// The wire strategy: `oauth_google`, `oauth_custom_acme`.
    pub strategy: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub enabled: bool,
    pub authenticatable: bool,
    pub client_id: String,
    /// `client_id`, then the further audiences ID tokens may name.
    pub audiences: Vec<String>,
    pub(crate) client_secret: ClientSecret,
    pub scopes: Vec<String>,
    pub protocol: Protocol,
    /// Whether the authorization request carries a PKCE challenge (S256).
    pub pkce: bool,
    /// Whether a provider-verified email joins the existing user who verified it.
    pub link_by_verified_email: bool,
}

impl std::fmt::Debug for Provider {
    /// Never the client secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("strategy", &self.strategy)
            .field("client_id", &self.client_id)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Clone)]
pub enum ClientSecret {
    Static(String),
    /// Sign in with Apple's: a short-lived ES256 JWT signed with the developer's key.
    AppleKey {
        team_id: String,
        key_id: String,
        key: std::sync::Arc<jsonwebtoken::EncodingKey>,
    },
}

/// Apple's audience for client secrets.
const APPLE_AUDIENCE: &str = "https://appleid.apple.com";

impl Provider {
    /// The client secret to present now.
    pub fn client_secret(&self, now_secs: i64) -> Result<String, String> {
        match &self.client_secret {
            ClientSecret::Static(s) => Ok(s.clone()),
            ClientSecret::AppleKey {
                team_id,
                key_id,
                key,
            } => {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                header.kid = Some(key_id.clone());
                let claims = serde_json::json!({
                    "iss": team_id,
                    "iat": now_secs,
                    // Minutes are enough: one is signed for each exchange.
                    "exp": now_secs + 300,
                    "aud": APPLE_AUDIENCE,
                    "sub": self.client_id,
                });
                jsonwebtoken::encode(&header, &claims, key)
                    .map_err(|e| format!("client secret: {e}"))
            }
        }
    }
}

/// The secret a connection's settings give: a static one, or Apple's key (its PEM read
/// through `env`).
pub fn client_secret(
    key: &str,
    s: &SocialProviderSettings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ClientSecret, (String, String)> {
    let bad = |field: &str, problem: &str| Err((field.to_owned(), problem.to_owned()));
    match (&s.team_id, &s.key_id, &s.private_key_env) {
        (None, None, None) => {}
        (Some(team_id), Some(key_id), Some(var)) if key == "apple" => {
            let Some(pem) = env(var) else {
                return bad("private_key_env", "the variable it names is not set");
            };
            let Ok(k) = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()) else {
                return bad(
                    "private_key_env",
                    "not an EC private key in PEM (Apple's .p8 file)",
                );
            };
            return Ok(ClientSecret::AppleKey {
                team_id: team_id.clone(),
                key_id: key_id.clone(),
                key: std::sync::Arc::new(k),
            });
        }
        _ => {
            return bad(
                "team_id",
                "team_id, key_id and private_key_env go together, and only for apple",
            );
        }
    }
    let secret = match (&s.client_secret, &s.client_secret_env) {
        (Some(v), None) => Some(v.clone()),
        (None, Some(var)) => env(var),
        _ => None,
    };
    match secret.filter(|v| !v.is_empty()) {
        Some(v) => Ok(ClientSecret::Static(v)),
        None => bad(
            "client_secret",
            "give the client secret, or `client_secret_env`, the variable that holds it (and set it)",
        ),
    }
}

/// A built-in provider's defaults.
struct BuiltIn {
    key: &'static str,
    name: &'static str,
    /// OIDC issuer, or the OAuth 2.0 endpoints `(authorize, token, api)` with the profile API.
    oidc_issuer: Option<&'static str>,
    profile: Option<(ProfileApi, &'static str, &'static str, &'static str)>,
    scopes: &'static [&'static str],
    pkce: bool,
    /// Whether the provider vouches for the addresses it reports as verified (link by default).
    verifies_email: bool,
}

const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        key: "google",
        name: "Google",
        oidc_issuer: Some("https://accounts.google.com"),
        profile: None,
        scopes: &["openid", "email", "profile"],
        pkce: true,
        verifies_email: true,
    },
    BuiltIn {
        key: "apple",
        name: "Apple",
        oidc_issuer: Some("https://appleid.apple.com"),
        profile: None,
        scopes: &["openid", "email", "name"],
        pkce: false,
        verifies_email: true,
    },
    BuiltIn {
        key: "microsoft",
        name: "Microsoft",
        oidc_issuer: Some("https://login.microsoftonline.com/common/v2.0"),
        profile: None,
        scopes: &["openid", "email", "profile"],
        pkce: true,
        // Microsoft accounts carry addresses their tenants never verified.
        verifies_email: false,
    },
    BuiltIn {
        key: "gitlab",
        name: "GitLab",
        oidc_issuer: Some("https://gitlab.com"),
        profile: None,
        scopes: &["openid", "email", "profile"],
        pkce: true,
        verifies_email: true,
    },
    BuiltIn {
        key: "github",
        name: "GitHub",
        oidc_issuer: None,
        profile: Some((
            ProfileApi::GitHub,
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            "https://api.github.com",
        )),
        scopes: &["user:email", "read:user"],
        pkce: true,
        verifies_email: true,
    },
    BuiltIn {
        key: "discord",
        name: "Discord",
        oidc_issuer: None,
        profile: Some((
            ProfileApi::Discord,
            "https://discord.com/oauth2/authorize",
            "https://discord.com/api/oauth2/token",
            "https://discord.com/api",
        )),
        scopes: &["identify", "email"],
        pkce: true,
        verifies_email: true,
    },
];

/// The keys of the built-in providers.
pub fn built_in_keys() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|b| b.key)
}

fn is_custom_key(key: &str) -> bool {
    key.strip_prefix("custom_").is_some_and(|name| {
        !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn is_http_url(url: &str) -> bool {
    crate::urls::scheme_and_authority(url).is_some_and(|(scheme, authority)| {
        (scheme == "https" || scheme == "http") && !authority.is_empty()
    })
}

/// `https`, or plain `http` to this machine only (a provider started by tests or beside the
/// local server): keys and tokens fetched in the clear could be swapped on the way.
pub fn is_provider_url(url: &str) -> bool {
    crate::urls::scheme_and_authority(url).is_some_and(|(scheme, authority)| {
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        !authority.is_empty()
            && (scheme == "https"
                || (scheme == "http" && matches!(host, "127.0.0.1" | "localhost" | "[::1]")))
    })
}

/// The provider `key` describes, with its client secret; `Err((field, problem))` names what is
/// wrong.
pub fn resolve(
    key: &str,
    s: &SocialProviderSettings,
    client_secret: ClientSecret,
) -> Result<Provider, (String, String)> {
    let bad = |field: &str, problem: &str| Err((field.to_owned(), problem.to_owned()));
    let built_in = BUILT_IN.iter().find(|b| b.key == key);
    if built_in.is_none() && !is_custom_key(key) {
        let known: Vec<&str> = built_in_keys().collect();
        return bad(
            "",
            &format!(
                "not a provider this server knows: one of {}, or custom_<name> (lower-case letters, digits, _) for an OpenID Connect provider",
                known.join(", ")
            ),
        );
    }
    if s.client_id.trim().is_empty() {
        return bad("client_id", "must not be empty");
    }
    for (field, url) in [
        ("issuer", &s.issuer),
        ("authorize_url", &s.authorize_url),
        ("token_url", &s.token_url),
        ("api_url", &s.api_url),
        ("logo_url", &s.logo_url),
    ] {
        let allowed = if field == "logo_url" {
            is_http_url
        } else {
            is_provider_url
        };
        if url.as_deref().is_some_and(|u| !allowed(u)) {
            return bad(field, "must be an https URL (http only to this machine)");
        }
    }
    let protocol = match built_in {
        Some(BuiltIn {
            profile: Some((api, authorize, token, api_url)),
            ..
        }) => {
            if s.issuer.is_some() {
                return bad(
                    "issuer",
                    "this provider is OAuth 2.0 without OpenID Connect: point authorize_url, token_url and api_url elsewhere instead",
                );
            }
            Protocol::Profile {
                api: *api,
                authorize_url: s
                    .authorize_url
                    .clone()
                    .unwrap_or_else(|| (*authorize).to_owned()),
                token_url: s.token_url.clone().unwrap_or_else(|| (*token).to_owned()),
                api_url: s
                    .api_url
                    .clone()
                    .unwrap_or_else(|| (*api_url).to_owned())
                    .trim_end_matches('/')
                    .to_owned(),
            }
        }
        _ => {
            if s.authorize_url.is_some() || s.token_url.is_some() || s.api_url.is_some() {
                return bad(
                    "issuer",
                    "an OpenID Connect provider's endpoints come from its issuer's discovery document; give `issuer` only",
                );
            }
            let issuer = match (&s.issuer, built_in.and_then(|b| b.oidc_issuer)) {
                (Some(i), _) => i.trim_end_matches('/').to_owned(),
                (None, Some(i)) => i.to_owned(),
                (None, None) => {
                    return bad(
                        "issuer",
                        "a custom provider needs its OpenID Connect issuer",
                    );
                }
            };
            Protocol::Oidc {
                issuer,
                form_post: key == "apple",
            }
        }
    };
    let scopes = match (&s.scopes, built_in) {
        (Some(scopes), _) => scopes.clone(),
        (None, Some(b)) => b.scopes.iter().map(|s| (*s).to_owned()).collect(),
        (None, None) => vec!["openid".into(), "email".into(), "profile".into()],
    };
    if matches!(protocol, Protocol::Oidc { .. }) && !scopes.iter().any(|s| s == "openid") {
        return bad(
            "scopes",
            "an OpenID Connect provider needs the `openid` scope",
        );
    }
    let name = match (&s.name, built_in) {
        (Some(n), _) => n.clone(),
        (None, Some(b)) => b.name.to_owned(),
        (None, None) => return bad("name", "a custom provider needs the name its button shows"),
    };
    Ok(Provider {
        key: key.to_owned(),
        strategy: format!("oauth_{key}"),
        name,
        logo_url: s.logo_url.clone(),
        enabled: s.enabled,
        authenticatable: s.authenticatable,
        client_id: s.client_id.clone(),
        audiences: std::iter::once(s.client_id.clone())
            .chain(s.audiences.iter().cloned())
            .collect(),
        client_secret,
        scopes,
        protocol,
        pkce: built_in.is_none_or(|b| b.pkce),
        // On by default only for a built-in provider at its own endpoints, which vouches for
        // the addresses it calls verified; a custom or re-pointed one must opt in (an identity
        // provider whose users set their own email would otherwise open the account next door).
        link_by_verified_email: s.link_by_verified_email.unwrap_or(
            built_in.is_some_and(|b| b.verifies_email)
                && s.issuer.is_none()
                && s.authorize_url.is_none()
                && s.token_url.is_none()
                && s.api_url.is_none(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine as _;

    fn apple_settings() -> SocialProviderSettings {
        let text = "client_id = \"com.example.web\"\nteam_id = \"TEAM123456\"\nkey_id = \"KEY1234567\"\nprivate_key_env = \"APPLE_KEY\"\n";
        match toml::from_str(text) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn apples_client_secret_is_signed_afresh_with_the_developers_key() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8);
        let public = pair
            .map(|p| p.public_key().as_ref().to_vec())
            .unwrap_or_default();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&pkcs8)
        );
        let s = apple_settings();
        let secret = client_secret("apple", &s, |v| (v == "APPLE_KEY").then(|| pem.clone()));
        let p = secret.and_then(|secret| resolve("apple", &s, secret));
        let Ok(p) = p else {
            panic!("apple with a key resolves");
        };
        let jwt = p.client_secret(1_800_000_000).unwrap_or_default();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.set_audience(&[APPLE_AUDIENCE]);
        v.set_issuer(&["TEAM123456"]);
        v.validate_exp = false;
        let key = jsonwebtoken::DecodingKey::from_ec_der(&public);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &v).map(|d| d.claims);
        let Ok(claims) = claims else {
            panic!("the secret verifies with the key's public half: {claims:?}");
        };
        assert_eq!(claims["sub"], "com.example.web");
        assert_eq!(claims["exp"], 1_800_000_300i64);
        assert_eq!(
            jsonwebtoken::decode_header(&jwt).ok().and_then(|h| h.kid),
            Some("KEY1234567".to_owned())
        );
        // The key's variable must be set; the fields go together and only for Apple.
        assert!(client_secret("apple", &s, |_| None).is_err());
        assert!(client_secret("google", &s, |_| Some(pem.clone())).is_err());
    }
}
