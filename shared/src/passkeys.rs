//! Passkeys: the WebAuthn relying party, on `webauthn-rs`. It owns the ceremonies' cryptography
//! — the options a browser gets, and checking what the authenticator signed — and nothing of
//! users, attempts or storage (the flows: `flows::me::passkeys`, `flows::sign_in::passkey`).
//!
//! ```text
//!   registration: begin_registration ──options (nonce)──► browser: credentials.create
//!                 ◄──attestation── finish_registration ──► credential id + public key, counter
//!   sign-in:      begin_sign_in ──options (nonce)──► browser: credentials.get (discoverable,
//!                 autofill, or the user's own credentials listed)
//!                 ◄──assertion── presented (credential id, user handle) ──► the flow finds the
//!                 passkey ──► finish_sign_in: challenge, origin, RP id hash, signature, user
//!                 verified, counter advanced (a regression: a cloned authenticator, refused)
//! ```
//!
//! Every ceremony requires user verification (the authenticator checked a PIN or biometric),
//! so a passkey is two factors. The user handle the authenticator keeps is derived from the
//! user id ([`user_handle`]): stable, and no personal data.
//!
//! webauthn-rs draws its challenges from the operating system's generator itself; tests need no
//! control over them (a challenge's value never decides an outcome, only whether it matches).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::clock::UnixMillis;
use crate::error::{Code, Error, Result};
use crate::model::records::PasskeyCeremony;
use crate::settings::{Settings, SettingsError, bad};

/// The relying party of this instance.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

/// A credential registered just now.
#[derive(Debug, Clone)]
pub struct Registered {
    /// base64url, as guard keys and `allowCredentials` name it.
    pub credential_id: String,
    /// webauthn-rs's `Passkey` (public key, counter, flags).
    pub credential: Value,
}

/// A registration's answer, read (not yet checked).
#[derive(Debug)]
pub struct Registration(RegisterPublicKeyCredential);

/// What a sign-in's answer claims, before it is checked: which credential, for which user.
#[derive(Debug)]
pub struct Presented {
    credential: PublicKeyCredential,
    pub credential_id: String,
    /// The user handle the authenticator returned (discoverable credentials return one).
    pub user_handle: Option<Vec<u8>>,
}

