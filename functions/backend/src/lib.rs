//! The Backend API group: what app servers call with their secret key while rendering pages
//! (`@clerk/nextjs`'s `currentUser()`, `auth().getToken({ template })`), and an operator's
//! actions on a user (metadata, ban, lock, second factors, password check), the user list and
//! count (`flows::user_search`), and email addresses and phone numbers by id
//! (`flows::identification_admin`). The JWKS they verify
//! tokens with is the environment group's `/v1/jwks`, which checks a presented secret key too.

use axum::Router;
use axum::extract::Path;
use frontdoor::error::Code;
use frontdoor::flows::backend::{self, UserAction};
use frontdoor::flows::identification_admin::{self, IdentificationUpdate, NewIdentification};
use frontdoor::flows::user_search::{self, UserFilter, UserOrder};
use frontdoor::http::{Fapi, Reply, Route, route_table};
use frontdoor::model::records::IdentificationRecord;
use frontdoor::model::render;
use frontdoor::vocabulary::IdentificationKind::{self, EmailAddress, PhoneNumber};
use frontdoor::{App, Error};
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    frontdoor::routes![
        BackendGetUser => get_user,
        BackendCreateSessionToken => session_token,
        BackendCreateTemplateToken => template_token,
        BackendUpdateUserMetadata => update_metadata,
        BackendBanUser => ban, BackendUnbanUser => unban,
        BackendLockUser => lock, BackendUnlockUser => unlock,
        BackendVerifyPassword => verify_password, BackendDisableMfa => disable_mfa,
        BackendListSessions => list_sessions, BackendGetSession => get_session,
        BackendRevokeSession => revoke_session,
        BackendVerifyClient => verify_client, BackendGetClient => get_client,
        BackendListJwtTemplates => list_jwt_templates, BackendGetJwtTemplate => get_jwt_template,
        BackendDeleteUser => delete_user, BackendCreateUser => create_user,
        BackendUpdateUser => update_user,
        BackendListUsers => list_users, BackendCountUsers => count_users,
        BackendDeleteUserPasskey => delete_user_passkey,
        BackendCreateIdentification(EmailAddress) => create_email_address,
        BackendCreateIdentification(PhoneNumber) => create_phone_number,
        BackendGetIdentification(EmailAddress) => get_email_address,
        BackendGetIdentification(PhoneNumber) => get_phone_number,
        BackendUpdateIdentification(EmailAddress) => update_email_address,
        BackendUpdateIdentification(PhoneNumber) => update_phone_number,
        BackendDeleteIdentification(EmailAddress) => delete_email_address,
        BackendDeleteIdentification(PhoneNumber) => delete_phone_number,
    ]
}

async fn get_user(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let user = backend::user(&fapi.app, &id).await?;
    Ok(user_reply(&fapi, &user))
}

fn user_reply(fapi: &Fapi, user: &frontdoor::model::records::UserRecord) -> Reply {
    let now = fapi.app.now_ms();
    Reply::bare(&render::backend_user(user, &fapi.app.settings, now))
}

/// Runs an operator action on user `id` and answers with the user.
async fn act(fapi: Fapi, id: &str, action: UserAction) -> Result<Reply, Error> {
    let user = backend::act_on_user(&fapi.app, id, &action).await?;
    Ok(user_reply(&fapi, &user))
}

async fn update_metadata(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let patch = |name: &str| -> Result<Option<Value>, Error> {
        Ok(fapi.params.object(name)?.map(Value::Object))
    };
    let action = UserAction::MergeMetadata {
        public: patch("public_metadata")?,
        private: patch("private_metadata")?,
        unsafe_: patch("unsafe_metadata")?,
    };
    act(fapi, &id, action).await
}

async fn ban(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    act(fapi, &id, UserAction::Ban).await
}

async fn unban(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    act(fapi, &id, UserAction::Unban).await
}

async fn lock(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    act(fapi, &id, UserAction::Lock).await
}

async fn unlock(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    act(fapi, &id, UserAction::Unlock).await
}

