//! The oracle the scanner is held to: html5gum's WHATWG tokenizer (the reader's tokenizer
//! before `scan`), driving the same `Reader` through the emitter it used. Every document
//! below, from the corpus and fixtures' HTML to generated ones full of the tokenizer's
//! corners, must read the same both ways.

use super::scan::Attributes;
use super::{HtmlReading, Reader};
use html5gum::{Emitter, Error, State, Tokenizer, naive_next_state};
use std::borrow::Cow;
use std::convert::Infallible;

/// `html` read through html5gum.
pub fn read(html: &str) -> HtmlReading {
    let mut emitter = LeadEmitter::default();
    if let Some(token) = Tokenizer::new_with_emitter(html, &mut emitter).next() {
        match token {}
    }
    emitter.flush_text();
    emitter.reader.finish()
}

#[derive(Default)]
struct Values {
    meta_name: Option<Vec<u8>>,
    meta_content: Option<Vec<u8>>,
    href: Option<Vec<u8>>,
}

fn lossy(bytes: &Option<Vec<u8>>) -> Option<Cow<'static, str>> {
    bytes
        .as_ref()
        .map(|b| Cow::Owned(String::from_utf8_lossy(b).into_owned()))
}

#[derive(Default)]
struct LeadEmitter {
    reader: Reader,
    /// Text not yet handed to the reader: a run may arrive in several pieces, and a piece
    /// may end inside a character.
    text: Vec<u8>,
    tag: Vec<u8>,
    end_tag: bool,
    last_start_tag: Vec<u8>,
    attribute: Vec<u8>,
    attribute_value_started: bool,
    /// Where the current attribute's value goes, if anywhere.
    attribute_slot: Option<Slot>,
    attributes: Values,
}

#[derive(Clone, Copy)]
enum Slot {
    MetaName,
    MetaContent,
    Href,
}

impl LeadEmitter {
    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        if !self.reader.hidden_raw && self.reader.templates == 0 {
            // Runs of a `&str` cut at ASCII delimiters, and what entities stand for, are
            // UTF-8: checked, which is faster than the lossy conversion kept as a fallback.
            match std::str::from_utf8(&self.text) {
                Ok(text) => self.reader.text(text),
                Err(_) => self.reader.text(&String::from_utf8_lossy(&self.text)),
            }
        }
        self.text.clear();
    }

    fn slot(&mut self, slot: Slot) -> &mut Option<Vec<u8>> {
        match slot {
            Slot::MetaName => &mut self.attributes.meta_name,
            Slot::MetaContent => &mut self.attributes.meta_content,
            Slot::Href => &mut self.attributes.href,
        }
    }
}

impl Emitter for &mut LeadEmitter {
    type Token = Infallible;

    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.last_start_tag.clear();
        self.last_start_tag
            .extend_from_slice(last_start_tag.unwrap_or_default());
    }

    fn emit_eof(&mut self) {
        self.flush_text();
    }

    fn emit_error(&mut self, _: Error) {}

    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn pop_token(&mut self) -> Option<Infallible> {
        None
    }

    fn emit_string(&mut self, s: &[u8]) {
        self.text.extend_from_slice(s);
    }

    fn init_start_tag(&mut self) {
        self.flush_text();
        self.tag.clear();
        self.end_tag = false;
        self.attributes = Values::default();
        self.attribute_slot = None;
    }

    fn init_end_tag(&mut self) {
        self.flush_text();
        self.tag.clear();
        self.end_tag = true;
        self.attribute_slot = None;
    }

    fn init_comment(&mut self) {
        self.flush_text();
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        self.last_start_tag.clear();
        if self.end_tag {
            self.reader.end_tag(&self.tag);
            None
        } else {
            self.last_start_tag.extend_from_slice(&self.tag);
            let mut attributes = Attributes {
                meta_name: lossy(&self.attributes.meta_name),
                meta_content: lossy(&self.attributes.meta_content),
                href: lossy(&self.attributes.href),
            };
            self.reader.start_tag(&self.tag, &mut attributes);
            // The content of script, style, title and the like is one run of text, never
            // markup: the states a tree builder would switch the tokenizer to.
            naive_next_state(&self.tag)
        }
    }

    fn emit_current_comment(&mut self) {}

    fn emit_current_doctype(&mut self) {}

    fn set_self_closing(&mut self) {}

    fn set_force_quirks(&mut self) {}

    fn push_tag_name(&mut self, s: &[u8]) {
        self.tag.extend_from_slice(s);
    }

    fn push_comment(&mut self, _: &[u8]) {}

    fn push_doctype_name(&mut self, _: &[u8]) {}

    fn init_doctype(&mut self) {
        self.flush_text();
    }

    fn init_attribute(&mut self) {
        self.attribute.clear();
        self.attribute_value_started = false;
        self.attribute_slot = None;
    }

    fn push_attribute_name(&mut self, s: &[u8]) {
        self.attribute.extend_from_slice(s);
    }

    fn push_attribute_value(&mut self, s: &[u8]) {
        if !self.attribute_value_started {
            self.attribute_value_started = true;
            let slot = match (self.end_tag, self.tag.as_slice(), self.attribute.as_slice()) {
                (false, b"meta", b"name") => Some(Slot::MetaName),
                (false, b"meta", b"content") => Some(Slot::MetaContent),
                (false, b"a", b"href") => Some(Slot::Href),
                _ => None,
            };
            // The first of repeated attributes counts, as in a browser.
            self.attribute_slot = slot.filter(|&slot| {
                let value = self.slot(slot);
                let first = value.is_none();
                value.get_or_insert_with(Vec::new);
                first
            });
        }
        if let Some(slot) = self.attribute_slot {
            self.slot(slot)
                .get_or_insert_with(Vec::new)
                .extend_from_slice(s);
        }
    }

    fn set_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn set_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.end_tag && !self.last_start_tag.is_empty() && self.tag == self.last_start_tag
    }
}

