//! The domain state as stored: what the repository writes into items' documents.
//!
//! Records hold secrets (hashes) that the wire objects never show; rendering to the wire
//! (`super::render`) picks fields explicitly. Every record that is updated concurrently carries
//! the store `version` it was read at (not serialised) for optimistic concurrency.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::capabilities::{Capabilities, Field};
use crate::clock::{UnixMillis, duration_ms};
use crate::security;
use crate::vocabulary::{IdentificationKind, Strategy, wire_enum};

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

wire_enum! {
    SessionStatus {
        Active = "active", Ended = "ended", Removed = "removed", Revoked = "revoked",
        Expired = "expired", Abandoned = "abandoned",
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
    /// A reverification in progress (or just completed) on this session.
    #[serde(default)]
    pub reverification: Option<ReverificationRecord>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
    /// The status the store held when this record was read (never stored itself): a write that
    /// changes it is a webhook event (`crate::repo::events::session_event`).
    #[serde(skip)]
    pub stored_status: Option<SessionStatus>,
}

wire_enum! {
    VerificationStatus {
        Unverified = "unverified", Verified = "verified", Failed = "failed",
        Expired = "expired",
    }
}

/// A verification in progress or done. The code is kept only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerificationRecord {
    pub strategy: Strategy,
    pub status: VerificationStatus,
    pub code_hash: Option<String>,
    pub attempts: u32,
    pub expire_at: Option<UnixMillis>,
    pub sent_at: Option<UnixMillis>,
    /// `FromOauth`: the provider that vouched (`oauth_google`, rendered `from_oauth_google`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `EmailLink`: the client whose browser opened the link (clerk-js tells "opened in this
    /// browser" from "on another device" by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at_client: Option<String>,
}

/// An email address or a phone number a user holds: one record for both kinds, rendered to
/// the two wire objects (`email_address`, `phone_number`).
///
/// ```text
///   added (unverified) ──prepare──► code sent ──attempt ok──► verified ──► may be primary,
///                                                                         may sign in, (phone) may be a second factor
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IdentificationRecord {
    pub id: String,
    /// Set from the list the record is stored in (see [`UserRecord`]).
    #[serde(skip, default = "default_kind")]
    pub kind: IdentificationKind,
    /// The normalised address or E.164 number, stored as `email_address` / `phone_number` (the
    /// names stored documents have always used, so a version on either side of this one reads
    /// them during a rolling deploy or a rollback).
    #[serde(alias = "email_address", alias = "phone_number")]
    pub value: String,
    pub verification: Option<VerificationRecord>,
    #[serde(default)]
    pub reserved_for_second_factor: bool,
    #[serde(default)]
    pub default_second_factor: bool,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

fn default_kind() -> IdentificationKind {
    IdentificationKind::EmailAddress
}

impl Serialize for IdentificationRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = s.serialize_struct("IdentificationRecord", 7)?;
        out.serialize_field("id", &self.id)?;
        match self.kind {
            IdentificationKind::EmailAddress => {
                out.serialize_field("email_address", &self.value)?
            }
            IdentificationKind::PhoneNumber => out.serialize_field("phone_number", &self.value)?,
        }
        out.serialize_field("verification", &self.verification)?;
        out.serialize_field(
            "reserved_for_second_factor",
            &self.reserved_for_second_factor,
        )?;
        out.serialize_field("default_second_factor", &self.default_second_factor)?;
        out.serialize_field("created_at", &self.created_at)?;
        out.serialize_field("updated_at", &self.updated_at)?;
        out.end()
    }
}

