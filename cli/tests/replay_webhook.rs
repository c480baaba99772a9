//! A webhook lead Rechat refused (400) for what the field rules made of it is read again at
//! replay from the request it keeps, with the rules fixed since, not re-sent as it failed.

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use inlet_testkit::rechat_double::{Fault, Route};
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "replay-zapier-token-8e1f";

#[tokio::test]
async fn a_refused_webhook_is_read_again_with_the_fixed_field_rules() {
    let double = RechatDouble::start().await;
    double.fail_next(Some(Route::Capture), Fault::Status(400));
    let data = data_dir("replay-webhook");
    // The rules as first written drop "Mobile #", so the lead goes without its phone.
    let serve = Serve::start_with_routing(
        double.url(),
        &data,
        &format!(
            "[senders.zapier]\nsecret = \"{SECRET}\"\n[senders.zapier.fields]\n\"Mobile #\" = \"ignore\"\n"
        ),
    );
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/{CHANNEL}", serve.url))
        .header("x-inlet-token", SECRET)
        .json(&json!({"first_name": "Rosa", "last_name": "Diaz", "email": "rosa.diaz@example.com", "Mobile #": "(512) 555-0147"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let inlet = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(
        wait_for(Duration::from_secs(20), || inlet(&["dlq", "list"])
            .contains("400"))
        .await,
        "Rechat's 400 dead-letters it: {}",
        inlet(&["dlq", "list"])
    );
    // The kept request carries no credential.
    let listed = inlet(&["dlq", "list", "--json"]);
    assert!(!listed.contains(SECRET), "{listed}");

    // The rules fixed: the replay reads the request again with them.
    let fixed = data.join("fixed.toml");
    std::fs::write(
        &fixed,
        format!("[senders.zapier]\nsecret = \"{SECRET}\"\n[senders.zapier.fields]\n\"Mobile #\" = \"phone\"\n"),
    )
    .unwrap();
    let first = inlet(&["dlq", "list", "--json"]);
    let said = inlet(&["dlq", "replay", "--config", fixed.to_str().unwrap()]);
    assert!(
        said.contains("read again with the field rules in force"),
        "{said}"
    );
    assert!(
        wait_for(Duration::from_secs(20), || double.leads().len() == 1).await,
        "{said}\n{}\n{}",
        inlet(&["dlq", "list"]),
        std::fs::read_to_string(&serve.log).unwrap()
    );
    let lead = &double.leads()[0];
    assert_eq!(lead.channel, CHANNEL);
    assert_eq!(lead.payload["email"], "rosa.diaz@example.com");
    assert_eq!(lead.payload["phone_number"], "+15125550147");
    assert!(inlet(&["dlq", "list"]).contains("is empty"));
    // A new reading, so a new envelope: the first one's id is not the one queued.
    let first_id = first
        .split("\"envelope_id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(!said.contains(first_id), "{said}");
    drop(serve);
}
