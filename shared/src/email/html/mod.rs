//! An HTML part read in one streaming pass: its visible text, its leadmetadata.org tags, its
//! two-cell table rows and its links, all at once. `scan` finds the tokens (the WHATWG
//! tokenizer's decisions a reader can see); `Reader` here makes of them what a reader keeps.
//!
//! No document tree is built. A lead reader needs no tree: text, three attributes and the
//! edges of tables, rows and cells. Building html5ever's DOM for every HTML part and walking
//! it four times (text, meta tags, rows, links) was most of an email's parse; a single pass
//! is linear in the input, so a document nested 100,000 deep costs what a flat one does.
//! The few rules of tree construction a reader sees are kept: a cell or row start closes
//! the open one, and `</table>` closes what it holds.

#[cfg(any(test, feature = "html-oracle"))]
pub mod oracle;
mod scan;

use scan::{Attributes, Sink};

/// What a lead reader takes from an HTML part.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HtmlReading {
    /// The visible text, one block or table cell a line, whitespace collapsed.
    pub text: String,
    /// `<meta name="lead_*" content="…">` tags anywhere in the document: the name
    /// lower-cased, both trimmed.
    pub lead_metadata: Vec<(String, String)>,
    /// Table rows of exactly two non-empty cells, each cell's text (nested tables'
    /// included) on one line.
    pub two_cell_rows: Vec<(String, String)>,
    /// `href`s of the links, in order.
    pub links: Vec<String>,
}

/// Reads `html`.
pub fn read(html: &str) -> HtmlReading {
    let mut reader = Reader::default();
    scan::scan(html, &mut reader);
    reader.finish()
}

/// Elements whose content is never text a reader sees, each one the scanner reads as raw
/// text: their content arrives as one string, and the next end tag is their own. (`template`, hidden too, is not raw text and is counted instead.)
fn hidden_raw(name: &[u8]) -> bool {
    // A `match`, not a list searched: it runs for every tag.
    matches!(
        name,
        b"script" | b"style" | b"title" | b"noscript" | b"iframe" | b"noembed"
    )
}

/// Elements that begin and end a line: blocks, list items, table cells and rows.
fn line_breaking(name: &[u8]) -> bool {
    // A `match`, not a list searched: it runs for every tag.
    matches!(
        name,
        b"address"
            | b"article"
            | b"aside"
            | b"blockquote"
            | b"br"
            | b"caption"
            | b"center"
            | b"dd"
            | b"div"
            | b"dl"
            | b"dt"
            | b"fieldset"
            | b"figcaption"
            | b"figure"
            | b"footer"
            | b"form"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"header"
            | b"hr"
            | b"li"
            | b"main"
            | b"nav"
            | b"ol"
            | b"option"
            | b"p"
            | b"pre"
            | b"section"
            | b"table"
            | b"tbody"
            | b"td"
            | b"tfoot"
            | b"th"
            | b"thead"
            | b"tr"
            | b"ul"
    )
}

/// Tables nested deeper than this are read for text but not for rows: a hostile document's
/// tables cannot make a cell's text be copied once per level without bound.
const MAX_TABLE_DEPTH: usize = 64;

#[derive(Default)]
struct Row {
    /// Where the open cell's text starts in `Reader::out`.
    open_cell: Option<usize>,
    filled: usize,
    /// Where the first two filled cells' text lies in `Reader::out` (which only grows):
    /// copied out only for a row that ends with two, since a layout table's outer cells
    /// hold most of the document.
    first: std::ops::Range<usize>,
    second: std::ops::Range<usize>,
}

#[derive(Default)]
struct Table {
    row: Option<Row>,
}

#[derive(Default)]
struct Reader {
    out: String,
    /// Inside a hidden raw-text element (its end tag is the next end tag).
    hidden_raw: bool,
    templates: usize,
    tables: Vec<Table>,
    /// Tables opened past `MAX_TABLE_DEPTH`, not tracked.
    untracked_tables: usize,
    lead_metadata: Vec<(String, String)>,
    two_cell_rows: Vec<(String, String)>,
    links: Vec<String>,
}

