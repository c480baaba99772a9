//! Elementor Pro's "Webhook" form action: URL-encoded, keyed by field labels (stray spaces
//! included), with `Page URL`, `Date`, `Time`, `User Agent`, `Remote IP`, `Powered by`,
//! `form_id` and `form_name` beside them.

use crate::fields::read_object;
use crate::web::IntakeError;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};

pub const SENDER: Sender = Sender {
    name: "elementor",
    recognize: |i| {
        i.text("Powered by")
            .is_some_and(|p| p.contains("Elementor"))
            || super::has_keys(i, &["form_id", "form_name", "Page URL"])
    },
    parse,
    verify: verify_token,
};

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let map = incoming
        .object()
        .ok_or_else(|| IntakeError::unprocessable("an Elementor body is a form".into(), None))?;
    let mut reader = read_object(map, &settings.rules);
    reader.defaults(&[], Some("Website"));
    Ok(vec![SenderEvent::capture(None, reader.finish())])
}
