/**
 * A stack per core: {@link RuntimeWorkers} runs N stacks, each in its own Deno Worker (its own
 * thread, event loop and heap), on one interface. An AF_PACKET fanout group with a classic BPF
 * steering program (`drivers/packet_fanout.ts`, `drivers/flow_steering.ts`) gives each worker
 * the frames of its own connections; the workers share nothing but what the parent relays:
 *
 * - Flows: a TCP/UDP frame goes to worker `flowWorker(srcPort, dstPort, N)`, a function of the
 *   two ports that is the same in both directions. Passive connections land where the hash puts
 *   them (the application module runs in every worker, so every worker listens); an active
 *   open picks its ephemeral port so that the hash names its own worker
 *   (`TcpOptions.connectPortFilter`). A connection is never split across workers.
 * - Everything else — ARP, ICMP and ICMPv6 (so NDP), IP fragments, IPv6 with extension
 *   headers — goes to the primary worker (the lowest-numbered live one). So ping, PMTU errors
 *   and reassembly happen there: a fragmented UDP datagram is delivered by the primary's
 *   socket, whichever worker the unfragmented ones of the same flow reach.
 * - Neighbours: what a worker's ARP/NDP learns from the wire is batched to the parent, which
 *   hands it to every other worker (`stack/neighbour_share.ts`).
 * - Counters: {@link RuntimeWorkers.counters} asks every live worker and sums.
 * - A worker that dies (an uncaught error, or {@link RuntimeWorkers.terminate}) is reported to
 *   {@link RuntimeWorkers.onWorkerExit} listeners; its slot in the steering goes to the
 *   primary (its own connections are lost and are reset when their next segment arrives) and
 *   the others keep serving theirs.
 *
 * Workers start one after another (each joins the group and must be the next member; see
 * `drivers/packet_fanout.ts`): a worker boots its stack, whose driver joins the group; the
 * parent steers the worker's flows to it; then the worker runs `workerModule`'s default export
 * with its runtime, so that the answers to what the module sends already find it.
 *
 * @module
 */

import { FanoutGroup } from "../drivers/packet_fanout.ts";
import { MAX_STEERED_WORKERS } from "../drivers/flow_steering.ts";
import type { Counters } from "../core/counters.ts";
import { type Histogram, latencyHistogram } from "../core/histogram.ts";
import { StackError } from "../core/errors.ts";
import type { SocketEntry } from "./control.ts";
import type { RuntimeConfig } from "./runtime_config.ts";
import type { NeighbourBatch } from "./neighbour_share.ts";
import type { FromWorker, ToWorker, WorkerCounters } from "./worker_protocol.ts";

/** How long a worker may take to boot before it counts as failed. */
const START_TIMEOUT_MS = 30_000;
/** How long the parent waits for a worker's answer to a counters/sockets request. */
const REQUEST_TIMEOUT_MS = 2_000;
/** How long an orderly stop waits for a worker before terminating it. */
const STOP_TIMEOUT_MS = 5_000;

/** The config of a stack per core: a {@link RuntimeConfig} for every worker, plus the workers. */
export interface RuntimeWorkersConfig extends RuntimeConfig {
  /**
   * Stacks to run, one per Deno Worker (1..64), on the one interface `if`. An AF_PACKET
   * fanout group steers every frame of a connection to the worker that owns it. af_packet
   * drivers only; no `pcap`, `linkDriver` or `stack.clock` (they cannot go to a worker), no
   * `slaac` (router advertisements reach the primary worker alone).
   */
  workers: number;
  /**
   * The module every worker runs (URL or absolute specifier): its default export (a
   * `WorkerMain`) is called with the worker's own Runtime — the place to listen and serve.
   */
  workerModule: string | URL;
  /** A structured-cloneable value handed to every worker's module (`WorkerContext.data`). */
  workerData?: unknown;
}

/** A worker as the parent sees it. */
export interface WorkerStatus {
  /** Worker number. */
  index: number;
  /** False once it died or stopped. */
  alive: boolean;
  /** Why it died ("" while alive or after an orderly stop). */
  exitReason: string;
}

/** Listener of {@link RuntimeWorkers.onWorkerExit}: worker `index` died, `reason` says how. */
export type WorkerExitListener = (index: number, reason: string) => void;

