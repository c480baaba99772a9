//! Delivery against real SQS FIFO and DynamoDB semantics (moto's server), with the Rechat
//! double: send → receive → the deliver handler on the received messages as an `SqsEvent`
//! → Rechat; then what Lambda does with the partial batch response.

use aws_lambda_events::event::sqs::SqsBatchResponse;
use inlet::deliver::{Breaker, Delivery, DeliveryOptions};
use inlet::envelope::{Envelope, EnvelopeBuilder, LeadRef, OriginKind, Step};
use inlet::lambda::deliver as lambda;
use inlet::lead::{Action, Activity, ActivityListing, Lead};
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::{Ledger, LedgerError, RecordStatus};
use inlet::queue::sqs::SqsQueue;
use inlet::queue::{Queue, QueueMessage};
use inlet::rechat::{RechatClient, RechatConfig};
use inlet_testkit::{Fault, Moto, RechatDouble, Route};
use std::time::Duration;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

struct Stack {
    _moto: tokio::sync::MutexGuard<'static, ()>,
    queue: SqsQueue,
    ledger: DynamoLedger,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
    double: RechatDouble,
    client: RechatClient,
    options: DeliveryOptions,
    breaker: Breaker,
}

async fn stack(max_receives: u32) -> Stack {
    let (moto, guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-leads", max_receives, 30)
        .await
        .unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let table = "inlet-ledger".to_owned();
    DynamoLedger::create_table(&dynamo, &table).await.unwrap();
    let double = RechatDouble::start().await;
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        connect_timeout: Duration::from_millis(500),
        total_timeout: Duration::from_millis(800),
    })
    .unwrap();
    Stack {
        _moto: guard,
        queue: SqsQueue::new(sqs, url, dlq),
        ledger: DynamoLedger::new(dynamo.clone(), &table, Duration::from_secs(86_400)),
        dynamo,
        table,
        double,
        client,
        options: DeliveryOptions {
            retry_base: Duration::from_secs(1),
            ..DeliveryOptions::default()
        },
        breaker: Breaker::default(),
    }
}

impl Stack {
    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            breaker: &self.breaker,
            meta: None,
            rechat: &self.client,
            ledger: &self.ledger,
            queue: &self.queue,
            options: self.options,
        }
    }

    async fn receive(&self) -> Vec<QueueMessage> {
        self.queue
            .receive(false, 10, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }

    /// One invocation as Lambda makes it: a received batch to the handler; the messages not
    /// reported as failures are deleted, unless `crash` (the function died before Lambda
    /// could delete them).
    async fn invoke(&self, crash: bool) -> (Vec<QueueMessage>, SqsBatchResponse) {
        let messages = self.receive().await;
        let response = lambda::handle(&self.delivery(), inlet_tests::sqs_event(&messages)).await;
        if !crash {
            let failed: Vec<_> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
                .collect();
            for m in &messages {
                if !failed.contains(&m.message_id) {
                    self.queue
                        .delete(false, m.receipt_handle.as_deref().unwrap())
                        .await
                        .unwrap();
                }
            }
        }
        (messages, response)
    }

    /// Invokes until the queue stays empty for a while (retries wait out their backoff).
    async fn drain(&self) {
        let mut idle = 0;
        while idle < 4 {
            let (messages, _) = self.invoke(false).await;
            if messages.is_empty() {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            } else {
                idle = 0;
            }
        }
    }
}

fn capture(email: &str, note: Option<&str>) -> Envelope {
    EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, email.as_bytes())
        .step(Step::Capture {
            lead: Lead {
                first_name: Some("Ana".into()),
                email: Some(email.into()),
                note: note.map(Into::into),
                ..Lead::default()
            },
            sender_lead_id: None,
        })
        .build()
}

fn with_activity(envelope: Envelope) -> Envelope {
    let mut e = envelope;
    e.steps.push(Step::Activity {
        target: LeadRef::Captured,
        activity: Activity::new(
            Action::ContactViewedListing,
            Some(ActivityListing {
                url: Some("https://example.com/l/1".into()),
                ..ActivityListing::default()
            }),
            None,
            None,
        )
        .unwrap(),
    });
    e
}

