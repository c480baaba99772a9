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
        listed.matches("honeypot").count(),
        1,
        "junk is not kept:\n{listed}"
    );
    let (ok, json_lines, _) = inlet(&["spam", "list", "--json"], &data);
    assert!(ok);
    let line: Value = serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
    assert_eq!(line["envelope"]["id"], kept_id.as_str());
    assert_eq!(line["kind"], "spam");
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
    assert!(
        err.contains("nothing kept under `inlet spam` has the id"),
        "{err}"
    );

    let (ok, out, err) = inlet(&["spam", "release", "--id", &kept_id], &data);
    assert!(ok, "{err}");
    assert!(out.contains("queued as a lead"), "{out}");
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    assert_eq!(double.leads()[0].payload["email"], "rosa.diaz@example.com");
    let (_, listed, _) = inlet(&["spam", "list"], &data);
    assert!(
        listed.contains("Nothing is kept under `inlet spam`"),
        "{listed}"
    );
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
        status.contains("delivery             failing: 3 of 3 attempts in the last hour failed"),
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

/// Mail that reads as no lead is held for review on `inlet serve`: the sender is told it was
/// kept, `inlet status` counts it, `inlet review list` shows its reference, and a release
/// into a chosen channel (no routing rule placed it) reaches Rechat as a lead. An unsure
/// reading is delivered and counted apart; a dismissed item is gone.
#[tokio::test]
async fn mail_held_for_review_is_counted_listed_and_released_into_a_chosen_channel() {
    let double = RechatDouble::start().await;
    let data = data_dir("operate-review");
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let token = serve.mail_token();
    let http = reqwest::Client::new();
    let mail = |raw: &'static str| {
        http.post(format!("{}/email/raw", serve.url))
            .basic_auth("inlet", Some(&token))
            .header("content-type", "message/rfc822")
            .body(raw)
            .send()
    };
    // A buyer's question that reads as an auto-reply, to an address no rule places; and a
    // portal notice with only a relay address (unsure, delivered to the default channel).
    let r = mail("From: Ivy Chen <ivy.chen@example.com>\r\nTo: leads@in.example.com\r\nSubject: Out of office: 4 Birch Rd\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo-serve@fixtures.example>\r\n\r\nAway until Monday; I still want a showing of 4 Birch Rd.\r\n").await.unwrap();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["code"], "NOT_A_LEAD", "{answer}");
    assert_eq!(answer["kept"], true, "{answer}");
    let r = http
        .post(format!("{}/webhooks/{CHANNEL}", serve.url))
        .json(&serde_json::json!({"first_name": "Omar", "message": "call me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);

    let (ok, status, err) = inlet(&["status"], &data);
    assert!(ok, "{status}{err}");
    assert!(status.contains("mail held for review 1"), "{status}");
    assert!(status.contains("unsure readings      1"), "{status}");
    let (ok, listed, err) = inlet(&["review", "list"], &data);
    assert!(ok, "{err}");
    for want in [
        "not a lead",
        "Ivy Chen <ivy.chen@example.com>",
        "<ooo-serve@fixtures.example>",
        "none: no routing rule placed it",
        "unsure",
        "Omar",
    ] {
        assert!(listed.contains(want), "{want:?} in\n{listed}");
    }
    let (ok, only, _) = inlet(&["review", "list", "--kind", "not-a-lead", "--json"], &data);
    assert!(ok);
    assert_eq!(only.lines().count(), 1, "{only}");
    let held: Value = serde_json::from_str(only.lines().next().unwrap()).unwrap();
    let id = held["id"].as_str().unwrap().to_owned();
    let (ok, _, err) = inlet(&["review", "list", "--kind", "spam"], &data);
    assert!(
        !ok && err.contains("--kind"),
        "spam is `inlet spam`'s: {err}"
    );

    // No channel: refused with why; a channel that is not a UUID too.
    let (ok, _, err) = inlet(&["review", "release", "--id", &id], &data);
    assert!(!ok);
    assert!(err.contains("name the lead channel"), "{err}");
    let (ok, _, err) = inlet(
        &["review", "release", "--id", &id, "--channel", "sales"],
        &data,
    );
    assert!(!ok && err.contains("not a lead channel"), "{err}");
    let (ok, out, err) = inlet(
        &["review", "release", "--id", &id, "--channel", CHANNEL],
        &data,
    );
    assert!(ok, "{err}");
    assert!(out.contains("queued as a lead"), "{out}");
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 2).await);
    let lead = double
        .leads()
        .into_iter()
        .find(|l| l.payload["email"] == "ivy.chen@example.com")
        .expect("the released mail reached Rechat");
    assert!(
        lead.payload["note"]
            .as_str()
            .unwrap()
            .contains("showing of 4 Birch Rd"),
        "{:?}",
        lead.payload
    );
    // The unsure reading, dismissed: nothing is kept.
    let (ok, only, _) = inlet(&["review", "list", "--kind", "unsure", "--json"], &data);
    assert!(ok);
    let unsure: Value = serde_json::from_str(only.lines().next().unwrap()).unwrap();
    let (ok, _, err) = inlet(
        &["review", "delete", "--id", unsure["id"].as_str().unwrap()],
        &data,
    );
    assert!(ok, "{err}");
    let (_, listed, _) = inlet(&["review", "list"], &data);
    assert!(listed.contains("Nothing is kept"), "{listed}");
    let (_, status, _) = inlet(&["status"], &data);
    assert!(status.contains("mail held for review 0"), "{status}");
}

// ---- Attack review (branch attack-37): a release with settings not the deployment's. ----

/// FAILING: `deployment::local` loads `Config::load`, which lets this shell's environment
/// win over what `inlet serve` recorded: with `INLET_CHANNELS` set here (another
/// deployment's, a stale export) the recorded allowlist is never read, and a kept item is
/// released into a channel the running deployment refuses on every route. (The same holds
/// for `INLET_ROUTING_FILE`, which `serve` does not record at all when it is how the routing
/// file was given: a release or `dlq replay` from another shell reads mail with no
/// `[email]` rules, or with this shell's.)
#[tokio::test]
async fn attack_a_release_obeys_this_shells_allowlist_not_the_deployments() {
    const OTHER: &str = "9d2a7b1c-3e4f-4a5b-8c6d-0e1f2a3d4c5b";
    let double = RechatDouble::start().await;
    let data = data_dir("attack-release-env");
    let serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_CHANNELS", CHANNEL)],
    );
    let r = reqwest::Client::new()
        .post(format!("{}/forms/{CHANNEL}", serve.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body("name=Rosa+Diaz&email=rosa.diaz%40example.com&message=hello&_gotcha=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let kept_id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The deployment itself refuses OTHER.
    let r = reqwest::Client::new()
        .post(format!("{}/forms/{OTHER}", serve.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Rosa&email=rosa.diaz%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "OTHER is not this deployment's channel");
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["spam", "release", "--id", &kept_id, "--channel", OTHER])
        .arg("--data-dir")
        .arg(&data)
        .env("INLET_CHANNELS", OTHER)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "released into a channel the deployment refuses: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
