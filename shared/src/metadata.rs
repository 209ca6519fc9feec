//! Limits on the metadata a user may write (`unsafe_metadata`), on every path that accepts it:
//! sign-up create and update, `PATCH /v1/me`, `PATCH /v1/me/metadata` (checked after the merge).
//!
//! The limits keep every stored user document readable by both engines: a JSON parser refuses
//! documents nested past 128 levels and DynamoDB maps past 32, so a deeper document would be
//! accepted once and then fail every read of that user.

use serde_json::{Map, Value};

use crate::error::{Code, Error, Result};
use crate::security;

/// Refuses metadata nested deeper than [`security::METADATA_MAX_DEPTH`] or larger than
/// [`security::METADATA_MAX_BYTES`] serialised.
pub fn check(m: &Map<String, Value>, param: &str) -> Result<()> {
    if depth_of_map(m) > security::METADATA_MAX_DEPTH {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param(param)
            .long(format!(
                "{param} may be nested at most {} levels deep.",
                security::METADATA_MAX_DEPTH
            )));
    }
    if Value::Object(m.clone()).to_string().len() > security::METADATA_MAX_BYTES {
        return Err(Error::new(Code::FormParamValueTooLarge).param(param));
    }
    Ok(())
}

/// Levels of nesting: `{}` is 1, `{"a": {}}` is 2. Iterative, so no input can exhaust the stack.
fn depth_of_map(m: &Map<String, Value>) -> usize {
    let mut deepest = 1;
    let mut pending: Vec<(&Value, usize)> = m.values().map(|v| (v, 2)).collect();
    while let Some((v, level)) = pending.pop() {
        match v {
            Value::Object(o) => {
                deepest = deepest.max(level);
                pending.extend(o.values().map(|c| (c, level + 1)));
            }
            Value::Array(a) => {
                deepest = deepest.max(level);
                pending.extend(a.iter().map(|c| (c, level + 1)));
            }
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Map<String, Value> {
        let mut v = json!(1);
        for _ in 1..levels {
            v = json!({ "a": v });
        }
        match json!({ "a": v }) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        assert!(check(&nested(security::METADATA_MAX_DEPTH - 1), "m").is_ok());
        let deep = check(&nested(127), "m").err().map(|e| e.code);
        assert_eq!(deep, Some(Code::FormParamValueInvalid));
        let mut big = Map::new();
        big.insert("k".into(), json!("x".repeat(security::METADATA_MAX_BYTES)));
        let large = check(&big, "m").err().map(|e| e.code);
        assert_eq!(large, Some(Code::FormParamValueTooLarge));
    }
}
