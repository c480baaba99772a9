//! The routing file's rules for reading one sender's labels (`[email.fields."<domain or
//! address>"]`), so that an operator teaches the generic reader a new template's wording
//! without a release:
//!
//! ```toml
//! [email.fields."newportal.example"]
//! "Best number to text" = "phone"
//! "Sprechen Sie" = "ignore"
//! ```
//!
//! A rule changes how a label is read, never where the mail goes nor whether it is
//! believed: whoever writes a From address can at most have their own mail's labels read
//! another way, which they could do by writing other labels.

use crate::fields::{Meaning, meaning_in};
use std::collections::BTreeMap;

/// Labels → meanings, for mail from one sender.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelRules {
    /// By `label_key`.
    by_label: BTreeMap<String, Meaning>,
}

/// A label as a rule and a message both spell it, whatever the case, spacing, punctuation or
/// script ("Best number to text:", "BEST NUMBER TO TEXT", "Téléphone", "電話").
pub(crate) fn label_key(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// No rules: every label read as the alias table says.
static NONE: LabelRules = LabelRules {
    by_label: BTreeMap::new(),
};

impl LabelRules {
    pub fn none() -> &'static LabelRules {
        &NONE
    }

    /// The meaning a rule gives `label`, if one does.
    pub fn rule(&self, label: &str) -> Option<&Meaning> {
        if self.by_label.is_empty() {
            return None;
        }
        self.by_label.get(&label_key(label))
    }

    /// What `label` means: the rule's meaning, else what the alias table or the label's own
    /// words say ("Visitor Email", "Best number to text").
    pub fn meaning(&self, label: &str) -> Meaning {
        match self.rule(label) {
            Some(m) => m.clone(),
            None => meaning_in(&[], label, false),
        }
    }

    /// Whether a rule names `label` (a label the alias table may not know).
    pub fn names(&self, label: &str) -> bool {
        self.rule(label).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.by_label.is_empty()
    }

    /// Reads one sender's table; `at` names it in errors.
    pub fn from_toml(at: &str, value: &toml::Value) -> Result<LabelRules, String> {
        let table = value.as_table().ok_or_else(|| {
            format!("{at} must map labels to fields, e.g. \"Best number to text\" = \"phone\"")
        })?;
        let mut rules = LabelRules::default();
        for (label, field) in table {
            let at = format!("{at}.{label:?}");
            let key = label_key(label);
            if key.is_empty() {
                return Err(format!("{at}: a label needs a letter or a digit"));
            }
            let name = field
                .as_str()
                .ok_or_else(|| format!("{at} must be a field name such as \"phone\""))?;
            let meaning = Meaning::from_config(name).ok_or_else(|| {
                format!(
                    "{at}: {name:?} is not a lead field Inlet knows (e.g. {})",
                    FIELD_EXAMPLES.join(", ")
                )
            })?;
            if let Some(earlier) = rules.by_label.insert(key, meaning.clone())
                && earlier != meaning
            {
                return Err(format!(
                    "{at}: another label spelled the same way is read as another field"
                ));
            }
        }
        Ok(rules)
    }
}

/// Field names a rule may give, for errors (any name the webhook senders' `fields` tables
/// take is taken).
const FIELD_EXAMPLES: &[&str] = &[
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "note",
    "tags",
    "lead_source",
    "address",
    "city",
    "state",
    "zip",
    "mls",
    "price",
    "listing_url",
    "agent_email",
    "ignore",
];

/// Every sender's rules, by lower-case address or domain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SenderLabels {
    by_sender: BTreeMap<String, LabelRules>,
}

impl SenderLabels {
    /// Reads `[email.fields]`; `at` is `email.fields`.
    pub fn from_toml(at: &str, value: &toml::Value) -> Result<SenderLabels, String> {
        let table = value
            .as_table()
            .ok_or_else(|| format!("{at} must be a table of sender = {{ label = field }}"))?;
        let mut out = SenderLabels::default();
        for (sender, rules) in table {
            let name = sender.trim().trim_start_matches('@').to_ascii_lowercase();
            let at = format!("{at}.{sender:?}");
            let domain = name.rsplit_once('@').map_or(name.as_str(), |(_, d)| d);
            if domain.is_empty()
                || !domain.contains('.')
                || name
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
            {
                return Err(format!(
                    "{at}: {sender:?} is neither a sender's address nor its domain"
                ));
            }
            out.by_sender
                .insert(name, LabelRules::from_toml(&at, rules)?);
        }
        Ok(out)
    }

