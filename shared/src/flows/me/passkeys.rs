//! Passkeys on the profile: register one, name it, remove it.
//!
//! ```text
//!   POST /me/passkeys ──► registering: creation options (the verification's nonce), 5 min
//!     └─ attempt_verification (the browser's attestation) ──ok──► registered: credential id
//!          claimed (guard), public key and counter kept   ──refused──► failed, nonce gone
//!   PATCH /me/passkeys/{id} (name)        DELETE /me/passkeys/{id} ──► guard released
//!                                          (never the account's last way in)
//! ```
//!
//! A user has at most one registration under way (a new one replaces it) and at most
//! [`crate::security::PASSKEYS_PER_USER_MAX`] passkeys. The challenge is used once: a refused
//! answer ends the registration.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::{PasskeyRecord, UserRecord, VerificationStatus};
use crate::model::render;
use crate::passkeys::RelyingParty;
use crate::random;
use crate::repo::Repo;
use crate::security;
use crate::store::Write;

use super::acting::{Acting, save, save_user};
use crate::flows::command::UserCommand;
use crate::flows::sign_in::state::{WayIn, signs_in_without};

/// `POST /v1/me/passkeys`.
#[derive(Debug, Clone, Default)]
pub struct CreatePasskey {
    /// The browser's `User-Agent`, to name the passkey after the device ("Chrome on macOS").
    pub user_agent: Option<String>,
}

/// `POST /v1/me/passkeys/{id}/attempt_verification`.
#[derive(Debug, Clone)]
pub struct VerifyPasskey {
    pub id: String,
    /// The browser's answer, as clerk-js serialises it (JSON).
    pub public_key_credential: String,
}

/// `PATCH /v1/me/passkeys/{id}`.
#[derive(Debug, Clone)]
pub struct RenamePasskey {
    pub id: String,
    pub name: String,
}

/// `DELETE /v1/me/passkeys/{id}`.
#[derive(Debug, Clone)]
pub struct DeletePasskey {
    pub id: String,
}

/// The relying party, when passkeys are on.
pub(crate) fn relying_party(app: &App) -> Result<&RelyingParty> {
    app.passkeys.as_ref().ok_or_else(|| {
        Error::new(Code::FormParamValueInvalid)
            .long("Passkeys are not enabled for this application.")
    })
}

/// A name for a passkey made in the browser `user_agent` names: "<browser> on <system>".
pub fn device_name(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("Passkey on {s}"),
        (None, None) => "Passkey".to_owned(),
    }
}

/// The credential ids of the user's registered passkeys.
pub(crate) fn registered_ids(u: &UserRecord) -> Vec<String> {
    u.passkeys
        .iter()
        .filter(|p| p.is_registered())
        .filter_map(|p| p.credential_id.clone())
        .collect()
}

/// `POST /v1/me/passkeys`: creation options for a new passkey.
impl UserCommand for CreatePasskey {
    type Output = PasskeyRecord;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let rp = relying_party(app)?;
        // A registration left unanswered (or refused) makes room for this one.
        a.user.passkeys.retain(PasskeyRecord::is_registered);
        if a.user.passkeys.len() >= security::PASSKEYS_PER_USER_MAX {
            return Err(Error::new(Code::PasskeyQuotaExceeded));
        }
        let now = app.now_ms();
        // Authenticators show these; webauthn-rs refuses empty ones.
        let name = Some(render::display_identifier(&a.user))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| a.user.id.clone());
        let full = [&a.user.first_name, &a.user.last_name]
            .iter()
            .filter_map(|n| n.as_deref().map(str::trim).filter(|n| !n.is_empty()))
            .collect::<Vec<_>>()
            .join(" ");
        let display = if full.is_empty() { name.clone() } else { full };
        let expire_at = now + crate::clock::duration_ms(security::PASSKEY_CEREMONY_LIFETIME);
        let ceremony = rp.begin_registration(
            &a.user.id,
            (&name, &display),
            &registered_ids(&a.user),
            expire_at,
        )?;
        let passkey = PasskeyRecord {
            id: random::object_id(app.random.as_ref(), "pk"),
            name: device_name(self.user_agent.as_deref()),
            status: VerificationStatus::Unverified,
            ceremony: Some(ceremony),
            credential_id: None,
            credential: None,
            last_used_at: None,
            created_at: now,
            updated_at: now,
        };
        a.user.passkeys.push(passkey.clone());
        save_user(app, a).await?;
        Ok(passkey)
    }
}

