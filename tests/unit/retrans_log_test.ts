import assert from "node:assert/strict";
import {
  DSACK_COUNTER_BY_REASON,
  RETRANS_LOG_MAX,
  RETRANS_LOG_SIZE,
  RetransLog,
  RX_MTU,
  RX_NONE,
  RX_RACK,
  RX_TLP,
} from "../../transport/tcp/retrans_log.ts";
import { TCP_COUNTERS } from "../../stack/stats.ts";

const range = (l: number, r: number) => new Uint32Array([l, r]);
const at = (ms: number) => new Float64Array([ms]);

Deno.test("retrans log: a D-SACK is laid to the newest retransmission holding its first byte", () => {
  const log = new RetransLog();
  assert.equal(log.reasonOf(range(0, 10), 0), RX_NONE, "empty");
  assert.equal(log.capacity, 0, "nothing allocated before the first retransmission");
  log.add(new Uint32Array([1000]), new Uint32Array([3000]), at(1), 0, RX_RACK);
  log.add(new Uint32Array([2000]), new Uint32Array([3000]), at(2), 0, RX_TLP); // resent again
  assert.equal(log.capacity, RETRANS_LOG_SIZE);
  assert.equal(log.reasonOf(range(1000, 2000), 0), RX_RACK);
  assert.equal(log.reasonOf(range(2500, 3000), 0), RX_TLP, "the newest wins");
  assert.equal(log.reasonOf(range(3000, 4000), 0), RX_NONE, "never resent");
  // Block 1 of a list, edges across 2**32.
  const wrap = 0xffff_ff00;
  log.add(new Uint32Array([wrap]), new Uint32Array([0x100]), at(3), 0, RX_MTU);
  assert.equal(log.reasonOf(new Uint32Array([0, 0, 0x10, 0x20]), 1), RX_MTU);
});

/** `count` retransmissions of 100 bytes each, the k-th at `k * gapMs` ms. */
function fill(log: RetransLog, count: number, gapMs: number, from = 0): void {
  const s = new Uint32Array(1);
  const e = new Uint32Array(1);
  const t = new Float64Array(1);
  for (let k = from; k < from + count; k++) {
    s[0] = k * 100;
    e[0] = k * 100 + 100;
    t[0] = k * gapMs;
    log.add(s, e, t, 0, k < 3 ? RX_MTU : RX_RACK);
  }
}

Deno.test("retrans log: entries past the horizon are overwritten, the ring stays at 64", () => {
  const log = new RetransLog();
  log.horizonMs = 10;
  fill(log, RETRANS_LOG_SIZE + 3, 1); // 1 ms apart: the oldest is 64 ms old when overwritten
  assert.equal(log.size, RETRANS_LOG_SIZE);
  assert.equal(log.capacity, RETRANS_LOG_SIZE);
  assert.equal(log.overruns, 0, "old entries are not overruns");
  assert.equal(log.reasonOf(range(0, 100), 0), RX_NONE, "overwritten");
  assert.equal(log.reasonOf(range(300, 400), 0), RX_RACK);
  log.clear();
  assert.equal(log.reasonOf(range(300, 400), 0), RX_NONE);
});

Deno.test("retrans log: a burst within the horizon grows the ring up to its bound, then counts overruns", () => {
  const log = new RetransLog();
  log.horizonMs = 10;
  // 1,000 retransmissions in the same millisecond (a cascade): every one is kept.
  fill(log, 1000, 0);
  assert.equal(log.size, 1000);
  assert.equal(log.overruns, 0);
  assert.equal(log.reasonOf(range(0, 100), 0), RX_MTU, "the first of the burst is still there");
  assert.equal(log.reasonOf(range(99_900, 100_000), 0), RX_RACK, "and the last");
  // Up to the bound; past it the oldest goes, counted.
  fill(log, RETRANS_LOG_MAX - 1000 + 5, 0, 1000);
  assert.equal(log.capacity, RETRANS_LOG_MAX);
  assert.equal(log.size, RETRANS_LOG_MAX);
  assert.equal(log.overruns, 5);
  assert.equal(log.reasonOf(range(400, 500), 0), RX_NONE, "the five oldest overwritten");
  assert.equal(log.reasonOf(range(500, 600), 0), RX_RACK);
});