impl IdentificationRecord {
    pub fn new(kind: IdentificationKind, id: String, value: String, now: UnixMillis) -> Self {
        Self {
            id,
            kind,
            value,
            verification: None,
            reserved_for_second_factor: false,
            default_second_factor: false,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_verified(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(|v| v.status == VerificationStatus::Verified)
    }
}

fn of_kind<'de, D: serde::Deserializer<'de>>(
    d: D,
    kind: IdentificationKind,
) -> Result<Vec<IdentificationRecord>, D::Error> {
    let mut list = Vec::<IdentificationRecord>::deserialize(d)?;
    for r in &mut list {
        r.kind = kind;
    }
    Ok(list)
}

fn email_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<IdentificationRecord>, D::Error> {
    of_kind(d, IdentificationKind::EmailAddress)
}

fn phone_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<IdentificationRecord>, D::Error> {
    of_kind(d, IdentificationKind::PhoneNumber)
}

/// A user: one document with everything about them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Identifications by kind; each list holds records of its own kind only.
    #[serde(deserialize_with = "email_list")]
    pub email_addresses: Vec<IdentificationRecord>,
    #[serde(deserialize_with = "phone_list")]
    pub phone_numbers: Vec<IdentificationRecord>,
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
    /// Only app servers see and write it (the Backend API); never in a Frontend API answer.
    #[serde(default)]
    pub private_metadata: Map<String, Value>,
    pub unsafe_metadata: Map<String, Value>,
    /// Banned by an operator (the Backend API): no sign-in, no session.
    #[serde(default)]
    pub banned: bool,
    /// The app's own id for this user (the Backend API sets it).
    #[serde(default)]
    pub external_id: Option<String>,
    pub failed_attempts: u32,
    pub locked_until: Option<UnixMillis>,
    pub last_sign_in_at: Option<UnixMillis>,
    pub last_active_at: Option<UnixMillis>,
    pub mfa_enabled_at: Option<UnixMillis>,
    pub mfa_disabled_at: Option<UnixMillis>,
    pub legal_accepted_at: Option<UnixMillis>,
    /// Provider accounts connected to this user (each claimed by a guard item).
    #[serde(default)]
    pub external_accounts: Vec<ExternalAccountRecord>,
    /// The profile image, by its key in the image store (`crate::images`).
    #[serde(default)]
    pub image: Option<ProfileImage>,
    /// Passkeys: registered ones (each claimed by a guard item on its credential id) and at
    /// most one whose registration is under way.
    #[serde(default)]
    pub passkeys: Vec<PasskeyRecord>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
    /// What the store held when this record was read (never stored itself): the repository's
    /// writes undo what the stored version had and this one has not (`crate::repo`).
    #[serde(skip)]
    pub stored: StoredUser,
}

/// The parts of a user as last read from the store that its next write must compare against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredUser {
    /// The ids of its email addresses and phone numbers (each has a locator item).
    pub identification_ids: Vec<String>,
    /// What its webhooks saw of it (`crate::repo::events::user_fingerprint`); none for a new user.
    pub fingerprint: Option<u64>,
}

wire_enum! {
    #[derive(Default)]
    SignUpStatus {
        #[default]
        MissingRequirements = "missing_requirements", Complete = "complete",
        Abandoned = "abandoned",
    }
}

/// A sign-up attempt; lives in its client's partition until `abandon_at`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
    /// A sign-up through a provider (`verifications.external_account`).
    #[serde(default)]
    pub external_account: Option<OAuthVerificationRecord>,
    pub created_user_id: Option<String>,
    pub created_session_id: Option<String>,
    pub abandon_at: UnixMillis,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}

wire_enum! {
    #[derive(Default)]
    SignInStatus {
        #[default]
        NeedsIdentifier = "needs_identifier", NeedsFirstFactor = "needs_first_factor",
        NeedsSecondFactor = "needs_second_factor", NeedsNewPassword = "needs_new_password",
        Complete = "complete", Abandoned = "abandoned",
    }
}

wire_enum! {
    /// How much a reverification asks for.
    ReverificationLevel {
        FirstFactor = "first_factor", SecondFactor = "second_factor", MultiFactor = "multi_factor",
    }
    /// Where a reverification stands.
    ReverificationStatus {
        NeedsFirstFactor = "needs_first_factor", NeedsSecondFactor = "needs_second_factor",
        Complete = "complete",
    }
}

/// A session reverification: the user proves their factors again for a sensitive action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReverificationRecord {
    pub id: String,
    pub level: ReverificationLevel,
    pub status: ReverificationStatus,
    /// Whether the second factor is asked for after the first.
    pub needs_second_factor: bool,
    pub first_factor: Option<FactorVerification>,
    pub second_factor: Option<FactorVerification>,
    pub supported_first_factors: Vec<crate::model::wire::SignInFactor>,
    pub supported_second_factors: Vec<crate::model::wire::SignInFactor>,
    /// A passkey's options out for the first factor, in place of `first_factor` until answered.
    #[serde(default)]
    pub passkey: Option<PasskeyCeremony>,
    pub created_at: UnixMillis,
}

/// A factor being verified during a sign-in, and which identification it targets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FactorVerification {
    pub verification: VerificationRecord,
    pub email_address_id: Option<String>,
    pub phone_number_id: Option<String>,
}

