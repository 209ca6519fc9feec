//! The sign-ins group: `/v1/client/sign_ins/**`. Parse → flow → render; the rules live in
//! `frontdoor::flows::sign_in`.

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use frontdoor::flows::client::{Current, with_retry};
use frontdoor::flows::rate_limit::{self, Bucket};
use frontdoor::flows::sign_in::{self, SignedIn};
use frontdoor::http::{Fapi, Reply};
use frontdoor::model::render;
use frontdoor::{App, Error};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v1/client/sign_ins", post(create))
        .route("/v1/client/sign_ins/{id}", get(show))
        .route(
            "/v1/client/sign_ins/{id}/prepare_first_factor",
            post(prepare_first_factor),
        )
        .route(
            "/v1/client/sign_ins/{id}/attempt_first_factor",
            post(attempt_first_factor),
        )
        .route(
            "/v1/client/sign_ins/{id}/reset_password",
            post(reset_password),
        )
        .route(
            "/v1/client/sign_ins/{id}/prepare_second_factor",
            post(prepare_second_factor),
        )
        .route(
            "/v1/client/sign_ins/{id}/attempt_second_factor",
            post(attempt_second_factor),
        )
}

/// The envelope with the client's current sign-in as the response.
async fn answer(
    fapi: &Fapi,
    current: &Current,
    signed_in: Option<&SignedIn>,
) -> Result<Reply, Error> {
    let sign_in = current
        .aggregate
        .sign_in
        .as_ref()
        .map(|s| render::sign_in(s, &fapi.app.settings))
        .ok_or_else(|| Error::internal("sign-in missing after the flow"))?;
    let known: Vec<_> = signed_in.map(|s| &s.user).into_iter().collect();
    fapi.envelope(&sign_in, current, &known).await
}

async fn create(fapi: Fapi) -> Result<Reply, Error> {
    rate_limit::hit(&fapi.app, Bucket::Create, fapi.caller.ip.as_deref()).await?;
    let origin = fapi.origin();
    let (current, signed_in) = with_retry(|| async {
        let mut current = fapi.current_or_new_client().await?;
        let signed_in = sign_in::create(&fapi.app, &mut current, &fapi.params, &origin).await?;
        Ok((current, signed_in))
    })
    .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = fapi.existing_client().await?;
    let rendered = render::sign_in(sign_in::get(&current, &id)?, &fapi.app.settings);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn prepare_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        sign_in::prepare_first_factor(&fapi.app, &mut current, &id, &fapi.params).await?;
        Ok(current)
    })
    .await?;
    answer(&fapi, &current, None).await
}

async fn attempt_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    rate_limit::hit(&fapi.app, Bucket::Attempt, fapi.caller.ip.as_deref()).await?;
    let origin = fapi.origin();
    let (current, signed_in) = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        let signed_in =
            sign_in::attempt_first_factor(&fapi.app, &mut current, &id, &fapi.params, &origin)
                .await?;
        Ok((current, signed_in))
    })
    .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}

async fn reset_password(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let origin = fapi.origin();
    let (current, signed_in) = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        let signed_in =
            sign_in::reset_password(&fapi.app, &mut current, &id, &fapi.params, &origin).await?;
        Ok((current, signed_in))
    })
    .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}

async fn prepare_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        sign_in::prepare_second_factor(&fapi.app, &mut current, &id, &fapi.params).await?;
        Ok(current)
    })
    .await?;
    answer(&fapi, &current, None).await
}

async fn attempt_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    rate_limit::hit(&fapi.app, Bucket::Attempt, fapi.caller.ip.as_deref()).await?;
    let origin = fapi.origin();
    let (current, signed_in) = with_retry(|| async {
        let mut current = fapi.existing_client().await?;
        let signed_in =
            sign_in::attempt_second_factor(&fapi.app, &mut current, &id, &fapi.params, &origin)
                .await?;
        Ok((current, signed_in))
    })
    .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}
