// Byte vectors worked out by hand from the Bluetooth specifications (PLXS 1.0.1 §3.1–3.2,
// WSS 1.0 / GATT Specification Supplement 3.252, IEEE 11073-20601 SFLOAT): little-endian fields.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseContinuous, parseSpotCheck, parseWeight, sfloat } from "../../tablet/ble.js";

const view = (...bytes) => new DataView(Uint8Array.from(bytes).buffer);

test("SFLOAT: exponent and mantissa, negative values, special values", () => {
  assert.equal(sfloat(0x0062), 98);          // 98 · 10^0
  assert.equal(sfloat(0xf3cf), 97.5);        // 975 · 10^-1
  assert.equal(sfloat(0x0fff), -1);          // mantissa -1
  assert.equal(sfloat(0x1005), 50);          // 5 · 10^1
  assert.equal(sfloat(0xe2d3), 7.23);        // 723 · 10^-2
  for (const special of [0x07ff, 0x0800, 0x07fe, 0x0802, 0x0801]) {
    assert.equal(sfloat(special), null, special.toString(16));  // NaN, NRes, +INF, -INF, reserved
  }
});

test("PLX Spot-Check: SpO2 and pulse with a timestamp", () => {
  // flags 0x01; SpO2 97 (0x0061); PR 72 (0x0048); 2026-11-22 08:00:10 (year 0x07EA)
  const r = parseSpotCheck(view(0x01, 0x61, 0x00, 0x48, 0x00, 0xea, 0x07, 11, 22, 8, 0, 10));
  assert.equal(r.spo2, 97);
  assert.equal(r.pulse, 72);
  assert.deepEqual(r.timestamp, new Date(2026, 10, 22, 8, 0, 10));
});

test("PLX Spot-Check: a timestamp from a clock never set is ignored", () => {
  const r = parseSpotCheck(view(0x11, 0x61, 0x00, 0x48, 0x00, 0xd0, 0x07, 1, 1, 0, 0, 0));
  assert.equal(r.timestamp, null);
  assert.equal(r.spo2, 97);
});

test("PLX Spot-Check: every optional field present", () => {
  // flags 0x0E: status 0x0020, device status 3 bytes, PAI 4.5 (0xF02D); SpO2 93.4 (0xF3A6)
  const r = parseSpotCheck(view(0x0e, 0xa6, 0xf3, 0x58, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
                                0x2d, 0xf0));
  assert.equal(r.spo2, 93.4);
  assert.equal(r.pulse, 88);
  assert.equal(r.measurementStatus, 0x0020);
  assert.equal(r.pulseAmplitudeIndex, 4.5);
  assert.equal(r.timestamp, null);
});

test("PLX Spot-Check: no reading yet (NaN) and a truncated packet", () => {
  const r = parseSpotCheck(view(0x00, 0xff, 0x07, 0xff, 0x07));
  assert.equal(r.spo2, null);
  assert.equal(r.pulse, null);
  assert.throws(() => parseSpotCheck(view(0x01, 0x61, 0x00, 0x48, 0x00, 0xea)), RangeError);
});

test("PLX Continuous: normal, fast and slow", () => {
  // flags 0x03; normal 97.5 / 72; fast 96 / 74; slow 97 / 71
  const r = parseContinuous(view(0x03, 0xcf, 0xf3, 0x48, 0x00, 0x60, 0x00, 0x4a, 0x00,
                                 0x61, 0x00, 0x47, 0x00));
  assert.equal(r.spo2, 97.5);
  assert.equal(r.pulse, 72);
  assert.deepEqual(r.fast, { spo2: 96, pulse: 74 });
  assert.deepEqual(r.slow, { spo2: 97, pulse: 71 });
});

test("PLX Continuous: status and pulse amplitude index after the normal values", () => {
  const r = parseContinuous(view(0x1c, 0x5f, 0x00, 0x50, 0x00, 0x00, 0x01, 0, 0, 0, 0x2d, 0xf0));
  assert.equal(r.spo2, 95);
  assert.equal(r.pulse, 80);
  assert.equal(r.measurementStatus, 0x0100);
  assert.equal(r.pulseAmplitudeIndex, 4.5);
});

test("Weight: SI units, resolution 0.005 kg", () => {
  // flags 0x00; 71.4 kg = 14280 · 0.005 (0x37C8)
  const r = parseWeight(view(0x00, 0xc8, 0x37));
  assert.equal(r.kg, 71.4);
  assert.equal(r.unit, "kg");
});

test("Weight: imperial units converted to kg, with a timestamp", () => {
  // flags 0x03; 157.4 lb = 15740 · 0.01 (0x3D7C) = 71.3954… kg; 2026-11-22 07:55:41
  const r = parseWeight(view(0x03, 0x7c, 0x3d, 0xea, 0x07, 11, 22, 7, 55, 41));
  assert.equal(r.unit, "lb");
  assert.equal(r.kg, 71.4);
  assert.deepEqual(r.timestamp, new Date(2026, 10, 22, 7, 55, 41));
});

test("Weight: user id, BMI and height; unsuccessful measurement", () => {
  // flags 0x0C; 70 kg (0x36B0); user 1; BMI 24.2 (242); height 1.700 m (1700)
  const r = parseWeight(view(0x0c, 0xb0, 0x36, 0x01, 0xf2, 0x00, 0xa4, 0x06));
  assert.equal(r.kg, 70);
  assert.equal(r.userId, 1);
  assert.equal(r.bmi, 24.2);
  assert.equal(r.heightM, 1.7);
  assert.equal(parseWeight(view(0x00, 0xff, 0xff)).kg, null);
});
