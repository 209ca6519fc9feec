//! Social sign-in: signing in, signing up and connecting accounts through a provider
//! (`oauth_<provider>`), the provider's callback, the transfers between sign-in and sign-up, and
//! the ID tokens apps obtain themselves (Google One Tap, Sign in with Apple).
//!
//! ```text
//!   POST sign_ins / sign_ups {strategy: oauth_x, redirect_url}
//!     └─► verification_oauth unverified, external_verification_redirect_url = provider?state…
//!           (state: single use, 10 min, bound to the client and the attempt; PKCE; nonce)
//!   GET|POST /v1/oauth_callback?state&code ──► provider: code → identity
//!     sign-in:  account known ─────────────────────► first factor passed (2FA? needs_second_factor : complete)
//!               unknown, verified email of a user ─► linked, then as known        (if the provider links)
//!               unknown ───────────────────────────► transferable (external_account_not_found)
//!                                                     └─ POST sign_ups {transfer} ─► user created
//!     sign-up:  account (or its verified email) known ► transferable (external_account_exists)
//!                                                     └─ POST sign_ins {transfer} ─► signed in
//!               unknown ───────────────────────────► user created (or missing_requirements)
//!     connect:  account free ──────────────────────► connected to the signed-in user
//!     denied / bad token / provider down ──────────► failed, with the Clerk error on the attempt
//!   ──► 303 to redirect_url (action_complete_redirect_url once signed in); a native app's URL
//!       gets `rotating_token_nonce`, which collects the rotated client token exactly once.
//! ```
//!
//! Nothing is created on a failure: the attempt records the error, and no user, session or
//! connected account is written.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::app::App;
use crate::clock::duration_ms;
use crate::error::{Code, Error, Result};
use crate::model::records::{
    ExternalAccountRecord, OAuthPurpose, OAuthStateRecord, OAuthStatus, OAuthVerificationRecord,
    SignInRecord, SignInStatus, SignUpRecord, UserRecord,
};
use crate::random;
use crate::repo::{Repo, from_doc, to_doc};
use crate::security;
use crate::social::{AuthorizationRequest, Completion, ExternalProfile, Provider};
use crate::store::{Condition, Item, Write, keys};
use crate::vocabulary::IdentifierKind;

use super::client::{Acting, Current, Retry};
use super::command::{ClientCommand, Origin, UserCommand};
use super::lockout;
use super::session;
use super::sign_in::{SignedIn, state};
use super::sign_up::{self, Created, SignUpFields};

/// The secret a web flow's browser is handed (as a cookie, by the edge) when the flow begins,
/// kept across retries of the unit of work like a code sent once.
#[derive(Debug, Default)]
pub struct Binding(std::sync::Mutex<Option<String>>);

impl Binding {
    fn put(&self, secret: Option<String>) {
        match self.0.lock() {
            Ok(mut g) => *g = secret,
            Err(p) => *p.into_inner() = secret,
        }
    }

    /// The secret to hand the browser, if the flow is a web one.
    pub fn take(&self) -> Option<String> {
        match self.0.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }
}

impl Clone for Binding {
    /// A copy of a command begins afresh.
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// Where a social sign-in returns to, as the caller asked.
#[derive(Debug, Clone, Default)]
pub struct Return {
    pub redirect_url: Option<String>,
    pub action_complete_redirect_url: Option<String>,
}

/// Extra hints for the provider.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub login_hint: Option<String>,
    pub prompt: Option<String>,
    pub additional_scopes: Vec<String>,
}

/// The targets, checked: `redirect_url` is required; `action_complete_redirect_url` may be a
/// path, resolved against `redirect_url`'s origin (a web page's; a native app returns to its
/// own URL).
fn checked_targets(app: &App, r: &Return) -> Result<(String, Option<String>)> {
    let redirect = r
        .redirect_url
        .clone()
        .ok_or_else(|| Error::missing("redirect_url"))?;
    let native = super::return_urls::checked(app, &redirect, "redirect_url")?;
    let complete = match r.action_complete_redirect_url.as_deref() {
        None | Some("") => None,
        // A path is a page of the web app; a native app has only its own URL.
        Some(path) if native && path.starts_with('/') => None,
        Some(path) if path.starts_with('/') && !path.starts_with("//") => {
            let origin = crate::urls::origin_of(&redirect)
                .ok_or_else(|| Error::new(Code::InvalidRedirectUrl).param("redirect_url"))?;
            Some(format!("{origin}{path}"))
        }
        Some(url) => {
            super::return_urls::checked(app, url, "action_complete_redirect_url")?;
            Some(url.to_owned())
        }
    };
    Ok((redirect, complete))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A provider that signs users in (not one only connected in the profile).
fn signing_in_provider<'a>(app: &'a App, strategy: &str) -> Result<&'a Provider> {
    let p = app.social.provider(strategy)?;
    if !p.authenticatable {
        return Err(Error::new(Code::OauthProviderNotEnabled)
            .param("strategy")
            .long(format!("{strategy} cannot be used to sign in.")));
    }
    Ok(p)
}

