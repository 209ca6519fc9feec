//! The one domain error type.
//!
//! Flows, the store and the HTTP glue all fail with [`Error`]: a FAPI error [`Code`] plus the
//! details Clerk's error body carries (`meta.param_name`, a specific `long_message`, …). It is
//! turned into the Clerk error body `{"errors":[{code,message,long_message,meta}],"clerk_trace_id"}`
//! in exactly one place (`http::error`). The HTTP status of each code is the one in Clerk's FAPI
//! error table (`fapi-error-codes.tsv`, copied from the reference material); a test checks it.

use std::fmt;

use serde_json::{Map, Value};

/// A FAPI error code. The status is Clerk's; the messages are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    AuthenticationInvalid,
    AuthorizationHeaderFormatInvalid,
    BadRequest,
    ClientNotFound,
    DevBrowserUnauthenticated,
    FormCodeIncorrect,
    FormIdentifierExists,
    FormIdentifierNotFound,
    FormParamFormatInvalid,
    FormParamMaxLengthExceeded,
    FormParamMissing,
    FormParamNil,
    FormParamUnknown,
    FormParamValueInvalid,
    FormPasswordIncorrect,
    FormPasswordLengthTooLong,
    FormPasswordLengthTooShort,
    FormPasswordValidationFailed,
    FormUsernameInvalidCharacter,
    FormUsernameInvalidLength,
    IdentifierAlreadySignedIn,
    InternalClerkError,
    InvalidActionForSession,
    MalformedRequestParameters,
    /// Not in Clerk's table: Clerk answers unknown verbs at the edge. We keep the body Clerk-shaped.
    MethodNotAllowed,
    MissingExpiredToken,
    NativeApiDisabled,
    OriginInvalid,
    RequestBodyInvalid,
    RequestBodyTooLarge,
    RequestInvalidForEnvironment,
    ResourceNotFound,
    SessionExists,
    SignedOut,
    SignUpModeRestricted,
    StrategyForUserInvalid,
    TooManyRequests,
    UnsupportedContentType,
    UserLocked,
    VerificationAlreadyVerified,
    VerificationCodeTooManyRequests,
    VerificationExpired,
    VerificationFailed,
    VerificationMissing,
    VerificationStrategyInvalid,
    FormParamValueDisabled,
    NotAllowedAccess,
    /// Not in Clerk's table (Clerk has `sms_send_error`, a 400): a provider failure is ours,
    /// so it is a 5xx the SDK may retry, and the verification stays retryable.
    MessageDeliveryFailed,
    SessionNotFound,
    /// Not in Clerk's table: a request that kept losing optimistic-concurrency races.
    ConcurrentUpdate,
    UserDeleteSelfNotEnabled,
    LastRequiredIdentificationDeletionFailed,
    NoSecondFactors,
    TotpAlreadyEnabled,
    FormNewPasswordMatchesCurrent,
    IdentificationUpdateSecondFactorUnverified,
    FormParamValueTooLarge,
    QuotaExceeded,
    FormParamTypeInvalid,
    SessionReverificationRequired,
    SessionReverificationMissing,
    InvalidRedirectUrl,
    /// Not in the FAPI table: the Backend API's answer to a wrong secret key, which
    /// `@clerk/backend` recognises (`secret-key-invalid`).
    ClerkKeyInvalid,
    UserBanned,
    OauthAccessDenied,
    ExternalAccountNotFound,
    /// Clerk's code for a sign-up whose provider account already has a user (clerk-js reads
    /// it to transfer to sign-in); the reference table does not list it.
    ExternalAccountExists,
    OauthCallbackInvalid,
    OauthTokenExchangeError,
    OauthFetchUserError,
    OauthProviderNotEnabled,
    OauthAccountAlreadyConnected,
    MisconfiguredOauthProvider,
    ImageTooLarge,
    NoPasskeysFoundForUser,
    PasskeyAuthenticationFailure,
    PasskeyInvalidPublicKeyCredential,
    PasskeyInvalidVerification,
    PasskeyNotRegistered,
    PasskeyQuotaExceeded,
    ImageNotFound,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AuthenticationInvalid => "authentication_invalid",
            Code::AuthorizationHeaderFormatInvalid => "authorization_header_format_invalid",
            Code::BadRequest => "bad_request",
            Code::ClientNotFound => "client_not_found",
            Code::DevBrowserUnauthenticated => "dev_browser_unauthenticated",
            Code::FormCodeIncorrect => "form_code_incorrect",
            Code::FormIdentifierExists => "form_identifier_exists",
            Code::FormIdentifierNotFound => "form_identifier_not_found",
            Code::FormParamFormatInvalid => "form_param_format_invalid",
            Code::FormParamMaxLengthExceeded => "form_param_max_length_exceeded",
            Code::FormParamMissing => "form_param_missing",
            Code::FormParamNil => "form_param_nil",
            Code::FormParamUnknown => "form_param_unknown",
            Code::FormParamValueInvalid => "form_param_value_invalid",
            Code::FormParamValueDisabled => "form_param_value_disabled",
            Code::FormPasswordIncorrect => "form_password_incorrect",
            Code::FormPasswordLengthTooLong => "form_password_length_too_long",
            Code::FormPasswordLengthTooShort => "form_password_length_too_short",
            Code::FormPasswordValidationFailed => "form_password_validation_failed",
            Code::FormUsernameInvalidCharacter => "form_username_invalid_character",
            Code::FormUsernameInvalidLength => "form_username_invalid_length",
            Code::IdentifierAlreadySignedIn => "identifier_already_signed_in",
            Code::InternalClerkError => "internal_clerk_error",
            Code::InvalidActionForSession => "invalid_action_for_session",
            Code::MalformedRequestParameters => "malformed_request_parameters",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::MissingExpiredToken => "missing_expired_token",
            Code::NativeApiDisabled => "native_api_disabled",
            Code::NotAllowedAccess => "not_allowed_access",
            Code::OriginInvalid => "origin_invalid",
            Code::RequestBodyInvalid => "request_body_invalid",
            Code::RequestBodyTooLarge => "request_body_too_large",
            Code::RequestInvalidForEnvironment => "request_invalid_for_environment",
            Code::ResourceNotFound => "resource_not_found",
            Code::InvalidRedirectUrl => "invalid_redirect_url",
            Code::ClerkKeyInvalid => "clerk_key_invalid",
            Code::UserBanned => "user_banned",
            Code::OauthAccessDenied => "oauth_access_denied",
            Code::ExternalAccountNotFound => "external_account_not_found",
            Code::ExternalAccountExists => "external_account_exists",
            Code::OauthCallbackInvalid => "oauth_callback_invalid",
            Code::OauthTokenExchangeError => "oauth_token_exchange_error",
            Code::OauthFetchUserError => "oauth_fetch_user_error",
            Code::OauthProviderNotEnabled => "oauth_provider_not_enabled",
            Code::OauthAccountAlreadyConnected => "oauth_account_already_connected",
            Code::MisconfiguredOauthProvider => "misconfigured_oauth_provider",
            Code::ImageTooLarge => "image_too_large",
            Code::NoPasskeysFoundForUser => "no_passkeys_found_for_user",
            Code::PasskeyAuthenticationFailure => "passkey_authentication_failure",
            Code::PasskeyInvalidPublicKeyCredential => "passkey_invalid_public_key_credential",
            Code::PasskeyInvalidVerification => "passkey_invalid_verification",
            Code::PasskeyNotRegistered => "passkey_not_registered",
            Code::PasskeyQuotaExceeded => "passkey_quota_exceeded",
            Code::ImageNotFound => "image_not_found",
            Code::SessionExists => "session_exists",
            Code::SignedOut => "signed_out",
            Code::SignUpModeRestricted => "sign_up_mode_restricted",
            Code::StrategyForUserInvalid => "strategy_for_user_invalid",
            Code::TooManyRequests => "too_many_requests",
            Code::UnsupportedContentType => "unsupported_content_type",
            Code::UserLocked => "user_locked",
            Code::VerificationAlreadyVerified => "verification_already_verified",
            Code::VerificationCodeTooManyRequests => "verification_code_too_many_requests",
            Code::VerificationExpired => "verification_expired",
            Code::VerificationFailed => "verification_failed",
            Code::VerificationMissing => "verification_missing",
            Code::VerificationStrategyInvalid => "verification_strategy_invalid",
            Code::MessageDeliveryFailed => "message_delivery_failed",
            Code::SessionNotFound => "resource_not_found",
            Code::ConcurrentUpdate => "concurrent_update",
            Code::UserDeleteSelfNotEnabled => "user_delete_self_not_enabled",
            Code::LastRequiredIdentificationDeletionFailed => {
                "last_required_identification_deletion_failed"
            }
            Code::NoSecondFactors => "no_second_factors",
            Code::TotpAlreadyEnabled => "totp_already_enabled",
            Code::FormNewPasswordMatchesCurrent => "form_new_password_matches_current",
            Code::IdentificationUpdateSecondFactorUnverified => {
                "identification_update_second_factor_unverified"
            }
            Code::FormParamValueTooLarge => "form_param_value_too_large",
            Code::QuotaExceeded => "quota_exceeded",
            Code::FormParamTypeInvalid => "form_param_type_invalid",
            Code::SessionReverificationRequired => "session_reverification_required",
            Code::SessionReverificationMissing => "session_reverification_missing",
        }
    }

    /// The HTTP status Clerk answers this code with (`fapi-error-codes.tsv`).
    pub fn status(self) -> u16 {
        match self {
            Code::AuthenticationInvalid
            | Code::AuthorizationHeaderFormatInvalid
            | Code::DevBrowserUnauthenticated
            | Code::SignedOut => 401,
            Code::OriginInvalid
            | Code::BadRequest
            | Code::ClientNotFound
            | Code::IdentifierAlreadySignedIn
            | Code::InvalidActionForSession
            | Code::MalformedRequestParameters
            | Code::NativeApiDisabled
            | Code::RequestBodyInvalid
            | Code::RequestInvalidForEnvironment
            | Code::SessionExists
            | Code::StrategyForUserInvalid
            | Code::VerificationAlreadyVerified
            | Code::VerificationExpired
            | Code::VerificationFailed
            | Code::VerificationMissing
            | Code::VerificationStrategyInvalid
            | Code::FormParamValueDisabled => 400,
            Code::UserLocked | Code::SignUpModeRestricted | Code::NotAllowedAccess => 403,
            Code::ResourceNotFound | Code::SessionNotFound => 404,
            Code::MessageDeliveryFailed => 502,
            Code::ConcurrentUpdate => 409,
            Code::UserDeleteSelfNotEnabled => 403,
            Code::LastRequiredIdentificationDeletionFailed => 400,
            Code::NoSecondFactors => 400,
            Code::TotpAlreadyEnabled => 400,
            Code::FormNewPasswordMatchesCurrent => 422,
            Code::IdentificationUpdateSecondFactorUnverified => 400,
            Code::FormParamValueTooLarge => 422,
            Code::QuotaExceeded | Code::SessionReverificationRequired => 403,
            Code::FormParamTypeInvalid | Code::InvalidRedirectUrl => 422,
            Code::ClerkKeyInvalid => 401,
            Code::UserBanned => 403,
            Code::OauthAccessDenied => 403,
            Code::ExternalAccountNotFound => 404,
            Code::ExternalAccountExists => 400,
            Code::OauthCallbackInvalid => 400,
            Code::OauthTokenExchangeError => 400,
            Code::OauthFetchUserError => 400,
            Code::OauthProviderNotEnabled => 400,
            Code::OauthAccountAlreadyConnected => 400,
            Code::MisconfiguredOauthProvider => 400,
            Code::ImageTooLarge => 413,
            Code::NoPasskeysFoundForUser => 400,
            Code::PasskeyAuthenticationFailure => 400,
            Code::PasskeyInvalidPublicKeyCredential => 422,
            Code::PasskeyInvalidVerification => 400,
            Code::PasskeyNotRegistered => 404,
            Code::PasskeyQuotaExceeded => 403,
            Code::ImageNotFound => 404,
            Code::SessionReverificationMissing => 400,

            Code::MethodNotAllowed => 405,
            Code::RequestBodyTooLarge => 413,
            Code::UnsupportedContentType => 415,
            Code::TooManyRequests | Code::VerificationCodeTooManyRequests => 429,
            Code::InternalClerkError => 500,
            Code::FormCodeIncorrect
            | Code::FormIdentifierExists
            | Code::FormIdentifierNotFound
            | Code::FormParamFormatInvalid
            | Code::FormParamMaxLengthExceeded
            | Code::FormParamMissing
            | Code::FormParamNil
            | Code::FormParamUnknown
            | Code::FormParamValueInvalid
            | Code::FormPasswordIncorrect
            | Code::FormPasswordLengthTooLong
            | Code::FormPasswordLengthTooShort
            | Code::FormPasswordValidationFailed
            | Code::FormUsernameInvalidCharacter
            | Code::FormUsernameInvalidLength
            | Code::MissingExpiredToken => 422,
        }
    }

    /// Short message, shown by Clerk's UI components.
    fn message(self) -> &'static str {
        match self {
            Code::AuthenticationInvalid => "Invalid authentication",
            Code::AuthorizationHeaderFormatInvalid => "Invalid Authorization header",
            Code::BadRequest => "Bad request",
            Code::ClientNotFound => "Client not found",
            Code::DevBrowserUnauthenticated => "Browser unauthenticated",
            Code::FormCodeIncorrect => "Incorrect code",
            Code::FormIdentifierExists => "That identifier is taken",
            Code::FormIdentifierNotFound => "Couldn't find your account",
            Code::FormParamFormatInvalid => "is invalid",
            Code::FormParamMaxLengthExceeded => "is too long",
            Code::FormParamMissing => "is missing",
            Code::FormParamNil => "must not be empty",
            Code::FormParamUnknown => "is unknown",
            Code::FormParamValueInvalid => "is invalid",
            Code::FormParamValueDisabled => "is disabled",
            Code::FormPasswordIncorrect => "Password is incorrect",
            Code::FormPasswordLengthTooLong => "Password is too long",
            Code::FormPasswordLengthTooShort => "Password is too short",
            Code::FormPasswordValidationFailed => "Password is invalid",
            Code::FormUsernameInvalidCharacter => "Username contains invalid characters",
            Code::FormUsernameInvalidLength => "Username has an invalid length",
            Code::IdentifierAlreadySignedIn => "Identifier already signed in",
            Code::InternalClerkError => "Something went wrong",
            Code::InvalidActionForSession => "Invalid action",
            Code::MalformedRequestParameters => "Malformed request parameters",
            Code::MethodNotAllowed => "Method not allowed",
            Code::MissingExpiredToken => "Missing expired token",
            Code::NativeApiDisabled => "Native API disabled",
            Code::NotAllowedAccess => "Access not allowed",
            Code::OriginInvalid => "Invalid origin",
            Code::RequestBodyInvalid => "Request body invalid",
            Code::RequestBodyTooLarge => "Request body too large",
            Code::RequestInvalidForEnvironment => "Request invalid for this environment",
            Code::ResourceNotFound => "Resource not found",
            Code::InvalidRedirectUrl => "Invalid redirect URL",
            Code::ClerkKeyInvalid => "Secret Key invalid",
            Code::UserBanned => "User banned",
            Code::OauthAccessDenied => "Access denied",
            Code::ExternalAccountNotFound => "External account not found",
            Code::ExternalAccountExists => "External account exists",
            Code::OauthCallbackInvalid => "Invalid OAuth callback",
            Code::OauthTokenExchangeError => "OAuth token exchange failed",
            Code::OauthFetchUserError => "Could not read the account",
            Code::OauthProviderNotEnabled => "Provider not enabled",
            Code::OauthAccountAlreadyConnected => "Account already connected",
            Code::MisconfiguredOauthProvider => "Provider misconfigured",
            Code::ImageTooLarge => "Image too large",
            Code::NoPasskeysFoundForUser => "No passkeys found",
            Code::PasskeyAuthenticationFailure => "Passkey verification failed",
            Code::PasskeyInvalidPublicKeyCredential => "Invalid passkey response",
            Code::PasskeyInvalidVerification => "Passkey verification expired",
            Code::PasskeyNotRegistered => "Passkey not registered",
            Code::PasskeyQuotaExceeded => "Too many passkeys",
            Code::ImageNotFound => "Image not found",
            Code::SessionExists => "Session already exists",
            Code::SignedOut => "Signed out",
            Code::SignUpModeRestricted => "Sign-ups are restricted",
            Code::StrategyForUserInvalid => "Invalid verification strategy",
            Code::TooManyRequests => "Too many requests",
            Code::UnsupportedContentType => "Unsupported content type",
            Code::UserLocked => "Account locked",
            Code::VerificationAlreadyVerified => "Already verified",
            Code::VerificationCodeTooManyRequests => "Too many requests",
            Code::VerificationExpired => "Verification expired",
            Code::VerificationFailed => "Too many failed attempts",
            Code::VerificationMissing => "Verification missing",
            Code::VerificationStrategyInvalid => "Invalid verification strategy",
            Code::MessageDeliveryFailed => "Message not sent",
            Code::SessionNotFound => "Session not found",
            Code::ConcurrentUpdate => "Concurrent update",
            Code::UserDeleteSelfNotEnabled => "Account deletion disabled",
            Code::LastRequiredIdentificationDeletionFailed => "Cannot remove the last identifier",
            Code::NoSecondFactors => "No second factor",
            Code::TotpAlreadyEnabled => "Authenticator app already set up",
            Code::FormNewPasswordMatchesCurrent => "Same password",
            Code::IdentificationUpdateSecondFactorUnverified => "Unverified phone number",
            Code::FormParamValueTooLarge => "is too large",
            Code::QuotaExceeded => "Quota exceeded",
            Code::FormParamTypeInvalid => "has the wrong type",
            Code::SessionReverificationRequired => "Reverification required",
            Code::SessionReverificationMissing => "No verification in progress",
        }
    }

    /// The default sentence a UI shows when nothing more specific is known.
    fn long_message(self) -> &'static str {
        match self {
            Code::AuthenticationInvalid => "The request could not be authenticated.",
            Code::AuthorizationHeaderFormatInvalid => {
                "The Authorization header must hold a client token, optionally prefixed by `Bearer `."
            }
            Code::BadRequest => "The request could not be understood.",
            Code::ClientNotFound => "No client was found for this request.",
            Code::DevBrowserUnauthenticated => {
                "The development browser token is missing or invalid; create a new one with POST /v1/dev_browser."
            }
            Code::FormCodeIncorrect => "The code you entered is incorrect. Please try again.",
            Code::FormIdentifierExists => {
                "That identifier is taken. Please try another, or sign in instead."
            }
            Code::FormIdentifierNotFound => "Couldn't find your account.",
            Code::FormParamFormatInvalid => "A parameter has an invalid format.",
            Code::FormParamMaxLengthExceeded => "A parameter is longer than allowed.",
            Code::FormParamMissing => "A required parameter is missing.",
            Code::FormParamNil => "A parameter must not be empty.",
            Code::FormParamUnknown => "A parameter is not recognised by this endpoint.",
            Code::FormParamValueInvalid => "A parameter has an invalid value.",
            Code::FormParamValueDisabled => "This value is disabled for this instance.",
            Code::FormPasswordIncorrect => {
                "Password is incorrect. Try again, or use another method."
            }
            Code::FormPasswordLengthTooLong => "Your password is longer than allowed.",
            Code::FormPasswordLengthTooShort => "Your password is shorter than required.",
            Code::FormPasswordValidationFailed => "Your password does not meet the requirements.",
            Code::FormUsernameInvalidCharacter => {
                "Usernames may contain only letters, numbers, underscores and dashes."
            }
            Code::FormUsernameInvalidLength => "Your username has an invalid length.",
            Code::IdentifierAlreadySignedIn => "You're already signed in with that identifier.",
            Code::InternalClerkError => "Something went wrong on our side; please try again.",
            Code::InvalidActionForSession => "This action is not allowed for this session.",
            Code::MalformedRequestParameters => "The request parameters could not be parsed.",
            Code::MethodNotAllowed => "This method is not allowed on this path.",
            Code::MissingExpiredToken => "The expired token is required to refresh this session.",
            Code::NativeApiDisabled => "The native API is disabled for this instance.",
            Code::NotAllowedAccess => "Access to this resource is not allowed.",
            Code::OriginInvalid => "The request's Origin is not allowed for this instance.",
            Code::RequestBodyInvalid => "The request body is invalid.",
            Code::RequestBodyTooLarge => "The request body is larger than allowed.",
            Code::RequestInvalidForEnvironment => {
                "This request is not valid for this instance's environment."
            }
            Code::ResourceNotFound => "The requested resource was not found.",
            Code::UserBanned => "This account is banned; contact the application's support.",
            Code::OauthAccessDenied => {
                "You did not grant access at the provider, so you were not signed in."
            }
            Code::ExternalAccountNotFound => {
                "No account is connected to this provider account yet."
            }
            Code::ExternalAccountExists => {
                "This provider account is already connected to an account; sign in instead."
            }
            Code::OauthCallbackInvalid => {
                "The sign-in could not be completed: the provider's answer is invalid, expired or was already used."
            }
            Code::OauthTokenExchangeError => "The provider did not accept the authorization code.",
            Code::OauthFetchUserError => "The provider did not return the account's profile.",
            Code::OauthProviderNotEnabled => "This provider is not enabled for this application.",
            Code::OauthAccountAlreadyConnected => {
                "This provider account is already connected to another user."
            }
            Code::MisconfiguredOauthProvider => {
                "The provider's configuration could not be used; check its issuer and endpoints."
            }
            Code::ImageTooLarge => "The image is larger than allowed.",
            Code::NoPasskeysFoundForUser => "This account has no passkey to sign in with.",
            Code::PasskeyAuthenticationFailure => "The passkey could not be verified; try again.",
            Code::PasskeyInvalidPublicKeyCredential => {
                "The passkey response is invalid for this application."
            }
            Code::PasskeyInvalidVerification => {
                "This passkey verification expired or was already used; start again."
            }
            Code::PasskeyNotRegistered => "This passkey is not registered with this application.",
            Code::PasskeyQuotaExceeded => {
                "This account has as many passkeys as allowed; remove one first."
            }
            Code::ImageNotFound => "There is no image here.",
            Code::ClerkKeyInvalid => {
                "The provided secret key is invalid. Make sure that your secret key is correct."
            }
            Code::InvalidRedirectUrl => {
                "The redirect URL must be an absolute URL on one of the instance's allowed origins."
            }
            Code::SessionExists => {
                "You're already signed in. This instance allows one signed-in session per client."
            }
            Code::SignedOut => "You are signed out.",
            Code::SignUpModeRestricted => "Sign-ups are restricted for this instance.",
            Code::StrategyForUserInvalid => {
                "This verification strategy is not valid for this account."
            }
            Code::TooManyRequests => "Too many requests; please retry later.",
            Code::UnsupportedContentType => {
                "Send application/x-www-form-urlencoded or application/json."
            }
            Code::UserLocked => "Your account is locked. Please try again later.",
            Code::VerificationAlreadyVerified => "This verification has already been verified.",
            Code::VerificationCodeTooManyRequests => {
                "Too many codes requested; please wait before requesting another."
            }
            Code::VerificationExpired => "This verification has expired; request a new code.",
            Code::VerificationFailed => "Too many failed attempts; request a new code.",
            Code::VerificationMissing => "There is no verification to attempt; prepare one first.",
            Code::VerificationStrategyInvalid => "This verification strategy is not supported.",
            Code::MessageDeliveryFailed => {
                "We could not send the code right now; please try again in a moment."
            }
            Code::SessionNotFound => "No session with this id exists on this client.",
            Code::ConcurrentUpdate => {
                "This resource was being changed by another request; nothing was changed, please retry."
            }
            Code::UserDeleteSelfNotEnabled => {
                "This application does not let users delete their own accounts."
            }
            Code::LastRequiredIdentificationDeletionFailed => {
                "This is the last way to sign in to this account, so it cannot be removed."
            }
            Code::NoSecondFactors => {
                "Set up a second factor (an authenticator app or an SMS number) first."
            }
            Code::TotpAlreadyEnabled => {
                "An authenticator app is already set up; remove it before adding another."
            }
            Code::FormNewPasswordMatchesCurrent => {
                "The new password must differ from the current one."
            }
            Code::IdentificationUpdateSecondFactorUnverified => {
                "Only a verified phone number can become a second factor."
            }
            Code::FormParamValueTooLarge => "A parameter is larger than allowed.",
            Code::QuotaExceeded => "You have reached the limit for this.",
            Code::FormParamTypeInvalid => "A parameter has the wrong type.",
            Code::SessionReverificationRequired => {
                "You need to provide additional verification to perform this operation"
            }
            Code::SessionReverificationMissing => {
                "You need to start a new session verification flow first"
            }
        }
    }
}

