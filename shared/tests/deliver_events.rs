//! The `deliver` handler on the sample events in `events/` (the same files
//! `cargo lambda invoke` sends).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use inlet::deliver::{Breaker, Delivery, DeliveryOptions};
use inlet::lambda::deliver as lambda;
use inlet::ledger::memory::MemoryLedger;
use inlet::queue::memory::RecordingQueue;
use inlet::rechat::{RechatClient, RechatConfig};
use inlet_testkit::{RechatDouble, Route};

/// Runs the handler on `events/<name>` against a fresh double: the double, the queue (its
/// dead letters) and the handler's answer.
async fn deliver(name: &str) -> (RechatDouble, RecordingQueue, SqsBatchResponse) {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let double = RechatDouble::start().await;
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        ..RechatConfig::default()
    })
    .unwrap();
    let (ledger, queue) = (MemoryLedger::new(), RecordingQueue::default());
    let breaker = Breaker::default();
    let delivery = Delivery {
        breaker: &breaker,
        meta: None,
        rechat: &client,
        ledger: &ledger,
        queue: &queue,
        options: DeliveryOptions::default(),
    };
    let response = lambda::handle(&delivery, event).await;
    (double, queue, response)
}

#[tokio::test]
async fn the_sample_batch_is_delivered_with_no_failures() {
    let (double, _, response) = deliver("sqs-deliver.json").await;
    assert!(response.batch_item_failures.is_empty());
    let count = |route| {
        double
            .requests()
            .iter()
            .filter(|r| r.route == Some(route))
            .count()
    };
    assert_eq!((count(Route::Capture), count(Route::Timeline)), (2, 1));
    let leads = double.leads();
    let ana = leads
        .iter()
        .find(|l| l.payload["first_name"] == "Ana")
        .unwrap();
    assert_eq!(ana.timeline[0]["action"], "ContactViewedListing");
    let ben = leads
        .iter()
        .find(|l| l.payload["first_name"] == "Ben")
        .unwrap();
    assert_eq!(ben.assignees[0]["mls_id"], "12345678");
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_fail_nothing() {
    let (double, queue, response) = deliver("sqs-poison.json").await;
    assert!(response.batch_item_failures.is_empty());
    let dead = queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead.len(), 2);
    assert!(dead[0].1.reason.contains("unreadable envelope"));
    assert!(dead[1].1.reason.contains("version 9"));
    assert!(double.requests().is_empty());
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json, serde_json::json!({"batchItemFailures": []}));
}
