// The patient's care details on her page: whom to call, her schedule, pauses, tablets and, for
// admins, transfer and discharge. Each part saves on its own and redraws only itself.

import { api, me, token } from "./session.js";
import { esc, lang, num, t, when } from "./i18n.js";
import { toast } from "./ui.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
export const SCOPES = ["telemonitoring", "share_gp", "share_hospital"];
const KINDS = ["admission", "discharge", "emergency", "outpatient"];
export const REASONS = ["copd_exacerbation", "pneumonia", "heart", "other_respiratory", "other", "planned_control"];
const today = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Copenhagen" });
const dayText = (iso) => (iso ? new Date(`${iso}T12:00`).toLocaleDateString(lang() === "da" ? "da-DK" : "en-GB") : "–");

/** Hospital and reason, shared by the care-event form and the alert row's "admitted". */
export function hospitalFields(prefix) {
  return `<div class="field"><label for="${prefix}-hospital">${t("hospital")}</label>
      <input id="${prefix}-hospital" name="hospital" maxlength="200" list="hospitals" autocomplete="off"></div>
    <div class="field"><label for="${prefix}-reason">${t("reason")}</label><select id="${prefix}-reason" name="reason">
      ${REASONS.map((r) => `<option value="${r}">${t(`cr_${r}`)}</option>`).join("")}</select></div>`;
}

function consentRow(c) {
  const withdrawn = c.withdrawn_on !== null;
  return `<li data-consent="${c.id}" data-scope="${c.scope}" data-standing="${!withdrawn}">
    <b>${t(`scope_${c.scope}`)}</b> · ${t("consent_given", { day: dayText(c.given_on), who: esc(c.recorded_by || "–") })}
    ${withdrawn ? ` · <span class="warn">${t("consent_withdrawn", { day: dayText(c.withdrawn_on), who: esc(c.withdrawn_by || "–") })}</span>`
      : `<button class="secondary withdraw" type="button">${t("withdraw")}</button>`}</li>`;
}

const localInput = (iso) => { const d = new Date(iso); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); };

/** The care event's fields, blank for a new one or filled to correct ``e``. */
function careFields(prefix, e = null) {
  const selected = (value, wanted) => (value === wanted ? "selected" : "");
  return `<div class="field"><label for="${prefix}-kind">${t("care_kind")}</label><select id="${prefix}-kind" name="kind">
      ${KINDS.map((k) => `<option value="${k}" ${selected(e?.kind, k)}>${t(`kind_${k}`)}</option>`).join("")}</select></div>
    <div class="field"><label for="${prefix}-at">${t("when")}</label><input id="${prefix}-at" name="occurred_at" type="datetime-local" required
      value="${e ? localInput(e.occurred_at) : ""}"></div>
    ${hospitalFields(prefix)}
    <div class="field"><label for="${prefix}-note">${t("note")}</label><input id="${prefix}-note" name="note" maxlength="2000" value="${esc(e?.note)}"></div>`;
}

function careRow(e) {
  const withdrawn = e.withdrawn_at !== null;
  const text = `<b>${t(`kind_${e.kind}`)}</b> · ${when(e.occurred_at)}
    ${e.hospital ? ` · ${esc(e.hospital)}` : ""} · ${t(`cr_${e.reason}`)}${e.note ? ` · «${esc(e.note)}»` : ""}`;
  const recorded = `<span class="muted">${e.recorded_by ? `· ${t("by")} ${esc(e.recorded_by)}` : ""}${e.alert_id ? ` · ${t("from_alert")}` : ""}</span>`;
  if (withdrawn) {
    // Kept in the history, struck through, with who withdrew it and why (docs/outcomes.md).
    return `<li data-care-event="${e.id}" data-kind="${e.kind}" data-withdrawn="true"><s>${text}</s> ${recorded}
      · <span class="warn">${t(e.replaced_by ? "care_corrected" : "care_withdrawn", { day: when(e.withdrawn_at), who: esc(e.withdrawn_by || "–") })}:
      «${esc(e.withdrawal_reason)}»</span></li>`;
  }
  const prefix = `fix-${e.id}`;
  return `<li data-care-event="${e.id}" data-kind="${e.kind}">${text} ${recorded}
    <details class="fix-care"><summary>${t("care_fix")}</summary><form class="fix-form" data-fix="${e.id}">
      <div class="field"><label for="${prefix}-why">${t("care_fix_why")}</label>
        <input id="${prefix}-why" name="withdrawal_reason" required maxlength="500"></div>
      <button type="submit" class="danger" value="withdraw">${t("care_withdraw")}</button>
      <fieldset><legend>${t("care_correct_as")}</legend>${careFields(prefix, e)}</fieldset>
      <button type="submit" value="correct">${t("care_correct")}</button></form></details></li>`;
}
const TYPES = ["spo2", "pulse", "weight"];
export const DETAILS = ["phone", "contact_person", "contact_phone", "gp", "notes"];

