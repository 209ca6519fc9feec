//! The sign-ins group: `/v1/client/sign_ins/**`. A route table; each handler parses its typed
//! command and runs it (`frontdoor::flows::sign_in`) as one unit of work.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::sign_in::{
    self, AttemptFirstFactor, AttemptSecondFactor, CreateSignIn, FactorTarget, FirstFactorProof,
    PrepareFirstFactor, PrepareSecondFactor, ResetPassword, SignedIn,
};
use frontdoor::flows::social::{
    self, Hints, Return, StartSignIn, TokenSignIn, TokenStrategy, TransferToSignIn,
};
use frontdoor::http::{Fapi, Params, Reply, Route, route_table, see_other, with_oauth_binding};
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
        OAuthCallback => oauth_callback, OAuthCallbackPost => oauth_callback,
        VerifyEmailLink => verify_email_link,
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
        redirect_url: p.text("redirect_url")?.map(str::to_owned),
    })
}

fn first_factor(p: &Params) -> Result<FirstFactor, Error> {
    parse_strategy("strategy", p.required("strategy")?)
}

fn second_factor(p: &Params) -> Result<SecondFactor, Error> {
    parse_strategy("strategy", p.required("strategy")?)
}

async fn create(fapi: Fapi) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse as _;
    let p = &fapi.params;
    let text = |name: &str| p.text(name).map(|v| v.map(str::to_owned));
    if p.bool("transfer")? == Some(true) {
        let done = fapi.run(&TransferToSignIn).await?;
        return Ok(answer(&fapi, done).await?.into_response());
    }
    if let Some(raw) = p.text("strategy")? {
        if let Some(strategy) = TokenStrategy::parse(raw) {
            let token = p.required("token")?.to_owned();
            let done = fapi.run(&TokenSignIn { strategy, token }).await?;
            return Ok(answer(&fapi, done).await?.into_response());
        }
        if raw.starts_with("oauth_") {
            let cmd = StartSignIn {
                strategy: raw.to_owned(),
                back: Return {
                    redirect_url: text("redirect_url")?,
                    action_complete_redirect_url: text("action_complete_redirect_url")?,
                },
                hints: Hints {
                    login_hint: text("oidc_login_hint")?.or(text("identifier")?),
                    prompt: text("oidc_prompt")?,
                    additional_scopes: Vec::new(),
                },
                binding: Default::default(),
            };
            let reply = answer(&fapi, fapi.run(&cmd).await?).await?;
            let binding = cmd.binding.take();
            return Ok(with_oauth_binding(&fapi.app.settings, reply, binding));
        }
    }
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
    Ok(answer(&fapi, fapi.run(&cmd).await?).await?.into_response())
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = match fapi.query.str("rotating_token_nonce") {
        Some(nonce) => fapi.collect_rotated_token(&id, nonce).await?,
        None => fapi.existing_client().await?,
    };
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
        FirstFactor::Passkey => {
            FirstFactorProof::Passkey(p.required("public_key_credential")?.to_owned())
        }
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

/// `GET|POST /v1/oauth_callback`: the provider sends the user back here (Apple with a form
/// POST). Answers a 303 to the app's page; an unusable callback is a Clerk error.
async fn oauth_callback(fapi: Fapi) -> Result<axum::response::Response, Error> {
    let from = |name: &str| {
        fapi.params
            .str(name)
            .or_else(|| fapi.query.str(name))
            .map(str::to_owned)
    };
    // A request that carries a client of its own must be the client the state was begun on.
    let caller_client_id = fapi.caller_client_id().await;
    let cb = social::Callback {
        state: from("state"),
        code: from("code"),
        error: from("error"),
        caller_client_id,
        binding: fapi.caller.oauth_binding.clone(),
    };
    let out = social::callback(&fapi.app, &cb, &fapi.origin()).await?;
    let location = match (&out.token, out.token_in_location) {
        (Some(token), true) => social::with_query(
            &out.location,
            &[(frontdoor::http::caller::DEV_BROWSER_PARAM, token)],
        ),
        _ => out.location.clone(),
    };
    see_other(&location, out.token, out.client_uat)
}

/// `GET /v1/verify?token=…`: an email link opened (`flows::email_link`); a 303 back to the
/// app's page with `__clerk_status`.
async fn verify_email_link(fapi: Fapi) -> Result<axum::response::Response, Error> {
    let token = fapi
        .query
        .str("token")
        .ok_or_else(|| Error::missing("token"))?
        .to_owned();
    let opened_by = fapi.caller_client_id().await;
    let out =
        frontdoor::flows::email_link::open(&fapi.app, &token, opened_by.as_deref(), &fapi.origin())
            .await?;
    see_other(&out.location, out.token, out.client_uat)
}
