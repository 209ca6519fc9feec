//! The objects of the domain and of the wire.
//!
//! - [`records`]: the state as stored (with hashes and versions);
//! - [`wire`]: the FAPI objects as serialised (spec field names, `*_at` in milliseconds);
//! - [`render`]: records → wire, the only place that chooses what a caller sees;
//! - [`environment`]: the Environment object, rendered from the instance settings.

pub mod environment;
pub mod records;
pub mod render;
pub mod wire;
