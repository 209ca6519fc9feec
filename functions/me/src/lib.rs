//! The me group: `/v1/me/**` except sessions — profile, metadata, email addresses, phone
//! numbers, password, TOTP, backup codes, passkeys, profile image, account deletion. A route table; each handler parses
//! its typed command and runs it (`frontdoor::flows::me`) as one unit of work for the acting
//! user.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::command::UserCommand;
use frontdoor::flows::me::passkeys::{CreatePasskey, DeletePasskey, RenamePasskey, VerifyPasskey};
use frontdoor::flows::me::profile_image::{RemoveProfileImage, SetProfileImage};
use frontdoor::flows::me::{
    self, Acting, AddIdentification, AttemptIdentification, ChangePassword, DeleteAccount,
    DeleteIdentification, DeleteTotp, MergeMetadata, PrepareIdentification, RegenerateBackupCodes,
    RemovePassword, StartTotp, UpdatePhone, UpdateProfile, VerifyTotp,
};
use frontdoor::flows::social::{Binding, ConnectAccount, Disconnect, Hints, Reauthorize, Return};
use frontdoor::http::{Fapi, Field, Params, Reply, Route, route_table, with_oauth_binding};
use frontdoor::model::records::ExternalAccountRecord;
use frontdoor::model::render;
use frontdoor::vocabulary::{IdentificationKind, parse_strategy};
use frontdoor::{App, Error};
use serde::Serialize;
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    let mut table = frontdoor::routes![
        GetMe => show, UpdateMe => update, DeleteMe => delete_me, UpdateMetadata => metadata,
        UpdatePhoneNumber => update_phone,
        ChangePassword => change_password, RemovePassword => remove_password,
        StartTotp => start_totp, VerifyTotp => verify_totp, DeleteTotp => delete_totp,
        RegenerateBackupCodes => backup_codes,
        ConnectExternalAccount => connect_account, ReauthorizeExternalAccount => reauthorize_account,
        DeleteExternalAccount => disconnect_account,
        UploadProfileImage => upload_profile_image, DeleteProfileImage => remove_profile_image,
        GetImage => serve_image,
        CreatePasskey => create_passkey, AttemptPasskeyVerification => verify_passkey,
        UpdatePasskey => rename_passkey, DeletePasskey => delete_passkey,
    ];
    for kind in IdentificationKind::ALL.iter().copied() {
        table.extend(frontdoor::routes![
            ListIdentifications(kind) => move |fapi| list(fapi, kind),
            AddIdentification(kind) => move |fapi| add(fapi, kind),
            GetIdentification(kind) => move |id, fapi| show_one(id, fapi, kind),
            DeleteIdentification(kind) => move |id, fapi| delete(id, fapi, kind),
            PrepareIdentification(kind) => move |id, fapi| prepare(id, fapi, kind),
            AttemptIdentification(kind) => move |id, fapi| attempt(id, fapi, kind),
        ]);
    }
    table
}

/// `{response, client}` with the (updated) user in hand, so the client is rendered from it.
async fn answer<T: Serialize>(fapi: &Fapi, a: &Acting, response: &T) -> Result<Reply, Error> {
    fapi.envelope(response, &a.current, &[&a.user]).await
}

/// Runs `cmd` for the acting user and answers with the user.
async fn with_user<C: UserCommand>(fapi: Fapi, cmd: C) -> Result<Reply, Error> {
    let (a, _) = fapi.run_as_user(&cmd).await?;
    let user = render::user(&a.user, &fapi.app.settings, fapi.app.now_ms());
    answer(&fapi, &a, &user).await
}

/// Runs `cmd` for the acting user and answers with what it returned.
async fn with_output<C>(fapi: Fapi, cmd: C) -> Result<Reply, Error>
where
    C: UserCommand,
    C::Output: Serialize,
{
    let (a, out) = fapi.run_as_user(&cmd).await?;
    answer(&fapi, &a, &out).await
}

/// Runs `cmd` for the acting user and answers with identification `id` as it now is.
async fn with_identification<C: UserCommand>(
    fapi: Fapi,
    cmd: C,
    kind: IdentificationKind,
    id: &str,
) -> Result<Reply, Error> {
    let (a, _) = fapi.run_as_user(&cmd).await?;
    let rendered = render::identification(me::identification(&a, kind, id)?);
    answer(&fapi, &a, &rendered).await
}

fn deleted(object: &str, id: &str) -> Value {
    json!({ "object": object, "id": id, "deleted": true })
}

/// A value that may be cleared: absent (unchanged), null (cleared) or given.
fn patch(p: &Params, name: &str) -> Result<Option<Option<String>>, Error> {
    Ok(match p.field(name)? {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(v) => Some(Some(v.to_owned())),
    })
}

fn text(p: &Params, name: &str) -> Result<Option<String>, Error> {
    Ok(p.text(name)?.map(str::to_owned))
}

async fn show(fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let user = render::user(&a.user, &fapi.app.settings, fapi.app.now_ms());
    answer(&fapi, &a, &user).await
}

