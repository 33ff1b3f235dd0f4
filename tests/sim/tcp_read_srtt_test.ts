// An application's read of buffered data passes no double to the receiver: auto-tuning's
// fallback period (the sender's smoothed RTT) and the time are read inside the receiver
// (`TcpReceiver`'s `#autotune`), not handed down each read. Handed down, the smoothed RTT (a
// fraction) left `TcpEndpoint.read` as a new heap number wherever V8 did not inline the
// receiver's read into it — ~15 B per wire packet each for the RTT and the time in a real
// `consume` reader's profile (bench/README.md, "heap13m"). The probe (a child with
// --allow-natives-syntax) keeps the receiver's read out of line and counts bytes per read.

import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/read_srtt_probe.ts", import.meta.url);

/** Most heap growth per read (a heap number is 16 B). */
const MAX_BYTES_PER_READ = 2;

Deno.test(`sim tcp read srtt: a read of buffered data with the receiver's read out of line grows the heap < ${MAX_BYTES_PER_READ} B`, async () => {
  const r = (await runNativesProbe(PROBE)) as { perRead: number; srttMs: number };
  assert.ok(r.srttMs % 1 !== 0, `the probe's condition: a fractional srtt (${r.srttMs})`);
  assert.ok(r.perRead < MAX_BYTES_PER_READ, `${r.perRead} B per read`);
});
