//! Rechat's own lead API bodies, read as Rechat reads them: the capture payload (with `tag`
//! or `tags`, arrays or comma-separated, and the older flat `address` / `mlsid` /
//! `agent_mlsid` spellings mapped onto `listing` and `assignees`), the timeline activity,
//! and the reassignment array; and the envelopes they become. The routes themselves (the
//! ledger lookups, the queue) are the router's.

use crate::envelope::{Envelope, EnvelopeBuilder, OriginKind, Step};
use crate::lead::{
    Action, Activity, ActivityError, ActivityListing, ActivityProperty, Address, Assignee, IsEmpty,
    Listing, Property, Search, StreetAddress,
};
use crate::normalize::{NormalizeOptions, RawLead, assignee as normalize_assignee, normalize};
use crate::web::IntakeError;
use serde_json::{Map, Value};

/// The sender name of envelopes that came through Rechat's own API shape.
pub const SENDER: &str = "rechat-api";

const CAPTURE_KEYS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "tag",
    "tags",
    "lead_source",
    "note",
    "referer_url",
    "listing",
    "assignees",
    "source_type",
    "address",
    "mlsid",
    "agent_mlsid",
    "listing_id",
];

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, IntakeError> {
    v.as_object()
        .ok_or_else(|| IntakeError::unprocessable(format!("{what} must be a JSON object"), None))
}

fn type_error(field: &str, expected: &str) -> IntakeError {
    IntakeError::unprocessable(format!("{field} must be {expected}"), Some(field))
}

/// A text field: a string, or a number written as text (phones, ids). `null` is absent.
pub fn text(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<String>, IntakeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(type_error(field, "a string")),
    }
}

/// A number: JSON number, or text such as `"$450,000"` (forms send everything as text).
pub fn number(
    map: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<f64>, IntakeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let cleaned: String = s
                .chars()
                .filter(|c| !matches!(c, '$' | ',' | ' '))
                .collect();
            cleaned
                .parse::<f64>()
                .map(Some)
                .map_err(|_| type_error(field, "a number"))
        }
        Some(_) => Err(type_error(field, "a number")),
    }
}

fn boolean(map: &Map<String, Value>, key: &str, field: &str) -> Result<Option<bool>, IntakeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" | "" => Ok(Some(false)),
            _ => Err(type_error(field, "true or false")),
        },
        Some(_) => Err(type_error(field, "true or false")),
    }
}

/// A list of strings: an array, or one comma-separated string.
pub fn list(map: &Map<String, Value>, key: &str, field: &str) -> Result<Vec<String>, IntakeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(type_error(&format!("{field}[{i}]"), "a string")),
            })
            .collect(),
        Some(_) => Err(type_error(
            field,
            "an array of strings or a comma-separated string",
        )),
    }
}

fn address(v: &Value, field: &str) -> Result<Address, IntakeError> {
    let map = match v {
        // The older docs' `address` may be one line of text.
        Value::String(s) => {
            return Ok(Address {
                full_address: Some(s.clone()).filter(|s| !s.trim().is_empty()),
                ..Address::default()
            });
        }
        Value::Object(map) => map,
        _ => return Err(type_error(field, "an object or a string")),
    };
    let t = |key: &str| text(map, key, &format!("{field}.{key}"));
    Ok(Address {
        street_number: t("street_number")?,
        street_dir_prefix: t("street_dir_prefix")?,
        street_name: t("street_name")?,
        street_suffix: t("street_suffix")?,
        street_dir_suffix: t("street_dir_suffix")?,
        unit_number: t("unit_number")?,
        city: t("city")?,
        state_code: t("state_code")?,
        postal_code: t("postal_code")?,
        country: t("country")?,
        direction: t("direction")?,
        // Older spellings (`line1`, `full`) of the same lines.
        street_address: t("street_address")?.or(t("line1")?),
        full_address: t("full_address")?.or(t("full")?),
    })
}

