// Device protocol v1 over MQTT over secure websockets (mqtt.js from npm). One outbox in
// IndexedDB: every batch stays there until its receipt arrives and is published again, with the
// same msg_id, on every (re)connect; the platform stores a re-sent batch once. A batch holds
// readings, or questionnaire responses (the symptom diary, docs/questionnaires.md) for the
// responses topic, with the same receipts.
import mqtt from "./vendor/mqtt.esm.js";
import * as store from "./store.js";

export const APP_VERSION = "1.0.0";
const RESEND_MS = 30000;

export class Transport extends EventTarget {
  constructor(device) {
    super();
    this.device = device;
    const id = device.device_id;
    this.topics = { readings: `kol/v1/d/${id}/readings`, status: `kol/v1/d/${id}/status`,
                    receipts: `kol/v1/d/${id}/receipts`,
                    // Additions to v1: her messages and read receipts (docs/messages.md), her
                    // questionnaire answers (docs/questionnaires.md).
                    messages: `kol/v1/d/${id}/messages`, responses: `kol/v1/d/${id}/responses` };
    this.client = null;
    this.connected = false;
    this.resendTimer = null;
  }

  start() {
    const url = `wss://${location.hostname}:${this.device.mqtt_ws_port}`;
    this.client = mqtt.connect(url, {
      clientId: this.device.device_id,  // the broker binds the device's login to this client id
      username: this.device.mqtt_username,
      password: this.device.mqtt_password,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 3000,
      connectTimeout: 10000,
      will: { topic: this.topics.status, qos: 1, retain: true,
              payload: JSON.stringify({ v: 1, state: "offline", app: APP_VERSION }) },
    });
    this.client.on("connect", () => this.onConnect());
    this.client.on("close", () => this.setConnected(false));
    this.client.on("offline", () => this.setConnected(false));
    this.client.on("error", (error) => {
      // Not authorized: the tablet was deactivated (a new one paired, or by the nurse).
      if (error && (error.code === 5 || error.code === 4 || error.code === 134 || error.code === 135)) {
        this.dispatchEvent(new Event("unauthorized"));
      }
    });
    this.client.on("message", (_topic, payload) => this.onReceipt(payload));
    // Back on the network: try at once instead of at the next reconnect period. Off the
    // network: say so at once instead of after the keepalive times out (the socket may linger).
    window.addEventListener("online", () => { if (!this.connected) this.client.reconnect(); });
    window.addEventListener("offline", () => {
      this.setConnected(false);
      if (this.client.stream) this.client.stream.destroy();
    });
    this.resendTimer = setInterval(() => { if (this.connected) this.flush(); }, RESEND_MS);
  }

  stop() {
    clearInterval(this.resendTimer);
    if (this.client) this.client.end(true);
  }

  setConnected(value) {
    if (this.connected !== value) {
      this.connected = value;
      this.dispatchEvent(new Event("connection"));
    }
  }

  async onConnect() {
    // Resubscribe on every connect (clean session): receipts for re-sent batches come here.
    this.client.subscribe(this.topics.receipts, { qos: 1 });
    this.setConnected(true);
    await this.publishStatus();
    await this.flush();
  }

  async publishStatus() {
    const status = { v: 1, state: "online", app: APP_VERSION };
    if (navigator.getBattery) {
      try {
        status.battery = Math.round((await navigator.getBattery()).level * 100);
      } catch { /* the browser does not tell; battery is left out */ }
    }
    this.client.publish(this.topics.status, JSON.stringify(status), { qos: 1, retain: true });
  }

  // Publishes every batch still in the outbox, oldest first, each with its own msg_id.
  async flush() {
    if (!this.connected) return;
    for (const batch of await store.outbox()) {
      if (batch.device_id !== this.device.device_id) continue;
      const { msg_id, sent_at, readings, responses, message, read } = batch;
      if (readings) {
        this.client.publish(this.topics.readings, JSON.stringify({ v: 1, msg_id, sent_at, readings }),
                            { qos: 1 });
      } else if (responses) {
        this.client.publish(this.topics.responses, JSON.stringify({ v: 1, msg_id, sent_at, responses }),
                            { qos: 1 });
      } else {
        this.client.publish(this.topics.messages,
                            JSON.stringify({ v: 1, msg_id, sent_at, ...(message ? { message } : { read }) }),
                            { qos: 1 });
      }
    }
  }

  // Every kind of batch goes through the one outbox: stored first, sent when connected, kept and
  // resent until its receipt.
  async #queue(content, now = rfc3339(new Date())) {
    const batch = { msg_id: crypto.randomUUID(), sent_at: now, device_id: this.device.device_id,
                    ...content };
    await store.enqueue(batch);
    await this.flush();
    return batch;
  }

  async send(readings) {
    return this.#queue({ readings });
  }

  // A message to the team ({text, callback}) or a read receipt for the team's replies
  // ({reply_ids}): through the same outbox as readings, so it waits for the network and a receipt.
  async sendMessage({ text, callback, reply_ids }) {
    const now = rfc3339(new Date());
    return this.#queue(reply_ids ? { read: { reply_ids, read_at: now } }
                                 : { message: { text, callback, written_at: now } }, now);
  }

  async sendResponses(responses) {
    return this.#queue({ responses });
  }

  async onReceipt(payload) {
    let receipt;
    try {
      receipt = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return;
    }
    if (receipt.v !== 1 || typeof receipt.msg_id !== "string") return;
    if (await store.settle(receipt)) this.dispatchEvent(new Event("receipt"));
  }
}

// RFC 3339 with the tablet's own offset, as the protocol asks (never a naive timestamp).
export function rfc3339(date) {
  const pad = (n, w = 2) => String(Math.abs(n)).padStart(w, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    // Milliseconds: two readings of one type taken within a second are two readings.
    `.${pad(date.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}
