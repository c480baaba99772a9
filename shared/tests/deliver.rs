//! Delivery semantics (issue item 9), each point against the Rechat double's faults, with
//! the in-memory ledger and a recording queue. The same logic runs against SQS and
//! DynamoDB (moto) in `tests/tests/sqs_deliver.rs`.

use chrono::Utc;
use inlet::deliver::{Breaker, Delivery, DeliveryOptions, Outcome};
use inlet::envelope::{Envelope, EnvelopeBuilder, LeadRef, OriginKind, Step};
use inlet::lead::{Action, Activity, ActivityListing, Assignee, Lead};
use inlet::ledger::memory::MemoryLedger;
use inlet::ledger::{Ledger, RecordStatus, StepState};
use inlet::queue::QueueMessage;
use inlet::queue::memory::RecordingQueue;
use inlet::rechat::{RechatClient, RechatConfig};
use inlet_testkit::{Fault, RechatDouble, Route};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

struct World {
    double: RechatDouble,
    client: RechatClient,
    ledger: MemoryLedger,
    queue: RecordingQueue,
    options: DeliveryOptions,
    breaker: Breaker,
}

impl World {
    async fn new() -> World {
        let double = RechatDouble::start().await;
        let client = RechatClient::new(&RechatConfig {
            base_url: double.url().to_owned(),
            connect_timeout: Duration::from_millis(500),
            total_timeout: Duration::from_millis(800),
        })
        .unwrap();
        World {
            double,
            client,
            ledger: MemoryLedger::new(),
            queue: RecordingQueue::default(),
            options: DeliveryOptions::default(),
            breaker: Breaker::default(),
        }
    }

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

    async fn deliver(&self, messages: &[QueueMessage]) -> Vec<Outcome> {
        let report = self.delivery().deliver_batch(messages.to_vec()).await;
        report.outcomes.into_iter().map(|(_, o)| o).collect()
    }

    fn paths(&self) -> Vec<String> {
        self.double.requests().into_iter().map(|r| r.path).collect()
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn message(envelope: &Envelope) -> QueueMessage {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    QueueMessage {
        message_id: format!("m-{n}"),
        receipt_handle: Some(format!("rh-{n}")),
        body: envelope.to_json(),
        group_id: Some(envelope.lead_key.clone()),
        receive_count: 1,
        not_before: None,
    }
}

fn lead(email: &str) -> Lead {
    Lead {
        first_name: Some("Ana".into()),
        email: Some(email.into()),
        ..Lead::default()
    }
}

fn viewed(url: &str) -> Activity {
    Activity::new(
        Action::ContactViewedListing,
        Some(ActivityListing {
            url: Some(url.into()),
            ..ActivityListing::default()
        }),
        None,
        None,
    )
    .unwrap()
}

fn agent() -> Vec<Assignee> {
    vec![Assignee {
        email: Some("agent@example.com".into()),
        ..Assignee::default()
    }]
}

/// capture → activity → assign, for one person.
fn full(email: &str) -> Envelope {
    EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, email.as_bytes())
        .step(Step::Capture {
            lead: lead(email),
            sender_lead_id: None,
        })
        .step(Step::Activity {
            target: LeadRef::Captured,
            activity: viewed("https://example.com/l/1"),
        })
        .step(Step::Assign {
            target: LeadRef::Captured,
            assignees: agent(),
            lead: None,
        })
        .build()
}

fn capture_only(email: &str) -> Envelope {
    EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, email.as_bytes())
        .step(Step::Capture {
            lead: lead(email),
            sender_lead_id: None,
        })
        .build()
}

#[tokio::test]
async fn steps_reach_rechat_in_order_and_the_ledger_records_them() {
    let w = World::new().await;
    let env = full("a@example.com");
    assert_eq!(w.deliver(&[message(&env)]).await, vec![Outcome::Delivered]);
    let leads = w.double.leads();
    assert_eq!(leads.len(), 1);
    let id = &leads[0].id;
    assert_eq!(
        w.paths(),
        vec![
            format!("/leads/channels/{CHANNEL}/webhook"),
            format!("/leads/{id}/timeline"),
            format!("/leads/{id}/assignees"),
        ]
    );
    let record = w.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.status, RecordStatus::Delivered);
    assert_eq!(record.rechat_lead_id.as_deref(), Some(id.as_str()));
    assert_eq!(record.steps, vec![StepState::Done; 3]);
    assert_eq!(record.capture_calls, 1);
}

#[tokio::test]
async fn an_unreadable_body_is_dead_lettered_alone_and_never_fails_the_batch() {
    let w = World::new().await;
    let good = capture_only("a@example.com");
    let bad = QueueMessage {
        message_id: "bad".into(),
        receipt_handle: Some("rh-bad".into()),
        body: "{\"v\": 1, \"id\": \"x\", trunc".into(),
        group_id: Some(good.lead_key.clone()),
        receive_count: 1,
        not_before: None,
    };
    let mut newer: serde_json::Value = serde_json::from_str(&good.to_json()).unwrap();
    newer["v"] = 2.into();
    let newer = QueueMessage {
        body: newer.to_string(),
        ..message(&capture_only("b@example.com"))
    };
    let outcomes = w.deliver(&[bad, message(&good), newer]).await;
    assert!(
        matches!(&outcomes[0], Outcome::DeadLettered { reason } if reason.contains("unreadable envelope"))
    );
    assert_eq!(outcomes[1], Outcome::Delivered, "the same group goes on");
    assert!(
        matches!(&outcomes[2], Outcome::DeadLettered { reason } if reason.contains("version 2"))
    );
    let dead = w.queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead.len(), 2);
    assert!(dead[0].0.contains("trunc"), "the body is kept as it came");
    assert_eq!(dead[0].1.group_id, good.lead_key);
}

#[tokio::test]
async fn a_transient_failure_fails_the_rest_of_its_group_but_not_other_groups() {
    let w = World::new().await;
    w.double.fail_next(Some(Route::Capture), Fault::Status(503));
    let first = capture_only("a@example.com");
    let same_lead_later = EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, b"later")
        .step(Step::Capture {
            lead: Lead {
                note: Some("second inquiry".into()),
                ..lead("a@example.com")
            },
            sender_lead_id: None,
        })
        .build();
    let other = capture_only("b@example.com");
    assert_eq!(first.lead_key, same_lead_later.lead_key);
    let (m1, m2, m3) = (message(&first), message(&same_lead_later), message(&other));
    let report = w
        .delivery()
        .deliver_batch(vec![m1.clone(), m2.clone(), m3.clone()])
        .await;
    let outcomes: Vec<_> = report.outcomes.iter().map(|(_, o)| o.clone()).collect();
    assert!(
        matches!(&outcomes[0], Outcome::Retry { error, .. } if error.contains("503")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Outcome::Blocked);
    assert_eq!(outcomes[2], Outcome::Delivered);
    assert_eq!(
        report.failed(),
        vec![m1.message_id.as_str(), m2.message_id.as_str()]
    );
    // The failed one comes back after the backoff; the one behind it is released at once
    // and waits behind it (FIFO holds a group whose head is in flight).
    let vis = w.queue.visibility.lock().unwrap().clone();
    assert_eq!(
        vis,
        vec![
            (m1.receipt_handle.unwrap(), 2),
            (m2.receipt_handle.unwrap(), 0)
        ]
    );
    // Only one request for that group reached Rechat.
    assert_eq!(w.double.leads().len(), 1);
}

