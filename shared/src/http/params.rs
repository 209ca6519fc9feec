//! Request parameters as clerk-js sends them.
//!
//! Bodies are `application/x-www-form-urlencoded` (JSON is accepted too). clerk-js encodes
//! arrays as repeated keys, objects as JSON strings, `null` as an empty value and booleans as
//! `"true"`/`"false"`; JSON bodies are folded into the same shape so every handler reads one
//! representation — remembering each JSON value's type, so that an object, an array, a number
//! or a boolean where text is expected is refused (`form_param_type_invalid`), never read as
//! its JSON text (a password of `{"p":"…"}`).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::{Code, Error, Result};

/// Parameters by name, each with every value it was given (in order), and for JSON bodies the
/// type of each value that was not text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, Vec<String>>, BTreeMap<String, JsonKind>);

/// A JSON value's type, where it was not a string (or null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    Bool,
    Number,
    Object,
    Array,
}

fn type_invalid(name: &str, wanted: &str) -> Error {
    Error::new(Code::FormParamTypeInvalid)
        .param(name)
        .long(format!("{name} must be {wanted}."))
}

/// What a parameter said: absent, explicitly null (empty), or a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<'a> {
    Absent,
    Null,
    Value(&'a str),
}

impl Params {
    pub fn from_query(query: Option<&str>) -> Self {
        Self::from_form(query.unwrap_or("").as_bytes())
    }

    pub fn from_form(body: &[u8]) -> Self {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Self(map, BTreeMap::new())
    }

