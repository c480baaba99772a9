//! `inlet parse webhook` as a web developer or a deployer checking a sender runs it: what a
//! body becomes, a clean "not a lead" answered with exit 0, a broken body with exit 1.

use serde_json::Value;
use std::process::Command;

fn fixture(name: &str) -> String {
    format!(
        "{}/../shared/tests/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn parse(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .arg("parse")
        .arg("webhook")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"));
    (out.status.code().unwrap(), value)
}

#[test]
fn each_new_feed_is_read_and_a_clean_refusal_exits_zero() {
    for (file, content_type, sender) in [
        (
            "fub-property-inquiry.json",
            "application/json",
            "followupboss",
        ),
        ("realtor-siblings.json", "application/json", "realtor"),
        ("lts-ihomefinder.xml", "text/xml", "lts"),
        ("hubspot-form.json", "application/json", "hubspot"),
        ("sns/zillow-lead.json", "application/json", "zillow"),
        ("sns/notification-v2.json", "text/plain", "zillow"),
    ] {
        let (code, out) = parse(&[&fixture(file), "--content-type", content_type]);
        assert_eq!(code, 0, "{file}: {out}");
        assert_eq!(out["sender"], sender, "{file}");
        assert!(!out["envelopes"].as_array().unwrap().is_empty(), "{file}");
    }
    // HubSpot's id-only events: no lead, said plainly, exit 0.
    let (code, out) = parse(&[&fixture("hubspot-events.json")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out["not_a_lead"]
            .as_str()
            .unwrap()
            .starts_with("not a lead")
    );
    assert_eq!(out["envelopes"], Value::Array(vec![]));
}

#[test]
fn a_broken_body_or_a_missing_file_exits_non_zero() {
    let dir = std::env::temp_dir().join(format!("inlet-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bomb = dir.join("bomb.xml");
    std::fs::write(
        &bomb,
        r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbb">]><a>&b;</a>"#,
    )
    .unwrap();
    let (code, out) = parse(&[bomb.to_str().unwrap(), "--content-type", "text/xml"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["status"], 400);
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"person\":").unwrap();
    let (code, _) = parse(&[
        broken.to_str().unwrap(),
        "--content-type",
        "application/json",
    ]);
    assert_eq!(code, 1);
    let (code, out) = parse(&[dir.join("absent.json").to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
}

/// Issue 38: what a tool with no module sends reads as its person and words, and a known
/// sender's event is known by its content, named or not.
#[test]
fn senders_with_no_module_and_unnamed_known_senders_are_read() {
    for (file, content_type, sender, phone) in [
        (
            "unknown/sms-twilio.form",
            "application/x-www-form-urlencoded",
            "generic",
            "+15125550143",
        ),
        (
            "unknown/chat-transcript.json",
            "application/json",
            "generic",
            "+18475550139",
        ),
        (
            "fub-registration-no-source.json",
            "application/json",
            "followupboss",
            "+19725550190",
        ),
    ] {
        let (code, out) = parse(&[&fixture(file), "--content-type", content_type]);
        assert_eq!(code, 0, "{file}: {out}");
        assert_eq!(out["sender"], sender, "{file}");
        assert_eq!(
            out["envelopes"][0]["steps"][0]["lead"]["phone_number"], phone,
            "{file}: {out}"
        );
    }
    // A Zillow reassignment shows the contact it would capture if the lead is unknown.
    let (code, out) = parse(&[
        &fixture("zillow-reassignment.json"),
        "--content-type",
        "application/json",
    ]);
    assert_eq!(code, 0, "{out}");
    let step = &out["envelopes"][0]["steps"][0];
    assert_eq!(step["type"], "assign", "{out}");
    assert_eq!(step["lead"]["email"], "yusuf.demir@example.com", "{out}");
}
