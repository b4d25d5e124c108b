// Small pieces shared by the screens.

import { t } from "./i18n.js";

export function badge(severity) {
  const level = severity || "none";
  return `<span class="sev sev-${level}" data-severity="${level}">${t(level)}</span>`;
}

let toastTimer = null;
export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 3000);
}