    /// The rules for mail from `address`: its own, else its domain's, else the nearest parent
    /// domain's (`forms.newportal.example` takes `newportal.example`'s).
    pub fn for_sender(&self, address: &str) -> Option<&LabelRules> {
        if self.by_sender.is_empty() {
            return None;
        }
        let address = address.trim().to_ascii_lowercase();
        if let Some(rules) = self.by_sender.get(&address) {
            return Some(rules);
        }
        let mut domain = address.rsplit_once('@')?.1;
        loop {
            if let Some(rules) = self.by_sender.get(domain) {
                return Some(rules);
            }
            domain = domain.split_once('.')?.1;
            // A bare top-level name is nobody's domain.
            if !domain.contains('.') {
                return None;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_sender.is_empty()
    }

    /// The senders that have rules, for `inlet check`.
    pub fn senders(&self) -> impl Iterator<Item = &str> {
        self.by_sender.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(toml: &str) -> Result<SenderLabels, String> {
        let t: toml::Table = toml.parse().unwrap();
        SenderLabels::from_toml("email.fields", &t["fields"])
    }

    #[test]
    fn a_rule_reads_a_label_in_any_spelling_and_script() {
        let s = read(
            "[fields.\"newportal.example\"]\n\"Best number to text\" = \"phone\"\n\"電話\" = \"phone\"\n\"Téléphone portable\" = \"Phone Number\"\nSource = \"ignore\"\n",
        )
        .unwrap();
        let rules = s.for_sender("leads@newportal.example").unwrap();
        for label in [
            "Best number to text",
            "BEST NUMBER TO TEXT:",
            "best-number-to-text",
            "電話",
            "téléphone portable",
        ] {
            assert_eq!(rules.meaning(label), Meaning::Phone, "{label}");
        }
        // A rule can turn a known label off; labels without a rule read as the table says.
        assert_eq!(rules.meaning("Source"), Meaning::Ignore);
        assert_eq!(rules.meaning("Email"), Meaning::Email);
        assert!(!rules.names("Email"));
        assert_eq!(rules.meaning("Ring me on"), Meaning::Unknown);
    }

    #[test]
    fn an_address_wins_over_its_domain_and_subdomains_take_the_domains() {
        let s = read(
            "[fields.\"newportal.example\"]\nA = \"phone\"\n[fields.\"Desk@NewPortal.example\"]\nA = \"email\"\n",
        )
        .unwrap();
        let a = |from: &str| s.for_sender(from).map(|r| r.meaning("A"));
        assert_eq!(a("desk@newportal.example"), Some(Meaning::Email));
        assert_eq!(a("noreply@newportal.example"), Some(Meaning::Phone));
        assert_eq!(a("noreply@mail.newportal.example"), Some(Meaning::Phone));
        assert_eq!(a("noreply@othernewportal.example"), None);
        assert_eq!(a("noreply@example"), None);
        assert_eq!(a("not an address"), None);
    }

    #[test]
    fn unknown_fields_and_bad_senders_are_refused_by_name() {
        let err = read("[fields.\"newportal.example\"]\n\"Best number\" = \"fone\"\n").unwrap_err();
        assert!(err.contains("\"fone\" is not a lead field"), "{err}");
        assert!(err.contains("email.fields.\"newportal.example\""), "{err}");
        assert!(err.contains("phone"), "names the fields it takes: {err}");
        let err = read("[fields.newportal]\nA = \"phone\"\n").unwrap_err();
        assert!(
            err.contains("neither a sender's address nor its domain"),
            "{err}"
        );
        let err = read("[fields.\"a.example\"]\nA = 1\n").unwrap_err();
        assert!(err.contains("must be a field name"), "{err}");
        let err = read("[fields]\n\"a.example\" = \"phone\"\n").unwrap_err();
        assert!(err.contains("must map labels to fields"), "{err}");
        let err = read("[fields.\"a.example\"]\n\"::\" = \"phone\"\n").unwrap_err();
        assert!(err.contains("needs a letter"), "{err}");
        let err = read("[fields.\"a.example\"]\n\"Tel\" = \"phone\"\n\"TEL:\" = \"email\"\n")
            .unwrap_err();
        assert!(err.contains("spelled the same way"), "{err}");
    }
}
