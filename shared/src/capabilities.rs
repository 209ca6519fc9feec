//! The capability policy: what this instance lets people do, computed once from the settings
//! when the application is built. The Environment object advertises exactly this, and every
//! flow asks it — nothing else re-derives "is X enabled, for which attribute".
//!
//! ```text
//!   settings.toml ──parse, validate──► Settings ──Capabilities::from_settings──► Capabilities
//!                                                                   │
//!              GET /v1/environment ◄── advertises ──────────────────┤
//!              sign-in / sign-up / me flows ◄── accept or refuse ───┘
//! ```
//!
//! Rules that are not a single attribute flag live here too: the reset strategies exist when
//! password is a first factor and the identifier kind signs in; SMS second factors need the
//! phone attribute's `second_factors` to list `phone_code`.

use crate::settings::{Attribute, Settings};
use crate::vocabulary::{
    FirstFactor, IdentificationKind, IdentifierKind, SecondFactor, VerificationStrategy,
};

/// A field a sign-up collects (and the profile edits), by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    EmailAddress,
    PhoneNumber,
    Username,
    Password,
    FirstName,
    LastName,
    LegalAccepted,
}

impl Field {
    /// The fields a sign-up lists in `required_fields` / `optional_fields`, in Clerk's order.
    pub const SIGN_UP: [Field; 6] = [
        Field::EmailAddress,
        Field::PhoneNumber,
        Field::Username,
        Field::Password,
        Field::FirstName,
        Field::LastName,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Field::EmailAddress => "email_address",
            Field::PhoneNumber => "phone_number",
            Field::Username => "username",
            Field::Password => "password",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::LegalAccepted => "legal_accepted",
        }
    }
}

/// What the instance allows, by step.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// Identifier kinds people sign in with, in Clerk's order (email, phone, username).
    pub sign_in_identifiers: Vec<IdentifierKind>,
    /// Strategies for the first factor of a sign-in, in the order the Environment lists them.
    pub first_factors: Vec<FirstFactor>,
    /// Strategies for the second factor.
    pub second_factors: Vec<SecondFactor>,
    email: IdentificationRules,
    phone: IdentificationRules,
    /// Fields a sign-up must have, and may have.
    pub sign_up_required: Vec<Field>,
    pub sign_up_optional: Vec<Field>,
    enabled: Vec<Field>,
}

/// How one kind of identification is proven.
#[derive(Debug, Clone, PartialEq, Default)]
struct IdentificationRules {
    verifications: Vec<VerificationStrategy>,
    verify_at_sign_up: bool,
}

impl Capabilities {
    pub fn from_settings(settings: &Settings) -> Self {
        let a = &settings.attributes;
        let signs_in = |attr: &Attribute| attr.enabled && attr.used_for_first_factor;
        let sign_in_identifiers: Vec<IdentifierKind> = [
            (IdentifierKind::Email, &a.email_address),
            (IdentifierKind::Phone, &a.phone_number),
            (IdentifierKind::Username, &a.username),
        ]
        .into_iter()
        .filter(|(_, attr)| signs_in(attr))
        .map(|(kind, _)| kind)
        .collect();

        let mut first_factors: Vec<FirstFactor> = Vec::new();
        let mut second_factors: Vec<SecondFactor> = Vec::new();
        for name in Settings::ATTRIBUTE_NAMES {
            let Some(attr) = settings.attribute(name) else {
                continue;
            };
            if signs_in(attr) {
                for f in &attr.first_factors {
                    if !first_factors.contains(f) {
                        first_factors.push(*f);
                    }
                }
            }
            if attr.enabled && attr.used_for_second_factor {
                for f in &attr.second_factors {
                    if !second_factors.contains(f) {
                        second_factors.push(*f);
                    }
                }
            }
        }
        // Passkeys on are a way to sign in, whatever else their attribute lists.
        if settings.passkeys_enabled() && !first_factors.contains(&FirstFactor::Passkey) {
            first_factors.push(FirstFactor::Passkey);
        }
        // A forgotten password is reset through a code to an identifier that signs in.
        if first_factors.contains(&FirstFactor::Password) {
            if signs_in(&a.email_address) {
                first_factors.push(FirstFactor::ResetPasswordEmailCode);
            }
            if signs_in(&a.phone_number) {
                first_factors.push(FirstFactor::ResetPasswordPhoneCode);
            }
        }

        let attribute = |f: Field| -> Option<&Attribute> {
            Some(match f {
                Field::EmailAddress => &a.email_address,
                Field::PhoneNumber => &a.phone_number,
                Field::Username => &a.username,
                Field::Password => &a.password,
                Field::FirstName => &a.first_name,
                Field::LastName => &a.last_name,
                Field::LegalAccepted => return None,
            })
        };
        let mut sign_up_required: Vec<Field> = Field::SIGN_UP
            .into_iter()
            .filter(|f| attribute(*f).is_some_and(|x| x.required))
            .collect();
        if settings.sign_up.legal_consent_enabled {
            sign_up_required.push(Field::LegalAccepted);
        }
        let sign_up_optional = Field::SIGN_UP
            .into_iter()
            .filter(|f| attribute(*f).is_some_and(|x| x.enabled && !x.required))
            .collect();
        let enabled = Field::SIGN_UP
            .into_iter()
            .filter(|f| attribute(*f).is_some_and(|x| x.enabled))
            .collect();
        let rules = |attr: &Attribute| IdentificationRules {
            verifications: attr.verifications.clone(),
            verify_at_sign_up: attr.verify_at_sign_up,
        };
        Self {
            sign_in_identifiers,
            first_factors,
            second_factors,
            email: rules(&a.email_address),
            phone: rules(&a.phone_number),
            sign_up_required,
            sign_up_optional,
            enabled,
        }
    }

