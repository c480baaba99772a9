//! Issue 38, webhooks: what arrives from senders nobody wrote a module for (chat widgets,
//! call trackers, SMS numbers, funnel builders, form services, CRMs), read on fixtures
//! written for it (invented people at example.com, shaped after each kind of tool), and a
//! known sender's event on the detecting route. Each test names the class it holds.

use inlet::envelope::{Envelope, LeadRef, Step};
use inlet::lead::Lead;
use inlet::normalize::NormalizeOptions;
use inlet::web::IntakeError;
use inlet::webhook::{Parsed, WebhookRequest, WebhookSettings, process};

const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn run_body(
    body: &[u8],
    content_type: &str,
    sender: Option<&str>,
) -> Result<Parsed, IntakeError> {
    let headers = http::HeaderMap::new();
    let req = WebhookRequest {
        channel: CHANNEL,
        path: "/webhooks/test",
        sender,
        content_type: Some(content_type),
        headers: &headers,
        query: "",
        body,
    };
    process(
        &req,
        &WebhookSettings::default(),
        &NormalizeOptions::default(),
        chrono::Utc::now(),
    )
    .await
}

/// A fixture through the detecting route (`/webhooks/{channel}`, no sender named).
async fn detect(name: &str, content_type: &str) -> Parsed {
    run_body(&fixture(name), content_type, None)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn captured(e: &Envelope) -> &Lead {
    e.captured_lead().expect("a capture")
}

fn only(p: &Parsed) -> &Lead {
    assert_eq!(p.envelopes.len(), 1, "{p:?}");
    captured(&p.envelopes[0])
}

fn who(l: &Lead) -> (Option<&str>, Option<&str>, Option<&str>, Option<&str>) {
    (
        l.first_name.as_deref(),
        l.last_name.as_deref(),
        l.email.as_deref(),
        l.phone_number.as_deref(),
    )
}

fn note(l: &Lead) -> &str {
    l.note.as_deref().unwrap_or("")
}

// ---- Class 1: a known sender on the detecting route.

#[tokio::test]
async fn class_1_a_follow_up_boss_event_is_known_by_its_content_without_its_name() {
    // No `source` or `system`: the person's lists of emails and phones say whose it is.
    let p = detect("fub-registration-no-source.json", JSON).await;
    assert_eq!(p.sender, "followupboss");
    let l = captured(&p.envelopes[0]);
    assert_eq!(
        who(l),
        (
            Some("Keisha"),
            Some("Bramwell"),
            Some("keisha.bramwell@example.com"),
            Some("+19725550190")
        ),
        "the primary email, and the phone"
    );
    assert!(matches!(&p.envelopes[0].steps[1], Step::Activity { .. }));
    // A type Inlet has no rule for is still a lead, tagged with its type; plain strings in
    // the lists are read too.
    let p = detect("fub-showing-request.json", JSON).await;
    assert_eq!(p.sender, "followupboss");
    let l = only(&p);
    assert_eq!(
        who(l),
        (
            Some("Liam"),
            Some("O'Connell"),
            Some("liam.oconnell@example.net"),
            Some("+14695550147")
        )
    );
    assert!(l.tag.contains(&"Showing Request".to_owned()), "{:?}", l.tag);
}

/// Every built-in sender's fixture is taken for that sender when the URL names none.
#[tokio::test]
async fn class_1_detection_knows_every_built_in_senders_shape() {
    for (file, content_type, sender) in [
        ("fub-property-inquiry.json", JSON, "followupboss"),
        ("fub-registration-no-source.json", JSON, "followupboss"),
        ("fub-viewed-property.json", JSON, "followupboss"),
        ("realtor-nested.json", JSON, "realtor"),
        ("realtor-siblings.json", JSON, "realtor"),
        ("lts-ihomefinder.xml", "application/xml", "lts"),
        ("hubspot-contact.json", JSON, "hubspot"),
        ("hubspot-form.json", JSON, "hubspot"),
        ("sns/zillow-lead.json", JSON, "zillow"),
        ("zillow-reassignment.json", JSON, "zillow"),
        ("real-geeks-created.json", JSON, "real-geeks"),
        ("fivestreet-create.json", JSON, "fivestreet"),
        ("hotpads.form", FORM, "hotpads"),
        ("meta-lead.json", JSON, "meta"),
        ("google-ads.json", JSON, "google-ads"),
        ("typeform.json", JSON, "typeform"),
        ("webflow-v2.json", JSON, "webflow"),
        ("gravity-forms.json", JSON, "gravity-forms"),
        ("netlify.json", JSON, "netlify"),
        ("wufoo.form", FORM, "wufoo"),
        ("unbounce.form", FORM, "unbounce"),
        ("elementor.form", FORM, "elementor"),
        ("formstack.form", FORM, "formstack"),
    ] {
        let p = detect(file, content_type).await;
        assert_eq!(p.sender, sender, "{file}");
        let named = run_body(&fixture(file), content_type, Some(sender))
            .await
            .unwrap();
        assert_eq!(
            p.envelopes
                .iter()
                .map(|e| e.steps.clone())
                .collect::<Vec<_>>(),
            named
                .envelopes
                .iter()
                .map(|e| e.steps.clone())
                .collect::<Vec<_>>(),
            "{file}: the detecting route reads it as the named route does"
        );
    }
}

// ---- Class 2: the person wherever the sender put them.

#[tokio::test]
async fn class_2_the_person_is_found_in_nested_objects_lists_and_json_inside_a_form_field() {
    // Olark-like: the whole conversation as JSON in one `data=` form field, the visitor's
    // `fullName`, `emailAddress`, `phoneNumber`.
    let l = only(&detect("unknown/chat-olark.form", FORM).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Marcus"),
            Some("Bell"),
            Some("marcus.bell@example.net"),
            Some("+19195550164")
        )
    );
    // A form service's fields as a list of `{key, label, type, value}`.
    let l = only(&detect("unknown/form-fields-list.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Amara"),
            Some("Okafor"),
            Some("amara.okafor@example.com"),
            Some("+14045550171")
        )
    );
    assert!(note(&l).contains("pre-approved for 380k"), "{}", note(&l));
    // Labels in Spanish, under `submission`.
    let l = only(&detect("unknown/form-service-plain.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Lucía"),
            Some("Fernández"),
            Some("lucia.fernandez@example.com"),
            Some("+34612550123")
        )
    );
    assert!(note(&l).starts_with("Busco un piso"), "{}", note(&l));
    // A funnel's `contact` with prefixed keys (`email_address`, `phone_number`), the
    // business's own `location` beside it.
    let l = only(&detect("unknown/funnel-contact.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Hiroshi"),
            Some("Tanaka"),
            Some("hiroshi.tanaka@example.com"),
            Some("+14255550156")
        )
    );
    assert!(
        !note(&l).contains("office@evergreen.example"),
        "{}",
        note(&l)
    );
    // A CRM's record: the primary of each list, and never its `previous` values.
    let l = only(&detect("unknown/crm-person-updated.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Beatriz"),
            Some("Souza"),
            Some("beatriz.souza@example.com"),
            Some("+13055550182")
        )
    );
    assert!(!format!("{l:?}").contains("old.address@example.com"));
    // A funnel builder's flat contact, its sub-account's address and its assigned user
    // never taken for the lead's.
    let l = only(&detect("unknown/funnel-highlevel.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Marisol"),
            Some("Vega"),
            Some("marisol.vega@example.com"),
            Some("+13055550177")
        )
    );
    let street = l
        .listing
        .as_ref()
        .and_then(|x| x.property.as_ref())
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.street_address.as_deref());
    assert_eq!(street, Some("1450 Brickell Bay Dr"));
    assert_eq!(l.lead_source.as_deref(), Some("Home Value Funnel"));
}

