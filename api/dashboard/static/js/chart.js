// One measurement type over time as SVG: threshold bands, readings (late ones marked), and a
// marker at each reading that raised an alert, coloured by the alert's severity.

import { day, esc, num, t, when } from "./i18n.js";

const LIMITS = ["red_low", "yellow_low", "yellow_high", "red_high"];

function scale(domainLow, domainHigh, rangeLow, rangeHigh) {
  const span = domainHigh - domainLow || 1;
  return (value) => rangeLow + ((value - domainLow) / span) * (rangeHigh - rangeLow);
}

export function chart(type, readings, limits, alertReadings, from, to) {
  const width = 900, height = 230, left = 48, right = 12, top = 10, bottom = 28;
  const values = readings.map((r) => r.value);
  const marks = LIMITS.map((k) => limits[k]).filter((v) => v !== null && v !== undefined);
  if (!values.length) return `<p class="muted">${t("no_data")}</p>`;
  let low = Math.min(...values, ...marks), high = Math.max(...values, ...marks);
  const pad = (high - low) * 0.1 || 1;
  low -= pad; high += pad;
  const x = scale(from, to, left, width - right);
  const y = scale(low, high, height - bottom, top);
  const band = (a, b, cls) => {
    const lo = Math.max(a ?? low, low), hi = Math.min(b ?? high, high);
    return hi > lo ? `<rect class="${cls}" x="${left}" width="${width - left - right}"
      y="${y(hi)}" height="${y(lo) - y(hi)}"/>` : "";
  };
  const bands = [
    limits.red_low != null ? band(null, limits.red_low, "band-red") : "",
    limits.yellow_low != null ? band(limits.red_low, limits.yellow_low, "band-yellow") : "",
    limits.yellow_high != null ? band(limits.yellow_high, limits.red_high, "band-yellow") : "",
    limits.red_high != null ? band(limits.red_high, null, "band-red") : "",
  ];
  const digits = type === "weight" ? 1 : 0;
  const yTicks = [0, 1, 2, 3].map((i) => low + ((high - low) * (i + 0.5)) / 4);
  const xTicks = [0, 1, 2, 3, 4, 5].map((i) => from + ((to - from) * i) / 5);
  const points = readings.map((r) => `<circle class="point${r.late ? " late" : ""}" r="3.5"
    cx="${x(Date.parse(r.measured_at)).toFixed(1)}" cy="${y(r.value).toFixed(1)}"><title>${num(r.value)}
    · ${when(r.measured_at)}${r.late ? ` · ${t("late")}` : ""}</title></circle>`).join("");
  const markers = alertReadings.filter((a) => a.type === type).map((a) => `<circle
      class="marker marker-${a.severity}" data-alert="${a.alert_id}" r="8" fill="none"
      cx="${x(Date.parse(a.measured_at)).toFixed(1)}" cy="${y(a.value).toFixed(1)}"><title>${t(a.severity)}
      · ${num(a.value)} · ${when(a.measured_at)}</title></circle>`).join("");
  return `<svg viewBox="0 0 ${width} ${height}" role="img" data-type="${type}"
      aria-label="${esc(t(type))}, ${t("days_shown")}">
    ${bands.join("")}
    <line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}"/>
    <line class="axis" x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}"/>
    ${yTicks.map((v) => `<text class="tick" x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v, digits)}</text>`).join("")}
    ${xTicks.map((v) => `<text class="tick" x="${x(v)}" y="${height - 8}" text-anchor="middle">${day(v)}</text>`).join("")}
    ${points}${markers}
  </svg>`;
}