#[tokio::test]
async fn a_queued_envelope_reaches_rechat_as_capture_then_timeline() {
    let s = stack(5).await;
    let env = with_activity(capture("a@example.com", None));
    s.queue.send(&env).await.unwrap();
    let (messages, response) = s.invoke(false).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].group_id.as_deref(),
        Some(env.lead_key.as_str()),
        "group = lead_key"
    );
    assert!(response.batch_item_failures.is_empty());
    let routes: Vec<_> = s.double.requests().iter().map(|r| r.route).collect();
    assert_eq!(routes, vec![Some(Route::Capture), Some(Route::Timeline)]);
    assert!(
        s.receive().await.is_empty(),
        "the delivered message is gone"
    );
    let record = s.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.status, RecordStatus::Delivered);
    // The envelope id is the dedupe id, so SQS drops a repeat within its window (moto
    // does not keep dedupe ids after a delete; real SQS does, for five minutes).
    s.queue.send(&env).await.unwrap();
    let attributes = s
        .queue
        .client()
        .receive_message()
        .queue_url(s.queue.queue_url())
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap()
        .remove(0)
        .attributes
        .unwrap();
    let dedupe =
        &attributes[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId];
    assert_eq!(dedupe, &env.id);
}

#[tokio::test]
async fn a_lead_keeps_its_order_through_failures_and_retries() {
    let s = stack(10).await;
    // The person's first capture fails twice; the rest of their envelopes must wait.
    s.double
        .fail_next_n(Some(Route::Capture), Fault::Status(503), 2);
    for i in 0..4 {
        s.queue
            .send(&capture("a@example.com", Some(&format!("message {i}"))))
            .await
            .unwrap();
    }
    for i in 0..3 {
        s.queue
            .send(&capture(&format!("other{i}@example.com"), None))
            .await
            .unwrap();
    }
    s.drain().await;
    let notes: Vec<String> = s
        .double
        .leads()
        .iter()
        .filter(|l| l.payload["email"] == "a@example.com")
        .map(|l| l.payload["note"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        notes,
        vec!["message 0", "message 1", "message 2", "message 3"]
    );
    assert_eq!(s.double.leads().len(), 7, "everyone arrived once");
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_retried_past_the_queues_receive_limit() {
    // SQS counts every receive and redrives at maxReceiveCount whatever the consumer says:
    // a lead whose calls keep failing is put back as a new message before that, and waits
    // out its retry window, not the queue's limit (issue 37).
    let s = stack(2).await;
    s.double
        .fail_next_n(Some(Route::Capture), Fault::Status(500), 4);
    let env = capture("a@example.com", None);
    s.queue.send(&env).await.unwrap();
    // Retried after 1, 2, 4 and 8 s: twice the receive limit's worth of failures.
    let started = std::time::Instant::now();
    while s.double.leads().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not delivered after {} calls",
            s.double.requests().len()
        );
        let _ = s.invoke(false).await;
        assert!(
            s.queue.receive(true, 10, 0).await.unwrap().is_empty(),
            "dead-lettered after {} calls",
            s.double.requests().len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        s.double.requests().len(),
        5,
        "four failures, then delivered"
    );
    assert_eq!(s.double.leads().len(), 1);
}

#[tokio::test]
async fn a_lead_held_through_an_outage_outlives_the_queues_receive_limit() {
    // Rechat down for everyone, the lead held on every receive: more receives than
    // maxReceiveCount allows, none of them a failure of its own. It is still there when
    // Rechat answers, and delivered.
    let mut s = stack(4).await;
    s.options.breaker.min_hold = Duration::from_secs(1);
    s.double.go_down(Fault::Status(503));
    let now = chrono::Utc::now();
    s.ledger
        .put_rechat_state(&inlet::breaker::RechatState {
            unavailable_since: Some(now),
            next_probe_at: Some(now + chrono::Duration::hours(1)),
            version: 1,
            ..inlet::breaker::RechatState::default()
        })
        .await
        .unwrap();
    let env = capture("held@example.com", None);
    s.queue.send(&env).await.unwrap();
    let mut receives = 0;
    let started = std::time::Instant::now();
    while receives < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{receives} receives"
        );
        let (messages, _) = s.invoke(false).await;
        receives += messages.len();
        assert!(
            s.queue.receive(true, 10, 0).await.unwrap().is_empty(),
            "dead-lettered after {receives} receives while held"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        s.double.requests().is_empty(),
        "no call while Rechat was down"
    );
    s.double.come_back();
    s.ledger
        .put_rechat_state(&inlet::breaker::RechatState {
            recovered_at: Some(chrono::Utc::now()),
            version: 2,
            ..inlet::breaker::RechatState::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.drain().await;
    assert_eq!(s.double.leads().len(), 1, "delivered once Rechat answered");
    assert!(s.queue.receive(true, 10, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_that_never_gets_an_outcome_is_dead_lettered_saying_so() {
    // Poison that stops the function before it answers (a crash, a hang past the timeout)
    // still dead-letters at the receive limit: by Inlet itself on the last receive SQS
    // allows, with the reason and the dead-letter metric the alarm watches.
    let s = stack(3).await;
    let env = capture("poison@example.com", None);
    s.queue.send(&env).await.unwrap();
    for _ in 0..2 {
        // Received, and the function died: the message comes back at its timeout.
        let got = s.receive().await;
        assert_eq!(got.len(), 1);
        s.queue
            .change_visibility(got[0].receipt_handle.as_deref().unwrap(), 0)
            .await
            .unwrap();
    }
    let (messages, response) = s.invoke(false).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].receive_count, 3);
    assert!(response.batch_item_failures.is_empty());
    assert!(s.double.requests().is_empty(), "not tried a third time");
    let dead = s.queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].dead_letter.reason.contains("received 3 times"),
        "{:?}",
        dead[0].dead_letter
    );
    assert_eq!(
        dead[0].dead_letter.envelope_id.as_deref(),
        Some(env.id.as_str())
    );
}

#[tokio::test]
async fn the_ledger_prevents_a_second_capture_when_a_delivered_message_comes_back() {
    let s = stack(5).await;
    let env = capture("a@example.com", None);
    s.queue.send(&env).await.unwrap();
    // Delivered, then the function dies before Lambda deletes the message.
    let (messages, _) = s.invoke(true).await;
    s.queue
        .change_visibility(messages[0].receipt_handle.as_deref().unwrap(), 0)
        .await
        .unwrap();
    let (again, response) = s.invoke(false).await;
    assert_eq!(again.len(), 1, "SQS delivered it again");
    assert_eq!(again[0].receive_count, 2);
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(s.double.leads().len(), 1, "captured once");
}

#[tokio::test]
async fn a_later_step_failing_resumes_after_the_capture() {
    let s = stack(5).await;
    s.double
        .fail_next(Some(Route::Timeline), Fault::Status(503));
    let env = with_activity(capture("a@example.com", None));
    s.queue.send(&env).await.unwrap();
    let (_, response) = s.invoke(false).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let record = s.ledger.get(&env.id).await.unwrap().unwrap();
    assert!(
        record.rechat_lead_id.is_some(),
        "the lead id survived the failure"
    );
    s.drain().await;
    let captures = s
        .double
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::Capture))
        .count();
    assert_eq!(captures, 1);
    assert_eq!(s.double.leads()[0].timeline.len(), 1);
    assert_eq!(
        s.ledger.get(&env.id).await.unwrap().unwrap().status,
        RecordStatus::Delivered
    );
}