async fn update(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = UpdateProfile {
        first_name: patch(p, "first_name")?,
        last_name: patch(p, "last_name")?,
        username: patch(p, "username")?,
        primary_email_address_id: text(p, "primary_email_address_id")?,
        primary_phone_number_id: text(p, "primary_phone_number_id")?,
        unsafe_metadata: p.object("unsafe_metadata")?,
    };
    with_user(fapi, cmd).await
}

async fn metadata(fapi: Fapi) -> Result<Reply, Error> {
    let patch = fapi.params.object("unsafe_metadata")?;
    let patch = patch.ok_or_else(|| Error::missing("unsafe_metadata"))?;
    with_user(fapi, MergeMetadata { patch }).await
}

async fn delete_me(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = fapi.run_as_user(&DeleteAccount).await?;
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
    let value = fapi.params.required(kind.as_str())?.to_owned();
    let (a, added) = fapi.run_as_user(&AddIdentification { kind, value }).await?;
    answer(&fapi, &a, &render::identification(&added)).await
}

type Id = Path<String>;

async fn show_one(Path(id): Id, fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let rendered = render::identification(me::identification(&a, kind, &id)?);
    answer(&fapi, &a, &rendered).await
}

async fn delete(Path(id): Id, fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let gone = deleted(kind.as_str(), &id);
    let (a, ()) = fapi.run_as_user(&DeleteIdentification { kind, id }).await?;
    answer(&fapi, &a, &gone).await
}

async fn prepare(Path(id): Id, fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let strategy = parse_strategy("strategy", fapi.params.required("strategy")?)?;
    let cmd = PrepareIdentification {
        kind,
        id: id.clone(),
        strategy,
        redirect_url: fapi.params.text("redirect_url")?.map(str::to_owned),
        sent: Default::default(),
    };
    with_identification(fapi, cmd, kind, &id).await
}

async fn attempt(Path(id): Id, fapi: Fapi, kind: IdentificationKind) -> Result<Reply, Error> {
    let code = fapi.params.required("code")?.to_owned();
    let cmd = AttemptIdentification {
        kind,
        id: id.clone(),
        code,
    };
    with_identification(fapi, cmd, kind, &id).await
}

async fn update_phone(Path(id): Id, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = UpdatePhone {
        id: id.clone(),
        reserved_for_second_factor: p.bool("reserved_for_second_factor")?,
        default_second_factor: p.bool("default_second_factor")?,
    };
    with_identification(fapi, cmd, IdentificationKind::PhoneNumber, &id).await
}

async fn change_password(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = ChangePassword {
        new_password: p.required("new_password")?.to_owned(),
        current_password: text(p, "current_password")?,
        sign_out_of_other_sessions: p.bool("sign_out_of_other_sessions")?.unwrap_or(false),
    };
    with_user(fapi, cmd).await
}

async fn remove_password(fapi: Fapi) -> Result<Reply, Error> {
    let current_password = text(&fapi.params, "current_password")?;
    with_user(fapi, RemovePassword { current_password }).await
}

async fn start_totp(fapi: Fapi) -> Result<Reply, Error> {
    with_output(fapi, StartTotp).await
}

async fn verify_totp(fapi: Fapi) -> Result<Reply, Error> {
    let code = fapi.params.required("code")?.to_owned();
    with_output(fapi, VerifyTotp { code }).await
}

async fn delete_totp(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = fapi.run_as_user(&DeleteTotp).await?;
    answer(&fapi, &a, &deleted("totp", "totp")).await
}

async fn backup_codes(fapi: Fapi) -> Result<Reply, Error> {
    with_output(fapi, RegenerateBackupCodes).await
}

