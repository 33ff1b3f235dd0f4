/**
 * V8's `--trace-gc-nvp` lines: one `GC: {…}` JSON object per collection (`gc` is `"s"` for a
 * scavenge, `pause` in ms, `allocated`, `promoted`, `new_space_survived` in bytes, …), read out
 * of a process's output where they may stand between other lines. Shared by
 * `bench/conn_alloc.ts` and `bench/rr_trace.ts`.
 *
 * @module
 */

/** One collection's name/value pairs. */
export type GcRecord = Record<string, number | string>;

/** The collections reported in `text`, in order (lines that do not parse are skipped). */
export function gcRecords(text: string): GcRecord[] {
  const out: GcRecord[] = [];
  for (const line of text.split("\n")) {
    const at = line.indexOf("GC: {");
    if (at < 0) continue;
    try {
      out.push(JSON.parse(line.slice(at + 4)));
    } catch {
      // A line cut by other output: not a whole record.
    }
  }
  return out;
}