#[cfg(test)]
mod tests {
    use super::super::read as scanned;
    use crate::email::Message;

    fn assert_same(html: &str) {
        assert_eq!(scanned(html), super::read(html), "reading {html:?}");
    }

    fn html_parts(message: &Message, out: &mut Vec<String>) {
        out.extend(message.html.clone());
        for inner in &message.attached {
            html_parts(inner, out);
        }
    }

    #[test]
    fn every_email_html_part_reads_as_html5gum_reads_it() {
        let mut parts = Vec::new();
        for raw in crate::email::sample_messages() {
            if let Ok(message) = Message::from_mime(&raw) {
                html_parts(&message, &mut parts);
            }
        }
        // The project's fixtures alone hold eight; the shared corpus, when it is beside the
        // project, many more.
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus/emails")
            .is_dir();
        let least = if corpus { 30 } else { 8 };
        assert!(parts.len() >= least, "{} HTML parts", parts.len());
        for html in &parts {
            assert_same(html);
            // Cut anywhere, as a truncated message is: every prefix at a tag's edge.
            for (cut, _) in html.match_indices(['<', '>', '"', '&']).step_by(7) {
                assert_same(&html[..cut]);
            }
        }
    }

    /// The tokenizer's corners: each alone, and then in the generated documents below.
    const CORNERS: &[&str] = &[
        "<p>Name: Ana</p>",
        "<P CLASS=x>Up</P>",
        "<br/><br /><hr/>",
        "a < b <> c <3 d <",
        "</>",
        "</ p>",
        "</1>text",
        "</p foo=\"a>b\">after",
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"x>y\">",
        "<!doctype>",
        "<!-->",
        "<!--->",
        "<!---->",
        "<!-- a -- b -->",
        "<!-- a --!> b",
        "<!--!> still comment -->",
        "<!---!> still -->",
        "<!----!>",
        "<!-- <!-- nested --> after",
        "<!-- <!--!> done",
        "<!-- x --!-->",
        "<!-",
        "<!",
        "<![CDATA[ x > y ]]>",
        "<?xml version=\"1.0\"?>",
        "<!x>",
        "<!--[if mso]><table><tr><td><![endif]-->",
        "&amp; &lt;b&gt; &nbsp;&nbsp; &copy &notit; &notin; &#39; &#x27; &#150; &#0; &#x110000; &#xD800; &#; &#x; &; &unknown; AT&T",
        "&ampx &amp",
        "<a href=\"mailto:ana@example.com?subject=a&amp;b\">m</a>",
        "<a href='tel:+12145550123'>t</a>",
        "<a href=https://example.com/?a=1&b=2&copy=3>u</a>",
        "<a href=\"x&notit;\" href=\"second\">h</a>",
        "<a href=\"\" href=\"second\">h</a>",
        "<a href href=\"after-empty\">h</a>",
        "<A HREF=\"UPPER\">h</A>",
        "<a href=\"line\r\nbreak\rcr\">h</a>",
        "<a href=\"nul\0here\">h</a>",
        "<a href = \"spaced\" >h</a>",
        "<a href=>missing</a>",
        "<a ==x href=y>eq</a>",
        "<a \"q=1 href=z>q</a>",
        "<a href=\"a\"href=\"b\">no space</a>",
        "<a/href=\"slash\">s</a>",
        "<meta name=\"LEAD_NAME\" content=\" Ana Silva \">",
        "<meta content=\"ana@example.com\" name=\"lead_email\">",
        "<meta name=lead_phone content=2145550123>",
        "<meta name=\"lead_x\" content=\"\" content=\"y\">",
        "<meta name=\"robots\" content=\"noindex\">",
        "<meta name=\"lead_message\" content=\"a &amp; b &lt; c\">",
        "<table><tr><td>Email:<td>ana@example.com<tr><th>Phone</th><td>214 555 0123</table>",
        "<table><tr><td>a</td><td>b</td><td>c</td></tr></table>",
        "<td>orphan</td><td>cells</td>",
        "<tr><td>Name</td><td>Ana</td></tr>",
        "</table></tr></td>",
        "<style>p{color:red} </style >x</style>",
        "<style>a</STYLE>b",
        "<style>a</stylex>b</style>c",
        "<style>a</style\0>b</style>c",
        "<title>T &amp; t</title>",
        "<textarea>Ana &amp; Bo\0 <b>not bold</b></textarea>",
        "<textarea>unclosed &amp;",
        "<xmp><b>raw</b> &amp;</xmp>",
        "<iframe>hidden</iframe>",
        "<noembed>hidden</noembed>",
        "<noscript><p>n</p></noscript>",
        "<plaintext><p>all &amp; text</p>",
        "<script>x('<td>')</script>",
        "<script><!-- a --></script>after",
        "<script><!-- <script>x</script> y --></script>after",
        "<script><!-- <script>x</script> y</script>after",
        "<script><!--<script></script>--></script>z",
        "<script><!-- <SCRIPT/> </script>w",
        "<script><!--- -> </script>v",
        "<script><!-- --> </script>u",
        "<script><!-- <scriptx> </script>t",
        "<script><!-- <script> </scripty> -- > --> </script>s",
        "<script><!-- <script> -</script> --></script>r",
        "<script><!-- <script> <!-- </script> --> </script>q",
        "<script>unclosed",
        "<template><p>t</p></template>seen",
        "<template><template>a</template>b</template>c",
        "<div>a</div><span>b</span>c<p>d",
        "  lead  \n\t spaces \x0C <b> bold </b> \r\n end ",
        "text\0nul",
        "<p\0x>nul name</p\0x>",
        "<p",
        "<p class=\"unclosed",
        "<p class=unclosed",
        "<p class=",
        "<p class",
        "<p /",
        "<a href=\"x\"",
        "<a href=unquoted-to-the-end",
        "<meta name=lead_name content=Ana",
        "</p",
        "<p>caf\u{e9} \u{1F4CC} \u{feff}</p>",
        "<a\x0Chref=\"ff\"\x0C>form feed</a\x0C>",
        "<style>x</style\x0C>y",
        "<xmp>a\0b</xmp><plaintext>c\0d",
        "<textarea>e\0f</textarea>",
        "<h1>Title</h1><ul><li>one<li>two</ul>",
    ];

