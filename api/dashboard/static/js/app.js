// The dashboard: a small single-page app over the JSON API, as ES modules (no build step).
// Hash routes: #/login, #/triage, #/patient/ID. Each screen's render returns a function that
// stops what it follows (live events) when the user leaves it.

import { esc, lang, setLang, t, when } from "./i18n.js";
import { api, logout, me, onEnded, onRenewed, resume, token, login } from "./session.js";
import { toast } from "./ui.js";
import { start, stop } from "./live.js";
import * as triage from "./triage.js";
import * as patient from "./patient.js";
import * as burden from "./burden.js";
import * as enrol from "./enrol.js";
import * as admin from "./admin.js";
import * as outcomes from "./outcomes.js";

const view = document.getElementById("view");
let leave = null;
let notice = "";

function labels() {
  document.documentElement.lang = lang();
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  const other = lang() === "da" ? "en" : "da";
  const button = document.getElementById("lang");
  button.textContent = other === "en" ? "English" : "Dansk";
  button.lang = other;
  button.setAttribute("aria-label", `${t("language")}: ${button.textContent}`);
  const user = me();
  document.getElementById("who").textContent = user ? `${user.username} (${t(`role_${user.role}`)})` : "";
  // A manager reads the outcomes only (she sees no patient).
  document.getElementById("nav").innerHTML = !user ? "" : user.role === "manager"
    ? `<a href="#/outcomes">${t("outcomes_page")}</a>`
    : `<a href="#/triage">${t("triage")}</a>
    ${user.role === "admin" ? `<a href="#/enrol">${t("enrol")}</a><a href="#/admin">${t("administration")}</a><a href="#/outcomes">${t("outcomes_page")}</a>` : ""}`;
  document.getElementById("logout").hidden = !token();
}

function renderLogin() {
  document.title = t("title");
  view.innerHTML = `
    <form class="card login" id="login-form">
      <h1>${t("title")}</h1>
      <p class="notice" role="status">${esc(notice)}</p>
      <label for="username">${t("username")}</label>
      <input id="username" name="username" autocomplete="username" required>
      <label for="password">${t("password")}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">${t("login")}</button>
      <div class="error" id="login-error" role="alert"></div>
      <p><a href="#/reset/">${t("have_code")}</a></p>
    </form>`;
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = await login(event.target);
    if (status !== 200) {
      document.getElementById("login-error").textContent =
        status === 429 ? t("throttled") : t("bad_login");
      return;
    }
    notice = "";
    start();
    // Back to the page asked for (a link to a patient), else triage.
    const asked = location.hash;
    const target = asked && asked !== "#/login" && !asked.startsWith("#/reset") ? asked : "#/triage";
    if (asked === target) render(); else location.hash = target;
  });
}

async function render() {
  labels();
  if (leave) { leave(); leave = null; }
  const route = location.hash || "#/triage";
  const reset = route.match(/^#\/reset\/(.*)$/);
  if (reset) { admin.renderReset(view, decodeURIComponent(reset[1])); return; }
  if (!token()) { renderLogin(); return; }
  // Screens of classic scripts loaded before this module (notifications.js) register in
  // window.kolRoutes and window.kolAfterRender and get what they need in ctx.
  const ctx = { api, t, esc, when, toast, view, me, lang, render };
  const extra = Object.keys(window.kolRoutes || {}).find((prefix) => route.startsWith(prefix));
  try {
    const match = route.match(/^#\/patient\/(\d+)$/);
    if (me()?.role === "manager") leave = await outcomes.render(view);
    else if (extra) await window.kolRoutes[extra](route, ctx);
    else if (match) leave = await patient.render(view, match[1]);
    else if (route === "#/burden") leave = await burden.render(view);
    else if (route === "#/enrol") leave = await enrol.render(view);
    else if (route === "#/admin") leave = await admin.render(view);
    else if (route === "#/outcomes") leave = await outcomes.render(view);
    else leave = await triage.render(view);
    for (const hook of window.kolAfterRender || []) hook(route, ctx);
  } catch (error) {
    if (token()) view.innerHTML = `<p class="card error" role="alert">${esc(error.message)}</p>`;
  }
}

onRenewed(() => start());
onEnded((why) => {
  stop();
  notice = why === "idle" ? t("idle_logout") : why === "logout" ? "" : t("session_ended");
  render();
});

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "da" ? "en" : "da");
  render();
});
document.getElementById("logout").addEventListener("click", () => logout());
window.addEventListener("hashchange", render);

(async () => {
  await resume(); // a renewal opens the live stream
  render();
})();
