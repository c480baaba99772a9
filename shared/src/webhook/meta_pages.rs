//! Meta's pages and forms as the routing file names them (`[senders.meta.reconcile]`): the
//! lead channel, agents and tags each page's (or form's) leads go to, the page token that
//! reads them, and how often reconciliation asks Meta for every lead a form received. The
//! webhook path routes a `leadgen` notification by the same table, so that a lead reaches the
//! same channel, with the same envelope id, whichever way it comes.

use crate::lead::Assignee;
use crate::settings;
use std::time::Duration;

/// `[senders.meta.reconcile]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaReconcile {
    /// How often `inlet serve` runs a pass (the stack's schedule is its own parameter).
    pub every: Duration,
    /// How far before the last successful run each pass looks again: Meta may list a lead
    /// some minutes after it was created.
    pub overlap: Duration,
    pub pages: Vec<MetaPage>,
}

/// One page: its token, where its leads go, and the forms to reconcile (every form of the
/// page when none is named).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaPage {
    pub id: String,
    /// `None`: the page token of the stack's Meta secret (`meta_page_token:<page id>`, else
    /// `meta_page_token`), or `INLET_META_PAGE_TOKEN`.
    pub token: Option<PageToken>,
    pub route: MetaRoute,
    pub forms: Vec<MetaForm>,
}

/// A form named under its page, with its own route (what it does not say, the page's).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaForm {
    pub id: String,
    pub route: MetaRoute,
}

/// Where a page's or form's leads go.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaRoute {
    /// A lead channel, canonical (lower-case, hyphenated).
    pub channel: String,
    pub assignees: Vec<Assignee>,
    pub tags: Vec<String>,
}

/// A page token as the routing file writes it: a literal, or `env:NAME`, read when a token
/// is needed, so that a function that never reads leads (the webhook function) starts
/// without it. Its `Debug` shows no token.
#[derive(Clone, PartialEq)]
pub struct PageToken(String);

impl std::fmt::Debug for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.strip_prefix("env:") {
            Some(var) => write!(f, "PageToken(env:{var})"),
            None => f.write_str("PageToken(…)"),
        }
    }
}

impl PageToken {
    pub fn new(spec: impl Into<String>) -> PageToken {
        PageToken(spec.into())
    }

    /// The token, read from the environment when written `env:NAME`.
    pub fn resolve(&self, at: &str) -> Result<String, String> {
        let token = settings::resolve_secret(at, &self.0)?;
        if token.trim().is_empty() {
            return Err(format!("{at} is empty"));
        }
        Ok(token.trim().to_owned())
    }
}

/// Where an unresolved page token's `env:` error is reported (`settings::missing_secrets`
/// leaves these to whoever reads the token).
pub fn is_token_path(at: &str) -> bool {
    at.starts_with("senders.meta.reconcile.pages[") && at.contains("].token")
}

/// The default pass interval and look-back overlap.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(60 * 60);

/// A Graph object id (page, form, lead): digits as Meta makes them, or at least nothing that
/// could change the URL it is put in.
pub fn is_graph_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl MetaReconcile {
    /// Reads `[senders.meta.reconcile]` (at `at`).
    pub fn from_toml(at: &str, value: &toml::Value) -> settings::Setting<MetaReconcile> {
        let table = settings::table(at, value)?;
        settings::known_keys(at, table, &["every_minutes", "overlap_minutes", "pages"])?;
        let minutes = |key: &str, default: Duration, max: i64| -> settings::Setting<Duration> {
            match table.get(key) {
                None => Ok(default),
                Some(v) => match v.as_integer() {
                    Some(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n as u64 * 60)),
                    _ => Err(format!(
                        "{at}.{key} must be a whole number of minutes from 1 to {max}"
                    )),
                },
            }
        };
        let every = minutes("every_minutes", DEFAULT_EVERY, 1440)?;
        let overlap = minutes("overlap_minutes", DEFAULT_OVERLAP, 7 * 1440)?;
        let pages = table
            .get("pages")
            .ok_or_else(|| format!("{at}.pages must list the pages to reconcile"))?
            .as_array()
            .ok_or_else(|| format!("{at}.pages must be a list of {{ id, channel, … }}"))?;
        let mut read = Vec::with_capacity(pages.len());
        for (i, page) in pages.iter().enumerate() {
            read.push(MetaPage::from_toml(&format!("{at}.pages[{i}]"), page)?);
        }
        if read.is_empty() {
            return Err(format!("{at}.pages must list the pages to reconcile"));
        }
        let mut forms = std::collections::BTreeSet::new();
        for (i, page) in read.iter().enumerate() {
            if read[..i].iter().any(|p| p.id == page.id) {
                return Err(format!("{at}: page {} is listed twice", page.id));
            }
            for form in &page.forms {
                if !forms.insert(form.id.clone()) {
                    return Err(format!("{at}: form {} is listed twice", form.id));
                }
            }
        }
        Ok(MetaReconcile {
            every,
            overlap,
            pages: read,
        })
    }

    /// Where a lead of `page_id` and `form_id` goes: the form's route when the form is
    /// named, else its page's; `None` for a page not listed.
    pub fn route(&self, page_id: Option<&str>, form_id: Option<&str>) -> Option<&MetaRoute> {
        if let Some(form_id) = form_id {
            let form = self
                .pages
                .iter()
                .flat_map(|p| &p.forms)
                .find(|f| f.id == form_id);
            if let Some(form) = form {
                return Some(&form.route);
            }
        }
        let page_id = page_id?;
        self.pages
            .iter()
            .find(|p| p.id == page_id)
            .map(|p| &p.route)
    }

    /// Every lead channel the table routes to.
    pub fn channels(&self) -> impl Iterator<Item = (String, &str)> {
        self.pages.iter().enumerate().flat_map(|(i, p)| {
            std::iter::once((format!("pages[{i}]"), p.route.channel.as_str())).chain(
                p.forms.iter().enumerate().map(move |(j, f)| {
                    (format!("pages[{i}].forms[{j}]"), f.route.channel.as_str())
                }),
            )
        })
    }
}

