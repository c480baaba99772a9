//! Meta reconciliation against the Graph double, end to end in one process: the webhook path
//! through the intake router, delivery fetching each lead from the double with the page token,
//! and reconciliation listing the forms and their leads, all on the embedded store of
//! `inlet serve`. Webhooks bring some leads, the double holds all of them, and reconciliation
//! adds exactly the missing ones, once, as the webhook path would have queued them. The same
//! on DynamoDB and SQS (moto) is in `tests/tests/meta_reconcile_aws.rs`.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use inlet::deliver::{Breaker, Delivery, DeliveryOptions, Outcome};
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet::envelope::{Envelope, Step};
use inlet::ledger::{Document, Ledger, LedgerError, LedgerRecord, RechatState, SenderLink};
use inlet::meta_graph::GraphClient;
use inlet::meta_graph::usage::Pace;
use inlet::meta_reconcile::{Pass, PassReport, Reconciler, RunOptions, figures};
use inlet::queue::{DeadLetter, Queue, QueueError};
use inlet::rechat::{RechatClient, RechatConfig};
use inlet::router::{Intake, IntakeSettings};
use inlet::webhook::WebhookSettings;
use inlet_testkit::{GraphDouble, RechatDouble, leadgen_notification};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CHANNEL: &str = "00000000-0000-4000-8000-0000000000a1";
const OTHER: &str = "00000000-0000-4000-8000-0000000000b2";
const PAGE: &str = "900000000001";
const FORM: &str = "800000000001";
const TOKEN: &str = "page-token-1";

fn routing(extra: &str) -> WebhookSettings {
    let text = format!(
        "[senders.meta]\ntags = [\"Facebook\"]\n{extra}\n[senders.meta.reconcile]\nevery_minutes = 15\npages = [{{ id = \"{PAGE}\", channel = \"{CHANNEL}\", tags = [\"Buyers\"], assignees = [{{ email = \"desk@example.com\" }}] }}]\n"
    );
    WebhookSettings::from_toml(&text.parse().unwrap()).unwrap()
}

/// A lead's answers as Meta's form collects them.
fn answers(n: usize) -> Value {
    json!({"field_data": [
        {"name": "full_name", "values": [format!("Person {n} Rivera")]},
        {"name": "email", "values": [format!("person{n}@example.com")]},
        {"name": "phone_number", "values": [format!("+1512555{:04}", 100 + n)]},
        {"name": "when_do_you_plan_to_buy?", "values": ["3_months"]}
    ]})
}

fn lead_id(n: usize) -> String {
    format!("70000000000{n:04}")
}

struct World {
    store: EmbeddedStore,
    graph: GraphDouble,
    rechat: RechatDouble,
    client: GraphClient,
    rechat_client: RechatClient,
    intake: Intake,
    webhooks: WebhookSettings,
    breaker: Breaker,
    _dir: std::path::PathBuf,
}

