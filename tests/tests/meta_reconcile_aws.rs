//! Meta reconciliation on the stack's parts (moto's SQS FIFO and DynamoDB) with the Graph and
//! Rechat doubles: the forms' cursors, the lease and the figures in the ledger's table, a run
//! the queue failed resumed by the next without loss or repeat, and a lead that comes by both
//! webhook and reconciliation captured once.

use chrono::Utc;
use inlet::deliver::{Breaker, Delivery, DeliveryOptions, Outcome};
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::{Document, Ledger, LedgerError};
use inlet::meta_graph::GraphClient;
use inlet::meta_reconcile::{Pass, PassReport, Reconciler, figures, state};
use inlet::queue::sqs::SqsQueue;
use inlet::rechat::{RechatClient, RechatConfig};
use inlet::webhook::WebhookSettings;
use inlet_testkit::{GraphDouble, Moto, RechatDouble, leadgen_notification};
use serde_json::json;
use std::time::Duration;

const CHANNEL: &str = "00000000-0000-4000-8000-0000000000a1";
const PAGE: &str = "900000000001";
const FORM: &str = "800000000001";
const TOKEN: &str = "page-token-aws";

fn lead_id(n: usize) -> String {
    format!("70000000000{n:04}")
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

#[tokio::test]
async fn cursors_and_figures_live_in_dynamodb_and_a_failed_run_resumes_without_loss_or_repeat() {
    let (moto, _guard) = Moto::exclusive().await;
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (url, dlq) = SqsQueue::create_fifo_pair(&sqs, "inlet-meta", 1000, 30)
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs.clone(), url.clone(), dlq.clone());
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    DynamoLedger::create_table(&dynamo, "inlet-ledger")
        .await
        .unwrap();
    let ledger = DynamoLedger::new(dynamo, "inlet-ledger", Duration::from_secs(86_400));

    // The ledger's documents on DynamoDB: versioned as the others are.
    assert_eq!(ledger.document("probe").await.unwrap(), None);
    ledger.put_document("probe", "one", 1).await.unwrap();
    assert!(matches!(
        ledger.put_document("probe", "one again", 1).await,
        Err(LedgerError::Conflict { .. })
    ));
    ledger.put_document("probe", "two", 2).await.unwrap();
    assert_eq!(
        ledger.document("probe").await.unwrap(),
        Some(Document {
            doc: "two".into(),
            version: 2
        })
    );

    let graph = GraphDouble::start(TOKEN).await;
    graph.add_form(PAGE, FORM, "Buyers", "ACTIVE");
    let now = Utc::now();
    for n in 1..=4 {
        graph.add_form_lead(
            FORM,
            &lead_id(n),
            (now - chrono::Duration::minutes(100 - 10 * n as i64)).timestamp(),
            json!({"field_data": [
                {"name": "full_name", "values": [format!("Lee Rivera{n}")]},
                {"name": "email", "values": [format!("lee{n}@example.com")]}
            ]}),
        );
    }
    let client = GraphClient::new(graph.url(), "", Duration::from_secs(5), None)
        .unwrap()
        .with_page_token(PAGE, TOKEN);
    let webhooks = WebhookSettings::from_toml(
        &format!(
            "[senders.meta.reconcile]\npages = [{{ id = \"{PAGE}\", channel = \"{CHANNEL}\" }}]\n"
        )
        .parse()
        .unwrap(),
    )
    .unwrap();
    let reconciler = |queue| reconciler(&client, &ledger, queue, &webhooks);
    let pass = |now| Pass {
        now,
        since: None,
        dry_run: false,
    };

    // The queue is not there: the run stops at the first lead, having marked them all.
    let gone = SqsQueue::new(sqs.clone(), format!("{url}-missing.fifo"), dlq.clone());
    let report = reconciler(&gone).run(pass(now)).await.unwrap();
    assert_eq!(report.status, "failed");
    assert!(
        report
            .errors()
            .join(";")
            .contains("the queue did not take a lead")
    );
    let cursor: state::Versioned<state::FormDoc> =
        state::load(&ledger, &state::form_key(FORM)).await.unwrap();
    assert_eq!(
        cursor.value.cursor, None,
        "the cursor moves only past handled leads"
    );

    // The next run queues every lead, once.
    let queue = &queue;
    let later = now + chrono::Duration::minutes(15);
    let report = reconciler(queue).run(pass(later)).await.unwrap();
    assert_eq!(report.status, "ok", "{:?}", report.errors());
    assert_eq!(added(&report), (1..=4).map(lead_id).collect::<Vec<_>>());
    let cursor: state::Versioned<state::FormDoc> =
        state::load(&ledger, &state::form_key(FORM)).await.unwrap();
    assert_eq!(
        cursor.value.cursor,
        Some(later - chrono::Duration::minutes(5))
    );
    // A run that looks back over them again finds them known (the records it wrote).
    let again = reconciler(queue)
        .run(Pass {
            since: Some(now - chrono::Duration::hours(3)),
            ..pass(later + chrono::Duration::minutes(15))
        })
        .await
        .unwrap();
    assert!(added(&again).is_empty());
    assert_eq!(again.forms[0].known, 4);

    // Lead 4's webhook arrives too (queued by the webhook path as it would be).
    let body = leadgen_notification(PAGE, FORM, &[lead_id(4)]).to_string();
    let headers = http_headers();
    let parsed = inlet::webhook::process(
        &inlet::webhook::WebhookRequest {
            channel: CHANNEL,
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
    .unwrap();
    inlet::queue::Queue::send(queue, &parsed.envelopes[0])
        .await
        .unwrap();

    // Delivery: each lead fetched with the page token and captured once.
    let rechat = RechatDouble::start().await;
    let rechat_client = RechatClient::new(&RechatConfig {
        base_url: rechat.url().into(),
        connect_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let breaker = Breaker::default();
    let delivery = Delivery {
        breaker: &breaker,
        meta: Some(&client),
        rechat: &rechat_client,
        ledger: &ledger,
        queue,
        options: DeliveryOptions::default(),
    };
    let mut outcomes = Vec::new();
    loop {
        let batch = inlet_tests::watch::receive_batch(queue).await;
        if batch.is_empty() {
            break;
        }
        let report = delivery.deliver_batch(batch.clone()).await;
        for ((_, outcome), m) in report.outcomes.into_iter().zip(&batch) {
            assert!(!outcome.stays_queued(), "{outcome:?}");
            queue
                .delete(false, m.receipt_handle.as_deref().unwrap())
                .await
                .unwrap();
            outcomes.push(outcome);
        }
    }
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Delivered)
            .count(),
        4,
        "{outcomes:?}"
    );
    assert_eq!(rechat.leads().len(), 4);

    // The figures, read from DynamoDB.
    let f = figures::read(&ledger).await.unwrap().unwrap();
    assert_eq!(f.forms[0].doc.reconciled_total, 4);
    assert!(f.run.last_success_at.is_some() && f.run.failing_since.is_none());
    let lines = figures::lines(Some(&f), Utc::now()).join("\n");
    assert!(
        lines.contains("meta form 800000000001 \"Buyers\""),
        "{lines}"
    );

    // A lease another run holds (in DynamoDB) keeps this one out.
    let mut run: state::Versioned<state::RunDoc> =
        state::load(&ledger, state::RUN_KEY).await.unwrap();
    run.value.lease_until = Some(Utc::now() + chrono::Duration::minutes(5));
    run.value.lease_holder = Some("another".into());
    state::save(&ledger, state::RUN_KEY, &mut run)
        .await
        .unwrap();
    let busy = reconciler(queue).run(pass(Utc::now())).await.unwrap();
    assert_eq!(busy.status, "busy");
}

fn http_headers() -> reqwest::header::HeaderMap {
    reqwest::header::HeaderMap::new()
}

fn reconciler<'a>(
    graph: &'a GraphClient,
    ledger: &'a DynamoLedger,
    queue: &'a SqsQueue,
    webhooks: &'a WebhookSettings,
) -> Reconciler<'a> {
    Reconciler {
        graph,
        ledger,
        queue,
        webhooks,
        normalize: Default::default(),
        other_channels: vec![CHANNEL.into()],
        options: Default::default(),
    }
}
