/**
 * `uperf client`'s CPU per thread: user + system time of every thread of the process from
 * `/proc/self/task/TID/stat` (Linux; in clock ticks, `AT_CLKTCK` of the process's auxiliary
 * vector, 100 a second where it cannot be read), so a run can say how much went to
 * the stack's own thread and how much to the others — the TX kicker's `sendto`, which runs
 * GSO and a veth peer's whole receive path, above all.
 *
 * @module
 */

/** `AT_CLKTCK` in the auxiliary vector: clock ticks per second of `/proc` times. */
const AT_CLKTCK = 17;

let ticksPerSecond = 0;

/**
 * Clock ticks per second of the times in `/proc/.../stat` (`sysconf(_SC_CLK_TCK)`), read once
 * from `/proc/self/auxv` (pairs of 64-bit little-endian words: type, value); 100, the value on
 * every common Linux build, where it cannot be read.
 */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond > 0) return ticksPerSecond;
  let ticks = 0;
  try {
    ticks = auxvClockTicks(Deno.readFileSync("/proc/self/auxv"));
  } catch {
    // not Linux, or no read permission: the common value
  }
  ticksPerSecond = ticks > 0 ? ticks : 100;
  return ticksPerSecond;
}

/**
 * `AT_CLKTCK`'s value in an auxiliary vector's bytes (pairs of 64-bit little-endian words:
 * type, value, ending at `AT_NULL`), or 0 when it is not there or does not fit 32 bits.
 */
export function auxvClockTicks(auxv: Uint8Array): number {
  const v = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  for (let off = 0; off + 16 <= auxv.byteLength; off += 16) {
    const type = v.getUint32(off, true) + v.getUint32(off + 4, true) * 2 ** 32;
    if (type === 0) return 0; // AT_NULL
    if (type !== AT_CLKTCK) continue;
    return v.getUint32(off + 12, true) === 0 ? v.getUint32(off + 8, true) : 0;
  }
  return 0;
}

/**
 * CPU seconds per thread id (user + system) of process `pid` (this one by default), read now;
 * empty where `/proc` is not there or may not be read (Deno lets only `--allow-all` read
 * `/proc/self`).
 */
export function threadCpuSeconds(
  pid: number | "self" = "self",
): Map<number, { name: string; seconds: number }> {
  return perThread(pid, "stat", (text) => parseTaskStat(text));
}

/**
 * `parse` over one `/proc/PID/task/TID/<file>` of every thread of process `pid`, by thread id:
 * threads whose file does not parse (null) or that ended meanwhile are left out; empty where
 * `/proc` may not be read.
 */
function perThread<T>(
  pid: number | "self",
  file: "stat" | "sched",
  parse: (text: string) => T | null,
): Map<number, T> {
  const out = new Map<number, T>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const e of entries) {
    const tid = Number(e.name);
    if (!Number.isInteger(tid)) continue;
    let parsed: T | null;
    try {
      parsed = parse(Deno.readTextFileSync(`/proc/${pid}/task/${tid}/${file}`));
    } catch {
      continue; // the thread ended
    }
    if (parsed !== null) out.set(tid, parsed);
  }
  return out;
}

/**
 * The thread name and CPU seconds (utime + stime, fields 14 and 15, at `ticks` a second,
 * {@link clockTicksPerSecond} by default) of one `/proc/.../stat` line; null when it does not
 * parse.
 */
export function parseTaskStat(
  text: string,
  ticks: number = clockTicksPerSecond(),
): { name: string; seconds: number } | null {
  const split = splitTaskStat(text);
  if (split === null) return null;
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(split.rest[11]);
  const stime = Number(split.rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { name: split.name, seconds: (utime + stime) / ticks };
}

/**
 * One `/proc/.../stat` line split at its command name: the name (between the first `(` and the
 * last `)`, since a name may hold blanks and parentheses) and the fields after it, `rest[0]`
 * being field 3 (state); null when the line has no name.
 *
 * @example
 * ```ts
 * splitTaskStat("7 (a b) R 1 2")?.rest[0]; // "R"
 * ```
 */
export function splitTaskStat(text: string): { name: string; rest: string[] } | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  return { name: text.slice(open + 1, close), rest: text.slice(close + 2).split(" ") };
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

/** A thread's scheduler counts from `/proc/.../sched`: context switches and CPU migrations. */
export interface TaskSchedCounts {
  /** Switches away while it waited (slept, blocked). */
  voluntary: number;
  /** Switches away while it could run: preempted (by a woken thread, the slice's end). */
  involuntary: number;
  /** Moves to another CPU. */
  migrations: number;
}

/**
 * The counts of one `/proc/.../task/TID/sched` text (`nr_voluntary_switches`,
 * `nr_involuntary_switches`, `se.nr_migrations`); null when one is missing.
 */
export function parseTaskSched(text: string): TaskSchedCounts | null {
  const field = (name: string): number => {
    const m = new RegExp(`^${name.replace(".", "\\.")}\\s*:\\s*(\\d+)`, "m").exec(text);
    return m === null ? NaN : Number(m[1]);
  };
  const c = {
    voluntary: field("nr_voluntary_switches"),
    involuntary: field("nr_involuntary_switches"),
    migrations: field("se.nr_migrations"),
  };
  return Number.isFinite(c.voluntary) && Number.isFinite(c.involuntary) &&
      Number.isFinite(c.migrations)
    ? c
    : null;
}

/**
 * Scheduler counts per thread id of process `pid` ({@link parseTaskSched}), read now; empty
 * where `/proc` may not be read. A thread preempted each time it hands work to another —
 * the woken one placed on its CPU — shows as involuntary switches about as many as the
 * hand-offs.
 */
export function threadSchedCounts(pid: number | "self" = "self"): Map<number, TaskSchedCounts> {
  return perThread(pid, "sched", parseTaskSched);
}

/**
 * {@link TaskSchedCounts} between two {@link threadSchedCounts} readings of thread `tid`
 * (zeros where it is missing from either).
 */
export function threadSchedDelta(
  before: Map<number, TaskSchedCounts>,
  after: Map<number, TaskSchedCounts>,
  tid: number,
): TaskSchedCounts {
  const a = after.get(tid);
  const b = before.get(tid);
  if (a === undefined || b === undefined) return { voluntary: 0, involuntary: 0, migrations: 0 };
  return {
    voluntary: a.voluntary - b.voluntary,
    involuntary: a.involuntary - b.involuntary,
    migrations: a.migrations - b.migrations,
  };
}