#[tokio::test]
async fn a_lost_success_costs_exactly_one_extra_capture_which_the_ledger_reports() {
    let s = stack(5).await;
    s.double.fail_next(
        Some(Route::Capture),
        Fault::LostSuccess(Duration::from_millis(1500)),
    );
    let env = capture("a@example.com", None);
    s.queue.send(&env).await.unwrap();
    s.drain().await;
    assert_eq!(s.double.leads().len(), 2, "one lost, one retried");
    let record = s.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!((record.capture_calls, record.uncertain_captures), (2, 1));
    assert_eq!(record.status, RecordStatus::Delivered);
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_with_its_reason_and_can_be_replayed() {
    let s = stack(5).await;
    s.double
        .only_channels(&["00000000-0000-4000-8000-000000000000"]);
    let env = capture("a@example.com", None);
    s.queue.send(&env).await.unwrap();
    let (_, response) = s.invoke(false).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "dead-lettered, not retried"
    );
    let dead = s.queue.receive(true, 10, 0).await.unwrap();
    assert_eq!(dead.len(), 1);
    let (message, attributes) = &dead[0];
    let reason = SqsQueue::dead_letter_of(attributes);
    assert!(
        reason.reason.contains("Lead channel not found"),
        "{reason:?}"
    );
    assert_eq!(reason.status, Some(404));
    assert_eq!(reason.failed_step.as_deref(), Some("capture"));
    assert_eq!(reason.envelope_id.as_deref(), Some(env.id.as_str()));
    assert_eq!(reason.group_id, env.lead_key);

    // The channel is fixed in Rechat; replaying delivers it.
    s.double.only_channels(&[CHANNEL]);
    s.queue
        .send_raw(&message.body, &reason.group_id)
        .await
        .unwrap();
    s.queue
        .delete(true, message.receipt_handle.as_deref().unwrap())
        .await
        .unwrap();
    s.drain().await;
    assert_eq!(s.double.leads().len(), 1);
    assert_eq!(
        s.ledger.get(&env.id).await.unwrap().unwrap().status,
        RecordStatus::Delivered
    );
}