/// `DELETE /v1/users/{id}/passkeys/{passkey_id}`: Clerk's deleted object.
async fn delete_user_passkey(
    Path((id, passkey_id)): Path<(String, String)>,
    fapi: Fapi,
) -> Result<Reply, Error> {
    let action = UserAction::DeletePasskey(passkey_id.clone());
    backend::act_on_user(&fapi.app, &id, &action).await?;
    Ok(Reply::bare(
        &json!({ "object": "passkey", "id": passkey_id, "deleted": true }),
    ))
}

async fn disable_mfa(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    backend::act_on_user(&fapi.app, &id, &UserAction::DisableMfa).await?;
    Ok(Reply::bare(&json!({ "user_id": id })))
}

async fn verify_password(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let password = fapi
        .params
        .str("password")
        .ok_or_else(|| Error::new(Code::FormParamMissing).param("password"))?;
    backend::verify_password(&fapi.app, &id, password).await?;
    Ok(Reply::bare(&json!({ "verified": true })))
}

async fn session_token(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let jwt = backend::session_token(&fapi.app, &id, None).await?;
    Ok(Reply::bare(&json!({ "object": "token", "jwt": jwt })))
}

async fn template_token(
    Path((id, template)): Path<(String, String)>,
    fapi: Fapi,
) -> Result<Reply, Error> {
    let jwt = backend::session_token(&fapi.app, &id, Some(&template)).await?;
    Ok(Reply::bare(&json!({ "object": "token", "jwt": jwt })))
}

/// How many sessions a page holds by default, and at most (Clerk's Backend API).
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 500;

/// A non-negative whole number query parameter.
fn count_param(fapi: &Fapi, name: &str, default: usize) -> Result<usize, Error> {
    match fapi.query.str(name) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| {
            Error::new(Code::FormParamFormatInvalid)
                .param(name)
                .long(format!("{name} must be a non-negative whole number."))
        }),
    }
}

/// `GET /v1/sessions?user_id|client_id[&status][&limit][&offset]`: `{data, total_count}`, as
/// `@clerk/backend` asks for it (`paginated=true`).
async fn list_sessions(fapi: Fapi) -> Result<Reply, Error> {
    use frontdoor::model::records::SessionStatus;
    let status = match fapi.query.str("status") {
        None => None,
        Some(s) => Some(
            s.parse::<SessionStatus>()
                .map_err(|_| Error::new(Code::FormParamValueInvalid).param("status"))?,
        ),
    };
    let limit = count_param(&fapi, "limit", DEFAULT_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("limit")
            .long(format!("limit must be between 1 and {MAX_LIMIT}.")));
    }
    let query = backend::SessionQuery {
        user_id: fapi.query.str("user_id").map(str::to_owned),
        client_id: fapi.query.str("client_id").map(str::to_owned),
        status,
        limit,
        offset: count_param(&fapi, "offset", 0)?,
    };
    let (page, total) = backend::sessions(&fapi.app, &query).await?;
    let now = fapi.app.now_ms();
    let data: Vec<Value> = page
        .iter()
        .map(|s| render::backend_session(s, now))
        .collect();
    Ok(Reply::bare(&json!({ "data": data, "total_count": total })))
}

async fn get_session(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let s = backend::session(&fapi.app, &id).await?;
    Ok(Reply::bare(&render::backend_session(&s, fapi.app.now_ms())))
}

async fn revoke_session(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let s = backend::revoke_session(&fapi.app, &id).await?;
    Ok(Reply::bare(&render::backend_session(&s, fapi.app.now_ms())))
}

fn client_reply(fapi: &Fapi, c: &frontdoor::repo::ClientAggregate) -> Reply {
    Reply::bare(&render::backend_client(
        &c.client,
        &c.sessions,
        fapi.app.now_ms(),
    ))
}

async fn verify_client(fapi: Fapi) -> Result<Reply, Error> {
    let token = fapi
        .params
        .str("token")
        .ok_or_else(|| Error::new(Code::FormParamMissing).param("token"))?;
    let c = backend::verify_client(&fapi.app, token).await?;
    Ok(client_reply(&fapi, &c))
}

