//! `inlet serve` takes mail over HTTP: a raw message and a Postmark post reach the Rechat
//! double as leads on the default channel, a bounce is answered and not queued, and an
//! unroutable message is kept in the dead letters (`inlet dlq list`).

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use serde_json::{Value, json};
use std::time::Duration;

const LEAD: &str = "From: realtor.com <leads@email.realtor.com>\r\nTo: anything@in.example.com\r\nSubject: New realtor.com lead - Diego Alvarez\r\nMessage-ID: <serve-email-1@fixtures.example>\r\n\r\nFirst Name: Diego\r\nLast Name: Alvarez\r\nEmail: diego.alvarez@example.com\r\n";

#[tokio::test]
async fn mail_over_http_reaches_rechat() {
    let double = RechatDouble::start().await;
    let data = data_dir("serve-email");
    let serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_DEFAULT_CHANNEL", CHANNEL)],
    );
    let http = reqwest::Client::new();
    let post = |provider: &str, ct: &str, body: String| {
        http.post(format!("{}/email/{provider}", serve.url))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post("raw", "message/rfc822", LEAD.into()).await.unwrap();
    assert_eq!(r.status(), 202);
    let postmark = json!({
        "FromFull": {"Email": "lead@apartments.com", "Name": "Apartments.com"},
        "ReplyTo": "ivy.chen@example.com",
        "OriginalRecipient": "leads@in.example.com",
        "Subject": "Apartments.com Network lead for Harbor View",
        "MessageID": "pm-serve-1",
        "TextBody": "Name: Ivy Chen\nPhone: (619) 555-0102\nComments: Two bedrooms in June?"
    });
    let r = post("postmark", "application/json", postmark.to_string())
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let bounce = "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nno\r\n";
    let r = post("raw", "message/rfc822", bounce.into()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NOT_A_LEAD");

    assert!(wait_for(Duration::from_secs(20), || double.leads().len() >= 2).await);
    let mut emails: Vec<String> = double
        .leads()
        .iter()
        .map(|l| l.payload["email"].as_str().unwrap_or("").to_owned())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        ["diego.alvarez@example.com", "ivy.chen@example.com"]
    );
    assert!(double.leads().iter().all(|l| l.channel == CHANNEL));
    // The log never names the prospect at info level.
    let log = std::fs::read_to_string(&serve.log).unwrap();
    assert!(!log.contains("diego.alvarez@example.com"), "{log}");
}

#[tokio::test]
async fn unroutable_mail_is_kept_as_a_dead_letter() {
    let double = RechatDouble::start().await;
    let data = data_dir("serve-email-unroutable");
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let r = reqwest::Client::new()
        .post(format!("{}/email/raw", serve.url))
        .header("content-type", "message/rfc822")
        .body(LEAD)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "UNROUTABLE");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["dlq", "list", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("unroutable"), "{listed}");
    assert!(double.leads().is_empty());
}
