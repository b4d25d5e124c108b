// The patient page. It is drawn once; an alert event for this patient then changes only what
// it touches: the open alerts (rows updated in place, so a note being typed stays), the latest
// readings, the readings that arrived since (fetched from the last one shown, never the whole
// series again), the plot markers and the history. The threshold editor is never redrawn by an
// event, so unsaved limits survive.

import { api, me } from "./session.js";
import { esc, num, reasonText, t, when } from "./i18n.js";
import { subscribe, subscribeNotices } from "./live.js";
import { badge, toast } from "./ui.js";
import { chart } from "./chart.js";
import { editor } from "./thresholds.js";
import { changeText } from "./burden.js";
import * as care from "./care.js";
import * as diary from "./diary.js";
import * as messages from "./messages.js";

const TYPES = ["spo2", "pulse", "weight"];
const DISPOSITIONS = ["no_action_needed", "advice_by_phone", "home_visit", "gp_contacted",
  "admitted", "measurement_error"];
const CHART_DAYS = 90;
const REFRESH_DELAY_MS = 150;
const LATE_WINDOW_MS = 864e5;

function alertInfo(alert) {
  return `${badge(alert.severity)} <span class="reason"><b>${t(alert.type)}</b> ·
    <span class="reason-text">${esc(reasonText(alert))}</span>
    <span class="muted">· ${t(alert.status)} · ${when(alert.last_measured_at || alert.opened_at)}
    ${alert.late ? ` · ${t("late")}` : ""}</span></span>`;
}

function alertRow(alert) {
  return `<div class="alert" data-alert-id="${alert.id}" data-status="${alert.status}"
    data-severity="${alert.severity}">
    <div class="info">${alertInfo(alert)}</div>
    <input class="note" placeholder="${t("note")}" aria-label="${t("note")}" maxlength="2000">
    <select class="disposition" aria-label="${t("disposition")}">
      <option value="">${t("disposition")} …</option>
      ${DISPOSITIONS.map((d) => `<option value="${d}">${t(d)}</option>`).join("")}
    </select>
    <div class="admission filters" hidden>${care.hospitalFields(`adm-${alert.id}`)}</div>
    <button class="ack" type="button" ${alert.status === "open" ? "" : "hidden"}>${t("acknowledge")}</button>
    <button class="resolve secondary" type="button">${t("resolve")}</button>
  </div>`;
}

/** Whom the nurse calls, one tap away. */
const pausesText = (patient) => (patient.pauses.length
  ? ` · ${t("pauses")}: ${patient.pauses.map((p) => `${when(p.starts_at)}–${when(p.ends_at)} (${esc(p.reason)})`).join(", ")}` : "");

function callLinks(patient) {
  const link = (number, label) => (number ? `<a class="button-link" href="tel:${esc(number.replace(/\s/g, ""))}">${t("call")} ${esc(label)}</a>` : "");
  return link(patient.phone, patient.phone) + link(patient.contact_phone, patient.contact_person || t("f_contact_person"));
}

function latest(patient) {
  return patient.latest_readings.map((r) => `<div><span class="muted">${t(r.type)}</span>
    <b>${num(r.value)} ${esc(r.unit)}</b><span class="muted">${when(r.measured_at)}</span></div>`).join("");
}

function step(s) {
  const who = s.actor ? ` ${t("by")} ${esc(s.actor)}` : "";
  return `<li>${t(`step_${s.event}`)} ${badge(s.severity)} · ${when(s.at)}${who}${s.note ? ` · «${esc(s.note)}»` : ""}</li>`;
}

function historyHtml(entries) {
  if (!entries.length) return `<p class="muted">${t("no_alerts")}</p>`;
  return `<ol class="alert-history">${entries.map((a) => `<li data-history-alert="${a.id}"
      data-status="${a.status}">${badge(a.severity)} <b>${t(a.type)}</b> · ${esc(reasonText(a))}
      <span class="muted">· ${t(a.status)}${a.disposition ? ` · ${t("disposition")}: ${t(a.disposition)}` : ""}</span><ul class="steps">${a.steps.map(step).join("")}</ul></li>`).join("")}</ol>`;
}

