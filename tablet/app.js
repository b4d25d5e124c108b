// The patient's tablet app: one task per screen, Danish first. See docs/tablet.md.
import * as ble from "./ble.js";
import * as diary from "./diary.js";
import { TEXTS } from "./i18n.js";
import * as messages from "./messages.js";
import * as store from "./store.js";
import { APP_VERSION, Transport, rfc3339 } from "./transport.js";

const API = new URL("../api/v1/", location.href);
const STEPS = ["spo2", "pulse", "weight"];
const TITLE_KEY = { spo2: "spo2Title", pulse: "pulseTitle", weight: "weightTitle" };
const HELP_KEY = { spo2: "spo2Help", pulse: "pulseHelp", weight: "weightHelp" };
const TZ = "Europe/Copenhagen";

const state = {
  lang: localStorage.getItem("kol-lang") || "da",
  device: null,
  transport: null,
  types: null,        // the type registry: {spo2: {unit, min_value, max_value, display_da, …}}
  today: null,        // the last plan the platform gave
  entry: {},          // the readings being entered: {spo2: {value, measured_at}}
  stepIndex: 0,
  lastBatch: null,
  screen: null,
};

const t = () => TEXTS[state.lang];
const $ = (selector) => document.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (key === "text") node.textContent = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function clock(iso) {
  return new Intl.DateTimeFormat(state.lang === "da" ? "da-DK" : "en-GB",
                                 { hour: "2-digit", minute: "2-digit", timeZone: TZ })
    .format(new Date(iso));
}

function dayAndTime(iso) {
  return new Intl.DateTimeFormat(state.lang === "da" ? "da-DK" : "en-GB",
                                 { weekday: "long", day: "numeric", month: "long",
                                   hour: "2-digit", minute: "2-digit", timeZone: TZ })
    .format(new Date(iso));
}

function shortDay(isoDate) {
  return new Intl.DateTimeFormat(state.lang === "da" ? "da-DK" : "en-GB",
                                 { weekday: "short", day: "numeric", month: "numeric", timeZone: "UTC" })
    .format(new Date(`${isoDate}T12:00:00Z`));
}

function number(value) {
  return new Intl.NumberFormat(state.lang === "da" ? "da-DK" : "en-GB",
                               { maximumFractionDigits: 1 }).format(value);
}

function typeName(type) {
  const entry = state.types && state.types[type];
  if (!entry) return type;
  return state.lang === "da" ? entry.display_da : entry.display_en;
}

function unitText(type) {
  const unit = state.types[type].unit;
  return t().units[unit] || unit;
}

// One screen at a time: its heading takes the focus, so a screen reader starts reading there.
function show(name, ...content) {
  state.screen = name;
  const main = $("#screen");
  main.replaceChildren(...content);
  main.dataset.screen = name;
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
  renderChrome();
}

function renderChrome() {
  document.documentElement.lang = state.lang;
  document.title = t().title;
  const language = $("#language");
  language.textContent = t().language;
  language.setAttribute("aria-label", t().languageLabel);
  language.lang = state.lang === "da" ? "en" : "da";
  const connection = $("#connection");
  if (!state.device) {
    connection.hidden = true;
  } else {
    connection.hidden = false;
    const online = state.transport && state.transport.connected;
    connection.textContent = online ? t().online : t().offline;
    connection.dataset.online = online ? "yes" : "no";
  }
}

// ---------------------------------------------------------------- pairing

function pairScreen(message = "") {
  const input = el("input", { id: "code", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
                              pattern: "[0-9 ]*", maxlength: "9", "aria-describedby": "pair-intro pair-error",
                              "aria-invalid": message ? "true" : "false" });
  const error = el("p", { id: "pair-error", class: "error", role: "alert", text: message });
  const form = el("form", { class: "stack" },
    el("label", { for: "code", text: t().pairCode }), input, error,
    el("button", { type: "submit", class: "primary", text: t().pairButton }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    pair(input.value, error, form.querySelector("button"));
  });
  show("pair", el("h1", { text: t().pairTitle }),
       el("p", { id: "pair-intro", text: t().pairIntro }), form);
  return input;
}

