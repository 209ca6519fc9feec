//! Process start-up shared by the local server and the Lambda mains: settings, store, courier
//! and logging, chosen by environment variables and built once.
//!
//! | variable                      | meaning                                                    | default                     |
//! |-------------------------------|------------------------------------------------------------|-----------------------------|
//! | `FRONTDOOR_SETTINGS`          | path of the instance settings file                         | the development default     |
//! | `FRONTDOOR_STORE`             | `sqlite` or `dynamodb`                                     | `sqlite` locally            |
//! | `FRONTDOOR_DATA_DIR`          | where the embedded store lives                             | `.frontdoor`                |
//! | `FRONTDOOR_TABLE`             | the DynamoDB table                                         | `frontdoor`                 |
//! | `FRONTDOOR_SIGNING_KEY_PEM`   | an operator's PKCS#8 PEM instead of a generated key        | generated and stored        |
//! | `FRONTDOOR_OUTBOX`            | the development outbox file                                | `<data dir>/outbox.jsonl`   |
//! | `FRONTDOOR_LOG`               | log level, or levels per target (`frontdoor=debug,warn`)   | `info`                      |

use std::path::PathBuf;
use std::sync::Arc;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::courier::Courier;
use crate::courier::aws::AwsCourier;
use crate::courier::outbox::Outbox;
use crate::error::{Error, Result};
use crate::settings::{Delivery, Settings};
use crate::store::ItemStore;
use crate::store::dynamodb::DynamoStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    DynamoDb,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The settings: `FRONTDOOR_SETTINGS_TOML` (the document itself, as a Lambda environment
/// variable), else the file `FRONTDOOR_SETTINGS` names, else the development default — then the
/// deployment overrides (`FRONTDOOR_FRONTEND_API_URL`, `FRONTDOOR_ALLOWED_ORIGINS`,
/// `FRONTDOOR_COOKIE_DOMAIN`, `FRONTDOOR_EMAIL_FROM`, `FRONTDOOR_SMS_SENDER_ID`), then validation.
pub fn load_settings() -> Result<Settings> {
    let text = match (var("FRONTDOOR_SETTINGS_TOML"), var("FRONTDOOR_SETTINGS")) {
        (Some(text), _) => text,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| Error::internal(format!("settings file {path}: {e}")))?,
        (None, None) => crate::settings::DEVELOPMENT_SETTINGS.to_owned(),
    };
    Settings::parse_unchecked(&text)
        .map(|s| s.with_overrides(var))
        .and_then(Settings::validated)
        .map_err(|e| Error::internal(e.to_string()))
}

pub fn data_dir() -> PathBuf {
    var("FRONTDOOR_DATA_DIR").map_or_else(|| PathBuf::from(".frontdoor"), PathBuf::from)
}

pub fn store_kind(default: StoreKind) -> Result<StoreKind> {
    match var("FRONTDOOR_STORE").as_deref() {
        None => Ok(default),
        Some("sqlite") => Ok(StoreKind::Sqlite),
        Some("dynamodb") => Ok(StoreKind::DynamoDb),
        Some(other) => Err(Error::internal(format!(
            "FRONTDOOR_STORE must be `sqlite` or `dynamodb`, not `{other}`"
        ))),
    }
}

/// Opens the store. DynamoDB clients are built here once and their connection opened, so the
/// first request does not pay for the TLS handshake.
pub async fn open_store(kind: StoreKind, clock: Arc<dyn Clock>) -> Result<Arc<dyn ItemStore>> {
    match kind {
        #[cfg(feature = "embedded-store")]
        StoreKind::Sqlite => {
            let path = data_dir().join("frontdoor.sqlite3");
            let store = crate::store::sqlite::SqliteStore::open(&path, clock)?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "embedded-store"))]
        StoreKind::Sqlite => Err(Error::internal(
            "this build has no embedded store (feature `embedded-store`); use FRONTDOOR_STORE=dynamodb",
        )),
        StoreKind::DynamoDb => {
            let table = var("FRONTDOOR_TABLE").unwrap_or_else(|| "frontdoor".into());
            let store = DynamoStore::from_env(table, clock).await;
            if var("FRONTDOOR_CREATE_TABLE").is_some() {
                store.ensure_table().await?;
            } else if let Err(e) = store.warm_up().await {
                tracing::warn!(error = %e, "DynamoDB warm-up failed; continuing");
            }
            Ok(Arc::new(store))
        }
    }
}

/// How a process that sends codes by SES and SNS itself makes its courier from the AWS
/// configuration and the settings. Only the groups whose operations send (sign-ins, sign-ups,
/// `/v1/me`, reverification) and the all-in-one server pass one; the others never name the SES
/// and SNS clients, so their binaries leave them out.
type MakeAwsCourier = fn(&aws_config::SdkConfig, &Settings) -> Arc<dyn Courier>;

/// How a process that serves profile images makes its S3 store (the bucket named by
/// `FRONTDOOR_IMAGES_BUCKET`). Only the `/v1/me` group and the all-in-one server pass one, so
/// the other functions leave the S3 client out.
type MakeS3Images = fn(&aws_config::SdkConfig, String) -> Arc<dyn crate::images::ImageStore>;

/// How a process whose operations talk to identity providers (social sign-in: the sign-in,
/// sign-up and `/v1/me` groups) reaches them; the other functions leave the client out.
type MakeProviderHttp = fn() -> std::io::Result<Arc<dyn crate::social::ProviderHttp>>;

