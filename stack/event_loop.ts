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
 * The loop runs from the callbacks of its turns of Deno's event loop (`DenoTurn`: a record
 * re-queued in Deno's immediate queue), with no promise or resumption per turn. A tick that wakes
 * tasks awaiting readiness gives them their microtask turns between its halves from there too:
 * Deno's `runNextTicks`, which its immediate pass runs between two immediates, called from the
 * callback runs the microtask queue dry (`DenoTurn.runMicrotasks`), and what the application
 * writes meanwhile goes out every `drainFlushBytes` (`Stack.written`: a bulk writer's refill
 * reaches the wire in slices while it copies the rest; in the tick's one flush it cost the sender
 * ~10 %: bench/README.md, "heap39b", "loop40"). With `drainFlushBytes` 0 a tick that woke a
 * writer (`EventMux.wokeWriters`) has its turns awaited by the async function instead, which keeps
 * the ticks until one with wake-ups wakes no writer. A park — idle time
 * — is awaited there too, and the async function hands back at its first turn of Deno's loop; on
 * a Deno without those internals the async function takes every tick that wakes an awaiting task
 * and the turns that follow (awaiting a promise each turn resolves). Once
 * {@link SYNC_AFTER_QUIET_TICKS} ticks in a row woke no such task — their readiness went to
 * synchronous listeners, say a stream read by `TcpConn.consume` — the loop is in its *stream
 * mode*: while busy it turns Deno's event loop every `denoTurnUs` rather than after every tick,
 * and its spins may go without yields for a while (`spinQuietStart`); the first tick that wakes
 * an awaiting task ends it.
 *
 * How long Deno's timers and I/O may wait: the microtask turns are no turn of Deno's event loop
 * (the same as the `await`s they replace), and the rules of when one comes are the loop's, as
 * before — after every busy tick (`busyTurnUs` 0) unless ACK-clocked ({@link ACK_CLOCK_TURN_MS}
 * since the last) or every reaction is done (then every `denoTurnUs`), at least every
 * `denoTurnUs` while spinning, after every blocking slice. Each such turn is a record queued for
 * Deno's next pass, after its timers and I/O poll, never one chained into the running pass.
 *
 * Two eventfds: `wakeFd` is ours (API calls made while the loop is parked write it so their
 * packets go out now), `muxFd` is for the outside world (once asked for, the mux writes it once
 * per tick that made any socket ready, so an outside poll loop can wait on it).
 *
 * @module
 */

import { POLLIN } from "../ffi/constants.ts";
import { pollfdRevents, pollfds, setPollfd } from "../ffi/structs.ts";
import {
  close,
  eventfdCreate,
  eventfdDrain,
  eventfdSignal,
  pollAsync,
  pollBlockingUs,
  schedYield,
} from "../ffi/syscalls.ts";
import { setCpuAffinity, setSchedSliceUs } from "../ffi/sched.ts";
import { clockOffsetMs } from "../ffi/clock_offset.ts";
import { Histogram } from "../core/histogram.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";
import type { Stack } from "./stack.ts";
import { DenoTurn } from "./deno_turn.ts";
import {
  type LoopTrace,
  TRACE_BLOCK,
  TRACE_FLUSH,
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
   * While the loop is in its stream mode (every reaction to readiness is complete when its
   * listener returns: a stream read by `TcpConn.consume`, say) and frames
   * keep coming (the last busy tick within `busyPollUs`), turn Deno's event loop at most this
   * often instead (µs) [50: as `denoTurnUs`]. Nothing awaits the stack then: a turn serves only
   * Deno's timers (whose resolution is 1 ms) and I/O (it cost ~0.75 KB of garbage while a turn
   * was a `setImmediate`; `DenoTurn` makes none): 500 halved what a consumed stream allocated per
   * read, but its longer spins (`sched_yield` between polls) were not shown harmless to
   * throughput on a loaded machine (bench/README.md, "rd13h").
   */
  denoTurnBusyUs?: number;
  /**
   * While ticks keep finding work, turn Deno's event loop at most this often (µs) [0: after
   * every busy tick]. A turn costs ~5 µs (a queued `DenoTurn`, Deno's I/O poll), a
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
  /**
   * After a busy-poll `sched_yield` that came straight back (nothing else wanted the CPU:
   * {@link yieldWasAlone}), the rest of that spin's polls go without one for this long (µs)
   * [{@link DEFAULT_SPIN_QUIET_US}; 0: off, a yield before every poll]. 20 cut a kernel
   * sender's receiver's syscalls 2.2–3.3× at the same rate (bench/README.md, "rx13a"); 50 with
   * `spinQuietStart: "stream"` (the default) cut them ~5× at MTU 9000 and 1500, the rate at or
   * above a yield per poll's, request/response unchanged (bench/README.md, "sys13g").
   */
  spinQuietUs?: number;
  /**
   * With `spinQuietUs`: how a spin's first poll begins [`"stream"`]. `"every"`: with a yield
   * (the form before `"stream"` became the default). `"kick"`: with
   * a yield only in the first spin after a busy tick that sent frames (its kick may have woken a
   * task onto this CPU); otherwise the spin begins in its quiet window, and a poll without a
   * yield that came late (more than {@link SPIN_FAST_YIELD_MS} for one poll: the CPU went to
   * another task) ends the window. `"probe"`: as `"kick"`, and a spin after a kick begins quiet
   * too once {@link SPIN_PROBE_ALONE} first yields in a row came straight back, yielding first in
   * one spin of {@link SPIN_PROBE_EVERY} to look again (a first yield that gave the CPU away, or a
   * late poll, starts the count over). `"stream"`: `"probe"` and the quiet window itself only
   * while the loop is in its stream mode (the readiness goes to synchronous listeners: a
   * stream consumer such as `serve --discard`); otherwise a yield before every
   * poll, as with `spinQuietUs` 0 — a request/response exchange (which awaits) keeps main's
   * spin: its ustack↔ustack p99 rose with the window and the quiet starts (bench/README.md,
   * "sys13g").
   */
  spinQuietStart?: "every" | "kick" | "probe" | "stream";
  /**
   * What the loop does for {@link YIELD_STALL_HOLD_MS} after a stalled yield (see
   * `yieldStallUs`) ["block"]: `"block"` stops busy-polling and waits in blocking `poll()`
   * slices; `"spin"` keeps busy-polling without `sched_yield()` between the polls (each yield
   * pushes the thread's scheduler deadline a slice further, so a CPU-bound task — even a
   * niced one of the same session — wins the next yield and keeps the CPU until the tick; a
   * spin that does not yield keeps it against a niced task, and the yields come back after the
   * hold). A "spin" hold in which {@link HOLD_PREEMPTS} polls lost the CPU anyway (another
   * session's task: with autogroups its nice does not count against ours) ends there and
   * the guard rests {@link YIELD_STALL_REST_MS}. Opt-in: beside niced hogs of its session it
   * kept kernel→ustack TCP 2.6× and request/response tails 10× better than the yielding spin,
   * but it was not shown harmless to ustack↔ustack request/response on a quiet machine
   * (bench/README.md, "loop13r").
   */
  yieldStallMode?: "block" | "spin";
  /**
   * Ticks in a row without microtask turns after which the loop is in its stream mode
   * [{@link SYNC_AFTER_QUIET_TICKS}]. 0: from the first turn of Deno's event loop that follows a
   * tick without them — the paced part of `pingpong`'s warm-up, whose loops thereby run the paths
   * a real loop takes only in that mode (its spins' quiet window and probe; bench/README.md,
   * "warm13j").
   */
  syncAfterQuietTicks?: number;
  /**
   * Turn Deno's event loop through its core immediate queue, and take microtask turns from a
   * turn's callback (`DenoTurn`) where this Deno has both [true]. false: each turn is a
   * `setImmediate`, and the async function awaits the microtask turns and every turn taken while
   * tasks await readiness — what a Deno whose internals differ gets (for tests of that path).
   */
  coreTurns?: boolean;
  /**
   * While a tick's microtask turns run dry from a turn's callback, send the output queued so far
   * at once each time the application has written this many bytes (a TX flush inside the turns:
   * `Stack.written`) [{@link DRAIN_FLUSH_BYTES}]. A bulk writer's refill then reaches the wire in
   * slices while it copies the rest, and the ticks that wake it take the drain too. 0: no such
   * flush, and a tick that wakes a writer (a task waiting for send space) awaits its turns in
   * the async function instead — the rule before, since the whole refill before the tick's one
   * flush cost the sender ~10 % (bench/README.md, "heap39b", "loop40").
   */
  drainFlushBytes?: number;
}

