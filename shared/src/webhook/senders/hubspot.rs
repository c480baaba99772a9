//! HubSpot, in the three shapes it posts:
//! - a workflow's "Send a webhook" action: the contact, `{objectId | vid, properties: {firstname,
//!   email, …}}`, each property a value or (the legacy contact format) `{value, versions}`;
//! - a form submission as the Forms API has it: `{fields: [{name, value}], context: {pageUri,
//!   pageName}, submittedAt}`;
//! - the Webhooks API's events (`[{subscriptionType: "contact.creation", objectId, …}]`): ids
//!   only, never the contact, so they are answered as not a lead (say which shape to use).
//!
//! Property names are HubSpot's defaults (`firstname`, `lastname`, `email`, `phone`,
//! `mobilephone`, `message`, `address`, `city`, `state`, `zip`), read through the alias
//! table, so renamed or custom properties can be mapped in `[senders.hubspot.fields]`;
//! HubSpot's own bookkeeping (`hs_*`, `createdate`, …) is left out of the note.
//!
//! Signatures: `X-HubSpot-Signature-v3` (base64 HMAC-SHA256 of method, URL, body and
//! `X-HubSpot-Request-Timestamp`, five minutes' window), or v1 (`X-HubSpot-Signature`, hex
//! SHA-256 of the app secret and the body), with `[senders.hubspot] secret` the app's client
//! secret; a workflow webhook may instead carry a token as any sender can. From
//! developers.hubspot.com (webhooks, validating requests, forms); no captured request of a
//! brokerage was available.

use crate::fields::{FieldRules, text_of};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::web::signature::{self, SignatureError};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::{Map, Value};

pub const SENDER: Sender = Sender {
    name: "hubspot",
    recognize: |i| shape(&i.decoded.value).is_some(),
    parse,
    verify,
};

enum Shape<'a> {
    Contact(&'a Map<String, Value>),
    Form(&'a [Value]),
    Events,
}

fn shape(body: &Value) -> Option<Shape<'_>> {
    let is_event = |v: &Value| v.get("subscriptionType").is_some() && v.get("portalId").is_some();
    match body {
        Value::Array(items) if !items.is_empty() && items.iter().all(is_event) => {
            Some(Shape::Events)
        }
        Value::Object(_) if is_event(body) => Some(Shape::Events),
        Value::Object(o) => {
            if let Some(props) = o.get("properties").and_then(Value::as_object)
                && ["vid", "canonical-vid", "objectId", "portal-id", "portalId"]
                    .iter()
                    .any(|k| o.contains_key(*k))
            {
                return Some(Shape::Contact(props));
            }
            let fields = o.get("fields").and_then(Value::as_array)?;
            let form_like = fields
                .iter()
                .all(|f| f.get("name").is_some() && f.get("value").is_some());
            (form_like && (o.contains_key("context") || o.contains_key("submittedAt")))
                .then_some(Shape::Form(fields))
        }
        _ => None,
    }
}

