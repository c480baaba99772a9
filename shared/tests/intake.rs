//! The intake router: every route and every answer, from the API Gateway v2 events in
//! `events/` (as the `webhook` function receives them) and from plain requests (as
//! `inlet serve` does).

use bytes::Bytes;
use inlet::envelope::{LeadRef, Step, answer_uuid, rechat_lead_key};
use inlet::lambda::http as lambda;
use inlet::ledger::memory::MemoryLedger;
use inlet::ledger::{Ledger, LedgerRecord, RecordStatus};
use inlet::queue::memory::RecordingQueue;
use inlet::router::{Intake, IntakeSettings};
use inlet::web::ChannelPolicy;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

const CHANNEL: &str = "00000000-0000-4000-8000-000000000001";

struct Fixture {
    intake: Intake,
    queue: Arc<RecordingQueue>,
    ledger: Arc<MemoryLedger>,
    kept: Arc<inlet::kept::memory::MemoryKept>,
    sns: Arc<SnsDouble>,
}

/// SNS as the router sees it: the fixtures' certificate at every certificate URL, and the
/// confirmations asked for.
#[derive(Default)]
struct SnsDouble {
    certificates: std::sync::Mutex<Vec<String>>,
    confirmations: std::sync::Mutex<Vec<String>>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl inlet::sns::SnsEndpoint for SnsDouble {
    async fn certificate(&self, url: &url::Url) -> Result<Arc<Vec<u8>>, inlet::sns::SnsFetchError> {
        self.certificates.lock().unwrap().push(url.to_string());
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(inlet::sns::SnsFetchError("connection refused".into()));
        }
        let path = format!(
            "{}/tests/fixtures/webhooks/sns/cert.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        Ok(Arc::new(std::fs::read(path).unwrap()))
    }

    async fn confirm(&self, url: &url::Url) -> Result<(), inlet::sns::SnsFetchError> {
        self.confirmations.lock().unwrap().push(url.to_string());
        Ok(())
    }
}

fn fixture(settings: IntakeSettings) -> Fixture {
    let queue = Arc::new(RecordingQueue::default());
    let ledger = Arc::new(MemoryLedger::new());
    let sns = Arc::new(SnsDouble::default());
    let kept = Arc::new(inlet::kept::memory::MemoryKept::new());
    Fixture {
        intake: Intake {
            queue: queue.clone(),
            ledger: ledger.clone(),
            kept: kept.clone(),
            settings,
            captcha: Arc::new(inlet::forms::spam::HttpCaptchaVerifier::new()),
            sns: sns.clone(),
            readings: Default::default(),
            console: None,
        },
        queue,
        ledger,
        kept,
        sns,
    }
}

fn default() -> Fixture {
    fixture(IntakeSettings::default())
}

fn request(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> http::Request<Bytes> {
    let mut b = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

async fn call(f: &Fixture, req: http::Request<Bytes>) -> (u16, http::HeaderMap, Value) {
    let response = f.intake.handle(req).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    assert!(!(300..400).contains(&status), "never a redirect");
    (status, headers, body)
}

async fn call_event(f: &Fixture, name: &str) -> (u16, Value) {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let req = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let response = lambda::handle(&f.intake, req).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("expected a JSON text body, got {other:?}"),
    };
    (status, body)
}

fn capture_path() -> String {
    format!("/leads/channels/{CHANNEL}/webhook")
}

fn sent(f: &Fixture) -> Vec<inlet::envelope::Envelope> {
    f.queue.sent.lock().unwrap().clone()
}

#[tokio::test]
async fn the_json_capture_event_is_queued_normalized_and_recorded() {
    let f = default();
    let (status, body) = call_event(&f, "apigw-capture.json").await;
    assert_eq!(status, 202);
    assert_eq!(body["code"], "ACCEPTED");
    let envelopes = sent(&f);
    assert_eq!(envelopes.len(), 1);
    let env = &envelopes[0];
    // Rechat's shape: `data.id` is a UUID, the envelope's.
    assert_eq!(body["data"]["id"], answer_uuid(&env.id).as_str());
    assert!(uuid::Uuid::parse_str(body["data"]["id"].as_str().unwrap()).is_ok());
    assert_eq!(env.channel, CHANNEL);
    assert_eq!(env.origin.sender, "rechat-api");
    assert_eq!(
        env.origin.event_id.as_deref(),
        Some("website-form-0001"),
        "Idempotency-Key is the event id"
    );
    let lead = env.captured_lead().unwrap();
    assert_eq!(lead.phone_number.as_deref(), Some("+12145550123"));
    assert_eq!(lead.assignees[0].mls_id.as_deref(), Some("12345678"));
    assert_eq!(lead.listing.as_ref().unwrap().price, Some(450000.0));
    let record = f.ledger.get(&env.id).await.unwrap().unwrap();
    assert_eq!(record.status, RecordStatus::Queued);
}

#[tokio::test]
async fn the_base64_form_event_is_read_like_rechat_reads_forms() {
    let f = default();
    let (status, _) = call_event(&f, "apigw-capture-form.json").await;
    assert_eq!(status, 202);
    let env = &sent(&f)[0];
    let lead = env.captured_lead().unwrap();
    assert_eq!(lead.email.as_deref(), Some("ben@example.com"));
    assert_eq!(lead.tag, vec!["Seller", "Hot"]);
    let listing = lead.listing.as_ref().unwrap();
    assert_eq!(listing.mls_number.as_deref(), Some("MLS-2002"));
    let address = listing.property.as_ref().unwrap().address.as_ref().unwrap();
    assert_eq!(
        address.full_address.as_deref(),
        Some("7 Oak Ave, Austin TX")
    );
    assert_eq!(lead.assignees[0].mls_id.as_deref(), Some("A-77"));
    assert_eq!(lead.note.as_deref(), Some("Please call after 5"));
}

#[tokio::test]
async fn timeline_and_assignees_events_queue_in_the_leads_group() {
    let f = default();
    let (status, _) = call_event(&f, "apigw-timeline.json").await;
    assert_eq!(status, 202);
    let (status, _) = call_event(&f, "apigw-assignees.json").await;
    assert_eq!(status, 202);
    let envelopes = sent(&f);
    let lead = "0e17f1d9-aaaa-4bbb-8ccc-000000000001";
    for env in &envelopes {
        assert_eq!(env.lead_key, rechat_lead_key("", lead));
        assert_eq!(
            env.steps[0].target(),
            Some(&LeadRef::Rechat { id: lead.into() })
        );
    }
    assert!(
        matches!(&envelopes[0].steps[0], Step::Activity { activity, .. } if activity.notes.as_deref() == Some("Saved from the listing page"))
    );
    assert!(
        matches!(&envelopes[1].steps[0], Step::Assign { assignees, .. } if assignees[0].first_name.as_deref() == Some("Dana"))
    );
    // Recorded as queued, so that delivery can hold the reassignment behind the activity.
    for env in &envelopes {
        let record = f.ledger.get(&env.id).await.unwrap().unwrap();
        assert_eq!(record.status, inlet::ledger::RecordStatus::Queued);
        assert_eq!(record.lead_key, env.lead_key);
    }
}

#[tokio::test]
async fn health_reports_the_version_and_the_queue() {
    let f = default();
    let (status, body) = call_event(&f, "apigw-health.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], inlet::VERSION);
    assert_eq!(body["queue"]["reachable"], true);
    f.queue.down.store(true, Ordering::SeqCst);
    let (status, _, body) = call(&f, request("GET", "/health", None, "")).await;
    assert_eq!(status, 200);
    assert_eq!(body["queue"]["reachable"], false);
}

/// A ledger record as delivery leaves it: `status`, with an error when it failed.
fn delivery_record(n: usize, status: RecordStatus, error: Option<&str>) -> LedgerRecord {
    let envelope = inlet::rechat_api::capture_envelope(
        CHANNEL,
        &json!({"first_name": "Ana", "email": format!("ana{n}@example.com")}),
        b"{}",
        None,
        &Default::default(),
    )
    .unwrap();
    let mut record = LedgerRecord::new(format!("k{n}"), &envelope);
    record.status = status;
    record.attempts = 1;
    record.last_error = error.map(str::to_owned);
    record
}

#[tokio::test]
async fn health_says_delivery_is_failing_when_most_recent_attempts_fail() {
    // Rechat answers, every lead with 401 (a revoked token): the breaker stays closed, and
    // /health must still say delivery fails, with 200 for the load balancer.
    let f = default();
    f.ledger
        .create(&delivery_record(0, RecordStatus::Delivered, None))
        .await
        .unwrap();
    for n in 1..6 {
        let r = delivery_record(n, RecordStatus::DeadLettered, Some("Rechat answered 401"));
        f.ledger.create(&r).await.unwrap();
    }
    let (status, _, body) = call(&f, request("GET", "/health", None, "")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "degraded", "{body}");
    let delivery = &body["delivery"];
    assert_eq!(delivery["status"], "failing", "{body}");
    // The route an uptime monitor watches answers 503 with the same body.
    let (status, _, monitored) = call(&f, request("GET", "/health/delivery", None, "")).await;
    assert_eq!(status, 503);
    assert_eq!(monitored["delivery"]["status"], "failing", "{monitored}");
    assert_eq!(delivery["rechat"], "available");
    assert!(
        delivery["why"]
            .as_str()
            .unwrap()
            .contains("5 of 6 attempts in the last hour failed, 5 of them since the last delivery"),
        "{body}"
    );
    assert!(delivery["last_success_at"].is_string(), "{body}");
    // A queue that cannot count says so with nulls, not zeros.
    assert!(
        delivery["waiting"].is_null() && delivery["dead_letters"].is_null(),
        "{body}"
    );
    // Nothing personal in a body anyone may read.
    assert!(!body.to_string().contains("example.com"), "{body}");

    let f = default();
    f.ledger
        .create(&delivery_record(0, RecordStatus::Delivered, None))
        .await
        .unwrap();
    let (_, _, body) = call(&f, request("GET", "/health", None, "")).await;
    assert_eq!(body["delivery"]["status"], "ok", "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    assert!(body["delivery"].get("why").is_none(), "{body}");
    let (status, _, _) = call(&f, request("GET", "/health/delivery", None, "")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_activity_posted_with_inlets_id_joins_the_captures_group() {
    let f = default();
    let capture = r#"{"first_name":"Ana","email":"ana@example.com"}"#;
    let (_, _, body) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), capture),
    )
    .await;
    // The id Inlet answered is a UUID, as Rechat's lead ids are; it names the envelope.
    let inlet_id = body["data"]["id"].as_str().unwrap().to_owned();
    let envelope_id = sent(&f)[0].id.clone();
    assert_eq!(answer_uuid(&envelope_id), inlet_id);
    let activity =
        r#"{"action":"ContactViewedListing","listing":{"url":"https://example.com/l/1"}}"#;
    let path = format!("/leads/{inlet_id}/timeline");
    let (status, _, _) = call(
        &f,
        request("POST", &path, Some("application/json"), activity),
    )
    .await;
    assert_eq!(status, 202);
    let envelopes = sent(&f);
    assert_eq!(
        envelopes[1].lead_key, envelopes[0].lead_key,
        "same group as the capture"
    );
    assert_eq!(
        envelopes[1].steps[0].target(),
        Some(&LeadRef::Envelope {
            id: envelope_id.clone()
        })
    );

    // Once the capture is delivered, the ledger knows the Rechat id and the step names it.
    let mut record = f.ledger.get(&envelope_id).await.unwrap().unwrap();
    record.rechat_lead_id = Some("0e17f1d9-aaaa-4bbb-8ccc-000000000009".into());
    record.version += 1;
    f.ledger.update(&record).await.unwrap();
    let reassign = r#"[{"email":"agent@example.com"}]"#;
    let (status, _, _) = call(
        &f,
        request(
            "PUT",
            &format!("/leads/{inlet_id}/assignees"),
            Some("application/json"),
            reassign,
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        sent(&f)[2].steps[0].target(),
        Some(&LeadRef::Rechat {
            id: "0e17f1d9-aaaa-4bbb-8ccc-000000000009".into()
        })
    );
    assert_eq!(sent(&f)[2].lead_key, envelopes[0].lead_key);
}

#[tokio::test]
async fn unknown_routes_leads_and_channels_are_404_without_revealing_the_allowlist() {
    let allowed = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f".to_owned();
    let f = fixture(IntakeSettings {
        channels: ChannelPolicy::from_list(std::slice::from_ref(&allowed)),
        ..IntakeSettings::default()
    });
    let body = r#"{"email":"a@example.com"}"#;
    let (status, _, unknown_route) = call(&f, request("POST", "/nope", None, body)).await;
    assert_eq!(status, 404);
    assert_eq!(unknown_route["error"]["code"], "not_found");
    let (s1, _, not_allowed) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), body),
    )
    .await;
    let (s2, _, malformed) = call(
        &f,
        request(
            "POST",
            "/leads/channels/not-a-uuid/webhook",
            Some("application/json"),
            body,
        ),
    )
    .await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(
        not_allowed, malformed,
        "an unknown and a disallowed channel look alike"
    );
    let ok_path = format!("/leads/channels/{}/webhook", allowed.to_uppercase());
    assert_eq!(
        call(
            &f,
            request("POST", &ok_path, Some("application/json"), body)
        )
        .await
        .0,
        202
    );
    let unknown_lead = "/leads/c-00000000000000000000000000000000/timeline";
    let activity = r#"{"action":"ContactSignedUp"}"#;
    assert_eq!(
        call(
            &f,
            request("POST", unknown_lead, Some("application/json"), activity)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &f,
            request(
                "POST",
                "/leads/12345/timeline",
                Some("application/json"),
                activity
            )
        )
        .await
        .0,
        404
    );
    assert_eq!(sent(&f).len(), 1);
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_preflights_are_answered() {
    let f = default();
    let (status, headers, body) = call(&f, request("GET", &capture_path(), None, "")).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "POST, OPTIONS");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let lead = "0e17f1d9-aaaa-4bbb-8ccc-000000000001";
    assert_eq!(
        call(
            &f,
            request("POST", &format!("/leads/{lead}/assignees"), None, "[]")
        )
        .await
        .0,
        405
    );
    assert_eq!(call(&f, request("POST", "/health", None, "")).await.0, 405);

    let mut preflight = request("OPTIONS", &capture_path(), None, "");
    preflight.headers_mut().insert(
        "access-control-request-headers",
        "content-type".parse().unwrap(),
    );
    let (status, headers, _) = call(&f, preflight).await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["access-control-allow-methods"], "POST, OPTIONS");
    assert_eq!(headers["access-control-allow-headers"], "content-type");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_unknown_types_415() {
    let f = fixture(IntakeSettings {
        body_limit: 64,
        ..IntakeSettings::default()
    });
    let big = format!(
        r#"{{"email":"a@example.com","note":"{}"}}"#,
        "x".repeat(100)
    );
    assert_eq!(
        call(
            &f,
            request("POST", &capture_path(), Some("application/json"), &big)
        )
        .await
        .0,
        413
    );
    let (status, _, body) = call(
        &f,
        request("POST", &capture_path(), Some("application/xml"), "<Lead/>"),
    )
    .await;
    assert_eq!(status, 415);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/xml")
    );
    assert!(sent(&f).is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_400_with_the_position() {
    let f = default();
    let (status, _, body) = call(
        &f,
        request(
            "POST",
            &capture_path(),
            Some("application/json"),
            "{\"email\": \"a@example.com\",\n oops}",
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "malformed_body");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2, column 2"),
        "{body}"
    );
}

#[tokio::test]
async fn well_formed_bodies_that_are_not_leads_are_400_naming_the_field_as_rechat_answers() {
    let f = default();
    let lead = "0e17f1d9-aaaa-4bbb-8ccc-000000000001";
    let cases: Vec<(&str, String, &str, Value)> = vec![
        ("POST", capture_path(), r#"{"note": "hi"}"#, Value::Null),
        (
            "POST",
            capture_path(),
            r#"{"email": ["a@example.com"]}"#,
            json!("email"),
        ),
        (
            "POST",
            capture_path(),
            r#"{"email": "a@example.com", "assignees": [{}]}"#,
            json!("assignees[0]"),
        ),
        (
            "POST",
            format!("/leads/{lead}/timeline"),
            r#"{"action": "ContactDanced"}"#,
            json!("action"),
        ),
        (
            "POST",
            format!("/leads/{lead}/timeline"),
            r#"{"action": "ContactViewedListing"}"#,
            json!("listing"),
        ),
        (
            "PUT",
            format!("/leads/{lead}/assignees"),
            r#"{"email": "a@example.com"}"#,
            Value::Null,
        ),
        (
            "PUT",
            format!("/leads/{lead}/assignees"),
            r#"[{"mls": "NTREIS"}]"#,
            json!("assignees[0]"),
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, _, answer) =
            call(&f, request(method, &path, Some("application/json"), body)).await;
        // Rechat documents its validation failures as 400, with `message` at the top.
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(answer["message"], answer["error"]["message"], "{answer}");
        assert_eq!(answer["code"], "Validation", "{answer}");
        assert_eq!(answer["http"], 400, "{answer}");
    }
    assert!(sent(&f).is_empty(), "nothing queued");
}

#[tokio::test]
async fn a_queue_that_cannot_take_the_lead_is_503_with_retry_after_never_a_fake_success() {
    let f = default();
    f.queue.down.store(true, Ordering::SeqCst);
    let (status, headers, body) = call(
        &f,
        request(
            "POST",
            &capture_path(),
            Some("application/json"),
            r#"{"email":"a@example.com"}"#,
        ),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(body["error"]["code"], "queue_unavailable");
    f.queue.down.store(false, Ordering::SeqCst);
    // The sender's retry goes through, and the ledger record from the first try is reused.
    let (status, _, _) = call(
        &f,
        request(
            "POST",
            &capture_path(),
            Some("application/json"),
            r#"{"email":"a@example.com"}"#,
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(sent(&f).len(), 1);
}

#[tokio::test]
async fn sender_webhooks_are_queued_one_envelope_per_lead() {
    let f = default();
    let body = r#"[{"name": "Ana Silva", "email": "ana@example.com", "id": "z-1"}, {"name": "Bo Li", "phone": "512-555-0100"}]"#;
    let (status, headers, answer) = call(
        &f,
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}"),
            Some("application/json"),
            body,
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "no CORS grant for server-to-server routes"
    );
    assert_eq!(answer["data"]["sender"], "generic");
    assert_eq!(answer["data"]["ids"].as_array().unwrap().len(), 2);
    assert_eq!(sent(&f).len(), 2);
    let named = call(
        &f,
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}/zapier"),
            Some("application/x-www-form-urlencoded"),
            "first_name=Cy&email=cy%40example.com",
        ),
    )
    .await;
    assert_eq!(named.0, 202);
    assert_eq!(
        call(
            &f,
            request(
                "POST",
                &format!("/webhooks/{CHANNEL}/nobody"),
                Some("application/json"),
                "{}"
            )
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &f,
            request(
                "POST",
                "/webhooks/not-a-channel",
                Some("application/json"),
                body
            )
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &f,
            request(
                "PUT",
                &format!("/webhooks/{CHANNEL}"),
                Some("application/json"),
                body
            )
        )
        .await
        .0,
        405
    );
}

#[tokio::test]
async fn a_sender_with_a_secret_must_sign_and_nothing_unsigned_is_queued() {
    let mut settings = IntakeSettings::default();
    let table: toml::Table = "[senders.meta]\nsecret = \"app-secret\"\nverify_token = \"vt-1\"\n"
        .parse()
        .unwrap();
    settings.webhooks = inlet::webhook::WebhookSettings::from_toml(&table).unwrap();
    let f = fixture(settings);
    let body = r#"{"object":"page","entry":[{"changes":[{"field":"leadgen","value":{"leadgen_id":"1"}}]}]}"#;
    let path = format!("/webhooks/{CHANNEL}/meta");
    let (status, _, answer) =
        call(&f, request("POST", &path, Some("application/json"), body)).await;
    assert_eq!(status, 401);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Hub-Signature-256")
    );
    let mut signed = request("POST", &path, Some("application/json"), body);
    let sig = format!(
        "sha256={}",
        hex::encode(inlet::web::signature::sign(
            b"app-secret",
            &[body.as_bytes()]
        ))
    );
    signed
        .headers_mut()
        .insert("x-hub-signature-256", sig.parse().unwrap());
    assert_eq!(call(&f, signed).await.0, 202);
    assert_eq!(sent(&f).len(), 1);

    // Meta's subscription check.
    let check = |token: &str| {
        request(
            "GET",
            &format!("{path}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=12345"),
            None,
            "",
        )
    };
    let response = f.intake.handle(check("vt-1")).await;
    assert_eq!(
        (response.status().as_u16(), response.body().as_ref()),
        (200, b"12345".as_ref())
    );
    assert_eq!(f.intake.handle(check("wrong")).await.status().as_u16(), 403);
}

#[tokio::test]
async fn the_form_event_is_a_plain_post_answered_with_a_page() {
    let mut settings = IntakeSettings::default();
    settings.forms.default_origins = vec!["https://www.example.com".into()];
    let f = fixture(settings);
    let path = format!("{}/../events/apigw-form.json", env!("CARGO_MANIFEST_DIR"));
    let req = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let response = lambda::handle(&f.intake, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://www.example.com"
    );
    let lambda_http::Body::Text(html) = response.body() else {
        panic!("a page")
    };
    assert!(html.contains("Thank you"));
    let lead = sent(&f)[0].captured_lead().unwrap().clone();
    assert_eq!(lead.tag, vec!["utm_source:google"]);
    assert_eq!(lead.phone_number.as_deref(), Some("+15125550123"));
}

/// The API Gateway samples template.yaml's wiring check requires, as the `webhook` function
/// receives them: each is taken.
#[tokio::test]
async fn the_webhook_and_mail_samples_are_taken() {
    let mut settings = IntakeSettings::default();
    settings.email.default_channel = Some(CHANNEL.into());
    // The sample mail post carries `inlet:sample-mail-token-0001` as Basic credentials.
    settings.email.http_token = Some("sample-mail-token-0001".into());
    // The sample Follow Up Boss post carries `sample-fub-api-key-0001` as the Basic user.
    settings.webhooks = inlet::webhook::WebhookSettings::from_toml(
        &format!("[senders.followupboss.api_keys]\n\"{CHANNEL}\" = \"sample-fub-api-key-0001\"\n")
            .parse()
            .unwrap(),
    )
    .unwrap();
    let f = fixture(settings);
    for (name, expected) in [
        ("apigw-webhook.json", 202),
        ("apigw-webhook-sender.json", 202),
        ("apigw-email.json", 202),
        ("apigw-fub-events.json", 201),
    ] {
        let (status, body) = call_event(&f, name).await;
        assert_eq!(status, expected, "{name}: {body}");
    }
    assert_eq!(f.queue.sent.lock().unwrap().len(), 4);
}

/// The dead-letter queue as the console sees it, in memory.
#[derive(Default)]
struct DeadLetterList(std::sync::Mutex<Vec<inlet::queue::DeadMessage>>);

#[async_trait::async_trait]
impl inlet::queue::DeadLetters for DeadLetterList {
    async fn list(&self) -> Result<Vec<inlet::queue::DeadMessage>, inlet::queue::QueueError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn release(&self, m: &inlet::queue::DeadMessage) -> Result<(), inlet::queue::QueueError> {
        self.0
            .lock()
            .unwrap()
            .retain(|d| d.message_id != m.message_id);
        Ok(())
    }
    async fn delete(&self, id: &str) -> Result<bool, inlet::queue::QueueError> {
        let mut all = self.0.lock().unwrap();
        let before = all.len();
        all.retain(|d| d.message_id != id);
        Ok(all.len() < before)
    }
}

#[tokio::test]
async fn the_console_through_api_gateway_is_behind_its_token_and_absent_without_one() {
    // No token configured (the Lambda default): the console does not exist.
    let f = default();
    let (status, _) = call_event(&f, "apigw-console-api.json").await;
    assert_eq!(status, 404);

    let mut f = default();
    f.intake.console = Some(inlet::router::console::Console::new(
        "sample-console-token-0000000001".into(),
        Arc::new(DeadLetterList::default()),
    ));
    let (status, body) = call_event(&f, "apigw-console-api.json").await;
    assert_eq!(status, 200, "{body}");
    let path = format!(
        "{}/../events/apigw-metrics.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let req = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let response = lambda::handle(&f.intake, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body["dead_letters"]["failed"], 0, "{body}");
    let path = format!(
        "{}/../events/apigw-console.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let req = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let response = lambda::handle(&f.intake, req).await;
    assert_eq!(response.status(), 401, "the login page, without the token");
    assert!(response.headers().contains_key("content-security-policy"));
    // Never a CORS grant: no other origin reads it.
    let req = with_header(
        with_header(
            request("GET", "/console/api/status", None, ""),
            "origin",
            "https://evil.example.net",
        ),
        "authorization",
        "Bearer sample-console-token-0000000001",
    );
    let (status, headers, _) = call(&f, req).await;
    assert_eq!(status, 200);
    assert!(headers.get("access-control-allow-origin").is_none());
}

// ---- Every intake route: only who may, once per event, nothing acknowledged that cannot be
// kept (issue 21).

fn with_header(
    mut req: http::Request<Bytes>,
    name: &'static str,
    value: &str,
) -> http::Request<Bytes> {
    req.headers_mut()
        .insert(name, http::HeaderValue::from_str(value).unwrap());
    req
}

fn zapier_secured(require_sender_auth: bool) -> Fixture {
    let routing: toml::Table = format!(
        "require_sender_auth = {require_sender_auth}\n[senders.zapier]\nsecret = \"zap-token\"\n"
    )
    .parse()
    .unwrap();
    fixture(IntakeSettings {
        webhooks: inlet::webhook::WebhookSettings::from_toml(&routing).unwrap(),
        ..IntakeSettings::default()
    })
}

#[tokio::test]
async fn with_require_sender_auth_no_route_takes_an_unsigned_webhook() {
    let f = zapier_secured(true);
    let body = r#"{"first_name":"Ana","email":"ana@example.com"}"#;
    // Naming another sender, the detecting route, naming the configured one without its token:
    // each once got 202 for the same unsigned body.
    for path in [
        format!("/webhooks/{CHANNEL}/elementor"),
        format!("/webhooks/{CHANNEL}"),
        format!("/webhooks/{CHANNEL}/zapier"),
        format!("/webhooks/{CHANNEL}/zapier?token=wrong"),
    ] {
        let (status, _, answer) =
            call(&f, request("POST", &path, Some("application/json"), body)).await;
        assert_eq!(status, 401, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized");
    }
    assert!(sent(&f).is_empty(), "nothing queued");
    // A configured sender's credential lets the request in, whichever sender reads it.
    for path in [
        format!("/webhooks/{CHANNEL}/zapier?token=zap-token"),
        format!("/webhooks/{CHANNEL}?token=zap-token"),
        format!("/webhooks/{CHANNEL}/elementor?token=zap-token"),
    ] {
        let (status, _, answer) =
            call(&f, request("POST", &path, Some("application/json"), body)).await;
        assert_eq!(status, 202, "{path}: {answer}");
    }
    let bearer = with_header(
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}"),
            Some("application/json"),
            r#"{"email":"bea@example.com"}"#,
        ),
        "authorization",
        "Bearer zap-token",
    );
    assert_eq!(call(&f, bearer).await.0, 202);
    // Rechat's own capture route stays open, as Rechat's is: the channel is its credential.
    let (status, _, _) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), body),
    )
    .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn without_require_sender_auth_a_sender_without_a_secret_is_read_as_before() {
    let f = zapier_secured(false);
    let body = r#"{"first_name":"Ana","email":"ana@example.com"}"#;
    let path = format!("/webhooks/{CHANNEL}/elementor");
    let (status, _, _) = call(&f, request("POST", &path, Some("application/json"), body)).await;
    assert_eq!(status, 202);
    let path = format!("/webhooks/{CHANNEL}/zapier");
    let (status, _, _) = call(&f, request("POST", &path, Some("application/json"), body)).await;
    assert_eq!(status, 401, "a sender with a secret is still verified");
}

#[tokio::test]
async fn require_sender_auth_with_no_secret_configured_is_a_configuration_error() {
    let dir = std::env::temp_dir().join(format!("inlet-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("inlet.toml");
    std::fs::write(
        &path,
        "require_sender_auth = true\n[senders.zapier]\ntags = [\"Z\"]\n",
    )
    .unwrap();
    let e = inlet::config::Config::load(Some(&path)).unwrap_err();
    assert!(e.to_string().contains("no [senders.*] secret"), "{e}");
    std::fs::write(
        &path,
        "require_sender_auth = true\n[senders.zapier]\nsecret = \"s\"\n",
    )
    .unwrap();
    let c = inlet::config::Config::load(Some(&path)).unwrap();
    assert!(c.webhooks.require_sender_auth);
}

#[tokio::test]
async fn an_idempotency_key_is_one_event_of_one_route_for_one_lead() {
    let f = default();
    let lead_a = "0e17f1d9-aaaa-4bbb-8ccc-00000000000a";
    let lead_b = "0e17f1d9-aaaa-4bbb-8ccc-00000000000b";
    let timeline = with_header(
        request(
            "POST",
            &format!("/leads/{lead_a}/timeline"),
            Some("application/json"),
            r#"{"action":"ContactLoggedIn"}"#,
        ),
        "idempotency-key",
        "k-1",
    );
    let reassign = with_header(
        request(
            "PUT",
            &format!("/leads/{lead_b}/assignees"),
            Some("application/json"),
            r#"[{"email":"agent@example.com"}]"#,
        ),
        "idempotency-key",
        "k-1",
    );
    let (s1, _, a1) = call(&f, timeline).await;
    let (s2, _, a2) = call(&f, reassign).await;
    assert_eq!((s1, s2), (202, 202));
    assert_ne!(
        a1["data"]["id"], a2["data"]["id"],
        "two events, two envelopes"
    );
    let envelopes = sent(&f);
    assert_ne!(envelopes[0].id, envelopes[1].id);
    // The same key on the same route for the same lead is the same event (a retry).
    let again = with_header(
        request(
            "POST",
            &format!("/leads/{lead_a}/timeline"),
            Some("application/json"),
            r#"{"action":"ContactLoggedIn"}"#,
        ),
        "idempotency-key",
        "k-1",
    );
    let (_, _, a3) = call(&f, again).await;
    assert_eq!(a3["data"]["id"], a1["data"]["id"]);
    // A capture's key is scoped to its channel.
    let other_channel = "00000000-0000-4000-8000-000000000002";
    let mut ids = Vec::new();
    for channel in [CHANNEL, other_channel] {
        let req = with_header(
            request(
                "POST",
                &format!("/leads/channels/{channel}/webhook"),
                Some("application/json"),
                r#"{"email":"ana@example.com"}"#,
            ),
            "idempotency-key",
            "k-1",
        );
        ids.push(call(&f, req).await.2["data"]["id"].clone());
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn follow_ups_without_a_key_are_never_merged_by_content() {
    let f = default();
    let lead = "0e17f1d9-aaaa-4bbb-8ccc-00000000000a";
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let (status, _, answer) = call(
            &f,
            request(
                "POST",
                &format!("/leads/{lead}/timeline"),
                Some("application/json"),
                r#"{"action":"ContactLoggedIn"}"#,
            ),
        )
        .await;
        assert_eq!(status, 202);
        ids.insert(answer["data"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 3, "three logins are three timeline entries");
    let envelopes = sent(&f);
    assert_eq!(envelopes.len(), 3);
    assert!(
        envelopes
            .iter()
            .all(|e| e.id_source == inlet::envelope::IdSource::Distinct)
    );
    // Captures of the same content still merge: a double submit is one lead.
    let capture = r#"{"first_name":"Ana","email":"ana@example.com"}"#;
    let (_, _, one) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), capture),
    )
    .await;
    let (_, _, two) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), capture),
    )
    .await;
    assert_eq!(one["data"]["id"], two["data"]["id"]);
}

