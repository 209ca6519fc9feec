//! Records → wire objects. The one place that decides what a caller may see.

use std::collections::HashMap;

use super::records::{
    ClientRecord, ExternalAccountRecord, IdentificationRecord, OAuthVerificationRecord,
    PasskeyCeremony, PasskeyRecord, SessionRecord, SignInRecord, SignInStatus, SignUpRecord,
    SignUpStatus, UserRecord, VerificationRecord, VerificationStatus,
};
use serde_json::Value;

use super::wire;
use crate::capabilities::{Capabilities, Field};
use crate::clock::UnixMillis;
use crate::settings::Settings;
use crate::vocabulary::{IdentificationKind, Strategy, VerificationStrategy};

/// Clerk serves a default avatar when a user has none; we serve none and say so.
const NO_IMAGE: &str = "";

/// Where the user's profile image is served (`GET /v1/images/…` on the Frontend API), or
/// nothing.
pub fn image_url(u: &UserRecord, settings: &Settings) -> String {
    match &u.image {
        Some(i) => format!(
            "{}/v1/images/{}",
            settings.instance.frontend_api_url.trim_end_matches('/'),
            i.key
        ),
        None => NO_IMAGE.to_owned(),
    }
}

pub fn verification(v: &VerificationRecord) -> wire::Verification {
    wire::Verification {
        object: match v.strategy {
            Strategy::Password => "verification_password",
            Strategy::Totp => "verification_totp",
            Strategy::BackupCode => "verification_backup_code",
            Strategy::Admin => "verification_admin",
            Strategy::FromOauth => "verification_from_oauth",
            Strategy::EmailLink => "verification_email_link",
            Strategy::Passkey => "verification_passkey",
            Strategy::EmailCode
            | Strategy::PhoneCode
            | Strategy::ResetPasswordEmailCode
            | Strategy::ResetPasswordPhoneCode => "verification_otp",
        },
        status: v.status.as_str().to_owned(),
        strategy: match (v.strategy, &v.provider) {
            (Strategy::FromOauth, Some(p)) => format!("from_{p}"),
            (s, _) => s.as_str().to_owned(),
        },
        attempts: Some(v.attempts),
        expire_at: v.expire_at,
        verified_at_client: v.verified_at_client.clone(),
    }
}

/// A passkey ceremony's verification (`verification_passkey`): while it waits, its `nonce` is
/// the options for the browser (JSON), which clerk-js hands to WebAuthn; once answered it has
/// none (clerk-js parses every nonce it sees). `expire_at` is when the ceremony ends (ended).
pub fn passkey_verification(
    status: VerificationStatus,
    c: Option<&PasskeyCeremony>,
    expire_at: UnixMillis,
) -> Value {
    let mut out = serde_json::json!({
        "object": "verification_passkey",
        "status": status.as_str(),
        "strategy": Strategy::Passkey.as_str(),
        "attempts": null,
        "expire_at": c.map_or(expire_at, |c| c.expire_at),
    });
    if let (Some(c), Some(o)) = (c, out.as_object_mut()) {
        o.insert("nonce".into(), Value::String(c.options.clone()));
    }
    out
}

/// A factor's verification as its own wire object: a passkey's (`expire_at` falling back to
/// `at`), or any other kind's.
pub fn factor_verification(v: &VerificationRecord, at: UnixMillis) -> Value {
    if v.strategy == Strategy::Passkey {
        return passkey_verification(v.status, None, v.expire_at.unwrap_or(at));
    }
    serde_json::to_value(verification(v)).unwrap_or(Value::Null)
}

