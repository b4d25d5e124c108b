"use strict";
// The dashboard: a small single-page app over the JSON API. Hash routes: #/login, #/triage,
// #/patient/ID. Alert changes arrive over server-sent events and refresh the view in place.

const TYPES = ["spo2", "pulse", "weight"];
const LIMITS = ["red_low", "yellow_low", "yellow_high", "red_high"];
const CHART_DAYS = 90;
const DISPOSITIONS = ["no_action_needed", "advice_by_phone", "home_visit", "gp_contacted",
  "admitted", "measurement_error"];
const I18N = {
  da: {
    title: "KOL telemonitorering", logout: "Log ud", login: "Log ind", username: "Brugernavn",
    password: "Adgangskode", bad_login: "Forkert brugernavn eller adgangskode",
    throttled: "For mange forsøg. Prøv igen senere.", triage: "Triage", patient: "Borger",
    severity: "Alvor", open_alerts: "Åbne alarmer", oldest: "Ældste ubehandlede",
    last_measured: "Seneste måling", red: "Rød", yellow: "Gul", blue: "Blå", green: "Grøn",
    none: "Ingen", spo2: "Iltmætning", pulse: "Puls", weight: "Vægt",
    "spo2+pulse": "Iltmætning og puls", acknowledge: "Kvitter", resolve: "Afslut", note: "Note",
    ack_green: "Kvitter alle grønne", thresholds: "Grænseværdier", history: "Historik",
    reason: "Begrundelse", preview: "Forhåndsvis", save: "Gem", back: "Tilbage til triage",
    no_alerts: "Ingen åbne alarmer", latest: "Seneste målinger", late: "forsinket",
    open: "åben", acknowledged: "kvitteret", saved: "Gemt", live: "opdateres live",
    red_low: "Rød under", yellow_low: "Gul under", yellow_high: "Gul over", red_high: "Rød over",
    preview_result: "{n} alarmer ville være rejst de seneste {d} dage",
    reason_needed: "Skriv en begrundelse", version: "version", by: "af", no_data: "Ingen målinger",
    pauses: "Pauser", profile: "Profil", team: "Team", days_shown: "seneste 90 dage",
    alert_changed: "Alarmen er blevet forværret, siden den blev vist. Se den igen.",
    disposition: "Udfald", no_action_needed: "Ingen handling nødvendig",
    advice_by_phone: "Råd pr. telefon", home_visit: "Hjemmebesøg", gp_contacted: "Egen læge kontaktet",
    admitted: "Indlagt", measurement_error: "Målefejl", burden: "Alarmbyrde",
    alerts_per_week: "Alarmer pr. uge (30 dage)", pending_proposal: "Forslag til personlige grænser",
    personal: "Personlige grænser (forslag)", accept: "Brug forslaget",
    proposal_preview: "Seneste {d} dage: {a} alarmer med de nuværende grænser, {b} med forslaget",
    proposal_none: "Intet forslag: grænserne passer, eller der er for få målinger",
    proposal_reason: "Personlige grænser fra indkøringsperioden",
    outcomes: "Udfald af alarmer (30 dage)", rule: "Regel", alerts: "Alarmer",
    share_actioned: "Førte til handling", absolute: "Grænse", baseline: "Eget niveau",
    combined: "Kombineret", change_3d: "Ændring 3 dage", loss_30d: "Tab 30 dage",
    slope_3d: "Tendens 3 dage", missing: "Manglende måling",
  },
  en: {
    title: "KOL telemonitoring", logout: "Log out", login: "Log in", username: "Username",
    password: "Password", bad_login: "Wrong username or password",
    throttled: "Too many attempts. Try again later.", triage: "Triage", patient: "Patient",
    severity: "Severity", open_alerts: "Open alerts", oldest: "Oldest unhandled",
    last_measured: "Last measurement", red: "Red", yellow: "Yellow", blue: "Blue",
    green: "Green", none: "None", spo2: "SpO2", pulse: "Pulse", weight: "Weight",
    "spo2+pulse": "SpO2 and pulse", acknowledge: "Acknowledge", resolve: "Resolve",
    note: "Note", ack_green: "Acknowledge all green", thresholds: "Thresholds",
    history: "History", reason: "Reason", preview: "Preview", save: "Save",
    back: "Back to triage", no_alerts: "No open alerts", latest: "Latest readings",
    late: "late", open: "open", acknowledged: "acknowledged", saved: "Saved",
    live: "updates live", red_low: "Red below", yellow_low: "Yellow below",
    yellow_high: "Yellow above", red_high: "Red above",
    preview_result: "{n} alerts would have been raised over the last {d} days",
    alert_changed: "The alert has escalated since it was shown. Look at it again.",
    reason_needed: "Write a reason", version: "version", by: "by", no_data: "No readings",
    pauses: "Pauses", profile: "Profile", team: "Team", days_shown: "last 90 days",
    disposition: "Disposition", no_action_needed: "No action needed",
    advice_by_phone: "Advice by phone", home_visit: "Home visit", gp_contacted: "GP contacted",
    admitted: "Admitted", measurement_error: "Measurement error", burden: "Alert burden",
    alerts_per_week: "Alerts per week (30 days)", pending_proposal: "Personal-limit proposal",
    personal: "Personal limits (proposal)", accept: "Use the proposal",
    proposal_preview: "Last {d} days: {a} alerts with the current limits, {b} with the proposal",
    proposal_none: "No proposal: the limits fit, or there are too few readings",
    proposal_reason: "Personal limits from the run-in",
    outcomes: "Alert outcomes (30 days)", rule: "Rule", alerts: "Alerts",
    share_actioned: "Led to an action", absolute: "Limit", baseline: "Own baseline",
    combined: "Combined", change_3d: "3-day change", loss_30d: "30-day loss",
    slope_3d: "3-day trend", missing: "Missing measurement",
  },
};