/// Starts an authorization at `provider` for `purpose`: the verification to show, and the
/// write that keeps the state until the callback.
async fn begin(
    app: &App,
    client_id: &str,
    purpose: OAuthPurpose,
    provider: &Provider,
    (redirect_url, complete_url): (String, Option<String>),
    hints: &Hints,
    binding: &Binding,
) -> Result<(OAuthVerificationRecord, Write)> {
    let rnd = app.random.as_ref();
    let native = !app.settings.redirect_allowed(&redirect_url);
    let secret = (!native).then(|| random::token(rnd, security::OAUTH_RANDOM_BYTES));
    let state = random::token(rnd, security::OAUTH_RANDOM_BYTES);
    let code_verifier = random::token(rnd, security::OAUTH_RANDOM_BYTES);
    let nonce = random::token(rnd, security::OAUTH_RANDOM_BYTES);
    let url = app
        .social
        .authorization_url(
            provider,
            &AuthorizationRequest {
                state: &state,
                nonce: Some(&nonce),
                code_verifier: Some(&code_verifier),
                login_hint: hints.login_hint.as_deref(),
                prompt: hints.prompt.as_deref(),
                extra_scopes: &hints.additional_scopes,
            },
        )
        .await?;
    let expire_at = app.now_ms() + duration_ms(security::OAUTH_STATE_LIFETIME);
    let record = OAuthStateRecord {
        client_id: client_id.to_owned(),
        purpose,
        strategy: provider.strategy.clone(),
        code_verifier,
        nonce,
        expire_at,
        binding_hash: secret.as_deref().map(sha256_hex),
    };
    binding.put(secret);
    let item = Item::new(keys::oauth_state(&sha256_hex(&state)), to_doc(&record)?)
        .with_expiry(expire_at.div_euclid(1000) + 1);
    let v = OAuthVerificationRecord {
        strategy: provider.strategy.clone(),
        status: OAuthStatus::Unverified,
        external_verification_redirect_url: Some(url),
        expire_at,
        redirect_url: Some(redirect_url),
        action_complete_redirect_url: complete_url,
        ..Default::default()
    };
    Ok((v, Write::put(item, Condition::NotExists)))
}

/// `POST /v1/client/sign_ins {strategy: oauth_*}`.
#[derive(Debug, Clone)]
pub struct StartSignIn {
    pub strategy: String,
    pub back: Return,
    pub hints: Hints,
    pub binding: Binding,
}

impl ClientCommand for StartSignIn {
    type Output = Option<SignedIn>;
    const CREATES_CLIENT: bool = true;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        session::ensure_can_sign_in(app, current)?;
        let provider = signing_in_provider(app, &self.strategy)?;
        let targets = checked_targets(app, &self.back)?;
        let now = app.now_ms();
        let id = random::object_id(app.random.as_ref(), "sia");
        let mut s = SignInRecord::new(id.clone(), current.client().id.clone(), now);
        let purpose = OAuthPurpose::SignIn { id };
        let client_id = current.client().id.clone();
        let (v, write) = begin(
            app,
            &client_id,
            purpose,
            provider,
            targets,
            &self.hints,
            &self.binding,
        )
        .await?;
        s.oauth = Some(v);
        state::store(app, current, s, None, vec![write]).await?;
        Ok(None)
    }
}

/// `POST /v1/client/sign_ups {strategy: oauth_*}`, or `PATCH` of an open sign-up (`id`).
#[derive(Debug, Clone)]
pub struct StartSignUp {
    pub id: Option<String>,
    pub strategy: String,
    pub back: Return,
    pub hints: Hints,
    pub fields: SignUpFields,
    pub binding: Binding,
}

impl ClientCommand for StartSignUp {
    type Output = Option<Created>;
    const CREATES_CLIENT: bool = true;

    async fn run(&self, app: &App, current: &mut Current, _: &Origin) -> Result<Self::Output> {
        sign_up::ensure_open_for_sign_up(app)?;
        session::ensure_can_sign_in(app, current)?;
        let provider = signing_in_provider(app, &self.strategy)?;
        let targets = checked_targets(app, &self.back)?;
        let now = app.now_ms();
        let mut s = match &self.id {
            Some(id) => {
                let s = current.sign_up(id)?.clone();
                sign_up::ensure_open(&s)?;
                s
            }
            None => {
                let id = random::object_id(app.random.as_ref(), "sua");
                SignUpRecord::new(id, current.client().id.clone(), now)
            }
        };
        sign_up::apply(app, &mut s, &self.fields).await?;
        let purpose = OAuthPurpose::SignUp { id: s.id.clone() };
        let client_id = current.client().id.clone();
        let (v, write) = begin(
            app,
            &client_id,
            purpose,
            provider,
            targets,
            &self.hints,
            &self.binding,
        )
        .await?;
        s.external_account = Some(v);
        s.updated_at = now;
        sign_up::store_open(app, current, s, vec![write]).await?;
        Ok(None)
    }
}