#[tokio::test]
async fn an_inlet_id_the_ledger_does_not_know_is_404_at_once_any_other_uuid_is_rechats() {
    let f = default();
    // A UUID of Inlet's making (version 8) and an older `c-` id, neither in the ledger.
    let made_by_inlet = answer_uuid("c-0123456789abcdef0123456789abcdef");
    for lead in [made_by_inlet.as_str(), "c-0123456789abcdef0123456789abcdef"] {
        let (status, _, answer) = call(
            &f,
            request(
                "POST",
                &format!("/leads/{lead}/timeline"),
                Some("application/json"),
                r#"{"action":"ContactLoggedIn"}"#,
            ),
        )
        .await;
        assert_eq!(status, 404, "{lead}: {answer}");
        assert_eq!(answer["code"], "ResourceNotFound");
        assert!(answer["message"].as_str().is_some());
    }
    assert!(sent(&f).is_empty());
    // A Rechat lead id (version 4) is queued for Rechat to judge.
    let rechat_id = "5c0b8f7e-2d4a-4c3b-9e1f-0a1b2c3d4e5f";
    let (status, _, _) = call(
        &f,
        request(
            "POST",
            &format!("/leads/{rechat_id}/timeline"),
            Some("application/json"),
            r#"{"action":"ContactLoggedIn"}"#,
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        sent(&f)[0].steps[0].target(),
        Some(&LeadRef::Rechat {
            id: rechat_id.into()
        })
    );
}

#[tokio::test]
async fn a_600_kb_note_is_cut_and_said_and_a_lead_that_cannot_fit_is_413_before_anything_is_kept() {
    let note = "x".repeat(600 * 1024);
    let body = json!({"email": "ana@example.com", "note": note}).to_string();
    let big = IntakeSettings {
        body_limit: 4 * 1024 * 1024,
        ..IntakeSettings::default()
    };
    let f = fixture(big.clone());
    let (status, _, answer) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), &body),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let envelope = &sent(&f)[0];
    let Step::Capture { lead, .. } = &envelope.steps[0] else {
        panic!("a capture")
    };
    let kept = lead.note.as_deref().unwrap();
    assert!(kept.len() < 65 * 1024, "{} bytes", kept.len());
    assert!(
        kept.contains("[Inlet cut what was too long: note to 65536 of 614400]"),
        "{}",
        &kept[kept.len() - 200..]
    );
    assert!(envelope.to_json().len() < 256 * 1024);

    // Control characters are escaped six bytes each: 64 KiB of them cannot be queued.
    let f = fixture(big);
    let body = json!({"email": "bea@example.com", "note": "\u{1}".repeat(60 * 1024), "first_name": "\u{1}".repeat(200)}).to_string();
    let (status, _, answer) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), &body),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("over the queue's 262144-byte limit"),
        "{answer}"
    );
    assert!(sent(&f).is_empty(), "nothing queued");
    assert!(f.ledger.all().is_empty(), "nothing recorded either");
}

