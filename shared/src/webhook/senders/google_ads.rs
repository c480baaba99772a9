//! Google Ads lead form webhooks: `user_column_data` read by `column_id` (`column_name`
//! "might not always be populated"); `google_key` (or the test sample's `Google_key`) is
//! the shared secret; `is_test` leads are tagged `test`, or dropped by config.

use crate::fields::{LeadReader, Meaning, text_of};
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, shared_secret};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;

/// The body field carrying the key Google Ads posts with (`google_key`; the test sample
/// spells it `Google_key`): never stored.
pub const CREDENTIAL_FIELDS: &[&str] = &["google_key"];

pub const SENDER: Sender = Sender {
    name: "google-ads",
    // Any `user_column_data` is Google's, so that a wrong one is reported as such.
    recognize: |i| i.decoded.value.get("user_column_data").is_some(),
    parse,
    verify,
};

fn key(incoming: &Incoming) -> Option<String> {
    incoming
        .text("google_key")
        .or_else(|| incoming.text("Google_key"))
}

fn verify(incoming: &Incoming, configured: &Key, _: i64) -> Result<(), SignatureError> {
    shared_secret(key(incoming).as_deref(), configured.secret, "google_key")
}

fn meaning(column_id: &str) -> Meaning {
    match column_id {
        "FULL_NAME" => Meaning::FullName,
        "FIRST_NAME" => Meaning::FirstName,
        "LAST_NAME" => Meaning::LastName,
        "EMAIL" | "WORK_EMAIL" => Meaning::Email,
        "PHONE_NUMBER" | "WORK_PHONE" => Meaning::Phone,
        "POSTAL_CODE" => Meaning::Zip,
        "CITY" => Meaning::City,
        "REGION" => Meaning::State,
        "STREET_ADDRESS" => Meaning::Street,
        _ => Meaning::Unknown,
    }
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let v = &incoming.decoded.value;
    let columns = v
        .get("user_column_data")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            IntakeError::unprocessable(
                "user_column_data must be an array".into(),
                Some("user_column_data"),
            )
        })?;
    let mut reader = LeadReader::new();
    for (i, column) in columns.iter().enumerate() {
        let id = column
            .get("column_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = column.get("string_value").cloned().unwrap_or(Value::Null);
        let label = column
            .get("column_name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if id.is_empty() {
                    format!("Question {}", i + 1)
                } else {
                    id.to_owned()
                }
            });
        match meaning(id) {
            Meaning::Unknown => reader.field(&label, &value, &settings.rules),
            m => reader.with_meaning(&label, m, &value),
        }
    }
    reader.defaults(&[], Some("Google Ads"));
    let test = v.get("is_test").and_then(Value::as_bool).unwrap_or(false);
    Ok(vec![SenderEvent {
        event_id: v.get("lead_id").and_then(text_of),
        action: EventAction::Capture {
            lead: reader.finish(),
            sender_lead_id: v.get("lead_id").and_then(text_of),
            activities: Vec::new(),
            test,
        },
    }])
}
