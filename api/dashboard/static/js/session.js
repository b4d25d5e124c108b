// The dashboard session: a password login opens it, the server keeps a rotating refresh token
// in an HttpOnly cookie, and the short access token (kept in memory only) is renewed before it
// expires, so a nurse stays logged in for her shift. The session ends at logout, after the
// team's idle timeout without work on the page, or when the server ends it.

const RENEW_AT = 0.7; // of the access token's lifetime
const WORK_EVENTS = ["keydown", "pointerdown", "input", "wheel"];

let access = null;
let user = null;
let renewTimer = null;
let idleTimer = null;
let idleSeconds = 3600;
let lastWork = Date.now();
let workedSinceRenewal = true;
let pending = null;
const renewedListeners = new Set();
const endedListeners = new Set();

export const token = () => access;
export const me = () => user;
export const onRenewed = (listener) => renewedListeners.add(listener);
export const onEnded = (listener) => endedListeners.add(listener);

for (const kind of WORK_EVENTS) {
  document.addEventListener(kind, () => { lastWork = Date.now(); workedSinceRenewal = true; },
    { capture: true, passive: true });
}

function adopt(body) {
  access = body.access_token;
  idleSeconds = body.idle_timeout;
  clearTimeout(renewTimer);
  renewTimer = setTimeout(() => renew().catch(() => {}), body.expires_in * 1000 * RENEW_AT);
  clearInterval(idleTimer);
  idleTimer = setInterval(() => {
    if (Date.now() - lastWork > idleSeconds * 1000) end("idle");
  }, 5000);
}

async function loadMe() {
  user = await api("/api/v1/me");
}

/** Log in with a username and password; the answer's status on failure (401, 429). */
export async function login(form) {
  const response = await fetch("/api/v1/auth/session", {
    method: "POST", body: new URLSearchParams(new FormData(form)),
  });
  if (!response.ok) return response.status;
  adopt(await response.json());
  lastWork = Date.now();
  await loadMe();
  return 200;
}

/** A new access token from the session cookie; one request at a time. */
export function renew() {
  pending ??= (async () => {
    try {
      const response = await fetch("/api/v1/auth/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ active: workedSinceRenewal }),
      });
      if (!response.ok) { end("session"); throw new Error("session ended"); }
      workedSinceRenewal = false;
      adopt(await response.json());
      for (const listener of renewedListeners) listener(access);
      return access;
    } finally { pending = null; }
  })();
  return pending;
}

/** On page load: carry on with the session of the cookie, if there is one. */
export async function resume() {
  try {
    await renew();
    await loadMe();
    return true;
  } catch { return false; }
}

function end(why) {
  const had = access !== null;
  access = null;
  user = null;
  clearTimeout(renewTimer);
  clearInterval(idleTimer);
  if (had) for (const listener of endedListeners) listener(why);
}

export async function logout() {
  await fetch("/api/v1/auth/logout", { method: "POST" }).catch(() => {});
  end("logout");
}

/** A JSON API call with the access token; a 401 renews the token once and tries again. */
export async function api(path, options = {}, retry = true) {
  const headers = { Authorization: `Bearer ${access}` };
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await fetch(path, { method: options.method || "GET", headers, body });
  if (response.status === 401 && retry && access !== null) {
    await renew();
    return api(path, options, false);
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(problem.detail || problem.title || String(response.status));
    error.type = problem.type;
    error.status = response.status;
    throw error;
  }
  return response.status === 204 ? null : response.json();
}