#[tokio::test]
async fn retry_after_from_a_429_becomes_the_message_visibility() {
    let w = World::new().await;
    w.double.fail_next(
        None,
        Fault::TooManyRequests {
            retry_after_secs: 37,
        },
    );
    let m = message(&capture_only("a@example.com"));
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(outcomes[0], Outcome::Retry { retry_in, .. } if retry_in == Duration::from_secs(37))
    );
    assert_eq!(
        *w.queue.visibility.lock().unwrap(),
        vec![(m.receipt_handle.unwrap(), 37)]
    );
}

#[tokio::test]
async fn a_retry_after_shorter_than_the_backoff_waits_the_backoff() {
    // Rechat asking for a second's wait on every receive would spend the queue's receive
    // limit in minutes: the doubling delay is the least a retry waits.
    let w = World::new().await;
    let m = message(&capture_only("a@example.com"));
    // Five failures of its own first, then the 429.
    w.double.fail_next_n(None, Fault::Status(503), 5);
    for _ in 0..5 {
        let outcomes = w.deliver(std::slice::from_ref(&m)).await;
        assert!(matches!(outcomes[0], Outcome::Retry { .. }), "{outcomes:?}");
    }
    w.double.fail_next(
        None,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    let backoff = w.options.backoff(6);
    assert_eq!(backoff, Duration::from_secs(64));
    assert!(
        matches!(outcomes[0], Outcome::Retry { retry_in, .. } if retry_in == backoff),
        "{outcomes:?}"
    );
}

/// A capture of `email` that intake received `hours` ago.
fn capture_received_hours_ago(hours: i64, email: &str) -> Envelope {
    EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, email.as_bytes())
        .received_at(Utc::now() - chrono::Duration::hours(hours))
        .step(Step::Capture {
            lead: lead(email),
            sender_lead_id: None,
        })
        .build()
}

#[tokio::test]
async fn transient_failures_are_retried_however_many_receives_within_the_retry_window() {
    // Past the ten receives the queue once allowed, an hour into an outage: its first
    // failure of its own waits the first step of the backoff, whatever the receives.
    let w = World::new().await;
    w.double.fail_next(None, Fault::Status(503));
    let envelope = capture_received_hours_ago(1, "late@example.com");
    let mut m = message(&envelope);
    m.receive_count = 40;
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(outcomes[0], Outcome::Retry { retry_in, .. } if retry_in == w.options.backoff(1)),
        "{outcomes:?}"
    );
    assert!(w.queue.dead_letters.lock().unwrap().is_empty());
    // And once Rechat answers, it is delivered.
    m.receive_count = 41;
    assert_eq!(
        w.deliver(std::slice::from_ref(&m)).await,
        vec![Outcome::Delivered]
    );
    assert_eq!(w.double.leads().len(), 1);
}

#[tokio::test]
async fn a_lead_still_failing_after_the_retry_window_is_dead_lettered_with_its_last_error() {
    let w = World::new().await;
    w.double.fail_next(None, Fault::Status(503));
    let envelope = capture_received_hours_ago(73, "old@example.com");
    let m = message(&envelope);
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(&outcomes[0], Outcome::DeadLettered { reason }
            if reason.contains("72 hours") && reason.contains("503")),
        "{outcomes:?}"
    );
    let dead = w.queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1.failed_step.as_deref(), Some("capture"));
    assert_eq!(dead[0].1.envelope_id.as_deref(), Some(envelope.id.as_str()));
    // The ledger says so, so that a follow-up of this lead stops waiting for its capture.
    let record = w.ledger.get(&envelope.id).await.unwrap().unwrap();
    assert_eq!(record.status, RecordStatus::DeadLettered);
    assert!(record.last_error.unwrap().contains("503"));
    // Within the window the same failure is only retried.
    let mut options = w.options;
    options.retry_for = Duration::from_secs(74 * 3600);
    let w2 = World {
        options,
        ..World::new().await
    };
    w2.double.fail_next(None, Fault::Status(503));
    let outcomes = w2.deliver(std::slice::from_ref(&m)).await;
    assert!(matches!(outcomes[0], Outcome::Retry { .. }), "{outcomes:?}");
}

/// The queue's receive limit is a backstop only: waiting spends none of it (the embedded
/// store gives answered receives back; on SQS a message goes back as a new one at half the
/// limit), and the rest stays for a message delivery never finishes. The SQS queue the
/// template deploys leaves room for both.
#[test]
fn the_deployed_receive_limit_leaves_room_to_requeue_and_to_catch_poison() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let deployed: u32 = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("maxReceiveCount:"))
        .expect("the queue's redrive policy")
        .trim()
        .parse()
        .unwrap();
    let requeued_at = inlet::deliver::requeue_after(deployed);
    assert!(
        requeued_at < deployed,
        "put back after {requeued_at} receives, limit {deployed}"
    );
    assert_eq!(inlet::deliver::requeue_after(20), 10);
    assert_eq!(
        inlet::deliver::requeue_after(3),
        2,
        "never a copy's first receive"
    );
}

/// Found by `make proof`'s kill -9 run, which lost a lead this way: intake recorded the
/// envelope, the process died before its 2xx, the sender sent again, and the message that
/// reached the queue carries the second attempt's time. Its first delivery failed; its next
/// receive must be known as itself, not dropped as a repeat of the first attempt's record.
#[tokio::test]
async fn a_message_from_a_retried_request_is_retried_until_delivered_not_taken_for_a_repeat() {
    let w = World::new().await;
    let first_attempt = Utc::now() - chrono::Duration::seconds(5);
    let at = |received_at| {
        EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, b"retried")
            .received_at(received_at)
            .step(Step::Capture {
                lead: lead("retried@example.com"),
                sender_lead_id: None,
            })
            .build()
    };
    let (lost, queued) = (at(first_attempt), at(Utc::now()));
    assert_eq!(lost.id, queued.id, "the same content is the same envelope");
    // Intake's record of the attempt whose message never reached the queue.
    assert!(
        w.ledger
            .create(&inlet::ledger::LedgerRecord::queued(&lost))
            .await
            .unwrap()
            .is_none()
    );
    w.double.fail_next(None, Fault::Status(503));
    let mut m = message(&queued);
    assert!(matches!(
        w.deliver(std::slice::from_ref(&m)).await[0],
        Outcome::Retry { .. }
    ));
    m.receive_count = 2;
    assert_eq!(
        w.deliver(std::slice::from_ref(&m)).await,
        vec![Outcome::Delivered]
    );
    assert_eq!(w.double.leads().len(), 1);
    // A second message of that content within the dedupe window is still a repeat.
    assert_eq!(w.deliver(&[message(&lost)]).await, vec![Outcome::Duplicate]);
    assert_eq!(w.double.leads().len(), 1);
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once_with_the_reason() {
    let w = World::new().await;
    w.double
        .only_channels(&["00000000-0000-4000-8000-000000000000"]);
    let unknown_channel = capture_only("a@example.com");
    let m = message(&unknown_channel);
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(&outcomes[0], Outcome::DeadLettered { reason } if reason.contains("404")),
        "{outcomes:?}"
    );
    let dead = w.queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead[0].1.status, Some(404));
    assert_eq!(dead[0].1.failed_step.as_deref(), Some("capture"));
    assert_eq!(
        dead[0].1.envelope_id.as_deref(),
        Some(unknown_channel.id.as_str())
    );
    let record = w.ledger.get(&unknown_channel.id).await.unwrap().unwrap();
    assert_eq!(record.status, RecordStatus::DeadLettered);
    assert!(
        record
            .last_error
            .unwrap()
            .contains("Lead channel not found")
    );
    assert!(
        w.queue.visibility.lock().unwrap().is_empty(),
        "nothing stays queued"
    );
}

