//! What handlers return, and how the Clerk error body is rendered (the one place it is).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Code, Error};
use crate::model::wire;

/// What the response should tell the caller about its client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUpdate {
    /// The client token to hold from now on; `None` when the client is gone.
    pub token: Option<String>,
    /// Unix seconds for `__client_uat`: when the client last changed while signed in, 0 when
    /// signed out.
    pub client_uat: i64,
    /// The last active session's current token, for the `__session` cookie (cookie mode):
    /// taken from the answer itself by [`Reply::token`] when the handler does not give one.
    pub session_token: Option<String>,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub token: Option<TokenUpdate>,
}

impl Reply {
    /// The `{response, client}` envelope every mutating endpoint answers with.
    pub fn envelope<T: Serialize>(response: &T, client: Option<&wire::Client>) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "response": response, "client": client }),
            token: None,
        }
    }

    /// A bare object (environment, tokens, dev browser, JWKS).
    pub fn bare<T: Serialize>(body: &T) -> Self {
        Self {
            status: StatusCode::OK,
            body: serde_json::to_value(body).unwrap_or(Value::Null),
            token: None,
        }
    }

    pub fn token(mut self, mut update: TokenUpdate) -> Self {
        if update.session_token.is_none() && update.client_uat != 0 {
            update.session_token = last_active_token(&self.body);
        }
        self.token = Some(update);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(update) = self.token {
            response.extensions_mut().insert(update);
        }
        response
    }
}

/// The token of the client's last active session, as the rendered `client` carries it.
fn last_active_token(body: &Value) -> Option<String> {
    let client = &body["client"];
    let id = client["last_active_session_id"].as_str()?;
    client["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["id"].as_str() == Some(id))?["last_active_token"]["jwt"]
        .as_str()
        .map(str::to_owned)
}

/// An error travelling out of a handler; the outer layer renders it with the trace id.
#[derive(Debug, Clone)]
pub struct PendingError(pub Error);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        response.extensions_mut().insert(PendingError(self));
        response
    }
}

/// Renders the Clerk error body: `{"errors":[…],"clerk_trace_id":…}` with Clerk's status.
pub fn render_error(error: &Error, trace_id: &str) -> Response {
    if error.status() >= 500 {
        tracing::error!(code = %error.code, detail = ?error.internal, "request failed");
    } else {
        tracing::info!(code = %error.code, "request refused");
    }
    let body = json!({
        "errors": [error.to_clerk_json()],
        "clerk_trace_id": trace_id,
    });
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(v) = error
        .retry_after_secs
        .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

pub async fn not_found() -> Error {
    Error::not_found().long("No route matches this request.")
}

/// A known path with another method. For a Backend API call (a `Bearer sk_…` header) that is
/// an endpoint this API does not serve (e.g. `GET /v1/users`, the list, beside `POST`):
/// Clerk's 404, as for any other unserved Backend API call.
pub async fn method_not_allowed(headers: http::HeaderMap) -> Error {
    if super::caller::presented_secret_key(&headers).is_some() {
        Error::not_found().long("The Backend API does not serve this endpoint.")
    } else {
        Error::new(Code::MethodNotAllowed)
    }
}

/// A browser sent back to an app page after leaving it (a provider's callback, an email link):
/// a 303, never cached, with the client's token when it changed (the outer layer hands it over
/// by the caller's transport, as for any answer).
pub fn see_other(
    location: &str,
    token: Option<String>,
    client_uat: i64,
) -> Result<Response, Error> {
    let location = HeaderValue::from_str(location)
        .map_err(|_| Error::new(Code::InvalidRedirectUrl).param("redirect_url"))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(token) = token {
        response.extensions_mut().insert(TokenUpdate {
            token: Some(token),
            client_uat,
            session_token: None,
        });
    }
    Ok(response)
}
