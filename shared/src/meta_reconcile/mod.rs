//! Meta reconciliation: no Meta lead left behind. Meta's `leadgen` webhooks miss leads (a page
//! subscription that lapses, permissions Meta resets, a delivery it never retries), so on a
//! schedule Inlet asks the Graph API for every lead each configured form received since the
//! last successful run (less an overlap), and queues the ones the ledger does not know,
//! exactly as a webhook-notified lead is queued (`webhook::senders::meta::leadgen_event`, then
//! `webhook::build`): the same envelope id, so whichever of the webhook and reconciliation
//! comes second is a repeat, and delivery reads the lead with the page token as it does for a
//! notified one. Only ids go on the queue.
//!
//! - Each form's cursor is in the ledger's documents (`state`), moved only once every lead up
//!   to it is handled: a crashed or missed run goes on from where the last one finished.
//! - A lead is marked as added before it is queued, so a run that crashes in between queues it
//!   again (the same envelope: one lead) and still counts it once.
//! - Graph's rate-limit headers are read after each call: calls slow down past half the
//!   allowance and the run stops at 90%, to go on at the next run (`meta_graph::usage`).
//! - A run holds a lease in the ledger, so two (the schedule and a person's `inlet meta
//!   reconcile`) never run at once.
//!
//! `figures` reads what the runs found for `inlet status`, the console and `/metrics`.

pub mod figures;
pub mod state;

use crate::envelope::Envelope;
use crate::ledger::{Ledger, LedgerError, LedgerRecord};
use crate::meta_graph::usage::{Pace, Step as PaceStep, Usage};
use crate::meta_graph::{GraphError, LeadForm, ListedLead, Listing, MetaListing};
use crate::queue::Queue;
use crate::webhook::meta_pages::{MetaPage, MetaReconcile};
use crate::webhook::{SenderSettings, WebhookSettings};
use chrono::{DateTime, Utc};
use state::{Came, FormDoc, FormRef, RunDoc, Versioned};
use std::time::Duration;

/// How a run behaves beyond the routing file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub pace: Pace,
    /// Waits before each retry of a call that failed transiently (one retry per entry).
    pub retry_waits: Vec<Duration>,
    /// Leads younger than this are left to the next run: their webhook is usually on its
    /// way, and counting it would call a webhook lead reconciled.
    pub settle: Duration,
    /// How far back a form's first run looks (`inlet meta reconcile --since` for more).
    pub first_look_back: Duration,
    /// How long a run holds the lease (a crashed run's ends after it).
    pub lease: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            pace: Pace::default(),
            retry_waits: vec![Duration::from_secs(1), Duration::from_secs(5)],
            settle: Duration::from_secs(5 * 60),
            first_look_back: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(10 * 60),
        }
    }
}

/// What reconciliation needs, each behind its narrow trait.
pub struct Reconciler<'a> {
    pub graph: &'a dyn MetaListing,
    pub ledger: &'a dyn Ledger,
    pub queue: &'a dyn Queue,
    /// The senders' settings: `meta`'s, with its `[senders.meta.reconcile]`.
    pub webhooks: &'a WebhookSettings,
    pub normalize: crate::normalize::NormalizeOptions,
    /// Lead channels a lead may have reached by webhook besides its routed one (the
    /// allowlist): a lead known under any of them is not added again.
    pub other_channels: Vec<String>,
    pub options: RunOptions,
}

/// One pass, as asked.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    pub now: DateTime<Utc>,
    /// Look from this time instead of each form's cursor (`inlet meta reconcile --since`).
    pub since: Option<DateTime<Utc>>,
    /// Say what would be added; write and queue nothing.
    pub dry_run: bool,
}

/// A lead reconciliation added (or, in a dry run, would add).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Added {
    pub leadgen_id: String,
    pub created_time: DateTime<Utc>,
    pub envelope_id: String,
    /// The lead channel, masked.
    pub channel: String,
}

/// What a pass did with one form.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FormReport {
    pub form_id: String,
    pub page_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Leads Meta listed in the window.
    pub listed: usize,
    /// Of those, ones the ledger knew.
    pub known: usize,
    pub added: Vec<Added>,
    /// Why the form was not finished, in words, with what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PassReport {
    /// `ok`, `failed` (some page or form was not finished), `busy` (another run holds the
    /// lease), or `off` (no `[senders.meta.reconcile]`).
    pub status: &'static str,
    pub dry_run: bool,
    pub forms: Vec<FormReport>,
    /// Pages that could not be read at all.
    pub page_errors: Vec<String>,
    /// Graph calls made, and how long the run waited for Meta's rate limits.
    pub graph_calls: u32,
    pub waited_ms: u64,
}