impl MetaPage {
    fn from_toml(at: &str, value: &toml::Value) -> settings::Setting<MetaPage> {
        let table = settings::table(at, value)?;
        settings::known_keys(
            at,
            table,
            &["id", "token", "channel", "assignees", "tags", "forms"],
        )?;
        let id = graph_id(at, table.get("id"))?;
        let token = table
            .get("token")
            .map(|t| settings::string(&format!("{at}.token"), t).map(PageToken::new))
            .transpose()?;
        let route = MetaRoute::from_table(at, table, None)?.ok_or_else(|| {
            format!("{at}.channel must name the lead channel the page's leads go to")
        })?;
        let mut forms = Vec::new();
        if let Some(list) = table.get("forms") {
            let list = list
                .as_array()
                .ok_or_else(|| format!("{at}.forms must be a list of form ids or {{ id, … }}"))?;
            for (j, form) in list.iter().enumerate() {
                let at = format!("{at}.forms[{j}]");
                forms.push(match form {
                    toml::Value::Table(t) => {
                        settings::known_keys(&at, t, &["id", "channel", "assignees", "tags"])?;
                        MetaForm {
                            id: graph_id(&at, t.get("id"))?,
                            route: MetaRoute::from_table(&at, t, Some(&route))?
                                .unwrap_or_else(|| route.clone()),
                        }
                    }
                    other => MetaForm {
                        id: graph_id(&at, Some(other))?,
                        route: route.clone(),
                    },
                });
            }
        }
        Ok(MetaPage {
            id,
            token,
            route,
            forms,
        })
    }
}

impl MetaRoute {
    /// The route a table gives, what it leaves out taken from `inherit`; `None` when it
    /// names no channel and there is nothing to inherit.
    fn from_table(
        at: &str,
        table: &toml::Table,
        inherit: Option<&MetaRoute>,
    ) -> settings::Setting<Option<MetaRoute>> {
        let channel = match table.get("channel") {
            Some(v) => {
                let text = settings::string(&format!("{at}.channel"), v)?;
                let canonical = uuid::Uuid::parse_str(text.trim())
                    .map_err(|_| format!("{at}.channel must be a lead channel (a UUID)"))?;
                canonical.hyphenated().to_string()
            }
            None => match inherit {
                Some(route) => route.channel.clone(),
                None => return Ok(None),
            },
        };
        let assignees = match table.get("assignees") {
            Some(v) => settings::assignees(&format!("{at}.assignees"), v)?,
            None => inherit.map(|r| r.assignees.clone()).unwrap_or_default(),
        };
        let tags = match table.get("tags") {
            Some(v) => settings::strings(&format!("{at}.tags"), v)?,
            None => inherit.map(|r| r.tags.clone()).unwrap_or_default(),
        };
        Ok(Some(MetaRoute {
            channel,
            assignees,
            tags,
        }))
    }
}