/** Counters of the loop. */
export interface EventLoopStats {
  /** Ticks run. */
  ticks: number;
  /** Polls of the drivers in the synchronous busy-poll loop. */
  spins: number;
  /**
   * `sched_yield` calls of the busy poll (a syscall each: the driver's `syscalls` and the
   * parks and slices do not count them).
   */
  spinYields: number;
  /** Of those, the yields at a spin's first poll. */
  spinFirstYields: number;
  /** Of the first yields, those after a busy tick that sent frames (its kick). */
  spinKickYields: number;
  /** Of the first yields, those that came straight back ({@link yieldWasAlone}). */
  spinFirstAlone: number;
  /** Spins that began in their quiet window, without a yield (`spinQuietStart`). */
  spinQuietStarts: number;
  /** Polls without a yield that came late and ended a quiet window (`spinQuietStart`). */
  spinLatePolls: number;
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
  /**
   * Of those, the ones taken while the readiness goes to synchronous listeners (after
   * {@link SYNC_AFTER_QUIET_TICKS} ticks without microtask turns).
   */
  directYields: number;
  /**
   * Of the yields, those the async function awaited (a promise resolved by the turn): after a
   * park, and on a Deno where the loop cannot run microtask turns from a turn's callback
   * (`DenoTurn.microtasks`); the rest come from a turn's callback with no promise.
   */
  promiseYields: number;
  /**
   * Ticks whose microtask turns ran from a turn's callback (`DenoTurn.runMicrotasks`, the
   * microtask queue run dry at once) rather than as `await`s of the async function.
   */
  inlineTurns: number;
  /** Ticks that threw (a stack bug, reported and survived). */
  tickErrors: number;
  /** Busy polls cut short by a `sched_yield` longer than `yieldStallUs`. */
  yieldStalls: number;
  /**
   * "spin" holds after a stalled yield that ended because the loop lost the CPU without
   * yielding ({@link HOLD_PREEMPTS} times, longer than `yieldStallUs` between two polls):
   * then the guard rests for {@link YIELD_STALL_REST_MS}.
   */
  yieldStallsPreempted: number;
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
 * `drainFlushBytes`' default: 512 KiB. At MTU 9000 against the kernel (`tx_ab`) a bulk
 * sender's drained refill (~3–4 MB: the 4-MB send buffer empties between refills, the ACKs of a
 * whole kick coming back together) made 0.87× main's rate in one flush; flushed every 1 MiB it
 * made main's, every 512 KiB 1.10× (6 rounds each; bench/README.md, "loop40"). An A/B of values
 * over 46 one-stream rounds at 9000 and 1500 and 4 or 16 writers ("flush41") found the rate flat
 * from 512 KiB to 2 MiB, no value there shown better, and its edges worse: 4 MiB (the refill
 * copied before its first flush) 0.91×, 256 KiB 0.98×, and with 16 writers 0 (no flush inside
 * the turns) 0.86×. 512 KiB stays: the range's smallest value, a refill's first bytes soonest out.
 */
export const DRAIN_FLUSH_BYTES = 512 * 1024;

/** Brackets {@link EventLoop.clockOffsetMs} reads; the closest wins. */
const CLOCK_OFFSET_BRACKETS = 50;

/**
 * Idle ticks in a row, each followed by a turn of Deno's event loop, before the synchronous
 * spin starts. A bulk transfer's gaps between frames are shorter than that: its ticks keep
 * taking the frames that arrived during a turn in one batch (one TX flush, one ACK) instead
 * of one frame per poll.
 */
const SPIN_AFTER_IDLE_TICKS = 2;

/**
 * Ticks in a row without microtask turns after which the loop is in its stream mode: the
 * readiness goes to synchronous listeners (a bulk stream read by `TcpConn.consume`), so while
 * busy Deno's event loop turns every `denoTurnBusyUs` rather than after every tick, and the
 * spins may go quiet (`spinQuietStart: "stream"`). A request/response exchange, whose ticks wake
 * awaiting tasks, stays out of it. (Until the thirty-ninth session the mode was also the only
 * one run from a turn's callback; the rest was the async function's, ~265 B a turn.)
 */
const SYNC_AFTER_QUIET_TICKS = 8;

/** The loop's steps (what comes next in an iteration): start a tick. */
const STEP_TICK = 0;
/** The receive half woke tasks whose reaction is to come: microtask turns, then transmit. */
const STEP_TURNS = 1;
/** The transmit half of the tick. */
const STEP_TRANSMIT = 2;
/** Readiness the transmit half raised gets microtask turns, then a tick at once. */
const STEP_TX_TURNS = 3;
/** A turn of Deno's event loop, then a tick. */
const STEP_YIELD = 4;
/** Park until a frame, a wake-up or the next deadline, then a tick. */
const STEP_PARK = 5;
/**
 * The loop's start: {@link EventLoop.#drive} hands over at once to the async function, which
 * begins with a tick.
 */
const STEP_START = 6;
/**
 * A rehearsal of {@link EventLoop.#drive}'s hand-over at the loop's start: it hands over at
 * once, and the async function returns at once.
 */
const STEP_REHEARSE = 7;
/**
 * Rehearsals of {@link EventLoop.#drive}'s hand-over a loop makes at its start: V8 allocates a
 * function's feedback vector at its 8th call (`--invocation-count-for-feedback-allocation`), so
 * calls before it leave no type feedback; ten, and the first loop of a process leaves it.
 */
const DRIVE_HAND_OVER_REHEARSALS = 10;

/**
 * How long the loop waits in blocking slices instead of busy-polling (or busy-polls without
 * yields, `yieldStallMode: "spin"`) after a stalled yield (ms).
 */
export const YIELD_STALL_HOLD_MS = 50;

/**
 * While ACK-clocked — a tick's kick sent frames and a TCP sender then stopped on its congestion
 * window with data to send — the loop ticks again at once rather than turn Deno's event loop,
 * for at most this long (ms) since the last turn: Deno's timers (1 ms resolution) and I/O still
 * get theirs. CUBIC under 1 % loss turned it after 80 % of its ticks (~5 µs of a ~58 µs round).
 */
export const ACK_CLOCK_TURN_MS = 0.5;

/**
 * The longest a busy poll's `sched_yield` may take, from the loop's last clock read (the poll
 * before it included), to count as one that gave the CPU to nobody (ms); see
 * {@link yieldWasAlone}.
 */
export const SPIN_FAST_YIELD_MS = 0.005;

/**
 * A yield (with its poll) slower than this many times the fastest seen so far gave the CPU to
 * another task: another busy-polling stack on the same CPU runs a poll and a yield of its own
 * and two context switches, at least twice the bare yield.
 */
export const SPIN_FAST_YIELD_RATIO = 1.5;

/**
 * Did a busy poll's `sched_yield` that took `ms` (with the poll before it) come straight back,
 * nothing else wanting the CPU? True when within {@link SPIN_FAST_YIELD_MS} and within
 * {@link SPIN_FAST_YIELD_RATIO} times the fastest such yield of the loop (`fastestMs`).
 *
 * @example
 * ```ts
 * import { yieldWasAlone } from "./event_loop.ts";
 * yieldWasAlone(0.0016, 0.0015); // true: a bare yield
 * yieldWasAlone(0.004, 0.0015); // false: another stack's poll and yield ran
 * ```
 */
export function yieldWasAlone(ms: number, fastestMs: number): boolean {
  // Both compares on every call (no `&&` between them): beside busy processes no yield is ever
  // fast, and the second compare, reached only after a fast one, had no type feedback when V8
  // compiled the busy poll; it threw the code away at the first yield that came straight back
  // (bench/README.md, "ring33").
  const fast = ms < SPIN_FAST_YIELD_MS;
  const near = ms < SPIN_FAST_YIELD_RATIO * fastestMs;
  return fast && near;
}

/**
 * The busy poll's quiet window by default (µs, `spinQuietUs`): with `spinQuietStart: "stream"`
 * a kernel sender's receiver made 0.144 / 0.025 syscalls per wire packet at MTU 9000 / 1500
 * against a yield per poll's 0.781 / 0.135, at the same or a higher rate (bench/README.md,
 * "sys13g").
 */
export const DEFAULT_SPIN_QUIET_US = 50;

/**
 * First yields in a row that came straight back before `spinQuietStart: "probe"` lets a spin
 * after a kick begin without one.
 */
