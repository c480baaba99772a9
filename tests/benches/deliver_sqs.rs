//! Delivery throughput: 1,000 envelopes from SQS (moto) in batches of 10, delivery
//! concurrency 10, against the Rechat double answering in 50 ms. The bound that latency
//! allows is 10 / 0.05 s = 200 leads/s; the figure is reported as a share of it.
//!
//! One consumer, as one Lambda invocation at a time would be, receiving the next batch
//! while the current one is delivered (Lambda's pollers do the same) and deleting what
//! succeeded with one batch call (Lambda does that too, outside the function).

use inlet::deliver::{Breaker, Delivery, DeliveryOptions};
use inlet::envelope::{EnvelopeBuilder, OriginKind, Step};
use inlet::lambda::deliver as lambda;
use inlet::lead::Lead;
use inlet::ledger::Ledger;
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::memory::MemoryLedger;
use inlet::queue::QueueMessage;
use inlet::queue::memory::RecordingQueue;
use inlet::queue::sqs::SqsQueue;
use inlet::rechat::{RechatClient, RechatConfig};
use inlet_testkit::{Moto, RechatDouble};
use std::time::{Duration, Instant};

const LEADS: usize = 1000;
const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: usize = 10;

fn envelope(i: usize) -> inlet::envelope::Envelope {
    EnvelopeBuilder::new(
        OriginKind::Webhook,
        "bench",
        "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
        b"",
    )
    .step(Step::Capture {
        lead: Lead {
            first_name: Some("Ana".into()),
            email: Some(format!("p{i}@example.com")),
            ..Lead::default()
        },
        sender_lead_id: None,
    })
    .build()
}

#[tokio::main]
async fn main() {
    // moto answers one call at a time (about 5 ms each here), where DynamoDB does not: the
    // same run with the ledger in memory shows what Inlet itself costs.
    for on_dynamodb in [true, false] {
        run(on_dynamodb).await;
    }
    without_moto().await;
}

/// The same 1,000 envelopes in batches of 10 with no moto at all (queue and ledger in
/// memory): what the delivery logic itself leaves of the latency bound.
async fn without_moto() {
    let double = RechatDouble::start().await;
    double.set_latency(LATENCY);
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
        options: DeliveryOptions {
            concurrency: CONCURRENCY,
            ..DeliveryOptions::default()
        },
    };
    let started = Instant::now();
    for b in 0..LEADS / 10 {
        let batch: Vec<_> = (b * 10..b * 10 + 10)
            .map(|i| {
                let e = envelope(i);
                QueueMessage {
                    message_id: i.to_string(),
                    receipt_handle: None,
                    body: e.to_json(),
                    group_id: Some(e.lead_key),
                    receive_count: 1,
                    not_before: None,
                }
            })
            .collect();
        let report = delivery.deliver_batch(batch).await;
        assert!(report.failed().is_empty());
    }
    let rate = LEADS as f64 / started.elapsed().as_secs_f64();
    let bound = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    println!(
        "deliver_sqs [no moto: queue and ledger in memory]: {rate:.1} leads/s = {:.0}% of the {bound:.0}/s bound",
        100.0 * rate / bound
    );
    assert_eq!(double.leads().len(), LEADS);
}

async fn run(on_dynamodb: bool) {
    let moto = Moto::shared();
    moto.reset();
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "bench", 1000, 60)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs.clone(), url.clone(), dlq);
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    DynamoLedger::create_table(&dynamo, "bench-ledger")
        .await
        .unwrap();
    let dynamo_ledger = DynamoLedger::new(dynamo, "bench-ledger", Duration::from_secs(86_400));
    let memory_ledger = MemoryLedger::new();
    let (ledger, label): (&dyn Ledger, &str) = if on_dynamodb {
        (&dynamo_ledger, "ledger on DynamoDB (moto)")
    } else {
        (&memory_ledger, "ledger in memory")
    };
    let double = RechatDouble::start().await;
    double.set_latency(LATENCY);
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        ..RechatConfig::default()
    })
    .unwrap();

    // moto's FIFO receive scans the whole queue (557 ms per receive with 1,000 waiting,
    // 65 ms with 100), so the queue is fed as it drains, as intake would feed it: a few
    // batches ahead, each sent with one batch call.
    let feed = |from: usize| {
        let (sqs, url) = (sqs.clone(), url.clone());
        tokio::spawn(async move {
            let mut call = sqs.send_message_batch().queue_url(url);
            for i in from..(from + 10).min(LEADS) {
                let envelope = envelope(i);
                call = call.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(envelope.to_json())
                        .message_group_id(envelope.lead_key)
                        .message_deduplication_id(envelope.id)
                        .build()
                        .unwrap(),
                );
            }
            call.send().await.unwrap();
        })
    };
    let mut sent = 0;
    while sent < 30 {
        feed(sent).await.unwrap();
        sent += 10;
    }

    let breaker = Breaker::default();
    let delivery = Delivery {
        breaker: &breaker,
        meta: None,
        rechat: &client,
        ledger,
        queue: &queue,
        options: DeliveryOptions {
            concurrency: CONCURRENCY,
            ..DeliveryOptions::default()
        },
    };
    let receive = |q: SqsQueue| tokio::spawn(async move { q.receive(false, 10, 0).await.unwrap() });
    let started = Instant::now();
    let mut next = receive(queue.clone());
    let mut deletes = Vec::new();
    let mut delivered = 0;
    let mut empty = 0;
    while delivered < LEADS && empty < 50 {
        let batch: Vec<_> = next.await.unwrap().into_iter().map(|(m, _)| m).collect();
        next = receive(queue.clone());
        if batch.is_empty() {
            empty += 1;
            continue;
        }
        let response = lambda::handle(&delivery, inlet_tests::sqs_event(&batch)).await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        let done: Vec<_> = batch
            .into_iter()
            .filter(|m| !failed.contains(&m.message_id))
            .collect();
        delivered += done.len();
        if sent < LEADS {
            deletes.push(feed(sent));
            sent += 10;
        }
        let (sqs, url) = (sqs.clone(), url.clone());
        deletes.push(tokio::spawn(async move {
            let mut call = sqs.delete_message_batch().queue_url(url);
            for (i, m) in done.iter().enumerate() {
                call = call.entries(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone().unwrap())
                        .build()
                        .unwrap(),
                );
            }
            call.send().await.unwrap();
        }));
    }
    let elapsed = started.elapsed();
    futures::future::join_all(deletes).await;
    let captured = double.leads().len();
    let rate = delivered as f64 / elapsed.as_secs_f64();
    let bound = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    println!(
        "deliver_sqs [{label}]: {delivered} envelopes delivered ({captured} captures at the double) in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "deliver_sqs [{label}]: {rate:.1} leads/s = {:.0}% of the {bound:.0}/s that {} ms latency × concurrency {CONCURRENCY} allows",
        100.0 * rate / bound,
        LATENCY.as_millis()
    );
    assert_eq!(captured, LEADS, "every lead once");
}
