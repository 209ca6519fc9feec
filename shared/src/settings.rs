//! Instance settings: what Clerk's dashboard configures, as one declarative TOML file.
//!
//! The file is read once at start (per Lambda cold start), validated, and never changed at run
//! time. Unknown keys are refused and every semantic error names the offending key, so a typo
//! fails the deploy instead of silently enabling a default. `GET /v1/environment` is rendered
//! from these settings, and every endpoint consults them: a strategy that is off is refused.
//!
//! The attribute tables use Clerk's own `user_settings.attributes` shape, so a team moving from
//! Clerk can copy what their dashboard shows. `settings/development.toml` is the annotated default.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::security;
use crate::vocabulary::{FirstFactor, SecondFactor, VerificationStrategy};

/// The development default shipped with the repository.
pub const DEVELOPMENT_SETTINGS: &str = include_str!("../../settings/development.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentType {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    Single,
    Multi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignUpMode {
    Public,
    Restricted,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub instance: InstanceSettings,
    #[serde(default)]
    pub sessions: SessionSettings,
    #[serde(default)]
    pub sign_up: SignUpSettings,
    pub attributes: Attributes,
    #[serde(default)]
    pub password_settings: PasswordSettings,
    #[serde(default)]
    pub messages: MessageSettings,
    #[serde(default)]
    pub actions: ActionSettings,
    #[serde(default)]
    pub rate_limits: RateLimitSettings,
    #[serde(default)]
    pub jwt_templates: BTreeMap<String, JwtTemplate>,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Social connections, by key: `google`, `github`, `apple`, `microsoft`, `gitlab`,
    /// `discord`, or `custom_<name>` for any OpenID Connect provider (strategy `oauth_<key>`).
    #[serde(default)]
    pub social: BTreeMap<String, crate::providers::catalog::SocialProviderSettings>,
    /// Passkeys (WebAuthn): the relying party and what the prebuilt components offer. In use
    /// when `attributes.passkey.enabled`.
    #[serde(default)]
    pub passkeys: PasskeySettings,
    #[serde(default)]
    pub email_links: EmailLinkSettings,
}

/// Email links (Clerk's `attack_protection.email_link`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailLinkSettings {
    /// A link completes only in the browser that asked for it; opened anywhere else it answers
    /// `__clerk_status=client_mismatch` and stays usable. Off by default, as at Clerk: a link
    /// opened on another device signs in the device that asked.
    pub require_same_client: bool,
}

/// The WebAuthn relying party and Clerk's `passkey_settings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasskeySettings {
    /// The relying party id: the app's registrable domain (passkeys are made on the app's pages,
    /// not on the Frontend API's host). Default: `instance.cookie_domain` (the app's registrable
    /// domain), else the host of `instance.home_url`, else of the Frontend API. An IP address
    /// cannot be one (browsers refuse it): use `localhost` there.
    pub rp_id: Option<String>,
    /// The name authenticators show. Default: `instance.application_name`.
    pub rp_name: Option<String>,
    /// The page origins a ceremony may come from. Default: the instance's allowed origins,
    /// `home_url` and the Frontend API, those on `rp_id` or below it. Android apps are listed
    /// as `android:apk-key-hash:<hash>`.
    pub origins: Vec<String>,
    /// `<SignIn/>` offers saved passkeys in the identifier field (conditional UI).
    pub allow_autofill: bool,
    /// `<SignIn/>` shows "Use passkey instead".
    pub show_sign_in_button: bool,
    /// A sign-in with a passkey skips the second factor: the authenticator verified its user
    /// (user verification is required), so the passkey is two factors already.
    pub satisfies_second_factor: bool,
}

impl Default for PasskeySettings {
    fn default() -> Self {
        Self {
            rp_id: None,
            rp_name: None,
            origins: Vec::new(),
            allow_autofill: true,
            show_sign_in_button: true,
            satisfies_second_factor: true,
        }
    }
}

impl Settings {
    /// Whether passkeys are on.
    pub fn passkeys_enabled(&self) -> bool {
        self.attributes.passkey.enabled
    }

