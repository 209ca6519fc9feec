//! The user's own requests (`/v1/me`): profile, identifiers, password, TOTP, backup codes,
//! account deletion — acting for the session named by `_clerk_session_id`, else the client's
//! last active one.
//!
//! ```text
//!   identifier:  add (guard claimed) ──prepare──► code sent ──attempt ok──► verified ──► may be primary
//!                 └──────────────── delete (guard released; never the last sign-in identifier)
//!   TOTP:        POST /totp ──► pending secret ──attempt ok──► enabled (+ backup codes) ──DELETE──► off
//!   password:    change (current required, optionally sign out elsewhere) / remove (another factor must remain)
//! ```
//!
//! Every change is one transaction guarded by the user's version; a lost race is retried on fresh
//! state by the caller, so concurrent edits of different fields all land. Wrong current
//! passwords and wrong codes count toward the lockout.

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::http::{Field, Params};
use crate::identifiers;
use crate::model::records::{
    EmailAddressRecord, PhoneNumberRecord, SessionStatus, UserRecord, VerificationStatus,
};
use crate::model::render;
use crate::password;
use crate::random;
use crate::repo::Repo;
use crate::store::keys::IdentifierKind;
use crate::store::{StoreError, Write};
use crate::totp;

use super::client::Current;
use super::lockout;
use super::session;
use super::verification::{self, Destination, Purpose};

/// Backup codes handed out at a time (Clerk gives 10).
pub const BACKUP_CODE_COUNT: usize = 10;
/// Characters in one backup code.
pub const BACKUP_CODE_CHARS: usize = 10;
/// Longest `unsafe_metadata` accepted, serialised (Clerk's limit is 8 KB).
pub const METADATA_MAX_BYTES: usize = 8 * 1024;
const NAME_MAX_CHARS: usize = 256;

/// The user a `/v1/me` request acts for, with the client it came through.
#[derive(Debug, Clone)]
pub struct Acting {
    pub current: Current,
    pub session_id: String,
    pub user: UserRecord,
}

/// Finds the acting session and loads its user. No active session: 401 `signed_out`.
pub async fn acting(app: &App, current: Current, requested: Option<&str>) -> Result<Acting> {
    let s = session::acting(app, &current, requested)?;
    let session_id = s.id.clone();
    let user = app
        .repo
        .load_user(&s.user_id)
        .await?
        .ok_or_else(session::signed_out)?;
    Ok(Acting {
        current,
        session_id,
        user,
    })
}

/// A guard write that failed means someone else holds the identifier.
fn map_guard_failure(e: StoreError, guards: usize, param: &str) -> Error {
    match e {
        StoreError::ConditionFailed { index } if index < guards => {
            Error::new(Code::FormIdentifierExists).param(param)
        }
        other => other.into(),
    }
}

/// Stores the user (and any guard changes, listed first) in one transaction.
async fn save(app: &App, a: &mut Acting, mut guards: Vec<Write>, param: &str) -> Result<()> {
    a.user.updated_at = app.now_ms();
    let n = guards.len();
    guards.push(Repo::user_write(&a.user)?);
    app.repo
        .commit(guards)
        .await
        .map_err(|e| map_guard_failure(e, n, param))?;
    a.user.version += 1;
    Ok(())
}

/// Counts a failed check toward the lockout, stores it, and answers `error` (or `user_locked`).
async fn fail(app: &App, a: &mut Acting, error: Error) -> Result<()> {
    let answer = lockout::record_failure(&mut a.user, app.now_ms(), error);
    save(app, a, Vec::new(), "").await?;
    Err(answer)
}

fn ensure_enabled(app: &App, attribute: &str, param: &str) -> Result<()> {
    if app.settings.attribute(attribute).is_some_and(|a| a.enabled) {
        Ok(())
    } else {
        Err(Error::new(Code::FormParamUnknown)
            .param(param)
            .long(format!("{param} is not enabled for this application.")))
    }
}

fn verified(v: Option<&crate::model::records::VerificationRecord>) -> bool {
    v.is_some_and(|v| v.status == VerificationStatus::Verified)
}

