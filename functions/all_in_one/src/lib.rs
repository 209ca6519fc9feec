//! Every endpoint group's routes in one router: the local server, and the one-Lambda mode.

use axum::Router;
use frontdoor::App;
use frontdoor::http::{self, FapiService};

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

/// The whole API as one service.
pub fn service(app: App) -> FapiService {
    http::service(app, routes())
}
