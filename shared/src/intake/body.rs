//! Request bodies to JSON values: JSON as it is, URL-encoded forms read the way Rechat's
//! server (Express `urlencoded({extended: true})`) reads them, with `a[b][c]` nesting and
//! `tag=a&tag=b` repeats. A body labelled `text/plain` or not labelled at all is read by
//! its content (browsers send `fetch` bodies as `text/plain` to avoid a CORS preflight).

use super::IntakeError;
use serde_json::Value;

/// The body formats intake reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// A content type's media type alone (`application/json`), lower-cased; empty when absent.
pub fn essence(content_type: Option<&str>) -> String {
    content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Decides how to read a body from its content type, or from its first byte when the type
/// says nothing useful.
pub fn kind(content_type: Option<&str>, body: &[u8]) -> Result<BodyKind, IntakeError> {
    match essence(content_type).as_str() {
        "application/json" | "text/json" => Ok(BodyKind::Json),
        e if e.starts_with("application/") && e.ends_with("+json") => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        "" | "text/plain" | "application/octet-stream" => Ok(sniff(body)),
        other => Err(IntakeError::unsupported_type(other)),
    }
}

fn sniff(body: &[u8]) -> BodyKind {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') | Some(b'[') => BodyKind::Json,
        _ => BodyKind::Form,
    }
}

/// Reads the body as a JSON value. Malformed JSON is a 400 naming where it broke.
pub fn decode(kind: BodyKind, body: &[u8]) -> Result<Value, IntakeError> {
    match kind {
        BodyKind::Json => serde_json::from_slice(body).map_err(|e| {
            IntakeError::malformed(format!(
                "the body is not valid JSON: {} (line {}, column {})",
                json_problem(&e),
                e.line(),
                e.column()
            ))
        }),
        BodyKind::Form => form(body),
    }
}

fn json_problem(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; the position is given separately.
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A URL-encoded form as a JSON object of strings, arrays and nested objects.
pub fn form(body: &[u8]) -> Result<Value, IntakeError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        IntakeError::malformed(format!(
            "the form is not UTF-8 text (byte {})",
            e.valid_up_to()
        ))
    })?;
    let config = serde_qs::Config::new().max_depth(8).use_form_encoding(true);
    let mut value: Value = config
        .deserialize_str(text)
        .map_err(|e| IntakeError::malformed(format!("the form cannot be read: {e}")))?;
    collapse_repeats(&mut value);
    Ok(value)
}

/// `tag[]=a&tag[]=b` reads as an array already; `tag[0]=a&tag[1]=b` as an object with
/// index keys: make those arrays too, as Express does.
fn collapse_repeats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                collapse_repeats(v);
            }
            let indexed = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
            if indexed {
                let mut items: Vec<(usize, Value)> = map
                    .iter()
                    .map(|(k, v)| (k.parse::<usize>().unwrap_or(0), v.clone()))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                *value = Value::Array(items.into_iter().map(|(_, v)| v).collect());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(collapse_repeats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_content_type_decides_and_the_content_breaks_ties() {
        assert_eq!(
            kind(Some("application/json; charset=utf-8"), b"x").unwrap(),
            BodyKind::Json
        );
        assert_eq!(
            kind(Some("application/vnd.api+json"), b"x").unwrap(),
            BodyKind::Json
        );
        assert_eq!(
            kind(Some("application/x-www-form-urlencoded"), b"{").unwrap(),
            BodyKind::Form
        );
        assert_eq!(
            kind(Some("text/plain;charset=UTF-8"), b"  {\"a\":1}").unwrap(),
            BodyKind::Json
        );
        assert_eq!(kind(None, b"first_name=Ana").unwrap(), BodyKind::Form);
        let e = kind(Some("application/xml"), b"<Lead/>").unwrap_err();
        assert_eq!(e.status, 415);
    }

    #[test]
    fn malformed_json_names_the_position() {
        let e = decode(BodyKind::Json, b"{\n  \"first_name\": \"Ana\",\n  oops\n}").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("line 3, column 3"), "{}", e.message);
    }

    #[test]
    fn forms_read_like_express_extended() {
        let v = form(b"first_name=Ana+Maria&tag=buyer&tag=hot&listing[price]=450000&listing[property][address][city]=Dallas&assignees[0][email]=a%40example.com").unwrap();
        assert_eq!(v["first_name"], "Ana Maria");
        assert_eq!(v["tag"], json!(["buyer", "hot"]));
        assert_eq!(v["listing"]["price"], "450000");
        assert_eq!(v["listing"]["property"]["address"]["city"], "Dallas");
        assert_eq!(v["assignees"], json!([{"email": "a@example.com"}]));
        let v = form(b"tags[]=a&tags[]=b").unwrap();
        assert_eq!(v["tags"], json!(["a", "b"]));
        assert!(form(&[0x66, 0x3d, 0xff]).is_err());
    }
}
