//! The passkey first factor: a sign-in proven by a WebAuthn assertion.
//!
//! ```text
//!   POST sign_ins {strategy: passkey} ──► needs_identifier + options (any passkey of this site)
//!   POST sign_ins {identifier, strategy: passkey} / prepare_first_factor {passkey}
//!        ──► needs_first_factor + options listing the user's passkeys
//!   attempt_first_factor {public_key_credential}
//!        ──► the credential's owner (its guard) ──► its passkey ──► challenge, origin, RP id,
//!            signature, user verified, counter forward ──► complete (or needs_second_factor
//!            when passkeys do not satisfy it)
//!        ──refused──► the options are spent: prepare again
//! ```
//!
//! The options (the challenge) are used once, whatever the answer. A refused answer does not
//! count toward the owner's lockout: anyone can present someone's credential id, and only a
//! signature proves anything, which cannot be guessed.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::{
    FactorVerification, PasskeyCeremony, SignInRecord, SignInStatus, UserRecord,
    VerificationRecord, VerificationStatus,
};
use crate::passkeys::{Presented, RelyingParty, user_handle};
use crate::security;
use crate::vocabulary::{FirstFactor, Strategy};

use super::state::{self, SignedIn};
use crate::flows::client::Current;
use crate::flows::command::Origin;
use crate::flows::lockout;
use crate::flows::me::passkeys::{registered_ids, relying_party};
use crate::flows::verification;

/// Sign-in options: for any passkey of this relying party (no `user`), or only `user`'s, who
/// must have one.
pub fn options_for(app: &App, user: Option<&UserRecord>) -> Result<PasskeyCeremony> {
    let rp = relying_party(app)?;
    let allow = match user {
        Some(u) => {
            let ids = registered_ids(u);
            if ids.is_empty() {
                return Err(Error::new(Code::NoPasskeysFoundForUser).param("strategy"));
            }
            ids
        }
        None => Vec::new(),
    };
    let expire_at = app.now_ms() + crate::clock::duration_ms(security::PASSKEY_CEREMONY_LIFETIME);
    rp.begin_sign_in(&allow, expire_at)
}

/// Hands `s` fresh sign-in options: any passkey of this relying party (no `user`), or only
/// `user`'s, who must have one the attempt offers.
pub fn begin(app: &App, s: &mut SignInRecord, user: Option<&UserRecord>) -> Result<()> {
    let offered = s
        .supported_first_factors
        .iter()
        .any(|f| f.strategy == Strategy::Passkey);
    if user.is_some() && !offered {
        return Err(Error::new(Code::NoPasskeysFoundForUser).param("strategy"));
    }
    s.passkey = Some(options_for(app, user)?);
    s.first_factor = None;
    Ok(())
}

/// Checks `presented` against `ceremony` and the passkey of `user` it names: the user handle,
/// then (webauthn-rs) challenge, origin, relying party, signature, user verification and a
/// counter that moved forward. On success the passkey's counter and last use are updated.
pub fn verify_for(
    app: &App,
    ceremony: &PasskeyCeremony,
    presented: &Presented,
    user: &mut UserRecord,
) -> Result<()> {
    let rp = relying_party(app)?;
    let Some(index) = user.passkeys.iter().position(|p| {
        p.is_registered() && p.credential_id.as_deref() == Some(presented.credential_id.as_str())
    }) else {
        return Err(Error::new(Code::PasskeyNotRegistered));
    };
    let handle = user_handle(&user.id);
    if presented
        .user_handle
        .as_deref()
        .is_some_and(|h| h != handle.as_bytes())
    {
        return Err(Error::new(Code::PasskeyAuthenticationFailure)
            .long("The passkey names another user than the one it is registered to."));
    }
    let stored = user.passkeys[index].credential.clone().unwrap_or_default();
    let advanced = rp.finish_sign_in(ceremony, presented, &stored)?;
    let now = app.now_ms();
    let p = &mut user.passkeys[index];
    p.credential = Some(advanced);
    p.last_used_at = Some(now);
    p.updated_at = now;
    Ok(())
}

