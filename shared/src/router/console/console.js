// The console's one script: reads /console/api/… and renders with textContent only (no
// HTML from data, so a lead's name cannot inject markup). The session cookie goes with each
// call; changes carry X-Inlet-Console, which a cross-site form cannot send.
"use strict";

async function api(path, options = {}) {
  const response = await fetch(`/console/api/${path}`, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  }
  return body;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

// Every time in the page in the browser's zone, with the zone said: the API answers UTC.
// (dateStyle and timeZoneName cannot be combined: the parts are named one by one.)
const TIME = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };

function when(t) {
  return t ? new Date(t).toLocaleString(undefined, TIME) : "";
}

// Times inside a sentence the server wrote ("Rechat unavailable since 2026-12-05T08:00:00Z").
function localTimes(text) {
  return (text || "").replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})/g, (t) => when(t));
}

// 850 ms, 14.1 s, 3 min 3 s, 2 h 5 min.
function duration(ms) {
  if (ms == null) return null;
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const STATES = { ok: "ok", needs_attention: "needs attention", failing: "failing", stalled: "stalled" };

function showError(e) {
  document.getElementById("error").textContent = e ? e.message : "";
}

async function loadState() {
  const s = await api("status");
  const d = s.delivery;
  const state = s.state || d.status;
  const top = document.getElementById("state-badge");
  top.textContent = STATES[state] || state;
  top.className = `badge ${state}`;
  document.body.dataset.state = state;
  const waiting = s.waiting_for_person || 0;
  document.getElementById("state-why").textContent = state === "needs_attention"
    ? `${waiting} lead${waiting === 1 ? "" : "s"} did not reach the agent: see Dead letters`
    : localTimes(d.why);
  const badge = document.getElementById("delivery-status");
  badge.textContent = d.status;
  badge.className = `badge ${d.status}`;
  document.getElementById("delivery-why").textContent = localTimes(d.why);
  const a = s.activity;
  const figures = [
    ["Waiting", d.waiting],
    ["Oldest waiting", d.waiting === 0 ? "nothing waits" : (d.oldest_waiting_secs == null ? null : duration(d.oldest_waiting_secs * 1000))],
    ["In retry", a.known ? a.in_retry : (s.backlog ? s.backlog.in_flight : null)],
    ["Delivered (hour / day)", a.known ? `${a.delivered_last_hour} / ${a.delivered_last_day}` : null],
    ["Speed to lead p50 / p99", a.speed_to_lead_p50_ms == null ? (a.known ? "no delivery in the last day" : null) : `${duration(a.speed_to_lead_p50_ms)} / ${duration(a.speed_to_lead_p99_ms)}`],
    ["Last delivery", when(d.last_success_at)],
    ["Rechat", s.rechat ? (s.rechat.available ? "available" : `unavailable: ${s.rechat.last_error || ""}`) : null],
    ["Dead letters (leads not delivered)", s.dead_letters.failed],
    ["Follow-ups for unknown leads", s.dead_letters.unknown_lead],
    ["Unroutable mail", s.dead_letters.unroutable],
    ["Spam kept", s.kept.spam],
    ["Mail held for review", s.kept.not_a_lead],
    ["Unsure readings", s.kept.unsure],
    ["Forwarding confirmations", s.dead_letters.forwarding_confirmation],
  ];
  const list = document.getElementById("channels");
  list.replaceChildren();
  for (const c of s.channels || []) {
    const option = document.createElement("option");
    option.value = c.id;
    option.label = c.label;
    list.append(option);
  }
  const dl = document.getElementById("figures");
  dl.replaceChildren();
  for (const [name, value] of figures) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value == null || value === "" ? "unknown" : String(value);
    dl.append(dt, dd);
  }
}