    /// The relying party id passkeys are made for.
    pub fn passkey_rp_id(&self) -> Option<String> {
        if let Some(id) = &self.passkeys.rp_id {
            return Some(id.to_ascii_lowercase());
        }
        if let Some(domain) = &self.instance.cookie_domain {
            return Some(domain.trim_start_matches('.').to_ascii_lowercase());
        }
        let page = self
            .instance
            .home_url
            .as_deref()
            .unwrap_or(&self.instance.frontend_api_url);
        crate::urls::host_of(page).map(|h| h.to_ascii_lowercase())
    }

    /// The page origins passkey ceremonies may come from.
    pub fn passkey_origins(&self) -> Vec<String> {
        if !self.passkeys.origins.is_empty() {
            return self.passkeys.origins.clone();
        }
        let Some(rp_id) = self.passkey_rp_id() else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        let candidates = self
            .instance
            .allowed_origins
            .iter()
            .cloned()
            .chain(
                self.instance
                    .home_url
                    .as_deref()
                    .and_then(crate::urls::origin_of),
            )
            .chain(crate::urls::origin_of(&self.instance.frontend_api_url));
        for origin in candidates {
            let on_rp = crate::urls::host_of(&origin).is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                h == rp_id || h.ends_with(&format!(".{rp_id}"))
            });
            // Browsers do WebAuthn over http only on localhost: other http pages are left out.
            let usable = origin.starts_with("https://") || host_is_localhost(&origin);
            if on_rp && usable && !out.iter().any(|o| o.eq_ignore_ascii_case(&origin)) {
                out.push(origin);
            }
        }
        out
    }
}

/// Where the instance's events go (`crate::webhooks`), Clerk's webhooks: each endpoint with its
/// Svix-style signing secret, and how undelivered messages are retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub endpoints: Vec<WebhookEndpoint>,
    /// Attempts per message before it is marked failed (and waits for a replay).
    pub max_attempts: u32,
    /// The wait before the first retry; each later wait is [`security::WEBHOOK_BACKOFF_FACTOR`]
    /// times the one before, up to `max_retry_delay_secs`.
    pub first_retry_ms: u64,
    pub max_retry_delay_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            max_attempts: security::WEBHOOK_MAX_ATTEMPTS,
            first_retry_ms: security::WEBHOOK_FIRST_RETRY.as_millis() as u64,
            max_retry_delay_secs: security::WEBHOOK_MAX_RETRY_DELAY.as_secs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// A short name, unique among the endpoints (it is part of stored message ids).
    pub name: String,
    pub url: String,
    /// The signing secret (`whsec_` and base64), given here…
    #[serde(default)]
    pub secret: Option<String>,
    /// …or, better, the environment variable that holds it.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// The event types sent here; every type when empty.
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSettings {
    pub environment: EnvironmentType,
    pub application_name: String,
    /// The public URL of this Frontend API: the `iss` of session tokens, the cookie host.
    pub frontend_api_url: String,
    /// Origins (scheme://host[:port]) allowed to call with credentials.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where the application lives; Clerk's UI links back to it.
    #[serde(default)]
    pub home_url: Option<String>,
    #[serde(default)]
    pub support_email: Option<String>,
    /// Whether native apps may identify clients by the `Authorization` header.
    #[serde(default = "yes")]
    pub native_api: bool,
    /// The publishable key apps are given for this instance (`pk_test_…`/`pk_live_…`), when it
    /// is not the one derived from `frontend_api_url` (a `proxyUrl` setup, a development key
    /// for a Clerk development host). The handshake derives cookie names from it.
    #[serde(default)]
    pub publishable_key: Option<String>,
    /// Domain for the `__client_uat` cookie (the app's eTLD+1) in production.
    #[serde(default)]
    pub cookie_domain: Option<String>,
    /// Reverse proxies in front of the local server (their IP addresses). Only a request from
    /// one of them has its `X-Forwarded-For` believed; empty (the default) believes none, so a
    /// caller cannot pick the address its rate limits count against.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Native apps' redirect URLs (custom schemes such as `myapp://sso-callback`) that social
    /// sign-ins may return to; a URL must start with one of them. Web pages are allowed by
    /// their origin (`allowed_origins`).
    #[serde(default)]
    pub native_redirect_urls: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub mode: SessionMode,
    pub max_lifetime_secs: u64,
    /// 0 turns the inactivity timeout off.
    pub inactivity_timeout_secs: u64,
    pub token_lifetime_secs: u64,
    /// How recent the session's factor verifications must be for a sensitive action (changing
    /// identifiers, password, second factors, deleting the account).
    pub reverification_max_age_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            mode: SessionMode::Single,
            max_lifetime_secs: security::SESSION_MAX_LIFETIME.as_secs(),
            inactivity_timeout_secs: 0,
            token_lifetime_secs: security::SESSION_TOKEN_LIFETIME.as_secs(),
            reverification_max_age_secs: security::REVERIFICATION_MAX_AGE.as_secs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignUpSettings {
    pub mode: SignUpMode,
    pub legal_consent_enabled: bool,
}

impl Default for SignUpSettings {
    fn default() -> Self {
        Self {
            mode: SignUpMode::Public,
            legal_consent_enabled: false,
        }
    }
}

/// One user attribute, in Clerk's `UserSettings.Attribute` shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Attribute {
    pub enabled: bool,
    pub required: bool,
    pub used_for_first_factor: bool,
    pub first_factors: Vec<FirstFactor>,
    pub used_for_second_factor: bool,
    pub second_factors: Vec<SecondFactor>,
    pub verifications: Vec<VerificationStrategy>,
    pub verify_at_sign_up: bool,
    pub immutable: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attributes {
    pub email_address: Attribute,
    pub phone_number: Attribute,
    pub username: Attribute,
    pub first_name: Attribute,
    pub last_name: Attribute,
    pub password: Attribute,
    pub authenticator_app: Attribute,
    pub backup_code: Attribute,
    pub web3_wallet: Attribute,
    pub ticket: Attribute,
    pub passkey: Attribute,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub min_length: usize,
    pub max_length: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: security::PASSWORD_MIN_LENGTH,
            max_length: security::PASSWORD_MAX_LENGTH,
        }
    }
}

