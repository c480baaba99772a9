//! `[email.fields."<sender>"]`: the routing file teaches the generic reader a sender's labels
//! (issue 34). Each fixture (invented sites) names its phone, and sometimes every field, with
//! a label no alias table knows, in another layout: `Label: value`, `Label  value` without a
//! colon, the value on the next line, labels in Spanish, an HTML table. Without the rule the
//! phone is lost; with it the lead carries it; mail from another sender is read as before.

use inlet::email::{EmailContext, EmailSettings, Outcome, ingress, process};
use inlet::envelope::Step;
use inlet::lead::Lead;
use inlet::web::ChannelPolicy;
use std::path::Path;

const CHANNEL: &str = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";

const RULES: &str = r#"
[email.fields."newportal.example"]
"Ring me on" = "phone"

[email.fields."casas.example.com"]
"Nombre completo" = "name"
"Correo electrónico" = "email"
"Teléfono para mensajes" = "phone"
"Comentarios del cliente" = "note"

[email.fields."no-reply@homefinder.example.com"]
Buyer = "name"
"Reach me at" = "email"
"Ring me on" = "phone"
"What they asked" = "note"
"#;

fn settings(rules: &str) -> EmailSettings {
    let toml: toml::Table = format!("[email]\ndefault_channel = \"{CHANNEL}\"\n{rules}")
        .parse()
        .unwrap();
    EmailSettings::from_toml(&toml, &ChannelPolicy::AnyUuid).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/email-fields")
            .join(name),
    )
    .unwrap()
}

fn lead_of(raw: Vec<u8>, settings: &EmailSettings) -> Lead {
    let inbound = ingress::from_raw("raw", raw).expect("a readable message");
    let ctx = EmailContext {
        settings,
        policy: &ChannelPolicy::AnyUuid,
        normalize: Default::default(),
        verify_senders: true,
    };
    match process(&inbound, &ctx) {
        Outcome::Lead(envelope) => {
            assert_eq!(envelope.channel, CHANNEL);
            match &envelope.steps[0] {
                Step::Capture { lead, .. } => lead.clone(),
                other => panic!("not a capture: {other:?}"),
            }
        }
        other => panic!("not a lead: {other:?}"),
    }
}

#[test]
fn a_rule_reads_the_label_no_alias_table_knows_in_every_layout() {
    let with = settings(RULES);
    let without = settings("");
    for (file, phone, email, name, note) in [
        (
            "renamed-colon.eml",
            "+12145550142",
            "dana.whitfield@example.com",
            "Dana",
            "Saturday",
        ),
        (
            "renamed-no-colon.eml",
            "+12145550187",
            "omar.reyes@example.com",
            "Omar",
            "tour 40 Pine",
        ),
        (
            "renamed-next-line.eml",
            "+12145550163",
            "lena.park@example.com",
            "Lena",
            "disclosures",
        ),
        (
            "spanish-labels.eml",
            "+13055550121",
            "lucia.fernandez@example.com",
            "Lucía",
            "sábado",
        ),
        (
            "html-table.eml",
            "+14695550110",
            "priya.natarajan@example.com",
            "Priya",
            "HOA fees",
        ),
    ] {
        // A number alone on its line (the next-line and table layouts) is read as a phone
        // without any rule, and so is one in mail with no label known at all (read as a
        // person's own words, the Spanish one); elsewhere only the rule reads it.
        let bare = matches!(
            file,
            "renamed-next-line.eml" | "html-table.eml" | "spanish-labels.eml"
        );
        let before = lead_of(fixture(file), &without);
        assert_eq!(
            before.phone_number.is_some(),
            bare,
            "{file}: read without the rule"
        );
        let lead = lead_of(fixture(file), &with);
        assert_eq!(lead.phone_number.as_deref(), Some(phone), "{file}");
        assert_eq!(lead.email.as_deref(), Some(email), "{file}");
        assert_eq!(lead.first_name.as_deref(), Some(name), "{file}");
        assert!(
            lead.note.as_deref().is_some_and(|n| n.contains(note)),
            "{file}: {:?}",
            lead.note
        );
        // The phone's label is not repeated into the note as an unknown "Label: value".
        assert!(
            !lead.note.as_deref().unwrap_or("").contains("Ring me on"),
            "{file}: {:?}",
            lead.note
        );
    }
}

#[test]
fn a_label_whose_words_say_phone_needs_no_rule() {
    // "Best number to text", "Mobile #", "WhatsApp": the generic reader reads a label by its
    // words, so only a label that says nothing of what it holds needs the routing file.
    let without = settings("");
    let colon = String::from_utf8(fixture("renamed-colon.eml")).unwrap();
    for label in ["Best number to text", "Mobile #", "WhatsApp"] {
        let raw = colon.replace("Ring me on", label).into_bytes();
        assert_eq!(
            lead_of(raw, &without).phone_number.as_deref(),
            Some("+12145550142"),
            "{label}"
        );
    }
}

#[test]
fn a_rule_is_for_its_own_sender_only() {
    let with = settings(RULES);
    // The same template from another site: not its rules.
    let other = String::from_utf8(fixture("renamed-colon.eml"))
        .unwrap()
        .replace("leads@newportal.example", "leads@othernewportal.example");
    assert_eq!(lead_of(other.into_bytes(), &with).phone_number, None);
}

#[test]
fn a_forged_from_only_changes_how_its_own_labels_are_read() {
    // Anyone can write `From: leads@newportal.example` on mail posted to Inlet. What the
    // rule gives them is the reading of their own labels: the lead still goes where its
    // recipients route it (the default channel here), is credited to no portal module, and
    // is read by the same gates; "phone" read from a label is still a phone number's checks.
    let with = settings(RULES);
    let forged = "MIME-Version: 1.0\r\nFrom: leads@newportal.example\r\nTo: leads@in.example.com\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\nName: Eve Example\r\nEmail: eve@example.com\r\nRing me on: call me maybe\r\n";
    let lead = lead_of(forged.as_bytes().to_vec(), &with);
    assert_eq!(lead.phone_number, None, "no digits, no phone");
    assert_eq!(lead.lead_source.as_deref(), Some("newportal.example"));
}

#[test]
fn inlet_check_refuses_unknown_fields_by_name() {
    let toml: toml::Table = "[email.fields.\"newportal.example\"]\n\"Ring me on\" = \"fone\"\n"
        .parse()
        .unwrap();
    let err = EmailSettings::from_toml(&toml, &ChannelPolicy::AnyUuid).unwrap_err();
    assert!(err.contains("email.fields.\"newportal.example\""), "{err}");
    assert!(err.contains("is not a lead field Inlet knows"), "{err}");
    assert!(!err.contains("unknown setting"), "{err}");
}
