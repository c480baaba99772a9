//! Request bodies to JSON values, in one place every source uses.
//!
//! Two readings, because senders and Rechat's clients expect different ones:
//! - `rechat`: as Rechat's server (Express `urlencoded({extended: true})`) reads its own lead
//!   API's bodies: JSON as it is, URL-encoded forms with `a[b][c]` nesting and `tag=a&tag=b`
//!   repeats;
//! - `decode`: sender webhooks and website forms, decoded flat: each key as sent (labels with
//!   spaces, `data.json`, `q3_name`), a repeated key becomes an array; multipart text parts
//!   likewise (file parts are left out and listed, since senders send upload URLs, not leads,
//!   in them); JSON nested in a field is read by `nested_json`.
//!
//! Senders label bodies loosely (Zapier "Raw", Make and n8n users pick any type; browsers send
//! `fetch` bodies as `text/plain` to avoid a CORS preflight), so a label is trusted only when
//! the content agrees with it, and the content decides when that is unambiguous.

use super::IntakeError;
use serde_json::{Map, Value};
/// How Rechat's own routes read a body.
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
    if looks_like_json(body) {
        BodyKind::Json
    } else {
        BodyKind::Form
    }
}

/// A body of Rechat's own lead API as a JSON value, read as Rechat's server reads it.
pub fn rechat(content_type: Option<&str>, body: &[u8]) -> Result<Value, IntakeError> {
    read(kind(content_type, body)?, body)
}

/// Reads the body as a JSON value. Malformed JSON is a 400 naming where it broke.
pub fn read(kind: BodyKind, body: &[u8]) -> Result<Value, IntakeError> {
    match kind {
        BodyKind::Json => json_value(body),
        BodyKind::Form => nested_form(body),
    }
}

/// JSON as it is; malformed JSON is a 400 naming where it broke.
pub fn json_value(body: &[u8]) -> Result<Value, IntakeError> {
    serde_json::from_slice(body).map_err(|e| {
        IntakeError::malformed(format!(
            "the body is not valid JSON: {} (line {}, column {})",
            json_problem(&e),
            e.line(),
            e.column()
        ))
    })
}

