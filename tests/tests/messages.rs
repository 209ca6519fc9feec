//! The SES v2 and SNS adapters against moto server (started by `make test`): the message reaches
//! the right destination with the code in its body, and a production instance delivers its
//! sign-up codes through them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use frontdoor::courier::aws::AwsCourier;
use frontdoor::courier::{Channel, Courier, Message};
use frontdoor_tests::{Device, TestApp, form, production_settings};
use http::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SENDER_DOMAIN: &str = "auth.example.test";

fn endpoint() -> Option<String> {
    match std::env::var("FRONTDOOR_TEST_DYNAMODB") {
        Ok(e) => Some(e),
        Err(_) if std::env::var("FRONTDOOR_REQUIRE_DYNAMODB").is_ok_and(|v| v == "1") => {
            panic!("FRONTDOOR_REQUIRE_DYNAMODB=1 but FRONTDOOR_TEST_DYNAMODB is not set")
        }
        Err(_) => {
            eprintln!("skipping: FRONTDOOR_TEST_DYNAMODB (moto) is not set");
            None
        }
    }
}

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A courier whose sender identity exists in moto (which rejects unverified senders).
async fn courier(endpoint: &str) -> AwsCourier {
    let conf = sdk_config(endpoint).await;
    let ses = aws_sdk_sesv2::Client::new(&conf);
    let _ = ses
        .create_email_identity()
        .email_identity(SENDER_DOMAIN)
        .send()
        .await;
    AwsCourier::from_conf(
        &conf,
        format!("noreply@{SENDER_DOMAIN}"),
        Some("Frontdoor".into()),
    )
}

/// moto's record of everything "sent": `GET /moto-api/data.json`.
async fn moto_data(endpoint: &str) -> Value {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(hostport).await.unwrap();
    let request = format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {hostport}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}-{nanos}", std::process::id())
}

async fn email_to(endpoint: &str, to: &str) -> Option<Value> {
    let data = moto_data(endpoint).await;
    data["ses"]["Message"]
        .as_array()?
        .iter()
        .find(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == to))
        })
        .cloned()
}

#[tokio::test]
async fn ses_delivers_the_code_to_the_address() {
    let Some(endpoint) = endpoint() else { return };
    let c = courier(&endpoint).await;
    let to = format!("{}@example.org", unique("ses"));
    c.send(&Message {
        channel: Channel::Email,
        to: to.clone(),
        subject: "492031 is your code".into(),
        text: "492031 is your Frontdoor code".into(),
        html: Some("<p>492031 is your Frontdoor code</p>".into()),
        code: "492031".into(),
    })
    .await
    .unwrap();
    let sent = email_to(&endpoint, &to)
        .await
        .expect("an email to the address");
    assert_eq!(sent["source"], format!("noreply@{SENDER_DOMAIN}"));
    assert!(sent["body"].as_str().unwrap().contains("492031"));
    assert_eq!(sent["subject"], "492031 is your code");
}

#[tokio::test]
async fn sns_delivers_the_code_to_the_number() {
    let Some(endpoint) = endpoint() else { return };
    let c = courier(&endpoint).await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let to = format!("+1415{:07}", nanos % 10_000_000);
    c.send(&Message {
        channel: Channel::Sms,
        to: to.clone(),
        subject: String::new(),
        text: "730114 is your Frontdoor code".into(),
        html: None,
        code: "730114".into(),
    })
    .await
    .unwrap();
    let data = moto_data(&endpoint).await;
    let sms = data["sns"]["SMS"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["phone_number"] == to.as_str())
        .cloned()
        .expect("an SMS to the number");
    assert!(sms["message"].as_str().unwrap().contains("730114"));
}

#[tokio::test]
async fn an_unknown_sender_is_a_delivery_failure_the_caller_sees() {
    let Some(endpoint) = endpoint() else { return };
    let conf = sdk_config(&endpoint).await;
    let c = AwsCourier::from_conf(&conf, "noreply@unverified.invalid", None);
    let r = c
        .send(&Message {
            channel: Channel::Email,
            to: "x@example.org".into(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
            code: "1".into(),
        })
        .await;
    assert!(r.is_err());
}

#[tokio::test]
async fn a_production_instance_sends_sign_up_codes_through_ses() {
    let Some(endpoint) = endpoint() else { return };
    let c = Arc::new(courier(&endpoint).await);
    let t = TestApp::with_courier(production_settings(), c).await;
    let mut d = Device::new(&t);
    let to = format!("{}@example.org", unique("prod"));
    let r = d
        .post(
            "/v1/client/sign_ups",
            &form(&[
                ("email_address", &to),
                ("password", "correct horse battery"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.body["response"]["id"].as_str().unwrap().to_owned();
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            "strategy=email_code",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sent = email_to(&endpoint, &to).await.expect("the code email");
    let body = sent["body"].as_str().unwrap();
    let code: String = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    assert!(body.contains("Frontdoor") && body.contains("10 minutes"));
    let r = d
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &form(&[("strategy", "email_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(r.body["response"]["status"], "complete", "{}", r.body);
}
