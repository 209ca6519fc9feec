//! The instance-level requests: the Environment object, the development browser, the JWKS.
//!
//! ```text
//!   POST /v1/dev_browser (development only) ──► new client ──► its token as `{"id": …}`
//! ```

use serde_json::Value;

use crate::app::App;
use crate::error::{Code, Error, Result};
use crate::model::environment;

pub fn environment(app: &App) -> Value {
    environment::environment(&app.settings, &app.capabilities)
}

/// Creates a development browser: a fresh client whose token the browser sends as
/// `__clerk_db_jwt`. Production instances have none.
pub async fn create_dev_browser(app: &App) -> Result<String> {
    if !app.settings.is_development() {
        return Err(Error::new(Code::RequestInvalidForEnvironment)
            .long("Development browsers exist only on development instances."));
    }
    Ok(super::client::create(app).await?.token)
}

/// The public signing keys.
pub async fn jwks(app: &App) -> Value {
    app.signing_keys().await.jwks(app.now_ms())
}

/// Whether the store answers.
pub async fn health(app: &App) -> Result<()> {
    app.repo
        .store()
        .get(&crate::store::keys::instance("HEALTH"))
        .await
        .map(|_| ())
        .map_err(Into::into)
}