/** Summed and per-worker counters, as {@link RuntimeWorkers.counters} returns them. */
export interface GroupCounters {
  /** The sum over every worker that answered. */
  total: WorkerCounters;
  /** Each worker's own (null: dead, or did not answer in time). */
  workers: (WorkerCounters | null)[];
}

/** Add every number of `from` into `into` (groups of counters, created as needed). */
function addGroups(into: Record<string, Counters>, from: Record<string, Counters>): void {
  for (const [group, values] of Object.entries(from)) {
    const g = into[group] ??= {};
    for (const [k, v] of Object.entries(values)) {
      if (typeof v === "number") g[k] = (g[k] ?? 0) + v;
    }
  }
}

/**
 * The sum of workers' counters: every counter added, gauges (open connections, cache sizes)
 * included, which is what a sum of them means too.
 *
 * @example
 * ```ts
 * const total = sumWorkerCounters([
 *   { stack: { tcp: { PassiveOpens: 2 } }, driver: { rxFrames: 5 }, app: {} },
 *   { stack: { tcp: { PassiveOpens: 3 } }, driver: { rxFrames: 1 }, app: {} },
 * ]);
 * total.stack.tcp.PassiveOpens; // 5
 * ```
 */
export function sumWorkerCounters(list: readonly WorkerCounters[]): WorkerCounters {
  const total: WorkerCounters = { stack: {}, driver: {}, app: {} };
  const driver: Record<string, Counters> = {};
  for (const c of list) {
    addGroups(total.stack, c.stack);
    addGroups(total.app, c.app);
    addGroups(driver, { d: c.driver });
  }
  total.driver = driver.d ?? {};
  return total;
}

class WorkerHandle {
  status: WorkerStatus;
  readonly waiters = new Map<number, (m: FromWorker) => void>();
  addrs: string[] | null = null;
  final: WorkerCounters | null = null;
  /** Set while starting: called with "" on `ready`, else with the failure. */
  started: ((failure: string) => void) | null = null;
  constructor(readonly worker: Worker, index: number) {
    this.status = { index, alive: true, exitReason: "" };
  }
}

/**
 * N stacks on one interface, one per Deno Worker. Start it with `Runtime.start({ workers: N,
 * workerModule })`.
 *
 * @example
 * ```ts ignore
 * const group = await Runtime.start({
 *   if: "veth0",
 *   addr: "198.18.0.2/24",
 *   workers: 2,
 *   workerModule: new URL("./app.ts", import.meta.url),
 * });
 * group.onWorkerExit((i, why) => console.error(`worker ${i} died: ${why}`));
 * console.log((await group.counters()).total.stack.tcp.PassiveOpens);
 * await group.stop();
 * ```
 */
export class RuntimeWorkers {
  /** Workers started. */
  readonly count: number;
  /** Interface name. */
  readonly ifname: string;
  /** The interface's MAC as text (known once the first worker started). */
  mac = "";
  /**
   * True when the kernel does not copy the workers' own transmissions back into their rings
   * (the fanout group took `PACKET_FANOUT_FLAG_IGNORE_OUTGOING`); false when it refused the flag
   * and frames the kernel segments for them in software come back (counted in the drivers'
   * `rxOutgoingSkipped`).
   */
  readonly ignoresOutgoing: boolean;
  readonly #group: FanoutGroup;
  readonly #handles: WorkerHandle[] = [];
  readonly #exitListeners: WorkerExitListener[] = [];
  #nextId = 1;
  #stopping = false;

  private constructor(group: FanoutGroup, ifname: string) {
    this.#group = group;
    this.count = group.workers;
    this.ifname = ifname;
    this.ignoresOutgoing = group.ignoresOutgoing;
  }