#[tokio::test]
async fn a_dead_letter_queue_that_is_down_leaves_the_message_queued() {
    let w = World::new().await;
    w.queue.down.store(true, Ordering::SeqCst);
    let bad = QueueMessage {
        body: "garbage".into(),
        ..message(&capture_only("a@example.com"))
    };
    let outcomes = w.deliver(&[bad]).await;
    assert!(matches!(&outcomes[0], Outcome::Retry { error, .. } if error.contains("dead-letter")));
}

#[tokio::test]
async fn a_later_step_failing_never_repeats_the_capture() {
    let w = World::new().await;
    w.double
        .fail_next(Some(Route::Timeline), Fault::Status(500));
    let env = full("a@example.com");
    let m = message(&env);
    let first = w.deliver(std::slice::from_ref(&m)).await;
    assert!(matches!(first[0], Outcome::Retry { .. }));
    let record = w.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.steps[0], StepState::Done);
    assert!(matches!(record.steps[1], StepState::Failed { .. }));
    assert!(
        record.rechat_lead_id.is_some(),
        "the lead id is kept for the retry"
    );

    let again = QueueMessage {
        receive_count: 2,
        ..m
    };
    assert_eq!(w.deliver(&[again]).await, vec![Outcome::Delivered]);
    let captures = w
        .double
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::Capture))
        .count();
    assert_eq!(captures, 1, "the capture was made once");
    let lead = &w.double.leads()[0];
    assert_eq!(lead.timeline.len(), 1);
    assert_eq!(lead.assignees[0]["email"], "agent@example.com");
}

#[tokio::test]
async fn a_message_seen_again_after_delivery_is_a_duplicate() {
    let w = World::new().await;
    let env = full("a@example.com");
    let m = message(&env);
    assert_eq!(
        w.deliver(std::slice::from_ref(&m)).await,
        vec![Outcome::Delivered]
    );
    let requests = w.double.requests().len();
    // The same message (a crash before the delete), and the same sender event resent.
    let resent = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"x")
        .event_id(Some("evt-9"))
        .received_at(Utc::now() - chrono::Duration::days(2))
        .step(Step::Capture {
            lead: lead("b@example.com"),
            sender_lead_id: None,
        })
        .build();
    assert_eq!(
        w.deliver(&[message(&resent)]).await,
        vec![Outcome::Delivered]
    );
    let resent_later = Envelope {
        received_at: Utc::now(),
        ..resent
    };
    assert_eq!(
        w.deliver(&[m, message(&resent_later)]).await,
        vec![Outcome::Duplicate, Outcome::Duplicate]
    );
    assert_eq!(w.double.requests().len(), requests + 1);
}

#[tokio::test]
async fn identical_content_is_one_submission_within_the_window_and_a_new_one_after() {
    let w = World::new().await;
    let now = Utc::now();
    let first = capture_only("a@example.com");
    let first = Envelope {
        received_at: now - chrono::Duration::hours(3),
        ..first
    };
    let soon_after = Envelope {
        received_at: first.received_at + chrono::Duration::minutes(5),
        ..first.clone()
    };
    let much_later = Envelope {
        received_at: now,
        ..first.clone()
    };
    assert_eq!(first.id, much_later.id, "same content, same id");
    let outcomes = w
        .deliver(&[message(&first), message(&soon_after), message(&much_later)])
        .await;
    assert_eq!(
        outcomes,
        vec![Outcome::Delivered, Outcome::Duplicate, Outcome::Delivered]
    );
    assert_eq!(w.double.leads().len(), 2);
}

#[tokio::test]
async fn groups_run_concurrently_up_to_the_bound_and_each_group_in_order() {
    let mut w = World::new().await;
    w.double.set_latency(Duration::from_millis(150));
    w.options.concurrency = 4;
    let mut batch = Vec::new();
    for i in 0..5 {
        let email = format!("p{i}@example.com");
        batch.push(message(&capture_only(&email)));
        let follow = EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, b"f")
            .step(Step::Capture {
                lead: Lead {
                    note: Some(format!("follow-up {i}")),
                    ..lead(&email)
                },
                sender_lead_id: None,
            })
            .build();
        batch.push(message(&follow));
    }
    let outcomes = w.deliver(&batch).await;
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Delivered),
        "{outcomes:?}"
    );
    assert_eq!(
        w.double.max_in_flight(),
        4,
        "bounded at the configured concurrency"
    );
    // Within each person's group the first envelope reached Rechat first.
    let leads = w.double.leads();
    for i in 0..5 {
        let email = format!("p{i}@example.com");
        let mine: Vec<_> = leads
            .iter()
            .filter(|l| l.payload["email"] == email.as_str())
            .collect();
        assert_eq!(mine.len(), 2);
        assert!(mine[0].payload.get("note").is_none());
        assert_eq!(mine[1].payload["note"], format!("follow-up {i}"));
        assert!(mine[0].request_index < mine[1].request_index);
    }

    let mut one_at_a_time = World::new().await;
    one_at_a_time.options.concurrency = 1;
    one_at_a_time.double.set_latency(Duration::from_millis(20));
    one_at_a_time.deliver(&batch).await;
    assert_eq!(one_at_a_time.double.max_in_flight(), 1);
}

#[tokio::test]
async fn a_204_capture_skips_the_steps_that_need_its_id_with_the_reason() {
    let w = World::new().await;
    w.double.fail_next(Some(Route::Capture), Fault::NoContent);
    let env = full("a@example.com");
    assert_eq!(w.deliver(&[message(&env)]).await, vec![Outcome::Delivered]);
    let record = w.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.steps[0], StepState::Done);
    for step in &record.steps[1..] {
        assert!(
            matches!(step, StepState::Skipped { reason } if reason.contains("without a lead id")),
            "{step:?}"
        );
    }
    assert_eq!(w.double.requests().len(), 1, "nothing else was tried");
}

#[tokio::test]
async fn a_lost_success_costs_exactly_one_extra_capture_and_the_ledger_reports_it() {
    let w = World::new().await;
    w.double.fail_next(
        Some(Route::Capture),
        Fault::LostSuccess(Duration::from_millis(1200)),
    );
    let env = full("a@example.com");
    let m = message(&env);
    assert!(matches!(
        w.deliver(std::slice::from_ref(&m)).await[0],
        Outcome::Retry { .. }
    ));
    let again = QueueMessage {
        receive_count: 2,
        ..m.clone()
    };
    assert_eq!(w.deliver(&[again]).await, vec![Outcome::Delivered]);
    assert_eq!(
        w.double.leads().len(),
        2,
        "Rechat holds the lost one and the retry"
    );
    let record = w.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.capture_calls, 2);
    assert_eq!(record.uncertain_captures, 1);
    // Further deliveries of the same message change nothing.
    assert_eq!(w.deliver(&[m]).await, vec![Outcome::Duplicate]);
    assert_eq!(w.double.leads().len(), 2);
}

#[tokio::test]
async fn a_slow_answer_and_a_reset_are_retried_without_a_duplicate() {
    let w = World::new().await;
    w.double.fail_next(
        Some(Route::Capture),
        Fault::Slow(Duration::from_millis(1200)),
    );
    w.double.fail_next(Some(Route::Capture), Fault::Reset);
    let env = capture_only("a@example.com");
    let m = message(&env);
    for attempt in 1..=2 {
        let again = QueueMessage {
            receive_count: attempt,
            ..m.clone()
        };
        assert!(matches!(
            w.deliver(&[again]).await[0],
            Outcome::Retry { .. }
        ));
    }
    assert_eq!(w.deliver(&[m]).await, vec![Outcome::Delivered]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(w.double.leads().len(), 1);
    let record = w.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.capture_calls, 3);
    assert_eq!(
        record.uncertain_captures, 2,
        "both answers were lost, so both are reported"
    );
}

