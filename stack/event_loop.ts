/**
 * The real event loop: drives `Stack.tick()` while there is work, yielding to Deno's event loop
 * between batches so application code runs. When idle it waits in three steps:
 *
 * 1. **busy poll** (`busyPollUs`): after a tick with work, one turn of Deno's event loop; then,
 *    while nothing happens, a synchronous loop polling the drivers with `sched_yield()` between
 *    polls (no allocation per poll; Deno's event loop still turns every `denoTurnUs`). The
 *    lowest latency when a CPU is free; the yield hands the CPU over at once to a thread that
 *    waits for it — above all the peer of a request/response exchange, which the kernel wakes
 *    on its waker's CPU — so the spin no longer holds up the very answer it waits for;
 * 2. **blocking slices** (`blockPollUs`): a synchronous `poll()` of at most 1 ms on the drivers'
 *    fds, then one turn of Deno's event loop (its timers and I/O wait at most that slice). A
 *    frame wakes this thread directly — one scheduler wake-up, like a blocking `recv` — where
 *    an asynchronous park needs two (a helper thread, then this one), each a chance to wait
 *    behind other work for a whole scheduler slice: on a loaded 2-vCPU machine the park made a
 *    64-byte round trip's p50 ~5× and p99 ~20× the kernel's;
 * 3. **park**: a `nonblocking: true` `poll()` on Deno's helper thread with the next timer as
 *    the timeout, so an idle stack costs nothing and Deno's event loop runs freely.
 *
 * Two eventfds: `wakeFd` is ours (API calls made while the loop is parked write it so their
 * packets go out now), `muxFd` is for the outside world (once asked for, the mux writes it once
 * per tick that made any socket ready, so an outside poll loop can wait on it).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { POLLIN } from "../ffi/constants.ts";
import { pollfdRevents, pollfds, setPollfd } from "../ffi/structs.ts";
import {
  close,
  eventfdCreate,
  eventfdDrain,
  eventfdSignal,
  pollAsync,
  pollBlocking,
  schedYield,
} from "../ffi/syscalls.ts";
import { setCpuAffinity, setSchedSliceUs } from "../ffi/sched.ts";
import { Histogram } from "../core/histogram.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";
import type { Stack } from "./stack.ts";
import {
  type LoopTrace,
  TRACE_BLOCK,
  TRACE_INLINE,
  TRACE_MICROTASKS,
  TRACE_PARK,
  TRACE_RX,
  TRACE_SPIN,
  TRACE_TICK,
  TRACE_TRANSMIT,
  TRACE_TX,
  TRACE_YIELD,
} from "./loop_trace.ts";

/** Options of the loop. */
export interface EventLoopOptions {
  /** Longest idle wait before re-checking (ms) [1000]. */
  maxIdleWaitMs?: number;
  /**
   * Keep polling (without waiting) for this long after the last frame or output (µs) [200].
   * Long enough to catch the answer of a peer without a wake-up at all (a wake-up from
   * `poll()` costs ~100 µs on a VM whose vCPU went idle, and once one side sleeps the other
   * soon waits past its own spin too); the spin yields the CPU between polls, so a thread that
   * needs it is not held up.
   */
  busyPollUs?: number;
  /**
   * Then wait in blocking `poll()` slices of ≤ 1 ms for this long before parking (µs) [5000];
   * Deno's timers and I/O run between slices. 0 parks at once (the old behaviour).
   */
  blockPollUs?: number;
  /**
   * While busy-polling with nothing to do, poll the drivers in a synchronous loop (no
   * allocation, so no garbage for V8's collector threads to compete for the CPU with) and turn
   * Deno's event loop (its timers and I/O) at least this often (µs) [50].
   */
  denoTurnUs?: number;
  /**
   * While ticks keep finding work, turn Deno's event loop at most this often (µs) [0: after
   * every busy tick]. A turn costs ~5 µs (a promise, `setImmediate`, Deno's I/O poll), a
   * tenth of a bulk sender's tick; the application's reaction to readiness does not need it
   * (it runs in microtask turns within the tick), only Deno's timers and I/O do, and those
   * then wait at most this long behind a busy stack.
   */
  busyTurnUs?: number;
  /**
   * Call `sched_yield()` between the polls of that loop [true]: a thread waiting for this CPU —
   * the peer of a request/response exchange, woken by our frame and placed on our CPU next to
   * its waker, or a V8 helper thread — runs at once instead of after our time slice.
   */
  spinYield?: boolean;
  /**
   * Ask the scheduler for a time slice of this many µs for the loop's thread
   * (`sched_setattr`, Linux ≥ 6.12; the kernel keeps it within 100 µs–100 ms) [unset: the
   * kernel's default, ~0.7 ms × (1 + log2 CPUs)]. A thread woken by a frame preempts a
   * CPU-bound one on its CPU only when its virtual deadline — eligible time plus slice — is
   * the earlier: with a short slice the stack's wake-up from `poll()` runs at once instead of
   * after the other task's protected slice. It asks for the CPU sooner, not for more of it.
   */
  schedSliceUs?: number;
  /**
   * Run the loop's thread only on these CPUs (`sched_setaffinity`) [unset: wherever the
   * scheduler likes]. Two stacks talking to each other on one machine, each pinned to a CPU of
   * its own, cannot be stacked onto one CPU by the *sync* wake-up of a frame delivered inside
   * the peer's `sendto` (the wakee goes to the waker's CPU, and a spinning waker does not
   * sleep). Only this thread: V8's helper threads stay free.
   */
  cpus?: readonly number[];
  /**
   * When one `sched_yield()` of the busy poll keeps the CPU away longer than this (µs), stop
   * busy-polling for {@link YIELD_STALL_HOLD_MS} and wait in blocking `poll()` slices instead
   * [unset: never]. Such a yield gave the CPU to a CPU-bound task on the same CPU, which then
   * runs until the scheduler's next tick (4 ms at HZ=250) while our frame waits; a thread
   * *blocked* in `poll()` is woken by the frame and may preempt it at once.
   */
  yieldStallUs?: number;
}