  /**
   * Start `config.workers` workers (see {@link RuntimeWorkersConfig}); resolves once every one
   * runs its application and gets its flows. Throws StackError EINVAL for a config that cannot
   * go to a worker, or the first worker's start error.
   */
  static async start(config: RuntimeWorkersConfig): Promise<RuntimeWorkers> {
    const n = config.workers;
    if (!(Number.isInteger(n) && n >= 1 && n <= MAX_STEERED_WORKERS)) {
      throw new StackError(
        "EINVAL",
        `--workers ${n}: must be an integer 1..${MAX_STEERED_WORKERS}`,
      );
    }
    if (config.workerModule === undefined) {
      throw new StackError("EINVAL", "workers: workerModule (run by every worker) is required");
    }
    const kind = config.driver ?? "af_packet";
    if (kind !== "af_packet" && kind !== "af_packet_mmsg") {
      throw new StackError("EINVAL", `workers: needs --driver af_packet(_mmsg), not ${kind}`);
    }
    if (config.linkDriver !== undefined || config.stack?.clock !== undefined) {
      throw new StackError("EINVAL", "workers: linkDriver and stack.clock cannot go to a worker");
    }
    if (config.slaac === true) {
      // Router advertisements are ICMPv6: the steering gives them to the primary alone.
      throw new StackError("EINVAL", "workers: --slaac is not supported; give --addr and --gw");
    }
    if (config.pcap !== undefined) {
      throw new StackError("EINVAL", "workers: --pcap is per stack; not supported with workers");
    }
    if (config.if === undefined || config.if === "") {
      throw new StackError("EINVAL", "--if NAME is required");
    }
    const group = FanoutGroup.open({ ifname: config.if, netns: config.netns, workers: n });
    const rw = new RuntimeWorkers(group, config.if);
    const { workers: _w, workerModule, workerData, ...rest }: RuntimeWorkersConfig = config;
    try {
      for (let i = 0; i < n; i++) {
        await rw.#startOne(i, {
          t: "start",
          index: i,
          count: n,
          fanoutGroup: group.id,
          config: rest,
          module: String(workerModule),
          data: workerData,
        });
      }
    } catch (e) {
      // Workers that did start stop in order (their sockets leave the group); the one that
      // failed already stopped itself or died.
      rw.#stopping = true;
      await Promise.all(rw.#handles.map((h) => rw.#stopOne(h)));
      group.close();
      throw e;
    }
    return rw;
  }

  /** Start worker `i` with `m` and wait for its `ready`; throws its failure. */
  #startOne(i: number, m: ToWorker): Promise<void> {
    const worker = new Worker(new URL("./worker_main.ts", import.meta.url), { type: "module" });
    const h = new WorkerHandle(worker, i);
    this.#handles.push(h);
    this.#listen(h);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        h.started = null;
        reject(new StackError("ETIMEDOUT", `worker ${i} did not start`));
      }, START_TIMEOUT_MS);
      h.started = (failure) => {
        clearTimeout(timer);
        h.started = null;
        if (failure === "") resolve();
        else reject(new StackError("EINVAL", `worker ${i}: ${failure}`));
      };
      worker.postMessage(m);
    });
  }

  #listen(h: WorkerHandle): void {
    const i = h.status.index;
    h.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.t === "joined") {
        // Its driver is the group's next member: steer its flows to it, then let it run the
        // application (whose own connections' answers must already find it).
        this.#group.joined(i);
        const run: ToWorker = { t: "run" };
        h.worker.postMessage(run);
      } else if (m.t === "ready") {
        this.mac = m.mac;
        h.started?.("");
      } else if (m.t === "failed") {
        h.status = { ...h.status, alive: false, exitReason: m.message };
        h.started?.(m.message);
      } else if (m.t === "neighbours") this.#relay(i, m.batch);
      else if (m.t === "addresses") h.addrs = m.addrs;
      else if (m.t === "counters" || m.t === "sockets" || m.t === "rtt") {
        h.waiters.get(m.id)?.(m);
        h.waiters.delete(m.id);
      } else if (m.t === "stopped") {
        h.final = m.counters;
        h.waiters.get(0)?.(m);
      }
    };
    h.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      h.started?.(e.message);
      this.#died(h, `uncaught error: ${e.message}`);
    };
    h.worker.onmessageerror = () => this.#died(h, "message could not be read");
  }

  /** Hand a worker's neighbour batch to every other live worker. */
  #relay(from: number, batch: NeighbourBatch): void {
    const primary = this.#group.primary;
    for (const h of this.#handles) {
      if (!h.status.alive || h.status.index === from) continue;
      const isPrimary = h.status.index === primary;
      if (batch.learned.length === 0 && !isPrimary) continue;
      const m: ToWorker = { t: "neighbours", batch, primary: isPrimary };
      h.worker.postMessage(m);
    }
  }

  #died(h: WorkerHandle, reason: string): void {
    if (!h.status.alive) return;
    h.status = { ...h.status, alive: false, exitReason: reason };
    h.worker.terminate();
    for (const w of h.waiters.values()) w({ t: "failed", message: reason });
    h.waiters.clear();
    if (this.#stopping) return;
    this.#group.workerDied(h.status.index);
    for (const l of this.#exitListeners) l(h.status.index, reason);
  }

  /** Call `listener` whenever a worker dies (not on an orderly {@link stop}). */
  onWorkerExit(listener: WorkerExitListener): void {
    this.#exitListeners.push(listener);
  }

  /** Every worker's status. */
  get workers(): WorkerStatus[] {
    return this.#handles.map((h) => ({ ...h.status }));
  }

  /** The worker that gets ARP, ICMP and fragments (the lowest-numbered live one), or -1. */
  get primary(): number {
    return this.#group.primary;
  }

  /** Kill worker `index` at once (as a crash would): reported, its flows go to the primary. */
  terminate(index: number, reason = "terminated"): void {
    const h = this.#handles[index];
    if (h === undefined) throw new RangeError(`no worker ${index}`);
    this.#died(h, reason);
  }

  /**
   * Settles once every live worker finished duplicate address detection (RFC 4862 §5.4) and
   * reported its usable addresses.
   */
  async addressesReady(): Promise<void> {
    while (this.#handles.some((h) => h.status.alive && h.addrs === null)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The usable addresses (CIDR) of the primary worker, as {@link Runtime.usableAddresses}. */
  usableAddresses(): string[] {
    const h = this.#handles[Math.max(0, this.#group.primary)];
    return h?.addrs ?? [];
  }

  #request(
    h: WorkerHandle,
    t: "counters" | "sockets" | "rtt",
    reset = false,
  ): Promise<FromWorker | null> {
    if (!h.status.alive) return Promise.resolve(null);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        h.waiters.delete(id);
        resolve(null);
      }, REQUEST_TIMEOUT_MS);
      h.waiters.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      const m: ToWorker = t === "rtt" ? { t, id, reset } : { t, id };
      h.worker.postMessage(m);
    });
  }

  /** Every live worker's counters, and their sum. */
  async counters(): Promise<GroupCounters> {
    const answers = await Promise.all(this.#handles.map((h) => this.#request(h, "counters")));
    const workers = answers.map((m) => (m !== null && m.t === "counters" ? m.counters : null));
    return { total: sumWorkerCounters(workers.filter((c) => c !== null)), workers };
  }

  /** The sockets of every live worker, `ss`-style. */
  async sockets(): Promise<SocketEntry[]> {
    const answers = await Promise.all(this.#handles.map((h) => this.#request(h, "sockets")));
    return answers.flatMap((m) => (m !== null && m.t === "sockets" ? m.sockets : []));
  }

  /**
   * Every TCP RTT sample of every live worker in one histogram (ns; the layout of
   * `TcpLayer.rttNs`); with `reset`, each worker's own is cleared after it answered.
   */
  async rtt(reset = false): Promise<Histogram> {
    const answers = await Promise.all(this.#handles.map((h) => this.#request(h, "rtt", reset)));
    const all = latencyHistogram();
    for (const m of answers) if (m !== null && m.t === "rtt") all.addState(m.state);
    return all;
  }

  /**
   * Stop every worker (its application's `close`, then its runtime) and close the group.
   * Resolves with the final counters: the sum over the workers that stopped in order.
   */
  async stop(): Promise<GroupCounters> {
    this.#stopping = true;
    await Promise.all(this.#handles.map((h) => this.#stopOne(h)));
    this.#group.close();
    const workers = this.#handles.map((h) => h.final);
    return { total: sumWorkerCounters(workers.filter((c) => c !== null)), workers };
  }

  async #stopOne(h: WorkerHandle): Promise<void> {
    if (!h.status.alive) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
      h.waiters.set(0, () => {
        clearTimeout(timer);
        resolve();
      });
      const m: ToWorker = { t: "stop" };
      h.worker.postMessage(m);
    });
    h.waiters.delete(0);
    h.status = { ...h.status, alive: false };
    h.worker.terminate();
  }

  /** `await using` support: {@link stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
