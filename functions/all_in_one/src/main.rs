//! `frontdoor-local`: the whole Frontend API in one process.
//!
//! Locally (`make dev`) it serves every group on `FRONTDOOR_ADDR` (default `127.0.0.1:3000`)
//! over the embedded store, with the development outbox, Clerk's pinned browser bundles
//! (`FRONTDOOR_BUNDLES_DIR`, default `.bundles`, filled by `scripts/clerk-bundles.sh`) and the
//! demo page (`FRONTDOOR_DEMO_DIR`, default `demo`) at `/`. Inside Lambda (when
//! `AWS_LAMBDA_RUNTIME_API` is set) it runs as a single function serving every group.
//!
//! `frontdoor-local rotate-signing-key [SECONDS]` is the operator's key rotation, and
//! `frontdoor-local create-secret-key` prints a new secret key for app servers (the Backend
//! API) and keeps only its hash (see `infra/README.md`).

use std::net::SocketAddr;

use frontdoor::runtime::{self, StoreKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return frontdoor::lambda::run_sending(frontdoor_local::routes).await;
    }
    runtime::init_tracing(false);
    let mut args = std::env::args().skip(1);
    if let Some(command) = args.next() {
        return operator_command(&command, args.collect()).await;
    }
    let addr: SocketAddr = std::env::var("FRONTDOOR_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let app = runtime::build_profile_app(StoreKind::Sqlite).await?;
    let webhook_app = app.webhooks.is_some().then(|| app.clone());
    let demo = std::env::var("FRONTDOOR_DEMO_DIR").unwrap_or_else(|_| "demo".into());
    let bundles_dir = std::env::var("FRONTDOOR_BUNDLES_DIR").unwrap_or_else(|_| ".bundles".into());
    let bundles = fn_assets::Bundles::load(std::path::Path::new(&bundles_dir));
    tracing::info!(releases = ?bundles.describe(), "Clerk bundles at /npm/@clerk/");
    let router = frontdoor_local::local_router(app, std::path::Path::new(&demo), bundles);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "Frontdoor listening on http://{addr}");
    let timeouts = frontdoor_local::Timeouts::default();
    // Webhooks go out from a task beside the server; on a stop signal it hands back the
    // message in flight (due again at once) before the process exits.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = match &webhook_app {
        Some(app) => {
            let transport = std::sync::Arc::new(frontdoor::webhooks::http::HttpTransport::new()?);
            Some(tokio::spawn(frontdoor::flows::webhooks::run_worker(
                app.clone(),
                transport,
                stop_rx,
            )))
        }
        None => None,
    };
    let stop = async move {
        stop_signal().await;
        let _ = stop_tx.send(true);
    };
    frontdoor_local::serve(listener, router, timeouts, stop).await?;
    if let Some(worker) = worker {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), worker).await;
    }
    Ok(())
}

/// `frontdoor-local rotate-signing-key [SECONDS]`: stages a new signing key in the store the
/// environment names (`FRONTDOOR_STORE`, `FRONTDOOR_TABLE`, …: the deployed table too). It is
/// published at once by every instance that re-reads its keys (within five minutes) and signs
/// from SECONDS from now (default 600); the old key stays published until its tokens expired.
async fn operator_command(
    command: &str,
    args: Vec<String>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match command {
        "rotate-signing-key" => {
            let delay = match args.first() {
                Some(secs) => std::time::Duration::from_secs(secs.parse()?),
                None => frontdoor::security::SIGNING_KEY_ACTIVATION_DELAY,
            };
            let app = runtime::build_app(StoreKind::Sqlite).await?;
            let kid = app.stage_signing_key(delay).await?;
            println!(
                "staged signing key {kid}: published now, signing in {} s",
                delay.as_secs()
            );
            Ok(())
        }
        "create-secret-key" => {
            let app = runtime::build_app(StoreKind::Sqlite).await?;
            let key = app.create_secret_key().await?;
            // Printed once, to the operator's terminal, never logged: only its hash is kept.
            println!("{key}");
            Ok(())
        }
        other => Err(format!(
            "unknown command `{other}`; commands: rotate-signing-key [SECONDS], create-secret-key"
        )
        .into()),
    }
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