const role = () => me()?.role;
const atLeast = (wanted) => ({ nurse: 1, clinician: 2, admin: 3 })[role()] >= ({ nurse: 1, clinician: 2, admin: 3 })[wanted];
const tel = (number) => (number ? `<a href="tel:${esc(number.replace(/\s/g, ""))}">${esc(number)}</a>` : "–");

export function detailFields(values = {}) {
  return DETAILS.map((name) => `<div class="field"><label for="d-${name}">${t(`f_${name}`)}</label>
    ${name === "notes" ? `<textarea id="d-${name}" name="${name}" maxlength="4000" rows="3">${esc(values[name])}</textarea>`
      : `<input id="d-${name}" name="${name}" value="${esc(values[name])}" ${name.includes("phone") ? 'type="tel" autocomplete="off"' : ""}>`}</div>`).join("");
}

export function scheduleFields(schedule) {
  return `<fieldset><legend>${t("measure_days")}</legend><div class="checks">${DAYS.map((d) => `<label class="check">
      <input type="checkbox" name="days" value="${d}" ${schedule.days.includes(d) ? "checked" : ""}> ${t(`day_${d}`)}</label>`).join("")}</div></fieldset>
    <fieldset><legend>${t("measure_types")}</legend><div class="checks">${TYPES.map((type) => `<label class="check">
      <input type="checkbox" name="types" value="${type}" ${schedule.types.includes(type) ? "checked" : ""}> ${t(type)}</label>`).join("")}</div></fieldset>
    <div class="field"><label for="s-deadline">${t("deadline")}</label>
      <input id="s-deadline" name="deadline" type="time" value="${esc(schedule.deadline)}" required></div>
    <fieldset><legend>${t("diary_days")}</legend><div class="checks">${DAYS.map((d) => `<label class="check">
      <input type="checkbox" name="diary_days" value="${d}" ${(schedule.diary_days || []).includes(d) ? "checked" : ""}> ${t(`day_${d}`)}</label>`).join("")}</div></fieldset>`;
}

export function readSchedule(form) {
  const data = new FormData(form);
  return { days: data.getAll("days"), types: data.getAll("types"), deadline: data.get("deadline"),
           diary_days: data.getAll("diary_days") };
}

function scheduleText(schedule) {
  const diary = (schedule.diary_days || []).length
    ? ` · ${t("diary_days")}: ${schedule.diary_days.map((d) => t(`day_${d}`)).join(", ")}` : "";
  return `${schedule.days.map((d) => t(`day_${d}`)).join(", ")} · ${t("deadline")} ${esc(schedule.deadline)} ·
    ${schedule.types.map((type) => t(type)).join(", ")}${diary}`;
}

/** A tablet's state, OFFLINE in red: "offline" when its last status said so, or it was silent
 * for longer than the platform's KOL_DEVICE_OFFLINE_AFTER_MINUTES; "unknown": never heard from
 * (just paired). */
function connection(device) {
  if (!device.active) return t("device_inactive");
  const state = t(`connection_${device.connection}`);
  return device.connection === "offline" ? `<span class="warn">${state}</span>` : state;
}

/** The patient's tablet in one line for the top of her page: whether readings can come at all
 * (no active tablet, or one silent longer than the platform allows, is shown as a warning). */
export function tabletSummary(devices) {
  const device = devices.find((d) => d.active);
  if (!device) return `<span class="warn">${t("no_tablets")}</span>`;
  const battery = device.status?.battery;
  return `${t("tablet")}: ${connection(device)}${typeof battery === "number" ? ` · ${t("battery")} ${num(battery)} %` : ""}
    ${device.last_seen_at ? ` · ${t("last_seen")} ${when(device.last_seen_at)}` : ""}`;
}

function deviceRow(device) {
  const battery = device.status?.battery;
  return `<li data-device="${esc(device.device_id)}" data-connection="${device.connection}">
    <b>${esc(device.device_id)}</b> · ${connection(device)}
    · ${t("battery")}: ${typeof battery === "number" ? `${num(battery)} %` : "–"}
    · ${t("last_seen")}: ${when(device.last_seen_at)}
    ${device.active && atLeast("admin") ? `<button class="secondary deactivate" type="button">${t("deactivate")}</button>` : ""}</li>`;
}

