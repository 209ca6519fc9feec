//! OpenID Connect: the issuer's discovery document, its signing keys, and the validation of an
//! ID token (OpenID Connect Core §3.1.3.7): signature against the issuer's JWKS with an
//! asymmetric algorithm, `iss`, `aud` (and `azp`), `exp` and `iat` against the injected clock,
//! and the `nonce` this sign-in sent, compared in constant time.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::security;

/// What the flows use of a discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

impl Discovery {
    /// Whether the token endpoint takes the client's credentials in the body rather than as
    /// HTTP Basic (the default, RFC 6749 §2.3.1).
    pub fn wants_secret_in_body(&self) -> bool {
        self.token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| {
                !m.iter().any(|x| x == "client_secret_basic")
                    && m.iter().any(|x| x == "client_secret_post")
            })
    }
}

/// The claims read from an ID token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    /// Microsoft's tenant, which its multi-tenant issuer names.
    #[serde(default)]
    pub tid: Option<String>,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// The standard claims of the user's profile (ID token or UserInfo).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileClaims {
    #[serde(default)]
    pub email: Option<String>,
    /// A boolean, or the strings `"true"`/`"false"` (Apple).
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
}

impl ProfileClaims {
    pub fn email_verified(&self) -> bool {
        match &self.email_verified {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        }
    }

    /// Fills what `self` lacks from `other` (UserInfo after the ID token).
    pub fn or(self, other: ProfileClaims) -> ProfileClaims {
        ProfileClaims {
            email_verified: if self.email.is_some() {
                self.email_verified
            } else {
                other.email_verified
            },
            email: self.email.or(other.email),
            given_name: self.given_name.or(other.given_name),
            family_name: self.family_name.or(other.family_name),
            name: self.name.or(other.name),
            preferred_username: self.preferred_username.or(other.preferred_username),
            picture: self.picture.or(other.picture),
        }
    }
}

/// What an ID token must match.
pub struct Expected<'a> {
    /// The issuer; `{tenantid}` in it (Microsoft's multi-tenant issuer) stands for the token's
    /// `tid`.
    pub issuer: &'a str,
    /// The audiences this client answers to: its client id, then any others the settings
    /// name (an iOS app's bundle id, which Sign in with Apple tokens obtained in the app carry).
    pub audiences: &'a [String],
    /// The nonce this sign-in sent; `None` where none was sent (One Tap, native Apple tokens
    /// carry the app's own).
    pub nonce: Option<&'a str>,
    pub now_secs: i64,
}

/// Why a token was refused (logged, never sent: the caller sees `oauth_callback_invalid`).
pub type Refusal = String;

/// Algorithms an ID token may be signed with: asymmetric ones only, so a token "signed" with
/// the client secret or with `none` is never accepted.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Validates `token` against the issuer's `keys`; the claims when it holds.
pub fn validate(token: &str, keys: &JwkSet, expected: &Expected<'_>) -> Result<IdClaims, Refusal> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(format!("algorithm {:?} is not accepted", header.alg));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| "no key of the issuer has this token's kid".to_owned())?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key: {e}"))?;
    let mut validation = Validation::new(header.alg);
    // Time is checked below against the injected clock, not the library's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims = Default::default();
    validation.set_audience(expected.audiences);
    let data = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(|e| format!("signature or audience: {e}"))?;
    let claims = data.claims;
    // Without an audience the library's check has nothing to compare: such a token (an access
    // token of the same issuer, say) is not an ID token for this client.
    if claims.aud.is_none() {
        return Err("no aud".into());
    }
    check_issuer(
        claims.iss.as_deref(),
        expected.issuer,
        claims.tid.as_deref(),
    )?;
    let leeway = security::ID_TOKEN_LEEWAY.as_secs() as i64;
    let now = expected.now_secs;
    let exp = claims.exp.ok_or("no exp")?;
    if now > exp + leeway {
        return Err("expired".into());
    }
    let iat = claims.iat.ok_or("no iat")?;
    if iat > now + leeway || now - iat > security::ID_TOKEN_MAX_AGE.as_secs() as i64 {
        return Err("issued too long ago or in the future".into());
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
        return Err("not valid yet".into());
    }
    // Several audiences: the authorized party must be us (Core §3.1.3.7 items 4–5).
    let several = matches!(&claims.aud, Some(serde_json::Value::Array(a)) if a.len() > 1);
    if (several || claims.azp.is_some())
        && !claims
            .azp
            .as_ref()
            .is_some_and(|azp| expected.audiences.contains(azp))
    {
        return Err("azp is not this client".into());
    }
    if let Some(sent) = expected.nonce {
        let got = claims.nonce.as_deref().unwrap_or("");
        if !bool::from(got.as_bytes().ct_eq(sent.as_bytes())) {
            return Err("nonce does not match the one sent".into());
        }
    }
    if claims.sub.is_empty() {
        return Err("empty sub".into());
    }
    Ok(claims)
}

/// `iss` must be the issuer exactly (with Microsoft's tenant substituted).
fn check_issuer(iss: Option<&str>, issuer: &str, tid: Option<&str>) -> Result<(), Refusal> {
    let iss = iss.ok_or("no iss")?;
    let wanted = match tid {
        Some(tid) if issuer.contains("{tenantid}") => issuer.replace("{tenantid}", tid),
        _ => issuer.to_owned(),
    };
    // Google documents both forms of its issuer, with and without the scheme.
    let google_short = wanted == "https://accounts.google.com" && iss == "accounts.google.com";
    if iss != wanted && !google_short {
        return Err(format!("issuer {iss} is not {wanted}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsofts_multi_tenant_issuer_names_the_tokens_tenant() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let iss = format!("https://login.microsoftonline.com/{tenant}/v2.0");
        assert!(check_issuer(Some(&iss), template, Some(tenant)).is_ok());
        // Another tenant's token, or none named, does not pass.
        assert!(check_issuer(Some(&iss), template, Some("other")).is_err());
        assert!(check_issuer(Some(&iss), template, None).is_err());
        assert!(check_issuer(None, "https://accounts.google.com", None).is_err());
        assert!(
            check_issuer(
                Some("https://accounts.google.com"),
                "https://accounts.google.com",
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn apples_string_booleans_read_as_booleans() {
        let claims: ProfileClaims = serde_json::from_value(
            serde_json::json!({"email": "a@b.test", "email_verified": "true"}),
        )
        .unwrap_or_default();
        assert!(claims.email_verified());
        let claims: ProfileClaims = serde_json::from_value(
            serde_json::json!({"email": "a@b.test", "email_verified": "false"}),
        )
        .unwrap_or_default();
        assert!(!claims.email_verified());
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused_before_any_key_is_used() {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let claims = b64(serde_json::json!({"sub": "x", "iss": "i", "aud": "c"}));
        let keys = JwkSet { keys: Vec::new() };
        let expected = Expected {
            issuer: "i",
            audiences: &["c".to_owned()],
            nonce: None,
            now_secs: 0,
        };
        for alg in ["none", "HS256"] {
            let token = format!("{}.{claims}.", b64(serde_json::json!({"alg": alg})));
            assert!(validate(&token, &keys, &expected).is_err(), "{alg}");
        }
    }
}
