//! The sign-ins group: `/v1/client/sign_ins/**`. A route table; each handler parses its typed
//! command and runs the flow (`frontdoor::flows::sign_in`) as one unit of work.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::sign_in::{
    self, AttemptFirstFactor, AttemptSecondFactor, CreateSignIn, FactorTarget, FirstFactorProof,
    PrepareFirstFactor, PrepareSecondFactor, ResetPassword, SignedIn,
};
use frontdoor::http::{ClientNeed, Fapi, Operation, Params, Reply, Route, route_table};
use frontdoor::model::render;
use frontdoor::vocabulary::{FirstFactor, SecondFactor, parse_strategy};
use frontdoor::{App, Error};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
pub fn table() -> Vec<Route> {
    vec![
        Operation::CreateSignIn.to(create),
        Operation::GetSignIn.to(show),
        Operation::PrepareFirstFactor.to(prepare_first_factor),
        Operation::AttemptFirstFactor.to(attempt_first_factor),
        Operation::ResetPassword.to(reset_password),
        Operation::PrepareSecondFactor.to(prepare_second_factor),
        Operation::AttemptSecondFactor.to(attempt_second_factor),
    ]
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
        .map(|s| render::sign_in(s, &fapi.app.capabilities))
        .ok_or_else(|| Error::internal("sign-in missing after the flow"))?;
    let known: Vec<_> = signed_in.map(|s| &s.user).into_iter().collect();
    fapi.envelope(&sign_in, current, &known).await
}

fn target(p: &Params) -> FactorTarget {
    FactorTarget {
        email_address_id: p.str("email_address_id").map(str::to_owned),
        phone_number_id: p.str("phone_number_id").map(str::to_owned),
    }
}

fn first_factor(p: &Params) -> Result<FirstFactor, Error> {
    parse_strategy("strategy", p.required("strategy")?)
}

async fn create(fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = CreateSignIn {
        identifier: p.str("identifier").map(str::to_owned),
        strategy: p
            .str("strategy")
            .map(|s| parse_strategy("strategy", s))
            .transpose()?,
        password: p.str("password").map(str::to_owned),
        target: target(p),
    };
    let origin = &fapi.origin();
    let (app, cmd) = (&fapi.app, &cmd);
    let (current, signed_in) = fapi
        .on_client(ClientNeed::ExistingOrNew, |mut c| async move {
            let out = sign_in::create(app, &mut c, cmd, origin).await?;
            Ok((c, out))
        })
        .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let id = &id;
    let current = fapi.existing_client().await?;
    let rendered = render::sign_in(sign_in::get(&current, id)?, &fapi.app.capabilities);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn prepare_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let id = &id;
    let cmd = PrepareFirstFactor {
        strategy: first_factor(&fapi.params)?,
        target: target(&fapi.params),
    };
    let (app, cmd) = (&fapi.app, &cmd);
    let (current, ()) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            sign_in::prepare_first_factor(app, &mut c, id, cmd).await?;
            Ok((c, ()))
        })
        .await?;
    answer(&fapi, &current, None).await
}

async fn attempt_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let id = &id;
    let p = &fapi.params;
    let proof = match first_factor(p)? {
        FirstFactor::Password => FirstFactorProof::Password(p.required("password")?.to_owned()),
        code => FirstFactorProof::Code(code, p.required("code")?.to_owned()),
    };
    let cmd = AttemptFirstFactor { proof };
    let origin = &fapi.origin();
    let (app, cmd) = (&fapi.app, &cmd);
    let (current, signed_in) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            let out = sign_in::attempt_first_factor(app, &mut c, id, cmd, origin).await?;
            Ok((c, out))
        })
        .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}

async fn reset_password(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let id = &id;
    let p = &fapi.params;
    let cmd = ResetPassword {
        password: p.required("password")?.to_owned(),
        sign_out_of_other_sessions: p.bool("sign_out_of_other_sessions")?.unwrap_or(false),
    };
    let origin = &fapi.origin();
    let (app, cmd) = (&fapi.app, &cmd);
    let (current, signed_in) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            let out = sign_in::reset_password(app, &mut c, id, cmd, origin).await?;
            Ok((c, out))
        })
        .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}

fn second_factor(p: &Params) -> Result<SecondFactor, Error> {
    parse_strategy("strategy", p.required("strategy")?)
}

async fn prepare_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let id = &id;
    let cmd = PrepareSecondFactor {
        strategy: second_factor(&fapi.params)?,
        phone_number_id: fapi.params.str("phone_number_id").map(str::to_owned),
    };
    let (app, cmd) = (&fapi.app, &cmd);
    let (current, ()) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            sign_in::prepare_second_factor(app, &mut c, id, cmd).await?;
            Ok((c, ()))
        })
        .await?;
    answer(&fapi, &current, None).await
}

async fn attempt_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let id = &id;
    let cmd = AttemptSecondFactor {
        strategy: second_factor(&fapi.params)?,
        code: fapi.params.required("code")?.to_owned(),
    };
    let origin = &fapi.origin();
    let (app, cmd) = (&fapi.app, &cmd);
    let (current, signed_in) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            let out = sign_in::attempt_second_factor(app, &mut c, id, cmd, origin).await?;
            Ok((c, out))
        })
        .await?;
    answer(&fapi, &current, signed_in.as_ref()).await
}
