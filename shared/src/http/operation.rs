//! Every operation the API serves, in one table with its route and its abuse policy. The unit
//! of work that runs an operation's flow sits beside it (`super::unit_of_work`).
//!
//! ```text
//!   route table (function crate) ──Operation::to(handler)──► route + Extension(Operation)
//!   request ──► Fapi extractor: the operation's policy (rate-limit bucket) ──► body parsed
//!           ──► handler: typed command ──► Fapi::run / Fapi::run_as_user:
//!                   load client (or acting user) ─► flow ─► commit ──lost race──► again (≤ 10)
//! ```
//!
//! A route exists only through [`route_table`], which hands the handler its [`Operation`]; the
//! policy is an exhaustive `match`, so an operation without one does not compile, and
//! `tests/tests/operations.rs` checks that the groups' tables route every operation once.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::Method;

use crate::app::App;
use crate::flows::rate_limit::Bucket;
use crate::vocabulary::IdentificationKind;

/// Declares [`Operation`] from one list of its variants, and `Operation::all()` from the same
/// list, so the two cannot drift apart.
macro_rules! operations {
    ($($op:ident),+ ; each identification kind: $($kop:ident),+ $(,)?) => {
        /// One thing a caller can ask of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($op,)+
            $($kop(IdentificationKind),)+
        }

        impl Operation {
            /// Every operation (with each kind of identification).
            pub fn all() -> Vec<Operation> {
                let mut all = vec![$(Operation::$op),+];
                for kind in IdentificationKind::ALL.iter().copied() {
                    all.extend([$(Operation::$kop(kind)),+]);
                }
                all
            }
        }
    };
}

operations! {
    // environment
    GetEnvironment, TouchEnvironment, CreateDevBrowser, WellKnownJwks, Jwks, Health,
    // client
    GetClient, CreateClient, PutClient, EndClient, Handshake,
    // sign-ins
    CreateSignIn, GetSignIn, PrepareFirstFactor, AttemptFirstFactor, ResetPassword,
    PrepareSecondFactor, AttemptSecondFactor,
    // social sign-in: the providers' return
    OAuthCallback, OAuthCallbackPost,
    // email links: the browser that opens one
    VerifyEmailLink,
    // sign-ups
    CreateSignUp, GetSignUp, UpdateSignUp, PrepareSignUpVerification, AttemptSignUpVerification,
    // sessions
    EndAllSessions, GetSession, TouchSession, EndSession, RemoveSession, CreateSessionToken,
    CreateTemplateToken, ListMySessions, ListMyActiveSessions, RevokeSession,
    // reverification
    StartSessionVerification, PrepareSessionVerificationFirstFactor,
    AttemptSessionVerificationFirstFactor, PrepareSessionVerificationSecondFactor,
    AttemptSessionVerificationSecondFactor,
    // me
    GetMe, UpdateMe, DeleteMe, UpdateMetadata, UpdatePhoneNumber, ChangePassword, RemovePassword,
    StartTotp, VerifyTotp, DeleteTotp, RegenerateBackupCodes,
    ConnectExternalAccount, ReauthorizeExternalAccount, DeleteExternalAccount,
    UploadProfileImage, DeleteProfileImage, GetImage,
    CreatePasskey, AttemptPasskeyVerification, UpdatePasskey, DeletePasskey,
    // Backend API (app servers, with a secret key)
    BackendGetUser, BackendCreateSessionToken, BackendCreateTemplateToken,
    BackendUpdateUserMetadata, BackendBanUser, BackendUnbanUser, BackendLockUser,
    BackendUnlockUser, BackendVerifyPassword, BackendDisableMfa, BackendListSessions,
    BackendGetSession, BackendRevokeSession, BackendVerifyClient, BackendGetClient,
    BackendListJwtTemplates, BackendGetJwtTemplate, BackendDeleteUser, BackendCreateUser,
    BackendUpdateUser, BackendListUsers, BackendCountUsers, BackendDeleteUserPasskey;
    each identification kind:
    ListIdentifications, AddIdentification, GetIdentification, DeleteIdentification,
    PrepareIdentification, AttemptIdentification, BackendCreateIdentification,
    BackendGetIdentification, BackendUpdateIdentification, BackendDeleteIdentification,
}

