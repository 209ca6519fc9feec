//! One-time codes, shared by sign-up, sign-in and `/v1/me`: issuing, delivering, attempting.
//!
//! ```text
//!   prepare ──► unverified (code hash, expire_at, attempts 0) ──attempt ok──► verified
//!      ▲  (30 s cooldown)      │ wrong code: attempts + 1
//!      └── prepare again ◄─────┤ attempts = 3 ──► failed   (prepare again to restart)
//!                              └ past expire_at ──► expired (prepare again to restart)
//! ```
//!
//! Codes are 6 digits from the injected CSPRNG and are stored only as an HMAC-SHA-256 keyed by
//! an instance secret (a plain hash of a 6-digit code is reversed by trying a million values).
//! Clerk's test identifiers on development instances get the fixed code `424242` and nothing is
//! sent.

use crate::app::App;
use crate::clock::{UnixMillis, duration_ms};
use crate::codes::CodeHasher;
use crate::courier::{Channel, Message};
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::model::records::{VerificationRecord, VerificationStatus};
use crate::random;
use crate::security;
use crate::vocabulary::{IdentificationKind, Strategy};

/// Why a code is being sent, for the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    SignIn,
    ResetPassword,
    SecondFactor,
}

/// Where a code goes.
#[derive(Debug, Clone)]
pub struct Destination {
    pub channel: Channel,
    /// A normalised email address or E.164 number.
    pub to: String,
}

impl Destination {
    /// The address or number of an identification of `kind`.
    pub fn new(kind: IdentificationKind, to: &str) -> Self {
        match kind {
            IdentificationKind::EmailAddress => Self::email(to),
            IdentificationKind::PhoneNumber => Self::sms(to),
        }
    }

    pub fn email(to: &str) -> Self {
        Self {
            channel: Channel::Email,
            to: to.to_owned(),
        }
    }

    pub fn sms(to: &str) -> Self {
        Self {
            channel: Channel::Sms,
            to: to.to_owned(),
        }
    }

    fn is_test_identifier(&self) -> bool {
        match self.channel {
            Channel::Email => identifiers::is_test_email(&self.to),
            Channel::Sms => identifiers::is_test_phone(&self.to),
        }
    }
}

fn message(app: &App, dest: &Destination, code: &str, purpose: Purpose) -> Message {
    let name = &app.settings.instance.application_name;
    let minutes = security::OTP_LIFETIME.as_secs() / 60;
    let what = match purpose {
        Purpose::Verify => "verification code",
        Purpose::SignIn => "sign-in code",
        Purpose::ResetPassword => "password reset code",
        Purpose::SecondFactor => "two-step verification code",
    };
    let text = format!(
        "{code} is your {name} {what}. It expires in {minutes} minutes. \
         If you did not ask for it, you can ignore this message."
    );
    let html = match dest.channel {
        Channel::Email => Some(format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p>Your {name} {what} is:</p>\
             <p style=\"font-size:28px;font-weight:bold;letter-spacing:4px\">{code}</p>\
             <p>It expires in {minutes} minutes. If you did not ask for it, you can ignore this email.</p>\
             </body></html>",
            name = html_escape(name),
        )),
        Channel::Sms => None,
    };
    Message {
        channel: dest.channel,
        to: dest.to.clone(),
        subject: format!("{code} is your {name} {what}"),
        text,
        html,
        code: code.to_owned(),
    }
}

/// The email that carries a sign-in or verification link.
fn link_message(app: &App, dest: &Destination, url: &str, purpose: Purpose) -> Message {
    let name = &app.settings.instance.application_name;
    let minutes = security::OTP_LIFETIME.as_secs() / 60;
    let what = match purpose {
        Purpose::SignIn => "sign in to",
        _ => "verify your email address for",
    };
    Message {
        channel: dest.channel,
        to: dest.to.clone(),
        subject: format!("Your link to {what} {name}"),
        text: format!(
            "Open this link to {what} {name}: {url}\nIt expires in {minutes} minutes and works once. \
             If you did not ask for it, you can ignore this message."
        ),
        html: Some(format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p><a href=\"{url}\">{what_cap} {name}</a></p>\
             <p>The link expires in {minutes} minutes and works once. If you did not ask for it, you can ignore this email.</p>\
             </body></html>",
            url = html_escape(url),
            name = html_escape(name),
            what_cap = match purpose {
                Purpose::SignIn => "Sign in to",
                _ => "Verify your email address for",
            },
        )),
        // The secret this message carries (kept out of logs and events like a code).
        code: url.to_owned(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Who asks for a code: the client (for the per-client send cap), and the request's memory of
/// what it already sent.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub client_id: &'a str,
    pub once: &'a SentOnce,
    /// For an email link: the attempt it completes and the page it returns to.
    pub link: Option<&'a LinkBack>,
}

/// Where an email link leads: the attempt it verifies, and the app's page the browser is sent
/// to afterwards (`redirect_url`, checked by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkBack {
    pub target: LinkTarget,
    pub redirect_url: String,
}

