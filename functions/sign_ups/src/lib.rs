//! The sign-ups group: `/v1/client/sign_ups/**`. A route table; each handler parses its typed
//! command and runs it (`frontdoor::flows::sign_up`) as one unit of work.

use axum::Router;
use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::sign_up::{
    AttemptVerification, CreateSignUp, Created, PrepareVerification, SignUpFields, UpdateSignUp,
};
use frontdoor::flows::social::{
    Hints, Return, StartSignUp, TokenSignUp, TokenStrategy, TransferToSignUp,
};
use frontdoor::http::{Fapi, Field, Params, Reply, Route, route_table, with_oauth_binding};
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

/// What a create or update asks for besides its fields.
enum Kind {
    Fields,
    /// `oauth_*`: through a provider, which the user is sent to.
    Social(String),
    /// `google_one_tap` / `oauth_token_apple` with the provider's ID token.
    Token(TokenStrategy, String),
    /// `transfer: true`: take over the client's sign-in whose provider account has no user.
    Transfer,
}

fn kind(p: &Params) -> Result<Kind, Error> {
    if p.bool("transfer")? == Some(true) {
        return Ok(Kind::Transfer);
    }
    let Some(strategy) = p.text("strategy")? else {
        return Ok(Kind::Fields);
    };
    if let Some(t) = TokenStrategy::parse(strategy) {
        return Ok(Kind::Token(t, p.required("token")?.to_owned()));
    }
    if strategy.starts_with("oauth_") {
        return Ok(Kind::Social(strategy.to_owned()));
    }
    // SAML, tickets and Web3 need providers this server does not run.
    Err(Error::new(Code::FormParamValueInvalid)
        .param("strategy")
        .long(format!(
            "The {strategy} strategy is not supported by this application."
        )))
}

fn social_start(p: &Params, id: Option<String>, strategy: String) -> Result<StartSignUp, Error> {
    let text = |name: &str| p.text(name).map(|v| v.map(str::to_owned));
    Ok(StartSignUp {
        id,
        strategy,
        back: Return {
            redirect_url: text("redirect_url")?,
            action_complete_redirect_url: text("action_complete_redirect_url")?,
        },
        hints: Hints {
            login_hint: text("oidc_login_hint")?,
            prompt: text("oidc_prompt")?,
            additional_scopes: Vec::new(),
        },
        fields: fields(p)?,
        binding: Default::default(),
    })
}

/// The fields of a create or update.
fn fields(p: &Params) -> Result<SignUpFields, Error> {
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

async fn create(fapi: Fapi) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse as _;
    let p = &fapi.params;
    let done = match kind(p)? {
        Kind::Fields => fapi.run(&CreateSignUp { fields: fields(p)? }).await?,
        Kind::Social(strategy) => return social(&fapi, social_start(p, None, strategy)?).await,
        Kind::Token(strategy, token) => {
            let fields = fields(p)?;
            fapi.run(&TokenSignUp {
                strategy,
                token,
                fields,
            })
            .await?
        }
        Kind::Transfer => fapi.run(&TransferToSignUp { fields: fields(p)? }).await?,
    };
    Ok(answer(&fapi, done).await?.into_response())
}

/// A sign-up through a provider: the answer, with the cookie that binds the flow to this
/// browser (a web flow's).
async fn social(fapi: &Fapi, cmd: StartSignUp) -> Result<axum::response::Response, Error> {
    let reply = answer(fapi, fapi.run(&cmd).await?).await?;
    Ok(with_oauth_binding(
        &fapi.app.settings,
        reply,
        cmd.binding.take(),
    ))
}

async fn show(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let current = match fapi.query.str("rotating_token_nonce") {
        Some(nonce) => fapi.collect_rotated_token(&id, nonce).await?,
        None => fapi.existing_client().await?,
    };
    let rendered = render::sign_up(current.sign_up(&id)?, &fapi.app.capabilities);
    fapi.envelope(&rendered, &current, &[]).await
}

async fn update(Path(id): Path<String>, fapi: Fapi) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse as _;
    let p = &fapi.params;
    let done = match kind(p)? {
        Kind::Social(strategy) => return social(&fapi, social_start(p, Some(id), strategy)?).await,
        Kind::Fields => {
            fapi.run(&UpdateSignUp {
                id,
                fields: fields(p)?,
            })
            .await?
        }
        Kind::Token(..) | Kind::Transfer => {
            return Err(Error::new(Code::FormParamValueInvalid)
                .param("strategy")
                .long("Start a new sign-up for this."));
        }
    };
    Ok(answer(&fapi, done).await?.into_response())
}

async fn prepare_verification(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy = parse_strategy("strategy", fapi.params.required("strategy")?)?;
    let sent = Default::default();
    let (current, ()) = fapi
        .run(&PrepareVerification {
            id,
            strategy,
            redirect_url: fapi.params.text("redirect_url")?.map(str::to_owned),
            sent,
        })
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