async function pair(raw, error, button) {
  const code = raw.replace(/\s+/g, "");
  if (!/^[0-9]{8}$/.test(code)) {
    error.textContent = t().pairBadFormat;
    return;
  }
  button.disabled = true;
  button.textContent = t().pairing;
  let response;
  try {
    response = await fetch(new URL("tablet/pair", API), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code }) });
  } catch {
    error.textContent = t().pairOffline;
    button.disabled = false;
    button.textContent = t().pairButton;
    return;
  }
  if (response.status === 201) {
    const device = await response.json();
    if (state.transport) state.transport.stop();
    await store.put("device", device);
    await store.abandonOtherDevices(device.device_id);
    history.replaceState(null, "", location.pathname);
    state.device = device;
    startTransport();
    show("paired", el("h1", { text: t().paired }),
         el("p", { text: t().pairedFor(device.patient_name) }),
         el("button", { class: "primary", onclick: () => home(), text: t().continue }));
    refreshToday();
    return;
  }
  const problem = await response.json().catch(() => ({}));
  const slug = (problem.type || "").split(":").pop();
  const messages = { "pairing-code-unknown": t().pairUnknown, "pairing-code-expired": t().pairExpired,
                     "pairing-code-used": t().pairUsed, "too-many-pairing-attempts": t().pairTooMany };
  error.textContent = messages[slug] || (response.status === 422 ? t().pairBadFormat : t().pairFailed);
  $("#code").setAttribute("aria-invalid", "true");
  button.disabled = false;
  button.textContent = t().pairButton;
}

// ---------------------------------------------------------------- home

function dueItems() {
  if (!state.today || !state.today.due_today) return [];
  return state.today.due;
}

function reminderDue(now = new Date()) {
  const open = dueItems().filter((d) => !d.done && !measuredToday(d.type));
  if (!open.length) return null;
  const deadline = new Date(open[0].deadline);
  const minutes = (deadline - now) / 60000;
  return minutes <= state.today.reminder_minutes ? open[0].deadline : null;
}

// Sent readings count as measured at once, before the platform's plan says so.
function measuredToday(type) {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date());
  return (state.recentLog || []).some((r) => r.type === type && r.state !== "rejected" &&
    new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date(r.measured_at)) === today);
}

async function home() {
  state.recentLog = await store.recentLog();
  const items = dueItems();
  const children = [el("h1", { text: t().homeTitle })];
  const reminder = reminderDue();
  if (reminder) children.push(el("p", { class: "reminder", role: "status", text: t().reminder(clock(reminder)) }));
  if (state.today && items.length) {
    children.push(el("h2", { text: t().dueToday }),
      el("ul", { class: "plan" }, items.map((d) => {
        const done = d.done || measuredToday(d.type);
        return el("li", { "data-type": d.type },
          el("span", { class: "name", text: typeName(d.type) }),
          el("span", { class: "when", text: t().dueBy(clock(d.deadline)) }),
          el("span", { class: done ? "done" : "todo", text: done ? t().doneMark : t().notDone }));
      })));
  } else if (state.today) {
    children.push(el("p", { text: t().nothingDue }));
  }
  if (await diary.due(state.today, "diary")) {
    children.push(el("button", { class: "primary", id: "diary", onclick: () => diary.screen(diaryContext("diary")),
                                 text: t().diaryButton }));
  } else if (diary.definition(state.today, "diary")?.due_today) {
    children.push(el("p", { class: "done", id: "diary-done", text: t().diaryDone }));
  }
  if (await diary.due(state.today, "pro")) {
    children.push(el("button", { class: "primary", id: "pro", onclick: () => diary.screen(diaryContext("pro")),
                                 text: t().proButton }));
  }
  children.push(el("div", { class: "actions" },
    el("button", { class: "primary", id: "measure", onclick: () => startMeasuring(), text: t().measureButton }),
    el("button", { class: "secondary", id: "history", onclick: () => historyScreen(), text: t().historyButton }),
    messages.homeButton()));
  const pending = state.recentLog.filter((r) => r.state !== "sent").slice(0, 6);
  if (pending.length) children.push(el("h2", { text: t().notSentYet }), readingList(pending));
  show("home", ...children);
}

