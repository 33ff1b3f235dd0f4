/**
 * `--prewarm N` of `serve` and `pingpong`: before the ready line, N short connections between
 * two private stacks on an in-memory wire run the command's own server (and client) code, so
 * that V8 has compiled the connection paths before the first real connection
 * ({@link warmUpConnections}); the real stack's pools are made ready too (`StackOptions.prewarm`).
 * It costs start-up time (printed as a `warm_up` line) and the private stacks' memory until the
 * garbage collector takes it back.
 *
 * Without `--prewarm`, `serve` warms its HTTP service in time it waits anyway
 * ({@link runIdleWarmUp}): its ready line waits for duplicate address detection of the
 * link-local address (RFC 4862 §5.4, 1–2 s), and the warm-up runs during that wait. `pingpong`
 * has no such wait: its default warm-up is bounded by a count and a time
 * ({@link runPingpongWarmUp}, 10,000 connections or 1 s). `--prewarm 0` turns either off.
 *
 * @module
 */

import {
  type ConnectionWarmUpOptions,
  type ConnectionWarmUpReport,
  EV_READABLE,
  type EventLoopOptions,
  type Runtime,
  type RuntimeConfig,
  Timer,
  WaitQueue,
  warmUpConnections,
  type WarmUpWire,
} from "../mod.ts";
import { numberFlag, UsageError } from "./args.ts";
import { emit, emitJson } from "./output.ts";
import { withControlSocket } from "../drivers/interface_open.ts";
import { withNetns } from "../ffi/netns.ts";
import { interfaceMtu } from "../ffi/syscalls.ts";
import { type MarkingProvoke, MarkingWatch } from "./marking_watch.ts";

/** `parseArgs` spec of `--prewarm N` and `--prewarm-wire KIND`. */
export const PREWARM_OPTIONS = {
  prewarm: { type: "string" },
  "prewarm-wire": { type: "string" },
} as const;

/** Usage lines of `--prewarm` and `--prewarm-wire`. */
export const PREWARM_USAGE =
  `  --prewarm N          before the ready line, run N connections of this command's own code
                       between two private in-memory stacks (JIT warm-up of the connection
                       paths; nothing reaches the interface) and fill the buffer pools
  --prewarm-wire KIND  what joins the warm-up's stacks: sim (the simulated wire) or
                       af_packet (the af_packet driver's own rings joined in memory; with
                       --driver af_packet and a V2 ring only, else sim); not given: the
                       simulated wire, after 300 connections on those rings where they apply`;

/** A {@link RuntimeConfig} with the warm-up's choice of wire (`--prewarm-wire`). */
export interface WarmUpConfig extends RuntimeConfig {
  /**
   * What joins the warm-up's stacks (not given: the simulated wire, after a first part on the
   * af_packet driver's rings in the default warm-ups, {@link ringPartFirst}). "af_packet"
   * applies to the af_packet driver with a V2 ring (else the simulated wire is used): all of
   * it there was measured no faster for a fresh server's first connections (bench/README.md,
   * "The warm-up on the real driver's rings"); "sim" leaves out the part on the rings.
   */
  warmUpWire?: WarmUpWire;
}

/** `config` with `--prewarm-wire` from `values` (a UsageError when not a wire's name). */
export function withWarmUpWire(
  config: RuntimeConfig,
  values: Record<string, unknown>,
): WarmUpConfig {
  const w = values["prewarm-wire"];
  if (w === undefined) return config;
  if (w !== "af_packet" && w !== "sim") {
    throw new UsageError(`--prewarm-wire ${w}: af_packet or sim`);
  }
  return { ...config, warmUpWire: w };
}

/**
 * The warm-up's wire and link options for `config`: with `warmUpWire: "af_packet"` and the
 * af_packet driver on a V2 ring, that driver's rings in memory (same MTU, vnet header and slot
 * size as the real driver will use); else the simulated wire.
 */
export function warmUpLink(
  config: WarmUpConfig,
): Pick<ConnectionWarmUpOptions, "wire" | "link"> {
  const ring = (config.driver ?? "af_packet") === "af_packet" && config.rxRing !== "v3" &&
    config.linkDriver === undefined;
  const wire = ring ? config.warmUpWire ?? "sim" : "sim";
  if (wire === "sim") return { wire };
  return {
    wire,
    link: {
      mtu: config.mtu,
      vnetHdr: config.vnetHdr,
      rxSmallSlots: config.rxSmallSlots,
      rxSplit: config.rxSplit,
    },
  };
}

/**
 * `config` for a warm-up that runs before the real stack opens its link (`pingpong`'s): with
 * the af_packet driver on a V2 ring and no `--mtu`, the interface's own MTU, read now, so the
 * part on the driver's rings in memory is sized as the real driver will be and its segments
 * are as long (else it ran at 1500 on a 9000-byte link). `serve` warms up after opening its
 * link and takes the MTU from it. Unchanged where that does not apply or the interface cannot
 * be read (the real start reports that).
 *
 * @example
 * ```ts ignore
 * await runPingpongWarmUp(warmUpMtu(config), json, serve, client);
 * ```
 */