/// A sign-in attempt; lives in its client's partition until `abandon_at`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
    /// A password reset waiting for the second factor: the new password's hash, and whether
    /// to sign out elsewhere once it is set.
    #[serde(default)]
    pub pending_password_hash: Option<String>,
    #[serde(default)]
    pub pending_sign_out_of_other_sessions: bool,
    /// A social first factor (`oauth_*`): the provider's verification, in place of
    /// `first_factor`.
    #[serde(default)]
    pub oauth: Option<OAuthVerificationRecord>,
    /// A passkey sign-in under way: the options the browser was given and the challenge it
    /// must sign, in place of `first_factor` until it is answered.
    #[serde(default)]
    pub passkey: Option<PasskeyCeremony>,
    pub created_session_id: Option<String>,
    pub abandon_at: UnixMillis,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(skip)]
    pub version: u64,
}

impl SignInRecord {
    /// A new sign-in on client `client_id`, waiting for its identifier.
    pub fn new(id: String, client_id: String, now: UnixMillis) -> Self {
        let (created_at, updated_at, abandon_at) = attempt_times(now);
        Self {
            id,
            client_id,
            created_at,
            updated_at,
            abandon_at,
            ..Self::default()
        }
    }
}

/// When an attempt started at `now` was created, last updated and is abandoned.
fn attempt_times(now: UnixMillis) -> (UnixMillis, UnixMillis, UnixMillis) {
    (now, now, now + duration_ms(security::ATTEMPT_ABANDON_AFTER))
}

impl SessionRecord {
    /// The status as of `now`: an active session past its lifetime has expired, and one idle
    /// past the inactivity timeout has been abandoned, whether or not anyone wrote that down.
    pub fn status_at(&self, now: UnixMillis) -> SessionStatus {
        if self.status != SessionStatus::Active {
            return self.status;
        }
        if now >= self.expire_at {
            return SessionStatus::Expired;
        }
        if now >= self.abandon_at {
            return SessionStatus::Abandoned;
        }
        SessionStatus::Active
    }

    pub fn is_active_at(&self, now: UnixMillis) -> bool {
        self.status_at(now) == SessionStatus::Active
    }
}

impl UserRecord {
    /// A user with nothing but its id and times: not stored yet (version 0).
    pub fn new(id: String, now: UnixMillis) -> Self {
        Self {
            id,
            username: None,
            first_name: None,
            last_name: None,
            email_addresses: Vec::new(),
            phone_numbers: Vec::new(),
            primary_email_address_id: None,
            primary_phone_number_id: None,
            password_hash: None,
            password_last_updated_at: None,
            totp_secret: None,
            totp_pending_secret: None,
            totp_last_step: None,
            backup_code_hashes: Vec::new(),
            public_metadata: Map::new(),
            private_metadata: Map::new(),
            unsafe_metadata: Map::new(),
            banned: false,
            external_id: None,
            failed_attempts: 0,
            locked_until: None,
            last_sign_in_at: None,
            last_active_at: None,
            mfa_enabled_at: None,
            mfa_disabled_at: None,
            legal_accepted_at: None,
            external_accounts: Vec::new(),
            image: None,
            passkeys: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
            stored: StoredUser::default(),
        }
    }

    /// The ids of every email address and phone number.
    pub fn identification_ids(&self) -> Vec<String> {
        self.email_addresses
            .iter()
            .chain(&self.phone_numbers)
            .map(|r| r.id.clone())
            .collect()
    }

    /// The user's identifications of one kind.
    pub fn identifications(&self, kind: IdentificationKind) -> &[IdentificationRecord] {
        match kind {
            IdentificationKind::EmailAddress => &self.email_addresses,
            IdentificationKind::PhoneNumber => &self.phone_numbers,
        }
    }

    pub fn identifications_mut(
        &mut self,
        kind: IdentificationKind,
    ) -> &mut Vec<IdentificationRecord> {
        match kind {
            IdentificationKind::EmailAddress => &mut self.email_addresses,
            IdentificationKind::PhoneNumber => &mut self.phone_numbers,
        }
    }

    /// The identification `id` of this kind.
    pub fn identification(
        &self,
        kind: IdentificationKind,
        id: &str,
    ) -> Option<&IdentificationRecord> {
        self.identifications(kind).iter().find(|r| r.id == id)
    }

