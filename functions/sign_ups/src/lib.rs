//! The sign_ups group. Its endpoints are not built yet: every path answers a Clerk-shaped 404.

use axum::Router;
use frontdoor::App;

pub fn routes() -> Router<App> {
    Router::new()
}
