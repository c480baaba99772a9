//! The embedded queue and ledger (`inlet serve`): the SQS FIFO semantics delivery relies on,
//! durability across a reopen, and the ledger rules the DynamoDB ledger follows.

use inlet::deliver::DeliveryOptions;
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet::envelope::{Envelope, EnvelopeBuilder, OriginKind, Step};
use inlet::lead::Lead;
use inlet::ledger::{Ledger, LedgerError, LedgerRecord, SenderLink};
use inlet::queue::{DeadLetter, Queue};
use inlet::rechat::{RechatClient, RechatConfig};
use inlet_testkit::{Fault, RechatDouble, Route};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inlet-embedded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn store(name: &str, settings: QueueSettings) -> (EmbeddedStore, PathBuf) {
    let d = dir(name);
    (EmbeddedStore::open(&d, settings).unwrap(), d)
}

fn envelope(email: &str, note: &str) -> Envelope {
    EnvelopeBuilder::new(OriginKind::Webhook, "test", CHANNEL, note.as_bytes())
        .step(Step::Capture {
            lead: Lead {
                email: Some(email.into()),
                note: Some(note.into()),
                ..Lead::default()
            },
            sender_lead_id: None,
        })
        .build()
}

fn note(body: &str) -> String {
    Envelope::from_json(body)
        .unwrap()
        .captured_lead()
        .unwrap()
        .note
        .clone()
        .unwrap()
}