async fn get_client(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let c = backend::client(&fapi.app, &id).await?;
    Ok(client_reply(&fapi, &c))
}

/// The JWT templates in the settings, `{data, total_count}`.
async fn list_jwt_templates(fapi: Fapi) -> Reply {
    let templates = &fapi.app.settings.jwt_templates;
    let data: Vec<Value> = templates
        .iter()
        .map(|(name, t)| render::jwt_template(name, t))
        .collect();
    Reply::bare(&json!({ "data": data, "total_count": templates.len() }))
}

/// A JWT template by its id (`jtmp_<name>`) or its name.
async fn get_jwt_template(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let name = id.strip_prefix("jtmp_").unwrap_or(&id);
    let t = fapi.app.settings.jwt_templates.get(name).ok_or_else(|| {
        Error::new(Code::ResourceNotFound).long(format!("No JWT template `{id}` exists."))
    })?;
    Ok(Reply::bare(&render::jwt_template(name, t)))
}

/// `DELETE /v1/users/{id}`: Clerk's deleted-object answer.
async fn delete_user(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    backend::delete_user(&fapi.app, &id).await?;
    Ok(Reply::bare(
        &json!({ "object": "user", "id": id, "deleted": true }),
    ))
}

/// `POST /v1/users`: a user with verified identifiers, and a password, an imported password
/// hash (`password_digest` + `password_hasher`), or neither (`skip_password_requirement`).
async fn create_user(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let text = |name: &str| p.str(name).map(str::to_owned);
    let list = |name: &str| p.list(name).into_iter().map(str::to_owned).collect();
    let object = |name: &str| -> Result<serde_json::Map<String, Value>, Error> {
        Ok(p.object(name)?.unwrap_or_default())
    };
    let password_digest = match (text("password_digest"), text("password_hasher")) {
        (Some(digest), Some(hasher)) => Some((hasher, digest)),
        (Some(_), None) => return Err(Error::new(Code::FormParamMissing).param("password_hasher")),
        (None, _) => None,
    };
    let new_user = backend::NewUser {
        email_addresses: list("email_address"),
        phone_numbers: list("phone_number"),
        username: text("username"),
        first_name: text("first_name"),
        last_name: text("last_name"),
        password: text("password"),
        password_digest,
        skip_password_checks: p.bool("skip_password_checks")?.unwrap_or(false),
        skip_password_requirement: p.bool("skip_password_requirement")?.unwrap_or(false),
        external_id: text("external_id"),
        public_metadata: object("public_metadata")?,
        private_metadata: object("private_metadata")?,
        unsafe_metadata: object("unsafe_metadata")?,
    };
    let user = backend::create_user(&fapi.app, &new_user).await?;
    Ok(user_reply(&fapi, &user))
}

/// `PATCH /v1/users/{id}`.
async fn update_user(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let text = |name: &str| p.str(name).map(str::to_owned);
    let profile = frontdoor::flows::me::profile::UpdateProfile {
        first_name: text("first_name").map(Some),
        last_name: text("last_name").map(Some),
        username: text("username").map(Some),
        primary_email_address_id: text("primary_email_address_id"),
        primary_phone_number_id: text("primary_phone_number_id"),
        unsafe_metadata: p.object("unsafe_metadata")?,
    };
    let update = backend::UserUpdate {
        profile,
        public_metadata: p.object("public_metadata")?,
        private_metadata: p.object("private_metadata")?,
        external_id: text("external_id"),
        password: text("password"),
        skip_password_checks: p.bool("skip_password_checks")?.unwrap_or(false),
        sign_out_of_other_sessions: p.bool("sign_out_of_other_sessions")?.unwrap_or(false),
    };
    let user = backend::update_user(&fapi.app, &id, &update).await?;
    Ok(user_reply(&fapi, &user))
}