#[tokio::test]
async fn class_2_the_person_is_preferred_over_the_business() {
    // A call tracker's business, tracking and formatted numbers beside the caller's.
    let l = only(&detect("unknown/call-tracker-call.json", JSON).await).clone();
    assert_eq!(l.phone_number.as_deref(), Some("+16175550162"));
    let everything = format!("{l:?}");
    for business in ["6175550100", "6175550111", "617-555-0100"] {
        assert!(!everything.contains(business), "{business}: {everything}");
    }
    assert_eq!(l.lead_source.as_deref(), Some("Google Ads"));
    // The same keys, business first in the body: order does not matter.
    let body = br#"{"business_phone_number":"+12125550100","tracking_phone_number":"+12125550111","customer_phone_number":"+12125550177","customer_name":"Hana Ito"}"#;
    let l = only(&run_body(body, JSON, None).await.unwrap()).clone();
    assert_eq!(
        who(&l),
        (Some("Hana"), Some("Ito"), None, Some("+12125550177"))
    );
    // Only the business's number: no lead is made of it.
    let body = br#"{"business_phone_number":"+12125550100","company_name":"Harbor Realty"}"#;
    let e = run_body(body, JSON, None).await.unwrap_err();
    assert_eq!(e.status, 422, "{}", e.message);
    // A chat widget's operator is no agent to assign the lead to.
    let l = only(&detect("unknown/chat-widget-message.json", JSON).await).clone();
    assert!(l.assignees.is_empty(), "{:?}", l.assignees);
    assert_eq!(
        who(&l),
        (
            Some("Ingrid"),
            Some("Solberg"),
            Some("ingrid.solberg@example.no"),
            Some("+4741255018")
        )
    );
}