/// The user a provider account belongs to: its guard, else (where the provider links) the
/// user who verified the same email address. `linked` says the account must be connected.
async fn owner_of(app: &App, p: &ExternalProfile) -> Result<Option<(UserRecord, bool)>> {
    let guard = app
        .repo
        .store()
        .get(&keys::external_account(&p.strategy, &p.subject))
        .await?;
    if let Some(item) = guard {
        let owner: crate::repo::IdentifierOwner = from_doc(&item)?;
        return Ok(app
            .repo
            .load_user(&owner.user_id)
            .await?
            .map(|u| (u, false)));
    }
    let links = app
        .social
        .provider(&p.strategy)
        .is_ok_and(|prov| prov.link_by_verified_email);
    let Some(email) = p.email.as_deref().filter(|_| links && p.email_verified) else {
        return Ok(None);
    };
    let Some(id) = app
        .repo
        .identifier_owner(IdentifierKind::Email, email)
        .await?
    else {
        return Ok(None);
    };
    let user = app.repo.load_user(&id).await?;
    // Only an address the user proved themselves joins the accounts.
    Ok(user
        .filter(|u| {
            u.email_addresses
                .iter()
                .any(|e| e.value == email && e.is_verified())
        })
        .map(|u| (u, true)))
}

/// Connects the provider account to `user` (in memory) and returns the guard's claim.
fn connect(app: &App, user: &mut UserRecord, p: &ExternalProfile) -> Result<Write> {
    let now = app.now_ms();
    let id = random::object_id(app.random.as_ref(), "eac");
    user.external_accounts
        .push(ExternalAccountRecord::from_profile(id, p, now));
    user.updated_at = now;
    Repo::claim_external_account_write(&p.strategy, &p.subject, &user.id)
}

/// The sign-in `s` passed its first factor with the provider account of `user` (connected
/// now when `link`), in one transaction with `extra`. A banned or locked user fails the
/// attempt instead.
async fn sign_in_as(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    (mut user, link): (UserRecord, bool),
    p: &ExternalProfile,
    origin: &Origin,
    mut extra: Vec<Write>,
) -> Result<Option<SignedIn>> {
    let now = app.now_ms();
    if let Err(e) = lockout::ensure_unlocked(&mut user, now) {
        fail_with(app, current, s, e.code, extra).await?;
        return Ok(None);
    }
    if link {
        extra.push(connect(app, &mut user, p)?);
    } else if let Some(a) = user
        .external_accounts
        .iter_mut()
        .find(|a| a.provider == p.strategy && a.provider_user_id == p.subject)
    {
        a.update_from(p, now);
    }
    s.identifier = p.email.clone();
    state::snapshot(app, &mut s, &user);
    s.first_factor_verified_at = Some(now);
    s.updated_at = now;
    if let Some(v) = s.oauth.as_mut() {
        v.status = OAuthStatus::Verified;
        v.external_verification_redirect_url = None;
        v.error = None;
        v.profile = None;
    }
    if state::needs_second_factor(app, &user) {
        s.status = SignInStatus::NeedsSecondFactor;
        state::store(app, current, s, Some(&user), extra).await?;
        return Ok(None);
    }
    let strategy = p.strategy.clone();
    state::complete(app, current, s, user, &strategy, extra, origin, true)
        .await
        .map(Some)
}

/// The sign-in's provider step failed with `code`: kept on the attempt, nothing else written.
async fn fail_with(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    code: Code,
    extra: Vec<Write>,
) -> Result<()> {
    if let Some(v) = s.oauth.as_mut() {
        failed(v, code);
    }
    s.updated_at = app.now_ms();
    state::store(app, current, s, None, extra).await
}

/// A sign-in whose provider account has no user: kept for a sign-up to take over.
async fn transferable_sign_in(
    app: &App,
    current: &mut Current,
    mut s: SignInRecord,
    p: ExternalProfile,
    extra: Vec<Write>,
) -> Result<()> {
    if let Some(v) = s.oauth.as_mut() {
        v.status = OAuthStatus::Transferable;
        v.error = Some(Code::ExternalAccountNotFound.as_str().to_owned());
        v.external_verification_redirect_url = None;
        v.profile = Some(p);
    }
    s.updated_at = app.now_ms();
    state::store(app, current, s, None, extra).await
}

/// Fills a sign-up from what the provider said, and marks its external account verified.
async fn sign_up_from(app: &App, s: &mut SignUpRecord, p: &ExternalProfile) -> Result<()> {
    let caps = &app.capabilities;
    use crate::capabilities::Field;
    if let Some(email) = &p.email
        && caps.enabled(Field::EmailAddress)
        && app
            .repo
            .identifier_owner(IdentifierKind::Email, email)
            .await?
            .is_none()
    {
        s.email_address = Some(email.clone());
        s.email_verification = p
            .email_verified
            .then(|| super::verification::from_provider(&p.strategy));
    }
    if let Some(name) = &p.username
        && caps.enabled(Field::Username)
        && s.username.is_none()
        && let Ok(name) = crate::identifiers::normalise_username(name, "username")
        && app
            .repo
            .identifier_owner(IdentifierKind::Username, &name)
            .await?
            .is_none()
    {
        s.username = Some(name);
    }
    if caps.enabled(Field::FirstName) && s.first_name.is_none() {
        s.first_name = p.first_name.clone();
    }
    if caps.enabled(Field::LastName) && s.last_name.is_none() {
        s.last_name = p.last_name.clone();
    }
    let v = s.external_account.get_or_insert_with(Default::default);
    v.strategy = p.strategy.clone();
    v.status = OAuthStatus::Verified;
    v.external_verification_redirect_url = None;
    v.error = None;
    v.profile = Some(p.clone());
    Ok(())
}