export function render(box, patient, onChanged) {
  const draw = () => {
    const p = patient;
    box.innerHTML = `<h2>${t("care")}</h2>
      ${p.active ? "" : `<p class="warn" id="discharged">${t("discharged_at", { when: when(p.discharged_at) })}</p>`}
      <dl class="details">
        <dt>${t("f_phone")}</dt><dd id="patient-phone">${tel(p.phone)}</dd>
        <dt>${t("f_contact_person")}</dt><dd>${esc(p.contact_person) || "–"} ${p.contact_phone ? `· ${tel(p.contact_phone)}` : ""}</dd>
        <dt>${t("f_gp")}</dt><dd>${esc(p.gp) || "–"}</dd>
        <dt>${t("f_notes")}</dt><dd class="notes">${esc(p.notes) || "–"}</dd>
        <dt>${t("schedule")}</dt><dd id="schedule-text">${scheduleText(p.schedule)}</dd>
      </dl>
      <details id="edit-details"><summary>${t("edit_details")}</summary>
        <form id="details-form"><div class="field"><label for="d-display_name">${t("f_display_name")}</label>
          <input id="d-display_name" name="display_name" value="${esc(p.display_name)}" required maxlength="200"></div>
          ${detailFields(p)}<button type="submit">${t("save")}</button></form></details>
      ${atLeast("clinician") ? `<details id="edit-schedule"><summary>${t("edit_schedule")}</summary>
        <form id="schedule-form">${scheduleFields(p.schedule)}<button type="submit">${t("save")}</button></form></details>` : ""}
      <h3>${t("consents")}</h3>
      <ul class="consents" id="consents">${p.consents.map(consentRow).join("") || `<li class="warn">${t("no_consents")}</li>`}</ul>
      <details id="add-consent"><summary>${t("add_consent")}</summary><form id="consent-form">
        <div class="field"><label for="consent-scope">${t("scope")}</label><select id="consent-scope" name="scope">
          ${SCOPES.map((s) => `<option value="${s}">${t(`scope_${s}`)}</option>`).join("")}</select></div>
        <div class="field"><label for="consent-day">${t("consent_day")}</label><input id="consent-day" name="given_on" type="date" value="${today()}" required></div>
        <button type="submit">${t("save")}</button></form></details>
      <h3>${t("care_events")}</h3>
      <form id="care-form" class="filters">${careFields("care")}<button type="submit">${t("record")}</button></form>
      <datalist id="hospitals">${[...new Set(p.care_events.map((e) => e.hospital).filter(Boolean))].map((h) => `<option value="${esc(h)}">`).join("")}</datalist>
      <ul class="care-events" id="care-events">${p.care_events.map(careRow).join("") || `<li class="muted">${t("no_care_events")}</li>`}</ul>
      <h3>${t("pauses")}</h3>
      <ul id="pauses">${p.pauses.map((s) => `<li data-pause="${s.id}">${when(s.starts_at)} – ${when(s.ends_at)} · ${esc(s.reason)}
        <button class="secondary end-pause" type="button">${t("end_pause")}</button></li>`).join("") || `<li class="muted">${t("no_pauses")}</li>`}</ul>
      <details id="add-pause"><summary>${t("add_pause")}</summary><form id="pause-form">
        <div class="field"><label for="pause-from">${t("from")}</label><input id="pause-from" name="from" type="date" required></div>
        <div class="field"><label for="pause-to">${t("to")}</label><input id="pause-to" name="to" type="date" required></div>
        <div class="field"><label for="pause-reason">${t("reason")}</label><input id="pause-reason" name="reason" required maxlength="500"></div>
        <button type="submit">${t("add_pause")}</button></form></details>
      <h3>${t("tablets")}</h3>
      <ul id="devices">${p.devices.map(deviceRow).join("") || `<li class="muted">${t("no_tablets")}</li>`}</ul>
      ${atLeast("admin") && p.active ? `<p><button class="secondary" id="pair" type="button">${t("pair_tablet")}</button></p>
        <details id="transfer"><summary>${t("transfer")}</summary><form id="transfer-form">
          <div class="field"><label for="transfer-team">${t("to_team")}</label><input id="transfer-team" name="team" required maxlength="100"></div>
          <div class="field"><label for="transfer-reason">${t("reason")}</label><input id="transfer-reason" name="reason" required maxlength="500"></div>
          <button type="submit">${t("transfer")}</button></form></details>
        <details id="discharge"><summary>${t("discharge")}</summary><form id="discharge-form">
          <p class="muted">${t("discharge_explained")}</p>
          <div class="field"><label for="discharge-reason">${t("reason")}</label><input id="discharge-reason" name="reason" required maxlength="500"></div>
          <button type="submit" class="danger">${t("discharge")}</button></form></details>` : ""}`;
  };
  const fill = () => {
    // The correction forms start from the event as recorded; the hospital and reason too.
    for (const e of patient.care_events.filter((c) => c.withdrawn_at === null)) {
      box.querySelector(`#fix-${e.id}-hospital`).value = e.hospital;
      box.querySelector(`#fix-${e.id}-reason`).value = e.reason;
    }
  };
  draw();
  fill();
  const nowLocal = () => localInput(new Date().toISOString());
  box.querySelector("#care-at").value = nowLocal();
  const url = `/api/v1/patients/${patient.id}`;
  const done = async (message) => {
    toast(message);
    Object.assign(patient, await api(url));
    draw();
    fill();
    box.querySelector("#care-at").value = nowLocal();
    await onChanged(patient);
  };
  const attempt = (work) => work().catch((error) => toast(error.message));
  box.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const data = Object.fromEntries(new FormData(form));
    attempt(async () => {
      if (form.id === "details-form") {
        await api(url, { method: "PATCH", json: data });
        await done(t("saved"));
      } else if (form.id === "schedule-form") {
        await api(`${url}/schedule`, { method: "PUT", json: { schedule: readSchedule(form) } });
        await done(t("saved"));
      } else if (form.id === "pause-form") {
        // Whole local days: from the start of the first to the end of the last.
        const starts = new Date(`${data.from}T00:00`), ends = new Date(`${data.to}T00:00`);
        ends.setDate(ends.getDate() + 1);
        await api(`${url}/pauses`, { method: "POST", json: {
          starts_at: starts.toISOString(), ends_at: ends.toISOString(), reason: data.reason } });
        await done(t("saved"));
      } else if (form.id === "consent-form") {
        await api(`${url}/consents`, { method: "POST", json: data });
        await done(t("saved"));
      } else if (form.id === "care-form") {
        await api(`${url}/care-events`, { method: "POST", json: {
          ...data, occurred_at: new Date(data.occurred_at).toISOString() } });
        await done(t(data.kind === "admission" ? "admission_recorded" : "saved"));
      } else if (form.classList.contains("fix-form")) {
        const eventUrl = `${url}/care-events/${form.dataset.fix}`;
        if (event.submitter?.value === "correct") {
          await api(`${eventUrl}/correct`, { method: "POST", json: {
            ...data, occurred_at: new Date(data.occurred_at).toISOString() } });
          await done(t("care_corrected_toast"));
        } else {
          await api(`${eventUrl}/withdraw`, { method: "POST", json: { withdrawal_reason: data.withdrawal_reason } });
          await done(t("care_withdrawn_toast"));
        }
      } else if (form.id === "transfer-form") {
        await api(`${url}/transfer`, { method: "POST", json: data });
        toast(t("transferred"));
        location.hash = "#/triage";
      } else if (form.id === "discharge-form") {
        await api(`${url}/discharge`, { method: "POST", json: data });
        await done(t("discharged"));
      }
    });
  });
  box.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.type === "submit") return;
    attempt(async () => {
      if (button.classList.contains("withdraw")) {
        const item = button.closest("li");
        // Withdrawing the consent to telemonitoring ends it: asked first.
        if (item.dataset.scope === "telemonitoring" && !window.confirm(t("withdraw_discharges"))) return;
        await api(`${url}/consents/${item.dataset.consent}/withdraw`, { method: "POST", json: { withdrawn_on: today() } });
        await done(t("consent_withdrawn_toast"));
      } else if (button.classList.contains("end-pause")) {
        await api(`${url}/pauses/${button.closest("li").dataset.pause}/end`, { method: "POST" });
        await done(t("pause_ended"));
      } else if (button.classList.contains("deactivate")) {
        await api(`/api/v1/devices/${encodeURIComponent(button.closest("li").dataset.device)}`, { method: "DELETE" });
        await done(t("device_deactivated"));
      } else if (button.id === "pair") {
        // A one-time code and its QR code (docs/tablet.md): the tablet gets its own
        // credentials when it pairs, and no password is shown to anyone.
        const { openPairingDialog } = await import("/static/pairing.js");
        await openPairingDialog({ patientId: patient.id, patientName: patient.display_name,
                                  token: token(), lang: lang() });
      }
    });
  });
}
