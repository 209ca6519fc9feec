//! Requests to identity providers (discovery, signing keys, the code exchange, profiles): the
//! narrow trait the social flows use (its implementation over hyper is `super::hyper`).

use async_trait::async_trait;
use bytes::Bytes;

/// The methods providers are called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request to a provider.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    /// A form body (`application/x-www-form-urlencoded`), for the token endpoint.
    pub form: Option<Vec<(&'static str, String)>>,
}

impl ProviderRequest {
    pub fn get(url: &str) -> Self {
        Self {
            method: Method::Get,
            url: url.to_owned(),
            headers: vec![("accept", "application/json".to_owned())],
            form: None,
        }
    }

    pub fn post_form(url: &str, form: Vec<(&'static str, String)>) -> Self {
        Self {
            method: Method::Post,
            url: url.to_owned(),
            headers: vec![("accept", "application/json".to_owned())],
            form: Some(form),
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A provider's answer: its status and (at most
/// [`crate::security::PROVIDER_RESPONSE_MAX_BYTES`] of) its body.
#[derive(Debug, Clone)]
pub struct ProviderResponse {
    pub status: u16,
    pub body: Bytes,
}

impl ProviderResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("answer is not the JSON expected: {e}"))
    }
}

/// How the social flows reach providers.
#[async_trait]
pub trait ProviderHttp: Send + Sync {
    /// Sends `request`; `Err` is a transport failure (no answer, too slow, too large).
    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, String>;
}
