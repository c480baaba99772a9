//! Masking for logs: channel ids, lead ids, emails and phones never appear whole at info level.

/// `55f5d0b8-…-745f` → `55f5…745f`: enough to tell two apart, not enough to use.
pub fn id(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 8 {
        return "…".repeat(chars.len().min(1));
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// A form target from a URL: a lead channel (a UUID) masked as [`id`]; a form's name, which
/// the operator chose for the routing file, as it is.
pub fn form_target(value: &str) -> String {
    if uuid::Uuid::parse_str(value).is_ok() {
        id(value)
    } else {
        value.to_owned()
    }
}

/// `ana.silva@example.com` → `a…@example.com`.
pub fn email(value: &str) -> String {
    match value.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".into(),
    }
}

/// `+12145550123` → `…0123`.
pub fn phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_keep_too_little_to_use() {
        assert_eq!(
            super::id("55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f"),
            "55f5…745f"
        );
        assert_eq!(super::id("short"), "…");
        assert_eq!(super::email("ana.silva@example.com"), "a…@example.com");
        assert_eq!(super::phone("+12145550123"), "…0123");
        assert_eq!(
            super::form_target("55F5D0B8-3F4E-4B8E-9D6A-0C1B2A3D745F"),
            "55F5…745F"
        );
        assert_eq!(super::form_target("contact"), "contact");
    }
}
