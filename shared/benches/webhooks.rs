//! Parse + normalize one webhook payload, per sender, on the senders' test fixtures: the
//! whole of `webhook::process` (decode, recognize, parse, normalize, build envelopes).

use criterion::{Criterion, criterion_group, criterion_main};
use inlet::normalize::NormalizeOptions;
use inlet::webhook::{WebhookRequest, WebhookSettings, process};
use std::hint::black_box;

/// File, content type, extra headers.
type Fixture = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const FIXTURES: &[Fixture] = &[
    (
        "generic-zapier.form",
        "application/x-www-form-urlencoded",
        &[],
    ),
    ("generic-n8n.json", "application/json", &[]),
    ("meta-leadgen.json", "application/json", &[]),
    ("meta-lead.json", "application/json", &[]),
    ("google-ads.json", "application/json", &[]),
    ("typeform.json", "application/json", &[]),
    (
        "jotform.multipart",
        "multipart/form-data; boundary=----InletBoundary7MA4YWxk",
        &[],
    ),
    ("unbounce.form", "application/x-www-form-urlencoded", &[]),
    ("webflow-v2.json", "application/json", &[]),
    (
        "real-geeks-created.json",
        "application/json",
        &[("x-lead-router-action", "created")],
    ),
    ("fivestreet-create.json", "application/json", &[]),
    ("hotpads.form", "application/x-www-form-urlencoded", &[]),
    ("wufoo.form", "application/x-www-form-urlencoded", &[]),
    ("netlify.json", "application/json", &[]),
    ("formstack.form", "application/x-www-form-urlencoded", &[]),
    ("gravity-forms.json", "application/json", &[]),
    ("elementor.form", "application/x-www-form-urlencoded", &[]),
    ("fub-property-inquiry.json", "application/json", &[]),
    ("realtor-nested.json", "application/json", &[]),
    ("realtor-siblings.json", "application/json", &[]),
    ("sns/zillow-lead.json", "application/json", &[]),
    ("lts-ihomefinder.xml", "text/xml", &[]),
    ("hubspot-contact.json", "application/json", &[]),
    ("hubspot-form.json", "application/json", &[]),
];

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let settings = WebhookSettings::default();
    let options = NormalizeOptions::default();
    let mut group = c.benchmark_group("webhook parse + normalize");
    for (file, content_type, header_pairs) in FIXTURES {
        let body = std::fs::read(format!(
            "{}/tests/fixtures/webhooks/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut headers = http::HeaderMap::new();
        for (k, v) in *header_pairs {
            headers.insert(*k, v.parse().unwrap());
        }
        group.bench_function(*file, |b| {
            b.iter(|| {
                let req = WebhookRequest {
                    channel: "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
                    path: "",
                    sender: None,
                    content_type: Some(content_type),
                    headers: &headers,
                    query: "",
                    body: &body,
                };
                black_box(
                    runtime
                        .block_on(process(&req, &settings, &options, chrono::Utc::now()))
                        .unwrap(),
                )
            })
        });
    }
    group.finish();

    // XML that costs a tree parser quadratic time (3,000 nested namespace declarations took
    // roxmltree minutes of CPU): what its refusal costs now, before any tree is built.
    let mut group = c.benchmark_group("hostile xml refused");
    let hostile = [
        (
            "3000 nested namespaces",
            (0..3000)
                .map(|i| format!("<a xmlns:n{i}=\"u{i}\">"))
                .chain((0..3000).map(|_| "</a>".to_owned()))
                .collect::<String>(),
        ),
        (
            "30000 attributes",
            format!(
                "<a{}/>",
                (0..30_000)
                    .map(|i| format!(" b{i}=\"x\""))
                    .collect::<String>()
            ),
        ),
        (
            "3000 sibling namespaces",
            format!(
                "<r>{}</r>",
                (0..3000)
                    .map(|i| format!("<a xmlns:n{i}=\"u{i}\"/>"))
                    .collect::<String>()
            ),
        ),
    ];
    let headers = http::HeaderMap::new();
    for (what, body) in &hostile {
        group.bench_function(*what, |b| {
            b.iter(|| {
                let req = WebhookRequest {
                    channel: "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
                    path: "",
                    sender: Some("lts"),
                    content_type: Some("text/xml"),
                    headers: &headers,
                    query: "",
                    body: body.as_bytes(),
                };
                black_box(
                    runtime
                        .block_on(process(&req, &settings, &options, chrono::Utc::now()))
                        .unwrap_err(),
                )
            })
        });
    }
    group.finish();

    // What an SNS delivery adds before its message is parsed: the envelope read and its
    // signature checked against the (cached) certificate, SHA1 and SHA256.
    let cert = std::fs::read(format!(
        "{}/tests/fixtures/webhooks/sns/cert.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut group = c.benchmark_group("sns envelope + signature");
    for file in ["notification-v1.json", "notification-v2.json"] {
        let body = std::fs::read(format!(
            "{}/tests/fixtures/webhooks/sns/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let now = chrono::Utc::now().timestamp();
        group.bench_function(file, |b| {
            b.iter(|| {
                let message = inlet::web::sns::envelope(black_box(&body)).unwrap();
                message.verify(&cert, now).unwrap();
                black_box(message)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