/// `POST /v1/me/passkeys/{id}/attempt_verification`: checks the browser's attestation, and
/// registers the passkey.
impl UserCommand for VerifyPasskey {
    type Output = PasskeyRecord;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let rp = relying_party(app)?;
        let now = app.now_ms();
        let p = a
            .user
            .passkeys
            .iter_mut()
            .find(|p| p.id == self.id)
            .ok_or_else(Error::not_found)?;
        // Not an answer at all: refused, the registration left as it was.
        let answer = RelyingParty::registration(&self.public_key_credential)?;
        if p.is_registered() {
            return Err(Error::new(Code::VerificationAlreadyVerified));
        }
        let Some(ceremony) = p.ceremony.take().filter(|c| c.expire_at > now) else {
            // Spent (refused before) or expired: the challenge can never be answered again.
            p.status = VerificationStatus::Expired;
            let err = Error::new(Code::PasskeyInvalidVerification);
            save_user(app, a).await?;
            return Err(err);
        };
        p.updated_at = now;
        let registered = match rp.finish_registration(&ceremony, &answer) {
            Ok(r) => r,
            Err(e) => {
                p.status = VerificationStatus::Failed;
                save_user(app, a).await?;
                return Err(e);
            }
        };
        let already = || {
            Error::new(Code::PasskeyInvalidPublicKeyCredential)
                .param("public_key_credential")
                .long("This passkey is already registered.")
        };
        if registered_ids(&a.user).contains(&registered.credential_id) {
            return spend(app, a, &self.id, already()).await;
        }
        let claim = Repo::claim_passkey_write(&registered.credential_id, &a.user.id)?;
        let credential_id = registered.credential_id.clone();
        let Some(p) = a.user.passkeys.iter_mut().find(|p| p.id == self.id) else {
            return Err(Error::not_found());
        };
        p.status = VerificationStatus::Verified;
        p.credential_id = Some(registered.credential_id);
        p.credential = Some(registered.credential);
        let out = p.clone();
        match save(app, a, vec![claim], "public_key_credential", Vec::new()).await {
            Ok(()) => Ok(out),
            Err(e) if e.code == Code::FormIdentifierExists => {
                let owner = app.repo.passkey_owner(&credential_id).await?;
                if owner.as_deref() == Some(a.user.id.as_str()) {
                    // The same answer registered it a moment ago (a double submit): tried
                    // again on fresh state, it finds the passkey registered.
                    return Err(Error::conflict());
                }
                // Another account holds the credential: this registration is over.
                let fresh = app.repo.load_user(&a.user.id).await?;
                a.user = fresh.ok_or_else(Error::not_found)?;
                spend(app, a, &self.id, already()).await
            }
            Err(e) => Err(e),
        }
    }
}

/// Ends registration `id` refused (its challenge spent), and answers `error`.
async fn spend<T>(app: &App, a: &mut Acting, id: &str, error: Error) -> Result<T> {
    // A registered passkey is never undone by a refusal.
    if let Some(p) = a
        .user
        .passkeys
        .iter_mut()
        .find(|p| p.id == id && !p.is_registered())
    {
        p.status = VerificationStatus::Failed;
        p.ceremony = None;
        p.credential = None;
        p.credential_id = None;
        p.updated_at = app.now_ms();
    }
    save_user(app, a).await?;
    Err(error)
}

/// `PATCH /v1/me/passkeys/{id}`: renames a passkey.
impl UserCommand for RenamePasskey {
    type Output = PasskeyRecord;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        // Shown in lists, as a person's name is: no controls or text-direction tricks.
        let name = crate::identifiers::person_name(&self.name, "name")?
            .ok_or_else(|| Error::missing("name"))?;
        let name = name.as_str();
        if name.chars().count() > security::PASSKEY_NAME_MAX_CHARS {
            return Err(Error::new(Code::FormParamMaxLengthExceeded).param("name"));
        }
        let p = a
            .user
            .passkeys
            .iter_mut()
            .find(|p| p.id == self.id && p.is_registered())
            .ok_or_else(Error::not_found)?;
        p.name = name.to_owned();
        p.updated_at = app.now_ms();
        let out = p.clone();
        save_user(app, a).await?;
        Ok(out)
    }
}

/// `DELETE /v1/me/passkeys/{id}`: refused when it is the account's last way in.
impl UserCommand for DeletePasskey {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let p = a
            .user
            .passkeys
            .iter()
            .find(|p| p.id == self.id)
            .cloned()
            .ok_or_else(Error::not_found)?;
        if p.is_registered() && !signs_in_without(app, &a.user, WayIn::Passkey(&p.id)) {
            return Err(
                Error::new(Code::LastRequiredIdentificationDeletionFailed).long(
                    "This is the last way to sign in to this account, so it cannot be removed.",
                ),
            );
        }
        a.user.passkeys.retain(|x| x.id != self.id);
        let releases: Vec<Write> = p
            .credential_id
            .iter()
            .map(|id| Repo::release_passkey_write(id))
            .collect();
        save(app, a, releases, "id", Vec::new()).await
    }
}

/// The guard releases of a deleted user's passkeys.
pub fn release_all(u: &UserRecord) -> Vec<Write> {
    registered_ids(u)
        .iter()
        .map(|id| Repo::release_passkey_write(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkeys_are_named_after_the_device() {
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(device_name(Some(mac)), "Chrome on macOS");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0";
        assert_eq!(device_name(Some(edge)), "Edge on Windows");
        assert_eq!(device_name(None), "Passkey");
    }
}
