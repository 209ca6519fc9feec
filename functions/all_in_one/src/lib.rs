//! Every endpoint group's routes in one router: the local server, and the one-Lambda mode.
//! Locally it also serves the demo page at `/` and the unmodified Clerk browser bundles it loads
//! (never in Lambda: a deployment serves only the API).

use std::path::Path;

use axum::Router;
use frontdoor::App;
use frontdoor::http::{self, FapiService};
use tower_http::services::{ServeDir, ServeFile};

/// All groups' routes.
pub fn routes() -> Router<App> {
    Router::new()
        .merge(fn_environment::routes())
        .merge(fn_client::routes())
        .merge(fn_sign_ins::routes())
        .merge(fn_sign_ups::routes())
        .merge(fn_sessions::routes())
        .merge(fn_me::routes())
}

/// Every group's route table, in one list: what the API serves.
pub fn table() -> Vec<frontdoor::http::Route> {
    [
        fn_environment::table(),
        fn_client::table(),
        fn_sign_ins::table(),
        fn_sign_ups::table(),
        fn_sessions::table(),
        fn_me::table(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The whole API as one service.
pub fn service(app: App) -> FapiService {
    http::service(app, routes())
}

/// The local server: the demo page and Clerk's browser bundles from `demo_dir` (when present),
/// everything else to the API.
pub fn local_router(app: App, demo_dir: &Path) -> Router {
    let api = Router::new().fallback_service(service(app));
    if !demo_dir.join("index.html").is_file() {
        return api;
    }
    Router::new()
        .route_service("/", ServeFile::new(demo_dir.join("index.html")))
        .nest_service(
            "/demo",
            ServeDir::new(demo_dir).append_index_html_on_directories(false),
        )
        .nest_service("/npm/@clerk", ServeDir::new(demo_dir.join("vendor/@clerk")))
        .merge(api)
}
