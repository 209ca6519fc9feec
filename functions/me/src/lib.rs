//! The me group: `/v1/me/**` except sessions — profile, metadata, email addresses, phone
//! numbers, password, TOTP, backup codes, account deletion. A route table; each handler parses
//! its typed command and runs the flow (`frontdoor::flows::me`) as one unit of work for the
//! acting user.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::me::{
    self, Acting, AddIdentification, AttemptIdentification, ChangePassword, PrepareIdentification,
    RemovePassword, UpdatePhone, UpdateProfile, VerifyTotp,
};
use frontdoor::http::{Fapi, Field, Operation, Params, Reply, Route, route_table};
use frontdoor::model::render;
use frontdoor::vocabulary::{IdentificationKind, parse_strategy};
use frontdoor::{App, Error};
use serde::Serialize;
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
pub fn table() -> Vec<Route> {
    let mut table = vec![
        Operation::GetMe.to(show),
        Operation::UpdateMe.to(update),
        Operation::DeleteMe.to(delete_me),
        Operation::UpdateMetadata.to(metadata),
        Operation::UpdatePhoneNumber.to(update_phone),
        Operation::ChangePassword.to(change_password),
        Operation::RemovePassword.to(remove_password),
        Operation::StartTotp.to(start_totp),
        Operation::VerifyTotp.to(verify_totp),
        Operation::DeleteTotp.to(delete_totp),
        Operation::RegenerateBackupCodes.to(backup_codes),
    ];
    for kind in IdentificationKind::ALL.iter().copied() {
        table.extend([
            Operation::ListIdentifications(kind).to(move |fapi| list(fapi, kind)),
            Operation::AddIdentification(kind).to(move |fapi| add(fapi, kind)),
            Operation::GetIdentification(kind).to(move |id, fapi| show_one(id, fapi, kind)),
            Operation::DeleteIdentification(kind).to(move |id, fapi| delete(id, fapi, kind)),
            Operation::PrepareIdentification(kind).to(move |id, fapi| prepare(id, fapi, kind)),
            Operation::AttemptIdentification(kind).to(move |id, fapi| attempt(id, fapi, kind)),
        ]);
    }
    table
}

/// `{response, client}` with the (updated) user in hand, so the client is rendered from it.
async fn answer<T: Serialize>(fapi: &Fapi, a: &Acting, response: &T) -> Result<Reply, Error> {
    fapi.envelope(response, &a.current, &[&a.user]).await
}

async fn answer_user(fapi: &Fapi, a: &Acting) -> Result<Reply, Error> {
    let user = render::user(&a.user, &fapi.app.settings, fapi.app.now_ms());
    answer(fapi, a, &user).await
}

fn deleted(object: &str, id: &str) -> Value {
    json!({ "object": object, "id": id, "deleted": true })
}

/// A value that may be cleared: absent (unchanged), null (cleared) or given.
fn patch(p: &Params, name: &str) -> Option<Option<String>> {
    match p.field(name) {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(v) => Some(Some(v.to_owned())),
    }
}

fn text(p: &Params, name: &str) -> Option<String> {
    p.str(name).map(str::to_owned)
}

async fn show(fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    answer_user(&fapi, &a).await
}

async fn update(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = &UpdateProfile {
        first_name: patch(p, "first_name"),
        last_name: patch(p, "last_name"),
        username: patch(p, "username"),
        primary_email_address_id: text(p, "primary_email_address_id"),
        primary_phone_number_id: text(p, "primary_phone_number_id"),
        unsafe_metadata: p.object("unsafe_metadata")?,
    };
    let app = &fapi.app;
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::update_profile(app, &mut a, cmd).await?;
            Ok((a, ()))
        })
        .await?;
    answer_user(&fapi, &a).await
}

async fn metadata(fapi: Fapi) -> Result<Reply, Error> {
    let patch = &fapi
        .params
        .object("unsafe_metadata")?
        .ok_or_else(|| Error::missing("unsafe_metadata"))?;
    let app = &fapi.app;
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::merge_metadata(app, &mut a, patch).await?;
            Ok((a, ()))
        })
        .await?;
    answer_user(&fapi, &a).await
}

async fn delete_me(fapi: Fapi) -> Result<Reply, Error> {
    let app = &fapi.app;
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::delete_user(app, &mut a).await?;
            Ok((a, ()))
        })
        .await?;
    fapi.envelope(&deleted("user", &a.user.id), &a.current, &[])
        .await
}

async fn list(fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let list: Vec<_> = a
        .user
        .identifications(kind)
        .iter()
        .map(render::identification)
        .collect();
    Ok(Reply::bare(&list))
}

