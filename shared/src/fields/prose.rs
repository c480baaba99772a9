//! A person's own words, read for what they say of the person: "This is Tom Reyes", "my
//! cell is 469-555-0177", an address written in a sentence. Mail and conversations (a text,
//! a chat, a call's transcription) are read alike.

use regex::Regex;
use std::sync::LazyLock;

/// A North American number inside a sentence ("My cell is 469-555-0177.").
pub static SENTENCE_PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+?1[-. ]?)?\(?\b[2-9]\d{2}\)?[-. ]\d{3}[-. ]\d{4}\b").expect("valid pattern")
});

/// An email address inside a sentence ("reach me at ana@example.com.").
pub static SENTENCE_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("valid pattern")
});

/// A number written with its country code inside a sentence ("+44 20 7946 0958").
static SENTENCE_INTERNATIONAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+\d[\d ().-]{8,17}\d").expect("valid pattern"));

/// The first phone number written in `text`.
pub fn phone_in(text: &str) -> Option<String> {
    SENTENCE_PHONE
        .find(text)
        .or_else(|| SENTENCE_INTERNATIONAL.find(text))
        .map(|m| m.as_str().to_owned())
}

/// The number a notice says a call, text or voicemail came from ("You received a call from
/// 704-555-0148 on Tuesday", "Missed call from (303) 555-0101", "Caller: …"): the caller's,
/// where a bare number in the same notice may be the office's.
pub fn caller_phone(text: &str) -> Option<String> {
    static CALLER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:(?:call|calls|text|texts|message|voicemail|sms)\s+(?:was\s+)?from|called\s+(?:you\s+)?from|caller(?:'s)?(?:\s+(?:number|phone|id))?\s*[:#-]?)\s*")
            .expect("valid pattern")
    });
    CALLER.find_iter(text).find_map(|m| {
        let after = &text[m.end()..];
        // The number right after the words, not one further down the notice.
        let head: String = after.chars().take(40).collect();
        phone_in(&head).filter(|p| {
            head.trim_start()
                .starts_with(p.chars().next().unwrap_or(' '))
        })
    })
}

/// The first email address written in `text`.
pub fn email_in(text: &str) -> Option<String> {
    SENTENCE_EMAIL
        .find(text)
        .map(|m| m.as_str().trim_end_matches('.').to_owned())
        .filter(|e| crate::normalize::email(e).is_ok())
}

/// A person who introduces themselves ("Hi, my name is Maria Lopez and …", "This is Tom
/// Reyes."): the name, and the line it is in.
pub fn greeting_name(text: &str) -> Option<(String, String)> {
    text.lines().map(str::trim).find_map(|line| {
        // ASCII only: the markers are, and its offsets must be the line's own (a full
        // lowercasing changes some characters' length: 'İ' becomes three bytes).
        let lower = line.to_ascii_lowercase();
        let at = ["my name is ", "this is "]
            .iter()
            .filter_map(|m| lower.find(m).map(|i| i + m.len()))
            .min()?;
        // The name ends at its punctuation ("This is Ana Silva, I saw…"): "I" is no surname.
        let mut words: Vec<&str> = Vec::new();
        for raw in line[at..].split_whitespace().take(3) {
            let w = raw.trim_end_matches([',', '.', '!', ';', ':']);
            if w == "I"
                || !w.chars().next().is_some_and(char::is_uppercase)
                || !w.chars().all(|c| c.is_alphabetic() || "'-".contains(c))
            {
                break;
            }
            words.push(w);
            if w.len() != raw.len() {
                break;
            }
        }
        ((2..=3).contains(&words.len())).then(|| (words.join(" "), line.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_number_is_the_one_the_call_came_from() {
        for (text, want) in [
            (
                "You received a call from 303-555-0101 on Tuesday. Our office: 303-555-0100",
                Some("303-555-0101"),
            ),
            ("Missed call from (720) 555-0190", Some("(720) 555-0190")),
            (
                "Caller ID: 617.555.0144\nOffice: 617-555-0100",
                Some("617.555.0144"),
            ),
            (
                "New text message from +1 512 555 0107: hi",
                Some("+1 512 555 0107"),
            ),
            // A number far below the words is not the caller's.
            (
                "You have a call from a renter.\n\n\n\n\nSupport: 800-555-0100",
                None,
            ),
            ("Questions? Call us at 800-555-0142", None),
        ] {
            assert_eq!(caller_phone(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn a_name_in_a_greeting_ends_at_its_punctuation() {
        for (text, want) in [
            (
                "Hi, this is Nadia Haddad, I saw the sign",
                Some("Nadia Haddad"),
            ),
            ("This is Tom Reyes. I'd like a tour", Some("Tom Reyes")),
            ("My name is Ana Maria Silva and I", Some("Ana Maria Silva")),
            ("this is Omar I think", None),
        ] {
            assert_eq!(
                greeting_name(text).map(|(n, _)| n).as_deref(),
                want,
                "{text}"
            );
        }
    }
}