/// What stands between one caller and an unbounded number of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbusePolicy {
    /// The per-IP bucket the request counts against, if any.
    pub bucket: Option<Bucket>,
    /// Whether the acting session must have verified its factors recently
    /// (`flows::reverification`).
    pub reverify: bool,
    /// Whether the caller must present one of the instance's secret keys
    /// (`Authorization: Bearer sk_…`): the Backend API.
    pub secret_key: bool,
}

const fn policy(bucket: Option<Bucket>, reverify: bool) -> AbusePolicy {
    AbusePolicy {
        bucket,
        reverify,
        secret_key: false,
    }
}

const OPEN: AbusePolicy = policy(None, false);
const CREATE: AbusePolicy = policy(Some(Bucket::Create), false);
const ATTEMPT: AbusePolicy = policy(Some(Bucket::Attempt), false);
const PREPARE: AbusePolicy = policy(Some(Bucket::Prepare), false);
/// A sensitive change to the account: rate-limited like a create, and only from a session that
/// verified its factors recently.
const SENSITIVE: AbusePolicy = policy(Some(Bucket::Create), true);
/// A sensitive change that also checks a secret.
const SENSITIVE_ATTEMPT: AbusePolicy = policy(Some(Bucket::Attempt), true);
/// The Backend API: app servers holding a secret key, which are trusted callers (one server's
/// page renders would soon exhaust a per-IP bucket); wrong keys are cheap to refuse
/// (`App::secret_key_valid`).
const BACKEND: AbusePolicy = AbusePolicy {
    bucket: None,
    reverify: false,
    secret_key: true,
};

impl Operation {
    /// The abuse policy: the one place it is declared.
    ///
    /// - `CREATE`: what creates state or answers "does this identifier exist" (clients, sign-ins,
    ///   sign-ups and their updates, a username change, a reverification started);
    /// - `PREPARE`: what sends a code (and, inside it, the per-destination and per-client send
    ///   caps of `flows::rate_limit::admit_send`);
    /// - `ATTEMPT`: what checks a secret (codes, passwords, TOTP, a social sign-in's `state`,
    ///   whose callback also costs a request to the provider, an email link's token);
    /// - `SENSITIVE`: what could take the account over from a stolen session (identifiers,
    ///   password, second factors, deletion) needs a recent factor verification too. Making an
    ///   identification primary (`PATCH /v1/me`) is checked by that flow, as only that field of
    ///   the request is sensitive;
    /// - `BACKEND`: the Backend API, for holders of a secret key.
    ///
    /// The handshake is `OPEN` like reading the client: framework middleware sends every signed-in
    /// page load with an expired token through it.
    #[rustfmt::skip]
    pub const fn policy(self) -> AbusePolicy {
        use Operation::*;
        match self {
            CreateClient | PutClient | CreateDevBrowser | CreateSignIn | CreateSignUp
            | UpdateSignUp | UpdateMe | StartSessionVerification
            | ReauthorizeExternalAccount | UploadProfileImage | DeleteProfileImage
            | UpdatePasskey => CREATE,
            PrepareFirstFactor | PrepareSecondFactor | PrepareSignUpVerification
            | PrepareIdentification(_) | PrepareSessionVerificationFirstFactor
            | PrepareSessionVerificationSecondFactor => PREPARE,
            AttemptFirstFactor | AttemptSecondFactor | ResetPassword | AttemptSignUpVerification
            | AttemptIdentification(_) | VerifyTotp | AttemptSessionVerificationFirstFactor
            | AttemptSessionVerificationSecondFactor | OAuthCallback | OAuthCallbackPost
            | VerifyEmailLink | AttemptPasskeyVerification => ATTEMPT,
            AddIdentification(_) | DeleteIdentification(_) | UpdatePhoneNumber | StartTotp
            | DeleteTotp | RegenerateBackupCodes | DeleteMe | ConnectExternalAccount
            | DeleteExternalAccount | CreatePasskey | DeletePasskey => SENSITIVE,
            ChangePassword | RemovePassword => SENSITIVE_ATTEMPT,
            BackendGetUser | BackendCreateSessionToken | BackendCreateTemplateToken
            | BackendUpdateUserMetadata | BackendBanUser | BackendUnbanUser | BackendLockUser
            | BackendUnlockUser | BackendVerifyPassword | BackendDisableMfa | BackendListSessions
            | BackendGetSession | BackendRevokeSession | BackendVerifyClient | BackendGetClient
            | BackendListJwtTemplates | BackendGetJwtTemplate | BackendDeleteUser
            | BackendCreateUser | BackendUpdateUser | BackendListUsers | BackendCountUsers
            | BackendDeleteUserPasskey
            | BackendCreateIdentification(_) | BackendGetIdentification(_)
            | BackendUpdateIdentification(_) | BackendDeleteIdentification(_) => BACKEND,
            GetEnvironment | TouchEnvironment | WellKnownJwks | Jwks | Health | GetClient
            | Handshake | EndClient | GetSignIn | GetSignUp | EndAllSessions | GetSession | TouchSession
            | EndSession | RemoveSession | CreateSessionToken | CreateTemplateToken
            | ListMySessions | ListMyActiveSessions | RevokeSession | GetMe | UpdateMetadata
            | ListIdentifications(_) | GetIdentification(_) | GetImage => OPEN,
        }
    }

