//! The form routes: plain HTML posts (303 or a thank-you page) and script posts (JSON), CORS,
//! spam defences (honeypot, signed fill time, captcha against a siteverify double), limits.

use bytes::Bytes;
use inlet::forms::spam::{HttpCaptchaVerifier, sign_timestamp};
use inlet::forms::{FormSettings, FormsConfig};
use inlet::ledger::memory::MemoryLedger;
use inlet::queue::memory::RecordingQueue;
use inlet::router::{Intake, IntakeSettings};
use inlet_testkit::CaptchaDouble;
use serde_json::Value;
use std::sync::Arc;

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
const SECRET: &[u8] = b"form-key";

struct Site {
    intake: Intake,
    queue: Arc<RecordingQueue>,
    kept: Arc<inlet::kept::memory::MemoryKept>,
}

fn site(forms: FormsConfig) -> Site {
    let queue = Arc::new(RecordingQueue::default());
    let kept = Arc::new(inlet::kept::memory::MemoryKept::new());
    Site {
        intake: Intake {
            queue: queue.clone(),
            ledger: Arc::new(MemoryLedger::new()),
            kept: kept.clone(),
            settings: IntakeSettings {
                forms,
                ..IntakeSettings::default()
            },
            captcha: Arc::new(HttpCaptchaVerifier::new()),
            sns: Arc::new(inlet::sns::HttpsSns::new(None)),
            readings: Default::default(),
            console: None,
        },
        queue,
        kept,
    }
}

fn config() -> FormsConfig {
    FormsConfig {
        secret: SECRET.to_vec(),
        default_origins: vec!["https://www.example.com".into()],
        ..FormsConfig::default()
    }
}

fn routing(toml: &str) -> FormsConfig {
    let table: toml::Table = toml.parse().unwrap();
    FormsConfig {
        forms: FormsConfig::from_toml(&table, &[]).unwrap(),
        ..config()
    }
}

