//! The `email` Lambda function: mail SES stored in S3 (or handed over by SNS), read, routed
//! and queued. Wiring only; the decisions are `inlet::email`.

#[tokio::main]
async fn main() -> Result<(), inlet::lambda::Error> {
    inlet::lambda::email::run().await
}
