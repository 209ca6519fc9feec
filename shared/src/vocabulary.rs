//! The typed vocabulary of the wire: strategies, by the step that takes them, and the kinds of
//! identifier. Each is parsed once — when the settings load and when a request is parsed — and
//! travels typed from there; the wire name exists only in `as_str` and the parser.
//!
//! ```text
//!   "email_code" ──parse (settings / request edge)──► FirstFactor::EmailCode ──► flows, policy
//!                   unknown name ──► 422 form_param_value_invalid (param `strategy`), never a fall-through
//! ```
//!
//! Strategies are grouped by the step that takes them, as Clerk's spec does:
//! [`FirstFactor`] (sign-in), [`SecondFactor`] (sign-in), [`VerificationStrategy`] (proving an
//! identifier at sign-up or in the profile). [`Strategy`] is any of them, for what is stored
//! (a verification remembers which strategy it is for). New strategies (`email_link`,
//! `passkey`, `oauth_<provider>`) are new variants here: the compiler then lists every `match`
//! that must learn them.

use std::str::FromStr;

use crate::error::{Code, Error};

/// Declares a wire enum: its variants with their wire names, `as_str`, `ALL`, `FromStr`
/// (unknown name → `UnknownName`), `Display` and serde as the wire string.
macro_rules! wire_enum {
    ($($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? })+) => {
        $(wire_enum!(@one $(#[$meta])* $name { $($(#[$vmeta])* $variant = $wire),+ });)+
    };
    (@one $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownName;

            fn from_str(s: &str) -> Result<Self, $crate::vocabulary::UnknownName> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::vocabulary::UnknownName(s.to_owned())),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(|e: $crate::vocabulary::UnknownName| {
                    serde::de::Error::custom(format!(
                        "unknown {} `{}`; expected one of: {}",
                        stringify!($name),
                        e.0,
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })
            }
        }
    };
}

pub(crate) use wire_enum;

/// A name that is not in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

wire_enum! {
    /// A way to prove the first factor of a sign-in (or to reset a forgotten password).
    FirstFactor {
        Password = "password", EmailCode = "email_code", PhoneCode = "phone_code",
        EmailLink = "email_link", Passkey = "passkey",
        ResetPasswordEmailCode = "reset_password_email_code", ResetPasswordPhoneCode = "reset_password_phone_code",
    }
    /// A way to prove the second factor of a sign-in.
    SecondFactor { PhoneCode = "phone_code", Totp = "totp", BackupCode = "backup_code" }
    /// A way to prove that someone holds an identifier (sign-up, profile).
    VerificationStrategy { EmailCode = "email_code", PhoneCode = "phone_code", EmailLink = "email_link" }
    /// Any strategy: what a stored verification says it is for.
    Strategy {
        Password = "password", EmailCode = "email_code", PhoneCode = "phone_code", Totp = "totp",
        EmailLink = "email_link", Passkey = "passkey",
        ResetPasswordEmailCode = "reset_password_email_code", ResetPasswordPhoneCode = "reset_password_phone_code",
        BackupCode = "backup_code",
        /// Verified by an operator (an identifier the Backend API created), as Clerk names it.
        Admin = "admin",
        /// Vouched for by a provider at a social sign-in (`from_oauth_<provider>` on the wire).
        FromOauth = "from_oauth",
    }
    /// What kind of identifier a value is (and which guard item protects it).
    IdentifierKind { Email = "email_address", Phone = "phone_number", Username = "username" }
    /// The identifications a user holds as objects of their own (with a verification): email
    /// addresses and phone numbers.
    IdentificationKind { EmailAddress = "email_address", PhoneNumber = "phone_number" }
}

impl IdentifierKind {
    /// The short tag guard items are keyed by (stable: it is part of stored keys).
    pub const fn tag(self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
            IdentifierKind::Username => "username",
        }
    }
}

impl IdentificationKind {
    pub const fn identifier(self) -> IdentifierKind {
        match self {
            IdentificationKind::EmailAddress => IdentifierKind::Email,
            IdentificationKind::PhoneNumber => IdentifierKind::Phone,
        }
    }

    /// The code strategy that proves this kind of identification.
    pub const fn code_strategy(self) -> VerificationStrategy {
        match self {
            IdentificationKind::EmailAddress => VerificationStrategy::EmailCode,
            IdentificationKind::PhoneNumber => VerificationStrategy::PhoneCode,
        }
    }
}

