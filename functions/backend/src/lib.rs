//! The Backend API group: what app servers call with their secret key while rendering pages
//! (`@clerk/nextjs`'s `currentUser()`, `auth().getToken({ template })`). The JWKS they verify
//! tokens with is the environment group's `/v1/jwks`, which checks a presented secret key too.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::backend;
use frontdoor::http::{Fapi, Reply, Route, route_table};
use frontdoor::model::render;
use frontdoor::{App, Error};
use serde_json::json;

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
    ]
}

async fn get_user(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let user = backend::user(&fapi.app, &id).await?;
    let now = fapi.app.now_ms();
    Ok(Reply::bare(&render::backend_user(
        &user,
        &fapi.app.settings,
        now,
    )))
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