impl Code {
    /// The code of a wire name, for errors kept on records by their name.
    pub fn from_wire(name: &str) -> Option<Code> {
        ALL_CODES.iter().copied().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain error: what went wrong, for whom, and (privately) why.
#[derive(Debug, Clone)]
pub struct Error {
    pub code: Code,
    pub message: Option<String>,
    pub long_message: Option<String>,
    pub meta: Map<String, Value>,
    /// Seconds a client should wait (429), sent as `Retry-After`.
    pub retry_after_secs: Option<u64>,
    /// Operator-facing detail: logged, never sent to the caller.
    pub internal: Option<String>,
    /// A lost optimistic-concurrency race: nothing was written, and running the flow again
    /// on fresh state is safe.
    pub conflict: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code) -> Self {
        Self {
            code,
            message: None,
            long_message: None,
            meta: Map::new(),
            retry_after_secs: None,
            internal: None,
            conflict: false,
        }
    }

    /// A lost race (a version or transaction conflict); see [`Error::conflict`].
    pub fn conflict() -> Self {
        let mut e = Self::internal("concurrent update; retry exhausted");
        e.conflict = true;
        e
    }

    /// Names the offending parameter (`meta.param_name`); clerk-js shows field errors by it.
    pub fn param(mut self, name: &str) -> Self {
        self.meta
            .insert("param_name".into(), Value::String(name.to_owned()));
        self
    }

    pub fn long(mut self, text: impl Into<String>) -> Self {
        self.long_message = Some(text.into());
        self
    }

    pub fn message(mut self, text: impl Into<String>) -> Self {
        self.message = Some(text.into());
        self
    }

    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.meta.insert(key.to_owned(), value.into());
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// An internal failure. The detail is kept for the log; the caller sees a generic 500.
    pub fn internal(detail: impl Into<String>) -> Self {
        let mut e = Self::new(Code::InternalClerkError);
        e.internal = Some(detail.into());
        e
    }

    pub fn not_found() -> Self {
        Self::new(Code::ResourceNotFound)
    }

    pub fn missing(param: &str) -> Self {
        Self::new(Code::FormParamMissing)
            .param(param)
            .long(format!("{param} must be included."))
    }

    pub fn invalid(param: &str, why: impl Into<String>) -> Self {
        Self::new(Code::FormParamFormatInvalid)
            .param(param)
            .long(why)
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The Clerk error object (one entry of `errors`).
    pub fn to_clerk_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), Value::String(self.code.as_str().into()));
        obj.insert(
            "message".into(),
            Value::String(
                self.message
                    .clone()
                    .unwrap_or_else(|| self.code.message().into()),
            ),
        );
        obj.insert(
            "long_message".into(),
            Value::String(
                self.long_message
                    .clone()
                    .unwrap_or_else(|| self.code.long_message().into()),
            ),
        );
        obj.insert("meta".into(), Value::Object(self.meta.clone()));
        Value::Object(obj)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(p) = self.meta.get("param_name").and_then(Value::as_str) {
            write!(f, " ({p})")?;
        }
        if let Some(i) = &self.internal {
            write!(f, ": {i}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Code> for Error {
    fn from(code: Code) -> Self {
        Error::new(code)
    }
}

/// Every code this crate can answer, for the table test and documentation.
pub const ALL_CODES: &[Code] = &[
    Code::AuthenticationInvalid,
    Code::AuthorizationHeaderFormatInvalid,
    Code::BadRequest,
    Code::ClientNotFound,
    Code::DevBrowserUnauthenticated,
    Code::FormCodeIncorrect,
    Code::FormIdentifierExists,
    Code::FormIdentifierNotFound,
    Code::FormParamFormatInvalid,
    Code::FormParamMaxLengthExceeded,
    Code::FormParamMissing,
    Code::FormParamNil,
    Code::FormParamUnknown,
    Code::FormParamValueInvalid,
    Code::FormParamValueDisabled,
    Code::FormPasswordIncorrect,
    Code::FormPasswordLengthTooLong,
    Code::FormPasswordLengthTooShort,
    Code::FormPasswordValidationFailed,
    Code::FormUsernameInvalidCharacter,
    Code::FormUsernameInvalidLength,
    Code::IdentifierAlreadySignedIn,
    Code::InternalClerkError,
    Code::InvalidActionForSession,
    Code::MalformedRequestParameters,
    Code::MethodNotAllowed,
    Code::MissingExpiredToken,
    Code::NativeApiDisabled,
    Code::NotAllowedAccess,
    Code::OriginInvalid,
    Code::RequestBodyInvalid,
    Code::RequestBodyTooLarge,
    Code::RequestInvalidForEnvironment,
    Code::ResourceNotFound,
    Code::InvalidRedirectUrl,
    Code::ClerkKeyInvalid,
    Code::UserBanned,
    Code::OauthAccessDenied,
    Code::ExternalAccountNotFound,
    Code::ExternalAccountExists,
    Code::OauthCallbackInvalid,
    Code::OauthTokenExchangeError,
    Code::OauthFetchUserError,
    Code::OauthProviderNotEnabled,
    Code::OauthAccountAlreadyConnected,
    Code::MisconfiguredOauthProvider,
    Code::ImageTooLarge,
    Code::NoPasskeysFoundForUser,
    Code::PasskeyAuthenticationFailure,
    Code::PasskeyInvalidPublicKeyCredential,
    Code::PasskeyInvalidVerification,
    Code::PasskeyNotRegistered,
    Code::PasskeyQuotaExceeded,
    Code::ImageNotFound,
    Code::SessionExists,
    Code::SignedOut,
    Code::SignUpModeRestricted,
    Code::StrategyForUserInvalid,
    Code::TooManyRequests,
    Code::UnsupportedContentType,
    Code::UserLocked,
    Code::VerificationAlreadyVerified,
    Code::VerificationCodeTooManyRequests,
    Code::VerificationExpired,
    Code::VerificationFailed,
    Code::VerificationMissing,
    Code::VerificationStrategyInvalid,
    Code::MessageDeliveryFailed,
    Code::SessionNotFound,
    Code::ConcurrentUpdate,
    Code::UserDeleteSelfNotEnabled,
    Code::LastRequiredIdentificationDeletionFailed,
    Code::NoSecondFactors,
    Code::TotpAlreadyEnabled,
    Code::FormNewPasswordMatchesCurrent,
    Code::IdentificationUpdateSecondFactorUnverified,
    Code::FormParamValueTooLarge,
    Code::QuotaExceeded,
    Code::FormParamTypeInvalid,
    Code::SessionReverificationRequired,
    Code::SessionReverificationMissing,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes that are ours, not Clerk's: they must not collide with a Clerk code.
    const OWN_CODES: &[Code] = &[
        Code::MethodNotAllowed,
        Code::MessageDeliveryFailed,
        Code::ConcurrentUpdate,
        Code::ClerkKeyInvalid,
        Code::ExternalAccountExists,
    ];

    #[test]
    fn every_status_matches_clerks_table() {
        let table = include_str!("fapi-error-codes.tsv");
        let pairs: Vec<(&str, &str)> = table
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once('\t'))
            .collect();
        for code in ALL_CODES {
            let listed: Vec<&str> = pairs
                .iter()
                .filter(|(c, _)| *c == code.as_str())
                .map(|(_, s)| *s)
                .collect();
            if OWN_CODES.contains(code) {
                assert!(listed.is_empty(), "{code} collides with a Clerk code");
                continue;
            }
            assert!(
                listed.contains(&code.status().to_string().as_str()),
                "{code}: we answer {}, Clerk's table says {listed:?}",
                code.status()
            );
        }
    }

    #[test]
    fn clerk_json_has_param_name() {
        let e = Error::missing("identifier");
        let j = e.to_clerk_json();
        assert_eq!(j["code"], "form_param_missing");
        assert_eq!(j["meta"]["param_name"], "identifier");
        assert!(j["long_message"].as_str().is_some_and(|s| !s.is_empty()));
    }
}