pub use crate::model::records::LinkTarget;

/// A code sent once per request: when the unit of work runs a command again after losing a
/// race, the retry reuses the verification of the code already delivered instead of sending
/// another (which the destination's cooldown would refuse, losing the code that did arrive).
#[derive(Debug, Default)]
pub struct SentOnce(std::sync::Mutex<Option<(String, Strategy, VerificationRecord)>>);

impl SentOnce {
    fn get(&self, destination: &str, strategy: Strategy) -> Option<VerificationRecord> {
        let held = match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        held.filter(|(d, s, _)| d == destination && *s == strategy)
            .map(|(_, _, v)| v)
    }

    fn put(&self, destination: String, strategy: Strategy, v: VerificationRecord) {
        match self.0.lock() {
            Ok(mut g) => *g = Some((destination, strategy, v)),
            Err(p) => *p.into_inner() = Some((destination, strategy, v)),
        }
    }
}

impl Clone for SentOnce {
    /// A copy of a command sends afresh.
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// Issues a new code for `strategy`, delivers it, and returns the verification to store.
/// Refuses while the previous code is younger than the resend cooldown, and — for a message
/// that is really sent — when the destination's cooldown or the hourly caps of the destination
/// or of `client_id` say so (`rate_limit::admit_send`).
pub async fn prepare(
    app: &App,
    strategy: Strategy,
    dest: &Destination,
    purpose: Purpose,
    previous: Option<&VerificationRecord>,
    by: Sender<'_>,
) -> Result<VerificationRecord> {
    let now = app.now_ms();
    let channel = match dest.channel {
        Channel::Email => "email",
        Channel::Sms => "sms",
    };
    let destination = format!("{channel}:{}", dest.to);
    if let Some(sent) = by.once.get(&destination, strategy) {
        return Ok(sent);
    }
    if let Some(sent_at) = previous
        .filter(|p| p.strategy == strategy && p.status == VerificationStatus::Unverified)
        .and_then(|p| p.sent_at)
    {
        let ready_at = sent_at + duration_ms(security::OTP_RESEND_COOLDOWN);
        if now < ready_at {
            let wait = u64::try_from((ready_at - now + 999) / 1000).unwrap_or(1);
            return Err(Error::new(Code::TooManyRequests)
                .long(format!(
                    "A code was just sent. You can request another in {wait} seconds."
                ))
                .retry_after(wait));
        }
    }
    let link = strategy == Strategy::EmailLink;
    // A link cannot be guessed like a code, so test identifiers get theirs too.
    let test_identifier = !link && app.settings.is_development() && dest.is_test_identifier();
    let code = if link {
        random::token(app.random.as_ref(), security::EMAIL_LINK_TOKEN_BYTES)
    } else if test_identifier {
        security::DEVELOPMENT_TEST_CODE.to_owned()
    } else {
        random::numeric_code(app.random.as_ref(), security::OTP_DIGITS)
    };
    let expire_at = now + duration_ms(security::OTP_LIFETIME);
    if link {
        let back = by.link.ok_or_else(|| Error::missing("redirect_url"))?;
        remember_link(app, &code, back, by.client_id, expire_at).await?;
    }
    if !test_identifier {
        super::rate_limit::admit_send(app, &destination, by.client_id).await?;
        let msg = if link {
            let url = format!(
                "{}/v1/verify?token={code}",
                app.settings.instance.frontend_api_url.trim_end_matches('/')
            );
            link_message(app, dest, &url, purpose)
        } else {
            message(app, dest, &code, purpose)
        };
        let sent = app.courier.send(&msg).await;
        if sent.is_ok() {
            record_sent(app, &msg).await;
        }
        if let Err(e) = sent {
            super::rate_limit::refund_send(app, &destination, by.client_id).await?;
            let mut err = Error::new(Code::MessageDeliveryFailed).meta(
                "channel",
                serde_json::to_value(dest.channel).unwrap_or_default(),
            );
            err.internal = e.internal.or(Some(e.code.to_string()));
            return Err(err);
        }
    }
    let v = VerificationRecord {
        strategy,
        status: VerificationStatus::Unverified,
        code_hash: Some(app.codes.hash(&code)),
        attempts: 0,
        expire_at: Some(expire_at),
        sent_at: Some(now),
        provider: None,
        verified_at_client: None,
    };
    by.once.put(destination, strategy, v.clone());
    Ok(v)
}

/// Keeps what a link's token leads to, by the token's SHA-256 (the item never holds the token),
/// written at once: a link that arrives before its attempt is stored finds nothing to verify
/// (the attempt's hash differs), never the wrong thing.
async fn remember_link(
    app: &App,
    token: &str,
    back: &LinkBack,
    client_id: &str,
    expire_at: UnixMillis,
) -> Result<()> {
    let record = crate::model::records::LinkRecord {
        client_id: client_id.to_owned(),
        target: back.target.clone(),
        redirect_url: back.redirect_url.clone(),
        expire_at,
        used: false,
    };
    let item = crate::store::Item::new(
        crate::store::keys::email_link(&link_hash(token)),
        crate::repo::to_doc(&record)?,
    )
    // Kept a day past its expiry, so that a reused link is told apart from a forged one.
    .with_expiry(expire_at.div_euclid(1000) + 24 * 60 * 60);
    super::client::commit(
        app,
        vec![crate::store::Write::put(
            item,
            crate::store::Condition::NotExists,
        )],
    )
    .await
}

/// The SHA-256 (hex) of a link's token: its locator's key.
pub fn link_hash(token: &str) -> String {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends a code that proves someone holds `to` (an identification of `kind`: at sign-up, or
/// added to a profile), asked for `by` a client.
pub async fn prove_identification(
    app: &App,
    (kind, to): (IdentificationKind, &str),
    strategy: crate::vocabulary::VerificationStrategy,
    previous: Option<&VerificationRecord>,
    by: Sender<'_>,
) -> Result<VerificationRecord> {
    let dest = Destination::new(kind, to);
    prepare(app, strategy.into(), &dest, Purpose::Verify, previous, by).await
}

/// What opening an email link did to its verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Verified,
    Expired,
    /// Not this verification's link, or the verification is no longer waiting for one.
    Failed,
    /// Opened in another browser than the one that asked, where the instance requires the same.
    ClientMismatch,
}

impl Opened {
    /// `__clerk_status`, as clerk-js reads it on the page the link returns to.
    pub const fn status(self) -> &'static str {
        match self {
            Opened::Verified => "verified",
            Opened::Expired => "expired",
            Opened::Failed => "failed",
            Opened::ClientMismatch => "client_mismatch",
        }
    }
}

/// Opens an email link (its token) on `v`: verified, once, while it has not expired; records
/// which client's browser opened it (`verified_at_client`).
pub fn open_link(
    v: &mut VerificationRecord,
    token: &str,
    opened_by: Option<&str>,
    now: UnixMillis,
    codes: &CodeHasher,
) -> Opened {
    let stored = v.code_hash.clone().unwrap_or_default();
    if v.strategy != Strategy::EmailLink
        || v.status != VerificationStatus::Unverified
        || !codes.matches(token, &stored)
    {
        return Opened::Failed;
    }
    if v.expire_at.is_some_and(|e| now >= e) {
        v.status = VerificationStatus::Expired;
        return Opened::Expired;
    }
    v.status = VerificationStatus::Verified;
    v.code_hash = None;
    v.verified_at_client = opened_by.map(str::to_owned);
    Opened::Verified
}

/// What an attempt did to the verification (which the caller stores either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Verified,
    /// Wrong code; the verification can still be attempted.
    Incorrect,
    /// Wrong code, and that was the last try: the verification has failed.
    Failed,
}

