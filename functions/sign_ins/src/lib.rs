//! The sign-ins group: `/v1/client/sign_ins/**`. A route table; each handler parses its typed
//! command and runs it (`frontdoor::flows::sign_in`) as one unit of work.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::sign_in::{
    self, AttemptFirstFactor, AttemptSecondFactor, CreateSignIn, FactorTarget, FirstFactorProof,
    PrepareFirstFactor, PrepareSecondFactor, ResetPassword, SignedIn,
};
use frontdoor::http::{Fapi, Params, Reply, Route, route_table};
use frontdoor::model::render;
use frontdoor::vocabulary::{FirstFactor, SecondFactor, parse_strategy};
use frontdoor::{App, Error};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    frontdoor::routes![
        CreateSignIn => create, GetSignIn => show,
        PrepareFirstFactor => prepare_first_factor, AttemptFirstFactor => attempt_first_factor,
        ResetPassword => reset_password,
        PrepareSecondFactor => prepare_second_factor, AttemptSecondFactor => attempt_second_factor,
    ]
}

/// The envelope with the client's current sign-in as the response.
async fn answer(fapi: &Fapi, (current, done): (Current, Option<SignedIn>)) -> Result<Reply, Error> {
    let attempt = current.aggregate.sign_in.as_ref();
    let user = done.as_ref().map(|x| &x.user);
    fapi.attempt_envelope(&current, attempt, render::sign_in, user)
        .await
}

fn target(p: &Params) -> Result<FactorTarget, Error> {
    Ok(FactorTarget {
        email_address_id: p.text("email_address_id")?.map(str::to_owned),
        phone_number_id: p.text("phone_number_id")?.map(str::to_owned),
    })
}

fn first_factor(p: &Params) -> Result<FirstFactor, Error> {
    parse_strategy("strategy", p.required("strategy")?)
}

fn second_factor(p: &Params) -> Result<SecondFactor, Error> {
    parse_strategy("strategy", p.required("strategy")?)
}

async fn create(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let strategy = p.text("strategy")?.map(|s| parse_strategy("strategy", s));
    let cmd = CreateSignIn {
        identifier: p.text("identifier")?.map(str::to_owned),
        proof: (
            p.text("password")?.map(str::to_owned),
            strategy.transpose()?,
            target(p)?,
        ),
        memo: Default::default(),
    };
    answer(&fapi, fapi.run(&cmd).await?).await
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = fapi.existing_client().await?;
    let rendered = render::sign_in(sign_in::get(&current, &id)?, &fapi.app.capabilities);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn prepare_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy = first_factor(&fapi.params)?;
    let target = target(&fapi.params)?;
    let (current, ()) = fapi
        .run(&PrepareFirstFactor {
            id,
            strategy,
            target,
            sent: Default::default(),
        })
        .await?;
    answer(&fapi, (current, None)).await
}

async fn attempt_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let proof = match first_factor(p)? {
        FirstFactor::Password => FirstFactorProof::Password(p.required("password")?.to_owned()),
        code => FirstFactorProof::Code(code, p.required("code")?.to_owned()),
    };
    let checked = Default::default();
    let cmd = AttemptFirstFactor { id, proof, checked };
    answer(&fapi, fapi.run(&cmd).await?).await
}

async fn reset_password(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let password = p.required("password")?.to_owned();
    // Signing out everywhere else is the safe default after a reset.
    let sign_out_of_other_sessions = p.bool("sign_out_of_other_sessions")?.unwrap_or(true);
    let cmd = ResetPassword {
        id,
        password,
        sign_out_of_other_sessions,
    };
    answer(&fapi, fapi.run(&cmd).await?).await
}

async fn prepare_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy = second_factor(&fapi.params)?;
    let phone_number_id = fapi.params.text("phone_number_id")?.map(str::to_owned);
    let cmd = PrepareSecondFactor {
        id,
        strategy,
        phone_number_id,
        sent: Default::default(),
    };
    let (current, ()) = fapi.run(&cmd).await?;
    answer(&fapi, (current, None)).await
}

async fn attempt_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy = second_factor(&fapi.params)?;
    let code = fapi.params.required("code")?.to_owned();
    answer(
        &fapi,
        fapi.run(&AttemptSecondFactor { id, strategy, code })
            .await?,
    )
    .await
}
