//! Email links: opening a link (`GET /v1/verify?token=…`) completes the verification it was
//! sent for — a sign-in's first factor, a sign-up's email address, or an address added in the
//! profile — and sends the browser back to the app's page with `__clerk_status`.
//!
//! ```text
//!   prepare (strategy email_link, redirect_url) ──► link mailed; LINK#<sha256(token)> kept
//!   GET /v1/verify?token
//!     unknown token ─────────────────────────────► 400
//!     opened before / not this attempt's link ───► redirect … __clerk_status=failed
//!     past expiry ───────────────────────────────► redirect … __clerk_status=expired
//!     another browser, same client required ─────► redirect … __clerk_status=client_mismatch
//!                                                   (the link stays usable where it was asked for)
//!     ok: marked used (once), then
//!       sign-in  → first factor passed on the client that asked (2FA? needs_second_factor : session)
//!       sign-up  → the address verified; the user is created when nothing else is missing
//!       profile  → the address verified and claimed
//!     ──► redirect … __clerk_status=verified (&__clerk_created_session=<id> when one started)
//! ```
//!
//! The browser that asked polls its attempt and sees it complete. When the link is opened in
//! another browser (another device), the asking client's token is kept as it is, since that
//! browser goes on with it; opened by the asking client itself, the token rotates as at any
//! sign-in and the answer carries the new one.

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::records::{LinkRecord, LinkTarget, SignInStatus};
use crate::repo::{Repo, from_doc, to_doc};
use crate::store::{Condition, Item, Write, keys};
use crate::vocabulary::{FirstFactor, IdentificationKind};

use super::client::{Current, Retry, commit};
use super::command::Origin;
use super::verification::{self, Opened};

/// Where the browser goes, and the asking client's token when it rotated (the link was opened
/// by that client itself).
#[derive(Debug, Clone)]
pub struct LinkOutcome {
    pub location: String,
    pub token: Option<String>,
    pub client_uat: i64,
}

/// Opens the link `token`; `opened_by` is the client the request itself carries, if any.
pub async fn open(
    app: &App,
    token: &str,
    opened_by: Option<&str>,
    origin: &Origin,
) -> Result<LinkOutcome> {
    let key = keys::email_link(&verification::link_hash(token));
    let item = app.repo.store().get(&key).await?.ok_or_else(|| {
        Error::new(Code::VerificationFailed)
            .param("token")
            .long("This link is not valid.")
    })?;
    let mut link: LinkRecord = from_doc(&item)?;
    let back = |opened: Opened, session: Option<&str>| {
        let mut pairs = vec![("__clerk_status", opened.status())];
        if let Some(s) = session {
            pairs.push(("__clerk_created_session", s));
        }
        super::social::with_query(&link.redirect_url, &pairs)
    };
    if link.used {
        return Ok(LinkOutcome {
            location: back(Opened::Failed, None),
            token: None,
            client_uat: 0,
        });
    }
    if app.now_ms() >= link.expire_at {
        return Ok(LinkOutcome {
            location: back(Opened::Expired, None),
            token: None,
            client_uat: 0,
        });
    }
    let same_client = opened_by == Some(link.client_id.as_str());
    if app.settings.email_links.require_same_client && !same_client {
        // Not spent: the browser that asked can still open it (a mail scanner or someone who
        // read the mail cannot).
        return Ok(LinkOutcome {
            location: back(Opened::ClientMismatch, None),
            token: None,
            client_uat: 0,
        });
    }
    // Used once: whichever request marks it first goes on; any other is told it failed.
    link.used = true;
    let mark = Write::put(
        Item::new(key, to_doc(&link)?)
            .with_expiry(
                item.expires_at
                    .unwrap_or(link.expire_at.div_euclid(1000) + 86_400),
            )
            .with_version(item.version + 1),
        Condition::Version(item.version),
    );
    if commit(app, vec![mark]).await.is_err() {
        return Ok(LinkOutcome {
            location: back(Opened::Failed, None),
            token: None,
            client_uat: 0,
        });
    }
    let mut retry = Retry::new();
    let (opened, session, current) = loop {
        match complete(app, &link, token, opened_by, same_client, origin).await {
            Ok(done) => break done,
            Err(e) if e.conflict => retry.after_conflict().await?,
            Err(e) => {
                tracing::info!(code = %e.code, "an email link could not complete its attempt");
                break (Opened::Failed, None, None);
            }
        }
    };
    let (token, client_uat) = match (&current, same_client) {
        (Some(c), true) => (Some(c.token.clone()), c.client_uat_at(app.now_ms())),
        _ => (None, 0),
    };
    Ok(LinkOutcome {
        location: back(opened, session.as_deref()),
        token,
        client_uat,
    })
}