const view = document.getElementById("view");
let stream = null;
let refreshTimer = null;

const lang = () => localStorage.getItem("kol.lang") || "da";
const t = (key) => I18N[lang()][key] ?? key;
const token = () => sessionStorage.getItem("kol.token");
const me = () => JSON.parse(sessionStorage.getItem("kol.me") || "null");
const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function when(iso) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(lang() === "da" ? "da-DK" : "en-GB", {
    dateStyle: "short", timeStyle: "short", timeZone: "Europe/Copenhagen",
  }).format(new Date(iso));
}

function badge(severity) {
  const level = severity || "none";
  return `<span class="sev sev-${level}" data-severity="${level}">${t(level)}</span>`;
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 2500);
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await fetch(path, { method: options.method || "GET", headers, body });
  if (response.status === 401) {
    logout();
    throw new Error(t("bad_login"));
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(problem.detail || problem.title || String(response.status));
    error.type = problem.type;
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

function logout() {
  sessionStorage.removeItem("kol.token");
  sessionStorage.removeItem("kol.me");
  if (stream) { stream.close(); stream = null; }
  location.hash = "#/login";
}

function follow() {
  // EventSource cannot send headers, so the stream takes the token as a query parameter; it
  // reconnects by itself and resumes from the last event id.
  if (stream || !token()) return;
  stream = new EventSource(`/api/v1/alerts/stream?access_token=${encodeURIComponent(token())}`);
  for (const kind of ["opened", "updated", "escalated", "acknowledged", "resolved"]) {
    stream.addEventListener(kind, () => {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(render, 250);
    });
  }
  // The server ends the stream when the token expires or the user's access changed: an expired
  // session logs in again; otherwise the page is re-read (a 401 there logs out) and a new
  // stream opens with what the user may see now.
  stream.addEventListener("end", (message) => {
    const reason = JSON.parse(message.data).reason;
    stream.close();
    stream = null;
    if (reason === "token-expired") { logout(); return; }
    render();
    follow();
  });
}

function labels() {
  document.documentElement.lang = lang();
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = lang() === "da" ? "English" : "Dansk";
  const user = me();
  document.getElementById("who").textContent = user ? `${user.username} (${user.role})` : "";
  document.getElementById("logout").hidden = !token();
}

function renderLogin() {
  view.innerHTML = `
    <form class="card login" id="login-form">
      <h1>${t("title")}</h1>
      <label for="username">${t("username")}</label>
      <input id="username" name="username" autocomplete="username" required>
      <label for="password">${t("password")}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">${t("login")}</button>
      <div class="error" id="login-error" role="alert"></div>
    </form>`;
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/v1/auth/token", {
      method: "POST", body: new URLSearchParams(new FormData(event.target)),
    });
    if (!response.ok) {
      document.getElementById("login-error").textContent =
        response.status === 429 ? t("throttled") : t("bad_login");
      return;
    }
    sessionStorage.setItem("kol.token", (await response.json()).access_token);
    sessionStorage.setItem("kol.me", JSON.stringify(await api("/api/v1/me")));
    location.hash = "#/triage";
  });
}

