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

function when(t) {
  return t ? new Date(t).toLocaleString() : "";
}

function showError(e) {
  document.getElementById("error").textContent = e ? e.message : "";
}

async function loadState() {
  const s = await api("status");
  const d = s.delivery;
  const badge = document.getElementById("delivery-status");
  badge.textContent = d.status;
  badge.className = `badge ${d.status}`;
  document.getElementById("delivery-why").textContent = d.why || "";
  const a = s.activity;
  const figures = [
    ["Waiting", d.waiting],
    ["Oldest waiting", d.oldest_waiting_secs == null ? null : `${d.oldest_waiting_secs}s`],
    ["In retry", a.known ? a.in_retry : (s.backlog ? s.backlog.in_flight : null)],
    ["Delivered (hour / day)", a.known ? `${a.delivered_last_hour} / ${a.delivered_last_day}` : null],
    ["Speed to lead p50 / p99", a.speed_to_lead_p50_ms == null ? null : `${a.speed_to_lead_p50_ms} ms / ${a.speed_to_lead_p99_ms} ms`],
    ["Last delivery", when(d.last_success_at)],
    ["Rechat", s.rechat ? (s.rechat.available ? "available" : `unavailable: ${s.rechat.last_error || ""}`) : null],
    ["Dead letters (failed)", s.dead_letters.failed + s.dead_letters.unknown_lead],
    ["Unroutable mail", s.dead_letters.unroutable],
    ["Spam kept", s.dead_letters.spam],
    ["Forwarding confirmations", s.dead_letters.forwarding_confirmation],
  ];
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

async function change(method, path) {
  try {
    await api(path, { method, headers: { "X-Inlet-Console": "1" } });
    showError(null);
  } catch (e) {
    showError(e);
  }
  await refresh();
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
    cell(row, d.reason, "why");
    const actions = row.insertCell();
    if (d.releasable) {
      const release = document.createElement("button");
      release.textContent = "Release";
      release.className = "release";
      release.addEventListener("click", () => change("POST", `dead-letters/${encodeURIComponent(d.message_id)}/release`));
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

async function loadLeads() {
  const q = document.getElementById("q").value;
  const { leads, listed } = await api(`leads?q=${encodeURIComponent(q)}`);
  const body = document.querySelector("#leads tbody");
  body.replaceChildren();
  if (!listed) {
    cell(body.insertRow(), "This ledger is not listed here: see the stack's CloudWatch dashboard.");
  }
  for (const l of leads) {
    const row = body.insertRow();
    row.dataset.envelopeId = l.envelope_id;
    cell(row, when(l.received_at));
    cell(row, l.sender);
    cell(row, l.status.replaceAll("_", " "));
    cell(row, l.steps.map((s) => s.status).join(", "));
    cell(row, l.attempts);
    cell(row, l.rechat_lead_id);
    cell(row, l.last_error, "why");
  }
}

async function refresh() {
  try {
    await Promise.all([loadState(), loadDeadLetters(), loadLeads()]);
    document.body.dataset.loaded = "yes";
  } catch (e) {
    showError(e);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    loadLeads().catch(showError);
  });
  refresh();
  setInterval(refresh, 15000);
});
