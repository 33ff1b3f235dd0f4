/**
 * The entry module of one worker of a stack per core (`stack/workers.ts` starts it with
 * `new Worker`). On `start` it boots a {@link Runtime} whose driver joins the parent's fanout
 * group, restricts the ephemeral ports of its active opens to those the flow steering sends
 * back to it, hooks its neighbour caches to the parent, runs the application module, and
 * answers the parent's requests for counters and sockets until `stop`.
 *
 * An error thrown by the application after start is not caught here: the worker dies and the
 * parent reports it (its socket stays in the group, steered around; see
 * `drivers/packet_fanout.ts`).
 *
 * @module
 */

import { flowWorker } from "../drivers/flow_steering.ts";
import { listSockets } from "./control.ts";
import { NeighbourShare } from "./neighbour_share.ts";
import { Runtime } from "./runtime.ts";
import type { FromWorker, ToWorker, WorkerCounters } from "./worker_protocol.ts";
import type { WorkerApp, WorkerMain } from "./worker_app.ts";

/** The worker side of `postMessage`/`onmessage` (the global scope of a worker). */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let rt: Runtime | null = null;
let app: WorkerApp | void = undefined;
let share: NeighbourShare | null = null;

function counters(): WorkerCounters {
  if (rt === null) return { stack: {}, driver: {}, app: {} };
  return {
    stack: rt.stack.stats.snapshot(),
    driver: { ...rt.nic.driver.stats } as unknown as Record<string, number>,
    app: { ...app?.counters?.(), Neighbours: { ...share?.stats } },
  };
}

/** Set by `start`: runs the application module (on `run`, once the worker's flows are steered). */
let runApp: (() => Promise<WorkerApp | void>) | null = null;

async function failed(e: unknown): Promise<void> {
  scope.postMessage({ t: "failed", message: e instanceof Error ? e.message : String(e) });
  await rt?.stop();
  scope.close();
}

/** Boot the stack (its driver joins the fanout group) and load the module; then `joined`. */
async function start(m: Extract<ToWorker, { t: "start" }>): Promise<void> {
  const { index, count } = m;
  // Connections and datagram flows this worker starts use ports the steering sends back here.
  const connectPortFilter = (lp: number, rp: number) => flowWorker(lp, rp, count) === index;
  const stack = m.config.stack ?? {};
  try {
    const main = (await import(m.module)).default as WorkerMain;
    if (typeof main !== "function") throw new Error(`${m.module} has no default export function`);
    const booted = await Runtime.start({
      ...m.config,
      fanoutGroup: m.fanoutGroup,
      stack: {
        ...stack,
        tcp: { ...stack.tcp, connectPortFilter },
        udp: { ...stack.udp, connectPortFilter },
      },
    });
    rt = booted;
    share = new NeighbourShare(
      booted.stack,
      booted.nic.index,
      (batch) => scope.postMessage({ t: "neighbours", batch }),
    );
    runApp = async () => await main(booted, { index, count, data: m.data });
  } catch (e) {
    await failed(e);
    return;
  }
  scope.postMessage({ t: "joined" });
}

/** Run the application, now that the steering sends this worker its flows; then `ready`. */
async function run(): Promise<void> {
  if (rt === null || runApp === null) return;
  const booted = rt;
  try {
    app = await runApp();
  } catch (e) {
    await failed(e);
    return;
  }
  scope.postMessage({ t: "ready", mac: booted.nic.macString, ifname: booted.nic.name });
  void booted.addressesReady().then(() => {
    scope.postMessage({ t: "addresses", addrs: booted.usableAddresses() });
  });
}

async function stop(): Promise<void> {
  try {
    await app?.close?.();
  } finally {
    share?.flush();
    const last = counters();
    await rt?.stop();
    scope.postMessage({ t: "stopped", counters: last });
    scope.close();
  }
}

if (typeof scope.postMessage === "function") {
  scope.onmessage = (e: MessageEvent<ToWorker>) => {
    const m = e.data;
    if (m.t === "start") void start(m);
    else if (m.t === "run") void run();
    else if (m.t === "neighbours") share?.apply(m.batch, m.primary);
    else if (m.t === "counters") {
      scope.postMessage({ t: "counters", id: m.id, counters: counters() });
    } else if (m.t === "sockets") {
      scope.postMessage({
        t: "sockets",
        id: m.id,
        sockets: rt === null ? [] : listSockets(rt.stack),
      });
    } else if (m.t === "rtt") {
      if (rt === null) return;
      const h = rt.stack.tcp.rttNs;
      scope.postMessage({ t: "rtt", id: m.id, state: h.state() });
      if (m.reset) h.reset();
    } else if (m.t === "stop") void stop();
  };
}