    pub fn identification_mut(
        &mut self,
        kind: IdentificationKind,
        id: &str,
    ) -> Option<&mut IdentificationRecord> {
        self.identifications_mut(kind)
            .iter_mut()
            .find(|r| r.id == id)
    }

    /// The id of the primary identification of this kind.
    pub fn primary_id(&self, kind: IdentificationKind) -> Option<&String> {
        match kind {
            IdentificationKind::EmailAddress => self.primary_email_address_id.as_ref(),
            IdentificationKind::PhoneNumber => self.primary_phone_number_id.as_ref(),
        }
    }

    pub fn primary_id_mut(&mut self, kind: IdentificationKind) -> &mut Option<String> {
        match kind {
            IdentificationKind::EmailAddress => &mut self.primary_email_address_id,
            IdentificationKind::PhoneNumber => &mut self.primary_phone_number_id,
        }
    }

    /// The primary identification of this kind, when there is one.
    pub fn primary(&self, kind: IdentificationKind) -> Option<&IdentificationRecord> {
        let id = self.primary_id(kind)?;
        self.identification(kind, id)
    }

    pub fn is_primary(&self, r: &IdentificationRecord) -> bool {
        self.primary_id(r.kind) == Some(&r.id)
    }

    /// Whether the user has set up a factor that makes a second step (TOTP or an SMS number).
    pub fn has_second_factor(&self) -> bool {
        self.totp_secret.is_some()
            || self
                .phone_numbers
                .iter()
                .any(|p| p.reserved_for_second_factor)
    }
}

impl SignUpRecord {
    /// A new, empty sign-up on client `client_id`.
    pub fn new(id: String, client_id: String, now: UnixMillis) -> Self {
        let (created_at, updated_at, abandon_at) = attempt_times(now);
        let mut s = Self::default();
        (s.id, s.client_id) = (id, client_id);
        (s.created_at, s.updated_at, s.abandon_at) = (created_at, updated_at, abandon_at);
        s
    }

    /// The identifier of this kind the sign-up holds, and its verification slot.
    pub fn identification(
        &self,
        kind: IdentificationKind,
    ) -> (Option<&String>, Option<&VerificationRecord>) {
        match kind {
            IdentificationKind::EmailAddress => (
                self.email_address.as_ref(),
                self.email_verification.as_ref(),
            ),
            IdentificationKind::PhoneNumber => {
                (self.phone_number.as_ref(), self.phone_verification.as_ref())
            }
        }
    }

    pub fn verification_mut(
        &mut self,
        kind: IdentificationKind,
    ) -> &mut Option<VerificationRecord> {
        match kind {
            IdentificationKind::EmailAddress => &mut self.email_verification,
            IdentificationKind::PhoneNumber => &mut self.phone_verification,
        }
    }

    fn has(&self, field: Field) -> bool {
        match field {
            Field::EmailAddress => self.email_address.is_some(),
            Field::PhoneNumber => self.phone_number.is_some(),
            Field::Username => self.username.is_some(),
            // A user who signs in through a provider needs no password (Clerk).
            Field::Password => {
                self.password_hash.is_some()
                    || self
                        .external_account
                        .as_ref()
                        .is_some_and(|v| v.status == OAuthStatus::Verified)
            }
            Field::FirstName => self.first_name.is_some(),
            Field::LastName => self.last_name.is_some(),
            Field::LegalAccepted => self.legal_accepted_at.is_some(),
        }
    }

    /// Required fields the sign-up does not have yet.
    pub fn missing_fields(&self, caps: &Capabilities) -> Vec<Field> {
        caps.sign_up_required
            .iter()
            .copied()
            .filter(|f| !self.has(*f))
            .collect()
    }

    /// Identifiers given that the instance wants verified and that are not yet.
    pub fn unverified_fields(&self, caps: &Capabilities) -> Vec<IdentificationKind> {
        IdentificationKind::ALL
            .iter()
            .copied()
            .filter(|kind| {
                let (value, verification) = self.identification(*kind);
                value.is_some()
                    && caps.verify_at_sign_up(*kind)
                    && verification.is_none_or(|v| v.status != VerificationStatus::Verified)
            })
            .collect()
    }

