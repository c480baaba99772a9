//! What reconciliation found, for a person: per form and day, the leads Meta has, those the
//! webhooks brought and those reconciliation added, and the last successful run; whether runs
//! have failed for an hour (the alarm), in words; and whether the webhook subscription looks
//! broken (reconciliation bringing a good share of the leads). One reading, shown three ways:
//! `inlet status`'s lines, the console's JSON and `/metrics`.

use super::state::{self, FormDoc, RunDoc};
use crate::ledger::{Ledger, LedgerError};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs failing this long raise the alarm.
pub const ALARM_AFTER: Duration = Duration::from_secs(3600);

/// What the runs' and forms' documents say.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub run: RunDoc,
    pub forms: Vec<FormFigures>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FormFigures {
    pub id: String,
    pub doc: FormDoc,
}

/// One form's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DayFigures {
    pub day: NaiveDate,
    /// Leads Meta listed for the day.
    pub meta: usize,
    /// Of those, ones a webhook had brought.
    pub webhooks: usize,
    /// Of those, ones reconciliation added.
    pub reconciled: usize,
    /// More leads came than the figures remember (`state::MAX_LEADS_PER_DAY`).
    pub partial: bool,
}

impl FormFigures {
    /// The days with leads, newest first.
    pub fn days(&self) -> Vec<DayFigures> {
        self.doc
            .days
            .iter()
            .rev()
            .map(|(day, d)| DayFigures {
                day: *day,
                meta: d.webhook.len() + d.reconciled.len(),
                webhooks: d.webhook.len(),
                reconciled: d.reconciled.len(),
                partial: d.partial,
            })
            .collect()
    }
}

/// Reads the figures; `None` before any run.
pub async fn read(ledger: &dyn Ledger) -> Result<Option<Figures>, LedgerError> {
    let run: state::Versioned<RunDoc> = state::load(ledger, state::RUN_KEY).await?;
    if run.version == 0 {
        return Ok(None);
    }
    let mut forms = Vec::with_capacity(run.value.forms.len());
    for f in &run.value.forms {
        let doc: state::Versioned<FormDoc> = state::load(ledger, &state::form_key(&f.id)).await?;
        forms.push(FormFigures {
            id: f.id.clone(),
            doc: doc.value,
        });
    }
    Ok(Some(Figures {
        run: run.value,
        forms,
    }))
}

/// What the figures mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// `ok`, `failing` (the last run failed), `alarm` (runs have failed for an hour).
    pub status: &'static str,
    pub failing_for: Option<Duration>,
    pub error: Option<String>,
    /// Words on the webhook subscription when reconciliation brings leads it did not.
    pub webhooks: Option<String>,
}

/// Judges the figures at `now`.
pub fn judge(f: &Figures, now: DateTime<Utc>) -> Judgement {
    let failing_for = f
        .run
        .failing_since
        .map(|since| (now - since).to_std().unwrap_or_default());
    let status = match failing_for {
        Some(d) if d >= ALARM_AFTER => "alarm",
        Some(_) => "failing",
        None => "ok",
    };
    Judgement {
        status,
        failing_for,
        error: f.run.last_error.clone(),
        webhooks: webhook_words(f, now.date_naive()),
    }
}

/// Whether the alarm is raised.
pub fn alarm(f: Option<&Figures>, now: DateTime<Utc>) -> bool {
    f.is_some_and(|f| judge(f, now).status == "alarm")
}

/// Over today and yesterday: many leads reconciliation had to add mean the subscription is
/// broken; a few, that webhooks missed some.
fn webhook_words(f: &Figures, today: NaiveDate) -> Option<String> {
    let (mut meta, mut added) = (0, 0);
    for form in &f.forms {
        for d in form
            .days()
            .iter()
            .filter(|d| (today - d.day).num_days() <= 1)
        {
            meta += d.meta;
            added += d.reconciled;
        }
    }
    if added == 0 {
        return None;
    }
    Some(if added >= 3 && added * 2 >= meta {
        format!(
            "the webhook subscription looks broken: reconciliation brought {added} of the {meta} leads of the last two days. In the Meta app's dashboard check that the page is subscribed to `leadgen` (Webhooks → Page), that the app is still installed on the page (Business Settings → Integrations → Leads Access), and that the callback URL is Inlet's; leads still arrive, up to one run late"
        )
    } else {
        format!(
            "webhooks missed {added} of the {meta} leads of the last two days; reconciliation added them"
        )
    })
}