impl World {
    async fn new(name: &str, webhooks: WebhookSettings) -> World {
        let dir = std::env::temp_dir().join(format!(
            "inlet-meta-reconcile-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = EmbeddedStore::open(&dir, QueueSettings::default()).unwrap();
        let graph = GraphDouble::start(TOKEN).await;
        graph.add_form(PAGE, FORM, "Buyers 2026", "ACTIVE");
        let rechat = RechatDouble::start().await;
        let client = GraphClient::new(graph.url(), "", Duration::from_secs(5), None)
            .unwrap()
            .with_page_token(PAGE, TOKEN);
        let rechat_client = RechatClient::new(&RechatConfig {
            base_url: rechat.url().to_owned(),
            connect_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(5),
        })
        .unwrap();
        let intake = Intake {
            queue: Arc::new(store.clone()),
            ledger: Arc::new(store.clone()),
            kept: Arc::new(store.clone()),
            settings: IntakeSettings {
                webhooks: webhooks.clone(),
                ..IntakeSettings::default()
            },
            captcha: Arc::new(inlet::forms::spam::HttpCaptchaVerifier::new()),
            sns: Arc::new(inlet::sns::HttpsSns::new(None)),
            readings: Default::default(),
            console: None,
        };
        World {
            store,
            graph,
            rechat,
            client,
            rechat_client,
            intake,
            webhooks,
            breaker: Breaker::default(),
            _dir: dir,
        }
    }

    /// Lead `n` of the form, created `minutes_ago`.
    fn lead(&self, n: usize, minutes_ago: i64, now: DateTime<Utc>) {
        self.graph.add_form_lead(
            FORM,
            &lead_id(n),
            (now - chrono::Duration::minutes(minutes_ago)).timestamp(),
            answers(n),
        );
    }

    /// Meta's `leadgen` notification of these leads, posted to the webhook route.
    async fn webhook(&self, channel: &str, leads: &[usize]) -> Value {
        let body = leadgen_notification(PAGE, FORM, &ids(leads));
        let response = self
            .intake
            .handle(
                http::Request::builder()
                    .method("POST")
                    .uri(format!("/webhooks/{channel}/meta"))
                    .header("content-type", "application/json")
                    .body(Bytes::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), 202, "{:?}", response.body());
        serde_json::from_slice(response.body()).unwrap()
    }

    fn reconciler(&self) -> Reconciler<'_> {
        self.reconciler_with(&self.store, &self.store)
    }

    fn reconciler_with<'a>(
        &'a self,
        ledger: &'a dyn Ledger,
        queue: &'a dyn Queue,
    ) -> Reconciler<'a> {
        Reconciler {
            graph: &self.client,
            ledger,
            queue,
            webhooks: &self.webhooks,
            normalize: Default::default(),
            other_channels: vec![CHANNEL.into(), OTHER.into()],
            options: RunOptions {
                retry_waits: vec![Duration::from_millis(5), Duration::from_millis(5)],
                pace: Pace {
                    longest_wait: Duration::from_millis(40),
                    ..Pace::default()
                },
                ..RunOptions::default()
            },
        }
    }

    async fn reconcile(&self, now: DateTime<Utc>) -> PassReport {
        self.reconciler()
            .run(Pass {
                now,
                since: None,
                dry_run: false,
            })
            .await
            .unwrap()
    }

    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            breaker: &self.breaker,
            meta: Some(&self.client),
            rechat: &self.rechat_client,
            ledger: &self.store,
            queue: &self.store,
            options: DeliveryOptions::default(),
        }
    }

    /// The envelope the webhook path makes of lead `n`'s notification to `channel`.
    async fn notified(&self, channel: &str, n: usize) -> Envelope {
        let body = leadgen_notification(PAGE, FORM, &ids(&[n]));
        let raw = body.to_string();
        let headers = http::HeaderMap::new();
        let parsed = inlet::webhook::process(
            &inlet::webhook::WebhookRequest {
                channel,
                path: "/webhooks/x/meta",
                sender: Some("meta"),
                content_type: Some("application/json"),
                headers: &headers,
                query: "",
                body: raw.as_bytes(),
            },
            &self.webhooks,
            &Default::default(),
            Utc::now(),
        )
        .await
        .unwrap();
        parsed.envelopes.into_iter().next().unwrap()
    }

    /// Delivers one envelope as a message off the queue (past the queue's own dedupe).
    async fn deliver_envelope(&self, envelope: &Envelope) -> Outcome {
        self.delivery()
            .deliver_message(&inlet::queue::QueueMessage {
                message_id: uuid::Uuid::new_v4().to_string(),
                receipt_handle: None,
                body: envelope.to_json(),
                group_id: Some(envelope.lead_key.clone()),
                receive_count: 1,
                not_before: None,
            })
            .await
    }

    /// Delivers every waiting message, as `inlet serve`'s loop does; the outcomes.
    async fn deliver_all(&self) -> Vec<Outcome> {
        let delivery = self.delivery();
        let mut outcomes = Vec::new();
        loop {
            let batch = self.store.receive(10).await.unwrap();
            if batch.is_empty() {
                return outcomes;
            }
            let receipts: Vec<_> = batch.iter().map(|m| m.receipt_handle.clone()).collect();
            let report = delivery.deliver_batch(batch).await;
            let mut done = Vec::new();
            for ((_, outcome), receipt) in report.outcomes.into_iter().zip(receipts) {
                assert!(!outcome.stays_queued(), "{outcome:?}");
                done.extend(receipt);
                outcomes.push(outcome);
            }
            self.store.delete(done).await.unwrap();
        }
    }

    /// The leads Rechat holds, by email.
    fn captured(&self) -> Vec<String> {
        let mut emails: Vec<String> = self
            .rechat
            .leads()
            .iter()
            .filter_map(|l| l.payload["email"].as_str().map(str::to_owned))
            .collect();
        emails.sort();
        emails
    }
}

fn emails(ns: &[usize]) -> Vec<String> {
    let mut e: Vec<String> = ns
        .iter()
        .map(|n| format!("person{n}@example.com"))
        .collect();
    e.sort();
    e
}

fn added(report: &PassReport) -> Vec<String> {
    let mut ids: Vec<String> = report
        .forms
        .iter()
        .flat_map(|f| f.added.iter().map(|a| a.leadgen_id.clone()))
        .collect();
    ids.sort();
    ids
}

fn ids(ns: &[usize]) -> Vec<String> {
    ns.iter().map(|n| lead_id(*n)).collect()
}

