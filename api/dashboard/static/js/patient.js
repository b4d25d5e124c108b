// The patient page. It is drawn once; an alert event for this patient then changes only what
// it touches: the open alerts (rows updated in place, so a note being typed stays), the latest
// readings, the readings that arrived since (fetched from the last one shown, never the whole
// series again), the plot markers and the history. The threshold editor is never redrawn by an
// event, so unsaved limits survive.

import { api, me } from "./session.js";
import { esc, num, reasonText, t, when } from "./i18n.js";
import { subscribe } from "./live.js";
import { badge, toast } from "./ui.js";
import { chart } from "./chart.js";
import { editor } from "./thresholds.js";
import { changeText } from "./burden.js";
import * as care from "./care.js";

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
  const isAdmin = me()?.role === "admin";
  const [patient, versions, history, marks, ...series] = await Promise.all([
    api(`/api/v1/patients/${id}`), api(`/api/v1/patients/${id}/thresholds/history`),
    api(`/api/v1/patients/${id}/alert-history?limit=50`),
    api(`/api/v1/patients/${id}/alert-readings?from=${since}`),
    ...TYPES.map((type) => api(`/api/v1/patients/${id}/measurements?type=${type}&from=${since}&limit=10000`)),
  ]);
  const access = isAdmin ? await api(`/api/v1/patients/${id}/access-log?limit=50`) : null;
  const state = { patient, marks, series: Object.fromEntries(TYPES.map((type, i) => [type, series[i]])) };
  const limits = (type) => (patient.thresholds ? patient.thresholds.thresholds[type].absolute : {});
  const canEdit = ["clinician", "admin"].includes(me()?.role) && patient.thresholds;
  document.title = `${patient.display_name} – ${t("title")}`;
  view.innerHTML = `
    <p><a href="#/triage">← ${t("back")}</a></p>
    <section class="card"><h1 id="patient-name">${esc(patient.display_name)}</h1>
      <p class="muted">${t("team")}: ${esc(patient.team)} · ${t("profile")}: ${esc(patient.profile)}
        ${patient.pauses.length ? ` · ${t("pauses")}: ${patient.pauses.map((p) => `${when(p.starts_at)}–${when(p.ends_at)} (${esc(p.reason)})`).join(", ")}` : ""}</p>
      <p class="call" id="call">${callLinks(patient)}</p>
      <div class="grid latest" id="latest">${latest(patient)}</div>
    </section>
    <section class="card" id="alerts"><h2>${t("open_alerts")}</h2>
      <div id="alert-rows">${patient.open_alerts.map(alertRow).join("")}</div>
      <p class="muted" id="no-alerts" ${patient.open_alerts.length ? "hidden" : ""}>${t("no_alerts")}</p>
    </section>
    ${TYPES.map((type) => `<section class="card chart"><h2>${t(type)}
      <small class="muted">· ${t("days_shown")}</small></h2><div data-chart="${type}"></div></section>`).join("")}
    <section class="card" id="care"></section>
    ${canEdit ? `<section class="card" id="proposal"><h2>${t("personal")}</h2><p class="muted">…</p></section>
      <section class="card editor" id="editor"></section>` : ""}
    <section class="card"><h2>${t("alert_history")}</h2><div id="alert-history">${historyHtml(history)}</div></section>
    <section class="card history"><h2>${t("history")}</h2><div id="versions">${versionsHtml(versions)}</div></section>
    ${access ? `<section class="card"><h2>${t("access_log")}</h2>${accessHtml(access)}</section>` : ""}`;

  const drawCharts = () => {
    for (const type of TYPES) {
      view.querySelector(`[data-chart="${type}"]`).innerHTML =
        chart(type, state.series[type], limits(type), state.marks, from, Date.now());
    }
  };
  drawCharts();
  const careChanged = (changed) => {
    view.querySelector("#patient-name").textContent = changed.display_name;
    view.querySelector("#call").innerHTML = callLinks(changed);
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
    view.querySelector("#alert-history").innerHTML = historyHtml(newHistory);
    TYPES.forEach((type, i) => {
      const known = new Set(state.series[type].map((r) => r.measured_at));
      state.series[type].push(...added[i].filter((r) => !known.has(r.measured_at)));
      state.series[type].sort((a, b) => Date.parse(a.measured_at) - Date.parse(b.measured_at));
    });
    state.marks = newMarks;
    drawCharts();
  };

  let timer = null;
  const unsubscribe = subscribe((event) => {
    if (String(event.alert.patient_id) !== String(id)) return;
    clearTimeout(timer);
    timer = setTimeout(() => update().catch(() => {}), REFRESH_DELAY_MS);
  });
  return () => { clearTimeout(timer); unsubscribe(); };
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
