//! The domain state as stored: what the repository writes into items' documents.
//!
//! Records hold secrets (hashes) that the wire objects never show; rendering to the wire
//! (`super::render`) picks fields explicitly. Every record that is updated concurrently carries
//! the store `version` it was read at (not serialised) for optimistic concurrency.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::UnixMillis;

/// A client: one browser or app installation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientRecord {
    pub id: String,
    /// SHA-256 of the rotating secret the client token carries (never the secret itself).
    pub rotating_token_hash: String,
    pub last_active_session_id: Option<String>,
    pub sign_in_id: Option<String>,
    pub sign_up_id: Option<String>,
    pub last_authentication_strategy: Option<String>,
    pub ended_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Ended,
    Removed,
    Revoked,
    Expired,
    Abandoned,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Ended => "ended",
            SessionStatus::Removed => "removed",
            SessionStatus::Revoked => "revoked",
            SessionStatus::Expired => "expired",
            SessionStatus::Abandoned => "abandoned",
        }
    }
}

/// Where a session was started from, for `/v1/me/sessions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SessionActivity {
    pub id: String,
    pub browser_name: Option<String>,
    pub browser_version: Option<String>,
    pub device_type: Option<String>,
    pub ip_address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub is_mobile: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub status: SessionStatus,
    pub expire_at: UnixMillis,
    pub abandon_at: UnixMillis,
    pub last_active_at: UnixMillis,
    /// When the first and second factors were last verified (`fva`).
    pub first_factor_verified_at: Option<UnixMillis>,
    pub second_factor_verified_at: Option<UnixMillis>,
    pub activity: SessionActivity,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Unverified,
    Verified,
    Failed,
    Expired,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Unverified => "unverified",
            VerificationStatus::Verified => "verified",
            VerificationStatus::Failed => "failed",
            VerificationStatus::Expired => "expired",
        }
    }
}

/// A verification in progress or done. The code is kept only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerificationRecord {
    pub strategy: String,
    pub status: VerificationStatus,
    pub code_hash: Option<String>,
    pub attempts: u32,
    pub expire_at: Option<UnixMillis>,
    pub sent_at: Option<UnixMillis>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmailAddressRecord {
    pub id: String,
    pub email_address: String,
    pub verification: Option<VerificationRecord>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhoneNumberRecord {
    pub id: String,
    pub phone_number: String,
    pub verification: Option<VerificationRecord>,
    pub reserved_for_second_factor: bool,
    pub default_second_factor: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A user: one document with everything about them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_addresses: Vec<EmailAddressRecord>,
    pub phone_numbers: Vec<PhoneNumberRecord>,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    /// PHC-format argon2id hash.
    pub password_hash: Option<String>,
    pub password_last_updated_at: Option<UnixMillis>,
    /// TOTP secret (base32), present once verified; needed in clear to compute codes.
    pub totp_secret: Option<String>,
    pub totp_pending_secret: Option<String>,
    /// The last TOTP time step accepted; a code is accepted once.
    #[serde(default)]
    pub totp_last_step: Option<u64>,
    /// SHA-256 hashes of the unused backup codes.
    pub backup_code_hashes: Vec<String>,
    pub public_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
    pub failed_attempts: u32,
    pub locked_until: Option<UnixMillis>,
    pub last_sign_in_at: Option<UnixMillis>,
    pub last_active_at: Option<UnixMillis>,
    pub mfa_enabled_at: Option<UnixMillis>,
    pub mfa_disabled_at: Option<UnixMillis>,
    pub legal_accepted_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignUpStatus {
    MissingRequirements,
    Complete,
    Abandoned,
}

impl SignUpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignUpStatus::MissingRequirements => "missing_requirements",
            SignUpStatus::Complete => "complete",
            SignUpStatus::Abandoned => "abandoned",
        }
    }
}

/// A sign-up attempt; lives in its client's partition until `abandon_at`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignUpRecord {
    pub id: String,
    pub client_id: String,
    pub status: SignUpStatus,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// argon2id PHC string; the password itself is never kept.
    pub password_hash: Option<String>,
    pub unsafe_metadata: Map<String, Value>,
    pub legal_accepted_at: Option<UnixMillis>,
    pub email_verification: Option<VerificationRecord>,
    pub phone_verification: Option<VerificationRecord>,
    pub created_user_id: Option<String>,
    pub created_session_id: Option<String>,
    pub abandon_at: UnixMillis,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignInStatus {
    NeedsIdentifier,
    NeedsFirstFactor,
    NeedsSecondFactor,
    NeedsNewPassword,
    Complete,
    Abandoned,
}

impl SignInStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInStatus::NeedsIdentifier => "needs_identifier",
            SignInStatus::NeedsFirstFactor => "needs_first_factor",
            SignInStatus::NeedsSecondFactor => "needs_second_factor",
            SignInStatus::NeedsNewPassword => "needs_new_password",
            SignInStatus::Complete => "complete",
            SignInStatus::Abandoned => "abandoned",
        }
    }
}

/// A factor being verified during a sign-in, and which identification it targets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FactorVerification {
    pub verification: VerificationRecord,
    pub email_address_id: Option<String>,
    pub phone_number_id: Option<String>,
}

/// A sign-in attempt; lives in its client's partition until `abandon_at`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignInRecord {
    pub id: String,
    pub client_id: String,
    pub status: SignInStatus,
    /// The identifier as the user gave it (normalised).
    pub identifier: Option<String>,
    /// The account it names, when there is one.
    pub user_id: Option<String>,
    pub first_factor: Option<FactorVerification>,
    pub second_factor: Option<FactorVerification>,
    pub first_factor_verified_at: Option<UnixMillis>,
    pub second_factor_verified_at: Option<UnixMillis>,
    /// Snapshots taken when the user was looked up, so rendering needs no extra read.
    pub supported_first_factors: Vec<crate::model::wire::SignInFactor>,
    pub supported_second_factors: Vec<crate::model::wire::SignInFactor>,
    pub user_data: Option<Value>,
    pub created_session_id: Option<String>,
    pub abandon_at: UnixMillis,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}
