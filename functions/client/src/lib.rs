//! The client group: `/v1/client` — get, create (POST or PUT), end (DELETE).

use axum::Router;
use axum::response::IntoResponse as _;
use frontdoor::flows::client;
use frontdoor::http::{Fapi, Reply, Route, TokenUpdate, route_table};
use frontdoor::{App, Error};
use serde_json::Value;

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    frontdoor::routes![
        GetClient => get_client, CreateClient => create_client, PutClient => create_client,
        EndClient => end_client, Handshake => handshake,
    ]
}

async fn get_client(fapi: Fapi) -> Result<Reply, Error> {
    match fapi.current_client().await? {
        Some(current) => {
            let rendered = client::render(&fapi.app, &current.aggregate, &[]).await?;
            Ok(
                Reply::envelope(&rendered, Some(&rendered)).token(TokenUpdate {
                    token: Some(current.token.clone()),
                    client_uat: current.client_uat_at(fapi.app.now_ms()),
                    session_token: None,
                }),
            )
        }
        // No client yet: clerk-js keeps an empty one. A stale cookie is cleared.
        None => Ok(Reply::envelope(&Value::Null, None).token(TokenUpdate {
            token: None,
            client_uat: 0,
            session_token: None,
        })),
    }
}

async fn create_client(fapi: Fapi) -> Result<Reply, Error> {
    let current = client::create(&fapi.app).await?;
    let rendered = client::render(&fapi.app, &current.aggregate, &[]).await?;
    Ok(
        Reply::envelope(&rendered, Some(&rendered)).token(TokenUpdate {
            token: Some(current.token.clone()),
            client_uat: 0,
            session_token: None,
        }),
    )
}

async fn end_client(fapi: Fapi) -> Result<Reply, Error> {
    let current = fapi.current_client().await?.ok_or_else(Error::not_found)?;
    let ended = client::end(&fapi.app, current).await?;
    let rendered = client::render(&fapi.app, &ended, &[]).await?;
    Ok(Reply::envelope(&rendered, None).token(TokenUpdate {
        token: None,
        client_uat: 0,
        session_token: None,
    }))
}

/// `GET /v1/client/handshake`: a 307 back to the app with fresh session cookies for it
/// (`flows::handshake`). Never cached: it carries a session token.
async fn handshake(fapi: Fapi) -> Result<axum::response::Response, Error> {
    use axum::http::{HeaderValue, StatusCode, header};
    use frontdoor::error::Code;
    use frontdoor::flows::handshake::{self, HandshakeCommand, Transport};
    use frontdoor::http::Transport as Caller;

    let redirect_url = fapi
        .query
        .str("redirect_url")
        .ok_or_else(|| Error::new(Code::FormParamMissing).param("redirect_url"))?
        .to_owned();
    if !frontdoor::http::cors::redirect_allowed(&fapi.app.settings, &redirect_url) {
        return Err(Error::new(Code::InvalidRedirectUrl).param("redirect_url"));
    }
    // Development instances know the browser by its development browser alone.
    let client_token = match fapi.caller.transport {
        Caller::DevBrowser => fapi.caller.token.clone(),
        Caller::Cookie if !fapi.app.settings.is_development() => fapi.caller.token.clone(),
        _ => None,
    };
    let answer = handshake::handshake(
        &fapi.app,
        HandshakeCommand {
            redirect_url,
            suffixed_cookies: fapi.query.str("suffixed_cookies") == Some("true"),
            client_token,
            ip: fapi.caller.ip.clone(),
        },
    )
    .await?;
    let location = HeaderValue::from_str(&answer.location)
        .map_err(|_| Error::new(Code::InvalidRedirectUrl).param("redirect_url"))?;
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Transport::Cookie(cookie) = answer.transport
        && let Ok(v) = HeaderValue::from_str(&cookie)
    {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok(response)
}