#[tokio::test]
async fn a_character_sqs_refuses_is_escaped_not_sent_raw() {
    let f = default();
    let body =
        json!({"email": "ana@example.com", "note": "odd \u{ffff} and \u{fffe} end"}).to_string();
    let (status, _, _) = call(
        &f,
        request("POST", &capture_path(), Some("application/json"), &body),
    )
    .await;
    assert_eq!(status, 202);
    let json = sent(&f)[0].to_json();
    assert!(
        !json.contains('\u{ffff}') && !json.contains('\u{fffe}'),
        "{json}"
    );
    assert!(json.contains("\\uffff") && json.contains("\\ufffe"));
    let back = inlet::envelope::Envelope::from_json(&json).unwrap();
    assert_eq!(back, sent(&f)[0], "the same text when read back");
}

#[tokio::test]
async fn rechat_routes_answer_errors_in_rechats_shape_beside_inlets() {
    let f = default();
    let (status, headers, answer) = call(
        &f,
        request(
            "POST",
            &capture_path(),
            Some("application/json"),
            "{\"email\":",
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["http"], 400);
    assert_eq!(answer["code"], "Validation");
    assert_eq!(answer["retry"], false);
    assert_eq!(answer["error"]["code"], "malformed_body");
    assert_eq!(answer["message"], answer["error"]["message"]);
    assert_eq!(
        headers["access-control-allow-origin"], "*",
        "browsers read it"
    );
    f.queue.down.store(true, Ordering::SeqCst);
    let (status, headers, answer) = call(
        &f,
        request(
            "POST",
            &capture_path(),
            Some("application/json"),
            r#"{"email":"a@example.com"}"#,
        ),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(answer["retry"], true);
    assert!(headers.contains_key("retry-after"));
}

// ---- Follow Up Boss's `POST /v1/events` (issue 23): the API key picks the channel.

const OTHER_CHANNEL: &str = "00000000-0000-4000-8000-0000000000b2";

fn follow_up_boss() -> Fixture {
    let routing: toml::Table = format!(
        "[senders.followupboss.api_keys]\n\"{CHANNEL}\" = \"key-of-the-first-team\"\n\"{OTHER_CHANNEL}\" = \"key-of-the-second-team\"\n"
    )
    .parse()
    .unwrap();
    fixture(IntakeSettings {
        webhooks: inlet::webhook::WebhookSettings::from_toml(&routing).unwrap(),
        ..IntakeSettings::default()
    })
}

fn fub_event(authorization: Option<&str>) -> http::Request<Bytes> {
    let body = r#"{"source":"Site.example","type":"General Inquiry","message":"Call me","person":{"firstName":"Lea","emails":[{"value":"lea@example.com"}]}}"#;
    let req = request("POST", "/v1/events", Some("application/json"), body);
    match authorization {
        Some(a) => with_header(req, "authorization", a),
        None => req,
    }
}

fn basic_user(user: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:"))
    )
}

#[tokio::test]
async fn follow_up_boss_events_go_to_the_channel_of_their_api_key() {
    let f = follow_up_boss();
    for (key, channel) in [
        ("key-of-the-first-team", CHANNEL),
        ("key-of-the-second-team", OTHER_CHANNEL),
    ] {
        let (status, _, body) = call(&f, fub_event(Some(&basic_user(key)))).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let queued = sent(&f);
        let env = queued.iter().find(|e| e.id == id).expect("queued");
        assert_eq!(env.channel, channel);
    }
}

#[tokio::test]
async fn follow_up_boss_events_without_a_known_key_are_refused_and_nothing_queued() {
    let f = follow_up_boss();
    let wrong = basic_user("key-of-nobody-at-all");
    let password_only = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(":key-of-the-first-team")
        )
    };
    for auth in [
        None,
        Some(wrong.as_str()),
        Some(password_only.as_str()),
        Some("Basic !!!not-base64"),
        Some("Bearer key-of-the-first-team"),
    ] {
        let (status, headers, body) = call(&f, fub_event(auth)).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(headers.get("www-authenticate").is_some(), "{auth:?}");
    }
    // Not configured at all: refused, saying what to set.
    let (status, _, body) = call(&default(), fub_event(Some(&basic_user("anything-goes")))).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api_keys")
    );
    let (status, headers, _) = call(&f, request("GET", "/v1/events", None, "")).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "POST");
    assert!(sent(&f).is_empty());
}

