//! The scan every proof run makes of the logs it produced: Inlet's logs mask lead channels,
//! emails and phones at info level and never print a secret, so any of these found whole is
//! a leak.

use regex::Regex;
use std::sync::OnceLock;

/// What in `log` is a whole UUID, email address, phone number or one of `secrets`; each
/// finding with its line number.
pub fn findings(log: &str, secrets: &[&str]) -> Vec<String> {
    static PATTERNS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let patterns =
        PATTERNS.get_or_init(|| {
            [
            (
                "channel or lead id",
                r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            ),
            // A masked address keeps one character and an ellipsis before the `@`.
            ("email", r"[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+"),
            ("phone", r"\+\d{10,15}\b|\b\d{3}[-. ]\d{3}[-. ]\d{4}\b|\(\d{3}\) ?\d{3}-\d{4}"),
        ]
        .into_iter()
        .map(|(what, p)| (what, Regex::new(p).unwrap()))
        .collect()
        });
    // The Lambda runtime's own span names each invocation by a UUID: not personal.
    static REQUEST_ID: OnceLock<Regex> = OnceLock::new();
    let request_id = REQUEST_ID.get_or_init(|| Regex::new(r#""requestId":"[^"]*""#).unwrap());
    let mut found = Vec::new();
    for (n, line) in log.lines().enumerate() {
        let line = request_id.replace_all(line, r#""requestId":"""#);
        for (what, re) in patterns {
            if let Some(m) = re.find(&line) {
                found.push(format!("line {}: {what} {:?}", n + 1, m.as_str()));
            }
        }
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            if line.contains(*s) {
                found.push(format!("line {}: a secret", n + 1));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_whole_values_and_passes_masked_ones() {
        let masked = r#"{"channel":"55f5…745f","email":"a…@example.com","phone":"…0123","at":"2026-11-21T17:14:00.903529Z","envelope":"e-1234567890abcdef","spans":[{"requestId":"bb1233db-e72f-4202-b499-1ebd54b2f6c4"}]}"#;
        assert!(super::findings(masked, &["s3cret"]).is_empty());
        for leak in [
            "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
            "ana.silva@example.com",
            "+12145550123",
            "214-555-0123",
            "(214) 555-0123",
            "token=s3cret",
        ] {
            assert_eq!(
                super::findings(leak, &["s3cret"]).len(),
                1,
                "{leak} not found"
            );
        }
    }
}
