use super::*;
use chrono::Duration;

fn t0() -> DateTime<Utc> {
    "2026-12-07T09:00:00Z".parse().unwrap()
}

const ALL: &[Field] = &[Field::Email, Field::Phone, Field::Name, Field::Note];
const NO_PHONE: &[Field] = &[Field::Email, Field::Name, Field::Note];

/// `n` reads of `fields`, a minute apart from `*minute` on.
fn feed(p: &mut Profile, n: usize, fields: &[Field], judged: Judged, minute: &mut i64) {
    let rule = DriftRule::default();
    for _ in 0..n {
        p.observe(
            Read::new(t0() + Duration::minutes(*minute), fields, judged),
            &rule,
        );
        *minute += 1;
    }
}

#[test]
fn thirty_with_a_phone_then_ten_without_is_drift_of_the_phone_and_one_with_clears_it() {
    let mut p = Profile::default();
    let mut m = 0;
    feed(&mut p, 30, ALL, Judged::Lead, &mut m);
    feed(&mut p, 9, NO_PHONE, Judged::Lead, &mut m);
    assert!(p.drifts("newportal.example").is_empty(), "nine is not ten");
    feed(&mut p, 1, NO_PHONE, Judged::Lead, &mut m);
    let drifts = p.drifts("newportal.example");
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(drifts[0].source, "newportal.example");
    assert_eq!(drifts[0].field, "phone");
    assert_eq!(
        drifts[0].since,
        t0() + Duration::minutes(30),
        "the first read without"
    );
    assert_eq!(drifts[0].reads, 10);
    // More without: the same drift, since the same time, with more leads affected.
    feed(&mut p, 5, NO_PHONE, Judged::Lead, &mut m);
    assert_eq!(p.drifts("s")[0].since, t0() + Duration::minutes(30));
    assert_eq!(p.drifts("s")[0].reads, 15);
    // One read with the phone again (the routing file's rule, or the site's fix) clears it.
    feed(&mut p, 1, ALL, Judged::Lead, &mut m);
    assert!(p.drifts("s").is_empty());
}

#[test]
fn a_drift_lasts_past_the_window_until_the_field_returns() {
    let mut p = Profile::default();
    let mut m = 0;
    feed(&mut p, 30, ALL, Judged::Lead, &mut m);
    feed(&mut p, 300, NO_PHONE, Judged::Lead, &mut m);
    assert_eq!(p.reads.len(), DriftRule::default().window());
    assert_eq!(p.drifts("s")[0].field, "phone");
}

#[test]
fn dismissed_stays_dismissed_until_the_field_returns_and_then_goes_again() {
    let mut p = Profile::default();
    let mut m = 0;
    feed(&mut p, 30, ALL, Judged::Lead, &mut m);
    feed(&mut p, 10, NO_PHONE, Judged::Lead, &mut m);
    assert!(p.dismiss("phone"));
    assert!(!p.dismiss("phone"), "nothing left to dismiss");
    assert!(p.drifts("s").is_empty());
    feed(&mut p, 20, NO_PHONE, Judged::Lead, &mut m);
    assert!(
        p.drifts("s").is_empty(),
        "the new template really has no phone"
    );
    // The phone comes back for long enough to be usual again, then goes: a new drift.
    feed(&mut p, 100, ALL, Judged::Lead, &mut m);
    feed(&mut p, 10, NO_PHONE, Judged::Lead, &mut m);
    assert_eq!(p.drifts("s").len(), 1);
}

#[test]
fn a_rare_field_never_drifts_and_one_odd_mail_does_not() {
    let mut p = Profile::default();
    let mut m = 0;
    // A listing in half the reads: not usual, so its absence is nothing.
    for _ in 0..30 {
        feed(
            &mut p,
            1,
            &[Field::Email, Field::Listing],
            Judged::Lead,
            &mut m,
        );
        feed(&mut p, 1, &[Field::Email], Judged::Lead, &mut m);
    }
    feed(&mut p, 20, &[Field::Email], Judged::Lead, &mut m);
    assert!(p.drifts("s").is_empty(), "{:?}", p.drifts("s"));
    // One odd mail (or nine) among the usual ones.
    feed(&mut p, 1, &[], Judged::Lead, &mut m);
    feed(&mut p, 1, &[Field::Email], Judged::Lead, &mut m);
    assert!(p.drifts("s").is_empty());
}

#[test]
fn too_few_reads_say_nothing_usual() {
    let mut p = Profile::default();
    let mut m = 0;
    feed(&mut p, 29, ALL, Judged::Lead, &mut m);
    feed(&mut p, 10, NO_PHONE, Judged::Lead, &mut m);
    assert!(p.drifts("s").is_empty());
}

