//! The steering check of issue 34 on the embedded store of `inlet serve`: 30 inquiry mails
//! from a site no module knows, each with a phone; then the site renames "Phone" to a label
//! no reader can know ("Ring me on": the "Best number to text" says what it holds, and
//! the generic reader reads it as a phone without a rule) for 10. Every lead is delivered; the sources' reading names the drift of
//! `newportal.example`'s `phone`; with the routing file's rule the next mail reaches Rechat
//! with its phone and the drift clears. A dismissal clears it too.

use inlet::deliver::DeliveryOptions;
use inlet::email::{EmailContext, EmailSettings, Outcome, ingress, process};
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet::queue::Queue;
use inlet::rechat::{RechatClient, RechatConfig};
use inlet::web::ChannelPolicy;
use inlet_testkit::RechatDouble;
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

fn mail(n: usize, phone_label: &str) -> Vec<u8> {
    mail_from("newportal.example", n, phone_label)
}

fn mail_from(site: &str, n: usize, phone_label: &str) -> Vec<u8> {
    format!(
        "MIME-Version: 1.0\r\nMessage-ID: <inq-{n}@{site}>\r\nFrom: New Portal <leads@{site}>\r\nTo: leads@in.example.com\r\nSubject: New inquiry {n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou have a new inquiry.\r\n\r\nName: Pat Doe{n}\r\nEmail: pat{n}@example.com\r\n{phone_label}: (214) 555-{:04}\r\nMessage: Is the house on Elm still available?\r\n",
        1000 + n
    )
    .into_bytes()
}

fn settings(rules: &str) -> EmailSettings {
    let toml: toml::Table = format!("[email]\ndefault_channel = \"{CHANNEL}\"\n{rules}")
        .parse()
        .unwrap();
    EmailSettings::from_toml(&toml, &ChannelPolicy::AnyUuid).unwrap()
}

async fn queue_mail(s: &EmbeddedStore, raw: Vec<u8>, settings: &EmailSettings) {
    let inbound = ingress::from_raw("raw", raw).unwrap();
    let ctx = EmailContext {
        settings,
        policy: &ChannelPolicy::AnyUuid,
        normalize: Default::default(),
        verify_senders: true,
    };
    match process(&inbound, &ctx) {
        Outcome::Lead(envelope) => s.send(&envelope).await.unwrap(),
        other => panic!("not a lead: {other:?}"),
    }
}

async fn delivered(double: &RechatDouble, n: usize) {
    for _ in 0..300 {
        if double.leads().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} of {n} delivered", double.leads().len());
}

#[tokio::test]
async fn a_renamed_phone_label_is_drift_named_and_the_routing_files_rule_clears_it() {
    let d = std::env::temp_dir().join(format!("inlet-parse-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let s = EmbeddedStore::open(&d, QueueSettings::default()).unwrap();
    let double = RechatDouble::start().await;
    let client = RechatClient::new(&RechatConfig {
        base_url: double.url().into(),
        ..RechatConfig::default()
    })
    .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(inlet::serve::deliver_loop(
        s.clone(),
        Arc::new(client),
        None,
        DeliveryOptions::default(),
        stopped,
    ));
    let plain = settings("");
    for n in 0..30 {
        queue_mail(&s, mail(n, "Phone"), &plain).await;
    }
    delivered(&double, 30).await;
    let reading = inlet::deliver::view::read(&s, &s, 1000).await;
    assert_eq!(
        reading.parsing,
        Some(vec![]),
        "30 usual reads: nothing drifts"
    );
    for n in 30..40 {
        queue_mail(&s, mail(n, "Ring me on"), &plain).await;
    }
    delivered(&double, 40).await;
    assert!(
        double.leads()[39].payload.get("phone_number").is_none(),
        "the renamed label was not read"
    );
    let reading = inlet::deliver::view::read(&s, &s, 1000).await;
    let drifts = reading.parsing.unwrap();
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(drifts[0].source, "newportal.example");
    assert_eq!(drifts[0].field, "phone");
    assert_eq!(drifts[0].reads, 10);

    // The operator's rule: the next such mail reaches Rechat with its phone, and clears it.
    let taught = settings("[email.fields.\"newportal.example\"]\n\"Ring me on\" = \"phone\"\n");
    queue_mail(&s, mail(40, "Ring me on"), &taught).await;
    delivered(&double, 41).await;
    assert_eq!(
        double.leads()[40].payload["phone_number"].as_str(),
        Some("+12145551040")
    );
    let reading = inlet::deliver::view::read(&s, &s, 1000).await;
    assert_eq!(reading.parsing, Some(vec![]));

    // Another site's template really loses its phone: drift, which a dismissal clears, and
    // it stays dismissed while the field stays away.
    for n in 41..71 {
        queue_mail(&s, mail_from("homesite.example", n, "Phone"), &plain).await;
    }
    for n in 71..81 {
        queue_mail(&s, mail_from("homesite.example", n, "Ring me on"), &plain).await;
    }
    delivered(&double, 81).await;
    let drifts = inlet::profile::store::drifts(&s).await.unwrap();
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(
        (drifts[0].source.as_str(), drifts[0].field.as_str()),
        ("homesite.example", "phone")
    );
    assert!(
        inlet::profile::store::dismiss(&s, "homesite.example", "phone")
            .await
            .unwrap()
    );
    assert!(
        !inlet::profile::store::dismiss(&s, "homesite.example", "phone")
            .await
            .unwrap()
    );
    queue_mail(&s, mail_from("homesite.example", 81, "Ring me on"), &plain).await;
    delivered(&double, 82).await;
    assert!(inlet::profile::store::drifts(&s).await.unwrap().is_empty());

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .unwrap()
        .unwrap();
}