function versionsHtml(versions) {
  return `<ol reversed>${versions.map((v) => `
    <li><b>${t("version")} ${v.version}</b> · ${when(v.changed_at)} ${t("by")} ${esc(v.changed_by || "system")}
      · ${esc(v.reason)}${v.diff.length ? `<div class="muted">${v.diff.map((d) => `${esc(d.path)}: ${esc(d.old)} → ${esc(d.new)}`).join("; ")}</div>` : ""}</li>`).join("")}</ol>`;
}

function accessHtml(entries) {
  return `<table class="compact"><thead><tr><th scope="col">${t("when")}</th><th scope="col">${t("who")}</th>
    <th scope="col">${t("what")}</th></tr></thead><tbody>${entries.map((e) => `<tr><td>${when(e.at)}</td>
    <td>${esc(e.username)}</td><td>${esc(t(`read_${e.what}`))}</td></tr>`).join("")}</tbody></table>`;
}

export async function render(view, id) {
  const to = Date.now(), from = to - CHART_DAYS * 864e5;
  const since = encodeURIComponent(new Date(from).toISOString());
  // The audit trail (threshold versions, alert handling, access log) is the whole team's.
  const [patient, versions, history, marks, access, ...series] = await Promise.all([
    api(`/api/v1/patients/${id}`), api(`/api/v1/patients/${id}/thresholds/history`),
    api(`/api/v1/patients/${id}/alert-history?limit=50`),
    api(`/api/v1/patients/${id}/alert-readings?from=${since}`),
    api(`/api/v1/patients/${id}/access-log?limit=50`),
    ...TYPES.map((type) => api(`/api/v1/patients/${id}/measurements?type=${type}&from=${since}&limit=10000`)),
  ]);
  const state = { patient, marks, series: Object.fromEntries(TYPES.map((type, i) => [type, series[i]])) };
  const limits = (type) => (patient.thresholds ? patient.thresholds.thresholds[type].absolute : {});
  const canEdit = ["clinician", "admin"].includes(me()?.role) && patient.thresholds;
  document.title = `${patient.display_name} – ${t("title")}`;
  view.innerHTML = `
    <p><a href="#/triage">← ${t("back")}</a></p>
    <section class="card"><h1 id="patient-name">${esc(patient.display_name)}</h1>
      <p class="muted">${t("team")}: ${esc(patient.team)} · ${t("profile")}: ${esc(patient.profile)}
        <span id="header-pauses">${pausesText(patient)}</span></p>
      <p id="tablet-state">${care.tabletSummary(patient.devices)}</p>
      <p class="call" id="call">${callLinks(patient)}</p>
      <div class="grid latest" id="latest">${latest(patient)}</div>
    </section>
    <section class="card" id="messages"></section>
    <section class="card" id="diary"></section>
    <section class="card" id="alerts"><h2>${t("open_alerts")}</h2>
      <div id="alert-rows">${patient.open_alerts.map(alertRow).join("")}</div>
      <p class="muted" id="no-alerts" ${patient.open_alerts.length ? "hidden" : ""}>${t("no_alerts")}</p>
    </section>
    ${TYPES.map((type) => `<section class="card chart"><h2>${t(type)}
      <small class="muted">· ${t("days_shown")}</small></h2><div data-chart="${type}"></div></section>`).join("")}
    <section class="card" id="care"></section>
    ${canEdit ? `<section class="card" id="proposal"><h2>${t("personal")}</h2><p class="muted">…</p></section>
      <section class="card" id="auto-personalise"><h2>${t("auto_personalise")}</h2><p class="muted">…</p></section>
      <section class="card editor" id="editor"></section>` : ""}
    <section class="card"><h2>${t("alert_history")}</h2><div id="alert-history">${historyHtml(history)}</div></section>
    <section class="card history"><h2>${t("history")}</h2><div id="versions">${versionsHtml(versions)}</div></section>
    <section class="card" id="access-log"><h2>${t("access_log")}</h2>${accessHtml(access)}</section>`;

  const drawCharts = () => {
    for (const type of TYPES) {
      view.querySelector(`[data-chart="${type}"]`).innerHTML =
        chart(type, state.series[type], limits(type), state.marks, from, Date.now());
    }
  };
  drawCharts();
  const stopMessages = messages.render(view.querySelector("#messages"), id);
  diary.render(view.querySelector("#diary"), id);
  const careChanged = (changed) => {
    view.querySelector("#patient-name").textContent = changed.display_name;
    view.querySelector("#call").innerHTML = callLinks(changed);
    // An admission recorded or withdrawn there opens or removes a pause.
    view.querySelector("#header-pauses").innerHTML = pausesText(changed);
    view.querySelector("#tablet-state").innerHTML = care.tabletSummary(changed.devices);
  };
  care.render(view.querySelector("#care"), patient, careChanged);
  const thresholdsSaved = async () => {
    const [fresh, newVersions] = await Promise.all([api(`/api/v1/patients/${id}`),
      api(`/api/v1/patients/${id}/thresholds/history`)]);
    patient.thresholds = fresh.thresholds;
    view.querySelector("#versions").innerHTML = versionsHtml(newVersions);
    drawCharts();
  };
  if (canEdit) {
    const form = editor(view.querySelector("#editor"), id, patient.thresholds, CHART_DAYS, thresholdsSaved);
    proposal(view.querySelector("#proposal"), id, async () => { await thresholdsSaved(); form.reset(patient.thresholds); })
      .catch((error) => { view.querySelector("#proposal p").textContent = error.message; });
    autoPersonalise(view.querySelector("#auto-personalise"), id)
      .catch((error) => { view.querySelector("#auto-personalise p").textContent = error.message; });
  }

  const rows = view.querySelector("#alert-rows");
  // "Admitted" asks for the hospital and reason here, so the admission is recorded with the
  // alert's disposition (one request) and not typed again under care events.
  rows.addEventListener("change", (event) => {
    if (!event.target.classList.contains("disposition")) return;
    event.target.closest(".alert").querySelector(".admission").hidden = event.target.value !== "admitted";
  });
  rows.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const row = button.closest(".alert");
    const step = button.classList.contains("ack") ? "acknowledge" : "resolve";
    // The severity shown goes along: if the alert escalated since, the server refuses (409
    // alert-changed) and the page shows the alert as it is now.
    const disposition = row.querySelector(".disposition").value;
    const admission = disposition === "admitted" ? {
      hospital: row.querySelector("[name=hospital]").value,
      reason: row.querySelector("[name=reason]").value } : null;
    try {
      await api(`/api/v1/alerts/${row.dataset.alertId}/${step}`, {
        method: "POST",
        json: { note: row.querySelector(".note").value, seen_severity: row.dataset.severity,
          ...(disposition ? { disposition } : {}), ...(admission ? { admission } : {}) },
      });
      row.querySelector(".note").value = "";
      row.querySelector(".disposition").value = "";
      row.querySelector(".admission").hidden = true;
      row.querySelector("[name=hospital]").value = "";
      toast(t(step === "acknowledge" ? "acknowledged" : "resolved"));
      if (admission) {
        // The admission opened a pause and is listed under care events: redraw that card.
        // A fresh element: the card's listeners belong to the one it replaces.
        const old = view.querySelector("#care"), box = old.cloneNode(false);
        old.replaceWith(box);
        care.render(box, await api(`/api/v1/patients/${id}`), careChanged);
      }
    } catch (error) {
      toast(error.type === "urn:kol:problem:alert-changed" ? t("alert_changed") : error.message);
    }
    await update();
  });

  /** Patch the open alerts: rows are updated in place, so notes being typed stay. */
  const patchAlerts = (open) => {
    const existing = new Map([...rows.children].map((el) => [el.dataset.alertId, el]));
    for (const alert of open) {
      const el = existing.get(String(alert.id));
      if (!el) { rows.insertAdjacentHTML("beforeend", alertRow(alert)); continue; }
      existing.delete(String(alert.id));
      if (el.dataset.severity !== alert.severity || el.dataset.status !== alert.status
          || el.querySelector(".reason-text").textContent !== reasonText(alert)) {
        el.dataset.severity = alert.severity;
        el.dataset.status = alert.status;
        el.querySelector(".info").innerHTML = alertInfo(alert);
        el.querySelector(".ack").hidden = alert.status !== "open";
      }
    }
    for (const el of existing.values()) el.remove();
    view.querySelector("#no-alerts").hidden = open.length > 0;
  };

  const update = async () => {
    // Readings after the newest one shown, and those of the last day (a late reading is
    // measured before it arrives); never the whole series again.
    const after = (type) => {
      const shown = state.series[type];
      const newest = shown.length ? Date.parse(shown.at(-1).measured_at) + 1 : Infinity;
      return encodeURIComponent(new Date(Math.max(from, Math.min(newest, Date.now() - LATE_WINDOW_MS))).toISOString());
    };
    const [fresh, newHistory, newMarks, ...added] = await Promise.all([
      api(`/api/v1/patients/${id}`), api(`/api/v1/patients/${id}/alert-history?limit=50`),
      api(`/api/v1/patients/${id}/alert-readings?from=${since}`),
      ...TYPES.map((type) => api(`/api/v1/patients/${id}/measurements?type=${type}&from=${after(type)}&limit=10000`)),
    ]);
    patchAlerts(fresh.open_alerts);
    view.querySelector("#latest").innerHTML = latest(fresh);
    view.querySelector("#tablet-state").innerHTML = care.tabletSummary(fresh.devices);
    view.querySelector("#alert-history").innerHTML = historyHtml(newHistory);
    TYPES.forEach((type, i) => insertReadings(state.series[type], added[i]));
    state.marks = newMarks;
    drawCharts();
  };

  let timer = null;
  const unsubscribe = subscribe((event) => {
    if (String(event.alert.patient_id) !== String(id)) return;
    clearTimeout(timer);
    timer = setTimeout(() => update().catch(() => {}), REFRESH_DELAY_MS);
  });
  // Late readings (a tablet's outbox after days offline) come with their values: placed in the
  // series where they belong, nothing read again. One that raised an alert also brings an alert
  // event, which redraws the markers.
  const unsubscribeReadings = subscribeNotices("readings", (event) => {
    if (String(event.patient_id) !== String(id)) return;
    const fresh = event.readings.filter((r) => TYPES.includes(r.type) && Date.parse(r.measured_at) >= from);
    if (!fresh.length) return;
    for (const type of TYPES) insertReadings(state.series[type], fresh.filter((r) => r.type === type));
    drawCharts();
  });
  return () => { clearTimeout(timer); unsubscribe(); unsubscribeReadings(); stopMessages(); };
}