/// How codes are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// The development outbox file; never allowed in production.
    Outbox,
    /// Email through SES v2, SMS through SNS.
    Aws,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageSettings {
    pub delivery: Delivery,
    /// The `From` address of emails (must be an SES identity in production).
    pub email_from: String,
    /// Alphanumeric sender id for SMS where the destination country allows it.
    pub sms_sender_id: Option<String>,
}

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            delivery: Delivery::Outbox,
            email_from: "noreply@frontdoor.invalid".into(),
            sms_sender_id: None,
        }
    }
}

/// Per-IP limits, kept in the store so they hold across Lambda instances.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Creations and account changes (clients, sign-ins, sign-ups, profile) per IP per window.
    pub creates: u32,
    /// Verification attempts (codes, passwords) per IP per window.
    pub attempts: u32,
    /// Requests that send a code (`prepare_*`) per IP per window.
    pub prepares: u32,
    pub window_secs: u64,
    /// Seconds before another code may go to the same email address or phone number.
    pub send_cooldown_secs: u64,
    /// Codes sent to one destination per hour.
    pub sends_per_destination_per_hour: u32,
    /// Codes one client may have sent per hour, to any destinations.
    pub sends_per_client_per_hour: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            creates: security::RATE_LIMIT_CREATES,
            attempts: security::RATE_LIMIT_ATTEMPTS,
            prepares: security::RATE_LIMIT_PREPARES,
            window_secs: security::RATE_LIMIT_WINDOW.as_secs(),
            send_cooldown_secs: security::OTP_RESEND_COOLDOWN.as_secs(),
            sends_per_destination_per_hour: security::SENDS_PER_DESTINATION_PER_HOUR,
            sends_per_client_per_hour: security::SENDS_PER_CLIENT_PER_HOUR,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionSettings {
    pub delete_self: bool,
}