Deno.test("retrans log: the first delivery after a retransmission and the window it was sent under", () => {
  const log = new RetransLog();
  const s = new Uint32Array([1000, 2000]);
  const e = new Uint32Array([2000, 3000]);
  const t = new Float64Array([10, 12]);
  log.windowMs = 0.5;
  const first = log.add(s, e, t, 0, RX_RACK);
  log.windowMs = 1.5;
  log.add(s, e, t, 1, RX_RACK);
  log.delivered(first, s, 0, { now: 13 }); // 3 ms after its retransmission
  log.delivered(first, s, 0, { now: 20 }); // a later delivery (the other copy) changes nothing
  assert.equal(log.reasonOf(range(1000, 2000), 0), RX_RACK);
  assert.equal(log.foundLateMs, 3);
  assert.equal(log.foundWindowMs, 0.5);
  assert.equal(log.reasonOf(range(2000, 3000), 0), RX_RACK);
  assert.equal(log.foundLateMs, -1, "not delivered yet");
  assert.equal(log.foundWindowMs, 1.5);
  // Growth keeps both columns with their entries.
  log.horizonMs = 1e9;
  fill(log, 200, 0, 100);
  assert.equal(log.reasonOf(range(1000, 2000), 0), RX_RACK);
  assert.equal(log.foundLateMs, 3);
  assert.equal(log.foundWindowMs, 0.5);
});

Deno.test("retrans log: every reason has a TCP counter", () => {
  for (const name of DSACK_COUNTER_BY_REASON) assert.ok(TCP_COUNTERS.includes(name), name);
  assert.ok(TCP_COUNTERS.includes("TCPRetransLogOverrun"));
  assert.ok(TCP_COUNTERS.includes("TCPRackReoWndWidened"));
});

Deno.test("retrans log: a delivery finds its entry by serial — across growth, not once overwritten or cleared", () => {
  const log = new RetransLog();
  log.horizonMs = 1e9; // every entry may still be reported: the ring grows
  const s = new Uint32Array(1);
  const e = new Uint32Array(1);
  const t = new Float64Array([1]);
  const serials: number[] = [];
  for (let i = 0; i < 300; i++) {
    s[0] = 1000 * i;
    e[0] = 1000 * i + 1000;
    serials.push(log.add(s, e, t, 0, RX_RACK));
  }
  assert.equal(log.capacity, 512, "grew 64 → 128 → 256 → 512");
  // Each entry found by its serial after the moves of three resizes.
  for (const i of [0, 63, 64, 200, 299]) {
    s[0] = 1000 * i + 10;
    log.delivered(serials[i], s, 0, { now: 1 + i });
    assert.equal(log.reasonOf(range(1000 * i + 10, 1000 * i + 20), 0), RX_RACK);
    assert.equal(log.foundLateMs, i, `entry ${i}`);
  }
  // A serial whose entry holds other data (a wrong pairing) notes nothing.
  s[0] = 5;
  log.delivered(serials[7], s, 0, { now: 9 });
  assert.equal(log.reasonOf(range(7000, 7100), 0), RX_RACK);
  assert.equal(log.foundLateMs, -1);
  // Overwritten entries are gone: a bounded ring of 64 that wraps.
  const small = new RetransLog();
  small.horizonMs = 0;
  const old: number[] = [];
  for (let i = 0; i < 100; i++) {
    s[0] = 10 * i;
    e[0] = 10 * i + 10;
    t[0] = 1 + i;
    old.push(small.add(s, e, t, 0, RX_TLP));
  }
  s[0] = 0;
  small.delivered(old[0], s, 0, { now: 500 }); // overwritten by entry 64
  s[0] = 640;
  assert.equal(small.reasonOf(range(640, 650), 0), RX_TLP);
  assert.equal(small.foundLateMs, -1, "entry 0's serial did not reach entry 64");
  small.delivered(old[64], s, 0, { now: 70 });
  small.reasonOf(range(640, 650), 0);
  assert.equal(small.foundLateMs, 5);
  // After a clear, no serial from before reaches the new entries.
  small.clear();
  s[0] = 0;
  e[0] = 10;
  t[0] = 1;
  small.add(s, e, t, 0, RX_RACK);
  small.delivered(old[99], s, 0, { now: 2 });
  small.reasonOf(range(0, 10), 0);
  assert.equal(small.foundLateMs, -1);
});
