//! `inlet status`: what waits and what needs a person, read from the queues, the ledger, the
//! kept items and (for a stack) CloudWatch: delivery's judgement (`ok`, `failing`,
//! `stalled`, as `/health` says it), leads waiting and the oldest's age, what moved in the
//! last hour and day and how fast, dead letters by why, spam kept, mail held for review,
//! unsure readings, and forwarding confirmations with their code and link (an agent's
//! forwarding does not work until someone confirms it). It exits 1 while delivery is
//! failing or stalled.

use inlet::breaker::RechatState;
use inlet::deliver::view::{DeliveryStatus, Reading};
use inlet::kept::KeptKind;
use inlet::queue::{DeadMessage, FORWARDING_CONFIRMATION, SPAM};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// What `report` reads besides delivery's state.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// How many are kept, by kind; `None` when the store could not be read.
    pub counts: Option<Vec<(KeptKind, u64)>>,
}

impl Kept {
    fn count(&self, kind: KeptKind) -> Option<u64> {
        self.counts
            .as_ref()
            .map(|c| c.iter().filter(|(k, _)| *k == kind).map(|(_, n)| n).sum())
    }
}

/// The reading with the queue's oldest age that CloudWatch knows (SQS gives it only as a
/// metric), judged again with it: on a stack, a stall can be seen only so.
pub fn with_oldest(reading: Reading, oldest_waiting_secs: Option<u64>) -> Reading {
    let Some(oldest) = oldest_waiting_secs else {
        return reading;
    };
    let mut backlog = reading.backlog.clone().unwrap_or_default();
    if backlog.oldest_waiting_secs.is_some() {
        return reading;
    }
    backlog.oldest_waiting_secs = Some(oldest);
    let view = inlet::deliver::view::judge(
        Some(&backlog),
        &reading.activity,
        reading.rechat.as_ref(),
        chrono::Utc::now(),
        inlet::deliver::view::STALL_AFTER,
    );
    Reading {
        view,
        backlog: Some(backlog),
        ..reading
    }
}

