//! The me group: `/v1/me/**` except sessions — profile, metadata, email addresses, phone
//! numbers, password, TOTP, backup codes, account deletion. Parse → flow → render; the rules
//! live in `frontdoor::flows::me`.

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use frontdoor::flows::client::with_retry;
use frontdoor::flows::me::{self, Acting, Identification};
use frontdoor::http::{Fapi, Reply};
use frontdoor::model::render;
use frontdoor::{App, Error};
use serde::Serialize;
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v1/me", get(show).patch(update).delete(delete_me))
        .route("/v1/me/metadata", axum::routing::patch(metadata))
        .route("/v1/me/email_addresses", get(list_emails).post(add_email))
        .route(
            "/v1/me/email_addresses/{id}",
            get(show_email).delete(delete_email),
        )
        .route(
            "/v1/me/email_addresses/{id}/prepare_verification",
            post(prepare_email),
        )
        .route(
            "/v1/me/email_addresses/{id}/attempt_verification",
            post(attempt_email),
        )
        .route("/v1/me/phone_numbers", get(list_phones).post(add_phone))
        .route(
            "/v1/me/phone_numbers/{id}",
            get(show_phone).patch(update_phone).delete(delete_phone),
        )
        .route(
            "/v1/me/phone_numbers/{id}/prepare_verification",
            post(prepare_phone),
        )
        .route(
            "/v1/me/phone_numbers/{id}/attempt_verification",
            post(attempt_phone),
        )
        .route("/v1/me/change_password", post(change_password))
        .route("/v1/me/remove_password", post(remove_password))
        .route("/v1/me/totp", post(start_totp).delete(delete_totp))
        .route("/v1/me/totp/attempt_verification", post(verify_totp))
        .route("/v1/me/backup_codes", post(backup_codes))
}

/// `{response, client}` with the (updated) user in hand, so the client is rendered from it.
async fn answer<T: Serialize>(fapi: &Fapi, a: &Acting, response: &T) -> Result<Reply, Error> {
    fapi.envelope(response, &a.current, &[&a.user]).await
}

fn user_json(fapi: &Fapi, a: &Acting) -> frontdoor::model::wire::User {
    render::user(&a.user, &fapi.app.settings, fapi.app.now_ms())
}

fn deleted(object: &str, id: &str) -> Value {
    json!({ "object": object, "id": id, "deleted": true })
}

/// Runs a change to the acting user, retried on lost races, and answers with `respond`.
macro_rules! change {
    ($fapi:ident, |$a:ident| $flow:expr) => {
        with_retry(|| async {
            let mut $a = $fapi.acting().await?;
            #[allow(clippy::redundant_closure_call)]
            let out = $flow;
            let out = out.await?;
            Ok(($a, out))
        })
        .await
    };
}

async fn show(fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let user = user_json(&fapi, &a);
    answer(&fapi, &a, &user).await
}

async fn update(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::update_profile(
        &fapi.app,
        &mut a,
        &fapi.params
    ))?;
    answer(&fapi, &a, &user_json(&fapi, &a)).await
}

async fn metadata(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::merge_metadata(
        &fapi.app,
        &mut a,
        &fapi.params
    ))?;
    answer(&fapi, &a, &user_json(&fapi, &a)).await
}

async fn delete_me(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::delete_user(&fapi.app, &mut a))?;
    fapi.envelope(&deleted("user", &a.user.id), &a.current, &[])
        .await
}

async fn list_emails(fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let list: Vec<_> = a
        .user
        .email_addresses
        .iter()
        .map(render::email_address)
        .collect();
    Ok(Reply::bare(&list))
}

async fn add_email(fapi: Fapi) -> Result<Reply, Error> {
    let (a, e) = change!(fapi, |a| me::add_email(&fapi.app, &mut a, &fapi.params))?;
    answer(&fapi, &a, &render::email_address(&e)).await
}

async fn show_email(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let e = render::email_address(me::email(&a, &id)?);
    answer(&fapi, &a, &e).await
}

/// The identification `id` of either kind, rendered.
fn identification(a: &Acting, kind: Identification, id: &str) -> Result<Value, Error> {
    let rendered = match kind {
        Identification::Email => serde_json::to_value(render::email_address(me::email(a, id)?)),
        Identification::Phone => serde_json::to_value(render::phone_number(me::phone(a, id)?)),
    };
    rendered.map_err(|e| Error::internal(e.to_string()))
}