export function warmUpMtu(config: WarmUpConfig): WarmUpConfig {
  const ifname = config.if;
  if (config.mtu !== undefined || ifname === undefined || ifname === "") return config;
  if (warmUpLink({ ...config, warmUpWire: "af_packet" }).wire !== "af_packet") return config;
  try {
    const read = () => withControlSocket((ctl) => interfaceMtu(ctl, ifname));
    const mtu = config.netns === undefined ? read() : withNetns(config.netns, read);
    return mtu > 0 ? { ...config, mtu } : config;
  } catch {
    return config;
  }
}

/** What every warm-up of `config` runs: its stack options, algorithm, wire, server and client. */
function warmUpRun(
  config: WarmUpConfig,
  serve: ConnectionWarmUpOptions["serve"],
  client: ConnectionWarmUpOptions["client"],
): Pick<ConnectionWarmUpOptions, "stack" | "cc" | "wire" | "link" | "serve" | "client"> {
  return { stack: config.stack, cc: config.cc, ...warmUpLink(config), serve, client };
}

/** Connections `--prewarm` asked for (0: none or not given); a UsageError when not a count. */
export function prewarmCount(values: Record<string, unknown>): number {
  return numberFlag("prewarm", values.prewarm, 0, { integer: true, min: 0, max: 1_000_000 });
}

/** True when the command line has no `--prewarm` (the command's default warm-up applies). */
export function prewarmDefault(values: Record<string, unknown>): boolean {
  return values.prewarm === undefined;
}

/** `config` with the stack's pools made ready before the first connection. */
export function withPrewarmedPools(config: WarmUpConfig): WarmUpConfig {
  return { ...config, stack: { ...config.stack, prewarm: true } };
}

/**
 * Run `connections` warm-up connections with `serve` (and `client`) on the stack options of
 * `config`, and print what it cost (`warm_up` JSON event or a text line).
 */
export async function runWarmUp(
  connections: number,
  config: WarmUpConfig,
  json: boolean,
  serve: (rt: Runtime, port: number) => { close(): void },
  client?: ConnectionWarmUpOptions["client"],
): Promise<void> {
  if (connections <= 0) return;
  const r = await warmUpConnections({
    connections,
    // Long enough for a cold process; a limit all the same (and in-flight ones get 1 s more).
    timeLimitMs: 10_000,
    ...warmUpRun(config, serve, client),
  });
  report(r, json);
}

/** A warm-up's report and how many of its connections ran on the driver's rings in memory. */
interface WarmUpReport extends ConnectionWarmUpReport {
  /** Connections of the part on the af_packet driver's rings in memory (0: none). */
  ringConnections?: number;
  /**
   * Time waited at the end for a marking V8 had in progress to reach its mark-compact (ms; 0:
   * none in progress; {@link runPingpongWarmUp} only).
   */
  markingWaitMs?: number;
  /**
   * Time spent making V8 begin a marking of the warm-up's garbage and waiting for its
   * mark-compact, when none had run since the tail (ms; 0: not needed; {@link runPingpongWarmUp}
   * only).
   */
  markingProvokedMs?: number;
}

function report(r: WarmUpReport, json: boolean): void {
  if (json) {
    emitJson("warm_up", {
      connections: r.connections,
      failed: r.failed,
      ms: r.ms,
      ringConnections: r.ringConnections ?? 0,
      arpReplies: r.arpReplies ?? 0,
      ...(r.markingWaitMs === undefined ? {} : { markingWaitMs: r.markingWaitMs }),
      ...(r.markingProvokedMs === undefined ? {} : { markingProvokedMs: r.markingProvokedMs }),
    });
  } else emit(`warm-up: ${r.connections} connections (${r.failed} failed) in ${r.ms} ms`);
}

/**
 * Most connections of `pingpong`'s default warm-up ({@link runPingpongWarmUp}): enough for a
 * function run once per connection to pass V8's TurboFan threshold (3,000 invocations, 500
 * more after its feedback changed) with room; at 3,000 every per-connection function was
 * compiled by TurboFan during the first 20,000 real connections, 12–13 µs of V8 worker CPU per
 * connection on each side (bench/README.md, "The warm pair's V8 compilation").
 */
export const PINGPONG_WARM_UP_CONNECTIONS = 10_000;

/**
 * Longest `pingpong`'s default warm-up may start connections (ms; the ones in flight then get
 * {@link IDLE_WARM_UP_GRACE_MS}): it ends at {@link PINGPONG_WARM_UP_CONNECTIONS} on a quiet
 * machine (~0.7 s), and at this bound where the machine is loaded.
 */
export const PINGPONG_WARM_UP_MS = 1_000;

