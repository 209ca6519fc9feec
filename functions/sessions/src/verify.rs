//! Session reverification: `/v1/client/sessions/{id}/verify/**`. Each handler parses its typed
//! command and runs it (`frontdoor::flows::reverification`) as one unit of work; the answer is
//! the `session_reverification` object with the whole client.

use axum::extract::Path;
use frontdoor::flows::client::Current;
use frontdoor::flows::command::ClientCommand;
use frontdoor::flows::reverification::{
    self, AttemptVerificationFirstFactor, AttemptVerificationSecondFactor,
    PrepareVerificationFirstFactor, PrepareVerificationSecondFactor, StartVerification,
};
use frontdoor::flows::sign_in::{FactorTarget, FirstFactorProof};
use frontdoor::http::{Fapi, Params, Reply};
use frontdoor::model::records::{ReverificationLevel, SessionRecord};
use frontdoor::vocabulary::{FirstFactor, SecondFactor, parse_strategy};
use frontdoor::{Code, Error};

/// Runs `cmd` and answers with the reverification and the whole client.
async fn answer<C>(fapi: Fapi, cmd: C) -> Result<Reply, Error>
where
    C: ClientCommand<Output = SessionRecord>,
{
    let (current, session): (Current, SessionRecord) = fapi.run(&cmd).await?;
    let user = fapi.app.repo.load_user(&session.user_id).await?;
    let known: Vec<_> = user.iter().collect();
    fapi.envelope(&reverification::render(&session)?, &current, &known)
        .await
}

fn target(p: &Params) -> Result<FactorTarget, Error> {
    Ok(FactorTarget {
        email_address_id: p.text("email_address_id")?.map(str::to_owned),
        phone_number_id: p.text("phone_number_id")?.map(str::to_owned),
        redirect_url: None,
    })
}

pub async fn start(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let level = fapi.params.required("level")?;
    let level: ReverificationLevel = level.parse().map_err(|_| {
        Error::new(Code::FormParamValueInvalid)
            .param("level")
            .long("level must be first_factor, second_factor or multi_factor.")
    })?;
    answer(fapi, StartVerification { id, level }).await
}

pub async fn prepare_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy: FirstFactor = parse_strategy("strategy", fapi.params.required("strategy")?)?;
    let target = target(&fapi.params)?;
    answer(
        fapi,
        PrepareVerificationFirstFactor {
            id,
            strategy,
            target,
            sent: Default::default(),
        },
    )
    .await
}

pub async fn attempt_first_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let p = &fapi.params;
    let proof = match parse_strategy("strategy", p.required("strategy")?)? {
        FirstFactor::Password => FirstFactorProof::Password(p.required("password")?.to_owned()),
        FirstFactor::Passkey => {
            FirstFactorProof::Passkey(p.required("public_key_credential")?.to_owned())
        }
        code => FirstFactorProof::Code(code, p.required("code")?.to_owned()),
    };
    answer(fapi, AttemptVerificationFirstFactor { id, proof }).await
}

pub async fn prepare_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy: SecondFactor = parse_strategy("strategy", fapi.params.required("strategy")?)?;
    let phone = fapi.params.text("phone_number_id")?.map(str::to_owned);
    let cmd = PrepareVerificationSecondFactor {
        id,
        strategy,
        phone_number_id: phone,
        sent: Default::default(),
    };
    answer(fapi, cmd).await
}

pub async fn attempt_second_factor(Path(id): Path<String>, fapi: Fapi) -> Result<Reply, Error> {
    let strategy: SecondFactor = parse_strategy("strategy", fapi.params.required("strategy")?)?;
    let code = fapi.params.required("code")?.to_owned();
    let cmd = AttemptVerificationSecondFactor { id, strategy, code };
    answer(fapi, cmd).await
}