async function change(method, path, body) {
  try {
    const headers = { "X-Inlet-Console": "1" };
    if (body) headers["Content-Type"] = "application/json";
    await api(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    showError(null);
  } catch (e) {
    showError(e);
  }
  await refresh(true);
}

const KINDS = { spam: "spam", not_a_lead: "not a lead", unsure: "unsure" };

async function loadKept() {
  const kind = document.getElementById("kept-kind").value;
  const { kept } = await api(`kept${kind ? `?kind=${encodeURIComponent(kind)}` : ""}`);
  const body = document.querySelector("#kept tbody");
  body.replaceChildren();
  for (const k of kept) {
    const s = k.summary;
    const row = body.insertRow();
    row.dataset.keptId = k.id;
    row.dataset.kind = k.kind;
    cell(row, when(k.kept_at));
    cell(row, KINDS[k.kind] || k.kind);
    const who = [s.name, s.email, s.phone, s.from].filter(Boolean).join(" · ");
    const what = [s.subject ? `“${s.subject}”` : null, s.message_id ? `<${s.message_id}>` : null, s.stored_at]
      .filter(Boolean).join(" ");
    cell(row, [who, what, s.subject ? null : s.text].filter(Boolean).join(" — "), "why");
    cell(row, k.reason, "why");
    const where = row.insertCell();
    const channel = document.createElement("input");
    channel.type = "text";
    channel.className = "channel";
    channel.setAttribute("list", "channels");
    channel.setAttribute("aria-label", "Lead channel to release into");
    channel.placeholder = k.channel ? `its own (${k.channel})` : "lead channel UUID (required)";
    where.append(channel);
    const actions = row.insertCell();
    const release = document.createElement("button");
    release.textContent = k.kind === "unsure" ? "Send to channel" : "Release";
    release.className = "release";
    release.addEventListener("click", () => {
      const chosen = channel.value.trim();
      change("POST", `kept/${encodeURIComponent(k.id)}/release`, chosen ? { channel: chosen } : {});
    });
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.className = "delete";
    remove.addEventListener("click", () => {
      if (confirm("Forget this for good?")) change("DELETE", `kept/${encodeURIComponent(k.id)}`);
    });
    actions.append(release, remove);
  }
}

async function loadDeadLetters() {
  const { dead_letters } = await api("dead-letters");
  const body = document.querySelector("#dead-letters tbody");
  body.replaceChildren();
  for (const d of dead_letters) {
    const row = body.insertRow();
    row.dataset.messageId = d.message_id;
    row.dataset.cause = d.cause;
    cell(row, when(d.at));
    cell(row, d.cause.replaceAll("_", " "));
    cell(row, [d.name, d.email, d.phone].filter(Boolean).join(" · "));
    const why = cell(row, d.reason, "why");
    if (d.refused_for_content) {
      const note = document.createElement("span");
      note.className = "note";
      note.textContent = "Rechat refused its content: sent as it is, it fails the same way. Correct it.";
      why.append(note);
    }
    const actions = row.insertCell();
    if (d.correctable) actions.append(correction(d));
    if (d.releasable) {
      const release = document.createElement("button");
      release.textContent = d.refused_for_content ? "Send as it is" : "Release";
      release.className = "release";
      release.addEventListener("click", () => {
        if (d.refused_for_content && !confirm("Rechat refused this lead for its content. Send it again unchanged?")) return;
        change("POST", `dead-letters/${encodeURIComponent(d.message_id)}/release`);
      });
      actions.append(release);
    }
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.className = "delete";
    remove.addEventListener("click", () => {
      if (confirm("Delete this dead letter for good?")) change("DELETE", `dead-letters/${encodeURIComponent(d.message_id)}`);
    });
    actions.append(remove);
  }
}

const FIELDS = ["first_name", "last_name", "email", "phone_number", "note", "lead_source", "tag"];

// The lead's fields to correct, and Send: only what changed is sent.
function correction(d) {
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "Correct";
  summary.className = "correct";
  const form = document.createElement("form");
  form.className = "correct";
  const inputs = {};
  for (const name of FIELDS) {
    const label = document.createElement("label");
    label.textContent = name.replaceAll("_", " ");
    const input = document.createElement("input");
    input.name = name;
    input.value = (d.fields && d.fields[name]) || "";
    input.dataset.was = input.value;
    label.htmlFor = input.id = `fix-${d.message_id}-${name}`;
    inputs[name] = input;
    form.append(label, input);
  }
  const send = document.createElement("button");
  send.type = "submit";
  send.textContent = "Send corrected";
  form.append(send);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const fields = {};
    for (const [name, input] of Object.entries(inputs)) {
      if (input.value !== input.dataset.was) fields[name] = input.value;
    }
    send.disabled = true;
    change("POST", `dead-letters/${encodeURIComponent(d.message_id)}/correct`, { fields });
  });
  details.append(summary, form);
  return details;
}