impl Reader {
    fn start_tag(&mut self, name: &[u8], attributes: &mut Attributes) {
        match name {
            b"meta" => {
                if let (Some(n), Some(c)) = (&attributes.meta_name, &attributes.meta_content) {
                    let n = n.trim().to_ascii_lowercase();
                    if n.starts_with("lead_") && !c.trim().is_empty() {
                        self.lead_metadata.push((n, c.trim().to_owned()));
                    }
                }
            }
            b"a" => self
                .links
                .extend(attributes.href.take().map(|h| h.into_owned())),
            b"template" => self.templates += 1,
            _ => {}
        }
        if hidden_raw(name) {
            self.hidden_raw = true;
        }
        let visible = !self.hidden_raw && self.templates == 0;
        if visible && line_breaking(name) {
            self.out.push('\n');
        }
        if visible {
            match name {
                b"table" => {
                    if self.tables.len() < MAX_TABLE_DEPTH {
                        self.tables.push(Table::default());
                    } else {
                        self.untracked_tables += 1;
                    }
                }
                b"tr" if self.untracked_tables == 0 => {
                    if let Some(table) = self.tables.last_mut() {
                        let row = table.row.replace(Row::default());
                        self.finish_row(row);
                    }
                }
                b"td" | b"th" if self.untracked_tables == 0 => {
                    let start = self.out.len();
                    let out = &self.out;
                    if let Some(table) = self.tables.last_mut() {
                        // A cell outside a row gets one, as the tree builder would give it.
                        let row = table.row.get_or_insert_with(Row::default);
                        if let Some(open) = row.open_cell.replace(start) {
                            close_cell(row, out, open);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn end_tag(&mut self, name: &[u8]) {
        if self.hidden_raw {
            // The tokenizer leaves raw text only at the element's own end tag.
            self.hidden_raw = false;
            return;
        }
        if name == b"template" {
            self.templates = self.templates.saturating_sub(1);
            return;
        }
        if self.templates > 0 {
            return;
        }
        if line_breaking(name) {
            self.out.push('\n');
        }
        match name {
            b"table" => {
                if self.untracked_tables > 0 {
                    self.untracked_tables -= 1;
                } else if let Some(mut table) = self.tables.pop() {
                    let row = table.row.take();
                    self.finish_row(row);
                }
            }
            b"tr" if self.untracked_tables == 0 => {
                if let Some(row) = self.tables.last_mut().and_then(|t| t.row.take()) {
                    self.finish_row(Some(row));
                }
            }
            b"td" | b"th" if self.untracked_tables == 0 => {
                let out = &self.out;
                if let Some(row) = self.tables.last_mut().and_then(|t| t.row.as_mut())
                    && let Some(open) = row.open_cell.take()
                {
                    close_cell(row, out, open);
                }
            }
            _ => {}
        }
    }

    fn finish_row(&mut self, row: Option<Row>) {
        let Some(mut row) = row else { return };
        if let Some(open) = row.open_cell.take() {
            close_cell(&mut row, &self.out, open);
        }
        if row.filled == 2 {
            let one_line = |range: std::ops::Range<usize>| {
                self.out[range]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let pair = (one_line(row.first), one_line(row.second));
            self.two_cell_rows.push(pair);
        }
    }

    /// A run of text, whitespace collapsed to single spaces.
    fn text(&mut self, text: &str) {
        let out = &mut self.out;
        if text.starts_with(char::is_whitespace) && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
        let mut first = true;
        for word in text.split(char::is_whitespace) {
            if word.is_empty() {
                continue;
            }
            if !first {
                out.push(' ');
            }
            out.push_str(word);
            first = false;
        }
        if !first && text.ends_with(char::is_whitespace) {
            out.push(' ');
        }
    }

    fn finish(mut self) -> HtmlReading {
        // Tables left open at the end close, as at `</html>`.
        while let Some(mut table) = self.tables.pop() {
            let row = table.row.take();
            self.finish_row(row);
        }
        let mut text = String::with_capacity(self.out.len());
        for line in self.out.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push('\n');
        }
        HtmlReading {
            text,
            lead_metadata: self.lead_metadata,
            two_cell_rows: self.two_cell_rows,
            links: self.links,
        }
    }
}

impl<'h> Sink<'h> for Reader {
    fn wants_text(&self) -> bool {
        !self.hidden_raw && self.templates == 0
    }

    fn text(&mut self, text: &str) {
        Reader::text(self, text);
    }

    fn start_tag(&mut self, name: &[u8], attributes: &mut Attributes<'h>) {
        Reader::start_tag(self, name, attributes);
    }

    fn end_tag(&mut self, name: &[u8]) {
        Reader::end_tag(self, name);
    }
}

/// A cell closed, its text everything visible in `out` since `open`: counted when not
/// empty.
fn close_cell(row: &mut Row, out: &str, open: usize) {
    if out[open..].trim().is_empty() {
        return;
    }
    row.filled += 1;
    match row.filled {
        1 => row.first = open..out.len(),
        2 => row.second = open..out.len(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_blocks_are_lines_of_their_own_and_hidden_text_is_not_read() {
        let r = read(
            "<html><head><title>T</title><style>p{}</style></head><body><table><tr><td>Name</td><td> Ana <b>Silva</b></td></tr></table><p>Call&nbsp;me<br>after 5</p><script>x('<td>')</script><noscript>n</noscript><template><p>t</p></template><span>a</span><span>b</span><!-- <p>c</p> --></body></html>",
        );
        assert_eq!(r.text, "Name\nAna Silva\nCall me\nafter 5\nab\n");
        assert_eq!(r.two_cell_rows, vec![("Name".into(), "Ana Silva".into())]);
    }

    #[test]
    fn rows_are_read_as_the_tree_builder_would_close_them() {
        // Unclosed cells and rows, as older mailers write them.
        let r = read(
            "<table><tr><td>Email:<td>ana@example.com<tr><th>Phone</th><td>\n214 555 0123\n</table>",
        );
        assert_eq!(
            r.two_cell_rows,
            vec![
                ("Email:".into(), "ana@example.com".into()),
                ("Phone".into(), "214 555 0123".into())
            ]
        );
        // A row of three cells, or one that is empty, is no label and value; a nested
        // table's text belongs to its cell, and its own rows are read too.
        let r = read(
            "<table><tr><td>a</td><td>b</td><td>c</td></tr><tr><td> </td><td>x</td></tr><tr><td>Name</td><td><table><tr><td>Ana</td><td>Silva</td></tr></table></td></tr></table>",
        );
        assert_eq!(
            r.two_cell_rows,
            vec![
                ("Ana".into(), "Silva".into()),
                ("Name".into(), "Ana Silva".into())
            ]
        );
    }

    #[test]
    fn lead_metadata_and_links_are_read_anywhere() {
        let r = read(
            r#"<html><body><meta name="LEAD_NAME" content=" Ana Silva "><meta name="lead_email" content="ana@example.com" name="x"><meta name="robots" content="x"><meta name="lead_phone" content=""><p>Hi <a href="mailto:ana@example.com?subject=x&amp;y">mail</a><a>none</a><a href='tel:+12145550123'>call</a></p></body></html>"#,
        );
        assert_eq!(
            r.lead_metadata,
            vec![
                ("lead_name".into(), "Ana Silva".into()),
                ("lead_email".into(), "ana@example.com".into())
            ]
        );
        assert_eq!(
            r.links,
            vec!["mailto:ana@example.com?subject=x&y", "tel:+12145550123"]
        );
    }

    #[test]
    fn deep_nesting_is_read_in_one_linear_pass() {
        let deep = format!(
            "{}Name: Ana{}",
            "<div><table><tr><td>".repeat(50_000),
            "</td></tr></table></div>".repeat(50_000)
        );
        let r = read(&deep);
        assert_eq!(r.text, "Name: Ana\n");
        assert!(r.two_cell_rows.is_empty());
    }
}
