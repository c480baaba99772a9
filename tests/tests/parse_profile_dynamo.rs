//! The lead sources' profiles (issue 34) in the ledger table on moto's DynamoDB, as the
//! deliver and mail functions keep them on AWS: a rare field never raises drift, one odd
//! mail does not, ten in a row without a usual field do, a burst of no-lead mail does; a
//! dismissal holds; the stored item holds no personal data, and a stale writer is refused
//! by the version, not written over.

use chrono::{Duration as Span, Utc};
use inlet::ledger::dynamodb::DynamoLedger;
use inlet::ledger::{Ledger, LedgerError};
use inlet::profile::{DriftRule, Field, Judged, Read, store};
use inlet_testkit::Moto;
use std::time::Duration;

async fn ledger() -> (DynamoLedger, aws_sdk_dynamodb::Client, String) {
    let moto = Moto::shared();
    let aws = inlet_tests::aws_config(moto.endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("inlet-profiles-{}", uuid::Uuid::new_v4().simple());
    DynamoLedger::create_table(&dynamo, &table).await.unwrap();
    let ledger = DynamoLedger::new(dynamo.clone(), &table, Duration::from_secs(86_400));
    (ledger, dynamo, table)
}

/// Records `n` reads of `source`, a minute apart from `start` minutes ago.
async fn reads(
    ledger: &DynamoLedger,
    source: &str,
    start: i64,
    n: i64,
    fields: &[Field],
    judged: Judged,
) {
    let rule = DriftRule::default();
    for i in 0..n {
        let at = Utc::now() - Span::minutes(start - i);
        let create = judged != Judged::NoLead;
        store::record(ledger, source, Read::new(at, fields, judged), &rule, create).await;
    }
}

fn drifting(drifts: &[inlet::profile::Drift], source: &str) -> Vec<String> {
    drifts
        .iter()
        .filter(|d| d.source == source)
        .map(|d| d.field.clone())
        .collect()
}

#[tokio::test]
async fn the_drift_rule_on_dynamodb() {
    let (ledger, dynamo, table) = ledger().await;
    let full = [Field::Email, Field::Phone, Field::Name, Field::Note];
    let no_phone = [Field::Email, Field::Name, Field::Note];

    // A steady site: 30 leads with a phone, then one odd mail without: no drift.
    reads(&ledger, "newportal.example", 500, 30, &full, Judged::Lead).await;
    reads(
        &ledger,
        "newportal.example",
        470,
        1,
        &no_phone,
        Judged::Lead,
    )
    .await;
    let drifts = store::drifts(&ledger).await.unwrap();
    assert!(
        drifting(&drifts, "newportal.example").is_empty(),
        "{drifts:?}"
    );
    // Nine more without (ten in a row): the phone drifts, since the first of them.
    reads(
        &ledger,
        "newportal.example",
        469,
        9,
        &no_phone,
        Judged::Lead,
    )
    .await;
    let drifts = store::drifts(&ledger).await.unwrap();
    assert_eq!(drifting(&drifts, "newportal.example"), ["phone"]);
    let d = drifts
        .iter()
        .find(|d| d.source == "newportal.example")
        .unwrap();
    assert_eq!(d.reads, 10);
    assert!(d.since <= Utc::now() - Span::minutes(469), "{d:?}");

    // A rare field (a listing in one lead of five): never usual, never drifting.
    for i in 0..8 {
        reads(
            &ledger,
            "forms",
            400 - i * 5,
            1,
            &[Field::Email, Field::Listing],
            Judged::Lead,
        )
        .await;
        reads(
            &ledger,
            "forms",
            399 - i * 5,
            4,
            &[Field::Email],
            Judged::Lead,
        )
        .await;
    }
    reads(&ledger, "forms", 300, 15, &[Field::Email], Judged::Lead).await;
    let drifts = store::drifts(&ledger).await.unwrap();
    assert!(drifting(&drifts, "forms").is_empty(), "{drifts:?}");

    // A portal whose mail is suddenly read as no lead (a template its module no longer
    // knows): a burst is drift, one odd mail is not.
    reads(&ledger, "zillow", 200, 30, &full, Judged::Lead).await;
    reads(&ledger, "zillow", 170, 1, &[], Judged::NoLead).await;
    reads(&ledger, "zillow", 169, 2, &full, Judged::Lead).await;
    let drifts = store::drifts(&ledger).await.unwrap();
    assert!(drifting(&drifts, "zillow").is_empty(), "{drifts:?}");
    reads(&ledger, "zillow", 160, 7, &[], Judged::NoLead).await;
    let drifts = store::drifts(&ledger).await.unwrap();
    assert_eq!(drifting(&drifts, "zillow"), ["no_lead"]);
    // No-lead mail from a sender never profiled makes no profile (anyone can send mail).
    reads(&ledger, "stranger.example", 100, 40, &[], Judged::NoLead).await;
    let (profiles, _) = store::load(&ledger).await.unwrap();
    assert!(!profiles.sources.contains_key("stranger.example"));

    // Dismissed on the table, it holds while the field stays away; it clears with the field.
    assert!(
        store::dismiss(&ledger, "newportal.example", "phone")
            .await
            .unwrap()
    );
    assert!(
        !store::dismiss(&ledger, "newportal.example", "phone")
            .await
            .unwrap(),
        "nothing left to dismiss"
    );
    reads(
        &ledger,
        "newportal.example",
        50,
        10,
        &no_phone,
        Judged::Lead,
    )
    .await;
    let drifts = store::drifts(&ledger).await.unwrap();
    assert!(
        drifting(&drifts, "newportal.example").is_empty(),
        "{drifts:?}"
    );

    // The item as DynamoDB holds it: times and field bits, no person's data.
    let item = dynamo
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("doc#parse-profiles".into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the profiles' item");
    let doc = item["doc"].as_s().unwrap();
    assert!(doc.contains("newportal.example") && doc.contains("zillow"));
    assert!(!doc.contains('@'), "{doc}");

    // Another process's writer holding an older version is refused, never written over:
    // `store::update` reads again and retries on exactly this.
    let (_, version) = store::load(&ledger).await.unwrap();
    assert!(matches!(
        ledger
            .put_document(store::KEY, "{\"sources\":{}}", version)
            .await,
        Err(LedgerError::Conflict { .. })
    ));
    let (profiles, after) = store::load(&ledger).await.unwrap();
    assert_eq!(after, version);
    assert!(profiles.sources.contains_key("zillow"));
}