export const SPIN_PROBE_ALONE = 16;

/**
 * With `spinQuietStart: "probe"` past {@link SPIN_PROBE_ALONE}: one spin in this many after a
 * kick still yields first.
 */
export const SPIN_PROBE_EVERY = 8;

/** `spinQuietStart` as a small integer: `"every"`. */
const QUIET_START_EVERY = 0;
/** `spinQuietStart`: `"kick"`. */
const QUIET_START_KICK = 1;
/** `spinQuietStart`: `"probe"`. */
const QUIET_START_PROBE = 2;
/** `spinQuietStart`: `"stream"`. */
const QUIET_START_STREAM = 3;

/**
 * Preemptions without a yield (polls more than `yieldStallUs` apart) that end a "spin" hold: a
 * CPU shared with another session's task takes several in a 50 ms hold (the scheduler serves
 * the sessions in turn), a niced task of the loop's own session at most one.
 */
export const HOLD_PREEMPTS = 3;

/**
 * How long the stalled-yield guard rests (ms) after a "spin" hold in which the loop lost its CPU
 * without yielding: the scheduler shares that CPU with another session's task, which takes
 * its turns whether the loop yields or not, and the loop's own session's threads (a sender, a
 * peer, V8's helpers) need its yields.
 */
export const YIELD_STALL_REST_MS = 1000;

/**
 * A settled promise to await for one microtask turn: awaiting an existing native promise makes
 * no new one (`await null` wraps its value in a fresh promise every time).
 */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * A duration of `ms` milliseconds in whole microseconds, for the loop's histograms: an integer
 * (a double handed to a call V8 does not inline is a new heap number), at most 2³¹ − 1 µs
 * (~36 min; a process stopped longer, say, is counted at the bound instead of wrapping).
 */
