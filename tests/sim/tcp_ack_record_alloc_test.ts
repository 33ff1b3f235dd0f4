// The scoreboard's bookkeeping of a delivered transmission passes the delivery-rate sample no
// number: the ACK's time is read from the ACK record (`DeliveryRate.onDeliveredAt`'s
// `AckTimes`), as min_RTT is at the end of the ACK (`endAckFrom`) and RACK's min_RTT sample
// (`WindowedFilter.updateFrom`). A fractional time passed to a call V8 does not inline is a new
// heap number: on main's code `Scoreboard.#delivered` allocated 16 B per segment of a bulk
// transfer in V8's mid tier (bench/README.md, "heap13r"). The probe (a child process) samples
// the heap over such a transfer with fractional times.

import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/ack_path_probe.ts", import.meta.url);

/** Most bytes sampled in `Scoreboard.#delivered` per segment (a heap number is 16 B). */
const MAX_BYTES_PER_SEGMENT = 2;

Deno.test(`sim tcp ack record alloc: a delivered transmission's bookkeeping allocates < ${MAX_BYTES_PER_SEGMENT} B per segment`, async () => {
  const r = (await runNativesProbe(PROBE, ["--allow-read", "--allow-env", "--allow-sys"])) as {
    segs: number;
    perSegment: Record<string, number>;
    clockMs: number;
  };
  assert.ok(r.clockMs % 1 !== 0, `the probe's condition: fractional times (${r.clockMs})`);
  assert.ok(r.segs > 1000, `${r.segs} segments`);
  const delivered = r.perSegment["scoreboard.ts:#delivered"] ?? 0;
  assert.ok(
    delivered < MAX_BYTES_PER_SEGMENT,
    `${delivered.toFixed(2)} B per segment in #delivered (${JSON.stringify(r.perSegment)})`,
  );
});