/// A sign-up through a provider whose account (or verified email) already has a user: kept
/// for a sign-in to take over.
fn transferable_sign_up(s: &mut SignUpRecord, p: ExternalProfile, now: crate::clock::UnixMillis) {
    let v = s
        .external_account
        .get_or_insert_with(|| OAuthVerificationRecord {
            // An app's own token (no redirect) transfers within the lifetime a redirect would have.
            expire_at: now + duration_ms(security::OAUTH_STATE_LIFETIME),
            ..Default::default()
        });
    v.strategy = p.strategy.clone();
    v.status = OAuthStatus::Transferable;
    v.error = Some(Code::ExternalAccountExists.as_str().to_owned());
    v.external_verification_redirect_url = None;
    v.profile = Some(p);
}

/// Resolves a sign-up with the provider's identity: transferable, or filled and saved (which
/// creates the user when nothing else is missing).
async fn sign_up_with(
    app: &App,
    current: &mut Current,
    mut s: SignUpRecord,
    p: ExternalProfile,
    origin: &Origin,
    extra: Vec<Write>,
) -> Result<Option<Created>> {
    if owner_of(app, &p).await?.is_some() {
        transferable_sign_up(&mut s, p, app.now_ms());
        s.updated_at = app.now_ms();
        sign_up::store_open(app, current, s, extra).await?;
        return Ok(None);
    }
    sign_up_from(app, &mut s, &p).await?;
    sign_up::save_with(app, current, s, origin, extra).await
}

/// `GET|POST /v1/oauth_callback`.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's `error` (RFC 6749 §4.1.2.1), e.g. `access_denied`.
    pub error: Option<String>,
    /// The client the request itself carries (cookie, development browser), if any: a state
    /// begun on another client is refused.
    pub caller_client_id: Option<String>,
    /// The binding secret the browser's cookie holds, if any.
    pub binding: Option<String>,
}

/// Where the callback sends the browser, and the client's token when it changed.
#[derive(Debug, Clone)]
pub struct CallbackOutcome {
    pub location: String,
    pub token: Option<String>,
    /// Whether the page needs the token in its URL (a development browser's, which has no
    /// cookie on the Frontend API's host).
    pub token_in_location: bool,
    pub client_uat: i64,
}

fn invalid_callback(why: &str) -> Error {
    let mut e = Error::new(Code::OauthCallbackInvalid);
    e.internal = Some(why.to_owned());
    e
}

/// The provider's step failed with `code` (kept on the verification for the caller to show).
fn failed(v: &mut OAuthVerificationRecord, code: Code) {
    v.status = OAuthStatus::Failed;
    v.error = Some(code.as_str().to_owned());
    v.external_verification_redirect_url = None;
}

/// Where the returning browser goes (`redirect_url`, `action_complete_redirect_url`), and for
/// a native app the nonce it collects its token with (only its hash is kept). The attempt's
/// verification must be waiting for this state's provider.
type Back = (String, Option<String>, Option<String>);

fn waiting(
    app: &App,
    v: Option<&mut OAuthVerificationRecord>,
    st: &OAuthStateRecord,
) -> Result<Back> {
    let v = v
        .filter(|v| v.status == OAuthStatus::Unverified && v.strategy == st.strategy)
        .ok_or_else(|| invalid_callback("the attempt is not waiting for this provider"))?;
    let nonce =
        is_native(app, v).then(|| random::token(app.random.as_ref(), security::OAUTH_RANDOM_BYTES));
    if let Some(n) = &nonce {
        v.rotating_token_nonce_hash = Some(sha256_hex(n));
    }
    Ok((
        v.redirect_url.clone().unwrap_or_default(),
        v.action_complete_redirect_url.clone(),
        nonce,
    ))
}

/// Whether the attempt returns to a native app (whose URL is not a web page).
fn is_native(app: &App, v: &OAuthVerificationRecord) -> bool {
    v.redirect_url
        .as_deref()
        .is_some_and(|u| !app.settings.redirect_allowed(u))
}

/// Appends query parameters to a URL (before any fragment).
pub fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{}", q.finish());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The provider's answer at the callback: the identity, or the Clerk error to record.
async fn identity(
    app: &App,
    cb: &Callback,
    st: &OAuthStateRecord,
) -> std::result::Result<ExternalProfile, Code> {
    if let Some(error) = &cb.error {
        tracing::info!(provider = %st.strategy, %error, "the provider refused the authorization");
        return Err(if error == "access_denied" {
            Code::OauthAccessDenied
        } else {
            Code::OauthCallbackInvalid
        });
    }
    let Some(code) = cb.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Code::OauthCallbackInvalid);
    };
    let provider = app.social.provider(&st.strategy).map_err(|e| e.code)?;
    let completion = Completion {
        code,
        code_verifier: Some(&st.code_verifier),
        nonce: Some(&st.nonce),
        now_secs: app.now_ms().div_euclid(1000),
    };
    app.social.complete(provider, &completion).await.map_err(|e| {
        tracing::warn!(provider = %st.strategy, code = %e.code, detail = ?e.internal, "social sign-in failed at the provider");
        e.code
    })
}