/// A passkey (`passkey`).
pub fn passkey(p: &PasskeyRecord) -> Value {
    let ends = p.created_at + crate::clock::duration_ms(crate::security::PASSKEY_CEREMONY_LIFETIME);
    serde_json::json!({
        "object": "passkey",
        "id": p.id,
        "name": p.name,
        "verification": passkey_verification(p.status, p.ceremony.as_ref(), ends),
        "last_used_at": p.last_used_at,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

/// A provider's verification (`verification_oauth`), its error as Clerk's error object.
pub fn oauth_verification(v: &OAuthVerificationRecord) -> Value {
    let error = v
        .error
        .as_deref()
        .and_then(crate::error::Code::from_wire)
        .map(|c| crate::error::Error::new(c).to_clerk_json());
    let mut out = serde_json::json!({
        "object": "verification_oauth",
        "status": v.status.as_str(),
        "strategy": v.strategy,
        "error": error,
        "expire_at": v.expire_at,
        "attempts": null,
    });
    if let Some(url) = &v.external_verification_redirect_url {
        out["external_verification_redirect_url"] = Value::String(url.clone());
    }
    out
}

/// A connected account (`external_account`).
pub fn external_account(u: &UserRecord, a: &ExternalAccountRecord) -> Value {
    let identification_id = a
        .email_address
        .as_deref()
        .and_then(|e| u.email_addresses.iter().find(|r| r.value == e))
        .map(|r| r.id.clone())
        .unwrap_or_default();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    serde_json::json!({
        "object": "external_account",
        "id": a.id,
        "provider": a.provider,
        "identification_id": identification_id,
        "provider_user_id": a.provider_user_id,
        "approved_scopes": a.approved_scopes.join(" "),
        "email_address": text(&a.email_address),
        "email_address_verified": a.email_address_verified,
        "first_name": text(&a.first_name),
        "last_name": text(&a.last_name),
        "avatar_url": text(&a.image_url),
        "image_url": a.image_url,
        "username": a.username,
        "phone_number": null,
        "public_metadata": {},
        "label": null,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "verification": oauth_verification(&a.verification),
    })
}

/// An identification as the wire object of its kind.
pub fn identification(r: &IdentificationRecord) -> wire::Identification {
    match r.kind {
        IdentificationKind::EmailAddress => wire::Identification::EmailAddress(email_address(r)),
        IdentificationKind::PhoneNumber => wire::Identification::PhoneNumber(phone_number(r)),
    }
}

pub fn email_address(e: &IdentificationRecord) -> wire::EmailAddress {
    wire::EmailAddress {
        object: "email_address",
        id: e.id.clone(),
        email_address: e.value.clone(),
        reserved: false,
        verification: e.verification.as_ref().map(verification),
        linked_to: Vec::new(),
        matches_sso_connection: false,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

pub fn phone_number(p: &IdentificationRecord) -> wire::PhoneNumber {
    wire::PhoneNumber {
        object: "phone_number",
        id: p.id.clone(),
        phone_number: p.value.clone(),
        reserved_for_second_factor: p.reserved_for_second_factor,
        default_second_factor: p.default_second_factor,
        reserved: false,
        verification: p.verification.as_ref().map(verification),
        linked_to: Vec::new(),
        backup_codes: None,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// The Backend API's user: the Frontend API's, plus what only app servers see.
pub fn backend_user(u: &UserRecord, settings: &Settings, now: UnixMillis) -> Value {
    let mut value = serde_json::to_value(user(u, settings, now)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "private_metadata".into(),
            Value::Object(u.private_metadata.clone()),
        );
    }
    value
}

pub fn user(u: &UserRecord, settings: &Settings, now: UnixMillis) -> wire::User {
    let totp_enabled = u.totp_secret.is_some();
    let backup_code_enabled = !u.backup_code_hashes.is_empty();
    let sms_second_factor = u.phone_numbers.iter().any(|p| p.reserved_for_second_factor);
    let locked_for_ms = u.locked_until.map(|t| t - now).filter(|ms| *ms > 0);
    wire::User {
        object: "user",
        id: u.id.clone(),
        username: u.username.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        image_url: image_url(u, settings),
        has_image: u.image.is_some(),
        primary_email_address_id: u.primary_email_address_id.clone(),
        primary_phone_number_id: u.primary_phone_number_id.clone(),
        primary_web3_wallet_id: None,
        password_enabled: u.password_hash.is_some(),
        two_factor_enabled: totp_enabled || sms_second_factor,
        totp_enabled,
        backup_code_enabled,
        email_addresses: u.email_addresses.iter().map(email_address).collect(),
        phone_numbers: u.phone_numbers.iter().map(phone_number).collect(),
        web3_wallets: Vec::new(),
        passkeys: u
            .passkeys
            .iter()
            .filter(|p| p.is_registered())
            .map(passkey)
            .collect(),
        organization_memberships: Vec::new(),
        external_accounts: u
            .external_accounts
            .iter()
            .map(|a| external_account(u, a))
            .collect(),
        saml_accounts: Vec::new(),
        enterprise_accounts: Vec::new(),
        password_last_updated_at: u.password_last_updated_at,
        public_metadata: u.public_metadata.clone(),
        unsafe_metadata: u.unsafe_metadata.clone(),
        external_id: u.external_id.clone(),
        last_sign_in_at: u.last_sign_in_at,
        banned: u.banned,
        locked: locked_for_ms.is_some(),
        lockout_expires_in_seconds: locked_for_ms.map(|ms| (ms + 999) / 1000),
        verification_attempts_remaining: None,
        delete_self_enabled: settings.actions.delete_self,
        create_organization_enabled: false,
        create_organizations_limit: 0,
        last_active_at: u.last_active_at,
        mfa_enabled_at: u.mfa_enabled_at,
        mfa_disabled_at: u.mfa_disabled_at,
        legal_accepted_at: u.legal_accepted_at,
        profile_image_url: image_url(u, settings),
        created_at: u.created_at,
        updated_at: u.updated_at,
    }
}

/// The identifier Clerk shows for a user: primary email, else primary phone, else username.
pub fn display_identifier(u: &UserRecord) -> String {
    u.primary(IdentificationKind::EmailAddress)
        .or_else(|| u.primary(IdentificationKind::PhoneNumber))
        .map(|r| r.value.clone())
        .or_else(|| u.username.clone())
        .unwrap_or_default()
}

pub fn public_user_data(u: &UserRecord, settings: &Settings) -> wire::PublicUserData {
    wire::PublicUserData {
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        image_url: image_url(u, settings),
        has_image: u.image.is_some(),
        identifier: display_identifier(u),
        user_id: u.id.clone(),
        username: u.username.clone(),
    }
}

/// Minutes since each factor was verified, `-1` for never (the `fva` claim's shape).
pub fn factor_verification_age(s: &SessionRecord, now: UnixMillis) -> [i64; 2] {
    let age = |t: Option<UnixMillis>| t.map_or(-1, |t| (now - t).max(0) / 60_000);
    [
        age(s.first_factor_verified_at),
        age(s.second_factor_verified_at),
    ]
}

pub fn session(
    s: &SessionRecord,
    user: Option<&UserRecord>,
    settings: &Settings,
    now: UnixMillis,
) -> wire::Session {
    wire::Session {
        object: "session",
        id: s.id.clone(),
        status: s.status_at(now).as_str().to_owned(),
        expire_at: s.expire_at,
        abandon_at: s.abandon_at,
        last_active_at: s.last_active_at,
        last_active_token: None,
        last_active_organization_id: None,
        actor: None,
        user: user.map(|u| self::user(u, settings, now)),
        public_user_data: user.map(|u| public_user_data(u, settings)),
        factor_verification_age: factor_verification_age(s, now).to_vec(),
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// A client with its sessions; `users` holds the users of those sessions by id.
pub fn client(
    c: &ClientRecord,
    sessions: &[SessionRecord],
    users: &HashMap<String, UserRecord>,
    sign_in: Option<wire::SignIn>,
    sign_up: Option<wire::SignUp>,
    settings: &Settings,
    now: UnixMillis,
) -> wire::Client {
    wire::Client {
        object: "client",
        id: c.id.clone(),
        sessions: sessions
            .iter()
            .map(|s| session(s, users.get(&s.user_id), settings, now))
            .collect(),
        sign_in,
        sign_up,
        last_active_session_id: c.last_active_session_id.clone(),
        last_authentication_strategy: c.last_authentication_strategy.clone(),
        cookie_expires_at: None,
        captcha_bypass: false,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn field_names(fields: &[Field]) -> Vec<String> {
    fields.iter().map(|f| f.as_str().to_owned()).collect()
}

fn sign_up_verification(
    v: &VerificationRecord,
    supported: &[VerificationStrategy],
) -> wire::SignUpVerification {
    let next_action = match v.status {
        VerificationStatus::Verified => "",
        VerificationStatus::Unverified => "needs_attempt",
        VerificationStatus::Failed | VerificationStatus::Expired => "needs_prepare",
    };
    wire::SignUpVerification {
        verification: verification(v),
        next_action: next_action.to_owned(),
        supported_strategies: supported.iter().map(|v| v.as_str().to_owned()).collect(),
    }
}

pub fn sign_up(s: &SignUpRecord, caps: &Capabilities) -> wire::SignUp {
    let open = s.status != SignUpStatus::Complete;
    let prepared = |kind| match s.identification(kind) {
        (Some(_), Some(v)) => Some(sign_up_verification(v, caps.verifications(kind))),
        _ => None,
    };
    wire::SignUp {
        object: "sign_up_attempt",
        id: s.id.clone(),
        status: s.status.as_str().to_owned(),
        required_fields: field_names(&caps.sign_up_required),
        optional_fields: field_names(&caps.sign_up_optional),
        missing_fields: if open {
            field_names(&s.missing_fields(caps))
        } else {
            Vec::new()
        },
        unverified_fields: if open {
            s.unverified_fields(caps)
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect()
        } else {
            Vec::new()
        },
        verifications: wire::SignUpVerifications {
            // Null until a code is prepared: the spec's OTP verification needs an `expire_at`.
            email_address: prepared(IdentificationKind::EmailAddress),
            phone_number: prepared(IdentificationKind::PhoneNumber),
            web3_wallet: None,
            external_account: s.external_account.as_ref().map(oauth_verification),
        },
        username: s.username.clone(),
        email_address: s.email_address.clone(),
        phone_number: s.phone_number.clone(),
        web3_wallet: None,
        password_enabled: s.password_hash.is_some(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        unsafe_metadata: s.unsafe_metadata.clone(),
        public_metadata: serde_json::Map::new(),
        custom_action: false,
        external_id: None,
        created_session_id: s.created_session_id.clone(),
        created_user_id: s.created_user_id.clone(),
        abandon_at: s.abandon_at,
        legal_accepted_at: s.legal_accepted_at,
    }
}

/// The identifier kinds an instance lets people sign in with.
pub fn supported_identifiers(caps: &Capabilities) -> Vec<String> {
    caps.sign_in_identifiers
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect()
}

pub fn sign_in(s: &SignInRecord, caps: &Capabilities) -> wire::SignIn {
    let second_factors_shown = matches!(
        s.status,
        SignInStatus::NeedsSecondFactor | SignInStatus::Complete
    ) && !s.supported_second_factors.is_empty();
    wire::SignIn {
        object: "sign_in_attempt",
        id: s.id.clone(),
        status: s.status.as_str().to_owned(),
        supported_identifiers: supported_identifiers(caps),
        supported_first_factors: (s.status != SignInStatus::NeedsIdentifier)
            .then(|| s.supported_first_factors.clone()),
        supported_second_factors: second_factors_shown.then(|| s.supported_second_factors.clone()),
        first_factor_verification: match (&s.oauth, &s.first_factor) {
            (Some(v), _) => Some(oauth_verification(v)),
            (None, _) if s.passkey.is_some() => Some(passkey_verification(
                VerificationStatus::Unverified,
                s.passkey.as_ref(),
                s.updated_at,
            )),
            (None, Some(f)) if f.verification.strategy == Strategy::Passkey => {
                Some(factor_verification(&f.verification, s.updated_at))
            }
            (None, Some(f)) => serde_json::to_value(verification(&f.verification)).ok(),
            (None, None) => None,
        },
        second_factor_verification: s
            .second_factor
            .as_ref()
            .map(|f| verification(&f.verification)),
        identifier: s.identifier.clone(),
        user_data: s.user_data.clone(),
        created_session_id: s.created_session_id.clone(),
        abandon_at: s.abandon_at,
    }
}

/// A session with where it was last used (`/v1/me/sessions/active`).
pub fn active_session(s: &SessionRecord, now: UnixMillis) -> serde_json::Value {
    let a = &s.activity;
    let mut activity = serde_json::Map::new();
    activity.insert("object".into(), "session_activity".into());
    activity.insert("id".into(), a.id.clone().into());
    activity.insert("is_mobile".into(), a.is_mobile.into());
    for (k, v) in [
        ("device_type", &a.device_type),
        ("browser_name", &a.browser_name),
        ("browser_version", &a.browser_version),
        ("ip_address", &a.ip_address),
        ("city", &a.city),
        ("country", &a.country),
    ] {
        if let Some(v) = v {
            activity.insert(k.into(), v.clone().into());
        }
    }
    serde_json::json!({
        "object": "session",
        "id": s.id,
        "status": s.status_at(now).as_str(),
        "expire_at": s.expire_at,
        "abandon_at": s.abandon_at,
        "last_active_at": s.last_active_at,
        "last_active_token": null,
        "actor": null,
        "latest_activity": activity,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    })
}

/// A session as the Backend API shows it: `active_session` plus whose it is and where it lives.
pub fn backend_session(s: &SessionRecord, now: UnixMillis) -> Value {
    let mut value = active_session(s, now);
    if let Value::Object(map) = &mut value {
        map.insert("client_id".into(), s.client_id.clone().into());
        map.insert("user_id".into(), s.user_id.clone().into());
        map.insert("last_active_organization_id".into(), Value::Null);
        map.remove("last_active_token");
    }
    value
}

/// A client as the Backend API shows it (`POST /v1/clients/verify`, `GET /v1/clients/{id}`).
pub fn backend_client(
    c: &super::records::ClientRecord,
    sessions: &[SessionRecord],
    now: UnixMillis,
) -> Value {
    let rendered: Vec<Value> = sessions.iter().map(|s| backend_session(s, now)).collect();
    serde_json::json!({
        "object": "client",
        "id": c.id,
        "session_ids": sessions.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        "sessions": rendered,
        "sign_in_id": c.sign_in_id,
        "sign_up_id": c.sign_up_id,
        "last_active_session_id": c.last_active_session_id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// A JWT template from the settings, as the Backend API shows it. Its id is `jtmp_<name>`;
/// settings have no history, so both times are 0.
pub fn jwt_template(name: &str, t: &crate::settings::JwtTemplate) -> Value {
    serde_json::json!({
        "object": "jwt_template",
        "id": format!("jtmp_{name}"),
        "name": name,
        "claims": t.claims,
        "lifetime": t.lifetime_secs,
        "allowed_clock_skew": crate::clock::duration_secs(crate::security::SESSION_TOKEN_NOT_BEFORE_SKEW),
        "custom_signing_key": false,
        "signing_algorithm": "RS256",
        "created_at": 0,
        "updated_at": 0,
    })
}
