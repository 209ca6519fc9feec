//! The assets Lambda: the pinned Clerk bundles packaged beside `bootstrap` (`npm/@clerk/…`,
//! see `infra/README.md`), or under `FRONTDOOR_BUNDLES_DIR`.

use std::path::PathBuf;

use axum::body::Body;
use tower::ServiceExt as _;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let root = std::env::var_os("FRONTDOOR_BUNDLES_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LAMBDA_TASK_ROOT").map(|r| PathBuf::from(r).join("npm")))
        .unwrap_or_else(|| PathBuf::from("npm"));
    let bundles = fn_assets::Bundles::load(&root);
    tracing::info!(releases = ?bundles.describe(), "bundles loaded");
    let service = bundles.service();
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        let service = service.clone();
        async move {
            let (parts, body) = req.into_parts();
            let req = http::Request::from_parts(parts, Body::from(body.to_vec()));
            service.oneshot(req).await
        }
    }))
    .await
}
