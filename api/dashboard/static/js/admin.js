// Administration (team admins): the users of her teams (create with a one-time code, role,
// teams, deactivate, password reset) and her teams (create, idle timeout of the sessions).

import { api, me } from "./session.js";
import { esc, t, when } from "./i18n.js";
import { toast } from "./ui.js";

const ROLES = ["nurse", "clinician", "admin", "manager"];

function codeBox(username, reset) {
  const link = `${location.origin}/#/reset/${encodeURIComponent(reset.code)}`;
  return `<div class="card pairing" id="reset-code"><p>${t("code_for", { user: esc(username), until: when(reset.expires_at) })}</p>
    <p><code id="code">${esc(reset.code)}</code></p><p class="muted">${t("or_link")} <code>${esc(link)}</code></p></div>`;
}

function userRow(user, teams) {
  return `<tr data-user="${user.id}" data-active="${user.active}">
    <th scope="row">${esc(user.username)}<div class="muted">${esc(user.display_name)}</div></th>
    <td><select class="role" aria-label="${t("role")}: ${esc(user.username)}">${ROLES.map((r) => `<option value="${r}" ${r === user.role ? "selected" : ""}>${t(`role_${r}`)}</option>`).join("")}</select></td>
    <td><div class="checks">${teams.map((team) => `<label class="check"><input type="checkbox" class="team" value="${esc(team.name)}"
      ${user.teams.includes(team.name) ? "checked" : ""}> ${esc(team.name)}</label>`).join("")}</div></td>
    <td>${user.active ? t("active") : t("inactive")}</td>
    <td class="actions"><button class="secondary save-user" type="button">${t("save")}</button>
      <button class="secondary reset" type="button">${t("reset_password")}</button>
      ${user.id === me()?.id ? "" : `<button class="secondary toggle" type="button">${user.active ? t("deactivate") : t("reactivate")}</button>`}</td></tr>`;
}

export async function render(view) {
  const [users, teams] = await Promise.all([api("/api/v1/users"), api("/api/v1/teams")]);
  document.title = `${t("administration")} – ${t("title")}`;
  view.innerHTML = `<p><a href="#/triage">← ${t("back")}</a></p>
    <section class="card"><h1>${t("users")}</h1><div id="code-out" aria-live="polite"></div>
      <div class="scroll"><table id="users"><thead><tr><th scope="col">${t("username")}</th><th scope="col">${t("role")}</th>
        <th scope="col">${t("teams")}</th><th scope="col">${t("status")}</th><th scope="col"><span class="visually-hidden">${t("actions")}</span></th></tr></thead>
        <tbody>${users.map((user) => userRow(user, teams)).join("")}</tbody></table></div>
      <details id="new-user"><summary>${t("new_user")}</summary><form id="user-form">
        <div class="field"><label for="u-username">${t("username")}</label><input id="u-username" name="username" required pattern="[A-Za-z0-9._@\\-]{3,64}" autocomplete="off"></div>
        <div class="field"><label for="u-name">${t("f_display_name")}</label><input id="u-name" name="display_name" maxlength="200"></div>
        <div class="field"><label for="u-role">${t("role")}</label><select id="u-role" name="role">${ROLES.map((r) => `<option value="${r}">${t(`role_${r}`)}</option>`).join("")}</select></div>
        <fieldset><legend>${t("teams")}</legend><div class="checks">${teams.map((team) => `<label class="check"><input type="checkbox" name="teams" value="${esc(team.name)}"> ${esc(team.name)}</label>`).join("")}</div></fieldset>
        <button type="submit">${t("create")}</button></form></details></section>
    <section class="card"><h2>${t("teams")}</h2><table id="teams"><thead><tr><th scope="col">${t("team")}</th>
      <th scope="col">${t("members")}</th><th scope="col">${t("idle_timeout")}</th></tr></thead>
      <tbody>${teams.map((team) => `<tr data-team="${team.id}"><th scope="row">${esc(team.name)}</th><td>${team.members}</td>
        <td><div class="inline"><input type="number" min="1" max="1440" class="idle" value="${team.idle_timeout_minutes ?? ""}"
          placeholder="${t("default")}" aria-label="${t("idle_timeout")}: ${esc(team.name)}">
          <button class="secondary save-team" type="button">${t("save")}</button></div></td></tr>`).join("")}</tbody></table>
      <form id="team-form" class="inline"><label for="t-name">${t("new_team")}</label><input id="t-name" name="name" required maxlength="100">
        <button type="submit">${t("create")}</button></form></section>`;
  const rerender = () => render(view);
  const out = view.querySelector("#code-out");
  const attempt = (work) => work().catch((error) => toast(error.message));
  view.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.type === "submit") return;
    const row = button.closest("tr");
    attempt(async () => {
      if (button.classList.contains("save-user")) {
        await api(`/api/v1/users/${row.dataset.user}`, { method: "PATCH", json: {
          role: row.querySelector(".role").value,
          teams: [...row.querySelectorAll(".team:checked")].map((box) => box.value) } });
        toast(t("saved"));
      } else if (button.classList.contains("toggle")) {
        await api(`/api/v1/users/${row.dataset.user}`, { method: "PATCH",
          json: { active: row.dataset.active !== "true" } });
        toast(t("saved"));
        await rerender();
      } else if (button.classList.contains("reset")) {
        const reset = await api(`/api/v1/users/${row.dataset.user}/password-reset`, { method: "POST" });
        out.innerHTML = codeBox(row.querySelector("th").firstChild.textContent, reset);
      } else if (button.classList.contains("save-team")) {
        const value = row.querySelector(".idle").value;
        await api(`/api/v1/teams/${row.dataset.team}`, { method: "PATCH",
          json: { idle_timeout_minutes: value === "" ? null : Number(value) } });
        toast(t("saved"));
      }
    });
  });
  view.querySelector("#user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    attempt(async () => {
      const created = await api("/api/v1/users", { method: "POST", json: {
        username: data.get("username"), display_name: data.get("display_name"),
        role: data.get("role"), teams: data.getAll("teams") } });
      await rerender();
      view.querySelector("#code-out").innerHTML = codeBox(created.user.username, created.reset);
    });
  });
  view.querySelector("#team-form").addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      await api("/api/v1/teams", { method: "POST", json: { name: new FormData(event.target).get("name") } });
      toast(t("saved"));
      await rerender();
    });
  });
  return null;
}

/** The page a user opens with her one-time code: choose a password. */
export function renderReset(view, code) {
  document.title = `${t("set_password")} – ${t("title")}`;
  view.innerHTML = `<form class="card login" id="reset-form"><h1>${t("set_password")}</h1>
    <label for="r-code">${t("code")}</label><input id="r-code" name="code" value="${esc(code)}" required autocomplete="one-time-code">
    <label for="r-password">${t("new_password")}</label><input id="r-password" name="password" type="password" minlength="10" required autocomplete="new-password">
    <button type="submit">${t("set_password")}</button><div class="error" id="reset-error" role="alert"></div></form>`;
  view.querySelector("#reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/v1/auth/password", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.fromEntries(new FormData(event.target))) });
    if (response.ok) { toast(t("password_set")); location.hash = "#/login"; return; }
    view.querySelector("#reset-error").textContent = t("bad_code");
  });
}