/// Checks `code` against `v`, updating it. Errors are for attempts that cannot be made at all.
pub fn attempt(app: &App, v: &mut VerificationRecord, code: &str) -> Result<Attempt> {
    check(v, code, app.now_ms(), &app.codes)
}

/// The rule itself, pure: expiry first, then the attempt cap, then the code (a right code is
/// used up; the last wrong one fails the verification).
pub fn check(
    v: &mut VerificationRecord,
    code: &str,
    now: UnixMillis,
    codes: &CodeHasher,
) -> Result<Attempt> {
    if v.strategy == Strategy::EmailLink {
        return Err(Error::new(Code::VerificationStrategyInvalid)
            .param("strategy")
            .long("An email link is verified by opening it, not with a code."));
    }
    match v.status {
        VerificationStatus::Verified => return Err(Error::new(Code::VerificationAlreadyVerified)),
        VerificationStatus::Failed => return Err(Error::new(Code::VerificationFailed)),
        VerificationStatus::Expired => return Err(Error::new(Code::VerificationExpired)),
        VerificationStatus::Unverified => {}
    }
    if v.expire_at.is_some_and(|e| now >= e) {
        v.status = VerificationStatus::Expired;
        return Err(Error::new(Code::VerificationExpired));
    }
    if v.attempts >= security::OTP_MAX_ATTEMPTS {
        v.status = VerificationStatus::Failed;
        return Err(Error::new(Code::VerificationFailed));
    }
    let stored = v.code_hash.clone().unwrap_or_default();
    if codes.matches(code, &stored) {
        v.status = VerificationStatus::Verified;
        v.code_hash = None;
        return Ok(Attempt::Verified);
    }
    v.attempts += 1;
    if v.attempts >= security::OTP_MAX_ATTEMPTS {
        v.status = VerificationStatus::Failed;
        v.code_hash = None;
        return Ok(Attempt::Failed);
    }
    Ok(Attempt::Incorrect)
}