// ---- Class 3: conversations are leads.

#[tokio::test]
async fn class_3_texts_calls_and_chats_are_leads_with_the_persons_own_words() {
    // An inbound SMS (Twilio's form): the texter's number, their words, and the name they
    // gave in them; the brokerage's own number (`To`) is not the lead's.
    let l = only(&detect("unknown/sms-twilio.form", FORM).await).clone();
    assert_eq!(
        who(&l),
        (Some("Dana"), Some("Whitfield"), None, Some("+15125550143"))
    );
    assert!(note(&l).starts_with("Hi, is the 3 bed on Bouldin Ave"));
    assert!(!format!("{l:?}").contains("5125550100"));
    // An SMS provider's JSON event: `from.phone_number`, `text`.
    let l = only(&detect("unknown/sms-telnyx.json", JSON).await).clone();
    assert_eq!(l.phone_number.as_deref(), Some("+17205550188"));
    assert!(note(&l).starts_with("Saw your sign on Larimer St."));
    // A call tracker's voicemail: the caller-ID name in capitals put in order by the
    // caller's own words, the transcription as the note.
    let l = only(&detect("unknown/call-tracker-call.json", JSON).await).clone();
    assert_eq!(
        (l.first_name.as_deref(), l.last_name.as_deref()),
        (Some("Isabel"), Some("Morales"))
    );
    assert!(note(&l).starts_with("Hi, this is Isabel"));
    // A call tracker's text event in camelCase.
    let l = only(&detect("unknown/call-tracker-text.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Owen"),
            Some("Castellanos"),
            None,
            Some("+13035550177")
        )
    );
    assert!(note(&l).starts_with("Is 1420 Pearl St still for sale?"));
    // A chat transcript: the visitor's lines only, and the number they typed in one.
    let l = only(&detect("unknown/chat-transcript.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Priya"),
            Some("Natarajan"),
            Some("priya.natarajan@example.com"),
            Some("+18475550139")
        )
    );
    assert!(note(&l).starts_with("We're relocating in August"));
    assert!(!note(&l).contains("How can we help"), "{}", note(&l));
    // A chat whose messages name their authors by id elsewhere in the payload.
    let l = only(&detect("unknown/chat-livechat.json", JSON).await).clone();
    assert_eq!(l.email.as_deref(), Some("tomasz.w@example.org"));
    assert!(note(&l).starts_with("Is the townhouse on Elm Row pet friendly?"));
    assert!(!note(&l).contains("Welcome"), "{}", note(&l));
    assert!(!format!("{l:?}").contains("agent.lin@brokerage.example"));
    // An offline message: a contact field holding an address, the visitor's words.
    let l = only(&detect("unknown/chat-offline-message.json", JSON).await).clone();
    assert_eq!(
        who(&l),
        (
            Some("Grace"),
            Some("O'Neill"),
            Some("grace.oneill@example.com"),
            Some("+14065550115")
        )
    );
    assert!(!format!("{l:?}").contains("hello@summitpeak.example"));
    // Olark's transcript: the visitor's lines, not the operator's.
    let l = only(&detect("unknown/chat-olark.form", FORM).await).clone();
    assert!(note(&l).starts_with("Do you have anything in Cary"));
    assert!(!note(&l).contains("Can I get your email"), "{}", note(&l));
}

