// Everything the tablet keeps lives in one IndexedDB database: its device credentials (given once
// at pairing), the outbox of batches not yet receipted, the per-reading log the screens show,
// and the last plan and type registry (so the app works offline).

const DB_NAME = "kol-tablet";
const VERSION = 1;

let opened = null;

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, VERSION);
      request.onupgradeneeded = () => {
        const d = request.result;
        d.createObjectStore("kv");
        d.createObjectStore("outbox", { keyPath: "msg_id" });
        const log = d.createObjectStore("log", { keyPath: "key" });
        log.createIndex("msg_id", "msg_id");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

function result(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export async function get(key) {
  const d = await db();
  return result(d.transaction("kv").objectStore("kv").get(key));
}

export async function put(key, value) {
  const d = await db();
  const tx = d.transaction("kv", "readwrite");
  tx.objectStore("kv").put(value, key);
  return done(tx);
}

export async function remove(key) {
  const d = await db();
  const tx = d.transaction("kv", "readwrite");
  tx.objectStore("kv").delete(key);
  return done(tx);
}

// A batch and its readings' log entries are written in one transaction: a reload between the
// two can neither lose the batch nor show a reading that is not in the outbox.
export async function enqueue(batch) {
  const d = await db();
  const tx = d.transaction(["outbox", "log"], "readwrite");
  tx.objectStore("outbox").put(batch);
  (batch.readings || []).forEach((reading, index) => {
    tx.objectStore("log").put({ key: `${batch.msg_id}/${index}`, msg_id: batch.msg_id, index,
                                ...reading, state: "pending", reason: null });
  });
  return done(tx);
}

export async function outbox() {
  const d = await db();
  const all = await result(d.transaction("outbox").objectStore("outbox").getAll());
  return all.sort((a, b) => a.sent_at.localeCompare(b.sent_at));
}

// The receipt arrived: the batch leaves the outbox and each reading gets its outcome.
export async function settle(receipt) {
  const d = await db();
  const tx = d.transaction(["outbox", "log"], "readwrite");
  const rejected = new Map();
  let whole = null;
  for (const r of receipt.rejected || []) {
    if (r.index === null || r.index === undefined) whole = r.reason;
    else rejected.set(r.index, r.reason);
  }
  const log = tx.objectStore("log");
  const waiting = await result(tx.objectStore("outbox").get(receipt.msg_id));
  const entries = await result(log.index("msg_id").getAll(receipt.msg_id));
  for (const entry of entries) {
    const reason = whole || rejected.get(entry.index) || null;
    log.put({ ...entry, state: reason ? "rejected" : "sent", reason });
  }
  tx.objectStore("outbox").delete(receipt.msg_id);
  await done(tx);
  return entries.length > 0 || Boolean(waiting);
}

export async function recentLog(limit = 12) {
  const d = await db();
  const all = await result(d.transaction("log").objectStore("log").getAll());
  return all.sort((a, b) => b.measured_at.localeCompare(a.measured_at) || a.key.localeCompare(b.key))
    .slice(0, limit);
}

// Unpairing (a deactivated tablet): the credentials go. Its unsent batches stay until the next
// pairing, which abandons them: they were measured for the old device's patient, and a tablet
// paired anew may be someone else's.
export async function forgetDevice() {
  await remove("device");
}

// Batches of any other device than deviceId leave the outbox, their readings marked as refused
// with the reason unknown_device, so the screen says why they were not sent.
export async function abandonOtherDevices(deviceId) {
  const d = await db();
  const tx = d.transaction(["outbox", "log"], "readwrite");
  const outboxStore = tx.objectStore("outbox");
  const log = tx.objectStore("log");
  for (const batch of await result(outboxStore.getAll())) {
    if (batch.device_id === deviceId) continue;
    for (const entry of await result(log.index("msg_id").getAll(batch.msg_id))) {
      log.put({ ...entry, state: "rejected", reason: "unknown_device" });
    }
    outboxStore.delete(batch.msg_id);
  }
  return done(tx);
}
