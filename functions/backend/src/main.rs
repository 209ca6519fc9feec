//! The Backend API Lambda: settings, store and keys loaded once per cold start, then events.

#[tokio::main]
async fn main() -> Result<(), frontdoor::lambda::LambdaError> {
    frontdoor::lambda::run(fn_backend::routes).await
}
