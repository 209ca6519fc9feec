//! The sign_ups Lambda: settings, store and keys loaded once per cold start, then events.

#[tokio::main]
async fn main() -> Result<(), frontdoor::lambda::LambdaError> {
    frontdoor::lambda::run_sending(fn_sign_ups::routes).await
}