// ---- Zillow Tech Connect through Amazon SNS (issue 23).

fn sns_fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/webhooks/sns/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn zillow(extra: &str) -> Fixture {
    let routing: toml::Table =
        format!("[senders.zillow]\nsecret = \"zillow-partner:s3cret-pass\"\n{extra}")
            .parse()
            .unwrap();
    fixture(IntakeSettings {
        webhooks: inlet::webhook::WebhookSettings::from_toml(&routing).unwrap(),
        ..IntakeSettings::default()
    })
}

fn zillow_basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("zillow-partner:s3cret-pass")
    )
}

/// An SNS delivery as SNS posts it: JSON labelled text/plain.
fn sns_post(path: &str, body: &str, authorization: Option<&str>) -> http::Request<Bytes> {
    let req = with_header(
        request("POST", path, Some("text/plain; charset=UTF-8"), body),
        "x-amz-sns-message-type",
        "Notification",
    );
    match authorization {
        Some(a) => with_header(req, "authorization", a),
        None => req,
    }
}

fn zillow_path() -> String {
    format!("/webhooks/{CHANNEL}/zillow")
}

#[tokio::test]
async fn a_signed_sns_notification_is_read_as_the_zillow_lead_inside() {
    let f = zillow("");
    for name in ["notification-v1.json", "notification-v2.json"] {
        let (status, _, body) = call(
            &f,
            sns_post(&zillow_path(), &sns_fixture(name), Some(&zillow_basic())),
        )
        .await;
        assert_eq!(status, 202, "{name}: {body}");
        assert_eq!(body["data"]["sender"], "zillow");
    }
    // The same message signed two ways is one lead (its CommunicationGUID).
    let queued = sent(&f);
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].id, queued[1].id);
    let lead = queued[0].captured_lead().unwrap();
    assert_eq!(lead.first_name.as_deref(), Some("Rosa"));
    assert_eq!(lead.last_name.as_deref(), Some("Delgado"));
    assert_eq!(lead.phone_number.as_deref(), Some("+12145550187"));
    assert_eq!(lead.lead_source.as_deref(), Some("Zillow"));
    assert_eq!(lead.tag, vec!["Buyer"]);
    assert_eq!(
        lead.assignees[0].email.as_deref(),
        Some("sam.okafor@example-realty.com")
    );
    let listing = lead.listing.as_ref().unwrap();
    assert_eq!(listing.mls_number.as_deref(), Some("20412345"));
    assert_eq!(
        listing
            .property
            .as_ref()
            .unwrap()
            .address
            .as_ref()
            .unwrap()
            .full_address
            .as_deref(),
        Some("2715 Ross Ave, Dallas, TX 75204")
    );
    let note = lead.note.as_deref().unwrap();
    assert!(
        note.starts_with("I am interested in 2715 Ross Ave."),
        "{note}"
    );
    assert!(
        note.contains("Looking for: in Dallas TX 75204, beds from 2, price up to 600000"),
        "{note}"
    );
    // The certificate was asked for at the URL SNS named.
    assert!(
        f.sns.certificates.lock().unwrap()[0].starts_with("https://sns.us-west-2.amazonaws.com/")
    );

    // The detecting route knows an SNS delivery by its content.
    let f = zillow("");
    let (status, _, body) = call(
        &f,
        sns_post(
            &format!("/webhooks/{CHANNEL}"),
            &sns_fixture("notification-v1.json"),
            Some(&zillow_basic()),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["sender"], "zillow");
}

