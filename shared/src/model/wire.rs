//! The objects of the wire format, with the field names of Clerk's FAPI spec
//! (`clientJSON`, `sessionJSON`, `userJSON`, `signInJSON`, `signUpJSON`, …).
//!
//! These are render-only: they are built from the stored records (`super::records`) and never
//! deserialised, so nothing secret can leak into them by accident. Every `*_at` field is Unix
//! milliseconds; nullable fields are `Option` and serialise as `null`, as the spec requires them
//! present.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::UnixMillis;
use crate::vocabulary::Strategy;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Client {
    pub object: &'static str,
    pub id: String,
    pub sessions: Vec<Session>,
    pub sign_in: Option<SignIn>,
    pub sign_up: Option<SignUp>,
    pub last_active_session_id: Option<String>,
    pub last_authentication_strategy: Option<String>,
    pub cookie_expires_at: Option<UnixMillis>,
    pub captcha_bypass: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Token {
    pub object: &'static str,
    pub jwt: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Session {
    pub object: &'static str,
    pub id: String,
    pub status: String,
    pub expire_at: UnixMillis,
    pub abandon_at: UnixMillis,
    pub last_active_at: UnixMillis,
    pub last_active_token: Option<Token>,
    pub last_active_organization_id: Option<String>,
    pub actor: Option<Value>,
    pub user: Option<User>,
    pub public_user_data: Option<PublicUserData>,
    pub factor_verification_age: Vec<i64>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PublicUserData {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: String,
    pub has_image: bool,
    pub identifier: String,
    pub user_id: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verification {
    pub object: &'static str,
    pub status: String,
    pub strategy: String,
    pub attempts: Option<u32>,
    pub expire_at: Option<UnixMillis>,
    /// An email link's: the client whose browser opened it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at_client: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IdentificationLink {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EmailAddress {
    pub object: &'static str,
    pub id: String,
    pub email_address: String,
    pub reserved: bool,
    pub verification: Option<Verification>,
    pub linked_to: Vec<IdentificationLink>,
    pub matches_sso_connection: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhoneNumber {
    pub object: &'static str,
    pub id: String,
    pub phone_number: String,
    pub reserved_for_second_factor: bool,
    pub default_second_factor: bool,
    pub reserved: bool,
    pub verification: Option<Verification>,
    pub linked_to: Vec<IdentificationLink>,
    pub backup_codes: Option<Vec<String>>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub object: &'static str,
    pub id: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: String,
    pub has_image: bool,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    pub primary_web3_wallet_id: Option<String>,
    pub password_enabled: bool,
    pub two_factor_enabled: bool,
    pub totp_enabled: bool,
    pub backup_code_enabled: bool,
    pub email_addresses: Vec<EmailAddress>,
    pub phone_numbers: Vec<PhoneNumber>,
    pub web3_wallets: Vec<Value>,
    pub passkeys: Vec<Value>,
    pub organization_memberships: Vec<Value>,
    pub external_accounts: Vec<Value>,
    pub saml_accounts: Vec<Value>,
    pub enterprise_accounts: Vec<Value>,
    pub password_last_updated_at: Option<UnixMillis>,
    pub public_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
    pub external_id: Option<String>,
    pub last_sign_in_at: Option<UnixMillis>,
    pub banned: bool,
    pub locked: bool,
    pub lockout_expires_in_seconds: Option<i64>,
    pub verification_attempts_remaining: Option<u32>,
    pub delete_self_enabled: bool,
    pub create_organization_enabled: bool,
    pub create_organizations_limit: u32,
    pub last_active_at: Option<UnixMillis>,
    pub mfa_enabled_at: Option<UnixMillis>,
    pub mfa_disabled_at: Option<UnixMillis>,
    pub legal_accepted_at: Option<UnixMillis>,
    pub profile_image_url: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// One way to complete a sign-in factor (`Stubs.SignInFactor`). Also kept in sign-in records
/// as a snapshot, hence `Deserialize`; it holds nothing secret.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SignInFactor {
    pub strategy: Strategy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

impl SignInFactor {
    /// A factor of `strategy` with no identification attached (password, TOTP, backup codes).
    pub fn of(strategy: impl Into<Strategy>) -> Self {
        Self {
            strategy: strategy.into(),
            safe_identifier: None,
            email_address_id: None,
            phone_number_id: None,
            primary: None,
            default: None,
        }
    }
}

/// An email address or a phone number, as its own wire object.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Identification {
    EmailAddress(EmailAddress),
    PhoneNumber(PhoneNumber),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignIn {
    pub object: &'static str,
    pub id: String,
    pub status: String,
    pub supported_identifiers: Vec<String>,
    pub supported_first_factors: Option<Vec<SignInFactor>>,
    pub supported_second_factors: Option<Vec<SignInFactor>>,
    /// A code or password verification, or a provider's (`verification_oauth`).
    pub first_factor_verification: Option<Value>,
    pub second_factor_verification: Option<Verification>,
    pub identifier: Option<String>,
    pub user_data: Option<Value>,
    pub created_session_id: Option<String>,
    pub abandon_at: UnixMillis,
}

/// A sign-up verification: a [`Verification`] plus what the SDK should do next.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignUpVerification {
    #[serde(flatten)]
    pub verification: Verification,
    pub next_action: String,
    pub supported_strategies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SignUpVerifications {
    pub email_address: Option<SignUpVerification>,
    pub phone_number: Option<SignUpVerification>,
    pub web3_wallet: Option<SignUpVerification>,
    pub external_account: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignUp {
    pub object: &'static str,
    pub id: String,
    pub status: String,
    pub required_fields: Vec<String>,
    pub optional_fields: Vec<String>,
    pub missing_fields: Vec<String>,
    pub unverified_fields: Vec<String>,
    pub verifications: SignUpVerifications,
    pub username: Option<String>,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub web3_wallet: Option<String>,
    pub password_enabled: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub unsafe_metadata: Map<String, Value>,
    pub public_metadata: Map<String, Value>,
    pub custom_action: bool,
    pub external_id: Option<String>,
    pub created_session_id: Option<String>,
    pub created_user_id: Option<String>,
    pub abandon_at: UnixMillis,
    pub legal_accepted_at: Option<UnixMillis>,
}
