#![allow(dead_code)]

//! A Rechat outage on the Lambda set-up (issue 25): the `deliver` binary under `cargo
//! lambda watch`, moto's SQS FIFO queue and DynamoDB ledger, and `POLLERS` event-source
//! pollers (receive ten, invoke, delete what is not reported failed). Leads wait on the
//! queue while Rechat fails every call; it comes back; the figures say what that cost.
//! Shared by the test `lambda_outage` (short) and the bench of the same name.

use inlet::envelope::{EnvelopeBuilder, OriginKind, Step};
use inlet::lead::Lead;
use inlet::ledger::Ledger;
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::queue::Queue;
use inlet::queue::sqs::SqsQueue;
use inlet_testkit::{Fault, Moto, RechatDouble};
use inlet_tests::watch::{CHANNEL, Watch, deploy_with_receive_limit, function_env};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Lambda's FIFO event source starts with a few concurrent batches; each is one invocation.
pub const POLLERS: usize = 3;

#[derive(Debug)]
pub struct Figures {
    pub leads: usize,
    pub outage: Duration,
    pub failed_calls: usize,
    pub to_first: Duration,
    pub to_last: Duration,
    pub order_violations: usize,
    /// ReceiveMessage calls, and the messages they returned, during the outage.
    pub receive_calls_during: usize,
    pub received_during: usize,
    /// The pollers' time inside ReceiveMessage after Rechat's return, over `POLLERS`: how
    /// much of the recovery was the queue handing out messages (moto: one thread, and its
    /// FIFO receive scans the whole queue).
    pub receiving_after: Duration,
    /// What the ledger said midway.
    pub state_during: inlet::breaker::RechatState,
    /// The reasons of what was on the dead-letter queue once every lead arrived.
    pub dead_letters: Vec<String>,
}

/// `deliver`: the function binary (the test's debug build, the bench's release build);
/// `max_receives`: the queue's redrive limit (template.yaml: 1,000).
pub async fn run(
    deliver: &std::path::Path,
    outage: Duration,
    leads: usize,
    probe_secs: &str,
    max_receives: u32,
) -> Figures {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let routing = format!("[email.tags]\nmain = \"{CHANNEL}\"\n");
    let deployed = deploy_with_receive_limit(
        &aws,
        &routing,
        b"From: a@example.com\r\n\r\nx",
        max_receives,
    )
    .await;
    let double = RechatDouble::start().await;
    double.go_down(Fault::Status(503));
    let logs = std::env::temp_dir().join(format!("inlet-lambda-outage-{}", std::process::id()));
    let mut watch = Watch::start(&logs);
    let mut env = function_env(moto.endpoint(), double.url(), &deployed);
    env.push(("INLET_PROBE_SECS", probe_secs.to_owned()));
    for _ in 0..POLLERS {
        watch.start_function(deliver, "deliver", 128, &env);
    }
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        deployed.queue_url.clone(),
        deployed.dlq_url.clone(),
    );
    for n in 0..leads {
        let email = format!("lambda-outage{n}@example.com");
        let envelope =
            EnvelopeBuilder::new(OriginKind::Webhook, "rechat-api", CHANNEL, email.as_bytes())
                .step(Step::Capture {
                    lead: Lead {
                        first_name: Some("Ana".into()),
                        email: Some(email.clone()),
                        ..Lead::default()
                    },
                    sender_lead_id: None,
                })
                .build();
        queue.send(&envelope).await.unwrap();
    }
    let started = Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    let (calls, received) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Microseconds spent receiving since Rechat's return, summed over the pollers.
    let (back_flag, receiving) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let watch = Arc::new(watch);
    let pollers: Vec<_> = (0..POLLERS)
        .map(|_| {
            let (queue, watch, stop) = (queue.clone(), watch.clone(), stop.clone());
            let (calls, received) = (calls.clone(), received.clone());
            let (back_flag, receiving) = (back_flag.clone(), receiving.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let batch = inlet_tests::watch::receive_batch(&queue).await;
                    if back_flag.load(Ordering::Relaxed) {
                        receiving.fetch_add(t.elapsed().as_micros() as usize, Ordering::Relaxed);
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                    received.fetch_add(batch.len(), Ordering::Relaxed);
                    if !batch.is_empty() {
                        watch.deliver_batch(&http, &queue, &batch).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(outage / 2).await;
    let ledger = DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        "inlet-ledger",
        Duration::from_secs(86_400),
    );
    let state_during = ledger.rechat_state().await.unwrap();
    tokio::time::sleep(outage.saturating_sub(started.elapsed())).await;

    double.come_back();
    back_flag.store(true, Ordering::Relaxed);
    let back = Instant::now();
    let (receive_calls_during, received_during) = (
        calls.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed),
    );
    let failed_calls = double
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    let limit = Duration::from_secs(300) + outage;
    let mut dead_letters = Vec::new();
    let mut polls = 0u32;
    while double.leads().len() < leads {
        // A lead dead-lettered will never arrive: looked for every few seconds.
        polls += 1;
        if polls.is_multiple_of(50) {
            dead_letters = queue.dead_letters().await.unwrap_or_default();
        }
        assert!(
            back.elapsed() < limit && double.leads().len() + dead_letters.len() < leads,
            "{} of {leads} leads delivered, {} dead-lettered\n{}",
            double.leads().len(),
            dead_letters.len(),
            watch.function_log("deliver")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead_letters = queue
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.dead_letter.reason)
        .collect();
    stop.store(true, Ordering::Relaxed);
    for p in pollers {
        let _ = p.await;
    }
    let (to_first, to_last) = double.captures_after(back);
    Figures {
        leads,
        outage,
        failed_calls,
        to_first,
        to_last,
        order_violations: double.order_violations().len(),
        receive_calls_during,
        received_during,
        receiving_after: Duration::from_micros(
            (receiving.load(Ordering::Relaxed) / POLLERS) as u64,
        ),
        state_during,
        dead_letters,
    }
}

/// The queue alone, no delivery: `leads` messages sent, then received and deleted by
/// `POLLERS` pollers as fast as moto hands them out. The floor under any recovery time on
/// this set-up.
pub async fn queue_alone(leads: usize) -> Duration {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let (queue_url, dlq_url) =
        SqsQueue::create_fifo_pair(&aws_sdk_sqs::Client::new(&aws), "inlet-floor", 1000, 10)
            .await
            .unwrap();
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url, dlq_url);
    for n in 0..leads {
        let email = format!("floor{n}@example.com");
        let envelope =
            EnvelopeBuilder::new(OriginKind::Webhook, "rechat-api", CHANNEL, email.as_bytes())
                .step(Step::Capture {
                    lead: Lead {
                        email: Some(email.clone()),
                        ..Lead::default()
                    },
                    sender_lead_id: None,
                })
                .build();
        queue.send(&envelope).await.unwrap();
    }
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let pollers: Vec<_> = (0..POLLERS)
        .map(|_| {
            let (queue, done) = (queue.clone(), done.clone());
            tokio::spawn(async move {
                while done.load(Ordering::Relaxed) < leads {
                    for m in inlet_tests::watch::receive_batch(&queue).await {
                        queue
                            .delete(false, m.receipt_handle.as_deref().unwrap())
                            .await
                            .unwrap();
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for p in pollers {
        p.await.unwrap();
    }
    started.elapsed()
}
