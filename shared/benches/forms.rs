//! One website form submission: decode, honeypot and signed-timestamp checks, the alias
//! table, normalization, the envelope and the answer (nothing is queued).

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use inlet::forms::spam::{HttpCaptchaVerifier, sign_timestamp};
use inlet::forms::{FormContext, FormsConfig, Submission};
use inlet::normalize::NormalizeOptions;
use inlet::web::ChannelPolicy;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let config = FormsConfig {
        secret: b"bench".to_vec(),
        ..FormsConfig::default()
    };
    let (normalize, captcha) = (NormalizeOptions::default(), HttpCaptchaVerifier::new());
    let channels = ChannelPolicy::AnyUuid;
    let forms = FormContext {
        config: &config,
        channels: &channels,
        normalize: &normalize,
        captcha: &captcha,
    };
    let ts = sign_timestamp(b"bench", chrono::Utc::now().timestamp_millis() - 10_000);
    let body = format!(
        "name=Ana+Silva&email=ana.silva%40example.com&phone=512-555-0123&message=Is+12+Elm+St+still+available%3F&property_address=12+Elm+St&mls_number=MLS-1001&page_url=https%3A%2F%2Fwww.example.com%2Fl%2F12%3Futm_source%3Dgoogle&_gotcha=&_inlet_ts={}",
        form_urlencoded::byte_serialize(ts.as_bytes()).collect::<String>()
    );
    let request = http::Request::builder()
        .method("POST")
        .uri("/forms/55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap();
    c.bench_function("form parse + spam checks + envelope", |b| {
        b.iter(|| {
            let r = runtime.block_on(
                forms.submit("55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f", black_box(&request)),
            );
            let Submission::Lead { envelope, reply } = r else {
                panic!("the submission is a lead");
            };
            assert_eq!(reply.accepted(&envelope.id).status(), 200);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