/// `PATCH /v1/me`.
pub async fn update_profile(app: &App, a: &mut Acting, params: &Params) -> Result<()> {
    let mut guards = Vec::new();
    for field in ["first_name", "last_name"] {
        let value = match params.field(field) {
            Field::Absent => continue,
            Field::Null => None,
            Field::Value(v) => {
                let v = v.trim();
                if v.chars().count() > NAME_MAX_CHARS {
                    return Err(Error::new(Code::FormParamMaxLengthExceeded).param(field));
                }
                Some(v.to_owned()).filter(|v| !v.is_empty())
            }
        };
        ensure_enabled(app, field, field)?;
        match field {
            "first_name" => a.user.first_name = value,
            _ => a.user.last_name = value,
        }
    }
    match params.field("username") {
        Field::Absent => {}
        Field::Null => {
            ensure_enabled(app, "username", "username")?;
            if app.settings.attributes.username.required {
                return Err(Error::missing("username"));
            }
            if let Some(old) = a.user.username.take() {
                guards.push(Repo::release_identifier_write(
                    IdentifierKind::Username,
                    &old,
                ));
            }
        }
        Field::Value(raw) => {
            ensure_enabled(app, "username", "username")?;
            let new = identifiers::normalise_username(raw, "username")?;
            if a.user.username.as_deref() != Some(new.as_str()) {
                guards.push(Repo::claim_identifier_write(
                    IdentifierKind::Username,
                    &new,
                    &a.user.id,
                )?);
                if let Some(old) = a.user.username.replace(new) {
                    guards.push(Repo::release_identifier_write(
                        IdentifierKind::Username,
                        &old,
                    ));
                }
            }
        }
    }
    if let Some(id) = params.str("primary_email_address_id") {
        let e = a
            .user
            .email_addresses
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::not_found().param("primary_email_address_id"))?;
        if !verified(e.verification.as_ref()) {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("primary_email_address_id")
                .long("Only a verified email address can become primary."));
        }
        a.user.primary_email_address_id = Some(id.to_owned());
    }
    if let Some(id) = params.str("primary_phone_number_id") {
        let p = a
            .user
            .phone_numbers
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::not_found().param("primary_phone_number_id"))?;
        if !verified(p.verification.as_ref()) {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("primary_phone_number_id")
                .long("Only a verified phone number can become primary."));
        }
        a.user.primary_phone_number_id = Some(id.to_owned());
    }
    if let Some(metadata) = params.object("unsafe_metadata")? {
        check_metadata_size(&metadata)?;
        a.user.unsafe_metadata = metadata;
    }
    save(app, a, guards, "username").await
}

fn check_metadata_size(m: &Map<String, Value>) -> Result<()> {
    if Value::Object(m.clone()).to_string().len() > METADATA_MAX_BYTES {
        return Err(Error::new(Code::FormParamValueTooLarge).param("unsafe_metadata"));
    }
    Ok(())
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// `PATCH /v1/me/metadata`: merges `unsafe_metadata` into the user's.
pub async fn merge_metadata(app: &App, a: &mut Acting, params: &Params) -> Result<()> {
    let patch = params
        .object("unsafe_metadata")?
        .ok_or_else(|| Error::missing("unsafe_metadata"))?;
    let mut merged = Value::Object(std::mem::take(&mut a.user.unsafe_metadata));
    merge_patch(&mut merged, &Value::Object(patch));
    a.user.unsafe_metadata = match merged {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    check_metadata_size(&a.user.unsafe_metadata)?;
    save(app, a, Vec::new(), "").await
}

/// The identifiers this user could sign in with, under this instance's settings.
fn sign_in_identifiers(app: &App, u: &UserRecord) -> usize {
    let s = &app.settings.attributes;
    let emails = if s.email_address.used_for_first_factor {
        u.email_addresses
            .iter()
            .filter(|e| verified(e.verification.as_ref()))
            .count()
    } else {
        0
    };
    let phones = if s.phone_number.used_for_first_factor {
        u.phone_numbers
            .iter()
            .filter(|p| verified(p.verification.as_ref()))
            .count()
    } else {
        0
    };
    let username = usize::from(s.username.used_for_first_factor && u.username.is_some());
    emails + phones + username
}

/// `POST /v1/me/email_addresses`: adds an unverified email address (its guard is claimed now,
/// so nobody else can take it while it waits for its code).
pub async fn add_email(app: &App, a: &mut Acting, params: &Params) -> Result<EmailAddressRecord> {
    ensure_enabled(app, "email_address", "email_address")?;
    let email = identifiers::normalise_email(params.required("email_address")?, "email_address")?;
    if a.user
        .email_addresses
        .iter()
        .any(|e| e.email_address == email)
    {
        return Err(Error::new(Code::FormIdentifierExists).param("email_address"));
    }
    let now = app.now_ms();
    let record = EmailAddressRecord {
        id: random::object_id(app.random.as_ref(), "idn"),
        email_address: email.clone(),
        verification: None,
        created_at: now,
        updated_at: now,
    };
    a.user.email_addresses.push(record.clone());
    let guard = Repo::claim_identifier_write(IdentifierKind::Email, &email, &a.user.id)?;
    save(app, a, vec![guard], "email_address").await?;
    Ok(record)
}

/// `POST /v1/me/phone_numbers`.
pub async fn add_phone(app: &App, a: &mut Acting, params: &Params) -> Result<PhoneNumberRecord> {
    ensure_enabled(app, "phone_number", "phone_number")?;
    let phone = identifiers::normalise_phone(params.required("phone_number")?, "phone_number")?;
    if a.user.phone_numbers.iter().any(|p| p.phone_number == phone) {
        return Err(Error::new(Code::FormIdentifierExists).param("phone_number"));
    }
    let now = app.now_ms();
    let record = PhoneNumberRecord {
        id: random::object_id(app.random.as_ref(), "idn"),
        phone_number: phone.clone(),
        verification: None,
        reserved_for_second_factor: false,
        default_second_factor: false,
        created_at: now,
        updated_at: now,
    };
    a.user.phone_numbers.push(record.clone());
    let guard = Repo::claim_identifier_write(IdentifierKind::Phone, &phone, &a.user.id)?;
    save(app, a, vec![guard], "phone_number").await?;
    Ok(record)
}

pub fn email<'a>(a: &'a Acting, id: &str) -> Result<&'a EmailAddressRecord> {
    a.user
        .email_addresses
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(Error::not_found)
}

