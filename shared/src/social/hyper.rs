//! [`ProviderHttp`] over the hyper and rustls the AWS clients and webhooks already use: `https`
//! with the platform's roots, `http` for loopback providers in development and tests. Every
//! request has a deadline and every answer a size cap.

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::http::{Method, ProviderHttp, ProviderRequest, ProviderResponse};
use crate::security;

/// Built once per process, by the edge, when the instance has social connections.
pub struct HyperProviderHttp {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HyperProviderHttp {
    pub fn new() -> std::io::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

#[async_trait]
impl ProviderHttp for HyperProviderHttp {
    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, String> {
        let mut builder = http::Request::builder()
            .method(match request.method {
                Method::Get => http::Method::GET,
                Method::Post => http::Method::POST,
            })
            .uri(&request.url)
            .header("user-agent", "Frontdoor/1");
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let body = match &request.form {
            Some(form) => {
                builder = builder.header("content-type", "application/x-www-form-urlencoded");
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish()
            }
            None => String::new(),
        };
        let req = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let exchange = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("connection: {e}"))?;
            let status = res.status().as_u16();
            let body = Limited::new(res.into_body(), security::PROVIDER_RESPONSE_MAX_BYTES)
                .collect()
                .await
                .map_err(|e| format!("answer: {e}"))?
                .to_bytes();
            Ok(ProviderResponse { status, body })
        };
        tokio::time::timeout(security::PROVIDER_REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "no answer in time".to_owned())?
    }
}
