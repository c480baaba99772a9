//! The chaos run of issue 37 on the Lambda path: the real `deliver` under `cargo lambda
//! watch`, moto's SQS FIFO queue (redrive at 1,000, as deployed) and DynamoDB ledger, the
//! Rechat double answering 20% 5xx and 5% 429 with `Retry-After: 1`, the production retry
//! backoff (2 s doubling to 5 minutes), and `deliver` killed with kill -9 mid-batch now and
//! then (its batch comes back after the visibility timeout, to a fresh instance). Every lead
//! is delivered within 400 s, none twice beyond the captures the ledger marks uncertain.
//!
//! A hold for another lead's 429 is a receive on SQS; when the receive count drove the
//! backoff, it stretched the held leads' next delays toward five minutes.
//!
//! `INLET_CHAOS_LEADS` leads (60 in `make test`), `INLET_CHAOS_KILLS` kills (3).

use inlet::envelope::{EnvelopeBuilder, OriginKind, Step};
use inlet::lead::Lead;
use inlet::ledger::Ledger;
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::queue::Queue;
use inlet::queue::sqs::SqsQueue;
use inlet_testkit::{FaultRates, Moto, RechatDouble, Route, scale};
use inlet_tests::watch::{CHANNEL, Watch, deploy, function_binary, function_env, receive_batch};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_lambda_with_5xx_429_and_crashes_every_lead_arrives_within_the_drain() {
    let leads = scale("INLET_CHAOS_LEADS", 60);
    let kills = scale("INLET_CHAOS_KILLS", 3);
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let routing = format!("[email.tags]\nmain = \"{CHANNEL}\"\n");
    let deployed = deploy(&aws, &routing, b"From: a@example.com\r\n\r\nx").await;
    let double = RechatDouble::start().await;
    double.set_latency(Duration::from_millis(5));
    double.random_faults(
        FaultRates {
            server_error: 0.20,
            too_many_requests: 0.05,
            retry_after_secs: 1,
            ..FaultRates::default()
        },
        3037,
    );
    let logs = std::env::temp_dir().join(format!("inlet-lambda-chaos-{}", std::process::id()));
    let mut watch = Watch::start(&logs);
    let mut env = function_env(moto.endpoint(), double.url(), &deployed);
    env.push(("INLET_RETRY_BASE_MS", "2000".into()));
    env.push(("INLET_RETRY_CAP_SECS", "300".into()));
    let deliver = function_binary("deliver");
    watch.start_function(&deliver, "deliver", 128, &env);
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        deployed.queue_url.clone(),
        deployed.dlq_url.clone(),
    );
    let mut envelopes = Vec::new();
    for n in 0..leads {
        let email = format!("chaos{n}@example.com");
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
        envelopes.push(envelope);
    }

    let http = reqwest::Client::new();
    let crash_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let (mut batches, mut crashes) = (0, 0);
    while double.leads().len() < leads && started.elapsed() < Duration::from_secs(400) {
        let batch = receive_batch(&queue).await;
        if batch.is_empty() {
            continue;
        }
        batches += 1;
        if crashes < kills && batches % 5 == 3 {
            let event = serde_json::to_value(inlet_tests::sqs_event(&batch)).unwrap();
            let url = watch.url("/2015-03-31/functions/deliver/invocations");
            let invoke = tokio::spawn(crash_client.post(url).json(&event).send());
            tokio::time::sleep(Duration::from_millis(30 + 40 * crashes as u64)).await;
            watch.kill_function("deliver");
            let _ = invoke.await;
            watch.start_function(&deliver, "deliver", 128, &env);
            crashes += 1;
            continue;
        }
        watch.deliver_batch(&http, &queue, &batch).await;
    }
    let drain = started.elapsed();

    let mut captures: HashMap<String, usize> = HashMap::new();
    for l in double.leads() {
        *captures
            .entry(l.payload["email"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let mut calls: HashMap<String, usize> = HashMap::new();
    for r in double
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::Capture))
    {
        if let Some(email) = r.json()["email"].as_str() {
            *calls.entry(email.to_owned()).or_default() += 1;
        }
    }
    let ledger = DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        "inlet-ledger",
        Duration::from_secs(86_400),
    );
    let mut uncertain = 0;
    for e in &envelopes {
        if let Some(record) = ledger.get(&e.id).await.unwrap() {
            uncertain += record.uncertain_captures;
        }
    }
    let duplicates: usize = captures.values().map(|n| n - 1).sum();
    let dead = queue.dead_letters().await.unwrap();
    println!(
        "lambda chaos: {leads} leads, {crashes} deliver crashes: {} delivered in {:.1} s; at most {} capture calls for one lead; {duplicates} duplicated, {uncertain} uncertain in the ledger; {} dead-lettered; {batches} batches",
        captures.len(),
        drain.as_secs_f64(),
        calls.values().max().unwrap_or(&0),
        dead.len()
    );
    assert_eq!(
        captures.len(),
        leads,
        "{} of {leads} delivered within 400 s; dead letters {:?}\n{}",
        captures.len(),
        dead.iter()
            .map(|d| d.dead_letter.reason.as_str())
            .collect::<Vec<_>>(),
        watch.function_log("deliver")
    );
    assert!(
        duplicates as u32 <= uncertain,
        "{duplicates} duplicate captures but only {uncertain} reported as uncertain"
    );
    assert_eq!(crashes, kills, "deliver was crashed");
    let leaks = inlet_testkit::pii::findings(&watch.function_log("deliver"), &[]);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