fn object_name(kind: Identification) -> &'static str {
    match kind {
        Identification::Email => "email_address",
        Identification::Phone => "phone_number",
    }
}

async fn delete_identification(
    fapi: Fapi,
    kind: Identification,
    id: String,
) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::delete_identification(
        &fapi.app, &mut a, kind, &id
    ))?;
    answer(&fapi, &a, &deleted(object_name(kind), &id)).await
}

async fn prepare_identification(
    fapi: Fapi,
    kind: Identification,
    id: String,
) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::prepare_identification(
        &fapi.app,
        &mut a,
        kind,
        &id,
        &fapi.params
    ))?;
    answer(&fapi, &a, &identification(&a, kind, &id)?).await
}

async fn attempt_identification(
    fapi: Fapi,
    kind: Identification,
    id: String,
) -> Result<Reply, Error> {
    frontdoor::flows::rate_limit::hit(
        &fapi.app,
        frontdoor::flows::rate_limit::Bucket::Attempt,
        fapi.caller.ip.as_deref(),
    )
    .await?;
    let (a, ()) = change!(fapi, |a| me::attempt_identification(
        &fapi.app,
        &mut a,
        kind,
        &id,
        &fapi.params
    ))?;
    answer(&fapi, &a, &identification(&a, kind, &id)?).await
}

async fn delete_email(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    delete_identification(fapi, Identification::Email, id).await
}

async fn prepare_email(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    prepare_identification(fapi, Identification::Email, id).await
}

async fn attempt_email(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    attempt_identification(fapi, Identification::Email, id).await
}

async fn list_phones(fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let list: Vec<_> = a
        .user
        .phone_numbers
        .iter()
        .map(render::phone_number)
        .collect();
    Ok(Reply::bare(&list))
}

async fn add_phone(fapi: Fapi) -> Result<Reply, Error> {
    let (a, p) = change!(fapi, |a| me::add_phone(&fapi.app, &mut a, &fapi.params))?;
    answer(&fapi, &a, &render::phone_number(&p)).await
}

async fn show_phone(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let a = fapi.acting().await?;
    let p = render::phone_number(me::phone(&a, &id)?);
    answer(&fapi, &a, &p).await
}

async fn update_phone(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::update_phone(
        &fapi.app,
        &mut a,
        &id,
        &fapi.params
    ))?;
    answer(&fapi, &a, &render::phone_number(me::phone(&a, &id)?)).await
}

async fn delete_phone(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    delete_identification(fapi, Identification::Phone, id).await
}

async fn prepare_phone(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    prepare_identification(fapi, Identification::Phone, id).await
}

async fn attempt_phone(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    attempt_identification(fapi, Identification::Phone, id).await
}

async fn change_password(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::change_password(
        &fapi.app,
        &mut a,
        &fapi.params
    ))?;
    answer(&fapi, &a, &user_json(&fapi, &a)).await
}

async fn remove_password(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::remove_password(
        &fapi.app,
        &mut a,
        &fapi.params
    ))?;
    answer(&fapi, &a, &user_json(&fapi, &a)).await
}

async fn start_totp(fapi: Fapi) -> Result<Reply, Error> {
    let (a, totp) = change!(fapi, |a| me::start_totp(&fapi.app, &mut a))?;
    answer(&fapi, &a, &totp).await
}

async fn verify_totp(fapi: Fapi) -> Result<Reply, Error> {
    let (a, totp) = change!(fapi, |a| me::verify_totp(&fapi.app, &mut a, &fapi.params))?;
    answer(&fapi, &a, &totp).await
}

async fn delete_totp(fapi: Fapi) -> Result<Reply, Error> {
    let (a, ()) = change!(fapi, |a| me::delete_totp(&fapi.app, &mut a))?;
    answer(&fapi, &a, &deleted("totp", "totp")).await
}

async fn backup_codes(fapi: Fapi) -> Result<Reply, Error> {
    let (a, codes) = change!(fapi, |a| me::regenerate_backup_codes(&fapi.app, &mut a))?;
    answer(&fapi, &a, &codes).await
}