/// Runs the callback: checks and uses the state once, asks the provider who the user is, and
/// resolves the attempt the state names.
pub async fn callback(app: &App, cb: &Callback, origin: &Origin) -> Result<CallbackOutcome> {
    let state = cb
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_callback("no state"))?;
    let key = keys::oauth_state(&sha256_hex(state));
    let item = app
        .repo
        .store()
        .get(&key)
        .await?
        .ok_or_else(|| invalid_callback("unknown, used or expired state"))?;
    let st: OAuthStateRecord = from_doc(&item)?;
    if app.now_ms() > st.expire_at {
        return Err(invalid_callback("expired state"));
    }
    if cb
        .caller_client_id
        .as_deref()
        .is_some_and(|c| c != st.client_id)
    {
        return Err(invalid_callback("state begun on another client"));
    }
    // A web flow completes only in the browser that began it.
    if let Some(wanted) = &st.binding_hash {
        let held = cb.binding.as_deref().map(sha256_hex).unwrap_or_default();
        if !bool::from(held.as_bytes().ct_eq(wanted.as_bytes())) {
            return Err(invalid_callback("not the browser that began this sign-in"));
        }
    }
    // The code is exchanged once, whatever the retries of the store part below.
    let answer = identity(app, cb, &st).await;
    let mut retry = Retry::new();
    let mut first = true;
    loop {
        // After a lost race the state is read again: a concurrent replay that won makes this
        // one invalid (its transaction deletes the state).
        if !first && app.repo.store().get(&key).await?.is_none() {
            return Err(invalid_callback("state used meanwhile"));
        }
        first = false;
        match resolve(app, &st, &key, answer.clone(), origin).await {
            Ok(out) => return Ok(out),
            Err(e) if e.conflict => retry.after_conflict().await?,
            Err(e) => return Err(e),
        }
    }
}

/// The store part of the callback, on fresh state: the state's delete rides in the attempt's
/// transaction (`attribute_exists`), so a replay — even a concurrent one — finds it gone.
async fn resolve(
    app: &App,
    st: &OAuthStateRecord,
    key: &crate::store::Key,
    answer: std::result::Result<ExternalProfile, Code>,
    origin: &Origin,
) -> Result<CallbackOutcome> {
    let aggregate = app
        .repo
        .load_client(&st.client_id)
        .await?
        .filter(|a| a.client.ended_at.is_none())
        .ok_or_else(|| invalid_callback("the client is gone"))?;
    let mut current = Current {
        aggregate,
        token: String::new(),
        keep_token: false,
    };
    let used = Write::delete(key.clone(), Condition::Exists);
    let before = current.aggregate.client.rotating_token_hash.clone();
    let ((redirect, complete, nonce), completed) = match &st.purpose {
        OAuthPurpose::SignIn { id } => {
            let mut s = current
                .sign_in(id)
                .map_err(|_| invalid_callback("the sign-in is gone"))?
                .clone();
            let back = waiting(app, s.oauth.as_mut(), st)?;
            let completed = match answer {
                Err(code) => {
                    fail_with(app, &mut current, s, code, vec![used]).await?;
                    false
                }
                Ok(p) => match owner_of(app, &p).await? {
                    Some(owner) => sign_in_as(app, &mut current, s, owner, &p, origin, vec![used])
                        .await?
                        .is_some(),
                    None => {
                        transferable_sign_in(app, &mut current, s, p, vec![used]).await?;
                        false
                    }
                },
            };
            (back, completed)
        }
        OAuthPurpose::SignUp { id } => {
            let mut s = current
                .sign_up(id)
                .map_err(|_| invalid_callback("the sign-up is gone"))?
                .clone();
            let back = waiting(app, s.external_account.as_mut(), st)?;
            let completed = match answer {
                Err(code) => {
                    if let Some(v) = s.external_account.as_mut() {
                        failed(v, code);
                    }
                    s.updated_at = app.now_ms();
                    sign_up::store_open(app, &mut current, s, vec![used]).await?;
                    false
                }
                Ok(p) => sign_up_with(app, &mut current, s, p, origin, vec![used])
                    .await?
                    .is_some(),
            };
            (back, completed)
        }
        OAuthPurpose::Connect {
            user_id,
            external_account_id,
        } => {
            let redirect =
                connect_callback(app, user_id, external_account_id, answer, used).await?;
            ((redirect, None, None), false)
        }
    };
    let target = match (completed, complete) {
        (true, Some(c)) => c,
        _ => redirect,
    };
    let pairs: Vec<(&str, &str)> = nonce
        .iter()
        .map(|n| ("rotating_token_nonce", n.as_str()))
        .collect();
    let rotated = current.aggregate.client.rotating_token_hash != before;
    // A native app collects its token with the nonce; the system browser that carried the
    // callback must not be handed the app's client.
    let token = (rotated && nonce.is_none()).then(|| current.token.clone());
    Ok(CallbackOutcome {
        // A development browser learns its rotated token from the page it lands on.
        token_in_location: token.is_some() && app.settings.is_development() && nonce.is_none(),
        location: if pairs.is_empty() {
            target
        } else {
            with_query(&target, &pairs)
        },
        token,
        client_uat: current.client_uat_at(app.now_ms()),
    })
}