fn json_problem(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; the position is given separately.
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A URL-encoded form as a JSON object of strings, arrays and nested objects (Express's
/// `extended` reading).
pub fn nested_form(body: &[u8]) -> Result<Value, IntakeError> {
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

/// What a body was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Form,
    Multipart,
    Xml,
}

/// A decoded body: its fields as JSON, and the names of file parts it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub format: Format,
    pub value: Value,
    pub files: Vec<String>,
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

fn looks_like_multipart(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &body[start..];
    if !rest.starts_with(b"--") {
        return None;
    }
    let line_end = rest.iter().position(|b| *b == b'\r' || *b == b'\n')?;
    let boundary = std::str::from_utf8(&rest[2..line_end]).ok()?.trim();
    (!boundary.is_empty() && boundary.len() <= 200).then(|| boundary.to_owned())
}

/// Whether a route reads XML: only where a sender that sends it may post (LTS), since reading
/// XML costs more than any other body and nobody else needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Xml {
    Refused,
    Read,
}

/// Reads a body by its label, or by its content when the label is missing, generic, or
/// contradicted by unambiguous content. XML is refused (415): see `decode_with`.
pub async fn decode(content_type: Option<&str>, body: &[u8]) -> Result<Decoded, IntakeError> {
    decode_with(content_type, body, Xml::Refused).await
}

/// `decode`, reading XML too when `xml` says the route takes it.
pub async fn decode_with(
    content_type: Option<&str>,
    body: &[u8],
    xml: Xml,
) -> Result<Decoded, IntakeError> {
    let kind = essence(content_type);
    let is_xml = matches!(kind.as_str(), "text/xml" | "application/xml")
        || kind.starts_with("application/") && kind.ends_with("+xml")
        || matches!(
            kind.as_str(),
            "" | "text/plain" | "application/octet-stream"
        ) && !looks_like_json(body)
            && looks_like_xml(body);
    if is_xml {
        return match xml {
            Xml::Read => xml_off_the_runtime(body).await,
            Xml::Refused => Err(IntakeError::new(
                415,
                "unsupported_media_type",
                "XML is read only from senders that send it (LTS: /webhooks/{channel}/lts); send JSON or a form here",
            )),
        };
    }
    match kind.as_str() {
        "multipart/form-data" => {
            let boundary = content_type
                .and_then(|ct| multer::parse_boundary(ct).ok())
                .or_else(|| looks_like_multipart(body))
                .ok_or_else(|| {
                    IntakeError::malformed("multipart body without a boundary".into())
                })?;
            multipart(body, &boundary).await
        }
        "application/json" | "text/json"
            if !looks_like_json(body) && !body.iter().all(u8::is_ascii_whitespace) =>
        {
            // Labelled JSON but plainly a form (a mislabelled Zapier or n8n body).
            if body.contains(&b'=') {
                form(body)
            } else {
                json(body)
            }
        }
        "application/json" | "text/json" => json(body),
        e if e.starts_with("application/") && e.ends_with("+json") => json(body),
        "application/x-www-form-urlencoded" if looks_like_json(body) => json(body),
        "application/x-www-form-urlencoded" => form(body),
        "" | "text/plain" | "application/octet-stream" => {
            if looks_like_json(body) {
                json(body)
            } else if let Some(boundary) = looks_like_multipart(body) {
                multipart(body, &boundary).await
            } else {
                form(body)
            }
        }
        other => Err(IntakeError::unsupported_type(other)),
    }
}

fn looks_like_xml(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    body[start..].starts_with(b"<?xml")
        || body[start..].starts_with(b"<")
            && body[start..].get(1).is_some_and(u8::is_ascii_alphabetic)
}

/// How large an XML body may be, how many elements it may hold and how deep, how many
/// attributes one element may carry and how many namespaces the whole may declare: far
/// beyond any lead (an LTS lead is a few KB, a handful of attributes, one namespace). The
/// parser's work grows with the square of attributes on one element and of namespaces in
/// scope, so these are checked before it runs.
pub const XML_BODY_LIMIT: usize = 1024 * 1024;
const XML_NODES_LIMIT: u32 = 20_000;
const XML_DEPTH_LIMIT: usize = 32;
const XML_ATTRIBUTES_LIMIT: usize = 64;
const XML_NAMESPACES_LIMIT: usize = 16;

/// At most this many XML bodies are parsed at once, each on a blocking thread: a flood of
/// them takes a core, never the runtime that answers everything else.
static XML_PARSES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Parses an XML body off the async runtime, one at a time.
async fn xml_off_the_runtime(body: &[u8]) -> Result<Decoded, IntakeError> {
    if body.len() > XML_BODY_LIMIT {
        return Err(IntakeError::too_large(XML_BODY_LIMIT));
    }
    let _turn = XML_PARSES
        .acquire()
        .await
        .map_err(|_| IntakeError::malformed("XML is not read now".into()))?;
    let body = body.to_vec();
    tokio::task::spawn_blocking(move || xml(&body))
        .await
        .map_err(|e| IntakeError::malformed(format!("the XML body could not be read: {e}")))?
}

/// Checks an XML body's shape with a streaming tokenizer (xmlparser: linear in the body,
/// and what roxmltree itself was built from) before the tree is built: depth, elements,
/// attributes on one element, namespace declarations, and no DTD.
fn xml_within_bounds(text: &str) -> Result<(), IntakeError> {
    use xmlparser::{ElementEnd, Token};
    let refuse = |what: String| Err(IntakeError::malformed(what));
    let (mut depth, mut elements, mut attributes, mut namespaces) = (0usize, 0u32, 0usize, 0usize);
    for token in xmlparser::Tokenizer::from(text) {
        match token {
            Ok(Token::ElementStart { .. }) => {
                depth += 1;
                elements += 1;
                attributes = 0;
                if depth > XML_DEPTH_LIMIT {
                    return refuse(format!(
                        "the XML body nests deeper than {XML_DEPTH_LIMIT} elements"
                    ));
                }
                if elements > XML_NODES_LIMIT {
                    return refuse(format!(
                        "the XML body has more than {XML_NODES_LIMIT} elements"
                    ));
                }
            }
            Ok(Token::Attribute { prefix, local, .. }) => {
                attributes += 1;
                if attributes > XML_ATTRIBUTES_LIMIT {
                    return refuse(format!(
                        "an XML element carries more than {XML_ATTRIBUTES_LIMIT} attributes"
                    ));
                }
                if prefix.as_str() == "xmlns" || prefix.is_empty() && local.as_str() == "xmlns" {
                    namespaces += 1;
                    if namespaces > XML_NAMESPACES_LIMIT {
                        return refuse(format!(
                            "the XML body declares more than {XML_NAMESPACES_LIMIT} namespaces"
                        ));
                    }
                }
            }
            Ok(Token::ElementEnd { end, .. }) => {
                if !matches!(end, ElementEnd::Open) {
                    depth = depth.saturating_sub(1);
                }
            }
            Ok(Token::DtdStart { .. } | Token::EmptyDtd { .. }) => {
                return refuse(
                    "XML with a DTD (<!DOCTYPE …>) is refused: Inlet expands no entities".into(),
                );
            }
            // Malformed XML: the parser says where, below.
            Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// An XML body as JSON, so that senders read it as they read the rest: each element is its
/// text, or, when it has attributes or child elements, an object of them (`@name` for an
/// attribute, the local name for a child, repeated children an array, `#text` for text beside
/// them). The root is the one key of the top object. A DTD is refused, so no entity is ever
/// declared or expanded: that is what an XML bomb needs.
fn xml(body: &[u8]) -> Result<Decoded, IntakeError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| IntakeError::malformed("the XML body is not UTF-8".into()))?;
    xml_within_bounds(text)?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: XML_NODES_LIMIT,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|e| {
        IntakeError::malformed(match e {
            roxmltree::Error::DtdDetected => {
                "XML with a DTD (<!DOCTYPE …>) is refused: Inlet expands no entities".into()
            }
            roxmltree::Error::NodesLimitReached => {
                format!("the XML body has more than {XML_NODES_LIMIT} nodes")
            }
            other => format!("the body is not well-formed XML: {other}"),
        })
    })?;
    let root = doc.root_element();
    let mut top = Map::new();
    top.insert(root.tag_name().name().to_owned(), element(root, 0)?);
    Ok(Decoded {
        format: Format::Xml,
        value: Value::Object(top),
        files: Vec::new(),
    })
}

fn element(node: roxmltree::Node, depth: usize) -> Result<Value, IntakeError> {
    if depth > XML_DEPTH_LIMIT {
        return Err(IntakeError::malformed(format!(
            "the XML body nests deeper than {XML_DEPTH_LIMIT} elements"
        )));
    }
    let children: Vec<roxmltree::Node> = node.children().filter(|c| c.is_element()).collect();
    let text: String = node
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_owned();
    if children.is_empty() && node.attributes().len() == 0 {
        return Ok(Value::String(text));
    }
    let mut map = Map::new();
    for a in node.attributes() {
        map.insert(
            format!("@{}", a.name()),
            Value::String(a.value().to_owned()),
        );
    }
    for child in children {
        insert(
            &mut map,
            child.tag_name().name().to_owned(),
            element(child, depth + 1)?,
        );
    }
    if !text.is_empty() {
        map.insert("#text".into(), Value::String(text));
    }
    Ok(Value::Object(map))
}

fn json(body: &[u8]) -> Result<Decoded, IntakeError> {
    let value = json_value(body)?;
    Ok(Decoded {
        format: Format::Json,
        value,
        files: Vec::new(),
    })
}

fn insert(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// A URL-encoded body as a flat object for senders and forms (`+` is a space; repeated keys make arrays).
pub fn form(body: &[u8]) -> Result<Decoded, IntakeError> {
    if std::str::from_utf8(body).is_err() {
        return Err(IntakeError::malformed("the form is not UTF-8 text".into()));
    }
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        let key = k.into_owned();
        if key.is_empty() && v.is_empty() {
            continue;
        }
        insert(&mut map, key, Value::String(v.into_owned()));
    }
    Ok(Decoded {
        format: Format::Form,
        value: Value::Object(map),
        files: Vec::new(),
    })
}

/// Most parts a multipart body may have; a sender's form has tens, not thousands.
const MAX_PARTS: usize = 1000;

async fn multipart(body: &[u8], boundary: &str) -> Result<Decoded, IntakeError> {
    // Some senders' fixtures and proxies use bare LF; multipart requires CRLF.
    let owned;
    let body = if !body.windows(2).any(|w| w == b"\r\n") && body.contains(&b'\n') {
        owned = crlf(body);
        owned.as_slice()
    } else {
        body
    };
    let chunk = bytes::Bytes::copy_from_slice(body);
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(chunk) });
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(body.len() as u64 + 1));
    let mut parts = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut map = Map::new();
    let mut files = Vec::new();
    let mut count = 0;
    loop {
        let field = match parts.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(IntakeError::malformed(format!(
                    "the multipart body cannot be read: {e}"
                )));
            }
        };
        count += 1;
        if count > MAX_PARTS {
            return Err(IntakeError::unprocessable(
                format!("more than {MAX_PARTS} multipart parts"),
                None,
            ));
        }
        let name = field.name().unwrap_or("").to_owned();
        if let Some(file) = field.file_name() {
            files.push(format!("{name}: {file}"));
            continue;
        }
        let text = field.text().await.map_err(|e| {
            IntakeError::malformed(format!("multipart part {name:?} cannot be read: {e}"))
        })?;
        insert(&mut map, name, Value::String(text));
    }
    Ok(Decoded {
        format: Format::Multipart,
        value: Value::Object(map),
        files,
    })
}

