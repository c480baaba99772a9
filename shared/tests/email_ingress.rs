//! Mail arriving every way Inlet takes it: `POST /email/{provider}` through the intake
//! router (as `inlet serve` and the `webhook` function answer it), and the `email` function
//! with the S3, SES and SNS events in `events/`, over an in-memory object store.

use base64::Engine;
use bytes::Bytes;
use inlet::email::EmailSettings;
use inlet::lambda::email::{EmailFunction, EmailFunctionError};
use inlet::ledger::memory::MemoryLedger;
use inlet::objects::MemoryObjects;
use inlet::queue::memory::RecordingQueue;
use inlet::router::{Intake, IntakeSettings};
use inlet::web::ChannelPolicy;
use inlet::web::signature::sign;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const ROUTED: &str = "0b3e8a4c-1f2d-4e5a-9b6c-7d8e9f0a1b2c";
const DEFAULT: &str = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
const MAILGUN_KEY: &str = "key-test-mailgun";
const MAIL_TOKEN: &str = "mail-token-for-tests-7d1e";

/// SES's own verdicts, as it writes them above a message it received: DMARC passed for
/// Zillow's domain, so the portal is credited.
const SES_PASS: &str = "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=premieragent.zillow.com;\r\n dkim=pass header.i=@premieragent.zillow.com;\r\n dmarc=pass header.from=premieragent.zillow.com\r\n";

const LEAD: &str = "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=premieragent.zillow.com; dkim=pass header.i=@premieragent.zillow.com; dmarc=pass header.from=premieragent.zillow.com\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nReply-To: Mei Tanaka <mei.tanaka@example.com>\r\nTo: zillow@in.example.com\r\nSubject: Mei Tanaka is interested in 77 Walnut Ave\r\nMessage-ID: <lead-1@fixtures.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMei Tanaka says:\r\n\"Can we see it on Friday?\"\r\n(469) 555-0133\r\n";

/// The brokerage's own mail server, which receives its mail, checks it, writes its
/// `Authentication-Results`, and posts it to `/email/raw` (`[email.verdicts_from] raw`).
const MX: &str = "mx.in.example.com";

/// `mail` as the brokerage's server passed it on: the verdicts it wrote are its own.
fn via_mx(mail: &str) -> String {
    mail.replace(
        "Authentication-Results: amazonses.com;",
        &format!("Authentication-Results: {MX};"),
    )
}

fn email_settings(default: bool) -> EmailSettings {
    let mut s = EmailSettings {
        mailgun_signing_key: Some(MAILGUN_KEY.into()),
        http_token: Some(MAIL_TOKEN.into()),
        ..EmailSettings::default()
    };
    s.verdicts_from.insert("raw".into(), MX.into());
    s.addresses
        .insert("zillow@in.example.com".into(), ROUTED.into());
    if default {
        s.default_channel = Some(DEFAULT.into());
    }
    s
}

fn intake(default: bool) -> (Intake, Arc<RecordingQueue>) {
    let (intake, queue, _) = intake_keeping(default);
    (intake, queue)
}