pub fn phone<'a>(a: &'a Acting, id: &str) -> Result<&'a PhoneNumberRecord> {
    a.user
        .phone_numbers
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(Error::not_found)
}

/// Which identification a verification request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identification {
    Email,
    Phone,
}

impl Identification {
    fn strategy(self) -> &'static str {
        match self {
            Identification::Email => "email_code",
            Identification::Phone => "phone_code",
        }
    }
}

fn verification_slot<'a>(
    a: &'a mut Acting,
    kind: Identification,
    id: &str,
) -> Result<(
    String,
    &'a mut Option<crate::model::records::VerificationRecord>,
)> {
    match kind {
        Identification::Email => {
            let e = a
                .user
                .email_addresses
                .iter_mut()
                .find(|e| e.id == id)
                .ok_or_else(Error::not_found)?;
            Ok((e.email_address.clone(), &mut e.verification))
        }
        Identification::Phone => {
            let p = a
                .user
                .phone_numbers
                .iter_mut()
                .find(|p| p.id == id)
                .ok_or_else(Error::not_found)?;
            Ok((p.phone_number.clone(), &mut p.verification))
        }
    }
}

/// `POST /v1/me/{email_addresses|phone_numbers}/{id}/prepare_verification`.
pub async fn prepare_identification(
    app: &App,
    a: &mut Acting,
    kind: Identification,
    id: &str,
    params: &Params,
) -> Result<()> {
    let strategy = params.required("strategy")?;
    if strategy != kind.strategy() {
        return Err(Error::new(Code::VerificationStrategyInvalid).param("strategy"));
    }
    let (to, slot) = verification_slot(a, kind, id)?;
    if verified(slot.as_ref()) {
        return Err(Error::new(Code::VerificationAlreadyVerified));
    }
    let dest = match kind {
        Identification::Email => Destination::email(&to),
        Identification::Phone => Destination::sms(&to),
    };
    let v = verification::prepare(app, strategy, &dest, Purpose::Verify, slot.as_ref()).await?;
    *slot = Some(v);
    save(app, a, Vec::new(), "").await
}

/// `POST /v1/me/{email_addresses|phone_numbers}/{id}/attempt_verification`.
pub async fn attempt_identification(
    app: &App,
    a: &mut Acting,
    kind: Identification,
    id: &str,
    params: &Params,
) -> Result<()> {
    let code = params.required("code")?;
    lockout::ensure_unlocked(&mut a.user, app.now_ms())?;
    let (_, slot) = verification_slot(a, kind, id)?;
    let v = slot.as_mut().ok_or_else(|| {
        Error::new(Code::VerificationMissing)
            .long("Request a code with prepare_verification first.")
    })?;
    match verification::attempt(app, v, code) {
        Ok(verification::Attempt::Verified) => save(app, a, Vec::new(), "").await,
        Ok(other) => fail(app, a, verification::attempt_error(other)).await,
        Err(e) => {
            save(app, a, Vec::new(), "").await?;
            Err(e)
        }
    }
}