impl PassReport {
    pub fn added(&self) -> usize {
        self.forms.iter().map(|f| f.added.len()).sum()
    }

    pub fn failed(&self) -> bool {
        self.status == "failed"
    }

    /// Every error of the pass, in words (forms left for a reason already said, once).
    pub fn errors(&self) -> Vec<String> {
        let mut errors: Vec<String> = self.page_errors.clone();
        for f in &self.forms {
            let Some(e) = &f.error else { continue };
            if !e.starts_with(NOT_REACHED) {
                errors.push(format!("form {}: {e}", f.form_id));
            }
        }
        errors
    }
}

/// Why a pass could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the ledger is unavailable: {0}")]
    Ledger(#[from] LedgerError),
}

/// How a form left for a failure already said is reported.
const NOT_REACHED: &str = "not reached";

/// Why a form was stopped: its own failure, its page's (a token, a permission), or one that
/// stops the whole pass (a rate limit, the ledger or the queue), in words.
enum Stop {
    Form(String),
    Page(String),
    Pass(String),
}

impl Stop {
    /// The words, and whether the whole pass stops.
    fn words(self) -> (String, bool) {
        match self {
            Stop::Form(w) | Stop::Page(w) => (w, false),
            Stop::Pass(w) => (w, true),
        }
    }
}

/// The run's pacing: Meta's last word on usage, the calls made, the time waited.
struct Pacer {
    pace: Pace,
    usage: Usage,
    calls: u32,
    waited: Duration,
}

impl Pacer {
    /// Waits as the last usage asks; `Err` when the run must stop for now.
    async fn before_call(&mut self) -> Result<(), Stop> {
        match self.pace.next(self.usage) {
            PaceStep::Go => Ok(()),
            PaceStep::Wait(d) => {
                self.waited += d;
                tokio::time::sleep(d).await;
                Ok(())
            }
            PaceStep::Stop => Err(Stop::Pass(format!(
                "paused: Graph usage is at {}% of Meta's allowance{}; the next run goes on from here",
                self.usage.percent,
                self.usage
                    .regain_after
                    .map(|d| format!(
                        ", access again in about {} minutes",
                        d.as_secs().div_ceil(60)
                    ))
                    .unwrap_or_default()
            ))),
        }
    }
}

fn words(e: &GraphError) -> String {
    format!("{e}: {}", e.advice())
}

