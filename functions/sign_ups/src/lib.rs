//! The sign-ups group: `/v1/client/sign_ups/**`. A route table; each handler parses its typed
//! command and runs the flow (`frontdoor::flows::sign_up`) as one unit of work.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::sign_up::{
    self, AttemptVerification, Created, PrepareVerification, SignUpFields,
};
use frontdoor::http::{ClientNeed, Fapi, Field, Operation, Params, Reply, Route, route_table};
use frontdoor::model::render;
use frontdoor::vocabulary::parse_strategy;
use frontdoor::{App, Code, Error};

pub fn routes() -> Router<App> {
    route_table(table())
}

/// The group's route table: each operation with its handler.
pub fn table() -> Vec<Route> {
    vec![
        Operation::CreateSignUp.to(create),
        Operation::GetSignUp.to(show),
        Operation::UpdateSignUp.to(update),
        Operation::PrepareSignUpVerification.to(prepare_verification),
        Operation::AttemptSignUpVerification.to(attempt_verification),
    ]
}

/// The envelope with the client's current sign-up as the response.
async fn answer(fapi: &Fapi, current: &Current, created: Option<&Created>) -> Result<Reply, Error> {
    let sign_up = current
        .aggregate
        .sign_up
        .as_ref()
        .map(|s| render::sign_up(s, &fapi.app.capabilities))
        .ok_or_else(|| Error::internal("sign-up missing after the flow"))?;
    let known: Vec<_> = created.map(|c| &c.user).into_iter().collect();
    fapi.envelope(&sign_up, current, &known).await
}

/// A name: absent (unchanged), null (cleared) or a value.
fn name(p: &Params, field: &str) -> Option<Option<String>> {
    match p.field(field) {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(v) => Some(Some(v.to_owned())),
    }
}

/// The fields of a create or update.
fn fields(p: &Params) -> Result<SignUpFields, Error> {
    if let Some(strategy) = p.str("strategy") {
        // OAuth, SAML, tickets and Web3 need providers this server does not run.
        return Err(Error::new(Code::FormParamValueInvalid)
            .param("strategy")
            .long(format!(
                "The {strategy} strategy is not supported by this application."
            )));
    }
    let text = |name: &str| p.str(name).map(str::to_owned);
    Ok(SignUpFields {
        email_address: text("email_address"),
        phone_number: text("phone_number"),
        username: text("username"),
        first_name: name(p, "first_name"),
        last_name: name(p, "last_name"),
        password: text("password"),
        unsafe_metadata: p.object("unsafe_metadata")?,
        legal_accepted: p.bool("legal_accepted")?,
    })
}

async fn create(fapi: Fapi) -> Result<Reply, Error> {
    let cmd = &fields(&fapi.params)?;
    let (app, origin) = (&fapi.app, &fapi.origin());
    let (current, created) = fapi
        .on_client(ClientNeed::ExistingOrNew, |mut c| async move {
            let out = sign_up::create(app, &mut c, cmd, origin).await?;
            Ok((c, out))
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
    let rendered = render::sign_up(s, &fapi.app.capabilities);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn update(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let (id, cmd) = (&id, &fields(&fapi.params)?);
    let (app, origin) = (&fapi.app, &fapi.origin());
    let (current, created) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            let out = sign_up::update(app, &mut c, id, cmd, origin).await?;
            Ok((c, out))
        })
        .await?;
    answer(&fapi, &current, created.as_ref()).await
}

async fn prepare_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let cmd = &PrepareVerification {
        strategy: parse_strategy("strategy", fapi.params.required("strategy")?)?,
    };
    let (app, id) = (&fapi.app, &id);
    let (current, ()) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            sign_up::prepare_verification(app, &mut c, id, cmd).await?;
            Ok((c, ()))
        })
        .await?;
    answer(&fapi, &current, None).await
}

async fn attempt_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let cmd = &AttemptVerification {
        strategy: parse_strategy("strategy", p.required("strategy")?)?,
        code: p.required("code")?.to_owned(),
    };
    let (app, id, origin) = (&fapi.app, &id, &fapi.origin());
    let (current, created) = fapi
        .on_client(ClientNeed::Existing, |mut c| async move {
            let out = sign_up::attempt_verification(app, &mut c, id, cmd, origin).await?;
            Ok((c, out))
        })
        .await?;
    answer(&fapi, &current, created.as_ref()).await
}