impl FirstFactor {
    /// The identification a code factor is sent to, if it is one.
    pub const fn code_destination(self) -> Option<IdentificationKind> {
        match self {
            FirstFactor::EmailCode
            | FirstFactor::EmailLink
            | FirstFactor::ResetPasswordEmailCode => Some(IdentificationKind::EmailAddress),
            FirstFactor::PhoneCode | FirstFactor::ResetPasswordPhoneCode => {
                Some(IdentificationKind::PhoneNumber)
            }
            FirstFactor::Password | FirstFactor::Passkey => None,
        }
    }

    pub const fn is_reset(self) -> bool {
        matches!(
            self,
            FirstFactor::ResetPasswordEmailCode | FirstFactor::ResetPasswordPhoneCode
        )
    }
}

/// Each step's strategies are strategies: `From<Step> for Strategy`, variant by variant.
macro_rules! strategy_subset {
    ($step:ident: $($variant:ident),+) => {
        impl From<$step> for Strategy {
            fn from(s: $step) -> Strategy {
                match s {
                    $($step::$variant => Strategy::$variant),+
                }
            }
        }
    };
}

strategy_subset!(FirstFactor: Password, EmailCode, PhoneCode, EmailLink, Passkey, ResetPasswordEmailCode, ResetPasswordPhoneCode);
strategy_subset!(SecondFactor: PhoneCode, Totp, BackupCode);
strategy_subset!(VerificationStrategy: EmailCode, PhoneCode, EmailLink);

/// Parses a strategy a request named. Unknown names answer Clerk's
/// `form_param_value_invalid` on the parameter, naming what this step accepts.
pub fn parse_strategy<T>(param: &str, value: &str) -> Result<T, Error>
where
    T: FromStr<Err = UnknownName> + Copy + 'static,
    T: StrategyStep,
{
    value.parse().map_err(|UnknownName(name)| {
        Error::new(Code::FormParamValueInvalid)
            .param(param)
            .long(format!(
                "`{name}` is not a strategy this application supports for {}.",
                T::STEP
            ))
    })
}

/// Names the step a strategy enum belongs to, for error messages.
pub trait StrategyStep {
    const STEP: &'static str;
}

impl StrategyStep for FirstFactor {
    const STEP: &'static str = "the first factor";
}

impl StrategyStep for SecondFactor {
    const STEP: &'static str = "the second factor";
}

impl StrategyStep for VerificationStrategy {
    const STEP: &'static str = "verification";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for f in FirstFactor::ALL {
            assert_eq!(f.as_str().parse::<FirstFactor>(), Ok(*f));
            assert_eq!(Strategy::from(*f).as_str(), f.as_str());
        }
        for f in SecondFactor::ALL {
            assert_eq!(f.as_str().parse::<SecondFactor>(), Ok(*f));
            assert_eq!(Strategy::from(*f).as_str(), f.as_str());
        }
        for v in VerificationStrategy::ALL {
            assert_eq!(Strategy::from(*v).as_str(), v.as_str());
        }
        let json = serde_json::to_string(&FirstFactor::ResetPasswordPhoneCode).unwrap_or_default();
        assert_eq!(json, "\"reset_password_phone_code\"");
    }

    #[test]
    fn unknown_strategies_are_a_clerk_error_not_a_fall_through() {
        let err = parse_strategy::<FirstFactor>("strategy", "oauth_google")
            .err()
            .map(|e| (e.code, e.meta.get("param_name").cloned()));
        assert_eq!(
            err,
            Some((Code::FormParamValueInvalid, Some("strategy".into())))
        );
        assert!(parse_strategy::<SecondFactor>("strategy", "password").is_err());
        assert!(parse_strategy::<VerificationStrategy>("strategy", "totp").is_err());
        assert!("EMAIL_CODE".parse::<FirstFactor>().is_err());
        assert!(serde_json::from_str::<SecondFactor>("\"sms\"").is_err());
    }

    #[test]
    fn code_factors_know_where_they_go() {
        assert_eq!(
            FirstFactor::ResetPasswordPhoneCode.code_destination(),
            Some(IdentificationKind::PhoneNumber)
        );
        assert_eq!(FirstFactor::Password.code_destination(), None);
        assert!(FirstFactor::ResetPasswordEmailCode.is_reset());
        assert!(!FirstFactor::EmailCode.is_reset());
    }
}