function stateText(entry) {
  if (entry.state === "sent") return t().stateSent;
  if (entry.state === "pending") return t().statePending;
  return t().reasons[entry.reason] || t().reasons.other;
}

function readingList(entries) {
  return el("ul", { class: "readings", "aria-live": "polite" }, entries.map((entry) =>
    el("li", { "data-state": entry.state, "data-type": entry.type },
      el("span", { class: "name", text: typeName(entry.type) }),
      el("span", { class: "value", text: `${number(entry.value)} ${unitText(entry.type)}` }),
      el("span", { class: "when", text: dayAndTime(entry.measured_at) }),
      el("span", { class: "state", text: stateText(entry) }))));
}

// What the diary module needs of the app to show one of its questionnaires ("diary", "pro").
function diaryContext(kind) {
  return { kind, lang: state.lang, el, show, transport: state.transport, today: state.today, onDone: () => home() };
}

// The questionnaire on screen ("diary", "pro"), and whether it is its thanks screen.
function questionnaireOnScreen() {
  const [kind, sent] = (state.screen || "").split("-");
  return ["diary", "pro"].includes(kind) && [undefined, "sent"].includes(sent) ? { kind, sent: Boolean(sent) } : null;
}

// ---------------------------------------------------------------- measuring

function plannedSteps() {
  const due = dueItems().map((d) => d.type).filter((type) => STEPS.includes(type));
  return due.length ? STEPS.filter((s) => due.includes(s)).concat(STEPS.filter((s) => !due.includes(s))) : STEPS;
}

function startMeasuring() {
  state.entry = {};
  state.steps = plannedSteps();
  state.stepIndex = 0;
  stepScreen();
}

// message: why the last entry was refused; typed: what she typed, shown again to be corrected.
function stepScreen(message = "", typed = null) {
  const type = state.steps[state.stepIndex];
  const current = state.entry[type];
  const input = el("input", { id: "value", name: "value", inputmode: "decimal", autocomplete: "off",
                              "aria-describedby": "help step-error", "aria-invalid": message ? "true" : "false",
                              value: typed ?? (current ? number(current.value).replace(/\s/g, "") : null) });
  const error = el("p", { id: "step-error", class: "error", role: "alert", text: message });
  const form = el("form", { class: "stack" },
    el("label", { for: "value" }, `${typeName(type)} (${unitText(type)})`),
    input, error,
    el("button", { type: "submit", class: "primary", text: t().next }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    accept(type, input.value);
  });
  const extra = [];
  if (ble.bluetoothAvailable() && type !== "pulse") {
    const kind = type === "weight" ? "scale" : "oximeter";
    extra.push(el("button", { class: "secondary", type: "button",
                              onclick: (event) => fromBluetooth(kind, event.currentTarget),
                              text: kind === "scale" ? t().bluetoothScale : t().bluetoothOximeter }));
  }
  show(`step-${type}`,
       el("p", { class: "step", text: t().stepOf(state.stepIndex + 1, state.steps.length) }),
       el("h1", { text: t()[TITLE_KEY[type]] }),
       el("p", { id: "help", text: t()[HELP_KEY[type]] }),
       form, ...extra,
       el("div", { class: "actions" },
         el("button", { class: "secondary", type: "button", onclick: () => back(), text: t().back }),
         el("button", { class: "secondary", type: "button", onclick: () => { delete state.entry[type]; next(); },
                        text: t().skip })));
}

function parseNumber(raw) {
  const text = raw.trim().replace(/\s/g, "").replace(",", ".");
  return /^-?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
}

// The type registry's range, checked before anything is sent: the patient corrects a typo here
// instead of reading a rejection later.
function inRange(type, value) {
  const spec = state.types[type];
  return Number.isFinite(value) && value >= spec.min_value && value <= spec.max_value;
}

function rangeMessage(type) {
  const spec = state.types[type];
  return t().outOfRange(typeName(type), number(spec.min_value), number(spec.max_value), unitText(type));
}