    /// Whether nothing stands between the sign-up and a user.
    pub fn is_ready(&self, caps: &Capabilities) -> bool {
        self.missing_fields(caps).is_empty() && self.unverified_fields(caps).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_documents_written_before_the_one_identification_record_still_read() {
        let legacy = serde_json::json!({
            "id": "user_1", "username": null, "first_name": null, "last_name": null,
            "email_addresses": [{"id": "idn_e", "email_address": "a@example.com",
                "verification": null, "created_at": 1, "updated_at": 1}],
            "phone_numbers": [{"id": "idn_p", "phone_number": "+14155550100",
                "verification": null, "reserved_for_second_factor": true,
                "default_second_factor": true, "created_at": 1, "updated_at": 1}],
            "primary_email_address_id": "idn_e", "primary_phone_number_id": null,
            "password_hash": null, "password_last_updated_at": null, "totp_secret": null,
            "totp_pending_secret": null, "backup_code_hashes": [], "public_metadata": {},
            "unsafe_metadata": {}, "failed_attempts": 0, "locked_until": null,
            "last_sign_in_at": null, "last_active_at": null, "mfa_enabled_at": null,
            "mfa_disabled_at": null, "legal_accepted_at": null, "created_at": 1, "updated_at": 1,
        });
        let u: UserRecord = match serde_json::from_value(legacy) {
            Ok(u) => u,
            Err(e) => panic!("legacy user: {e}"),
        };
        let email = u.primary(IdentificationKind::EmailAddress);
        assert_eq!(
            email.map(|e| (e.kind, e.value.as_str())),
            Some((IdentificationKind::EmailAddress, "a@example.com"))
        );
        let phone = &u.phone_numbers[0];
        assert_eq!(
            (phone.kind, phone.value.as_str()),
            (IdentificationKind::PhoneNumber, "+14155550100")
        );
        assert!(u.has_second_factor());
        // Written back in the new shape, it reads the same.
        let again: Result<UserRecord, _> =
            serde_json::to_value(&u).and_then(serde_json::from_value);
        assert_eq!(again.ok(), Some(u));
    }
}

wire_enum! {
    /// Where a provider's verification stands. `transferable`: the provider account has no user
    /// here (on a sign-in) or already has one (on a sign-up), and the other kind of attempt may
    /// take it over (`transfer: true`).
    #[derive(Default)]
    OAuthStatus {
        #[default]
        Unverified = "unverified", Verified = "verified", Transferable = "transferable",
        Failed = "failed", Expired = "expired",
    }
}

/// A verification by a provider (`verification_oauth`): on a sign-in, a sign-up, or a
/// connected account.
///
/// ```text
///   unverified ──callback: known account──────────────► verified
///       │      ──callback: account unknown (sign-in) /
///       │        already a user's (sign-up)───────────► transferable ──transfer──► (other attempt)
///       └──────callback: denied, bad token, provider down► failed (error set)
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OAuthVerificationRecord {
    /// `oauth_google`.
    pub strategy: String,
    pub status: OAuthStatus,
    /// The provider's authorization URL, while unverified.
    pub external_verification_redirect_url: Option<String>,
    /// The Clerk error code it failed or was transferred with.
    pub error: Option<String>,
    pub expire_at: UnixMillis,
    /// Who the provider said the user is, kept for a transfer.
    pub profile: Option<crate::providers::ExternalProfile>,
    /// Where the callback sends the browser when no session was created (the SSO-callback page)…
    pub redirect_url: Option<String>,
    /// …and when one was.
    pub action_complete_redirect_url: Option<String>,
    /// SHA-256 of the nonce a native app collects its rotated client token with.
    pub rotating_token_nonce_hash: Option<String>,
}

/// A WebAuthn ceremony under way (a passkey's registration, or a sign-in with one): the
/// options handed to the browser, which it gets as the verification's `nonce`, and the relying
/// party's state for them (the challenge), kept here rather than with the browser. Used once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasskeyCeremony {
    /// The JSON the browser passes to `navigator.credentials.create` / `.get`.
    pub options: String,
    /// webauthn-rs's state for these options (`crate::passkeys`); never rendered.
    pub state: Value,
    pub expire_at: UnixMillis,
}

