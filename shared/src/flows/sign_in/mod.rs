//! Sign-in: identifying the account, proving the first factor, then the second when the user
//! has one, or resetting a forgotten password.
//!
//! ```text
//!   create ──(no identifier)──► needs_identifier
//!     │ identifier
//!     ▼
//!   (strategy: passkey, no identifier) needs_identifier ──passkey ok──► complete
//!   needs_first_factor ──password / code / passkey ok──┬──(user has 2FA)──► needs_second_factor ──ok──► complete
//!     │  (prepare: email_code, phone_code,    └──(no 2FA)────────────────────────────────────► complete
//!     │   reset_password_*_code)
//!     └─ reset code ok ──► needs_new_password ──reset_password──► (2FA? needs_second_factor : complete)
//! ```
//!
//! - [`state`] — the attempt as stored, what the user may use (the factor lists), and the
//!   transitions every step shares (store, fail, complete);
//! - [`first_factor`] — create, prepare and attempt the first factor;
//! - [`passkey`] — the passkey first factor (discoverable, autofill, or after an identifier);
//! - [`second_factor`] — prepare and attempt the second factor;
//! - [`reset`] — set a new password after a reset code.
//!
//! Every wrong password or code counts toward the user's lockout (10 → locked 1 h). An unknown
//! identifier with a password costs a full hash, like a wrong password, before it is refused.
//! Strategies and identifiers the instance has switched off are refused (the capability policy).

pub mod first_factor;
pub mod passkey;
pub mod reset;
pub mod second_factor;
pub mod state;

pub use first_factor::{AttemptFirstFactor, CreateSignIn, FirstFactorProof, PrepareFirstFactor};
pub use reset::ResetPassword;
pub use second_factor::{AttemptSecondFactor, PrepareSecondFactor};
pub use state::{FactorTarget, SignedIn, first_factors, get, second_factors};