/// The user handle a user's passkeys carry: 16 bytes of SHA-256 over the user id.
pub fn user_handle(user_id: &str) -> Uuid {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(format!("frontdoor/passkey-user-handle/{user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn invalid_credential() -> Error {
    Error::new(Code::PasskeyInvalidPublicKeyCredential).param("public_key_credential")
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("passkey {what}: {e}"))
}

impl RelyingParty {
    /// The relying party the settings describe; none while passkeys are off.
    pub fn from_settings(settings: &Settings) -> std::result::Result<Option<Self>, SettingsError> {
        if !settings.passkeys_enabled() {
            return Ok(None);
        }
        // `Settings::validate` checked the id and the origins; what fails here is a bug.
        let rp_id = settings
            .passkey_rp_id()
            .ok_or_else(|| bad("passkeys.rp_id", "cannot be derived; set it"))?;
        // A web origin first: the builder checks it against the relying party id (an Android
        // app's origin has no host to check).
        let mut origins = settings.passkey_origins();
        origins.sort_by_key(|o| o.starts_with(crate::settings::ANDROID_APP_ORIGIN));
        let parsed = origins
            .iter()
            .map(|o| Url::parse(o).map_err(|e| bad("passkeys.origins", format!("`{o}`: {e}"))))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let Some((first, rest)) = parsed.split_first() else {
            return Err(bad("passkeys.origins", "no page origin"));
        };
        let name = settings
            .passkeys
            .rp_name
            .clone()
            .unwrap_or_else(|| settings.instance.application_name.clone());
        let mut builder = WebauthnBuilder::new(&rp_id, first)
            .map_err(|_| {
                bad(
                    "passkeys.origins",
                    format!("`{first}` is not on the relying party id `{rp_id}`"),
                )
            })?
            .rp_name(&name)
            .timeout(crate::security::PASSKEY_CEREMONY_LIFETIME);
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|e| bad("passkeys", e.to_string()))?;
        Ok(Some(Self { webauthn }))
    }

    /// Options for a new passkey (discoverable, user verified), excluding the credentials the
    /// user already has, and the state to check the answer against.
    pub fn begin_registration(
        &self,
        user_id: &str,
        (user_name, display_name): (&str, &str),
        existing: &[String],
        expire_at: UnixMillis,
    ) -> Result<PasskeyCeremony> {
        let exclude: Vec<Vec<u8>> = existing
            .iter()
            .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
            .collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                user_handle(user_id),
                user_name,
                display_name,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| internal("registration options", e))?;
        let mut public =
            serde_json::to_value(&options.public_key).map_err(|e| internal("options", e))?;
        // Discoverable credentials, so the sign-in needs no identifier (and autofill works).
        if let Some(selection) = public
            .get_mut("authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        Ok(PasskeyCeremony {
            options: public.to_string(),
            state: serde_json::to_value(&state).map_err(|e| internal("state", e))?,
            expire_at,
        })
    }

    /// Reads a registration's answer (`public_key_credential`, as clerk-js serialises it).
    /// Something that is not one at all is refused before any ceremony is touched.
    pub fn registration(answer: &str) -> Result<Registration> {
        serde_json::from_str(answer)
            .map(Registration)
            .map_err(|_| invalid_credential())
    }

    /// Checks a registration's answer against its ceremony.
    pub fn finish_registration(
        &self,
        ceremony: &PasskeyCeremony,
        Registration(answer): &Registration,
    ) -> Result<Registered> {
        let state: PasskeyRegistration =
            serde_json::from_value(ceremony.state.clone()).map_err(|e| internal("state", e))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(answer, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                invalid_credential().long(refusal(&e))
            })?;
        let credential = serde_json::to_value(&passkey).map_err(|e| internal("credential", e))?;
        // What is kept of a credential is the authenticator's to choose (an attestation's
        // certificate chain, its transports): bounded, so the user's record stays small.
        if credential.to_string().len() > crate::security::PASSKEY_CREDENTIAL_MAX_BYTES
            || passkey.cred_id().len() > crate::security::PASSKEY_CREDENTIAL_ID_MAX_BYTES
        {
            return Err(invalid_credential().long("This passkey's data is larger than allowed."));
        }
        Ok(Registered {
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            credential,
        })
    }

    /// Options for a sign-in. With `allow` empty any discoverable credential of this relying
    /// party may answer (the "use passkey" button, autofill); else only those credentials.
    pub fn begin_sign_in(
        &self,
        allow: &[String],
        expire_at: UnixMillis,
    ) -> Result<PasskeyCeremony> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| internal("sign-in options", e))?;
        let mut public =
            serde_json::to_value(&options.public_key).map_err(|e| internal("options", e))?;
        let listed: Vec<Value> = allow
            .iter()
            .map(|id| serde_json::json!({ "type": "public-key", "id": id }))
            .collect();
        if let Some(o) = public.as_object_mut() {
            o.insert("allowCredentials".into(), Value::Array(listed));
        }
        Ok(PasskeyCeremony {
            options: public.to_string(),
            state: serde_json::to_value(&state).map_err(|e| internal("state", e))?,
            expire_at,
        })
    }

    /// Reads a sign-in's answer: the credential and user it claims to be, unchecked. Something
    /// that is not an answer at all is refused before any ceremony is touched.
    pub fn presented(answer: &str) -> Result<Presented> {
        let credential: PublicKeyCredential =
            serde_json::from_str(answer).map_err(|_| invalid_credential())?;
        let raw_id = credential.get_credential_id();
        if raw_id.is_empty() || raw_id.len() > crate::security::PASSKEY_CREDENTIAL_ID_MAX_BYTES {
            return Err(invalid_credential());
        }
        let credential_id = URL_SAFE_NO_PAD.encode(raw_id);
        let user_handle = credential.get_user_unique_id().map(<[u8]>::to_vec);
        Ok(Presented {
            credential,
            credential_id,
            user_handle,
        })
    }

    /// Checks a sign-in's answer against its ceremony and the stored credential: challenge,
    /// origin, relying party, signature, user verification, and a signature counter that moved
    /// forward. Returns the credential with its new counter.
    pub fn finish_sign_in(
        &self,
        ceremony: &PasskeyCeremony,
        presented: &Presented,
        stored: &Value,
    ) -> Result<Value> {
        let state: DiscoverableAuthentication =
            serde_json::from_value(ceremony.state.clone()).map_err(|e| internal("state", e))?;
        let mut passkey: Passkey =
            serde_json::from_value(stored.clone()).map_err(|e| internal("credential", e))?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&presented.credential, state, &passkey)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey sign-in refused");
                Error::new(Code::PasskeyAuthenticationFailure).long(refusal(&e))
            })?;
        passkey.update_credential(&result);
        serde_json::to_value(&passkey).map_err(|e| internal("credential", e))
    }
}

/// Why a ceremony was refused, for the caller (nothing secret: each says what did not hold).
fn refusal(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::CredentialPossibleCompromise => {
            "This passkey's signature counter went backwards, as a copied authenticator's does; it was refused."
        }
        WebauthnError::InvalidRPOrigin => {
            "The passkey answered for a page this application does not serve."
        }
        WebauthnError::InvalidRPIDHash => "The passkey belongs to another website.",
        WebauthnError::MismatchedChallenge => "The passkey answered another challenge.",
        WebauthnError::UserNotVerified => "The authenticator did not verify its user.",
        _ => "The passkey could not be verified.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("user_1"), user_handle("user_1"));
        assert_ne!(user_handle("user_1"), user_handle("user_2"));
    }
}
