//! The production courier: email through SES v2, SMS through SNS (transactional, E.164).
//! Both clients are built once per cold start.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
use aws_sdk_sns::types::MessageAttributeValue;

use super::{Channel, Courier, Message};
use crate::error::{Error, Result};

pub struct AwsCourier {
    ses: aws_sdk_sesv2::Client,
    sns: aws_sdk_sns::Client,
    email_from: String,
    sms_sender_id: Option<String>,
}

impl AwsCourier {
    pub fn new(
        ses: aws_sdk_sesv2::Client,
        sns: aws_sdk_sns::Client,
        email_from: impl Into<String>,
        sms_sender_id: Option<String>,
    ) -> Self {
        Self {
            ses,
            sns,
            email_from: email_from.into(),
            sms_sender_id,
        }
    }

    /// Clients from the environment's configuration (region, credentials, endpoints).
    pub fn from_conf(
        conf: &aws_config::SdkConfig,
        email_from: impl Into<String>,
        sms_sender_id: Option<String>,
    ) -> Self {
        Self::new(
            aws_sdk_sesv2::Client::new(conf),
            aws_sdk_sns::Client::new(conf),
            email_from,
            sms_sender_id,
        )
    }

    async fn send_email(&self, m: &Message) -> Result<()> {
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| Error::internal(format!("SES content: {e}")))
        };
        let mut body = Body::builder().text(content(&m.text)?);
        if let Some(html) = &m.html {
            body = body.html(content(html)?);
        }
        let message = SesMessage::builder()
            .subject(content(&m.subject)?)
            .body(body.build())
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.email_from)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::internal(format!("SES SendEmail: {:?}", e.into_service_error())))
    }

    async fn send_sms(&self, m: &Message) -> Result<()> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| Error::internal(format!("SNS attribute: {e}")))
        };
        let mut req = self
            .sns
            .publish()
            .phone_number(&m.to)
            .message(&m.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attr("Transactional")?);
        if let Some(sender) = &self.sms_sender_id {
            req = req.message_attributes("AWS.SNS.SMS.SenderID", attr(sender)?);
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| Error::internal(format!("SNS Publish: {:?}", e.into_service_error())))
    }
}

#[async_trait]
impl Courier for AwsCourier {
    async fn send(&self, message: &Message) -> Result<()> {
        match message.channel {
            Channel::Email => self.send_email(message).await,
            Channel::Sms => self.send_sms(message).await,
        }
    }
}
