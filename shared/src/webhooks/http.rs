//! The webhook transport over HTTP(S): one POST per attempt, built once per process (the TLS
//! stack and the machine's trusted roots, the same hyper and rustls the AWS clients use).

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Transport;

pub struct HttpTransport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpTransport {
    /// A client for `http` and `https` endpoints, trusting the platform's roots.
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
impl Transport for HttpTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<u16, String> {
        let mut req = http::Request::post(url).header("user-agent", "Frontdoor-Webhooks/1");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| format!("request: {e}"))?;
        let res = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("connection: {e}"))?;
        // The answer's body is not read: only its status counts.
        Ok(res.status().as_u16())
    }
}