/// The error an unsuccessful attempt answers with.
pub fn attempt_error(outcome: Attempt) -> Error {
    match outcome {
        Attempt::Failed => Error::new(Code::VerificationFailed).param("code"),
        _ => Error::new(Code::FormCodeIncorrect).param("code"),
    }
}

/// An email address a provider vouched for (`from_oauth_<provider>`).
pub fn from_provider(strategy: &str) -> VerificationRecord {
    VerificationRecord {
        provider: Some(strategy.to_owned()),
        ..verified(Strategy::FromOauth)
    }
}

/// A verification marked verified without a code (e.g. an identifier proven another way).
pub fn verified(strategy: Strategy) -> VerificationRecord {
    VerificationRecord {
        strategy,
        status: VerificationStatus::Verified,
        code_hash: None,
        attempts: 0,
        expire_at: None,
        sent_at: None,
        provider: None,
        verified_at_client: None,
    }
}

/// The webhook event of a message sent (`email.created` / `sms.created`), on its own: the send
/// is not a store change, and a failure to record it must not fail the request that sent it.
async fn record_sent(app: &App, msg: &crate::courier::Message) {
    if app.webhooks.is_none() {
        return;
    }
    let prefix = match msg.channel {
        crate::courier::Channel::Email => "ema",
        crate::courier::Channel::Sms => "sms",
    };
    let id = random::object_id(app.random.as_ref(), prefix);
    // Subjects carry the code ("123456 is your code"); events keep it masked.
    let subject = msg.subject.replace(&msg.code, "******");
    let event =
        crate::repo::events::message_event(msg.channel, &id, &msg.to, &subject, app.now_ms());
    if let Err(e) = app.repo.commit(vec![event]).await {
        tracing::warn!(error = %e, "the event of a message sent was not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(codes: &CodeHasher, code: &str) -> VerificationRecord {
        VerificationRecord {
            strategy: Strategy::EmailCode,
            status: VerificationStatus::Unverified,
            code_hash: Some(codes.hash(code)),
            attempts: 0,
            expire_at: Some(10_000),
            sent_at: Some(0),
            provider: None,
            verified_at_client: None,
        }
    }

    /// A hasher and a verification waiting for `123456` until 10 s.
    fn fresh() -> (CodeHasher, VerificationRecord) {
        let codes = match CodeHasher::new(b"instance secret") {
            Ok(h) => h,
            Err(e) => panic!("hasher: {e:?}"),
        };
        let v = pending(&codes, "123456");
        (codes, v)
    }

    #[test]
    fn a_right_code_verifies_once() {
        let (codes, mut v) = fresh();
        assert_eq!(
            check(&mut v, "123456", 1, &codes).ok(),
            Some(Attempt::Verified)
        );
        assert_eq!(v.code_hash, None);
        let again = check(&mut v, "123456", 2, &codes).err().map(|e| e.code);
        assert_eq!(again, Some(Code::VerificationAlreadyVerified));
    }

    #[test]
    fn the_third_wrong_code_fails_the_verification() {
        let (codes, mut v) = fresh();
        let outcomes: Vec<_> = ["000000", "000001", "000002"]
            .iter()
            .map(|wrong| check(&mut v, wrong, 1, &codes).ok())
            .collect();
        let expected = [Attempt::Incorrect, Attempt::Incorrect, Attempt::Failed];
        assert_eq!(outcomes, expected.map(Some));
        let after = check(&mut v, "123456", 1, &codes).err().map(|e| e.code);
        assert_eq!(after, Some(Code::VerificationFailed));
    }

    #[test]
    fn an_expired_code_is_refused_even_when_right() {
        let (codes, mut v) = fresh();
        let late = check(&mut v, "123456", 10_000, &codes)
            .err()
            .map(|e| e.code);
        assert_eq!(late, Some(Code::VerificationExpired));
        assert_eq!(v.status, VerificationStatus::Expired);
    }
}
