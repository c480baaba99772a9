//! `inlet serve` as a process, with the Rechat test double: captures, timeline activities and
//! reassignments arrive, in order per lead, once, with Rechat healthy and with Rechat failing
//! 30% of calls.

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::{FaultRates, RechatDouble, Route};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const PEOPLE: usize = 20;

/// Posts, for each person: a capture, then an activity and a reassignment using the id
/// Inlet answered (as Rechat's lead-capture demo does with Rechat's id).
async fn post_people(url: &str) {
    let http = reqwest::Client::new();
    for i in 0..PEOPLE {
        let capture = json!({"first_name": "Ana", "last_name": format!("Person{i}"), "email": format!("p{i}@example.com")});
        let r = http
            .post(format!("{url}/leads/channels/{CHANNEL}/webhook"))
            .json(&capture)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let id = r.json::<Value>().await.unwrap()["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let activity = json!({"action": "ContactViewedListing", "listing": {"url": format!("https://example.com/l/{i}")}});
        let r = http
            .post(format!("{url}/leads/{id}/timeline"))
            .json(&activity)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let agents = json!([{"email": format!("agent{i}@example.com")}]);
        let r = http
            .put(format!("{url}/leads/{id}/assignees"))
            .json(&agents)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
}

fn complete(double: &RechatDouble) -> bool {
    let leads = double.leads();
    leads.len() >= PEOPLE
        && leads.iter().all(|l| {
            !l.timeline.is_empty() && l.assignees.as_array().is_some_and(|a| !a.is_empty())
        })
}

/// Every person once, each call once, and for each lead: capture, then timeline, then
/// assignees.
fn check_once_and_in_order(double: &RechatDouble) {
    let leads = double.leads();
    let mut by_email: HashMap<String, usize> = HashMap::new();
    for l in &leads {
        *by_email
            .entry(l.payload["email"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(by_email.len(), PEOPLE);
    assert!(
        by_email.values().all(|n| *n == 1),
        "a capture was repeated: {by_email:?}"
    );
    let requests = double.requests();
    for (i, l) in leads.iter().enumerate() {
        assert_eq!(l.timeline.len(), 1, "one activity for lead {i}");
        let n = l.payload["last_name"]
            .as_str()
            .unwrap()
            .trim_start_matches("Person")
            .to_owned();
        assert_eq!(
            l.timeline[0]["listing"]["url"],
            format!("https://example.com/l/{n}")
        );
        assert_eq!(
            l.assignees,
            json!([{"email": format!("agent{n}@example.com")}])
        );
        let succeeded = |route: Route| {
            requests
                .iter()
                .position(|r| {
                    r.route == Some(route)
                        && r.status == Some(200)
                        && r.lead_id.as_deref() == Some(l.id.as_str())
                })
                .unwrap()
        };
        let (c, t, a) = (
            succeeded(Route::Capture),
            succeeded(Route::Timeline),
            succeeded(Route::Assignees),
        );
        assert!(
            c < t && t < a,
            "lead {i}: capture {c}, timeline {t}, assignees {a}"
        );
    }
}

#[tokio::test]
async fn captures_activities_and_reassignments_arrive_in_order_once() {
    let double = RechatDouble::start().await;
    let data = data_dir("healthy");
    let mut serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    post_people(&serve.url).await;
    assert!(
        wait_for(Duration::from_secs(30), || complete(&double)).await,
        "not all delivered"
    );
    check_once_and_in_order(&double);
    assert!(serve.stop().success(), "Ctrl-C stops it cleanly");
}

#[tokio::test]
async fn with_rechat_failing_30_percent_everything_still_arrives_once_and_in_order() {
    let double = RechatDouble::start().await;
    double.random_faults(
        FaultRates {
            server_error: 0.2,
            too_many_requests: 0.1,
            retry_after_secs: 1,
            ..FaultRates::default()
        },
        7,
    );
    let data = data_dir("faults");
    let mut serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    post_people(&serve.url).await;
    assert!(
        wait_for(Duration::from_secs(90), || complete(&double)).await,
        "not all delivered"
    );
    let faults = double
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(faults >= 5, "the double did fail calls ({faults})");
    check_once_and_in_order(&double);
    serve.stop();
    // The log names envelopes and outcomes but never a whole channel or email.
    let log = std::fs::read_to_string(&serve.log).unwrap();
    assert!(log.contains("\"outcome\":\"delivered\""));
    assert!(
        !log.contains(CHANNEL) && !log.contains("p1@example.com"),
        "PII in the log"
    );
}

#[tokio::test]
async fn dlq_and_leads_commands_read_the_embedded_store() {
    let double = RechatDouble::start().await;
    double.only_channels(&["00000000-0000-4000-8000-000000000000"]);
    let data = data_dir("ops");
    let mut serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let inlet = env!("CARGO_BIN_EXE_inlet");
    let sent = std::process::Command::new(inlet)
        .args([
            "send",
            "--channel",
            CHANNEL,
            "--email",
            "ana@example.com",
            "--first-name",
            "Ana",
            "--url",
            &serve.url,
        ])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).starts_with("202 "));
    let data_arg = data.to_str().unwrap();
    let listed = wait_for(Duration::from_secs(20), || {
        let out = std::process::Command::new(inlet)
            .args(["dlq", "list", "--data-dir", data_arg])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("Lead channel not found")
    })
    .await;
    assert!(
        listed,
        "the unknown channel's lead is dead-lettered with Rechat's reason"
    );

    // The channel is set up in Rechat; replaying delivers the lead.
    double.only_channels(&[CHANNEL]);
    let replay = std::process::Command::new(inlet)
        .args(["dlq", "replay", "--data-dir", data_arg])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&replay.stdout).contains("1 dead letter(s) put back"));
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    let leads = std::process::Command::new(inlet)
        .args([
            "leads",
            "--email",
            "Ana@Example.com",
            "--channel",
            CHANNEL,
            "--data-dir",
            data_arg,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&leads.stdout);
    assert!(
        text.contains("Delivered") && text.contains(&double.leads()[0].id),
        "{text}"
    );
    serve.stop();
}