/// `DELETE /v1/me/{email_addresses|phone_numbers}/{id}`. The last identifier the user can
/// sign in with stays; a removed primary passes to another verified identifier.
pub async fn delete_identification(
    app: &App,
    a: &mut Acting,
    kind: Identification,
    id: &str,
) -> Result<()> {
    let before = sign_in_identifiers(app, &a.user);
    let attrs = &app.settings.attributes;
    let u = &mut a.user;
    let release = match kind {
        Identification::Email => {
            let e = remove_identification(
                &mut u.email_addresses,
                &mut u.primary_email_address_id,
                id,
                attrs.email_address.required,
            )?;
            Repo::release_identifier_write(IdentifierKind::Email, &e.email_address)
        }
        Identification::Phone => {
            let p = remove_identification(
                &mut u.phone_numbers,
                &mut u.primary_phone_number_id,
                id,
                attrs.phone_number.required,
            )?;
            if p.reserved_for_second_factor {
                note_mfa_change(app, u);
            }
            Repo::release_identifier_write(IdentifierKind::Phone, &p.phone_number)
        }
    };
    if before > 0 && sign_in_identifiers(app, &a.user) == 0 {
        return Err(Error::new(Code::LastRequiredIdentificationDeletionFailed));
    }
    save(app, a, vec![release], "").await
}

/// An email address or phone number on a user.
trait IdentificationRecord: Clone {
    fn id(&self) -> &str;
    fn is_verified(&self) -> bool;
}

impl IdentificationRecord for EmailAddressRecord {
    fn id(&self) -> &str {
        &self.id
    }

    fn is_verified(&self) -> bool {
        verified(self.verification.as_ref())
    }
}

impl IdentificationRecord for PhoneNumberRecord {
    fn id(&self) -> &str {
        &self.id
    }

    fn is_verified(&self) -> bool {
        verified(self.verification.as_ref())
    }
}

/// Takes identification `id` out of `list`; a removed primary passes to another verified one,
/// and a required kind keeps at least one primary.
fn remove_identification<T: IdentificationRecord>(
    list: &mut Vec<T>,
    primary: &mut Option<String>,
    id: &str,
    required: bool,
) -> Result<T> {
    let removed = list
        .iter()
        .find(|x| x.id() == id)
        .cloned()
        .ok_or_else(Error::not_found)?;
    list.retain(|x| x.id() != id);
    if primary.as_deref() == Some(id) {
        *primary = list
            .iter()
            .find(|x| x.is_verified())
            .map(|x| x.id().to_owned());
    }
    if required && primary.is_none() {
        return Err(Error::new(Code::LastRequiredIdentificationDeletionFailed));
    }
    Ok(removed)
}

fn has_second_factor(u: &UserRecord) -> bool {
    u.totp_secret.is_some() || u.phone_numbers.iter().any(|p| p.reserved_for_second_factor)
}