/// The filters of `GET /v1/users` and `GET /v1/users/count` (repeated parameters for lists).
fn user_filter(fapi: &Fapi) -> UserFilter {
    let list = |name: &str| -> Vec<String> {
        fapi.query
            .list(name)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    UserFilter {
        email_addresses: list("email_address"),
        phone_numbers: list("phone_number"),
        usernames: list("username"),
        external_ids: list("external_id"),
        user_ids: list("user_id"),
        query: fapi.query.str("query").map(str::to_owned),
    }
}

/// `GET /v1/users`: a page of users, as a plain array (Clerk's shape; `@clerk/backend` asks
/// for the count separately).
async fn list_users(fapi: Fapi) -> Result<Reply, Error> {
    let limit = count_param(&fapi, "limit", DEFAULT_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("limit")
            .long(format!("limit must be between 1 and {MAX_LIMIT}.")));
    }
    let order = match fapi.query.str("order_by") {
        Some(raw) => UserOrder::parse(raw)?,
        None => UserOrder::default(),
    };
    let offset = count_param(&fapi, "offset", 0)?;
    let users = user_search::list(&fapi.app, &user_filter(&fapi), order, limit, offset).await?;
    let now = fapi.app.now_ms();
    let data: Vec<Value> = users
        .iter()
        .map(|u| render::backend_user(u, &fapi.app.settings, now))
        .collect();
    Ok(Reply::bare(&Value::Array(data)))
}

/// `GET /v1/users/count`.
async fn count_users(fapi: Fapi) -> Result<Reply, Error> {
    let n = user_search::count(&fapi.app, &user_filter(&fapi)).await?;
    Ok(Reply::bare(
        &json!({ "object": "total_count", "total_count": n }),
    ))
}

fn identification_reply(r: &IdentificationRecord) -> Reply {
    match r.kind {
        EmailAddress => Reply::bare(&render::email_address(r)),
        PhoneNumber => Reply::bare(&render::phone_number(r)),
    }
}

async fn create_identification(fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let p = &fapi.params;
    let required = |name: &str| p.required(name).map(str::to_owned);
    let new = NewIdentification {
        kind,
        user_id: required("user_id")?,
        value: required(kind.as_str())?,
        verified: p.bool("verified")?.unwrap_or(false),
        primary: p.bool("primary")?.unwrap_or(false),
        reserved_for_second_factor: p.bool("reserved_for_second_factor")?.unwrap_or(false),
    };
    let r = identification_admin::create(&fapi.app, &new).await?;
    Ok(identification_reply(&r))
}

async fn create_email_address(fapi: Fapi) -> Result<Reply, Error> {
    create_identification(fapi, EmailAddress).await
}

async fn create_phone_number(fapi: Fapi) -> Result<Reply, Error> {
    create_identification(fapi, PhoneNumber).await
}

async fn get_identification(
    fapi: Fapi,
    kind: IdentificationKind,
    id: &str,
) -> Result<Reply, Error> {
    let (_, r) = identification_admin::find(&fapi.app, kind, id).await?;
    Ok(identification_reply(&r))
}

async fn get_email_address(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    get_identification(fapi, EmailAddress, &id).await
}

async fn get_phone_number(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    get_identification(fapi, PhoneNumber, &id).await
}

async fn update_identification(
    fapi: Fapi,
    kind: IdentificationKind,
    id: &str,
) -> Result<Reply, Error> {
    let p = &fapi.params;
    let upd = IdentificationUpdate {
        verified: p.bool("verified")?,
        primary: p.bool("primary")?,
        reserved_for_second_factor: p.bool("reserved_for_second_factor")?,
    };
    let r = identification_admin::update(&fapi.app, kind, id, &upd).await?;
    Ok(identification_reply(&r))
}

async fn update_email_address(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    update_identification(fapi, EmailAddress, &id).await
}

async fn update_phone_number(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    update_identification(fapi, PhoneNumber, &id).await
}

async fn delete_identification(
    fapi: Fapi,
    kind: IdentificationKind,
    id: &str,
) -> Result<Reply, Error> {
    identification_admin::delete(&fapi.app, kind, id).await?;
    Ok(Reply::bare(
        &json!({ "object": kind.as_str(), "id": id, "deleted": true }),
    ))
}

async fn delete_email_address(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    delete_identification(fapi, EmailAddress, &id).await
}

async fn delete_phone_number(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    delete_identification(fapi, PhoneNumber, &id).await
}