#[tokio::test]
async fn the_dynamodb_ledger_writes_conditionally_and_expires_records() {
    let s = stack(5).await;
    let env = capture("a@example.com", None);
    let record = inlet::ledger::LedgerRecord::new(env.id.clone(), &env);
    assert!(s.ledger.create(&record).await.unwrap().is_none());
    let existing = s
        .ledger
        .create(&record)
        .await
        .unwrap()
        .expect("the second create finds the first");
    assert_eq!(existing, record);

    let mut next = record.clone();
    next.version = 1;
    next.attempts = 1;
    s.ledger.update(&next).await.unwrap();
    let mut stale = record.clone();
    stale.version = 1;
    assert!(matches!(
        s.ledger.update(&stale).await,
        Err(LedgerError::Conflict { .. })
    ));
    assert_eq!(s.ledger.get(&env.id).await.unwrap().unwrap().attempts, 1);

    let found = s.ledger.records_for_lead(&env.lead_key).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        s.ledger
            .records_for_lead("l-nobody")
            .await
            .unwrap()
            .is_empty()
    );

    let ttl = s
        .dynamo
        .describe_time_to_live()
        .table_name(&s.table)
        .send()
        .await
        .unwrap();
    let spec = ttl.time_to_live_description.unwrap();
    assert_eq!(spec.attribute_name.as_deref(), Some("expires_at"));
    let item = s
        .dynamo
        .get_item()
        .table_name(&s.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("env#{}", env.id)),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let in_a_day = chrono::Utc::now().timestamp() + 86_400;
    assert!(
        (expires - in_a_day).abs() < 60,
        "expires in the configured TTL"
    );
}