#[tokio::test]
async fn webhooks_bring_some_leads_and_reconciliation_adds_exactly_the_missing_ones_once() {
    let w = World::new("missing", routing("")).await;
    let now = Utc::now();
    for (n, minutes) in [(1, 180), (2, 150), (3, 120), (4, 90), (5, 30)] {
        w.lead(n, minutes, now);
    }
    // Too young for this run (its webhook is likely on its way): the next run's.
    w.lead(6, 1, now);
    w.webhook(CHANNEL, &[1, 2, 3]).await;
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered; 3]);

    let report = w.reconcile(now).await;
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    assert_eq!(added(&report), ids(&[4, 5]));
    assert_eq!((report.forms[0].listed, report.forms[0].known), (5, 3));
    // One page of forms, one of leads: the whole run.
    assert_eq!(report.graph_calls, 2);
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered; 2]);
    assert_eq!(w.captured(), emails(&[1, 2, 3, 4, 5]));

    // Read as the webhook path reads a notified lead: Meta's answers, the sender's tags and
    // the page's route.
    let four = w
        .rechat
        .leads()
        .into_iter()
        .find(|l| l.payload["email"] == "person4@example.com")
        .unwrap();
    assert_eq!(four.payload["first_name"], "Person 4");
    assert_eq!(four.payload["last_name"], "Rivera");
    assert_eq!(four.payload["phone_number"], "+15125550104");
    assert_eq!(four.payload["lead_source"], "Facebook Lead Ads");
    assert_eq!(four.payload["tag"], json!(["Facebook", "Buyers"]));
    assert_eq!(four.payload["assignees"][0]["email"], "desk@example.com");
    assert!(
        four.payload["note"].as_str().unwrap().contains("3_months"),
        "{}",
        four.payload
    );

    // The next run, fifteen minutes on: the young lead only; the others are known.
    let later = now + chrono::Duration::minutes(15);
    let report = w.reconcile(later).await;
    assert_eq!(added(&report), ids(&[6]));
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered]);
    // A webhook that comes late, for a lead reconciliation added: no second lead (the
    // queue's five-minute dedupe drops it, and past that window the ledger does).
    w.webhook(CHANNEL, &[5]).await;
    assert!(
        w.deliver_all()
            .await
            .iter()
            .all(|o| *o == Outcome::Duplicate)
    );
    let late = w.notified(CHANNEL, 5).await;
    assert_eq!(w.deliver_envelope(&late).await, Outcome::Duplicate);
    assert_eq!(w.captured(), emails(&[1, 2, 3, 4, 5, 6]));
    let again = w.reconcile(later + chrono::Duration::minutes(15)).await;
    assert!(added(&again).is_empty());

    // What the operator reads: per form and day, Meta's leads, the webhooks', the added.
    let f = figures::read(&w.store).await.unwrap().unwrap();
    let days = f.forms[0].days();
    let sum = |pick: fn(&figures::DayFigures) -> usize| days.iter().map(pick).sum::<usize>();
    assert_eq!(
        (sum(|d| d.meta), sum(|d| d.webhooks), sum(|d| d.reconciled)),
        (6, 3, 3)
    );
    assert_eq!(f.forms[0].doc.reconciled_total, 3);
    assert_eq!(f.forms[0].doc.name.as_deref(), Some("Buyers 2026"));
    let text = figures::lines(Some(&f), later).join("\n");
    assert!(text.contains("meta reconcile       ok"), "{text}");
    assert!(
        text.contains("the webhook subscription looks broken"),
        "{text}"
    );
    let metrics = figures::prometheus(Some(&f), later);
    assert!(metrics.contains(&format!("inlet_meta_reconciled_total{{form=\"{FORM}\"}} 3")));
}

#[tokio::test]
async fn the_reconciled_envelope_is_the_webhooks_own() {
    let w = World::new(
        "same",
        routing("lead_source = \"Meta ads\"\ndrop_test = true"),
    )
    .await;
    let now = Utc::now();
    w.lead(1, 60, now);
    let report = w
        .reconciler()
        .run(Pass {
            now,
            since: None,
            dry_run: true,
        })
        .await
        .unwrap();
    let reconciled = &report.forms[0].added[0];
    // What the webhook path makes of the notification (to another URL's channel), without
    // queueing it.
    let notified = &w.notified(OTHER, 1).await;
    // The page's route wins over the URL's channel, so the ids are the same.
    assert_eq!(notified.channel, CHANNEL);
    assert_eq!(notified.id, reconciled.envelope_id);
    match &notified.steps[..] {
        [
            Step::FetchMetaLead {
                leadgen_id,
                form_id,
                page_id,
                defaults,
            },
        ] => {
            assert_eq!(leadgen_id, &lead_id(1));
            assert_eq!(form_id.as_deref(), Some(FORM));
            assert_eq!(page_id.as_deref(), Some(PAGE));
            assert_eq!(defaults.tags, ["Facebook", "Buyers"]);
            assert_eq!(defaults.lead_source.as_deref(), Some("Meta ads"));
            assert!(defaults.drop_test);
        }
        other => panic!("{other:?}"),
    }
    // The dry run queued and recorded nothing.
    assert_eq!(w.store.depth().await.unwrap(), (0, 0));
    assert!(figures::read(&w.store).await.unwrap().is_none());
}

