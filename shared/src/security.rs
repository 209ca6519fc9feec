//! Security defaults, in one place, each with the anchor it comes from.
//!
//! Every limit, lifetime and cost that protects users lives here as a named constant so that a
//! reviewer can audit them together and a change to one is a one-line diff. Instance settings
//! may tighten some of them (e.g. the session lifetime); none of them is silently loosened
//! elsewhere.

use std::time::Duration;

/// argon2id memory cost in KiB (19 MiB). OWASP Password Storage Cheat Sheet, "Argon2id".
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// argon2id iterations. OWASP Password Storage Cheat Sheet, "Argon2id" (m=19 MiB, t=2, p=1).
pub const ARGON2_ITERATIONS: u32 = 2;
/// argon2id lanes. OWASP Password Storage Cheat Sheet.
pub const ARGON2_PARALLELISM: u32 = 1;
/// Salt length for password hashes. OWASP Password Storage Cheat Sheet (≥ 16 bytes).
pub const PASSWORD_SALT_BYTES: usize = 16;

/// Shortest password accepted. NIST SP 800-63B §5.1.1.2, OWASP ASVS 6.2.1.
pub const PASSWORD_MIN_LENGTH: usize = 8;
/// Longest password accepted; long enough for passphrases, short enough to bound hashing work.
/// NIST SP 800-63B §5.1.1.2 (≥ 64), OWASP ASVS 6.2.9, Clerk's `max_length` default.
pub const PASSWORD_MAX_LENGTH: usize = 128;

/// Digits in a one-time code. OWASP ASVS 6.5 (≥ 20 bits of entropy), Clerk.
pub const OTP_DIGITS: usize = 6;
/// How long a one-time code stays valid. OWASP ASVS 6.5.5 (≤ 10 minutes), Clerk.
pub const OTP_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Wrong tries allowed on one verification before it fails. OWASP ASVS 6.5, Clerk.
pub const OTP_MAX_ATTEMPTS: u32 = 3;
/// Minimum delay before another code is sent to the same destination, whatever the strategy or
/// the attempt asking for it. Clerk (30 s resend), OWASP Authentication Cheat Sheet.
pub const OTP_RESEND_COOLDOWN: Duration = Duration::from_secs(30);
/// Codes sent to one email address or phone number per hour. OWASP Forgot Password and
/// "SMS pumping" guidance (cap sends per destination); Clerk limits resends per identifier.
pub const SENDS_PER_DESTINATION_PER_HOUR: u32 = 5;
/// Codes one client may have sent per hour, to any destinations: one device cannot use the API
/// to text a list of numbers (SMS toll fraud). OWASP API Security Top 10 API6 (unrestricted
/// access to sensitive business flows).
pub const SENDS_PER_CLIENT_PER_HOUR: u32 = 6;
/// The window of the hourly send caps.
pub const SEND_CAP_WINDOW: Duration = Duration::from_secs(60 * 60);
/// The code Clerk's test identifiers accept in development instances. Clerk "Test emails and phones".
pub const DEVELOPMENT_TEST_CODE: &str = "424242";

/// Failed first- or second-factor attempts before a user is locked. Clerk "User lockout".
pub const LOCKOUT_MAX_ATTEMPTS: u32 = 10;
/// How long a lockout lasts. Clerk "User lockout" (default 1 hour).
pub const LOCKOUT_DURATION: Duration = Duration::from_secs(60 * 60);

/// Creations and account changes (clients, sign-ins, sign-ups and their updates, profile and
/// identifier changes) allowed per IP per window. Clerk FAPI rate limits.
pub const RATE_LIMIT_CREATES: u32 = 5;
/// Verification attempts allowed per IP per window. Clerk FAPI rate limits.
pub const RATE_LIMIT_ATTEMPTS: u32 = 3;
/// Requests that send a code (`prepare_*`) allowed per IP per window. Clerk FAPI rate limits
/// (prepare endpoints share the attempt limits).
pub const RATE_LIMIT_PREPARES: u32 = 3;
/// The fixed window both rate limits count over. Clerk FAPI rate limits.
pub const RATE_LIMIT_WINDOW: Duration = Duration::from_secs(10);