fn ago(d: Duration) -> String {
    let m = d.as_secs() / 60;
    match m {
        0 => "under a minute".into(),
        1..=119 => format!("{m} min"),
        _ => format!("{}h {}m", m / 60, m % 60),
    }
}

fn at(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    t.map_or("never".into(), |t| {
        format!(
            "{} ({} ago)",
            t.format("%Y-%m-%d %H:%M UTC"),
            ago((now - t).to_std().unwrap_or_default())
        )
    })
}

/// `inlet status`'s lines (none when reconciliation has never run).
pub fn lines(f: Option<&Figures>, now: DateTime<Utc>) -> Vec<String> {
    let Some(f) = f else {
        return Vec::new();
    };
    let j = judge(f, now);
    let mut out = vec![match (j.status, j.failing_for) {
        ("ok", _) => format!(
            "  meta reconcile       ok, last success {}",
            at(f.run.last_success_at, now)
        ),
        (status, Some(d)) => format!(
            "  meta reconcile       {} for {} (last success {}): {}",
            if status == "alarm" {
                "FAILING"
            } else {
                "failing"
            },
            ago(d),
            at(f.run.last_success_at, now),
            j.error.as_deref().unwrap_or("no reason recorded")
        ),
        _ => String::new(),
    }];
    if let Some(words) = &j.webhooks {
        out.push(format!("  meta webhooks        {words}"));
    }
    for form in &f.forms {
        let name = form
            .doc
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        out.push(format!(
            "  meta form {}{name} (page {}): last success {}, {} added ever{}",
            form.id,
            form.doc.page_id,
            at(form.doc.last_success_at, now),
            form.doc.reconciled_total,
            form.doc
                .last_error
                .as_deref()
                .map(|e| format!("; last error: {e}"))
                .unwrap_or_default()
        ));
        let days = form.days();
        if days.is_empty() {
            out.push("    no leads in the last 7 days".into());
            continue;
        }
        out.push("    day          Meta has  webhooks  reconciled".into());
        for d in days {
            out.push(format!(
                "    {}  {:>8}  {:>8}  {:>10}{}",
                d.day,
                d.meta,
                d.webhooks,
                d.reconciled,
                if d.partial { "  (partial)" } else { "" }
            ));
        }
    }
    out
}

/// The console's object (`{"configured": false}` before any run).
pub fn json(f: Option<&Figures>, now: DateTime<Utc>) -> Value {
    let Some(f) = f else {
        return json!({"configured": false});
    };
    let j = judge(f, now);
    json!({
        "configured": true,
        "status": j.status,
        "last_run_at": f.run.last_run_at,
        "last_success_at": f.run.last_success_at,
        "failing_since": f.run.failing_since,
        "error": j.error,
        "webhooks": j.webhooks,
        "forms": f.forms.iter().map(|form| json!({
            "id": form.id,
            "page_id": form.doc.page_id,
            "name": form.doc.name,
            "last_success_at": form.doc.last_success_at,
            "last_error": form.doc.last_error,
            "reconciled_total": form.doc.reconciled_total,
            "days": form.days(),
        })).collect::<Vec<_>>(),
    })
}

/// `/metrics`' lines (none before any run).
pub fn prometheus(f: Option<&Figures>, now: DateTime<Utc>) -> String {
    let Some(f) = f else {
        return String::new();
    };
    let mut body = String::from(
        "# HELP inlet_meta_reconciled_total Meta leads reconciliation added because no webhook brought them, per form.\n# TYPE inlet_meta_reconciled_total counter\n",
    );
    for form in &f.forms {
        body.push_str(&format!(
            "inlet_meta_reconciled_total{{form=\"{}\"}} {}\n",
            form.id, form.doc.reconciled_total
        ));
    }
    body.push_str("# HELP inlet_meta_leads Meta leads of today (UTC) per form: all Meta has, those webhooks brought, those reconciliation added.\n# TYPE inlet_meta_leads gauge\n");
    let today = now.date_naive();
    for form in &f.forms {
        let d = form.days().into_iter().find(|d| d.day == today);
        let (meta, webhooks, reconciled) =
            d.map_or((0, 0, 0), |d| (d.meta, d.webhooks, d.reconciled));
        for (came, n) in [
            ("meta", meta),
            ("webhook", webhooks),
            ("reconciled", reconciled),
        ] {
            body.push_str(&format!(
                "inlet_meta_leads{{form=\"{}\",came=\"{came}\"}} {n}\n",
                form.id
            ));
        }
    }
    if let Some(t) = f.run.last_success_at {
        body.push_str(&format!(
            "# HELP inlet_meta_reconcile_last_success_timestamp_seconds When a Meta reconciliation run last succeeded.\n# TYPE inlet_meta_reconcile_last_success_timestamp_seconds gauge\ninlet_meta_reconcile_last_success_timestamp_seconds {}\n",
            t.timestamp()
        ));
    }
    body.push_str(&format!(
        "# HELP inlet_meta_reconcile_failing 1 while Meta reconciliation runs have failed for an hour.\n# TYPE inlet_meta_reconcile_failing gauge\ninlet_meta_reconcile_failing {}\n",
        u8::from(alarm(Some(f), now))
    ));
    body
}

