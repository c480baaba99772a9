//! HotPads / Zillow Rental Network lead callback: a URL-encoded listing inquiry
//! (`listingId`, `name`, `email`, `phone`, `movingDate` as yyyyMMdd, bedrooms sought with 0
//! for a studio, the listing's street/unit/city/state/zip, `listingContactEmail`). Only
//! `listingId` and `email` are guaranteed. Built from hotpads.com's published field list.

use crate::lead::{Address, Assignee, Listing, Property};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};

pub const SENDER: Sender = Sender {
    name: "hotpads",
    recognize: |i| {
        super::has_keys(i, &["listingId"])
            && [
                "movingDate",
                "listingStreet",
                "numBedroomsSought",
                "listingContactEmail",
            ]
            .iter()
            .any(|k| super::has_keys(i, &[k]))
    },
    parse,
    verify: verify_token,
};

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let t = |k: &str| incoming.text(k);
    let mut lines = Vec::new();
    if let Some(m) = t("message").or_else(|| t("introduction")) {
        lines.push(m);
    }
    if let Some(d) = t("movingDate") {
        let pretty = if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
            format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])
        } else {
            d
        };
        lines.push(format!("Move-in: {pretty}"));
    }
    if let Some(b) = t("numBedroomsSought") {
        lines.push(format!(
            "Bedrooms: {}",
            if b == "0" { "studio".into() } else { b }
        ));
    }
    for (key, label) in [
        ("numBathroomsSought", "Bathrooms"),
        ("leadType", "Lead type"),
        ("incomeYearly", "Yearly income"),
        ("creditScoreRangeJson", "Credit score"),
        ("petDetailsJson", "Pets"),
        ("listingId", "HotPads listing"),
    ] {
        if let Some(v) = t(key) {
            lines.push(format!("{label}: {v}"));
        }
    }
    let address = Address {
        street_address: t("listingStreet"),
        unit_number: t("listingUnit"),
        city: t("listingCity"),
        state_code: t("listingState"),
        postal_code: t("listingPostalCode"),
        ..Address::default()
    };
    let raw = RawLead {
        full_name: t("name"),
        email: t("email"),
        phone: t("phone"),
        lead_source: Some("HotPads".into()),
        tags: vec!["Renter".into()],
        note: (!lines.is_empty()).then(|| lines.join("\n")),
        listing: Some(Listing {
            property: Some(Property {
                address: Some(address),
            }),
            ..Listing::default()
        }),
        assignees: t("listingContactEmail")
            .map(|e| Assignee {
                email: Some(e),
                ..Assignee::default()
            })
            .into_iter()
            .collect(),
        ..RawLead::default()
    };
    Ok(vec![SenderEvent::capture(None, raw)])
}