function durationUs(ms: number): number {
  return ms < 2147483 ? (ms * 1000) | 0 : 2147483647;
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
  /** Counters. */
  readonly stats: EventLoopStats = {
    ticks: 0,
    spins: 0,
    spinYields: 0,
    spinFirstYields: 0,
    spinKickYields: 0,
    spinFirstAlone: 0,
    spinQuietStarts: 0,
    spinLatePolls: 0,
    parks: 0,
    blocks: 0,
    muxSignals: 0,
    wakes: 0,
    inlineTicks: 0,
    yields: 0,
    directYields: 0,
    promiseYields: 0,
    inlineTurns: 0,
    tickErrors: 0,
    yieldStalls: 0,
    yieldStallsPreempted: 0,
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
  /** The longest blocking slice (µs, a small integer): 1 ms, or `maxIdleWaitMs` if shorter. */
  readonly #maxSliceUs: number;
  // Lengths in ms start as doubles (DOUBLE_ZERO): the warm-up's loops busy-poll for a whole
  // 60 s (a small integer), a real loop for 0.2 ms, and a field first held as a small integer
  // sends the code compiled on it back to the interpreter at the real loop's first tick
  // ("not a Smi", bench/README.md, "conn9m").
  readonly #busyPollMs: number = DOUBLE_ZERO;
  readonly #blockPollMs: number = DOUBLE_ZERO;
  readonly #denoTurnMs: number = DOUBLE_ZERO;
  readonly #denoTurnBusyMs: number = DOUBLE_ZERO;
  readonly #busyTurnMs: number = DOUBLE_ZERO;
  readonly #spinYield: boolean;
  readonly #schedSliceUs: number | undefined;
  readonly #cpus: readonly number[] | undefined;
  readonly #yieldStallMs: number;
  readonly #yieldStallSpin: boolean;
  /** No busy poll before this time (ms): a yield stalled. */
  #noSpinUntil = DOUBLE_ZERO;
  /** No `sched_yield` in the busy poll before this time (ms): a yield stalled. */
  #noYieldUntil = DOUBLE_ZERO;
  /** The fastest busy-poll yield so far, with its poll (ms; see {@link yieldWasAlone}). */
  #fastestYieldMs = 0.5;
  /** `spinQuietUs` in ms (0: off). */
  readonly #spinQuietMs: number;
  /** `spinQuietStart` (QUIET_START_*; every without `spinQuietUs`). */
  readonly #quietStart: number;
  /** The last busy tick sent frames, and no spin has begun since. */
  #busySent = false;
  /** First yields in a row that came straight back, up to {@link SPIN_PROBE_ALONE} ("probe"). */
  #firstAloneRun = 0;
  /** Spins after a kick since the last that yielded first, past {@link SPIN_PROBE_ALONE}. */
  #probeSkips = 0;
  /** The stalled-yield guard rests before this time (ms): a "spin" hold was preempted. */
  #stallGuardFromMs = DOUBLE_ZERO;
  /** Polls of the current "spin" hold that came more than `yieldStallUs` after the one before. */
  #holdPreempts = 0;
  /** Traced: when the receive that found the last batch began (ms). */
  #pollFromMs = DOUBLE_ZERO;
  /** When Deno's event loop last had a turn (ms). */
  #lastDenoTurn = DOUBLE_ZERO;
  /**
   * The loop's latest clock read (ms): the end of the last transmit half, the return from a turn
   * of Deno's event loop, a park or a blocking slice, the spin's last poll. The next tick's
   * receive half starts from it instead of reading the clock and handing the time on — a double
   * passed to a call V8 does not inline (`Stack.receive`, `#spin`) is a new heap number, 16 B a
   * tick (bench/README.md, "heap13i"). Written only by {@link EventLoop.#readClock} and stores
   * of times already read.
   */
  #nowMs = DOUBLE_ZERO;
  /** The spin's end (ms): the receive half's limit handed to {@link EventLoop.#spin}. */
  #spinUntilMs = DOUBLE_ZERO;
  /** The loop's times that outlive an await (ms; see `#loop`): the last busy tick's end. */
  #lastBusyMs = 0;
  /** This iteration's busy-poll length (0 after a stalled yield). */
  #busyPollNowMs = DOUBLE_ZERO;
  /** When the current tick started. */
  #tickStartMs = DOUBLE_ZERO;
  /** When the current turn of Deno's event loop was asked for. */
  #turnFromMs = 0;
  #pollfds: Uint8Array = new Uint8Array(0);
  #nfds = 0;
  #parked = false;
  #stopped = false;
  #running: Promise<void> | null = null;
  /** Settle `run()`'s promise. */
  #runResolve: (() => void) | null = null;
  #runReject: ((error: unknown) => void) | null = null;
  /**
   * Ticks in a row that found nothing to do, with a yield after each: the application has had
   * its turn since the last work (its reaction to a delivery, say a reply, is queued).
   */
  #idleTicks = 0;
  /**
   * Ticks in a row that needed no microtask turns: from {@link SYNC_AFTER_QUIET_TICKS} on, the
   * loop is in its stream mode ({@link EventLoop.#direct}).
   */
  #quietTicks = 0;
  /** Every reaction to the last busy tick's readiness was done when it ended. */
  #busyReacted = true;
  /** Frames the drivers had queued for sending as of the last look (API calls queue them too). */
  #sentFrames = 0;
  /** The current tick's frames received. */
  #frames = 0;
  /** The current tick's deliveries of readiness (its receive half's). */
  #woken = 0;
  /** Traced: when the current microtask turns began (ms; a field: it outlives awaits). */
  #waitFromMs = 0;
  /**
   * The trace attached when the current microtask turns began (null: none), recorded into only
   * if it is still the one attached when they end. A trace attached during the turns — by the
   * application they run, as `uperf client --trace` does after its `await connect` — saw no
   * start: recorded from `#waitFromMs`'s 0, the turns spanned the process's life so far, the
   * connect included (~0.3–0.4 s: 3.9–8.8 µs of "microtasks" per tick of a 4-s lossy run in
   * `tx_trace`; bench/README.md, "write32").
   */
  #waitTrace: LoopTrace | null = null;
  /** The timeout of the park to come (ms). */
  #parkTimeoutMs = 0;
  /**
   * The loop's stream mode: since {@link SYNC_AFTER_QUIET_TICKS} ticks in a row without
   * microtask turns (set at a turn of Deno's event loop), until a tick that needs them or a park.
   */
  #direct = false;
  /**
   * With `drainFlushBytes` 0, the last tick that woke tasks woke a writer (a task waiting for
   * writable space): the loop stays in its async function, whose turns it awaits, until a tick
   * wakes only others — the path before "loop40" for a bulk sender, with no hand-over (an async
   * call) per tick ({@link EventLoop.#turnsInline}).
   */
  #writing = false;
  /** `syncAfterQuietTicks`. */
  readonly #syncAfterQuietTicks: number;
  /** `drainFlushBytes`. */
  readonly #drainFlushBytes: number;
  #closed = false;
  #jsWake: (() => void) | null = null;
  /** Resolves the pending turn of Deno's event loop. */
  #turnResolve: (() => void) | null = null;
  /**
   * The async function's turns of Deno's event loop (they resolve its promise: `#onTurn`), taken
   * only where {@link EventLoop.#driveTurn} cannot run microtask turns.
   */
  readonly #asyncTurn: DenoTurn;
  /** {@link EventLoop.#drive}'s turns of Deno's event loop (`#onDriveTurn`). */
  readonly #driveTurn: DenoTurn;
  /** The loop waits in a real poll() (not a JS timer). */
  #pollable = false;
  /** A tick is running (the loop's or an inline one). */
  #inTick = false;
  #inlineQueued = false;
  /** The park was ended by {@link EventLoop.rehearseIdle}. */
  #rehearse = false;
  /** When the current park's poll times out by itself (ms). */
  #parkDeadlineMs = Infinity;
  readonly #inlineTick = (): void => {
    this.#inlineQueued = false;
    this.#runInline();
  };

  /** Attach to `stack` (creates the two eventfds). */
  constructor(stack: Stack, opts: EventLoopOptions = {}) {
    this.#stack = stack;
    // Made here, after the fields: their callbacks are arrow-function fields declared below.
    const turnOpts = { coreQueue: opts.coreTurns ?? true };
    this.#asyncTurn = new DenoTurn(this.#onTurn, turnOpts);
    this.#driveTurn = new DenoTurn(this.#onDriveTurn, turnOpts);
    this.#maxIdleWaitMs = opts.maxIdleWaitMs ?? 1000;
    this.#maxSliceUs = Math.min(1000, Math.ceil(this.#maxIdleWaitMs * 1000)) | 0;
    this.#busyPollMs = (opts.busyPollUs ?? 200) / 1000;
    this.#blockPollMs = (opts.blockPollUs ?? 5000) / 1000;
    this.#denoTurnMs = (opts.denoTurnUs ?? 50) / 1000;
    this.#denoTurnBusyMs = Math.max(this.#denoTurnMs, (opts.denoTurnBusyUs ?? 0) / 1000);
    this.#busyTurnMs = (opts.busyTurnUs ?? 0) / 1000;
    this.#spinYield = opts.spinYield ?? true;
    this.#schedSliceUs = opts.schedSliceUs;
    this.#cpus = opts.cpus;
    this.#yieldStallMs = (opts.yieldStallUs ?? 0) / 1000;
    this.#yieldStallSpin = opts.yieldStallMode === "spin";
    this.#spinQuietMs = (opts.spinQuietUs ?? DEFAULT_SPIN_QUIET_US) / 1000;
    const start = opts.spinQuietStart ?? "stream";
    this.#quietStart = this.#spinQuietMs <= 0 || start === "every"
      ? QUIET_START_EVERY
      : start === "kick"
      ? QUIET_START_KICK
      : start === "probe"
      ? QUIET_START_PROBE
      : QUIET_START_STREAM;
    this.#syncAfterQuietTicks = Math.max(0, opts.syncAfterQuietTicks ?? SYNC_AFTER_QUIET_TICKS);
    this.#drainFlushBytes = Math.max(0, Math.floor(opts.drainFlushBytes ?? DRAIN_FLUSH_BYTES));
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
    this.times.tickUs.record(durationUs(end - start));
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

  /**
   * Wake the parked loop as the end of a burst of work leaves it: it busy-polls for
   * `busyPollUs`, waits in blocking slices for `blockPollUs`, and parks again — where a loop
   * woken with nothing to do goes straight back to its park. For a warm-up before the ready line
   * (`pingpong`'s): the loop's own idle paths, on its own driver, then have V8's type feedback
   * before the first real connection; run only once at the process's start, V8 had not
   * allocated the loop's feedback yet, and a fresh client's first blocking slice threw the
   * loop's code away in some runs (bench/README.md, "warm13j"). Nothing happens unless parked.
   */
  rehearseIdle(): void {
    if (!this.#parked || this.#stopped) return;
    this.#rehearse = true;
    this.#signalWake();
  }

  /**
   * The loop's clock (the stack's, which times {@link EventLoop.trace}'s records) minus
   * `performance.now()`, in ms, measured now from the closest of 50 brackets
   * (`ffi/clock_offset.ts`): what a trace reader subtracts to put the loop's records on the
   * `performance.now()` line of the application's own times. Placed at its start to ~0.1 µs,
   * the stack's clock still read 5.4 µs ahead of `performance.now()` in one traced process of
   * sixteen — enough to misplace a round trip of ~30 µs (bench/README.md, flake13l). Call it
   * outside a tick (from application code), where the clock reads the time.
   */
  clockOffsetMs(): number {
    const clock = this.#stack.clock;
    return clockOffsetMs(CLOCK_OFFSET_BRACKETS, () => performance.now(), () => clock.nowMs());
  }

  /** True while the loop waits in its park (a wake-up or an API call's inline tick ends it). */
  get parked(): boolean {
    return this.#parked;
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
      this.#running = new Promise<void>((resolve, reject) => {
        this.#runResolve = resolve;
        this.#runReject = reject;
      });
      try {
        this.#setUp();
        // Through the hand-over, not straight to the async function: see #drive.
        for (let i = 0; i < DRIVE_HAND_OVER_REHEARSALS; i++) this.#drive(STEP_REHEARSE);
        this.#drive(STEP_START);
      } catch (e) {
        this.#finish(e);
      }
    }
    return this.#running;
  }

  /** What the loop needs before its first tick: the poll set, the thread's scheduling. */
  #setUp(): void {
    const stack = this.#stack;
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
    this.#pollable = stack.nics.every((n) => n.driver.fd >= 0);
    this.#readClock();
    this.#lastBusyMs = this.#nowMs;
    this.#idleTicks = 0;
    this.#quietTicks = 0;
    this.#sentFrames = this.#framesSent();
  }

  /** The loop ended (stopped, or it threw): settle `run()`'s promise. */
  #finish(error: unknown): void {
    const resolve = this.#runResolve;
    const reject = this.#runReject;
    this.#runResolve = null;
    this.#runReject = null;
    this.#running = null;
    if (error === null) resolve?.();
    else reject?.(error);
  }

  /**
   * The loop as an async function, from `step` on: the one that parks, and that awaits the
   * microtask turns of the ticks that follow a park (they run in a microtask, where V8 runs no
   * nested checkpoint). It hands over to {@link EventLoop.#drive} at its first turn of Deno's
   * event loop. On a Deno where `DenoTurn` cannot run microtask turns it keeps every tick that
   * needs them, and hands over only once {@link SYNC_AFTER_QUIET_TICKS} ticks in a row did not.
   */
  async #asyncLoop(step: number): Promise<void> {
    if (step === STEP_REHEARSE) return;
    try {
      while (!this.#stopped && !this.#stack.closed) {
        if (step === STEP_TICK) step = this.#receiveHalf();
        if (step === STEP_TURNS) {
          // Microtask turns between the halves of the tick: application code the readiness
          // just woke (an await on a read, and the awaits of its callers) runs now — ~0.1 µs a
          // turn against several µs for a turn of Deno's event loop — so what it sends in
          // answer leaves in this tick with the ACK it owes: one segment, not two. One socket
          // woken: its first write ends the wait. Several (a server's many connections): every
          // turn runs, since the first to answer says nothing of the others still on their
          // way. The turns end early too once every task a delivery woke waits on its queue
          // again: it reacted, and further turns would wait for nothing (each `await`
          // allocates).
          const stack = this.#stack;
          const muxer = stack.mux;
          const woken = this.#woken;
          const all = woken > 1 || muxer.calledWaiters;
          const waitTrace = this.trace;
          this.#waitTrace = waitTrace;
          this.#waitFromMs = waitTrace === null ? 0 : stack.clock.nowMs();
          let turns = 0;
          for (; turns < MICROTASK_TURNS && (all || !stack.tickRequested); turns++) {
            if (muxer.reactionsDone) break;
            await SETTLED;
          }
          const trace = this.#waitTrace;
          if (trace !== null && trace === this.trace) {
            trace.record(TRACE_MICROTASKS, this.#waitFromMs, stack.clock.nowMs(), turns);
          }
          this.#waitTrace = null;
          this.#quietTicks = 0;
          this.#writing = this.#writerTick(muxer.wokeWriters);
          step = STEP_TRANSMIT;
        }
        if (step === STEP_TRANSMIT) step = this.#transmitHalf();
        if (step === STEP_TICK) continue;
        if (step === STEP_TX_TURNS) {
          // Busy, and Deno's event loop had a turn lately: tick again at once. Readiness the
          // transmit half raised (send space freed) gets its microtask turns first, as the
          // receive half's did, so the writer's next chunk is queued for the next tick.
          const stack = this.#stack;
          const muxer = stack.mux;
          for (let turns = 0; turns < MICROTASK_TURNS && !stack.tickRequested; turns++) {
            if (muxer.reactionsDone) break;
            await SETTLED;
          }
          this.#quietTicks = 0;
          this.#writing = this.#writerTick(muxer.wokeWriters);
          // The turns took time: the next tick starts now.
          this.#readClock();
          step = STEP_TICK;
          continue;
        }
        if (step === STEP_YIELD) {
          // To the synchronous driver, which takes the microtask turns too where this Deno lets
          // it (`DenoTurn.microtasks`) and the tick woke no writer (see #turnsInline); else once
          // the readiness goes to synchronous listeners.
          const quiet = this.#quietTicks >= this.#syncAfterQuietTicks;
          const inline = this.#driveTurn.microtasks && !this.#writing;
          if (quiet || inline) {
            this.#turnThenDrive();
            return;
          }
          await this.#yieldToDeno();
          this.#yielded();
          step = STEP_TICK;
          continue;
        }
        await this.#park();
        step = STEP_TICK;
      }
      this.#finish(null);
    } catch (e) {
      this.#finish(e);
    }
  }

  /**
   * The loop without an async function: ticks from a `DenoTurn` callback, one turn of
   * Deno's event loop after another, with no promise and no resumption per turn; a tick's
   * microtask turns run from the callback too ({@link EventLoop.#turnsInline}). It hands back
   * to {@link EventLoop.#asyncLoop} when the loop parks, or when microtask turns cannot run
   * here (called from `run()`, or on a Deno without `runNextTicks`).
   * `from` is {@link STEP_TICK}; from `run()`, {@link STEP_REHEARSE} (the hand-over at once, to
   * an async function that returns at once: {@link DRIVE_HAND_OVER_REHEARSALS} times), then
   * {@link STEP_START} (the hand-over at once, with a tick first in the async function). So the
   * hand-over's store and call have V8's type feedback from every process's first loop on:
   * reached only when a loop driven so went to park (or needed microtask turns), V8 compiled
   * this function without them and threw its code away at a server's first such park after its
   * ready line (bench/README.md, "flake34", "drive35").
   */
  #drive(from: number): void {
    let step = from;
    while (step === STEP_TICK && !this.#stopped && !this.#stack.closed) {
      step = this.#receiveHalf();
      if (step === STEP_TURNS) {
        // The readiness's microtask turns, here and now when called from a turn's callback;
        // else (or on a Deno without the core's `runNextTicks`) the async function awaits them.
        if (!this.#turnsInline(true)) break;
        step = STEP_TRANSMIT;
      }
      if (step === STEP_TRANSMIT) step = this.#transmitHalf();
      if (step === STEP_TX_TURNS) {
        if (!this.#turnsInline(false)) break;
        // The turns took time: the next tick starts now.
        this.#readClock();
        step = STEP_TICK;
      }
    }
    if (step === STEP_YIELD) {
      this.#turnThenDrive();
      return;
    }
    this.#direct = false;
    // Stopped (or the stack closed) before a tick's end.
    if (step === STEP_TICK) {
      this.#finish(null);
      return;
    }
    void this.#asyncLoop(step === STEP_START ? STEP_TICK : step);
  }

  /**
   * The microtask turns of a tick driven from {@link EventLoop.#drive}: the receive half's
   * (`received`) or the transmit half's readiness. Taken when the async function takes them (the
   * same conditions: none once every woken task waits again), but in one call of Deno's
   * `runNextTicks` from the turn's callback (`DenoTurn.runMicrotasks`): the microtask queue run
   * dry — every turn, not up to {@link MICROTASK_TURNS}: there is no promise of ours to stop
   * at — then the nextTicks. False when that cannot run here (not called from the turn's
   * callback, or no `runNextTicks`): nothing ran, and the async function takes over.
   *
   * While they run, the stack sends its output every `drainFlushBytes` the application writes
   * (`Stack.flushWrites`): a bulk sender's whole refill before the tick's one flush lost ~10 % at
   * MTU 9000 (`tx_ab`, bench/README.md, "heap39"), the copy of the refill no longer overlapping
   * the kick of its start ("loop40"). With `drainFlushBytes` 0, also false — the async
   * function's awaited turns — when the tick woke a task waiting for writable space
   * (`EventMux.wokeWriters`; bench/README.md, "heap39b").
   */
  #turnsInline(received: boolean): boolean {
    const stack = this.#stack;
    const muxer = stack.mux;
    // Every operand read on every call (see #busyCadence).
    const many = this.#woken > 1 || muxer.calledWaiters;
    const all = received && many;
    const requested = stack.tickRequested;
    const done = muxer.reactionsDone;
    const writer = this.#writerTick(muxer.wokeWriters);
    this.#writing = writer;
    const trace = this.trace;
    const from = trace === null ? 0 : stack.clock.nowMs();
    const wanted = (all || !requested) && !done;
    if (wanted && writer) return false;
    // The application's writes in the turns go out every `drainFlushBytes` (Stack.written).
    const every = this.#drainFlushBytes;
    stack.flushWrites(wanted ? every : 0);
    let ran = false;
    try {
      ran = wanted && this.#driveTurn.runMicrotasks();
    } finally {
      stack.flushWrites(0);
    }
    if (wanted && !ran) return false;
    this.stats.inlineTurns += wanted ? 1 : 0;
    if (trace !== null && received) {
      trace.record(TRACE_MICROTASKS, from, stack.clock.nowMs(), wanted ? 1 : 0);
    }
    this.#quietTicks = 0;
    this.#direct = false;
    return true;
  }

  /**
   * A tick that woke a writer (`woke`) awaits its turns in the async function — only without
   * flushes inside a drain (`drainFlushBytes` 0). Both read on every call (see #busyCadence).
   */
  #writerTick(woke: boolean): boolean {
    // The compare made at every call, not behind `woke &&`: no tick of `serve --http`'s warm-up
    // woke a writer, and V8 threw this code away at the first real one ("insufficient type
    // feedback for compare operation", serve_loop_deopt_test).
    const awaited = this.#drainFlushBytes === 0;
    return woke && awaited;
  }

  /**
   * A turn of Deno's event loop, then {@link EventLoop.#drive} (no promise). The loop counts as
   * driven without its async function ({@link EventLoop.#direct}: readiness goes to synchronous
   * listeners) from {@link SYNC_AFTER_QUIET_TICKS} ticks in a row without microtask turns on.
   */
  #turnThenDrive(): void {
    const direct = this.#direct || this.#quietTicks >= this.#syncAfterQuietTicks;
    this.#direct = direct;
    const stats = this.stats;
    stats.yields++;
    stats.directYields += direct ? 1 : 0;
    this.#driveTurn.request();
  }

  readonly #onDriveTurn = (): void => {
    this.#yielded();
    try {
      this.#drive(STEP_TICK);
    } catch (e) {
      this.#direct = false;
      this.#finish(e);
    }
  };

  /**
   * The first half of an iteration: the receive half of a tick (after a busy poll when
   * idle). Returns {@link STEP_TURNS} when the readiness it delivered woke tasks whose
   * reaction is still to come, else {@link STEP_TRANSMIT}.
   */
  #receiveHalf(): number {
    const stack = this.#stack;
    const muxer = stack.mux;
    const mux = muxer.stats;
    // The tick starts at the loop's last clock read (the previous transmit half's end, the
    // return from a turn of Deno's event loop, a park or a blocking slice): no clock read of
    // its own (an op, ~0.1 µs), and no time handed to a call — `Stack.receive(true)` takes
    // the clock's last answer, that same read, for the stack's timers (a clock without
    // `beginTickAtLast` reads the time instead).
    const start = this.#nowMs;
    const deliveries = mux.deliveries;
    muxer.beginReactions();
    // Idle while busy-polling: poll in a synchronous loop until something happens, the busy
    // poll ends, or Deno's event loop is due a turn.
    // After a stalled yield the busy poll is off for a while (the waits go to blocking slices).
    const busyPollNowMs = start < this.#noSpinUntil ? 0 : this.#busyPollMs;
    this.#busyPollNowMs = busyPollNowMs;
    const lastBusy = this.#lastBusyMs;
    // Read here, not in the branch below: see #busyCadence. (A warm-up whose spins all came
    // at the busy cadence left `#denoTurnMs`'s read there without feedback, and V8 threw the
    // loop's code away at a real tick beside CPU hogs.)
    const turnBusyMs = this.#denoTurnBusyMs;
    const turnIdleMs = this.#denoTurnMs;
    const lastDenoTurn = this.#lastDenoTurn;
    const spinUntil = this.#idleTicks >= SPIN_AFTER_IDLE_TICKS && start - lastBusy < busyPollNowMs
      ? Math.min(
        lastBusy + busyPollNowMs,
        lastDenoTurn + (this.#busyCadence() ? turnBusyMs : turnIdleMs),
      )
      : 0;
    let frames = 0;
    this.#inTick = true;
    const trace = this.trace;
    this.#pollFromMs = start;
    try {
      frames = stack.receive(true);
      if (frames === 0 && spinUntil > start && mux.deliveries === deliveries) {
        this.#spinUntilMs = spinUntil;
        frames = this.#spin(deliveries);
      }
      if (trace !== null && frames > 0) this.#traceRx(trace, frames);
    } catch (e) {
      // A bug somewhere below must not stop the host: report it, keep running.
      if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
    } finally {
      this.#inTick = false;
    }
    // After a spin the tick starts at its last poll.
    this.#tickStartMs = this.#nowMs;
    this.#frames = frames;
    const woken = mux.deliveries - deliveries;
    this.#woken = woken;
    if (woken === 0) return STEP_TRANSMIT;
    // A tick asked for during the delivery is no answer when a `waitCall` function (a waiting
    // read) ran there: its reader's reaction is still to come. (Both read whatever `woken`:
    // the warm-up's ticks wake many sockets at once, so V8 had no feedback for reads only a
    // tick that woke one reached, and threw the code away at a real one: "conn9q".)
    const requested = stack.tickRequested;
    const calledWaiters = muxer.calledWaiters;
    if ((woken > 1 || !requested || calledWaiters) && !muxer.reactionsDone) return STEP_TURNS;
    if (trace !== null) {
      const now = stack.clock.nowMs();
      trace.record(TRACE_MICROTASKS, now, now, 0);
    }
    return STEP_TRANSMIT;
  }

  /**
   * The second half of an iteration: the transmit half of the tick, then what comes next —
   * another tick at once ({@link STEP_TICK}, also after a blocking poll slice that found
   * frames), microtask turns first ({@link STEP_TX_TURNS}), a turn of Deno's event loop
   * ({@link STEP_YIELD}) or a park ({@link STEP_PARK}, for `#parkTimeoutMs`).
   */
  #transmitHalf(): number {
    const stack = this.#stack;
    const clock = stack.clock;
    const mux = stack.mux.stats;
    const times = this.times;
    const trace = this.trace;
    const beforeTransmit = mux.deliveries;
    const ackClock = stack.tcp.ackClock;
    const cwndStops = ackClock.cwndStops;
    const handoffs = this.#kickHandoffs();
    // Read here, not in the branches below: see #busyCadence.
    const turnBusyMs = this.#denoTurnBusyMs;
    const turnIdleMs = this.#denoTurnMs;
    const busyTurnMs = this.#busyTurnMs;
    const lastDenoTurn = this.#lastDenoTurn;
    const transmitFrom = trace === null ? 0 : clock.nowMs();
    try {
      if (trace === null) stack.transmit();
      else this.#tracedTransmit(trace);
    } catch (e) {
      if (++this.stats.tickErrors <= 10) console.error("ustack: tick failed:", e);
    }
    this.stats.ticks++;
    this.#quietTicks++;
    this.#readClock();
    const now = this.#nowMs;
    times.tickUs.record(durationUs(now - this.#tickStartMs));
    const sent = this.#sentFrames;
    if (trace !== null) {
      trace.record(TRACE_TICK, this.#tickStartMs, now, this.#frames);
      const out = this.#framesSent() - sent;
      trace.record(TRACE_TRANSMIT, transmitFrom, now, out);
      if (out !== 0) trace.record(TRACE_TX, now, now, out);
    }
    // Busy: frames came in, or went out since the last look (a pure sender, say a UDP
    // blast, never receives: else it would park and be woken between its bursts).
    const sentNow = this.#framesSent();
    let reacted = false;
    if (this.#frames > 0 || stack.hasPendingWork || sentNow !== sent) {
      this.#busySent = sentNow !== sent;
      this.#sentFrames = sentNow;
      this.#lastBusyMs = now;
      this.#idleTicks = 0;
      reacted = this.#reactedInTick();
      this.#busyReacted = reacted;
    } else this.#idleTicks++;
    const idleTicks = this.#idleTicks;
    // Compared at every tick, not only in the busy branch below that returns it: `serve
    // --http`'s warm-up never took that return, and V8 threw the transmit half away at the
    // first real download that did ("insufficient type feedback for compare operation", 1 run
    // in ~9 of serve_loop_deopt_test at the merge of "drive35").
    const deliveredHere = mux.deliveries !== beforeTransmit;
    if (idleTicks === 0) {
      const sinceTurn = now - lastDenoTurn;
      // Each read and compared at every busy tick, then combined: behind `&&`, the kick's
      // hand-off count was read only by a tick that sent frames and stopped a sender on its
      // window within ACK_CLOCK_TURN_MS of a turn — never in `serve --http`'s warm-up — and
      // V8 threw the transmit half away at the first such tick after its ready line
      // (bench/README.md, "drive35").
      const turnedLately = sinceTurn < ACK_CLOCK_TURN_MS;
      const sentSome = sentNow !== sent;
      const stoppedOnWindow = ackClock.cwndStops !== cwndStops;
      const kickedHere = this.#kickHandoffs() === handoffs;
      const ackClocked = turnedLately && sentSome && stoppedOnWindow && kickedHere;
      if (sinceTurn < busyTurnMs || ackClocked) {
        // Busy, and Deno's event loop had a turn lately: tick again at once (after the
        // transmit half's readiness got its microtask turns). So too while ACK-clocked: this
        // tick's kick sent frames on this thread (none handed to a kicker thread) and a sender
        // then stopped on its congestion window with data to send — the ACKs that open it
        // come back during the kick on a local link (the peer's receive runs inside it), and a
        // turn of Deno's event loop first (~5 µs, after nearly every tick of CUBIC under loss)
        // only delays the next window (ACK_CLOCK_TURN_MS). A kick handed off returns before
        // the peer has the frames: its ACKs are not due yet.
        return deliveredHere ? STEP_TX_TURNS : STEP_TICK;
      }
      // Every reaction to this tick's readiness is done (see #reactedInTick): nothing needs
      // Deno's event loop but its own timers and I/O, which get a turn every `denoTurnUs`, as
      // while spinning. (A turn is ~0.8 KB of Deno's garbage: after every tick of a bulk
      // stream, most of what the stream allocated — also for a reader that awaits `read()`,
      // whose every read was a tick and a turn.)
      // (`reacted`: this busy tick's answer, worked out above at every busy tick. Called behind
      // the `&&`, the call's brand check ran only for a tick within a turn's cadence, and V8
      // threw the transmit half compiled without its feedback away at such a tick after `serve
      // --http`'s ready line, 1 run in 10 beside two busy loops; bench/README.md, "probe36".)
      const turnEveryMs = this.#busyCadence() ? turnBusyMs : turnIdleMs;
      if (sinceTurn < turnEveryMs && reacted) return STEP_TICK;
    }
    this.#turnFromMs = now;
    const busyPollMs = this.#busyPollNowMs;
    const lastBusyMs = this.#lastBusyMs;
    // Both compared on every tick: the warm-up's loops busy-poll for 60 s, so V8 had no
    // feedback for the second and threw the code away at a real loop's first idle tick ("conn9q").
    const polling = now - lastBusyMs < busyPollMs;
    const fewIdle = idleTicks < 2;
    if (polling || fewIdle) {
      // After work, and whenever it is due: Deno's event loop runs (application code woken
      // by timers and I/O, the yield that makes an application's reaction go out). Between
      // those turns an idle loop spins at the top without allocating.
      // With every reaction to the last busy tick done (and to this one), nothing awaits a
      // turn: the idle ticks before the spin go without one too (Deno's still comes every
      // `denoTurnUs`). A listener's reaction is not followed (a server's, say, that hands
      // requests on to promises), nor a task's woken through a wait's promise: their idle
      // ticks keep their turns, as on main.
      const turnPerIdleTick = idleTicks < SPIN_AFTER_IDLE_TICKS &&
        !(this.#busyReacted && stack.mux.reactionsDone);
      const turnEveryMs = this.#busyCadence() ? turnBusyMs : turnIdleMs;
      return turnPerIdleTick || now - lastDenoTurn >= turnEveryMs ? STEP_YIELD : STEP_TICK;
    }
    // The time to the next deadline is compared and scaled as it is, and bounded by
    // `maxIdleWaitMs` only after (in whole µs for a slice): the bounded wait was 1000 (a small
    // integer) at every slice of a stack with no timer armed — a warm-up's real stack — so V8
    // compiled its compares and arithmetic for small integers and threw the code away ("not
    // int32") at the first fractional wait, a real connection's timer (bench/README.md,
    // "flake34"). A time with no timer armed (Infinity) is a double like any other.
    const untilMs = stack.nextDeadlineMs() - now;
    if (untilMs <= 0) return STEP_YIELD;
    if (this.#pollable && now - lastBusyMs < busyPollMs + this.#blockPollMs) {
      this.stats.blocks++;
      // A slice of at most 1 ms, ending at the next deadline to the microsecond: a pacing
      // release or a TSO-deferral wake-up a fraction of a millisecond away must not wait
      // for the whole millisecond (at 10 Gbit/s that is 1.25 MB not sent).
      const pollfds = this.#pollfds;
      const nfds = this.#nfds;
      // In whole microseconds: a fraction of a millisecond passed to the call was a heap
      // number per slice (bench/README.md, "heap13q"). Without a branch: a warm-up's slices
      // all end at the whole millisecond (its real stack has no timer armed), so V8 had no
      // feedback for a shorter slice's `Math.ceil` (in `timeout < 1 ? … : 1000`) and threw the
      // loop's code away at the first deadline under 1 ms away in the real connections
      // (bench/README.md, "ring33", "flake34").
      const sliceUs = Math.min(Math.ceil(untilMs * 1000), this.#maxSliceUs) | 0;
      const ready = pollBlockingUs(pollfds, sliceUs, nfds);
      // The wake eventfd's revents read after every slice (0 after a timeout), not only after
      // one that found an fd ready: no slice before a fresh process's ready line finds frames,
      // so V8 had no feedback for that read and threw the loop's code away at the first real
      // one (bench/README.md, "conn9q").
      const woken = (pollfdRevents(pollfds, nfds - 1) & POLLIN) !== 0;
      this.#readClock();
      const woke = this.#nowMs;
      times.blockUs.record(durationUs(woke - now));
      if (trace !== null) trace.record(TRACE_BLOCK, now, woke, ready);
      if (ready > 0 && woken) eventfdDrain(this.#wakeFd);
      // Frames: tick at once. A timeout: give Deno's timers and I/O their turn first.
      if (ready > 0) return STEP_TICK;
      this.#turnFromMs = woke;
      return STEP_YIELD;
    }
    this.#parkTimeoutMs = Math.ceil(Math.min(this.#maxIdleWaitMs, untilMs));
    return STEP_PARK;
  }

  /**
   * Every reaction to this tick's readiness is done without a turn of Deno's event loop:
   * `reactionsDone` (it follows both halves, and is false while a woken task's reaction is
   * still queued), and either the loop is driven without its async function (the readiness
   * went to synchronous listeners), or a delivery called a `waitCall` function — the stack's own
   * readers (`read()`, `readable`, `node:net`), which waited again after the microtask turns.
   * A task woken through a wait's promise (`waitReadable`, a request/response exchange) keeps
   * main's turn after every busy tick: it may have handed the data to another task whose
   * reaction (a write) is still queued when the turns stop (`reactionsDone` follows the woken
   * task only) — without the turn that answer waited up to `denoTurnUs` (a review found 4× the
   * round trip of a reader feeding a handler task); and on a loaded machine the spin that
   * replaces the turns (`sched_yield` between polls) lengthened `rr_ab`'s ustack→kernel p99 in
   * one run (bench/README.md, "rd13h").
   */
  #reactedInTick(): boolean {
    const mux = this.#stack.mux;
    return mux.reactionsDone && (this.#direct || mux.calledWaiters);
  }

  /**
   * Deno's event loop turns every `denoTurnBusyUs` rather than `denoTurnUs` while nothing awaits
   * a turn, as of the loop's last clock read: driven without the async function, with frames
   * coming. (A boolean, not the cadence: a double returned by, or passed to, a call V8 does not
   * inline is a new heap number.)
   */
  #busyCadence(): boolean {
    // Every field read on every call: a read that only a loop driven without its async function
    // reaches has no type feedback from the warm-up's loops (which never are), and V8 threw the
    // code compiled without it away at a real loop's first such tick (bench/README.md, "conn9q").
    const busy = this.#nowMs - this.#lastBusyMs < this.#busyPollNowMs;
    return this.#direct && busy;
  }

  /** Read the clock into {@link EventLoop.#nowMs} (stored in place: no heap number). */
  #readClock(): void {
    this.#nowMs = this.#stack.clock.nowMs();
  }

  /** Park in poll() (or a JS timer) for `#parkTimeoutMs`, until a frame or a wake-up. */
  async #park(): Promise<void> {
    const clock = this.#stack.clock;
    const now = clock.nowMs();
    const timeout = this.#parkTimeoutMs;
    this.stats.parks++;
    this.#parkDeadlineMs = now + timeout;
    this.#parked = true;
    if (this.#pollable) {
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
    this.#readClock();
    const woke = this.#nowMs;
    this.times.parkUs.record(durationUs(woke - now));
    if (this.trace !== null) this.trace.record(TRACE_PARK, now, woke, 0);
    // Straight back to parking unless the next tick finds work, or the idle sequence after a
    // burst once more (rehearseIdle).
    this.#lastBusyMs = this.#rehearse ? woke : woke - this.#busyPollMs - this.#blockPollMs;
    this.#rehearse = false;
  }

  /**
   * The synchronous busy poll: receive until a frame, a delivery or pending work shows up, or
   * `#spinUntilMs` passes, handing the CPU to waiting threads between polls. Returns the frames
   * received; `#nowMs` is the time after the last poll.
   */
  #spin(deliveries: number): number {
    let until = this.#spinUntilMs;
    const stack = this.#stack;
    const clock = stack.clock;
    const mux = stack.mux.stats;
    const stats = this.stats;
    // After a stalled yield in the "spin" mode the busy poll does not yield for a while.
    let yieldCpu = this.#spinYield && this.#nowMs >= this.#noYieldUntil;
    // The guard rests after a hold that was preempted anyway (see yieldStallMode).
    let stallMs = this.#nowMs >= this.#stallGuardFromMs ? this.#yieldStallMs : 0;
    // In a "spin" hold: a poll-to-poll gap longer than the guard's limit ends it.
    let held = !yieldCpu && this.#spinYield && stallMs > 0;
    const trace = this.trace;
    const from = trace === null ? 0 : clock.nowMs();
    const spins = stats.spins;
    let frames = 0;
    // Until then this spin does not yield: its last yield came straight back. With "every"
    // (and in "stream" while the loop awaits) every spin's first poll yields: the tick before
    // it may have woken a task onto this CPU (a kernel peer's reader, woken inside the kick).
    // With "kick", a spin after a busy tick that sent nothing (no kick, nobody woken) begins
    // quiet, and so, with "probe", does one after a kick while first yields keep coming
    // straight back.
    let quietUntil = 0;
    // "stream": probe while driven without the async function, else a yield per poll.
    const stream = this.#quietStart === QUIET_START_STREAM;
    const direct = this.#direct;
    const quietStart = !stream ? this.#quietStart : direct ? QUIET_START_PROBE : QUIET_START_EVERY;
    const quietMs = stream && !direct ? 0 : this.#spinQuietMs;
    // A kick's wakee gets the first yield of the spin after it, not of every spin until the next
    // busy tick.
    const kicked = this.#busySent;
    this.#busySent = false;
    if (quietStart !== QUIET_START_EVERY && yieldCpu) {
      // The three read at every such spin, then combined: behind `&&`, the run's read was
      // reached only after a kick in "probe" mode, which a server's rehearsal of its idle
      // sequence never has, and V8 threw the busy poll's code away at its first such spin in
      // the real connections (bench/README.md, "flake34").
      const probeMode = quietStart === QUIET_START_PROBE;
      const aloneRun = this.#firstAloneRun >= SPIN_PROBE_ALONE;
      const probing = kicked && probeMode && aloneRun;
      // The skip count is read and written at every such spin (+0 when not probing): counted
      // only while probing, it was a path a fresh receiver first took after its ready line
      // (its first yields alone 16 times in a row), and V8 threw the busy poll's code away
      // there (bench/README.md, "jit13l").
      let skips = this.#probeSkips + (probing ? 1 : 0);
      if (skips >= SPIN_PROBE_EVERY) skips = 0;
      this.#probeSkips = skips;
      const skipping = skips !== 0;
      const quiet = !kicked || (probing && skipping);
      if (quiet) {
        quietUntil = this.#nowMs + quietMs;
        stats.spinQuietStarts++;
      }
    }
    let first = true;
    // One clock read per poll (two with the stalled-yield guard): the poll's tick takes the
    // clock's last answer (`Stack.receive(true)`), read after the yield, or at the end of the
    // poll before when the spin does not yield; the spin's end is checked against that read.
    for (;;) {
      // With spinQuietUs: a yield that came straight back (nobody else wanted the CPU:
      // yieldWasAlone) lets the polls of the next spinQuietUs go without one.
      const yieldNow = yieldCpu && this.#nowMs >= quietUntil;
      if (yieldNow) {
        // With the stalled-yield guard on, the yield alone is timed: a read before it (the
        // guard's one extra read per poll), since the last read may be a poll ago and a slow
        // poll (timers, a driver) is no stalled yield. Without it, the one read comes after.
        let before = 0;
        const last = this.#nowMs;
        if (stallMs > 0) {
          this.#readClock();
          before = this.#nowMs;
        }
        schedYield();
        stats.spinYields++;
        this.#readClock();
        const took = this.#nowMs - last;
        // Stored at every yield, not only at a new fastest (the first phase's isolate showed
        // V8 throw the poll away at the first faster yield after many equal ones, 1 run in 4).
        const fastest = this.#fastestYieldMs;
        this.#fastestYieldMs = took < fastest ? took : fastest;
        const alone = yieldWasAlone(took, this.#fastestYieldMs);
        // What a yield alone changes is worked out at every yield and chosen by `alone`, not
        // reached only in its branch: beside busy processes no yield comes straight back, so a
        // warm-up's busy polls never ran that code, V8 compiled the poll without feedback for
        // it and threw the code away at a fresh loop's first yield alone in its real
        // connections (the private field's read, "generic keyed access"; bench/README.md,
        // "box32", "ring33", "flake34").
        const quietFrom = this.#nowMs + quietMs;
        quietUntil = alone ? quietFrom : quietUntil;
        if (first) {
          stats.spinFirstYields++;
          stats.spinKickYields += kicked ? 1 : 0;
          stats.spinFirstAlone += alone ? 1 : 0;
          // Held at SPIN_PROBE_ALONE: all "probe" asks of it, and a count that ran on past 2**30
          // would turn this small-integer field into a double mid-run (the loop's map, its code).
          const run = this.#firstAloneRun;
          const longer = run + (run < SPIN_PROBE_ALONE ? 1 : 0);
          this.#firstAloneRun = alone ? longer : 0;
        }
        if (stallMs > 0 && this.#nowMs - before > stallMs) {
          // A CPU-bound task shares this CPU: every further yield would hand it a whole
          // scheduler tick. Poll once more, then wait blocked (see yieldStallUs).
          stats.yieldStalls++;
          if (this.#yieldStallSpin) {
            // Keep polling without yields (see yieldStallMode), in this spin and the next.
            this.#noYieldUntil = this.#nowMs + YIELD_STALL_HOLD_MS;
            this.#holdPreempts = 0;
            yieldCpu = false;
            held = true;
          } else {
            this.#noSpinUntil = this.#nowMs + YIELD_STALL_HOLD_MS;
            until = 0;
          }
        }
      }
      first = false;
      stats.spins++;
      if (trace !== null) this.#pollFromMs = clock.nowMs();
      frames = stack.receive(true);
      if (frames !== 0 || mux.deliveries !== deliveries || stack.hasPendingWork) break;
      // A poll after no yield (quiet, or a "spin" hold: one that began at this poll's yield
      // too) is timed by a read of its own.
      if (!yieldNow || !yieldCpu) {
        const prev = this.#nowMs;
        this.#readClock();
        if (
          quietStart !== QUIET_START_EVERY && yieldCpu && this.#nowMs - prev > SPIN_FAST_YIELD_MS
        ) {
          // A late poll: the CPU went to another task. Yield again from the next poll on.
          quietUntil = 0;
          this.#firstAloneRun = 0;
          stats.spinLatePolls++;
        }
        if (held && this.#nowMs - prev > stallMs && ++this.#holdPreempts >= HOLD_PREEMPTS) {
          // Taken off the CPU again and again without a yield: the stalls were the scheduler
          // sharing the CPU (another session's task), not the yields. (A niced task of this
          // session gets its rare slice too: once in a hold is no sign.) Yield again; the
          // guard rests a while.
          stats.yieldStallsPreempted++;
          this.#noYieldUntil = DOUBLE_ZERO;
          this.#stallGuardFromMs = this.#nowMs + YIELD_STALL_REST_MS;
          stallMs = 0;
          held = false;
          yieldCpu = this.#spinYield;
        }
      }
      if (this.#nowMs >= until) break;
    }
    // The tick goes on from here (its time: see #nowMs).
    this.#readClock();
    if (trace !== null) trace.record(TRACE_SPIN, from, this.#nowMs, stats.spins - spins);
    return frames;
  }

  /**
   * Trace a received batch: the kernel's receive time of its first frame (from the first NIC's
   * driver, put on this process's `performance.now()` base) and now, when the stack has it.
   */
  #traceRx(trace: LoopTrace, frames: number): void {
    const driver = this.#stack.nics[0]?.driver;
    const stamp = driver?.rxStampMs === undefined ? NaN : driver.rxStampMs();
    trace.record(TRACE_RX, stamp - trace.timeOrigin, this.#pollFromMs, frames);
  }

  /** A traced tick's transmit: output, then the drivers' flush timed apart ({@link TRACE_FLUSH}). */
  #tracedTransmit(trace: LoopTrace): void {
    const stack = this.#stack;
    stack.transmitOutput();
    const handoffs = this.#kickHandoffs();
    const from = stack.clock.nowMs();
    stack.transmitFlush();
    trace.record(TRACE_FLUSH, from, stack.clock.nowMs(), this.#kickHandoffs() - handoffs);
  }

  /** Kicks the drivers handed to a kicker thread so far (AF_PACKET's `txKickHandoffs`). */
  #kickHandoffs(): number {
    const nics = this.#stack.nics;
    let n = 0;
    for (let i = 0; i < nics.length; i++) {
      n += (nics[i].driver.stats as { txKickHandoffs?: number }).txKickHandoffs ?? 0;
    }
    return n;
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
   * and I/O runs). The executor and the turn's callback are bound once: a turn costs the
   * promise and its resolving functions, nothing else — the `DenoTurn` re-queues a record made
   * once, where a `setImmediate` made ~500 B (bench/README.md, "heap38"); it used to be an async
   * method, a promise and two closures more — on a request/response exchange two turns per
   * round trip and side, most of what a round trip allocated.
   */
  #yieldToDeno(): Promise<void> {
    this.stats.yields++;
    this.stats.promiseYields++;
    return new Promise(this.#turnExecutor);
  }

  readonly #turnExecutor = (resolve: () => void): void => {
    this.#turnResolve = resolve;
    this.#asyncTurn.request();
  };

  readonly #onTurn = (): void => {
    const resolve = this.#turnResolve;
    this.#turnResolve = null;
    if (resolve !== null) resolve();
  };

  /** Back from a turn of Deno's event loop that began at `#turnFromMs`: time it. */
  #yielded(): void {
    const now = this.#turnFromMs;
    this.#readClock();
    const back = this.#nowMs;
    this.#lastDenoTurn = back;
    this.times.yieldUs.record(durationUs(back - now));
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
