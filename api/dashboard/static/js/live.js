// The live alert stream (server-sent events). EventSource cannot send headers, so the token
// goes in the URL; each renewed token reopens the stream from the last event seen, so nothing
// is missed and the stream never outlives its token. The header shows whether it is live.

import { renew, token } from "./session.js";
import { t } from "./i18n.js";

const KINDS = ["opened", "updated", "escalated", "acknowledged", "resolved"];
const RETRY_MS = 2000;

let source = null;
let lastId = null;
let retryTimer = null;
const listeners = new Set();
const noticeListeners = { readings: new Set(), messages: new Set() };

/** Called with each alert event's data ({event, alert, …}); returns a function that stops it. */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Called with each patient notice of ``kind``; returns a function that stops it.
 * "readings": {patient_id, readings}, readings measured more than a day before they arrived,
 * which no alert event brings. "messages": {patient_id}, her conversation changed (a message of
 * hers, a reply, a read receipt); also {patient_id: null} each time the stream (re)opens, since
 * notices are not replayed and one may have been missed meanwhile. */
export function subscribeNotices(kind, listener) {
  noticeListeners[kind].add(listener);
  return () => noticeListeners[kind].delete(listener);
}

function notify(kind, data) {
  for (const listener of noticeListeners[kind]) listener(data);
}

function show(state) {
  const badge = document.getElementById("live");
  badge.dataset.state = state;
  badge.hidden = state === "off";
  badge.textContent = badge.hidden ? "" : t(state);
}

export function stop() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  show("off");
}

export function start() {
  clearTimeout(retryTimer);
  if (source) source.close();
  if (!token()) { source = null; show("off"); return; }
  const resume = lastId === null ? "" : `&last_event_id=${encodeURIComponent(lastId)}`;
  const stream = new EventSource(
    `/api/v1/alerts/stream?access_token=${encodeURIComponent(token())}${resume}`);
  source = stream;
  // A renewal reopens a live stream: the header keeps saying live unless it fails.
  if (document.getElementById("live").dataset.state !== "live") show("reconnecting");
  stream.onopen = () => { show("live"); notify("messages", { patient_id: null }); };
  for (const kind of KINDS) {
    stream.addEventListener(kind, (message) => {
      lastId = message.lastEventId;
      const data = JSON.parse(message.data);
      for (const listener of listeners) listener(data);
    });
  }
  // No id: the position in the stream stays the last alert event's.
  for (const kind of Object.keys(noticeListeners)) {
    stream.addEventListener(kind, (message) => notify(kind, JSON.parse(message.data)));
  }
  // The server ends the stream when the token expires, the session ends or the user's access
  // changes: renew (a session that ended logs out) and open it again from the last event.
  stream.addEventListener("end", () => { stream.close(); reopen(); });
  stream.onerror = () => {
    if (stream !== source) return;
    show("reconnecting");
    // EventSource retries by itself after a network error, but not after an HTTP error (a
    // token that expired meanwhile): then a fresh token is needed.
    if (stream.readyState === EventSource.CLOSED) reopen();
  };
}

function reopen() {
  show("reconnecting");
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => renew().then(start, () => {}), RETRY_MS / 4);
}
