//! Running a router as a Lambda function behind API Gateway (HTTP API payload v2, or REST v1).
//!
//! Everything expensive happens once per cold start, before the first event: settings are read
//! and validated, the DynamoDB client is built and its connection opened, the signing keys are
//! loaded. Logs are JSON lines with the request's trace id.

use axum::Router;
use axum::body::Body;
use lambda_http::request::RequestContext;
use lambda_http::{RequestExt as _, tower::ServiceBuilder};

use crate::app::App;
use crate::http::{self, ClientIp};
use crate::runtime::{self, StoreKind};

/// The caller's address as API Gateway saw it (the source of rate-limit keys).
pub fn source_ip(req: &lambda_http::Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        _ => None,
    }
}

/// Converts a Lambda request into the request the FAPI service takes.
pub fn into_fapi_request(req: lambda_http::Request) -> ::http::Request<Body> {
    let ip = source_ip(&req);
    let (mut parts, body) = req.into_parts();
    if let Some(ip) = ip {
        parts.extensions.insert(ClientIp(ip));
    }
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    ::http::Request::from_parts(parts, Body::from(bytes))
}

/// The service a Lambda runs: the FAPI wrapper around `routes`.
pub fn handler(app: App, routes: Router<App>) -> http::FapiService {
    http::service(app, routes)
}

/// The whole main of a function crate.
pub type LambdaError = lambda_http::Error;

pub async fn run(routes: fn() -> Router<App>) -> Result<(), LambdaError> {
    runtime::init_tracing(true);
    let app = runtime::build_app(StoreKind::DynamoDb).await?;
    serve(app, routes).await
}

/// The main of a function crate whose operations send codes (SES, SNS).
pub async fn run_sending(routes: fn() -> Router<App>) -> Result<(), LambdaError> {
    runtime::init_tracing(true);
    let app = runtime::build_sending_app(StoreKind::DynamoDb).await?;
    serve(app, routes).await
}

/// The main of the `/v1/me` function: it sends codes and keeps profile images (S3).
pub async fn run_profile(routes: fn() -> Router<App>) -> Result<(), LambdaError> {
    runtime::init_tracing(true);
    let app = runtime::build_profile_app(StoreKind::DynamoDb).await?;
    serve(app, routes).await
}

async fn serve(app: App, routes: fn() -> Router<App>) -> Result<(), LambdaError> {
    let service = ServiceBuilder::new()
        .map_request(into_fapi_request)
        .service(handler(app, routes()));
    lambda_http::run(service).await
}

/// How long before its deadline an invocation hands back the message in flight and returns
/// (the hand-back is one write).
const DELIVERY_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The whole main of the webhook delivery function. Every invocation — a DynamoDB Streams batch
/// announcing new messages, or the schedule that picks up retries — delivers what is due, round
/// after round, until nothing is due now or its deadline nears (then the message in flight is
/// handed back, due at once, its attempt uncounted). The event itself is only a wake-up: what
/// is due is read from the store.
pub async fn run_webhook_delivery() -> Result<(), LambdaError> {
    use lambda_http::{LambdaEvent, service_fn};
    runtime::init_tracing(true);
    let app = runtime::build_app(StoreKind::DynamoDb).await?;
    if let Some(outbox) = &app.webhooks {
        outbox.require_secrets()?;
    }
    let transport = std::sync::Arc::new(crate::webhooks::http::HttpTransport::new()?);
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (app, transport) = (app.clone(), transport.clone());
        async move {
            let deadline =
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
            let time_left = deadline
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(DELIVERY_MARGIN);
            let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
            let timer = tokio::spawn(async move {
                tokio::time::sleep(time_left).await;
                let _ = stop_tx.send(true);
            });
            let (mut delivered, mut failed, mut attempted) = (0, 0, 0);
            loop {
                let round =
                    crate::flows::webhooks::deliver_due(&app, transport.as_ref(), Some(&mut stop))
                        .await?;
                attempted += round.attempted;
                delivered += round.delivered;
                failed += round.failed;
                let more_now = round.next_due.is_some_and(|due| due <= app.now_ms());
                if round.stopped || round.attempted == 0 || !more_now {
                    break;
                }
            }
            timer.abort();
            tracing::info!(attempted, delivered, failed, "webhook delivery");
            Ok::<_, LambdaError>(serde_json::json!({
                "attempted": attempted, "delivered": delivered, "failed": failed,
            }))
        }
    }))
    .await
}
