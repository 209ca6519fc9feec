//! The environment group: `/v1/environment`, `/v1/dev_browser`, the JWKS, `/v1/health`.

use axum::Router;
use frontdoor::flows::environment;
use frontdoor::http::{Fapi, Reply, Route, route_table};
use frontdoor::{App, Error};
use serde_json::json;

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    frontdoor::routes![
        GetEnvironment => get_environment, TouchEnvironment => patch_environment,
        CreateDevBrowser => create_dev_browser, WellKnownJwks => jwks, Jwks => jwks,
        Health => health,
    ]
}

async fn get_environment(fapi: Fapi) -> Reply {
    Reply::bare(&environment::environment(&fapi.app))
}

/// clerk-js "touches" the environment on development instances; nothing changes server-side.
async fn patch_environment(fapi: Fapi) -> Reply {
    Reply::bare(&environment::environment(&fapi.app))
}

async fn create_dev_browser(fapi: Fapi) -> Result<Reply, Error> {
    let token = environment::create_dev_browser(&fapi.app).await?;
    Ok(Reply::bare(&json!({ "id": token })))
}

async fn jwks(fapi: Fapi) -> Reply {
    Reply::bare(&environment::jwks(&fapi.app).await)
}

/// The spec's health shape: 200 `healthy`, or 503 `unhealthy` when the store does not answer.
async fn health(fapi: Fapi) -> Reply {
    match environment::health(&fapi.app).await {
        Ok(()) => Reply::bare(&json!({ "status": "healthy" })),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            let mut reply = Reply::bare(&json!({
                "status": "unhealthy",
                "message": "the store is not answering",
            }));
            reply.status = axum::http::StatusCode::SERVICE_UNAVAILABLE;
            reply
        }
    }
}
