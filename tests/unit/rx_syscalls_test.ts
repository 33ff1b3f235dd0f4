// bench/rx_syscalls.ts: a TCP receiver's syscalls per wire packet (issue 13's ≤ 0.05), read
// from `serve`'s text counters or a `uperf server` summary's driver counters.

import assert from "node:assert/strict";
import { countersFromServeStats, syscallsPerWirePacket } from "../../bench/rx_syscalls.ts";

Deno.test("rx_syscalls: serve's counters, parks count twice, yields count, missing counters are zero", () => {
  const out = [
    "stats",
    "  tcp: PassiveOpens=1 InSegs=10",
    "  loop: ticks=50 spins=9 spinYields=7 parks=2 blocks=3 wakes=1 muxSignals=4 tickUsMean=3",
    "  driver: rxFrames=10 rxBytes=89480 txFrames=5 txBytes=330 txKicks=5 syscalls=6",
  ].join("\n");
  assert.deepEqual(countersFromServeStats(out), {
    // The busy poll's yields are syscalls too (left out before "rx13a").
    syscalls: 6 + 2 * 2 + 3 + 1 + 4 + 7,
    rxBytes: 89480,
    txFrames: 5,
  });
  assert.deepEqual(countersFromServeStats("  driver: rxBytes=10\n"), {
    syscalls: 0,
    rxBytes: 10,
    txFrames: 0,
  });
  assert.equal(countersFromServeStats("  tcp: InSegs=1\n"), null);
});

Deno.test("rx_syscalls: per wire packet, a super-frame counts as its segments", () => {
  // 90 segments in (any number of ring frames), 10 ACKs out, 9 kicks: 9 / 100.
  assert.equal(
    syscallsPerWirePacket({ syscalls: 9, rxBytes: 8948 * 90, txFrames: 10 }, 8948),
    0.09,
  );
  assert.ok(Number.isNaN(syscallsPerWirePacket({ syscalls: 3, rxBytes: 0, txFrames: 0 }, 1448)));
});
