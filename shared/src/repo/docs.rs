//! Records ↔ item documents (JSON), the one encoding both engines store.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::store::Item;

pub fn to_doc<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::internal(format!("encode: {e}")))
}

/// Reads the record straight from the item's document: no copy of the document first (a user
/// at the session cap has a hundred sessions read on each sign-in).
pub fn from_doc<T: DeserializeOwned>(item: &Item) -> Result<T> {
    T::deserialize(&item.doc)
        .map_err(|e| Error::internal(format!("decode {}/{}: {e}", item.pk, item.sk)))
}
