// Bluetooth LE health devices: the Pulse Oximeter Service (0x1822) and the Weight Scale Service
// (0x181D). The parsers are pure functions of a DataView (tested in node against byte vectors
// from the Bluetooth specifications: PLXS 1.0.1, WSS 1.0, GATT Specification Supplement);
// connect() is the Web Bluetooth part and is only offered where the browser has it.

export const PULSE_OXIMETER_SERVICE = 0x1822;
export const PLX_SPOT_CHECK = 0x2a5e;
export const PLX_CONTINUOUS = 0x2a5f;
export const WEIGHT_SCALE_SERVICE = 0x181d;
export const WEIGHT_MEASUREMENT = 0x2a9d;

const LB_IN_KG = 0.45359237;

// IEEE 11073-20601 SFLOAT: 4-bit signed exponent, 12-bit signed mantissa, value m·10^e.
// NaN, NRes, ±INFINITY and the reserved value are "no reading" (null), never a number.
export function sfloat(raw) {
  const mantissaBits = raw & 0x0fff;
  if ([0x07ff, 0x0800, 0x07fe, 0x0802, 0x0801].includes(mantissaBits)) return null;
  const mantissa = mantissaBits >= 0x0800 ? mantissaBits - 0x1000 : mantissaBits;
  let exponent = raw >> 12;
  if (exponent >= 0x8) exponent -= 0x10;
  // Rounded to the precision the exponent gives, so 0x FF 2C 3 stays 80.3 and not 80.30000000001.
  const value = mantissa * 10 ** exponent;
  return exponent < 0 ? Number(value.toFixed(-exponent)) : value;
}

// Date Time (0x2A08): year (uint16, 0 = unknown), month, day, hours, minutes, seconds. The
// device's clock has no time zone: it is read as the tablet's local time.
export function dateTime(view, offset) {
  const year = view.getUint16(offset, true);
  const month = view.getUint8(offset + 2);
  const day = view.getUint8(offset + 3);
  if (year === 0 || month === 0 || day === 0) return null;
  return new Date(year, month - 1, day, view.getUint8(offset + 4), view.getUint8(offset + 5),
                  view.getUint8(offset + 6));
}

function need(view, length, what) {
  if (view.byteLength < length) throw new RangeError(`${what}: ${view.byteLength} bytes, need ${length}`);
}

// PLX Spot-Check Measurement (0x2A5E). Flags: bit 0 timestamp, bit 1 measurement status,
// bit 2 device and sensor status, bit 3 pulse amplitude index, bit 4 device clock not set.
export function parseSpotCheck(view) {
  need(view, 5, "PLX Spot-Check");
  const flags = view.getUint8(0);
  const result = { spo2: sfloat(view.getUint16(1, true)), pulse: sfloat(view.getUint16(3, true)),
                   timestamp: null, measurementStatus: null, pulseAmplitudeIndex: null };
  let offset = 5;
  if (flags & 0x01) {
    need(view, offset + 7, "PLX Spot-Check timestamp");
    // A timestamp from a clock never set (bit 4) would date the reading wrongly: ignored.
    result.timestamp = flags & 0x10 ? null : dateTime(view, offset);
    offset += 7;
  }
  if (flags & 0x02) { need(view, offset + 2, "status"); result.measurementStatus = view.getUint16(offset, true); offset += 2; }
  if (flags & 0x04) { need(view, offset + 3, "device status"); offset += 3; }
  if (flags & 0x08) { need(view, offset + 2, "PAI"); result.pulseAmplitudeIndex = sfloat(view.getUint16(offset, true)); }
  return result;
}

