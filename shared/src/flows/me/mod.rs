//! The user's own requests (`/v1/me`): profile, identifications, password, second factors,
//! account deletion — acting for the session named by `_clerk_session_id`, else the client's
//! last active one.
//!
//! ```text
//!   identification: add ──prepare──► code sent ──attempt ok──► verified (guard claimed) ──► may be primary
//!                    └──────────────── delete (guard released; never the last sign-in identifier)
//!   TOTP:        POST /totp ──► pending secret ──attempt ok──► enabled (+ backup codes) ──DELETE──► off
//!   passkey:     POST /passkeys ──► options (nonce) ──attempt ok──► registered (guard claimed) ──DELETE──► gone
//!   password:    change (current required, optionally sign out elsewhere) / remove (another factor must remain)
//! ```
//!
//! - [`acting`] — who the request acts for, and the save / fail transitions every change ends with;
//! - [`profile`] — names, username, primaries, metadata;
//! - [`profile_image`] — the profile image, checked, stripped and stored;
//! - [`identifications`] — email addresses and phone numbers, one code path for both kinds;
//! - [`password`] — change and remove;
//! - [`passkeys`] — register, rename and remove passkeys;
//! - [`second_factors`] — SMS second factor, TOTP, backup codes;
//! - [`account`] — deletion of the account.
//!
//! Every change commits in one transaction guarded by the user's version (ending many sessions
//! after a password change or before a deletion takes batches of its own); a lost race is
//! retried on fresh state by the unit of work, so concurrent edits of different fields all land. Wrong current
//! passwords and wrong codes count toward the lockout.

pub mod account;
pub mod acting;
pub mod identifications;
pub mod passkeys;
pub mod password;
pub mod profile;
pub mod profile_image;
pub mod second_factors;

pub use account::DeleteAccount;
pub use acting::{Acting, acting};
pub use identifications::{
    AddIdentification, AttemptIdentification, DeleteIdentification, PrepareIdentification,
    identification,
};
pub use password::{ChangePassword, RemovePassword};
pub use profile::{MergeMetadata, UpdateProfile, merge_patch};
pub use second_factors::{DeleteTotp, RegenerateBackupCodes, StartTotp, UpdatePhone, VerifyTotp};