fn listing(v: &Value) -> Result<Listing, IntakeError> {
    let map = v
        .as_object()
        .ok_or_else(|| type_error("listing", "an object"))?;
    let property = match map.get("property") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let p = p
                .as_object()
                .ok_or_else(|| type_error("listing.property", "an object"))?;
            let address = match p.get("address") {
                None | Some(Value::Null) => None,
                Some(a) => Some(address(a, "listing.property.address")?),
            };
            Some(Property { address })
        }
    };
    Ok(Listing {
        price: number(map, "price", "listing.price")?,
        mls_number: text(map, "mls_number", "listing.mls_number")?,
        cover_image_url: text(map, "cover_image_url", "listing.cover_image_url")?,
        property,
    })
}

/// One assignee object; `field` names it in errors (`assignees[2]`).
pub fn assignee(
    v: &Value,
    field: &str,
    options: &NormalizeOptions,
) -> Result<Assignee, IntakeError> {
    let map = v
        .as_object()
        .ok_or_else(|| type_error(field, "an object"))?;
    let t = |key: &str| text(map, key, &format!("{field}.{key}"));
    let raw = Assignee {
        email: t("email")?,
        phone_number: t("phone_number")?,
        first_name: t("first_name")?,
        last_name: t("last_name")?,
        mls: t("mls")?,
        mls_id: t("mls_id")?.or(t("mlsid")?),
    };
    let normalized = normalize_assignee(raw, options);
    // The MLS board alone finds nobody: Rechat matches email, phone, MLS id, then name.
    let usable = [
        &normalized.email,
        &normalized.phone_number,
        &normalized.first_name,
        &normalized.last_name,
        &normalized.mls_id,
    ]
    .iter()
    .any(|f| f.is_some());
    if !usable {
        return Err(IntakeError::unprocessable(
            format!(
                "{field} has no usable field to find the agent by (email, phone_number, first_name, last_name, mls_id)"
            ),
            Some(field),
        ));
    }
    Ok(normalized)
}