/**
 * Connections of the default pingpong warm-up's tail ({@link runPingpongWarmUp}), on a new pair
 * of stacks after the main part: V8 starts compiling a function it marked for TurboFan only at
 * that function's next call, so the per-connection functions marked in the main part's last
 * few hundred connections were compiled during the first real connections, 30–100 TurboFan
 * jobs in the crowd (bench/README.md, `conn9n`); the tail's calls start those jobs, and
 * {@link PINGPONG_WARM_UP_TAIL_WAIT_MS} lets them finish (bench/README.md, `conn9p`).
 */
export const PINGPONG_WARM_UP_TAIL = 300;

/** Longest the tail may start connections (ms). */
export const PINGPONG_WARM_UP_TAIL_MS = 200;

/** Idle time after the tail, for V8's compiler threads to finish its jobs (ms). */
export const PINGPONG_WARM_UP_TAIL_WAIT_MS = 30;

/**
 * Connections of the default pingpong warm-up's paced part ({@link runPingpongWarmUp}), one at a
 * time on a simulated wire with {@link PINGPONG_WARM_UP_PACED_DELAY_US} of delay, after the main
 * part. The main part's and the tail's loops never wait (every tick finds the other stack's
 * frames) and never run without their async function: they never busy-poll, so V8 compiled the
 * busy poll (`EventLoop.#spin`) on a real loop's first connections alone, and threw the code
 * away when a later spin, driven without the async function after a tick that sent frames,
 * first took the quiet window's probe (1 run in 10 to 1 in 3; bench/README.md, "warm13j").
 * Here the loops wait for each frame, busy-poll after every kick, and run without the async
 * function from their first quiet tick ({@link PINGPONG_WARM_UP_PACED_LOOP}). Run for the
 * `--connect` client only: not where the warm-up runs on the af_packet driver's rings alone (the
 * round-trip client's; only the simulated wire has a delay), nor for the server (its ready line
 * came later by more than the part's ~60 ms; its crowd's loop not examined), nor for the `--hold`
 * client (its held connections cost ~190 B more heap each in 2 of 3 runs with it: something the
 * part trains is kept per connection, not traced; bench/README.md, end of the twenty-ninth
 * session).
 */
export const PINGPONG_WARM_UP_PACED = 64;

/** Longest the paced part may start connections (ms). */
export const PINGPONG_WARM_UP_PACED_MS = 60;

/** The paced part's one-way wire delay (µs): a frame is not there at the tick after its send. */
export const PINGPONG_WARM_UP_PACED_DELAY_US = 20;

/**
 * The paced part's loop options: never parked (as the other parts'), driven without the async
 * function from the first quiet tick, and a turn of Deno's event loop every 10 µs while idle,
 * so that a spin ends soon and the other stack, on the same thread, answers.
 */
export const PINGPONG_WARM_UP_PACED_LOOP: EventLoopOptions = {
  busyPollUs: 60_000_000,
  syncAfterQuietTicks: 0,
  denoTurnUs: 10,
};

/**
 * `pingpong`'s default warm-up (server, `--connect` and `--hold` clients): up to
 * {@link PINGPONG_WARM_UP_CONNECTIONS} connections of its own server and client code, at most
 * {@link PINGPONG_WARM_UP_MS} ms, the first {@link WARM_UP_RING_CONNECTIONS} of them on the
 * af_packet driver's rings in memory where {@link ringPartFirst} holds. Unlike `serve`,
 * `pingpong` has no wait to fill, so this is start-up time; a count rather than only a time
 * bound, because a count is what trains V8 (bench/README.md, "pingpong's default warm-up": at
 * the earlier ~0.1 s it ran ~350 connections on a quiet machine and 64–128 on a loaded one,
 * and a fresh client's first 1,000 connections ran at 0.6–0.7× the kernel's rate). Then, with
 * `paced` (the `--connect` client) and on the simulated wire, a paced part of
 * {@link PINGPONG_WARM_UP_PACED} connections (the busy poll and the loop driven without its
 * async function), a tail of {@link PINGPONG_WARM_UP_TAIL} connections and
 * {@link PINGPONG_WARM_UP_TAIL_WAIT_MS} of idle time; then the warm-up's garbage is collected
 * before the report. With `paced`, from the tail's end, V8 is made to begin a marking with
 * ballast unless one is in progress, and its mark-compact is waited for
 * (`MarkingWatch.provoke`, at most {@link PINGPONG_WARM_UP_BALLAST_MAX_BYTES}; the report's
 * `markingProvokedMs`); otherwise, after the idle time, a marking V8 has in progress is waited
 * for (the report's `markingWaitMs`). At most {@link PINGPONG_WARM_UP_MARKING_MAX_MS} either
 * way; the report counts every part. With `real`
 * (the command's own stack, started before the warm-up), its parked loop is woken once before
 * the tail, as the first real connection wakes it, and goes through its idle sequence once
 * (`EventLoop.rehearseIdle`). `bounds` replaces the main part's count and time (the round-trip
 * client's, `cli/pingpong_rr_warm_up.ts`, counts round trips), `tail` the tail's (the
 * round-trip client's is longer: `RR_WARM_UP_TAIL_ROUND_TRIPS`).
 */