impl Reconciler<'_> {
    fn meta(&self) -> SenderSettings {
        self.webhooks.sender("meta")
    }

    /// Runs one pass over every configured page and form.
    pub async fn run(&self, pass: Pass) -> Result<PassReport, ReconcileError> {
        let settings = self.meta();
        let Some(reconcile) = settings.reconcile.as_ref() else {
            return Ok(PassReport {
                status: "off",
                dry_run: pass.dry_run,
                ..PassReport::default()
            });
        };
        let holder = uuid::Uuid::new_v4().to_string();
        let mut run: Versioned<RunDoc> = state::load(self.ledger, state::RUN_KEY).await?;
        if !pass.dry_run && !self.take_lease(&mut run, &holder, pass.now).await? {
            return Ok(PassReport {
                status: "busy",
                ..PassReport::default()
            });
        }
        let mut report = PassReport {
            dry_run: pass.dry_run,
            ..PassReport::default()
        };
        let mut pacer = Pacer {
            pace: self.options.pace,
            usage: Usage::default(),
            calls: 0,
            waited: Duration::ZERO,
        };
        let mut covered = Vec::new();
        let mut unread: Vec<String> = Vec::new();
        let mut stopped: Option<String> = None;
        for page in &reconcile.pages {
            if let Some(why) = &stopped {
                report
                    .page_errors
                    .push(format!("page {}: not reached ({why})", page.id));
                unread.push(page.id.clone());
                continue;
            }
            let forms = match self.forms_of(page, &mut pacer).await {
                Ok(forms) => forms,
                Err(stop) => {
                    let (why, whole_pass) = stop.words();
                    report.page_errors.push(format!("page {}: {why}", page.id));
                    unread.push(page.id.clone());
                    if whole_pass {
                        stopped = Some(why);
                    }
                    continue;
                }
            };
            let mut page_failed: Option<String> = None;
            for form in forms {
                covered.push(FormRef {
                    id: form.id.clone(),
                    page_id: page.id.clone(),
                    name: form.name.clone(),
                });
                let mut form_report = FormReport {
                    form_id: form.id.clone(),
                    page_id: page.id.clone(),
                    name: form.name.clone(),
                    ..FormReport::default()
                };
                if let Some(why) = stopped.as_ref().or(page_failed.as_ref()) {
                    form_report.error = Some(format!("{NOT_REACHED} ({why})"));
                    report.forms.push(form_report);
                    continue;
                }
                let result = self
                    .form(reconcile, page, &form, pass, &mut pacer, &mut form_report)
                    .await;
                match result {
                    Ok(()) => {}
                    Err(Stop::Form(why)) => form_report.error = Some(why),
                    Err(Stop::Page(why)) => {
                        form_report.error = Some(format!("page {}: {why}", page.id));
                        page_failed = Some(why);
                    }
                    Err(Stop::Pass(why)) => {
                        form_report.error = Some(why.clone());
                        stopped = Some(why);
                    }
                }
                report.forms.push(form_report);
            }
        }
        report.graph_calls = pacer.calls;
        report.waited_ms = pacer.waited.as_millis() as u64;
        report.status =
            if report.page_errors.is_empty() && report.forms.iter().all(|f| f.error.is_none()) {
                "ok"
            } else {
                "failed"
            };
        if !pass.dry_run {
            self.finish(&mut run, &holder, pass.now, &report, covered, &unread)
                .await?;
        }
        for f in report.forms.iter().filter(|_| !pass.dry_run) {
            for a in &f.added {
                tracing::info!(
                    envelope = %a.envelope_id, form = %f.form_id, leadgen_id = %a.leadgen_id,
                    outcome = "reconciled", "a Meta lead no webhook brought was queued"
                );
            }
        }
        match report.status {
            "ok" => tracing::info!(
                forms = report.forms.len(),
                added = report.added(),
                graph_calls = report.graph_calls,
                dry_run = pass.dry_run,
                "Meta reconciliation finished"
            ),
            _ => tracing::error!(
                forms = report.forms.len(), added = report.added(), graph_calls = report.graph_calls,
                errors = %report.errors().join("; "), "Meta reconciliation failed"
            ),
        }
        Ok(report)
    }

    /// Takes the runs' lease unless another run holds it.
    async fn take_lease(
        &self,
        run: &mut Versioned<RunDoc>,
        holder: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, LedgerError> {
        if run.value.lease_until.is_some_and(|until| until > now) {
            tracing::info!(until = ?run.value.lease_until, "another Meta reconciliation run holds the lease");
            return Ok(false);
        }
        run.value.lease_until = Some(now + lease_span(self.options.lease));
        run.value.lease_holder = Some(holder.to_owned());
        match state::save(self.ledger, state::RUN_KEY, run).await {
            Ok(()) => Ok(true),
            Err(LedgerError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records the run and gives the lease back (read again if another writer came between).
    async fn finish(
        &self,
        run: &mut Versioned<RunDoc>,
        holder: &str,
        now: DateTime<Utc>,
        report: &PassReport,
        covered: Vec<FormRef>,
        unread: &[String],
    ) -> Result<(), LedgerError> {
        for attempt in 0..3 {
            if attempt > 0 {
                *run = state::load(self.ledger, state::RUN_KEY).await?;
            }
            let doc = &mut run.value;
            if doc.lease_holder.as_deref() == Some(holder) {
                doc.lease_until = None;
                doc.lease_holder = None;
            }
            doc.last_run_at = Some(now);
            if report.failed() {
                doc.failing_since.get_or_insert(now);
                doc.last_error = Some(report.errors().join("; "));
            } else {
                doc.last_success_at = Some(now);
                doc.failing_since = None;
                doc.last_error = None;
            }
            // Forms a page no longer has are forgotten; a page that could not be read keeps
            // the forms it had.
            doc.forms.retain(|f| unread.contains(&f.page_id));
            for f in &covered {
                if !doc.forms.iter().any(|k| k.id == f.id) {
                    doc.forms.push(f.clone());
                }
            }
            match state::save(self.ledger, state::RUN_KEY, run).await {
                Err(LedgerError::Conflict { .. }) => continue,
                other => return other,
            }
        }
        Err(LedgerError::Unavailable(
            "the runs' document kept changing under this run".into(),
        ))
    }

    /// The page's forms: those named in the routing file, else every form Meta lists for it.
    async fn forms_of(&self, page: &MetaPage, pacer: &mut Pacer) -> Result<Vec<LeadForm>, Stop> {
        if !page.forms.is_empty() {
            return Ok(page
                .forms
                .iter()
                .map(|f| LeadForm {
                    id: f.id.clone(),
                    name: None,
                    status: None,
                })
                .collect());
        }
        let mut forms = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let listing = self
                .call(pacer, || self.graph.forms(&page.id, after.as_deref()))
                .await
                .map_err(|e| call_stop(e, false))?;
            forms.extend(listing.items.into_iter().filter(LeadForm::listable));
            match listing.after {
                Some(a) if Some(&a) != after.as_ref() => after = Some(a),
                _ => break,
            }
        }
        Ok(forms)
    }

    /// One Graph call: paced, retried while it fails transiently.
    async fn call<T, F, Fut>(&self, pacer: &mut Pacer, call: F) -> Result<Listing<T>, CallError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Listing<T>, GraphError>>,
    {
        let mut waits = self.options.retry_waits.iter();
        loop {
            pacer.before_call().await.map_err(CallError::Paused)?;
            pacer.calls += 1;
            match call().await {
                Ok(listing) => {
                    pacer.usage = listing.usage;
                    return Ok(listing);
                }
                Err(e @ GraphError::Transient { .. }) => match waits.next() {
                    Some(wait) => {
                        tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "a Graph call failed; trying again");
                        tokio::time::sleep(*wait).await;
                    }
                    None => return Err(CallError::Graph(e)),
                },
                Err(e) => return Err(CallError::Graph(e)),
            }
        }
    }

    /// One form: its leads since its cursor (less the overlap), each unknown one queued.
    async fn form(
        &self,
        reconcile: &MetaReconcile,
        page: &MetaPage,
        form: &LeadForm,
        pass: Pass,
        pacer: &mut Pacer,
        out: &mut FormReport,
    ) -> Result<(), Stop> {
        let key = state::form_key(&form.id);
        let ledger_stop = |e: LedgerError| Stop::Pass(format!("the ledger is unavailable: {e}"));
        let mut doc: Versioned<FormDoc> =
            state::load(self.ledger, &key).await.map_err(ledger_stop)?;
        doc.value.page_id = page.id.clone();
        if form.name.is_some() {
            doc.value.name = form.name.clone();
        }
        let overlap = chrono::Duration::from_std(reconcile.overlap).unwrap_or_default();
        let since = pass.since.unwrap_or_else(|| match doc.value.cursor {
            Some(cursor) => cursor - overlap,
            None => pass.now - span(self.options.first_look_back),
        });
        let until = pass.now - span(self.options.settle);
        let today = pass.now.date_naive();
        let mut after: Option<String> = None;
        let result: Result<(), Stop> = async {
            loop {
                let listing = self
                    .call(pacer, || {
                        self.graph
                            .leads(&page.id, &form.id, since, after.as_deref())
                    })
                    .await
                    .map_err(|e| call_stop(e, true))?;
                let leads: Vec<&ListedLead> = listing
                    .items
                    .iter()
                    .filter(|l| l.created_time <= until)
                    .collect();
                out.listed += leads.len();
                let mut to_queue = Vec::new();
                let mut changed = false;
                for lead in leads {
                    let day = lead.created_time.date_naive();
                    let came = doc.value.came(day, &lead.id);
                    if came == Some(Came::Webhook) {
                        out.known += 1;
                        continue;
                    }
                    let envelope = self.envelope(page, &form.id, lead, pass.now)?;
                    if self.known(&envelope, &lead.id).await.map_err(ledger_stop)? {
                        out.known += 1;
                        if came.is_none() {
                            changed |= doc.value.record(today, day, &lead.id, Came::Webhook);
                        }
                        continue;
                    }
                    changed |= doc.value.record(today, day, &lead.id, Came::Reconciled);
                    out.added.push(Added {
                        leadgen_id: lead.id.clone(),
                        created_time: lead.created_time,
                        envelope_id: envelope.id.clone(),
                        channel: crate::mask::id(&envelope.channel),
                    });
                    to_queue.push(envelope);
                }
                if pass.dry_run {
                    // Nothing is written or queued.
                } else {
                    // Marked before queued: a crash in between queues them again next run.
                    if changed {
                        state::save(self.ledger, &key, &mut doc)
                            .await
                            .map_err(ledger_stop)?;
                    }
                    for envelope in &to_queue {
                        self.enqueue(envelope).await?;
                    }
                }
                match listing.after {
                    Some(a) if Some(&a) != after.as_ref() => after = Some(a),
                    _ => return Ok(()),
                }
            }
        }
        .await;
        if pass.dry_run {
            return result;
        }
        let doc_value = &mut doc.value;
        match &result {
            Ok(()) => {
                doc_value.cursor = Some(doc_value.cursor.map_or(until, |c| c.max(until)));
                doc_value.last_success_at = Some(pass.now);
                doc_value.last_error = None;
            }
            Err(Stop::Form(why) | Stop::Page(why) | Stop::Pass(why)) => {
                doc_value.last_error = Some(why.clone());
            }
        }
        doc_value.prune(today);
        if let Err(e) = state::save(self.ledger, &key, &mut doc).await {
            // The leads are queued; the cursor stays where it was, and the next run lists
            // them again and finds them known.
            return Err(result
                .err()
                .unwrap_or(Stop::Pass(format!("the ledger is unavailable: {e}"))));
        }
        result
    }

    /// The envelope a webhook notification of this lead would have made.
    fn envelope(
        &self,
        page: &MetaPage,
        form_id: &str,
        lead: &ListedLead,
        now: DateTime<Utc>,
    ) -> Result<Envelope, Stop> {
        let settings = self.meta();
        let event = crate::webhook::senders::meta::leadgen_event(
            &settings,
            lead.id.clone(),
            Some(form_id.to_owned()),
            Some(page.id.clone()),
        );
        let parsed = crate::webhook::build(
            "meta",
            &page.route.channel,
            lead.id.as_bytes(),
            vec![event],
            &settings,
            &self.normalize,
            now,
        )
        .map_err(|e| Stop::Form(format!("lead {}: {}", lead.id, e.message)))?;
        parsed
            .envelopes
            .into_iter()
            .next()
            .ok_or_else(|| Stop::Form(format!("lead {} made no envelope", lead.id)))
    }

    /// Whether the ledger knows the lead: its envelope, or the same event in another channel
    /// (a webhook URL whose channel differs from the routing file's).
    async fn known(&self, envelope: &Envelope, leadgen_id: &str) -> Result<bool, LedgerError> {
        if self.ledger.get(&envelope.id).await?.is_some() {
            return Ok(true);
        }
        let event = format!("leadgen:{leadgen_id}");
        for channel in self
            .other_channels
            .iter()
            .filter(|c| **c != envelope.channel)
        {
            let id = crate::envelope::sender_event_id("meta", channel, &event);
            if self.ledger.get(&id).await?.is_some() {
                tracing::warn!(
                    envelope = %envelope.id, leadgen_id, routed = %crate::mask::id(&envelope.channel),
                    known_in = %crate::mask::id(channel),
                    "a Meta lead reached another lead channel by webhook than [senders.meta.reconcile] routes it to: not added again"
                );
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Queues the envelope, then records it as queued (so the next run knows it). A queue
    /// that fails stops the pass with nothing recorded: the lead is listed and queued again.
    async fn enqueue(&self, envelope: &Envelope) -> Result<(), Stop> {
        self.queue
            .send(envelope)
            .await
            .map_err(|e| Stop::Pass(format!("the queue did not take a lead: {e}")))?;
        crate::telemetry::count_lead("queued", "meta");
        if let Err(e) = self.ledger.create(&LedgerRecord::queued(envelope)).await {
            // Queued all the same: the next run finds it unknown and queues it again, which
            // delivery takes for the repeat it is.
            tracing::warn!(envelope = %envelope.id, error = %e, "a reconciled lead is queued but not recorded");
        }
        Ok(())
    }
}

/// A failed call, as what stops.
enum CallError {
    Paused(Stop),
    Graph(GraphError),
}

/// What a failed call stops: a rate limit stops the pass, a token or permission the page,
/// anything else the form (or the page, when listing its forms failed).
fn call_stop(e: CallError, for_form: bool) -> Stop {
    match e {
        CallError::Paused(stop) => stop,
        CallError::Graph(e @ GraphError::RateLimited { .. }) => Stop::Pass(words(&e)),
        CallError::Graph(
            e @ (GraphError::Token { .. }
            | GraphError::Permission { .. }
            | GraphError::NoToken { .. }),
        ) => Stop::Page(words(&e)),
        CallError::Graph(e) if for_form => Stop::Form(words(&e)),
        CallError::Graph(e) => Stop::Page(words(&e)),
    }
}

fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(365))
}

fn lease_span(d: Duration) -> chrono::Duration {
    span(d.max(Duration::from_secs(60)))
}

/// The pass's settings from a routing file: whether reconciliation is configured.
pub fn configured(webhooks: &WebhookSettings) -> Option<&MetaReconcile> {
    webhooks
        .senders
        .get("meta")
        .and_then(|s| s.reconcile.as_ref())
}
