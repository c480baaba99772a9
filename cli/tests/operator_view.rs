//! Issue 35: the operator answers "my lead never arrived" in a minute, and knows when a
//! person must act. Against `inlet serve` and the Rechat double, as a new operator meets it
//! the morning after: the id the API answered finds the lead in every spelling (CLI and
//! console), a lead Rechat refused makes `inlet status` exit 1 and the console say "needs
//! attention", it is corrected and sent again (not replayed blindly), an outage clears at
//! the first delivery after it, `/health/delivery` is what an uptime monitor watches, and
//! `inlet check` shows the operator's own mistake.

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use inlet_testkit::rechat_double::Fault;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "console-token-for-the-tests-0035";

fn inlet(args: &[&str], data: &std::path::Path) -> (i32, String, String) {
    // The data dir from INLET_DATA_DIR, as an operator sets it once.
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .env("INLET_DATA_DIR", data)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn console(serve: &Serve, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", serve.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn capture(serve: &Serve, body: Value) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/leads/channels/{CHANNEL}/webhook", serve.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn start(double: &RechatDouble, name: &str) -> Serve {
    Serve::start(
        double.url(),
        &data_dir(name),
        "127.0.0.1:0",
        &[("INLET_CONSOLE_TOKEN", TOKEN)],
    )
}

#[tokio::test]
async fn the_answered_id_finds_the_lead_in_every_spelling_and_a_refused_lead_needs_a_person() {
    let double = RechatDouble::start().await;
    let serve = start(&double, "op35-ids");
    let data = serve.data.clone();

    // One delivered, one refused for its content.
    double.fail_bodies_containing("refused.lead@", Fault::Status(400));
    let delivered = capture(
        &serve,
        json!({"first_name": "Dana", "last_name": "Reyes", "email": "dana.reyes@example.com"}),
    )
    .await;
    let refused = capture(
        &serve,
        json!({"first_name": "Rui", "last_name": "Costa", "email": "refused.lead@example.com"}),
    )
    .await;
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    let dead = || async {
        console(&serve, "/console/api/dead-letters").await["dead_letters"]
            .as_array()
            .map_or(0, Vec::len)
    };
    for _ in 0..100 {
        if dead().await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(dead().await, 1);

    // The answered id, in any spelling, finds its lead in the CLI, with the person.
    let hex = delivered.replace('-', "");
    for given in [
        delivered.clone(),
        delivered.to_uppercase(),
        hex.clone(),
        format!("c-{hex}"),
    ] {
        let (code, out, err) = inlet(&["leads", "--q", &given], &data);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("c-{hex}")), "{given}: {out}");
        assert!(out.contains(&format!("answered as  {delivered}")), "{out}");
        assert!(out.contains("Dana R. · d…@example.com"), "{out}");
        assert!(!out.contains("nothing found"), "{out}");
    }
    // And in the console, with the id and the person.
    let found = console(&serve, &format!("/console/api/leads?q={delivered}")).await;
    let leads = found["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 1, "{found}");
    assert_eq!(leads[0]["answered_id"], delivered.as_str());
    assert_eq!(leads[0]["person"], "Dana R. · d…@example.com");
    // The refused one: the whole person, from its dead letter; its dead letter's id finds it.
    let found = console(&serve, &format!("/console/api/leads?q={refused}")).await;
    assert_eq!(
        found["leads"][0]["person"], "Rui Costa · refused.lead@example.com",
        "{found}"
    );
    let letters = console(&serve, "/console/api/dead-letters").await;
    let letter = &letters["dead_letters"][0];
    assert_eq!(letter["refused_for_content"], true, "{letters}");
    assert_eq!(letter["answered_id"], refused.as_str());
    assert_eq!(letter["fields"]["email"], "refused.lead@example.com");
    let message_id = letter["message_id"].as_str().unwrap().to_owned();
    let (_, out, _) = inlet(&["leads", "--q", &message_id], &data);
    assert!(out.contains("DeadLettered"), "{out}");
    let found = console(&serve, &format!("/console/api/leads?q={message_id}")).await;
    assert_eq!(found["leads"].as_array().unwrap().len(), 1, "{found}");
    // Nothing found says so, naming what was asked.
    let (code, out, _) = inlet(
        &["leads", "--q", "c-00000000000000000000000000000000"],
        &data,
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("nothing found for --q c-00000000000000000000000000000000"),
        "{out}"
    );
    let none = console(&serve, "/console/api/leads?q=nobody%40example.com").await;
    assert_eq!(none["leads"].as_array().unwrap().len(), 0);
    assert_eq!(none["asked"], true);

    // A lead that did not reach the agent waits for a person: exit 1, and the console says so.
    let (code, status, _) = inlet(&["status"], &data);
    assert_eq!(code, 1, "{status}");
    assert!(status.contains("delivery             ok"), "{status}");
    assert!(
        status.contains("state                needs attention: 1 lead(s) did not reach the agent"),
        "{status}"
    );
    assert!(status.contains("inlet dlq correct --id ID"), "{status}");
    assert!(
        status.contains("oldest waiting       nothing waits"),
        "{status}"
    );
    let state = console(&serve, "/console/api/status").await;
    assert_eq!(state["state"], "needs_attention", "{state}");
    assert_eq!(state["delivery"]["status"], "ok", "{state}");

    // A plain replay says it would fail the same way and leaves it.
    let (code, out, _) = inlet(&["dlq", "replay"], &data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("it would fail the same way"), "{out}");
    assert!(
        out.contains(&format!("inlet dlq correct --id {message_id}")),
        "{out}"
    );
    assert_eq!(dead().await, 1, "still there");

    // Corrected from the CLI: an invalid value is refused with the field; a good one is
    // queued as a new event, the dead letter goes, and Rechat gets the corrected lead.
    let (code, _, err) = inlet(
        &[
            "dlq",
            "correct",
            "--id",
            &message_id,
            "--set",
            "email=not-an-email",
        ],
        &data,
    );
    assert_eq!(code, 2);
    assert!(err.contains("email"), "{err}");
    let (code, out, err) = inlet(
        &[
            "dlq",
            "correct",
            "--id",
            &message_id,
            "--set",
            "email=rui.costa@example.com",
        ],
        &data,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("corrected (email) and queued as e-"), "{out}");
    assert!(
        wait_for(Duration::from_secs(20), || double
            .leads()
            .iter()
            .any(|l| l.payload["email"] == "rui.costa@example.com"))
        .await
    );
    assert_eq!(dead().await, 0);
    // The first id finds the correction too.
    let (_, out, _) = inlet(&["leads", "--q", &refused], &data);
    assert!(out.contains("corrects"), "{out}");
    let (code, status, _) = inlet(&["status"], &data);
    assert_eq!(code, 0, "nothing waits for a person now:\n{status}");
    assert!(status.contains("state                ok"), "{status}");

    // `inlet leads | head -1` ends quietly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["leads", "--limit", "100"])
        .env("INLET_DATA_DIR", &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn console_correction_is_one_event_and_delete_and_ids_of_other_routes_find_their_leads() {
    let double = RechatDouble::start().await;
    let routing = format!("[senders.zapier]\ntags = [\"zap\"]\n\n[console]\ntoken = \"{TOKEN}\"\n");
    let data = data_dir("op35-correct");
    let serve = Serve::start_with_routing(double.url(), &data, &routing);
    let http = reqwest::Client::new();
    double.fail_bodies_containing("bad.one@", Fault::Status(400));
    double.fail_bodies_containing("gone.one@", Fault::Status(400));
    // A webhook's answer ids, from a Zapier zap.
    let r = http
        .post(format!("{}/webhooks/{CHANNEL}/zapier", serve.url))
        .json(&json!({"first_name": "Bea", "email": "bad.one@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let answer: Value = r.json().await.unwrap();
    let webhook_id = answer["data"]["ids"][0].as_str().unwrap().to_owned();
    capture(
        &serve,
        json!({"first_name": "Gil", "email": "gone.one@example.com"}),
    )
    .await;
    let letters = || async {
        console(&serve, "/console/api/dead-letters").await["dead_letters"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    for _ in 0..100 {
        if letters().await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = letters().await;
    assert_eq!(all.len(), 2);
    let bea = all
        .iter()
        .find(|d| d["email"] == "bad.one@example.com")
        .unwrap();
    let gil = all
        .iter()
        .find(|d| d["email"] == "gone.one@example.com")
        .unwrap();
    // Recorded under the zap's name; found by the id the webhook answered.
    let (_, out, _) = inlet(&["leads", "--sender", "zapier"], &data);
    assert!(out.contains(&webhook_id), "{out}");
    let (_, out, _) = inlet(&["leads", "--q", &webhook_id], &data);
    assert!(out.contains("from zapier"), "{out}");

    // Corrected in the console: twice at once (a double click) is one lead at Rechat.
    let url = format!(
        "{}/console/api/dead-letters/{}/correct",
        serve.url,
        bea["message_id"].as_str().unwrap()
    );
    let send = || {
        http.post(&url)
            .bearer_auth(TOKEN)
            .header("x-inlet-console", "1")
            .json(&json!({"fields": {"email": "bea@example.com"}}))
            .send()
    };
    let r = http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("x-inlet-console", "1")
        .json(&json!({"fields": {"emial": "bea@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an unknown field is named");
    let (a, b) = tokio::join!(send(), send());
    let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 404)),
        "{statuses:?}"
    );
    assert!(
        wait_for(Duration::from_secs(20), || double
            .leads()
            .iter()
            .any(|l| l.payload["email"] == "bea@example.com"))
        .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bea_leads = double
        .leads()
        .into_iter()
        .filter(|l| l.payload["email"] == "bea@example.com")
        .count();
    assert_eq!(bea_leads, 1, "one event, delivered once");

    // Deleted from the CLI by its envelope id.
    let envelope = gil["envelope_id"].as_str().unwrap();
    let (code, out, err) = inlet(&["dlq", "delete", "--id", envelope], &data);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted"), "{out}");
    assert!(letters().await.is_empty());
    let (code, _, err) = inlet(&["dlq", "delete", "--id", envelope], &data);
    assert_eq!(code, 2);
    assert!(err.contains("no dead letter"), "{err}");

    // A form's spam answer id finds what was kept.
    let r = http
        .post(format!("{}/forms/{CHANNEL}", serve.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body("name=Ola+Berg&email=ola%40example.com&_gotcha=x")
        .send()
        .await
        .unwrap();
    let spam_id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, out, _) = inlet(&["leads", "--q", &spam_id], &data);
    assert!(out.contains("kept for review as spam"), "{out}");
    let found = console(&serve, &format!("/console/api/leads?q={spam_id}")).await;
    assert_eq!(found["kept"].as_array().unwrap().len(), 1, "{found}");
}

#[tokio::test]
async fn an_outage_clears_at_the_first_delivery_and_monitors_see_it() {
    let double = RechatDouble::start().await;
    double.go_down(Fault::Status(401));
    let serve = start(&double, "op35-outage");
    let data = serve.data.clone();
    let http = reqwest::Client::new();
    for n in 0..3 {
        capture(
            &serve,
            json!({"first_name": "Ana", "email": format!("ana{n}@example.com")}),
        )
        .await;
    }
    let dead_three = || {
        let (_, status, _) = inlet(&["status"], &data);
        status.contains("dead letters         3")
    };
    assert!(wait_for(Duration::from_secs(20), dead_three).await);
    let (code, status, _) = inlet(&["status"], &data);
    assert_eq!(code, 1);
    assert!(
        status.contains(
            "delivery             failing: 3 of 3 attempts in the last hour failed, 3 of them since the last delivery"
        ),
        "{status}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await; // past the health reading's reuse
    let health = http
        .get(format!("{}/health", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "load balancers keep intake");
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    let monitor = http
        .get(format!("{}/health/delivery", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(monitor.status(), 503);

    // Rechat back: one delivered lead clears it, the dead letters still wait for a person.
    double.come_back();
    capture(
        &serve,
        json!({"first_name": "Bo", "email": "bo@example.com"}),
    )
    .await;
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    let (code, status, _) = inlet(&["status"], &data);
    assert!(status.contains("delivery             ok"), "{status}");
    assert!(status.contains("needs attention: 3 lead(s)"), "{status}");
    assert_eq!(code, 1);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let monitor = http
        .get(format!("{}/health/delivery", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(monitor.status(), 200);
    let body: Value = monitor.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    // /metrics keeps the oldest-waiting gauge with an empty queue.
    let metrics = http
        .get(format!("{}/metrics", serve.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("inlet_queue_oldest_waiting_seconds 0"),
        "{metrics}"
    );
    // A replay of leads refused for a credential (not their content) sends them again.
    let (code, out, _) = inlet(&["dlq", "replay"], &data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 dead letter(s) put back"), "{out}");
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 4).await);
}

#[test]
fn check_shows_what_the_operator_wrote_where_and_the_nearest_key() {
    let dir = data_dir("op35-check");
    let run = |file: &str, env: &[(&str, &str)]| {
        let path = dir.join("inlet.toml");
        std::fs::write(&path, file).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
        cmd.args(["check", "--config"]).arg(&path);
        for var in [
            "INLET_CHANNELS",
            "INLET_QUEUE_URL",
            "INLET_DLQ_URL",
            "INLET_LEDGER_TABLE",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A channel one digit wrong, from the file: shown whole, named by its key.
    let (code, _, err) = run(
        "channels = [\"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745g\"]\n",
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745g"),
        "{err}"
    );
    assert!(err.contains("channels in "), "{err}");
    assert!(!err.contains("INLET_CHANNELS="), "{err}");
    // A form's channel outside the list: shown whole.
    let (code, _, err) = run(
        &format!(
            "channels = [\"{CHANNEL}\"]\n[forms.contact]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d7450\"\n"
        ),
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d7450"),
        "{err}"
    );
    assert!(err.contains("channels in "), "{err}");
    // A misspelled key: the nearest known one.
    let (code, _, err) = run(&format!("chanels = [\"{CHANNEL}\"]\n"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean channels?"), "{err}");
    let (_, _, err) = run(&format!("[froms.contact]\nchannel = \"{CHANNEL}\"\n"), &[]);
    assert!(err.contains("did you mean forms?"), "{err}");
    // A number written as text.
    let (code, _, err) = run(
        &format!(
            "channels = [\"{CHANNEL}\"]\n[forms.contact]\nchannel = \"{CHANNEL}\"\nmin_fill_secs = \"3\"\n"
        ),
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("without quotes"), "{err}");
    // An `inlet serve` set-up: nothing about the deployed functions.
    let (code, out, err) = run(&format!("channels = [\"{CHANNEL}\"]\n"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode: inlet serve"), "{out}");
    assert!(!out.contains("deliver function"), "{out}");
    assert!(!out.contains("INLET_QUEUE_URL"), "{out}");
    assert!(out.contains("(channels in "), "{out}");
}