/// Keeps `mfa_enabled_at` / `mfa_disabled_at` in step with the user's second factors.
fn note_mfa_change(app: &App, u: &mut UserRecord) {
    let now = app.now_ms();
    if has_second_factor(u) {
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

/// `PATCH /v1/me/phone_numbers/{id}`: reserve a verified number for SMS second factor, or make
/// it the default one.
pub async fn update_phone(app: &App, a: &mut Acting, id: &str, params: &Params) -> Result<()> {
    let reserve = params.bool("reserved_for_second_factor")?;
    let default = params.bool("default_second_factor")?;
    let sms_2fa = app.settings.attributes.phone_number.used_for_second_factor
        && app
            .settings
            .attributes
            .phone_number
            .second_factors
            .iter()
            .any(|f| f == "phone_code");
    if (reserve == Some(true) || default == Some(true)) && !sms_2fa {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("reserved_for_second_factor")
            .long("SMS second factors are not enabled for this application."));
    }
    let p = a
        .user
        .phone_numbers
        .iter_mut()
        .find(|p| p.id == id)
        .ok_or_else(Error::not_found)?;
    if (reserve == Some(true) || default == Some(true)) && !verified(p.verification.as_ref()) {
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
    p.updated_at = app.now_ms();
    let this_default = default == Some(true);
    if this_default {
        for other in a.user.phone_numbers.iter_mut() {
            other.default_second_factor = other.id == id;
        }
    } else if default == Some(false)
        && let Some(p) = a.user.phone_numbers.iter_mut().find(|p| p.id == id)
    {
        p.default_second_factor = false;
    }
    // One reserved number is always the default.
    if !a.user.phone_numbers.iter().any(|p| p.default_second_factor)
        && let Some(p) = a
            .user
            .phone_numbers
            .iter_mut()
            .find(|p| p.reserved_for_second_factor)
    {
        p.default_second_factor = true;
    }
    note_mfa_change(app, &mut a.user);
    save(app, a, Vec::new(), "").await
}

/// Checks the current password; a wrong one counts toward the lockout.
async fn check_current_password(app: &App, a: &mut Acting, params: &Params) -> Result<()> {
    lockout::ensure_unlocked(&mut a.user, app.now_ms())?;
    let Some(hash) = a.user.password_hash.clone() else {
        return Ok(());
    };
    let current = params.required("current_password")?;
    if app.passwords.verify(&hash, current).await? {
        return Ok(());
    }
    fail(
        app,
        a,
        Error::new(Code::FormPasswordIncorrect).param("current_password"),
    )
    .await
}

/// Revokes the user's sessions other than the acting one.
async fn other_sessions_ended(app: &App, a: &mut Acting) -> Result<Vec<Write>> {
    let now = app.now_ms();
    let mut writes = Vec::new();
    for mut s in app.repo.user_sessions(&a.user.id).await? {
        if s.id != a.session_id && render::effective_status(&s, now) == SessionStatus::Active {
            s.status = SessionStatus::Revoked;
            s.updated_at = now;
            writes.push(Repo::session_write(&s)?);
            if let Some(mine) = a
                .current
                .aggregate
                .sessions
                .iter_mut()
                .find(|m| m.id == s.id)
            {
                mine.status = SessionStatus::Revoked;
            }
        }
    }
    Ok(writes)
}

/// `POST /v1/me/change_password`.
pub async fn change_password(app: &App, a: &mut Acting, params: &Params) -> Result<()> {
    if !app.settings.attributes.password.enabled {
        return Err(Error::new(Code::FormParamUnknown).param("new_password"));
    }
    let new = params.required("new_password")?;
    password::validate(new, &app.settings.password_settings, "new_password")?;
    check_current_password(app, a, params).await?;
    if let Some(hash) = a.user.password_hash.clone()
        && app.passwords.verify(&hash, new).await?
    {
        return Err(Error::new(Code::FormNewPasswordMatchesCurrent).param("new_password"));
    }
    let now = app.now_ms();
    a.user.password_hash = Some(app.passwords.hash(new).await?);
    a.user.password_last_updated_at = Some(now);
    let ended = if params.bool("sign_out_of_other_sessions")?.unwrap_or(false) {
        other_sessions_ended(app, a).await?
    } else {
        Vec::new()
    };
    a.user.updated_at = now;
    let mut writes = ended;
    writes.push(Repo::user_write(&a.user)?);
    super::client::commit(app, writes).await?;
    a.user.version += 1;
    Ok(())
}

/// `POST /v1/me/remove_password`: only when the user can still sign in another way.
pub async fn remove_password(app: &App, a: &mut Acting, params: &Params) -> Result<()> {
    if a.user.password_hash.is_none() {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("current_password")
            .long("This account has no password."));
    }
    check_current_password(app, a, params).await?;
    let mut without = a.user.clone();
    without.password_hash = None;
    let other_factor = super::sign_in::first_factors(app, &without)
        .iter()
        .any(|f| f.strategy == "email_code" || f.strategy == "phone_code");
    if !other_factor {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("current_password")
            .long("Add a way to sign in with a code before removing the password."));
    }
    a.user.password_hash = None;
    a.user.password_last_updated_at = Some(app.now_ms());
    save(app, a, Vec::new(), "").await
}