/// An id given as a string or a number (Meta's ids are numbers too long for some readers).
fn graph_id(at: &str, value: Option<&toml::Value>) -> settings::Setting<String> {
    let id = match value {
        Some(toml::Value::String(s)) => s.trim().to_owned(),
        Some(toml::Value::Integer(n)) if *n > 0 => n.to_string(),
        Some(_) => return Err(format!("{at}.id must be a Graph id such as \"1234567890\"")),
        None => return Err(format!("{at}.id must name the page or form (its Graph id)")),
    };
    if !is_graph_id(&id) {
        return Err(format!("{at}.id {id:?} is not a Graph id"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "00000000-0000-4000-8000-00000000000a";
    const B: &str = "00000000-0000-4000-8000-00000000000b";

    fn read(text: &str) -> settings::Setting<MetaReconcile> {
        let t: toml::Table = text.parse().unwrap();
        MetaReconcile::from_toml("senders.meta.reconcile", &toml::Value::Table(t))
    }

    #[test]
    fn pages_and_forms_route_with_what_they_do_not_say_taken_from_the_page() {
        let r = read(&format!(
            "every_minutes = 30\npages = [{{ id = \"111\", token = \"env:T\", channel = \"{}\", tags = [\"FB\"], assignees = [{{ email = \"desk@example.com\" }}], forms = [\"201\", {{ id = 202, channel = \"{B}\", tags = [\"Sellers\"] }}] }}, {{ id = 112, channel = \"{B}\" }}]",
            A.to_uppercase()
        ))
        .unwrap();
        assert_eq!(r.every, Duration::from_secs(1800));
        assert_eq!(r.overlap, DEFAULT_OVERLAP);
        assert_eq!(r.pages[0].route.channel, A);
        assert_eq!(r.route(Some("111"), Some("201")).unwrap().tags, ["FB"]);
        let seller = r.route(Some("111"), Some("202")).unwrap();
        assert_eq!(
            (seller.channel.as_str(), seller.tags.as_slice()),
            (B, &["Sellers".to_owned()][..])
        );
        assert_eq!(
            seller.assignees[0].email.as_deref(),
            Some("desk@example.com")
        );
        // A form not named routes as its page; a page not listed is not routed.
        assert_eq!(r.route(Some("111"), Some("999")).unwrap().channel, A);
        assert_eq!(r.route(Some("112"), None).unwrap().channel, B);
        assert!(r.route(Some("113"), Some("999")).is_none());
        assert!(r.route(None, None).is_none());
        assert_eq!(format!("{:?}", r.pages[0].token), "Some(PageToken(env:T))");
    }

    #[test]
    fn a_page_token_is_never_shown_and_read_only_when_needed() {
        let literal = PageToken::new("EAAB-secret-token");
        assert!(!format!("{literal:?}").contains("secret"));
        assert_eq!(literal.resolve("x").unwrap(), "EAAB-secret-token");
        let missing = PageToken::new("env:INLET_META_PAGES_TEST_UNSET");
        assert!(
            missing
                .resolve("senders.meta.reconcile.pages[0].token")
                .unwrap_err()
                .contains("INLET_META_PAGES_TEST_UNSET")
        );
        assert!(is_token_path("senders.meta.reconcile.pages[3].token"));
        assert!(!is_token_path("senders.meta.secret"));
    }

    #[test]
    fn mistakes_are_refused_naming_where() {
        for (text, says) in [
            ("pages = []", "must list the pages"),
            (
                "every_minutes = 0\npages = [{ id = \"1\", channel = \"x\" }]",
                "every_minutes",
            ),
            ("pages = [{ id = \"1\" }]", "pages[0].channel must name"),
            (
                &format!("pages = [{{ id = \"1/../me\", channel = \"{A}\" }}]"),
                "is not a Graph id",
            ),
            (
                "pages = [{ id = \"1\", channel = \"not-a-uuid\" }]",
                "pages[0].channel must be a lead channel",
            ),
            (
                &format!("pages = [{{ id = \"1\", chanel = \"{A}\" }}]"),
                "pages[0].chanel is not a known setting",
            ),
            (
                &format!(
                    "pages = [{{ id = \"1\", channel = \"{A}\" }}, {{ id = \"1\", channel = \"{A}\" }}]"
                ),
                "page 1 is listed twice",
            ),
            (
                &format!(
                    "pages = [{{ id = \"1\", channel = \"{A}\", forms = [\"5\"] }}, {{ id = \"2\", channel = \"{A}\", forms = [5] }}]"
                ),
                "form 5 is listed twice",
            ),
            (
                &format!(
                    "pages = [{{ id = \"1\", channel = \"{A}\", forms = [{{ id = \"5\", tag = [] }}] }}]"
                ),
                "forms[0].tag is not a known setting",
            ),
            (
                &format!("every = 5\npages = [{{ id = \"1\", channel = \"{A}\" }}]"),
                "reconcile.every is not a known setting",
            ),
        ] {
            let e = read(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