/// The intake, its queue, and where it keeps mail read as no lead, spam and unsure readings.
fn intake_keeping(
    default: bool,
) -> (
    Intake,
    Arc<RecordingQueue>,
    Arc<inlet::kept::memory::MemoryKept>,
) {
    let queue = Arc::new(RecordingQueue::default());
    let kept = Arc::new(inlet::kept::memory::MemoryKept::new());
    let intake = Intake {
        queue: queue.clone(),
        ledger: Arc::new(MemoryLedger::new()),
        kept: kept.clone(),
        settings: IntakeSettings {
            email: email_settings(default),
            ..IntakeSettings::default()
        },
        captcha: Arc::new(inlet::forms::spam::HttpCaptchaVerifier::new()),
        sns: Arc::new(inlet::sns::HttpsSns::new(None)),
        readings: Default::default(),
        console: None,
    };
    (intake, queue, kept)
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Posts as a provider or a named receiving server does, with the route's own token as the
/// Basic password (the mail token opens the route too, but vouches for no verdict).
async fn post(intake: &Intake, provider: &str, ct: &str, body: Vec<u8>) -> (u16, Value) {
    let token = inlet::email::route::route_token(MAIL_TOKEN, provider);
    let auth = basic("sendgrid", &token);
    let (status, body, _) =
        post_as(intake, &format!("/email/{provider}"), ct, body, Some(&auth)).await;
    (status, body)
}

/// Posts to `uri` with `authorization`, answering the status, the body and the
/// `WWW-Authenticate` challenge.
async fn post_as(
    intake: &Intake,
    uri: &str,
    ct: &str,
    body: Vec<u8>,
    authorization: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut req = http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", ct);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = intake.handle(req.body(Bytes::from(body)).unwrap()).await;
    (
        resp.status().as_u16(),
        serde_json::from_slice(resp.body()).unwrap_or(Value::Null),
        resp.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
    )
}

fn multipart(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--XB\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--XB--\r\n");
    out
}

fn only_lead(queue: &RecordingQueue) -> inlet::envelope::Envelope {
    let sent = queue.sent.lock().unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent[0].clone()
}

fn email_of(envelope: &inlet::envelope::Envelope) -> String {
    let v = serde_json::to_value(&envelope.steps[0]).unwrap();
    v["lead"]["email"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn raw_mime_is_queued_on_its_routed_channel() {
    let (intake, queue) = intake(false);
    let (status, body) = post(&intake, "raw", "message/rfc822", via_mx(LEAD).into()).await;
    assert_eq!(status, 202, "{body}");
    let e = only_lead(&queue);
    assert_eq!(e.channel, ROUTED);
    assert_eq!(email_of(&e), "mei.tanaka@example.com");
    assert_eq!(e.origin.sender, "zillow");
    assert_eq!(body["data"]["id"], e.id.as_str());
}

#[tokio::test]
async fn sendgrid_parsed_and_raw_modes() {
    let (intake, queue) = intake(true);
    let parsed = multipart(&[
        (
            "headers",
            b"Message-ID: <sg-1@fixtures.example>\nReply-To: Ana Silva <ana.silva@example.com>",
        ),
        ("from", b"Website <no-reply@brokerage.example>"),
        ("to", b"leads@in.example.com"),
        ("subject", b"New form submission"),
        (
            "text",
            b"Name: Ana Silva\nPhone: (214) 555-0123\nMessage: Caf\xe9 meeting?",
        ),
        ("charsets", br#"{"text":"iso-8859-1","from":"UTF-8"}"#),
        (
            "envelope",
            br#"{"to":["leads@in.example.com"],"from":"no-reply@brokerage.example"}"#,
        ),
    ]);
    let (status, _) = post(
        &intake,
        "sendgrid",
        "multipart/form-data; boundary=XB",
        parsed,
    )
    .await;
    assert_eq!(status, 202);
    let e = only_lead(&queue);
    assert_eq!(e.channel, DEFAULT);
    let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
    assert_eq!(lead["email"], "ana.silva@example.com");
    assert!(lead["note"].as_str().unwrap().contains("Café meeting?"));
    queue.sent.lock().unwrap().clear();

    let raw = multipart(&[
        ("email", LEAD.as_bytes()),
        ("envelope", br#"{"to":["zillow@in.example.com"]}"#),
    ]);
    let (status, _) = post(&intake, "sendgrid", "multipart/form-data; boundary=XB", raw).await;
    assert_eq!(status, 202);
    assert_eq!(only_lead(&queue).channel, ROUTED);
}

#[tokio::test]
async fn mailgun_signatures_are_verified() {
    let (intake, queue) = intake(true);
    let ts = chrono::Utc::now().timestamp().to_string();
    let token = "a1b2c3d4e5";
    let signed = |token: &str| {
        hex::encode(sign(
            MAILGUN_KEY.as_bytes(),
            &[ts.as_bytes(), token.as_bytes()],
        ))
    };
    let good = signed(token);
    let headers = json!([
        ["Reply-To", "Mei Tanaka <mei.tanaka@example.com>"],
        ["Message-Id", "<mg-1@x>"]
    ])
    .to_string();
    let fields = |sig: &str| {
        multipart(&[
            ("timestamp", ts.as_bytes()),
            ("token", token.as_bytes()),
            ("signature", sig.as_bytes()),
            ("recipient", b"zillow@in.example.com"),
            ("from", b"Zillow <contact@premieragent.zillow.com>"),
            ("subject", b"Mei Tanaka is interested in 77 Walnut Ave"),
            ("message-headers", headers.as_bytes()),
            (
                "body-plain",
                b"Mei Tanaka says:\n\"Friday?\"\n(469) 555-0133",
            ),
        ])
    };
    let (status, body) = post(
        &intake,
        "mailgun",
        "multipart/form-data; boundary=XB",
        fields(&"0".repeat(64)),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(queue.sent.lock().unwrap().is_empty());
    let (status, _) = post(
        &intake,
        "mailgun",
        "multipart/form-data; boundary=XB",
        fields(&good),
    )
    .await;
    assert_eq!(status, 202);
    let e = only_lead(&queue);
    assert_eq!(e.channel, ROUTED);
    assert_eq!(email_of(&e), "mei.tanaka@example.com");
    // The same signed post again, as one who captured it would send it: refused, once
    // taken.
    queue.sent.lock().unwrap().clear();
    let (status, body) = post(
        &intake,
        "mailgun",
        "multipart/form-data; boundary=XB",
        fields(&good),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert!(queue.sent.lock().unwrap().is_empty());
    // `body-mime` mode, urlencoded, with a token of its own.
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("timestamp", &ts)
        .append_pair("token", "f6e5d4c3b2")
        .append_pair("signature", &signed("f6e5d4c3b2"))
        .append_pair("recipient", "someone@in.example.com")
        .append_pair("body-mime", LEAD)
        .finish();
    let (status, _) = post(
        &intake,
        "mailgun",
        "application/x-www-form-urlencoded",
        form.into_bytes(),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(only_lead(&queue).channel, DEFAULT);
}

#[tokio::test]
async fn a_mailgun_retry_after_a_failure_still_passes() {
    // The token is kept only once the mail is taken: a post the queue refused (503) is
    // retried by Mailgun with the same token, and that retry must pass.
    let (intake, queue) = intake(true);
    let ts = chrono::Utc::now().timestamp().to_string();
    let token = "retry-token-1";
    let signature = hex::encode(sign(
        MAILGUN_KEY.as_bytes(),
        &[ts.as_bytes(), token.as_bytes()],
    ));
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("timestamp", &ts)
        .append_pair("token", token)
        .append_pair("signature", &signature)
        .append_pair("body-mime", LEAD)
        .finish();
    queue.down.store(true, Ordering::SeqCst);
    let ct = "application/x-www-form-urlencoded";
    let (status, _) = post(&intake, "mailgun", ct, form.clone().into_bytes()).await;
    assert_eq!(status, 503);
    queue.down.store(false, Ordering::SeqCst);
    let (status, body) = post(&intake, "mailgun", ct, form.into_bytes()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(only_lead(&queue).channel, ROUTED);
}

#[tokio::test]
async fn mail_over_http_needs_the_mail_token() {
    let (intake, queue) = intake(true);
    let forged_sendgrid = multipart(&[
        ("SPF", b"pass"),
        ("dkim", b"{@premieragent.zillow.com : pass}"),
        ("email", LEAD.as_bytes()),
        ("envelope", br#"{"to":["zillow@in.example.com"]}"#),
    ]);
    let sg = "multipart/form-data; boundary=XB";
    let wrong = basic("sendgrid", "not-the-mail-token-at-all");
    let as_user = basic(MAIL_TOKEN, "");
    let bearer = format!("Bearer {MAIL_TOKEN}");
    let prefix = format!("/email/raw?token={}", &MAIL_TOKEN[..10]);
    for (what, uri, ct, auth) in [
        ("no credential", "/email/raw", "message/rfc822", None),
        (
            "a wrong password",
            "/email/raw",
            "message/rfc822",
            Some(wrong.as_str()),
        ),
        (
            "the token as the user name",
            "/email/raw",
            "message/rfc822",
            Some(as_user.as_str()),
        ),
        (
            "a bearer token",
            "/email/raw",
            "message/rfc822",
            Some(bearer.as_str()),
        ),
        (
            "Basic that is not base64",
            "/email/raw",
            "message/rfc822",
            Some("Basic %%%"),
        ),
        (
            "a prefix of the token",
            prefix.as_str(),
            "message/rfc822",
            None,
        ),
        (
            "an empty token",
            "/email/raw?token=",
            "message/rfc822",
            None,
        ),
        (
            "SendGrid's SPF=pass field, forged",
            "/email/sendgrid",
            sg,
            None,
        ),
        ("Postmark", "/email/postmark", "application/json", None),
        (
            "CloudMailin",
            "/email/cloudmailin",
            "application/json",
            None,
        ),
    ] {
        let body = if ct == sg {
            forged_sendgrid.clone()
        } else if ct == "application/json" {
            b"{}".to_vec()
        } else {
            LEAD.as_bytes().to_vec()
        };
        let (status, body, challenge) = post_as(&intake, uri, ct, body, auth).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        assert_eq!(
            challenge.as_deref(),
            Some("Basic realm=\"inlet-email\""),
            "{what}"
        );
    }
    assert!(queue.sent.lock().unwrap().is_empty());
    assert!(queue.dead_letters.lock().unwrap().is_empty());
    // `?token=` works as the password does, encoded or not.
    let query = format!(
        "/email/raw?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("token", MAIL_TOKEN)
            .finish()
    );
    let (status, body, _) = post_as(&intake, &query, "message/rfc822", LEAD.into(), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(only_lead(&queue).channel, ROUTED);
}

#[tokio::test]
async fn with_no_mail_token_configured_every_mail_post_is_refused() {
    let (mut intake, queue) = intake(true);
    intake.settings.email.http_token = None;
    let auth = basic("x", MAIL_TOKEN);
    let (status, body, _) = post_as(
        &intake,
        "/email/raw",
        "message/rfc822",
        LEAD.into(),
        Some(&auth),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http_token"),
        "{body}"
    );
    assert!(queue.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn mail_past_the_limit_is_413_and_says_where_large_mail_goes() {
    let (mut intake, queue) = intake(true);
    intake.settings.email_body_limit = inlet::router::email::LAMBDA_EMAIL_BODY_LIMIT;
    let mut big = LEAD.as_bytes().to_vec();
    big.extend(std::iter::repeat_n(
        b'a',
        inlet::router::email::LAMBDA_EMAIL_BODY_LIMIT,
    ));
    let (status, body) = post(&intake, "raw", "message/rfc822", big).await;
    assert_eq!(status, 413);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("SES"),
        "{body}"
    );
    assert!(queue.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_portal_is_credited_only_when_its_domain_is_proven() {
    let (intake, queue) = intake(true);
    let bare = via_mx(LEAD).split_once("\r\n").unwrap().1.to_owned();
    let forged_beneath = format!(
        "Authentication-Results: mx.in.example.com; spf=fail; dkim=fail; dmarc=fail header.from=premieragent.zillow.com\r\nAuthentication-Results: mx.in.example.com; dkim=pass header.i=@premieragent.zillow.com; dmarc=pass header.from=premieragent.zillow.com\r\n{bare}"
    );
    let other_server = format!(
        "Authentication-Results: mx.attacker.example; dkim=pass header.i=@premieragent.zillow.com; dmarc=pass header.from=premieragent.zillow.com\r\n{bare}"
    );
    let unaligned = format!(
        "Authentication-Results: mx.in.example.com; dkim=pass header.i=@attacker.example; dmarc=none\r\n{bare}"
    );
    let proven = format!("{}{bare}", via_mx(SES_PASS));
    // SES writes no header into mail posted over HTTP: one naming it was the sender\'s.
    let ses_named = format!("{SES_PASS}{bare}");
    for (what, mail, sender) in [
        ("no verdicts", bare.clone(), "email"),
        (
            "a pass written beneath the server's fail",
            forged_beneath,
            "email",
        ),
        ("another server's pass", other_server, "email"),
        ("DKIM of another domain", unaligned, "email"),
        ("SES's name on mail posted over HTTP", ses_named, "email"),
        ("the receiving server's aligned pass", proven, "zillow"),
    ] {
        queue.sent.lock().unwrap().clear();
        let (status, body) = post(&intake, "raw", "message/rfc822", mail.into()).await;
        assert_eq!(status, 202, "{what}: {body}");
        let e = only_lead(&queue);
        assert_eq!(e.origin.sender, sender, "{what}");
        // Read all the same: the prospect is there either way.
        assert_eq!(email_of(&e), "mei.tanaka@example.com", "{what}");
        let notices = serde_json::to_string(&e.notices).unwrap();
        assert_eq!(
            notices.contains("unverified_sender"),
            sender == "email",
            "{what}: {notices}"
        );
    }
}

/// Gmail's forwarding confirmation, as its help describes it; written for this test.
const GMAIL_CONFIRMATION: &str = "From: Gmail Team <forwarding-noreply@google.com>\r\nTo: zillow@in.example.com\r\nSubject: (#418220937) Gmail Forwarding Confirmation - Receive Mail from ana.agent@gmail.com\r\nMessage-ID: <fwd-confirm-2@google.com>\r\n\r\nana.agent@gmail.com has requested to automatically forward mail to your email\r\naddress zillow@in.example.com.\r\nConfirmation code: 418220937\r\n\r\nhttps://mail-settings.google.com/mail/vf-%5BANGjdJ9xQ2%5D-Zk3pLw8\r\n";

#[tokio::test]
async fn a_forwarding_confirmation_is_kept_with_its_code_and_link_not_dropped() {
    let (intake, queue) = intake(true);
    let (status, body) = post(&intake, "raw", "message/rfc822", GMAIL_CONFIRMATION.into()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (200, Some("FORWARDING_CONFIRMATION")),
        "{body}"
    );
    assert!(queue.sent.lock().unwrap().is_empty(), "no lead");
    let dead = queue.dead_letters.lock().unwrap();
    assert_eq!(dead.len(), 1);
    let letter = &dead[0].1;
    assert_eq!(
        letter.cause.as_deref(),
        Some(inlet::queue::FORWARDING_CONFIRMATION)
    );
    assert!(!letter.replayable());
    assert!(letter.reason.contains("418220937"), "{}", letter.reason);
    assert!(
        letter
            .reason
            .contains("https://mail-settings.google.com/mail/vf-"),
        "{}",
        letter.reason
    );
    // Unproven and confirm_forwarding off: Inlet fetched nothing.
    assert!(
        !letter.reason.contains("Inlet fetched"),
        "{}",
        letter.reason
    );
}

#[tokio::test]
async fn postmark_and_cloudmailin_json() {
    let (intake, queue) = intake(true);
    let postmark = json!({
        "FromFull": {"Email": "leads@email.realtor.com", "Name": "realtor.com"},
        "ToFull": [{"Email": "zillow@in.example.com", "Name": ""}],
        "OriginalRecipient": "zillow@in.example.com",
        "Subject": "New realtor.com lead - Diego Alvarez",
        "MessageID": "pm-1",
        "TextBody": "First Name: Diego\nLast Name: Alvarez\nEmail: diego.alvarez@example.com",
        // A header in a post is whoever composed the mail's: no server in front of Postmark
        // is named for this route, so it credits no portal.
        "Headers": [
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Authentication-Results", "Value": "amazonses.com; dkim=pass header.d=email.realtor.com; dmarc=pass header.from=email.realtor.com"}
        ]
    });
    let (status, _) = post(
        &intake,
        "postmark",
        "application/json",
        postmark.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 202);
    let e = only_lead(&queue);
    assert_eq!(
        (e.channel.as_str(), e.origin.sender.as_str()),
        (ROUTED, "email")
    );
    queue.sent.lock().unwrap().clear();
    let cloudmailin = json!({
        "envelope": {"to": "other@in.example.com", "spf": {"result": "pass"}},
        "headers": {"From": "Zed <zed@example.net>", "Subject": "Question", "Message-ID": "<cm-1@x>"},
        "plain": "Name: Zed Park\nPhone: 212 555 0101", "html": ""
    });
    let (status, _) = post(
        &intake,
        "cloudmailin",
        "application/json",
        cloudmailin.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(only_lead(&queue).channel, DEFAULT);
}

#[tokio::test]
async fn not_leads_unroutable_and_bad_input_each_answer_clearly() {
    let (intake, queue) = intake(false);
    let bounce = "From: MAILER-DAEMON@mx.example.net\r\nTo: zillow@in.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nsorry\r\n";
    let (status, body) = post(&intake, "raw", "message/rfc822", bounce.into()).await;
    assert_eq!((status, body["code"].as_str()), (200, Some("NOT_A_LEAD")));
    let unroutable = via_mx(LEAD).replace("To: zillow@in.example.com", "To: nobody@in.example.com");
    let (status, body) = post(&intake, "raw", "message/rfc822", unroutable.into()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("UNROUTABLE")),
        "{body}"
    );
    {
        let dead = queue.dead_letters.lock().unwrap();
        assert_eq!(dead.len(), 1);
        assert!(
            dead[0].1.reason.starts_with("unroutable"),
            "{}",
            dead[0].1.reason
        );
        // The brokerage's own address, whole: the operator adds exactly it.
        assert!(
            dead[0].1.reason.contains("nobody@in.example.com"),
            "{}",
            dead[0].1.reason
        );
    }
    assert!(queue.sent.lock().unwrap().is_empty());
    {
        // Kept with what a replay needs to read it again, and not replayed as it is.
        let dead = queue.dead_letters.lock().unwrap();
        assert_eq!(dead[0].1.cause.as_deref(), Some(inlet::queue::UNROUTABLE));
        assert!(!dead[0].1.replayable());
        let kept = inlet::envelope::Envelope::from_json(&dead[0].0).unwrap();
        let stored: inlet::email::StoredMail =
            serde_json::from_value(kept.source.clone().unwrap()).unwrap();
        assert_eq!(stored.recipients, ["nobody@in.example.com"]);
        assert!(stored.first_reason.starts_with("unroutable"));
        // Read again once the address is routed: a lead on that channel, the first reason
        // kept in its notices.
        let mut now = email_settings(false);
        now.addresses
            .insert("nobody@in.example.com".into(), DEFAULT.into());
        let ctx = inlet::email::EmailContext {
            settings: &now,
            policy: &ChannelPolicy::AnyUuid,
            normalize: Default::default(),
            verify_senders: true,
        };
        let raw = stored.inline_mime().expect("the message is kept inline");
        match inlet::email::reread(&stored, raw, &ctx).unwrap() {
            inlet::email::Outcome::Lead(e) => {
                assert_eq!(e.channel, DEFAULT);
                assert_eq!(email_of(&e), "mei.tanaka@example.com");
                let notices = serde_json::to_string(&e.notices).unwrap();
                assert!(
                    notices.contains("read_again") && notices.contains("unroutable"),
                    "{notices}"
                );
                // Its portal stays proven: the receiving server's verdicts are in the stored
                // message, and its route is kept with it.
                assert_eq!(e.origin.sender, "zillow");
            }
            other => panic!("{other:?}"),
        }
    }
    let (status, _) = post(
        &intake,
        "postmark",
        "application/json",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(&intake, "carrier-pigeon", "text/plain", b"x".to_vec()).await;
    assert_eq!(status, 404);
    let (status, _) = post(&intake, "sendgrid", "text/plain", b"x".to_vec()).await;
    assert_eq!(status, 400);
    queue.down.store(true, Ordering::SeqCst);
    let (status, _) = post(&intake, "raw", "message/rfc822", LEAD.into()).await;
    assert_eq!(status, 503, "the queue is down: the sender must retry");
}

fn event(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

struct Function {
    queue: RecordingQueue,
    kept: inlet::kept::memory::MemoryKept,
    objects: MemoryObjects,
    settings: EmailSettings,
    policy: ChannelPolicy,
}

impl Function {
    fn new() -> Self {
        Function {
            queue: RecordingQueue::default(),
            kept: Default::default(),
            objects: MemoryObjects::default(),
            settings: email_settings(true),
            policy: ChannelPolicy::AnyUuid,
        }
    }

    async fn handle(&self, event: &Value) -> Result<Value, EmailFunctionError> {
        EmailFunction {
            queue: &self.queue,
            kept: &self.kept,
            objects: &self.objects,
            settings: &self.settings,
            policy: &self.policy,
            normalize: Default::default(),
            ses_bucket: Some(("inlet-inbound-mail", "inbound/")),
        }
        .handle(event)
        .await
    }
}

#[tokio::test]
async fn the_email_function_reads_s3_ses_and_sns_events() {
    let f = Function::new();
    // The object the sample S3 event names, stored as SES stores it (with its verdicts).
    let stored = format!("X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n{LEAD}");
    f.objects.put(
        "inlet-inbound-mail",
        "inbound/0a1b2c3d4e5f",
        stored.clone().into_bytes(),
    );
    let out = f.handle(&event("s3-email.json")).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "queued", "{out}");
    assert_eq!(only_lead(&f.queue).channel, ROUTED);

    let f = Function::new();
    f.objects.put(
        "inlet-inbound-mail",
        "inbound/0a1b2c3d4e5f",
        stored.into_bytes(),
    );
    let out = f.handle(&event("ses-email.json")).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "queued", "{out}");
    assert_eq!(
        only_lead(&f.queue).channel,
        ROUTED,
        "SES's recipients route it"
    );

    let f = Function::new();
    let mut sns = event("sns-email.json");
    let mut notification: Value =
        serde_json::from_str(sns["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    notification["content"] = base64::engine::general_purpose::STANDARD
        .encode(LEAD)
        .into();
    sns["Records"][0]["Sns"]["Message"] = notification.to_string().into();
    let out = f.handle(&sns).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "queued", "{out}");
    assert_eq!(email_of(&only_lead(&f.queue)), "mei.tanaka@example.com");
}

#[tokio::test]
async fn the_email_function_drops_spam_and_keeps_going_past_a_bad_record() {
    let f = Function::new();
    let spam = format!("X-SES-Spam-Verdict: FAIL\r\n{LEAD}");
    f.objects.put(
        "inlet-inbound-mail",
        "inbound/0a1b2c3d4e5f",
        spam.into_bytes(),
    );
    let mut two = event("s3-email.json");
    let mut missing = two["Records"][0].clone();
    missing["s3"]["object"]["key"] = "inbound/gone".into();
    two["Records"].as_array_mut().unwrap().push(missing);
    let out = f.handle(&two).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "spam", "{out}");
    assert_eq!(out["messages"][1]["outcome"], "rejected", "{out}");
    assert!(f.queue.sent.lock().unwrap().is_empty());
    // Kept for a person, with SES's verdict as the reason and where SES stored it.
    let kept = f.kept.all();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].kind, inlet::kept::KeptKind::Spam);
    assert!(
        kept[0].reason.contains("spam verdict"),
        "{}",
        kept[0].reason
    );
    let mail = kept[0].mail().unwrap();
    assert_eq!(mail.object.unwrap().key, "inbound/0a1b2c3d4e5f");
    assert!(mail.mime_base64.is_some(), "small mail is kept whole");
    // The queue down: the invocation fails, so Lambda retries it.
    let f = Function::new();
    f.objects.put(
        "inlet-inbound-mail",
        "inbound/0a1b2c3d4e5f",
        LEAD.as_bytes().to_vec(),
    );
    f.queue.down.store(true, Ordering::SeqCst);
    assert!(f.handle(&event("s3-email.json")).await.is_err());
}

/// Mail read as no lead, and mail the receiving service called spam, are kept with why and
/// the message's reference, and a person can release one as a lead into a chosen channel:
/// raw MIME and a provider's parsed fields alike (kept as the message, there being no MIME).
#[tokio::test]
async fn mail_not_taken_is_kept_with_its_reference_and_released_into_a_chosen_channel() {
    let (intake, queue, kept) = intake_keeping(false);
    // A person's reply that reads as an auto-reply, to an address no rule places.
    let auto = "From: Rosa Diaz <rosa.diaz@example.com>\r\nTo: nobody@in.example.com\r\nSubject: Automatic reply: 12 Elm St\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo-2@fixtures.example>\r\n\r\nBack Monday. Still keen to see 12 Elm St.\r\n";
    let (status, body) = post(&intake, "raw", "message/rfc822", auto.into()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "NOT_A_LEAD");
    assert_eq!(body["kept"], true);
    // Posted again (a provider's retry): kept once.
    post(&intake, "raw", "message/rfc822", auto.into()).await;
    // SendGrid's parsed fields, its spam check failed by the receiving server's verdicts.
    let spam = "--B\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nLen Ortiz <len@example.org>\r\n--B\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nzillow@in.example.com\r\n--B\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nQuestion about 9 Oak Ct\r\n--B\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nName: Len Ortiz\r\nPhone: 303 555 0142\r\n--B\r\nContent-Disposition: form-data; name=\"headers\"\r\n\r\nAuthentication-Results: amazonses.com; spf=fail smtp.mailfrom=example.org\r\nMessage-ID: <sg-9@fixtures.example>\r\n--B\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{\"to\":[\"zillow@in.example.com\"],\"from\":\"len@example.org\"}\r\n--B--\r\n";
    let mut strict = intake;
    strict.settings.email.require_spf = true;
    let (status, body) = post(
        &strict,
        "sendgrid",
        "multipart/form-data; boundary=B",
        spam.into(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (200, Some("DROPPED")),
        "{body}"
    );
    assert!(queue.sent.lock().unwrap().is_empty(), "nothing queued");

    let all = kept.all();
    assert_eq!(all.len(), 2, "{all:?}");
    let not_lead = all
        .iter()
        .find(|i| i.kind == inlet::kept::KeptKind::NotALead)
        .unwrap();
    let mail = not_lead.mail().unwrap();
    assert_eq!(mail.message_id.as_deref(), Some("ooo-2@fixtures.example"));
    assert_eq!(
        mail.from.as_deref(),
        Some("Rosa Diaz <rosa.diaz@example.com>")
    );
    assert_eq!(mail.recipients, ["nobody@in.example.com"]);
    assert!(not_lead.envelope.channel.is_empty(), "no rule placed it");
    let spam_item = all
        .iter()
        .find(|i| i.kind == inlet::kept::KeptKind::Spam)
        .unwrap();
    assert!(spam_item.reason.contains("SPF"), "{}", spam_item.reason);
    let sg = spam_item.mail().unwrap();
    assert!(
        sg.mime_base64.is_none() && sg.message.is_some(),
        "parsed fields kept as the message"
    );
    assert_eq!(
        spam_item.envelope.channel, ROUTED,
        "its recipient's channel"
    );

    let ctx = inlet::email::EmailContext {
        settings: &strict.settings.email,
        policy: &strict.settings.channels,
        normalize: Default::default(),
        verify_senders: true,
    };
    // The auto-reply into a chosen channel: its sender is the person, its words the note.
    let (_, e) = inlet::kept::release(&*kept, &*queue, None, &ctx, &not_lead.id, Some(DEFAULT))
        .await
        .unwrap();
    assert_eq!(e.channel, DEFAULT);
    assert_eq!(email_of(&e), "rosa.diaz@example.com");
    assert!(
        e.notices
            .iter()
            .any(|n| matches!(n, inlet::normalize::Notice::ReadAgain { .. }))
    );
    // The spam into its own channel, read past the verdicts.
    let (_, e) = inlet::kept::release(&*kept, &*queue, None, &ctx, &spam_item.id, None)
        .await
        .unwrap();
    assert_eq!(e.channel, ROUTED);
    let lead = e.captured_lead().unwrap();
    assert_eq!(lead.phone_number.as_deref(), Some("+13035550142"));
    assert_eq!(queue.sent.lock().unwrap().len(), 2);
    assert!(kept.all().is_empty());
}

/// A forged forward: an agent the brokerage lists, a portal's layout inside, and the
/// verdicts SES would have written, all composed by whoever posts it.
const FORGED_FORWARD: &str = "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=brokerage.example; dkim=pass header.d=brokerage.example; dmarc=pass header.from=brokerage.example\r\nFrom: Agent Smith <agent.smith@brokerage.example>\r\nTo: zillow@in.example.com\r\nSubject: Fwd: Rui Costa is interested in 5 Birch Rd\r\nMessage-ID: <forged-1@fixtures.example>\r\n\r\n---------- Forwarded message ---------\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nSubject: Rui Costa is interested in 5 Birch Rd\r\nTo: <agent.smith@brokerage.example>\r\n\r\nRui Costa says:\r\n\"Is it still available?\"\r\nrui.costa@example.com\r\n(469) 555-0177\r\n";

fn no_assignee(lead: &Value) -> bool {
    lead["assignees"].as_array().is_none_or(Vec::is_empty)
}

/// The same message by every route mail is posted to over HTTP.
fn by_every_http_route(mail: &str) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("raw", "message/rfc822", mail.as_bytes().to_vec()),
        (
            "sendgrid",
            "multipart/form-data; boundary=XB",
            multipart(&[
                ("email", mail.as_bytes()),
                ("envelope", br#"{"to":["zillow@in.example.com"]}"#),
            ]),
        ),
        (
            "postmark",
            "application/json",
            json!({"RawEmail": mail, "OriginalRecipient": "zillow@in.example.com"})
                .to_string()
                .into_bytes(),
        ),
        (
            "cloudmailin",
            "application/json",
            json!({
                "envelope": {"to": "zillow@in.example.com"},
                "headers": {
                    "Authentication-Results": mail.lines().next().unwrap().trim_start_matches("Authentication-Results: "),
                    "From": "Agent Smith <agent.smith@brokerage.example>",
                    "To": "zillow@in.example.com",
                    "Subject": "Fwd: Rui Costa is interested in 5 Birch Rd",
                    "Message-ID": "<forged-1@fixtures.example>"
                },
                "plain": mail.split_once("\r\n\r\n").unwrap().1,
            })
            .to_string()
            .into_bytes(),
        ),
    ]
}

#[tokio::test]
async fn verdicts_a_sender_wrote_count_for_nothing_on_mail_posted_over_http() {
    // The brokerage requires DMARC, lists its agents' domain, and gives a forwarding agent
    // the lead: every one of these trusts the receiving server's verdicts.
    let strict = |require_dmarc: bool| {
        let (mut intake, queue, kept) = intake_keeping(true);
        intake.settings.email.require_dmarc = require_dmarc;
        intake.settings.email.agents = vec!["brokerage.example".into()];
        intake.settings.email.forwarder_is_assignee = true;
        (intake, queue, kept)
    };
    let (intake, queue, kept) = strict(true);
    for (provider, ct, body) in by_every_http_route(FORGED_FORWARD) {
        let (status, answer) = post(&intake, provider, ct, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (200, Some("DROPPED")),
            "{provider}: {answer}"
        );
        assert!(
            answer["reason"].as_str().unwrap().contains("DMARC"),
            "{answer}"
        );
    }
    assert!(
        queue.sent.lock().unwrap().is_empty(),
        "nothing forged is queued"
    );
    // Kept as spam for a person, not lost.
    assert!(
        !inlet::kept::Kept::newest(kept.as_ref(), inlet::kept::KeptKind::Spam, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Without the requirement the lead is read, but no agent is assigned by a forged
    // forward and no portal credited by a forged pass: it is marked unproven.
    let (intake, queue, _) = strict(false);
    for (provider, ct, body) in by_every_http_route(FORGED_FORWARD) {
        queue.sent.lock().unwrap().clear();
        let (status, answer) = post(&intake, provider, ct, body).await;
        assert_eq!(status, 202, "{provider}: {answer}");
        let e = only_lead(&queue);
        let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
        assert!(no_assignee(&lead), "{provider}: {lead}");
        assert_eq!(e.origin.sender, "email", "{provider}");
        assert!(
            serde_json::to_string(&e.notices)
                .unwrap()
                .contains("unverified_sender"),
            "{provider}"
        );
    }
}

#[tokio::test]
async fn the_server_named_for_a_route_and_a_providers_own_fields_are_believed() {
    let (mut intake, queue, _) = intake_keeping(true);
    intake.settings.email.agents = vec!["brokerage.example".into()];
    intake.settings.email.forwarder_is_assignee = true;
    // The brokerage's own server, named for /email/raw, wrote this header: believed.
    let (status, _) = post(
        &intake,
        "raw",
        "message/rfc822",
        via_mx(FORGED_FORWARD).into(),
    )
    .await;
    assert_eq!(status, 202);
    let lead = serde_json::to_value(&only_lead(&queue).steps[0]).unwrap()["lead"].clone();
    assert_eq!(
        lead["assignees"][0]["email"],
        "agent.smith@brokerage.example"
    );
    // SendGrid's own dkim field, in its authenticated post, names the signing domain.
    queue.sent.lock().unwrap().clear();
    let bare = FORGED_FORWARD.split_once("\r\n").unwrap().1;
    let sendgrid = multipart(&[
        ("email", bare.as_bytes()),
        ("envelope", br#"{"to":["zillow@in.example.com"]}"#),
        ("SPF", b"pass"),
        ("dkim", b"{@brokerage.example : pass}"),
    ]);
    let (status, _) = post(
        &intake,
        "sendgrid",
        "multipart/form-data; boundary=XB",
        sendgrid,
    )
    .await;
    assert_eq!(status, 202);
    let lead = serde_json::to_value(&only_lead(&queue).steps[0]).unwrap()["lead"].clone();
    assert_eq!(
        lead["assignees"][0]["email"],
        "agent.smith@brokerage.example"
    );
    // A failing or foreign signature in that field proves nothing.
    for dkim in [
        &b"{@brokerage.example : fail}"[..],
        b"{@attacker.example : pass}",
        b"none",
    ] {
        queue.sent.lock().unwrap().clear();
        let sendgrid = multipart(&[
            ("email", bare.as_bytes()),
            ("envelope", br#"{"to":["zillow@in.example.com"]}"#),
            ("dkim", dkim),
        ]);
        post(
            &intake,
            "sendgrid",
            "multipart/form-data; boundary=XB",
            sendgrid,
        )
        .await;
        let lead = serde_json::to_value(&only_lead(&queue).steps[0]).unwrap()["lead"].clone();
        assert!(no_assignee(&lead), "{}", String::from_utf8_lossy(dkim));
    }
}

#[tokio::test]
async fn mailguns_own_spam_flag_and_checks_come_from_its_signed_post() {
    let (mut intake, queue, _) = intake_keeping(true);
    intake.settings.email.require_spf = true;
    let now = chrono::Utc::now().timestamp().to_string();
    let post_mailgun = |token: &'static str, extra: &'static [(&'static str, &'static str)]| {
        let now = now.clone();
        let intake = &intake;
        async move {
            let signature = hex::encode(sign(
                MAILGUN_KEY.as_bytes(),
                &[now.as_bytes(), token.as_bytes()],
            ));
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("timestamp", &now)
                .append_pair("token", token)
                .append_pair("signature", &signature)
                .append_pair("recipient", "zillow@in.example.com")
                .append_pair("body-mime", LEAD);
            for (k, v) in extra {
                form.append_pair(k, v);
            }
            post_as(
                intake,
                "/email/mailgun",
                "application/x-www-form-urlencoded",
                form.finish().into_bytes(),
                None,
            )
            .await
        }
    };
    // SES's header inside the message is no one's word here; Mailgun's own field is.
    let (status, answer, _) =
        post_mailgun("mg-token-one-0000000000000000000000000000000000", &[]).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (200, Some("DROPPED")),
        "{answer}"
    );
    let (status, answer, _) = post_mailgun(
        "mg-token-two-0000000000000000000000000000000000",
        &[("X-Mailgun-Spf", "Pass"), ("X-Mailgun-Sflag", "No")],
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(only_lead(&queue).channel, ROUTED);
    let (status, answer, _) = post_mailgun(
        "mg-token-three-00000000000000000000000000000000000",
        &[("X-Mailgun-Spf", "Pass"), ("X-Mailgun-Sflag", "Yes")],
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (200, Some("DROPPED")),
        "{answer}"
    );
    assert!(
        answer["reason"].as_str().unwrap().contains("spam"),
        "{answer}"
    );
}

// ---- Attack review (branch attack-37): forged forwarders and borrowed DMARC passes. ----

/// A stranger's own mail, from their own Gmail account (so the receiving server rightly
/// passes DKIM and DMARC for gmail.com), naming a listed agent in `X-Forwarded-For` as a
/// mailbox rule would. The header is the stranger's own text; the only proven mailbox is
/// the stranger's.
const XFF_FORGED_FORWARD: &str = "Authentication-Results: mx.in.example.com; spf=pass smtp.mailfrom=gmail.com; dkim=pass header.d=gmail.com; dmarc=pass header.from=gmail.com\r\nX-Forwarded-For: ana.agent@gmail.com zillow@in.example.com\r\nFrom: Mallory <mallory.stranger@gmail.com>\r\nTo: zillow@in.example.com\r\nSubject: Fwd: Rui Costa is interested in 5 Birch Rd\r\nMessage-ID: <xff-forged-1@fixtures.example>\r\n\r\n---------- Forwarded message ---------\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nSubject: Rui Costa is interested in 5 Birch Rd\r\nTo: <ana.agent@gmail.com>\r\n\r\nRui Costa says:\r\n\"Is it still available?\"\r\nrui.costa@example.com\r\n(469) 555-0177\r\n";

/// FAILING: `X-Forwarded-For` is written by whoever composed the mail, yet
/// `forward::auto_forwarded_by` takes it as the forwarder and `read_lead` checks only that
/// the *forwarder's domain* is authenticated, not that the forwarder is the proven From.
/// Any Gmail user passes for a listed `ana@gmail.com` (the README's own example agent): the
/// lead is assigned to her and the portal inside credited.
#[tokio::test]
async fn attack_x_forwarded_for_names_a_listed_agent_the_sender_is_not() {
    let (mut intake, queue, _) = intake_keeping(true);
    intake.settings.email.agents = vec!["ana.agent@gmail.com".into()];
    intake.settings.email.forwarder_is_assignee = true;
    let (status, answer) = post(&intake, "raw", "message/rfc822", XFF_FORGED_FORWARD.into()).await;
    assert_eq!(status, 202, "{answer}");
    let e = only_lead(&queue);
    let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
    assert!(
        no_assignee(&lead),
        "a stranger's X-Forwarded-For assigned the lead: {lead}"
    );
    assert_eq!(
        e.origin.sender, "email",
        "the portal was credited through a forged forward"
    );
}

/// FAILING: an SES receipt's DMARC verdict is for the message's From domain and names no
/// domain (`dmarc_domain: None`), and `Verdicts::authenticates` takes a `None` domain as a
/// pass for *any* domain. So a stranger whose own domain passes DMARC proves whatever
/// domain `read_lead` asks about: here a listed agent's, named in `X-Forwarded-For`.
#[tokio::test]
async fn attack_an_ses_receipts_dmarc_pass_proves_every_domain() {
    let mut f = Function::new();
    f.settings.agents = vec!["brokerage.example".into()];
    f.settings.forwarder_is_assignee = true;
    let mail = "X-Forwarded-For: agent.smith@brokerage.example\r\nFrom: Mallory <mallory@attacker.example>\r\nTo: zillow@in.example.com\r\nSubject: Fwd: Rui Costa is interested in 5 Birch Rd\r\nMessage-ID: <ses-xff-1@attacker.example>\r\n\r\n---------- Forwarded message ---------\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nSubject: Rui Costa is interested in 5 Birch Rd\r\nTo: <agent.smith@brokerage.example>\r\n\r\nRui Costa says:\r\n\"Is it still available?\"\r\nrui.costa@example.com\r\n(469) 555-0177\r\n";
    f.objects.put(
        "inlet-inbound-mail",
        "inbound/0a1b2c3d4e5f",
        mail.as_bytes().to_vec(),
    );
    // The sample event's receipt: DMARC PASS, for attacker.example (the From domain).
    let out = f.handle(&event("ses-email.json")).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "queued", "{out}");
    let e = only_lead(&f.queue);
    let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
    assert!(
        no_assignee(&lead),
        "attacker.example's DMARC pass proved brokerage.example: {lead}"
    );
    assert_eq!(e.origin.sender, "email");
}

/// A mailbox rule passes a portal's message on whole: the portal's own DKIM signature
/// (the receiving server's verdict on it) credits the portal, while the agent its
/// `X-Forwarded-For` names is neither the prospect nor, unproven, the assignee.
#[tokio::test]
async fn a_mailbox_rules_forward_is_credited_by_the_portals_own_signature() {
    let (mut intake, queue, _) = intake_keeping(true);
    intake.settings.email.agents = vec!["ana.agent@gmail.com".into()];
    intake.settings.email.forwarder_is_assignee = true;
    let mail = "Authentication-Results: mx.in.example.com; spf=pass smtp.mailfrom=gmail.com; dkim=pass header.d=premieragent.zillow.com; dmarc=pass header.from=premieragent.zillow.com\r\nX-Forwarded-For: ana.agent@gmail.com zillow@in.example.com\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nTo: ana.agent@gmail.com\r\nSubject: Rui Costa is interested in 5 Birch Rd\r\nMessage-ID: <auto-forward-1@fixtures.example>\r\n\r\nRui Costa says:\r\n\"Is it still available?\"\r\nrui.costa@example.com\r\n(469) 555-0177\r\n";
    let (status, answer) = post(&intake, "raw", "message/rfc822", mail.into()).await;
    assert_eq!(status, 202, "{answer}");
    let e = only_lead(&queue);
    let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
    assert!(no_assignee(&lead), "{lead}");
    assert_ne!(lead["email"], "ana.agent@gmail.com", "{lead}");
    assert_eq!(e.origin.sender, "zillow", "{lead}");
}

/// A vendor's notice an agent forwards, from a no-reply sender and asking nothing, is held for
/// review as no lead (kept, never dropped, nothing queued); its sender is never made the
/// prospect, not even when a person releases it.
#[tokio::test]
async fn a_forwarded_no_reply_notice_is_held_and_its_sender_never_becomes_the_prospect() {
    let (intake, queue, kept) = intake_keeping(true);
    let notice = "From: Renee Castillo <renee.castillo@brokerage.example>\r\nTo: leads@in.example.com\r\nSubject: Fwd: Grace Kim viewed your profile\r\nMessage-ID: <fwd-notice-1@fixtures.example>\r\n\r\n---------- Forwarded message ---------\r\nFrom: ProNetwork <notifications-noreply@pronetwork.example>\r\nDate: Tue, Jan 5, 2027 at 9:15 AM\r\nSubject: Grace Kim viewed your profile\r\nTo: <renee.castillo@brokerage.example>\r\n\r\nSee who else viewed your profile this week: https://pronetwork.example/me\r\n";
    let (status, body) = post(&intake, "raw", "message/rfc822", notice.into()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "NOT_A_LEAD", "{body}");
    assert_eq!(body["kept"], true);
    assert!(
        body["reason"].as_str().unwrap_or("").contains("no inquiry"),
        "{body}"
    );
    assert!(queue.sent.lock().unwrap().is_empty(), "nothing queued");
    let all = kept.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, inlet::kept::KeptKind::NotALead);

    let ctx = inlet::email::EmailContext {
        settings: &intake.settings.email,
        policy: &intake.settings.channels,
        normalize: Default::default(),
        verify_senders: false,
    };
    let released =
        inlet::kept::release(&*kept, &*queue, None, &ctx, &all[0].id, Some(DEFAULT)).await;
    if let Ok((_, e)) = &released {
        let lead = e.captured_lead().unwrap();
        assert!(
            !lead
                .email
                .as_deref()
                .is_some_and(|m| m.contains("pronetwork.example")),
            "the no-reply sender was made the prospect: {lead:?}"
        );
    } else {
        assert_eq!(kept.all().len(), 1, "a refused release keeps the item");
    }
}

/// The mail token opens `/email/sendgrid`, but whoever holds it (every provider's settings,
/// anyone testing `/email/raw`) is not SendGrid: the SPF and dkim fields of such a post are
/// the poster's words. Only the route's own token makes them SendGrid's.
#[tokio::test]
async fn sendgrids_verdict_fields_count_only_with_its_routes_own_token() {
    let (mut intake, queue, _) = intake_keeping(true);
    intake.settings.email.agents = vec!["brokerage.example".into()];
    intake.settings.email.forwarder_is_assignee = true;
    let bare = FORGED_FORWARD.split_once("\r\n").unwrap().1;
    let body = || {
        multipart(&[
            ("email", bare.as_bytes()),
            ("envelope", br#"{"to":["zillow@in.example.com"]}"#),
            ("SPF", b"pass"),
            ("dkim", b"{@brokerage.example : pass}"),
        ])
    };
    let route = inlet::email::route::route_token(MAIL_TOKEN, "sendgrid");
    for (token, believed) in [(MAIL_TOKEN.to_owned(), false), (route.clone(), true)] {
        queue.sent.lock().unwrap().clear();
        let auth = basic("inlet", &token);
        let (status, answer, _) = post_as(
            &intake,
            "/email/sendgrid",
            "multipart/form-data; boundary=XB",
            body(),
            Some(&auth),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
        let lead = serde_json::to_value(&only_lead(&queue).steps[0]).unwrap()["lead"].clone();
        assert_eq!(!no_assignee(&lead), believed, "{token}: {lead}");
    }
    // Another route's own token opens nothing here, and the route token opens no other.
    let cloudmailin = inlet::email::route::route_token(MAIL_TOKEN, "cloudmailin");
    let (status, _, _) = post_as(
        &intake,
        "/email/sendgrid",
        "multipart/form-data; boundary=XB",
        body(),
        Some(&basic("inlet", &cloudmailin)),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = post_as(
        &intake,
        "/email/raw",
        "message/rfc822",
        bare.as_bytes().to_vec(),
        Some(&basic("inlet", &route)),
    )
    .await;
    assert_eq!(status, 401);
    // The derivation the README gives for openssl.
    assert_eq!(route.len(), 64);
}

/// The server `[email.verdicts_from]` names for a route vouches for its header only in posts
/// carrying the route's own token: with the mail token, which other providers' settings and
/// testers hold, the same header is whoever posted's.
#[tokio::test]
async fn a_named_servers_header_counts_only_with_the_routes_own_token() {
    let (mut intake, queue, _) = intake_keeping(true);
    intake.settings.email.agents = vec!["brokerage.example".into()];
    intake.settings.email.forwarder_is_assignee = true;
    for (token, believed) in [
        (MAIL_TOKEN.to_owned(), false),
        (inlet::email::route::route_token(MAIL_TOKEN, "raw"), true),
    ] {
        queue.sent.lock().unwrap().clear();
        let (status, answer, _) = post_as(
            &intake,
            "/email/raw",
            "message/rfc822",
            via_mx(FORGED_FORWARD).into(),
            Some(&basic("inlet", &token)),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
        let lead = serde_json::to_value(&only_lead(&queue).steps[0]).unwrap()["lead"].clone();
        assert_eq!(!no_assignee(&lead), believed, "{token}: {lead}");
    }
}

/// An encoded word in From is decoded in the display name only: decoded first, it would add
/// a mailbox the receiving server never judged, and the stranger whose own domain passed
/// DMARC would be read as the listed agent the word names.
#[tokio::test]
async fn an_encoded_word_in_from_adds_no_sender() {
    use base64::Engine;
    let mut f = Function::new();
    f.settings.agents = vec!["brokerage.example".into()];
    f.settings.forwarder_is_assignee = true;
    let word =
        base64::engine::general_purpose::STANDARD.encode("x <agent.smith@brokerage.example>,");
    let mail = format!(
        "From: =?utf-8?b?{word}?= <mallory@attacker.example>\r\nTo: zillow@in.example.com\r\nSubject: Fwd: Rui Costa is interested in 5 Birch Rd\r\nMessage-ID: <ses-word-1@attacker.example>\r\n\r\n---------- Forwarded message ---------\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nSubject: Rui Costa is interested in 5 Birch Rd\r\nTo: <agent.smith@brokerage.example>\r\n\r\nRui Costa says:\r\n\"Is it still available?\"\r\nrui.costa@example.com\r\n(469) 555-0177\r\n"
    );
    f.objects.put(
        "inlet-inbound-mail",
        "inbound/0a1b2c3d4e5f",
        mail.as_bytes().to_vec(),
    );
    let out = f.handle(&event("ses-email.json")).await.unwrap();
    assert_eq!(out["messages"][0]["outcome"], "queued", "{out}");
    let e = only_lead(&f.queue);
    let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
    assert!(no_assignee(&lead), "{lead}");
    assert_eq!(e.origin.sender, "email");
    // The display name is still read decoded.
    let m = inlet::email::Message::from_mime(
        b"From: =?utf-8?q?Jos=C3=A9_Ruiz?= <jose@example.com>\r\n\r\nhi\r\n",
    )
    .unwrap();
    assert_eq!(m.from.len(), 1);
    assert_eq!(m.from[0].name.as_deref(), Some("José Ruiz"));
    assert_eq!(m.from[0].address, "jose@example.com");
}
