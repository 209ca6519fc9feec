//! Second factors on the profile: a verified phone reserved for SMS codes, an authenticator app
//! (TOTP), and backup codes.
//!
//! ```text
//!   TOTP: POST /totp ──► pending secret ──attempt ok──► enabled (+ backup codes) ──DELETE──► off
//!   SMS:  verified phone ──reserved_for_second_factor──► second factor (one is the default)
//! ```

use serde_json::{Value, json};

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::UserRecord;
use crate::model::render;
use crate::random;
use crate::totp;
use crate::vocabulary::{IdentificationKind, SecondFactor};

use super::acting::{Acting, fail, save_user};
use crate::flows::lockout;

/// Backup codes handed out at a time (Clerk gives 10).
pub const BACKUP_CODE_COUNT: usize = 10;
/// Characters in one backup code.
pub const BACKUP_CODE_CHARS: usize = 10;

/// `PATCH /v1/me/phone_numbers/{id}`.
#[derive(Debug, Clone, Default)]
pub struct UpdatePhone {
    pub reserved_for_second_factor: Option<bool>,
    pub default_second_factor: Option<bool>,
}

/// `POST /v1/me/totp/attempt_verification`.
#[derive(Debug, Clone)]
pub struct VerifyTotp {
    pub code: String,
}

/// Keeps `mfa_enabled_at` / `mfa_disabled_at` in step with the user's second factors; without
/// a second factor, backup codes go too.
pub(super) fn note_mfa_change(app: &App, u: &mut UserRecord) {
    let now = app.now_ms();
    if u.has_second_factor() {
        if u.mfa_enabled_at.is_none()
            || u.mfa_disabled_at
                .is_some_and(|d| d >= u.mfa_enabled_at.unwrap_or(0))
        {
            u.mfa_enabled_at = Some(now);
        }
    } else {
        u.mfa_disabled_at = Some(now);
        u.backup_code_hashes.clear();
    }
}

fn not_enabled(what: &str) -> Error {
    Error::new(Code::FormParamValueInvalid)
        .long(format!("{what} are not enabled for this application."))
}

/// `PATCH /v1/me/phone_numbers/{id}`: reserve a verified number for SMS second factor, or make
/// it the default one.
pub async fn update_phone(app: &App, a: &mut Acting, id: &str, cmd: &UpdatePhone) -> Result<()> {
    let (reserve, default) = (cmd.reserved_for_second_factor, cmd.default_second_factor);
    let turning_on = reserve == Some(true) || default == Some(true);
    if turning_on && !app.capabilities.second_factor(SecondFactor::PhoneCode) {
        return Err(not_enabled("SMS second factors").param("reserved_for_second_factor"));
    }
    let p = a
        .user
        .identification_mut(IdentificationKind::PhoneNumber, id)
        .ok_or_else(Error::not_found)?;
    if turning_on && !p.is_verified() {
        return Err(Error::new(Code::IdentificationUpdateSecondFactorUnverified));
    }
    if let Some(r) = reserve {
        p.reserved_for_second_factor = r;
        if !r {
            p.default_second_factor = false;
        }
    }
    if default == Some(true) {
        p.reserved_for_second_factor = true;
    }
    if default == Some(false) {
        p.default_second_factor = false;
    }
    p.updated_at = app.now_ms();
    let phones = &mut a.user.phone_numbers;
    if default == Some(true) {
        for other in phones.iter_mut() {
            other.default_second_factor = other.id == id;
        }
    }
    // One reserved number is always the default.
    if !phones.iter().any(|p| p.default_second_factor)
        && let Some(p) = phones.iter_mut().find(|p| p.reserved_for_second_factor)
    {
        p.default_second_factor = true;
    }
    note_mfa_change(app, &mut a.user);
    save_user(app, a).await
}

fn totp_enabled_here(app: &App) -> Result<()> {
    if app.capabilities.second_factor(SecondFactor::Totp) {
        Ok(())
    } else {
        Err(not_enabled("Authenticator apps"))
    }
}

