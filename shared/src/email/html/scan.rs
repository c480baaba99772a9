//! The WHATWG tokenizer's decisions that a lead reader can see, made over bytes: where text
//! runs, tags, comments and raw text begin and end, tag names, and three attributes' values.
//! Character references are decoded by htmlize, which follows the same specification.
//!
//! Written here rather than taken from a crate: html5gum (the tokenizer this replaced, kept as
//! the tests' oracle in `oracle.rs`) steps through a state machine one byte at a time and
//! hands every name and value to its emitter; an email's HTML is mostly long `style`
//! attributes and short runs between tags, and that stepping was about 30% of an email's
//! whole parse (3.5 ns a byte). Here text and quoted values are skipped with `memchr`, and
//! nothing is copied that the reader does not keep. What is not a reader's concern is left
//! out: parse errors, doctypes' contents, comments' text, the attributes of other tags.

use memchr::{memchr, memchr2, memmem};
use std::borrow::Cow;

/// What the scanner reports, in document order.
pub(super) trait Sink<'h> {
    /// Whether text reported now would be read: text inside hidden elements is neither
    /// decoded nor reported.
    fn wants_text(&self) -> bool;
    /// A run of text, character references decoded.
    fn text(&mut self, text: &str);
    /// A start tag, its name lower-cased, with the attributes a reader keeps.
    fn start_tag(&mut self, name: &[u8], attributes: &mut Attributes<'h>);
    fn end_tag(&mut self, name: &[u8]);
}

/// The attribute values a lead reader needs, decoded: `meta`'s `name` and `content`, `a`'s
/// `href`. The first of repeated attributes with a value counts, as html5gum reported them.
#[derive(Default)]
pub(super) struct Attributes<'h> {
    pub meta_name: Option<Cow<'h, str>>,
    pub meta_content: Option<Cow<'h, str>>,
    pub href: Option<Cow<'h, str>>,
}

impl<'h> Attributes<'h> {
    fn offer(&mut self, tag: &[u8], attribute: &[u8], value: &'h str) {
        let slot = match tag {
            b"meta" if attribute.eq_ignore_ascii_case(b"name") => &mut self.meta_name,
            b"meta" if attribute.eq_ignore_ascii_case(b"content") => &mut self.meta_content,
            b"a" if attribute.eq_ignore_ascii_case(b"href") => &mut self.href,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(attribute_value(value));
        }
    }
}

/// How the tokenizer reads the content of an element it has just opened.
#[derive(Clone, Copy, PartialEq)]
enum Content {
    /// Markup.
    Data,
    /// Text with character references, up to the element's end tag (`title`, `textarea`).
    RcData,
    /// Text as written, up to the element's end tag.
    RawText,
    /// Script, whose end tag does not count inside `<!-- <script>`.
    Script,
    /// Everything after it is text.
    PlainText,
}

/// The states a tree builder switches the tokenizer to after these start tags (html5gum's
/// `naive_next_state`, with the specification's `noframes` where html5gum has `noframe`).
fn content_of(tag: &[u8]) -> Content {
    match tag {
        b"textarea" | b"title" => Content::RcData,
        b"plaintext" => Content::PlainText,
        b"script" => Content::Script,
        b"style" | b"iframe" | b"xmp" | b"noembed" | b"noframes" | b"noscript" => Content::RawText,
        _ => Content::Data,
    }
}

/// Whitespace between a tag's name and attributes. The tokenizer turns every CR into LF
/// before it reads, so CR is whitespace too.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// Reads `html`, reporting to `sink`.
pub(super) fn scan<'h>(html: &'h str, sink: &mut impl Sink<'h>) {
    let b = html.as_bytes();
    let mut name = Vec::new();
    // Where looking for the next `<` resumes, and where the pending text run began: a `<`
    // that opens nothing stays in the run.
    let mut at = 0;
    let mut run = 0;
    while let Some(found) = memchr(b'<', &b[at..]) {
        let lt = at + found;
        let resume = match b.get(lt + 1) {
            Some(c) if c.is_ascii_alphabetic() => {
                text(sink, &html[run..lt], Content::Data);
                let mut attributes = Attributes::default();
                match tag(html, lt + 1, false, &mut name, &mut attributes) {
                    None => b.len(),
                    Some(after) => {
                        sink.start_tag(&name, &mut attributes);
                        match content_of(&name) {
                            Content::Data => after,
                            content => raw_content(html, after, content, &mut name, sink),
                        }
                    }
                }
            }
            Some(b'/') => match b.get(lt + 2) {
                Some(c) if c.is_ascii_alphabetic() => {
                    text(sink, &html[run..lt], Content::Data);
                    end_tag(html, lt + 2, &mut name, sink)
                }
                // `</>` is nothing at all.
                Some(b'>') => {
                    text(sink, &html[run..lt], Content::Data);
                    lt + 3
                }
                Some(_) => {
                    text(sink, &html[run..lt], Content::Data);
                    bogus_comment_end(b, lt + 2)
                }
                // `</` at the end is text.
                None => break,
            },
            Some(b'!') => {
                text(sink, &html[run..lt], Content::Data);
                if b[lt + 2..].starts_with(b"--") {
                    comment_end(b, lt)
                } else {
                    // A doctype, CDATA outside foreign content, or a bogus comment: each ends
                    // at the next `>`.
                    bogus_comment_end(b, lt + 2)
                }
            }
            Some(b'?') => {
                text(sink, &html[run..lt], Content::Data);
                bogus_comment_end(b, lt + 1)
            }
            // A `<` before anything else is text.
            _ => {
                at = lt + 1;
                continue;
            }
        };
        at = resume;
        run = resume;
    }
    text(sink, &html[run..], Content::Data);
}

