//! Body decoding, sender detection and parsing of webhooks on arbitrary input: every input
//! must end in envelopes or a 4xx, never a panic. The first byte picks the content type and
//! the sender header, so every decoder and sender is reached.
#![no_main]

use inlet::normalize::NormalizeOptions;
use inlet::webhook::{WebhookRequest, WebhookSettings, process};
use libfuzzer_sys::fuzz_target;

const TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=XyZ"),
    Some("text/plain"),
    Some("text/xml"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let content_type = TYPES[(selector as usize) % TYPES.len()];
    let mut headers = http::HeaderMap::new();
    if selector & 0x80 != 0 {
        headers.insert("x-lead-router-action", http::HeaderValue::from_static("activity_added"));
    }
    let sender = match selector & 0x60 {
        0x20 => Some("jotform"),
        0x40 => Some("typeform"),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let req = WebhookRequest {
        channel: "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
        path: "",
        sender,
        content_type,
        headers: &headers,
        query: "",
        body,
    };
    if let Err(e) = runtime.block_on(process(&req, &WebhookSettings::default(), &NormalizeOptions::default(), chrono::Utc::now())) {
        assert!((400..500).contains(&e.status), "a refusal is a 4xx, got {}", e.status);
    }
});