fn post(
    path: &str,
    content_type: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> http::Request<Bytes> {
    let mut b = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", content_type);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

async fn send(s: &Site, req: http::Request<Bytes>) -> http::Response<Bytes> {
    s.intake.handle(req).await
}

fn text(r: &http::Response<Bytes>) -> String {
    String::from_utf8_lossy(r.body()).into_owned()
}

fn queued(s: &Site) -> Vec<inlet::envelope::Envelope> {
    s.queue.sent.lock().unwrap().clone()
}

fn form_path() -> String {
    format!("/forms/{CHANNEL}")
}

fn old_enough() -> String {
    sign_timestamp(SECRET, chrono::Utc::now().timestamp_millis() - 10_000)
}

#[tokio::test]
async fn a_plain_post_gets_a_thank_you_page_and_keeps_its_page_and_utm() {
    let s = site(config());
    let referer = "https://www.example.com/listings/12-elm?utm_source=google&utm_campaign=fall";
    let r = send(
        &s,
        post(
            &form_path(),
            "application/x-www-form-urlencoded",
            "name=Ana+Silva&email=ana%40example.com&message=Tour%3F&_gotcha=",
            &[("referer", referer)],
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(text(&r).contains("Thank you"));
    let env = &queued(&s)[0];
    let lead = env.captured_lead().unwrap();
    assert_eq!(lead.referer_url.as_deref(), Some(referer));
    assert_eq!(lead.tag, vec!["utm_source:google", "utm_campaign:fall"]);
    assert_eq!(lead.lead_source.as_deref(), Some("Website"));
    assert!(
        lead.note
            .as_deref()
            .unwrap()
            .contains("UTM: utm_source=google, utm_campaign=fall")
    );
    assert_eq!(env.origin.kind, inlet::envelope::OriginKind::Form);
}

#[tokio::test]
async fn redirects_go_only_to_allowed_hosts() {
    let s = site(routing(
        "[forms.contact]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"\nredirect_hosts = [\"www.example.com\"]\ntags = [\"Contact page\"]\nlead_source = \"Brokerage site\"\nassignees = [{ email = \"desk@example.com\" }]\n",
    ));
    let body = |to: &str| format!("email=ana%40example.com&_redirect={}", urlencode(to));
    let r = send(
        &s,
        post(
            "/forms/contact",
            "application/x-www-form-urlencoded",
            &body("https://www.example.com/thanks"),
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "https://www.example.com/thanks");
    for elsewhere in [
        "https://evil.example.net/phish",
        "https://www.example.com.evil.net/",
        "//evil.example.net",
        "javascript:alert(1)",
    ] {
        let r = send(
            &s,
            post(
                "/forms/contact",
                "application/x-www-form-urlencoded",
                &body(elsewhere),
                &[],
            ),
        )
        .await;
        assert_eq!(r.status(), 200, "{elsewhere}: no open redirect");
        assert!(text(&r).contains("Thank you"));
    }
    let lead = queued(&s)[0].captured_lead().unwrap().clone();
    assert_eq!(lead.tag, vec!["Contact page"]);
    assert_eq!(lead.lead_source.as_deref(), Some("Brokerage site"));
    assert_eq!(lead.assignees[0].email.as_deref(), Some("desk@example.com"));
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn scripts_get_json_and_errors_name_the_field_plain_posts_get_a_readable_page() {
    let s = site(config());
    let json = [("accept", "application/json")];
    let r = send(
        &s,
        post(
            &form_path(),
            "application/json",
            r#"{"name": "Ana", "phone": "512-555-0100"}"#,
            &json,
        ),
    )
    .await;
    assert_eq!(r.status(), 202);
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["data"]["id"], queued(&s)[0].id.as_str());
    let r = send(
        &s,
        post(
            &form_path(),
            "application/json",
            r#"{"message": "hi", "email": "not-an-email"}"#,
            &json,
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["error"]["field"], "email");
    let r = send(
        &s,
        post(
            &form_path(),
            "application/x-www-form-urlencoded",
            "message=hi",
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(text(&r).contains("Please give an email, a phone number or a name"));
    assert!(text(&r).contains("Go back to the form"));
    assert!(
        !text(&r).contains("javascript:"),
        "the page's own CSP would block it"
    );
    assert_eq!(queued(&s).len(), 1);
    let r = send(
        &s,
        post(
            "/forms/no-such-form",
            "application/x-www-form-urlencoded",
            "email=a%40example.com",
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn cors_is_granted_to_allowed_origins_only() {
    let s = site(config());
    let preflight = |origin: &str| {
        http::Request::builder()
            .method("OPTIONS")
            .uri(form_path())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Bytes::new())
            .unwrap()
    };
    let r = send(&s, preflight("https://www.example.com")).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://www.example.com"
    );
    let r = send(&s, preflight("https://evil.example.net")).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let body = r#"{"email": "a@example.com"}"#;
    let allowed = [
        ("accept", "application/json"),
        ("origin", "https://www.example.com"),
    ];
    let r = send(&s, post(&form_path(), "application/json", body, &allowed)).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["access-control-allow-origin"].to_str().unwrap()
        ),
        (202, "https://www.example.com")
    );
    // A page elsewhere that posts anyway (a simple request skips the preflight) is refused.
    let other = [
        ("accept", "application/json"),
        ("origin", "https://evil.example.net"),
    ];
    let r = send(
        &s,
        post(
            &form_path(),
            "application/json",
            r#"{"email": "b@example.com"}"#,
            &other,
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(queued(&s).len(), 1);
}

#[tokio::test]
async fn spam_gets_the_answer_a_person_gets_and_is_never_queued() {
    let s = site(routing(
        "[forms.strict]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"\nmin_fill_secs = 5\nrequire_timestamp = true\n",
    ));
    let person = format!(
        "email=ana%40example.com&_inlet_ts={}",
        urlencode(&old_enough())
    );
    let honeypot = format!("{person}&_gotcha=http%3A%2F%2Fspam.example.net");
    let too_fast = format!(
        "email=ana%40example.com&_inlet_ts={}",
        urlencode(&sign_timestamp(
            SECRET,
            chrono::Utc::now().timestamp_millis()
        ))
    );
    let forged = format!(
        "email=ana%40example.com&_inlet_ts={}",
        urlencode(&sign_timestamp(
            b"guess",
            chrono::Utc::now().timestamp_millis() - 10_000
        ))
    );
    let missing = "email=ana%40example.com".to_owned();
    for (n, (what, body)) in [
        ("honeypot", &honeypot),
        ("forged", &forged),
        ("no timestamp", &missing),
    ]
    .into_iter()
    .enumerate()
    {
        // Each its own person: the same content twice is one submission.
        let body = &body.replace("email=ana%40", &format!("email=ana{n}%40"));
        let r = send(
            &s,
            post(
                "/forms/strict",
                "application/x-www-form-urlencoded",
                body,
                &[],
            ),
        )
        .await;
        assert_eq!(r.status(), 200, "{what}");
        assert!(text(&r).contains("Thank you"), "{what}");
        let r = send(
            &s,
            post(
                "/forms/strict",
                "application/x-www-form-urlencoded",
                body,
                &[("accept", "application/json")],
            ),
        )
        .await;
        assert_eq!(r.status(), 202, "{what}");
    }
    assert!(queued(&s).is_empty());
    // Each is kept, with why, for a person to release: three submissions, each posted twice
    // (as a page and as JSON, the same content: one item each); never on the dead-letter
    // queue.
    {
        let kept = s.kept.all();
        assert_eq!(kept.len(), 3, "{kept:?}");
        for item in &kept {
            assert_eq!(item.kind, inlet::kept::KeptKind::Spam);
            let email = item.envelope.captured_lead().unwrap().email.clone();
            assert!(email.unwrap().ends_with("@example.com"));
        }
        let reasons: Vec<&str> = kept.iter().map(|i| i.reason.as_str()).collect();
        for want in ["honeypot", "not one Inlet signed", "missing"] {
            assert!(
                reasons.iter().any(|r| r.contains(want)),
                "{want}: {reasons:?}"
            );
        }
        assert!(s.queue.dead_letters.lock().unwrap().is_empty());
    }
    let r = send(
        &s,
        post(
            "/forms/strict",
            "application/x-www-form-urlencoded",
            &person,
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(queued(&s).len(), 1, "a person's post is queued");

    // Timing alone makes no spam: a person whose browser filled the form and who clicked
    // at once is a lead, delivered, with an unsure notice, and kept beside for a look.
    let r = send(
        &s,
        post(
            "/forms/strict",
            "application/x-www-form-urlencoded",
            &format!("{too_fast}&name=Ana+Fast&phone=214-555-0100"),
            &[("accept", "application/json")],
        ),
    )
    .await;
    assert_eq!(r.status(), 202);
    let fast = queued(&s);
    assert_eq!(fast.len(), 2, "the fast one is queued too");
    let notices = serde_json::to_string(&fast[1].notices).unwrap();
    assert!(notices.contains("after the form was shown"), "{notices}");
    assert!(
        s.kept
            .all()
            .iter()
            .any(|i| i.kind == inlet::kept::KeptKind::Unsure
                && i.reason.contains("after the form was shown")),
        "kept beside as unsure"
    );
    // A fast bot that also fills the honeypot is spam all the same.
    let r = send(
        &s,
        post(
            "/forms/strict",
            "application/x-www-form-urlencoded",
            &format!(
                "{}&_gotcha=x",
                too_fast.replace("email=ana%40", "email=bot%40")
            ),
            &[("accept", "application/json")],
        ),
    )
    .await;
    assert_eq!(r.status(), 202);
    assert_eq!(queued(&s).len(), 2, "not queued");

    // Spam that cannot be kept is answered as a lead that cannot be queued: a person
    // misjudged must be told to try again, not thanked.
    s.kept.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let r = send(
        &s,
        post(
            "/forms/strict",
            "application/x-www-form-urlencoded",
            &honeypot,
            &[("accept", "application/json")],
        ),
    )
    .await;
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn the_token_route_signs_a_timestamp_the_form_then_accepts_once_old_enough() {
    let s = site(config());
    let r = send(
        &s,
        http::Request::builder()
            .uri(format!("{}/token", form_path()))
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    let ts = v["ts"].as_str().unwrap();
    assert!(
        inlet::forms::spam::check_timestamp(
            SECRET,
            Some(ts),
            std::time::Duration::ZERO,
            true,
            chrono::Utc::now().timestamp_millis()
        )
        .is_ok()
    );
    assert_eq!(v["honeypot"], "_gotcha");
}

#[tokio::test]
async fn captcha_answers_are_checked_with_the_provider_using_the_configured_secret() {
    let double = CaptchaDouble::start("captcha-secret").await;
    let toml = format!(
        "[forms.turnstile]\nchannel = \"{CHANNEL}\"\nmin_fill_secs = 0\ncaptcha = {{ provider = \"turnstile\", secret = \"captcha-secret\", verify_url = \"{0}\" }}\n\
         [forms.v3]\nchannel = \"{CHANNEL}\"\nmin_fill_secs = 0\ncaptcha = {{ provider = \"recaptcha\", secret = \"captcha-secret\", verify_url = \"{0}\", min_score = 0.5 }}\n",
        double.url()
    );
    let s = site(routing(&toml));
    let cases = [
        ("turnstile", "cf-turnstile-response=pass", true),
        ("turnstile", "cf-turnstile-response=robot", false),
        ("turnstile", "", false),
        ("v3", "g-recaptcha-response=pass-0.9", true),
        ("v3", "g-recaptcha-response=pass-0.3", false),
    ];
    for (form, answer, person) in cases {
        let before = queued(&s).len();
        let body = format!(
            "email=p{}%40example.com&{answer}",
            before + 100 * answer.len()
        );
        let r = send(
            &s,
            post(
                &format!("/forms/{form}"),
                "application/x-www-form-urlencoded",
                &body,
                &[],
            ),
        )
        .await;
        assert_eq!(r.status(), 200, "{form} {answer}");
        assert_eq!(
            queued(&s).len() - before,
            usize::from(person),
            "{form} {answer}"
        );
    }
    // The client's own X-Forwarded-For is never passed on as the address the answer came from.
    let r = send(
        &s,
        post(
            "/forms/turnstile",
            "application/x-www-form-urlencoded",
            "email=xff%40example.com&cf-turnstile-response=pass",
            &[("x-forwarded-for", "198.51.100.77")],
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        !double
            .remote_ips()
            .iter()
            .any(|ip| ip.contains("198.51.100.77")),
        "{:?}",
        double.remote_ips()
    );
    let seen = double.seen();
    assert!(seen.iter().all(|(secret, _)| secret == "captcha-secret"));
    assert_eq!(seen.len(), 5, "no answer is not sent to the provider");
    let lead = queued(&s)[0].captured_lead().unwrap().clone();
    assert!(
        !lead.note.as_deref().unwrap_or("").contains("pass"),
        "the captcha answer is not lead data"
    );
}

#[tokio::test]
async fn limits_on_body_fields_and_lengths() {
    let s = site(config());
    let big = format!("email=a%40example.com&message={}", "x".repeat(300 * 1024));
    assert_eq!(
        send(
            &s,
            post(&form_path(), "application/x-www-form-urlencoded", &big, &[])
        )
        .await
        .status(),
        413
    );
    let many: String =
        (0..120).map(|i| format!("f{i}=x&")).collect::<String>() + "email=a%40example.com";
    assert_eq!(
        send(
            &s,
            post(
                &form_path(),
                "application/x-www-form-urlencoded",
                &many,
                &[]
            )
        )
        .await
        .status(),
        422
    );
    let long = format!("email=a%40example.com&message={}", "y".repeat(20_000));
    let r = send(
        &s,
        post(
            &form_path(),
            "application/json",
            &format!(
                "{{\"email\": \"a@example.com\", \"message\": \"{}\"}}",
                "y".repeat(20_000)
            ),
            &[("accept", "application/json")],
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        serde_json::from_slice::<Value>(r.body()).unwrap()["error"]["field"],
        "message"
    );
    assert_eq!(
        send(
            &s,
            post(
                &form_path(),
                "application/x-www-form-urlencoded",
                &long,
                &[]
            )
        )
        .await
        .status(),
        422
    );
    assert!(queued(&s).is_empty());
}

#[tokio::test]
async fn the_same_content_posted_twice_is_one_lead() {
    let s = site(config());
    for _ in 0..2 {
        send(
            &s,
            post(
                &form_path(),
                "application/x-www-form-urlencoded",
                "name=Ana&email=ana%40example.com",
                &[],
            ),
        )
        .await;
    }
    let q = queued(&s);
    assert_eq!(
        q[0].id, q[1].id,
        "the same envelope id: SQS and the ledger keep one"
    );
}

#[tokio::test]
async fn the_demo_form_is_served_and_posts_to_the_demo_channel_unless_turned_off() {
    let s = site(FormsConfig {
        demo_channel: Some(CHANNEL.into()),
        ..config()
    });
    let get = |p: &str| http::Request::builder().uri(p).body(Bytes::new()).unwrap();
    let page = send(&s, get("/forms/demo")).await;
    assert_eq!(page.status(), 200);
    assert!(text(&page).contains("<form id=\"lead-form\" method=\"post\" action=\"/forms/demo\""));
    assert!(text(&send(&s, get("/forms/demo/inlet-form.js")).await).contains("form[data-inlet]"));
    let r = send(
        &s,
        post(
            "/forms/demo",
            "application/x-www-form-urlencoded",
            "name=Ana&email=ana%40example.com",
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(queued(&s)[0].channel, CHANNEL);
    let off = site(config());
    // Turned off, the demo page does not exist, as any unknown form.
    assert_eq!(send(&off, get("/forms/demo")).await.status(), 404);
    assert_eq!(
        send(
            &off,
            post(
                "/forms/demo",
                "application/x-www-form-urlencoded",
                "email=a%40example.com",
                &[]
            )
        )
        .await
        .status(),
        404
    );
}

#[test]
fn form_settings_are_read_and_checked() {
    let table: toml::Table = "[forms.a]\nchannel = \"55F5D0B8-3F4E-4B8E-9D6A-0C1B2A3D745F\"\nallowed_origins = [\"https://x.example.com\"]\n".parse().unwrap();
    let forms = FormsConfig::from_toml(&table, &[]).unwrap();
    let a: &FormSettings = &forms["a"];
    assert_eq!(a.channel, CHANNEL);
    assert_eq!(a.honeypot, "_gotcha");
    for bad in [
        "[forms.a]\nx = 1",
        "[forms.a]\nchannel = \"nope\"",
        "[forms.a]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"\ncaptcha = { provider = \"abc\", secret = \"s\" }",
    ] {
        let t: toml::Table = bad.parse().unwrap();
        assert!(FormsConfig::from_toml(&t, &[]).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn a_redirect_is_read_as_a_browser_reads_it_and_never_panics() {
    let s = site(routing(
        "[forms.contact]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"\nredirect_hosts = [\"www.example.com\"]\n",
    ));
    let body = |to: &str| format!("email=ana%40example.com&_redirect={}", urlencode(to));
    // Bytes a header cannot hold once panicked the handler; the URL's serialized form is
    // percent-encoded, and so always a valid header value.
    let r = send(
        &s,
        post(
            "/forms/contact",
            "application/x-www-form-urlencoded",
            &body("https://www.example.com/%01x\u{1}y"),
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://www.example.com/"),
        "{location}"
    );
    // A browser reads this as a path on evil.example, whatever the text after `\` says.
    for tricky in [
        "https://evil.example\\@www.example.com/",
        "https://evil.example%5C@www.example.com/x",
        "https://www.example.com@evil.example/",
        "HTTPS://WWW.EXAMPLE.COM.evil.example/",
    ] {
        let r = send(
            &s,
            post(
                "/forms/contact",
                "application/x-www-form-urlencoded",
                &body(tricky),
                &[],
            ),
        )
        .await;
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let host = location
            .as_deref()
            .and_then(|l| url::Url::parse(l).ok())
            .and_then(|u| u.host_str().map(str::to_owned));
        assert!(
            host.is_none() || host.as_deref() == Some("www.example.com"),
            "{tricky}: sent to {location:?}"
        );
    }
    // A host the form allows, in capitals, is the same host.
    let r = send(
        &s,
        post(
            "/forms/contact",
            "application/x-www-form-urlencoded",
            &body("HTTPS://WWW.EXAMPLE.COM/thanks"),
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "https://www.example.com/thanks");
}

#[tokio::test]
async fn a_form_posted_to_a_channel_outside_the_allowlist_is_404_and_nothing_is_queued() {
    let allowed = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f".to_owned();
    let queue = Arc::new(RecordingQueue::default());
    let kept = Arc::new(inlet::kept::memory::MemoryKept::new());
    let s = Site {
        intake: Intake {
            queue: queue.clone(),
            ledger: Arc::new(MemoryLedger::new()),
            kept: kept.clone(),
            settings: IntakeSettings {
                forms: config(),
                channels: inlet::web::ChannelPolicy::from_list(std::slice::from_ref(&allowed)),
                ..IntakeSettings::default()
            },
            captcha: Arc::new(HttpCaptchaVerifier::new()),
            sns: Arc::new(inlet::sns::HttpsSns::new(None)),
            readings: Default::default(),
            console: None,
        },
        queue,
        kept,
    };
    let other = "00000000-0000-4000-8000-0000000000aa";
    for (accept, target) in [("text/html", other), ("application/json", other)] {
        let r = send(
            &s,
            post(
                &format!("/forms/{target}"),
                "application/x-www-form-urlencoded",
                "email=ana%40example.com",
                &[("accept", accept)],
            ),
        )
        .await;
        assert_eq!(r.status(), 404, "{accept}");
    }
    assert!(queued(&s).is_empty(), "nothing queued");
    let r = send(
        &s,
        post(
            &format!("/forms/{allowed}"),
            "application/x-www-form-urlencoded",
            "email=ana%40example.com",
            &[],
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(queued(&s).len(), 1);
}

#[test]
fn a_misspelt_form_setting_is_refused_not_ignored() {
    let table: toml::Table = "[forms.contact]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"\nallowd_origins = [\"https://www.example.com\"]\n"
        .parse()
        .unwrap();
    let e = FormsConfig::from_toml(&table, &[]).unwrap_err();
    assert!(
        e.contains("forms.contact.allowd_origins is not a known setting"),
        "{e}"
    );
    let table: toml::Table = "[forms.contact]\nchannel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"\ncaptcha = { provider = \"turnstile\", secret = \"s\", min_scor = 0.5 }\n"
        .parse()
        .unwrap();
    let e = FormsConfig::from_toml(&table, &[]).unwrap_err();
    assert!(
        e.contains("forms.contact.captcha.min_scor is not a known setting"),
        "{e}"
    );
}