fn totp_enabled_here(app: &App) -> Result<()> {
    let s = &app.settings.attributes.authenticator_app;
    if s.enabled && s.used_for_second_factor {
        Ok(())
    } else {
        Err(Error::new(Code::FormParamValueInvalid)
            .long("Authenticator apps are not enabled for this application."))
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
    save(app, a, Vec::new(), "").await?;
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

fn backup_codes_enabled(app: &App) -> bool {
    let s = &app.settings.attributes.backup_code;
    s.enabled && s.used_for_second_factor
}

/// `POST /v1/me/totp/attempt_verification`: enables TOTP (and hands out backup codes when the
/// user has none).
pub async fn verify_totp(app: &App, a: &mut Acting, params: &Params) -> Result<Value> {
    let code = params.required("code")?;
    lockout::ensure_unlocked(&mut a.user, app.now_ms())?;
    let pending = a.user.totp_pending_secret.clone().ok_or_else(|| {
        Error::new(Code::VerificationMissing).long("Start with POST /v1/me/totp.")
    })?;
    let Some(step) = totp::accept(&pending, code, app.clock.now_secs(), None) else {
        return fail(app, a, Error::new(Code::FormCodeIncorrect).param("code"))
            .await
            .map(|()| Value::Null);
    };
    a.user.totp_last_step = Some(step);
    a.user.totp_secret = Some(pending);
    a.user.totp_pending_secret = None;
    note_mfa_change(app, &mut a.user);
    let codes = (backup_codes_enabled(app) && a.user.backup_code_hashes.is_empty())
        .then(|| fresh_backup_codes(app, &mut a.user));
    save(app, a, Vec::new(), "").await?;
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
    save(app, a, Vec::new(), "").await
}

/// `POST /v1/me/backup_codes`: replaces every backup code with new ones (shown once).
pub async fn regenerate_backup_codes(app: &App, a: &mut Acting) -> Result<Value> {
    if !backup_codes_enabled(app) {
        return Err(Error::new(Code::FormParamValueInvalid)
            .long("Backup codes are not enabled for this application."));
    }
    if !has_second_factor(&a.user) {
        return Err(Error::new(Code::NoSecondFactors));
    }
    let codes = fresh_backup_codes(app, &mut a.user);
    save(app, a, Vec::new(), "").await?;
    let now = app.now_ms();
    Ok(json!({
        "object": "backup_code",
        "id": format!("bc_{}", a.user.id.trim_start_matches("user_")),
        "codes": codes,
        "created_at": now,
        "updated_at": now,
    }))
}

/// `DELETE /v1/me`: the user, their identifiers' guards and every session go, in one
/// transaction; the identifiers are free for anyone afterwards.
pub async fn delete_user(app: &App, a: &mut Acting) -> Result<()> {
    if !app.settings.actions.delete_self {
        return Err(Error::new(Code::UserDeleteSelfNotEnabled));
    }
    let now = app.now_ms();
    let u = &a.user;
    let mut writes = Vec::new();
    for e in &u.email_addresses {
        writes.push(Repo::release_identifier_write(
            IdentifierKind::Email,
            &e.email_address,
        ));
    }
    for p in &u.phone_numbers {
        writes.push(Repo::release_identifier_write(
            IdentifierKind::Phone,
            &p.phone_number,
        ));
    }
    if let Some(name) = &u.username {
        writes.push(Repo::release_identifier_write(
            IdentifierKind::Username,
            name,
        ));
    }
    for mut s in app.repo.user_sessions(&u.id).await? {
        if s.status == SessionStatus::Active {
            s.status = SessionStatus::Ended;
            s.updated_at = now;
            writes.push(Repo::session_write(&s)?);
        }
    }
    writes.push(crate::store::Write::delete(
        crate::store::keys::user(&u.id),
        crate::store::Condition::Version(u.version),
    ));
    for s in a.current.aggregate.sessions.iter_mut() {
        if s.user_id == u.id && s.status == SessionStatus::Active {
            s.status = SessionStatus::Ended;
        }
    }
    let user_id = u.id.clone();
    let was_last_active = a
        .current
        .aggregate
        .client
        .last_active_session_id
        .as_ref()
        .is_some_and(|sid| {
            a.current
                .aggregate
                .sessions
                .iter()
                .any(|s| &s.id == sid && s.user_id == user_id)
        });
    if was_last_active {
        let client = &mut a.current.aggregate.client;
        client.last_active_session_id = None;
        client.updated_at = now;
        writes.push(a.current.client_write()?);
    }
    super::client::commit(app, writes).await
}