export async function runPingpongWarmUp(
  config: WarmUpConfig,
  json: boolean,
  serve: (rt: Runtime, port: number) => { close(): void },
  client?: ConnectionWarmUpOptions["client"],
  real?: Runtime,
  bounds: { connections: number; timeLimitMs: number } = {
    connections: PINGPONG_WARM_UP_CONNECTIONS,
    timeLimitMs: PINGPONG_WARM_UP_MS,
  },
  paced = false,
  tail: { connections: number; timeLimitMs: number } = {
    connections: PINGPONG_WARM_UP_TAIL,
    timeLimitMs: PINGPONG_WARM_UP_TAIL_MS,
  },
): Promise<ConnectionWarmUpReport> {
  const t0 = performance.now();
  const watch = new MarkingWatch();
  try {
    return await pingpongParts(
      config,
      json,
      serve,
      client,
      real,
      bounds,
      paced,
      tail,
      t0,
      watch,
    );
  } finally {
    watch.stop();
  }
}

/**
 * Longest {@link runPingpongWarmUp} takes after its tail to have V8 begin a marking and reach
 * its mark-compact, or for a marking V8 has in progress to reach it (ms): beside two busy loops
 * the marking of the warm-up's garbage, begun in the tail's idle time, ended after the
 * `warm_up` line in 1 run of 8, its mark-compact in the first real connections
 * (bench/README.md, "flake32"); made to begin, it took 33–355 ms there (median ~70).
 */
export const PINGPONG_WARM_UP_MARKING_MAX_MS = 500;

/**
 * Most ballast {@link runPingpongWarmUp} holds to make V8 begin the marking of the warm-up's
 * garbage when none ran since the tail (`MarkingWatch.provoke`; bytes of virtual memory, never
 * touched): V8's global limit was 40–60 MB above the heap at the warm-up's end. Without it, a
 * marking begun by the first real connections' allocation ended in the crowd
 * (bench/README.md, "flake33").
 */
export const PINGPONG_WARM_UP_BALLAST_MAX_BYTES = 1024 << 20;

/** {@link runPingpongWarmUp}'s parts, with `watch` begun at its start `t0`. */
async function pingpongParts(
  config: WarmUpConfig,
  json: boolean,
  serve: (rt: Runtime, port: number) => { close(): void },
  client: ConnectionWarmUpOptions["client"] | undefined,
  real: Runtime | undefined,
  bounds: { connections: number; timeLimitMs: number },
  paced: boolean,
  tailBounds: { connections: number; timeLimitMs: number },
  t0: number,
  watch: MarkingWatch,
): Promise<ConnectionWarmUpReport> {
  const main = await ringThenSim(config, true, serve, client, {
    ...bounds,
    graceMs: IDLE_WARM_UP_GRACE_MS,
  });
  // The busy poll and the loop driven without its async function, which neither the main part
  // nor the tail reach (see PINGPONG_WARM_UP_PACED): with `paced` (the --connect client), on
  // the simulated wire, the only one with a delay. Not for the round-trip client
  // (its loop awaits; its warm-up runs on the driver's rings alone where it can, and a simulated
  // driver would be new to its per-frame code), nor the server (its ready line came 80–290 ms
  // later with it).
  const pacedHere = paced && warmUpLink(config).wire === "sim";
  const pacedPart = !pacedHere
    ? NO_WARM_UP
    : await runPacedPart(config, serve, client, PINGPONG_WARM_UP_PACED, PINGPONG_WARM_UP_PACED_MS);
  // The real stack's loop, idle since the warm-up began, is parked: an application's call
  // wakes it now, as the first real connection will. The warm-up's loops busy-poll and are
  // never woken from a park, so V8 compiled the loop's wake-up without that path and threw the
  // code away at the first real connection (bench/README.md, "conn9q"); the tail's calls
  // compile it again with it.
  if (real !== undefined) await wakeParked(real);
  // The tail: the functions V8 marked for TurboFan in the last connections start compiling at
  // their next call; these calls make it, and the wait lets the compiler threads finish
  // (`tailBounds`: a round-trip client's is longer, see RR_WARM_UP_TAIL_ROUND_TRIPS).
  const tail = await warmUpConnections({
    ...tailBounds,
    graceMs: IDLE_WARM_UP_GRACE_MS,
    ...warmUpRun(config, serve, client),
  });
  const tailWait = new Promise((done) => setTimeout(done, PINGPONG_WARM_UP_TAIL_WAIT_MS));
  // The warm-up's garbage is collected here, not in the first real connections. With `paced`
  // (the --connect client) V8 is made to begin its marking unless one is in progress,
  // overlapping the tail's idle time: with the heap left near its limit, the first real
  // connections' own allocation began it after the warm-up's line ("flake33"). Otherwise a
  // marking V8 has in progress is waited for.
  let gc: MarkingProvoke;
  if (paced) {
    gc = await watch.provoke(PINGPONG_WARM_UP_BALLAST_MAX_BYTES, PINGPONG_WARM_UP_MARKING_MAX_MS);
    await tailWait;
  } else {
    await tailWait;
    gc = {
      ...(await watch.settle(PINGPONG_WARM_UP_MARKING_MAX_MS)),
      ballastBytes: 0,
      began: false,
    };
  }
  const r: WarmUpReport = {
    connections: main.connections + pacedPart.connections + tail.connections,
    failed: main.failed + pacedPart.failed + tail.failed,
    ms: Math.round(performance.now() - t0),
    ringConnections: main.ringConnections,
    markingWaitMs: gc.ballastBytes === 0 && gc.wasMarking ? Math.round(gc.waitedMs) : 0,
    markingProvokedMs: gc.ballastBytes > 0 ? Math.round(gc.waitedMs) : 0,
  };
  report(r, json);
  return r;
}