/// Longest a session lives, whatever its activity. Clerk default session lifetime (7 days).
pub const SESSION_MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How recent a session's factor verification must be for a sensitive action. Clerk
/// reverification ("strict": 10 minutes, the strongest factor the user has), OWASP ASVS 3.7.1.
pub const REVERIFICATION_MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// Lifetime of a session token (JWT). Clerk default (60 seconds).
pub const SESSION_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// How far back `nbf` is set, to absorb clock skew between us and verifiers. Clerk v2 tokens.
pub const SESSION_TOKEN_NOT_BEFORE_SKEW: Duration = Duration::from_secs(10);
/// How old the signing keys in hand may get before they are read from the store again: the
/// bound on how long a staged rotation takes to reach every warm instance. NIST SP 800-57
/// (keys are rotated), Clerk publishes new keys in its JWKS before signing with them.
pub const SIGNING_KEYS_REFRESH: Duration = Duration::from_secs(5 * 60);
/// How old the stored secret-key hashes in hand may get before an unknown key makes them be
/// read again: a new key works within this time; wrong keys cost at most one read per period.
/// OWASP API Security Top 10 API2 (broken authentication: no unbounded work for bad keys).
pub const SECRET_KEYS_REFRESH: Duration = Duration::from_secs(60);
/// How long the handshake's answer (`__clerk_handshake`) lives: the one redirect back to the
/// app. Clerk's handshake cookie is short-lived for the same reason.
pub const HANDSHAKE_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// How long after it is staged a rotated key starts signing by default: twice the refresh
/// bound, so every instance publishes it first.
pub const SIGNING_KEY_ACTIVATION_DELAY: Duration = Duration::from_secs(10 * 60);
/// RSA modulus size of session-token keys: `@clerk/backend` only parses RSA-2048 PEMs. Clerk.
pub const SIGNING_KEY_BITS: usize = 2048;

/// Random bytes in a client token's rotating secret (128 bits). OWASP ASVS 7.2.4 / 3.2.2.
pub const CLIENT_ROTATING_TOKEN_BYTES: usize = 16;
/// Bytes of the HMAC key that signs client tokens (256 bits). NIST SP 800-107 / RFC 7518 §3.2.
pub const CLIENT_TOKEN_SECRET_BYTES: usize = 32;
/// How long the `__client` cookie is kept by the browser. Clerk sets long-lived client cookies.
pub const CLIENT_COOKIE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How long an ended client is kept before the store may drop it. Clerk keeps ended clients briefly.
pub const ENDED_CLIENT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// Active sessions one user may have; a sign-in past it revokes the least recently active.
/// Bounds what one account can accumulate (and every action that must end them all). OWASP
/// Session Management Cheat Sheet (limit concurrent sessions), OWASP API Security API4.
pub const MAX_ACTIVE_SESSIONS_PER_USER: usize = 100;
/// How stale a user's `last_sign_in_at` may get before a sign-in writes it again: a burst of
/// sign-ins of one account (many devices at once) writes the user item once, not once each.
pub const ACTIVITY_WRITE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a client nobody has written (no sign-in, no touch) is kept. Longer than any session
/// may live (settings refuse a longer `max_lifetime_secs`), so only dead clients go. OWASP API4.
pub const IDLE_CLIENT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// How long an untouched sign-in / sign-up attempt lives. Clerk `abandon_at` (24 hours).
pub const ATTEMPT_ABANDON_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Email addresses (and, separately, phone numbers) one account may hold. Bounds what one
/// session can reserve or make the server send to. OWASP API Security Top 10 API4; Clerk limits
/// identifications per user.
pub const MAX_IDENTIFICATIONS_PER_KIND: usize = 10;

/// Largest `unsafe_metadata`, serialised. Clerk's metadata limit (8 KB).
pub const METADATA_MAX_BYTES: usize = 8 * 1024;
/// Deepest nesting of `unsafe_metadata`: far inside what JSON parsers (128) and DynamoDB maps
/// (32 levels) accept, so a stored user always reads back. OWASP API Security Top 10 API4.
pub const METADATA_MAX_DEPTH: usize = 10;

/// Largest profile image accepted. Clerk allows 10 MB; a deployed function receives the upload
/// through API Gateway and Lambda, whose synchronous payload (6 MB, the body base64-encoded)
/// leaves room for about 4.4 MB, so the limit is the same everywhere and below that.
pub const MAX_PROFILE_IMAGE_BYTES: usize = 4 * 1024 * 1024;
/// How long browsers and caches keep a profile image: a year, as its URL changes with its
/// content. RFC 9111 §5.2.2 (`max-age`), RFC 8246 (`immutable`).
pub const PROFILE_IMAGE_CACHE_SECS: u64 = 365 * 24 * 60 * 60;

/// Largest request body accepted; FAPI bodies are small forms. OWASP API Security Top 10 API4
/// (unrestricted resource consumption).
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;

