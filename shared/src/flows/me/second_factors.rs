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
use crate::repo::Repo;
use crate::totp;
use crate::vocabulary::{IdentificationKind, SecondFactor};

use super::acting::{Acting, fail, save, save_user};
use crate::flows::command::UserCommand;
use crate::flows::lockout;

/// Backup codes handed out at a time (Clerk gives 10).
pub const BACKUP_CODE_COUNT: usize = 10;
/// Characters in one backup code.
pub const BACKUP_CODE_CHARS: usize = 10;

/// `PATCH /v1/me/phone_numbers/{id}`.
#[derive(Debug, Clone, Default)]
pub struct UpdatePhone {
    pub id: String,
    pub reserved_for_second_factor: Option<bool>,
    pub default_second_factor: Option<bool>,
}

/// `POST /v1/me/totp/attempt_verification`.
#[derive(Debug, Clone)]
pub struct VerifyTotp {
    pub code: String,
}

/// `POST /v1/me/totp`.
#[derive(Debug, Clone, Copy)]
pub struct StartTotp;

/// `DELETE /v1/me/totp`.
#[derive(Debug, Clone, Copy)]
pub struct DeleteTotp;

/// `POST /v1/me/backup_codes`.
#[derive(Debug, Clone, Copy)]
pub struct RegenerateBackupCodes;

/// Keeps `mfa_enabled_at` / `mfa_disabled_at` in step with the user's second factors; without
/// a second factor, backup codes go too.
pub(crate) fn note_mfa_change(app: &App, u: &mut UserRecord) {
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
impl UserCommand for UpdatePhone {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let id = self.id.as_str();
        let cmd = self;
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
    let fields = json!({
        "secret": secret,
        "uri": uri,
        "verified": verified,
        "backup_codes": codes,
    });
    Ok(shown_once(app, "totp", a, fields))
}

/// A TOTP or backup-code object (their secrets are shown once, when made): `object`, an id
/// derived from the user's, timestamps, and `fields`.
fn shown_once(app: &App, object: &str, a: &Acting, fields: Value) -> Value {
    let prefix = if object == "totp" { "totp" } else { "bc" };
    let now = app.now_ms();
    let mut out = json!({
        "object": object,
        "id": format!("{prefix}_{}", a.user.id.trim_start_matches("user_")),
        "created_at": now,
        "updated_at": now,
    });
    if let (Some(out), Value::Object(fields)) = (out.as_object_mut(), fields) {
        out.extend(fields);
    }
    out
}

/// `POST /v1/me/totp`: a new secret to scan, pending until a code proves it.
impl UserCommand for StartTotp {
    type Output = Value;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
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
impl UserCommand for VerifyTotp {
    type Output = Value;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let cmd = self;
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
        // The code just proved the new second factor on this session: it counts as verified
        // now (`fva`), as it would at sign-in.
        let mut verified_here = Vec::new();
        let now = app.now_ms();
        if let Some(s) = a
            .current
            .aggregate
            .sessions
            .iter_mut()
            .find(|s| s.id == a.session_id)
        {
            s.second_factor_verified_at = Some(now);
            s.updated_at = now;
            verified_here.extend(Repo::session_writes(s)?);
            s.version += 1;
        }
        save(app, a, Vec::new(), "", verified_here).await?;
        totp_object(app, a, None, true, codes)
    }
}

/// `DELETE /v1/me/totp`.
impl UserCommand for DeleteTotp {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        if a.user.totp_secret.is_none() && a.user.totp_pending_secret.is_none() {
            return Err(Error::not_found());
        }
        a.user.totp_secret = None;
        a.user.totp_pending_secret = None;
        a.user.totp_last_step = None;
        note_mfa_change(app, &mut a.user);
        save_user(app, a).await
    }
}

/// `POST /v1/me/backup_codes`: replaces every backup code with new ones (shown once).
impl UserCommand for RegenerateBackupCodes {
    type Output = Value;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        if !app.capabilities.second_factor(SecondFactor::BackupCode) {
            return Err(not_enabled("Backup codes"));
        }
        if !a.user.has_second_factor() {
            return Err(Error::new(Code::NoSecondFactors));
        }
        let codes = fresh_backup_codes(app, &mut a.user);
        save_user(app, a).await?;
        Ok(shown_once(app, "backup_code", a, json!({ "codes": codes })))
    }
}