/** A warm-up part not run. */
const NO_WARM_UP: ConnectionWarmUpReport = { connections: 0, failed: 0, ms: 0 };

/**
 * A paced warm-up part (`pingpong --connect`'s and `serve --discard`'s): up to `connections`
 * one at a time for at most `timeLimitMs`, on the simulated wire with
 * {@link PINGPONG_WARM_UP_PACED_DELAY_US} of delay, the loops run as
 * {@link PINGPONG_WARM_UP_PACED_LOOP} — so that they wait for each frame, busy-poll after every
 * kick and are driven without their async function, which no other part makes them do.
 */
async function runPacedPart(
  config: WarmUpConfig,
  serve: ConnectionWarmUpOptions["serve"],
  client: ConnectionWarmUpOptions["client"],
  connections: number,
  timeLimitMs: number,
  signal?: AbortSignal,
): Promise<ConnectionWarmUpReport> {
  return await warmUpConnections({
    connections,
    concurrency: 1,
    timeLimitMs,
    graceMs: IDLE_WARM_UP_GRACE_MS,
    signal,
    ...warmUpRun({ ...config, warmUpWire: "sim" }, serve, client),
    wireDelayUs: PINGPONG_WARM_UP_PACED_DELAY_US,
    loop: PINGPONG_WARM_UP_PACED_LOOP,
  });
}

/** Longest {@link wakeParked} waits for the loop to park, before and after a rehearsal (ms). */
const WAKE_PARKED_WAIT_MS = 50;

/**
 * Rehearsals {@link wakeParked} makes at most until one of them blocked in a `poll()` slice
 * (`EventLoop.stats.blocks` moved).
 */
const REHEARSALS_MAX = 3;