#[tokio::test]
async fn reconciliation_first_then_the_webhook_makes_no_second_capture() {
    let w = World::new("first", routing("")).await;
    let now = Utc::now();
    w.lead(1, 40, now);
    w.lead(2, 30, now);
    assert_eq!(added(&w.reconcile(now).await), ids(&[1, 2]));
    // The webhooks arrive while the reconciled leads still wait: the queue takes each id once.
    w.webhook(CHANNEL, &[1, 2]).await;
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered; 2]);
    // And after they are delivered: a repeat, nothing sent.
    w.webhook(CHANNEL, &[1]).await;
    assert!(
        w.deliver_all()
            .await
            .iter()
            .all(|o| *o == Outcome::Duplicate)
    );
    let late = w.notified(CHANNEL, 1).await;
    assert_eq!(w.deliver_envelope(&late).await, Outcome::Duplicate);
    assert_eq!(w.captured(), emails(&[1, 2]));
    assert_eq!(
        w.rechat
            .requests()
            .iter()
            .filter(|r| r.route == Some(inlet_testkit::Route::Capture))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_page_s_forms_and_leads_are_listed_through_every_page_of_graph() {
    let w = World::new("paging", routing("")).await;
    let now = Utc::now();
    // Another form, archived (its leads still count), and one deleted (skipped).
    w.graph
        .add_form(PAGE, "800000000002", "Sellers", "ARCHIVED");
    w.graph.add_form(PAGE, "800000000003", "Old", "DELETED");
    for n in 0..130 {
        w.graph.add_form_lead(
            FORM,
            &format!("71{n:013}"),
            (now - chrono::Duration::minutes(10 + n as i64)).timestamp(),
            answers(n),
        );
    }
    w.graph.add_form_lead(
        "800000000002",
        "720000000000001",
        (now - chrono::Duration::hours(2)).timestamp(),
        answers(900),
    );
    let report = w.reconcile(now).await;
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    assert_eq!(report.forms.len(), 2);
    assert_eq!(report.forms[0].added.len(), 130);
    assert_eq!(report.forms[1].added.len(), 1);
    // Forms (1 page), the first form's leads (2 pages of 100), the second's (1).
    assert_eq!(report.graph_calls, 4);
    let calls = w.graph.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == &format!("{FORM}/leads"))
            .count(),
        2
    );
    assert!(!calls.iter().any(|c| c.starts_with("800000000003")));
    // The listing asked for ids and times only, filtered by time, with the page's token.
    let query = &w.graph.queries()[1];
    assert!(
        query.contains("fields=id%2Ccreated_time%2Cis_organic"),
        "{query}"
    );
    assert!(query.contains("time_created") && query.contains("GREATER_THAN"));
    assert!(query.contains(&format!("access_token={TOKEN}")));
    let (waiting, _) = w.store.depth().await.unwrap();
    assert_eq!(waiting, 131);
    // Queue messages carry ids only, never a token.
    let batch = w.store.receive(10).await.unwrap();
    for m in &batch {
        assert!(!m.body.contains(TOKEN));
        assert!(!m.body.contains("person"), "{}", m.body);
    }
}

#[tokio::test]
async fn graph_s_usage_headers_slow_the_run_then_stop_it_and_the_next_run_goes_on() {
    let w = World::new("usage", routing("")).await;
    let now = Utc::now();
    w.graph.add_form(PAGE, "800000000002", "Sellers", "ACTIVE");
    w.lead(1, 60, now);
    w.graph.add_form_lead(
        "800000000002",
        "720000000000001",
        (now - chrono::Duration::hours(2)).timestamp(),
        answers(9),
    );
    // 70% of the allowance: each call waits (half of the longest wait here).
    w.graph.set_header(
        "X-App-Usage",
        r#"{"call_count":70,"total_time":20,"total_cputime":20}"#,
    );
    let report = w.reconcile(now).await;
    assert_eq!(report.status, "ok");
    assert!(report.waited_ms >= 40, "{}", report.waited_ms);
    assert_eq!(added(&report).len(), 2);

    // At 95% of a business use case's allowance the run stops after the call that said so,
    // and says why; the form not reached keeps its cursor.
    w.lead(2, 20, now + chrono::Duration::minutes(15));
    w.graph.add_form_lead(
        "800000000002",
        "720000000000002",
        now.timestamp(),
        answers(10),
    );
    w.graph.set_header(
        "X-Business-Use-Case-Usage",
        r#"{"1234":[{"type":"pages","call_count":95,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":0}]}"#,
    );
    let later = now + chrono::Duration::minutes(30);
    let report = w.reconcile(later).await;
    assert_eq!(report.status, "failed");
    let errors = report.errors().join("; ");
    assert!(errors.contains("Graph usage is at 95%"), "{errors}");
    assert!(added(&report).is_empty());
    assert_eq!(report.graph_calls, 1);
    w.graph.clear_headers();
    let report = w.reconcile(later + chrono::Duration::minutes(15)).await;
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    let mut both = ids(&[2]);
    both.push("720000000000002".into());
    assert_eq!(added(&report), both);

    // A rate-limit answer (Graph error 32) stops the pass too, in words.
    w.graph.rate_limit_next();
    let report = w.reconcile(later + chrono::Duration::minutes(30)).await;
    assert_eq!(report.status, "failed");
    assert!(
        report.errors().join(";").contains("rate limit"),
        "{:?}",
        report.errors()
    );
    assert_eq!(w.deliver_all().await.len(), 4);
    assert_eq!(w.captured().len(), 4);
}

