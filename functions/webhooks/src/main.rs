//! The webhook delivery Lambda: settings, store and the HTTPS client built once per cold start;
//! each invocation (new messages from DynamoDB Streams, or the one-minute schedule for retries)
//! sends what is due.

#[tokio::main]
async fn main() -> Result<(), frontdoor::lambda::LambdaError> {
    frontdoor::lambda::run_webhook_delivery().await
}
