//! Issue 34's steering check through a running `inlet serve`: 30 inquiry mails from a site
//! no module knows, each with Name, Email, Phone and Message; then the site renames "Phone"
//! for 10. `inlet status` exits 1 naming `newportal.example` and `phone`, `/health` has a
//! `parsing` member saying so, `/metrics` has the drift series at 1. With the routing file's
//! rule the next mail reaches Rechat with its phone; `inlet parse dismiss` clears the drift.
//!
//! The renamed label is one no reader can know ("Ring me on"): the issue's "Best number to
//! text" says what it holds, and the generic reader reads it as a phone by its words (checked
//! here too: that rename is no drift at all).

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn inlet(args: &[&str], data: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mail(site: &str, n: usize, phone_label: &str) -> String {
    format!(
        "MIME-Version: 1.0\r\nMessage-ID: <serve-drift-{n}@{site}>\r\nFrom: New Portal <leads@{site}>\r\nTo: leads@in.example.com\r\nSubject: New inquiry {n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou have a new inquiry.\r\n\r\nName: Pat Doe{n}\r\nEmail: pat{n}@example.com\r\n{phone_label}: (214) 555-{:04}\r\nMessage: Is the house on Elm still available?\r\n",
        1000 + n
    )
}

async fn post_mail(serve: &Serve, raw: String) {
    let r = reqwest::Client::new()
        .post(format!("{}/email/raw", serve.url))
        .basic_auth("inlet", Some(serve.mail_token()))
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

/// Posts mails `range` and waits until Rechat has `total` leads: each read is profiled in
/// the order it arrived.
async fn send(
    serve: &Serve,
    double: &RechatDouble,
    site: &str,
    range: std::ops::Range<usize>,
    label: &str,
    total: usize,
) {
    // One after another: the profile's newest reads are the last ones taken.
    for n in range {
        post_mail(serve, mail(site, n, label)).await;
    }
    assert!(
        wait_for(Duration::from_secs(60), || double.leads().len() >= total).await,
        "{} of {total} delivered",
        double.leads().len()
    );
}

async fn metrics(serve: &Serve) -> String {
    let token = std::fs::read_to_string(serve.data.join("metrics.token")).unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/metrics", serve.url))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn health(serve: &Serve) -> Value {
    reqwest::get(format!("{}/health", serve.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `/health` once its parsing status is `status`: it reuses its reading for a few seconds.
async fn health_when(serve: &Serve, status: &str) -> Value {
    let mut h = Value::Null;
    for _ in 0..40 {
        h = health(serve).await;
        if h["parsing"]["status"] == status {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("/health's parsing never became {status}: {h}");
}

/// `/metrics` once `has` says yes to it (it reads delivery's state as `/health` does).
async fn metrics_when(serve: &Serve, has: impl Fn(&str) -> bool) -> String {
    let mut m = String::new();
    for _ in 0..40 {
        m = metrics(serve).await;
        if has(&m) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("/metrics never as expected: {m}");
}

const SERIES: &str = "inlet_parse_drift{source=\"newportal.example\",field=\"phone\"} 1";

#[tokio::test]
async fn a_renamed_phone_label_is_named_until_the_routing_file_teaches_it_or_it_is_dismissed() {
    let double = RechatDouble::start().await;
    let data = data_dir("parse-drift-serve");
    let plain = format!("[email]\ndefault_channel = \"{CHANNEL}\"\n");
    let mut serve = Serve::start_with_routing(double.url(), &data, &plain);

    // 30 with a phone, then the rename the generic reader reads by its words: no drift.
    send(&serve, &double, "newportal.example", 0..30, "Phone", 30).await;
    send(
        &serve,
        &double,
        "newportal.example",
        30..40,
        "Best number to text",
        40,
    )
    .await;
    assert!(
        double.leads()[30..]
            .iter()
            .all(|l| l.payload["phone_number"].is_string()),
        "the label's words say phone"
    );
    let (code, out, err) = inlet(&["status"], &data);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("parsing              ok"), "{out}");
    assert!(!metrics(&serve).await.contains("inlet_parse_drift{"));

    // Then 10 with a label no reader knows: every lead delivered, none with a phone.
    send(
        &serve,
        &double,
        "newportal.example",
        40..50,
        "Ring me on",
        50,
    )
    .await;
    assert!(
        double.leads()[40..]
            .iter()
            .all(|l| l.payload.get("phone_number").is_none_or(Value::is_null)),
        "the renamed label is lost"
    );
    let (code, out, err) = inlet(&["status"], &data);
    assert_eq!(code, Some(1), "{out}{err}");
    let line = out
        .lines()
        .skip_while(|l| !l.contains("parsing"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(line.contains("DRIFT"), "{out}");
    assert!(line.contains("newportal.example"), "{out}");
    assert!(line.contains("phone"), "{out}");
    let h = health_when(&serve, "drift").await;
    let drifts = h["parsing"]["drifts"].as_array().unwrap();
    assert!(
        drifts
            .iter()
            .any(|d| d["source"] == "newportal.example" && d["field"] == "phone"),
        "{h}"
    );
    // No personal data in what anyone who reaches /health reads.
    assert!(!h.to_string().contains("pat4"), "{h}");
    metrics_when(&serve, |m| m.contains(SERIES)).await;

    // The operator teaches the routing file the label and restarts: the next mail reaches
    // Rechat with its phone, and the drift clears.
    serve.stop();
    let taught =
        format!("{plain}[email.fields.\"newportal.example\"]\n\"Ring me on\" = \"phone\"\n");
    let serve = Serve::start_with_routing(double.url(), &data, &taught);
    send(
        &serve,
        &double,
        "newportal.example",
        50..51,
        "Ring me on",
        51,
    )
    .await;
    let last = double
        .leads()
        .into_iter()
        .find(|l| l.payload["email"] == "pat50@example.com")
        .unwrap();
    assert_eq!(
        last.payload["phone_number"], "+12145551050",
        "{:?}",
        last.payload
    );
    assert_eq!(last.channel, CHANNEL);
    let (code, out, err) = inlet(&["status"], &data);
    assert_eq!(code, Some(0), "{out}{err}");
    metrics_when(&serve, |m| !m.contains(SERIES)).await;
    health_when(&serve, "ok").await;

    // Another site drifts the same way; its template really has no phone now: dismissed, it
    // clears, and more mail without the field does not raise it again.
    send(&serve, &double, "homesite.example", 100..130, "Phone", 81).await;
    send(
        &serve,
        &double,
        "homesite.example",
        130..140,
        "Ring me on",
        91,
    )
    .await;
    let (code, out, _) = inlet(&["status"], &data);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("homesite.example"), "{out}");
    let (code, out, err) = inlet(
        &[
            "parse",
            "dismiss",
            "--source",
            "homesite.example",
            "--field",
            "phone",
        ],
        &data,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = inlet(&["status"], &data);
    assert_eq!(code, Some(0), "{out}{err}");
    metrics_when(&serve, |m| {
        m.contains("inlet_parse_drift") && !m.contains("source=\"homesite.example\"")
    })
    .await;
    send(
        &serve,
        &double,
        "homesite.example",
        140..145,
        "Ring me on",
        96,
    )
    .await;
    let (code, out, _) = inlet(&["status"], &data);
    assert_eq!(code, Some(0), "a dismissal holds: {out}");

    // A dismissal names a field a drift can name, or says which it takes.
    let (code, _, err) = inlet(
        &[
            "parse",
            "dismiss",
            "--source",
            "homesite.example",
            "--field",
            "fone",
        ],
        &data,
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("is no field a drift names"), "{err}");
}
