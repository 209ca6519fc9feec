//! Session tokens: short-lived RS256 JWTs that backends verify with the JWKS.
//!
//! A refresh costs exactly one store read (the client's partition, which holds the client and
//! its sessions) and no write. Claims, as Clerk's v2 tokens have them: `sub` (user), `sid`,
//! `iat`, `nbf` (10 s early, for clock skew), `exp`, `iss` (this Frontend API), `azp` (the
//! requesting Origin, when there is one), `v: 2`, `fva` (minutes since each factor was
//! verified) and `sts` (the session status).
//!
//! JWT templates (instance settings) add claims; string values `{{user.<field>}}` are filled
//! from the user, which costs a second read.

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::clock::duration_secs;
use crate::error::{Code, Error, Result};
use crate::model::records::UserRecord;
use crate::model::render;
use crate::security;
use crate::vocabulary::IdentificationKind;

/// The session is gone or ended (`flows::session::signed_out`; not imported, to keep this
/// module below the client and session flows that render tokens).
fn signed_out() -> Error {
    Error::new(Code::SignedOut)
}

/// Mints a token for session `id` for an app server (the Backend API): the session is found
/// by its id alone (its locator, then its client's partition).
pub async fn mint_for_backend(app: &App, id: &str, template: Option<&str>) -> Result<String> {
    let not_found =
        || Error::new(Code::ResourceNotFound).long(format!("No session `{id}` exists."));
    let locator = app.repo.locate_session(id).await?.ok_or_else(not_found)?;
    let client = app
        .repo
        .load_client(&locator.client_id)
        .await?
        .ok_or_else(not_found)?;
    if !client.sessions.iter().any(|s| s.id == id) {
        return Err(not_found());
    }
    mint(app, &client.sessions, id, template, None).await
}

/// Mints a token for session `id`, one of `sessions` (a client's: the caller's).
pub async fn mint(
    app: &App,
    sessions: &[crate::model::records::SessionRecord],
    id: &str,
    template: Option<&str>,
    azp: Option<&str>,
) -> Result<String> {
    let now = app.now_ms();
    let session = sessions
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Error::new(Code::SessionNotFound))?;
    if !session.is_active_at(now) {
        return Err(signed_out());
    }
    let (lifetime, extra) = match template {
        None => (app.settings.sessions.token_lifetime_secs, Map::new()),
        Some(name) => {
            let t = app.settings.jwt_templates.get(name).ok_or_else(|| {
                Error::new(Code::ResourceNotFound)
                    .long(format!("No JWT template named `{name}` exists."))
            })?;
            let user = app
                .repo
                .load_user(&session.user_id)
                .await?
                .ok_or_else(signed_out)?;
            let claims = serde_json::to_value(&t.claims)
                .map_err(|e| Error::internal(format!("template claims: {e}")))?;
            let filled = match fill(claims, &user) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            (t.lifetime_secs, filled)
        }
    };
    let iat = now.div_euclid(1000);
    let fva = render::factor_verification_age(session, now);
    let mut claims = json!({
        "sub": session.user_id,
        "sid": session.id,
        "iat": iat,
        "nbf": iat - duration_secs(security::SESSION_TOKEN_NOT_BEFORE_SKEW),
        "exp": iat + i64::try_from(lifetime).unwrap_or(i64::MAX),
        "iss": app.settings.instance.frontend_api_url.trim_end_matches('/'),
        "v": 2,
        "fva": fva,
        "sts": "active",
    });
    if let (Some(origin), Some(map)) = (azp, claims.as_object_mut()) {
        map.insert("azp".into(), origin.into());
    }
    if let Some(map) = claims.as_object_mut() {
        // Template claims never override the registered ones.
        for (k, v) in extra {
            map.entry(k).or_insert(v);
        }
    }
    app.signing_keys().await.sign(&claims, now)
}

/// Replaces `{{user.<field>}}` strings with the user's values.
fn fill(value: Value, user: &UserRecord) -> Value {
    match value {
        Value::String(s) => match s
            .strip_prefix("{{user.")
            .and_then(|rest| rest.strip_suffix("}}"))
        {
            Some(field) => user_field(user, field.trim()),
            None => Value::String(s),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(|v| fill(v, user)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, fill(v, user))).collect())
        }
        other => other,
    }
}

fn user_field(user: &UserRecord, field: &str) -> Value {
    let primary = |kind| user.primary(kind).map(|r| r.value.clone());
    let primary_email = primary(IdentificationKind::EmailAddress);
    let primary_phone = primary(IdentificationKind::PhoneNumber);
    match field {
        "id" => user.id.clone().into(),
        "first_name" => user.first_name.clone().into(),
        "last_name" => user.last_name.clone().into(),
        "username" => user.username.clone().into(),
        "primary_email_address" => primary_email.into(),
        "primary_phone_number" => primary_phone.into(),
        "public_metadata" => Value::Object(user.public_metadata.clone()),
        "unsafe_metadata" => Value::Object(user.unsafe_metadata.clone()),
        "two_factor_enabled" => user.has_second_factor().into(),
        "created_at" => user.created_at.into(),
        _ => Value::Null,
    }
}