impl Default for ActionSettings {
    fn default() -> Self {
        Self { delete_self: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtTemplate {
    #[serde(default = "default_token_lifetime")]
    pub lifetime_secs: u64,
    /// Extra claims; string values of the form `{{user.field}}` are filled from the user.
    #[serde(default)]
    pub claims: toml::Table,
}

fn yes() -> bool {
    true
}

fn default_token_lifetime() -> u64 {
    security::SESSION_TOKEN_LIFETIME.as_secs()
}

/// A settings file that cannot be used, with the key that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid settings: `{key}`: {problem}")]
pub struct SettingsError {
    pub key: String,
    pub problem: String,
}

pub(crate) fn bad(key: impl Into<String>, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Strategies each attribute may offer, as this server implements them. (The reset strategies
/// are never listed: they follow from password and the identifier, see `capabilities`.)
const ALLOWED_FIRST_FACTORS: &[(&str, &[FirstFactor])] = &[
    (
        "email_address",
        &[FirstFactor::EmailCode, FirstFactor::EmailLink],
    ),
    ("phone_number", &[FirstFactor::PhoneCode]),
    ("username", &[]),
    ("password", &[FirstFactor::Password]),
    ("passkey", &[FirstFactor::Passkey]),
];
const ALLOWED_VERIFICATIONS: &[(&str, &[VerificationStrategy])] = &[
    (
        "email_address",
        &[
            VerificationStrategy::EmailCode,
            VerificationStrategy::EmailLink,
        ],
    ),
    ("phone_number", &[VerificationStrategy::PhoneCode]),
];
const ALLOWED_SECOND_FACTORS: &[(&str, &[SecondFactor])] = &[
    ("phone_number", &[SecondFactor::PhoneCode]),
    ("authenticator_app", &[SecondFactor::Totp]),
    ("backup_code", &[SecondFactor::BackupCode]),
];
impl Settings {
    fn validate_webhooks(&self) -> Result<(), SettingsError> {
        let w = &self.webhooks;
        if w.max_attempts == 0 || w.first_retry_ms == 0 || w.max_retry_delay_secs == 0 {
            return Err(bad(
                "webhooks",
                "max_attempts, first_retry_ms and max_retry_delay_secs must be positive",
            ));
        }
        if w.endpoints.len() > security::MAX_WEBHOOK_ENDPOINTS {
            return Err(bad(
                "webhooks.endpoints",
                format!("at most {} endpoints", security::MAX_WEBHOOK_ENDPOINTS),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, e) in w.endpoints.iter().enumerate() {
            let key = |field: &str| format!("webhooks.endpoints[{i}].{field}");
            if e.name.is_empty()
                || e.name.len() > 64
                || !e
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                || !names.insert(e.name.as_str())
            {
                return Err(bad(
                    key("name"),
                    "a unique name of letters, digits, `_` and `-`",
                ));
            }
            if crate::urls::scheme_and_authority(&e.url)
                .is_none_or(|(scheme, _)| scheme != "https" && scheme != "http")
            {
                return Err(bad(key("url"), "must be an http(s) URL"));
            }
            match (&e.secret, &e.secret_env) {
                (Some(secret), None) => {
                    crate::events::SigningSecret::parse(secret)
                        .map_err(|problem| bad(key("secret"), problem))?;
                }
                (None, Some(var)) if !var.is_empty() => {}
                _ => {
                    return Err(bad(
                        key("secret"),
                        "give the signing secret (`whsec_…`) or `secret_env`, the variable that holds it",
                    ));
                }
            }
            for event in &e.events {
                if !crate::events::EVENT_TYPES.contains(&event.as_str()) {
                    return Err(bad(
                        key("events"),
                        format!("`{event}` is not an event this instance sends"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How an Android app's origin begins (`android:apk-key-hash:<base64url SHA-256 of the app's
/// signing certificate>`), as Android's Credential Manager reports it to the relying party.
pub const ANDROID_APP_ORIGIN: &str = "android:apk-key-hash:";

/// Whether `origin`'s host is `localhost` or below it (a secure context over http too).
fn host_is_localhost(origin: &str) -> bool {
    crate::urls::host_of(origin).is_some_and(|h| {
        let h = h.to_ascii_lowercase();
        h == "localhost" || h.ends_with(".localhost")
    })
}

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

/// Attributes this server does not implement; they must stay off.
const UNSUPPORTED: &[&str] = &["web3_wallet", "ticket"];

impl Settings {
    /// Parses and validates a settings document.
    pub fn parse(text: &str) -> Result<Self, SettingsError> {
        let settings = Self::parse_unchecked(text)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses without the semantic checks, so that deployment overrides can be applied first;
    /// call [`Settings::validated`] afterwards.
    pub fn parse_unchecked(text: &str) -> Result<Self, SettingsError> {
        toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .and_then(|span| text.get(span))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            bad(key, e.message().to_owned())
        })
    }

    /// The settings, if they pass every semantic check.
    pub fn validated(self) -> Result<Self, SettingsError> {
        self.validate()?;
        Ok(self)
    }

    /// Applies the deployment's overrides (template parameters arrive as environment variables),
    /// each naming the settings key it replaces.
    pub fn with_overrides(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(v) = get("FRONTDOOR_FRONTEND_API_URL") {
            self.instance.frontend_api_url = v;
        }
        if let Some(v) = get("FRONTDOOR_ALLOWED_ORIGINS") {
            self.instance.allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = get("FRONTDOOR_PUBLISHABLE_KEY") {
            self.instance.publishable_key = Some(v);
        }
        if let Some(v) = get("FRONTDOOR_COOKIE_DOMAIN") {
            self.instance.cookie_domain = Some(v);
        }
        if let Some(v) = get("FRONTDOOR_EMAIL_FROM") {
            self.messages.email_from = v;
        }
        if let Some(v) = get("FRONTDOOR_SMS_SENDER_ID") {
            self.messages.sms_sender_id = Some(v);
        }
        self
    }

    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(path.display().to_string(), e.to_string()))?;
        Self::parse(&text)
    }

    pub fn development_default() -> Result<Self, SettingsError> {
        Self::parse(DEVELOPMENT_SETTINGS)
    }

    /// The instance's publishable key: the configured one, else `pk_test_`/`pk_live_` and the
    /// base64 of the Frontend API's host followed by `$`, as Clerk builds them.
    pub fn publishable_key(&self) -> String {
        use base64::Engine as _;
        if let Some(pk) = &self.instance.publishable_key {
            return pk.clone();
        }
        let url = &self.instance.frontend_api_url;
        let host = crate::urls::scheme_and_authority(url).map_or(url.as_str(), |(_, a)| a);
        let prefix = if self.is_development() {
            "pk_test_"
        } else {
            "pk_live_"
        };
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{host}$"));
        format!("{prefix}{encoded}")
    }

    /// Whether `origin` may make credentialed requests to this instance: its
    /// `allowed_origins`, the Frontend API's own origin, and, on development instances only,
    /// any `localhost` / `127.0.0.1` origin.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.instance
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            || crate::urls::origin_of(&self.instance.frontend_api_url)
                .is_some_and(|own| own.eq_ignore_ascii_case(origin))
            || (self.is_development() && is_loopback_origin(origin))
    }

    /// Whether an app page may be sent back to (the handshake's and social sign-in's
    /// `redirect_url`): an absolute `http(s)` URL, without credentials in it, on an origin
    /// allowed to call with credentials. Anything else would make us an open redirector, and
    /// hand a session token to its host.
    pub fn redirect_allowed(&self, url: &str) -> bool {
        let Some((scheme, authority)) = crate::urls::scheme_and_authority(url) else {
            return false;
        };
        let clean = !authority.is_empty()
            && !authority.contains(['@', '\\'])
            && !url.chars().any(|c| c.is_control() || c.is_whitespace());
        (scheme == "http" || scheme == "https")
            && clean
            && self.origin_allowed(&format!("{scheme}://{authority}"))
    }

    pub fn is_development(&self) -> bool {
        self.instance.environment == EnvironmentType::Development
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        let a = &self.attributes;
        Some(match name {
            "email_address" => &a.email_address,
            "phone_number" => &a.phone_number,
            "username" => &a.username,
            "first_name" => &a.first_name,
            "last_name" => &a.last_name,
            "password" => &a.password,
            "authenticator_app" => &a.authenticator_app,
            "backup_code" => &a.backup_code,
            "web3_wallet" => &a.web3_wallet,
            "ticket" => &a.ticket,
            "passkey" => &a.passkey,
            _ => return None,
        })
    }

    pub const ATTRIBUTE_NAMES: [&'static str; 11] = [
        "email_address",
        "phone_number",
        "username",
        "first_name",
        "last_name",
        "password",
        "authenticator_app",
        "backup_code",
        "web3_wallet",
        "ticket",
        "passkey",
    ];

    /// The relying party id and the page origins, when passkeys are on: a domain (browsers
    /// refuse an IP address), and origins on it.
    fn validate_passkeys(&self) -> Result<(), SettingsError> {
        if !self.passkeys_enabled() {
            return Ok(());
        }
        let rp_id = self
            .passkey_rp_id()
            .ok_or_else(|| bad("passkeys.rp_id", "cannot be derived from the URLs; set it"))?;
        let domain = !rp_id.is_empty()
            && rp_id.parse::<std::net::IpAddr>().is_err()
            && rp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !domain {
            return Err(bad(
                "passkeys.rp_id",
                format!(
                    "`{rp_id}` is not a domain: browsers refuse IP addresses as a relying party id (use `localhost`, or the app's domain)"
                ),
            ));
        }
        let origins = self.passkey_origins();
        if !origins.iter().any(|o| !o.starts_with(ANDROID_APP_ORIGIN)) {
            return Err(bad(
                "passkeys.origins",
                format!("no page origin is on `{rp_id}`: list the app's origins"),
            ));
        }
        for origin in &origins {
            // An Android app's passkeys answer with the hash of its signing key as their
            // origin; the app's Digital Asset Links tie it to the relying party id.
            if let Some(hash) = origin.strip_prefix(ANDROID_APP_ORIGIN) {
                let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
                if hash.is_empty() || !hash.chars().all(b64url) {
                    return Err(bad(
                        "passkeys.origins",
                        format!(
                            "`{origin}`: an Android app's origin is `{ANDROID_APP_ORIGIN}<base64url of its signing certificate's SHA-256>`"
                        ),
                    ));
                }
                continue;
            }
            let host = crate::urls::host_of(origin).map(str::to_ascii_lowercase);
            let on_rp = host.is_some_and(|h| h == rp_id || h.ends_with(&format!(".{rp_id}")));
            // Browsers allow WebAuthn over http only on localhost.
            let local = host_is_localhost(origin);
            let scheme = origin.starts_with("https://") || (origin.starts_with("http://") && local);
            if !on_rp || !scheme || crate::urls::origin_of(origin).as_deref() != Some(origin) {
                return Err(bad(
                    "passkeys.origins",
                    format!("`{origin}` is not a page origin on the relying party id `{rp_id}`"),
                ));
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), SettingsError> {
        self.validate_passkeys()?;
        let i = &self.instance;
        if i.application_name.trim().is_empty() {
            return Err(bad("instance.application_name", "must not be empty"));
        }
        // Plain http never leaves the machine on loopback, so a production instance may be tried
        // there (cookies then lose `Secure`); anywhere else it needs TLS.
        let loopback = ["http://localhost:", "http://127.0.0.1:"]
            .iter()
            .any(|p| i.frontend_api_url.starts_with(p));
        let scheme_ok = i.frontend_api_url.starts_with("https://")
            || (i.frontend_api_url.starts_with("http://")
                && (i.environment == EnvironmentType::Development || loopback));
        if !scheme_ok {
            return Err(bad(
                "instance.frontend_api_url",
                "must be an https:// URL (http:// is allowed in development, or on loopback)",
            ));
        }
        for (n, origin) in i.allowed_origins.iter().enumerate() {
            if !is_origin(origin) {
                return Err(bad(
                    format!("instance.allowed_origins[{n}]"),
                    format!("`{origin}` is not an origin (scheme://host[:port], no path)"),
                ));
            }
        }
        for name in Self::ATTRIBUTE_NAMES {
            let Some(a) = self.attribute(name) else {
                continue;
            };
            let key = |field: &str| format!("attributes.{name}.{field}");
            if a.required && !a.enabled {
                return Err(bad(key("required"), "a required attribute must be enabled"));
            }
            if UNSUPPORTED.contains(&name) && a.enabled {
                return Err(bad(key("enabled"), "this attribute is not supported yet"));
            }
            if !a.enabled && (a.used_for_first_factor || a.used_for_second_factor) {
                return Err(bad(
                    key("enabled"),
                    "an attribute used as a factor must be enabled",
                ));
            }
            check_subset(
                name,
                "first_factors",
                &a.first_factors,
                ALLOWED_FIRST_FACTORS,
            )?;
            check_subset(
                name,
                "verifications",
                &a.verifications,
                ALLOWED_VERIFICATIONS,
            )?;
            check_subset(
                name,
                "second_factors",
                &a.second_factors,
                ALLOWED_SECOND_FACTORS,
            )?;
            if a.used_for_first_factor && a.first_factors.is_empty() && name != "username" {
                return Err(bad(
                    key("first_factors"),
                    "an attribute used for sign-in needs at least one strategy",
                ));
            }
            if a.verify_at_sign_up && a.verifications.is_empty() {
                return Err(bad(
                    key("verifications"),
                    "verify_at_sign_up needs a verification strategy",
                ));
            }
        }
        let a = &self.attributes;
        let can_identify = a.email_address.used_for_first_factor
            || a.phone_number.used_for_first_factor
            || a.username.used_for_first_factor;
        if !can_identify {
            return Err(bad(
                "attributes",
                "at least one of email_address, phone_number, username must be used_for_first_factor",
            ));
        }
        if a.username.used_for_first_factor && !a.password.enabled {
            return Err(bad(
                "attributes.username.used_for_first_factor",
                "signing in by username needs the password attribute enabled",
            ));
        }
        let p = &self.password_settings;
        if p.min_length < security::PASSWORD_MIN_LENGTH {
            return Err(bad(
                "password_settings.min_length",
                format!("must be at least {}", security::PASSWORD_MIN_LENGTH),
            ));
        }
        if p.max_length > security::PASSWORD_MAX_LENGTH || p.max_length < p.min_length {
            return Err(bad(
                "password_settings.max_length",
                format!(
                    "must be between min_length and {}",
                    security::PASSWORD_MAX_LENGTH
                ),
            ));
        }
        let s = &self.sessions;
        if s.reverification_max_age_secs == 0 {
            return Err(bad(
                "sessions.reverification_max_age_secs",
                "must be positive",
            ));
        }
        let longest = security::IDLE_CLIENT_RETENTION.as_secs() - 24 * 60 * 60;
        if s.max_lifetime_secs == 0 || s.max_lifetime_secs > longest {
            return Err(bad(
                "sessions.max_lifetime_secs",
                format!("must be between 1 and {longest}"),
            ));
        }
        if s.token_lifetime_secs == 0 || s.token_lifetime_secs > 24 * 60 * 60 {
            return Err(bad(
                "sessions.token_lifetime_secs",
                "must be between 1 and 86400",
            ));
        }
        for (name, t) in &self.jwt_templates {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad(
                    format!("jwt_templates.{name}"),
                    "template names use letters, digits, `_` and `-`",
                ));
            }
            if t.lifetime_secs == 0 || t.lifetime_secs > 24 * 60 * 60 {
                return Err(bad(
                    format!("jwt_templates.{name}.lifetime_secs"),
                    "must be between 1 and 86400",
                ));
            }
        }
        self.validate_webhooks()?;
        for (n, url) in i.native_redirect_urls.iter().enumerate() {
            // A scheme of the app's own and something after it: `myapp://…`; never http(s),
            // which would let any web page receive the sign-in.
            let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            let web_or_dangerous = |s: &str| {
                matches!(
                    s,
                    "http"
                        | "https"
                        | "javascript"
                        | "data"
                        | "file"
                        | "vbscript"
                        | "intent"
                        | "blob"
                )
            };
            let well_formed = |s: &str| {
                s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            };
            if scheme.is_none_or(|s| !well_formed(&s) || web_or_dangerous(&s)) {
                return Err(bad(
                    format!("instance.native_redirect_urls[{n}]"),
                    "must be a native app's URL with its own scheme, such as myapp://sso-callback",
                ));
            }
        }
        // Every social connection must resolve (secrets are checked when the app is built).
        for (key, s) in &self.social {
            crate::providers::catalog::resolve(
                key,
                s,
                crate::providers::catalog::ClientSecret::Static("-".into()),
            )
            .map_err(|(field, problem)| {
                bad(
                    if field.is_empty() {
                        format!("social.{key}")
                    } else {
                        format!("social.{key}.{field}")
                    },
                    problem,
                )
            })?;
        }
        if !self.messages.email_from.contains('@') {
            return Err(bad("messages.email_from", "must be an email address"));
        }
        if self.messages.delivery == Delivery::Outbox
            && i.environment == EnvironmentType::Production
        {
            return Err(bad(
                "messages.delivery",
                "production instances deliver through `aws`; the outbox is for development",
            ));
        }
        let r = &self.rate_limits;
        if r.sends_per_destination_per_hour == 0 || r.sends_per_client_per_hour == 0 {
            return Err(bad(
                "rate_limits",
                "sends_per_destination_per_hour and sends_per_client_per_hour must be positive",
            ));
        }
        if r.creates == 0 || r.attempts == 0 || r.prepares == 0 || r.window_secs == 0 {
            return Err(bad(
                "rate_limits",
                "creates, attempts, prepares and window_secs must be positive",
            ));
        }
        Ok(())
    }
}

fn check_subset<T: PartialEq + std::fmt::Display + 'static>(
    attribute: &str,
    field: &str,
    values: &[T],
    allowed: &[(&str, &'static [T])],
) -> Result<(), SettingsError> {
    let permitted: &[T] = allowed
        .iter()
        .find(|(a, _)| *a == attribute)
        .map(|(_, v)| *v)
        .unwrap_or(&[]);
    for v in values {
        if !permitted.contains(v) {
            let names: Vec<String> = permitted.iter().map(ToString::to_string).collect();
            return Err(bad(
                format!("attributes.{attribute}.{field}"),
                format!("`{v}` is not supported here (allowed: {names:?})"),
            ));
        }
    }
    Ok(())
}

/// `scheme://host[:port]` with nothing after it.
pub fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    (scheme == "http" || scheme == "https")
        && !rest.is_empty()
        && !rest.contains('/')
        && !rest.contains('?')
        && !rest.contains('#')
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

    #[test]
    fn development_default_is_valid() {
        let s = Settings::development_default();
        assert!(s.is_ok(), "{s:?}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = DEVELOPMENT_SETTINGS.replace("[sessions]", "[sessions]\nmax_lifetime_days = 3");
        let err = Settings::parse(&text).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.key.contains("max_lifetime_days")),
            "{err:?}"
        );
    }

    #[test]
    fn webhook_endpoints_are_checked_key_by_key() {
        let with = |endpoint: &str| {
            let section = format!("[[webhooks.endpoints]]\n{endpoint}\n\n[rate_limits]");
            Settings::parse(&DEVELOPMENT_SETTINGS.replacen("[rate_limits]", &section, 1))
                .err()
                .map(|e| e.key)
        };
        let secret = "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"";
        assert_eq!(
            with(&format!(
                "name = \"app\"\nurl = \"https://a.test/h\"\n{secret}"
            )),
            None
        );
        assert_eq!(
            with("name = \"app\"\nurl = \"https://a.test/h\"\nsecret_env = \"HOOK_SECRET\""),
            None
        );
        for (endpoint, key) in [
            (
                format!("name = \"a b\"\nurl = \"https://a.test/h\"\n{secret}"),
                "name",
            ),
            (
                format!("name = \"app\"\nurl = \"ftp://a.test/h\"\n{secret}"),
                "url",
            ),
            (
                "name = \"app\"\nurl = \"https://a.test/h\"".to_owned(),
                "secret",
            ),
            (
                "name = \"app\"\nurl = \"https://a.test/h\"\nsecret = \"nope\"".to_owned(),
                "secret",
            ),
            (
                format!(
                    "name = \"app\"\nurl = \"https://a.test/h\"\n{secret}\nevents = [\"user.exploded\"]"
                ),
                "events",
            ),
        ] {
            assert_eq!(
                with(&endpoint),
                Some(format!("webhooks.endpoints[0].{key}")),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let text = DEVELOPMENT_SETTINGS.replace("min_length = 8", "min_length = 4");
        let err = Settings::parse(&text).err();
        assert_eq!(
            err.map(|e| e.key),
            Some("password_settings.min_length".to_owned())
        );
    }

    #[test]
    fn origins_are_checked() {
        assert!(is_origin("http://localhost:5173"));
        assert!(!is_origin("http://localhost:5173/app"));
        assert!(!is_origin("localhost"));
    }
}