function accept(type, raw, measuredAt = null) {
  const value = parseNumber(raw);
  if (!inRange(type, value)) {
    stepScreen(rangeMessage(type), raw);
    return;
  }
  state.entry[type] = { value, measured_at: measuredAt || rfc3339(new Date()) };
  next();
}

async function fromBluetooth(kind, button) {
  button.disabled = true;
  button.textContent = t().bluetoothWaiting;
  try {
    const reading = await ble.measure(kind);
    // A device clock ahead of the tablet's would be refused as a future reading: the tablet's
    // time is used then.
    const stamp = reading.timestamp && reading.timestamp <= new Date() ? rfc3339(reading.timestamp) : null;
    if (kind === "scale") {
      accept("weight", String(reading.kg), stamp);
    } else {
      if (inRange("pulse", reading.pulse)) state.entry.pulse = { value: reading.pulse, measured_at: stamp || rfc3339(new Date()) };
      accept("spo2", String(reading.spo2), stamp);
    }
  } catch {
    stepScreen(t().bluetoothFailed);
  }
}

function next() {
  state.stepIndex += 1;
  // A pulse already read from the oximeter needs no typing.
  if (state.steps[state.stepIndex] === "pulse" && state.entry.pulse && state.entry.spo2 &&
      state.entry.pulse.measured_at === state.entry.spo2.measured_at) state.stepIndex += 1;
  if (state.stepIndex >= state.steps.length) confirmScreen();
  else stepScreen();
}

function back() {
  if (state.stepIndex === 0) home();
  else { state.stepIndex -= 1; stepScreen(); }
}

function confirmScreen() {
  const types = state.steps.filter((type) => state.entry[type]);
  if (!types.length) {
    show("confirm", el("h1", { text: t().confirmTitle }), el("p", { text: t().confirmNone }),
         el("button", { class: "primary", onclick: () => home(), text: t().toHome }));
    return;
  }
  show("confirm", el("h1", { text: t().confirmTitle }),
       el("dl", { class: "summary" }, types.map((type) => [
         el("dt", { text: typeName(type) }),
         el("dd", { text: `${number(state.entry[type].value)} ${unitText(type)}` })])),
       el("div", { class: "actions" },
         el("button", { class: "primary", id: "send", onclick: () => send(types), text: t().send }),
         el("button", { class: "secondary", onclick: () => { state.stepIndex = 0; stepScreen(); }, text: t().edit })));
}

async function send(types) {
  const readings = types.map((type) => ({ type, value: state.entry[type].value, unit: state.types[type].unit,
                                          measured_at: state.entry[type].measured_at }));
  state.entry = {};
  state.lastBatch = await state.transport.send(readings);
  await sentScreen();
}

async function sentScreen() {
  const all = await store.recentLog(50);
  const mine = all.filter((r) => r.msg_id === state.lastBatch.msg_id).sort((a, b) => a.index - b.index);
  show("sent", el("h1", { text: t().sentTitle }), readingList(mine),
       el("button", { class: "primary", onclick: () => home(), text: t().toHome }));
}

// ---------------------------------------------------------------- history

async function historyScreen() {
  const children = [el("h1", { text: t().historyTitle })];
  const seen = new Set((state.today?.seen || []).map((s) => `${s.type}/${new Date(s.measured_at).getTime()}`));
  const recent = state.today?.recent || [];
  children.push(el("h2", { text: t().lastReadings }));
  if (!recent.length) children.push(el("p", { text: t().noReadings }));
  else {
    children.push(el("ul", { class: "readings" }, recent.map((r) => el("li", { "data-type": r.type },
      el("span", { class: "name", text: typeName(r.type) }),
      el("span", { class: "value", text: `${number(r.value)} ${unitText(r.type)}` }),
      el("span", { class: "when", text: dayAndTime(r.measured_at) }),
      seen.has(`${r.type}/${new Date(r.measured_at).getTime()}`)
        ? el("span", { class: "seen", text: t().seen }) : null))));
  }
  children.push(el("h2", { text: t().fourteenDays }), fourteenDays());
  children.push(el("button", { class: "primary", onclick: () => home(), text: t().toHome }));
  show("history", ...children);
}