fn assignees(
    v: &Value,
    field: &str,
    options: &NormalizeOptions,
) -> Result<Vec<Assignee>, IntakeError> {
    let items = v
        .as_array()
        .ok_or_else(|| type_error(field, "an array of assignees"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| assignee(item, &format!("{field}[{i}]"), options))
        .collect()
}

/// The capture payload as a raw lead, ready for normalization.
pub fn capture(v: &Value, options: &NormalizeOptions) -> Result<RawLead, IntakeError> {
    let map = object(v, "the capture payload")?;
    let t = |key: &str| text(map, key, key);
    let mut tags = list(map, "tag", "tag")?;
    tags.extend(list(map, "tags", "tags")?);

    let mut listing = match map.get("listing") {
        None | Some(Value::Null) => None,
        Some(l) => Some(listing(l)?),
    };
    // Older flat spellings, mapped onto the newer objects.
    let flat_address = match map.get("address") {
        None | Some(Value::Null) => None,
        Some(a) => Some(address(a, "address")?).filter(|a| !a.is_empty()),
    };
    let mlsid = t("mlsid")?;
    if flat_address.is_some() || mlsid.is_some() {
        let l = listing.get_or_insert_with(Listing::default);
        if l.mls_number.is_none() {
            l.mls_number = mlsid;
        }
        let property = l.property.get_or_insert_with(Property::default);
        if property.address.as_ref().is_none_or(IsEmpty::is_empty) {
            property.address = flat_address;
        }
    }
    let mut agents = match map.get("assignees") {
        None | Some(Value::Null) => Vec::new(),
        Some(a) => assignees(a, "assignees", options)?,
    };
    if let Some(agent_mls_id) = t("agent_mlsid")?
        && !agents
            .iter()
            .any(|a| a.mls_id.as_deref() == Some(agent_mls_id.as_str()))
    {
        agents.push(Assignee {
            mls_id: Some(agent_mls_id),
            ..Assignee::default()
        });
    }

    // Nothing silently dropped: fields Rechat does not know go into the note.
    let mut note = t("note")?;
    let extra: Vec<String> = map
        .iter()
        .filter(|(k, v)| !CAPTURE_KEYS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .filter(|line| !line.trim_end().ends_with(':'))
        .collect();
    if !extra.is_empty() {
        let mut text = note.unwrap_or_default();
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&extra.join("\n"));
        note = Some(text);
    }

    Ok(RawLead {
        first_name: t("first_name")?,
        last_name: t("last_name")?,
        full_name: None,
        email: t("email")?,
        phone: t("phone_number")?,
        tags,
        lead_source: t("lead_source")?,
        note,
        referer_url: t("referer_url")?,
        source_type: t("source_type")?,
        listing,
        assignees: agents,
    })
}

fn activity_listing(v: &Value) -> Result<ActivityListing, IntakeError> {
    let map = v
        .as_object()
        .ok_or_else(|| type_error("listing", "an object"))?;
    let t = |key: &str| text(map, key, &format!("listing.{key}"));
    let street = match map.get("property").and_then(|p| p.get("address")) {
        None | Some(Value::Null) => None,
        Some(a) => {
            let a = address(a, "listing.property.address")?;
            a.street_address.or(a.full_address)
        }
    };
    Ok(ActivityListing {
        url: t("url")?,
        mls_number: t("mls_number")?,
        mls: t("mls")?,
        cover_image_url: t("cover_image_url")?,
        price: number(map, "price", "listing.price")?,
        property: street.map(|s| ActivityProperty {
            address: Some(StreetAddress {
                street_address: Some(s),
            }),
        }),
    })
}

fn search(v: &Value) -> Result<Search, IntakeError> {
    let map = v
        .as_object()
        .ok_or_else(|| type_error("search", "an object"))?;
    let n = |key: &str| number(map, key, &format!("search.{key}"));
    Ok(Search {
        url: text(map, "url", "search.url")?,
        title: text(map, "title", "search.title")?,
        minimum_bedrooms: n("minimum_bedrooms")?,
        maximum_bedrooms: n("maximum_bedrooms")?,
        minimum_bathrooms: n("minimum_bathrooms")?,
        maximum_bathrooms: n("maximum_bathrooms")?,
        minimum_price: n("minimum_price")?,
        maximum_price: n("maximum_price")?,
        property_types: list(map, "property_types", "search.property_types")?,
        pool: boolean(map, "pool", "search.pool")?,
    })
}

/// The timeline body: `{ action, listing?, search?, notes? }`.
pub fn activity(v: &Value) -> Result<Activity, IntakeError> {
    let map = object(v, "the activity")?;
    let name = text(map, "action", "action")?
        .ok_or_else(|| IntakeError::unprocessable("action is required".into(), Some("action")))?;
    let action = Action::from_name(name.trim()).ok_or_else(|| {
        let known: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        IntakeError::unprocessable(
            format!(
                "{name:?} is not a Rechat activity; one of: {}",
                known.join(", ")
            ),
            Some("action"),
        )
    })?;
    let listing = match map.get("listing") {
        None | Some(Value::Null) => None,
        Some(l) => Some(activity_listing(l)?),
    };
    let search = match map.get("search") {
        None | Some(Value::Null) => None,
        Some(s) => Some(search(s)?),
    };
    let notes = text(map, "notes", "notes")?;
    let mut activity = Activity::new(action, listing, search, notes).map_err(|e| {
        let field = match e {
            ActivityError::MissingListing { .. } => "listing",
            ActivityError::MissingSearch { .. } => "search",
        };
        IntakeError::unprocessable(e.to_string(), Some(field))
    })?;
    crate::normalize::bounds::activity(&mut activity);
    Ok(activity)
}

/// The reassignment body: a JSON array of assignees, each with something to match by.
pub fn reassignment(v: &Value, options: &NormalizeOptions) -> Result<Vec<Assignee>, IntakeError> {
    if !v.is_array() {
        return Err(IntakeError::unprocessable(
            "a reassignment body is a JSON array of assignees".into(),
            None,
        ));
    }
    let mut agents = assignees(v, "assignees", options)?;
    crate::normalize::bounds::assignees(&mut agents);
    if agents.is_empty() {
        return Err(IntakeError::unprocessable(
            "a reassignment needs at least one assignee".into(),
            None,
        ));
    }
    Ok(agents)
}

/// A refusal as Rechat's own API answers it: `{http, message, code, retry}` at the top, what
/// Rechat's clients read (its Lead Capture demo shows `message`), with Inlet's `error` object
/// beside it. A body that is well-formed but no lead is a 400 here, as Rechat documents its
/// validation errors; the other routes answer 422.
pub fn refusal(e: &IntakeError) -> crate::web::Response {
    let status = if e.status == 422 { 400 } else { e.status };
    let code = match status {
        400 => "Validation",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "ResourceNotFound",
        405 => "MethodNotAllowed",
        408 => "Timeout",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        503 => "ServiceUnavailable",
        _ => "Internal",
    };
    let body = serde_json::json!({
        "http": status,
        "message": e.message,
        "code": code,
        "retry": matches!(status, 408 | 503),
        "error": {"code": e.code, "message": e.message, "field": e.field},
    });
    let mut response = IntakeError {
        status,
        ..e.clone()
    }
    .response();
    *response.body_mut() = bytes::Bytes::from(body.to_string());
    response
}

/// `POST /leads/channels/{channel}/webhook`: the envelope a capture body becomes. An
/// `Idempotency-Key` makes a retried request the same envelope.
pub fn capture_envelope(
    channel: &str,
    body: &Value,
    raw: &[u8],
    idempotency_key: Option<&str>,
    options: &NormalizeOptions,
) -> Result<Envelope, IntakeError> {
    let lead = capture(body, options)?;
    let normalized = normalize(lead, options)
        .map_err(|e| IntakeError::unprocessable(format!("not a lead: {}", e.reason), None))?;
    Ok(
        EnvelopeBuilder::new(OriginKind::Webhook, SENDER, channel, raw)
            .event_id(idempotency_key)
            .step(Step::Capture {
                lead: normalized.lead,
                sender_lead_id: None,
            })
            .notices(normalized.notices)
            .build(),
    )
}

/// A timeline or assignees call's envelope, in the group (`lead_key`) of the lead it names.
///
/// An `Idempotency-Key` names one event of one route for one lead: the same key on a timeline
/// post for lead A and a reassignment of lead B are two events. Without a key, every call is
/// its own event, whatever its content: three identical `ContactLoggedIn` posts are three
/// logins on the lead's timeline.
pub fn follow_up_envelope(
    route: &str,
    lead: &str,
    step: Step,
    lead_key: String,
    raw: &[u8],
    idempotency_key: Option<&str>,
) -> Envelope {
    let builder = EnvelopeBuilder::new(OriginKind::Webhook, SENDER, "", raw)
        .lead_key(lead_key)
        .step(step);
    match idempotency_key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => builder.event_id(Some(&format!("{route} {lead} {key}"))),
        None => builder.distinct(),
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts() -> NormalizeOptions {
        NormalizeOptions::default()
    }

    #[test]
    fn the_full_capture_payload_is_read() {
        let v = json!({
            "first_name": "Ana", "last_name": "Silva", "email": "ana@example.com",
            "phone_number": 2145550123u64, "tag": ["Buyer"], "tags": "Hot, Zillow",
            "lead_source": "Website", "note": "Call me", "referer_url": "https://example.com/l/1",
            "listing": {"price": "$450,000", "mls_number": "M1", "property": {"address": {"city": "Dallas", "street_address": "12 Elm St"}}},
            "assignees": [{"email": "agent@example.com", "mlsid": "99"}],
            "source_type": "Website"
        });
        let raw = capture(&v, &opts()).unwrap();
        assert_eq!(raw.phone.as_deref(), Some("2145550123"));
        assert_eq!(raw.tags, vec!["Buyer", "Hot", "Zillow"]);
        let l = raw.listing.unwrap();
        assert_eq!(l.price, Some(450000.0));
        assert_eq!(
            l.property.unwrap().address.unwrap().city.as_deref(),
            Some("Dallas")
        );
        assert_eq!(raw.assignees[0].mls_id.as_deref(), Some("99"));
        assert_eq!(raw.note.as_deref(), Some("Call me"));
    }

    #[test]
    fn older_flat_spellings_map_onto_listing_and_assignees() {
        let v = json!({"email": "a@example.com", "address": "12 Elm St, Dallas TX", "mlsid": "M-7", "agent_mlsid": "A-1"});
        let raw = capture(&v, &opts()).unwrap();
        let l = raw.listing.unwrap();
        assert_eq!(l.mls_number.as_deref(), Some("M-7"));
        assert_eq!(
            l.property.unwrap().address.unwrap().full_address.as_deref(),
            Some("12 Elm St, Dallas TX")
        );
        assert_eq!(
            raw.assignees,
            vec![Assignee {
                mls_id: Some("A-1".into()),
                ..Assignee::default()
            }]
        );
    }

    #[test]
    fn unknown_fields_are_kept_in_the_note() {
        let v = json!({"email": "a@example.com", "note": "Hi", "budget": "500k", "beds": 3, "empty": ""});
        let raw = capture(&v, &opts()).unwrap();
        assert_eq!(raw.note.as_deref(), Some("Hi\n\nbeds: 3\nbudget: 500k"));
    }

    #[test]
    fn wrong_types_are_422_naming_the_field() {
        for (body, field) in [
            (json!({"email": ["a@example.com"]}), "email"),
            (json!({"tag": {"a": 1}}), "tag"),
            (json!({"tag": [1, {"x": 1}]}), "tag[1]"),
            (json!({"listing": "12 Elm"}), "listing"),
            (json!({"listing": {"price": "cheap"}}), "listing.price"),
            (
                json!({"assignees": {"email": "a@example.com"}}),
                "assignees",
            ),
            (
                json!({"assignees": [{"email": "a@example.com"}, {}]}),
                "assignees[1]",
            ),
            (
                json!({"assignees": [{"email": "not an email"}]}),
                "assignees[0]",
            ),
        ] {
            let e = capture(&body, &opts()).unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (422, Some(field)),
                "{body} → {}",
                e.message
            );
        }
        assert_eq!(capture(&json!([1]), &opts()).unwrap_err().status, 422);
    }

    #[test]
    fn activities_are_checked_like_rechat_checks_them() {
        let a = activity(&json!({"action": "ContactFavoritedListing", "listing": {"url": "https://example.com/l", "property": {"address": {"street_address": "12 Elm"}}}, "notes": "saved"})).unwrap();
        assert_eq!(a.action, Action::ContactFavoritedListing);
        assert_eq!(
            a.listing
                .unwrap()
                .property
                .unwrap()
                .address
                .unwrap()
                .street_address
                .as_deref(),
            Some("12 Elm")
        );
        let s = activity(&json!({"action": "ContactCreatedSearch", "search": {"title": "Condos", "minimum_bedrooms": "2", "pool": "true", "property_types": ["Condo"]}})).unwrap();
        assert_eq!(s.search.unwrap().minimum_bedrooms, Some(2.0));
        for (body, field) in [
            (json!({"action": "ContactDanced"}), "action"),
            (json!({}), "action"),
            (json!({"action": "ContactViewedListing"}), "listing"),
            (
                json!({"action": "ContactSearchedListings", "listing": {"url": "x"}}),
                "search",
            ),
            (
                json!({"action": "ContactSignedUp", "notes": {"x": 1}}),
                "notes",
            ),
        ] {
            let e = activity(&body).unwrap_err();
            assert_eq!((e.status, e.field.as_deref()), (422, Some(field)), "{body}");
        }
    }

    #[test]
    fn a_reassignment_is_an_array_of_usable_assignees() {
        let a = reassignment(
            &json!([{"email": "A@Example.com"}, {"first_name": "Bo", "last_name": "Li"}]),
            &opts(),
        )
        .unwrap();
        assert_eq!(a[0].email.as_deref(), Some("a@example.com"));
        assert_eq!(
            reassignment(&json!({"email": "a@example.com"}), &opts())
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(reassignment(&json!([]), &opts()).unwrap_err().status, 422);
        assert_eq!(
            reassignment(&json!([{"mls": "NTREIS"}]), &opts())
                .unwrap_err()
                .field
                .as_deref(),
            Some("assignees[0]")
        );
    }
}
