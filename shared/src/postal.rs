//! US postal addresses in free text (a lead's comments, an email's lines): where the street
//! is, and the city, state and ZIP after it, so that "12 Elm St, Dallas, TX 75201" is kept
//! whole rather than as its street. Written here rather than taken from a crate: the
//! address parsers published for Rust are libpostal bindings (a 2 GB model) or expect one
//! address alone, and leads hold an address inside sentences.

use crate::lead::Address;

const STREET_SUFFIXES: &[&str] = &[
    "st",
    "street",
    "ave",
    "avenue",
    "blvd",
    "boulevard",
    "pl",
    "place",
    "rd",
    "road",
    "dr",
    "drive",
    "way",
    "ln",
    "lane",
    "ct",
    "court",
    "cir",
    "circle",
    "pkwy",
    "parkway",
    "ter",
    "terrace",
    "trl",
    "trail",
    "hwy",
    "sq",
    "loop",
    "row",
];

fn is_suffix(word: &str) -> bool {
    STREET_SUFFIXES.contains(
        &word
            .trim_end_matches(['.', ','])
            .to_ascii_lowercase()
            .as_str(),
    )
}

const DIRECTIONS: &[&str] = &["n", "s", "e", "w", "ne", "nw", "se", "sw"];

/// The first line that reads as a street address ("138 Montague St #11, Brooklyn, NY"):
/// a house number, words, a street suffix (and a direction after it: "12 Elm St NW"). The
/// words after it ("… St still available?") and the unit are not the street.
pub fn street_line(text: &str) -> Option<String> {
    // Each comma-separated part of each line: "Hi, I'd like to see 12 Elm St, Dallas, TX".
    for part in text.lines().flat_map(|line| line.split(',')) {
        let street = part.trim();
        let street = street.split(" #").next().unwrap_or(street).trim();
        let all: Vec<&str> = street.split_whitespace().collect();
        // The address may follow other words ("Parkmerced / 3711 19th Ave", "I'm
        // interested in 40 Pine St"): it starts at the first house number.
        let Some(start) = all.iter().position(|w| {
            w.chars().all(|c| c.is_ascii_digit() || c == '-')
                && w.chars().next().is_some_and(|c| c.is_ascii_digit())
        }) else {
            continue;
        };
        let words = &all[start..];
        // The last suffix among the next words ("12 Court St": the street is a Court St).
        let Some(last) = (2..words.len().min(8)).rev().find(|&i| is_suffix(words[i])) else {
            continue;
        };
        let mut end = last + 1;
        if words.get(end).is_some_and(|w| {
            DIRECTIONS.contains(&w.trim_end_matches('.').to_ascii_lowercase().as_str())
        }) {
            end += 1;
        }
        return Some(
            words[..end]
                .join(" ")
                .trim_end_matches([',', '.'])
                .to_owned(),
        );
    }
    None
}

/// The two-letter codes of the states, DC and the territories.
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
];

fn is_zip(word: &str) -> bool {
    // Bytes, not chars: a word of non-ASCII letters must not be split inside a character.
    let digits = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
    match word.as_bytes() {
        five if five.len() == 5 => digits(five),
        b if b.len() == 10 => digits(&b[..5]) && b[5] == b'-' && digits(&b[6..]),
        _ => false,
    }
}

/// The first address in the text with its street and, when they follow it, the unit, city,
/// state and ZIP: "12 Elm St #4, Dallas, TX 75201" or "12 Elm St, Dallas TX". A street alone
/// is an address with only its street.
pub fn address_line(text: &str) -> Option<Address> {
    for line in text.lines().map(str::trim) {
        let Some(street) = street_line(line) else {
            continue;
        };
        // The street as read may be rebuilt from the line's words (spacing, a cut suffix):
        // only when it is there as it is does what follows it say the city and ZIP.
        let rest = line
            .find(&street)
            .map_or("", |at| &line[at + street.len()..]);
        let mut address = Address {
            street_address: Some(street.clone()),
            ..Address::default()
        };
        // "#4" or "Unit 4" right after the street, before the first comma.
        let (unit_part, after) = rest.split_once(',').unwrap_or((rest, ""));
        let unit = unit_part
            .trim()
            .trim_start_matches('#')
            .trim_start_matches("Unit ")
            .trim_start_matches("Apt ")
            .trim();
        if !unit.is_empty() && unit.split_whitespace().count() == 1 {
            address.unit_number = Some(unit.trim_end_matches(['.', ';']).to_owned());
        }
        let parts: Vec<&str> = after
            .split(',')
            .map(|p| p.trim().trim_end_matches(['.', ';', ')']))
            .filter(|p| !p.is_empty())
            .collect();
        if let Some((city, state, zip)) = city_state_zip(&parts) {
            address.city = Some(city);
            address.state_code = Some(state);
            address.postal_code = zip;
            let unit = address
                .unit_number
                .as_ref()
                .map(|u| format!(" #{u}"))
                .unwrap_or_default();
            let zip = address
                .postal_code
                .as_ref()
                .map(|z| format!(" {z}"))
                .unwrap_or_default();
            address.full_address = Some(format!(
                "{street}{unit}, {}, {}{zip}",
                address.city.as_deref().unwrap_or(""),
                address.state_code.as_deref().unwrap_or("")
            ));
        }
        return Some(address);
    }
    None
}