#[tokio::test]
async fn fifo_order_per_group_with_groups_interleaved() {
    let (s, _) = store("fifo", QueueSettings::default());
    for (email, n) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("b", "b2"),
        ("a", "a3"),
    ] {
        s.send(&envelope(&format!("{email}@example.com"), n))
            .await
            .unwrap();
    }
    let batch = s.receive(10).await.unwrap();
    let notes: Vec<_> = batch.iter().map(|m| note(&m.body)).collect();
    assert_eq!(notes, vec!["a1", "b1", "a2", "b2", "a3"]);
    assert!(
        batch
            .iter()
            .all(|m| m.receive_count == 1 && m.group_id.is_some())
    );
    assert!(s.receive(10).await.unwrap().is_empty(), "all in flight");
    s.delete(
        batch
            .iter()
            .filter_map(|m| m.receipt_handle.clone())
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(s.depth().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn a_group_with_a_message_in_flight_yields_nothing_until_it_is_done() {
    let (s, _) = store("inflight", QueueSettings::default());
    s.send(&envelope("a@example.com", "a1")).await.unwrap();
    let first = s.receive(1).await.unwrap();
    s.send(&envelope("a@example.com", "a2")).await.unwrap();
    s.send(&envelope("b@example.com", "b1")).await.unwrap();
    let next: Vec<_> = s
        .receive(10)
        .await
        .unwrap()
        .iter()
        .map(|m| note(&m.body))
        .collect();
    assert_eq!(next, vec!["b1"], "a2 waits behind a1");
    // a1 fails and comes back now: it is received again before a2, with its count.
    s.change_visibility(first[0].receipt_handle.as_deref().unwrap(), 0)
        .await
        .unwrap();
    let again = s.receive(10).await.unwrap();
    let notes: Vec<_> = again.iter().map(|m| note(&m.body)).collect();
    assert_eq!(notes, vec!["a1", "a2"]);
    assert_eq!(again[0].receive_count, 2);
}

#[tokio::test]
async fn the_visibility_timeout_returns_an_unfinished_message() {
    let (s, _) = store(
        "visibility",
        QueueSettings {
            visibility: Duration::from_secs(1),
            ..QueueSettings::default()
        },
    );
    s.send(&envelope("a@example.com", "a1")).await.unwrap();
    let first = s.receive(10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(s.receive(10).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let back = s.receive(10).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].receive_count, 2);
    // The first receive's handle is stale: it neither releases nor deletes the message that
    // is in hand again (unlike moto's SQS, which honours it).
    let stale = first[0].receipt_handle.clone().unwrap();
    s.change_visibility(&stale, 0).await.unwrap();
    assert!(s.receive(10).await.unwrap().is_empty(), "still in hand");
    s.delete(vec![stale]).await.unwrap();
    assert_eq!(s.depth().await.unwrap(), (1, 0));
    s.delete(vec![back[0].receipt_handle.clone().unwrap()])
        .await
        .unwrap();
    assert_eq!(s.depth().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn a_repeat_within_the_dedupe_window_is_dropped() {
    let (s, _) = store("dedupe", QueueSettings::default());
    let e = envelope("a@example.com", "a1");
    s.send(&e).await.unwrap();
    s.send(&e).await.unwrap();
    assert_eq!(s.depth().await.unwrap(), (1, 0));
}

#[tokio::test]
async fn after_max_receives_without_an_outcome_a_message_moves_to_the_dead_letter_queue() {
    // Received, and delivery never answered (the process died or hung on it): the message
    // comes back at its visibility timeout, and after `max_receives` such receives it is
    // dead-lettered, poison that it is.
    let (s, _) = store(
        "redrive",
        QueueSettings {
            max_receives: 2,
            visibility: Duration::from_millis(50),
            ..QueueSettings::default()
        },
    );
    let e = envelope("a@example.com", "a1");
    s.send(&e).await.unwrap();
    for _ in 0..2 {
        let m = s.receive(10).await.unwrap();
        assert_eq!(m.len(), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert!(s.receive(10).await.unwrap().is_empty());
    let dead = s.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .dead_letter
            .reason
            .contains("received 2 times without an outcome"),
        "{:?}",
        dead[0]
    );
    assert_eq!(dead[0].dead_letter.group_id, e.lead_key);
    assert_eq!(s.replay(None, false).await.unwrap(), 1);
    let back = s.receive(10).await.unwrap();
    assert_eq!(back[0].receive_count, 1, "a replay starts a fresh count");
    assert_eq!(back[0].group_id.as_deref(), Some(e.lead_key.as_str()));
}

#[tokio::test]
async fn a_requeued_message_goes_to_the_end_of_its_group_with_its_wait() {
    let (s, _) = store("requeue", QueueSettings::default());
    s.send(&envelope("a@example.com", "a1")).await.unwrap();
    s.send(&envelope("a@example.com", "a2")).await.unwrap();
    let first = s.receive(10).await.unwrap();
    assert_eq!(
        first.iter().map(|m| note(&m.body)).collect::<Vec<_>>(),
        vec!["a1", "a2"]
    );
    let wait = chrono::Utc::now() + chrono::Duration::milliseconds(600);
    s.requeue(&first[0], Some(wait)).await.unwrap();
    s.delete(vec![first[0].receipt_handle.clone().unwrap()])
        .await
        .unwrap();
    // a2 was behind it in the batch, not attempted: back at once.
    s.change_visibility(first[1].receipt_handle.as_deref().unwrap(), 0)
        .await
        .unwrap();
    // a2 now leads its group; the copy of a1 follows it once its wait is over.
    let next = s.receive(10).await.unwrap();
    assert_eq!(
        next.iter().map(|m| note(&m.body)).collect::<Vec<_>>(),
        vec!["a2"]
    );
    s.delete(vec![next[0].receipt_handle.clone().unwrap()])
        .await
        .unwrap();
    assert!(s.receive(10).await.unwrap().is_empty(), "still waiting");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let copy = s.receive(10).await.unwrap();
    assert_eq!(copy.len(), 1);
    assert_eq!(note(&copy[0].body), "a1");
    assert_eq!(copy[0].receive_count, 1, "a new message's count");
    assert_ne!(copy[0].message_id, first[0].message_id);
    // A stale receipt (the message received again since) is refused, never copied twice.
    assert!(s.requeue(&first[0], None).await.is_err());
}

#[tokio::test]
async fn dead_letters_keep_their_reason_and_replay_by_envelope_id() {
    let (s, _) = store("dead", QueueSettings::default());
    let (a, b) = (
        envelope("a@example.com", "a1"),
        envelope("b@example.com", "b1"),
    );
    for e in [&a, &b] {
        let reason = DeadLetter {
            reason: format!("refused {}", e.id),
            envelope_id: Some(e.id.clone()),
            group_id: e.lead_key.clone(),
            failed_step: Some("capture".into()),
            status: Some(400),
            cause: None,
        };
        s.dead_letter(&e.to_json(), &reason).await.unwrap();
    }
    let dead = s.dead_letters().await.unwrap();
    assert_eq!(dead[1].dead_letter.reason, format!("refused {}", b.id));
    assert_eq!(dead[1].dead_letter.status, Some(400));
    // Refused for its content (400): a plain replay would fail the same way and leaves it;
    // as it is, when a person says so.
    assert_eq!(s.replay(Some(b.id.clone()), false).await.unwrap(), 0);
    assert_eq!(s.replay(Some(b.id.clone()), true).await.unwrap(), 1);
    assert_eq!(s.replay(Some("nothing".into()), false).await.unwrap(), 0);
    assert_eq!(s.depth().await.unwrap(), (1, 1));
    assert_eq!(note(&s.receive(10).await.unwrap()[0].body), "b1");
}

#[tokio::test]
async fn what_was_acknowledged_survives_a_reopen() {
    let d = dir("durable");
    {
        let s = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
        let sends: Vec<_> = (0..200)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(
                    async move { s.send(&envelope(&format!("p{i}@example.com"), "n")).await },
                )
            })
            .collect();
        for t in sends {
            t.await.unwrap().unwrap();
        }
        let e = envelope("a@example.com", "a1");
        s.create(&LedgerRecord::queued(&e)).await.unwrap();
    }
    let s = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
    assert_eq!(s.depth().await.unwrap(), (200, 0));
    assert_eq!(s.recent_records(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_ledger_follows_the_same_rules_as_dynamodb() {
    let (s, _) = store("ledger", QueueSettings::default());
    let e = envelope("a@example.com", "a1");
    let record = LedgerRecord::new(e.id.clone(), &e);
    assert!(s.create(&record).await.unwrap().is_none());
    assert_eq!(s.create(&record).await.unwrap(), Some(record.clone()));
    let mut next = record.clone();
    next.version = 1;
    next.rechat_lead_id = Some("lead-1".into());
    s.update(&next).await.unwrap();
    assert!(matches!(
        s.update(&next).await,
        Err(LedgerError::Conflict { .. })
    ));
    assert_eq!(
        s.get(&e.id)
            .await
            .unwrap()
            .unwrap()
            .rechat_lead_id
            .as_deref(),
        Some("lead-1")
    );
    assert_eq!(s.records_for_lead(&e.lead_key).await.unwrap().len(), 1);
    // An update writes the whole record, as DynamoDB's put does: a record given a later
    // time (delivery adopting its message's) sorts by it among its lead's.
    let other = envelope("a@example.com", "a2");
    let mut later = LedgerRecord::new(other.id.clone(), &other);
    later.received_at = record.received_at + chrono::Duration::seconds(10);
    assert!(s.create(&later).await.unwrap().is_none());
    let keys = |records: Vec<LedgerRecord>| records.into_iter().map(|r| r.key).collect::<Vec<_>>();
    assert_eq!(
        keys(s.records_for_lead(&e.lead_key).await.unwrap()),
        [e.id.clone(), other.id.clone()]
    );
    next.version = 2;
    next.received_at = record.received_at + chrono::Duration::seconds(20);
    s.update(&next).await.unwrap();
    assert_eq!(
        keys(s.records_for_lead(&e.lead_key).await.unwrap()),
        [other.id.clone(), e.id.clone()]
    );
    let link = SenderLink {
        envelope_id: e.id.clone(),
        rechat_lead_id: Some("lead-1".into()),
    };
    s.link_sender_lead("s-1", &link).await.unwrap();
    assert_eq!(s.sender_lead("s-1").await.unwrap(), Some(link));
    assert_eq!(s.sender_lead("s-2").await.unwrap(), None);
}

#[tokio::test]
async fn the_delivery_loop_delivers_retries_and_stops_when_asked() {
    let (s, _) = store("loop", QueueSettings::default());
    let double = RechatDouble::start().await;
    double.fail_next(Some(Route::Capture), Fault::Status(503));
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        ..RechatConfig::default()
    })
    .unwrap();
    let options = DeliveryOptions {
        retry_base: Duration::from_millis(1000),
        ..DeliveryOptions::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(inlet::serve::deliver_loop(
        s.clone(),
        Arc::new(client),
        None,
        options,
        stopped,
    ));
    for i in 0..3 {
        s.send(&envelope("a@example.com", &format!("a{i}")))
            .await
            .unwrap();
    }
    for _ in 0..100 {
        if double.leads().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let notes: Vec<_> = double
        .leads()
        .iter()
        .map(|l| l.payload["note"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(notes, vec!["a0", "a1", "a2"], "in order, after the retry");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.depth().await.unwrap(),
        (0, 0),
        "delivered messages are deleted"
    );
}

#[tokio::test]
async fn a_slow_answer_holds_up_its_own_lead_and_not_the_rest_of_the_queue() {
    let (s, _) = store("overlap", QueueSettings::default());
    let double = RechatDouble::start().await;
    // The next capture is answered after 3 s (within the client's timeout).
    double.fail_next(Some(Route::Capture), Fault::Slow(Duration::from_secs(3)));
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        total_timeout: Duration::from_secs(10),
        ..RechatConfig::default()
    })
    .unwrap();
    s.send(&envelope("slow@example.com", "slow")).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(inlet::serve::deliver_loop(
        s.clone(),
        Arc::new(client),
        None,
        DeliveryOptions::default(),
        stopped,
    ));
    // The fault goes to whichever capture arrives next: the others are queued only once the
    // slow lead's capture holds it (queued together, any of them could have been first).
    let waiting = std::time::Instant::now();
    while !double.requests().iter().any(|r| r.fault.is_some())
        && waiting.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let held: Vec<_> = double
        .requests()
        .into_iter()
        .filter(|r| r.fault.is_some())
        .collect();
    assert_eq!(held.len(), 1, "one capture is held");
    assert_eq!(held[0].json()["note"], "slow");
    let started = std::time::Instant::now();
    for i in 0..30 {
        s.send(&envelope(&format!("p{i}@example.com"), &format!("n{i}")))
            .await
            .unwrap();
    }
    while double.leads().len() < 30 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let others_done = started.elapsed();
    assert!(
        others_done < Duration::from_millis(2500),
        "30 other leads took {others_done:?} behind one slow answer"
    );
    assert!(
        !double.leads().iter().any(|l| l.payload["note"] == "slow"),
        "the slow one is still in hand"
    );
    while double.leads().len() < 31 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(double.leads().len(), 31);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.depth().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn rechat_availability_is_written_only_over_the_version_read_and_survives_a_reopen() {
    let (s, d) = store("rechat-state", QueueSettings::default());
    let mut state = s.rechat_state().await.unwrap();
    assert_eq!(state, inlet::breaker::RechatState::default());
    state.unavailable_since = Some(chrono::Utc::now());
    state.version = 1;
    s.put_rechat_state(&state).await.unwrap();
    // A second writer that read version 0 too loses.
    assert!(matches!(
        s.put_rechat_state(&state).await,
        Err(LedgerError::Conflict { .. })
    ));
    let mut closed = state.clone();
    closed.unavailable_since = None;
    closed.version = 2;
    s.put_rechat_state(&closed).await.unwrap();
    drop(s);
    let reopened = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
    assert_eq!(reopened.rechat_state().await.unwrap(), closed);
}

#[tokio::test]
async fn held_messages_are_released_at_once_and_a_message_in_hand_never_is() {
    let (s, _d) = store("held", QueueSettings::default());
    s.send(&envelope("held-a@example.com", "a")).await.unwrap();
    s.send(&envelope("held-b@example.com", "b")).await.unwrap();
    let got = s.receive(10).await.unwrap();
    assert_eq!(got.len(), 2);
    // One held for ten minutes, one simply in hand (being delivered).
    s.hold(got[0].receipt_handle.as_deref().unwrap(), 600)
        .await
        .unwrap();
    assert!(s.receive(10).await.unwrap().is_empty());
    assert_eq!(s.release_held().await.unwrap(), 1);
    let again = s.receive(10).await.unwrap();
    assert_eq!(again.len(), 1, "only the held one comes back");
    assert_eq!(again[0].message_id, got[0].message_id);
    // Received again, it is in hand: a later release leaves it alone.
    assert_eq!(s.release_held().await.unwrap(), 0);
    assert!(s.receive(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn kept_items_are_kept_once_listed_by_kind_newest_first_and_forgotten_past_retention() {
    use inlet::kept::{Kept, KeptItem, KeptKind};
    let (s, d) = store("kept", QueueSettings::default());
    let mut first = KeptItem::new(KeptKind::Spam, "honeypot", envelope("a@example.com", "one"));
    first.kept_at -= chrono::Duration::seconds(2);
    s.keep(&first).await.unwrap();
    let mut again = first.clone();
    again.reason = "too fast".into();
    s.keep(&again).await.unwrap();
    let mut second = KeptItem::new(KeptKind::Spam, "captcha", envelope("b@example.com", "two"));
    second.kept_at = first.kept_at + chrono::Duration::seconds(1);
    s.keep(&second).await.unwrap();
    s.keep(&KeptItem::new(
        KeptKind::Unsure,
        "only a name",
        envelope("c@example.com", "three"),
    ))
    .await
    .unwrap();
    let spam = s.newest(KeptKind::Spam, 10).await.unwrap();
    assert_eq!(spam.len(), 2);
    assert_eq!(spam[0].id, second.id, "newest first");
    assert_eq!(
        spam[1].reason, "honeypot",
        "kept once, with its first reason"
    );
    assert_eq!(s.newest(KeptKind::Spam, 1).await.unwrap().len(), 1);
    assert_eq!(s.count(KeptKind::Spam).await.unwrap(), 2);
    assert_eq!(s.count(KeptKind::NotALead).await.unwrap(), 0);
    // Found by its id or its envelope's; removed once.
    assert_eq!(s.find(&first.id).await.unwrap().unwrap().id, first.id);
    assert_eq!(
        s.find(&first.envelope.id).await.unwrap().unwrap().id,
        first.id
    );
    assert!(s.find("k-none").await.unwrap().is_none());
    assert!(s.remove(&first.id).await.unwrap());
    assert!(!s.remove(&first.id).await.unwrap());
    // Durable across a reopen.
    drop(s);
    let s = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
    assert_eq!(s.count(KeptKind::Spam).await.unwrap(), 1);
    // Past the retention, neither listed nor found, then swept.
    let short = QueueSettings {
        kept_retention: Duration::from_millis(1),
        ..QueueSettings::default()
    };
    drop(s);
    let s = EmbeddedStore::open(&d, short).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(s.newest(KeptKind::Spam, 10).await.unwrap().is_empty());
    assert!(s.find(&second.id).await.unwrap().is_none());
    s.sweep().await.unwrap();
    drop(s);
    let s = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
    assert_eq!(s.count(KeptKind::Spam).await.unwrap(), 0, "swept");
}

/// Spam an earlier version kept on the dead-letter queue moves to the kept items when the
/// store opens: nothing kept is lost by an upgrade, and it is no longer a dead letter.
#[tokio::test]
async fn spam_an_earlier_version_dead_lettered_becomes_a_kept_item() {
    use inlet::kept::{Kept, KeptKind};
    let (s, d) = store("kept-upgrade", QueueSettings::default());
    let spam = envelope("rosa@example.com", "is it available?");
    let old = DeadLetter {
        reason: "spam: the honeypot field was filled".into(),
        envelope_id: Some(spam.id.clone()),
        group_id: spam.lead_key.clone(),
        failed_step: None,
        status: None,
        cause: Some(inlet::queue::SPAM.into()),
    };
    s.dead_letter(&spam.to_json(), &old).await.unwrap();
    let failed = DeadLetter {
        cause: None,
        reason: "Rechat refused: 400".into(),
        ..old.clone()
    };
    s.dead_letter(&envelope("x@example.com", "x").to_json(), &failed)
        .await
        .unwrap();
    drop(s);
    let s = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
    let dead = s.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1, "only the real dead letter stays");
    assert_eq!(dead[0].dead_letter.reason, "Rechat refused: 400");
    let kept = s.newest(KeptKind::Spam, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].reason, "spam: the honeypot field was filled");
    assert_eq!(kept[0].envelope.id, spam.id);
    assert_eq!(s.find(&spam.id).await.unwrap().unwrap().id, kept[0].id);
}

// Receives that end in a hold or a retry are given back (issue 37): the receive limit counts
// only the receives delivery never answered, a message that stops or hangs the process.

#[tokio::test]
async fn a_receive_answered_with_a_hold_or_a_retry_does_not_count_toward_the_limit() {
    let (s, _) = store(
        "answered",
        QueueSettings {
            max_receives: 2,
            ..QueueSettings::default()
        },
    );
    s.send(&envelope("waits@example.com", "w1")).await.unwrap();
    for round in 0..8 {
        let m = s.receive(10).await.unwrap();
        assert_eq!(m.len(), 1, "round {round}: still on the queue");
        let receipt = m[0].receipt_handle.as_deref().unwrap();
        if round % 2 == 0 {
            s.hold(receipt, 0).await.unwrap();
        } else {
            s.change_visibility(receipt, 0).await.unwrap();
        }
    }
    assert_eq!(s.depth().await.unwrap(), (1, 0), "never dead-lettered");
}

#[tokio::test]
async fn the_probe_lead_of_an_outage_waits_it_out_without_spending_its_receives() {
    // Rechat down for longer than max-receives probes: the lead taken as the probe comes back
    // every second, and is still delivered, with every other, when Rechat answers.
    let (s, _) = store(
        "probe-lead",
        QueueSettings {
            max_receives: 3,
            ..QueueSettings::default()
        },
    );
    let double = RechatDouble::start().await;
    double.go_down(Fault::Status(503));
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        ..RechatConfig::default()
    })
    .unwrap();
    let options = DeliveryOptions {
        breaker: inlet::breaker::BreakerOptions {
            probe_every: Duration::from_millis(200),
            min_hold: Duration::from_secs(1),
            ..inlet::breaker::BreakerOptions::default()
        },
        ..DeliveryOptions::default()
    };
    for i in 0..4 {
        s.send(&envelope(
            &format!("probe{i}@example.com"),
            &format!("p{i}"),
        ))
        .await
        .unwrap();
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(inlet::serve::deliver_loop(
        s.clone(),
        Arc::new(client),
        None,
        options,
        stopped,
    ));
    tokio::time::sleep(Duration::from_secs(8)).await;
    let dead = s.dead_letters().await.unwrap();
    let reasons: Vec<&str> = dead.iter().map(|d| d.dead_letter.reason.as_str()).collect();
    assert!(dead.is_empty(), "dead-lettered while waiting: {reasons:?}");
    // Four leads' first calls, then a probe about every second: the probe lead was received
    // well past max-receives.
    let failed = double
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(failed >= 4 + 5, "{failed} calls to the failing Rechat");
    double.come_back();
    for _ in 0..100 {
        if double.leads().len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .unwrap()
        .unwrap();
    let dead = s.dead_letters().await.unwrap();
    assert!(dead.is_empty(), "dead-lettered for waiting: {dead:?}");
    assert_eq!(
        double.leads().len(),
        4,
        "every lead delivered after the outage"
    );
    assert_eq!(s.depth().await.unwrap(), (0, 0));
}
