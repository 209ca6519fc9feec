//! The rules. Flows know no HTTP and no AWS: they take the application (store, clock,
//! randomness, settings, courier) and parameters, and return domain results or the domain error.

pub mod client;
pub mod environment;
