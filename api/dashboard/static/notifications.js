"use strict";
// Notifications in the dashboard (docs/notifications.md), kept apart from app.js: the team's
// rota, escalation chain and policy (#/notifications; edited by the team's admin), the user's
// contact details and Web Push on this device, the delivery status on each alert, and the link
// of a notification (#alert=ID), which opens the alert's patient after login.

(() => {
  const TEXT = {
    da: {
      nav: "Vagtplan og varsling", heading: "Vagtplan og varsling", rota: "Vagtplan",
      chain: "Eskalering", policy: "Politik", contact: "Mine kontaktoplysninger",
      person: "Person", role: "Rolle", day: "Dag", from: "Fra", to: "Til", primary: "1. vagt",
      secondary: "2. vagt", user: "Navngiven person", target: "Hvem", minutes: "Efter minutter",
      add: "Tilføj", remove: "Fjern", save: "Gem", saved: "Gemt", on_call_now: "På vagt nu",
      nobody: "ingen", holiday: "helligdag", email: "E-mail", phone: "Mobil (+45…)",
      push_on: "Slå push-beskeder til på denne enhed", push_done: "Push-beskeder er slået til",
      push_failed: "Push kunne ikke slås til", day_hours: "Dagtimer", morning: "Morgenoversigt",
      daily: "Daglig oversigt (blå)", collapse: "Saml pr. borger (min)",
      flood: "Højst beskeder pr. person pr. vindue", window: "Vindue (min)",
      delivery: "Varsling", only_admin: "Kun teamets administrator kan ændre.",
      queued: "i kø", sending: "sendes", sent: "sendt", failed: "fejlet", gave_up: "opgivet",
      cancelled: "annulleret", collapsed: "samlet", summarised: "opsummeret",
      mon: "man", tue: "tir", wed: "ons", thu: "tor", fri: "fre", sat: "lør", sun: "søn",
    },
    en: {
      nav: "Rota and notifications", heading: "Rota and notifications", rota: "On-call rota",
      chain: "Escalation", policy: "Policy", contact: "My contact details", person: "Person",
      role: "Role", day: "Day", from: "From", to: "To", primary: "on call", secondary: "second",
      user: "Named person", target: "Who", minutes: "After minutes", add: "Add",
      remove: "Remove", save: "Save", saved: "Saved", on_call_now: "On call now",
      nobody: "nobody", holiday: "public holiday", email: "E-mail", phone: "Mobile (+45…)",
      push_on: "Turn on push messages on this device", push_done: "Push messages are on",
      push_failed: "Push could not be turned on", day_hours: "Day hours",
      morning: "Morning digest", daily: "Daily digest (blue)",
      collapse: "Collapse per patient (min)", flood: "At most messages per person per window",
      window: "Window (min)", delivery: "Notified",
      only_admin: "Only the team's admin can change this.", queued: "queued",
      sending: "sending", sent: "sent", failed: "failed", gave_up: "gave up",
      cancelled: "cancelled", collapsed: "collapsed", summarised: "summarised",
      mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun",
    },
  };
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"];
  const n = (ctx, key) => TEXT[ctx.lang()][key] ?? key;
  const hhmm = (value) => String(value).slice(0, 5);

  // The link of a notification: remember the alert across the login.
  const linked = location.hash.match(/^#alert=(\d+)$/);
  if (linked) sessionStorage.setItem("kol.pendingAlert", linked[1]);

  function options(items, selected) {
    return items.map(([value, label]) =>
      `<option value="${value}"${String(value) === String(selected) ? " selected" : ""}>${label}</option>`).join("");
  }

  function rotaRow(ctx, setup, slot) {
    const people = setup.members.map((m) => [m.id, ctx.esc(m.display_name || m.username)]);
    return `<tr class="slot">
      <td><select class="s-user" aria-label="${n(ctx, "person")}">${options(people, slot.user_id)}</select></td>
      <td><select class="s-role" aria-label="${n(ctx, "role")}">${options([["primary", n(ctx, "primary")], ["secondary", n(ctx, "secondary")]], slot.role)}</select></td>
      <td><select class="s-day" aria-label="${n(ctx, "day")}">${options(DAYS.map((d) => [d, n(ctx, d)]), slot.day)}</select></td>
      <td><input class="s-starts" type="time" value="${hhmm(slot.starts)}" aria-label="${n(ctx, "from")}"></td>
      <td><input class="s-ends" type="time" value="${hhmm(slot.ends)}" aria-label="${n(ctx, "to")}"></td>
      <td><button type="button" class="secondary s-remove">${n(ctx, "remove")}</button></td></tr>`;
  }

  function stepRow(ctx, setup, step) {
    const people = setup.members.map((m) => [m.id, ctx.esc(m.display_name || m.username)]);
    return `<tr class="step">
      <td><select class="e-target" aria-label="${n(ctx, "target")}">${options([["primary", n(ctx, "primary")], ["secondary", n(ctx, "secondary")], ["user", n(ctx, "user")]], step.target)}</select></td>
      <td><select class="e-user" aria-label="${n(ctx, "person")}"><option value=""></option>${options(people, step.user_id ?? "")}</select></td>
      <td><input class="e-minutes" type="number" min="0" max="1440" value="${step.after_minutes}" aria-label="${n(ctx, "minutes")}"></td>
      <td><button type="button" class="secondary e-remove">${n(ctx, "remove")}</button></td></tr>`;
  }

  function onCallNow(ctx, setup) {
    const name = (id) => {
      const m = setup.members.find((x) => x.id === id);
      return m ? ctx.esc(m.display_name || m.username) : `#${id}`;
    };
    const list = (ids) => ids.map(name).join(", ") || n(ctx, "nobody");
    const now = setup.on_call_now;
    return `${n(ctx, "on_call_now")}: <b>${list(now.primary)}</b> · ${n(ctx, "secondary")}: ${list(now.secondary)}${now.public_holiday ? ` · ${n(ctx, "holiday")}: ${ctx.esc(now.public_holiday)}` : ""}`;
  }

  function renderTeam(ctx, setup) {
    const teamId = setup.team_id, teamName = setup.team;
    const admin = ctx.me()?.role === "admin";
    const p = setup.policy;
    return `<section class="card ntf-team" data-team="${teamId}">
      <h2>${ctx.esc(teamName)}</h2>
      <p class="ntf-now">${onCallNow(ctx, setup)}</p>
      ${admin ? "" : `<p class="muted">${n(ctx, "only_admin")}</p>`}
      <h3>${n(ctx, "rota")}</h3>
      <table class="ntf-rota"><thead><tr><th>${n(ctx, "person")}</th><th>${n(ctx, "role")}</th><th>${n(ctx, "day")}</th><th>${n(ctx, "from")}</th><th>${n(ctx, "to")}</th><th></th></tr></thead>
        <tbody>${setup.rota.map((s) => rotaRow(ctx, setup, s)).join("")}</tbody></table>
      <p><button type="button" class="secondary ntf-add-slot">${n(ctx, "add")}</button>
        <button type="button" class="ntf-save-rota">${n(ctx, "save")} ${n(ctx, "rota").toLowerCase()}</button></p>
      <h3>${n(ctx, "chain")}</h3>
      <table class="ntf-chain"><thead><tr><th>${n(ctx, "target")}</th><th>${n(ctx, "person")}</th><th>${n(ctx, "minutes")}</th><th></th></tr></thead>
        <tbody>${setup.escalation.map((s) => stepRow(ctx, setup, s)).join("")}</tbody></table>
      <p><button type="button" class="secondary ntf-add-step">${n(ctx, "add")}</button>
        <button type="button" class="ntf-save-chain">${n(ctx, "save")} ${n(ctx, "chain").toLowerCase()}</button></p>
      <h3>${n(ctx, "policy")}</h3>
      <div class="grid ntf-policy">
        <label>${n(ctx, "day_hours")} ${n(ctx, "from").toLowerCase()}<input type="time" data-p="day_starts" value="${hhmm(p.day_starts)}"></label>
        <label>${n(ctx, "day_hours")} ${n(ctx, "to").toLowerCase()}<input type="time" data-p="day_ends" value="${hhmm(p.day_ends)}"></label>
        <label>${n(ctx, "morning")}<input type="time" data-p="morning_digest_at" value="${hhmm(p.morning_digest_at)}"></label>
        <label>${n(ctx, "daily")}<input type="time" data-p="daily_digest_at" value="${hhmm(p.daily_digest_at)}"></label>
        <label>${n(ctx, "collapse")}<input type="number" min="0" data-p="collapse_minutes" value="${p.collapse_minutes}"></label>
        <label>${n(ctx, "flood")}<input type="number" min="1" data-p="flood_max_messages" value="${p.flood_max_messages}"></label>
        <label>${n(ctx, "window")}<input type="number" min="1" data-p="flood_window_minutes" value="${p.flood_window_minutes}"></label>
      </div>
      <p><button type="button" class="ntf-save-policy">${n(ctx, "save")} ${n(ctx, "policy").toLowerCase()}</button></p>
      <p class="error ntf-error" role="alert"></p>
    </section>`;
  }

  function wireTeam(ctx, section, setup) {
    const teamId = section.dataset.team;
    const url = `/api/v1/teams/${teamId}/notifications`;
    const error = section.querySelector(".ntf-error");
    const admin = ctx.me()?.role === "admin";
    section.querySelectorAll("input, select, .ntf-policy input").forEach((el) => { el.disabled = !admin; });
    section.querySelectorAll("button").forEach((el) => { el.hidden = !admin; });
    const save = async (path, body) => {
      error.textContent = "";
      try {
        await ctx.api(`${url}/${path}`, { method: "PUT", json: body });
        ctx.toast(n(ctx, "saved"));
        ctx.render();
      } catch (e) { error.textContent = e.message; }
    };
    section.querySelector(".ntf-add-slot").addEventListener("click", () => {
      section.querySelector(".ntf-rota tbody").insertAdjacentHTML("beforeend", rotaRow(ctx, setup,
        { user_id: setup.members[0]?.id, role: "primary", day: "mon", starts: "08:00", ends: "16:00" }));
    });
    section.querySelector(".ntf-add-step").addEventListener("click", () => {
      section.querySelector(".ntf-chain tbody").insertAdjacentHTML("beforeend",
        stepRow(ctx, setup, { target: "secondary", user_id: null, after_minutes: 10 }));
    });
    section.addEventListener("click", (event) => {
      if (event.target.matches(".s-remove, .e-remove")) event.target.closest("tr").remove();
    });
    section.querySelector(".ntf-save-rota").addEventListener("click", () => save("rota", {
      slots: [...section.querySelectorAll("tr.slot")].map((tr) => ({
        user_id: Number(tr.querySelector(".s-user").value), role: tr.querySelector(".s-role").value,
        day: tr.querySelector(".s-day").value, starts: tr.querySelector(".s-starts").value,
        ends: tr.querySelector(".s-ends").value,
      })),
    }));
    section.querySelector(".ntf-save-chain").addEventListener("click", () => save("escalation", {
      steps: [...section.querySelectorAll("tr.step")].map((tr) => {
        const target = tr.querySelector(".e-target").value;
        return { target, user_id: target === "user" ? Number(tr.querySelector(".e-user").value) : null,
                 after_minutes: Number(tr.querySelector(".e-minutes").value) };
      }),
    }));
    section.querySelector(".ntf-save-policy").addEventListener("click", () => {
      const policy = structuredClone(setup.policy);
      section.querySelectorAll("[data-p]").forEach((input) => {
        policy[input.dataset.p] = input.type === "number" ? Number(input.value) : input.value;
      });
      save("policy", policy);
    });
  }

  function base64UrlToBytes(text) {
    const padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  async function enablePush(ctx) {
    const registration = await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    if (await Notification.requestPermission() !== "granted") throw new Error("permission denied");
    const { public_key: key } = await ctx.api("/api/v1/notifications/vapid-public-key");
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key),
    });
    await ctx.api("/api/v1/me/push-subscriptions", { method: "POST", json: subscription.toJSON() });
  }

  async function renderNotifications(route, ctx) {
    const [contact, teams] = await Promise.all([
      ctx.api("/api/v1/me/contact"), ctx.api("/api/v1/me/teams/notifications")]);
    ctx.view.innerHTML = `<section class="card"><h1>${n(ctx, "heading")}</h1></section>
      <section class="card ntf-contact"><h2>${n(ctx, "contact")}</h2>
        <div class="grid"><label>${n(ctx, "email")}<input id="ntf-email" type="email" value="${ctx.esc(contact.email || "")}"></label>
        <label>${n(ctx, "phone")}<input id="ntf-phone" type="tel" value="${ctx.esc(contact.phone || "")}"></label></div>
        <p><button type="button" id="ntf-save-contact">${n(ctx, "save")}</button>
          <button type="button" class="secondary" id="ntf-push">${n(ctx, "push_on")}</button>
          <span class="muted" id="ntf-push-count">(${contact.push_subscriptions})</span></p>
        <p class="error" id="ntf-contact-error" role="alert"></p></section>
      <div id="ntf-teams"></div>`;
    document.getElementById("ntf-save-contact").addEventListener("click", async () => {
      const out = document.getElementById("ntf-contact-error");
      out.textContent = "";
      try {
        await ctx.api("/api/v1/me/contact", { method: "PUT", json: {
          email: document.getElementById("ntf-email").value || null,
          phone: document.getElementById("ntf-phone").value || null } });
        ctx.toast(n(ctx, "saved"));
      } catch (e) { out.textContent = e.message; }
    });
    document.getElementById("ntf-push").addEventListener("click", async () => {
      const out = document.getElementById("ntf-contact-error");
      out.textContent = "";
      try {
        await enablePush(ctx);
        ctx.toast(n(ctx, "push_done"));
        ctx.render();
      } catch (e) { out.textContent = `${n(ctx, "push_failed")}: ${e.message}`; }
    });
    const box = document.getElementById("ntf-teams");
    for (const setup of teams) {
      box.insertAdjacentHTML("beforeend", renderTeam(ctx, setup));
      wireTeam(ctx, box.lastElementChild, setup);
    }
  }

  // The delivery status on each alert shown (patient view).
  async function decorateAlerts(route, ctx) {
    // The session's token lives in the page's memory (session.js): a user means logged in.
    // A manager reads the outcomes only (issue #19): no rota or escalation for her.
    document.getElementById("nav-notifications").hidden = !ctx.me() || ctx.me().role === "manager";
    document.getElementById("nav-notifications").textContent = n(ctx, "nav");
    const pending = sessionStorage.getItem("kol.pendingAlert");
    if (pending && ctx.me()) {
      sessionStorage.removeItem("kol.pendingAlert");
      const detail = await ctx.api(`/api/v1/alerts/${pending}/notifications`).catch(() => null);
      if (detail) { location.hash = `#/patient/${detail.patient_id}`; return; }
    }
    const rows = [...ctx.view.querySelectorAll(".alert[data-alert-id]")];
    if (!rows.length) return;
    const query = rows.map((r) => `alert_id=${r.dataset.alertId}`).join("&");
    const status = await ctx.api(`/api/v1/notifications/status?${query}`).catch(() => ({}));
    for (const row of rows) {
      const counts = status[row.dataset.alertId];
      if (!counts || row.querySelector(".delivery")) continue;
      row.querySelector(".reason").insertAdjacentHTML("beforeend", `<div class="delivery muted"
        data-delivery='${ctx.esc(JSON.stringify(counts))}'>${n(ctx, "delivery")}: ${Object.entries(counts)
        .map(([s, c]) => `${n(ctx, s)} ${c}`).join(" · ")}</div>`);
    }
  }

  window.kolRoutes = { ...(window.kolRoutes || {}), "#/notifications": renderNotifications };
  window.kolAfterRender = [...(window.kolAfterRender || []), decorateAlerts];
})();