/// A passkey verification refused (its options spent).
pub fn failed() -> FactorVerification {
    FactorVerification {
        verification: VerificationRecord {
            status: VerificationStatus::Failed,
            attempts: 1,
            ..verification::verified(Strategy::Passkey)
        },
        email_address_id: None,
        phone_number_id: None,
    }
}

/// A passkey verification passed.
pub fn verified() -> FactorVerification {
    FactorVerification {
        verification: verification::verified(Strategy::Passkey),
        email_address_id: None,
        phone_number_id: None,
    }
}

/// Stores the attempt with its options spent, and answers `error`.
async fn refuse<T>(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    error: Error,
) -> Result<T> {
    s.first_factor = Some(failed());
    state::store(app, current, s, None, Vec::new()).await?;
    Err(error)
}

/// Whether the attempt is at a passkey's answer (it may be before an identifier): its options
/// are out, or were spent by an answer refused.
pub fn waits_for_passkey(s: &SignInRecord) -> bool {
    let spent = s
        .first_factor
        .as_ref()
        .is_some_and(|f| f.verification.strategy == Strategy::Passkey);
    (s.passkey.is_some() || spent)
        && matches!(
            s.status,
            SignInStatus::NeedsIdentifier | SignInStatus::NeedsFirstFactor
        )
}

/// `attempt_first_factor {strategy: passkey}`: checks the browser's assertion and signs in the
/// passkey's owner.
pub async fn attempt(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    answer: &str,
    origin: &Origin,
) -> Result<Option<SignedIn>> {
    // Not an answer at all: refused, the options left as they were.
    let presented = RelyingParty::presented(answer)?;
    let now = app.now_ms();
    s.updated_at = now;
    let Some(ceremony) = s.passkey.take().filter(|c| c.expire_at > now) else {
        return refuse(
            app,
            current,
            s,
            Error::new(Code::PasskeyInvalidVerification),
        )
        .await;
    };
    let owner = app.repo.passkey_owner(&presented.credential_id).await?;
    // After an identifier, only that account's passkeys answer.
    let owner = owner.filter(|o| s.user_id.as_ref().is_none_or(|u| u == o));
    let user = match owner {
        Some(id) => app.repo.load_user(&id).await?,
        None => None,
    };
    let Some(mut user) = user else {
        return refuse(app, current, s, Error::new(Code::PasskeyNotRegistered)).await;
    };
    if let Err(e) = verify_for(app, &ceremony, &presented, &mut user) {
        return refuse(app, current, s, e).await;
    }
    if let Err(e) = lockout::ensure_unlocked(&mut user, now) {
        return refuse(app, current, s, e).await;
    }
    let spent = s.clone();
    s.status = SignInStatus::NeedsFirstFactor;
    state::snapshot(app, &mut s, &user);
    s.first_factor = Some(verified());
    s.first_factor_verified_at = Some(now);
    if state::needs_second_factor(app, &user) {
        if !app.settings.passkeys.satisfies_second_factor {
            s.status = SignInStatus::NeedsSecondFactor;
            state::store(app, current, s, Some(&user), Vec::new()).await?;
            return Ok(None);
        }
        // The authenticator verified its user: the session's second factor is proven too.
        s.second_factor_verified_at = Some(now);
    }
    let strategy = FirstFactor::Passkey.as_str();
    match state::complete(app, current, s, user, strategy, Vec::new(), origin, true).await {
        Ok(done) => Ok(Some(done)),
        // A lost race is tried again on fresh state, where the options are still out.
        Err(e) if e.conflict => Err(e),
        // Refused at the last step (a ban, one session per client): the answer is spent too.
        Err(e) => refuse(app, current, spent, e).await,
    }
}
