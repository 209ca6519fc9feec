//! The profile: names, username, which identifications are primary, and `unsafe_metadata`.

use serde_json::{Map, Value};

use crate::app::App;
use crate::capabilities::Field;
use crate::error::{Code, Error, Result};
use crate::identifiers;
use crate::metadata;
use crate::model::records::UserRecord;
use crate::repo::Repo;
use crate::store::Write;
use crate::vocabulary::{IdentificationKind, IdentifierKind};

use super::acting::{Acting, save, save_user};
use crate::flows::command::UserCommand;

/// `PATCH /v1/me`. For names and the username, `Some(None)` clears the value.
#[derive(Debug, Clone, Default)]
pub struct UpdateProfile {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    pub unsafe_metadata: Option<Map<String, Value>>,
}

/// `PATCH /v1/me/metadata`: a JSON merge patch for `unsafe_metadata`.
#[derive(Debug, Clone)]
pub struct MergeMetadata {
    pub patch: Map<String, Value>,
}

/// Fields an instance has switched off are refused, not silently dropped.
pub(super) fn ensure_enabled(app: &App, field: Field, param: &str) -> Result<()> {
    if app.capabilities.enabled(field) {
        return Ok(());
    }
    Err(Error::new(Code::FormParamUnknown)
        .param(param)
        .long(format!("{param} is not enabled for this application.")))
}

/// Applies the first and last names given (`Some(None)` clears one) to `targets`.
pub(crate) fn apply_names(
    app: &App,
    given: [&Option<Option<String>>; 2],
    targets: [&mut Option<String>; 2],
) -> Result<()> {
    let fields = [Field::FirstName, Field::LastName];
    for ((field, given), target) in fields.into_iter().zip(given).zip(targets) {
        let Some(given) = given else { continue };
        let value = match given {
            Some(raw) => identifiers::person_name(raw, field.as_str())?,
            None => None,
        };
        ensure_enabled(app, field, field.as_str())?;
        *target = value;
    }
    Ok(())
}

/// `PATCH /v1/me`.
impl UserCommand for UpdateProfile {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let cmd = self;
        if cmd.primary_email_address_id.is_some() || cmd.primary_phone_number_id.is_some() {
            // Changing which address or number is primary is sensitive; names are not.
            crate::flows::reverification::ensure_fresh(app, a)?;
        }
        let guards = apply_profile(app, &mut a.user, cmd)?;
        save(app, a, guards, "username", Vec::new()).await
    }
}

/// Applies a profile update to `user` (whoever asks: the user, or an app server) and returns
/// the identifier guard writes it needs, claims first, to commit with the user.
pub fn apply_profile(app: &App, user: &mut UserRecord, cmd: &UpdateProfile) -> Result<Vec<Write>> {
    let mut guards = Vec::new();
    let names = [&cmd.first_name, &cmd.last_name];
    apply_names(app, names, [&mut user.first_name, &mut user.last_name])?;
    match &cmd.username {
        None => {}
        Some(None) => {
            ensure_enabled(app, Field::Username, "username")?;
            if app.capabilities.required(Field::Username) {
                return Err(Error::missing("username"));
            }
            if let Some(old) = user.username.take() {
                guards.push(Repo::release_identifier_write(
                    IdentifierKind::Username,
                    &old,
                ));
            }
        }
        Some(Some(raw)) => {
            ensure_enabled(app, Field::Username, "username")?;
            let new = identifiers::normalise_username(raw, "username")?;
            if user.username.as_deref() != Some(new.as_str()) {
                guards.push(Repo::claim_identifier_write(
                    IdentifierKind::Username,
                    &new,
                    &user.id,
                )?);
                if let Some(old) = user.username.replace(new) {
                    guards.push(Repo::release_identifier_write(
                        IdentifierKind::Username,
                        &old,
                    ));
                }
            }
        }
    }
    for (kind, wanted) in [
        (
            IdentificationKind::EmailAddress,
            &cmd.primary_email_address_id,
        ),
        (
            IdentificationKind::PhoneNumber,
            &cmd.primary_phone_number_id,
        ),
    ] {
        let Some(id) = wanted else { continue };
        let param = match kind {
            IdentificationKind::EmailAddress => "primary_email_address_id",
            IdentificationKind::PhoneNumber => "primary_phone_number_id",
        };
        let r = user
            .identification(kind, id)
            .ok_or_else(|| Error::not_found().param(param))?;
        if !r.is_verified() {
            let what = kind.as_str().replace('_', " ");
            return Err(Error::new(Code::FormParamValueInvalid)
                .param(param)
                .long(format!("Only a verified {what} can become primary.")));
        }
        *user.primary_id_mut(kind) = Some(id.clone());
    }
    if let Some(metadata) = &cmd.unsafe_metadata {
        check_metadata_size(metadata)?;
        user.unsafe_metadata = metadata.clone();
    }
    Ok(guards)
}

fn check_metadata_size(m: &Map<String, Value>) -> Result<()> {
    metadata::check(m, "unsafe_metadata")
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// `PATCH /v1/me/metadata`: merges `unsafe_metadata` into the user's.
impl UserCommand for MergeMetadata {
    type Output = ();

    async fn run(&self, app: &App, a: &mut Acting) -> Result<Self::Output> {
        let patch = &self.patch;
        let mut merged = Value::Object(std::mem::take(&mut a.user.unsafe_metadata));
        merge_patch(&mut merged, &Value::Object(patch.clone()));
        a.user.unsafe_metadata = match merged {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        check_metadata_size(&a.user.unsafe_metadata)?;
        save_user(app, a).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut target, &json!({"a": null, "b": {"c": 4}, "e": [1]}));
        assert_eq!(target, json!({"b": {"c": 4, "d": 3}, "e": [1]}));
    }
}