    /// The method and the route (axum's syntax) that reach the operation.
    #[rustfmt::skip]
    pub const fn route(self) -> (Method, &'static str) {
        use Operation::*;
        match self {
            GetEnvironment => (Method::GET, "/v1/environment"),
            TouchEnvironment => (Method::PATCH, "/v1/environment"),
            CreateDevBrowser => (Method::POST, "/v1/dev_browser"),
            WellKnownJwks => (Method::GET, "/.well-known/jwks.json"),
            Jwks => (Method::GET, "/v1/jwks"),
            Health => (Method::GET, "/v1/health"),
            GetClient => (Method::GET, "/v1/client"),
            CreateClient => (Method::POST, "/v1/client"),
            PutClient => (Method::PUT, "/v1/client"),
            EndClient => (Method::DELETE, "/v1/client"),
            Handshake => (Method::GET, "/v1/client/handshake"),
            CreateSignIn => (Method::POST, "/v1/client/sign_ins"),
            GetSignIn => (Method::GET, "/v1/client/sign_ins/{id}"),
            PrepareFirstFactor => (Method::POST, "/v1/client/sign_ins/{id}/prepare_first_factor"),
            AttemptFirstFactor => (Method::POST, "/v1/client/sign_ins/{id}/attempt_first_factor"),
            ResetPassword => (Method::POST, "/v1/client/sign_ins/{id}/reset_password"),
            PrepareSecondFactor => (Method::POST, "/v1/client/sign_ins/{id}/prepare_second_factor"),
            AttemptSecondFactor => (Method::POST, "/v1/client/sign_ins/{id}/attempt_second_factor"),
            OAuthCallback => (Method::GET, "/v1/oauth_callback"),
            OAuthCallbackPost => (Method::POST, "/v1/oauth_callback"),
            VerifyEmailLink => (Method::GET, "/v1/verify"),
            CreateSignUp => (Method::POST, "/v1/client/sign_ups"),
            GetSignUp => (Method::GET, "/v1/client/sign_ups/{id}"),
            UpdateSignUp => (Method::PATCH, "/v1/client/sign_ups/{id}"),
            PrepareSignUpVerification => (Method::POST, "/v1/client/sign_ups/{id}/prepare_verification"),
            AttemptSignUpVerification => (Method::POST, "/v1/client/sign_ups/{id}/attempt_verification"),
            EndAllSessions => (Method::DELETE, "/v1/client/sessions"),
            GetSession => (Method::GET, "/v1/client/sessions/{id}"),
            TouchSession => (Method::POST, "/v1/client/sessions/{id}/touch"),
            EndSession => (Method::POST, "/v1/client/sessions/{id}/end"),
            RemoveSession => (Method::POST, "/v1/client/sessions/{id}/remove"),
            CreateSessionToken => (Method::POST, "/v1/client/sessions/{id}/tokens"),
            CreateTemplateToken => (Method::POST, "/v1/client/sessions/{id}/tokens/{template}"),
            ListMySessions => (Method::GET, "/v1/me/sessions"),
            ListMyActiveSessions => (Method::GET, "/v1/me/sessions/active"),
            RevokeSession => (Method::POST, "/v1/me/sessions/{id}/revoke"),
            StartSessionVerification => (Method::POST, "/v1/client/sessions/{id}/verify"),
            PrepareSessionVerificationFirstFactor => (Method::POST, "/v1/client/sessions/{id}/verify/prepare_first_factor"),
            AttemptSessionVerificationFirstFactor => (Method::POST, "/v1/client/sessions/{id}/verify/attempt_first_factor"),
            PrepareSessionVerificationSecondFactor => (Method::POST, "/v1/client/sessions/{id}/verify/prepare_second_factor"),
            AttemptSessionVerificationSecondFactor => (Method::POST, "/v1/client/sessions/{id}/verify/attempt_second_factor"),
            GetMe => (Method::GET, "/v1/me"),
            UpdateMe => (Method::PATCH, "/v1/me"),
            DeleteMe => (Method::DELETE, "/v1/me"),
            UpdateMetadata => (Method::PATCH, "/v1/me/metadata"),
            ListIdentifications(k) => (Method::GET, Self::per_kind(k, ["/v1/me/email_addresses", "/v1/me/phone_numbers"])),
            AddIdentification(k) => (Method::POST, Self::per_kind(k, ["/v1/me/email_addresses", "/v1/me/phone_numbers"])),
            GetIdentification(k) => (Method::GET, Self::per_kind(k, ["/v1/me/email_addresses/{id}", "/v1/me/phone_numbers/{id}"])),
            DeleteIdentification(k) => (Method::DELETE, Self::per_kind(k, ["/v1/me/email_addresses/{id}", "/v1/me/phone_numbers/{id}"])),
            PrepareIdentification(k) => (Method::POST, Self::per_kind(k, ["/v1/me/email_addresses/{id}/prepare_verification", "/v1/me/phone_numbers/{id}/prepare_verification"])),
            AttemptIdentification(k) => (Method::POST, Self::per_kind(k, ["/v1/me/email_addresses/{id}/attempt_verification", "/v1/me/phone_numbers/{id}/attempt_verification"])),
            UpdatePhoneNumber => (Method::PATCH, "/v1/me/phone_numbers/{id}"),
            ChangePassword => (Method::POST, "/v1/me/change_password"),
            RemovePassword => (Method::POST, "/v1/me/remove_password"),
            StartTotp => (Method::POST, "/v1/me/totp"),
            VerifyTotp => (Method::POST, "/v1/me/totp/attempt_verification"),
            DeleteTotp => (Method::DELETE, "/v1/me/totp"),
            RegenerateBackupCodes => (Method::POST, "/v1/me/backup_codes"),
            ConnectExternalAccount => (Method::POST, "/v1/me/external_accounts"),
            ReauthorizeExternalAccount => (Method::PATCH, "/v1/me/external_accounts/{id}/reauthorize"),
            DeleteExternalAccount => (Method::DELETE, "/v1/me/external_accounts/{id}"),
            UploadProfileImage => (Method::POST, "/v1/me/profile_image"),
            DeleteProfileImage => (Method::DELETE, "/v1/me/profile_image"),
            GetImage => (Method::GET, "/v1/images/{owner}/{file}"),
            CreatePasskey => (Method::POST, "/v1/me/passkeys"),
            AttemptPasskeyVerification => (Method::POST, "/v1/me/passkeys/{id}/attempt_verification"),
            UpdatePasskey => (Method::PATCH, "/v1/me/passkeys/{id}"),
            DeletePasskey => (Method::DELETE, "/v1/me/passkeys/{id}"),
            BackendGetUser => (Method::GET, "/v1/users/{id}"),
            BackendCreateSessionToken => (Method::POST, "/v1/sessions/{id}/tokens"),
            BackendCreateTemplateToken => (Method::POST, "/v1/sessions/{id}/tokens/{template}"),
            BackendUpdateUserMetadata => (Method::PATCH, "/v1/users/{id}/metadata"),
            BackendBanUser => (Method::POST, "/v1/users/{id}/ban"),
            BackendUnbanUser => (Method::POST, "/v1/users/{id}/unban"),
            BackendLockUser => (Method::POST, "/v1/users/{id}/lock"),
            BackendUnlockUser => (Method::POST, "/v1/users/{id}/unlock"),
            BackendVerifyPassword => (Method::POST, "/v1/users/{id}/verify_password"),
            BackendDisableMfa => (Method::DELETE, "/v1/users/{id}/mfa"),
            BackendListSessions => (Method::GET, "/v1/sessions"),
            BackendGetSession => (Method::GET, "/v1/sessions/{id}"),
            BackendRevokeSession => (Method::POST, "/v1/sessions/{id}/revoke"),
            BackendVerifyClient => (Method::POST, "/v1/clients/verify"),
            BackendGetClient => (Method::GET, "/v1/clients/{id}"),
            BackendListJwtTemplates => (Method::GET, "/v1/jwt_templates"),
            BackendGetJwtTemplate => (Method::GET, "/v1/jwt_templates/{id}"),
            BackendDeleteUser => (Method::DELETE, "/v1/users/{id}"),
            BackendCreateUser => (Method::POST, "/v1/users"),
            BackendUpdateUser => (Method::PATCH, "/v1/users/{id}"),
            BackendListUsers => (Method::GET, "/v1/users"),
            BackendCountUsers => (Method::GET, "/v1/users/count"),
            BackendDeleteUserPasskey => (Method::DELETE, "/v1/users/{id}/passkeys/{passkey_id}"),
            BackendCreateIdentification(k) => (Method::POST, Self::per_kind(k, ["/v1/email_addresses", "/v1/phone_numbers"])),
            BackendGetIdentification(k) => (Method::GET, Self::per_kind(k, ["/v1/email_addresses/{id}", "/v1/phone_numbers/{id}"])),
            BackendUpdateIdentification(k) => (Method::PATCH, Self::per_kind(k, ["/v1/email_addresses/{id}", "/v1/phone_numbers/{id}"])),
            BackendDeleteIdentification(k) => (Method::DELETE, Self::per_kind(k, ["/v1/email_addresses/{id}", "/v1/phone_numbers/{id}"])),
        }
    }

