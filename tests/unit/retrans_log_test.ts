import assert from "node:assert/strict";
import {
  DSACK_COUNTER_BY_REASON,
  RETRANS_LOG_SIZE,
  RetransLog,
  RX_MTU,
  RX_NONE,
  RX_RACK,
  RX_TLP,
} from "../../transport/tcp/retrans_log.ts";
import { TCP_COUNTERS } from "../../stack/stats.ts";

const range = (l: number, r: number) => new Uint32Array([l, r]);

Deno.test("retrans log: a D-SACK is laid to the newest retransmission holding its first byte", () => {
  const log = new RetransLog();
  assert.equal(log.reasonOf(range(0, 10), 0), RX_NONE, "empty");
  log.add(new Uint32Array([1000]), new Uint32Array([3000]), 0, RX_RACK);
  log.add(new Uint32Array([2000]), new Uint32Array([3000]), 0, RX_TLP); // resent again
  assert.equal(log.reasonOf(range(1000, 2000), 0), RX_RACK);
  assert.equal(log.reasonOf(range(2500, 3000), 0), RX_TLP, "the newest wins");
  assert.equal(log.reasonOf(range(3000, 4000), 0), RX_NONE, "never resent");
  // Block 1 of a list, edges across 2**32.
  const wrap = 0xffff_ff00;
  log.add(new Uint32Array([wrap]), new Uint32Array([0x100]), 0, RX_MTU);
  assert.equal(log.reasonOf(new Uint32Array([0, 0, 0x10, 0x20]), 1), RX_MTU);
});

Deno.test("retrans log: bounded — the oldest entries are overwritten", () => {
  const log = new RetransLog();
  const s = new Uint32Array(1);
  const e = new Uint32Array(1);
  for (let k = 0; k < RETRANS_LOG_SIZE + 3; k++) {
    s[0] = k * 100;
    e[0] = k * 100 + 100;
    log.add(s, e, 0, k < 3 ? RX_MTU : RX_RACK);
  }
  assert.equal(log.size, RETRANS_LOG_SIZE);
  assert.equal(log.reasonOf(range(0, 100), 0), RX_NONE, "overwritten");
  assert.equal(log.reasonOf(range(300, 400), 0), RX_RACK);
  log.clear();
  assert.equal(log.reasonOf(range(300, 400), 0), RX_NONE);
});

Deno.test("retrans log: every reason has a TCP counter", () => {
  for (const name of DSACK_COUNTER_BY_REASON) assert.ok(TCP_COUNTERS.includes(name), name);
});
