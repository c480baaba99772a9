//! Hostile input against `inlet serve` as a process: over 500 malformed or malicious requests
//! (invalid JSON and UTF-8, wrong types, huge and deeply nested bodies, MIME bombs, header
//! injection, forged, replayed and stale signatures, oversized fields, hostile paths and
//! methods) and slow-loris connections. Every one ends in its documented 4xx or a clean
//! rejection (never a 5xx), the process stays up and keeps taking leads, its memory stays
//! bounded, and its info log carries none of the secrets, emails or phones sent.
//!
//! `INLET_HOSTILE_ROUNDS` repeats the corpus (`make proof` runs it 10 times).

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use serde_json::json;
use std::io::{Read, Write};
use std::time::Duration;

const SECRET: &str = "hostile-zapier-token-5f2a";
const META_SECRET: &str = "hostile-meta-app-secret-91c";
const MAIL_TOKEN: &str = "hostile-mail-token-0c77e1a4";

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
const MAILGUN_KEY: &str = "hostile-mailgun-key-0d4e";
const FUB_KEY: &str = "hostile-fub-key-7e1c9a";
const ZILLOW_BASIC: &str = "zillow-partner:hostile-zillow-pass";
const CONSOLE_TOKEN: &str = "hostile-console-token-6b2d91e0";

struct Case {
    what: String,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// The statuses the README documents for this input.
    expect: &'static [u16],
}

fn case(
    what: impl Into<String>,
    method: &'static str,
    path: impl Into<String>,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    expect: &'static [u16],
) -> Case {
    let path = path.into();
    // Generic webhooks are read as the Zapier sender, whose token is configured: the hostile
    // part is the body, so they carry the token (the signature cases below set their own).
    // Mail posts likewise carry the mail token (the cases of it set their own).
    let headers = if path.starts_with("/webhooks/") {
        vec![("x-inlet-token", SECRET.to_owned())]
    } else if path.starts_with("/email/") && !path.starts_with("/email/mailgun") {
        vec![("authorization", basic("sendgrid", MAIL_TOKEN))]
    } else {
        Vec::new()
    };
    Case {
        what: what.into(),
        method,
        path,
        content_type,
        headers,
        body: body.into(),
        expect,
    }
}

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
/// Refused as unreadable, invalid, or wanting a contact.
const REFUSED: &[u16] = &[400, 415, 422];
/// A lead that is still valid once the odd part is set aside or cleaned.
const TAKEN_OR_REFUSED: &[u16] = &[202, 400, 422];