#[tokio::test]
async fn transient_graph_errors_are_retried_and_a_run_that_gives_up_loses_nothing() {
    let w = World::new("transient", routing("")).await;
    let now = Utc::now();
    w.lead(1, 60, now);
    w.graph.fail_transiently(2);
    let report = w.reconcile(now).await;
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    assert_eq!(added(&report), ids(&[1]));
    assert_eq!(report.graph_calls, 4);

    // Past its retries the run fails, saying so, and loses nothing: the cursor stays.
    w.lead(2, 5, now + chrono::Duration::minutes(20));
    w.graph.fail_transiently(3);
    let later = now + chrono::Duration::minutes(30);
    let report = w.reconcile(later).await;
    assert_eq!(report.status, "failed");
    let errors = report.errors().join("; ");
    assert!(
        errors.contains("page 900000000001: the Graph API is unavailable"),
        "{errors}"
    );
    // A listing Inlet cannot read fails the form rather than skip a lead.
    w.graph.fail_next(
        200,
        json!({"data": [{"id": FORM, "name": "Buyers 2026", "status": "ACTIVE"}]}),
    );
    w.graph.fail_next(
        200,
        json!({"data": [{"id": lead_id(2), "created_time": "yesterday"}]}),
    );
    let report = w.reconcile(later + chrono::Duration::minutes(15)).await;
    assert_eq!(report.status, "failed");
    assert!(
        report
            .errors()
            .join(";")
            .contains("without a readable id and created_time"),
        "{:?}",
        report.errors()
    );
    let report = w.reconcile(later + chrono::Duration::minutes(30)).await;
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    assert_eq!(added(&report), ids(&[2]));
}

#[tokio::test]
async fn an_expired_token_says_so_in_words_and_an_hour_of_it_raises_the_alarm() {
    let w = World::new("expired", routing("")).await;
    let now = Utc::now();
    w.lead(1, 60, now);
    w.graph.expire_token(TOKEN);
    let report = w.reconcile(now).await;
    assert_eq!(report.status, "failed");
    let errors = report.errors().join("; ");
    assert!(errors.contains("Graph error 190/463"), "{errors}");
    assert!(
        errors.contains("the token has expired: make a long-lived page token"),
        "{errors}"
    );
    assert!(errors.contains("leads_retrieval, pages_manage_ads and pages_read_engagement"));
    let f = figures::read(&w.store).await.unwrap().unwrap();
    assert_eq!(figures::judge(&f, now).status, "failing");
    assert!(!figures::alarm(Some(&f), now));
    // An hour of failed runs.
    let later = now + chrono::Duration::minutes(61);
    w.reconcile(later).await;
    let f = figures::read(&w.store).await.unwrap().unwrap();
    assert!(figures::alarm(Some(&f), later));
    let text = figures::lines(Some(&f), later).join("\n");
    assert!(text.contains("FAILING for 61 min"), "{text}");
    assert!(text.contains("has expired"), "{text}");
    assert!(figures::prometheus(Some(&f), later).contains("inlet_meta_reconcile_failing 1"));
    // Delivery keeps a notified lead for its retry window, saying what to do.
    w.webhook(CHANNEL, &[1]).await;
    let batch = w.store.receive(10).await.unwrap();
    let outcome = w.delivery().deliver_message(&batch[0]).await;
    assert!(
        matches!(&outcome, Outcome::Retry { error, .. } if error.contains("190/463") && error.contains("long-lived page token")),
        "{outcome:?}"
    );
    // A new token: the next run succeeds, the alarm ends, the lead is added once.
    w.graph.add_token(TOKEN);
    let report = w.reconcile(later + chrono::Duration::minutes(15)).await;
    assert_eq!(report.status, "ok");
    let f = figures::read(&w.store).await.unwrap().unwrap();
    assert!(!figures::alarm(
        Some(&f),
        later + chrono::Duration::minutes(15)
    ));
    assert!(f.run.last_error.is_none());
}