/** Readings into a series kept in time order, each instant once (the same reading may come
 * both with an event and from a read). */
function insertReadings(series, readings) {
  const known = new Set(series.map((r) => Date.parse(r.measured_at)));
  for (const reading of readings) {
    const at = Date.parse(reading.measured_at);
    if (known.has(at)) continue;
    known.add(at);
    // From the end: new readings are mostly the newest.
    let i = series.length;
    while (i > 0 && Date.parse(series[i - 1].measured_at) > at) i -= 1;
    series.splice(i, 0, reading);
  }
}

/** Automatic personalisation of this patient (on / off, the profile's default or her own
 * setting, the run-in and the outcome once it has run), changed with a reason, with a preview of
 * what the personal limits would change and the alerts they would have raised. */
async function autoPersonalise(box, id) {
  let state = await api(`/api/v1/patients/${id}/thresholds/auto-personalise`);
  const draw = () => {
    const run = state.personalisation;
    const source = state.source === "patient"
      ? t("auto_source_patient", { who: esc(state.changed_by || "–"), when: when(state.changed_at),
        reason: esc(state.reason) })
      : t("auto_source_profile", { profile: esc(state.profile) });
    box.innerHTML = `<h2>${t("auto_personalise")}</h2>
      <p id="auto-state" data-enabled="${state.enabled}"><strong>${t(state.enabled ? "auto_on" : "auto_off")}</strong>
        · <span class="muted">${source}</span></p>
      <p class="muted" id="auto-run">${run
        ? t("auto_ran", { when: when(run.ran_at), outcome: t(`auto_outcome_${run.outcome}`) })
        : t("auto_run_in", { n: state.run_in_days, when: when(state.run_in_ends_at) })}</p>
      <form id="auto-form">
        <label for="auto-reason">${t("reason")}</label>
        <input id="auto-reason" maxlength="2000" autocomplete="off">
        <div class="actions"><button class="secondary" id="auto-preview" type="button">${t("preview")}</button>
          <button id="auto-toggle" type="submit" ${!state.enabled && run ? "disabled" : ""}>${
            t(state.enabled ? "auto_turn_off" : "auto_turn_on")}</button></div>
        <div id="auto-result" aria-live="polite"></div></form>`;
  };
  draw();
  box.addEventListener("click", async (event) => {
    if (!event.target.closest("#auto-preview")) return;
    const out = box.querySelector("#auto-result");
    try {
      const found = await api(`/api/v1/patients/${id}/thresholds/proposal?days=${CHART_DAYS}`);
      const { current, proposed } = found.preview;
      out.innerHTML = found.changes.length
        ? `<p>${changeText(found.changes)}</p><p class="muted">${t("proposal_preview",
          { d: current.days, a: current.alerts.length, b: proposed.alerts.length })}</p>`
        : `<p>${t("proposal_none")}</p>`;
    } catch (error) { out.textContent = error.message; }
  });
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = box.querySelector("#auto-result");
    const reason = box.querySelector("#auto-reason").value.trim();
    if (!reason) { out.textContent = t("reason_needed"); return; }
    try {
      state = await api(`/api/v1/patients/${id}/thresholds/auto-personalise`, {
        method: "PUT", json: { enabled: !state.enabled, reason } });
      toast(t("saved"));
      draw();
    } catch (error) { out.textContent = error.message; }
  });
}

/** The personal-limit proposal (issue 13) beside the editor, with "use the proposal". */
async function proposal(box, id, onAccepted) {
  const found = await api(`/api/v1/patients/${id}/thresholds/proposal?days=${CHART_DAYS}`);
  if (!found.changes.length) {
    box.querySelector("p").textContent = t("proposal_none");
    return;
  }
  const { current, proposed } = found.preview;
  box.innerHTML = `<h2>${t("personal")}</h2>
    <p id="proposal-changes">${changeText(found.changes)}</p>
    <p class="muted" id="proposal-preview">${t("proposal_preview",
      { d: current.days, a: current.alerts.length, b: proposed.alerts.length })}</p>
    <button id="accept-proposal" type="button">${t("accept")}</button>`;
  box.querySelector("#accept-proposal").addEventListener("click", async () => {
    await api(`/api/v1/patients/${id}/thresholds`, {
      method: "PUT", json: { thresholds: found.thresholds, reason: t("proposal_reason") },
    });
    toast(t("saved"));
    box.innerHTML = `<h2>${t("personal")}</h2><p class="muted">${t("saved")}</p>`;
    await onAccepted();
  });
}
