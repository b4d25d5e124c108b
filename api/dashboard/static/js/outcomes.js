// The outcomes page (issue #19) for managers and admins: the municipality's figures per month
// against the reference year, for the whole municipality or one team, as SVG plots drawn here,
// a table of every figure, and the CSV export. Aggregates only: the API never sends a patient.

import { api, token } from "./session.js";
import { esc, num, t } from "./i18n.js";

const SEVERITIES = ["red", "yellow", "blue", "green"];
const DISPOSITIONS = ["no_action_needed", "advice_by_phone", "home_visit", "gp_contacted",
  "admitted", "measurement_error", "none"];
const PRO_GOAL = 0.9; // the regional goal: nine in ten manage without contacting the hospital

const pct = (v) => (v === null || v === undefined ? null : v * 100);

/** A line plot of one or more monthly series, with optional dashed reference lines. A
 * suppressed or empty month is a gap, marked on the axis. */
export function linePlot({ id, title, months, series, references = [], unit = "", digits = 1 }) {
  const width = 520, height = 220, left = 52, right = 14, top = 14, bottom = 34;
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const refs = references.filter((r) => r.value !== null && r.value !== undefined);
  const all = [...values, ...refs.map((r) => r.value), 0];
  let high = Math.max(...all);
  high = high > 0 ? high * 1.15 : 1;
  const x = (i) => left + (months.length > 1 ? (i * (width - left - right)) / (months.length - 1) : (width - left - right) / 2);
  const y = (v) => height - bottom - (v / high) * (height - top - bottom);
  const lines = series.map((s) => {
    const points = s.values.map((v, i) => (v === null || v === undefined ? null : [x(i), y(v), v, i]));
    let path = "", pen = false;
    for (const p of points) {
      if (!p) { pen = false; continue; }
      path += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)} `;
      pen = true;
    }
    return `<path class="series ${s.cls}" d="${path}" fill="none"/>${points.filter(Boolean).map((p) =>
      `<circle class="dot ${s.cls}" r="3.5" cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}"><title>${esc(s.label)} ${months[p[3]]}: ${num(p[2], digits)}${unit}</title></circle>`).join("")}`;
  }).join("");
  const refLines = refs.map((r) => `<line class="ref ${r.cls}" x1="${left}" x2="${width - right}" y1="${y(r.value).toFixed(1)}" y2="${y(r.value).toFixed(1)}"><title>${esc(r.label)}: ${num(r.value, digits)}${unit}</title></line>`).join("");
  const gaps = months.map((m, i) => (series.every((s) => s.values[i] === null || s.values[i] === undefined)
    ? `<text class="gap" x="${x(i)}" y="${height - bottom - 6}" text-anchor="middle">–</text>` : "")).join("");
  const ticks = [0, 0.5, 1].map((f) => f * high);
  const legend = [...series.map((s) => ({ label: s.label, cls: s.cls, ref: false })), ...refs.map((r) => ({ label: r.label, cls: r.cls, ref: true }))];
  return `<figure class="plot" data-plot="${id}"><figcaption>${esc(title)}</figcaption>
    <svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">
      <line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}"/>
      <line class="axis" x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}"/>
      ${ticks.map((v) => `<text class="tick" x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v, v >= 10 ? 0 : digits)}</text>`).join("")}
      ${months.map((m, i) => (months.length <= 12 || i % 2 === 0 ? `<text class="tick" x="${x(i)}" y="${height - 12}" text-anchor="middle">${m.slice(2)}</text>` : "")).join("")}
      ${refLines}${lines}${gaps}
    </svg>
    <ul class="legend">${legend.map((l) => `<li><span class="swatch ${l.cls}${l.ref ? " dashed" : ""}"></span>${esc(l.label)}</li>`).join("")}</ul>
  </figure>`;
}

function plots(group, months) {
  const m = group.months, ref = group.reference, year = ref.period;
  const refLabel = `${t("reference_year")} ${year}`;
  const pick = (key) => m.map((f) => f[key]);
  return [
    linePlot({ id: "patients", title: t("o_patients_monitored"), months, digits: 0,
      series: [{ label: t("o_patients_monitored"), cls: "s1", values: pick("patients_monitored") }] }),
    linePlot({ id: "admissions", title: t("o_admissions_per_patient_year"), months, digits: 2,
      series: [{ label: t("o_admissions_per_patient_year"), cls: "s1", values: pick("admissions_per_patient_year") }],
      references: [{ label: refLabel, cls: "r1", value: ref.admissions_per_patient_year },
        { label: t("o_before_enrolment"), cls: "r2", value: group.before_enrolment.admissions_per_patient_year }] }),
    linePlot({ id: "outpatient", title: t("o_outpatient_per_patient_year"), months, digits: 2,
      series: [{ label: t("o_outpatient_per_patient_year"), cls: "s1", values: pick("outpatient_per_patient_year") }],
      references: [{ label: refLabel, cls: "r1", value: ref.outpatient_per_patient_year }] }),
    linePlot({ id: "adherence", title: t("o_adherence"), months, unit: " %", digits: 0,
      series: [{ label: t("o_adherence"), cls: "s1", values: m.map((f) => pct(f.adherence)) }],
      references: [{ label: refLabel, cls: "r1", value: pct(ref.adherence) }] }),
    linePlot({ id: "alerts", title: t("o_alerts_per_patient_month"), months, digits: 2,
      series: SEVERITIES.map((s) => ({ label: t(s), cls: `sev-line-${s}`,
        values: m.map((f) => (f.alerts_per_patient_month ? f.alerts_per_patient_month[s] : null)) })) }),
    linePlot({ id: "red-ack", title: t("o_red_ack"), months, unit: " min", digits: 0,
      series: [{ label: "p50", cls: "s1", values: pick("red_ack_p50_minutes") },
        { label: "p90", cls: "s2", values: pick("red_ack_p90_minutes") }] }),
    linePlot({ id: "pro", title: t("o_pro_share"), months, unit: " %", digits: 0,
      series: [{ label: t("o_pro_share"), cls: "s1", values: m.map((f) => pct(f.pro_share_managed)) }],
      references: [{ label: t("o_goal"), cls: "r2", value: PRO_GOAL * 100 },
        { label: refLabel, cls: "r1", value: pct(ref.pro_share_managed) }] }),
  ].join("");
}

const ROWS = [
  ["o_patients_monitored", (f) => num(f.patients_monitored, 0)],
  ["o_patient_years", (f) => num(f.patient_years, 2)],
  ["o_admissions", (f) => num(f.admissions, 0)],
  ["o_admissions_per_patient_year", (f) => num(f.admissions_per_patient_year, 2)],
  ["o_exacerbation_admissions", (f) => num(f.exacerbation_admissions, 0)],
  ["o_exacerbation_warned", (f) => num(f.exacerbation_admissions_warned, 0)],
  ["o_share_warned", (f) => (f.share_warned === null ? "–" : `${num(f.share_warned * 100, 0)} %`)],
  ["o_outpatient_visits", (f) => num(f.outpatient_visits, 0)],
  ["o_outpatient_per_patient_year", (f) => num(f.outpatient_per_patient_year, 2)],
  ["o_emergency_visits", (f) => num(f.emergency_visits, 0)],
  ["o_adherence", (f) => (f.adherence === null ? "–" : `${num(f.adherence * 100, 0)} %`)],
  ...SEVERITIES.map((s) => [`o_alerts_${s}`, (f) => (f.alerts_per_patient_month ? num(f.alerts_per_patient_month[s], 2) : "–")]),
  ...DISPOSITIONS.map((d) => [`o_disp_${d}`, (f) => (f.dispositions ? num(f.dispositions[d], 0) : "–")]),
  ["o_red_p50", (f) => num(f.red_ack_p50_minutes, 0)],
  ["o_red_p90", (f) => num(f.red_ack_p90_minutes, 0)],
  ["o_pro_share", (f) => (f.pro_share_managed === null ? "–" : `${num(f.pro_share_managed * 100, 0)} %`)],
  ["o_pro_answers", (f) => num(f.pro_answers, 0)],
];

function table(group) {
  const columns = [...group.months, group.reference];
  return `<div class="scroll" tabindex="0" role="region" aria-label="${t("o_table")}"><table class="compact outcomes-table"><caption class="muted">${t("o_suppressed_note")}</caption>
    <thead><tr><th scope="col">${t("o_figure")}</th>${columns.map((f) => `<th scope="col"${f.suppressed ? ' class="suppressed"' : ""}>${esc(f.period)}</th>`).join("")}</tr></thead>
    <tbody>${ROWS.map(([key, show]) => `<tr><th scope="row">${t(key)}</th>${columns.map((f) => `<td>${f.suppressed ? "·" : show(f)}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`;
}

function query(form) {
  const data = new FormData(form);
  const params = new URLSearchParams({ months: data.get("months") });
  if (data.get("to")) params.set("to", data.get("to"));
  if (data.get("reference_year")) params.set("reference_year", data.get("reference_year"));
  return params.toString();
}

export async function render(view) {
  document.title = `${t("outcomes_page")} – ${t("title")}`;
  const thisYear = new Date().getFullYear();
  view.innerHTML = `<section class="card"><h1>${t("outcomes_page")}</h1>
    <p class="muted">${t("o_intro")}</p>
    <form id="outcomes-form" class="filters">
      <div class="field"><label for="o-to">${t("o_to_month")}</label><input id="o-to" name="to" type="month"></div>
      <div class="field"><label for="o-months">${t("o_months")}</label><select id="o-months" name="months">
        ${[6, 12, 24, 36].map((n) => `<option value="${n}" ${n === 12 ? "selected" : ""}>${n}</option>`).join("")}</select></div>
      <div class="field"><label for="o-ref">${t("reference_year")}</label>
        <input id="o-ref" name="reference_year" type="number" min="1900" max="2099" placeholder="${thisYear - 1}"></div>
      <div class="field"><label for="o-group">${t("o_group")}</label><select id="o-group" name="group"></select></div>
      <button type="submit">${t("o_show")}</button>
      <button type="button" class="secondary" id="o-csv">${t("o_csv")}</button>
    </form></section>
    <div id="outcomes-body"><p class="muted">…</p></div>`;
  const form = view.querySelector("#outcomes-form");
  const body = view.querySelector("#outcomes-body");
  const groupSelect = view.querySelector("#o-group");
  let result = null;
  const draw = () => {
    const index = Number(groupSelect.value || 0);
    const group = result.groups[index];
    const before = group.before_enrolment;
    body.innerHTML = `<section class="card"><h2 id="o-heading">${esc(group.team ?? t("o_municipality"))} · ${t("reference_year")} ${result.reference_year}</h2>
      <p class="muted">${t("o_min_group", { n: result.min_group })}
        ${before.admissions_per_patient_year !== null ? ` · ${t("o_before_text", { n: before.patients_known, rate: num(before.admissions_per_patient_year, 2) })}` : ""}</p>
      <div class="plots">${plots(group, result.months)}</div></section>
      <section class="card"><h2>${t("o_table")}</h2>${table(group)}</section>`;
  };
  const load = async () => {
    result = await api(`/api/v1/outcomes?${query(form)}`);
    const chosen = groupSelect.value;
    groupSelect.innerHTML = result.groups.map((g, i) => `<option value="${i}">${esc(g.team ?? t("o_municipality"))}</option>`).join("");
    if (chosen && Number(chosen) < result.groups.length) groupSelect.value = chosen;
    draw();
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); load().catch((e) => { body.innerHTML = `<p class="error" role="alert">${esc(e.message)}</p>`; }); });
  groupSelect.addEventListener("change", () => { if (result) draw(); });
  view.querySelector("#o-csv").addEventListener("click", async () => {
    // The token is in memory, not a cookie: fetched here and handed to the browser as a file.
    const response = await fetch(`/api/v1/outcomes.csv?${query(form)}`, { headers: { Authorization: `Bearer ${token()}` } });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "outcomes.csv";
    link.click();
    URL.revokeObjectURL(link.href);
  });
  await load();
  return null;
}