/// The callback of a connection in the profile: the account joins the user, unless another
/// user holds it.
async fn connect_callback(
    app: &App,
    user_id: &str,
    account_id: &str,
    answer: std::result::Result<ExternalProfile, Code>,
    used: Write,
) -> Result<String> {
    let mut user = app
        .repo
        .load_user(user_id)
        .await?
        .ok_or_else(|| invalid_callback("the user is gone"))?;
    let now = app.now_ms();
    let idx = user
        .external_accounts
        .iter()
        .position(|a| a.id == account_id)
        .ok_or_else(|| invalid_callback("the account is gone"))?;
    let redirect = user.external_accounts[idx]
        .verification
        .redirect_url
        .clone()
        .unwrap_or_default();
    let mut writes = vec![used];
    let result = match answer {
        Err(code) => Err(code),
        Ok(p) => {
            let previous = user.external_accounts[idx].provider_user_id.clone();
            let held_by = app
                .repo
                .store()
                .get(&keys::external_account(&p.strategy, &p.subject))
                .await?
                .map(|i| from_doc::<crate::repo::IdentifierOwner>(&i))
                .transpose()?
                .map(|o| o.user_id);
            let theirs = held_by.as_deref().is_some_and(|o| o != user.id);
            let other_here = user.external_accounts.iter().any(|a| {
                a.id != account_id && a.provider == p.strategy && a.provider_user_id == p.subject
            });
            if theirs || other_here {
                Err(Code::OauthAccountAlreadyConnected)
            } else if !previous.is_empty() && previous != p.subject {
                // Re-authorizing must come back with the same provider account.
                Err(Code::OauthAccountAlreadyConnected)
            } else {
                if held_by.is_none() {
                    writes.push(Repo::claim_external_account_write(
                        &p.strategy,
                        &p.subject,
                        &user.id,
                    )?);
                }
                Ok(p)
            }
        }
    };
    let a = &mut user.external_accounts[idx];
    match result {
        Ok(p) => {
            a.update_from(&p, now);
            a.verification.status = OAuthStatus::Verified;
            a.verification.error = None;
        }
        // A re-authorization that failed leaves the connection as it was, with the error
        // for the profile to show ("reconnect").
        Err(code) if !a.provider_user_id.is_empty() => {
            a.verification.error = Some(code.as_str().to_owned());
        }
        Err(code) => failed(&mut a.verification, code),
    }
    a.verification.external_verification_redirect_url = None;
    // A connection that never completed is not kept as an account.
    if a.provider_user_id.is_empty() {
        user.external_accounts.remove(idx);
    }
    user.updated_at = now;
    writes.extend(Repo::user_writes(&user)?);
    super::client::commit(app, writes).await?;
    Ok(redirect)
}

/// `POST /v1/client/sign_ups {transfer: true}`: the client's sign-in whose provider account has
/// no user becomes a sign-up (and the user, when nothing else is required).
#[derive(Debug, Clone, Default)]
pub struct TransferToSignUp {
    pub fields: SignUpFields,
}

impl ClientCommand for TransferToSignUp {
    type Output = Option<Created>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        sign_up::ensure_open_for_sign_up(app)?;
        session::ensure_can_sign_in(app, current)?;
        let now = app.now_ms();
        let mut from = current.aggregate.sign_in.clone().ok_or_else(no_transfer)?;
        let profile = take_transferable(from.oauth.as_mut(), now)?;
        from.updated_at = now;
        let id = random::object_id(app.random.as_ref(), "sua");
        let mut s = SignUpRecord::new(id, current.client().id.clone(), now);
        sign_up::apply(app, &mut s, &self.fields).await?;
        // The sign-in gives its provider account up in the same transaction: it transfers once.
        let consumed = vec![Repo::sign_in_write(&from)?];
        let created = sign_up_with(app, current, s, profile, origin, consumed).await?;
        current.aggregate.sign_in = Some(from);
        Ok(created)
    }
}

fn no_transfer() -> Error {
    Error::new(Code::BadRequest)
        .param("transfer")
        .long("There is nothing to transfer.")
}

/// The provider account a transferable verification holds, taken out of it (a transfer
/// happens once, within the verification's lifetime).
fn take_transferable(
    v: Option<&mut OAuthVerificationRecord>,
    now: crate::clock::UnixMillis,
) -> Result<ExternalProfile> {
    let v = v
        .filter(|v| v.status == OAuthStatus::Transferable)
        .ok_or_else(no_transfer)?;
    if now >= v.expire_at {
        v.status = OAuthStatus::Expired;
        v.profile = None;
        return Err(Error::new(Code::VerificationExpired).param("transfer"));
    }
    v.profile.take().ok_or_else(no_transfer)
}

/// `POST /v1/client/sign_ins {transfer: true}`: the client's sign-up whose provider account
/// already has a user signs that user in.
#[derive(Debug, Clone, Default)]
pub struct TransferToSignIn;