/// Reports a run of text read in `content`'s way.
fn text<'h>(sink: &mut impl Sink<'h>, run: &str, content: Content) {
    if run.is_empty() || !sink.wants_text() {
        return;
    }
    // In markup a NUL is kept as it is; everywhere else it is U+FFFD.
    let run = match content {
        Content::Data => Cow::Borrowed(run),
        _ if memchr(0, run.as_bytes()).is_some() => Cow::Owned(run.replace('\0', "\u{FFFD}")),
        _ => Cow::Borrowed(run),
    };
    let decodes = matches!(content, Content::Data | Content::RcData);
    if decodes && memchr(b'&', run.as_bytes()).is_some() {
        sink.text(&htmlize::unescape(run));
    } else {
        sink.text(&run);
    }
}

/// An attribute's value as the tokenizer would give it: CR and CR LF as LF, NUL as U+FFFD,
/// character references decoded by the rules for attributes.
fn attribute_value(raw: &str) -> Cow<'_, str> {
    let value = if memchr2(b'\r', 0, raw.as_bytes()).is_some() {
        Cow::Owned(
            raw.replace("\r\n", "\n")
                .replace('\r', "\n")
                .replace('\0', "\u{FFFD}"),
        )
    } else {
        Cow::Borrowed(raw)
    };
    if memchr(b'&', value.as_bytes()).is_none() {
        return value;
    }
    match value {
        Cow::Borrowed(v) => htmlize::unescape_attribute(v),
        Cow::Owned(v) => Cow::Owned(htmlize::unescape_attribute(v.as_str()).into_owned()),
    }
}

/// A tag whose name begins at `from`: its name into `name` (lower-cased), the attributes a
/// reader keeps of a start tag into `attributes`. Where the tag ends, past its `>`; `None`
/// when the input ends inside it, and the tokenizer drops such a tag.
fn tag<'h>(
    html: &'h str,
    from: usize,
    end: bool,
    name: &mut Vec<u8>,
    attributes: &mut Attributes<'h>,
) -> Option<usize> {
    let b = html.as_bytes();
    let mut i = from;
    name.clear();
    while let Some(&c) = b.get(i) {
        match c {
            c if is_space(c) || c == b'/' || c == b'>' => break,
            0 => name.extend_from_slice("\u{FFFD}".as_bytes()),
            c => name.push(c.to_ascii_lowercase()),
        }
        i += 1;
    }
    let keeps = !end && matches!(name.as_slice(), b"meta" | b"a");
    loop {
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        match *b.get(i)? {
            b'>' => return Some(i + 1),
            // Self-closing when `>` follows; otherwise the `/` is only skipped.
            b'/' => {
                i += 1;
                if *b.get(i)? == b'>' {
                    return Some(i + 1);
                }
                continue;
            }
            _ => {}
        }
        // An attribute's name: its first character belongs to it even when it is `=`.
        let name_start = i;
        i += 1;
        while b
            .get(i)
            .is_some_and(|&c| !(is_space(c) || matches!(c, b'/' | b'>' | b'=')))
        {
            i += 1;
        }
        let attribute = &b[name_start..i];
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        // No value: whatever follows is the next attribute or the tag's end.
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        let value = match *b.get(i)? {
            quote @ (b'"' | b'\'') => {
                let start = i + 1;
                let close = start + memchr(quote, &b[start..])?;
                i = close + 1;
                start..close
            }
            // `name=>`: a missing value, and the tag ends.
            b'>' => return Some(i + 1),
            _ => {
                let start = i;
                // Ended by whitespace or `>`; at the end of the input the tag is dropped
                // where the loop looks for what follows.
                while b.get(i).is_some_and(|&c| !(is_space(c) || c == b'>')) {
                    i += 1;
                }
                start..i
            }
        };
        if keeps && !value.is_empty() {
            attributes.offer(name, attribute, &html[value]);
        }
    }
}

/// An end tag whose name begins at `from`, reported unless the input ends inside it. Where
/// reading resumes.
fn end_tag<'h>(html: &'h str, from: usize, name: &mut Vec<u8>, sink: &mut impl Sink<'h>) -> usize {
    let mut ignored = Attributes::default();
    match tag(html, from, true, name, &mut ignored) {
        Some(after) => {
            sink.end_tag(name);
            after
        }
        None => html.len(),
    }
}

