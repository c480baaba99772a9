//! Hostile and broken messages: each ends in a clear outcome (a lead, not a lead, or
//! rejected with a reason), without a panic. The one-second target is measured by
//! `make bench` (`--bench email`); the bound here only catches a runaway.

use inlet::email::{EmailContext, EmailSettings, Outcome, ingress, process};
use inlet::web::ChannelPolicy;
use std::time::{Duration, Instant};

const HEAD: &str = "MIME-Version: 1.0\r\nFrom: Ana Silva <ana@example.com>\r\nTo: leads@in.example.com\r\nSubject: Question\r\n";

fn outcome(raw: Vec<u8>) -> Result<Outcome, String> {
    let settings = EmailSettings {
        default_channel: Some("6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f".into()),
        ..EmailSettings::default()
    };
    let inbound = ingress::from_raw("raw", raw).map_err(|e| e.to_string())?;
    Ok(process(
        &inbound,
        &EmailContext {
            settings: &settings,
            policy: &ChannelPolicy::AnyUuid,
            normalize: Default::default(),
            verify_senders: false,
        },
    ))
}

pub fn nested_multipart(levels: usize) -> Vec<u8> {
    let mut m = String::from(HEAD);
    for i in 0..levels {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    m.push_str("Content-Type: text/plain\r\n\r\nPhone: 214 555 0123\r\n");
    for i in (0..levels).rev() {
        m.push_str(&format!("\r\n--b{i}--\r\n"));
    }
    m.into_bytes()
}

fn nested_messages(levels: usize) -> Vec<u8> {
    let mut m =
        String::from("From: z@example.net\r\nSubject: inner\r\n\r\nPhone: 214 555 0123\r\n");
    for i in 0..levels {
        m = format!(
            "Subject: Fwd: x\r\nContent-Type: multipart/mixed; boundary=q{i}\r\n\r\n--q{i}\r\nContent-Type: message/rfc822\r\n\r\n{m}\r\n--q{i}--\r\n"
        );
    }
    m.into_bytes()
}

fn many_parts(parts: usize) -> Vec<u8> {
    let mut m = format!("{HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..parts {
        m.push_str("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n");
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

fn huge_header(bytes: usize) -> Vec<u8> {
    format!(
        "{HEAD}X-Padding: {}\r\n\r\nPhone: 214 555 0123\r\n",
        "a".repeat(bytes)
    )
    .into_bytes()
}

fn check(name: &str, raw: Vec<u8>) -> Result<Outcome, String> {
    let start = Instant::now();
    let result =
        std::panic::catch_unwind(|| outcome(raw)).unwrap_or_else(|_| panic!("{name} panicked"));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{name} took {:?}",
        start.elapsed()
    );
    result
}

#[test]
fn hostile_messages_end_in_clear_outcomes() {
    // Too deep for the MIME parser: refused with its reason.
    let deep = check("1,000 levels of multipart", nested_multipart(1000));
    assert!(
        deep.as_ref().is_err_and(|e| e.contains("Recursion")),
        "{deep:?}"
    );
    // Attached messages nest without bound in the bytes; reading stops at a depth.
    assert!(matches!(
        check("20,000 nested messages", nested_messages(20_000)),
        Ok(Outcome::NotALead { .. } | Outcome::Lead(_))
    ));
    assert!(matches!(
        check("100,000 parts", many_parts(100_000)),
        Ok(Outcome::Lead(_))
    ));
    assert!(matches!(
        check("a 10 MB header", huge_header(10 * 1024 * 1024)),
        Ok(Outcome::Lead(_))
    ));
    let mut invalid =
        format!("{HEAD}Content-Type: text/plain; charset=utf-8\r\n\r\nName: Ana ").into_bytes();
    invalid.extend_from_slice(b"\xff\xfe\xc3 Silva\r\n");
    match check("invalid UTF-8", invalid) {
        Ok(Outcome::Lead(e)) => {
            let lead = serde_json::to_value(&e.steps[0]).unwrap()["lead"].clone();
            assert!(
                !lead["first_name"].as_str().unwrap().contains('\u{FFFD}'),
                "{lead}"
            );
        }
        other => panic!("{other:?}"),
    }
    let truncated = format!(
        "{HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJv"
    );
    assert!(matches!(
        check("truncated MIME", truncated.into_bytes()),
        Ok(Outcome::Lead(_))
    ));
    let deep_html = format!(
        "{HEAD}Content-Type: text/html\r\n\r\n{}Phone: 214 555 0123{}",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    assert!(matches!(
        check("HTML 200,000 elements deep", deep_html.into_bytes()),
        Ok(Outcome::Lead(_))
    ));
    assert!(check("empty", Vec::new()).is_ok());
    assert!(
        check(
            "binary noise",
            (0..65_536u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect()
        )
        .is_ok()
    );
}