/// The listing index: the newest records of the last days, a day's partition at a time, newest
/// first, within the limit, and never a record from before `since`; what the console, /health
/// and `inlet status --stack` read instead of a scan.
#[tokio::test]
async fn the_dynamodb_ledger_lists_the_newest_records_day_by_day() {
    let s = stack(5).await;
    let now = chrono::Utc::now();
    let mut keys = Vec::new();
    for (n, hours_ago) in [(0, 1), (1, 26), (2, 30), (3, 75)] {
        let mut env = capture(&format!("p{n}@example.com"), None);
        env.received_at = now - chrono::Duration::hours(hours_ago);
        let record = inlet::ledger::LedgerRecord::new(env.id.clone(), &env);
        s.ledger.create(&record).await.unwrap();
        keys.push(record.key);
    }
    let listed = |since_hours: i64, limit: usize| {
        let ledger = &s.ledger;
        async move {
            ledger
                .records_since(now - chrono::Duration::hours(since_hours), limit)
                .await
                .unwrap()
                .expect("DynamoDB's ledger is listed")
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(48, 10).await,
        keys[..3],
        "newest first, none before since"
    );
    assert_eq!(listed(100, 10).await, keys, "back across days");
    assert_eq!(listed(100, 2).await, keys[..2], "within the limit");
    assert_eq!(listed(2, 10).await, keys[..1]);
    assert!(listed(0, 10).await.is_empty());
}

#[tokio::test]
async fn rechat_availability_in_dynamodb_is_written_only_over_the_version_read() {
    let s = stack(5).await;
    let mut state = s.ledger.rechat_state().await.unwrap();
    assert_eq!(state, inlet::breaker::RechatState::default());
    state.unavailable_since = Some(chrono::Utc::now());
    state.probes = 1;
    state.version = 1;
    s.ledger.put_rechat_state(&state).await.unwrap();
    assert!(matches!(
        s.ledger.put_rechat_state(&state).await,
        Err(LedgerError::Conflict { .. })
    ));
    let mut next = state.clone();
    next.probes = 2;
    next.version = 2;
    s.ledger.put_rechat_state(&next).await.unwrap();
    let skipped = inlet::breaker::RechatState {
        version: 4,
        ..next.clone()
    };
    assert!(s.ledger.put_rechat_state(&skipped).await.is_err());
    assert_eq!(s.ledger.rechat_state().await.unwrap(), next);
}

#[tokio::test]
async fn held_messages_on_sqs_come_back_after_the_hold_set_ten_per_call() {
    let s = stack(50).await;
    let queue = &s.queue;
    for i in 0..12 {
        queue
            .send(&capture(&format!("held{i}@example.com"), None))
            .await
            .unwrap();
    }
    let mut received = Vec::new();
    while received.len() < 12 {
        let batch = queue.receive(false, 10, 1).await.unwrap();
        assert!(!batch.is_empty(), "{} of 12 received", received.len());
        received.extend(batch.into_iter().map(|(m, _)| m));
    }
    let changes: Vec<inlet::queue::VisibilityChange> = received
        .iter()
        .enumerate()
        .map(|(i, m)| inlet::queue::VisibilityChange {
            receipt: m.receipt_handle.clone().unwrap(),
            seconds: if i < 6 { 0 } else { 600 },
            held: true,
        })
        .collect();
    queue.change_visibilities(&changes).await.unwrap();
    let mut back = 0;
    for _ in 0..3 {
        back += queue.receive(false, 10, 1).await.unwrap().len();
    }
    assert_eq!(
        back, 6,
        "the six with no hold, and not the six held ten minutes"
    );
}

#[tokio::test]
async fn a_leads_backoff_on_sqs_follows_its_own_failures_not_the_receives_it_was_held_for() {
    // SQS counts the receives a lead was held for (Rechat pacing everyone after another
    // lead's 429): six of them, no call. Its first failure of its own then waits the first
    // step of the backoff (1 s here), not the seventh (64 s).
    let s = stack(1000).await;
    let env = capture("paced@example.com", None);
    s.queue.send(&env).await.unwrap();
    for version in 1..=6u64 {
        s.ledger
            .put_rechat_state(&inlet::breaker::RechatState {
                paced_until: Some(chrono::Utc::now() + chrono::Duration::seconds(3)),
                version,
                ..inlet::breaker::RechatState::default()
            })
            .await
            .unwrap();
        // Past the breaker's one-second view of the shared state.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (messages, response) = s.invoke(false).await;
        assert_eq!(messages.len(), 1, "round {version}");
        assert_eq!(response.batch_item_failures.len(), 1, "held");
        tokio::time::sleep(Duration::from_millis(2100)).await;
    }
    assert!(s.double.requests().is_empty(), "held without a call");
    s.ledger
        .put_rechat_state(&inlet::breaker::RechatState {
            version: 7,
            ..inlet::breaker::RechatState::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.double.fail_next(Some(Route::Capture), Fault::Status(503));
    let (messages, response) = s.invoke(false).await;
    assert_eq!(messages[0].receive_count, 7, "SQS counted every hold");
    assert_eq!(response.batch_item_failures.len(), 1);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (messages, _) = s.invoke(false).await;
    assert_eq!(
        messages.len(),
        1,
        "back after its own first backoff step, not the seventh"
    );
    assert_eq!(s.double.leads().len(), 1);
}