async function renderTriage() {
  const rows = await api("/api/v1/triage?limit=500");
  const counts = (c) => ["red", "yellow", "blue", "green"].filter((s) => c[s])
    .map((s) => `<span class="sev-${s}">${t(s)}: ${c[s]}</span>`).join("") || "–";
  view.innerHTML = `
    <section class="card">
      <h2>${t("triage")} <small class="muted">· ${t("live")}</small></h2>
      <table id="triage">
        <thead><tr><th>${t("severity")}</th><th>${t("patient")}</th><th>${t("open_alerts")}</th>
          <th>${t("oldest")}</th><th>${t("last_measured")}</th></tr></thead>
        <tbody>${rows.map((r) => `
          <tr data-patient="${r.patient_id}" data-severity="${r.worst_severity || "none"}">
            <td>${badge(r.worst_severity)}</td><td>${esc(r.display_name)}
              <div class="muted">${esc(r.team)}</div></td>
            <td class="counts">${counts(r.open_counts)}</td>
            <td>${when(r.oldest_unhandled_at)}</td><td>${when(r.last_measured_at)}</td>
          </tr>`).join("")}</tbody>
      </table>
      <p><button class="secondary" id="ack-green">${t("ack_green")}</button>
        <a class="button-link" href="#/burden" id="burden-link">${t("burden")}</a></p>
    </section>`;
  view.querySelectorAll("tbody tr").forEach((tr) => tr.addEventListener("click", () => {
    location.hash = `#/patient/${tr.dataset.patient}`;
  }));
  document.getElementById("ack-green").addEventListener("click", async () => {
    const result = await api("/api/v1/alerts/acknowledge-green", { method: "POST", json: { note: "" } });
    toast(`${t("acknowledged")}: ${result.acknowledged}`);
    render();
  });
}

const changeText = (changes) => changes.map((c) =>
  `${esc(c.path)}: ${esc(c.old)} → ${esc(c.new)}`).join("; ");

async function renderBurden() {
  const since = new Date(Date.now() - 30 * 864e5).toISOString();
  const [rows, outcomes] = await Promise.all([
    api("/api/v1/reports/alert-burden?days=30&limit=100"),
    api(`/api/v1/reports/alert-outcomes?since=${encodeURIComponent(since)}`),
  ]);
  const share = (r) => (r.share_actioned === null ? "–" : `${Math.round(r.share_actioned * 100)} %`);
  view.innerHTML = `
    <p><a href="#/triage">← ${t("back")}</a></p>
    <section class="card">
      <h2>${t("burden")}</h2>
      <table id="burden">
        <thead><tr><th>${t("patient")}</th><th>${t("alerts_per_week")}</th>
          <th>${t("pending_proposal")}</th></tr></thead>
        <tbody>${rows.map((r) => `
          <tr data-patient="${r.patient_id}">
            <td>${esc(r.display_name)}</td><td class="num">${r.alerts_per_week.toFixed(1)}</td>
            <td class="muted">${r.pending_proposal.length ? changeText(r.pending_proposal) : "–"}</td>
          </tr>`).join("")}</tbody>
      </table>
    </section>
    <section class="card">
      <h2>${t("outcomes")}</h2>
      <table id="outcomes">
        <thead><tr><th>${t("rule")}</th><th>${t("alerts")}</th><th>${t("share_actioned")}</th>
          <th>${t("disposition")}</th></tr></thead>
        <tbody>${outcomes.by_rule.map((r) => `
          <tr data-rule="${esc(r.rule)}" data-type="${esc(r.type)}">
            <td>${t(r.rule)} · ${t(r.type)}</td><td class="num">${r.alerts}</td>
            <td class="num">${share(r)}</td>
            <td class="muted">${Object.entries(r.by_disposition).map(([d, n]) => `${t(d)}: ${n}`).join(", ") || "–"}</td>
          </tr>`).join("")}</tbody>
      </table>
    </section>`;
  view.querySelectorAll("#burden tbody tr").forEach((tr) => tr.addEventListener("click", () => {
    location.hash = `#/patient/${tr.dataset.patient}`;
  }));
}

