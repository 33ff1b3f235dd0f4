/**
 * V8's `--trace-gc-nvp` lines: one `GC: {…}` JSON object per collection (`gc` is `"s"` for a
 * scavenge, `pause` in ms, `allocated`, `promoted`, `new_space_survived` in bytes, …), read out
 * of a process's output where they may stand between other lines. Shared by
 * `bench/conn_alloc.ts`, `bench/rr_trace.ts`, `bench/gc_rate.ts`, `bench/gc_after_ready.ts` and
 * `bench/gc_idle.ts`.
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

const GC_LINE = /\s(\d+(?:\.\d+)?) ms: GC: (\{.*\})\s*$/;

/**
 * One `--trace-gc-nvp` line with its time (`… N ms: GC: {…}`): ms since V8 started and the
 * record, or null for any other line or one cut by other output.
 */
export function parseGcLine(line: string): { ms: number; rec: GcRecord } | null {
  const m = GC_LINE.exec(line);
  if (m === null) return null;
  try {
    return { ms: Number(m[1]), rec: JSON.parse(m[2]) };
  } catch {
    return null; // a line cut by other output
  }
}
