// The alert-burden page (issue 13): patients by alerts per week over 30 days with their pending
// personal-limit proposal, and the alert outcomes per rule (share that led to an action, the
// dispositions given), the admissions the alerts warned of and the episodes judged to need no
// action.

import { api } from "./session.js";
import { esc, num, t } from "./i18n.js";

export const changeText = (changes) => changes.map((c) =>
  `${esc(c.path)}: ${esc(c.old)} → ${esc(c.new)}`).join("; ");

export async function render(view) {
  const since = new Date(Date.now() - 30 * 864e5).toISOString();
  const [rows, outcomes] = await Promise.all([
    api("/api/v1/reports/alert-burden?days=30&limit=100"),
    api(`/api/v1/reports/alert-outcomes?since=${encodeURIComponent(since)}`),
  ]);
  const percent = (value) => (value === null ? "–" : `${num(Math.round(value * 100))} %`);
  const share = (r) => percent(r.share_actioned);
  const { admissions: adm, episodes: ep } = outcomes;
  document.title = `${t("burden")} – ${t("title")}`;
  view.innerHTML = `
    <p><a href="#/triage">← ${t("back")}</a></p>
    <section class="card">
      <h1>${t("burden")}</h1>
      <table id="burden">
        <thead><tr><th scope="col">${t("patient")}</th><th scope="col">${t("alerts_per_week")}</th>
          <th scope="col">${t("pending_proposal")}</th></tr></thead>
        <tbody>${rows.map((r) => `
          <tr data-patient="${r.patient_id}">
            <td><a class="rowlink" href="#/patient/${r.patient_id}">${esc(r.display_name)}</a></td>
            <td class="num">${num(r.alerts_per_week, 1)}</td>
            <td class="muted">${r.pending_proposal.length ? changeText(r.pending_proposal) : "–"}</td>
          </tr>`).join("")}</tbody>
      </table>
    </section>
    <section class="card">
      <h2>${t("outcomes")}</h2>
      <table id="outcomes">
        <thead><tr><th scope="col">${t("rule")}</th><th scope="col">${t("alerts")}</th>
          <th scope="col">${t("share_actioned")}</th><th scope="col">${t("disposition")}</th></tr></thead>
        <tbody>${outcomes.by_rule.map((r) => `
          <tr data-rule="${esc(r.rule)}" data-type="${esc(r.type)}">
            <td>${t(r.rule)} · ${t(r.type)}</td><td class="num">${num(r.alerts)}</td>
            <td class="num">${share(r)}</td>
            <td class="muted">${Object.entries(r.by_disposition).map(([d, n]) => `${t(d)}: ${num(n)}`).join(", ") || "–"}</td>
          </tr>`).join("")}</tbody>
      </table>
      <p id="admission-warnings">${t("warned_admissions", { n: num(adm.admissions),
        w: num(adm.warned), s: percent(adm.share_warned), l: num(adm.median_lead_days, 1) })}</p>
      <p id="episodes-no-action">${t("episodes_no_action", { e: num(ep.episodes),
        f: num(ep.judged_no_action), r: num(ep.judged_no_action_per_patient_month, 2) })}</p>
    </section>`;
  view.querySelector("#burden tbody").addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-patient]");
    if (tr && !event.target.closest("a")) location.hash = `#/patient/${tr.dataset.patient}`;
  });
  return null;
}