#[test]
fn a_burst_of_no_lead_mail_is_drift_of_the_reading_and_clears_when_leads_return() {
    let mut p = Profile::default();
    let mut m = 0;
    feed(&mut p, 40, ALL, Judged::Lead, &mut m);
    feed(&mut p, 4, &[], Judged::NoLead, &mut m);
    assert!(p.drifts("zillow").is_empty(), "four of ten is no jump");
    feed(&mut p, 1, &[], Judged::NoLead, &mut m);
    let drifts = p.drifts("zillow");
    assert_eq!(drifts.len(), 1, "{drifts:?}");
    assert_eq!(drifts[0].field, NO_LEAD);
    assert_eq!(drifts[0].since, t0() + Duration::minutes(40));
    // No-lead mail carries no field: the lead fields did not drift for it.
    feed(&mut p, 10, &[], Judged::NoLead, &mut m);
    assert_eq!(p.drifts("zillow").len(), 1);
    feed(&mut p, 6, ALL, Judged::Lead, &mut m);
    assert!(
        p.drifts("zillow").is_empty(),
        "six of the newest ten are leads"
    );
}

#[test]
fn a_source_that_is_always_unsure_is_not_drifting() {
    let mut p = Profile::default();
    let mut m = 0;
    feed(&mut p, 60, &[Field::Name], Judged::Unsure, &mut m);
    assert!(p.drifts("s").is_empty());
    // Unsure readings count as bad: a jump of them is drift.
    let mut q = Profile::default();
    feed(&mut q, 40, ALL, Judged::Lead, &mut m);
    feed(&mut q, 6, &[Field::Name], Judged::Unsure, &mut m);
    assert!(q.drifts("s").iter().any(|d| d.field == NO_LEAD));
}

#[test]
fn sources_are_bounded_and_no_lead_mail_makes_no_profile() {
    let mut all = Profiles::default();
    let rule = DriftRule::default();
    all.observe(
        "spam.example",
        Read::new(t0(), &[], Judged::NoLead),
        &rule,
        false,
    );
    assert!(all.sources.is_empty());
    for i in 0..MAX_SOURCES + 5 {
        let at = t0() + Duration::minutes(i as i64);
        all.observe(
            &format!("s{i}.example"),
            Read::new(at, ALL, Judged::Lead),
            &rule,
            true,
        );
    }
    assert_eq!(all.sources.len(), MAX_SOURCES);
    assert!(
        !all.sources.contains_key("s0.example"),
        "the longest unread made room"
    );
    assert!(
        all.sources
            .contains_key(&format!("s{}.example", MAX_SOURCES + 4))
    );
}

#[test]
fn a_read_is_a_time_and_a_byte() {
    let read = Read::new(t0(), &[Field::Phone, Field::Listing], Judged::Unsure);
    assert_eq!(
        serde_json::to_string(&read).unwrap(),
        format!("[{},{}]", t0().timestamp_millis(), 2 | 16 | 32)
    );
    assert!(read.carries(Field::Phone) && !read.carries(Field::Email) && read.is_lead());
}

#[test]
fn thresholds_are_settings_and_bad_ones_are_refused() {
    let t: toml::Table =
        "[parsing]\ndrift_min_reads = 50\ndrift_carried_share = 0.8\ndrift_missing_in_row = 5\n"
            .parse()
            .unwrap();
    let rule = DriftRule::from_toml(&t["parsing"]).unwrap();
    assert_eq!(
        (rule.min_reads, rule.carried_share, rule.missing_in_row),
        (50, 0.8, 5)
    );
    assert_eq!(rule.recent, 10);
    for bad in [
        "drift_min_reads = 0",
        "drift_carried_share = 90",
        "drift_missing_in_row = \"10\"",
        "drift_missing = 10",
    ] {
        let t: toml::Table = format!("[parsing]\n{bad}\n").parse().unwrap();
        let err = DriftRule::from_toml(&t["parsing"]).unwrap_err();
        assert!(err.starts_with("parsing."), "{bad}: {err}");
    }
}

#[test]
fn the_source_of_a_generic_reading_is_its_sites_domain() {
    use crate::envelope::{EnvelopeBuilder, OriginKind, Step};
    let lead = |source: Option<&str>| crate::lead::Lead {
        email: Some("a@example.com".into()),
        lead_source: source.map(Into::into),
        ..Default::default()
    };
    let envelope = |sender: &str, source: Option<&str>| {
        EnvelopeBuilder::new(OriginKind::Email, sender, "c", b"x")
            .step(Step::Capture {
                lead: lead(source),
                sender_lead_id: None,
            })
            .build()
    };
    assert_eq!(
        source_of(&envelope("email", Some("newportal.example"))),
        "newportal.example"
    );
    assert_eq!(
        source_of(&envelope("email", Some("NewPortal.example"))),
        "email",
        "no reader writes it so"
    );
    assert_eq!(source_of(&envelope("email", Some("Website"))), "email");
    assert_eq!(source_of(&envelope("zillow", Some("Zillow"))), "zillow");
}