async function loadLeads() {
  const query = new URLSearchParams();
  for (const name of ["q", "status", "sender", "since", "until"]) {
    const value = document.getElementById(name).value.trim();
    if (value) query.set(name, value);
  }
  const { leads, kept, listed } = await api(`leads?${query}`);
  const body = document.querySelector("#leads tbody");
  body.replaceChildren();
  const empty = document.getElementById("leads-empty");
  empty.textContent = "";
  if (!listed) {
    empty.textContent = "This ledger is not listed here: search by an id, email or phone, or see the stack's CloudWatch dashboard.";
  } else if (leads.length === 0 && (kept || []).length === 0) {
    const asked = [...query.values()].join(", ");
    empty.textContent = asked
      ? `Nothing found for ${asked}: no lead, dead letter or kept item has that id, and no lead in the last 30 days matches.`
      : "No leads in the last 30 days.";
  }
  for (const l of leads) {
    const row = body.insertRow();
    row.dataset.envelopeId = l.envelope_id;
    cell(row, when(l.received_at));
    const ids = cell(row, l.answered_id, "ids");
    const small = document.createElement("small");
    small.textContent = l.envelope_id + (l.corrects ? ` (corrects ${l.corrects})` : "");
    ids.append(small);
    cell(row, l.person);
    cell(row, l.sender);
    cell(row, l.status.replaceAll("_", " ") + (l.unsure ? " (unsure)" : "") + (l.dead_letter ? " (see Dead letters)" : ""));
    cell(row, l.attempts);
    cell(row, l.rechat_lead_id || (l.status === "delivered" ? "none given" : ""));
    cell(row, l.last_error, "why");
  }
  for (const k of kept || []) {
    const s = k.summary || {};
    const row = body.insertRow();
    row.dataset.keptId = k.id;
    cell(row, when(k.kept_at));
    cell(row, k.envelope_id, "ids");
    cell(row, [s.name, s.email, s.phone, s.from].filter(Boolean).join(" · "));
    cell(row, k.sender);
    cell(row, `kept for review (${KINDS[k.kind] || k.kind})`);
    cell(row, "");
    cell(row, "");
    cell(row, k.reason, "why");
  }
}

// Meta reconciliation's figures, per form and day: shown only once it has run.
async function loadMeta() {
  const m = await api("meta");
  const section = document.getElementById("meta");
  section.hidden = !m.configured;
  if (!m.configured) return;
  const badge = document.getElementById("meta-status");
  badge.textContent = m.status;
  badge.className = `badge ${m.status === "ok" ? "ok" : "failing"}`;
  document.getElementById("meta-why").textContent = m.error
    ? `Failing since ${when(m.failing_since)}: ${m.error}`
    : `Last success ${when(m.last_success_at) || "never"}`;
  document.getElementById("meta-webhooks").textContent = m.webhooks || "";
  const body = document.querySelector("#meta-forms tbody");
  body.replaceChildren();
  for (const f of m.forms) {
    const days = f.days.length ? f.days : [null];
    for (const d of days) {
      const row = body.insertRow();
      row.dataset.form = f.id;
      cell(row, f.name ? `${f.name} (${f.id})` : f.id);
      cell(row, f.last_error ? `error: ${f.last_error}` : when(f.last_success_at), f.last_error ? "why" : null);
      cell(row, d ? d.day + (d.partial ? " (partial)" : "") : "no leads in 7 days");
      cell(row, d ? d.meta : "");
      cell(row, d ? d.webhooks : "");
      cell(row, d ? d.reconciled : "");
    }
  }
}

async function loadParsing() {
  const { drifts } = await api("parsing");
  const section = document.getElementById("parsing");
  section.hidden = drifts.length === 0;
  const body = document.querySelector("#drifts tbody");
  body.replaceChildren();
  for (const d of drifts) {
    const row = body.insertRow();
    row.dataset.source = d.source;
    row.dataset.field = d.field;
    cell(row, d.source);
    cell(row, d.field === "no_lead" ? "read as no lead or unsure" : `${d.field} missing`, "why");
    cell(row, when(d.since));
    const leads = d.leads.map((l) => `${when(l.received_at)} ${l.person || l.envelope_id} (${l.status})`);
    cell(row, `${d.reads}${leads.length ? `: ${leads.join("; ")}` : ""}`);
    const actions = row.insertCell();
    const dismiss = document.createElement("button");
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", () => {
      if (confirm(`Stop reporting ${d.field} for ${d.source}? It is reported again if it comes back and then goes.`)) {
        change("POST", "parsing/dismiss", { source: d.source, field: d.field });
      }
    });
    actions.append(dismiss);
  }
}

// Whether a person is typing in a section: the timed refresh leaves it as it is.
function editing(selector) {
  const root = document.querySelector(selector);
  return root.contains(document.activeElement) || [...root.querySelectorAll("input")].some((i) => i.value);
}

async function refresh(all) {
  try {
    const kept = all || !editing("#kept") ? loadKept() : null;
    // A correction being written is not wiped by the timed refresh.
    const correcting = document.querySelector("#dead-letters details[open]")
      || document.getElementById("dead-letters").contains(document.activeElement);
    const dead = all || !correcting ? loadDeadLetters() : null;
    await Promise.all([loadState(), kept, dead, loadLeads(), loadMeta(), loadParsing()]);
    document.body.dataset.loaded = "yes";
  } catch (e) {
    showError(e);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    loadLeads().then(() => showError(null)).catch(showError);
  });
  document.getElementById("kept-kind").addEventListener("change", () => {
    loadKept().catch(showError);
  });
  refresh(true);
  setInterval(() => refresh(false), 15000);
});
