//! Proof run 1, Rechat misbehaving: leads from every way in (Rechat's own API with
//! activities and reassignments, a sender webhook, a form, an inbound email) through
//! `inlet serve` while the Rechat double answers 20% 5xx, 5% 429 with Retry-After, 5% past
//! the client timeout, 2% "lost success" and 1% 204 without an id. Reports leads
//! acknowledged, delivered, dead-lettered (with reasons), duplicated captures against lost
//! successes, order violations within a lead and the time to drain; asserts the targets:
//! every acknowledged lead delivered or dead-lettered with a reason, duplicates at most one
//! per lost capture success, no order violation, no PII in the info log.
//!
//! `INLET_PROOF_PEOPLE` people with 5 leads each (40 in `make test`; `make proof`: 2,000 =
//! 10,000 leads).

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use futures::StreamExt;
use inlet_testkit::{Fault, FaultRates, RechatDouble, Route, token_in};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const LEADS_PER_PERSON: usize = 5;

/// One lead's token, carried in its note so the double's payload names it.
fn token(person: usize, k: usize) -> String {
    format!("lead-{person}-{k}")
}

/// Posts person `p`'s five leads, one way in each; the Rechat-API capture `k = 0` is followed
/// by an activity and a reassignment on the id Inlet answered. Returns the tokens
/// acknowledged with a 2xx, and the follow-ups acknowledged.
async fn post_person(
    http: &reqwest::Client,
    url: &str,
    mail_token: &str,
    p: usize,
) -> (Vec<String>, usize) {
    let email = format!("person{p}@example.com");
    let mut acknowledged = Vec::new();
    let mut follow_ups = 0;
    for k in 0..LEADS_PER_PERSON {
        let t = token(p, k);
        let request = match k {
            0 | 4 => http
                .post(format!("{url}/leads/channels/{CHANNEL}/webhook"))
                .json(&json!({"first_name": "Proof", "last_name": format!("P{p}"), "email": email, "note": t})),
            1 => http
                .post(format!("{url}/webhooks/{CHANNEL}"))
                .json(&json!({"first_name": "Proof", "last_name": format!("P{p}"), "email": email, "message": t})),
            2 => http
                .post(format!("{url}/forms/{CHANNEL}"))
                .header("accept", "application/json")
                .json(&json!({"name": format!("Proof P{p}"), "email": email, "message": t})),
            _ => http
                .post(format!("{url}/email/raw"))
                .basic_auth("inlet", Some(mail_token))
                .header("content-type", "message/rfc822")
                .body(format!(
                    "From: realtor.com <leads@email.realtor.com>\r\nTo: leads@in.example.com\r\nSubject: New realtor.com lead - Proof P{p}\r\nMessage-ID: <{t}@proof.example>\r\nContent-Type: text/plain\r\n\r\nFirst Name: Proof\r\nLast Name: P{p}\r\nEmail: {email}\r\nComments: {t}\r\n"
                )),
        };
        let Ok(r) = request.send().await else {
            continue;
        };
        if !r.status().is_success() {
            continue;
        }
        acknowledged.push(t);
        if k == 0 {
            let body: Value = r.json().await.unwrap_or_default();
            let Some(id) = body["data"]["id"].as_str() else {
                continue;
            };
            let activity = json!({"action": "ContactViewedListing", "listing": {"url": format!("https://example.com/l/{p}")}});
            let agents = json!([{"email": format!("agent{p}@example.com")}]);
            let timeline = http
                .post(format!("{url}/leads/{id}/timeline"))
                .json(&activity)
                .send()
                .await;
            let assignees = http
                .put(format!("{url}/leads/{id}/assignees"))
                .json(&agents)
                .send()
                .await;
            if timeline.is_ok_and(|r| r.status().is_success())
                && assignees.is_ok_and(|r| r.status().is_success())
            {
                follow_ups += 1;
            }
        }
    }
    (acknowledged, follow_ups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_rechat_misbehaving_every_acknowledged_lead_arrives_once_in_order() {
    let people: usize = inlet_testkit::scale("INLET_PROOF_PEOPLE", 40);
    let double = RechatDouble::start().await;
    // Held past the client's 1 s timeout (common::Serve sets it).
    double.random_faults(FaultRates::proof_mix(Duration::from_millis(1_500)), 2026);
    let data = data_dir("rechat-faults");
    let serve = Serve::start_with_routing(
        double.url(),
        &data,
        &format!("[email]\ndefault_channel = \"{CHANNEL}\"\n"),
    );
    let started = Instant::now();
    let http = reqwest::Client::new();
    let results: Vec<(Vec<String>, usize)> = futures::stream::iter(0..people)
        .map(|p| {
            let (http, url, token) = (http.clone(), serve.url.clone(), serve.mail_token());
            async move { post_person(&http, &url, &token, p).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let acknowledged: HashSet<String> = results.iter().flat_map(|(a, _)| a.clone()).collect();
    let follow_ups: usize = results.iter().map(|(_, f)| f).sum();
    let intake_secs = started.elapsed().as_secs_f64();

    // Drained: every acknowledged lead captured, every acknowledged follow-up applied, or
    // the remainder dead-lettered.
    let inlet = env!("CARGO_BIN_EXE_inlet");
    let dead_letters = || -> Vec<Value> {
        let out = std::process::Command::new(inlet)
            .args(["dlq", "list", "--json", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let captured_tokens = |double: &RechatDouble| -> HashSet<String> {
        double
            .leads()
            .iter()
            .filter_map(|l| token_in(&l.payload))
            .collect()
    };
    // Follow-ups went with each person's first lead; those whose capture Rechat answered
    // 204 without an id are recorded as skipped, as the contract says, and never run.
    let follow_ups_of = |double: &RechatDouble| double.follow_ups(|t| t.ends_with("-0"));
    let followed = |double: &RechatDouble| {
        let (applied, without_id) = follow_ups_of(double);
        applied + without_id
    };
    let drain_limit = Duration::from_secs(120 + 2 * people as u64);
    let drained = wait_for(drain_limit, || {
        captured_tokens(&double).len() >= acknowledged.len() && followed(&double) >= follow_ups
    })
    .await;
    let dead = if drained { Vec::new() } else { dead_letters() };
    let drain_secs = started.elapsed().as_secs_f64() - intake_secs;

    // Duplicates: captures of one token beyond the first, against captures whose success
    // was lost (Rechat created the lead, Inlet never heard).
    let captures = double.captures_by_token();
    let duplicates: usize = captures.values().map(|n| n - 1).sum();
    let requests = double.requests();
    let lost_captures = requests
        .iter()
        .filter(|r| {
            r.route == Some(Route::Capture) && matches!(r.fault, Some(Fault::LostSuccess(_)))
        })
        .count();
    let violations = double.order_violations();
    let order_violations = violations.len();
    let faults = requests.iter().filter(|r| r.fault.is_some()).count();
    println!(
        "people {people}, leads acknowledged {} + follow-ups {follow_ups}; delivered {} distinct, follow-ups applied {} and skipped after a 204 {}; dead-lettered {} {:?}; duplicated captures {duplicates} (lost capture successes {lost_captures}); order violations {order_violations}; Rechat calls {} ({faults} faulted); intake {intake_secs:.1} s, drain {drain_secs:.1} s",
        acknowledged.len(),
        captures.len(),
        follow_ups_of(&double).0,
        follow_ups_of(&double).1,
        dead.len(),
        dead.iter()
            .map(|d| d["dead_letter"]["reason"].as_str().unwrap_or("").to_owned())
            .collect::<HashSet<_>>(),
        requests.len()
    );

    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|t| !captures.contains_key(*t))
        .collect();
    assert!(
        missing.len() <= dead.len(),
        "{} acknowledged leads neither delivered nor dead-lettered: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        captures.keys().all(|t| acknowledged.contains(t)),
        "a lead nobody acknowledged"
    );
    assert!(
        duplicates <= lost_captures,
        "{duplicates} duplicates for {lost_captures} lost successes"
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(
        followed(&double) + dead.len() >= follow_ups,
        "acknowledged follow-ups neither applied, explained by a 204, nor dead-lettered"
    );
    assert!(faults > 0, "the double did misbehave");

    let log = std::fs::read_to_string(&serve.log).unwrap();
    let leaks = inlet_testkit::pii::findings(&log, &[]);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
