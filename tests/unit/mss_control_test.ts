import assert from "node:assert/strict";
import {
  BLACKHOLE_TIMEOUTS,
  MssControl,
  MTU_PROBE_BASE_MSS,
  MTU_PROBE_FLOOR_MSS,
  MTU_PROBE_INTERVAL_MS,
} from "../../transport/tcp/mss_control.ts";

Deno.test("mss control: the smallest of the handshake's, the path's and the black-hole cap", () => {
  const m = new MssControl();
  m.negotiated = 1448;
  assert.equal(m.effective(), 1448, "no path known yet");
  assert.equal(m.syncPath(1448), true);
  assert.equal(m.syncPath(1448), false, "unchanged");
  assert.equal(m.syncPath(1148), true);
  assert.equal(m.effective(), 1148);
  assert.equal(m.syncPath(8948), true);
  assert.equal(m.effective(), 1448, "the path never raises it above the handshake's");
});

Deno.test("mss control: black hole after repeated timeouts: 1024, then halves, floored; expires", () => {
  const m = new MssControl();
  m.negotiated = 1448;
  m.syncPath(1448);
  for (let t = 1; t < BLACKHOLE_TIMEOUTS; t++) assert.equal(m.onTimeout(t, 100_000, 0), false);
  assert.equal(m.onTimeout(BLACKHOLE_TIMEOUTS, 1000, 0), false, "a smaller segment would not help");
  assert.equal(m.onTimeout(BLACKHOLE_TIMEOUTS, 100_000, 0), true);
  assert.equal(m.effective(), MTU_PROBE_BASE_MSS);
  assert.equal(m.confirm(), true);
  assert.equal(m.confirm(), false, "counted once");
  const caps = [];
  for (let i = 0; i < 6; i++) {
    if (m.onTimeout(BLACKHOLE_TIMEOUTS + 1, 100_000, 10)) caps.push(m.effective());
  }
  assert.deepEqual(caps, [512, 256, 128, MTU_PROBE_FLOOR_MSS]);
  assert.equal(m.expire(10 + MTU_PROBE_INTERVAL_MS - 1), false);
  assert.equal(m.expire(10 + MTU_PROBE_INTERVAL_MS), true);
  assert.equal(m.effective(), 1448, "full size is tried again");
  // A path already below the cap: nothing to fall back to.
  m.syncPath(900);
  assert.equal(m.onTimeout(BLACKHOLE_TIMEOUTS, 100_000, 0), false);
});
