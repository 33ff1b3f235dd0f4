/**
 * `ustack serve --workers N`: the services of `serve` on N stacks, one per Deno Worker, on one
 * interface (`stack/workers.ts`). The parent prints the ready line once every worker runs
 * every service and finished duplicate address detection, reports a worker that dies (the
 * others keep serving), serves the control socket with the workers' counters summed, and prints
 * the summed counters at exit.
 *
 * @module
 */

import { ControlServer, Runtime, type RuntimeConfig, type WorkerCounters } from "../mod.ts";
import { emit, emitError, emitJson } from "./output.ts";
import { printCounterSet, serviceGroupName } from "./output.ts";
import { onStopSignal, StopLatch } from "./meter.ts";

/** What `serve` hands over: the worker count, the services and where to report. */
export interface ServeWorkersOptions {
  /** Stacks to run. */
  workers: number;
  /** The services' ports (`serve`'s `ServicePorts`), handed to every worker. */
  ports: unknown;
  /** The services' names (`http/80`, …), for the ready line. */
  services: string[];
  /** `--control PATH`. */
  control: string | undefined;
  /** `--json`. */
  json: boolean;
}

/** Groups of the workers' application counters that are not services. */
const NON_SERVICE_GROUPS = new Set(["Neighbours"]);

/** The application counters of `total` split into services (by name) and the rest. */
function splitApp(total: WorkerCounters): {
  services: Record<string, Record<string, number>>;
  other: Record<string, Record<string, number>>;
} {
  const services: Record<string, Record<string, number>> = {};
  const other: Record<string, Record<string, number>> = {};
  for (const [name, g] of Object.entries(total.app)) {
    if (NON_SERVICE_GROUPS.has(name)) other[name] = g;
    else services[name] = g;
  }
  return { services, other };
}

/** Run `serve` on `o.workers` stacks until SIGINT/SIGTERM; resolves to the exit status. */
export async function serveWorkers(
  config: RuntimeConfig,
  o: ServeWorkersOptions,
): Promise<number> {
  const { workers, json } = o;
  const group = await Runtime.start({
    ...config,
    workers,
    workerModule: new URL("./serve_worker_app.ts", import.meta.url),
    workerData: o.ports,
  });
  if (!group.ignoresOutgoing) {
    emitError(
      "serve: the kernel refused PACKET_FANOUT_FLAG_IGNORE_OUTGOING: frames it segments for " +
        "the workers come back to them (driver rxOutgoingSkipped)",
    );
  }
  group.onWorkerExit((index, reason) => {
    const primary = group.primary;
    if (json) emitJson("worker-exit", { worker: index, reason, primary });
    else emit(`worker ${index} exited: ${reason} (primary now ${primary})`);
  });
  let control: ControlServer | null = null;
  if (o.control !== undefined) {
    try {
      control = ControlServer.listen(o.control, {
        remote: {
          async counters() {
            const { total } = await group.counters();
            const { services, other } = splitApp(total);
            const extra: Record<string, Record<string, number>> = { Driver: total.driver };
            for (const [name, g] of Object.entries(services)) extra[serviceGroupName(name)] = g;
            for (const [name, g] of Object.entries(other)) extra[name] = g;
            return { stack: total.stack, extra };
          },
          sockets: () => group.sockets(),
          rtt: (reset) => group.rtt(reset),
        },
      });
    } catch (e) {
      await group.stop();
      throw e;
    }
  }
  const stop = new StopLatch();
  const signals = onStopSignal(() => stop.stop("signal"));
  await Promise.race([group.addressesReady(), stop.finished]);
  if (stop.stoppedBy === "") {
    const addrs = group.usableAddresses();
    if (json) {
      emitJson("ready", {
        if: group.ifname,
        mac: group.mac,
        addrs,
        services: o.services,
        workers,
        ignoreOutgoing: group.ignoresOutgoing,
      });
    } else emit(`ready ${group.ifname} ${addrs.join(" ")}`.trimEnd());
  }
  await stop.finished;
  signals.remove();
  await control?.close();
  const { total, workers: each } = await group.stop();
  const { services, other } = splitApp(total);
  printCounterSet(total.stack, total.driver, { ...services, ...other }, json);
  if (json) {
    emitJson("workers", {
      workers: group.workers.map((w, i) => ({
        ...w,
        passiveOpens: each[i]?.stack.tcp?.PassiveOpens ?? null,
        activeOpens: each[i]?.stack.tcp?.ActiveOpens ?? null,
      })),
    });
  }
  return 0;
}
