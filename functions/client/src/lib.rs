//! The client group: `/v1/client` — get, create (POST or PUT), end (DELETE).

use axum::Router;
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
        EndClient => end_client,
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
                }),
            )
        }
        // No client yet: clerk-js keeps an empty one. A stale cookie is cleared.
        None => Ok(Reply::envelope(&Value::Null, None).token(TokenUpdate {
            token: None,
            client_uat: 0,
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
    }))
}
