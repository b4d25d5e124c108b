// The triage list: the team's patients, worst first. Filters, search and sort work on the rows
// already loaded; an alert event or a change in a patient's messages (her unread badge) re-reads
// the list (one request, no series) and changes only the rows that differ, so the search text,
// the filters and the focus stay as they are.

import { api } from "./session.js";
import { esc, t, when } from "./i18n.js";
import { subscribe, subscribeNotices } from "./live.js";
import { badge, toast } from "./ui.js";

const SEVERITIES = ["red", "yellow", "blue", "green"];
const RANK = { red: 0, yellow: 1, blue: 2, green: 3 };

const REFRESH_DELAY_MS = 150;

let rows = [];
let order = new Map(); // patient id → position in the server's priority order

const filters = () => {
  const form = document.getElementById("triage-filters");
  return form ? Object.fromEntries(new FormData(form)) : {};
};

function visible(row, f) {
  const unresolved = SEVERITIES.reduce((n, s) => n + row.open_counts[s], 0);
  if (f.severity && f.severity !== "all" && !row.open_counts[f.severity]) return false;
  if (f.status === "needs_handling" && !row.unhandled) return false;
  if (f.status === "acknowledged_only" && !(unresolved && !row.unhandled)) return false;
  if (f.status === "quiet" && unresolved) return false;
  if (f.team && f.team !== "all" && row.team !== f.team) return false;
  if (f.q && !row.display_name.toLocaleLowerCase().includes(f.q.trim().toLocaleLowerCase())) return false;
  return true;
}

function sorted(list, how) {
  const copy = [...list];
  if (how === "name") copy.sort((a, b) => a.display_name.localeCompare(b.display_name));
  else if (how === "measured") {
    copy.sort((a, b) => (b.last_measured_at || "").localeCompare(a.last_measured_at || ""));
  } else copy.sort((a, b) => order.get(a.patient_id) - order.get(b.patient_id));
  return copy;
}

function counts(row) {
  const parts = SEVERITIES.filter((s) => row.open_counts[s])
    .map((s) => `<span class="count sev-${s}">${t(s)}: ${row.open_counts[s]}</span>`);
  const unresolved = SEVERITIES.reduce((n, s) => n + row.open_counts[s], 0);
  if (!unresolved) return "–";
  return `${parts.join("")}<div class="muted handling">
    <span data-unhandled="${row.unhandled}">${row.unhandled} ${t("unhandled")}</span> ·
    ${unresolved - row.unhandled} ${t("acknowledged_n")}</div>`;
}

function rowHtml(row) {
  const href = `#/patient/${row.patient_id}`;
  const state = row.unhandled ? "open" : (row.worst_severity ? "acknowledged" : "quiet");
  return `<tr data-patient="${row.patient_id}" data-severity="${row.worst_severity || "none"}"
      data-state="${state}">
    <td>${badge(row.worst_severity)}</td>
    <td><a class="rowlink" href="${href}">${esc(row.display_name)}</a>
      ${row.unread_messages ? `<span class="msg-badge" data-unread="${row.unread_messages}">✉ ${t("unread_messages", { n: row.unread_messages })}</span>` : ""}
      <div class="muted">${esc(row.team)}</div></td>
    <td class="counts">${counts(row)}</td>
    <td>${when(row.oldest_unhandled_at)}</td><td class="measured">${when(row.last_measured_at)}</td>
  </tr>`;
}

function title() {
  const red = rows.filter((r) => r.open_counts.red).length;
  const unhandled = rows.reduce((n, r) => n + r.unhandled, 0);
  const head = unhandled ? `(${unhandled}${red ? ` · ${t("red").toLowerCase()} ${red}` : ""}) ` : "";
  document.title = `${head}${t("triage")} – ${t("title")}`;
}

/** Redraw the table body: rows whose HTML is unchanged keep their DOM nodes (and focus). */
function draw() {
  const body = document.querySelector("#triage tbody");
  if (!body) return;
  const f = filters();
  const shown = sorted(rows.filter((r) => visible(r, f)), f.sort);
  const existing = new Map([...body.children].map((tr) => [tr.dataset.patient, tr]));
  let previous = null;
  for (const row of shown) {
    const html = rowHtml(row).replace(/\s+/g, " ");
    let tr = existing.get(String(row.patient_id));
    if (!tr || tr.dataset.html !== html) {
      const fresh = document.createElement("tbody");
      fresh.innerHTML = html;
      const node = fresh.firstElementChild;
      node.dataset.html = html;
      if (tr) tr.replaceWith(node);
      tr = node;
    }
    existing.delete(String(row.patient_id));
    const wanted = previous ? previous.nextElementSibling : body.firstElementChild;
    if (wanted !== tr) body.insertBefore(tr, wanted);
    previous = tr;
  }
  for (const tr of existing.values()) tr.remove();
  document.getElementById("triage-shown").textContent =
    t("shown", { n: shown.length, m: rows.length });
  const green = rows.some((r) => r.unhandled_green);
  document.getElementById("ack-green").hidden = !green;
  title();
}

