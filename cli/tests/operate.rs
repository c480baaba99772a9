//! The operator's view of `inlet serve`: a form taken for spam is kept, listed and released
//! into delivery; `/health` and `inlet status` say what waits and whether delivery works,
//! and `inlet status` exits 1 when it does not.

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn inlet(args: &[&str], data: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn spam_is_kept_listed_and_released_as_a_lead() {
    let double = RechatDouble::start().await;
    let data = data_dir("operate-spam");
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(format!("{}/forms/{CHANNEL}", serve.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
    };
    // A person whose browser filled the honeypot (an autofill), and a bot's junk that does
    // not read as a lead: both get a person's answer.
    let r = post(
        "name=Rosa+Diaz&email=rosa.diaz%40example.com&message=Is+it+still+available%3F&_gotcha=x",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let kept_id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post("_gotcha=buy+now").await.unwrap();
    assert_eq!(r.status(), 202, "junk gets the same answer");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(double.leads().is_empty(), "spam is not delivered");

    // Kept with the reason; a dead-letter replay leaves it; the status counts it apart.
    let (ok, listed, err) = inlet(&["spam", "list"], &data);
    assert!(ok, "{err}");
    assert!(listed.contains(&kept_id), "{listed}");
    assert!(listed.contains("honeypot"), "{listed}");
    assert!(listed.contains("rosa.diaz@example.com"), "{listed}");
    assert_eq!(
        listed.matches("spam:").count(),
        1,
        "junk is not kept:\n{listed}"
    );
    let (ok, json_lines, _) = inlet(&["spam", "list", "--json"], &data);
    assert!(ok);
    let line: Value = serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
    assert_eq!(line["envelope_id"], kept_id.as_str());
    let (ok, _, err) = inlet(&["dlq", "replay"], &data);
    assert!(ok, "{err}");
    let (ok, status, _) = inlet(&["status"], &data);
    assert!(ok, "{status}");
    assert!(status.contains("spam kept            1"), "{status}");
    assert!(status.contains("dead letters         0"), "{status}");
    assert!(status.contains("delivery             ok"), "{status}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        double.leads().is_empty(),
        "a dead-letter replay does not release spam"
    );

    // A wrong id, or a dead letter that is not spam, is refused with the reason.
    let (ok, _, err) = inlet(&["spam", "release", "--id", "c-not-there"], &data);
    assert!(!ok);
    assert!(err.contains("no kept spam has the id"), "{err}");

    let (ok, out, err) = inlet(&["spam", "release", "--id", &kept_id], &data);
    assert!(ok, "{err}");
    assert!(out.contains("queued as a lead"), "{out}");
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    assert_eq!(double.leads()[0].payload["email"], "rosa.diaz@example.com");
    let (_, listed, _) = inlet(&["spam", "list"], &data);
    assert!(listed.contains("No spam is kept"), "{listed}");
    // Released once: a second release finds nothing.
    let (ok, _, _) = inlet(&["spam", "release", "--id", &kept_id], &data);
    assert!(!ok);

    // /health: delivery ok, nothing waiting, the last success known; no personal data.
    tokio::time::sleep(Duration::from_secs(6)).await; // past the health reading's reuse
    let health: Value = http
        .get(format!("{}/health", serve.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delivery = &health["delivery"];
    assert_eq!(delivery["status"], "ok", "{health}");
    assert_eq!(delivery["waiting"], 0, "{health}");
    assert_eq!(delivery["dead_letters"], 0, "{health}");
    assert!(delivery["last_success_at"].is_string(), "{health}");
    assert!(!health.to_string().contains("example.com"), "{health}");
}

#[tokio::test]
async fn status_fails_and_health_says_failing_while_every_lead_is_refused() {
    // Rechat refuses every lead with 401 (a revoked token): it answers, so the breaker stays
    // closed; delivery still fails, and both views say so.
    let double = RechatDouble::start().await;
    double.go_down(inlet_testkit::rechat_double::Fault::Status(401));
    let data = data_dir("operate-failing");
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let http = reqwest::Client::new();
    for n in 0..3 {
        let r = http
            .post(format!("{}/leads/channels/{CHANNEL}/webhook", serve.url))
            .json(&serde_json::json!({"first_name": "Ana", "email": format!("ana{n}@example.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let dead = || {
        let (_, status, _) = inlet(&["status"], &data);
        status.contains("dead letters         3")
    };
    assert!(wait_for(Duration::from_secs(20), dead).await);
    let (ok, status, _) = inlet(&["status"], &data);
    assert!(!ok, "exit 1 while delivery fails:\n{status}");
    assert!(
        status.contains("delivery             failing: 3 of the last 3 attempts failed"),
        "{status}"
    );
    let health = http
        .get(format!("{}/health", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        200,
        "intake still accepts: load balancers keep it"
    );
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["delivery"]["status"], "failing", "{health}");
    assert_eq!(health["delivery"]["rechat"], "available", "{health}");
}