#[tokio::test]
async fn class_3_what_no_person_wrote_is_no_lead() {
    // A delivery report of a text the brokerage sent.
    let receipt = b"MessageSid=SM0a1b&MessageStatus=delivered&From=%2B15125550100&To=%2B15125550143&AccountSid=AC1&ApiVersion=2010-04-01";
    let e = run_body(receipt, FORM, None).await.unwrap_err();
    assert_eq!(e.status, 422);
    assert!(e.message.contains("delivery report"), "{}", e.message);
    // An opt-out.
    let stop = b"From=%2B15125550143&To=%2B15125550100&Body=STOP&MessageSid=SM0a1c";
    let e = run_body(stop, FORM, None).await.unwrap_err();
    assert!(e.message.contains("opt-out"), "{}", e.message);
    // An outbound call the brokerage placed: its `From` is the business, its `To` the
    // person.
    let outbound = b"CallSid=CA77&Direction=outbound-api&From=%2B15125550100&To=%2B15125550166&CallStatus=completed";
    let l = only(&run_body(outbound, FORM, None).await.unwrap()).clone();
    assert_eq!(l.phone_number.as_deref(), Some("+15125550166"));
}

// ---- Class 4: what the person typed is kept.

#[tokio::test]
async fn class_4_test_names_suffixes_and_whole_names_are_kept_as_typed() {
    // "Test" is the name sent: kept, the lead tagged `test`.
    let l = only(&detect("unknown/test-lead.form", FORM).await).clone();
    assert_eq!(
        (l.first_name.as_deref(), l.email.as_deref()),
        (Some("Test"), Some("test@example.com"))
    );
    assert!(l.tag.contains(&"test".to_owned()), "{:?}", l.tag);
    let p = detect("unknown/names-variants.json", JSON).await;
    let names: Vec<(Option<&str>, Option<&str>)> = p
        .envelopes
        .iter()
        .map(|e| {
            let l = captured(e);
            (l.first_name.as_deref(), l.last_name.as_deref())
        })
        .collect();
    assert_eq!(
        names,
        [
            (Some("Carlos"), Some("Mendez Jr.")),
            (Some("Ana Lucia"), Some("Ferreira")),
            (Some("Wen"), Some("Zhao")),
            (Some("Example"), None),
            (Some("Robert"), Some("Hale III")),
        ]
    );
    assert!(captured(&p.envelopes[3]).tag.contains(&"test".to_owned()));
    assert!(!captured(&p.envelopes[0]).tag.contains(&"test".to_owned()));
}

// ---- Class 5: a Zillow reassignment carries the whole contact.

#[tokio::test]
async fn class_5_a_zillow_reassignment_carries_the_contact_to_capture_if_unknown() {
    let p = detect("zillow-reassignment.json", JSON).await;
    assert_eq!(p.sender, "zillow");
    let Step::Assign {
        target,
        assignees,
        lead,
    } = &p.envelopes[0].steps[0]
    else {
        panic!("{:?}", p.envelopes[0].steps);
    };
    assert!(
        matches!(target, LeadRef::Sender { sender, id } if sender == "zillow" && id == "3c7e1a90-5d2b-4f8e-9a61-b2c4d6e8f0a1")
    );
    assert_eq!(
        assignees[0].email.as_deref(),
        Some("lena.park@example-realty.com")
    );
    let lead = lead.as_ref().expect("the contact, to capture if unknown");
    assert_eq!(
        who(lead),
        (
            Some("Yusuf"),
            Some("Demir"),
            Some("yusuf.demir@example.com"),
            Some("+15125550196")
        )
    );
    assert!(note(lead).contains("Round Rock"));
    // A reassignment naming no contact stays a plain reassignment.
    let mut bare: serde_json::Value =
        serde_json::from_slice(&fixture("zillow-reassignment.json")).unwrap();
    let info = bare["ContactMessage"]["ContactInfo"]
        .as_object_mut()
        .unwrap();
    for k in [
        "ContactName",
        "ContactEmail",
        "ContactPhone",
        "ContactMessage",
    ] {
        info.remove(k);
    }
    let p = run_body(bare.to_string().as_bytes(), JSON, None)
        .await
        .unwrap();
    assert!(matches!(
        &p.envelopes[0].steps[0],
        Step::Assign { lead: None, .. }
    ));
}