#[tokio::test]
async fn later_events_find_the_lead_by_the_senders_id_or_by_inlets_envelope_id() {
    let w = World::new().await;
    let capture = EnvelopeBuilder::new(OriginKind::Webhook, "fivestreet", CHANNEL, b"c")
        .event_id(Some("create-1"))
        .step(Step::Capture {
            lead: lead("a@example.com"),
            sender_lead_id: Some("fs-77".into()),
        })
        .build();
    let refer = EnvelopeBuilder::new(OriginKind::Webhook, "fivestreet", CHANNEL, b"r")
        .event_id(Some("refer-1"))
        .step(Step::Assign {
            target: LeadRef::Sender {
                sender: "fivestreet".into(),
                id: "fs-77".into(),
            },
            assignees: agent(),
            lead: None,
        })
        .build();
    let activity = EnvelopeBuilder::new(OriginKind::Webhook, "rechat-api", CHANNEL, b"a")
        .lead_key(capture.lead_key.clone())
        .step(Step::Activity {
            target: LeadRef::Envelope {
                id: capture.id.clone(),
            },
            activity: viewed("https://example.com/l/2"),
        })
        .build();
    let unknown = EnvelopeBuilder::new(OriginKind::Webhook, "fivestreet", CHANNEL, b"u")
        .event_id(Some("refer-2"))
        .step(Step::Assign {
            target: LeadRef::Sender {
                sender: "fivestreet".into(),
                id: "fs-404".into(),
            },
            assignees: agent(),
            lead: None,
        })
        .build();
    let outcomes = w
        .deliver(&[
            message(&capture),
            message(&refer),
            message(&activity),
            message(&unknown),
        ])
        .await;
    assert_eq!(
        &outcomes[..3],
        &[Outcome::Delivered, Outcome::Delivered, Outcome::Delivered]
    );
    assert!(matches!(&outcomes[3], Outcome::DeadLettered { reason } if reason.contains("fs-404")));
    let lead = &w.double.leads()[0];
    assert_eq!(lead.assignees[0]["email"], "agent@example.com");
    assert_eq!(
        lead.timeline[0]["listing"]["url"],
        "https://example.com/l/2"
    );
    // A follow-up's record names the Rechat lead it acted on (`inlet leads` shows it).
    for follow_up in [&refer, &activity] {
        let record = w.ledger.get(&follow_up.id).await.unwrap().unwrap();
        assert_eq!(record.rechat_lead_id.as_deref(), Some(lead.id.as_str()));
    }
}

/// Issue 38, class 5: a reassignment that carries the whole contact (Zillow's) captures the
/// lead with its new agent when Inlet never captured it, and is a plain reassignment when it
/// did; the capture it made is found by the sender's id afterwards.
#[tokio::test]
async fn a_reassignment_of_a_lead_never_captured_captures_it_with_its_new_agent() {
    let w = World::new().await;
    let zillow = |id: &str| LeadRef::Sender {
        sender: "zillow".into(),
        id: id.into(),
    };
    let new_agent = vec![Assignee {
        email: Some("sam.new@example-realty.com".into()),
        ..Assignee::default()
    }];
    let contact = Lead {
        first_name: Some("Noor".into()),
        last_name: Some("Haddad".into()),
        email: Some("noor.haddad@example.com".into()),
        assignees: agent(),
        ..Lead::default()
    };
    // Never captured: the reassignment becomes the capture, with the new agent only.
    let unknown = EnvelopeBuilder::new(OriginKind::Webhook, "zillow", CHANNEL, b"r1")
        .event_id(Some("reassign:client-1:t1"))
        .step(Step::Assign {
            target: zillow("client-1"),
            assignees: new_agent.clone(),
            lead: Some(contact.clone()),
        })
        .build();
    assert_eq!(w.deliver(&[message(&unknown)]).await, [Outcome::Delivered]);
    let leads = w.double.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].payload["email"], "noor.haddad@example.com");
    assert_eq!(leads[0].assignees[0]["email"], "sam.new@example-realty.com");
    assert_eq!(leads[0].assignees.as_array().unwrap().len(), 1);
    // The next reassignment of the same contact finds that lead: no second capture.
    let again = EnvelopeBuilder::new(OriginKind::Webhook, "zillow", CHANNEL, b"r2")
        .event_id(Some("reassign:client-1:t2"))
        .step(Step::Assign {
            target: zillow("client-1"),
            assignees: agent(),
            lead: Some(contact.clone()),
        })
        .build();
    assert_eq!(w.deliver(&[message(&again)]).await, [Outcome::Delivered]);
    assert_eq!(w.double.leads().len(), 1, "{:?}", w.paths());
    assert_eq!(
        w.double.leads()[0].assignees[0]["email"],
        "agent@example.com"
    );
    // Captured before by Inlet: a plain reassignment, the contact not sent again.
    let capture = EnvelopeBuilder::new(OriginKind::Webhook, "zillow", CHANNEL, b"c")
        .event_id(Some("comm-2"))
        .step(Step::Capture {
            lead: lead("b@example.com"),
            sender_lead_id: Some("client-2".into()),
        })
        .build();
    let reassign = EnvelopeBuilder::new(OriginKind::Webhook, "zillow", CHANNEL, b"r3")
        .event_id(Some("reassign:client-2:t1"))
        .step(Step::Assign {
            target: zillow("client-2"),
            assignees: new_agent,
            lead: Some(Lead {
                email: Some("b@example.com".into()),
                ..Lead::default()
            }),
        })
        .build();
    assert_eq!(
        w.deliver(&[message(&capture), message(&reassign)]).await,
        [Outcome::Delivered, Outcome::Delivered]
    );
    assert_eq!(w.double.leads().len(), 2);
    assert_eq!(
        w.double.leads()[1].assignees[0]["email"],
        "sam.new@example-realty.com"
    );
    // Without the contact, an unknown lead is still a dead letter that names it.
    let bare = EnvelopeBuilder::new(OriginKind::Webhook, "zillow", CHANNEL, b"r4")
        .event_id(Some("reassign:client-3:t1"))
        .step(Step::Assign {
            target: zillow("client-3"),
            assignees: agent(),
            lead: None,
        })
        .build();
    assert!(matches!(
        &w.deliver(&[message(&bare)]).await[0],
        Outcome::DeadLettered { reason } if reason.contains("client-3")
    ));
}

#[tokio::test]
async fn a_dead_lettered_envelope_replayed_resumes_where_it_stopped() {
    let w = World::new().await;
    let env = full("a@example.com");
    // The assignees call is refused once (a bad agent list fixed later, say).
    w.double
        .fail_next(Some(Route::Assignees), Fault::Status(400));
    let m = message(&env);
    assert!(matches!(
        w.deliver(std::slice::from_ref(&m)).await[0],
        Outcome::DeadLettered { .. }
    ));
    assert_eq!(w.deliver(&[m]).await, vec![Outcome::Delivered]);
    let captures = w
        .double
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::Capture))
        .count();
    let timelines = w
        .double
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::Timeline))
        .count();
    assert_eq!((captures, timelines), (1, 1));
}