fn totp_object(
    app: &App,
    a: &Acting,
    secret: Option<&str>,
    verified: bool,
    codes: Option<Vec<String>>,
) -> Result<Value> {
    let account = render::display_identifier(&a.user);
    let uri = match secret {
        Some(s) => Some(totp::uri(
            s,
            &app.settings.instance.application_name,
            &account,
        )?),
        None => None,
    };
    let now = app.now_ms();
    Ok(json!({
        "object": "totp",
        "id": format!("totp_{}", a.user.id.trim_start_matches("user_")),
        "secret": secret,
        "uri": uri,
        "verified": verified,
        "backup_codes": codes,
        "created_at": now,
        "updated_at": now,
    }))
}

/// `POST /v1/me/totp`: a new secret to scan, pending until a code proves it.
pub async fn start_totp(app: &App, a: &mut Acting) -> Result<Value> {
    totp_enabled_here(app)?;
    if a.user.totp_secret.is_some() {
        return Err(Error::new(Code::TotpAlreadyEnabled));
    }
    let mut bytes = [0u8; totp::SECRET_BYTES];
    app.random.fill(&mut bytes);
    let secret = totp::secret_from_bytes(&bytes);
    a.user.totp_pending_secret = Some(secret.clone());
    save_user(app, a).await?;
    totp_object(app, a, Some(&secret), false, None)
}

/// New backup codes: shown once, stored only as keyed hashes.
fn fresh_backup_codes(app: &App, u: &mut UserRecord) -> Vec<String> {
    let codes: Vec<String> = (0..BACKUP_CODE_COUNT)
        .map(|_| random::base62(app.random.as_ref(), BACKUP_CODE_CHARS).to_lowercase())
        .collect();
    u.backup_code_hashes = codes.iter().map(|c| app.codes.hash(c)).collect();
    codes
}

/// `POST /v1/me/totp/attempt_verification`: enables TOTP (and hands out backup codes when the
/// user has none).
pub async fn verify_totp(app: &App, a: &mut Acting, cmd: &VerifyTotp) -> Result<Value> {
    lockout::ensure_unlocked(&mut a.user, app.now_ms())?;
    let pending = a.user.totp_pending_secret.clone().ok_or_else(|| {
        Error::new(Code::VerificationMissing).long("Start with POST /v1/me/totp.")
    })?;
    let Some(step) = totp::accept(&pending, &cmd.code, app.clock.now_secs(), None) else {
        return fail(app, a, Error::new(Code::FormCodeIncorrect).param("code")).await;
    };
    a.user.totp_last_step = Some(step);
    a.user.totp_secret = Some(pending);
    a.user.totp_pending_secret = None;
    note_mfa_change(app, &mut a.user);
    let codes = (app.capabilities.second_factor(SecondFactor::BackupCode)
        && a.user.backup_code_hashes.is_empty())
    .then(|| fresh_backup_codes(app, &mut a.user));
    save_user(app, a).await?;
    totp_object(app, a, None, true, codes)
}

/// `DELETE /v1/me/totp`.
pub async fn delete_totp(app: &App, a: &mut Acting) -> Result<()> {
    if a.user.totp_secret.is_none() && a.user.totp_pending_secret.is_none() {
        return Err(Error::not_found());
    }
    a.user.totp_secret = None;
    a.user.totp_pending_secret = None;
    a.user.totp_last_step = None;
    note_mfa_change(app, &mut a.user);
    save_user(app, a).await
}

/// `POST /v1/me/backup_codes`: replaces every backup code with new ones (shown once).
pub async fn regenerate_backup_codes(app: &App, a: &mut Acting) -> Result<Value> {
    if !app.capabilities.second_factor(SecondFactor::BackupCode) {
        return Err(not_enabled("Backup codes"));
    }
    if !a.user.has_second_factor() {
        return Err(Error::new(Code::NoSecondFactors));
    }
    let codes = fresh_backup_codes(app, &mut a.user);
    save_user(app, a).await?;
    let now = app.now_ms();
    Ok(json!({
        "object": "backup_code",
        "id": format!("bc_{}", a.user.id.trim_start_matches("user_")),
        "codes": codes,
        "created_at": now,
        "updated_at": now,
    }))
}