fn rechat_route() -> String {
    format!("/leads/channels/{CHANNEL}/webhook")
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let valid = json!({"first_name": "Hostile", "email": "valid.hostile@example.com", "phone_number": "512-555-0199", "note": "a normal lead"}).to_string();

    // Truncated JSON at every cut of a valid body, on both JSON routes.
    for cut in 1..valid.len() - 1 {
        for path in [rechat_route(), format!("/webhooks/{CHANNEL}")] {
            cases.push(case(
                format!("truncated at {cut}"),
                "POST",
                path,
                JSON,
                valid[..cut].to_owned(),
                REFUSED,
            ));
        }
    }
    // Not JSON at all, or not an object.
    for garbage in [
        "",
        " ",
        "null",
        "true",
        "42",
        "\"a string\"",
        "[]",
        "[1,2,3]",
        "{,}",
        "{'a':1}",
        "{\"a\":}",
        "NaN",
        "{\"email\": \"x@example.com\",}",
        "\u{feff}{}",
        "<xml/>",
    ] {
        cases.push(case(
            format!("garbage {garbage:?}"),
            "POST",
            rechat_route(),
            JSON,
            garbage,
            REFUSED,
        ));
    }
    // Invalid UTF-8 inside strings and keys, and overlong or surrogate encodings.
    for bytes in [
        &b"\xff\xfe"[..],
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\x80",
        b"\xe2\x82",
    ] {
        let mut body = b"{\"first_name\": \"".to_vec();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\", \"email\": \"utf8@example.com\"}");
        for path in [rechat_route(), format!("/webhooks/{CHANNEL}")] {
            cases.push(case(
                format!("invalid UTF-8 {bytes:x?}"),
                "POST",
                path,
                JSON,
                body.clone(),
                REFUSED,
            ));
        }
        let mut form = b"email=utf8%40example.com&first_name=".to_vec();
        form.extend_from_slice(bytes);
        cases.push(case(
            format!("invalid UTF-8 in a form {bytes:x?}"),
            "POST",
            format!("/forms/{CHANNEL}"),
            FORM,
            form,
            TAKEN_OR_REFUSED,
        ));
    }
    // Wrong types in every field; the contact is kept valid or removed.
    let wrong: [serde_json::Value; 8] = [
        json!(123),
        json!(true),
        json!([]),
        json!({}),
        json!([1, [2, [3]]]),
        json!({"a": {"b": {"c": 1}}}),
        json!(null),
        json!(1e308),
    ];
    for field in [
        "first_name",
        "last_name",
        "email",
        "phone_number",
        "note",
        "tag",
        "lead_source",
        "address",
        "assignees",
        "listing",
    ] {
        for value in &wrong {
            let mut body = json!({"email": "types@example.com"});
            body[field] = value.clone();
            let expect = if field == "email" {
                REFUSED
            } else {
                TAKEN_OR_REFUSED
            };
            cases.push(case(
                format!("{field} = {value}"),
                "POST",
                rechat_route(),
                JSON,
                body.to_string(),
                expect,
            ));
            cases.push(case(
                format!("form {field} = {value}"),
                "POST",
                format!("/forms/{CHANNEL}"),
                JSON,
                body.to_string(),
                TAKEN_OR_REFUSED,
            ));
            cases.push(case(
                format!("webhook {field} = {value}"),
                "POST",
                format!("/webhooks/{CHANNEL}"),
                JSON,
                body.to_string(),
                TAKEN_OR_REFUSED,
            ));
        }
    }
    // Deep nesting: past serde_json's recursion limit, and just under it.
    for depth in [100, 127, 129, 1_000, 100_000] {
        let body = format!(
            "{{\"email\": \"deep@example.com\", \"note\": {}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        cases.push(case(
            format!("nested {depth}"),
            "POST",
            rechat_route(),
            JSON,
            body.clone(),
            TAKEN_OR_REFUSED,
        ));
        cases.push(case(
            format!("webhook nested {depth}"),
            "POST",
            format!("/webhooks/{CHANNEL}"),
            JSON,
            body,
            TAKEN_OR_REFUSED,
        ));
    }
    // Oversized fields inside the body limit, and bodies over it.
    for size in [10_000, 100_000, 900_000] {
        let body = json!({"email": "big@example.com", "first_name": "x".repeat(size), "note": "y".repeat(size / 10)}).to_string();
        cases.push(case(
            format!("{size}-byte name"),
            "POST",
            rechat_route(),
            JSON,
            body,
            TAKEN_OR_REFUSED,
        ));
    }
    for size in [1024 * 1024 + 1, 8 * 1024 * 1024] {
        for path in [
            rechat_route(),
            format!("/webhooks/{CHANNEL}"),
            format!("/forms/{CHANNEL}"),
        ] {
            cases.push(case(
                format!("{size}-byte body"),
                "POST",
                path,
                JSON,
                vec![b' '; size],
                &[413],
            ));
        }
    }
    cases.push(case(
        "41 MB mail",
        "POST",
        "/email/raw",
        Some("message/rfc822"),
        vec![b'a'; 41 * 1024 * 1024],
        &[413],
    ));
    // Header injection: CR/LF in what could end up in headers or logs.
    for (field, value) in [
        ("email", "a@example.com\r\nBcc: victim@example.com"),
        ("email", "a@example.com%0d%0aBcc:victim@example.com"),
        ("first_name", "Ana\r\nX-Injected: 1"),
        ("first_name", "Ana\u{0}Null"),
        ("note", "line\r\n\r\nHTTP/1.1 200 OK"),
        ("phone_number", "512\r\n555 0100"),
        ("lead_source", "\u{1b}[31mred\u{1b}[0m"),
    ] {
        let mut body = json!({"email": "inject@example.com"});
        body[field] = json!(value);
        let expect = if field == "email" {
            REFUSED
        } else {
            TAKEN_OR_REFUSED
        };
        cases.push(case(
            format!("injection in {field}"),
            "POST",
            rechat_route(),
            JSON,
            body.to_string(),
            expect,
        ));
    }
    // Wrong media types and methods.
    for ct in [
        "text/xml",
        "application/octet-stream",
        "image/png",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "application/json; charset=ebcdic",
    ] {
        let mut c = case(
            format!("content type {ct}"),
            "POST",
            rechat_route(),
            None,
            valid.clone(),
            &[202, 400, 415, 422],
        );
        c.headers.push(("content-type", ct.to_owned()));
        cases.push(c);
    }
    for method in ["DELETE", "PATCH", "PUT", "OPTIONS", "TRACE"] {
        cases.push(case(
            format!("{method} on the capture route"),
            method,
            rechat_route(),
            JSON,
            valid.clone(),
            &[204, 400, 403, 404, 405],
        ));
    }
    // Hostile paths.
    for path in [
        "/leads/channels/../../etc/passwd/webhook".to_owned(),
        "/leads/channels/%2e%2e%2fetc/webhook".to_owned(),
        "/leads/channels/not-a-uuid/webhook".to_owned(),
        "/leads/channels/00000000-0000-0000-0000-000000000000%00/webhook".to_owned(),
        format!("/leads/channels/{CHANNEL}/webhook/extra"),
        format!("/webhooks/{CHANNEL}/no-such-sender"),
        format!("/webhooks/{}", "a".repeat(10_000)),
        "/email/no-such-provider".to_owned(),
        "/forms/no-such-form".to_owned(),
        "/leads/e-does-not-exist/timeline".to_owned(),
        "//".to_owned(),
        "/%ff%fe".to_owned(),
    ] {
        cases.push(case(
            format!("path {}", &path[..path.len().min(60)]),
            "POST",
            path,
            JSON,
            valid.clone(),
            &[400, 404, 414, 422],
        ));
    }
    // Signatures: a sender with a secret, forged, empty, replayed elsewhere.
    for (what, header) in [
        ("no token", None),
        ("wrong token", Some("x-inlet-token: wrong")),
        ("empty token", Some("x-inlet-token: ")),
        ("bearer wrong", Some("authorization: Bearer nope")),
        ("token prefix", Some("x-inlet-token: hostile-zapier")),
    ] {
        let mut c = case(
            format!("zapier {what}"),
            "POST",
            format!("/webhooks/{CHANNEL}/zapier"),
            JSON,
            valid.clone(),
            &[401],
        );
        c.headers.clear();
        if let Some(h) = header {
            let (k, v) = h.split_once(": ").unwrap();
            c.headers.push((
                if k == "authorization" {
                    "authorization"
                } else {
                    "x-inlet-token"
                },
                v.to_owned(),
            ));
        }
        cases.push(c);
    }
    let meta_body = json!({"object": "page", "entry": [{"id": "1", "time": 1, "changes": [{"field": "leadgen", "value": {"leadgen_id": "99", "page_id": "1", "form_id": "2"}}]}]}).to_string();
    for (what, sig) in [
        ("no signature", None),
        ("forged", Some("sha256=00".to_owned())),
        ("signed with another key", {
            Some(format!(
                "sha256={}",
                hex::encode(inlet::web::signature::sign(
                    b"other",
                    &[meta_body.as_bytes()]
                ))
            ))
        }),
        ("signature of another body", {
            Some(format!(
                "sha256={}",
                hex::encode(inlet::web::signature::sign(
                    META_SECRET.as_bytes(),
                    &[b"{}"]
                ))
            ))
        }),
        ("sha1 only", Some("sha1=abc".to_owned())),
    ] {
        let mut c = case(
            format!("meta {what}"),
            "POST",
            format!("/webhooks/{CHANNEL}/meta"),
            JSON,
            meta_body.clone(),
            &[401],
        );
        c.headers.clear();
        if let Some(s) = sig {
            c.headers.push(("x-hub-signature-256", s));
        }
        cases.push(c);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mailgun = |timestamp: u64, key: &str| {
        let token = "tok123";
        let ts = timestamp.to_string();
        let sig = hex::encode(inlet::web::signature::sign(
            key.as_bytes(),
            &[ts.as_bytes(), token.as_bytes()],
        ));
        format!(
            "timestamp={ts}&token={token}&signature={sig}&sender=a%40example.com&recipient=leads%40in.example.com&subject=Hi&body-plain=Name%3A+X"
        )
    };
    for (what, body) in [
        ("stale by a day", mailgun(now - 86_400, MAILGUN_KEY)),
        // Mailgun signs each attempt afresh: minutes, not the hours a retry once took.
        ("stale by eleven minutes", mailgun(now - 660, MAILGUN_KEY)),
        ("from the future", mailgun(now + 86_400, MAILGUN_KEY)),
        ("another key", mailgun(now, "not-the-key")),
        (
            "no signature",
            "timestamp=1&token=t&sender=a%40example.com".to_owned(),
        ),
    ] {
        cases.push(case(
            format!("mailgun {what}"),
            "POST",
            "/email/mailgun",
            FORM,
            body,
            &[401],
        ));
    }
    // Mail over HTTP without the mail token, however it is dressed: 401, nothing queued.
    let sendgrid_forged = b"--XB\r\nContent-Disposition: form-data; name=\"SPF\"\r\n\r\npass\r\n--XB\r\nContent-Disposition: form-data; name=\"dkim\"\r\n\r\n{@zillow.com : pass}\r\n--XB\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nFrom: contact@zillow.com\r\nSubject: New lead\r\n\r\nEmail: x@example.com\r\n--XB--\r\n".to_vec();
    let raw_lead =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nEmail: c@example.com\r\n"
            .to_vec();
    for (what, path, ct, body, auth) in [
        (
            "no token",
            "/email/raw",
            "message/rfc822",
            raw_lead.clone(),
            None,
        ),
        (
            "wrong token",
            "/email/raw",
            "message/rfc822",
            raw_lead.clone(),
            Some(basic("inlet", "wrong-token-0000000000")),
        ),
        (
            "token as the user name",
            "/email/raw",
            "message/rfc822",
            raw_lead.clone(),
            Some(basic(MAIL_TOKEN, "")),
        ),
        (
            "token without the colon",
            "/email/raw",
            "message/rfc822",
            raw_lead.clone(),
            Some(format!("Basic {}", {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode("x")
            })),
        ),
        (
            "bearer, not basic",
            "/email/raw",
            "message/rfc822",
            raw_lead.clone(),
            Some(format!("Bearer {MAIL_TOKEN}")),
        ),
        (
            "a token prefix",
            "/email/raw?token=hostile-mail",
            "message/rfc822",
            raw_lead.clone(),
            None,
        ),
        (
            "an empty token",
            "/email/postmark?token=",
            "application/json",
            b"{}".to_vec(),
            None,
        ),
        (
            "forged SPF=pass, no token",
            "/email/sendgrid",
            "multipart/form-data; boundary=XB",
            sendgrid_forged.clone(),
            None,
        ),
        (
            "cloudmailin, no token",
            "/email/cloudmailin",
            "application/json",
            b"{}".to_vec(),
            None,
        ),
    ] {
        let mut c = case(format!("mail {what}"), "POST", path, None, body, &[401]);
        c.content_type = Some(ct);
        c.headers = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
        cases.push(c);
    }
    // MIME bombs and broken mail through the raw provider.
    let deep_mime = {
        let mut m = String::from("From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\n");
        for i in 0..1_000 {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        m.push_str("Content-Type: text/plain\r\n\r\nEmail: deep@example.com\r\n");
        m
    };
    let many_parts = {
        let mut m = String::from(
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n",
        );
        for _ in 0..100_000 {
            m.push_str("--p\r\nContent-Type: text/plain\r\n\r\nx\r\n");
        }
        m.push_str("--p--\r\n");
        m
    };
    let nested_rfc822 = {
        let mut m = String::from("Subject: inner\r\n\r\nEmail: inner@example.com\r\n");
        for i in 0..2_000 {
            m = format!("Subject: wrap {i}\r\nContent-Type: message/rfc822\r\n\r\n{m}");
        }
        m
    };
    let huge_header = format!(
        "From: a@example.com\r\nSubject: {}\r\n\r\nbody\r\n",
        "s".repeat(10 * 1024 * 1024)
    );
    for (what, mail) in [
        ("1,000-level multipart", deep_mime),
        ("100,000 parts", many_parts),
        ("2,000 nested messages", nested_rfc822),
        ("10 MB header", huge_header),
        ("binary noise", String::from_utf8_lossy(&[0u8, 159, 146, 150, 255, 0, 13, 10].repeat(10_000)).into_owned()),
        ("empty", String::new()),
        ("headers only", "From: a@example.com\r\n".to_owned()),
        ("unterminated boundary", "Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<div><div><div>".to_owned()),
        ("base64 garbage", "Content-Transfer-Encoding: base64\r\n\r\n!!!!====@@@@\r\n".to_owned()),
        ("deep html", format!("Content-Type: text/html\r\n\r\n{}Email: h@example.com", "<div>".repeat(200_000))),
    ] {
        cases.push(case(
            format!("mail: {what}"),
            "POST",
            "/email/raw",
            Some("message/rfc822"),
            mail,
            &[200, 202, 400, 413, 422],
        ));
    }
    // Forms: hostile redirects and honeypots answered without an open redirect.
    for redirect in [
        "https://evil.example.net/",
        "//evil.example.net",
        "javascript:alert(1)",
        "https://www.example.com@evil.example.net/",
        "\r\nLocation: https://evil.example.net",
    ] {
        let body = format!(
            "email=form%40example.com&_redirect={}",
            form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        );
        cases.push(case(
            format!("form redirect {redirect:?}"),
            "POST",
            format!("/forms/{CHANNEL}"),
            FORM,
            body,
            &[200, 202, 400, 422],
        ));
    }
    cases.extend(feed_cases());
    cases.extend(console_cases());
    cases
}

/// The console's kept items and lead search (issue 24), as a holder of the token sends odd
/// input and as someone without it tries: a 4xx each, never a 5xx, never data without the
/// token. Wrong tokens are rate-limited, so every console case may also meet a 429.
fn console_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let bearer = format!("Bearer {CONSOLE_TOKEN}");
    let with = |mut c: Case, headers: &[(&'static str, &str)]| {
        for (k, v) in headers {
            c.headers.push((k, (*v).to_owned()));
        }
        c
    };
    let owner = [("authorization", bearer.as_str()), ("x-inlet-console", "1")];
    for (what, method, path, body, expect) in [
        (
            "search by a NUL email",
            "GET",
            "/console/api/leads?email=%00",
            "",
            &[400, 429][..],
        ),
        (
            "search by markup",
            "GET",
            "/console/api/leads?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "",
            &[200, 429],
        ),
        (
            "search by a huge text",
            "GET",
            &format!("/console/api/leads?q={}", "a".repeat(6000)),
            "",
            &[200, 414, 431, 429],
        ),
        (
            "search since no date",
            "GET",
            "/console/api/leads?since=99999-99-99",
            "",
            &[400, 429],
        ),
        (
            "search by a too-long phone",
            "GET",
            "/console/api/leads?phone=%2B999999999999999999999999",
            "",
            &[400, 429],
        ),
        (
            "search by a status that is none",
            "GET",
            "/console/api/leads?status=%27%20OR%201%3D1",
            "",
            &[400, 429],
        ),
        (
            "search by an invalid channel",
            "GET",
            "/console/api/leads?channel=..%2F..%2Fetc",
            "",
            &[400, 429],
        ),
        (
            "kept of a kind that is none",
            "GET",
            "/console/api/kept?kind=..%2F..",
            "",
            &[400, 429],
        ),
        (
            "release a traversal id",
            "POST",
            "/console/api/kept/..%2F..%2Fetc%2Fpasswd/release",
            "{}",
            &[404, 429],
        ),
        (
            "release an id of SQL",
            "POST",
            "/console/api/kept/k-%27%3BDROP%20TABLE%20kept%3B--/release",
            r#"{"channel":"x"}"#,
            &[404, 429],
        ),
        (
            "release with a body of junk",
            "POST",
            "/console/api/kept/k-none/release",
            "\u{0}\u{ffff}",
            &[400, 404, 429],
        ),
        (
            "release a kept item that is none",
            "POST",
            "/console/api/kept/k-0000/release",
            "{}",
            &[404, 429],
        ),
        (
            "delete an id not UTF-8",
            "DELETE",
            "/console/api/kept/%FF%FE",
            "",
            &[404, 429],
        ),
        (
            "post to the kept list",
            "POST",
            "/console/api/kept",
            "{}",
            &[405, 429],
        ),
        (
            "put a kept item",
            "PUT",
            "/console/api/kept/k-0000",
            "{}",
            &[405, 429],
        ),
    ] {
        cases.push(with(
            case(format!("console {what}"), method, path, JSON, body, expect),
            &owner,
        ));
    }
    // A change without the console's header: a cross-site form.
    cases.push(with(
        case(
            "console release without its header",
            "POST",
            "/console/api/kept/k-0000/release",
            JSON,
            "{}",
            &[403, 429],
        ),
        &[("authorization", bearer.as_str())],
    ));
    // Without the token, or a wrong or forged one: no data.
    for (what, headers) in [
        ("no token", vec![]),
        (
            "a wrong token",
            vec![("authorization", "Bearer hostile-guess-0000000000000")],
        ),
        (
            "a forged session",
            vec![("cookie", "inlet_console=99999999999.00")],
        ),
        (
            "the token as Basic",
            vec![("authorization", "Basic aG9zdGlsZQ==")],
        ),
    ] {
        for path in [
            "/console/api/kept",
            "/console/api/leads?email=victim%40example.com",
        ] {
            cases.push(with(
                case(
                    format!("console {path} with {what}"),
                    "GET",
                    path,
                    None,
                    "",
                    &[401, 429],
                ),
                &headers,
            ));
        }
    }
    cases
}

/// The feeds of issue 23: Follow Up Boss's keyed endpoint, Zillow through SNS, XML.
fn feed_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let lead = br#"{"source":"x.example","type":"Inquiry","person":{"emails":[{"value":"a@example.com"}]}}"#;
    let with = |mut c: Case, auth: Option<String>| {
        c.headers.retain(|(k, _)| *k != "x-inlet-token");
        if let Some(a) = auth {
            c.headers.push(("authorization", a));
        }
        c
    };
    // No key, a wrong one, the key where FUB never puts it, a broken header: 401.
    for (what, auth) in [
        ("no key", None),
        ("a wrong key", Some(basic("not-the-key-at-all", ""))),
        ("the key as the password", Some(basic("", FUB_KEY))),
        ("a bearer key", Some(format!("Bearer {FUB_KEY}"))),
        ("not base64", Some("Basic %%%%".to_owned())),
        ("a huge user", Some(basic(&"k".repeat(20_000), ""))),
    ] {
        cases.push(with(
            case(
                format!("fub events {what}"),
                "POST",
                "/v1/events",
                JSON,
                lead.to_vec(),
                &[401, 431],
            ),
            auth,
        ));
    }
    for method in ["GET", "PUT", "DELETE"] {
        cases.push(case(
            format!("fub events {method}"),
            method,
            "/v1/events",
            JSON,
            lead.to_vec(),
            &[405],
        ));
    }
    // The right key with hostile bodies: refused as bodies, never a 5xx.
    for (what, body) in [
        ("not JSON", b"person=1".to_vec()),
        ("no person", br#"{"source":"x","type":"Inquiry"}"#.to_vec()),
        ("unsubscribed", br#"{"source":"x","type":"Unsubscribed","person":{"emails":[{"value":"a@example.com"}]}}"#.to_vec()),
        ("a person that is a list", br#"{"source":"x","type":"Inquiry","person":[1,2]}"#.to_vec()),
        ("emails of numbers", br#"{"source":"x","type":"Inquiry","person":{"emails":[1,2,{"value":null}]}}"#.to_vec()),
    ] {
        cases.push(with(
            case(format!("fub events {what}"), "POST", "/v1/events", JSON, body, REFUSED),
            Some(basic(FUB_KEY, "")),
        ));
    }
    cases.push(with(
        case(
            "fub events with its key",
            "POST",
            "/v1/events",
            JSON,
            lead.to_vec(),
            &[201],
        ),
        Some(basic(FUB_KEY, "")),
    ));
    // SNS envelopes: without the partner's Basic credentials nothing is fetched (401); with
    // them, a certificate or subscription URL off SNS's hosts is refused before any fetch.
    let sns = |kind: &str, cert: &str, subscribe: &str| {
        format!(
            r#"{{"Type":"{kind}","MessageId":"m","Token":"t","TopicArn":"arn:aws:sns:us-east-1:1:x","Message":"{{}}","Timestamp":"2026-12-03T00:00:00Z","SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"{cert}","SubscribeURL":"{subscribe}"}}"#
        )
    };
    let zillow = format!("/webhooks/{CHANNEL}/zillow");
    let partner = {
        let (u, p) = ZILLOW_BASIC.split_once(':').unwrap();
        basic(u, p)
    };
    for (what, body, auth, expect) in [
        (
            "no credentials",
            sns(
                "SubscriptionConfirmation",
                "https://sns.us-east-1.amazonaws.com/a.pem",
                "http://169.254.169.254/latest/meta-data/",
            ),
            None,
            &[401][..],
        ),
        (
            "a wrong password",
            sns(
                "Notification",
                "https://sns.us-east-1.amazonaws.com/a.pem",
                "",
            ),
            Some(basic("zillow-partner", "guess")),
            &[401],
        ),
        (
            "a certificate elsewhere",
            sns("Notification", "https://evil.example/cert.pem", ""),
            Some(partner.clone()),
            &[401],
        ),
        (
            "a certificate over http",
            sns(
                "Notification",
                "http://sns.us-east-1.amazonaws.com/a.pem",
                "",
            ),
            Some(partner.clone()),
            &[401],
        ),
        (
            "a host that only begins like SNS",
            sns(
                "SubscriptionConfirmation",
                "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
                "https://sns.us-east-1.amazonaws.com.evil.example/",
            ),
            Some(partner.clone()),
            &[401],
        ),
        (
            "credentials in the certificate URL",
            sns(
                "Notification",
                "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
                "",
            ),
            Some(partner.clone()),
            &[401],
        ),
        (
            "an unknown type",
            sns("Surprise", "https://evil.example/a.pem", ""),
            Some(partner.clone()),
            &[401],
        ),
    ] {
        cases.push(with(
            case(
                format!("zillow sns {what}"),
                "POST",
                zillow.clone(),
                Some("text/plain; charset=UTF-8"),
                body,
                expect,
            ),
            auth,
        ));
    }
    // XML: a bomb, an external entity, an undeclared one, depth: 400 before anything is read.
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><LeadList><Lead><Contact><Note>&c;</Note></Contact></Lead></LeadList>"#;
    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><LeadList><Lead><Contact><Email>&e;</Email></Contact></Lead></LeadList>"#;
    let deep = format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000));
    for (what, body) in [
        ("billion laughs", laughs.to_owned()),
        ("an external entity", external.to_owned()),
        (
            "an undeclared entity",
            "<LeadList><Lead><Contact><Email>&x;</Email></Contact></Lead></LeadList>".to_owned(),
        ),
        ("five thousand deep", deep),
        ("unclosed", "<LeadList><Lead>".to_owned()),
        // What costs the parser quadratic time: refused by a linear pass before it runs.
        (
            "three thousand nested namespaces",
            (0..3000)
                .map(|i| format!("<a xmlns:n{i}=\"u{i}\">"))
                .chain((0..3000).map(|_| "</a>".to_owned()))
                .collect(),
        ),
        (
            "thirty thousand attributes",
            format!(
                "<LeadList{}/>",
                (0..30_000)
                    .map(|i| format!(" a{i}=\"x\""))
                    .collect::<String>()
            ),
        ),
    ] {
        for path in [
            format!("/webhooks/{CHANNEL}"),
            format!("/webhooks/{CHANNEL}/lts"),
        ] {
            cases.push(case(
                format!("xml {what} at {path}"),
                "POST",
                path,
                Some("application/xml"),
                body.clone(),
                &[400],
            ));
        }
        // Where no sender posts XML (a form, another sender's route, Rechat's API), it is
        // not read at all, labelled or not.
        for (path, ct) in [
            (format!("/forms/{CHANNEL}"), Some("application/xml")),
            (format!("/forms/{CHANNEL}"), None),
            (format!("/webhooks/{CHANNEL}/zapier"), Some("text/xml")),
        ] {
            cases.push(case(
                format!("xml {what} at {path} ({ct:?})"),
                "POST",
                path,
                ct,
                body.clone(),
                // Or past the form's size first.
                &[413, 415],
            ));
        }
    }
    cases
}

fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap()
        / 1024.0
}

/// Connections that send a request line and then one header byte at a time, slower than
/// the server's header timeout allows, while a real lead still gets through.
fn slow_loris(addr: &str, connections: usize) -> Vec<std::net::TcpStream> {
    (0..connections)
        .filter_map(|_| {
            let mut s = std::net::TcpStream::connect(addr).ok()?;
            s.write_all(b"POST /leads/channels/x/webhook HTTP/1.1\r\nHost: x\r\nX-A: ")
                .ok()?;
            Some(s)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_end_in_documented_refusals_and_the_server_stays_up() {
    let double = RechatDouble::start().await;
    let data = data_dir("hostile");
    let serve = Serve::start_with_routing(
        double.url(),
        &data,
        &format!(
            "[senders.zapier]\nsecret = \"{SECRET}\"\n\n[senders.zillow]\nsecret = \"{ZILLOW_BASIC}\"\n\n[senders.followupboss.api_keys]\n\"{CHANNEL}\" = \"{FUB_KEY}\"\n\n[senders.meta]\nsecret = \"{META_SECRET}\"\n\n[email]\ndefault_channel = \"{CHANNEL}\"\nmailgun_signing_key = \"{MAILGUN_KEY}\"\nhttp_token = \"{MAIL_TOKEN}\"\n\n[forms.contact]\nchannel = \"{CHANNEL}\"\nredirect_hosts = [\"www.example.com\"]\n\n[console]\ntoken = \"{CONSOLE_TOKEN}\"\n"
        ),
    );
    let addr = serve.url.trim_start_matches("http://").to_owned();
    let rounds: usize = inlet_testkit::scale("INLET_HOSTILE_ROUNDS", 1);
    let cases = corpus();
    assert!(cases.len() >= 500, "{} cases", cases.len());

    // Slow-loris connections held open throughout.
    let loris = slow_loris(&addr, 200);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut wrong = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..rounds {
        for c in &cases {
            let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
            let mut request = http
                .request(method, format!("{}{}", serve.url, c.path))
                .body(c.body.clone());
            if let Some(ct) = c.content_type {
                request = request.header("content-type", ct);
            }
            for (k, v) in &c.headers {
                request = request.header(*k, v);
            }
            match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    *statuses.entry(status).or_default() += 1;
                    if !c.expect.contains(&status) {
                        let body = r.text().await.unwrap_or_default();
                        wrong.push(format!(
                            "{}: {status} (documented {:?}) {}",
                            c.what,
                            c.expect,
                            &body[..body.len().min(200)]
                        ));
                    }
                }
                // The server may close a connection on a body over the limit before reading
                // it: a clean rejection, as long as it still answers afterwards.
                Err(_) if c.expect == [413] => {
                    *statuses.entry(0).or_default() += 1;
                }
                Err(e) => wrong.push(format!("{}: no answer: {e}", c.what)),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );

    // The slow connections were cut off by the header timeout, not left hanging.
    let mut cut = 0;
    for mut s in loris {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut buf = [0u8; 256];
        // Closed (0 bytes) or answered (408) by the server; a read timeout means it held on.
        if s.read(&mut buf).is_ok() {
            cut += 1;
        }
    }
    assert_eq!(cut, 200);

    // Still up, still taking leads, memory bounded.
    let r = http
        .post(format!("{}{}", serve.url, rechat_route()))
        .json(&json!({"email": "after.hostile@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        wait_for(Duration::from_secs(60), || double
            .leads()
            .iter()
            .any(|l| l.payload["email"] == "after.hostile@example.com"))
        .await
    );
    let peak = peak_mib(serve.child.id());
    println!(
        "{} requests in {rounds} round(s), statuses {statuses:?}, peak memory {peak:.1} MiB",
        cases.len() * rounds
    );
    assert!(peak < 256.0, "peak memory {peak:.1} MiB");

    // Nothing secret or personal in the log at info level.
    let log = std::fs::read_to_string(&serve.log).unwrap();
    let leaks =
        inlet_testkit::pii::findings(&log, &[SECRET, META_SECRET, MAILGUN_KEY, CONSOLE_TOKEN]);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    for needle in [
        SECRET,
        META_SECRET,
        MAILGUN_KEY,
        CONSOLE_TOKEN,
        CHANNEL,
        "valid.hostile@example.com",
        "after.hostile@example.com",
        "victim@example.com",
        "512-555-0199",
    ] {
        assert!(!log.contains(needle), "{needle} in the log");
    }
}