function fourteenDays() {
  const days = state.today?.days || [];
  const byDay = new Map(days.map((d) => [d.day, d.values]));
  const last = state.today ? new Date(`${state.today.today}T12:00:00Z`) : new Date();
  const rows = [];
  for (let i = 13; i >= 0; i -= 1) {
    const date = new Date(last.getTime() - i * 86400000).toISOString().slice(0, 10);
    const values = byDay.get(date) || {};
    rows.push(el("tr", {}, el("th", { scope: "row", text: shortDay(date) }),
      STEPS.map((type) => el("td", { text: values[type] === undefined ? "–" : number(values[type]) }))));
  }
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t().fourteenDays },
    el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t().day }),
        STEPS.map((type) => el("th", { scope: "col" }, typeName(type), el("br"), el("span", { class: "unit", text: unitText(type) }))))),
      el("tbody", {}, rows)));
}

// ---------------------------------------------------------------- data

async function loadTypes() {
  try {
    const response = await fetch(new URL("tablet/measurement-types", API));
    if (response.ok) {
      const list = await response.json();
      state.types = Object.fromEntries(list.map((x) => [x.type, x]));
      await store.put("types", state.types);
      return;
    }
  } catch { /* offline: the last registry kept */ }
  state.types = await store.get("types");
}

async function refreshToday() {
  if (!state.device) return;
  try {
    const response = await fetch(new URL("tablet/today", API), { headers: { Authorization: auth() } });
    if (response.status === 401) { unpaired(); return; }
    if (response.ok) {
      state.today = await response.json();
      await store.put("today", state.today);
    }
  } catch { /* offline: the last plan kept */ }
  if (["home", "history"].includes(state.screen)) {
    if (state.screen === "home") home(); else historyScreen();
  }
}

function auth() {
  return `Basic ${btoa(`${state.device.mqtt_username}:${state.device.mqtt_password}`)}`;
}

async function unpaired() {
  if (state.transport) state.transport.stop();
  state.transport = null;
  state.device = null;
  await store.forgetDevice();
  pairScreen(t().unpaired);
}

function startTransport() {
  state.transport = new Transport(state.device);
  state.transport.addEventListener("connection", () => renderChrome());
  state.transport.addEventListener("receipt", async () => {
    const asked = questionnaireOnScreen();
    if (state.screen === "sent") await sentScreen();
    else if (asked?.sent) await diary.sentScreen(diaryContext(asked.kind));
    else if (state.screen === "home") await home();
    else if (state.screen === "messages") await messages.screen({ keepFocus: true });
    refreshToday();
    messages.refresh();
  });
  state.transport.addEventListener("unauthorized", () => refreshToday());
  state.transport.start();
}

async function main() {
  $("#language").addEventListener("click", () => {
    state.lang = state.lang === "da" ? "en" : "da";
    localStorage.setItem("kol-lang", state.lang);
    const screens = { home, history: historyScreen, sent: sentScreen, confirm: confirmScreen,
                      messages: () => messages.screen() };
    if (screens[state.screen]) screens[state.screen]();
    else if (state.screen && state.screen.startsWith("step-")) stepScreen();
    else if (state.screen === "pair") pairScreen();
    else if (questionnaireOnScreen()?.sent) diary.sentScreen(diaryContext(questionnaireOnScreen().kind));
    else if (questionnaireOnScreen()) diary.screen(diaryContext(questionnaireOnScreen().kind));
    else renderChrome();
  });
  $("#version").textContent = `v${APP_VERSION}`;
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js");
  await loadTypes();
  await messages.install({ el, show, state, API, auth, home, dayAndTime, unpaired });
  // The plan and the reminder are re-checked while the app is open.
  setInterval(() => {
    if (!state.device) return;
    refreshToday();
    if (state.screen === "home") home();
  }, 60000);
  state.device = await store.get("device");
  state.today = await store.get("today");
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (code) {
    // Opened from the QR code: the code is filled in, one press pairs.
    const input = pairScreen();
    input.value = code;
    return;
  }
  if (!state.device) { pairScreen(); return; }
  startTransport();
  await home();
  refreshToday();
  messages.refresh();
}

main();
