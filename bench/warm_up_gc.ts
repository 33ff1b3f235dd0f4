/**
 * `bench/warm_up_gc.ts`: does a fresh `pingpong client --connect` (1,000 connections, 32 at
 * once, against a fresh peer `pingpong server` on a veth pair) meet a mark-compact between its
 * `warm_up` line and its summary — the claim of `tests/interop/many_clients_test.ts`'s "without
 * a mark-compact" test, run many times and per checkout. Per run: the client's collections in
 * the crowd (V8's `--trace-gc` lines, line-buffered), the last collections before its `warm_up`
 * line, its warm-up ms and its rate.
 *
 * ```
 * deno run --allow-all bench/warm_up_gc.ts [--runs N] [--base NAME=PATH]... [--v8=FLAGS]
 *     [--server-v8=FLAGS] [--keep DIR] [--out FILE]
 * ```
 *
 * `--base NAME=PATH` runs another checkout's `cli/ustack.ts` in the same rounds (the order
 * rotating); `--v8=FLAGS` the client's V8 flags [`--trace-gc`]; `--keep DIR` keeps each
 * client's stdout (`DIR/ROUND-NAME.txt`); `--server-v8=FLAGS` runs the peer server with those
 * V8 flags (line-buffered) and keeps its stdout too (`DIR/ROUND-NAME-server.txt`, with
 * `--keep`). Run it under the lock, beside load
 * with `bench/with_hogs.sh`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runCommand, withVethPair } from "../tests/harness/netns.ts";
import { CLI_PATH } from "../tests/harness/ustack_cli.ts";
import {
  crowdClientCommand,
  peerPingpongServer,
  peerWithoutKernelAddress,
} from "../tests/harness/pingpong_pair.ts";

/** One fresh client's run. */
export interface WarmUpGcRun {
  /** The checkout's name. */
  name: string;
  /** Mark-compacts between the `warm_up` line and the summary. */
  markCompacts: number;
  /** Every `--trace-gc` line in that window. */
  crowdGc: string[];
  /** The last three `--trace-gc` lines before the `warm_up` line. */
  beforeWarmUp: string[];
  /** `[IncrementalMarking] Start` lines in that window (with `--trace-incremental-marking`). */
  crowdMarkingStarts: number;
  /** The warm-up's wait for a marking in progress (ms; its event's, null where not reported). */
  markingWaitMs: number | null;
  /** The warm-up's marking made to begin (ms; its event's `markingProvokedMs`, null where none). */
  markingProvokedMs: number | null;
  /** The warm-up's ms (its event's). */
  warmUpMs: number;
  /** The crowd's connections per second. */
  connPerS: number;
  /** Connections that failed. */
  failed: number;
}

/** The client's stdout `lines` as a {@link WarmUpGcRun} of checkout `name`. */
export function readRun(name: string, lines: string[]): WarmUpGcRun {
  const from = lines.findIndex((l) => l.startsWith('{"event":"warm_up"'));
  const to = lines.findIndex((l) => l.startsWith('{"event":"summary"'));
  if (from < 0 || to < from) throw new Error(`no warm_up/summary:\n${lines.slice(-20).join("\n")}`);
  const gc = (l: string) => /^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: /.test(l);
  const crowdGc = lines.slice(from + 1, to).filter(gc);
  const summary = JSON.parse(lines[to]);
  const warmUp = JSON.parse(lines[from]);
  return {
    name,
    markCompacts: crowdGc.filter((l) => l.includes("Mark-Compact")).length,
    crowdGc,
    crowdMarkingStarts:
      lines.slice(from + 1, to).filter((l) => l.includes("[IncrementalMarking] Start")).length,
    markingWaitMs: warmUp.markingWaitMs ?? null,
    markingProvokedMs: warmUp.markingProvokedMs ?? null,
    beforeWarmUp: lines.slice(0, from).filter(gc).slice(-3),
    warmUpMs: warmUp.ms,
    connPerS: summary.conn_per_s,
    failed: summary.failed,
  };
}

async function oneRun(
  name: string,
  cli: string,
  v8: string,
  keep?: string,
  serverV8?: string,
): Promise<WarmUpGcRun> {
  return await withVethPair({ ipv6: false }, async (pair) => {
    await peerWithoutKernelAddress(pair);
    const server = peerPingpongServer(pair, serverV8, cli);
    try {
      await server.waitForLine(/"event":"ready"/);
      const c = await runCommand(crowdClientCommand(pair, v8, cli), { timeoutMs: 120_000 });
      if (keep !== undefined) Deno.writeTextFileSync(keep, c.stdout);
      if (c.code !== 0) throw new Error(`client exited ${c.code}: ${c.stderr}`);
      return readRun(name, c.stdout.trim().split("\n"));
    } finally {
      await server.stop();
      if (keep !== undefined && serverV8 !== undefined) {
        Deno.writeTextFileSync(keep.replace(/\.txt$/, "-server.txt"), server.lines.join("\n"));
      }
    }
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "8" },
      base: { type: "string", multiple: true, default: [] },
      v8: { type: "string", default: "--trace-gc" },
      out: { type: "string" },
      keep: { type: "string" },
      "server-v8": { type: "string" },
    },
  });
  const builds: [string, string][] = [["head", CLI_PATH]];
  for (const b of values.base) {
    const i = b.indexOf("=");
    builds.push([b.slice(0, i), b.slice(i + 1)]);
  }
  const runs: WarmUpGcRun[] = [];
  const n = Number(values.runs);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < builds.length; k++) {
      const [name, cli] = builds[(r + k) % builds.length];
      const keep = values.keep === undefined ? undefined : `${values.keep}/${r}-${name}.txt`;
      const run = await oneRun(name, cli, values.v8, keep, values["server-v8"]);
      runs.push(run);
      console.log(
        `${r} ${name}: mark-compacts ${run.markCompacts}, markings begun ` +
          `${run.crowdMarkingStarts}, warm-up ${run.warmUpMs} ms (marking wait ` +
          `${run.markingWaitMs ?? "-"}, provoked ${run.markingProvokedMs ?? "-"}), ${
            Math.round(run.connPerS)
          }/s${run.markCompacts > 0 ? `\n  ${run.crowdGc.join("\n  ")}` : ""}`,
      );
    }
  }
  for (const [name] of builds) {
    const mine = runs.filter((x) => x.name === name);
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
    console.log(
      `${name}: ${mine.filter((x) => x.markCompacts > 0).length} of ${mine.length} runs with a ` +
        `mark-compact in the crowd; warm-up median ${med(mine.map((x) => x.warmUpMs))} ms; ` +
        `rate median ${Math.round(med(mine.map((x) => x.connPerS)))}/s`,
    );
  }
  if (values.out !== undefined) {
    Deno.writeTextFileSync(values.out, JSON.stringify({ v8: values.v8, builds, runs }, null, 1));
  }
}