    #[test]
    fn the_tokenizers_corners_read_as_html5gum_reads_them() {
        for corner in CORNERS {
            assert_same(corner);
            for cut in 0..=corner.len() {
                if corner.is_char_boundary(cut) {
                    assert_same(&corner[..cut]);
                }
            }
        }
    }

    #[test]
    fn generated_documents_read_as_html5gum_reads_them() {
        // A fixed xorshift sequence: the same documents every run.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: Vec<&str> = CORNERS
            .iter()
            .copied()
            .chain([
                "<",
                ">",
                "</",
                "<!--",
                "-->",
                "--",
                "-",
                "&",
                ";",
                "\"",
                "'",
                "=",
                "/",
                " ",
                "\r\n",
                "\0",
                "<td>",
                "</td>",
                "<tr>",
                "<table>",
                "</table>",
                "<script>",
                "</script>",
                "<style>",
                "</style>",
                "<textarea>",
                "</textarea>",
                "<a href=",
                "<meta name=lead_name content=",
                "Ana",
                "x",
                "&amp",
                "&#",
                "<!",
                "<?",
                "é",
            ])
            .collect();
        for _ in 0..20_000 {
            let mut html = String::new();
            for _ in 0..1 + next() % 12 {
                html.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            assert_same(&html);
        }
    }
}