async fn add(fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let cmd = &AddIdentification {
        kind,
        value: fapi.params.required(kind.as_str())?.to_owned(),
    };
    let app = &fapi.app;
    let (a, added) = fapi
        .as_user(|mut a| async move {
            let added = me::add_identification(app, &mut a, cmd).await?;
            Ok((a, added))
        })
        .await?;
    answer(&fapi, &a, &render::identification(&added)).await
}

async fn show_one(
    Path(id): Path<String>,
    fapi: Fapi,
    kind: IdentificationKind,
) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let rendered = render::identification(me::identification(&a, kind, &id)?);
    answer(&fapi, &a, &rendered).await
}

async fn delete(
    Path(id): Path<String>,
    fapi: Fapi,
    kind: IdentificationKind,
) -> Result<Reply, Error> {
    let (app, id) = (&fapi.app, &id);
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::delete_identification(app, &mut a, kind, id).await?;
            Ok((a, ()))
        })
        .await?;
    answer(&fapi, &a, &deleted(kind.as_str(), id)).await
}

async fn prepare(
    Path(id): Path<String>,
    fapi: Fapi,
    kind: IdentificationKind,
) -> Result<Reply, Error> {
    let cmd = &PrepareIdentification {
        strategy: parse_strategy("strategy", fapi.params.required("strategy")?)?,
    };
    let (app, id) = (&fapi.app, &id);
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::prepare_identification(app, &mut a, kind, id, cmd).await?;
            Ok((a, ()))
        })
        .await?;
    let rendered = render::identification(me::identification(&a, kind, id)?);
    answer(&fapi, &a, &rendered).await
}

async fn attempt(
    Path(id): Path<String>,
    fapi: Fapi,
    kind: IdentificationKind,
) -> Result<Reply, Error> {
    let cmd = &AttemptIdentification {
        code: fapi.params.required("code")?.to_owned(),
    };
    let (app, id) = (&fapi.app, &id);
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::attempt_identification(app, &mut a, kind, id, cmd).await?;
            Ok((a, ()))
        })
        .await?;
    let rendered = render::identification(me::identification(&a, kind, id)?);
    answer(&fapi, &a, &rendered).await
}

async fn update_phone(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = &UpdatePhone {
        reserved_for_second_factor: p.bool("reserved_for_second_factor")?,
        default_second_factor: p.bool("default_second_factor")?,
    };
    let (app, id) = (&fapi.app, &id);
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::update_phone(app, &mut a, id, cmd).await?;
            Ok((a, ()))
        })
        .await?;
    let phone = me::identification(&a, IdentificationKind::PhoneNumber, id)?;
    answer(&fapi, &a, &render::phone_number(phone)).await
}

async fn change_password(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = &ChangePassword {
        new_password: p.required("new_password")?.to_owned(),
        current_password: text(p, "current_password"),
        sign_out_of_other_sessions: p.bool("sign_out_of_other_sessions")?.unwrap_or(false),
    };
    let app = &fapi.app;
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::change_password(app, &mut a, cmd).await?;
            Ok((a, ()))
        })
        .await?;
    answer_user(&fapi, &a).await
}

async fn remove_password(fapi: Fapi) -> Result<Reply, Error> {
    let cmd = &RemovePassword {
        current_password: text(&fapi.params, "current_password"),
    };
    let app = &fapi.app;
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::remove_password(app, &mut a, cmd).await?;
            Ok((a, ()))
        })
        .await?;
    answer_user(&fapi, &a).await
}

async fn start_totp(fapi: Fapi) -> Result<Reply, Error> {
    let app = &fapi.app;
    let (a, totp) = fapi
        .as_user(|mut a| async move {
            let totp = me::start_totp(app, &mut a).await?;
            Ok((a, totp))
        })
        .await?;
    answer(&fapi, &a, &totp).await
}

async fn verify_totp(fapi: Fapi) -> Result<Reply, Error> {
    let cmd = &VerifyTotp {
        code: fapi.params.required("code")?.to_owned(),
    };
    let app = &fapi.app;
    let (a, totp) = fapi
        .as_user(|mut a| async move {
            let totp = me::verify_totp(app, &mut a, cmd).await?;
            Ok((a, totp))
        })
        .await?;
    answer(&fapi, &a, &totp).await
}

async fn delete_totp(fapi: Fapi) -> Result<Reply, Error> {
    let app = &fapi.app;
    let (a, ()) = fapi
        .as_user(|mut a| async move {
            me::delete_totp(app, &mut a).await?;
            Ok((a, ()))
        })
        .await?;
    answer(&fapi, &a, &deleted("totp", "totp")).await
}

async fn backup_codes(fapi: Fapi) -> Result<Reply, Error> {
    let app = &fapi.app;
    let (a, codes) = fapi
        .as_user(|mut a| async move {
            let codes = me::regenerate_backup_codes(app, &mut a).await?;
            Ok((a, codes))
        })
        .await?;
    answer(&fapi, &a, &codes).await
}