/// The content of the element `name` just opened, read in `content`'s way up to its end
/// tag, which is reported too. Where reading resumes.
fn raw_content<'h>(
    html: &'h str,
    from: usize,
    content: Content,
    name: &mut Vec<u8>,
    sink: &mut impl Sink<'h>,
) -> usize {
    let b = html.as_bytes();
    let close = match content {
        Content::PlainText => None,
        Content::Script => script_end(b, from),
        _ => appropriate_end_tag(b, from, name),
    };
    let Some(lt) = close else {
        text(sink, &html[from..], content);
        return b.len();
    };
    text(sink, &html[from..lt], content);
    end_tag(html, lt + 2, name, sink)
}

/// Whether `</name` followed by whitespace, `/` or `>` begins at `lt`: the only end tag that
/// closes raw text.
fn is_end_tag_of(b: &[u8], lt: usize, name: &[u8]) -> bool {
    let start = lt + 2;
    let after = start + name.len();
    b.get(lt..start) == Some(b"</")
        && b.get(start..after)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        && b.get(after)
            .is_some_and(|&c| is_space(c) || c == b'/' || c == b'>')
}

/// Where the end tag of raw text or RCDATA opened by `name` begins.
fn appropriate_end_tag(b: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    memmem::find_iter(&b[from..], b"</")
        .map(|found| from + found)
        .find(|&lt| is_end_tag_of(b, lt, name))
}

/// Where a script's end tag begins, following the specification's script data states: inside
/// `<!--`, a `<script` makes the next `</script>` end only that, not the script.
fn script_end(b: &[u8], from: usize) -> Option<usize> {
    /// Inside `<!--` (escaped), and inside a `<script` within it (double escaped).
    #[derive(Clone, Copy, PartialEq)]
    enum Escape {
        No,
        Single,
        Double,
    }
    let letters_from = |i: usize| {
        i + b[i..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count()
    };
    // `script` followed by whitespace, `/` or `>` at `i`: where after that character.
    let script_word = |i: usize| {
        let end = letters_from(i);
        (b[i..end].eq_ignore_ascii_case(b"script")
            && b.get(end)
                .is_some_and(|&c| is_space(c) || c == b'/' || c == b'>'))
        .then_some(end + 1)
    };
    let mut escape = Escape::No;
    // Dashes just read while escaped, up to the two that let `>` end the escape.
    let mut dashes = 0;
    let mut i = from;
    while i < b.len() {
        if escape == Escape::No {
            let lt = i + memchr(b'<', &b[i..])?;
            if is_end_tag_of(b, lt, b"script") {
                return Some(lt);
            }
            if b[lt + 1..].starts_with(b"!--") {
                (escape, dashes) = (Escape::Single, 2);
                i = lt + 4;
            } else {
                i = lt + 1;
            }
            continue;
        }
        match b[i] {
            b'<' => {
                dashes = 0;
                match (escape, b.get(i + 1)) {
                    // Escaped, the script's end tag still ends it.
                    (Escape::Single, _) if is_end_tag_of(b, i, b"script") => return Some(i),
                    (Escape::Single, Some(c)) if c.is_ascii_alphabetic() => {
                        match script_word(i + 1) {
                            Some(after) => (escape, i) = (Escape::Double, after),
                            None => i = letters_from(i + 1),
                        }
                    }
                    (Escape::Double, Some(b'/')) => match script_word(i + 2) {
                        Some(after) => (escape, i) = (Escape::Single, after),
                        None => i = letters_from(i + 2),
                    },
                    _ => i += 1,
                }
            }
            b'-' => {
                dashes = (dashes + 1).min(2);
                i += 1;
            }
            b'>' if dashes == 2 => {
                escape = Escape::No;
                i += 1;
            }
            // Nothing but `-` and `<` matters here.
            _ => {
                dashes = 0;
                i += memchr2(b'-', b'<', &b[i..]).unwrap_or(b.len() - i);
            }
        }
    }
    None
}

/// Where a comment opened by the `<!--` at `lt` ends, past its close: the first `-->` (which
/// may share the opener's dashes: `<!-->` and `<!--->` are whole comments) or `--!>`.
fn comment_end(b: &[u8], lt: usize) -> usize {
    let dashes = lt + 2;
    let close = memmem::find(&b[dashes..], b"-->").map(|p| dashes + p + 3);
    let content = lt + 4;
    let limit = close.unwrap_or(b.len());
    let bang = memmem::find(&b[content.min(limit)..limit], b"--!>").map(|p| content + p + 4);
    bang.or(close).unwrap_or(b.len())
}

/// Where a bogus comment (or a doctype) whose content begins at `from` ends, past its `>`.
fn bogus_comment_end(b: &[u8], from: usize) -> usize {
    memchr(b'>', &b[from..]).map_or(b.len(), |p| from + p + 1)
}
