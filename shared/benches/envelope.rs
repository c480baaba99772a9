//! Normalize + build + serialize a typical envelope: the work intake does per lead.

use criterion::{Criterion, criterion_group, criterion_main};
use inlet::envelope::{EnvelopeBuilder, LeadRef, OriginKind, Step};
use inlet::lead::{Action, Activity, ActivityListing, Address, Assignee, Listing, Property};
use inlet::normalize::{NormalizeOptions, RawLead, normalize};
use std::hint::black_box;

fn raw() -> RawLead {
    RawLead {
        full_name: Some("  MARIA DE SOUZA ".into()),
        email: Some(" Maria.Souza@Example.com ".into()),
        phone: Some("(214) 555-0123".into()),
        tags: vec!["Buyer".into(), " zillow".into(), "buyer".into()],
        lead_source: Some("Zillow".into()),
        note: Some(
            "Hi, is the house on Elm still available? Could we tour it on Saturday morning?".into(),
        ),
        referer_url: Some("https://example.com/listings/12-elm".into()),
        listing: Some(Listing {
            price: Some(450_000.0),
            mls_number: Some("MLS-1001".into()),
            property: Some(Property {
                address: Some(Address {
                    street_address: Some("12 Elm St".into()),
                    city: Some("Dallas".into()),
                    state_code: Some("TX".into()),
                    postal_code: Some("75201".into()),
                    ..Address::default()
                }),
            }),
            ..Listing::default()
        }),
        assignees: vec![Assignee {
            email: Some("Agent@Example.com".into()),
            ..Assignee::default()
        }],
        ..RawLead::default()
    }
}

fn bench(c: &mut Criterion) {
    let options = NormalizeOptions::default();
    let raw = raw();
    let body = br#"{"first_name":"MARIA"}"#;
    c.bench_function("normalize + build + serialize envelope", |b| {
        b.iter(|| {
            let lead = normalize(black_box(raw.clone()), &options).unwrap();
            let envelope = EnvelopeBuilder::new(
                OriginKind::Webhook,
                "zapier",
                "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
                body,
            )
            .step(Step::Capture {
                lead: lead.lead,
                sender_lead_id: None,
            })
            .step(Step::Activity {
                target: LeadRef::Captured,
                activity: Activity::new(
                    Action::ContactViewedListing,
                    Some(ActivityListing {
                        url: Some("https://example.com/listings/12-elm".into()),
                        ..ActivityListing::default()
                    }),
                    None,
                    None,
                )
                .unwrap(),
            })
            .notices(lead.notices)
            .build();
            black_box(envelope.to_json())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
