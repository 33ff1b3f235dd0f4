/**
 * `--prewarm N` of `serve` and `pingpong`: before the ready line, N short connections between
 * two private stacks on an in-memory wire run the command's own server (and client) code, so
 * that V8 has compiled the connection paths before the first real connection
 * ({@link warmUpConnections}); the real stack's pools are made ready too (`StackOptions.prewarm`).
 * Off by default: it costs start-up time (printed as a `warm_up` line) and the private stacks'
 * memory until the garbage collector takes it back.
 *
 * @module
 */

import {
  type ConnectionWarmUpOptions,
  type Runtime,
  type RuntimeConfig,
  warmUpConnections,
} from "../mod.ts";
import { numberFlag } from "./args.ts";
import { emit, emitJson } from "./output.ts";

/** `parseArgs` spec of `--prewarm N`. */
export const PREWARM_OPTIONS = { prewarm: { type: "string" } } as const;

/** Usage line of `--prewarm`. */
export const PREWARM_USAGE =
  `  --prewarm N          before the ready line, run N connections of this command's own code
                       between two private in-memory stacks (JIT warm-up of the connection
                       paths; nothing reaches the interface) and fill the buffer pools`;

/** Connections `--prewarm` asked for (0: none); a UsageError when it is not a count. */
export function prewarmCount(values: Record<string, unknown>): number {
  return numberFlag("prewarm", values.prewarm, 0, { integer: true, min: 0, max: 1_000_000 });
}

/** `config` with the stack's pools made ready before the first connection. */
export function withPrewarmedPools(config: RuntimeConfig): RuntimeConfig {
  return { ...config, stack: { ...config.stack, prewarm: true } };
}

/**
 * Run `connections` warm-up connections with `serve` (and `client`) on the stack options of
 * `config`, and print what it cost (`warm_up` JSON event or a text line).
 */
export async function runWarmUp(
  connections: number,
  config: RuntimeConfig,
  json: boolean,
  serve: (rt: Runtime, port: number) => { close(): void },
  client?: ConnectionWarmUpOptions["client"],
): Promise<void> {
  if (connections <= 0) return;
  const r = await warmUpConnections({
    connections,
    // Long enough for a cold process; a limit all the same (and in-flight ones get 1 s more).
    timeLimitMs: 10_000,
    stack: config.stack,
    cc: config.cc,
    serve,
    client,
  });
  if (json) emitJson("warm_up", { connections: r.connections, failed: r.failed, ms: r.ms });
  else emit(`warm-up: ${r.connections} connections (${r.failed} failed) in ${r.ms} ms`);
}
