//! The port webhook messages leave through: one signed POST per attempt. The flow that
//! delivers them is `crate::flows::webhooks`; the HTTP(S) adapter is [`http`].

pub mod http;

use async_trait::async_trait;

/// How a message goes over the wire: one POST, its status code or why there was none.
#[async_trait]
pub trait Transport: Send + Sync {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> std::result::Result<u16, String>;
}
