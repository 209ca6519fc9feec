//! Identifiers people sign in with: email addresses, phone numbers, usernames — validated and
//! normalised once, so uniqueness guards and look-ups compare like with like.
//!
//! Emails are checked by the `email_address` crate (RFC 5321/5322) and lower-cased; phone numbers
//! are parsed by `phonenumber` (libphonenumber's metadata) and kept in E.164; usernames are
//! lower-cased and limited to letters, digits, `_` and `-`.

use crate::error::{Code, Error, Result};
use crate::vocabulary::{IdentificationKind, IdentifierKind};

/// Clerk's username bounds (`user_settings.username_settings`).
pub const USERNAME_MIN: usize = 4;
pub const USERNAME_MAX: usize = 64;

pub fn normalise_email(raw: &str, param: &str) -> Result<String> {
    // Lower-cased before it is validated: what is stored and sent is what was checked
    // (lower-casing can change a character into several, e.g. `İ` into `i̇`).
    let lowered = raw.trim().to_lowercase();
    let trimmed = lowered.as_str();
    let valid = email_address::EmailAddress::parse_with_options(
        trimmed,
        email_address::Options::default().without_display_text(),
    )
    .is_ok()
        && trimmed
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.contains('.'))
        && !trimmed.chars().any(is_hostile);
    if !valid {
        return Err(Error::new(Code::FormParamFormatInvalid)
            .param(param)
            .long("Enter a valid email address."));
    }
    Ok(lowered)
}

/// Clerk's test numbers: +1 XXX 555 0100 to 0199, which development instances never text.
pub fn is_test_phone(e164: &str) -> bool {
    let digits = e164.strip_prefix("+1").unwrap_or("");
    digits.len() == 10 && digits.is_ascii() && &digits[3..6] == "555" && &digits[6..8] == "01"
}

/// Clerk's test emails: any address containing `+clerk_test`.
pub fn is_test_email(email: &str) -> bool {
    email.contains("+clerk_test")
}

pub fn normalise_phone(raw: &str, param: &str) -> Result<String> {
    let invalid = || {
        Error::new(Code::FormParamFormatInvalid).param(param).long(
            "Enter a phone number in international format, starting with + and the country code.",
        )
    };
    let trimmed = raw.trim();
    // The parser stops at what is not part of a number; what follows must not slip through.
    if !trimmed.starts_with('+') || trimmed.chars().any(is_hostile) {
        return Err(invalid());
    }
    let parsed = phonenumber::parse(None, trimmed).map_err(|_| invalid())?;
    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
    // Test numbers are fictional (555-01XX) and so not "valid"; they are still well-formed.
    if !phonenumber::is_valid(&parsed) && !is_test_phone(&e164) {
        return Err(invalid());
    }
    Ok(e164)
}

pub fn normalise_username(raw: &str, param: &str) -> Result<String> {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(Error::new(Code::FormUsernameInvalidLength)
            .param(param)
            .long(format!(
                "Usernames must be between {USERNAME_MIN} and {USERNAME_MAX} characters long."
            )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::new(Code::FormUsernameInvalidCharacter).param(param));
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::new(Code::FormUsernameInvalidCharacter)
            .param(param)
            .long("Usernames must contain at least one letter."));
    }
    Ok(name)
}

/// What a sign-in `identifier` looks like: an email has `@`, a phone starts with `+`.
pub fn classify(identifier: &str) -> IdentifierKind {
    let t = identifier.trim();
    if t.contains('@') {
        IdentifierKind::Email
    } else if t.starts_with('+') {
        IdentifierKind::Phone
    } else {
        IdentifierKind::Username
    }
}

pub fn normalise(kind: IdentifierKind, raw: &str, param: &str) -> Result<String> {
    match kind {
        IdentifierKind::Email => normalise_email(raw, param),
        IdentifierKind::Phone => normalise_phone(raw, param),
        IdentifierKind::Username => normalise_username(raw, param),
    }
}

/// Characters no name or identifier may carry: controls (NUL included), the bidirectional
/// overrides, embeddings, isolates and marks that make text display as something else (Trojan
/// Source, CVE-2021-42574).
fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Longest first or last name accepted.
pub const NAME_MAX_CHARS: usize = 256;

/// A first or last name as given: trimmed, empty meaning none.
pub fn person_name(raw: &str, param: &str) -> Result<Option<String>> {
    let v = raw.trim();
    if v.chars().any(is_hostile) {
        return Err(Error::new(Code::FormParamFormatInvalid)
            .param(param)
            .long("Names may not contain control or text-direction characters."));
    }
    if v.chars().count() > NAME_MAX_CHARS {
        return Err(Error::new(Code::FormParamMaxLengthExceeded).param(param));
    }
    Ok(Some(v.to_owned()).filter(|v| !v.is_empty()))
}

/// An identifier as shown to someone who did not type it (Clerk's `safe_identifier`): an email
/// keeps its first character and its domain (`j***@example.com`), a phone number its country
/// code and last four digits (`+1******0111`).
pub fn mask(kind: IdentificationKind, value: &str) -> String {
    match kind {
        IdentificationKind::EmailAddress => match value.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        },
        IdentificationKind::PhoneNumber => {
            let country = phonenumber::parse(None, value)
                .map(|p| p.code().value().to_string())
                .unwrap_or_default();
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            let national = digits.len().saturating_sub(country.len());
            let shown = national.min(4);
            let tail: String = digits[digits.len() - shown..].iter().collect();
            format!("+{country}{}{tail}", "*".repeat(national - shown))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisers_accept_and_refuse() {
        type Normaliser = fn(&str, &str) -> Result<String>;
        let cases: [(Normaliser, &str, Option<&str>); 11] = [
            (
                normalise_email,
                " Alice@Example.COM ",
                Some("alice@example.com"),
            ),
            (normalise_email, "no-at-sign", None),
            (normalise_email, "a@localhost", None),
            (normalise_phone, "+1 (415) 555-2671", Some("+14155552671")),
            (normalise_phone, "+15555550100", Some("+15555550100")),
            (normalise_phone, "4155552671", None),
            (normalise_phone, "+1555", None),
            (normalise_username, "Jane_Doe", Some("jane_doe")),
            (normalise_username, "ab", None),
            (normalise_username, "jane doe", None),
            (normalise_username, "12345", None),
        ];
        for (normalise, input, expected) in cases {
            assert_eq!(normalise(input, "p").ok().as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn masks_show_only_what_clerk_shows() {
        let email = IdentificationKind::EmailAddress;
        let phone = IdentificationKind::PhoneNumber;
        assert_eq!(mask(email, "jane@example.com"), "j***@example.com");
        assert_eq!(mask(phone, "+12015550111"), "+1******0111");
        assert_eq!(mask(phone, "+447700900123"), "+44******0123");
    }

    #[test]
    fn names_refuse_controls_and_direction_overrides() {
        assert_eq!(person_name("  Ada ", "n").ok(), Some(Some("Ada".into())));
        for hostile in ["A\u{0}da", "Ada\u{202E}moc.exe", "A\u{2066}da", "Ad\na"] {
            assert!(person_name(hostile, "n").is_err(), "{hostile:?}");
        }
    }

    #[test]
    fn clerk_test_identifiers() {
        assert!(is_test_email("jane+clerk_test@example.com"));
        assert!(is_test_phone("+12015550199"));
        assert!(!is_test_phone("+12015550200"));
    }
}
