// The threshold editor: every rule family of the threshold document (absolute limits, baseline
// deviation, trends, artefact guard per type; the combined SpO2+pulse rule), a required reason,
// a preview shown as the alerts the change would add and remove over the last days, and save.

import { api } from "./session.js";
import { esc, num, reasonText, t, when } from "./i18n.js";
import { badge, toast } from "./ui.js";

const TYPES = ["spo2", "pulse", "weight"];
const SECTIONS = ["absolute", "baseline", "trend", "artefact"];

function field(path, value) {
  const name = path.at(-1);
  const id = `th-${path.join("-")}`;
  if (typeof value === "boolean") {
    return `<div class="field"><label class="check" for="${id}"><input id="${id}" type="checkbox"
      data-path="${path.join(".")}" ${value ? "checked" : ""}> ${t(`th_${name}`)}</label></div>`;
  }
  return `<div class="field"><label for="${id}">${t(`th_${name}`)}</label>
    <input id="${id}" type="number" step="any" inputmode="decimal" data-path="${path.join(".")}"
      value="${value ?? ""}"></div>`;
}

function fieldset(legend, path, values) {
  return `<fieldset><legend>${legend}</legend>${Object.entries(values)
    .map(([name, value]) => field([...path, name], value)).join("")}</fieldset>`;
}

function edited(form, base) {
  const doc = structuredClone(base);
  form.querySelectorAll("input[data-path]").forEach((input) => {
    const path = input.dataset.path.split(".");
    const parent = path.slice(0, -1).reduce((node, key) => node[key], doc);
    parent[path.at(-1)] = input.type === "checkbox" ? input.checked
      : input.value === "" ? null : Number(input.value);
  });
  return doc;
}

const key = (a) => `${a.rule}|${a.type}|${a.severity}|${a.first_measured_at}`;

function diffHtml(before, after, days) {
  const had = new Set(before.map(key)), has = new Set(after.map(key));
  const gained = after.filter((a) => !had.has(key(a)));
  const lost = before.filter((a) => !has.has(key(a)));
  const item = (a) => `<li>${badge(a.severity)} ${esc(reasonText(a))} <span class="muted">·
    ${when(a.first_measured_at)}${a.breach_count > 1 ? ` · ${num(a.breach_count)}×` : ""}</span></li>`;
  return `<p>${t("preview_summary", { now: after.length, before: before.length, d: days })}</p>
    <div class="diff"><div><h3>${t("gained", { n: gained.length })}</h3>
      <ul id="preview-gained">${gained.map(item).join("")}</ul></div>
    <div><h3>${t("lost", { n: lost.length })}</h3>
      <ul id="preview-lost">${lost.map(item).join("")}</ul></div></div>`;
}

export function editor(section, patientId, current, days, onSaved) {
  let base = current;
  const draw = () => {
    const doc = base.thresholds;
    section.innerHTML = `<h2>${t("thresholds")} <small class="muted">${t("version")} ${base.version}</small></h2>
      <form id="threshold-form">
      ${TYPES.map((type) => `<details ${type === "spo2" ? "open" : ""}><summary>${t(type)}</summary>
        <div class="sections">${SECTIONS.map((s) => fieldset(t(`th_${s}`), [type, s], doc[type][s])).join("")}</div>
        </details>`).join("")}
      <details><summary>${t("spo2+pulse")}</summary>${fieldset(t("th_combined"), ["combined"], doc.combined)}</details>
      <details><summary>${t("th_symptoms")}</summary>${fieldset(t("th_symptoms"), ["symptoms"], doc.symptoms)}</details>
      <label for="threshold-reason">${t("reason")}</label>
      <input id="threshold-reason" maxlength="2000" autocomplete="off">
      <div class="actions"><button class="secondary" id="preview" type="button">${t("preview")}</button>
        <button id="save-thresholds" type="submit">${t("save")}</button></div>
      <div id="preview-result" aria-live="polite"></div></form>`;
  };
  draw();
  section.addEventListener("click", async (event) => {
    if (!event.target.closest("#preview")) return;
    const out = section.querySelector("#preview-result");
    try {
      const proposed = edited(section.querySelector("form"), base.thresholds);
      const [before, after] = await Promise.all([base.thresholds, proposed].map((thresholds) =>
        api(`/api/v1/patients/${patientId}/thresholds/preview`, {
          method: "POST", json: { thresholds, days } })));
      out.innerHTML = diffHtml(before.alerts, after.alerts, days);
    } catch (error) { out.textContent = error.message; }
  });
  section.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = section.querySelector("#preview-result");
    const reason = section.querySelector("#threshold-reason").value.trim();
    if (!reason) { out.textContent = t("reason_needed"); return; }
    try {
      base = await api(`/api/v1/patients/${patientId}/thresholds`, {
        method: "PUT", json: { thresholds: edited(section.querySelector("form"), base.thresholds), reason },
      });
      toast(t("saved"));
      draw();
      await onSaved();
    } catch (error) { out.textContent = error.message; }
  });
  // A version saved elsewhere on the page (the proposal) becomes the editor's base.
  return { reset: (fresh) => { base = fresh; draw(); } };
}
