//! The sign-ups group: `/v1/client/sign_ups/**`. A route table; each handler parses its typed
//! command and runs it (`frontdoor::flows::sign_up`) as one unit of work.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::sign_up::{
    AttemptVerification, CreateSignUp, Created, PrepareVerification, SignUpFields, UpdateSignUp,
};
use frontdoor::http::{Fapi, Field, Params, Reply, Route, route_table};
use frontdoor::model::render;
use frontdoor::vocabulary::parse_strategy;
use frontdoor::{App, Code, Error};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    frontdoor::routes![
        CreateSignUp => create, GetSignUp => show, UpdateSignUp => update,
        PrepareSignUpVerification => prepare_verification,
        AttemptSignUpVerification => attempt_verification,
    ]
}

/// The envelope with the client's current sign-up as the response.
async fn answer(
    fapi: &Fapi,
    (current, created): (Current, Option<Created>),
) -> Result<Reply, Error> {
    let attempt = current.aggregate.sign_up.as_ref();
    let user = created.as_ref().map(|x| &x.user);
    fapi.attempt_envelope(&current, attempt, render::sign_up, user)
        .await
}

/// A name: absent (unchanged), null (cleared) or a value.
fn name(p: &Params, field: &str) -> Result<Option<Option<String>>, Error> {
    Ok(match p.field(field)? {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(v) => Some(Some(v.to_owned())),
    })
}

/// The fields of a create or update.
fn fields(p: &Params) -> Result<SignUpFields, Error> {
    if let Some(strategy) = p.text("strategy")? {
        // OAuth, SAML, tickets and Web3 need providers this server does not run.
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("strategy")
            .long(format!(
                "The {strategy} strategy is not supported by this application."
            )));
    }
    let text = |name: &str| p.text(name).map(|v| v.map(str::to_owned));
    Ok(SignUpFields {
        email_address: text("email_address")?,
        phone_number: text("phone_number")?,
        username: text("username")?,
        first_name: name(p, "first_name")?,
        last_name: name(p, "last_name")?,
        password: text("password")?,
        unsafe_metadata: p.object("unsafe_metadata")?,
        legal_accepted: p.bool("legal_accepted")?,
    })
}

async fn create(fapi: Fapi) -> Result<Reply, Error> {
    let fields = fields(&fapi.params)?;
    answer(&fapi, fapi.run(&CreateSignUp { fields }).await?).await
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = fapi.existing_client().await?;
    let rendered = render::sign_up(current.sign_up(&id)?, &fapi.app.capabilities);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn update(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let fields = fields(&fapi.params)?;
    answer(&fapi, fapi.run(&UpdateSignUp { id, fields }).await?).await
}

async fn prepare_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy = parse_strategy("strategy", fapi.params.required("strategy")?)?;
    let sent = Default::default();
    let (current, ()) = fapi
        .run(&PrepareVerification { id, strategy, sent })
        .await?;
    answer(&fapi, (current, None)).await
}

async fn attempt_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let strategy = parse_strategy("strategy", p.required("strategy")?)?;
    let code = p.required("code")?.to_owned();
    answer(
        &fapi,
        fapi.run(&AttemptVerification { id, strategy, code })
            .await?,
    )
    .await
}
