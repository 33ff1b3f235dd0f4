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
  log.add(s, e, t, 0, RX_RACK);
  log.windowMs = 1.5;
  log.add(s, e, t, 1, RX_RACK);
  log.delivered(s, 0, { now: 13 }); // 3 ms after its retransmission
  log.delivered(s, 0, { now: 20 }); // a later delivery (the other copy) changes nothing
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
