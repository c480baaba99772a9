//! Reading a part of the routing file (TOML): each source reads its own table with these, so
//! that every setting's error names its key's path (`senders.zapier.tags must be a list of
//! strings`), and a secret written `env:NAME` is read from the environment in one place.

use crate::lead::Assignee;

/// A setting's value, or why it cannot be used.
pub type Setting<T> = Result<T, String>;

/// A secret: a literal, or `env:NAME` to read it from the environment instead of the file
/// (the file may then be shared without its secrets).
pub fn secret(at: &str, value: &toml::Value) -> Setting<String> {
    resolve_secret(at, &string(at, value)?)
}

/// `env:NAME` read from the environment; anything else as written.
pub fn resolve_secret(at: &str, raw: &str) -> Setting<String> {
    match raw.strip_prefix("env:") {
        Some(var) => {
            std::env::var(var).map_err(|_| format!("{at}: environment variable {var} is not set"))
        }
        None => Ok(raw.to_owned()),
    }
}

pub fn string(at: &str, value: &toml::Value) -> Setting<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{at} must be a string"))
}

pub fn flag(at: &str, value: &toml::Value) -> Setting<bool> {
    value
        .as_bool()
        .ok_or_else(|| format!("{at} must be true or false"))
}

pub fn strings(at: &str, value: &toml::Value) -> Setting<Vec<String>> {
    let wrong = || format!("{at} must be a list of strings");
    value
        .as_array()
        .ok_or_else(wrong)?
        .iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
        .collect()
}

pub fn table<'a>(at: &str, value: &'a toml::Value) -> Setting<&'a toml::Table> {
    value
        .as_table()
        .ok_or_else(|| format!("{at} must be a table"))
}

/// Refuses a key the table may not hold: a typo must not fall back to a default silently.
pub fn known_keys(at: &str, table: &toml::Table, known: &[&str]) -> Setting<()> {
    match table.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(format!(
            "{at}.{key} is not a known setting{} (one of: {})",
            suggestion(key, known.iter().copied()),
            known.join(", ")
        )),
    }
}

/// Every `env:NAME` in the routing file whose variable is not set, with where it is: all of
/// them, so that a deployer fixes them in one go.
pub fn missing_secrets(table: &toml::Table) -> Vec<String> {
    fn walk(at: &str, value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::String(s) => {
                if let Some(var) = s.strip_prefix("env:")
                    && std::env::var_os(var).is_none()
                {
                    out.push(format!("{at}: environment variable {var} is not set"));
                }
            }
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(&join(at, k), v, out);
                }
            }
            toml::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{at}[{i}]"), v, out);
                }
            }
            _ => {}
        }
    }
    fn join(at: &str, key: &str) -> String {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    }
    let mut out = Vec::new();
    for (k, v) in table {
        walk(k, v, &mut out);
    }
    out
}

/// A list of agents (`[{ email = "…" }]`), in Rechat's assignee fields.
pub fn assignees(at: &str, value: &toml::Value) -> Setting<Vec<Assignee>> {
    let json = serde_json::to_value(value).map_err(|e| format!("{at}: {e}"))?;
    serde_json::from_value(json).map_err(|e| format!("{at}: {e}"))
}

/// The known name nearest to a misspelled one (`chanels` → `channels`), when one is near.
pub fn nearest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&given, &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d > 0 && *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// ` (did you mean channels?)`, or nothing.
pub fn suggestion<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(given, known).map_or(String::new(), |k| format!(" (did you mean {k}?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_a_literal_or_read_from_the_environment() {
        let literal = toml::Value::String("s3cret".into());
        assert_eq!(secret("senders.zapier.secret", &literal).unwrap(), "s3cret");
        // SAFETY: the variable is this test's own.
        unsafe { std::env::set_var("INLET_SETTINGS_TEST_SECRET", "from-env") };
        let from_env = toml::Value::String("env:INLET_SETTINGS_TEST_SECRET".into());
        assert_eq!(secret("x", &from_env).unwrap(), "from-env");
        let missing = toml::Value::String("env:INLET_SETTINGS_TEST_UNSET".into());
        assert_eq!(
            secret("forms.contact.captcha.secret", &missing).unwrap_err(),
            "forms.contact.captcha.secret: environment variable INLET_SETTINGS_TEST_UNSET is not set"
        );
        assert_eq!(
            secret("x", &toml::Value::Integer(1)).unwrap_err(),
            "x must be a string"
        );
    }

    #[test]
    fn every_missing_secret_is_named_and_unknown_keys_are_refused() {
        let t: toml::Table = "[senders.zapier]\nsecret = \"env:INLET_SETTINGS_TEST_A\"\n[forms.contact.captcha]\nsecret = \"env:INLET_SETTINGS_TEST_B\"\n[email]\nmailgun_signing_key = \"literal\"\n"
            .parse()
            .unwrap();
        assert_eq!(
            missing_secrets(&t),
            vec![
                "forms.contact.captcha.secret: environment variable INLET_SETTINGS_TEST_B is not set",
                "senders.zapier.secret: environment variable INLET_SETTINGS_TEST_A is not set",
            ]
        );
        let form: toml::Table = "channel = \"x\"\nallowd_origins = []".parse().unwrap();
        let e = known_keys("forms.contact", &form, &["channel", "allowed_origins"]).unwrap_err();
        assert!(
            e.starts_with("forms.contact.allowd_origins is not a known setting"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let v: toml::Table = "tags = [1]\nflag = \"yes\"\nagents = [{ email = 3 }]"
            .parse()
            .unwrap();
        assert_eq!(
            strings("senders.zapier.tags", &v["tags"]).unwrap_err(),
            "senders.zapier.tags must be a list of strings"
        );
        assert_eq!(
            flag("email.require_spf", &v["flag"]).unwrap_err(),
            "email.require_spf must be true or false"
        );
        assert!(
            assignees("forms.a.assignees", &v["agents"])
                .unwrap_err()
                .starts_with("forms.a.assignees: ")
        );
    }
}
