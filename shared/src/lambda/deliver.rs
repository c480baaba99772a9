//! The `deliver` function's adapter: an SQS event in, a partial batch response out.

use crate::deliver::{BatchReport, Delivery};
use crate::queue::QueueMessage;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// The records of an SQS event as queue messages, in the event's order.
pub fn messages(event: SqsEvent) -> Vec<QueueMessage> {
    event
        .records
        .into_iter()
        .map(|r| QueueMessage {
            // A record without an id is reported with an empty one, which fails the whole
            // batch: safe, since nothing is lost.
            message_id: r.message_id.unwrap_or_default(),
            receipt_handle: r.receipt_handle,
            body: r.body.unwrap_or_default(),
            group_id: r.attributes.get("MessageGroupId").cloned(),
            receive_count: r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            not_before: crate::queue::sqs::not_before(
                r.message_attributes
                    .get("not_before")
                    .and_then(|a| a.string_value.as_deref()),
            ),
        })
        .collect()
}

/// The partial batch response: every message that stays on the queue.
pub fn batch_response(report: &BatchReport) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = report
        .failed()
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.to_owned();
            failure
        })
        .collect();
    response
}

/// The whole handler: deliver the event's messages, report what stays queued.
pub async fn handle(delivery: &Delivery<'_>, event: SqsEvent) -> SqsBatchResponse {
    let report = delivery.deliver_batch(messages(event)).await;
    batch_response(&report)
}

/// Starts the `deliver` function from the environment.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use crate::config::Config;
    use crate::ledger::dynamodb::DynamoLedger;
    use crate::queue::sqs::SqsQueue;
    use crate::rechat::RechatClient;
    use lambda_runtime::{LambdaEvent, service_fn};

    crate::telemetry::init();
    let tls = crate::tls::lambda_client_config()?;
    let aws = crate::sdk::lambda_config(tls.clone()).await;
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
    let meta = config.meta_client(Some(&tls))?;
    let options = config.delivery_options();
    // One per warm container; its state is shared with every other through the ledger.
    let breaker = crate::deliver::Breaker::default();
    let delivery = Delivery {
        breaker: &breaker,
        meta: meta
            .as_ref()
            .map(|m| m as &dyn crate::meta_graph::MetaLeads),
        rechat: &rechat,
        ledger: &ledger,
        queue: &queue,
        options,
    };
    let delivery = &delivery;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(handle(delivery, event.payload).await)
    }))
    .await
}