async function load() {
  rows = await api("/api/v1/triage?limit=500");
  order = new Map(rows.map((r, i) => [r.patient_id, i]));
}

export async function render(view) {
  await load();
  const teams = [...new Set(rows.map((r) => r.team))].sort();
  const option = (value, label) => `<option value="${esc(value)}">${esc(label)}</option>`;
  view.innerHTML = `
    <section class="card">
      <h1>${t("triage")}</h1>
      <form id="triage-filters" class="filters" role="search">
        <label>${t("search")}<input name="q" type="search" autocomplete="off"></label>
        <label>${t("severity")}<select name="severity">${option("all", t("all"))}
          ${SEVERITIES.map((s) => option(s, t(s))).join("")}</select></label>
        <label>${t("status")}<select name="status">${option("all", t("all"))}
          ${["needs_handling", "acknowledged_only", "quiet"].map((s) => option(s, t(s))).join("")}
          </select></label>
        <label>${t("team")}<select name="team">${option("all", t("all"))}
          ${teams.map((team) => option(team, team)).join("")}</select></label>
        <label>${t("sort")}<select name="sort">
          ${["priority", "name", "measured"].map((s) => option(s, t(`sort_${s}`))).join("")}
          </select></label>
      </form>
      <p class="muted" id="triage-shown" aria-live="polite"></p>
      <table id="triage">
        <thead><tr><th scope="col">${t("severity")}</th><th scope="col">${t("patient")}</th>
          <th scope="col">${t("open_alerts")}</th><th scope="col">${t("oldest")}</th>
          <th scope="col" class="measured">${t("last_measured")}</th></tr></thead>
        <tbody></tbody>
      </table>
      <p class="actions"><button class="secondary" id="ack-green" type="button" hidden>${t("ack_green")}</button>
        <a class="button-link" href="#/burden" id="burden-link">${t("burden")}</a></p>
    </section>`;
  const form = document.getElementById("triage-filters");
  form.addEventListener("input", draw);
  form.addEventListener("submit", (event) => event.preventDefault());
  // The whole row answers a click; the name is the link that the keyboard reaches.
  document.querySelector("#triage tbody").addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-patient]");
    if (tr && !event.target.closest("a")) location.hash = `#/patient/${tr.dataset.patient}`;
  });
  document.getElementById("ack-green").addEventListener("click", async () => {
    const result = await api("/api/v1/alerts/acknowledge-green", { method: "POST", json: { note: "" } });
    toast(`${t("acknowledged")}: ${result.acknowledged}`);
    await refresh();
  });
  draw();
  // When the list is drawn and answers input (the benchmark reads it).
  performance.mark("kol:triage-ready");
  let timer = null;
  const refreshSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => refresh().catch(() => {}), REFRESH_DELAY_MS);
  };
  const unsubscribe = subscribe((event) => {
    // The event's own alert shows at once on its row (a worse severity, one more unhandled
    // alert); the list read right after sets every figure exactly.
    if (raise(event)) draw();
    refreshSoon();
  });
  const unsubscribeMessages = subscribeNotices("messages", refreshSoon);
  return () => { clearTimeout(timer); unsubscribe(); unsubscribeMessages(); };
}

function raise(event) {
  const row = rows.find((r) => r.patient_id === event.alert.patient_id);
  const severity = event.alert.severity;
  if (!row || !["opened", "escalated"].includes(event.event)) return false;
  if (row.worst_severity === null || RANK[severity] < RANK[row.worst_severity]) {
    row.worst_severity = severity;
  }
  if (event.event === "opened") {
    row.open_counts[severity] += 1;
    row.unhandled += 1;
    if (severity === "green") row.unhandled_green += 1;
  }
  return true;
}

let refreshing = null;
let stale = false;

/** Re-read the list and redraw; while a read is under way, events only mark the list stale and
 * one more read follows it. Reads never overlap, so a burst of events (a busy ward, a slow
 * server) costs the server at most two reads of the whole list, not one per event. */
function refresh() {
  if (refreshing) {
    stale = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      stale = false;
      await load();
      draw();
    } while (stale);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