/** Wait until `ok()` or `rt`'s loop stops, at most {@link WAKE_PARKED_WAIT_MS}. */
async function waitLoop(rt: Runtime, ok: () => boolean): Promise<void> {
  const until = performance.now() + WAKE_PARKED_WAIT_MS;
  while (!ok() && rt.loop.running && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * Wake `rt`'s loop from its park with an application's call (a tick asked for), as a real
 * connection's first call does; waits up to {@link WAKE_PARKED_WAIT_MS} for the loop to park
 * first (between two parks it blocks in `poll()` slices for a few ms). Then the loop goes
 * through its idle sequence once (`EventLoop.rehearseIdle`: busy poll, blocking slices, park,
 * ~5 ms), which it otherwise ran only at its start, before V8 kept feedback for it — and this
 * waits for it to park again. A rehearsal whose next tick came more than the idle sequence
 * late (a loaded machine; other work on the thread) skipped its slices and parked at once: a
 * fresh client's loop then first blocked in a slice in its real connections, and V8 threw
 * the code compiled without that path away (1 probe run in 10 beside two busy loops;
 * bench/README.md, "flake34"); so it is rehearsed again, at most {@link REHEARSALS_MAX}
 * times, until one blocked in a slice.
 */
async function wakeParked(rt: Runtime): Promise<void> {
  const loop = rt.loop;
  await waitLoop(rt, () => loop.parked);
  for (let i = 0; i < REHEARSALS_MAX && loop.running; i++) {
    const blocks = loop.stats.blocks;
    const parks = loop.stats.parks;
    rt.stack.requestTick();
    // Its inline tick runs in a microtask; then the loop itself, through its idle sequence.
    await null;
    loop.rehearseIdle();
    await waitLoop(rt, () => loop.parked && loop.stats.parks > parks);
    if (loop.stats.blocks > blocks) break;
  }
  await rehearseTurns(rt);
}

/** Deliveries {@link rehearseTurns} makes to its task. */
const TURN_REHEARSALS = 3;

/** How far ahead {@link rehearseTurns} arms each delivery's stack timer (ms). */
const TURN_REHEARSAL_AHEAD_MS = 0.5;

/**
 * The loop's microtask turns between the halves of a tick, rehearsed on `rt`'s own loop: a
 * task awaits a wait queue of its own (no socket), and a stack timer makes it readable inside
 * the loop's tick (the timer fires in the receive half, and the delivery follows), so the tick
 * woke a task whose reaction is still to come — a few `await`s, then it waits again (the last
 * time it ends instead: the turns run to their bound). A service whose warm-up never woke a
 * task on the real stack (`serve --http`'s: its warm-up's loops run on private stacks, and its
 * real loop only idled) first took that block after its ready line, at a real download's
 * first wait for send space, and V8 threw the loop's code away there, every time
 * (bench/README.md, "drive35"). Made by the loop itself, not an inline tick: woken from its
 * park, its slices end at the timer's deadline. Waits at most {@link WAKE_PARKED_WAIT_MS} per
 * delivery.
 */
async function rehearseTurns(rt: Runtime): Promise<void> {
  const stack = rt.stack;
  const mux = stack.mux;
  const wq = new WaitQueue();
  let woken = 0;
  const task = async (): Promise<void> => {
    for (let i = 0; i < TURN_REHEARSALS; i++) {
      await wq.wait(EV_READABLE);
      wq.readiness = 0;
      await null;
      await null;
      woken++;
    }
  };
  const done = task();
  const timer = new Timer(() => {
    wq.readiness = EV_READABLE;
    mux.notify(wq, EV_READABLE);
  });
  const loop = rt.loop;
  for (let i = 0; i < TURN_REHEARSALS && loop.running; i++) {
    const before = woken;
    // A parked loop waits for the deadline it had: woken by the eventfd, it runs its idle
    // sequence, whose slices end at the timer's deadline.
    await waitLoop(rt, () => loop.parked);
    stack.timers.schedule(timer, stack.clock.nowMs() + TURN_REHEARSAL_AHEAD_MS);
    loop.rehearseIdle();
    await waitLoop(rt, () => woken > before);
    if (woken === before) break;
  }
  stack.timers.cancel(timer);
  // A task left waiting (the loop stopped, or a delivery was late) is let go.
  if (woken === TURN_REHEARSALS) await done;
}

/**
 * For a command that starts its own stack after its warm-up (`pingpong server`): its loop's
 * idle sequence rehearsed as {@link runPingpongWarmUp} does for a client's stack started
 * before it ({@link wakeParked}) — before the ready line. The warm-up's loops on the simulated
 * wire never block in a slice nor park, so a fresh server's loop first took those paths after
 * its ready line, and V8 threw away the code compiled without them there every time:
 * `#transmitHalf` at the time to the next deadline, `#asyncLoop` at its park, the waker at its
 * inline tick (bench/README.md, "flake34"). Now that happens before the line, and the paths
 * have feedback when the loop's code is compiled again in the first connections.
 */
export async function rehearseRealLoop(rt: Runtime): Promise<void> {
  await wakeParked(rt);
}

/**
 * Connections of a default warm-up's first part (`serve --http`'s {@link runIdleWarmUp} and
 * {@link runPingpongWarmUp}) on the af_packet driver's own rings joined in memory, when the
 * real stack runs on that driver (V2 ring) and `--prewarm-wire` is not given; the rest runs on
 * the simulated wire. The part on the rings runs the code only the real driver reaches — its
 * receive walker, TX ring, virtio_net_hdr, and the checksum and segmentation offload branches
 * of the IP and TCP output — so that V8 has type feedback for it before the ready line: on the
 * simulated wire alone a fresh `serve --http` deoptimised ~10 functions and first compiled
 * ~20 more during its first real connections (bench/README.md, "warm9k"). Short, because the
 * rings in memory make fewer connections per second than the simulated wire, and it is the
 * count that trains V8.
 */
export const WARM_UP_RING_CONNECTIONS = 300;

/**
 * Longest a default warm-up's part on the rings may start connections (ms), counted from the
 * moment its pair of stacks is up (`ConnectionWarmUpOptions.timeFromPair`): counted from before
 * the pair's start-up (its ring memory, a cold process's first compiles), the part often
 * finished no connection beside two busy loops (4 runs of 12; bench/README.md, `ring33`).
 */
export const WARM_UP_RING_MS = 150;

/**
 * Longest a default warm-up's part on the rings is held open while it has finished no
 * connection (ms after its pair is up; `ConnectionWarmUpOptions.holdFirstMs`): beside load its
 * first 32 handshakes on cold code may take longer than {@link WARM_UP_RING_MS} and the grace,
 * and the part's promise is that the code only the real driver reaches did run. The hold ends
 * as soon as one connection has ended well (200–550 ms after the pair's start beside four busy
 * loops), so its length costs nothing then; 1 s was too short for a process starved of CPU —
 * its first batch took longer, and two `pingpong --connect` clients in a row reported
 * `ringConnections` 0 (bench/README.md, "probe36", "wait37"). A bound all the same, so that a
 * ring pair that carries nothing ends the part (its `ringConnections` 0, its connections
 * counted as failed); `signal` (`serve`'s end of duplicate address detection) still ends it.
 */
export const WARM_UP_RING_HOLD_MS = 5_000;

/**
 * Longest `serve --discard`'s warm-up may stream on the rings (ms; {@link IdleWarmUpOptions}
 * `ringMs`), the rest of its wait on the simulated wire. Its streams are bulk: the rings in
 * memory carry them at 2–8 Gbit/s (super-frames) where the simulated wire (one frame per
 * segment) carries 0.3–1.3, so the receive path runs many more times before the ready line, on
 * the real driver's objects; after the ready line a fresh receiver compiled ~45–50 times
 * against ~70–110 with 150 ms (bench/README.md, "jit13l"). The whole wait on the rings was
 * worse (~200 compiles and ~30 deoptimisations after ready): the simulated wire's part, with
 * its duplicated frames, trains paths the rings in memory never take.
 */
export const DISCARD_WARM_UP_RING_MS = 600;

/**
 * True when a default warm-up of `config` runs a first part on the af_packet driver's rings
 * ({@link WARM_UP_RING_CONNECTIONS}): no `--prewarm-wire` given, and the real driver is the
 * af_packet one with a V2 ring.
 */
export function ringPartFirst(config: WarmUpConfig): boolean {
  return config.warmUpWire === undefined &&
    warmUpLink({ ...config, warmUpWire: "af_packet" }).wire === "af_packet";
}

/** The bounds of a default warm-up, both of its parts together. */
type WarmUpBounds =
  & Pick<
    ConnectionWarmUpOptions,
    "concurrency" | "graceMs" | "signal" | "freshNeighbours"
  >
  & { connections: number; timeLimitMs: number; ringMs?: number };

/**
 * A warm-up within `bounds`: with `ringPart` and where {@link ringPartFirst} holds, its first
 * {@link WARM_UP_RING_CONNECTIONS} connections (at most {@link WARM_UP_RING_MS} ms from the
 * moment the ring pair is up, held open up to {@link WARM_UP_RING_HOLD_MS} while none has
 * ended well) on the af_packet driver's rings, the rest on `config`'s wire; one report for
 * both.
 */
async function ringThenSim(
  config: WarmUpConfig,
  ringPart: boolean,
  serve: ConnectionWarmUpOptions["serve"],
  client: ConnectionWarmUpOptions["client"],
  bounds: WarmUpBounds,
): Promise<WarmUpReport> {
  if (!ringPart || !ringPartFirst(config)) {
    return await warmUpConnections({ ...bounds, ...warmUpRun(config, serve, client) });
  }
  const t0 = performance.now();
  const ring = await warmUpConnections({
    ...bounds,
    connections: Math.min(WARM_UP_RING_CONNECTIONS, bounds.connections),
    timeLimitMs: Math.min(bounds.ringMs ?? WARM_UP_RING_MS, bounds.timeLimitMs),
    // From the moment the ring pair can carry a connection, and held until one has ended well.
    timeFromPair: true,
    holdFirstMs: WARM_UP_RING_HOLD_MS,
    ...warmUpRun({ ...config, warmUpWire: "af_packet" }, serve, client),
  });
  const leftMs = bounds.timeLimitMs - (performance.now() - t0);
  // Stopped, or out of time or count, during the part on the rings: no second pair of stacks.
  if (bounds.signal?.aborted === true || leftMs <= 0 || ring.connections >= bounds.connections) {
    return { ...ring, ringConnections: ring.connections };
  }
  const sim = await warmUpConnections({
    ...bounds,
    connections: bounds.connections - ring.connections,
    timeLimitMs: leftMs,
    ...warmUpRun(config, serve, client),
  });
  return {
    connections: ring.connections + sim.connections,
    failed: ring.failed + sim.failed,
    ms: Math.round(performance.now() - t0),
    ringConnections: ring.connections,
    arpReplies: (ring.arpReplies ?? 0) + (sim.arpReplies ?? 0),
  };
}

/** Most connections of the default warm-up ({@link runIdleWarmUp}). */
export const IDLE_WARM_UP_CONNECTIONS = 20_000;

/**
 * How much later than `idle` the default warm-up may end (ms): it starts no connection after
 * `max(idle, start + IDLE_WARM_UP_EXTRA_MS)` and gives the ones in flight
 * {@link IDLE_WARM_UP_GRACE_MS}; so the ready line comes at most ~100 ms later than without it,
 * and not later at all while the wait it fills (duplicate address detection) is longer.
 */
export const IDLE_WARM_UP_EXTRA_MS = 80;

/** Time the default warm-up's connections in flight get once it stops starting new ones (ms). */
export const IDLE_WARM_UP_GRACE_MS = 20;

/** Options of {@link runIdleWarmUp}. */
export interface IdleWarmUpOptions {
  /** Connections in flight at once [the warm-up's default, 32]. */
  concurrency?: number;
  /**
   * Run a first part on the af_packet driver's rings where {@link ringPartFirst} holds
   * (`serve --http`) [false].
   */
  ringPart?: boolean;
  /**
   * Longest the part on the rings may start connections (ms) [{@link WARM_UP_RING_MS}]
   * (`serve --discard`'s: {@link DISCARD_WARM_UP_RING_MS}).
   */
  ringMs?: number;
  /**
   * Both warm-up stacks forget their neighbours before each connection (`serve --discard`'s:
   * `ConnectionWarmUpOptions.freshNeighbours`) [false].
   */
  freshNeighbours?: boolean;
  /**
   * First a paced part on the simulated wire ({@link IDLE_WARM_UP_PACED_MS}, the loops waiting
   * for each frame, busy-polling after every kick and driven without their async function, as
   * {@link runPingpongWarmUp}'s paced part) (`serve --discard`'s) [false].
   */
  paced?: boolean;
  /**
   * The command's own stack: its loop's microtask turns are rehearsed before the warm-up
   * (`rehearseTurns`), and once the warm-up is over its parked loop is woken by an
   * application's call and goes through its idle sequence once, as {@link runPingpongWarmUp}
   * does with it (`serve --http`'s and `serve --discard`'s) [none].
   */
  real?: Runtime;
}

/**
 * Longest the paced part of a default warm-up with `paced` ({@link IdleWarmUpOptions}) may
 * start connections (ms). A bulk receiver's busy poll and its loop's turns without the async
 * function (`setImmediate`) met their paths first after the ready line otherwise: the warm-up's
 * loops never wait on the simulated wire without a delay, nor on the rings in memory
 * (bench/README.md, "jit13l").
 */
export const IDLE_WARM_UP_PACED_MS = 40;

/**
 * The default warm-up: up to {@link IDLE_WARM_UP_CONNECTIONS} connections of `serve` (and
 * `client`) while the caller waits for `idle` (its addresses leaving the tentative state), and
 * at most {@link IDLE_WARM_UP_EXTRA_MS} + {@link IDLE_WARM_UP_GRACE_MS} ms past it,
 * `opts.concurrency` connections at a time; with `opts.ringPart`, the first
 * {@link WARM_UP_RING_CONNECTIONS} of them on the af_packet driver's rings in memory
 * where {@link ringPartFirst} holds. Prints what it did as {@link runWarmUp} does. The real
 * stack runs meanwhile (its private stacks share nothing with it but V8's compiled code);
 * resolves with its report once the warm-up's stacks are stopped.
 */
export async function runIdleWarmUp(
  config: WarmUpConfig,
  json: boolean,
  idle: Promise<unknown>,
  serve: (rt: Runtime, port: number) => { close(): void },
  client?: ConnectionWarmUpOptions["client"],
  opts: IdleWarmUpOptions = {},
): Promise<ConnectionWarmUpReport> {
  const concurrency = opts.concurrency;
  const t0 = performance.now();
  const stop = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let over = false;
  const onIdle = (): void => {
    if (over) return; // all of it ran before the wait ended: nothing to stop
    const left = t0 + IDLE_WARM_UP_EXTRA_MS - performance.now();
    if (left <= 0) stop.abort();
    else timer = setTimeout(() => stop.abort(), left);
  };
  // A wait that fails ends the warm-up too (the caller sees the failure on its own await).
  idle.then(onIdle, onIdle);
  try {
    // The real loop's microtask turns first, before the warm-up's loops make its code hot: V8
    // compiles the loop (Maglev, on a background thread) from the feedback there is when a job
    // starts, and a job begun in the main part and finished after the rehearsal at its end
    // ({@link wakeParked}) installed code without the turns' feedback — thrown away at the
    // first real download after the ready line, 2 runs in 20 (bench/README.md, "probe36").
    if (opts.real !== undefined) await rehearseTurns(opts.real);
    const paced = opts.paced !== true ? NO_WARM_UP : await runPacedPart(
      config,
      serve,
      client,
      IDLE_WARM_UP_CONNECTIONS,
      IDLE_WARM_UP_PACED_MS,
      stop.signal,
    );
    const main = await ringThenSim(config, opts.ringPart === true, serve, client, {
      connections: IDLE_WARM_UP_CONNECTIONS,
      concurrency,
      // duplicate address detection ends in 1–2 s; a bound all the same
      timeLimitMs: 5_000,
      graceMs: IDLE_WARM_UP_GRACE_MS,
      signal: stop.signal,
      freshNeighbours: opts.freshNeighbours,
      ringMs: opts.ringMs,
    });
    if (opts.real !== undefined) await wakeParked(opts.real);
    const r: WarmUpReport = {
      ...main,
      connections: paced.connections + main.connections,
      failed: paced.failed + main.failed,
      ms: Math.round(performance.now() - t0),
    };
    report(r, json);
    return r;
  } finally {
    over = true;
    clearTimeout(timer);
  }
}