impl ClientCommand for TransferToSignIn {
    type Output = Option<SignedIn>;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        session::ensure_can_sign_in(app, current)?;
        let now = app.now_ms();
        let mut from = current.aggregate.sign_up.clone().ok_or_else(no_transfer)?;
        let strategy = from
            .external_account
            .as_ref()
            .map(|v| v.strategy.clone())
            .unwrap_or_default();
        let profile = take_transferable(from.external_account.as_mut(), now)?;
        from.updated_at = now;
        let mut owner = owner_of(app, &profile)
            .await?
            .ok_or_else(|| Error::new(Code::ExternalAccountNotFound).param("transfer"))?;
        lockout::ensure_unlocked(&mut owner.0, now)?;
        let id = random::object_id(app.random.as_ref(), "sia");
        let mut s = SignInRecord::new(id, current.client().id.clone(), now);
        s.oauth = Some(OAuthVerificationRecord {
            strategy,
            status: OAuthStatus::Unverified,
            expire_at: now,
            ..Default::default()
        });
        // The sign-up gives its provider account up in the same transaction.
        let consumed = vec![Repo::sign_up_write(&from)?];
        let done = sign_in_as(app, current, s, owner, &profile, origin, consumed).await?;
        current.aggregate.sign_up = Some(from);
        Ok(done)
    }
}

/// The ID-token strategies: tokens an app obtained from the provider itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStrategy {
    /// `google_one_tap`: a Google ID token (the `oauth_google` connection).
    GoogleOneTap,
    /// `oauth_token_apple`: Sign in with Apple's identity token (the `oauth_apple` connection).
    AppleToken,
}

impl TokenStrategy {
    pub fn parse(strategy: &str) -> Option<Self> {
        match strategy {
            "google_one_tap" => Some(Self::GoogleOneTap),
            "oauth_token_apple" => Some(Self::AppleToken),
            _ => None,
        }
    }

    fn connection(self) -> &'static str {
        match self {
            Self::GoogleOneTap => "oauth_google",
            Self::AppleToken => "oauth_apple",
        }
    }
}

async fn token_identity(
    app: &App,
    strategy: TokenStrategy,
    token: &str,
) -> Result<ExternalProfile> {
    let provider = signing_in_provider(app, strategy.connection())?;
    app.social
        .verify_id_token(provider, token, app.now_ms().div_euclid(1000))
        .await
        .map_err(|e| {
            let mut out = Error::new(e.code).param("token");
            out.internal = e.internal;
            out
        })
}

/// `POST /v1/client/sign_ins {strategy: google_one_tap | oauth_token_apple, token}`.
#[derive(Debug, Clone)]
pub struct TokenSignIn {
    pub strategy: TokenStrategy,
    pub token: String,
}

impl ClientCommand for TokenSignIn {
    type Output = Option<SignedIn>;
    const CREATES_CLIENT: bool = true;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        session::ensure_can_sign_in(app, current)?;
        let p = token_identity(app, self.strategy, &self.token).await?;
        let now = app.now_ms();
        let id = random::object_id(app.random.as_ref(), "sia");
        let mut s = SignInRecord::new(id, current.client().id.clone(), now);
        s.oauth = Some(OAuthVerificationRecord {
            strategy: p.strategy.clone(),
            status: OAuthStatus::Unverified,
            expire_at: now + duration_ms(security::OAUTH_STATE_LIFETIME),
            ..Default::default()
        });
        match owner_of(app, &p).await? {
            Some(owner) => {
                let mut owner = owner;
                lockout::ensure_unlocked(&mut owner.0, now)?;
                sign_in_as(app, current, s, owner, &p, origin, Vec::new()).await
            }
            None if self.strategy == TokenStrategy::GoogleOneTap => {
                // clerk-js answers this error by signing up with the same token.
                Err(Error::new(Code::ExternalAccountNotFound).param("token"))
            }
            None => {
                transferable_sign_in(app, current, s, p, Vec::new()).await?;
                Ok(None)
            }
        }
    }
}

/// `POST /v1/client/sign_ups {strategy: google_one_tap | oauth_token_apple, token}`.
#[derive(Debug, Clone)]
pub struct TokenSignUp {
    pub strategy: TokenStrategy,
    pub token: String,
    pub fields: SignUpFields,
}

impl ClientCommand for TokenSignUp {
    type Output = Option<Created>;
    const CREATES_CLIENT: bool = true;

    async fn run(&self, app: &App, current: &mut Current, origin: &Origin) -> Result<Self::Output> {
        sign_up::ensure_open_for_sign_up(app)?;
        session::ensure_can_sign_in(app, current)?;
        let p = token_identity(app, self.strategy, &self.token).await?;
        let now = app.now_ms();
        let id = random::object_id(app.random.as_ref(), "sua");
        let mut s = SignUpRecord::new(id, current.client().id.clone(), now);
        sign_up::apply(app, &mut s, &self.fields).await?;
        sign_up_with(app, current, s, p, origin, Vec::new()).await
    }
}