/// A queue that refuses sends from the `fail_from`-th on, as a process that stops mid-run.
struct FailingQueue<'a> {
    inner: &'a EmbeddedStore,
    sends: AtomicUsize,
    fail_from: usize,
}

#[async_trait]
impl Queue for FailingQueue<'_> {
    async fn send(&self, envelope: &Envelope) -> Result<(), QueueError> {
        if self.sends.fetch_add(1, Ordering::SeqCst) >= self.fail_from {
            return Err(QueueError::Unavailable("stopped mid-run".into()));
        }
        self.inner.send(envelope).await
    }
    async fn dead_letter(&self, body: &str, d: &DeadLetter) -> Result<(), QueueError> {
        self.inner.dead_letter(body, d).await
    }
    async fn change_visibility(&self, r: &str, s: u32) -> Result<(), QueueError> {
        self.inner.change_visibility(r, s).await
    }
    async fn health(&self) -> Result<(), QueueError> {
        self.inner.health().await
    }
    async fn requeue(
        &self,
        m: &inlet::queue::QueueMessage,
        not_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), QueueError> {
        self.inner.requeue(m, not_before).await
    }
}

/// A ledger that loses the records a run makes of what it queued (as a process that stops
/// between queueing a lead and recording it).
struct ForgetfulLedger<'a> {
    inner: &'a EmbeddedStore,
}

#[async_trait]
impl Ledger for ForgetfulLedger<'_> {
    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, LedgerError> {
        self.inner.get(key).await
    }
    async fn create(&self, _: &LedgerRecord) -> Result<Option<LedgerRecord>, LedgerError> {
        Err(LedgerError::Unavailable("stopped before recording".into()))
    }
    async fn update(&self, r: &LedgerRecord) -> Result<(), LedgerError> {
        self.inner.update(r).await
    }
    async fn link_sender_lead(&self, k: &str, l: &SenderLink) -> Result<(), LedgerError> {
        self.inner.link_sender_lead(k, l).await
    }
    async fn sender_lead(&self, k: &str) -> Result<Option<SenderLink>, LedgerError> {
        self.inner.sender_lead(k).await
    }
    async fn records_for_lead(&self, k: &str) -> Result<Vec<LedgerRecord>, LedgerError> {
        self.inner.records_for_lead(k).await
    }
    async fn rechat_state(&self) -> Result<RechatState, LedgerError> {
        self.inner.rechat_state().await
    }
    async fn put_rechat_state(&self, s: &RechatState) -> Result<(), LedgerError> {
        self.inner.put_rechat_state(s).await
    }
    async fn document(&self, key: &str) -> Result<Option<Document>, LedgerError> {
        self.inner.document(key).await
    }
    async fn put_document(&self, key: &str, doc: &str, version: u64) -> Result<(), LedgerError> {
        self.inner.put_document(key, doc, version).await
    }
}

#[tokio::test]
async fn a_run_stopped_mid_way_resumes_without_loss_or_repeat() {
    let w = World::new("crash", routing("")).await;
    let now = Utc::now();
    for n in 1..=5 {
        w.lead(n, 100 - n as i64 * 10, now);
    }
    // The queue stops after two leads: the pass fails, marking all five, queueing two.
    let failing = FailingQueue {
        inner: &w.store,
        sends: AtomicUsize::new(0),
        fail_from: 2,
    };
    let pass = Pass {
        now,
        since: None,
        dry_run: false,
    };
    let report = w
        .reconciler_with(&w.store, &failing)
        .run(pass)
        .await
        .unwrap();
    assert_eq!(report.status, "failed");
    assert!(
        report
            .errors()
            .join(";")
            .contains("the queue did not take a lead")
    );
    assert_eq!(w.store.depth().await.unwrap().0, 2);
    // The next run queues the three left, and not the two queued before.
    let later = now + chrono::Duration::minutes(15);
    let report = w.reconcile(later).await;
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    assert_eq!(report.forms[0].added.len(), 3);
    assert_eq!(w.store.depth().await.unwrap().0, 5);

    // Queued, then stopped before the record was written: queued again by the next run
    // (the same envelope, so the queue and then the ledger take it once).
    w.lead(6, 5, later + chrono::Duration::minutes(20));
    let forgetful = ForgetfulLedger { inner: &w.store };
    let report = w
        .reconciler_with(&forgetful, &w.store)
        .run(Pass {
            now: later + chrono::Duration::minutes(30),
            since: None,
            dry_run: false,
        })
        .await
        .unwrap();
    assert_eq!(added(&report), ids(&[6]));
    let report = w.reconcile(later + chrono::Duration::minutes(45)).await;
    assert_eq!(
        added(&report),
        ids(&[6]),
        "unknown to the ledger: queued again"
    );
    let outcomes = w.deliver_all().await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Delivered)
            .count(),
        6
    );
    assert_eq!(w.captured(), emails(&[1, 2, 3, 4, 5, 6]));
    // Counted once each, however often they were queued.
    let f = figures::read(&w.store).await.unwrap().unwrap();
    assert_eq!(f.forms[0].doc.reconciled_total, 6);
    assert!(
        w.reconcile(later + chrono::Duration::minutes(60))
            .await
            .forms[0]
            .added
            .is_empty()
    );
}

