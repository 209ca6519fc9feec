//! Every endpoint group's routes in one router: the local server, and the one-Lambda mode.
//! Locally it also serves Clerk's pinned browser bundles at `/npm/@clerk/*` under any prefix (in
//! a deployment the assets function does) and the demo page at `/`.

use std::path::Path;

use axum::Router;
use frontdoor::App;
use frontdoor::http::{self, FapiService};
use tower::ServiceExt as _;
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
        .merge(fn_backend::routes())
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
        fn_backend::table(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The whole API as one service.
pub fn service(app: App) -> FapiService {
    http::service(app, routes())
}

/// The local server: Clerk's browser bundles (`/npm/@clerk/…` under any prefix), the demo page
/// from `demo_dir` (when present), everything else to the API.
pub fn local_router(app: App, demo_dir: &Path, bundles: fn_assets::Bundles) -> Router {
    let api = service(app);
    let bundles = bundles.service();
    let dispatch = tower::service_fn(move |req: ::http::Request<axum::body::Body>| {
        let (api, bundles) = (api.clone(), bundles.clone());
        async move {
            if fn_assets::is_bundle_path(req.uri().path()) {
                bundles.oneshot(req).await
            } else {
                api.oneshot(req).await
            }
        }
    });
    let fallback = Router::new().fallback_service(dispatch);
    if !demo_dir.join("index.html").is_file() {
        return fallback;
    }
    Router::new()
        .route_service("/", ServeFile::new(demo_dir.join("index.html")))
        .nest_service(
            "/demo",
            ServeDir::new(demo_dir).append_index_html_on_directories(false),
        )
        .merge(fallback)
}

/// How long the local server waits for a client: for a request's headers (a slow client cannot
/// hold connections open by trickling them, "slowloris"), and for a whole request, body
/// included. OWASP API Security Top 10 API4.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub headers: std::time::Duration,
    pub request: std::time::Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            headers: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` over HTTP/1.1 with `timeouts`, until `shutdown` resolves. Each
/// request carries the peer's address (`ConnectInfo`), as `axum::serve` would add it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: ::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move {
                    let call = router.oneshot(req.map(axum::body::Body::new));
                    match tokio::time::timeout(timeouts.request, call).await {
                        Ok(answer) => answer,
                        Err(_) => Ok(timed_out()),
                    }
                }
            });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.headers)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}

/// The Clerk-shaped answer to a request that took too long to arrive.
fn timed_out() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let body = axum::Json(serde_json::json!({
        "errors": [{
            "code": "request_timeout",
            "message": "Request timeout",
            "long_message": "The request took too long to arrive.",
            "meta": {},
        }],
        "clerk_trace_id": "",
    }));
    (::http::StatusCode::REQUEST_TIMEOUT, body).into_response()
}
