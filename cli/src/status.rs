//! `inlet status`: what waits and what needs a person, read from the queues: leads waiting,
//! dead letters by why, and forwarding confirmations with their code and link (an agent's
//! forwarding does not work until someone confirms it), and whether Rechat answers (the
//! breaker's shared state). It exits 1 while Rechat is judged unavailable.

use inlet::breaker::RechatState;
use inlet::queue::{DeadMessage, FORWARDING_CONFIRMATION};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// The report, as lines: plain data in, text out.
pub fn report(
    place: &str,
    waiting: u64,
    dead: &[DeadMessage],
    rechat: Option<&RechatState>,
) -> Vec<String> {
    let mut lines = vec![
        format!("inlet status ({place})"),
        format!("  rechat               {}", rechat_line(rechat)),
        format!("  waiting to deliver   {waiting}"),
    ];
    let (confirmations, others): (Vec<_>, Vec<_>) = dead
        .iter()
        .partition(|d| d.dead_letter.cause.as_deref() == Some(FORWARDING_CONFIRMATION));
    lines.push(format!("  dead letters         {}", others.len()));
    let mut by_why = BTreeMap::<String, usize>::new();
    for d in &others {
        *by_why.entry(why(d)).or_default() += 1;
    }
    for (why, n) in by_why {
        lines.push(format!("    {n:>4}  {why}"));
    }
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

/// Whether the report is of failing delivery (the exit status says so to scripts).
pub fn failing(rechat: Option<&RechatState>) -> bool {
    rechat.is_some_and(RechatState::is_open)
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
    use inlet::queue::DeadLetter;

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

    #[test]
    fn dead_letters_are_counted_by_why_and_confirmations_shown_whole() {
        let lines = report(
            "test",
            3,
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
                dead(
                    "forwarding confirmation (gmail): ana@gmail.com asked to forward mail here; code 1234; confirm at https://mail-settings.google.com/mail/vf-x",
                    Some(FORWARDING_CONFIRMATION),
                    None,
                    None,
                ),
            ],
            Some(&RechatState::default()),
        );
        let text = lines.join("\n");
        assert!(text.contains("rechat               available"), "{text}");
        assert!(text.contains("waiting to deliver   3"), "{text}");
        assert!(text.contains("dead letters         3"), "{text}");
        assert!(text.contains("   2  unroutable"), "{text}");
        assert!(
            text.contains("   1  capture: Rechat answered 400"),
            "{text}"
        );
        assert!(
            text.contains("forwarding confirmations waiting   1"),
            "{text}"
        );
        assert!(
            text.contains("code 1234; confirm at https://mail-settings.google.com/mail/vf-x"),
            "{text}"
        );
    }

    #[test]
    fn an_open_breaker_is_said_with_since_when_and_fails_the_status() {
        let down = RechatState {
            unavailable_since: chrono::DateTime::from_timestamp(1_800_000_000, 0),
            last_error: Some("503: Internal Error".into()),
            probes: 4,
            ..RechatState::default()
        };
        let text = report("test", 200, &[], Some(&down)).join("\n");
        assert!(
            text.contains("Rechat unavailable since 2027-01-15T08:00:00Z; last error: 503: Internal Error; 4 probes"),
            "{text}"
        );
        assert!(failing(Some(&down)));
        assert!(!failing(Some(&RechatState::default())));
        // Unreadable is said as such, and is not by itself a failing delivery.
        assert!(
            report("test", 0, &[], None)
                .join("\n")
                .contains("availability unknown")
        );
        assert!(!failing(None));
    }
}