#[tokio::test]
async fn two_runs_never_run_at_once() {
    let w = World::new("lease", routing("")).await;
    let now = Utc::now();
    w.lead(1, 60, now);
    // A run that holds the lease (as a crashed one does until it runs out).
    let mut run: inlet::meta_reconcile::state::Versioned<inlet::meta_reconcile::state::RunDoc> =
        inlet::meta_reconcile::state::load(&w.store, inlet::meta_reconcile::state::RUN_KEY)
            .await
            .unwrap();
    run.value.lease_until = Some(now + chrono::Duration::minutes(10));
    run.value.lease_holder = Some("another".into());
    inlet::meta_reconcile::state::save(&w.store, inlet::meta_reconcile::state::RUN_KEY, &mut run)
        .await
        .unwrap();
    assert_eq!(w.reconcile(now).await.status, "busy");
    assert_eq!(w.store.depth().await.unwrap().0, 0);
    // Once the lease has run out, the next run goes.
    let report = w.reconcile(now + chrono::Duration::minutes(11)).await;
    assert_eq!(added(&report), ids(&[1]));
}

#[tokio::test]
async fn meta_test_leads_follow_drop_test_whether_notified_or_reconciled() {
    let test_lead = json!({"field_data": [
        {"name": "full_name", "values": ["<test lead: dummy data for full_name>"]},
        {"name": "email", "values": ["test@fb.com"]}
    ]});
    // Tagged `test` without drop_test.
    let w = World::new("test-tagged", routing("")).await;
    let now = Utc::now();
    w.graph.add_form_lead(
        FORM,
        &lead_id(1),
        (now - chrono::Duration::minutes(30)).timestamp(),
        test_lead.clone(),
    );
    w.reconcile(now).await;
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered]);
    let tags = &w.rechat.leads()[0].payload["tag"];
    assert_eq!(tags, &json!(["test", "Facebook", "Buyers"]));
    // Dropped with it, by either path; the ledger knows it, so it is not added again.
    let w = World::new("test-dropped", routing("drop_test = true")).await;
    w.graph.add_form_lead(
        FORM,
        &lead_id(1),
        (now - chrono::Duration::minutes(30)).timestamp(),
        test_lead.clone(),
    );
    w.graph.add_form_lead(
        FORM,
        &lead_id(2),
        (now - chrono::Duration::minutes(20)).timestamp(),
        test_lead,
    );
    w.webhook(CHANNEL, &[1]).await;
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered]);
    assert_eq!(added(&w.reconcile(now).await), ids(&[2]));
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered]);
    assert!(w.rechat.leads().is_empty());
    assert!(added(&w.reconcile(now + chrono::Duration::minutes(15)).await).is_empty());
}

#[tokio::test]
async fn a_lead_a_webhook_took_to_another_channel_is_not_added_again() {
    // Before the page was routed, its webhook URL's channel took the lead.
    let unrouted = WebhookSettings::from_toml(&"[senders.meta]\n".parse().unwrap()).unwrap();
    let w = World::new("elsewhere", unrouted).await;
    let now = Utc::now();
    w.lead(1, 60, now);
    w.lead(2, 50, now);
    w.webhook(OTHER, &[1]).await;
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered]);
    let routed = World {
        webhooks: routing(""),
        ..w
    };
    let report = routed.reconcile(now).await;
    assert_eq!(added(&report), ids(&[2]));
    assert_eq!(report.forms[0].known, 1);
}

#[tokio::test]
async fn since_looks_back_past_the_cursor_to_recover_an_outage() {
    let w = World::new("since", routing("")).await;
    let now = Utc::now();
    w.reconcile(now).await;
    // A lead from three days ago, which the first run's day of look-back left out.
    w.lead(1, 3 * 24 * 60, now);
    let later = now + chrono::Duration::minutes(15);
    assert!(added(&w.reconcile(later).await).is_empty());
    let since = Pass {
        now: later,
        since: Some(later - chrono::Duration::days(7)),
        dry_run: true,
    };
    let dry = w.reconciler().run(since).await.unwrap();
    assert_eq!(added(&dry), ids(&[1]));
    assert_eq!(
        w.store.depth().await.unwrap().0,
        0,
        "a dry run queues nothing"
    );
    let report = w
        .reconciler()
        .run(Pass {
            dry_run: false,
            ..since
        })
        .await
        .unwrap();
    assert_eq!(added(&report), ids(&[1]));
    assert_eq!(w.deliver_all().await, vec![Outcome::Delivered]);
}