/// A passkey on a user (`passkey`).
///
/// ```text
///   POST /me/passkeys ──► registering (ceremony) ──attempt ok──► registered (guard on the
///        credential id) ──sign-ins: counter advances──► … ──DELETE──► gone (guard released)
///                              └──attempt fails / expires──► dropped at the next registration
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasskeyRecord {
    pub id: String,
    pub name: String,
    pub status: VerificationStatus,
    /// While registering: the creation options and the challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<PasskeyCeremony>,
    /// Once registered: the credential id (base64url), which its guard item is keyed by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// Once registered: the public key, the signature counter and the authenticator's flags
    /// (webauthn-rs's `Passkey`, as it serialises itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Value>,
    pub last_used_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl PasskeyRecord {
    pub fn is_registered(&self) -> bool {
        self.status == VerificationStatus::Verified && self.credential.is_some()
    }
}

/// A provider account connected to a user (`external_account`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExternalAccountRecord {
    pub id: String,
    /// `oauth_google`.
    pub provider: String,
    /// The provider's id for the user; empty while a connection waits for the provider.
    pub provider_user_id: String,
    pub email_address: Option<String>,
    pub email_address_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub approved_scopes: Vec<String>,
    pub verification: OAuthVerificationRecord,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl ExternalAccountRecord {
    /// A connection waiting for the provider (`verification` holds where the user is sent).
    pub fn pending(id: String, verification: OAuthVerificationRecord, now: UnixMillis) -> Self {
        Self {
            id,
            provider: verification.strategy.clone(),
            provider_user_id: String::new(),
            email_address: None,
            email_address_verified: false,
            first_name: None,
            last_name: None,
            username: None,
            image_url: None,
            approved_scopes: Vec::new(),
            verification,
            created_at: now,
            updated_at: now,
        }
    }

    /// A connected account as the provider described it.
    pub fn from_profile(
        id: String,
        p: &crate::providers::ExternalProfile,
        now: UnixMillis,
    ) -> Self {
        let verified = OAuthVerificationRecord {
            strategy: p.strategy.clone(),
            status: OAuthStatus::Verified,
            ..Default::default()
        };
        let mut a = Self::pending(id, verified, now);
        a.update_from(p, now);
        a
    }

    /// Takes the provider's current description of the account.
    pub fn update_from(&mut self, p: &crate::providers::ExternalProfile, now: UnixMillis) {
        self.provider_user_id = p.subject.clone();
        self.email_address = p.email.clone();
        self.email_address_verified = p.email_verified;
        self.first_name = p.first_name.clone();
        self.last_name = p.last_name.clone();
        self.username = p.username.clone();
        self.image_url = p.image_url.clone();
        self.approved_scopes = p.scopes.clone();
        self.updated_at = now;
    }

    pub fn is_verified(&self) -> bool {
        self.verification.status == OAuthStatus::Verified && !self.provider_user_id.is_empty()
    }
}

/// What a social sign-in's `state` stands for, kept (by the state's hash) until the provider
/// sends the user back, at most [`security::OAUTH_STATE_LIFETIME`]; used once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OAuthStateRecord {
    /// The client the sign-in belongs to: only it is changed by the callback.
    pub client_id: String,
    pub purpose: OAuthPurpose,
    pub strategy: String,
    /// The PKCE verifier (RFC 7636) and the OIDC nonce this authorization request was sent with.
    pub code_verifier: String,
    pub nonce: String,
    pub expire_at: UnixMillis,
    /// SHA-256 of the secret the browser that began a web flow holds in a cookie: only that
    /// browser completes it (login CSRF, an attempt prepared by someone else). None for a
    /// native app's flow, which its app completes with the rotating-token nonce.
    #[serde(default)]
    pub binding_hash: Option<String>,
}

/// Which attempt a social sign-in's callback completes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OAuthPurpose {
    SignIn {
        id: String,
    },
    SignUp {
        id: String,
    },
    /// Connecting (or re-authorizing) an account in the profile.
    Connect {
        user_id: String,
        external_account_id: String,
    },
}

/// What an email link verifies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinkTarget {
    /// A sign-in's first factor.
    SignIn { id: String },
    /// A sign-up's email address.
    SignUp { id: String },
    /// An email address added in the profile.
    Identification { user_id: String, id: String },
}

/// An email link, kept by its token's hash until a day past its expiry: what it verifies, on
/// which client, and where the browser goes after.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkRecord {
    pub client_id: String,
    pub target: LinkTarget,
    pub redirect_url: String,
    pub expire_at: UnixMillis,
    /// Opened once already.
    pub used: bool,
}

/// A user's profile image: where the image store keeps it (`user_…/<hash>.<ext>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileImage {
    pub key: String,
    pub content_type: String,
}