function scale(domainLow, domainHigh, rangeLow, rangeHigh) {
  const span = domainHigh - domainLow || 1;
  return (value) => rangeLow + ((value - domainLow) / span) * (rangeHigh - rangeLow);
}

function chart(type, readings, limits, alerts, from, to) {
  const width = 900, height = 230, left = 48, right = 12, top = 10, bottom = 28;
  const values = readings.map((r) => r.value);
  const marks = LIMITS.map((k) => limits[k]).filter((v) => v !== null && v !== undefined);
  if (!values.length) return `<p class="muted">${t("no_data")}</p>`;
  let low = Math.min(...values, ...marks), high = Math.max(...values, ...marks);
  const pad = (high - low) * 0.1 || 1;
  low -= pad; high += pad;
  const x = scale(from, to, left, width - right);
  const y = scale(low, high, height - bottom, top);
  const band = (a, b, cls) => {
    const lo = Math.max(a ?? low, low), hi = Math.min(b ?? high, high);
    return hi > lo ? `<rect class="${cls}" x="${left}" width="${width - left - right}"
      y="${y(hi)}" height="${y(lo) - y(hi)}"/>` : "";
  };
  const bands = [
    band(null, limits.red_low, "band-red"), band(limits.red_low, limits.yellow_low, "band-yellow"),
    band(limits.yellow_high, limits.red_high, "band-yellow"), band(limits.red_high, null, "band-red"),
  ].filter((_, i) => [limits.red_low, limits.yellow_low, limits.yellow_high, limits.red_high][i] != null);
  const yTicks = [0, 1, 2, 3].map((i) => low + ((high - low) * (i + 0.5)) / 4);
  const xTicks = [0, 1, 2, 3, 4, 5].map((i) => from + ((to - from) * i) / 5);
  const points = readings.map((r) => `<circle class="point${r.late ? " late" : ""}" r="3.5"
    cx="${x(Date.parse(r.measured_at)).toFixed(1)}" cy="${y(r.value).toFixed(1)}"><title>${esc(r.value)}
    · ${when(r.measured_at)}${r.late ? ` · ${t("late")}` : ""}</title></circle>`).join("");
  const markers = alerts.filter((a) => a.type === type || a.type.split("+").includes(type))
    .filter((a) => a.last_measured_at).map((a) => {
      const at = x(Date.parse(a.last_measured_at)).toFixed(1);
      return `<line class="marker" data-alert="${a.id}" x1="${at}" x2="${at}" y1="${top}"
        y2="${height - bottom}"><title>${esc(a.reason)}</title></line>`;
    }).join("");
  return `<svg viewBox="0 0 ${width} ${height}" role="img" data-type="${type}"
      aria-label="${t(type)}">
    ${bands.join("")}
    <line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}"/>
    <line class="axis" x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}"/>
    ${yTicks.map((v) => `<text class="tick" x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(type === "weight" ? 1 : 0)}</text>`).join("")}
    ${xTicks.map((v) => `<text class="tick" x="${x(v)}" y="${height - 8}" text-anchor="middle">${new Date(v).toLocaleDateString(lang() === "da" ? "da-DK" : "en-GB", { day: "numeric", month: "short", timeZone: "Europe/Copenhagen" })}</text>`).join("")}
    ${points}${markers}
  </svg>`;
}

function alertRow(alert) {
  return `<div class="alert" data-alert-id="${alert.id}" data-status="${alert.status}"
    data-severity="${alert.severity}">
    ${badge(alert.severity)}
    <span class="reason"><b>${t(alert.type)}</b> · ${esc(alert.reason)}
      <span class="muted">· ${t(alert.status)} · ${when(alert.last_measured_at || alert.opened_at)}
      ${alert.late ? ` · ${t("late")}` : ""}</span></span>
    <input class="note" placeholder="${t("note")}" aria-label="${t("note")}">
    <select class="disposition" aria-label="${t("disposition")}">
      <option value="">${t("disposition")}…</option>
      ${DISPOSITIONS.map((d) => `<option value="${d}">${t(d)}</option>`).join("")}
    </select>
    ${alert.status === "open" ? `<button class="ack" type="button">${t("acknowledge")}</button>` : ""}
    <button class="resolve secondary" type="button">${t("resolve")}</button>
  </div>`;
}