/// Completes the link's attempt on fresh state: what it did, the session it started, and the
/// asking client as it now is.
async fn complete(
    app: &App,
    link: &LinkRecord,
    token: &str,
    opened_by: Option<&str>,
    same_client: bool,
    origin: &Origin,
) -> Result<(Opened, Option<String>, Option<Current>)> {
    let now = app.now_ms();
    if let LinkTarget::Identification { user_id, id } = &link.target {
        let opened = verify_address(app, user_id, id, token, opened_by).await?;
        return Ok((opened, None, None));
    }
    let Some(aggregate) = app.repo.load_client(&link.client_id).await? else {
        return Ok((Opened::Failed, None, None));
    };
    let mut current = Current {
        token: String::new(),
        aggregate,
        keep_token: !same_client,
    };
    match &link.target {
        LinkTarget::SignIn { id } => {
            let Ok(s) = current.sign_in(id) else {
                return Ok((Opened::Failed, None, None));
            };
            let mut s = s.clone();
            let Some(f) = s
                .first_factor
                .as_mut()
                .filter(|_| s.status == SignInStatus::NeedsFirstFactor)
            else {
                return Ok((Opened::Failed, None, None));
            };
            let opened =
                verification::open_link(&mut f.verification, token, opened_by, now, &app.codes);
            if opened != Opened::Verified {
                super::sign_in::state::store(app, &mut current, s, None, Vec::new()).await?;
                return Ok((opened, None, Some(current)));
            }
            let mut user = super::sign_in::state::load_user(app, &s).await?;
            if super::lockout::ensure_unlocked(&mut user, now).is_err() {
                return Ok((Opened::Failed, None, None));
            }
            super::sign_in::state::first_factor_passed(
                app,
                &mut current,
                s,
                user,
                FirstFactor::EmailLink,
                origin,
            )
            .await?;
            let session = current
                .aggregate
                .sign_in
                .as_ref()
                .and_then(|s| s.created_session_id.clone());
            Ok((Opened::Verified, session, Some(current)))
        }
        LinkTarget::SignUp { id } => {
            let Ok(s) = current.sign_up(id) else {
                return Ok((Opened::Failed, None, None));
            };
            let mut s = s.clone();
            if super::sign_up::ensure_open(&s).is_err() {
                return Ok((Opened::Failed, None, None));
            }
            let Some(v) = s.email_verification.as_mut() else {
                return Ok((Opened::Failed, None, None));
            };
            let opened = verification::open_link(v, token, opened_by, now, &app.codes);
            if opened != Opened::Verified {
                super::sign_up::store_open(app, &mut current, s, Vec::new()).await?;
                return Ok((opened, None, Some(current)));
            }
            super::sign_up::save_with(app, &mut current, s, origin, Vec::new()).await?;
            let session = current
                .aggregate
                .sign_up
                .as_ref()
                .and_then(|s| s.created_session_id.clone());
            Ok((Opened::Verified, session, Some(current)))
        }
        LinkTarget::Identification { .. } => Ok((Opened::Failed, None, None)),
    }
}

/// An address added in the profile: verified, and claimed for its user unless someone else
/// verified it first.
async fn verify_address(
    app: &App,
    user_id: &str,
    id: &str,
    token: &str,
    opened_by: Option<&str>,
) -> Result<Opened> {
    let Some(mut user) = app.repo.load_user(user_id).await? else {
        return Ok(Opened::Failed);
    };
    let kind = IdentificationKind::EmailAddress;
    let Some(r) = user.identification_mut(kind, id) else {
        return Ok(Opened::Failed);
    };
    let Some(v) = r.verification.as_mut() else {
        return Ok(Opened::Failed);
    };
    let opened = verification::open_link(v, token, opened_by, app.now_ms(), &app.codes);
    let value = r.value.clone();
    let mut writes = Vec::new();
    if opened == Opened::Verified {
        match super::me::identifications::claim_unless_held(app, user_id, kind, &value).await {
            Ok(claim) => writes.extend(claim),
            Err(_) => return Ok(Opened::Failed),
        }
    }
    user.updated_at = app.now_ms();
    writes.extend(Repo::user_writes(&user)?);
    commit(app, writes).await?;
    Ok(opened)
}