/// The console's object, read from the ledger now; a ledger that cannot be read says so.
pub async fn console_json(ledger: &dyn Ledger) -> Value {
    match read(ledger).await {
        Ok(f) => json(f.as_ref(), Utc::now()),
        Err(e) => json!({"configured": null, "error": format!("the figures cannot be read: {e}")}),
    }
}

/// `/metrics`' lines read from the ledger now (none when it cannot be read: the scrape still
/// answers with the rest).
pub async fn metrics(ledger: &dyn Ledger) -> String {
    match read(ledger).await {
        Ok(f) => prometheus(f.as_ref(), Utc::now()),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta_reconcile::state::{Came, FormRef};

    fn figures(now: DateTime<Utc>) -> Figures {
        let today = now.date_naive();
        let mut doc = FormDoc {
            page_id: "900".into(),
            name: Some("Buyers".into()),
            last_success_at: Some(now),
            ..FormDoc::default()
        };
        for i in 0..4 {
            doc.record(today, today, &format!("w{i}"), Came::Webhook);
        }
        doc.record(today, today, "r1", Came::Reconciled);
        Figures {
            run: RunDoc {
                last_success_at: Some(now),
                forms: vec![FormRef {
                    id: "800".into(),
                    page_id: "900".into(),
                    name: None,
                }],
                ..RunDoc::default()
            },
            forms: vec![FormFigures {
                id: "800".into(),
                doc,
            }],
        }
    }

    #[test]
    fn the_figures_read_per_form_and_day() {
        let now = Utc::now();
        let f = figures(now);
        let days = f.forms[0].days();
        assert_eq!(
            (days[0].meta, days[0].webhooks, days[0].reconciled),
            (5, 4, 1)
        );
        let text = lines(Some(&f), now).join("\n");
        assert!(text.contains("meta reconcile       ok"), "{text}");
        assert!(text.contains("webhooks missed 1 of the 5 leads"), "{text}");
        assert!(
            text.contains("meta form 800 \"Buyers\" (page 900)"),
            "{text}"
        );
        let metrics = prometheus(Some(&f), now);
        assert!(
            metrics.contains("inlet_meta_reconciled_total{form=\"800\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("inlet_meta_leads{form=\"800\",came=\"webhook\"} 4"));
        assert!(metrics.contains("inlet_meta_reconcile_failing 0"));
        assert_eq!(json(Some(&f), now)["forms"][0]["days"][0]["reconciled"], 1);
        assert!(lines(None, now).is_empty() && prometheus(None, now).is_empty());
        assert_eq!(json(None, now), json!({"configured": false}));
    }

    #[test]
    fn an_hour_of_failures_raises_the_alarm_and_many_added_leads_mean_a_broken_subscription() {
        let now = Utc::now();
        let mut f = figures(now);
        f.run.failing_since = Some(now - chrono::Duration::minutes(20));
        f.run.last_error = Some("page 900: Meta refused the page token".into());
        assert_eq!(judge(&f, now).status, "failing");
        assert!(!alarm(Some(&f), now));
        f.run.failing_since = Some(now - chrono::Duration::minutes(61));
        assert!(alarm(Some(&f), now));
        let text = lines(Some(&f), now).join("\n");
        assert!(text.contains("FAILING for 61 min"), "{text}");
        assert!(text.contains("Meta refused the page token"));
        let today = now.date_naive();
        for i in 2..6 {
            f.forms[0]
                .doc
                .record(today, today, &format!("r{i}"), Came::Reconciled);
        }
        let words = judge(&f, now).webhooks.unwrap();
        assert!(
            words.starts_with("the webhook subscription looks broken"),
            "{words}"
        );
        assert!(prometheus(Some(&f), now).contains("inlet_meta_reconcile_failing 1"));
    }
}
