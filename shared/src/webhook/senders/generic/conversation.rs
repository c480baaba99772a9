//! Conversations are leads: a chat transcript, a chat or text message, a call's
//! transcription. Whose words a message is decides whether they are the prospect's: the
//! visitor's, the customer's, the caller's lines are; an operator's, a bot's or the
//! brokerage's own replies are not. Chat tools say it in many ways (`type: "visitor"`,
//! `sender: {t: "v"}`, `kind: "MessageToOperator"`, `is_from_admin: false`, `direction:
//! "inbound"`, an `author_id` that another part of the payload names as a customer).

use crate::fields::canonical;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The prospect, said plainly (`visitor`, `customer`, `contact`, `v`, `inbound`).
    Visitor,
    /// `user`: the prospect in most tools, the operator in a few, told by the others in the
    /// same conversation.
    User,
    /// The brokerage's side: an operator, agent, bot or the system.
    Agent,
}

/// A role by a word a tool uses for it.
fn role_of_word(word: &str) -> Option<Role> {
    let w = canonical(word);
    Some(match w.as_str() {
        "v" | "visitor" | "customer" | "contact" | "client" | "lead" | "guest" | "prospect"
        | "enduser" | "inbound" | "incoming" | "in" | "messagetooperator" | "caller"
        | "consumer" | "lead_" | "human" => Role::Visitor,
        "user" | "users" => Role::User,
        "a" | "agent" | "operator" | "admin" | "bot" | "system" | "staff" | "teammate"
        | "outbound" | "outgoing" | "out" | "messagetovisitor" | "assistant" | "ai" | "owner"
        | "business" | "team" | "automated" | "auto" | "chatbot" => Role::Agent,
        _ => {
            if w.starts_with("outbound") || w.starts_with("agent") || w.starts_with("operator") {
                Role::Agent
            } else if w.starts_with("inbound") || w.starts_with("visitor") {
                Role::Visitor
            } else {
                return None;
            }
        }
    })
}

/// Keys whose text is what a message says.
const TEXT_KEYS: &[&str] = &[
    "text",
    "body",
    "message",
    "msg",
    "content",
    "plaintext",
    "textbody",
];

/// The text of a message object, when it has one (HTML tags removed).
pub fn message_text(map: &Map<String, Value>) -> Option<(String, String)> {
    map.iter().find_map(|(k, v)| {
        let key = canonical(k);
        if !TEXT_KEYS.contains(&key.as_str()) {
            return None;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Object(inner) => inner
                .get("text")
                .or_else(|| inner.get("body"))
                .and_then(Value::as_str)?
                .to_owned(),
            _ => return None,
        };
        let text = strip_tags(&text);
        (!text.trim().is_empty()).then(|| (k.clone(), text.trim().to_owned()))
    })
}

/// Text without HTML tags (Intercom's `<p>…</p>` bodies); entities as they are.
fn strip_tags(text: &str) -> String {
    if !text.contains('<') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keys that name who wrote a message, or a yes/no that says it.
fn role_of(map: &Map<String, Value>, ids: &HashMap<String, Role>) -> Option<Role> {
    for (k, v) in map {
        let key = canonical(k);
        match (key.as_str(), v) {
            (
                "isfromadmin" | "isagent" | "fromagent" | "isoperator" | "isbot" | "outgoing"
                | "isoutgoing" | "fromme" | "isfrombusiness" | "isoutbound",
                Value::Bool(b),
            ) => return Some(if *b { Role::Agent } else { Role::Visitor }),
            (
                "isvisitor" | "fromvisitor" | "iscustomer" | "isincoming" | "isinbound",
                Value::Bool(b),
            ) => {
                return Some(if *b { Role::Visitor } else { Role::Agent });
            }
            _ => {}
        }
    }
    let said = |v: &Value| v.as_str().and_then(role_of_word);
    for key in [
        "type",
        "kind",
        "role",
        "sendertype",
        "authortype",
        "usertype",
        "from",
        "sender",
        "author",
        "who",
        "direction",
        "party",
        "origin",
        "source",
        "t",
    ] {
        let Some((_, v)) = map.iter().find(|(k, _)| canonical(k) == key) else {
            continue;
        };
        match v {
            Value::Object(inner) => {
                if let Some(r) = role_of(inner, ids) {
                    return Some(r);
                }
            }
            other => {
                if let Some(r) = said(other) {
                    return Some(r);
                }
            }
        }
    }
    map.iter()
        .filter(|(k, _)| {
            let key = canonical(k);
            key.ends_with("id")
                && (key.contains("author") || key.contains("sender") || key.contains("user"))
        })
        .find_map(|(_, v)| v.as_str().and_then(|id| ids.get(id)).copied())
}

/// Ids the payload gives a role elsewhere (LiveChat's `users: [{id, type: "customer"}]`
/// beside messages that name only their `author_id`).
pub fn roles_by_id(value: &Value, ids: &mut HashMap<String, Role>, depth: usize) {
    if depth > 16 || ids.len() > 200 {
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(id) = map.get("id").and_then(Value::as_str)
                && message_text(map).is_none()
                && let Some(role) = ["type", "role", "kind"]
                    .iter()
                    .find_map(|k| map.get(*k).and_then(Value::as_str).and_then(role_of_word))
            {
                ids.insert(id.to_owned(), role);
            }
            for v in map.values() {
                roles_by_id(v, ids, depth + 1);
            }
        }
        Value::Array(items) => {
            for v in items {
                roles_by_id(v, ids, depth + 1);
            }
        }
        _ => {}
    }
}