/// Attempts per webhook message before it is marked failed. Svix (Clerk's webhook provider)
/// retries a message 8 times over about a day before giving up.
pub const WEBHOOK_MAX_ATTEMPTS: u32 = 8;
/// The first retry's wait; each next wait is [`WEBHOOK_BACKOFF_FACTOR`] times longer, up to
/// [`WEBHOOK_MAX_RETRY_DELAY`]: 5 s, 25 s, 2 min, 10 min, 52 min, 4.3 h, 10 h — Svix's schedule
/// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) in shape, exponential as the AWS Architecture
/// Blog's "Exponential Backoff and Jitter" recommends.
pub const WEBHOOK_FIRST_RETRY: Duration = Duration::from_secs(5);
pub const WEBHOOK_BACKOFF_FACTOR: u64 = 5;
pub const WEBHOOK_MAX_RETRY_DELAY: Duration = Duration::from_secs(10 * 60 * 60);
/// How long one delivery may take before it counts as failed. Svix: 15 s.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a worker holds a message it is sending; a worker that stops mid-delivery (a crash, a
/// restart, a Lambda timeout) leaves it to be sent again after this. Longer than the timeout.
pub const WEBHOOK_LEASE: Duration = Duration::from_secs(60);
/// How long a delivered message is kept (for operators), as Svix keeps message history.
pub const WEBHOOK_DELIVERED_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Webhook endpoints an instance may have. Each event is one outbox message per endpoint, written
/// in the transaction of its change, and a transaction holds at most 100 writes (DynamoDB): with
/// the largest batch of changes (20 sessions ended at once) and 3 endpoints, 80. Svix itself
/// fans one message out to any number of endpoints; point several consumers at one receiver to
/// go beyond this.
pub const MAX_WEBHOOK_ENDPOINTS: usize = 3;

/// How long a social sign-in may take at the provider: the `state` and its PKCE verifier and
/// nonce are kept this long, then refused. OWASP OAuth 2.0 Cheat Sheet (short-lived state),
/// Clerk (the OAuth verification's `expire_at`, 10 minutes).
pub const OAUTH_STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Random bytes in an OAuth `state`, a PKCE `code_verifier` and an OIDC `nonce`: 256 bits.
/// RFC 7636 §7.1 (the verifier needs ≥ 256 bits of entropy), RFC 6749 §10.10.
pub const OAUTH_RANDOM_BYTES: usize = 32;
/// Clock skew tolerated on an ID token's `exp`, `nbf` and `iat`. OpenID Connect Core §3.1.3.7
/// (items 9–10: "acceptable range" for iat/exp), common practice 60 s.
pub const ID_TOKEN_LEEWAY: Duration = Duration::from_secs(60);
/// An ID token issued longer ago than this is refused even before its `exp`: a sign-in
/// presents a token just minted. OpenID Connect Core §3.1.3.7 item 10.
pub const ID_TOKEN_MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// How long a provider's discovery document and signing keys are kept before they are read
/// again (a key not in hand is looked up at once, at most every [`JWKS_MISS_REFETCH`]).
/// OpenID Connect Core §10.1.1 (key rotation), Google's `Cache-Control` on its JWKS (hours).
pub const PROVIDER_METADATA_CACHE: Duration = Duration::from_secs(60 * 60);
/// The least time between two JWKS reads forced by an unknown `kid`, so tokens with random
/// key ids cannot make us hammer the provider.
pub const JWKS_MISS_REFETCH: Duration = Duration::from_secs(60);
/// Time allowed for one request to a provider (discovery, keys, code exchange, profile).
pub const PROVIDER_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest provider answer read (a JWKS, a token response, a profile).
pub const PROVIDER_RESPONSE_MAX_BYTES: usize = 256 * 1024;

/// Random bytes in an email link's token: 256 bits, so a link cannot be guessed at all (the
/// link replaces a 6-digit code and its three tries). OWASP Forgot Password Cheat Sheet ("URL
/// tokens": long, random, single use, expiring).
pub const EMAIL_LINK_TOKEN_BYTES: usize = 32;

/// How long a passkey ceremony (registration or sign-in) may take between its options and the
/// browser's answer; its challenge is refused after. W3C WebAuthn Level 3 §15.1 (recommended
/// timeout 300 000–600 000 ms when user verification is required), Clerk (the passkey
/// verification's `expire_at`).
pub const PASSKEY_CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Passkeys one user may register. Clerk (`passkey_quota_exceeded` past 10 per user).
pub const PASSKEYS_PER_USER_MAX: usize = 10;
/// Longest credential id accepted. W3C WebAuthn Level 3 §4 ("Credential ID": at most 1023
/// bytes).
pub const PASSKEY_CREDENTIAL_ID_MAX_BYTES: usize = 1023;
/// Largest stored credential (public key, counter, flags, attestation) accepted, as JSON: an
/// ES256 or RS256 key with the longest credential id takes about 4 KiB; attestation
/// certificate chains, which an authenticator may add though "none" is asked for, are
/// otherwise unbounded. Keeps [`PASSKEYS_PER_USER_MAX`] passkeys far inside DynamoDB's 400 KB
/// item.
pub const PASSKEY_CREDENTIAL_MAX_BYTES: usize = 8 * 1024;
/// Longest passkey name accepted (a rename). Clerk's UserProfile form limit.
pub const PASSKEY_NAME_MAX_CHARS: usize = 100;
