import assert from "node:assert/strict";
import { Ipv4Reassembler } from "../../net/ipv4_reassembly.ts";
import { VirtualClock } from "../../core/clock.ts";
import { StackStats } from "../../stack/stats.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";

/** One fragment of a datagram with `id` whose payload is `payload[start..end)`. */
function fragment(
  id: number,
  payload: Uint8Array,
  start: number,
  end: number,
  more: boolean,
): Uint8Array {
  const f = new Uint8Array(20 + end - start);
  const total = f.length;
  f.set([0x45, 0, total >> 8, total & 0xff, id >> 8, id & 0xff], 0);
  const word = (more ? 0x2000 : 0) | (start >> 3);
  f[6] = word >> 8;
  f[7] = word & 0xff;
  f[8] = 64;
  f[9] = 17;
  f.set([198, 18, 0, 1, 198, 18, 0, 2], 12);
  f.set(payload.subarray(start, end), 20);
  return f;
}

function setup(timeoutMs = 30_000) {
  const clock = new VirtualClock();
  const timers = new TimerWheel();
  const stats = new StackStats();
  const r = new Ipv4Reassembler(timers, clock, stats.ip, { maxDatagrams: 2, timeoutMs });
  return { clock, timers, stats, r };
}

const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);

Deno.test("reassembly: fragments in any order, duplicates ignored, header fixed up", () => {
  const { r } = setup();
  const frags = [
    fragment(1, payload, 1480, 2960, true),
    fragment(1, payload, 2960, 3000, false),
    fragment(1, payload, 1480, 2960, true), // exact duplicate
    fragment(1, payload, 0, 1480, true),
  ];
  let whole = null;
  for (const f of frags) whole = r.add(f, 0, f.length, 0) ?? whole;
  assert.ok(whole);
  assert.equal(whole.len, 3020);
  const d = whole.buf.subarray(whole.off, whole.off + whole.len);
  assert.equal((d[2] << 8) | d[3], 3020);
  assert.equal(d[6] | d[7], 0);
  assert.deepEqual(d.subarray(20), payload);
  assert.equal(r.pending, 0);
});

Deno.test("reassembly: a partial overlap drops the datagram and is counted", () => {
  const { r, stats } = setup();
  const a = fragment(2, payload, 0, 1480, true);
  const b = fragment(2, payload, 1472, 3000, false);
  assert.equal(r.add(a, 0, a.length, 0), null);
  assert.equal(r.add(b, 0, b.length, 0), null);
  assert.equal(stats.ip.ReasmOverlaps, 1);
  assert.equal(r.pending, 0);
});

Deno.test("reassembly: incomplete datagrams time out; slots are bounded", () => {
  const { r, stats, clock, timers } = setup(1000);
  for (const id of [3, 4, 5]) {
    const f = fragment(id, payload, 0, 1480, true);
    r.add(f, 0, f.length, 0);
  }
  assert.equal(r.pending, 2);
  assert.equal(stats.ip.ReasmFails, 1); // the third had no slot
  clock.advance(1001);
  timers.advance(clock.nowMs());
  assert.equal(r.pending, 0);
  assert.equal(stats.ip.ReasmTimeout, 2);
});

Deno.test("reassembly: a non-final fragment that is not a multiple of 8 is refused", () => {
  const { r, stats } = setup();
  const f = fragment(6, payload, 0, 1001, true);
  assert.equal(r.add(f, 0, f.length, 0), null);
  assert.equal(stats.ip.ReasmFails, 1);
});