#[tokio::test]
async fn sns_deliveries_without_the_partners_credential_fetch_nothing() {
    let f = zillow("");
    let wrong = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("zillow-partner:guess")
        )
    };
    for auth in [None, Some(wrong.as_str())] {
        for name in ["notification-v1.json", "subscription.json"] {
            let (status, _, body) =
                call(&f, sns_post(&zillow_path(), &sns_fixture(name), auth)).await;
            assert_eq!(status, 401, "{name} {auth:?}: {body}");
        }
    }
    assert!(
        f.sns.certificates.lock().unwrap().is_empty(),
        "no fetch for a stranger"
    );
    assert!(f.sns.confirmations.lock().unwrap().is_empty());
    assert!(sent(&f).is_empty());
}

#[tokio::test]
async fn a_changed_sns_message_or_an_untrusted_certificate_url_is_refused() {
    let f = zillow("");
    let original: Value = serde_json::from_str(&sns_fixture("notification-v1.json")).unwrap();
    // The lead inside changed after signing.
    let mut changed = original.clone();
    changed["Message"] = Value::String(
        original["Message"]
            .as_str()
            .unwrap()
            .replace("rosa.delgado@example.com", "attacker@example.net"),
    );
    // A certificate of the attacker's own.
    let mut elsewhere = original.clone();
    elsewhere["SigningCertURL"] =
        "https://sns.us-west-2.amazonaws.com.evil.example/cert.pem".into();
    let mut plain_http = original.clone();
    plain_http["SigningCertURL"] =
        "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-1.pem".into();
    let mut unknown_type = original.clone();
    unknown_type["Type"] = "Surprise".into();
    for (what, body) in [
        ("changed", &changed),
        ("elsewhere", &elsewhere),
        ("http", &plain_http),
        ("type", &unknown_type),
    ] {
        let (status, _, answer) = call(
            &f,
            sns_post(&zillow_path(), &body.to_string(), Some(&zillow_basic())),
        )
        .await;
        assert_eq!(status, 401, "{what}: {answer}");
    }
    let fetched = f.sns.certificates.lock().unwrap().clone();
    assert!(
        fetched
            .iter()
            .all(|u| u.starts_with("https://sns.us-west-2.amazonaws.com/")),
        "only SNS's own host is ever asked: {fetched:?}"
    );
    assert!(sent(&f).is_empty());
}

