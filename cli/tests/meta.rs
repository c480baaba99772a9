//! Meta reconciliation as an operator runs it: `inlet serve` reconciling on its own schedule
//! against the Graph double, `inlet status` and the console's `/metrics` showing the figures,
//! `inlet meta reconcile --since 7d --dry-run` listing what it would add after an outage,
//! then adding it, and `inlet check` and `inlet serve` naming a page token they cannot read.

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::{GraphDouble, RechatDouble};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const PAGE: &str = "900000000001";
const FORM: &str = "800000000001";
const TOKEN: &str = "serve-page-token-5d2a";

fn routing() -> String {
    format!(
        "[senders.meta]\ntags = [\"Facebook\"]\n[senders.meta.reconcile]\nevery_minutes = 60\npages = [{{ id = \"{PAGE}\", token = \"env:INLET_TEST_META_TOKEN\", channel = \"{CHANNEL}\" }}]\n"
    )
}

fn lead(graph: &GraphDouble, n: usize, minutes_ago: i64) {
    graph.add_form_lead(
        FORM,
        &format!("70000000000000{n}"),
        (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).timestamp(),
        json!({"field_data": [
            {"name": "full_name", "values": [format!("Serve Person{n}")]},
            {"name": "email", "values": [format!("serve{n}@example.com")]}
        ]}),
    );
}

fn inlet(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Two threads: the doubles answer the `inlet` processes this test waits on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reconciles_on_its_schedule_and_a_person_recovers_an_outage_by_hand() {
    let double = RechatDouble::start().await;
    let graph = GraphDouble::start(TOKEN).await;
    graph.add_form(PAGE, FORM, "Open houses", "ACTIVE");
    lead(&graph, 1, 40);
    lead(&graph, 2, 30);
    let data = data_dir("meta-serve");
    let file = data.join("inlet.toml");
    std::fs::write(&file, routing()).unwrap();
    let env = [
        ("INLET_ROUTING_FILE", file.to_str().unwrap()),
        ("INLET_META_GRAPH_URL", graph.url()),
        ("INLET_TEST_META_TOKEN", TOKEN),
        ("INLET_CONSOLE_TOKEN", "a-console-token-for-the-meta-test"),
    ];
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &env);
    let banner = || serve.stdout.lock().unwrap().clone();
    assert!(
        wait_for(Duration::from_secs(10), || banner()
            .contains("reconciling 1 page(s) every 60 min"))
        .await,
        "{}",
        banner()
    );
    // The pass at start finds both leads no webhook brought; delivery reads each from Meta.
    assert!(
        wait_for(Duration::from_secs(30), || double.leads().len() == 2).await,
        "{}",
        std::fs::read_to_string(&serve.log).unwrap_or_default()
    );
    assert!(
        double
            .leads()
            .iter()
            .all(|l| l.payload["tag"] == json!(["Facebook"]))
    );
    let (code, out, err) = inlet(&["status", "--data-dir", data.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("meta reconcile       ok"), "{out}");
    assert!(
        out.contains("meta form 800000000001 \"Open houses\""),
        "{out}"
    );
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", serve.url))
        .bearer_auth("a-console-token-for-the-meta-test")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("inlet_meta_reconciled_total{form=\"800000000001\"} 2"),
        "{metrics}"
    );
    let console = reqwest::Client::new()
        .get(format!("{}/console/api/meta", serve.url))
        .bearer_auth("a-console-token-for-the-meta-test")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(console["status"], "ok", "{console}");
    assert_eq!(console["forms"][0]["reconciled_total"], 2, "{console}");
    // The console's panel, in a browser: the form's day row, and what the figures mean.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let browser = Command::new("node")
        .arg(format!("{root}/tests/browser/meta.mjs"))
        .args([serve.url.as_str(), "a-console-token-for-the-meta-test"])
        .output()
        .expect("node runs (make test installs playwright-core and chromium)");
    assert!(
        browser.status.success(),
        "{}{}",
        String::from_utf8_lossy(&browser.stdout),
        String::from_utf8_lossy(&browser.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&browser.stdout).unwrap();
    assert_eq!(seen["status"], "ok", "{seen}");
    assert_eq!(seen["scriptErrors"], json!([]), "{seen}");
    assert_eq!(seen["error"], "", "{seen}");
    let row = seen["firstRow"].as_str().unwrap();
    // Form, last success, day, Meta has, webhooks brought, reconciliation added.
    assert!(row.starts_with("Open houses (800000000001)"), "{seen}");
    assert!(row.ends_with("202") || row.ends_with("101"), "{seen}");
    assert!(
        seen["webhooks"]
            .as_str()
            .unwrap()
            .contains("webhooks missed 2 of the 2 leads"),
        "{seen}"
    );

    // Three days ago, while the subscription was down, a lead came that the first run's
    // day of look-back did not reach. A person looks back a week, first without adding.
    lead(&graph, 3, 3 * 24 * 60);
    let args = |dry: bool| {
        let mut a = vec![
            "meta",
            "reconcile",
            "--since",
            "7d",
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            file.to_str().unwrap(),
        ];
        if dry {
            a.push("--dry-run");
        }
        a
    };
    let token = [
        ("INLET_META_GRAPH_URL", graph.url()),
        ("INLET_TEST_META_TOKEN", TOKEN),
    ];
    let (code, out, err) = inlet(&args(true), &token);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("would add 1"), "{out}");
    assert!(out.contains("+ lead 700000000000003"), "{out}");
    assert_eq!(double.leads().len(), 2, "a dry run adds nothing");
    let (code, out, err) = inlet(&args(false), &token);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added 1 lead(s)"), "{out}");
    assert!(wait_for(Duration::from_secs(30), || double.leads().len() == 3).await);
    // And again: nothing more, nothing twice.
    let (code, out, _) = inlet(&args(false), &token);
    assert_eq!(code, 0);
    assert!(out.contains("added 0 lead(s)"), "{out}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(double.leads().len(), 3);
    let logs = std::fs::read_to_string(&serve.log).unwrap_or_default();
    let leaks = inlet_testkit::pii::findings(&logs, &[TOKEN]);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[tokio::test]
async fn a_page_token_that_cannot_be_read_is_named_by_check_and_stops_serve() {
    let data = data_dir("meta-token");
    let file = data.join("inlet.toml");
    std::fs::write(&file, routing()).unwrap();
    // `inlet check` loads the file (the webhook path routes without the token) and says so.
    let (code, out, err) = inlet(&["check", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("meta reconciliation: every 60 min")
            && out.contains("INLET_TEST_META_TOKEN is not set"),
        "{out}"
    );
    let (code, out, err) = inlet(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("INLET_TEST_META_TOKEN"), "{err}");
}