function editor(thresholds) {
  const doc = thresholds.thresholds;
  const rows = ["spo2", "pulse"].map((type) => `<div class="row"><b>${t(type)}</b>${LIMITS.map((k) => `
    <label>${t(k)}<input type="number" step="any" data-type="${type}" data-limit="${k}"
      value="${doc[type].absolute[k] ?? ""}"></label>`).join("")}</div>`).join("");
  return `<section class="card editor" id="editor"><h2>${t("thresholds")}
      <small class="muted">${t("version")} ${thresholds.version}</small></h2>${rows}
    <label>${t("reason")}<input id="threshold-reason" maxlength="2000"></label>
    <div class="actions"><button class="secondary" id="preview" type="button">${t("preview")}</button>
      <button id="save-thresholds" type="button">${t("save")}</button></div>
    <p id="preview-result" class="muted" aria-live="polite"></p></section>`;
}

function editedDocument(thresholds) {
  const doc = structuredClone(thresholds.thresholds);
  view.querySelectorAll("#editor input[data-limit]").forEach((input) => {
    doc[input.dataset.type].absolute[input.dataset.limit] =
      input.value === "" ? null : Number(input.value);
  });
  return doc;
}

async function renderPatient(id) {
  const now = Date.now(), from = now - CHART_DAYS * 864e5;
  const span = `from=${encodeURIComponent(new Date(from).toISOString())}`;
  const [patient, history, ...series] = await Promise.all([
    api(`/api/v1/patients/${id}`), api(`/api/v1/patients/${id}/thresholds/history`),
    ...TYPES.map((type) => api(`/api/v1/patients/${id}/measurements?type=${type}&${span}&limit=10000`)),
  ]);
  const doc = patient.thresholds ? patient.thresholds.thresholds : null;
  const canEdit = ["clinician", "admin"].includes(me()?.role) && patient.thresholds;
  view.innerHTML = `
    <p><a href="#/triage">← ${t("back")}</a></p>
    <section class="card"><h1 id="patient-name">${esc(patient.display_name)}</h1>
      <p class="muted">${t("team")}: ${esc(patient.team)} · ${t("profile")}: ${esc(patient.profile)}
        ${patient.pauses.length ? ` · ${t("pauses")}: ${patient.pauses.map((p) => `${when(p.starts_at)}–${when(p.ends_at)} (${esc(p.reason)})`).join(", ")}` : ""}</p>
      <div class="grid latest">${patient.latest_readings.map((r) => `<div><span class="muted">${t(r.type)}</span>
        <b>${esc(r.value)} ${esc(r.unit)}</b><span class="muted">${when(r.measured_at)}</span></div>`).join("")}</div>
    </section>
    <section class="card" id="alerts"><h2>${t("open_alerts")}</h2>
      ${patient.open_alerts.length ? patient.open_alerts.map(alertRow).join("") : `<p class="muted">${t("no_alerts")}</p>`}
    </section>
    ${TYPES.map((type, i) => `<section class="card chart"><h3>${t(type)}
      <small class="muted">· ${t("days_shown")}</small></h3>
      ${chart(type, series[i], doc ? doc[type].absolute : {}, patient.open_alerts, from, now)}</section>`).join("")}
    ${canEdit ? `<section class="card" id="proposal"><h2>${t("personal")}</h2>
      <p class="muted">…</p></section>` : ""}
    ${canEdit ? editor(patient.thresholds) : ""}
    <section class="card history"><h2>${t("history")}</h2><ol reversed>${history.map((v) => `
      <li><b>${t("version")} ${v.version}</b> · ${when(v.changed_at)} ${t("by")} ${esc(v.changed_by || "system")}
        · ${esc(v.reason)}${v.diff.length ? `<div class="muted">${v.diff.map((d) => `${esc(d.path)}: ${esc(d.old)} → ${esc(d.new)}`).join("; ")}</div>` : ""}</li>`).join("")}</ol></section>`;

  view.querySelectorAll(".alert").forEach((row) => {
    // The severity shown goes along: if the alert escalated since, the server refuses (409
    // alert-changed) and the page shows the alert as it is now.
    const act = async (step) => {
      const disposition = row.querySelector(".disposition").value;
      try {
        await api(`/api/v1/alerts/${row.dataset.alertId}/${step}`, {
          method: "POST",
          json: {
            note: row.querySelector(".note").value, seen_severity: row.dataset.severity,
            ...(disposition ? { disposition } : {}),
          },
        });
        toast(t(step === "acknowledge" ? "acknowledged" : "resolve"));
      } catch (error) {
        toast(error.type === "urn:kol:problem:alert-changed" ? t("alert_changed") : error.message);
      }
      render();
    };
    row.querySelector(".ack")?.addEventListener("click", () => act("acknowledge"));
    row.querySelector(".resolve").addEventListener("click", () => act("resolve"));
  });
  if (canEdit) {
    showProposal(id);
    document.getElementById("preview").addEventListener("click", async () => {
      const out = document.getElementById("preview-result");
      try {
        const result = await api(`/api/v1/patients/${id}/thresholds/preview`, {
          method: "POST", json: { thresholds: editedDocument(patient.thresholds), days: CHART_DAYS },
        });
        out.textContent = t("preview_result").replace("{n}", result.alerts.length).replace("{d}", result.days);
      } catch (error) { out.textContent = error.message; }
    });
    document.getElementById("save-thresholds").addEventListener("click", async () => {
      const reason = document.getElementById("threshold-reason").value.trim();
      const out = document.getElementById("preview-result");
      if (!reason) { out.textContent = t("reason_needed"); return; }
      try {
        await api(`/api/v1/patients/${id}/thresholds`, {
          method: "PUT", json: { thresholds: editedDocument(patient.thresholds), reason },
        });
        toast(t("saved"));
        render();
      } catch (error) { out.textContent = error.message; }
    });
  }
}

