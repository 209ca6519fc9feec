//! The Environment object (`GET /v1/environment`), rendered from the instance settings.
//!
//! clerk-js and Clerk's UI components decide which fields and strategies to offer from this
//! object, so it must say exactly what the endpoints accept: the strategies come from the
//! capability policy (`crate::capabilities`) that the flows ask too. Remote-code features (captcha,
//! Protect loaders) are always off: a self-hosted instance must not make browsers load
//! third-party scripts.

use serde_json::{Value, json};

use crate::capabilities::Capabilities;
use crate::settings::{EnvironmentType, SessionMode, Settings, SignUpMode};
use crate::vocabulary::{FirstFactor, IdentificationKind};

/// Stable ids for the singleton config objects (Clerk gives them ids; nothing refers to them).
const AUTH_CONFIG_ID: &str = "aac_frontdoor";
const DISPLAY_CONFIG_ID: &str = "display_config_frontdoor";

fn on_off(enabled: bool, required: bool) -> &'static str {
    match (enabled, required) {
        (_, true) => "required",
        (true, false) => "on",
        (false, false) => "off",
    }
}

pub fn environment(settings: &Settings, caps: &Capabilities) -> Value {
    let a = &settings.attributes;
    let i = &settings.instance;
    let identification_strategies: Vec<&str> = caps
        .sign_in_identifiers
        .iter()
        .map(|k| k.as_str())
        .collect();
    let first_factors: Vec<&str> = caps.first_factors.iter().map(|f| f.as_str()).collect();
    let second_factors: Vec<&str> = caps.second_factors.iter().map(|f| f.as_str()).collect();
    let identification_requirements: Vec<Vec<&str>> =
        identification_strategies.iter().map(|s| vec![*s]).collect();
    let home = i
        .home_url
        .clone()
        .unwrap_or_else(|| i.frontend_api_url.clone());
    let environment_type = match i.environment {
        EnvironmentType::Development => "development",
        EnvironmentType::Production => "production",
    };
    let attributes = json!({
        "email_address": a.email_address,
        "phone_number": a.phone_number,
        "username": a.username,
        "web3_wallet": a.web3_wallet,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "password": a.password,
        "authenticator_app": a.authenticator_app,
        "ticket": a.ticket,
        "backup_code": a.backup_code,
        "passkey": a.passkey,
    });
    json!({
        "auth_config": {
            "object": "auth_config",
            "id": AUTH_CONFIG_ID,
            "first_name": on_off(a.first_name.enabled, a.first_name.required),
            "last_name": on_off(a.last_name.enabled, a.last_name.required),
            "email_address": on_off(a.email_address.enabled, a.email_address.required),
            "phone_number": on_off(a.phone_number.enabled, a.phone_number.required),
            "username": on_off(a.username.enabled, a.username.required),
            "password": on_off(a.password.enabled, a.password.required),
            "identification_requirements": identification_requirements,
            "identification_strategies": identification_strategies,
            "first_factors": first_factors,
            "second_factors": second_factors,
            "email_address_verification_strategies":
                caps.verifications(IdentificationKind::EmailAddress),
            "single_session_mode": settings.sessions.mode == SessionMode::Single,
            "enhanced_email_deliverability": false,
            "test_mode": settings.is_development(),
            "cookieless_dev": false,
            "url_based_session_syncing": false,
            "claimed_at": null,
            "reverification": false,
            "native_settings": {
                "object": "native_settings",
                "api_enabled": i.native_api,
                "trusted_device_sign_in_enabled": false,
                "trusted_device_enrollment_prompt_after_sign_in_enabled": false,
                "trusted_device_enrollment_prompt_after_sign_up_enabled": false,
            },
        },
        "display_config": {
            "object": "display_config",
            "id": DISPLAY_CONFIG_ID,
            "instance_environment_type": environment_type,
            "application_name": i.application_name,
            "theme": {},
            "preferred_sign_in_strategy":
                if caps.first_factor(FirstFactor::Password) { "password" } else { "otp" },
            "logo_image_url": null,
            "favicon_image_url": null,
            "home_url": home,
            "sign_in_url": home,
            "sign_up_url": home,
            "user_profile_url": home,
            "waitlist_url": home,
            "oauth_consent_url": home,
            "after_sign_in_url": home,
            "after_sign_up_url": home,
            "after_sign_out_one_url": home,
            "after_sign_out_all_url": home,
            "after_switch_session_url": home,
            "after_join_waitlist_url": home,
            "organization_profile_url": home,
            "create_organization_url": home,
            "after_leave_organization_url": home,
            "after_create_organization_url": home,
            "logo_link_url": home,
            "support_email": i.support_email,
            "branded": false,
            "experimental_force_oauth_first": false,
            "clerk_js_version": null,
            "show_devmode_warning": false,
            "google_one_tap_client_id": null,
            "help_url": null,
            "privacy_policy_url": null,
            "terms_url": null,
            "logo_url": null,
            "favicon_url": null,
            "logo_image": null,
            "favicon_image": null,
            "captcha_public_key": null,
            "captcha_widget_type": null,
            "captcha_public_key_invisible": null,
            "captcha_provider": null,
            "captcha_oauth_bypass": [],
            "captcha_heartbeat": false,
        },
        "user_settings": {
            "attributes": attributes,
            "social": social(settings),
            "saml": { "enabled": false },
            "enterprise_sso": { "enabled": false },
            "sign_in": {
                "second_factor": { "required": false },
            },
            "sign_up": {
                "captcha_enabled": false,
                "captcha_widget_type": "smart",
                "custom_action_required": false,
                "progressive": true,
                "mode": match settings.sign_up.mode {
                    SignUpMode::Public => "public",
                    SignUpMode::Restricted => "restricted",
                },
                "legal_consent_enabled": settings.sign_up.legal_consent_enabled,
            },
            "restrictions": {
                "allowlist": { "enabled": false },
                "blocklist": { "enabled": false },
                "allowlist_blocklist_disabled_on_sign_in": { "enabled": false },
                "block_email_subaddresses": { "enabled": false },
                "block_disposable_email_domains": { "enabled": false },
            },
            "password_settings": {
                "disable_hibp": true,
                "disable_password_reverification": true,
                "min_length": settings.password_settings.min_length,
                "max_length": settings.password_settings.max_length,
                "require_special_char": false,
                "require_numbers": false,
                "require_uppercase": false,
                "require_lowercase": false,
                "show_zxcvbn": false,
                "min_zxcvbn_strength": 0,
                "enforce_hibp_on_sign_in": false,
                "allowed_special_characters": "",
            },
            "username_settings": {
                "min_length": 4,
                "max_length": 64,
                "allow_extended_special_characters": false,
                "allow_numeric_usernames": false,
            },
            "actions": {
                "delete_self": settings.actions.delete_self,
                "create_organization": false,
                "create_organizations_limit": null,
            },
            "attack_protection": {
                "user_lockout": {
                    "enabled": true,
                    "max_attempts": crate::security::LOCKOUT_MAX_ATTEMPTS,
                    "duration_in_minutes": crate::security::LOCKOUT_DURATION.as_secs() / 60,
                },
                "pii": { "enabled": false },
                "email_link": {
                    "require_same_client": settings.email_links.require_same_client,
                },
                "enumeration_protection": { "enabled": false },
            },
            "passkey_settings": {
                "allow_autofill": settings.passkeys.allow_autofill,
                "show_sign_in_button": settings.passkeys.show_sign_in_button,
                "satisfies_second_factor": settings.passkeys.satisfies_second_factor,
            },
        },
        "organization_settings": {
            "enabled": false,
            "max_allowed_memberships": 0,
            "actions": { "admin_delete": false },
            "domains": {
                "enabled": false,
                "enrollment_modes": [],
                "default_role": "org:member",
            },
            "slug": { "disabled": true },
            "creator_role": "org:admin",
        },
        "fraud_settings": {
            "object": "fraud_settings",
            "native": { "device_attestation_mode": "disabled" },
        },
        "commerce_settings": {
            "billing": {
                "stripe_publishable_key": null,
                "free_trial_requires_payment_method": false,
                "user": { "enabled": false, "has_paid_plans": false },
                "organization": { "enabled": false, "has_paid_plans": false },
            },
        },
        "api_keys_settings": {
            "enabled": false,
            "user_api_keys_enabled": false,
            "orgs_api_keys_enabled": false,
        },
        "protect_config": { "loaders": [] },
        "client_debug_mode": false,
        "partitioned_cookies": false,
        "maintenance_mode": false,
    })
}

/// `user_settings.social`: each configured connection, under its strategy.
fn social(settings: &Settings) -> Value {
    let mut out = serde_json::Map::new();
    for (key, s) in &settings.social {
        // The settings were validated at start; a secret is not needed to describe a button.
        let Ok(p) = crate::providers::catalog::resolve(
            key,
            s,
            crate::providers::catalog::ClientSecret::Static("-".into()),
        ) else {
            continue;
        };
        out.insert(
            p.strategy.clone(),
            json!({
                "enabled": p.enabled,
                "required": false,
                "authenticatable": p.authenticatable,
                "block_email_subaddresses": false,
                "strategy": p.strategy,
                "not_selectable": false,
                "deprecated": false,
                "name": p.name,
                "logo_url": p.logo_url,
            }),
        );
    }
    Value::Object(out)
}
