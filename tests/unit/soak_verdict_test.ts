import assert from "node:assert/strict";
import { slope, soakFailures, type SoakSample } from "../../bench/soak.ts";

const limits = { maxRssMiB: 1024, maxSlopeMiBPerMin: 8, warmupS: 120 };
const clean = {
  download_ok: 3,
  echo_ok: 2,
  upload_ok: 2,
  conn_ok: 1000,
  udp_ok: 500,
  udp_sent: 500,
  hostile_sent: 900,
  stuck_threads: 0,
};
const flat = (mib: (t: number) => number): SoakSample[] =>
  Array.from({ length: 60 }, (_, i) => ({ t: i * 10, rssMiB: mib(i * 10), heapMiB: 40, load: {} }));

Deno.test("soak verdict: least-squares slope", () => {
  assert.equal(slope([0, 1, 2, 3], [5, 7, 9, 11]), 2);
  assert.equal(slope([1], [3]), 0);
  assert.equal(slope([2, 2], [1, 5]), 0);
});

Deno.test("soak verdict: a clean run passes; each kind of failure is named", () => {
  const ping = { sent: 3000, received: 3000 };
  assert.deepEqual(soakFailures(flat(() => 300), clean, ping, limits), []);
  // Growth during warm-up only is fine; growth after it is not.
  assert.deepEqual(soakFailures(flat((t) => Math.min(t, 120) + 200), clean, ping, limits), []);
  assert.match(
    soakFailures(flat((t) => 200 + t / 6), clean, ping, limits).join(),
    /RSS grows 10\.0 MiB\/min/,
  );
  assert.match(soakFailures(flat(() => 1100), clean, ping, limits).join(), /RSS peak 1100/);
  assert.match(
    soakFailures(flat(() => 300), { ...clean, echo_bad: 1 }, ping, limits).join(),
    /echo_bad = 1/,
  );
  assert.match(
    soakFailures(flat(() => 300), { ...clean, conn_ok: 0 }, ping, limits).join(),
    /no conn completed/,
  );
  assert.match(
    soakFailures(flat(() => 300), { ...clean, udp_lost: 5 }, ping, limits).join(),
    /udp_lost = 5 of 500/,
  );
  assert.match(
    soakFailures(flat(() => 300), clean, { sent: 3000, received: 2990 }, limits).join(),
    /ping: 2990 of 3000/,
  );
  assert.match(
    soakFailures(flat(() => 300), { ...clean, threads_died: 1 }, ping, limits).join(),
    /1 load threads died/,
  );
});