#[tokio::test]
async fn without_reconcile_settings_a_pass_is_off() {
    let w = World::new("off", WebhookSettings::default()).await;
    let report = w.reconcile(Utc::now()).await;
    assert_eq!(report.status, "off");
    assert!(w.graph.calls().is_empty());
}

/// The ledger's documents, as reconciliation keeps its cursors in them: version 1 first, then
/// each version once, a writer that lost the race refused; the same in memory and embedded
/// (DynamoDB's in `tests/tests/meta_reconcile_aws.rs`).
#[tokio::test]
async fn ledger_documents_are_versioned_alike_in_memory_and_embedded() {
    let dir = std::env::temp_dir().join(format!("inlet-meta-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let embedded = EmbeddedStore::open(&dir, QueueSettings::default()).unwrap();
    let memory = inlet::ledger::memory::MemoryLedger::new();
    for ledger in [&embedded as &dyn Ledger, &memory] {
        assert_eq!(ledger.document("k").await.unwrap(), None);
        assert!(matches!(
            ledger.put_document("k", "two", 2).await,
            Err(LedgerError::Conflict { .. })
        ));
        ledger.put_document("k", "one", 1).await.unwrap();
        assert!(matches!(
            ledger.put_document("k", "one again", 1).await,
            Err(LedgerError::Conflict { .. })
        ));
        ledger.put_document("k", "two", 2).await.unwrap();
        assert_eq!(
            ledger.document("k").await.unwrap(),
            Some(Document {
                doc: "two".into(),
                version: 2
            })
        );
        assert_eq!(ledger.document("other").await.unwrap(), None);
    }
    // The embedded store keeps them across a reopen.
    drop(embedded);
    let reopened = EmbeddedStore::open(&dir, QueueSettings::default()).unwrap();
    assert_eq!(reopened.document("k").await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn a_notification_is_routed_by_its_page_or_form_and_else_by_its_url() {
    let webhooks = WebhookSettings::from_toml(
        &format!(
            "[senders.meta]\nassignees = [{{ email = \"sender@example.com\" }}]\n[senders.meta.reconcile]\npages = [{{ id = \"{PAGE}\", channel = \"{CHANNEL}\", forms = [{{ id = \"{FORM}\", channel = \"{OTHER}\", tags = [\"Sellers\"] }}] }}]\n"
        )
        .parse()
        .unwrap(),
    )
    .unwrap();
    let parse = |value: Value, entry: &str| {
        let body = json!({"object": "page", "entry": [{"id": entry, "time": 1, "changes": [{"field": "leadgen", "value": value}]}]}).to_string();
        let webhooks = webhooks.clone();
        async move {
            let headers = http::HeaderMap::new();
            inlet::webhook::process(
                &inlet::webhook::WebhookRequest {
                    channel: "00000000-0000-4000-8000-0000000000c3",
                    path: "/webhooks/x/meta",
                    sender: Some("meta"),
                    content_type: Some("application/json"),
                    headers: &headers,
                    query: "",
                    body: body.as_bytes(),
                },
                &webhooks,
                &Default::default(),
                Utc::now(),
            )
            .await
            .unwrap()
            .envelopes
            .remove(0)
        }
    };
    let defaults = |e: &Envelope| match &e.steps[0] {
        Step::FetchMetaLead {
            page_id, defaults, ..
        } => (page_id.clone(), defaults.clone()),
        other => panic!("{other:?}"),
    };
    // The form's own route; the page's id taken from the entry when the change has none.
    let form = parse(json!({"leadgen_id": "1", "form_id": FORM}), PAGE).await;
    assert_eq!(form.channel, OTHER);
    let (page, d) = defaults(&form);
    assert_eq!(page.as_deref(), Some(PAGE));
    assert_eq!(d.tags, ["Sellers"]);
    assert_eq!(d.assignees[0].email.as_deref(), Some("sender@example.com"));
    // Another form of the page: the page's route.
    let other_form = parse(json!({"leadgen_id": "2", "form_id": "5"}), PAGE).await;
    assert_eq!(other_form.channel, CHANNEL);
    // A page not listed: the URL's channel.
    let unlisted = parse(json!({"leadgen_id": "3", "page_id": "77"}), "77").await;
    assert_eq!(unlisted.channel, "00000000-0000-4000-8000-0000000000c3");
    // One lead id is one event in one channel: its id does not depend on the URL.
    let again = parse(json!({"leadgen_id": "1", "form_id": FORM}), PAGE).await;
    assert_eq!(again.id, form.id);
}
