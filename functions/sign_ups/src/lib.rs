//! The sign-ups group: `/v1/client/sign_ups/**`. Parse → flow → render; the rules live in
//! `frontdoor::flows::sign_up`.

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use frontdoor::flows::client::{Current, with_retry};
use frontdoor::flows::rate_limit::{self, Bucket};
use frontdoor::flows::sign_up::{self, Created};
use frontdoor::http::{Fapi, Reply};
use frontdoor::model::render;
use frontdoor::{App, Error};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v1/client/sign_ups", post(create))
        .route("/v1/client/sign_ups/{id}", get(show).patch(update))
        .route(
            "/v1/client/sign_ups/{id}/prepare_verification",
            post(prepare_verification),
        )
        .route(
            "/v1/client/sign_ups/{id}/attempt_verification",
            post(attempt_verification),
        )
}

/// The envelope with the client's current sign-up as the response.
async fn answer(fapi: &Fapi, current: &Current, created: Option<&Created>) -> Result<Reply, Error> {
    let sign_up = current
        .aggregate
        .sign_up
        .as_ref()
        .map(|s| render::sign_up(s, &fapi.app.settings))
        .ok_or_else(|| Error::internal("sign-up missing after the flow"))?;
    let known: Vec<_> = created.map(|c| &c.user).into_iter().collect();
    fapi.envelope(&sign_up, current, &known).await
}

async fn create(fapi: Fapi) -> Result<Reply, Error> {
    rate_limit::hit(&fapi.app, Bucket::Create, fapi.caller.ip.as_deref()).await?;
    let origin = fapi.origin();
    let (current, created) = with_retry(|| async {
        let mut current = fapi.current_or_new_client().await?;
        let created = sign_up::create(&fapi.app, &mut current, &fapi.params, &origin).await?;
        Ok((current, created))
    })
    .await?;
    answer(&fapi, &current, created.as_ref()).await
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = fapi.existing_client().await?;
    let s = current
        .aggregate
        .sign_up
        .as_ref()
        .filter(|s| s.id == id)
        .ok_or_else(Error::not_found)?;
    let rendered = render::sign_up(s, &fapi.app.settings);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn update(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let origin = fapi.origin();
    let (current, created) = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        let created = sign_up::update(&fapi.app, &mut current, &id, &fapi.params, &origin).await?;
        Ok((current, created))
    })
    .await?;
    answer(&fapi, &current, created.as_ref()).await
}

async fn prepare_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        sign_up::prepare_verification(&fapi.app, &mut current, &id, &fapi.params).await?;
        Ok(current)
    })
    .await?;
    answer(&fapi, &current, None).await
}

async fn attempt_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    rate_limit::hit(&fapi.app, Bucket::Attempt, fapi.caller.ip.as_deref()).await?;
    let origin = fapi.origin();
    let (current, created) = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        let created =
            sign_up::attempt_verification(&fapi.app, &mut current, &id, &fapi.params, &origin)
                .await?;
        Ok((current, created))
    })
    .await?;
    answer(&fapi, &current, created.as_ref()).await
}
