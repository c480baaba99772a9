//! Quoted-printable bodies (RFC 2045 §6.7) decoded exactly as mailparse decodes them.
//!
//! mailparse hands quoted-printable parts to the `quoted_printable` crate in its robust
//! mode, which first copies the body into a `String` byte by byte (dropping bytes a
//! quoted-printable body may not hold), splits it into lines and pushes the output one byte
//! at a time: the largest single cost of reading a lead email (a sixth of the whole parse,
//! measured with `perf` over the corpus). This is the same decoding over the bytes in place,
//! finding `=` and line ends with memchr. Its answer is the crate's, byte for byte: the
//! tests compare the two on every fixture and on a hundred thousand generated bodies, so a
//! message reads the same either way.

/// The decoded bytes of a quoted-printable body, as `quoted_printable::decode` in
/// `ParseMode::Robust` returns them: soft line breaks (`=` at a line's end) joined, `=XX`
/// (either case) decoded, a malformed escape kept as written, trailing spaces and tabs of
/// each line dropped, lines ended by CRLF, and bytes outside printable ASCII, tab, CR and LF
/// dropped.
pub fn decode(input: &[u8]) -> Vec<u8> {
    let filtered;
    let input = if all_allowed(input) {
        input
    } else {
        filtered = input
            .iter()
            .copied()
            .filter(|&b| allowed(b))
            .collect::<Vec<u8>>();
        &filtered
    };
    let mut out = Vec::with_capacity(input.len());
    // Whether the line before ended with a hard break, to be written before the next line
    // (or at the very end, when the body ends with a line end).
    let mut pending_break = false;
    let mut rest = input;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = trim_end(line);
        if pending_break {
            out.extend_from_slice(b"\r\n");
        }
        pending_break = decode_line(line, &mut out);
    }
    if pending_break && input.last() == Some(&b'\n') {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One line's bytes decoded into `out`; whether a hard line break follows it (false after a
/// soft break, a lone `=` at the end).
fn decode_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let mut at = 0;
    loop {
        let Some(found) = memchr::memchr(b'=', &line[at..]) else {
            out.extend_from_slice(&line[at..]);
            return true;
        };
        let equals = at + found;
        out.extend_from_slice(&line[at..equals]);
        let (Some(&upper), lower) = (line.get(equals + 1), line.get(equals + 2)) else {
            return false;
        };
        let Some(&lower) = lower else {
            out.extend_from_slice(&[b'=', upper]);
            return true;
        };
        match (hex(upper), hex(lower)) {
            (Some(high), Some(low)) => out.push(high << 4 | low),
            _ => out.extend_from_slice(&[b'=', upper, lower]),
        }
        at = equals + 3;
    }
}

/// The bytes the robust decoder keeps: printable ASCII, tab, CR and LF.
fn allowed(b: u8) -> bool {
    matches!(b, b'\t' | b'\r' | b'\n' | b' '..=b'~')
}

/// Whether every byte is kept. Checked a block at a time without stopping early, which the
/// compiler turns into vector instructions (a byte-at-a-time `all` was most of the
/// decoder's work).
fn all_allowed(input: &[u8]) -> bool {
    input
        .chunks(64)
        .all(|block| block.iter().fold(true, |kept, &b| kept & allowed(b)))
}

/// A line without its trailing whitespace (of the bytes kept, space, tab and CR).
fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |last| last + 1);
    &line[..end]
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_decode(input: &[u8]) -> Vec<u8> {
        quoted_printable::decode(input, quoted_printable::ParseMode::Robust)
            .expect("robust mode never fails")
    }

    #[track_caller]
    fn same(input: &[u8]) {
        assert_eq!(
            decode(input),
            crate_decode(input),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn written_cases_decode_as_the_crate_does() {
        for case in [
            "",
            "\n",
            "\r\n",
            "\n\n",
            "plain",
            "plain\r\n",
            "caf=C3=A9 au lait=\r\nsoft break\r\n",
            "lower =c3=a9 case",
            "trailing spaces   \r\nand tabs\t\t\nend",
            "= at end=",
            "=\r\n=\r\n",
            "half =4",
            "half =4\r\nnext",
            "bad =ZZ escape",
            "bad =X=41 overlapping",
            "==41",
            "=3D=3d",
            "lone\rcarriage return\r",
            "only\rCR",
            "line \r\n\r\n",
            "a=\n",
            "a=\nb",
            "a =  \r\nb",
            "ends with escape=41",
            "ends with escape=41\n",
        ] {
            same(case.as_bytes());
        }
        same(b"8-bit \xc3\xa9 and \x00 controls\x7f dropped\x0b\x0c");
        same(b"\xff\n\xff");
    }

    /// Every quoted-printable part of the fixtures (and of the corpus, when it is beside the
    /// project, as it is not in CI) decodes as the crate decodes it.
    #[test]
    fn every_quoted_printable_part_decodes_as_the_crate_does() {
        let mut parts = 0;
        for raw in crate::email::sample_messages() {
            let Ok(mail) = mailparse::parse_mail(&raw) else {
                continue;
            };
            let mut stack = vec![&mail];
            while let Some(part) = stack.pop() {
                if let mailparse::body::Body::QuotedPrintable(body) = part.get_body_encoded() {
                    same(body.get_raw());
                    parts += 1;
                }
                stack.extend(&part.subparts);
            }
        }
        // website-form-quoted-printable.eml holds two; the corpus, when present, many more.
        assert!(parts >= 2, "only {parts} quoted-printable parts found");
    }

    /// Generated bodies over the bytes that matter to the decoder (escapes, hex digits in
    /// both cases, line ends in every form, trailing whitespace, bytes to drop).
    #[test]
    fn generated_bodies_decode_as_the_crate_does() {
        const ALPHABET: &[u8] = b"==aAfF09gZ \t\r\n\r\n.\x80\xff\x00";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            // xorshift64: reproducible without a dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..100_000 {
            let len = (next() % 24) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            same(&input);
        }
    }
}