/// What a process links beyond the core: its courier, its image store, its way to providers.
#[derive(Clone, Copy)]
struct Reach {
    sends: Option<MakeAwsCourier>,
    images: Option<MakeS3Images>,
    providers: Option<MakeProviderHttp>,
}

/// Builds the application for a process that sends no codes.
pub async fn build_app(default_store: StoreKind) -> Result<App> {
    let reach = Reach {
        sends: None,
        images: None,
        providers: None,
    };
    build(default_store, reach).await
}

/// Builds the application for a process that sends codes (by the settings' delivery) and
/// completes social sign-ins.
pub async fn build_sending_app(default_store: StoreKind) -> Result<App> {
    let reach = Reach {
        sends: Some(aws_courier),
        images: None,
        providers: Some(provider_http),
    };
    build(default_store, reach).await
}

/// Builds the application for a process that also keeps profile images.
pub async fn build_profile_app(default_store: StoreKind) -> Result<App> {
    let reach = Reach {
        sends: Some(aws_courier),
        images: Some(s3_images),
        providers: Some(provider_http),
    };
    build(default_store, reach).await
}

fn provider_http() -> std::io::Result<Arc<dyn crate::social::ProviderHttp>> {
    Ok(Arc::new(crate::social::hyper::HyperProviderHttp::new()?))
}

fn s3_images(conf: &aws_config::SdkConfig, bucket: String) -> Arc<dyn crate::images::ImageStore> {
    Arc::new(crate::images::s3::S3Images::new(
        conf,
        bucket,
        var("FRONTDOOR_S3_ENDPOINT"),
    ))
}

fn aws_courier(conf: &aws_config::SdkConfig, settings: &Settings) -> Arc<dyn Courier> {
    Arc::new(AwsCourier::from_conf(
        conf,
        settings.messages.email_from.clone(),
        settings.messages.sms_sender_id.clone(),
    ))
}

async fn build(default_store: StoreKind, reach: Reach) -> Result<App> {
    let Reach {
        sends,
        images,
        providers,
    } = reach;
    let settings = load_settings()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let kind = store_kind(default_store)?;
    let store = open_store(kind, Arc::clone(&clock)).await?;
    let mut builder = App::builder(settings.clone(), store)
        .clock(Arc::clone(&clock))
        // Locally the first key of a fresh store is made while the server already answers; a
        // Lambda makes it during its init, before any event.
        .keys_in_background(kind == StoreKind::Sqlite)
        .signing_key_pem(var("FRONTDOOR_SIGNING_KEY_PEM"))
        .secret_key(var("FRONTDOOR_SECRET_KEY"));
    match (kind, images, var("FRONTDOOR_IMAGES_BUCKET")) {
        (_, Some(make), Some(bucket)) => {
            let conf = aws_config::load_from_env().await;
            builder = builder.images(make(&conf, bucket));
        }
        (StoreKind::Sqlite, _, _) => {
            let dir = data_dir().join("images");
            builder = builder.images(Arc::new(crate::images::files::FileImages::new(dir)));
        }
        _ => {}
    }
    if let Some(make) = providers.filter(|_| !settings.social.is_empty()) {
        // Built once per process (per cold start), like the AWS clients.
        let http =
            make().map_err(|e| Error::internal(format!("TLS roots for social sign-in: {e}")))?;
        builder = builder.provider_http(http);
    }
    match (settings.messages.delivery, sends) {
        (Delivery::Outbox, _) => {
            let path = var("FRONTDOOR_OUTBOX")
                .map_or_else(|| data_dir().join("outbox.jsonl"), PathBuf::from);
            builder = builder.courier(Arc::new(Outbox::to_file(path, Arc::clone(&clock))?));
        }
        (Delivery::Aws, Some(make_courier)) => {
            // Built once per cold start, like the DynamoDB client.
            let conf = aws_config::load_from_env().await;
            builder = builder.courier(make_courier(&conf, &settings));
        }
        // A group that sends nothing keeps the courier that refuses loudly.
        (Delivery::Aws, None) => {}
    }
    builder.build().await
}

/// `FRONTDOOR_LOG`: a level (`info`), levels per target (`frontdoor=debug,warn`), or both;
/// without it, `default`. (Targets, not `EnvFilter`: the same syntax for levels and targets
/// without a regex engine in every binary.) A value that does not parse is reported on stderr
/// and `default` used.
fn log_filter(default: LevelFilter) -> Targets {
    let fallback = Targets::new().with_default(default);
    match var("FRONTDOOR_LOG") {
        None => fallback,
        Some(spec) => spec.parse().unwrap_or_else(|e| {
            eprintln!("FRONTDOOR_LOG={spec:?} is not a log filter ({e}); using {default}");
            fallback
        }),
    }
}

/// Logging: human-readable locally, JSON lines (one object per event, with the trace id of
/// the request span) in Lambda, where CloudWatch indexes them.
pub fn init_tracing(json: bool) {
    let registry = tracing_subscriber::registry().with(log_filter(LevelFilter::INFO));
    let _ = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .flatten_event(true)
                    .without_time(),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().compact())
            .try_init()
    };
}

/// Logging for the operator's command line: warnings and worse on stderr (`FRONTDOOR_LOG`
/// overrides), so stdout carries only the command's output.
pub fn init_cli_tracing() {
    let _ = tracing_subscriber::registry()
        .with(log_filter(LevelFilter::WARN))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .compact(),
        )
        .try_init();
}
