/**
 * The module every worker of `ustack serve --workers N` runs (`RuntimeConfig.workerModule`):
 * it starts the services the flags named on its worker's stack, reports their counters by
 * service name, and closes them when the group stops.
 *
 * @module
 */

import type { Runtime, WorkerApp, WorkerContext } from "../mod.ts";
import { type ServicePorts, startServices } from "./serve.ts";

/** Start `serve`'s services in one worker; `ctx.data` is the {@link ServicePorts}. */
export default function serveWorkerApp(rt: Runtime, ctx: WorkerContext): WorkerApp {
  const services = startServices(rt, ctx.data as ServicePorts);
  return {
    counters() {
      const out: Record<string, Record<string, number>> = {};
      for (const s of services) out[s.name] = { ...s.stats };
      return out;
    },
    close() {
      for (const s of services) s.close();
    },
  };
}