/// Where a connection returns to, and the scopes it adds.
fn social_return(p: &Params) -> Result<(Return, Hints), Error> {
    let text = |name: &str| p.text(name).map(|v| v.map(str::to_owned));
    let back = Return {
        redirect_url: text("redirect_url")?,
        action_complete_redirect_url: text("action_complete_redirect_url")?,
    };
    let hints = Hints {
        login_hint: text("oidc_login_hint")?,
        prompt: text("oidc_prompt")?,
        additional_scopes: p
            .list("additional_scope")
            .iter()
            .flat_map(|s| s.split([' ', ',']))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    Ok((back, hints))
}

async fn connect_account(fapi: Fapi) -> Result<axum::response::Response, Error> {
    let strategy = fapi.params.required("strategy")?.to_owned();
    let (back, hints) = social_return(&fapi.params)?;
    let cmd = ConnectAccount {
        strategy,
        back,
        hints,
        binding: Default::default(),
    };
    sent_to_provider(fapi, cmd, |c| &c.binding).await
}

/// Runs a command that sends the browser to a provider for the acting user: `{response:
/// external_account, client}`, with the cookie that binds the flow to this browser.
async fn sent_to_provider<C>(
    fapi: Fapi,
    cmd: C,
    binding: fn(&C) -> &Binding,
) -> Result<axum::response::Response, Error>
where
    C: UserCommand<Output = ExternalAccountRecord>,
{
    let (a, account) = fapi.run_as_user(&cmd).await?;
    let reply = answer(&fapi, &a, &render::external_account(&a.user, &account)).await?;
    Ok(with_oauth_binding(
        &fapi.app.settings,
        reply,
        binding(&cmd).take(),
    ))
}

async fn reauthorize_account(Path(id): Id, fapi: Fapi) -> Result<axum::response::Response, Error> {
    let (back, hints) = social_return(&fapi.params)?;
    let cmd = Reauthorize {
        id,
        back,
        hints,
        binding: Default::default(),
    };
    sent_to_provider(fapi, cmd, |c| &c.binding).await
}

async fn disconnect_account(Path(id): Id, fapi: Fapi) -> Result<Reply, Error> {
    let gone = deleted("external_account", &id);
    let (a, ()) = fapi.run_as_user(&Disconnect { id }).await?;
    answer(&fapi, &a, &gone).await
}

/// `POST /v1/me/passkeys`: `{response: passkey, client}`, its creation options in
/// `verification.nonce`.
async fn create_passkey(fapi: Fapi) -> Result<Reply, Error> {
    let user_agent = fapi.caller.user_agent.clone();
    let (a, passkey) = fapi.run_as_user(&CreatePasskey { user_agent }).await?;
    answer(&fapi, &a, &render::passkey(&passkey)).await
}

async fn verify_passkey(Path(id): Id, fapi: Fapi) -> Result<Reply, Error> {
    let public_key_credential = fapi.params.required("public_key_credential")?.to_owned();
    let cmd = VerifyPasskey {
        id,
        public_key_credential,
    };
    let (a, passkey) = fapi.run_as_user(&cmd).await?;
    answer(&fapi, &a, &render::passkey(&passkey)).await
}

async fn rename_passkey(Path(id): Id, fapi: Fapi) -> Result<Reply, Error> {
    let name = fapi.params.required("name")?.to_owned();
    let (a, passkey) = fapi.run_as_user(&RenamePasskey { id, name }).await?;
    answer(&fapi, &a, &render::passkey(&passkey)).await
}

async fn delete_passkey(Path(id): Id, fapi: Fapi) -> Result<Reply, Error> {
    let gone = deleted("passkey", &id);
    let (a, ()) = fapi.run_as_user(&DeletePasskey { id }).await?;
    answer(&fapi, &a, &gone).await
}

/// `POST /v1/me/profile_image` (multipart `file`): `{response: image, client}`.
async fn upload_profile_image(fapi: Fapi) -> Result<Reply, Error> {
    let raw = fapi.upload.clone().ok_or_else(|| Error::missing("file"))?;
    let (bytes, declared_type) = multipart_file(&raw.content_type, raw.body)
        .await?
        .ok_or_else(|| Error::missing("file"))?;
    let cmd = SetProfileImage {
        bytes,
        declared_type,
    };
    let (a, image) = fapi.run_as_user(&cmd).await?;
    let name = image.key.rsplit('/').next().unwrap_or_default().to_owned();
    let response = json!({
        "object": "image",
        "id": name.split('.').next().unwrap_or_default(),
        "name": name,
        "public_url": render::image_url(&a.user, &fapi.app.settings),
    });
    answer(&fapi, &a, &response).await
}

async fn remove_profile_image(fapi: Fapi) -> Result<Reply, Error> {
    let (a, old) = fapi.run_as_user(&RemoveProfileImage).await?;
    let id = old.key.rsplit('/').next().unwrap_or_default().to_owned();
    answer(&fapi, &a, &deleted("image", &id)).await
}

/// `GET /v1/images/{owner}/{file}`: a profile image, cached for a year (its URL changes with
/// its content), never sniffed into anything else by the browser.
async fn serve_image(
    Path((owner, file)): Path<(String, String)>,
    fapi: Fapi,
) -> Result<axum::response::Response, Error> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse as _;
    let stored =
        frontdoor::flows::me::profile_image::image(&fapi.app, &format!("{owner}/{file}")).await?;
    let mut response = stored.bytes.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&stored.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let cache = format!(
        "public, max-age={}, immutable",
        frontdoor::security::PROFILE_IMAGE_CACHE_SECS
    );
    if let Ok(v) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// The `file` part of a `multipart/form-data` body: its bytes and the type it declares.
async fn multipart_file(
    content_type: &str,
    body: bytes::Bytes,
) -> Result<Option<(bytes::Bytes, Option<String>)>, Error> {
    let invalid =
        || Error::new(frontdoor::Code::RequestBodyInvalid).long("The multipart body is malformed.");
    let boundary = multer::parse_boundary(content_type).map_err(|_| invalid())?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    while let Some(field) = parts.next_field().await.map_err(|_| invalid())? {
        if field.name() == Some("file") {
            let declared = field.content_type().map(|m| m.essence_str().to_owned());
            let bytes = field.bytes().await.map_err(|_| invalid())?;
            return Ok(Some((bytes, declared)));
        }
    }
    Ok(None)
}
