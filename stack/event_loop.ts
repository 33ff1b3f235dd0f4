/**
 * The real event loop: drives `Stack.tick()` while there is work, yielding to Deno's event loop
 * between batches so application code runs, and when idle parks in a `nonblocking: true`
 * `poll()` on the drivers' fds plus a wake eventfd, with the next timer as the timeout.
 *
 * Two eventfds: `wakeFd` is ours (API calls made while the loop is parked write it so their
 * packets go out now), `muxFd` is for the outside world (the mux writes it once per tick that
 * made any socket ready, so an outside poll loop can wait on it).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { POLLIN } from "../ffi/constants.ts";
import { pollfds, setPollfd } from "../ffi/structs.ts";
import { close, eventfdCreate, eventfdDrain, eventfdSignal, pollAsync } from "../ffi/syscalls.ts";
import type { Stack } from "./stack.ts";

/** Options of the loop. */
export interface EventLoopOptions {
  /** Longest idle wait before re-checking (ms) [1000]. */
  maxIdleWaitMs?: number;
  /**
   * Keep ticking (without parking) for this long after the last frame or output (µs) [200].
   * Parking costs ~30 µs per wake-up, so a short busy phase keeps latency low under load.
   */
  busyPollUs?: number;
}

/** Counters of the loop. */
export interface EventLoopStats {
  /** Ticks run. */
  ticks: number;
  /** Times the loop parked in poll(). */
  parks: number;
  /** Wake-ups through the wake eventfd. */
  wakes: number;
  /** Yields to Deno's event loop. */
  yields: number;
  /** Ticks that threw (a stack bug, reported and survived). */
  tickErrors: number;
}

/**
 * Microtask turns given to application code between `receive` and `transmit`: enough for an
 * `await` on readiness and two levels of awaiting callers (an async read helper inside an
 * async handler); each costs ~0.1 µs.
 */
const APP_MICROTASK_TURNS = 1;

function yieldToDeno(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs a stack on the real clock until stopped.
 *
 * @example
 * ```ts ignore
 * const loop = new EventLoop(stack);
 * const done = loop.run();
 * // … later
 * loop.stop();
 * await done;
 * ```
 */
export class EventLoop {
  /** The eventfd the mux signals once per tick that made anything ready. */
  readonly muxFd: number;
  /** Counters. */
  readonly stats: EventLoopStats = {
    ticks: 0,
    parks: 0,
    wakes: 0,
    yields: 0,
    tickErrors: 0,
  };
  readonly #stack: Stack;
  readonly #wakeFd: number;
  readonly #maxIdleWaitMs: number;
  readonly #busyPollMs: number;
  #pollfds: Uint8Array = new Uint8Array(0);
  #nfds = 0;
  #parked = false;
  #stopped = false;
  #running: Promise<void> | null = null;
  #closed = false;
  #jsWake: (() => void) | null = null;

  /** Attach to `stack` (creates the two eventfds). */
  constructor(stack: Stack, opts: EventLoopOptions = {}) {
    this.#stack = stack;
    this.#maxIdleWaitMs = opts.maxIdleWaitMs ?? 1000;
    this.#busyPollMs = (opts.busyPollUs ?? 200) / 1000;
    this.#wakeFd = eventfdCreate();
    this.muxFd = eventfdCreate();
    const muxFd = this.muxFd;
    stack.mux.signal = () => {
      eventfdSignal(muxFd);
    };
    stack.setWaker(() => this.#wake());
  }

  #wake(): void {
    if (this.#parked) {
      this.stats.wakes++;
      if (this.#jsWake !== null) this.#jsWake();
      else eventfdSignal(this.#wakeFd);
    }
  }

  #buildPollSet(): void {
    const fds: number[] = [];
    for (const nic of this.#stack.nics) if (nic.driver.fd >= 0) fds.push(nic.driver.fd);
    fds.push(this.#wakeFd);
    // Off-heap memory: the poll runs on a helper thread and V8 must not move it meanwhile.
    const p = pollfds(fds.length);
    for (let i = 0; i < fds.length; i++) setPollfd(p, i, fds[i], POLLIN);
    this.#pollfds = p;
    this.#nfds = fds.length;
  }

  /** True while `run()` is active. */
  get running(): boolean {
    return this.#running !== null;
  }

  /** Start the loop (idempotent); the promise settles when the loop stops. */
  run(): Promise<void> {
    if (this.#closed) throw new Error("EventLoop: closed");
    if (this.#running === null) {
      this.#stopped = false;
      this.#running = this.#loop().finally(() => {
        this.#running = null;
      });
    }
    return this.#running;
  }

  async #loop(): Promise<void> {
    const stack = this.#stack;
    const clock = stack.clock;
    this.#buildPollSet();
    // Drivers without a pollable fd (simulated, loopback) are waited on with a JS timer.
    const pollable = stack.nics.every((n) => n.driver.fd >= 0);
    let lastBusy = clock.nowMs();
    while (!this.#stopped && !stack.closed) {
      let frames = 0;
      try {
        frames = stack.receive();
      } catch (e) {
        // A bug somewhere below must not stop the host: report it, keep running.
        if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
      }
      // A few microtask turns between the halves of the tick: application code the readiness
      // just woke (an await on a read, and the awaits of its callers) runs now, so what it
      // sends leaves in this tick with the ACK it owes — one segment, not two.
      for (let i = 0; i < APP_MICROTASK_TURNS; i++) await undefined;
      try {
        stack.transmit();
      } catch (e) {
        if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
      }
      this.stats.ticks++;
      const now = clock.nowMs();
      if (frames > 0 || stack.hasPendingWork) lastBusy = now;
      if (now - lastBusy < this.#busyPollMs || stack.hasPendingWork) {
        this.stats.yields++;
        await yieldToDeno();
        continue;
      }
      const next = stack.nextDeadlineMs();
      let timeout = Math.min(this.#maxIdleWaitMs, next - now);
      if (timeout <= 0) {
        this.stats.yields++;
        await yieldToDeno();
        continue;
      }
      timeout = Math.ceil(timeout);
      this.stats.parks++;
      this.#parked = true;
      if (pollable) {
        await pollAsync(this.#pollfds, timeout, this.#nfds);
        this.#parked = false;
        eventfdDrain(this.#wakeFd);
      } else {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.#jsWake = null;
            resolve();
          }, Math.min(timeout, 5));
          this.#jsWake = () => {
            clearTimeout(t);
            this.#jsWake = null;
            resolve();
          };
        });
        this.#parked = false;
      }
      lastBusy = clock.nowMs() - this.#busyPollMs;
    }
  }

  /** Ask the loop to stop; `run()`'s promise settles after the current iteration. */
  stop(): void {
    this.#stopped = true;
    if (this.#parked) {
      if (this.#jsWake !== null) this.#jsWake();
      else eventfdSignal(this.#wakeFd);
    }
  }

  /** Stop, wait for the loop to end, and close the eventfds. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.stop();
    if (this.#running !== null) await this.#running;
    this.#closed = true;
    this.#stack.mux.signal = null;
    this.#stack.setWaker(null);
    close(this.#wakeFd);
    close(this.muxFd);
  }
}