fn crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 20);
    for &b in body {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// A string field that holds JSON (Unbounce `data.json`, Jotform `rawRequest`, Wufoo
/// `FieldStructure`), read when it is a JSON object or array.
pub fn nested_json(value: Option<&Value>) -> Option<Value> {
    let text = value?.as_str()?;
    if !looks_like_json(text.as_bytes()) {
        return None;
    }
    serde_json::from_str(text).ok()
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
        let e = read(BodyKind::Json, b"{\n  \"first_name\": \"Ana\",\n  oops\n}").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("line 3, column 3"), "{}", e.message);
    }

    #[test]
    fn forms_read_like_express_extended() {
        let v = nested_form(b"first_name=Ana+Maria&tag=buyer&tag=hot&listing[price]=450000&listing[property][address][city]=Dallas&assignees[0][email]=a%40example.com").unwrap();
        assert_eq!(v["first_name"], "Ana Maria");
        assert_eq!(v["tag"], json!(["buyer", "hot"]));
        assert_eq!(v["listing"]["price"], "450000");
        assert_eq!(v["listing"]["property"]["address"]["city"], "Dallas");
        assert_eq!(v["assignees"], json!([{"email": "a@example.com"}]));
        let v = nested_form(b"tags[]=a&tags[]=b").unwrap();
        assert_eq!(v["tags"], json!(["a", "b"]));
        assert!(nested_form(&[0x66, 0x3d, 0xff]).is_err());
    }

    #[tokio::test]
    async fn forms_keep_keys_as_sent_and_repeat_into_arrays() {
        let d = decode(
            Some("application/x-www-form-urlencoded"),
            b"First+Name=Ana&Email+Address+=a%40example.com&tag=a&tag=b&data.json=%7B%7D",
        )
        .await
        .unwrap();
        assert_eq!(d.format, Format::Form);
        assert_eq!(d.value["First Name"], "Ana");
        assert_eq!(d.value["Email Address "], "a@example.com");
        assert_eq!(d.value["tag"], json!(["a", "b"]));
        assert_eq!(nested_json(d.value.get("data.json")), Some(json!({})));
    }

    #[tokio::test]
    async fn a_mislabelled_body_is_read_by_its_content() {
        assert_eq!(
            decode(Some("application/x-www-form-urlencoded"), b"{\"a\":1}")
                .await
                .unwrap()
                .format,
            Format::Json
        );
        assert_eq!(
            decode(Some("application/json"), b"a=1&b=2")
                .await
                .unwrap()
                .format,
            Format::Form
        );
        assert_eq!(
            decode(Some("text/plain"), b"[1]").await.unwrap().format,
            Format::Json
        );
        assert_eq!(decode(None, b"a=1").await.unwrap().format, Format::Form);
        assert_eq!(
            decode_with(Some("application/xml"), b"<a/>", Xml::Read)
                .await
                .unwrap()
                .format,
            Format::Xml
        );
        // Where XML is not read, a plain 415 before any parsing, labelled or sniffed.
        for ct in [Some("application/xml"), Some("application/atom+xml"), None] {
            let e = decode(ct, b"<a/>").await.unwrap_err();
            assert_eq!(e.status, 415, "{ct:?}");
            assert!(e.message.contains("LTS"), "{}", e.message);
        }
        assert_eq!(
            decode(Some("image/png"), b"\x89PNG")
                .await
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(
            decode(Some("application/json"), b"{\"a\":")
                .await
                .unwrap_err()
                .status,
            400
        );
    }

    #[tokio::test]
    async fn multipart_with_crlf_or_bare_lf_and_files_listed() {
        let lf = "--XyZ\nContent-Disposition: form-data; name=\"first\"\n\nAna\n--XyZ\nContent-Disposition: form-data; name=\"doc\"; filename=\"id.png\"\nContent-Type: image/png\n\nPNG\n--XyZ\nContent-Disposition: form-data; name=\"first\"\n\nBea\n--XyZ--\n";
        for body in [lf.to_owned(), lf.replace('\n', "\r\n")] {
            let d = decode(Some("multipart/form-data; boundary=XyZ"), body.as_bytes())
                .await
                .unwrap();
            assert_eq!(d.value["first"], json!(["Ana", "Bea"]));
            assert_eq!(d.files, vec!["doc: id.png"]);
        }
        let d = decode(None, lf.replace('\n', "\r\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(
            d.format,
            Format::Multipart,
            "sniffed from its boundary line"
        );
        let truncated = "--XyZ\r\nContent-Disposition: form-data; name=\"first\"\r\n\r\nAna";
        assert_eq!(
            decode(
                Some("multipart/form-data; boundary=XyZ"),
                truncated.as_bytes()
            )
            .await
            .unwrap_err()
            .status,
            400
        );
    }

    #[tokio::test]
    async fn xml_bodies_become_json_trees() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<LeadList xmlns="urn:example:lts"><Lead id="7"><Contact><Name><First>Ana</First><Last>Silva</Last></Name>
<PhoneList><Phone type="Mobile"><Number>214-555-0123</Number></Phone><Phone><Number>1</Number></Phone></PhoneList>
<Note>Hi &amp; thanks</Note></Contact></Lead></LeadList>"#;
        for ct in [
            Some("text/xml"),
            Some("application/xml; charset=utf-8"),
            Some("text/plain"),
            None,
        ] {
            let d = decode_with(ct, body, Xml::Read).await.unwrap();
            assert_eq!(d.format, Format::Xml, "{ct:?}");
            let lead = &d.value["LeadList"]["Lead"];
            assert_eq!(lead["@id"], "7");
            assert_eq!(lead["Contact"]["Name"]["First"], "Ana");
            assert_eq!(lead["Contact"]["Note"], "Hi & thanks");
            let phones = lead["Contact"]["PhoneList"]["Phone"].as_array().unwrap();
            assert_eq!(phones[0]["@type"], "Mobile");
            assert_eq!(phones[0]["Number"], "214-555-0123");
        }
    }

    #[tokio::test]
    async fn xml_bombs_and_entities_are_refused_before_anything_is_expanded() {
        let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"#;
        let external = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>"#;
        for body in [&laughs[..], &external[..]] {
            let e = decode_with(Some("application/xml"), body, Xml::Read)
                .await
                .unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains("DTD"), "{}", e.message);
        }
        let undeclared = b"<x>&nope;</x>";
        assert_eq!(
            decode_with(Some("text/xml"), undeclared, Xml::Read)
                .await
                .unwrap_err()
                .status,
            400
        );
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        let e = decode_with(Some("text/xml"), deep.as_bytes(), Xml::Read)
            .await
            .unwrap_err();
        assert!(e.message.contains("deeper"), "{}", e.message);
        let wide = format!("<a>{}</a>", "<b/>".repeat(30_000));
        let e = decode_with(Some("text/xml"), wide.as_bytes(), Xml::Read)
            .await
            .unwrap_err();
        assert!(e.message.contains("elements"), "{}", e.message);
        for broken in [&b"<a><b></a>"[..], b"<a>", b"\xff\xfe<a/>"] {
            assert_eq!(
                decode_with(Some("text/xml"), broken, Xml::Read)
                    .await
                    .unwrap_err()
                    .status,
                400
            );
        }
    }

    #[tokio::test]
    async fn xml_that_would_cost_the_parser_quadratic_time_is_refused_before_it_runs() {
        let xml = |body: String| async move {
            decode_with(Some("text/xml"), body.as_bytes(), Xml::Read)
                .await
                .unwrap_err()
        };
        // Nested namespace declarations: 3,000 took roxmltree minutes of CPU.
        let nested: String = (0..3000)
            .map(|i| format!("<a xmlns:n{i}=\"u{i}\">"))
            .chain((0..3000).map(|_| "</a>".to_owned()))
            .collect();
        assert_eq!(xml(nested).await.status, 400);
        // Declared side by side, or on one element, or as default namespaces.
        let siblings: String = std::iter::once("<r>".to_owned())
            .chain((0..3000).map(|i| format!("<a xmlns:n{i}=\"u{i}\"/>")))
            .chain(std::iter::once("</r>".to_owned()))
            .collect();
        let e = xml(siblings).await;
        assert!(e.message.contains("namespaces"), "{}", e.message);
        let defaults: String = std::iter::once("<r>".to_owned())
            .chain((0..3000).map(|i| format!("<a xmlns=\"u{i}\"/>")))
            .chain(std::iter::once("</r>".to_owned()))
            .collect();
        assert!(xml(defaults).await.message.contains("namespaces"));
        let many_on_one: String = format!(
            "<a{}/>",
            (0..30_000)
                .map(|i| format!(" xmlns:p{i}=\"x\""))
                .collect::<String>()
        );
        assert_eq!(xml(many_on_one).await.status, 400);
        // Attributes: the parser checks each against every other on its element.
        let attributes = format!(
            "<a{}/>",
            (0..30_000)
                .map(|i| format!(" b{i}=\"x\""))
                .collect::<String>()
        );
        let e = xml(attributes).await;
        assert!(e.message.contains("attributes"), "{}", e.message);
        // Past the size an XML lead can have: 413 before anything is read.
        let huge = format!("<a>{}</a>", "x".repeat(XML_BODY_LIMIT));
        assert_eq!(xml(huge).await.status, 413);
        // A lead's worth of namespaces and attributes is read.
        let fine = r#"<LeadList xmlns="urn:example:lts" xmlns:x="urn:x"><Lead id="1" x:src="web"><First>Ana</First></Lead></LeadList>"#;
        assert!(
            decode_with(Some("text/xml"), fine.as_bytes(), Xml::Read)
                .await
                .is_ok()
        );
    }
}