fn verify(incoming: &Incoming, key: &Key, now: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    if let Some(given) = incoming.header("x-hubspot-signature-v3") {
        let stamp = incoming
            .header("x-hubspot-request-timestamp")
            .ok_or(SignatureError::Missing("X-HubSpot-Request-Timestamp"))?;
        let millis: i64 = stamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::Malformed("X-HubSpot-Request-Timestamp"))?;
        if (now - millis / 1000).abs() > signature::TOLERANCE_SECS {
            return Err(SignatureError::Stale);
        }
        let uri = request_uri(incoming);
        return signature::base64_body(
            "X-HubSpot-Signature-v3",
            Some(given),
            "",
            secret.as_bytes(),
            &[
                b"POST",
                uri.as_bytes(),
                incoming.raw,
                stamp.trim().as_bytes(),
            ]
            .concat(),
        );
    }
    if let Some(given) = incoming.header("x-hubspot-signature") {
        // v1 and v2 carry no timestamp: a captured request would pass forever, and with the
        // v3 header removed, any v3-signed request would. Taken only when the operator says
        // their app signs no other way.
        if !key.legacy_signatures {
            return Err(SignatureError::Missing(
                "X-HubSpot-Signature-v3 (v1 and v2 signatures have no timestamp; [senders.hubspot] legacy_signatures = true takes them)",
            ));
        }
        use sha2::Digest;
        // Not HMACs: digests of the secret and the request, as HubSpot defines them; v2
        // adds the method and the URI, v1 (the default when no version is said) does not.
        let version = incoming
            .header("x-hubspot-signature-version")
            .map(|v| v.trim().to_ascii_lowercase());
        let signed = match version.as_deref() {
            None | Some("v1") => [secret.as_bytes(), incoming.raw].concat(),
            Some("v2") => [
                secret.as_bytes(),
                b"POST",
                request_uri(incoming).as_bytes(),
                incoming.raw,
            ]
            .concat(),
            Some(_) => return Err(SignatureError::Malformed("X-HubSpot-Signature-Version")),
        };
        let digest = sha2::Sha256::digest(signed);
        return signature::shared_secret(
            Some(&given.trim().to_ascii_lowercase()),
            &hex::encode(digest),
            "X-HubSpot-Signature",
        );
    }
    crate::webhook::verify_token(incoming, key, now)
}

/// The URI HubSpot signed: the one it posted to, as `https://host/path?query`.
fn request_uri(incoming: &Incoming) -> String {
    let host = incoming.header("host").unwrap_or("");
    let query = if incoming.query.is_empty() {
        String::new()
    } else {
        format!("?{}", incoming.query)
    };
    format!("https://{host}{}{query}", incoming.path)
}

/// HubSpot's bookkeeping, not the person's: left out of the lead and its note.
fn bookkeeping(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("hs_")
        || k.starts_with("num_")
        || k.starts_with("notes_")
        || matches!(
            k.as_str(),
            "createdate"
                | "lastmodifieddate"
                | "associatedcompanyid"
                | "lifecyclestage"
                | "hubspot_owner_id"
                | "hubspotscore"
        )
}

/// A property's value: itself, or the `value` of the legacy format's `{value, versions}`.
fn value_of(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("value") => o["value"].clone(),
        other => other.clone(),
    }
}

fn read(fields: impl Iterator<Item = (String, Value)>, rules: &FieldRules) -> RawLead {
    let map: Map<String, Value> = fields.filter(|(k, _)| !bookkeeping(k)).collect();
    let mut reader = crate::fields::read_object(&map, rules);
    reader.defaults(&[], Some("HubSpot"));
    reader.finish()
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let body = &incoming.decoded.value;
    let Some(shape) = shape(body) else {
        return Err(IntakeError::unprocessable(
            "not a lead: a HubSpot body is a contact (`properties`) or a form submission (`fields`)".into(),
            None,
        ));
    };
    let (raw, id) = match shape {
        Shape::Events => {
            return Err(IntakeError::unprocessable(
                "not a lead: HubSpot's webhook events carry the contact's id, not the contact; send the contact with a workflow's \"Send a webhook\" action instead".into(),
                Some("subscriptionType"),
            ));
        }
        Shape::Contact(props) => {
            let raw = read(
                props.iter().map(|(k, v)| (k.clone(), value_of(v))),
                &settings.rules,
            );
            let id = ["objectId", "vid", "canonical-vid"]
                .iter()
                .find_map(|k| body.get(*k).and_then(text_of));
            (raw, id)
        }
        Shape::Form(fields) => {
            let mut raw = read(
                fields.iter().filter_map(|f| {
                    Some((f.get("name").and_then(text_of)?, f.get("value")?.clone()))
                }),
                &settings.rules,
            );
            if raw.referer_url.is_none() {
                raw.referer_url = body.pointer("/context/pageUri").and_then(text_of);
            }
            (raw, None)
        }
    };
    Ok(vec![SenderEvent {
        // A workflow sends a contact again when it re-enrols: each sending is its own, and a
        // double send of the same content is absorbed by the content's digest.
        event_id: None,
        action: EventAction::Capture {
            lead: raw,
            sender_lead_id: id,
            activities: Vec::new(),
            test: false,
        },
    }])
}
