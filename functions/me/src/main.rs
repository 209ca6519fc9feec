//! The me Lambda: settings, store and keys loaded once per cold start, then events.

#[tokio::main]
async fn main() -> Result<(), frontdoor::lambda::LambdaError> {
    frontdoor::lambda::run_profile(fn_me::routes).await
}
