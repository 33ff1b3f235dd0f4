// A task that waits on a socket's queue and is woken, again and again — every read of a
// request/response exchange or of a bulk receiver that finds nothing yet. The wait's promise
// and its resolving functions are the API's (one promise per wait); on `main` each wait also made
// an executor closure and a `{ mask, wake }` waiter object: 368.2 B per wait measured here in three
// runs on `main` (200.3, 200.3 and 368.2 with the loop-reaction commit before this one) against
// 160.2 now in 20 of 22 runs (216.2 twice) — the resolver and mask kept in the queue's two arrays,
// through one executor shared by every queue. The bound sits between the two builds' figures.

import assert from "node:assert/strict";
import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { EV_READABLE, EventMux, WaitQueue } from "../../core/event_mux.ts";

/** Waits per measured window. */
const WINDOW = 2_000;
/** Most heap growth per wait and wake-up (the promise and its resolving functions stay: ~160). */
const MAX_BYTES_PER_WAIT = 250;

Deno.test(`sim wait queue alloc: a wait and its wake-up allocate < ${MAX_BYTES_PER_WAIT} B besides the promise`, () => {
  const mux = new EventMux();
  const wq = new WaitQueue();
  let waits = 0;
  const cycle = (n: number): void => {
    for (let i = 0; i < n; i++) {
      wq.readiness = 0;
      void wq.wait(EV_READABLE);
      wq.readiness = EV_READABLE;
      mux.notify(wq, EV_READABLE);
      mux.fire();
    }
    waits += n;
  };
  cycle(50 * WINDOW); // optimised code
  const [perWait] = medianHeapGrowthPerUnit([{ step: () => cycle(WINDOW), units: () => waits }], 9);
  assert.ok(perWait < MAX_BYTES_PER_WAIT, `${perWait.toFixed(1)} B per wait`);
});
