import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/counters_probe.ts", import.meta.url);

// V8's `%HasFastProperties` needs a process started with --allow-natives-syntax: the checks run
// in a child (tests/harness/counters_probe.ts) and come back as one JSON line.
Deno.test("counters: every group of a stack's stats stays in V8's fast property mode", async () => {
  const r = (await runNativesProbe(PROBE)) as Record<string, boolean>;
  // Every group of StackStats was probed: fresh, after counting, and its snapshot copy.
  for (const g of ["link", "arp", "ip", "icmp", "ip6", "icmp6", "ndp", "udp", "tcp", "pmtu"]) {
    for (const when of ["stack", "counted", "snapshot"]) {
      assert.ok(`${when}.${g}` in r, `${when}.${g}`);
    }
  }
  const slow = Object.entries(r).filter(([, fast]) => !fast).map(([name]) => name);
  assert.deepEqual(slow, [], `groups in dictionary mode: ${slow.join(", ")}`);
});