    pub fn first_factor(&self, f: FirstFactor) -> bool {
        self.first_factors.contains(&f)
    }

    pub fn second_factor(&self, f: SecondFactor) -> bool {
        self.second_factors.contains(&f)
    }

    pub fn signs_in_with(&self, kind: IdentifierKind) -> bool {
        self.sign_in_identifiers.contains(&kind)
    }

    /// Whether the instance collects this field at all (sign-up, profile).
    pub fn enabled(&self, field: Field) -> bool {
        field == Field::LegalAccepted || self.enabled.contains(&field)
    }

    pub fn required(&self, field: Field) -> bool {
        self.sign_up_required.contains(&field)
    }

    fn rules(&self, kind: IdentificationKind) -> &IdentificationRules {
        match kind {
            IdentificationKind::EmailAddress => &self.email,
            IdentificationKind::PhoneNumber => &self.phone,
        }
    }

    /// The strategies that prove this kind of identification.
    pub fn verifications(&self, kind: IdentificationKind) -> &[VerificationStrategy] {
        &self.rules(kind).verifications
    }

    pub fn verification(&self, kind: IdentificationKind, v: VerificationStrategy) -> bool {
        self.verifications(kind).contains(&v)
    }

    /// Whether an identification of this kind must be verified before it counts (at sign-up,
    /// and for signing in with it).
    pub fn verify_at_sign_up(&self, kind: IdentificationKind) -> bool {
        self.rules(kind).verify_at_sign_up
    }

    /// Whether an identification of this kind signs in.
    pub fn identification_signs_in(&self, kind: IdentificationKind) -> bool {
        self.signs_in_with(kind.identifier())
    }

    /// Whether a factor that is not a fallback makes a second step: backup codes alone do not.
    pub fn two_step_factors(&self) -> impl Iterator<Item = SecondFactor> + '_ {
        self.second_factors
            .iter()
            .copied()
            .filter(|f| *f != SecondFactor::BackupCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(replace: &[(&str, &str)]) -> Capabilities {
        let mut text = crate::settings::DEVELOPMENT_SETTINGS.to_owned();
        for (from, to) in replace {
            assert!(text.contains(from), "no `{from}`");
            text = text.replacen(from, to, 1);
        }
        match Settings::parse(&text) {
            Ok(s) => Capabilities::from_settings(&s),
            Err(e) => panic!("settings: {e}"),
        }
    }

    #[test]
    fn development_default() {
        let c = caps(&[]);
        assert_eq!(
            c.sign_in_identifiers,
            vec![
                IdentifierKind::Email,
                IdentifierKind::Phone,
                IdentifierKind::Username
            ]
        );
        assert_eq!(
            c.first_factors,
            vec![
                FirstFactor::EmailCode,
                FirstFactor::PhoneCode,
                FirstFactor::Password,
                FirstFactor::ResetPasswordEmailCode,
                FirstFactor::ResetPasswordPhoneCode,
            ]
        );
        assert_eq!(
            c.second_factors,
            vec![
                SecondFactor::PhoneCode,
                SecondFactor::Totp,
                SecondFactor::BackupCode
            ]
        );
        assert!(c.required(Field::EmailAddress) && c.required(Field::Password));
        assert!(!c.required(Field::Username) && c.enabled(Field::Username));
        assert_eq!(
            c.two_step_factors().collect::<Vec<_>>(),
            vec![SecondFactor::PhoneCode, SecondFactor::Totp]
        );
    }

    #[test]
    fn reset_needs_password_as_a_first_factor() {
        // Password enabled but not a first factor: no reset strategies (the environment used to
        // advertise them while sign-in refused them).
        let c = caps(&[
            (
                "[attributes.username]\nenabled = true\nrequired = false\nused_for_first_factor = true",
                "[attributes.username]\nenabled = true\nrequired = false\nused_for_first_factor = false",
            ),
            (
                "required = true\nused_for_first_factor = true\nfirst_factors = [\"password\"]",
                "required = true\nused_for_first_factor = false",
            ),
        ]);
        assert!(!c.first_factor(FirstFactor::Password));
        assert!(!c.first_factor(FirstFactor::ResetPasswordEmailCode));
        assert!(!c.first_factor(FirstFactor::ResetPasswordPhoneCode));
        assert!(c.first_factor(FirstFactor::EmailCode));
    }

    #[test]
    fn legal_consent_is_a_required_field() {
        let c = caps(&[(
            "legal_consent_enabled = false",
            "legal_consent_enabled = true",
        )]);
        assert_eq!(c.sign_up_required.last(), Some(&Field::LegalAccepted));
    }
}
