/**
 * Probe for `tests/unit/poll_timeout_test.ts`, run with `--allow-natives-syntax` (and FFI): the
 * heap growth per blocking slice of the event loop's kind — a timeout computed from two times
 * each slice, handed to `ppoll` — with the wrapper kept out of the caller's optimised code
 * (`%NeverOptimizeFunction`: what the loop's large transmit half sees), once as a fraction of a
 * millisecond (`pollBlocking`) and once in whole microseconds (`pollBlockingUs`). The one fd
 * polled is an eventfd left readable, so every `ppoll` returns at once. Prints one JSON line.
 *
 * @module
 */

import {
  close,
  eventfdCreate,
  eventfdSignal,
  pollBlocking,
  pollBlockingUs,
} from "../../ffi/syscalls.ts";
import { POLLIN } from "../../ffi/constants.ts";
import { pollfds, setPollfd } from "../../ffi/structs.ts";
import { neverOptimize, optimizeNext, prepare } from "./v8_natives.ts";

/** The loop's shape: times in double fields, the timeout computed per slice. */
class Slicer {
  nowMs = 1000.25;
  nextMs = 1000.5;
  ready = 0;
  /** `n` slices, the timeout passed in milliseconds (a fraction). */
  slicesMs(fds: Uint8Array, n: number): void {
    for (let i = 0; i < n; i++) {
      this.nextMs += 0.00001;
      const timeout = this.nextMs - this.nowMs;
      this.ready += pollBlocking(fds, timeout < 1 ? timeout : 1, 1);
    }
  }
  /** The same in whole microseconds. */
  slicesUs(fds: Uint8Array, n: number): void {
    for (let i = 0; i < n; i++) {
      this.nextMs += 0.00001;
      const timeout = this.nextMs - this.nowMs;
      this.ready += pollBlockingUs(fds, timeout < 1 ? Math.ceil(timeout * 1000) | 0 : 1000, 1);
    }
  }
}

const efd = eventfdCreate();
eventfdSignal(efd); // readable from now on: every ppoll returns at once
const fds = pollfds(1);
setPollfd(fds, 0, efd, POLLIN);
neverOptimize(pollBlocking);
neverOptimize(pollBlockingUs);
const SLICES = 20_000;
const out: Record<string, number> = {};
for (const name of ["slicesMs", "slicesUs"] as const) {
  const s = new Slicer();
  const f = Slicer.prototype[name];
  prepare(f);
  s[name](fds, 1000);
  s[name](fds, 1000);
  optimizeNext(f);
  s[name](fds, 10);
  const grew: number[] = [];
  for (let w = 0; w < 9; w++) {
    s.nextMs = s.nowMs + 0.25;
    const before = Deno.memoryUsage().heapUsed;
    s[name](fds, SLICES);
    const after = Deno.memoryUsage().heapUsed;
    if (after >= before) grew.push((after - before) / SLICES);
  }
  grew.sort((a, b) => a - b);
  out[name] = grew[grew.length >> 1];
  out[`${name}Ready`] = s.ready > 0 ? 1 : 0;
}
close(efd);
console.log(JSON.stringify(out));
