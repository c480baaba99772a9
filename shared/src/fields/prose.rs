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
        let words: Vec<&str> = line[at..]
            .split_whitespace()
            .map(|w| w.trim_end_matches([',', '.', '!', ';']))
            .take_while(|w| {
                w.chars().next().is_some_and(char::is_uppercase)
                    && w.chars().all(|c| c.is_alphabetic() || "'-".contains(c))
            })
            .take(3)
            .collect();
        ((2..=3).contains(&words.len())).then(|| (words.join(" "), line.to_owned()))
    })
}
