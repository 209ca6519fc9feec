//! `frontdoor-local`: the whole Frontend API in one process.
//!
//! Locally (`make dev`) it serves every group on `FRONTDOOR_ADDR` (default `127.0.0.1:3000`)
//! over the embedded store, with the development outbox, and the demo page (`FRONTDOOR_DEMO_DIR`,
//! default `demo`) at `/`. Inside Lambda (when
//! `AWS_LAMBDA_RUNTIME_API` is set) it runs as a single function serving every group.

use std::net::SocketAddr;

use frontdoor::runtime::{self, StoreKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return frontdoor::lambda::run(frontdoor_local::routes).await;
    }
    runtime::init_tracing(false);
    let addr: SocketAddr = std::env::var("FRONTDOOR_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let app = runtime::build_app(StoreKind::Sqlite).await?;
    let demo = std::env::var("FRONTDOOR_DEMO_DIR").unwrap_or_else(|_| "demo".into());
    let router = frontdoor_local::local_router(app, std::path::Path::new(&demo));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "Frontdoor listening on http://{addr}");
    let timeouts = frontdoor_local::Timeouts::default();
    frontdoor_local::serve(listener, router, timeouts, stop_signal()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (what service managers and containers send).
async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