    pub fn from_json(body: &[u8]) -> Result<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            Error::new(Code::RequestBodyInvalid).long(format!("The JSON body is invalid: {e}"))
        })?;
        let Value::Object(obj) = value else {
            return Err(
                Error::new(Code::RequestBodyInvalid).long("The JSON body must be an object.")
            );
        };
        let mut map = BTreeMap::new();
        let mut kinds = BTreeMap::new();
        for (k, v) in obj {
            let kind = match &v {
                Value::Bool(_) => Some(JsonKind::Bool),
                Value::Number(_) => Some(JsonKind::Number),
                Value::Object(_) => Some(JsonKind::Object),
                Value::Array(_) => Some(JsonKind::Array),
                Value::Null | Value::String(_) => None,
            };
            if let Some(kind) = kind {
                kinds.insert(k.clone(), kind);
            }
            let values = match v {
                Value::Array(items) => items.into_iter().map(scalar).collect(),
                other => vec![scalar(other)],
            };
            map.insert(k, values);
        }
        Ok(Self(map, kinds))
    }

    /// Parses a body by its content type. An empty body is no parameters, whatever the type.
    pub fn from_body(content_type: Option<&str>, body: &Bytes) -> Result<Self> {
        if body.is_empty() {
            return Ok(Self::default());
        }
        let media = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        match media.as_deref() {
            None | Some("application/x-www-form-urlencoded") | Some("text/plain") => {
                if !well_formed_form(body) {
                    return Err(Error::new(Code::RequestBodyInvalid).long(
                        "The form body is malformed: a `%` must start a two-digit hex escape.",
                    ));
                }
                Ok(Self::from_form(body))
            }
            Some("application/json") => Self::from_json(body),
            Some(_) => Err(Error::new(Code::UnsupportedContentType)),
        }
    }

    fn raw(&self, name: &str) -> Field<'_> {
        match self.0.get(name).and_then(|v| v.last()) {
            None => Field::Absent,
            Some(v) if v.is_empty() => Field::Null,
            Some(v) => Field::Value(v),
        }
    }

    /// What a text parameter said; a JSON value that is not text is refused.
    pub fn field(&self, name: &str) -> Result<Field<'_>> {
        match self.1.get(name) {
            None => Ok(self.raw(name)),
            Some(_) => Err(type_invalid(name, "a string")),
        }
    }

    /// A text parameter's value (null is absence); a JSON value that is not text is refused.
    pub fn text(&self, name: &str) -> Result<Option<&str>> {
        match self.field(name)? {
            Field::Value(v) => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    /// The value, treating null like absence — and a JSON value that is not text like absence
    /// too (for the query, which is always text; bodies are read with [`Params::text`]).
    pub fn str(&self, name: &str) -> Option<&str> {
        self.text(name).ok().flatten()
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.text(name)?.ok_or_else(|| Error::missing(name))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Every value given for `name` (repeated keys), skipping empty ones.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.1.get(name) {
            None | Some(JsonKind::Bool) => {}
            Some(_) => return Err(type_invalid(name, "true or false")),
        }
        match self.raw(name).value() {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(_) => Err(Error::new(Code::FormParamValueInvalid)
                .param(name)
                .long(format!("{name} must be true or false."))),
        }
    }

    /// A JSON object sent as a string (clerk-js encodes objects that way).
    pub fn object(&self, name: &str) -> Result<Option<Map<String, Value>>> {
        match self.1.get(name) {
            None | Some(JsonKind::Object) => {}
            Some(_) => return Err(type_invalid(name, "a JSON object")),
        }
        match self.raw(name).value() {
            None => Ok(None),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(Error::new(Code::FormParamFormatInvalid)
                    .param(name)
                    .long(format!("{name} must be a JSON object."))),
            },
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Whether every `%` in a form body starts a valid escape (`%` and two hex digits). The parser
/// itself is lenient, which would turn garbage like `%%%=%%&&==` into an empty form.
fn well_formed_form(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'%' {
            let hex = body.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn scalar(v: Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

impl<'a> Field<'a> {
    fn value(&self) -> Option<&'a str> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_arrays_nulls_and_objects() {
        let p = Params::from_form(
            b"strategy=email_code&ids=a&ids=b&organization_id=&unsafe_metadata=%7B%22a%22%3A1%7D",
        );
        assert_eq!(p.list("ids"), vec!["a", "b"]);
        assert_eq!(p.field("organization_id").ok(), Some(Field::Null));
        assert_eq!(p.field("missing").ok(), Some(Field::Absent));
        assert_eq!(p.str("strategy"), Some("email_code"));
        let obj = p.object("unsafe_metadata").ok().flatten();
        assert_eq!(obj.and_then(|o| o.get("a").cloned()), Some(Value::from(1)));
    }

    #[test]
    fn malformed_forms_are_refused() {
        let bad = Params::from_body(None, &Bytes::from_static(b"%%%=%%&&=="));
        assert_eq!(bad.err().map(|e| e.code), Some(Code::RequestBodyInvalid));
        let good = Params::from_body(None, &Bytes::from_static(b"a=%41%2b&b=c+d"));
        assert_eq!(
            good.ok().and_then(|p| p.str("a").map(str::to_owned)),
            Some("A+".into())
        );
    }

    #[test]
    fn json_is_folded_into_the_same_shape() {
        let p = Params::from_json(br#"{"a":"x","b":null,"c":[1,2],"d":{"k":true},"e":false}"#);
        let p = p.unwrap_or_default();
        assert_eq!(p.str("a"), Some("x"));
        assert_eq!(p.field("b").ok(), Some(Field::Null));
        assert_eq!(p.list("c"), vec!["1", "2"]);
        assert!(p.object("d").ok().flatten().is_some());
        assert_eq!(p.bool("e").ok().flatten(), Some(false));
    }

    #[test]
    fn json_values_of_the_wrong_type_are_refused_not_read_as_text() {
        let p = Params::from_json(br#"{"password":{"p":"x"},"code":123,"first_name":true,"email_address":["a","b"],"unsafe_metadata":{"k":1},"legal_accepted":true}"#)
            .unwrap_or_default();
        for name in ["password", "code", "first_name", "email_address"] {
            let e = p.text(name).err().map(|e| e.code);
            assert_eq!(e, Some(Code::FormParamTypeInvalid), "{name}");
            assert_eq!(p.str(name), None, "{name}");
        }
        assert!(p.object("unsafe_metadata").ok().flatten().is_some());
        assert_eq!(p.bool("legal_accepted").ok().flatten(), Some(true));
        assert!(p.object("password").is_ok());
        assert!(p.bool("code").is_err());
    }
}
