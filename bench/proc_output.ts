/**
 * What a benchmark reads from a finished tool process: its last JSON event line, every line of
 * one flat event, and whether it ended well. Shared by `bench:e2e` (which re-exports both) and the tools it runs in part, such
 * as `bench/hold.ts`.
 *
 * @module
 */

import type { Finished } from "./netns.ts";

/**
 * The last JSON object on stdout whose `event` is `event` (or the last JSON line at all). A line
 * may begin with the head of one of V8's `--trace-gc-nvp` lines: V8 writes them through a stdio
 * buffer flushed in blocks, so the rest of that GC line follows on the next line and the event's
 * JSON starts mid-line (`… GC: {"pause":…,"reason":"allocation failure"{"event":…}`).
 */
export function lastJson(stdout: string, event?: string): Record<string, any> {
  const lines = stdout.trim().split("\n").reverse();
  for (const l of lines) {
    const at = l.startsWith("{") ? 0 : l.lastIndexOf('{"event":');
    if (at < 0) continue;
    try {
      const o = JSON.parse(at === 0 ? l : l.slice(at));
      if (event === undefined || o.event === event) return o;
    } catch { /* not JSON */ }
  }
  throw new Error(`no JSON ${event ?? "line"} in output:\n${stdout.slice(-2000)}`);
}

/**
 * Every `event` line on stdout, in order, for a flat event (no nested object, such as
 * `uperf`'s `interval`): each is read from its `{"event":"<event>"` to its first `}`, so a V8
 * trace line (`--trace-opt`, `--trace-gc-nvp`, written through a buffer flushed in blocks) cut
 * in before or after it on the same line does not lose it. One that does not parse is skipped.
 */
export function flatEvents(stdout: string, event: string): Record<string, any>[] {
  const head = `{"event":${JSON.stringify(event)}`;
  const out: Record<string, any>[] = [];
  for (const l of stdout.split("\n")) {
    const at = l.indexOf(head);
    if (at < 0) continue;
    const end = l.indexOf("}", at);
    if (end < 0) continue;
    try {
      out.push(JSON.parse(l.slice(at, end + 1)));
    } catch { /* cut by other output */ }
  }
  return out;
}

/** Throw unless a process ended well; the message carries its stderr. */
export function mustSucceed(what: string, f: Finished): void {
  if (f.timedOut) throw new Error(`${what}: timed out\n${f.stderr.slice(-1000)}`);
  if (f.code !== 0) throw new Error(`${what}: exit ${f.code}\n${f.stderr.slice(-1000)}`);
}
