// Messages between the patient and her team (docs/messages.md): she writes a short message or
// asks to be called back; both go through the outbox like readings (kept across reloads and
// offline, sent again until the platform's receipt). The team's replies are read from the
// platform as her device (GET /api/v1/tablet/messages) and kept in IndexedDB, so the screen shows
// them offline too; reading a reply sends a read receipt through the same outbox.
import { MESSAGE_TEXTS } from "./i18n.js";
import * as store from "./store.js";

const REFRESH_MS = 15000;
const MAX_CHARS = 1000;

let app = null;      // what the app shares: {el, show, state, API, auth, home, dayAndTime, unpaired}
let thread = null;   // the last thread from the platform: {messages, unread_replies}
let acknowledged = new Set();  // replies whose read receipt is already in the outbox

const m = () => MESSAGE_TEXTS[app.state.lang];

export async function install(shared) {
  app = shared;
  thread = (await store.get("thread")) || null;
  acknowledged = new Set((await store.get("acknowledged")) || []);
  setInterval(() => { if (app.state.device) refresh(); }, REFRESH_MS);
}

// Only this device's thread: a tablet paired anew may be another patient's.
function current() {
  return thread && app.state.device && thread.device_id === app.state.device.device_id ? thread : null;
}

function unreadReplies() {
  return (current()?.messages || []).filter((x) => x.direction === "team" && !x.read_at && !acknowledged.has(x.id));
}

// The home screen's way in, with the number of replies she has not read.
export function homeButton() {
  const unread = unreadReplies().length;
  return app.el("button", { class: "secondary", id: "messages", type: "button", onclick: () => screen(),
                            text: unread ? m().buttonUnread(unread) : m().button });
}

// The thread from the platform; a screen that shows it is redrawn only when it changed.
export async function refresh() {
  if (!app.state.device) return;
  const before = JSON.stringify(thread);
  try {
    const response = await fetch(new URL("tablet/messages", app.API), { headers: { Authorization: app.auth() } });
    if (response.status === 401) { app.unpaired(); return; }
    if (!response.ok) return;
    thread = { ...(await response.json()), device_id: app.state.device.device_id };
    await store.put("thread", thread);
  } catch { return; /* offline: the last thread kept */ }
  if (JSON.stringify(thread) === before) return;
  if (app.state.screen === "messages") await screen({ keepFocus: true });
  else if (app.state.screen === "home") app.home();
}

// Replies on the screen are read: their read receipt goes into the outbox once.
async function acknowledge() {
  const ids = unreadReplies().map((x) => x.id);
  if (!ids.length || !app.state.transport) return;
  ids.forEach((id) => acknowledged.add(id));
  await store.put("acknowledged", [...acknowledged]);
  await app.state.transport.sendMessage({ reply_ids: ids });
}

function noteState(note) {
  if (note.state === "pending") return m().pending;
  if (note.state === "rejected") return m().reasons[note.reason] || m().reasons.other;
  return note.read_at ? m().readByTeam(app.dayAndTime(note.read_at)) : m().sent;
}

// Her messages as the platform has them, then those still in the outbox or refused.
async function entries() {
  const local = (await store.notes()).filter((n) => n.device_id === app.state.device?.device_id);
  const server = current()?.messages || [];
  const known = new Set(server.filter((x) => x.msg_id).map((x) => x.msg_id));
  const list = server.map((x) => (x.direction === "patient"
    ? { ...x, mine: true, state: "sent", reason: null } : { ...x, mine: false }));
  for (const note of local) {
    if (!known.has(note.msg_id) && note.state !== "sent") list.push({ ...note, mine: true });
  }
  return list;
}

function item(entry) {
  const { el } = app;
  const text = entry.text || (entry.callback ? m().callbackText : "");
  return el("li", { class: entry.mine ? "mine" : "team", "data-state": entry.mine ? entry.state : "reply",
                    "data-read": entry.read_at ? "yes" : "no" },
    el("span", { class: "from", text: entry.mine ? m().fromMe : m().fromTeam }),
    el("span", { class: "when", text: app.dayAndTime(entry.written_at) }),
    el("p", { class: "text", text }),
    entry.callback && entry.text ? el("p", { class: "callback", text: m().callbackText }) : null,
    entry.mine ? el("span", { class: "state", text: noteState(entry) }) : null);
}

export async function screen({ keepFocus = false, status = "" } = {}) {
  const { el } = app;
  const typed = document.querySelector("#message-text")?.value || "";
  const input = el("textarea", { id: "message-text", name: "text", rows: "3", maxlength: String(MAX_CHARS),
                                 "aria-describedby": "messages-intro message-error" });
  input.value = typed;
  const error = el("p", { id: "message-error", class: "error", role: "alert" });
  const form = el("form", { class: "stack" },
    el("label", { for: "message-text", text: m().label }), input, error,
    el("button", { type: "submit", class: "primary", id: "send-message", text: m().send }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { error.textContent = m().empty; return; }
    input.value = "";
    await app.state.transport.sendMessage({ text, callback: false });
    await screen({ status: m().queued });
  });
  const list = await entries();
  const threadBox = el("div", { id: "thread" },
    list.length ? el("ul", { class: "thread" }, list.map(item)) : el("p", { text: m().none }));
  const children = [
    el("h1", { text: m().title }),
    el("p", { id: "messages-intro", text: m().intro }),
    el("p", { class: "reminder", role: "status", id: "message-status", text: status }),
    el("div", { class: "actions" },
      el("button", { class: "primary", id: "call-me", type: "button", text: m().callMe,
                     onclick: async () => {
                       await app.state.transport.sendMessage({ text: "", callback: true });
                       await screen({ status: m().callQueued });
                     } })),
    form,
    el("h2", { text: m().threadTitle }),
    threadBox,
    el("button", { class: "secondary", type: "button", onclick: () => app.home(), text: m().toHome }),
  ];
  if (!status) children.splice(2, 1);
  if (keepFocus && app.state.screen === "messages") {
    // A refresh while she reads or types: the list changes, the focus and her text stay.
    document.querySelector("#thread").replaceWith(threadBox);
  } else {
    app.show("messages", ...children);
  }
  await acknowledge();
}
