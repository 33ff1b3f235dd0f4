/**
 * `uperf client`'s CPU per thread: user + system time of every thread of the process from
 * `/proc/self/task/TID/stat` (Linux; clock ticks of 10 ms), so a run can say how much went to
 * the stack's own thread and how much to the others — the TX kicker's `sendto`, which runs
 * GSO and a veth peer's whole receive path, above all.
 *
 * @module
 */

/**
 * CPU seconds per thread id (user + system) of process `pid` (this one by default), read now;
 * empty where `/proc` is not there or may not be read (Deno lets only `--allow-all` read
 * `/proc/self`).
 */
export function threadCpuSeconds(
  pid: number | "self" = "self",
): Map<number, { name: string; seconds: number }> {
  const out = new Map<number, { name: string; seconds: number }>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const e of entries) {
    const tid = Number(e.name);
    if (!Number.isInteger(tid)) continue;
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      continue; // the thread ended
    }
    const parsed = parseTaskStat(text);
    if (parsed !== null) out.set(tid, parsed);
  }
  return out;
}

/**
 * The thread name and CPU seconds (utime + stime, fields 14 and 15, at 100 ticks a second) of
 * one `/proc/.../stat` line; null when it does not parse.
 */
export function parseTaskStat(text: string): { name: string; seconds: number } | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { name: text.slice(open + 1, close), seconds: (utime + stime) / 100 };
}

/**
 * CPU seconds between two {@link threadCpuSeconds} readings: the stack's own thread (the
 * process's main thread, `mainTid`), the busiest other thread (by its name), and all the
 * others together.
 */
export function threadCpuDelta(
  before: Map<number, { name: string; seconds: number }>,
  after: Map<number, { name: string; seconds: number }>,
  mainTid: number,
): {
  mainSeconds: number;
  busiestOther: string;
  busiestOtherSeconds: number;
  otherSeconds: number;
} {
  let main = 0;
  let other = 0;
  let busiest = "";
  let busiestS = 0;
  for (const [tid, a] of after) {
    const d = a.seconds - (before.get(tid)?.seconds ?? 0);
    if (tid === mainTid) {
      main = d;
      continue;
    }
    other += d;
    if (d > busiestS) {
      busiestS = d;
      busiest = a.name;
    }
  }
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    mainSeconds: r(main),
    busiestOther: busiest,
    busiestOtherSeconds: r(busiestS),
    otherSeconds: r(other),
  };
}