#[tokio::test]
async fn a_meta_lead_known_by_id_is_fetched_then_captured_once() {
    use inlet::meta_graph::{GraphClient, MetaLeads};
    let w = World::new().await;
    let graph = inlet_testkit::GraphDouble::start("page-token").await;
    graph.add_lead(
        "700000000000000001",
        serde_json::json!({"id": "700000000000000001", "field_data": [
            {"name": "full_name", "values": ["Marta Souza"]},
            {"name": "email", "values": ["marta.souza@example.com"]},
            {"name": "phone_number", "values": ["+15125550163"]}
        ]}),
    );
    let client = GraphClient::new(graph.url(), "page-token", Duration::from_secs(2), None).unwrap();
    let env = EnvelopeBuilder::new(OriginKind::Webhook, "meta", CHANNEL, b"n")
        .event_id(Some("leadgen:700000000000000001"))
        .step(Step::FetchMetaLead {
            leadgen_id: "700000000000000001".into(),
            form_id: None,
            page_id: None,
            defaults: Default::default(),
        })
        .build();
    let unknown = EnvelopeBuilder::new(OriginKind::Webhook, "meta", CHANNEL, b"u")
        .step(Step::FetchMetaLead {
            leadgen_id: "700000000000000009".into(),
            form_id: None,
            page_id: None,
            defaults: Default::default(),
        })
        .build();
    let delivery = Delivery {
        meta: Some(&client as &dyn MetaLeads),
        ..w.delivery()
    };
    let report = delivery
        .deliver_batch(vec![message(&env), message(&unknown)])
        .await;
    assert_eq!(report.outcomes[0].1, Outcome::Delivered);
    assert!(
        matches!(&report.outcomes[1].1, Outcome::DeadLettered { reason } if reason.contains("code 100"))
    );
    let leads = w.double.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].payload["first_name"], "Marta");
    assert_eq!(leads[0].payload["phone_number"], "+15125550163");
    assert_eq!(leads[0].payload["lead_source"], "Facebook Lead Ads");
    // Delivered again (Meta retries for 36 hours): nothing fetched or captured twice.
    let again = delivery.deliver_batch(vec![message(&env)]).await;
    assert_eq!(again.outcomes[0].1, Outcome::Duplicate);
    assert_eq!(
        graph.calls(),
        vec!["700000000000000001", "700000000000000009"]
    );
    // Without a page token such a lead cannot be fetched: it is dead-lettered, saying why.
    let no_token = w.delivery().deliver_batch(vec![message(&unknown)]).await;
    assert!(
        matches!(&no_token.outcomes[0].1, Outcome::DeadLettered { reason } if reason.contains("INLET_META_PAGE_TOKEN"))
    );
}

/// One lead's activity, then its reassignment, both recorded by intake as queued.
async fn two_follow_ups(w: &World) -> (Envelope, Envelope) {
    let capture = capture_only("order@example.com");
    assert_eq!(
        w.deliver(&[message(&capture)]).await,
        vec![Outcome::Delivered]
    );
    let id = w.double.leads()[0].id.clone();
    let at = Utc::now();
    let activity = EnvelopeBuilder::new(OriginKind::Webhook, "rechat-api", "", b"activity")
        .lead_key(capture.lead_key.clone())
        .received_at(at)
        .step(Step::Activity {
            target: LeadRef::Rechat { id: id.clone() },
            activity: viewed("https://example.com/l/9"),
        })
        .build();
    let reassignment = EnvelopeBuilder::new(OriginKind::Webhook, "rechat-api", "", b"assign")
        .lead_key(capture.lead_key.clone())
        .received_at(at + chrono::Duration::milliseconds(5))
        .step(Step::Assign {
            target: LeadRef::Rechat { id },
            assignees: agent(),
            lead: None,
        })
        .build();
    for e in [&activity, &reassignment] {
        w.ledger
            .create(&inlet::ledger::LedgerRecord::queued(e))
            .await
            .unwrap();
    }
    (activity, reassignment)
}

#[tokio::test]
async fn a_follow_up_that_overtakes_an_earlier_one_of_its_lead_waits_for_it() {
    // The queue's order failed (a stale receipt handle released the group early): the
    // reassignment comes first. The ledger holds it back until the activity is delivered.
    let w = World::new().await;
    let (activity, reassignment) = two_follow_ups(&w).await;
    let outcomes = w.deliver(&[message(&reassignment)]).await;
    assert!(
        matches!(&outcomes[0], Outcome::Waiting { reason, .. } if reason.contains(&activity.id)),
        "{outcomes:?}"
    );
    assert!(
        !w.double
            .requests()
            .iter()
            .any(|r| r.route == Some(Route::Assignees)),
        "nothing was sent"
    );
    assert_eq!(
        w.deliver(&[message(&activity)]).await,
        vec![Outcome::Delivered]
    );
    assert_eq!(
        w.deliver(&[message(&reassignment)]).await,
        vec![Outcome::Delivered]
    );
    assert!(w.double.order_violations().is_empty());
    // In the queue's own order, nothing waits.
    let w = World::new().await;
    let (activity, reassignment) = two_follow_ups(&w).await;
    assert_eq!(
        w.deliver(&[message(&activity), message(&reassignment)])
            .await,
        vec![Outcome::Delivered, Outcome::Delivered]
    );
}

#[tokio::test]
async fn a_follow_up_stops_waiting_after_a_few_waits_of_its_own() {
    // Two requests taken at once may be queued against their receive times; waiting for
    // ever would hold the lead for its whole retry window.
    let w = World::new().await;
    let (_activity, reassignment) = two_follow_ups(&w).await;
    let m = message(&reassignment);
    let mut delays = Vec::new();
    for _ in 0..inlet::deliver::ORDER_WAITS {
        match &w.deliver(std::slice::from_ref(&m)).await[0] {
            Outcome::Waiting { retry_in, .. } => delays.push(retry_in.as_secs()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delays, vec![2, 4, 8, 16], "each wait longer than the last");
    assert_eq!(w.deliver(&[m]).await, vec![Outcome::Delivered]);
}

/// A follow-up for a lead id Rechat never issued: kept in the dead-letter queue under its own
/// cause, for the operator to see, and counted apart from the failures the alarm watches.
#[tokio::test]
async fn a_follow_up_rechat_answers_404_for_is_kept_as_an_unknown_lead_not_a_failure() {
    let w = World::new().await;
    let unknown = "5c0b8f7e-2d4a-4c3b-9e1f-0a1b2c3d4e5f";
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let e = EnvelopeBuilder::new(OriginKind::Webhook, "rechat-api", "", b"x")
            .distinct()
            .step(Step::Activity {
                target: LeadRef::Rechat { id: unknown.into() },
                activity: viewed("https://example.com/l/1"),
            })
            .build();
        outcomes.extend(w.deliver(&[message(&e)]).await);
    }
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::UnknownLead { .. })),
        "{outcomes:?}"
    );
    let dead = w.queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead.len(), 3, "kept, each of them");
    for (_, d) in &dead {
        assert_eq!(d.cause.as_deref(), Some(inlet::queue::UNKNOWN_LEAD));
        assert!(d.reason.starts_with("unknown lead:"), "{}", d.reason);
        assert_eq!(d.status, Some(404));
    }
    // A capture Rechat refuses (an unknown channel) is a real failure, alarmed as before.
    let bad_channel = EnvelopeBuilder::new(OriginKind::Webhook, "test", "not-a-uuid", b"y")
        .step(Step::Capture {
            lead: lead("bea@example.com"),
            sender_lead_id: None,
        })
        .build();
    let outcome = w.deliver(&[message(&bad_channel)]).await;
    assert!(
        matches!(outcome[0], Outcome::DeadLettered { .. }),
        "{outcome:?}"
    );
    let dead = w.queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead[3].1.cause, None);
}

/// A Rechat client that panics on one lead, as a bug on a poisonous input would.
struct PanicsOnPoison(RechatClient);

