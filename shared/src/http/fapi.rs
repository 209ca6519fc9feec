//! The request as a handler sees it: the application, the operation, the caller, the
//! parameters — and the helpers that find the caller's client and acting user and wrap an
//! answer in the `{response, client}` envelope.

use axum::body::Body;
use axum::extract::FromRequest;
use http::{Request, header};

use super::caller::Caller;
use super::caller::Transport;
use super::operation::Operation;
use super::params::Params;
use super::reply::{Reply, TokenUpdate};
use crate::app::App;
use crate::error::{Code, Error};

/// A FAPI request as a handler sees it: the application, the operation, the caller, and the
/// parameters. Extracting it applies the operation's abuse policy.
pub struct Fapi {
    pub app: App,
    pub operation: Operation,
    pub caller: Caller,
    /// Body parameters (form or JSON).
    pub params: Params,
    pub query: Params,
    /// The multipart body of an upload (a profile image), if one came.
    pub upload: Option<RawUpload>,
}

/// The raw body of an operation that takes a file (`Operation::takes_upload`), with its
/// content type: the group that serves the operation parses it (`multipart/form-data`), so the
/// multipart parser is linked only where uploads are taken.
#[derive(Debug, Clone)]
pub struct RawUpload {
    pub content_type: String,
    pub body: bytes::Bytes,
}

impl FromRequest<App> for Fapi {
    type Rejection = Error;

    async fn from_request(req: Request<Body>, app: &App) -> Result<Self, Error> {
        let caller = req
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Error::internal("request reached a handler without a caller"))?;
        let operation = req
            .extensions()
            .get::<Operation>()
            .copied()
            .ok_or_else(|| Error::internal("a route outside the operation table"))?;
        // A `Bearer sk_…` header makes the request a Backend API call: the key must be valid,
        // wherever it is presented (the JWKS takes one too). Backend operations need one.
        let secret_key = super::caller::presented_secret_key(req.headers());
        match &secret_key {
            Some(key) if !app.secret_key_valid(key).await? => {
                return Err(Error::new(Code::ClerkKeyInvalid));
            }
            None if operation.policy().secret_key => return Err(missing_secret_key()),
            _ => {}
        }
        if let Some(bucket) = operation.policy().bucket {
            crate::flows::rate_limit::hit(app, bucket, caller.ip.as_deref()).await?;
        }
        let query = Params::from_query(req.uri().query());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let (limit, too_large) = operation.body_limit();
        if declared.is_some_and(|n| n > limit) {
            return Err(Error::new(too_large));
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| Error::new(too_large))?;
        let (params, upload) = match content_type.as_deref() {
            // Only an upload takes a multipart body; anywhere else it is an unsupported type.
            Some(ct)
                if operation.takes_upload()
                    && ct.to_ascii_lowercase().starts_with("multipart/form-data") =>
            {
                let upload = RawUpload {
                    content_type: ct.to_owned(),
                    body: bytes,
                };
                (Params::default(), Some(upload))
            }
            ct => (Params::from_body(ct, &bytes)?, None),
        };
        Ok(Self {
            app: app.clone(),
            operation,
            caller,
            params,
            query,
            upload,
        })
    }
}

/// Clerk's Backend API answer to a request without a secret key.
fn missing_secret_key() -> Error {
    Error::new(Code::AuthenticationInvalid)
        .long("Unable to authenticate the request, you need to supply an active secret key.")
}

impl Fapi {
    /// The caller's client, if its token reaches one. A development browser's token must:
    /// clerk-js answers `dev_browser_unauthenticated` by creating a new development browser.
    pub async fn current_client(&self) -> Result<Option<crate::flows::client::Current>, Error> {
        use crate::flows::client;
        match self.caller.transport {
            Transport::DevBrowser => {
                client::resolve_dev_browser(&self.app, self.caller.token.as_deref())
                    .await
                    .map(Some)
            }
            _ => client::resolve(&self.app, self.caller.token.as_deref()).await,
        }
    }

