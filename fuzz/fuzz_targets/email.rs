//! The whole email path on arbitrary input: a provider's payload or raw MIME read into an
//! `Inbound`, then `process` (forwards, not-a-lead, portal modules, the generic reader,
//! normalization, routing). Every input must end in an outcome or a clean refusal, never a
//! panic. The first byte picks the provider, so every ingress decoder is reached.
#![no_main]

use inlet::email::{EmailContext, EmailSettings, ingress, process};
use inlet::web::ChannelPolicy;
use libfuzzer_sys::fuzz_target;

const PROVIDERS: &[(&str, &str)] = &[
    ("raw", "message/rfc822"),
    ("sendgrid", "multipart/form-data; boundary=XyZ"),
    ("postmark", "application/json"),
    ("cloudmailin", "application/json"),
    ("mailgun", "application/x-www-form-urlencoded"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let (provider, content_type) = PROVIDERS[(selector as usize) % PROVIDERS.len()];
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let inbound = runtime.block_on(ingress::from_http(provider, Some(content_type), body, Some("key"), 0));
    let Ok(inbound) = inbound else { return };
    let settings = EmailSettings {
        default_channel: Some("55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f".into()),
        forwarder_is_assignee: selector & 0x80 != 0,
        ..EmailSettings::default()
    };
    let ctx = EmailContext {
        settings: &settings,
        policy: &ChannelPolicy::AnyUuid,
        normalize: Default::default(),
        verify_senders: selector & 0x40 != 0,
    };
    let _ = process(&inbound, &ctx);
});