#[async_trait::async_trait]
impl inlet::rechat::RechatApi for PanicsOnPoison {
    async fn capture(
        &self,
        channel: &str,
        lead: &Lead,
    ) -> Result<inlet::rechat::CaptureOutcome, inlet::rechat::RechatError> {
        if lead.email.as_deref() == Some("poison@example.com") {
            panic!("a bug met its input");
        }
        self.0.capture(channel, lead).await
    }
    async fn timeline(
        &self,
        lead_id: &str,
        activity: &Activity,
    ) -> Result<(), inlet::rechat::RechatError> {
        self.0.timeline(lead_id, activity).await
    }
    async fn assign(
        &self,
        lead_id: &str,
        assignees: &[Assignee],
    ) -> Result<(), inlet::rechat::RechatError> {
        self.0.assign(lead_id, assignees).await
    }
}

#[tokio::test]
async fn a_panic_on_one_lead_fails_its_own_message_and_the_batch_goes_on() {
    let w = World::new().await;
    let rechat = PanicsOnPoison(w.client.clone());
    let delivery = Delivery {
        breaker: &w.breaker,
        meta: None,
        rechat: &rechat,
        ledger: &w.ledger,
        queue: &w.queue,
        options: w.options,
    };
    let capture = |email: &str| {
        EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, email.as_bytes())
            .step(Step::Capture {
                lead: lead(email),
                sender_lead_id: None,
            })
            .build()
    };
    let batch = vec![
        message(&capture("ana@example.com")),
        message(&capture("poison@example.com")),
        message(&capture("bea@example.com")),
    ];
    let report = delivery.deliver_batch(batch).await;
    let outcomes: Vec<&Outcome> = report.outcomes.iter().map(|(_, o)| o).collect();
    assert!(matches!(outcomes[0], Outcome::Delivered), "{outcomes:?}");
    assert!(matches!(outcomes[2], Outcome::Delivered), "{outcomes:?}");
    let Outcome::DeadLettered { reason } = outcomes[1] else {
        panic!("the poisonous lead is dead-lettered: {outcomes:?}");
    };
    assert!(
        reason.contains("panicked") && reason.contains("a bug met its input"),
        "{reason}"
    );
    assert_eq!(w.double.requests().len(), 2, "the other two reached Rechat");
}

// Rechat down for everyone: the breaker (`inlet::breaker`).

/// `n` captures of different people, one message each.
fn captures(prefix: &str, n: usize) -> Vec<QueueMessage> {
    (0..n)
        .map(|i| {
            let email = format!("{prefix}{i}@example.com");
            message(
                &EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, email.as_bytes())
                    .step(Step::Capture {
                        lead: lead(&email),
                        sender_lead_id: None,
                    })
                    .build(),
            )
        })
        .collect()
}

/// The same messages received once more.
fn received_again(messages: &mut [QueueMessage]) {
    for m in messages.iter_mut() {
        m.receive_count += 1;
    }
}

fn quick_probes() -> DeliveryOptions {
    DeliveryOptions {
        breaker: inlet::breaker::BreakerOptions {
            probe_every: Duration::from_millis(200),
            ..inlet::breaker::BreakerOptions::default()
        },
        ..DeliveryOptions::default()
    }
}

#[tokio::test]
async fn an_outage_holds_every_lead_probes_once_at_a_time_and_releases_all_when_rechat_answers() {
    let mut w = World::new().await;
    w.options = quick_probes();
    w.double.go_down(Fault::Status(503));
    let mut waiting = captures("outage", 10);

    // The first receive: every lead tries (they run at once) and fails; that is the outage.
    // The failures seen after it opened are held with the rest, not left to their backoff.
    let first = w.deliver(&waiting).await;
    assert!(first.iter().all(Outcome::stays_queued), "{first:?}");
    assert!(
        first.iter().any(|o| matches!(o, Outcome::Held { .. })),
        "{first:?}"
    );
    assert_eq!(w.double.requests().len(), 10);
    let state = w.ledger.rechat_state().await.unwrap();
    let since = state.unavailable_since.expect("the breaker is open");

    // Received again before a probe is due: held, no call, the reason says since when.
    received_again(&mut waiting);
    let held = w.deliver(&waiting).await;
    assert_eq!(
        w.double.requests().len(),
        10,
        "no lead called the failing Rechat"
    );
    for o in &held {
        assert!(
            matches!(o, Outcome::Held { reason, retry_in }
                if reason.contains("Rechat unavailable since") && reason.contains("503")
                    && *retry_in == Duration::from_secs(5)),
            "{o:?}"
        );
    }

    // A probe is due: exactly one lead calls, fails, and the rest stay held.
    tokio::time::sleep(Duration::from_millis(250)).await;
    received_again(&mut waiting);
    let probed = w.deliver(&waiting).await;
    assert_eq!(w.double.requests().len(), 11, "one probe: {probed:?}");
    // The failed probe comes back when the next probe is due (a second: whole seconds).
    assert_eq!(
        probed
            .iter()
            .filter(|o| matches!(o, Outcome::Held { retry_in, .. } if *retry_in == Duration::from_secs(1)))
            .count(),
        1,
        "{probed:?}"
    );
    assert!(
        probed.iter().all(|o| matches!(o, Outcome::Held { .. })),
        "{probed:?}"
    );
    assert_eq!(
        w.ledger.rechat_state().await.unwrap().unavailable_since,
        Some(since)
    );

    // Rechat is back: the next probe succeeds and closes the breaker; every lead goes on
    // its next receive, whatever its own backoff was.
    w.double.come_back();
    tokio::time::sleep(Duration::from_millis(250)).await;
    received_again(&mut waiting);
    let recovered = w.deliver(&waiting).await;
    assert!(recovered.contains(&Outcome::Delivered), "{recovered:?}");
    let state = w.ledger.rechat_state().await.unwrap();
    assert!(!state.is_open(), "{state:?}");
    assert!(state.recovered_at.is_some());
    received_again(&mut waiting);
    let rest: Vec<QueueMessage> = waiting
        .iter()
        .zip(&recovered)
        .filter(|(_, o)| o.stays_queued())
        .map(|(m, _)| m.clone())
        .collect();
    let after = w.deliver(&rest).await;
    assert!(after.iter().all(|o| *o == Outcome::Delivered), "{after:?}");
    assert_eq!(w.double.leads().len(), 10);
    // Failing calls: one per lead before the outage was seen, and the probes.
    let failed = w
        .double
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert_eq!(failed, 11);
}

#[tokio::test]
async fn one_leads_own_failures_while_others_succeed_keep_its_backoff_and_open_nothing() {
    let mut w = World::new().await;
    w.options = quick_probes();
    w.double
        .fail_bodies_containing("troubled@example.com", Fault::Status(500));
    let troubled = message(&capture_received_hours_ago(0, "troubled@example.com"));
    for round in 1..=6u32 {
        let mut batch = captures(&format!("fine-{round}-"), 4);
        let mut mine = troubled.clone();
        mine.receive_count = round;
        batch.push(mine);
        let outcomes = w.deliver(&batch).await;
        assert!(
            outcomes[..4].iter().all(|o| *o == Outcome::Delivered),
            "{outcomes:?}"
        );
        // Its own doubling backoff, never a hold for everyone.
        let backoff = w.options.backoff(round);
        assert!(
            matches!(&outcomes[4], Outcome::Retry { retry_in, .. } if *retry_in == backoff),
            "round {round}: {:?}",
            outcomes[4]
        );
        assert!(!w.ledger.rechat_state().await.unwrap().is_open());
    }
    assert_eq!(w.double.leads().len(), 24);
}

