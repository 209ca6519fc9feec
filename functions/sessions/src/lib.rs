//! The sessions group: `/v1/client/sessions/**` (read, touch, end, remove, sign out of all,
//! tokens, reverification) and `/v1/me/sessions/**` (a user's sessions on all devices, revoke).

mod verify;

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::{self, with_retry};
use frontdoor::flows::session;
use frontdoor::flows::session::{EndAllSessions, FinishSession, TouchSession};
use frontdoor::flows::tokens;
use frontdoor::http::{Fapi, Reply, Route, TokenUpdate, route_table};
use frontdoor::model::records::SessionStatus;
use frontdoor::model::render;
use frontdoor::{App, Error};
use serde_json::{Value, json};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    frontdoor::routes![
        EndAllSessions => end_all, GetSession => show, TouchSession => touch,
        EndSession => end, RemoveSession => remove,
        CreateSessionToken => token, CreateTemplateToken => template_token,
        ListMySessions => my_sessions, ListMyActiveSessions => my_active_sessions,
        RevokeSession => revoke,
        StartSessionVerification => verify::start,
        PrepareSessionVerificationFirstFactor => verify::prepare_first_factor,
        AttemptSessionVerificationFirstFactor => verify::attempt_first_factor,
        PrepareSessionVerificationSecondFactor => verify::prepare_second_factor,
        AttemptSessionVerificationSecondFactor => verify::attempt_second_factor,
    ]
}

/// The session as the response, with its user, and the whole client.
async fn answer(
    fapi: &Fapi,
    current: &client::Current,
    s: &frontdoor::model::records::SessionRecord,
) -> Result<Reply, Error> {
    let users = fapi
        .app
        .repo
        .load_users(std::slice::from_ref(&s.user_id))
        .await?;
    let rendered = render::session(
        s,
        users.get(&s.user_id),
        &fapi.app.settings,
        fapi.app.now_ms(),
    );
    let known: Vec<_> = users.values().collect();
    fapi.envelope(&rendered, current, &known).await
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = fapi.existing_client().await?;
    let s = current.session(&id)?.clone();
    answer(&fapi, &current, &s).await
}

async fn touch(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let (current, s) = fapi.run(&TouchSession { id }).await?;
    answer(&fapi, &current, &s).await
}

async fn finish(fapi: Fapi, id: String, status: SessionStatus) -> Result<Reply, Error> {
    let (current, s) = fapi.run(&FinishSession { id, status }).await?;
    answer(&fapi, &current, &s).await
}

async fn end(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    finish(fapi, id, SessionStatus::Ended).await
}

async fn remove(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    finish(fapi, id, SessionStatus::Removed).await
}

/// Sign out of every session on this client; clerk-js feeds `response` to `Client.fromJSON`.
async fn end_all(fapi: Fapi) -> Result<Reply, Error> {
    let (current, ()) = fapi.run(&EndAllSessions).await?;
    let rendered = client::render(&fapi.app, &current.aggregate, &[]).await?;
    Ok(
        Reply::envelope(&rendered, Some(&rendered)).token(TokenUpdate {
            token: Some(current.token.clone()),
            client_uat: 0,
            session_token: None,
        }),
    )
}

async fn mint(fapi: Fapi, id: String, template: Option<String>) -> Result<Reply, Error> {
    let current = fapi
        .current_client()
        .await?
        .ok_or_else(session::signed_out)?;
    let jwt = tokens::mint(
        &fapi.app,
        &current.aggregate.sessions,
        &id,
        template.as_deref(),
        fapi.caller.origin.as_deref(),
    )
    .await?;
    // Bare, not enveloped: clerk-js reads `jwt` at the top level. In cookie mode the app's
    // `__session` cookie follows the new token.
    let client_uat = current.client_uat_at(fapi.app.now_ms());
    let is_last_active = current.client().last_active_session_id.as_deref() == Some(id.as_str());
    Ok(
        Reply::bare(&json!({ "object": "token", "jwt": jwt })).token(TokenUpdate {
            token: Some(current.token.clone()),
            client_uat,
            session_token: (template.is_none() && is_last_active).then_some(jwt),
        }),
    )
}

async fn token(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    mint(fapi, id, None).await
}

async fn template_token(
    Path((id, template)): Path<(String, String)>,
    fapi: Fapi,
) -> Result<Reply, Error> {
    mint(fapi, id, Some(template)).await
}

/// The user the request acts for, through its session.
async fn acting_user(fapi: &Fapi) -> Result<String, Error> {
    let current = fapi
        .current_client()
        .await?
        .ok_or_else(session::signed_out)?;
    let s = session::acting(&fapi.app, &current, fapi.query.str("_clerk_session_id"))?;
    Ok(s.user_id.clone())
}

/// The acting user's sessions on every device, newest first (only the active ones, or all).
async fn list_sessions(fapi: Fapi, only_active: bool) -> Result<Reply, Error> {
    let user_id = acting_user(&fapi).await?;
    let now = fapi.app.now_ms();
    let list: Vec<Value> = session::of_user(&fapi.app, &user_id)
        .await?
        .iter()
        .filter(|s| !only_active || s.is_active_at(now))
        .map(|s| render::active_session(s, now))
        .collect();
    Ok(Reply::bare(&list))
}

async fn my_sessions(fapi: Fapi) -> Result<Reply, Error> {
    list_sessions(fapi, false).await
}

async fn my_active_sessions(fapi: Fapi) -> Result<Reply, Error> {
    list_sessions(fapi, true).await
}

async fn revoke(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let user_id = acting_user(&fapi).await?;
    let revoked = with_retry(|| session::revoke(&fapi.app, &user_id, &id)).await?;
    // Revoking one of this client's own sessions changes the client too.
    let current = fapi
        .current_client()
        .await?
        .ok_or_else(session::signed_out)?;
    answer(&fapi, &current, &revoked).await
}