/// `GET /v1/client/sign_ins/{id}?rotating_token_nonce=…` (and sign-ups): a native app collects
/// its client token after the provider. The nonce must match exactly and works once; the
/// client token rotates, so the answer carries the only token that now works.
pub fn collect_rotated_token(
    app: &App,
    current: &mut Current,
    attempt_id: &str,
    nonce: &str,
) -> Result<Write> {
    let wrong =
        || Error::new(Code::AuthenticationInvalid).long("The rotating token nonce does not match.");
    let matches = |v: &OAuthVerificationRecord| {
        v.rotating_token_nonce_hash
            .as_deref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(sha256_hex(nonce).as_bytes())))
    };
    let now = app.now_ms();
    if let Some(s) = current
        .aggregate
        .sign_in
        .as_mut()
        .filter(|s| s.id == attempt_id)
    {
        let v = s.oauth.as_mut().filter(|v| matches(v)).ok_or_else(wrong)?;
        v.rotating_token_nonce_hash = None;
        s.updated_at = now;
        let write = Repo::sign_in_write(s)?;
        current.rotate_token(app)?;
        return Ok(write);
    }
    if let Some(s) = current
        .aggregate
        .sign_up
        .as_mut()
        .filter(|s| s.id == attempt_id)
    {
        let v = s
            .external_account
            .as_mut()
            .filter(|v| matches(v))
            .ok_or_else(wrong)?;
        v.rotating_token_nonce_hash = None;
        s.updated_at = now;
        let write = Repo::sign_up_write(s)?;
        current.rotate_token(app)?;
        return Ok(write);
    }
    Err(Error::not_found())
}

/// `POST /v1/me/external_accounts`: starts connecting a provider account to the user.
#[derive(Debug, Clone)]
pub struct ConnectAccount {
    pub strategy: String,
    pub back: Return,
    pub hints: Hints,
    pub binding: Binding,
}

impl UserCommand for ConnectAccount {
    type Output = ExternalAccountRecord;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let provider = app.social.provider(&self.strategy)?;
        let targets = checked_targets(app, &self.back)?;
        let now = app.now_ms();
        let id = random::object_id(app.random.as_ref(), "eac");
        let purpose = OAuthPurpose::Connect {
            user_id: a.user.id.clone(),
            external_account_id: id.clone(),
        };
        let client_id = a.current.client().id.clone();
        let (v, write) = begin(
            app,
            &client_id,
            purpose,
            provider,
            targets,
            &self.hints,
            &self.binding,
        )
        .await?;
        let record = ExternalAccountRecord::pending(id, v, now);
        // Pending connections of the same provider are replaced, not piled up.
        a.user
            .external_accounts
            .retain(|x| !(x.provider == record.provider && x.provider_user_id.is_empty()));
        a.user.external_accounts.push(record.clone());
        super::me::acting::save(app, a, Vec::new(), "strategy", vec![write]).await?;
        Ok(record)
    }
}

/// `PATCH /v1/me/external_accounts/{id}/reauthorize`: asks the provider again (more scopes,
/// a fresh grant); the account stays connected until the callback says otherwise.
#[derive(Debug, Clone)]
pub struct Reauthorize {
    pub id: String,
    pub back: Return,
    pub hints: Hints,
    pub binding: Binding,
}

impl UserCommand for Reauthorize {
    type Output = ExternalAccountRecord;

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let strategy = a
            .user
            .external_accounts
            .iter()
            .find(|x| x.id == self.id)
            .map(|x| x.provider.clone())
            .ok_or_else(Error::not_found)?;
        let provider = app.social.provider(&strategy)?;
        let targets = checked_targets(app, &self.back)?;
        let purpose = OAuthPurpose::Connect {
            user_id: a.user.id.clone(),
            external_account_id: self.id.clone(),
        };
        let client_id = a.current.client().id.clone();
        let (v, write) = begin(
            app,
            &client_id,
            purpose,
            provider,
            targets,
            &self.hints,
            &self.binding,
        )
        .await?;
        let account = a
            .user
            .external_accounts
            .iter_mut()
            .find(|x| x.id == self.id)
            .ok_or_else(Error::not_found)?;
        // A connected account stays connected (and signs in) while the provider is asked
        // again: only the way to the provider is new.
        let status = if account.provider_user_id.is_empty() {
            OAuthStatus::Unverified
        } else {
            account.verification.status
        };
        account.verification = OAuthVerificationRecord { status, ..v };
        let out = account.clone();
        super::me::acting::save(app, a, Vec::new(), "id", vec![write]).await?;
        Ok(out)
    }
}

/// `DELETE /v1/me/external_accounts/{id}`: refused when it is the user's last way to sign in.
#[derive(Debug, Clone)]
pub struct Disconnect {
    pub id: String,
}

impl UserCommand for Disconnect {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let account = a
            .user
            .external_accounts
            .iter()
            .find(|x| x.id == self.id)
            .cloned()
            .ok_or_else(Error::not_found)?;
        let removed = state::WayIn::ExternalAccount(&account.id);
        if account.is_verified() && !state::signs_in_without(app, &a.user, removed) {
            return Err(Error::new(Code::LastRequiredIdentificationDeletionFailed)
                .long("This is the last way to sign in to this account, so it cannot be disconnected."));
        }
        a.user.external_accounts.retain(|x| x.id != self.id);
        let mut guards = Vec::new();
        if !account.provider_user_id.is_empty() {
            guards.push(Repo::release_external_account_write(
                &account.provider,
                &account.provider_user_id,
            ));
        }
        super::me::acting::save(app, a, guards, "id", Vec::new()).await
    }
}

/// The guard releases of a deleted user's connected accounts.
pub fn release_all(u: &UserRecord) -> Vec<Write> {
    u.external_accounts
        .iter()
        .filter(|a| !a.provider_user_id.is_empty())
        .map(|a| Repo::release_external_account_write(&a.provider, &a.provider_user_id))
        .collect()
}