#[tokio::test]
async fn a_subscription_is_confirmed_once_signed_and_only_for_allowed_topics() {
    let f = zillow("");
    let (status, _, body) = call(
        &f,
        sns_post(
            &zillow_path(),
            &sns_fixture("subscription.json"),
            Some(&zillow_basic()),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "CONFIRMED");
    let confirmations = f.sns.confirmations.lock().unwrap().clone();
    assert_eq!(confirmations.len(), 1);
    assert!(
        confirmations[0]
            .starts_with("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription")
    );
    assert!(sent(&f).is_empty(), "a confirmation is no lead");

    // Topics named in the routing file: another topic's deliveries are refused before any fetch.
    let f = zillow("topics = [\"arn:aws:sns:us-east-1:111122223333:someone-else\"]\n");
    for name in ["subscription.json", "notification-v1.json"] {
        let (status, _, body) = call(
            &f,
            sns_post(&zillow_path(), &sns_fixture(name), Some(&zillow_basic())),
        )
        .await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    assert!(f.sns.certificates.lock().unwrap().is_empty());
    assert!(f.sns.confirmations.lock().unwrap().is_empty());
}

#[tokio::test]
async fn sns_certificates_out_of_reach_ask_sns_to_retry() {
    let f = zillow("");
    f.sns.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, headers, _) = call(
        &f,
        sns_post(
            &zillow_path(),
            &sns_fixture("notification-v1.json"),
            Some(&zillow_basic()),
        ),
    )
    .await;
    assert_eq!(status, 503);
    assert!(headers.get("retry-after").is_some());
    assert!(sent(&f).is_empty());
}

#[tokio::test]
async fn zillow_leads_posted_directly_and_reassignments() {
    let f = zillow("");
    let lead = sns_fixture("zillow-lead.json");
    let (status, _, body) = call(
        &f,
        with_header(
            request("POST", &zillow_path(), Some("application/json"), &lead),
            "authorization",
            &zillow_basic(),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (status, _, _) = call(
        &f,
        request("POST", &zillow_path(), Some("application/json"), &lead),
    )
    .await;
    assert_eq!(status, 401, "Basic auth is required once configured");

    let mut reassigned: Value = serde_json::from_str(&lead).unwrap();
    reassigned["ContactMessage"]["ContactInfo"]["Reassignment"] = true.into();
    reassigned["ContactMessage"]["ContactInfo"]["Assignee"]["ReassignmentDateTime"] =
        "2026-12-03T12:00:00Z".into();
    let (status, _, body) = call(
        &f,
        with_header(
            request(
                "POST",
                &zillow_path(),
                Some("application/json"),
                &reassigned.to_string(),
            ),
            "authorization",
            &zillow_basic(),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let queued = sent(&f);
    assert!(matches!(
        &queued[1].steps[0],
        inlet::envelope::Step::Assign { target: inlet::envelope::LeadRef::Sender { sender, id }, assignees, .. }
            if sender == "zillow" && id == "9a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b" && assignees[0].email.as_deref() == Some("sam.okafor@example-realty.com")
    ));
    assert_eq!(queued[1].lead_key, queued[0].lead_key, "behind its capture");
}

/// A lead with only a name is queued, never dropped, and the answer says its reading is
/// unsure (issue 23); so does its envelope, for the operator.
#[tokio::test]
async fn a_lead_without_email_or_phone_is_queued_and_said_unsure() {
    let f = default();
    let (status, _, body) = call(
        &f,
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}"),
            Some("application/json"),
            r#"{"name":"Ana Silva","email":"ana at example dot com","message":"Call me"}"#,
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        body["data"]["unsure"][0]
            .as_str()
            .unwrap()
            .contains("no email or phone"),
        "{body}"
    );
    let queued = sent(&f);
    assert!(queued[0].notices.iter().any(|n| n.unsure().is_some()));
    assert!(
        queued[0]
            .captured_lead()
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("Email as given: ana at example dot com")
    );
}

// ---- What is kept for a person (issue 24): unsure readings beside their delivery, and the
// console's kept items, release into a chosen channel, and search.

const CONSOLE_TOKEN: &str = "sample-console-token-0000000001";

fn with_console(mut f: Fixture) -> Fixture {
    f.intake.console = Some(inlet::router::console::Console::new(
        CONSOLE_TOKEN.into(),
        Arc::new(DeadLetterList::default()),
    ));
    f
}

/// A console call with the token, and the header a change needs.
fn console(method: &str, path: &str, body: &str) -> http::Request<Bytes> {
    let req = with_header(
        request(method, path, Some("application/json"), body),
        "authorization",
        &format!("Bearer {CONSOLE_TOKEN}"),
    );
    with_header(req, "x-inlet-console", "1")
}

#[tokio::test]
async fn an_unsure_reading_is_queued_and_kept_beside_for_review() {
    let f = default();
    // A name alone: no way to reach the person.
    let (status, _, body) = call(
        &f,
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}"),
            Some("application/json"),
            r#"{"first_name":"Ana","last_name":"Silva","message":"call me"}"#,
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(sent(&f).len(), 1, "delivered all the same");
    let kept = f.kept.all();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].kind, inlet::kept::KeptKind::Unsure);
    assert!(
        kept[0].reason.contains("no email or phone"),
        "{}",
        kept[0].reason
    );
    assert_eq!(kept[0].envelope.id, sent(&f)[0].id);
    // A reachable lead is not kept.
    let (status, _, _) = call(
        &f,
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}"),
            Some("application/json"),
            r#"{"first_name":"Bo","email":"bo@example.com"}"#,
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(f.kept.all().len(), 1);
    // The store down: the lead is still queued and acknowledged (the copy is only logged).
    f.kept.down.store(true, Ordering::SeqCst);
    let (status, _, _) = call(
        &f,
        request(
            "POST",
            &format!("/webhooks/{CHANNEL}"),
            Some("application/json"),
            r#"{"first_name":"Cy"}"#,
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(sent(&f).len(), 3);
}

#[tokio::test]
async fn the_console_lists_releases_and_dismisses_kept_items() {
    let f = with_console(fixture(IntakeSettings {
        channels: ChannelPolicy::from_list(&[CHANNEL.to_owned(), OTHER_CHANNEL.to_owned()]),
        ..IntakeSettings::default()
    }));
    for body in [
        r#"{"first_name":"Ana","message":"only a name"}"#,
        r#"{"first_name":"Bo","message":"only a name too"}"#,
    ] {
        let (status, _, _) = call(
            &f,
            request(
                "POST",
                &format!("/webhooks/{CHANNEL}"),
                Some("application/json"),
                body,
            ),
        )
        .await;
        assert_eq!(status, 202);
    }
    let (status, _, status_body) = call(&f, console("GET", "/console/api/status", "")).await;
    assert_eq!(status, 200, "{status_body}");
    assert_eq!(status_body["kept"]["unsure"], 2, "{status_body}");
    assert_eq!(status_body["kept"]["not_a_lead"], 0);
    assert_eq!(status_body["channels"].as_array().unwrap().len(), 2);
    let (status, _, listed) = call(&f, console("GET", "/console/api/kept?kind=unsure", "")).await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["kept"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["summary"]["name"], "Bo", "newest first: {listed}");
    assert_eq!(items[0]["channel"], inlet::mask::id(CHANNEL));
    let id = items[0]["id"].as_str().unwrap().to_owned();

    // What a confused user or an attacker sends: each refused with why, nothing queued.
    let queued = sent(&f).len();
    for (req, want) in [
        (console("GET", "/console/api/kept?kind=everything", ""), 400),
        (
            console("POST", "/console/api/kept/k-nothing/release", ""),
            404,
        ),
        (console("DELETE", "/console/api/kept/k-nothing", ""), 404),
        // Already delivered there: a second lead in the same channel is no release.
        (
            console("POST", &format!("/console/api/kept/{id}/release"), ""),
            409,
        ),
        (
            console(
                "POST",
                &format!("/console/api/kept/{id}/release"),
                r#"{"channel":"00000000-0000-4000-8000-0000000000ff"}"#,
            ),
            400,
        ),
        (
            console(
                "POST",
                &format!("/console/api/kept/{id}/release"),
                r#"{"channel":7}"#,
            ),
            400,
        ),
        (
            console(
                "POST",
                &format!("/console/api/kept/{id}/release"),
                "{not json",
            ),
            400,
        ),
        (
            console("GET", &format!("/console/api/kept/{id}/release"), ""),
            405,
        ),
        (console("PUT", "/console/api/kept", ""), 405),
        (
            // A change without the console's header (a cross-site form).
            with_header(
                request("POST", &format!("/console/api/kept/{id}/release"), None, ""),
                "authorization",
                &format!("Bearer {CONSOLE_TOKEN}"),
            ),
            403,
        ),
        (
            request("POST", &format!("/console/api/kept/{id}/release"), None, ""),
            401,
        ),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, _, body) = call(&f, req).await;
        assert_eq!(status, want, "{what}: {body}");
    }
    assert_eq!(sent(&f).len(), queued, "nothing queued by a refusal");
    assert_eq!(f.kept.all().len(), 2);

    // Into the other channel: queued there, and no longer kept.
    let (status, _, released) = call(
        &f,
        console(
            "POST",
            &format!("/console/api/kept/{id}/release"),
            &format!(r#"{{"channel":"{}"}}"#, OTHER_CHANNEL.to_uppercase()),
        ),
    )
    .await;
    assert_eq!(status, 200, "{released}");
    let last = sent(&f).pop().unwrap();
    assert_eq!(last.channel, OTHER_CHANNEL);
    assert_eq!(released["envelope_id"], last.id.as_str());
    assert_eq!(
        last.captured_lead().unwrap().first_name.as_deref(),
        Some("Bo")
    );
    assert_eq!(f.kept.all().len(), 1);
    // Dismissed: gone, and a second dismissal finds nothing.
    let other = f.kept.all()[0].id.clone();
    let (status, _, _) = call(
        &f,
        console("DELETE", &format!("/console/api/kept/{other}"), ""),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &f,
        console("DELETE", &format!("/console/api/kept/{other}"), ""),
    )
    .await;
    assert_eq!(status, 404);
    assert!(f.kept.all().is_empty());
    // The store down: 503, said as such.
    f.kept.down.store(true, Ordering::SeqCst);
    let (status, _, body) = call(&f, console("GET", "/console/api/kept", "")).await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn the_console_finds_envelopes_by_email_phone_channel_sender_status_and_date() {
    let f = with_console(fixture(IntakeSettings {
        channels: ChannelPolicy::from_list(&[CHANNEL.to_owned(), OTHER_CHANNEL.to_owned()]),
        ..IntakeSettings::default()
    }));
    for (channel, body) in [
        (
            CHANNEL,
            r#"{"first_name":"Ana","email":"ana@example.com","phone_number":"214-555-0123"}"#,
        ),
        (
            OTHER_CHANNEL,
            r#"{"first_name":"Bo","email":"bo@example.com"}"#,
        ),
    ] {
        let (status, _, _) = call(
            &f,
            request(
                "POST",
                &format!("/leads/channels/{channel}/webhook"),
                Some("application/json"),
                body,
            ),
        )
        .await;
        assert_eq!(status, 202);
    }
    let found = |query: &str| {
        let f = &f;
        let query = query.to_owned();
        async move {
            let (status, _, body) = call(
                f,
                console("GET", &format!("/console/api/leads?{query}"), ""),
            )
            .await;
            assert_eq!(status, 200, "{query}: {body}");
            body["leads"].as_array().unwrap().len()
        }
    };
    assert_eq!(found("").await, 2);
    assert_eq!(found("email=ANA%40example.com").await, 1);
    assert_eq!(found("q=ana%40example.com").await, 1);
    assert_eq!(found("phone=%28214%29+555-0123").await, 1);
    assert_eq!(found("q=214.555.0123").await, 1);
    assert_eq!(found(&format!("channel={OTHER_CHANNEL}")).await, 1);
    assert_eq!(found(&format!("q={CHANNEL}")).await, 1);
    assert_eq!(found("sender=rechat").await, 2);
    assert_eq!(found("sender=zillow").await, 0);
    assert_eq!(found("status=queued").await, 2);
    assert_eq!(found("status=delivered").await, 0);
    assert_eq!(found("since=2000-01-01&until=2000-01-02").await, 0);
    assert_eq!(found("email=nobody%40example.com").await, 0);
    // The answer names no one: the ledger holds digests, the channel masked.
    let (_, _, body) = call(&f, console("GET", "/console/api/leads", "")).await;
    let text = body.to_string();
    assert!(
        !text.contains("ana@example.com") && !text.contains(CHANNEL),
        "{text}"
    );
    // A query that cannot be read is 400, naming the field.
    for query in [
        "email=not-an-email",
        "phone=12",
        "channel=nope",
        "status=lost",
        "since=yesterday",
    ] {
        let (status, _, body) = call(
            &f,
            console("GET", &format!("/console/api/leads?{query}"), ""),
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"]["field"].is_string(), "{body}");
    }
}

/// Every credential a sender carries, in a header, the query or the body, is left out of
/// what is stored with its envelope: the queue message, a dead letter, an item kept for
/// review, and what `inlet review list --json` prints.
#[tokio::test]
async fn no_credential_is_stored_with_a_webhooks_envelope() {
    let mut settings = IntakeSettings::default();
    for (sender, secret) in [
        ("generic", "generic-query-token-1"),
        ("google-ads", "test-google-key"),
        ("wufoo", "wufoo-key"),
    ] {
        settings.webhooks.senders.insert(
            sender.into(),
            inlet::webhook::SenderSettings {
                secret: Some(secret.into()),
                ..Default::default()
            },
        );
    }
    let f = fixture(settings);
    let fixtures = format!("{}/tests/fixtures/webhooks", env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap();
    let google = read("google-ads.json");
    // The sample's other spelling of the key, too.
    let google_capital = google.replace("\"google_key\"", "\"Google_key\"");
    let cases = [
        (
            format!("/webhooks/{CHANNEL}/generic?token=generic-query-token-1&utm_source=ads"),
            "application/json",
            // Only a name: the reading is unsure, so it is kept for review as well.
            r#"{"first_name":"Ana","note":"call me"}"#.to_owned(),
            "generic-query-token-1",
        ),
        (
            format!("/webhooks/{CHANNEL}/google-ads"),
            "application/json",
            google,
            "test-google-key",
        ),
        (
            format!("/webhooks/{CHANNEL}"),
            "application/json",
            google_capital,
            "test-google-key",
        ),
        (
            format!("/webhooks/{CHANNEL}/wufoo"),
            "application/x-www-form-urlencoded",
            read("wufoo.form"),
            "wufoo-key",
        ),
    ];
    for (path, ct, body, secret) in cases {
        f.queue.sent.lock().unwrap().clear();
        let (status, _, answer) = call(&f, request("POST", &path, Some(ct), &body)).await;
        assert!(status < 300, "{path}: {status} {answer}");
        let sent = f.queue.sent.lock().unwrap().clone();
        assert!(!sent.is_empty(), "{path}");
        for envelope in &sent {
            let stored = serde_json::to_string(envelope).unwrap();
            assert!(!stored.contains(secret), "{path}: {stored}");
            // What a replay needs is still there.
            let source = envelope.source.as_ref().expect("the request is kept");
            assert!(
                source["body_base64"]
                    .as_str()
                    .is_some_and(|b| !b.is_empty())
            );
        }
    }
    let query = serde_json::to_string(&f.queue.sent.lock().unwrap().clone()).unwrap();
    assert!(!query.contains("generic-query-token-1"));
    let kept = f.kept.all();
    assert!(!kept.is_empty(), "the unsure reading is kept for review");
    for item in kept {
        let json = serde_json::to_string(&item).unwrap();
        for secret in ["generic-query-token-1", "test-google-key", "wufoo-key"] {
            assert!(!json.contains(secret), "{json}");
        }
    }
}

// ---- Attack review (branch attack-37): credentials that outlive `StoredWebhook::of`. ----

/// Wufoo's key, carried so that the decoder reads it as `HandshakeKey` (and the request is
/// verified by it) while `webhook::without_fields` does not see it: a form whose key name
/// is percent-encoded (`%48andshakeKey`: the pre-check looks for the name in the raw
/// bytes, finds none, and keeps the body as it came), and a multipart body with the CRLF
/// preamble RFC 2046 allows before its first boundary (not `--` at byte 0, so it is
/// rewritten as if it were a URL-encoded form, the key inside a garbled "value").
#[tokio::test]
async fn attack_a_wufoo_key_survives_into_the_stored_request() {
    use base64::Engine;
    let mut settings = IntakeSettings::default();
    settings.webhooks.senders.insert(
        "wufoo".into(),
        inlet::webhook::SenderSettings {
            secret: Some("wufoo-key".into()),
            ..Default::default()
        },
    );
    let f = fixture(settings);
    let form = std::fs::read_to_string(format!(
        "{}/tests/fixtures/webhooks/wufoo.form",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let encoded_name = form.replace("HandshakeKey=", "%48andshakeKey=");
    let mut preamble = String::from("\r\n");
    for (k, v) in form_urlencoded::parse(form.as_bytes()) {
        preamble.push_str(&format!(
            "--XB\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    preamble.push_str("--XB--\r\n");
    let mut leaked = Vec::new();
    for (what, ct, body) in [
        (
            "percent-encoded name",
            "application/x-www-form-urlencoded",
            encoded_name,
        ),
        (
            "multipart with a preamble",
            "multipart/form-data; boundary=XB",
            preamble,
        ),
    ] {
        f.queue.sent.lock().unwrap().clear();
        let (status, _, answer) = call(
            &f,
            request(
                "POST",
                &format!("/webhooks/{CHANNEL}/wufoo"),
                Some(ct),
                &body,
            ),
        )
        .await;
        assert!(status < 300, "{what}: {status} {answer}");
        for envelope in f.queue.sent.lock().unwrap().iter() {
            let stored = serde_json::to_string(envelope).unwrap();
            let body = envelope
                .source
                .as_ref()
                .and_then(|s| s["body_base64"].as_str())
                .map(|b| {
                    String::from_utf8_lossy(
                        &base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
                    )
                    .into_owned()
                })
                .unwrap_or_default();
            if stored.contains("wufoo-key") || body.contains("wufoo-key") {
                leaked.push(what);
            }
        }
    }
    assert!(
        leaked.is_empty(),
        "Wufoo's HandshakeKey kept in the queued envelope: {leaked:?}"
    );
}

// ---- Issue 38: senders with no module, and a known sender unnamed, through the router.

fn webhook_fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Each posted to `/webhooks/{channel}` as its tool posts it: queued with the person found
/// wherever the tool put them; what no person wrote is answered 422 and nothing queued.
#[tokio::test]
async fn senders_with_no_module_are_read_on_the_detecting_route() {
    let f = default();
    let path = format!("/webhooks/{CHANNEL}");
    for (file, content_type, email, phone, words) in [
        (
            "unknown/sms-twilio.form",
            "application/x-www-form-urlencoded",
            None,
            Some("+15125550143"),
            "Hi, is the 3 bed on Bouldin Ave",
        ),
        (
            "unknown/chat-olark.form",
            "application/x-www-form-urlencoded",
            Some("marcus.bell@example.net"),
            Some("+19195550164"),
            "Do you have anything in Cary",
        ),
        (
            "unknown/call-tracker-call.json",
            "application/json",
            None,
            Some("+16175550162"),
            "Hi, this is Isabel",
        ),
        (
            "unknown/form-fields-list.json",
            "application/json",
            Some("amara.okafor@example.com"),
            Some("+14045550171"),
            "First home, 2-3 beds",
        ),
        (
            "fub-registration-no-source.json",
            "application/json",
            Some("keisha.bramwell@example.com"),
            Some("+19725550190"),
            "Signed up to save homes",
        ),
    ] {
        let before = sent(&f).len();
        let (status, _, body) = call(
            &f,
            request("POST", &path, Some(content_type), &webhook_fixture(file)),
        )
        .await;
        assert!(status == 202 || status == 201, "{file}: {status} {body}");
        let queued = sent(&f);
        assert_eq!(queued.len(), before + 1, "{file}");
        let lead = queued[before].captured_lead().expect("a capture");
        assert_eq!(lead.email.as_deref(), email, "{file}");
        assert_eq!(lead.phone_number.as_deref(), phone, "{file}");
        assert!(
            lead.note.as_deref().unwrap_or("").starts_with(words),
            "{file}: {:?}",
            lead.note
        );
    }
    let before = sent(&f).len();
    for (body, reason) in [
        (
            "MessageSid=SM1&MessageStatus=delivered&From=%2B15125550100&To=%2B15125550143",
            "delivery report",
        ),
        ("From=%2B15125550143&To=%2B15125550100&Body=Stop", "opt-out"),
    ] {
        let (status, _, answer) = call(
            &f,
            request(
                "POST",
                &path,
                Some("application/x-www-form-urlencoded"),
                body,
            ),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer.to_string().contains(reason), "{answer}");
    }
    assert_eq!(
        sent(&f).len(),
        before,
        "nothing queued for what no person wrote"
    );
}