    /// Whether the operation takes a file (a `multipart/form-data` body).
    pub const fn takes_upload(self) -> bool {
        matches!(self, Operation::UploadProfileImage)
    }

    /// The largest body the operation takes, and the error for one larger: forms are small,
    /// a profile image is not.
    pub const fn body_limit(self) -> (usize, crate::error::Code) {
        match self {
            Operation::UploadProfileImage => (
                crate::security::MAX_PROFILE_IMAGE_BYTES + 64 * 1024,
                crate::error::Code::ImageTooLarge,
            ),
            _ => (
                crate::security::MAX_REQUEST_BODY_BYTES,
                crate::error::Code::RequestBodyTooLarge,
            ),
        }
    }

    /// The email-address or phone-number form of a route.
    const fn per_kind(kind: IdentificationKind, [email, phone]: [&'static str; 2]) -> &'static str {
        match kind {
            IdentificationKind::EmailAddress => email,
            IdentificationKind::PhoneNumber => phone,
        }
    }

    /// The route for this operation, served by `handler`.
    pub fn to<H, T>(self, handler: H) -> Route
    where
        H: Handler<T, App>,
        T: 'static,
    {
        let (method, _) = self.route();
        let filter = MethodFilter::try_from(method).unwrap_or(MethodFilter::GET);
        Route {
            operation: self,
            method_router: on(filter, handler).layer(axum::Extension(self)),
        }
    }
}

/// An operation with its handler, as a group's route table lists it.
pub struct Route {
    pub operation: Operation,
    method_router: MethodRouter<App>,
}

/// A group's router, built from its route table; every route carries its operation.
pub fn route_table(table: Vec<Route>) -> Router<App> {
    table.into_iter().fold(Router::new(), |router, r| {
        let (_, path) = r.operation.route();
        router.route(path, r.method_router)
    })
}

/// A group's route table: `routes![Operation => handler, …]` (an operation with a payload is
/// written `Operation(kind) => handler`).
#[macro_export]
macro_rules! routes {
    ($($op:ident $(($arg:expr))? => $handler:expr),+ $(,)?) => {
        vec![$($crate::http::operation::Operation::$op $(($arg))?.to($handler)),+]
    };
}