    /// The id of the client the request itself carries, if its token reaches one (no error
    /// either way: for requests a browser makes on its own, a provider's callback or a link).
    pub async fn caller_client_id(&self) -> Option<String> {
        crate::flows::client::resolve(&self.app, self.caller.token.as_deref())
            .await
            .ok()
            .flatten()
            .map(|c| c.client().id.clone())
    }

    /// The caller's client, or a new one (not yet stored: the flow's transaction stores it).
    pub async fn current_or_new_client(&self) -> Result<crate::flows::client::Current, Error> {
        match self.current_client().await? {
            Some(current) => Ok(current),
            None => crate::flows::client::new_unsaved(&self.app),
        }
    }

    /// The caller's existing client; 404 when it has none.
    pub async fn existing_client(&self) -> Result<crate::flows::client::Current, Error> {
        self.current_client().await?.ok_or_else(Error::not_found)
    }

    /// `GET …/sign_ins/{id}?rotating_token_nonce=…` (and sign-ups): the native app's client,
    /// with its rotated token, once the nonce matches (401 otherwise).
    pub async fn collect_rotated_token(
        &self,
        attempt_id: &str,
        nonce: &str,
    ) -> Result<crate::flows::client::Current, Error> {
        let wrong = || Error::new(Code::AuthenticationInvalid);
        let mut retry = crate::flows::client::Retry::new();
        loop {
            let mut current =
                crate::flows::client::resolve_rotated(&self.app, self.caller.token.as_deref())
                    .await?
                    .ok_or_else(wrong)?;
            let write = crate::flows::social::collect_rotated_token(
                &self.app,
                &mut current,
                attempt_id,
                nonce,
            )?;
            let writes = vec![write, current.client_write()?];
            match crate::flows::client::commit(&self.app, writes).await {
                Ok(()) => return Ok(current),
                Err(e) if e.conflict => retry.after_conflict().await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// The user a `/v1/me` request acts for (`_clerk_session_id`, else the last active
    /// session); 401 `signed_out` when there is none.
    pub async fn acting(&self) -> Result<crate::flows::me::Acting, Error> {
        let current = self
            .current_client()
            .await?
            .ok_or_else(crate::flows::session::signed_out)?;
        crate::flows::me::acting(&self.app, current, self.query.str("_clerk_session_id")).await
    }

    /// Where the request came from, for session activity.
    pub fn origin(&self) -> crate::flows::command::Origin {
        crate::flows::command::Origin {
            ip: self.caller.ip.clone(),
            user_agent: self.caller.user_agent.clone(),
        }
    }

    /// The `{response, client}` envelope with the whole current client, and its token.
    /// `known_users` are users already in hand, which rendering need not read again.
    pub async fn envelope<T: serde::Serialize>(
        &self,
        response: &T,
        current: &crate::flows::client::Current,
        known_users: &[&crate::model::records::UserRecord],
    ) -> Result<Reply, Error> {
        let client =
            crate::flows::client::render(&self.app, &current.aggregate, known_users).await?;
        Ok(Reply::envelope(response, Some(&client)).token(TokenUpdate {
            token: Some(current.token.clone()),
            client_uat: current.client_uat_at(self.app.now_ms()),
            session_token: None,
        }))
    }

    /// The envelope for a sign-in or sign-up step: the attempt (it must exist after the flow)
    /// rendered by `render`, and the user the step created or signed in, when it did.
    pub async fn attempt_envelope<R, T: serde::Serialize>(
        &self,
        current: &crate::flows::client::Current,
        attempt: Option<&R>,
        render: fn(&R, &crate::capabilities::Capabilities) -> T,
        user: Option<&crate::model::records::UserRecord>,
    ) -> Result<Reply, Error> {
        let attempt =
            attempt.ok_or_else(|| Error::internal("the attempt is gone after its flow"))?;
        let rendered = render(attempt, &self.app.capabilities);
        let known: Vec<_> = user.into_iter().collect();
        self.envelope(&rendered, current, &known).await
    }
}