/** Counters of the loop. */
export interface EventLoopStats {
  /** Ticks run. */
  ticks: number;
  /** Polls of the drivers in the synchronous busy-poll loop. */
  spins: number;
  /** Times the loop parked in poll(). */
  parks: number;
  /** Blocking poll() slices waited. */
  blocks: number;
  /** Eventfd writes of the readiness mux (only once `muxFd` was asked for). */
  muxSignals: number;
  /** Wake-ups through the wake eventfd. */
  wakes: number;
  /**
   * Ticks run straight from an API call while the loop was parked (its output goes out now,
   * without waking the parked loop through the eventfd and a helper thread).
   */
  inlineTicks: number;
  /** Yields to Deno's event loop. */
  yields: number;
  /** Ticks that threw (a stack bug, reported and survived). */
  tickErrors: number;
  /** Busy polls cut short by a `sched_yield` longer than `yieldStallUs`. */
  yieldStalls: number;
}

/**
 * Where the loop's time goes, as fixed-memory histograms in microseconds: what a slow
 * request/response round trip waited on (a park in poll, a long tick, or a long turn away from
 * the loop — application code, garbage collection, or the process not being scheduled).
 */
export interface EventLoopTimes {
  /** Length of each park in poll() (from the call to its return, wake-up included). */
  parkUs: Histogram;
  /** Length of each blocking poll() slice. */
  blockUs: Histogram;
  /** Length of each tick. */
  tickUs: Histogram;
  /** Length of each yield to Deno's event loop (from the yield to the next tick's start). */
  yieldUs: Histogram;
}

/** A histogram for loop times: µs to ~1 h, within 1/32 of the value. */
function loopHistogram(): Histogram {
  return new Histogram({ subBucketBits: 6, maxValue: 2 ** 32 - 1 });
}