#[tokio::test]
async fn a_4xx_is_the_leads_own_and_never_opens_the_breaker() {
    let mut w = World::new().await;
    w.options = quick_probes();
    w.double
        .fail_next_n(Some(Route::Capture), Fault::Status(400), 10);
    let outcomes = w.deliver(&captures("refused", 10)).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::DeadLettered { .. })),
        "{outcomes:?}"
    );
    assert!(!w.ledger.rechat_state().await.unwrap().is_open());
}

#[tokio::test]
async fn a_429s_retry_after_holds_back_the_other_leads_too() {
    let w = World::new().await;
    w.double.fail_next(
        Some(Route::Capture),
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
    );
    let first = w.deliver(&captures("paced-first", 1)).await;
    assert!(
        matches!(&first[0], Outcome::Retry { retry_in, .. } if *retry_in == Duration::from_secs(2)),
        "{first:?}"
    );
    // Other leads, right after: held without a call, for what is left of the wait.
    let others = w.deliver(&captures("paced-other", 5)).await;
    for o in &others {
        assert!(
            matches!(o, Outcome::Held { reason, retry_in }
                if reason.contains("429") && *retry_in <= Duration::from_secs(2)),
            "{o:?}"
        );
    }
    assert_eq!(w.double.requests().len(), 1);
    assert!(!w.ledger.rechat_state().await.unwrap().is_open());
    // Once it has passed, they go.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = w.deliver(&captures("paced-other", 5)).await;
    assert!(later.iter().all(|o| *o == Outcome::Delivered), "{later:?}");
}

#[tokio::test]
async fn past_the_retry_window_a_held_lead_is_tried_once_more_and_dead_lettered() {
    let mut w = World::new().await;
    w.options = quick_probes();
    w.double.go_down(Fault::Status(503));
    let _ = w.deliver(&captures("window", 5)).await;
    assert!(w.ledger.rechat_state().await.unwrap().is_open());
    let old = message(&capture_received_hours_ago(73, "window-old@example.com"));
    let calls = w.double.requests().len();
    let outcomes = w.deliver(std::slice::from_ref(&old)).await;
    assert!(
        matches!(&outcomes[0], Outcome::DeadLettered { reason } if reason.contains("72 hours")),
        "{outcomes:?}"
    );
    assert_eq!(w.double.requests().len(), calls + 1);
}

#[tokio::test]
async fn deliverers_sharing_a_ledger_take_one_probe_between_them() {
    // Two processes (two Lambda containers): their own windows and caches, one ledger.
    let mut w = World::new().await;
    w.options = quick_probes();
    w.double.go_down(Fault::Status(503));
    let _ = w.deliver(&captures("shared", 5)).await;
    assert!(w.ledger.rechat_state().await.unwrap().is_open());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let other = Breaker::default();
    let second = Delivery {
        breaker: &other,
        ..w.delivery()
    };
    let calls = w.double.requests().len();
    let first = w.delivery();
    let (a, b) = tokio::join!(
        first.deliver_batch(captures("shared-a", 5)),
        second.deliver_batch(captures("shared-b", 5))
    );
    let held = a
        .outcomes
        .iter()
        .chain(&b.outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Held { .. }))
        .count();
    assert_eq!(
        w.double.requests().len(),
        calls + 1,
        "one probe between them"
    );
    // All ten held: nine without a call, and the failed probe until the next is due.
    assert_eq!(held, 10);
}

// A hold is no failed attempt (issue 37): the backoff follows the lead's own failed calls, and
// a follow-up's wait for an earlier envelope of its lead counts its own waits.

#[tokio::test]
async fn the_backoff_follows_the_leads_own_failed_calls_not_its_receives() {
    // Between its own two failures the lead was held fifteen times (429 pacing for other
    // leads, Rechat down for everyone): receives that made no call must not stretch its next
    // delay toward the cap. Its second failure is a 429 asking for a second: the delay is the
    // backoff for two failures (4 s), not for seventeen receives (five minutes).
    let w = World::new().await;
    let mut m = message(&capture_only("paced@example.com"));
    w.double.fail_next(Some(Route::Capture), Fault::Status(503));
    let first = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(first[0], Outcome::Retry { retry_in, .. } if retry_in == w.options.backoff(1)),
        "{first:?}"
    );
    m.receive_count = 17;
    w.double.fail_next(
        Some(Route::Capture),
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let second = w.deliver(std::slice::from_ref(&m)).await;
    assert_eq!(w.options.backoff(2), Duration::from_secs(4));
    assert!(
        matches!(second[0], Outcome::Retry { retry_in, .. } if retry_in == w.options.backoff(2)),
        "{second:?}"
    );
    // Its third failure: the third step of the ladder, whatever the receives.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    m.receive_count = 40;
    w.double.fail_next(Some(Route::Capture), Fault::Status(502));
    let third = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(third[0], Outcome::Retry { retry_in, .. } if retry_in == w.options.backoff(3)),
        "{third:?}"
    );
    m.receive_count = 41;
    assert_eq!(
        w.deliver(std::slice::from_ref(&m)).await,
        vec![Outcome::Delivered]
    );
    assert_eq!(w.double.leads().len(), 1);
}

#[tokio::test]
async fn a_follow_up_held_through_an_outage_still_waits_for_the_earlier_one_of_its_lead() {
    // Its thirty receives were spent held while Rechat was down, not waiting for the
    // activity: the reassignment still waits its own turns before going on regardless.
    let w = World::new().await;
    let (_activity, reassignment) = two_follow_ups(&w).await;
    let held_long = QueueMessage {
        receive_count: 30,
        ..message(&reassignment)
    };
    let outcomes = w.deliver(std::slice::from_ref(&held_long)).await;
    assert!(outcomes[0].stays_queued(), "{outcomes:?}");
    assert!(
        !w.double
            .requests()
            .iter()
            .any(|r| r.route == Some(Route::Assignees)),
        "the reassignment did not overtake the activity"
    );
}

// A queue that counts every receive, as SQS does (issue 37): waiting must not reach its
// limit, and poison still must.

