// ICMP's echo requests, replies and errors hand their addresses to the IPv4 layer as records
// (`Ipv4Layer.sendAddr`), not as u32 numbers (`send`): a number ≥ 64.0.0.0 (2**30) — any
// address in 198.18.0.0/15 — passed to a call V8 does not inline is a new heap number. The probe
// (a child with --allow-natives-syntax) keeps `send` out of line and compares a pair of stacks
// at 198.18.0.x with one at 10.0.0.x: main's code 48 B more per round trip (three numbers boxed:
// bench/README.md, "heap13r"), the records 0.

import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/icmp_echo_probe.ts", import.meta.url);

/** Most heap growth per round trip at high addresses over low ones (a heap number is 16 B). */
const MAX_BYTES_PER_ROUND_TRIP = 8;

Deno.test(`sim icmp echo alloc: a ping round trip at 198.18.0.x grows the heap < ${MAX_BYTES_PER_ROUND_TRIP} B more than at 10.0.0.x`, async () => {
  const r = (await runNativesProbe(PROBE)) as {
    highLessLowPerRoundTrip: number;
    replies: number;
    echoReplies: number;
  };
  assert.equal(r.replies, r.echoReplies, "every request answered");
  assert.ok(
    r.highLessLowPerRoundTrip < MAX_BYTES_PER_ROUND_TRIP,
    `${r.highLessLowPerRoundTrip.toFixed(2)} B more per round trip`,
  );
});
