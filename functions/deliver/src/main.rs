//! The `deliver` Lambda function: SQS batches of envelopes to Rechat. Wiring only; the
//! logic is `inlet::deliver`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use inlet::config::Config;
use inlet::deliver::{Delivery, DeliveryOptions, lambda};
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::queue::sqs::SqsQueue;
use inlet::rechat::RechatClient;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    inlet::telemetry::init();
    let tls = inlet::tls::lambda_client_config()?;
    let aws = inlet::sdk::lambda_config(tls.clone()).await;
    let config = Config::load_lambda(&aws, false).await?;
    let settings = config.require_deliver()?;
    let rechat = RechatClient::with_tls(&config.rechat, Some(&tls))?;
    let ledger = DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        settings.ledger_table,
        config.ledger_ttl,
    );
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        settings.queue_url,
        settings.dead_letter_url,
    );
    let meta = config.meta_client(Some(&tls));
    let delivery = Delivery {
        meta: meta
            .as_ref()
            .map(|m| m as &dyn inlet::meta_graph::MetaLeads),
        rechat: &rechat,
        ledger: &ledger,
        queue: &queue,
        options: DeliveryOptions::from_config(&config),
    };
    let delivery = &delivery;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(lambda::handle(delivery, event.payload).await)
    }))
    .await
}