/// Rechat down for everyone, written where the breaker reads it, with no probe due for an
/// hour: every lead is held without a call.
async fn rechat_down_for_an_hour(w: &World) {
    let now = Utc::now();
    w.ledger
        .put_rechat_state(&inlet::breaker::RechatState {
            unavailable_since: Some(now),
            next_probe_at: Some(now + chrono::Duration::hours(1)),
            last_error: Some("503: Internal Error".into()),
            version: 1,
            ..inlet::breaker::RechatState::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lead_that_waited_half_the_receive_limit_goes_back_as_a_new_message_with_its_group() {
    let mut w = World::new().await;
    w.queue.receive_limit = Some(10);
    rechat_down_for_an_hour(&w).await;
    let first = capture_only("worn@example.com");
    let later = EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, b"later")
        .step(Step::Capture {
            lead: Lead {
                note: Some("second inquiry".into()),
                ..lead("worn@example.com")
            },
            sender_lead_id: None,
        })
        .build();
    assert_eq!(first.lead_key, later.lead_key);
    // Four receives in: held, as before.
    let (mut m1, mut m2) = (message(&first), message(&later));
    m1.receive_count = 4;
    m2.receive_count = 4;
    let report = w
        .delivery()
        .deliver_batch(vec![m1.clone(), m2.clone()])
        .await;
    assert!(
        matches!(report.outcomes[0].1, Outcome::Held { .. }),
        "{report:?}"
    );
    assert_eq!(report.outcomes[1].1, Outcome::Blocked);
    assert!(w.queue.requeued.lock().unwrap().is_empty());
    // Five, half the limit: both go back, in order, the first with what is left of its hold;
    // the received ones are reported done, so that the queue deletes them.
    m1.receive_count = 5;
    m2.receive_count = 5;
    let before = Utc::now();
    let report = w
        .delivery()
        .deliver_batch(vec![m1.clone(), m2.clone()])
        .await;
    assert!(
        report
            .outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Requeued { .. })),
        "{report:?}"
    );
    assert!(report.failed().is_empty());
    let requeued = w.queue.requeued.lock().unwrap().clone();
    assert_eq!(requeued.len(), 2);
    assert_eq!(requeued[0].0.message_id, m1.message_id);
    assert_eq!(requeued[1].0.message_id, m2.message_id);
    let wait = requeued[0].1.expect("the hold goes with it") - before;
    assert!(
        (4..=6).contains(&wait.num_seconds()),
        "{wait:?}: Rechat's five-second hold"
    );
    assert_eq!(requeued[1].1, None, "the one behind it just follows");
    assert!(
        w.double.requests().is_empty(),
        "no call to the failing Rechat"
    );
    // The first one's record says so (a follow-up of the lead outside this batch now stands
    // ahead of it), without counting a capture call that was never made.
    let record = w.ledger.get(&first.id).await.unwrap().unwrap();
    assert!(record.pacing.requeued_at.is_some());
    assert_eq!(record.status, RecordStatus::Queued);
    assert_eq!(record.capture_calls, 0);
    assert!(w.queue.dead_letters.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_requeued_message_waits_out_the_rest_of_its_delay_without_a_call() {
    let w = World::new().await;
    let m = QueueMessage {
        not_before: Some(Utc::now() + chrono::Duration::seconds(30)),
        ..message(&capture_only("later@example.com"))
    };
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(&outcomes[0], Outcome::Waiting { retry_in, .. } if *retry_in == Duration::from_secs(30)),
        "{outcomes:?}"
    );
    assert!(w.double.requests().is_empty());
    assert_eq!(
        *w.queue.visibility.lock().unwrap(),
        vec![(m.receipt_handle.clone().unwrap(), 30)]
    );
    // Once it has passed, it goes.
    let due = QueueMessage {
        not_before: Some(Utc::now() - chrono::Duration::seconds(1)),
        ..m
    };
    assert_eq!(w.deliver(&[due]).await, vec![Outcome::Delivered]);
}

#[tokio::test]
async fn the_last_receive_a_counting_queue_allows_is_dead_lettered_with_the_reason() {
    // Every receive since it last went back ended without an outcome (a crash, a hang):
    // Inlet dead-letters it, with the reason and the metric the alarm watches, instead of
    // SQS moving it silently at the next receive.
    let mut w = World::new().await;
    w.queue.receive_limit = Some(10);
    let poison = capture_only("poison@example.com");
    let m = QueueMessage {
        receive_count: 10,
        ..message(&poison)
    };
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(&outcomes[0], Outcome::DeadLettered { reason } if reason.contains("received 10 times without an outcome")),
        "{outcomes:?}"
    );
    assert!(w.double.requests().is_empty(), "not tried again");
    let dead = w.queue.dead_letters.lock().unwrap().clone();
    assert_eq!(dead[0].1.envelope_id.as_deref(), Some(poison.id.as_str()));
    assert_eq!(dead[0].1.group_id, poison.lead_key);
    // One receive fewer is tried as usual.
    let fine = QueueMessage {
        receive_count: 9,
        ..message(&capture_only("fine@example.com"))
    };
    assert_eq!(w.deliver(&[fine]).await, vec![Outcome::Delivered]);
    // A limit of two leaves nothing to tell poison by (a message is put back at its second
    // receive): SQS's own redrive stands.
    w.queue.receive_limit = Some(2);
    let second = QueueMessage {
        receive_count: 2,
        ..message(&capture_only("two@example.com"))
    };
    assert_eq!(w.deliver(&[second]).await, vec![Outcome::Delivered]);
}

#[tokio::test]
async fn a_follow_up_queued_before_its_earlier_envelope_went_back_goes_behind_it() {
    // The activity's message went back to the end of the group (on SQS, after waiting half
    // the receive limit), behind the reassignment queued earlier: the reassignment must not
    // overtake it, nor wait at the head of the group where the activity cannot pass it.
    let w = World::new().await;
    let (activity, reassignment) = two_follow_ups(&w).await;
    let mut record = w.ledger.get(&activity.id).await.unwrap().unwrap();
    record.pacing.requeued_at = Some(Utc::now());
    record.version += 1;
    w.ledger.update(&record).await.unwrap();
    let m = message(&reassignment);
    let report = w.delivery().deliver_batch(vec![m.clone()]).await;
    assert!(
        matches!(&report.outcomes[0].1, Outcome::Requeued { reason } if reason.contains(&activity.id)),
        "{report:?}"
    );
    assert!(report.failed().is_empty(), "the one received is done with");
    let requeued = w.queue.requeued.lock().unwrap().clone();
    assert_eq!(requeued.len(), 1);
    assert_eq!(requeued[0].0.message_id, m.message_id);
    assert!(
        !w.double
            .requests()
            .iter()
            .any(|r| r.route == Some(Route::Assignees))
    );
    let mine = w.ledger.get(&reassignment.id).await.unwrap().unwrap();
    assert!(mine.pacing.requeued_at.is_some(), "{mine:?}");
    // Had the activity gone back before the reassignment was queued, it would stand ahead:
    // the reassignment only waits its turn.
    let w = World::new().await;
    let (activity, reassignment) = two_follow_ups(&w).await;
    let mut record = w.ledger.get(&activity.id).await.unwrap().unwrap();
    record.pacing.requeued_at = Some(reassignment.received_at - chrono::Duration::minutes(5));
    record.version += 1;
    w.ledger.update(&record).await.unwrap();
    let outcomes = w.deliver(&[message(&reassignment)]).await;
    assert!(
        matches!(&outcomes[0], Outcome::Waiting { .. }),
        "{outcomes:?}"
    );
    assert!(w.queue.requeued.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_copy_put_back_again_keeps_the_instant_its_wait_ends() {
    // Rounded up to whole seconds at each round, the wait would never end.
    let mut w = World::new().await;
    w.queue.receive_limit = Some(4);
    let until = Utc::now() + chrono::Duration::milliseconds(30_500);
    let m = QueueMessage {
        not_before: Some(until),
        receive_count: 2,
        ..message(&capture_only("copy@example.com"))
    };
    let outcomes = w.deliver(std::slice::from_ref(&m)).await;
    assert!(
        matches!(outcomes[0], Outcome::Requeued { .. }),
        "{outcomes:?}"
    );
    let requeued = w.queue.requeued.lock().unwrap().clone();
    assert_eq!(requeued[0].1, Some(until));
    assert!(w.double.requests().is_empty());
}

#[tokio::test]
async fn a_copys_wait_never_outlasts_the_retry_window() {
    // Whatever its attribute says (a 429's Retry-After of a year, a clock gone wrong), a
    // copy waits at most SQS's longest visibility at a time, and not past its retry window.
    let w = World::new().await;
    let far = QueueMessage {
        not_before: Some(Utc::now() + chrono::Duration::days(365)),
        ..message(&capture_only("far@example.com"))
    };
    let outcomes = w.deliver(std::slice::from_ref(&far)).await;
    assert!(
        matches!(&outcomes[0], Outcome::Waiting { retry_in, .. } if *retry_in == Duration::from_secs(43_200)),
        "{outcomes:?}"
    );
    let old = QueueMessage {
        not_before: Some(Utc::now() + chrono::Duration::days(365)),
        ..message(&capture_received_hours_ago(73, "old-copy@example.com"))
    };
    assert_eq!(w.deliver(&[old]).await, vec![Outcome::Delivered]);
}