/**
 * Microtask turns the loop waits between `receive` and `transmit` after readiness went out,
 * for the application to queue its reaction (each `await` of a promise is one turn; a read
 * that leads to a write through a few async functions takes several); it stops as soon as the
 * application asks for a tick (it wrote).
 */
const MICROTASK_TURNS = 16;

/**
 * Idle ticks in a row, each followed by a turn of Deno's event loop, before the synchronous
 * spin starts. A bulk transfer's gaps between frames are shorter than that: its ticks keep
 * taking the frames that arrived during a turn in one batch (one TX flush, one ACK) instead
 * of one frame per poll.
 */
const SPIN_AFTER_IDLE_TICKS = 2;

/** How long the loop waits in blocking slices instead of busy-polling after a stalled yield (ms). */
export const YIELD_STALL_HOLD_MS = 50;

/**
 * A settled promise to await for one microtask turn: awaiting an existing native promise makes
 * no new one (`await null` wraps its value in a fresh promise every time).
 */
const SETTLED: Promise<void> = Promise.resolve();

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
  /** Counters. */
  readonly stats: EventLoopStats = {
    ticks: 0,
    spins: 0,
    parks: 0,
    blocks: 0,
    muxSignals: 0,
    wakes: 0,
    inlineTicks: 0,
    yields: 0,
    tickErrors: 0,
    yieldStalls: 0,
  };
  /**
   * A record of every phase of the loop, with the kernel's receive time of each batch next to
   * its pickup, or null (the default: no record kept). Set it to trace where a slow round trip
   * waited; recording allocates nothing.
   */
  trace: LoopTrace | null = null;
  /** Time histograms (µs). */
  readonly times: EventLoopTimes = {
    parkUs: loopHistogram(),
    blockUs: loopHistogram(),
    tickUs: loopHistogram(),
    yieldUs: loopHistogram(),
  };
  readonly #stack: Stack;
  readonly #wakeFd: number;
  #muxFd = -1;
  readonly #maxIdleWaitMs: number;
  // Lengths in ms start as doubles (DOUBLE_ZERO): the warm-up's loops busy-poll for a whole
  // 60 s (a small integer), a real loop for 0.2 ms, and a field first held as a small integer
  // sends the code compiled on it back to the interpreter at the real loop's first tick
  // ("not a Smi", bench/README.md, "conn9m").
  readonly #busyPollMs: number = DOUBLE_ZERO;
  readonly #blockPollMs: number = DOUBLE_ZERO;
  readonly #denoTurnMs: number = DOUBLE_ZERO;
  readonly #busyTurnMs: number = DOUBLE_ZERO;
  readonly #spinYield: boolean;
  readonly #schedSliceUs: number | undefined;
  readonly #cpus: readonly number[] | undefined;
  readonly #yieldStallMs: number;
  /** No busy poll before this time (ms): a yield stalled. */
  #noSpinUntil = DOUBLE_ZERO;
  /** Traced: when the receive that found the last batch began (ms). */
  #pollFromMs = 0;
  /** When Deno's event loop last had a turn (ms). */
  #lastDenoTurn = DOUBLE_ZERO;
  /** When the loop came back from that turn, until the next tick starts (ms); -1: not just back. */
  #resumedMs = -1;
  /** The loop's times that outlive an await (ms; see `#loop`): the last busy tick's end. */
  #lastBusyMs = 0;
  /** This iteration's busy-poll length (0 after a stalled yield). */
  #busyPollNowMs = DOUBLE_ZERO;
  /** When the current tick started. */
  #tickStartMs = 0;
  /** When the current turn of Deno's event loop was asked for. */
  #turnFromMs = 0;
  #pollfds: Uint8Array = new Uint8Array(0);
  #nfds = 0;
  #parked = false;
  #stopped = false;
  #running: Promise<void> | null = null;
  #closed = false;
  #jsWake: (() => void) | null = null;
  /** Resolves the pending turn of Deno's event loop. */
  #turnResolve: (() => void) | null = null;
  /** The loop waits in a real poll() (not a JS timer). */
  #pollable = false;
  /** A tick is running (the loop's or an inline one). */
  #inTick = false;
  #inlineQueued = false;
  /** When the current park's poll times out by itself (ms). */
  #parkDeadlineMs = Infinity;
  readonly #inlineTick = (): void => {
    this.#inlineQueued = false;
    this.#runInline();
  };

  /** Attach to `stack` (creates the two eventfds). */
  constructor(stack: Stack, opts: EventLoopOptions = {}) {
    this.#stack = stack;
    this.#maxIdleWaitMs = opts.maxIdleWaitMs ?? 1000;
    this.#busyPollMs = (opts.busyPollUs ?? 200) / 1000;
    this.#blockPollMs = (opts.blockPollUs ?? 5000) / 1000;
    this.#denoTurnMs = (opts.denoTurnUs ?? 50) / 1000;
    this.#busyTurnMs = (opts.busyTurnUs ?? 0) / 1000;
    this.#spinYield = opts.spinYield ?? true;
    this.#schedSliceUs = opts.schedSliceUs;
    this.#cpus = opts.cpus;
    this.#yieldStallMs = (opts.yieldStallUs ?? 0) / 1000;
    this.#wakeFd = eventfdCreate();
    stack.setWaker(() => this.#wake());
  }

  /**
   * The eventfd the mux signals once per tick that made anything ready, for an outside poll
   * loop. Made on first use: until then no tick pays for an eventfd write nobody reads.
   */
  get muxFd(): number {
    if (this.#muxFd < 0) {
      if (this.#closed) throw new Error("EventLoop: closed");
      const fd = eventfdCreate();
      this.#muxFd = fd;
      const stats = this.stats;
      this.#stack.mux.signal = () => {
        stats.muxSignals++;
        eventfdSignal(fd);
      };
    }
    return this.#muxFd;
  }

  #wake(): void {
    if (!this.#parked) return;
    if (this.#pollable && !this.#inTick) {
      // Run the tick ourselves once the caller's synchronous burst is over (a microtask, so
      // several writes make one tick) instead of waking the parked poll: that wake-up costs a
      // helper thread's and the main thread's scheduling, tens of µs, on every request.
      if (!this.#inlineQueued) {
        this.#inlineQueued = true;
        queueMicrotask(this.#inlineTick);
      }
      return;
    }
    this.#signalWake();
  }

  #signalWake(): void {
    this.stats.wakes++;
    if (this.#jsWake !== null) this.#jsWake();
    else eventfdSignal(this.#wakeFd);
  }

  /** A tick run from an API call while the loop is parked. */
  #runInline(): void {
    const stack = this.#stack;
    // The loop resumed meanwhile (it ticks itself) or is going away.
    if (!this.#parked || this.#inTick || this.#stopped || stack.closed) return;
    this.#inTick = true;
    const start = stack.clock.nowMs();
    const trace = this.trace;
    const sent = trace === null ? 0 : this.#framesSent();
    this.#pollFromMs = start;
    try {
      const frames = stack.tick();
      if (trace !== null && frames > 0) this.#traceRx(trace, frames);
    } catch (e) {
      if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
    } finally {
      this.#inTick = false;
    }
    this.stats.inlineTicks++;
    const end = stack.clock.nowMs();
    this.times.tickUs.record((end - start) * 1000);
    if (trace !== null) trace.record(TRACE_INLINE, start, end, this.#framesSent() - sent);
    // Work the tick left behind (a listener asked for another tick), or a timer it armed
    // before the parked poll's timeout (a retransmission, a pacing release), needs the loop
    // itself: wake it so it ticks and recomputes its wait.
    if (
      this.#parked && (stack.hasPendingWork || stack.nextDeadlineMs() < this.#parkDeadlineMs)
    ) this.#signalWake();
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
    if (this.#schedSliceUs !== undefined) {
      const r = setSchedSliceUs(this.#schedSliceUs);
      if (r < 0) {
        console.warn(`ustack: sched_setattr (slice ${this.#schedSliceUs} µs): errno ${-r}`);
      }
    }
    if (this.#cpus !== undefined) {
      const r = setCpuAffinity(this.#cpus);
      if (r < 0) console.warn(`ustack: sched_setaffinity (CPUs ${this.#cpus}): errno ${-r}`);
    }
    // Drivers without a pollable fd (simulated, loopback) are waited on with a JS timer.
    const pollable = stack.nics.every((n) => n.driver.fd >= 0);
    this.#pollable = pollable;
    const times = this.times;
    // Times live across the awaits below are fields, not locals: a double local an async
    // function keeps over an await is boxed anew each time (a heap number per tick).
    this.#lastBusyMs = clock.nowMs();
    // Ticks in a row that found nothing to do, with a yield after each: the application has
    // had its turn since the last work (its reaction to a delivery, say a reply, is queued).
    let idleTicks = 0;
    const muxer = stack.mux;
    const mux = muxer.stats;
    // Frames handed to the drivers as of the last look (API calls queue them between ticks).
    let sent = this.#framesSent();
    while (!this.#stopped && !stack.closed) {
      // Straight after a turn of Deno's event loop its end is the tick's start: one clock
      // read (an op, ~0.1 µs) fewer per tick.
      let start = this.#resumedMs >= 0 ? this.#resumedMs : clock.nowMs();
      this.#resumedMs = -1;
      const deliveries = mux.deliveries;
      muxer.beginReactions();
      // Idle while busy-polling: poll in a synchronous loop until something happens, the busy
      // poll ends, or Deno's event loop is due a turn.
      // After a stalled yield the busy poll is off for a while (the waits go to blocking slices).
      this.#busyPollNowMs = start < this.#noSpinUntil ? 0 : this.#busyPollMs;
      const lastBusy = this.#lastBusyMs;
      const spinUntil = idleTicks >= SPIN_AFTER_IDLE_TICKS && start - lastBusy < this.#busyPollNowMs
        ? Math.min(lastBusy + this.#busyPollNowMs, this.#lastDenoTurn + this.#denoTurnMs)
        : 0;
      let frames = 0;
      this.#inTick = true;
      const trace = this.trace;
      this.#pollFromMs = start;
      try {
        frames = stack.receive(start);
        if (frames === 0 && spinUntil > start && mux.deliveries === deliveries) {
          frames = this.#spin(spinUntil, deliveries);
          start = clock.nowMs();
        }
        if (trace !== null && frames > 0) this.#traceRx(trace, frames);
      } catch (e) {
        // A bug somewhere below must not stop the host: report it, keep running.
        if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
      } finally {
        this.#inTick = false;
      }
      this.#tickStartMs = start;
      const woken = mux.deliveries - deliveries;
      if (woken !== 0) {
        // Microtask turns between the halves of the tick: application code the readiness just
        // woke (an await on a read, and the awaits of its callers) runs now — ~0.1 µs a turn
        // against several µs for a turn of Deno's event loop — so what it sends in answer
        // leaves in this tick with the ACK it owes: one segment, not two. One socket woken:
        // its first write ends the wait. Several (a server's many connections): every turn
        // runs, since the first to answer says nothing of the others still on their way.
        // The turns end early too once every task a delivery woke waits on its queue again:
        // it reacted, and further turns would wait for nothing (each `await` allocates).
        const waitFrom = trace === null ? 0 : clock.nowMs();
        let turns = 0;
        for (; turns < MICROTASK_TURNS && (woken > 1 || !stack.tickRequested); turns++) {
          if (muxer.reactionsDone) break;
          await SETTLED;
        }
        if (trace !== null) trace.record(TRACE_MICROTASKS, waitFrom, clock.nowMs(), turns);
      }
      const beforeTransmit = mux.deliveries;
      const transmitFrom = trace === null ? 0 : clock.nowMs();
      try {
        stack.transmit();
      } catch (e) {
        if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
      }
      this.stats.ticks++;
      const now = clock.nowMs();
      times.tickUs.record((now - this.#tickStartMs) * 1000);
      if (trace !== null) {
        trace.record(TRACE_TICK, this.#tickStartMs, now, frames);
        const out = this.#framesSent() - sent;
        trace.record(TRACE_TRANSMIT, transmitFrom, now, out);
        if (out !== 0) trace.record(TRACE_TX, now, now, out);
      }
      // Busy: frames came in, or went out since the last look (a pure sender, say a UDP
      // blast, never receives: else it would park and be woken between its bursts).
      const sentNow = this.#framesSent();
      if (frames > 0 || stack.hasPendingWork || sentNow !== sent) {
        sent = sentNow;
        this.#lastBusyMs = now;
        idleTicks = 0;
      } else idleTicks++;
      if (idleTicks === 0 && now - this.#lastDenoTurn < this.#busyTurnMs) {
        // Busy, and Deno's event loop had a turn lately: tick again at once. Readiness the
        // transmit half raised (send space freed) gets its microtask turns first, as the
        // receive half's did, so the writer's next chunk is queued for the next tick.
        if (mux.deliveries !== beforeTransmit) {
          for (let turns = 0; turns < MICROTASK_TURNS && !stack.tickRequested; turns++) {
            if (muxer.reactionsDone) break;
            await SETTLED;
          }
        }
        continue;
      }
      this.#turnFromMs = now;
      const busyPollMs = this.#busyPollNowMs;
      const lastBusyMs = this.#lastBusyMs;
      if (now - lastBusyMs < busyPollMs || idleTicks < 2) {
        // After work, and whenever it is due: Deno's event loop runs (application code woken
        // by timers and I/O, the yield that makes an application's reaction go out). Between
        // those turns an idle loop spins at the top without allocating.
        if (idleTicks < SPIN_AFTER_IDLE_TICKS || now - this.#lastDenoTurn >= this.#denoTurnMs) {
          await this.#yieldToDeno();
          this.#yielded();
        }
        continue;
      }
      const next = stack.nextDeadlineMs();
      let timeout = Math.min(this.#maxIdleWaitMs, next - now);
      if (timeout <= 0) {
        await this.#yieldToDeno();
        this.#yielded();
        continue;
      }
      if (pollable && now - lastBusyMs < busyPollMs + this.#blockPollMs) {
        this.stats.blocks++;
        // A slice of at most 1 ms, ending at the next deadline to the microsecond: a pacing
        // release or a TSO-deferral wake-up a fraction of a millisecond away must not wait
        // for the whole millisecond (at 10 Gbit/s that is 1.25 MB not sent).
        const ready = pollBlocking(this.#pollfds, timeout < 1 ? timeout : 1, this.#nfds);
        const woke = clock.nowMs();
        times.blockUs.record((woke - now) * 1000);
        if (this.trace !== null) this.trace.record(TRACE_BLOCK, now, woke, ready);
        if (ready > 0 && (pollfdRevents(this.#pollfds, this.#nfds - 1) & POLLIN) !== 0) {
          eventfdDrain(this.#wakeFd);
        }
        // Frames: tick at once. A timeout: give Deno's timers and I/O their turn first.
        if (ready <= 0) {
          this.#turnFromMs = woke;
          await this.#yieldToDeno();
          this.#yielded();
        }
        continue;
      }
      timeout = Math.ceil(timeout);
      this.stats.parks++;
      this.#parkDeadlineMs = now + timeout;
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
      const woke = clock.nowMs();
      times.parkUs.record((woke - now) * 1000);
      if (this.trace !== null) this.trace.record(TRACE_PARK, now, woke, 0);
      // Straight back to parking unless the next tick finds work.
      this.#lastBusyMs = woke - this.#busyPollMs - this.#blockPollMs;
    }
  }

  /**
   * The synchronous busy poll: receive until a frame, a delivery or pending work shows up, or
   * `until` (ms) passes, handing the CPU to waiting threads between polls. Returns the frames
   * received.
   */
  #spin(until: number, deliveries: number): number {
    const stack = this.#stack;
    const clock = stack.clock;
    const mux = stack.mux.stats;
    const stats = this.stats;
    const yieldCpu = this.#spinYield;
    const trace = this.trace;
    const from = trace === null ? 0 : clock.nowMs();
    const spins = stats.spins;
    let frames = 0;
    const stallMs = this.#yieldStallMs;
    for (;;) {
      if (yieldCpu) {
        if (stallMs > 0) {
          const before = clock.nowMs();
          schedYield();
          const after = clock.nowMs();
          if (after - before > stallMs) {
            // A CPU-bound task shares this CPU: every further yield would hand it a whole
            // scheduler tick. Poll once more, then wait blocked (see yieldStallUs).
            stats.yieldStalls++;
            this.#noSpinUntil = after + YIELD_STALL_HOLD_MS;
            until = 0;
          }
        } else schedYield();
      }
      stats.spins++;
      if (trace !== null) this.#pollFromMs = clock.nowMs();
      frames = stack.receive();
      if (frames !== 0 || mux.deliveries !== deliveries || stack.hasPendingWork) break;
      if (clock.nowMs() >= until) break;
    }
    if (trace !== null) trace.record(TRACE_SPIN, from, clock.nowMs(), stats.spins - spins);
    return frames;
  }

  /**
   * Trace a received batch: the kernel's receive time of its first frame (from the first NIC's
   * driver, put on this process's `performance.now()` base) and now, when the stack has it.
   */
  #traceRx(trace: LoopTrace, frames: number): void {
    const driver = this.#stack.nics[0]?.driver;
    const stamp = driver?.rxStampMs === undefined ? NaN : driver.rxStampMs();
    trace.record(TRACE_RX, stamp - performance.timeOrigin, this.#pollFromMs, frames);
  }

  /** Frames the NICs' drivers have queued for sending, all told. */
  #framesSent(): number {
    const nics = this.#stack.nics;
    let n = 0;
    for (let i = 0; i < nics.length; i++) n += nics[i].driver.stats.txFrames;
    return n;
  }

  /**
   * A promise that settles after a turn of Deno's event loop (application code woken by timers
   * and I/O runs). The executor and the `setImmediate` callback are bound once: a turn costs
   * the promise and Deno's immediate record, nothing else (it used to be an async method, a
   * promise and two closures more — on a request/response exchange two turns per round trip
   * and side, most of what a round trip allocated).
   */
  #yieldToDeno(): Promise<void> {
    this.stats.yields++;
    return new Promise(this.#turnExecutor);
  }

  readonly #turnExecutor = (resolve: () => void): void => {
    this.#turnResolve = resolve;
    setImmediate(this.#onTurn);
  };

  readonly #onTurn = (): void => {
    const resolve = this.#turnResolve;
    this.#turnResolve = null;
    if (resolve !== null) resolve();
  };

  /** Back from a turn of Deno's event loop that began at `#turnFromMs`: time it. */
  #yielded(): void {
    const now = this.#turnFromMs;
    const back = this.#stack.clock.nowMs();
    this.#lastDenoTurn = back;
    this.#resumedMs = back;
    this.times.yieldUs.record((back - now) * 1000);
    if (this.trace !== null) this.trace.record(TRACE_YIELD, now, back, 0);
  }

  /** Ask the loop to stop; `run()`'s promise settles after the current iteration. */
  stop(): void {
    this.#stopped = true;
    if (this.#parked) this.#signalWake();
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
    if (this.#muxFd >= 0) close(this.#muxFd);
  }
}
