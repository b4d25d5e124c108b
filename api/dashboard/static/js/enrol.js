// Enrolment (admins): the patient, whom to call, her team, profile and schedule.

import { api } from "./session.js";
import { esc, t } from "./i18n.js";
import { SCOPES, detailFields, readSchedule, scheduleFields } from "./care.js";
import { toast } from "./ui.js";

export async function render(view) {
  const teams = await api("/api/v1/teams");
  document.title = `${t("enrol")} – ${t("title")}`;
  view.innerHTML = `<p><a href="#/triage">← ${t("back")}</a></p>
    <form class="card form" id="enrol-form"><h1>${t("enrol")}</h1>
      <div class="field"><label for="e-name">${t("f_display_name")}</label>
        <input id="e-name" name="display_name" required maxlength="200" autocomplete="off"></div>
      <div class="field"><label for="e-team">${t("team")}</label><select id="e-team" name="team">
        ${teams.map((team) => `<option>${esc(team.name)}</option>`).join("")}</select></div>
      <div class="field"><label for="e-profile">${t("profile")}</label>
        <input id="e-profile" name="profile" value="kol-standard" required pattern="[a-z0-9-]{2,40}"></div>
      ${detailFields()}
      <fieldset><legend>${t("consents")}</legend><div class="checks">${SCOPES.map((s) => `<label class="check">
        <input type="checkbox" name="consent" value="${s}" ${s === "telemonitoring" ? "checked" : ""}> ${t(`scope_${s}`)}</label>`).join("")}</div>
        <div class="field"><label for="e-consent-day">${t("consent_day")}</label>
          <input id="e-consent-day" name="consent_day" type="date" required
            value="${new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Copenhagen" })}"></div></fieldset>
      <div class="field"><label for="e-before">${t("admissions_before")}</label>
        <input id="e-before" name="admissions_before" type="number" min="0" max="100"></div>
      ${scheduleFields({ days: ["mon", "thu"], types: ["spo2", "pulse", "weight"], deadline: "12:00" })}
      <button type="submit">${t("enrol")}</button>
      <p class="error" id="enrol-error" role="alert"></p></form>`;
  const form = view.querySelector("#enrol-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    delete data.days; delete data.types; delete data.deadline; delete data.diary_days;
    delete data.consent; delete data.consent_day;
    const consents = new FormData(form).getAll("consent").map((scope) => ({
      scope, given_on: form.elements.consent_day.value }));
    const before = data.admissions_before;
    delete data.admissions_before;
    try {
      const patient = await api("/api/v1/patients", {
        method: "POST", json: { ...data, schedule: readSchedule(form), consents,
          ...(before !== "" ? { admissions_before: Number(before) } : {}) } });
      toast(t("enrolled"));
      location.hash = `#/patient/${patient.id}`;
    } catch (error) { view.querySelector("#enrol-error").textContent = error.message; }
  });
  return null;
}
