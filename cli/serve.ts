/**
 * `ustack serve`: run as a host until SIGINT/SIGTERM, answering ARP and ping (and, with
 * service flags, the services they name).
 *
 * @module
 */

import { Runtime, type RuntimeConfig } from "../mod.ts";
import { LINK_OPTIONS, LINK_USAGE, linkConfig, parseStrict, UsageError } from "./args.ts";
import { emit, emitJson, formatStats } from "./output.ts";

/** Usage of `serve`. */
export const SERVE_USAGE = `usage: ustack serve [link options]
Run as a host until SIGINT/SIGTERM; answers ARP and ping.
Prints "ready <if> <addr>..." once it answers, and the final stats when stopped.
${LINK_USAGE}`;

/** Run `serve` with `args`; resolves to the exit status. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseStrict(args, { ...LINK_OPTIONS });
  if (values.help) {
    emit(SERVE_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const config: RuntimeConfig = linkConfig(values);
  const json = values.json === true;
  const rt: Runtime = await Runtime.start(config);
  const stopped = new Promise<void>((resolve) => {
    const onSignal = () => resolve();
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  });
  if (json) {
    emitJson("ready", { if: rt.nic.name, mac: rt.nic.macString, addrs: [...rt.addrs] });
  } else {
    emit(`ready ${rt.nic.name} ${rt.addrs.join(" ")}`.trimEnd());
  }
  await stopped;
  await rt.stop();
  printStats(rt, json);
  return 0;
}

/** Print a runtime's final counters (`stats` JSON line, or an indented block). */
export function printStats(rt: Runtime, json: boolean): void {
  const stats = rt.stack.stats.snapshot();
  const driver = { ...rt.nic.driver.stats } as Record<string, number>;
  if (json) {
    emitJson("stats", { ...stats, driver });
    return;
  }
  emit("stats");
  const nz = rt.stack.stats.nonZero();
  const drv: Record<string, number> = {};
  for (const [k, v] of Object.entries(driver)) if (v !== 0) drv[k] = v;
  for (const line of formatStats({ ...nz, driver: drv })) emit(line);
}