/// A message object's writer, once `user` is settled by the rest of its conversation:
/// where others are plainly visitors, a `user` is the operator.
fn settle(role: Option<Role>, plain_visitors: bool) -> Option<Role> {
    match role {
        Some(Role::User) if plain_visitors => Some(Role::Agent),
        Some(Role::User) => Some(Role::Visitor),
        other => other,
    }
}

/// The role an object that is no message gives itself (`{id, name, type: "agent"}`, `{…,
/// role: "customer"}`), by its own type, role or kind.
pub fn object_role(map: &Map<String, Value>) -> Option<Role> {
    ["type", "role", "kind", "usertype"]
        .iter()
        .find_map(|want| {
            map.iter()
                .find(|(k, _)| canonical(k) == *want)
                .and_then(|(_, v)| v.as_str())
                .and_then(role_of_word)
        })
        .map(|r| if r == Role::User { Role::Visitor } else { r })
}

/// A message object's role on its own (no conversation around it).
pub fn single_role(map: &Map<String, Value>, ids: &HashMap<String, Role>) -> Option<Role> {
    settle(role_of(map, ids), false)
}

/// The prospect's lines of a list of messages: each item an object with its text, most
/// with who wrote it. `None` when the list is not messages. When no item says who wrote it,
/// every line is kept (the prospect's words are among them).
pub fn transcript(items: &[Value], ids: &HashMap<String, Role>) -> Option<Vec<String>> {
    let messages: Vec<(Option<Role>, String)> = items
        .iter()
        .map(|item| {
            let map = item.as_object()?;
            let (_, text) = message_text(map)?;
            Some((role_of(map, ids), text))
        })
        .collect::<Option<Vec<_>>>()?;
    if messages.is_empty() {
        return None;
    }
    let plain_visitors = messages.iter().any(|(r, _)| *r == Some(Role::Visitor));
    let settled: Vec<(Option<Role>, String)> = messages
        .into_iter()
        .map(|(r, t)| (settle(r, plain_visitors), t))
        .collect();
    let said_by_someone = settled.iter().any(|(r, _)| r.is_some());
    Some(
        settled
            .into_iter()
            .filter(|(r, _)| !said_by_someone || *r == Some(Role::Visitor))
            .map(|(_, t)| t)
            .collect(),
    )
}

/// Whether the payload is a conversation: somewhere in it, a message that says who wrote
/// it. Its `agent` is then the chat's operator, not an agent to assign the lead to.
pub fn is_conversation(value: &Value, ids: &HashMap<String, Role>, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    match value {
        Value::Object(map) => {
            (message_text(map).is_some() && role_of(map, ids).is_some())
                || map.values().any(|v| is_conversation(v, ids, depth + 1))
        }
        Value::Array(items) => items.iter().any(|v| is_conversation(v, ids, depth + 1)),
        _ => false,
    }
}

/// Words a texter sends to stop messages: an opt-out, not an inquiry.
pub fn is_opt_out(text: &str) -> bool {
    matches!(
        text.trim()
            .trim_end_matches(['.', '!'])
            .to_ascii_lowercase()
            .as_str(),
        "stop" | "stopall" | "unsubscribe" | "cancel" | "end" | "quit" | "optout" | "opt out"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_visitors_lines_of_each_tools_transcript() {
        let none = HashMap::new();
        for (items, want) in [
            (
                json!([{"sender": {"t": "v", "n": "Ana"}, "msg": "Is the loft still open?"}, {"sender": {"t": "a"}, "msg": "Yes!"}]),
                vec!["Is the loft still open?"],
            ),
            (
                json!([{"kind": "MessageToOperator", "body": "Hi, two beds?"}, {"kind": "MessageToVisitor", "body": "Sure"}]),
                vec!["Hi, two beds?"],
            ),
            (
                json!([{"author": {"type": "user"}, "body": "<p>Can I tour Friday?</p>"}, {"author": {"type": "admin"}, "body": "<p>Yes</p>"}]),
                vec!["Can I tour Friday?"],
            ),
            // `user` is the operator where the others are contacts (Drift).
            (
                json!([{"author": {"type": "contact"}, "body": "Pets ok?"}, {"author": {"type": "user"}, "body": "Cats only"}]),
                vec!["Pets ok?"],
            ),
            (
                json!([{"text": "Hello there", "is_from_admin": false}, {"text": "Hi!", "is_from_admin": true}]),
                vec!["Hello there"],
            ),
            // Nobody says who wrote what: every line.
            (
                json!([{"text": "one"}, {"text": "two"}]),
                vec!["one", "two"],
            ),
        ] {
            assert_eq!(
                transcript(items.as_array().unwrap(), &none).unwrap(),
                want,
                "{items}"
            );
        }
        assert!(transcript(json!([{"id": 1}]).as_array().unwrap(), &none).is_none());
        // LiveChat: authors named by id elsewhere in the payload.
        let payload = json!({"users": [{"id": "c-1", "type": "customer"}, {"id": "a-1", "type": "agent"}],
            "events": [{"author_id": "a-1", "text": "Welcome"}, {"author_id": "c-1", "text": "Need a 2br"}]});
        let mut ids = HashMap::new();
        roles_by_id(&payload, &mut ids, 0);
        assert_eq!(
            transcript(payload["events"].as_array().unwrap(), &ids).unwrap(),
            vec!["Need a 2br"]
        );
        assert!(is_opt_out("STOP") && is_opt_out(" Unsubscribe. ") && !is_opt_out("stop by?"));
    }
}