/// The report, as lines: plain data in, text out. `waiting` is the queue's count when the
/// reading's backlog is unknown; `cloud` is what CloudWatch says of a stack.
pub fn report(
    place: &str,
    reading: &Reading,
    dead: &[DeadMessage],
    kept: &Kept,
    cloud: Option<&inlet::stack::StackMetrics>,
) -> Vec<String> {
    let view = &reading.view;
    let activity = &reading.activity;
    let or_unknown = |n: Option<u64>| n.map_or("unknown".to_owned(), |n| n.to_string());
    let waiting_for_person = dead
        .iter()
        .filter(|d| d.dead_letter.waits_for_person())
        .count();
    let state = inlet::deliver::view::state(view, waiting_for_person);
    let mut lines = vec![
        format!("inlet status ({place})"),
        format!(
            "  state                {}",
            match state {
                "needs_attention" => format!(
                    "needs attention: {waiting_for_person} lead(s) did not reach the agent and wait for a person (inlet dlq list)"
                ),
                other => other.to_owned(),
            }
        ),
        format!(
            "  delivery             {}{}",
            view.status.as_str(),
            if view.why.is_empty() {
                String::new()
            } else {
                format!(": {}", view.why)
            }
        ),
        format!(
            "  rechat               {}",
            rechat_line(reading.rechat.as_ref())
        ),
        format!("  waiting to deliver   {}", or_unknown(view.waiting)),
        format!(
            "  oldest waiting       {}",
            match (view.waiting, view.oldest_waiting_secs) {
                (Some(0), _) => "nothing waits".to_owned(),
                (_, Some(s)) => format!("{s}s"),
                (_, None) =>
                    "unknown (on AWS: the queue's ApproximateAgeOfOldestMessage metric)".to_owned(),
            }
        ),
        format!(
            "  in retry             {}",
            if activity.known {
                activity.in_retry.to_string()
            } else {
                or_unknown(reading.backlog.as_ref().map(|b| b.in_flight))
            }
        ),
    ];
    lines.extend(drift_lines(reading));
    if activity.known {
        let ms =
            |v: Option<u64>| v.map_or("-".to_owned(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        lines.push(format!(
            "  delivered            {} in the last hour, {} in the last day",
            activity.delivered_last_hour, activity.delivered_last_day
        ));
        lines.push(format!(
            "  speed to lead        p50 {}, p99 {} (acknowledged to Rechat's answer, last day)",
            ms(activity.speed_to_lead_p50_ms),
            ms(activity.speed_to_lead_p99_ms)
        ));
        lines.push(format!(
            "  last delivery        {}",
            activity
                .last_success_at
                .map_or("none in the last day".to_owned(), |t| t
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        ));
    } else {
        lines.push(
            "  delivered            unknown (the ledger could not be listed; see the stack's dashboard)"
                .into(),
        );
    }
    if let Some(cloud) = cloud {
        let said: Vec<String> = cloud
            .leads
            .iter()
            .filter(|(_, _, day)| *day > 0)
            .map(|(outcome, hour, day)| format!("{} {day} ({hour})", outcome.replace('_', " ")))
            .collect();
        lines.push(format!(
            "  last day, CloudWatch {}",
            if said.is_empty() {
                "no leads counted (the last hour in brackets)".to_owned()
            } else {
                format!("{} (the last hour in brackets)", said.join(", "))
            }
        ));
    }
    let cause = |d: &DeadMessage| d.dead_letter.cause.clone();
    let confirmations: Vec<_> = dead
        .iter()
        .filter(|d| cause(d).as_deref() == Some(FORWARDING_CONFIRMATION))
        .collect();
    let spam = dead
        .iter()
        .filter(|d| cause(d).as_deref() == Some(SPAM))
        .count();
    let demo = dead
        .iter()
        .filter(|d| cause(d).as_deref() == Some(inlet::queue::DEMO))
        .count();
    let others: Vec<_> = dead
        .iter()
        .filter(|d| {
            !matches!(
                cause(d).as_deref(),
                Some(FORWARDING_CONFIRMATION | SPAM | inlet::queue::DEMO)
            )
        })
        .collect();
    lines.push(format!("  dead letters         {}", others.len()));
    let mut by_why = BTreeMap::<String, usize>::new();
    for d in &others {
        *by_why.entry(why(d)).or_default() += 1;
    }
    for (why, n) in by_why {
        lines.push(format!("    {n:>4}  {why}"));
    }
    if demo > 0 {
        lines.push(format!(
            "  example form leads   {demo} refused by Rechat as expected (the demo channel is no account's)"
        ));
    }
    let unknown = "unknown (the kept items could not be read)".to_owned();
    let spam = kept.count(KeptKind::Spam).map(|n| n + spam as u64);
    lines.push(format!(
        "  spam kept            {}",
        spam.map_or(unknown.clone(), |n| format!(
            "{n}{}",
            if n > 0 {
                " (inlet spam list; inlet spam release --id ID queues one)"
            } else {
                ""
            }
        ))
    ));
    lines.push(format!(
        "  mail held for review {}",
        kept.count(KeptKind::NotALead)
            .map_or(unknown.clone(), |n| format!(
                "{n}{}",
                if n > 0 {
                    " read as no lead (inlet review list; release one with --channel)"
                } else {
                    ""
                }
            ))
    ));
    lines.push(format!(
        "  unsure readings      {}",
        kept.count(KeptKind::Unsure).map_or(unknown, |n| format!(
            "{n}{}",
            if n > 0 {
                " delivered and kept for a look (inlet review list --kind unsure)"
            } else {
                ""
            }
        ))
    ));
    lines.push(format!(
        "  forwarding confirmations waiting   {}",
        confirmations.len()
    ));
    for d in confirmations {
        lines.push(format!(
            "    {}  {}",
            d.sent_at.format("%Y-%m-%d %H:%M"),
            d.dead_letter.reason
        ));
    }
    let refused = others
        .iter()
        .filter(|d| d.dead_letter.refused_for_content())
        .count();
    if refused > 0 {
        lines.push(format!(
            "  {refused} refused by Rechat for their content fail the same way if replayed: inlet dlq correct --id ID --set field=value"
        ));
    }
    if !others.is_empty() {
        lines.push(
            "  inlet dlq list shows each dead letter; inlet dlq replay takes them again.".into(),
        );
    }
    lines
}

fn rechat_line(rechat: Option<&RechatState>) -> String {
    let Some(state) = rechat else {
        return "availability unknown (the ledger cannot be read)".into();
    };
    match state.describe() {
        Some(down) => format!(
            "{down}; last error: {}; {} probes so far; leads are held and go when it answers",
            state.last_error.as_deref().unwrap_or("none recorded"),
            state.probes
        ),
        None => "available".into(),
    }
}

/// Whether the report is of failing or stalled delivery (the exit status says so to
/// scripts).
pub fn failing(reading: &Reading) -> bool {
    reading.view.status != DeliveryStatus::Ok
}

/// Whether a person must act: delivery failing or stalled, or a lead that did not reach the
/// agent waiting on the dead-letter queue (`inlet status || alert`).
pub fn needs_person(reading: &Reading, dead: &[DeadMessage]) -> bool {
    failing(reading)
        || dead.iter().any(|d| d.dead_letter.waits_for_person())
        || reading.parsing.as_ref().is_some_and(|d| !d.is_empty())
}

/// A source's reads that drift, as the report says them: what changed, since when, and what
/// to do.
pub fn drift_lines(reading: &Reading) -> Vec<String> {
    let Some(drifts) = &reading.parsing else {
        return vec![
            "  parsing              unknown (the sources' profiles cannot be read)".into(),
        ];
    };
    if drifts.is_empty() {
        return vec!["  parsing              ok".into()];
    }
    let mut lines = vec![format!(
        "  parsing              DRIFT: {} lead source(s) read differently than they usually are",
        drifts.len()
    )];
    for d in drifts {
        let since = d.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        lines.push(if d.field == inlet::profile::NO_LEAD {
            format!(
                "    {}: its mail is read as no lead or unsure far more than usual since {since} ({} reads): inlet review list --kind not-a-lead",
                d.source, d.reads
            )
        } else {
            format!(
                "    {}: {} missing since {since} ({} leads without it): teach the reader with [email.fields.\"{}\"] or [senders.*.fields], or inlet parse dismiss --source {} --field {}",
                d.source, d.field, d.reads, d.source, d.source, d.field
            )
        });
    }
    lines
}

/// A dead letter's kind, to count alike together: its cause, else its failed step and
/// Rechat's status, else its reason up to the first detail.
fn why(d: &DeadMessage) -> String {
    let dead = &d.dead_letter;
    if let Some(cause) = &dead.cause {
        return cause.replace('_', " ");
    }
    match (&dead.failed_step, dead.status) {
        (Some(step), Some(status)) => format!("{step}: Rechat answered {status}"),
        (Some(step), None) => format!("{step}: {}", short(&dead.reason)),
        _ => short(&dead.reason),
    }
}

fn short(reason: &str) -> String {
    reason.split(':').next().unwrap_or(reason).trim().to_owned()
}

pub fn print(lines: &[String], failing: bool) -> ExitCode {
    for line in lines {
        println!("{line}");
    }
    if failing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet::deliver::view::{Activity, DeliveryView, STALL_AFTER, judge};
    use inlet::queue::{Backlog, DeadLetter};

    fn dead(
        reason: &str,
        cause: Option<&str>,
        step: Option<&str>,
        status: Option<u16>,
    ) -> DeadMessage {
        DeadMessage {
            message_id: "m".into(),
            body: "{}".into(),
            dead_letter: DeadLetter {
                reason: reason.into(),
                envelope_id: None,
                group_id: String::new(),
                failed_step: step.map(str::to_owned),
                status,
                cause: cause.map(str::to_owned),
            },
            sent_at: chrono::DateTime::default(),
        }
    }

    fn reading(
        backlog: Option<Backlog>,
        activity: Activity,
        rechat: Option<RechatState>,
    ) -> Reading {
        let now = chrono::Utc::now();
        let view: DeliveryView = judge(
            backlog.as_ref(),
            &activity,
            rechat.as_ref(),
            now,
            STALL_AFTER,
        );
        Reading {
            view,
            activity,
            backlog,
            rechat,
            parsing: Some(Vec::new()),
        }
    }

    fn backlog(waiting: u64, oldest: u64) -> Backlog {
        Backlog {
            waiting,
            in_flight: 1,
            oldest_waiting_secs: Some(oldest),
            dead_letters: 4,
        }
    }

    #[test]
    fn dead_letters_are_counted_by_why_and_confirmations_shown_whole() {
        let activity = Activity {
            known: true,
            delivered_last_hour: 7,
            delivered_last_day: 31,
            speed_to_lead_p50_ms: Some(900),
            speed_to_lead_p99_ms: Some(4_200),
            last_success_at: Some(chrono::Utc::now()),
            in_retry: 2,
            ..Activity::default()
        };
        let kept = Kept {
            counts: Some(vec![
                (KeptKind::Spam, 2),
                (KeptKind::NotALead, 3),
                (KeptKind::Unsure, 0),
            ]),
        };
        let lines = report(
            "test",
            &reading(Some(backlog(3, 12)), activity, Some(RechatState::default())),
            &[
                dead(
                    "unroutable: no routing rule for a@in.example.com",
                    Some("unroutable"),
                    None,
                    None,
                ),
                dead(
                    "unroutable: no routing rule for b@in.example.com",
                    Some("unroutable"),
                    None,
                    None,
                ),
                dead(
                    "Rechat refused the request with 400: Validation",
                    None,
                    Some("capture"),
                    Some(400),
                ),
                dead("spam: honeypot", Some(SPAM), None, None),
                dead(
                    "forwarding confirmation (gmail): ana@gmail.com asked to forward mail here; code 1234; confirm at https://mail-settings.google.com/mail/vf-x",
                    Some(FORWARDING_CONFIRMATION),
                    None,
                    None,
                ),
            ],
            &kept,
            None,
        );
        let text = lines.join("\n");
        for want in [
            "delivery             ok",
            "rechat               available",
            "waiting to deliver   3",
            "oldest waiting       12s",
            "in retry             2",
            "delivered            7 in the last hour, 31 in the last day",
            "speed to lead        p50 0.9s, p99 4.2s",
            "dead letters         3",
            "   2  unroutable",
            "   1  capture: Rechat answered 400",
            "spam kept            3 (inlet spam list",
            "mail held for review 3 read as no lead",
            "unsure readings      0\n",
            "forwarding confirmations waiting   1",
            "code 1234; confirm at https://mail-settings.google.com/mail/vf-x",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
    }

    #[test]
    fn an_open_breaker_is_said_with_since_when_and_fails_the_status() {
        let down = RechatState {
            unavailable_since: chrono::DateTime::from_timestamp(1_800_000_000, 0),
            last_error: Some("503: Internal Error".into()),
            probes: 4,
            ..RechatState::default()
        };
        let r = reading(Some(backlog(200, 60)), Activity::default(), Some(down));
        let text = report("test", &r, &[], &Kept::default(), None).join("\n");
        assert!(
            text.contains("Rechat unavailable since 2027-01-15T08:00:00Z; last error: 503: Internal Error; 4 probes"),
            "{text}"
        );
        assert!(
            text.contains("delivery             failing: Rechat unavailable"),
            "{text}"
        );
        assert!(failing(&r));
        assert!(!failing(&reading(
            None,
            Activity::default(),
            Some(RechatState::default())
        )));
        // Unreadable is said as such, and is not by itself a failing delivery.
        let unknown = reading(None, Activity::default(), None);
        let text = report("test", &unknown, &[], &Kept::default(), None).join("\n");
        assert!(text.contains("availability unknown"), "{text}");
        assert!(text.contains("waiting to deliver   unknown"), "{text}");
        assert!(text.contains("delivered            unknown"), "{text}");
        assert!(text.contains("spam kept            unknown"), "{text}");
        assert!(!failing(&unknown));
    }

    #[test]
    fn a_refused_lead_needs_a_person_though_delivery_is_ok() {
        let r = reading(
            Some(Backlog {
                waiting: 0,
                in_flight: 0,
                oldest_waiting_secs: None,
                dead_letters: 1,
            }),
            Activity {
                known: true,
                ..Activity::default()
            },
            Some(RechatState::default()),
        );
        let refused = dead(
            "Rechat refused the request with 400: email is not valid",
            None,
            Some("capture"),
            Some(400),
        );
        let text = report(
            "test",
            &r,
            std::slice::from_ref(&refused),
            &Kept::default(),
            None,
        )
        .join("\n");
        assert!(!failing(&r));
        assert!(needs_person(&r, std::slice::from_ref(&refused)));
        for want in [
            "state                needs attention: 1 lead(s) did not reach the agent",
            "delivery             ok",
            "oldest waiting       nothing waits",
            "1 refused by Rechat for their content fail the same way if replayed",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        // What does not wait for a person: an unknown lead's follow-up, spam, a
        // confirmation, the example form's lead.
        let others = [
            dead(
                "unknown lead",
                Some("unknown_lead"),
                Some("timeline"),
                Some(404),
            ),
            dead("spam: honeypot", Some(SPAM), None, None),
            dead("confirm", Some(FORWARDING_CONFIRMATION), None, None),
            dead("demo", Some(inlet::queue::DEMO), Some("capture"), Some(404)),
        ];
        assert!(!needs_person(&r, &others));
        let text = report("test", &r, &others, &Kept::default(), None).join("\n");
        assert!(text.contains("state                ok"), "{text}");
        assert!(
            text.contains("example form leads   1 refused by Rechat as expected"),
            "{text}"
        );
    }

    #[test]
    fn a_stall_fails_the_status() {
        let r = reading(
            Some(backlog(5, 3_600)),
            Activity {
                known: true,
                ..Activity::default()
            },
            Some(RechatState::default()),
        );
        let text = report("test", &r, &[], &Kept::default(), None).join("\n");
        assert!(
            text.contains("delivery             stalled: the oldest lead has waited 3600s"),
            "{text}"
        );
        assert!(
            text.contains("last delivery        none in the last day"),
            "{text}"
        );
        assert!(failing(&r));
    }
}

#[cfg(test)]
mod stack_tests {
    use super::*;
    use inlet::deliver::view::{Activity, STALL_AFTER, judge};
    use inlet::queue::Backlog;

    #[test]
    fn cloudwatchs_oldest_age_judges_a_stall_the_queue_could_not_see() {
        // SQS counts what waits but not how long: the stack's reading before CloudWatch.
        let backlog = Backlog {
            waiting: 4,
            in_flight: 0,
            oldest_waiting_secs: None,
            dead_letters: 0,
        };
        let activity = Activity {
            known: true,
            ..Activity::default()
        };
        let now = chrono::Utc::now();
        let reading = Reading {
            view: judge(Some(&backlog), &activity, None, now, STALL_AFTER),
            activity,
            backlog: Some(backlog),
            rechat: None,
            parsing: Some(Vec::new()),
        };
        assert!(!failing(&reading));
        let judged = with_oldest(reading.clone(), Some(3_600));
        assert!(failing(&judged), "{:?}", judged.view);
        assert_eq!(judged.view.oldest_waiting_secs, Some(3_600));
        assert!(!failing(&with_oldest(reading.clone(), None)));
        let cloud = inlet::stack::StackMetrics {
            oldest_waiting_secs: Some(3_600),
            leads: vec![("received", 2, 40), ("delivered", 1, 37), ("spam", 0, 0)],
        };
        let text = report("stack s", &judged, &[], &Kept::default(), Some(&cloud)).join("\n");
        assert!(
            text.contains(
                "last day, CloudWatch received 40 (2), delivered 37 (1) (the last hour in brackets)"
            ),
            "{text}"
        );
        assert!(text.contains("oldest waiting       3600s"), "{text}");
    }
}