// PLX Continuous Measurement (0x2A5F): SpO2PR-Normal always; flags bit 0 SpO2PR-Fast, bit 1
// SpO2PR-Slow, bit 2 measurement status, bit 3 device and sensor status, bit 4 pulse amplitude
// index. No timestamp: the reading is taken when it arrives.
export function parseContinuous(view) {
  need(view, 5, "PLX Continuous");
  const flags = view.getUint8(0);
  const result = { spo2: sfloat(view.getUint16(1, true)), pulse: sfloat(view.getUint16(3, true)),
                   fast: null, slow: null, measurementStatus: null, pulseAmplitudeIndex: null };
  let offset = 5;
  for (const [bit, key] of [[0x01, "fast"], [0x02, "slow"]]) {
    if (flags & bit) {
      need(view, offset + 4, `SpO2PR-${key}`);
      result[key] = { spo2: sfloat(view.getUint16(offset, true)),
                      pulse: sfloat(view.getUint16(offset + 2, true)) };
      offset += 4;
    }
  }
  if (flags & 0x04) { need(view, offset + 2, "status"); result.measurementStatus = view.getUint16(offset, true); offset += 2; }
  if (flags & 0x08) { need(view, offset + 3, "device status"); offset += 3; }
  if (flags & 0x10) { need(view, offset + 2, "PAI"); result.pulseAmplitudeIndex = sfloat(view.getUint16(offset, true)); }
  return result;
}

// Weight Measurement (0x2A9D). Flags: bit 0 units (0: kg, resolution 0.005 kg; 1: lb,
// resolution 0.01 lb), bit 1 timestamp, bit 2 user id, bit 3 BMI and height. 0xFFFF:
// "measurement unsuccessful". The weight is always returned in kg.
export function parseWeight(view) {
  need(view, 3, "Weight Measurement");
  const flags = view.getUint8(0);
  const raw = view.getUint16(1, true);
  const imperial = (flags & 0x01) !== 0;
  const result = { kg: null, unit: imperial ? "lb" : "kg", timestamp: null, userId: null,
                   bmi: null, heightM: null };
  if (raw !== 0xffff) {
    result.kg = imperial ? Number((raw * 0.01 * LB_IN_KG).toFixed(2)) : Number((raw * 0.005).toFixed(3));
  }
  let offset = 3;
  if (flags & 0x02) { need(view, offset + 7, "timestamp"); result.timestamp = dateTime(view, offset); offset += 7; }
  if (flags & 0x04) {
    need(view, offset + 1, "user id");
    const user = view.getUint8(offset);
    result.userId = user === 0xff ? null : user;
    offset += 1;
  }
  if (flags & 0x08) {
    need(view, offset + 4, "BMI and height");
    result.bmi = Number((view.getUint16(offset, true) * 0.1).toFixed(1));
    const height = view.getUint16(offset + 2, true);
    result.heightM = imperial ? Number((height * 0.1 * 0.0254).toFixed(3)) : height * 0.001;
  }
  return result;
}

export function bluetoothAvailable() {
  return typeof navigator !== "undefined" && "bluetooth" in navigator;
}

// Asks the user to choose a device and waits for its first usable measurement.
// kind: "oximeter" or "scale". Resolves to {spo2, pulse, timestamp} or {kg, timestamp}.
export async function measure(kind, { timeoutMs = 120000 } = {}) {
  const service = kind === "oximeter" ? PULSE_OXIMETER_SERVICE : WEIGHT_SCALE_SERVICE;
  const device = await navigator.bluetooth.requestDevice({ filters: [{ services: [service] }] });
  const server = await device.gatt.connect();
  try {
    const gattService = await server.getPrimaryService(service);
    const wanted = kind === "oximeter"
      ? [[PLX_SPOT_CHECK, parseSpotCheck], [PLX_CONTINUOUS, parseContinuous]]
      : [[WEIGHT_MEASUREMENT, parseWeight]];
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      for (const [uuid, parse] of wanted) {
        gattService.getCharacteristic(uuid).then(async (characteristic) => {
          characteristic.addEventListener("characteristicvaluechanged", (event) => {
            const value = parse(event.target.value);
            const usable = kind === "oximeter" ? value.spo2 !== null && value.pulse !== null : value.kg !== null;
            if (usable) { clearTimeout(timer); resolve(value); }
          });
          await characteristic.startNotifications();
        }).catch(() => { /* the device may offer only one of the two characteristics */ });
      }
    });
  } finally {
    server.disconnect();
  }
}
