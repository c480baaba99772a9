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
    let token = serve.mail_token();
    let post = |provider: &str, ct: &str, body: String| {
        http.post(format!("{}/email/{provider}", serve.url))
            .basic_auth("postmark", Some(&token))
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
async fn serve_generates_the_mail_token_once_keeps_it_and_prints_it() {
    let double = RechatDouble::start().await;
    let data = data_dir("serve-email-token");
    let mut serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_DEFAULT_CHANNEL", CHANNEL)],
    );
    let token = serve.mail_token();
    assert!(token.len() >= 32, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("email-http.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the token file is its owner's only: {mode:o}"
        );
    }
    assert!(
        wait_for(Duration::from_secs(5), || serve
            .stdout
            .lock()
            .unwrap()
            .contains(&token))
        .await,
        "the banner prints the generated token: {}",
        serve.stdout.lock().unwrap()
    );
    let http = reqwest::Client::new();
    let post = |url: &str, auth: Option<(&str, &str)>| {
        let mut r = http
            .post(format!("{url}/email/raw"))
            .header("content-type", "message/rfc822")
            .body(LEAD);
        if let Some((user, password)) = auth {
            r = r.basic_auth(user, Some(password));
        }
        r.send()
    };
    let r = post(&serve.url, None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(
        post(&serve.url, Some(("x", "guess-guess-guess-guess")))
            .await
            .unwrap()
            .status(),
        401
    );
    // After a restart the senders' URLs still hold: the same token.
    serve.stop();
    let serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_DEFAULT_CHANNEL", CHANNEL)],
    );
    assert_eq!(serve.mail_token(), token);
    assert_eq!(
        post(&serve.url, Some(("x", &token)))
            .await
            .unwrap()
            .status(),
        202
    );
    // A token the operator configured is used, and never printed.
    drop(serve);
    let configured = "operator-chosen-mail-token-41";
    let serve = Serve::start(
        double.url(),
        &data_dir("serve-email-token-configured"),
        "127.0.0.1:0",
        &[
            ("INLET_DEFAULT_CHANNEL", CHANNEL),
            ("INLET_EMAIL_HTTP_TOKEN", configured),
        ],
    );
    assert_eq!(
        post(&serve.url, Some(("x", &token)))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(&serve.url, Some(("x", configured)))
            .await
            .unwrap()
            .status(),
        202
    );
    assert!(
        wait_for(Duration::from_secs(5), || serve
            .stdout
            .lock()
            .unwrap()
            .contains("mail token"))
        .await
    );
    assert!(!serve.stdout.lock().unwrap().contains(configured));
    assert!(
        !std::fs::read_to_string(&serve.log)
            .unwrap()
            .contains(configured)
    );
}

#[tokio::test]
async fn a_forwarding_confirmation_shows_in_the_dead_letters_and_is_never_replayed() {
    let double = RechatDouble::start().await;
    let data = data_dir("serve-email-confirmation");
    let serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_DEFAULT_CHANNEL", CHANNEL)],
    );
    let confirmation = "From: Gmail Team <forwarding-noreply@google.com>\r\nTo: leads@in.example.com\r\nSubject: (#550193224) Gmail Forwarding Confirmation - Receive Mail from ana.agent@gmail.com\r\nMessage-ID: <fwd-confirm-3@google.com>\r\n\r\nConfirmation code: 550193224\r\nhttps://mail-settings.google.com/mail/vf-%5BAB%5D-cd\r\n";
    let r = reqwest::Client::new()
        .post(format!("{}/email/raw", serve.url))
        .basic_auth("inlet", Some(serve.mail_token()))
        .header("content-type", "message/rfc822")
        .body(confirmation)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let dlq = |action: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["dlq", action, "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let listed = dlq("list");
    assert!(listed.contains("550193224"), "{listed}");
    assert!(
        listed.contains("https://mail-settings.google.com/mail/vf-"),
        "{listed}"
    );
    dlq("replay");
    assert!(dlq("list").contains("550193224"), "a replay leaves it");
    // `inlet status` shows it waiting, with its code and link, apart from dead letters.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{status}");
    assert!(
        status.contains("forwarding confirmations waiting   1"),
        "{status}"
    );
    assert!(
        status.contains("code 550193224; confirm at https://mail-settings.google.com/mail/vf-"),
        "{status}"
    );
    assert!(status.contains("dead letters         0"), "{status}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(double.leads().is_empty());
}

#[tokio::test]
async fn unroutable_mail_is_kept_as_a_dead_letter() {
    let double = RechatDouble::start().await;
    let data = data_dir("serve-email-unroutable");
    let serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let r = reqwest::Client::new()
        .post(format!(
            "{}/email/raw?token={}",
            serve.url,
            serve.mail_token()
        ))
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
    // The reason names the address to add, whole.
    assert!(listed.contains("anything@in.example.com"), "{listed}");
    assert!(double.leads().is_empty());

    let replay = |config: Option<&std::path::Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"));
        cmd.args(["dlq", "replay", "--data-dir"]).arg(&data);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    // Replayed with the same settings it is read again, still unroutable: it stays, rather
    // than going to Rechat with an empty channel and coming back a 404.
    let said = replay(None);
    assert!(said.contains("kept: unroutable"), "{said}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(double.leads().is_empty());
    // With the address routed now, the replay reads it again onto that channel.
    let routing = data.join("routing-now.toml");
    std::fs::write(
        &routing,
        format!("[email.addresses]\n\"anything@in.example.com\" = \"{CHANNEL}\"\n"),
    )
    .unwrap();
    let said = replay(Some(&routing));
    assert!(said.contains("read again: a lead"), "{said}");
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    assert_eq!(double.leads()[0].channel, CHANNEL);
    assert_eq!(
        double.leads()[0].payload["email"],
        "diego.alvarez@example.com"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["dlq", "list", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("is empty"), "{listed}");
}