/// "Dallas", "TX 75201" or "Dallas TX 75201" (and "Dallas, Texas" is not read: a state is its
/// code). The city is at most four words.
fn city_state_zip(parts: &[&str]) -> Option<(String, String, Option<String>)> {
    let state_zip = |words: &[&str]| -> Option<(String, Option<String>)> {
        match words {
            [state] if STATES.contains(&state.to_ascii_uppercase().as_str()) => {
                Some((state.to_ascii_uppercase(), None))
            }
            [state, zip, ..]
                if STATES.contains(&state.to_ascii_uppercase().as_str()) && is_zip(zip) =>
            {
                Some((state.to_ascii_uppercase(), Some((*zip).to_owned())))
            }
            _ => None,
        }
    };
    let city_ok = |c: &str| {
        let n = c.split_whitespace().count();
        (1..=4).contains(&n)
            && c.chars()
                .all(|ch| ch.is_alphabetic() || " .'-".contains(ch))
    };
    match parts {
        [city, rest, ..] if city_ok(city) => {
            let words: Vec<&str> = rest
                .split_whitespace()
                .map(|w| w.trim_end_matches(['.', ';', ')', '!', '?']))
                .collect();
            state_zip(&words).map(|(s, z)| ((*city).to_owned(), s, z))
        }
        [one, ..] => {
            // "Dallas TX 75201": the state and ZIP are the last words.
            let words: Vec<&str> = one
                .split_whitespace()
                .map(|w| w.trim_end_matches(['.', ';', ')', '!', '?']))
                .collect();
            (1..words.len()).find_map(|i| {
                let city = words[..i].join(" ");
                let (s, z) = state_zip(&words[i..])?;
                (city_ok(&city) && words.len() - i <= 2).then_some((city, s, z))
            })
        }
        [] => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_check_on_multibyte_text_does_not_panic() {
        // Found by the email fuzz target: "7\u{fffd}\u{fffd}24" split inside a character.
        assert!(!is_zip("7\u{fffd}\u{fffd}24"));
        assert!(!is_zip("7520\u{e9}"));
        assert!(!is_zip("75201-12\u{e9}"));
        assert!(is_zip("75201"));
        assert!(is_zip("75201-1234"));
        assert!(!is_zip("75201-123"));
        assert!(address_line("12 Elm St, Plano, TX 7\u{fffd}\u{fffd}24").is_some());
        // Found by the fuzz target too: a street read from words whose spacing differs
        // from the line's is not found in it, and nothing after it is read.
        let a = address_line(
            "Mei is interested in 77 Walnut Ave\u{ff}\u{ff}lundi77 Walnut Ave, Plano, TX 75024",
        );
        assert!(a.is_some());
    }

    #[test]
    fn a_full_address_is_kept_whole() {
        let a = address_line("Hi, I'd like to see 12 Elm St, Dallas, TX 75201 on Friday.").unwrap();
        assert_eq!(a.street_address.as_deref(), Some("12 Elm St"));
        assert_eq!(a.city.as_deref(), Some("Dallas"));
        assert_eq!(a.state_code.as_deref(), Some("TX"));
        assert_eq!(a.postal_code.as_deref(), Some("75201"));
        assert_eq!(
            a.full_address.as_deref(),
            Some("12 Elm St, Dallas, TX 75201")
        );

        let a = address_line("4120 Cedar Springs Rd #210, Dallas TX 75219-1234").unwrap();
        assert_eq!(a.unit_number.as_deref(), Some("210"));
        assert_eq!(a.city.as_deref(), Some("Dallas"));
        assert_eq!(a.postal_code.as_deref(), Some("75219-1234"));
        assert_eq!(
            a.full_address.as_deref(),
            Some("4120 Cedar Springs Rd #210, Dallas, TX 75219-1234")
        );

        let a = address_line("About 1806 Enfield Rd, Austin, TX 78703. We move in March.").unwrap();
        assert_eq!(a.postal_code.as_deref(), Some("78703"));

        let a = address_line("88 Maple Ave, San Luis Obispo, ca").unwrap();
        assert_eq!(a.city.as_deref(), Some("San Luis Obispo"));
        assert_eq!(a.state_code.as_deref(), Some("CA"));
        assert_eq!(a.postal_code, None);
    }

    #[test]
    fn a_street_alone_and_no_address() {
        let a = address_line("Is 40 Pine St still available?").unwrap();
        assert_eq!(a.street_address.as_deref(), Some("40 Pine St"));
        assert_eq!(
            street_line("See 12 Court St NW today").as_deref(),
            Some("12 Court St NW")
        );
        assert_eq!(a.city, None);
        let a = address_line("Tour of 40 Pine St, please, at noon").unwrap();
        assert_eq!(a.street_address.as_deref(), Some("40 Pine St"));
        assert_eq!(a.city, None, "\"please\" is no state");
        assert_eq!(address_line("Call me at 214 555 0199"), None);
        assert_eq!(address_line(""), None);
    }
}