async function showProposal(id) {
  const box = document.getElementById("proposal");
  const proposal = await api(`/api/v1/patients/${id}/thresholds/proposal?days=${CHART_DAYS}`);
  if (!proposal.changes.length) {
    box.querySelector("p").textContent = t("proposal_none");
    return;
  }
  const { current, proposed } = proposal.preview;
  box.innerHTML = `<h2>${t("personal")}</h2>
    <p id="proposal-changes">${changeText(proposal.changes)}</p>
    <p class="muted" id="proposal-preview">${t("proposal_preview").replace("{d}", current.days)
      .replace("{a}", current.alerts.length).replace("{b}", proposed.alerts.length)}</p>
    <button id="accept-proposal" type="button">${t("accept")}</button>`;
  document.getElementById("accept-proposal").addEventListener("click", async () => {
    await api(`/api/v1/patients/${id}/thresholds`, {
      method: "PUT", json: { thresholds: proposal.thresholds, reason: t("proposal_reason") },
    });
    toast(t("saved"));
    render();
  });
}

async function render() {
  labels();
  const route = location.hash || "#/triage";
  if (!token()) { if (route !== "#/login") { location.hash = "#/login"; return; } renderLogin(); return; }
  follow();
  try {
    // Screens of other modules (notifications.js) register here, loaded before this file.
    const ctx = { api, t, esc, when, toast, view, me, lang, render };
    const extra = Object.keys(window.kolRoutes || {}).find((prefix) => route.startsWith(prefix));
    const patient = route.match(/^#\/patient\/(\d+)$/);
    if (extra) await window.kolRoutes[extra](route, ctx);
    else if (patient) await renderPatient(patient[1]);
    else if (route === "#/burden") await renderBurden();
    else await renderTriage();
    for (const hook of window.kolAfterRender || []) hook(route, ctx);
  } catch (error) {
    if (token()) view.innerHTML = `<p class="card error" role="alert">${esc(error.message)}</p>`;
  }
}

document.getElementById("lang").addEventListener("click", () => {
  localStorage.setItem("kol.lang", lang() === "da" ? "en" : "da");
  render();
});
document.getElementById("logout").addEventListener("click", logout);
window.addEventListener("hashchange", render);
render();
