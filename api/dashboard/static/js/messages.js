// Messages between the patient and her team (docs/messages.md) on the patient page: her messages
// and call-back requests with whether the team has read them, the team's replies with whether
// she has read them, "mark as read" and a reply form. The live stream says when her conversation
// changes (a message of hers, a reply from a colleague, a read receipt): the thread is read again
// then, and whenever the stream (re)opens.

import { api } from "./session.js";
import { esc, t, when } from "./i18n.js";
import { subscribeNotices } from "./live.js";
import { toast } from "./ui.js";

const MAX_CHARS = 1000;

function receipt(message) {
  if (message.direction === "patient") {
    return message.read_at
      ? t("msg_read_by", { who: esc(message.read_by), at: when(message.read_at) })
      : `<b>${t("msg_unread")}</b>`;
  }
  return message.read_at ? t("msg_read_by_patient", { at: when(message.read_at) })
    : t("msg_not_read_by_patient");
}

function item(message) {
  const from = message.direction === "patient" ? t("msg_from_patient")
    : t("msg_from_team", { who: esc(message.author) });
  const text = message.text ? `<p class="msg-text">${esc(message.text)}</p>` : "";
  const callback = message.callback ? `<p class="msg-callback"><b>${t("msg_callback")}</b></p>` : "";
  return `<li class="msg msg-${message.direction}" data-message-id="${message.id}"
      data-read="${message.read_at ? "yes" : "no"}">
    <div class="muted"><b>${from}</b> · ${when(message.written_at)}</div>${callback}${text}
    <div class="msg-receipt muted">${receipt(message)}</div></li>`;
}

/** Draws the messages card into ``box`` and keeps it current; returns a function that stops. */
export function render(box, id) {
  let thread = [];
  box.innerHTML = `<h2>${t("messages")} <span class="msg-count" id="msg-count"></span></h2>
    <ol class="msg-thread" id="msg-thread" aria-live="polite"></ol>
    <p class="muted" id="msg-none" hidden>${t("msg_none")}</p>
    <p><button type="button" class="secondary" id="msg-mark-read" hidden>${t("msg_mark_read")}</button></p>
    <form id="msg-reply" class="msg-reply">
      <label for="msg-reply-text">${t("msg_reply_label")}</label>
      <textarea id="msg-reply-text" name="text" rows="3" maxlength="${MAX_CHARS}" required></textarea>
      <button type="submit">${t("msg_send")}</button>
    </form>`;
  const unread = () => thread.filter((m) => m.direction === "patient" && !m.read_at);
  const draw = () => {
    box.querySelector("#msg-thread").innerHTML = thread.map(item).join("");
    box.querySelector("#msg-none").hidden = thread.length > 0;
    const n = unread().length;
    box.querySelector("#msg-count").textContent = n ? t("unread_messages", { n }) : "";
    box.querySelector("#msg-mark-read").hidden = n === 0;
  };
  const load = async () => {
    thread = await api(`/api/v1/patients/${id}/messages`);
    draw();
  };
  box.querySelector("#msg-mark-read").addEventListener("click", async () => {
    const last = unread().at(-1);
    if (!last) return;
    await api(`/api/v1/patients/${id}/messages/read`, { method: "POST", json: { up_to_id: last.id } });
    toast(t("msg_marked_read"));
    await load();
  });
  box.querySelector("#msg-reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = box.querySelector("#msg-reply-text");
    if (!field.value.trim()) return;
    const answered = thread.filter((m) => m.direction === "patient").at(-1);
    try {
      await api(`/api/v1/patients/${id}/messages`, {
        method: "POST", json: { text: field.value, ...(answered ? { reply_to: answered.id } : {}) },
      });
      field.value = "";
      toast(t("msg_sent"));
    } catch (error) {
      toast(error.message);
    }
    await load();
  });
  load().catch((error) => { box.querySelector("#msg-none").hidden = false;
    box.querySelector("#msg-none").textContent = error.message; });
  return subscribeNotices("messages", (event) => {
    if (event.patient_id === null || String(event.patient_id) === String(id)) load().catch(() => {});
  });
}
