//! The `webhook` Lambda function: HTTP intake, queued to SQS. Wiring only; the router is
//! `inlet::intake`, the same one `inlet serve` runs.

use inlet::config::Config;
use inlet::intake::{Intake, IntakeSettings, lambda};
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::queue::sqs::SqsQueue;
use lambda_http::{Error, Request, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    inlet::telemetry::init();
    let config = Config::load(None)?;
    let (queue_url, table) = config.require_webhook()?;
    let aws = aws_config::load_from_env().await;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url, "");
    let ledger = DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        config.ledger_ttl,
    );
    let mut settings = IntakeSettings::from_config(&config)?;
    if settings.forms.secret.is_empty() {
        // Timestamps then hold for this instance only; set INLET_FORM_SECRET to share one.
        tracing::warn!(
            "INLET_FORM_SECRET is not set: form timestamps are signed with a per-instance key"
        );
        settings.forms.secret = uuid::Uuid::new_v4().as_bytes().to_vec();
    }
    let intake = Intake {
        queue: Arc::new(queue),
        ledger: Arc::new(ledger),
        settings,
        captcha: Arc::new(inlet::forms::spam::HttpCaptchaVerifier::new()),
    };
    let intake = &intake;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(lambda::handle(intake, req).await)
    }))
    .await
}
