/**
 * `deno run --allow-read bench/cc_trace.ts [--stack BASE]... [--kernel FILE [--dport P]]...`:
 * one sender's window ACK by ACK, summarised the same way for the stack and for a kernel
 * sender, so the two can be put side by side under the same loss:
 *
 * - `--stack BASE`: the files of `ustack uperf client --cc-trace BASE` (`BASE.json`,
 *   `BASE.cc.f64`: one record per ACK after congestion control saw it).
 * - `--kernel FILE`: the text of `/sys/kernel/tracing/trace` with the `tcp:tcp_probe` (one
 *   line per segment the sender's socket received, the window before it is processed) and
 *   `tcp:tcp_cong_state_set` events of the kernel sender; `--dport P` keeps the connection
 *   to port P (default: every sender in the file, i.e. one connection).
 *
 * Per trace: ACKs and segments acknowledged per ACK (cumulatively; the kernel's trace has no
 * SACK count), the mean cwnd, ssthresh and flight (per ACK and over time), and the window
 * reductions — each entry into Recovery, CWR or Loss from Open/Disorder is an episode: cwnd
 * before it, ssthresh, cwnd after it, its length (ms, ACKs), whether it was undone (cwnd back
 * at or above its value before) — and the congestion-avoidance stretches between two
 * episodes: how long, how many segments delivered, and how much cwnd grew per window of data
 * acknowledged (1 per window is AIMD(1); RFC 9438 §4.3's Reno-friendly α is 0.53) — and the
 * RTT samples behind SRTT, read back from its changes (`rttSamples`).
 *
 * Recording the kernel sender (as root, around a `bench:cc` run; the ports start at 5400):
 *
 * ```
 * T=/sys/kernel/tracing
 * echo mono > $T/trace_clock; echo 65536 > $T/buffer_size_kb; echo > $T/trace
 * echo 'dport >= 5400 && dport < 5500' > $T/events/tcp/tcp_probe/filter
 * echo 'dport >= 5400 && dport < 5500' > $T/events/tcp/tcp_cong_state_set/filter
 * echo 1 > $T/events/tcp/tcp_probe/enable; echo 1 > $T/events/tcp/tcp_cong_state_set/enable
 * … the run …
 * echo 0 > $T/events/tcp/enable; cat $T/trace > FILE
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

/** `TCP_CA_*` numbers (Linux `enum tcp_ca_state`; the stack's `recovery.ts` uses the same). */
const CA_NAMES = ["Open", "Disorder", "CWR", "Recovery", "Loss"];
/** Set in the stack's state field when the ACK counted as cwnd-limited (`cc_trace.ts`). */
const CWND_LIMITED = 16;

/** One ACK of one sender, in segments and ms. */
export interface WindowRecord {
  /** When (ms). */
  t: number;
  /** cwnd (segments). */
  cwnd: number;
  /** ssthresh (segments; Infinity before the first reduction). */
  ssthresh: number;
  /** Sent and not cumulatively acknowledged (segments). */
  unacked: number;
  /** Cumulatively acknowledged by this ACK (segments). */
  acked: number;
  /** `TCP_CA_*`. */
  state: number;
  /** The ACK counted as cwnd-limited (stack only; null when the trace does not say). */
  cwndLimited: boolean | null;
  /** SRTT (ms). */
  srttMs: number;
  /** Window reductions started so far (an ACK may end one and start the next). */
  reductions: number;
}

/** Read a stack trace (`uperf client --cc-trace BASE`). */
export function readStackTrace(base: string): WindowRecord[] {
  const header = JSON.parse(Deno.readTextFileSync(`${base}.json`));
  const fields: string[] = header.fields;
  const mss: number = header.mss;
  const bytes = Deno.readFileSync(`${base}.cc.f64`);
  const d = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const n = fields.length;
  const at = (name: string) => {
    const i = fields.indexOf(name);
    if (i < 0) throw new Error(`${base}.json: no field ${name}`);
    return i;
  };
  const [ti, ci, si, ui, ai, sti, ri, rdi] = [
    "timeMs",
    "cwnd",
    "ssthresh",
    "unacked",
    "acked",
    "state",
    "srttMs",
    "reductions",
  ].map(at);
  const out: WindowRecord[] = [];
  for (let k = 0; k + n <= d.length; k += n) {
    const st = d[k + sti];
    out.push({
      t: d[k + ti],
      cwnd: d[k + ci] / mss,
      ssthresh: d[k + si] >= 0x7fffffff ? Infinity : d[k + si] / mss,
      unacked: d[k + ui] / mss,
      acked: d[k + ai] / mss,
      state: st & (CWND_LIMITED - 1),
      cwndLimited: (st & CWND_LIMITED) !== 0,
      srttMs: d[k + ri],
      reductions: d[k + rdi],
    });
  }
  return out;
}

/**
 * Read a kernel sender's `tcp_probe` / `tcp_cong_state_set` trace text: the connection to
 * `dport` (or the only one), segments of `mss` bytes.
 */
export function parseKernelTrace(text: string, mss: number, dport?: number): WindowRecord[] {
  const out: WindowRecord[] = [];
  let state = 0;
  let reductions = 0;
  let prevUna = -1;
  const probe =
    /\s([\d.]+): tcp_probe: .*dest=[\d.]+:(\d+) .*snd_nxt=(0x[0-9a-f]+) snd_una=(0x[0-9a-f]+) snd_cwnd=(\d+) ssthresh=(\d+) .*srtt=(\d+)/;
  const cong = /\s([\d.]+): tcp_cong_state_set: .*dport=(\d+) .*cong_state=(\d+)/;
  for (const line of text.split("\n")) {
    const c = cong.exec(line);
    if (c !== null) {
      if (dport === undefined || Number(c[2]) === dport) {
        const next = Number(c[3]);
        if (next >= 2 && state < 2) reductions++;
        state = next;
      }
      continue;
    }
    const p = probe.exec(line);
    if (p === null) continue;
    if (dport !== undefined && Number(p[2]) !== dport) continue;
    const nxt = parseInt(p[3], 16);
    const una = parseInt(p[4], 16);
    const acked = prevUna < 0 ? 0 : ((una - prevUna) >>> 0);
    prevUna = una;
    const ss = Number(p[6]);
    out.push({
      t: Number(p[1]) * 1000,
      cwnd: Number(p[5]),
      ssthresh: ss >= 0x7fffffff ? Infinity : ss,
      unacked: ((nxt - una) >>> 0) / mss,
      acked: acked < 0x40000000 ? acked / mss : 0,
      state,
      cwndLimited: null,
      srttMs: Number(p[7]) / 1000,
      reductions,
    });
  }
  return out;
}

/** One window reduction. */
export interface Episode {
  /** `TCP_CA_*` it entered. */
  state: number;
  /** When it began (ms). */
  startMs: number;
  /** Its length (ms). */
  ms: number;
  /** ACKs within it. */
  acks: number;
  /** cwnd at the last ACK before it. */
  cwndBefore: number;
  /** ssthresh it set (segments). */
  ssthresh: number;
  /** cwnd at the first ACK after it (NaN when the trace ends within it). */
  cwndAfter: number;
  /**
   * The most segments one ACK acknowledged cumulatively from its first ACK to the first
   * after it: the ACK that fills a hole acknowledges what was SACKed above it while the hole
   * was open (the kernel's records hold the state before their ACK, so its filling ACK's
   * count shows on the record after it — the first after the episode is included for that).
   */
  holeSegs: number;
}

/** The summary of one trace. */
export interface WindowSummary {
  /** ACKs. */
  acks: number;
  /** ms from the first to the last record. */
  ms: number;
  /** Segments cumulatively acknowledged per ACK: mean, median, 90th percentile. */
  ackedPerAck: { mean: number; p50: number; p90: number };
  /** Means per ACK. */
  perAck: { cwnd: number; ssthresh: number; unacked: number; srttMs: number };
  /** Time-weighted means (each record holds until the next). */
  perTime: { cwnd: number; unacked: number };
  /** Share of ACKs in each state (by name). */
  stateShare: Record<string, number>;
  /** Share of the ACKs outside reductions that counted as cwnd-limited (stack only). */
  cwndLimitedShare: number | null;
  /**
   * Episodes per kind, and `backToBack`: those that began on the ACK that ended the one
   * before (no stretch of congestion avoidance between them).
   */
  episodes: Record<string, number>;
  /** Episodes per 1,000 segments acknowledged. */
  episodesPerKSeg: number;
  /** Medians over the episodes of Recovery. */
  recovery: {
    ms: number;
    acks: number;
    cwndBefore: number;
    ssthresh: number;
    cwndAfter: number;
    /** cwndAfter ÷ cwndBefore. */
    ratio: number;
    /** Episodes whose cwnd after was at or above the cwnd before (undone). */
    undone: number;
    /** {@link Episode.holeSegs}: median and 90th percentile over the episodes. */
    holeSegs: { p50: number; p90: number };
  };
  /**
   * The RTT samples SRTT took, read back from its changes (RFC 6298: SRTT' = 7/8·SRTT +
   * R/8, so R = 8·SRTT' − 7·SRTT; the kernel's SRTT is in whole µs, so ±8 µs): quantiles
   * (ms) and, apart, the coarse ones (≥ {@link COARSE_SAMPLE_MS}: a timestamp echo on a 1 ms
   * clock — Linux takes one, at least 1 ms, from an ACK that covers retransmitted data) —
   * their share, the share of them on an ACK that ended a reduction, and the mean of the rest.
   */
  rttSamples: {
    n: number;
    p10: number;
    p50: number;
    p90: number;
    coarseShare: number;
    coarseAtReductionEnd: number;
    fineMeanMs: number;
  };
  /** Medians over the stretches between two episodes (congestion avoidance). */
  between: {
    ms: number;
    acks: number;
    /** Segments acknowledged in the stretch. */
    segs: number;
    /** cwnd at its start (the first ACK after an episode) and end (the last before the next). */
    cwndStart: number;
    cwndEnd: number;
    /** cwnd growth per window of data acknowledged (Δcwnd ÷ (segs ÷ cwndStart)). */
    growthPerWindow: number;
    /** Mean over the stretches of growth per window (a single long stretch weighs one). */
    growthPerWindowMean: number;
  };
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pct(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** Samples at or above this (ms) count as coarse in {@link WindowSummary.rttSamples}. */
export const COARSE_SAMPLE_MS = 0.5;

/** A reduction state (CWR, Recovery, Loss). */
function reducing(state: number): boolean {
  return state >= 2;
}

/** Summarise one sender's records (see the module doc). */
export function summarise(recs: WindowRecord[]): WindowSummary {
  const n = recs.length;
  if (n < 2) throw new Error("cc_trace: fewer than two records");
  const ms = recs[n - 1].t - recs[0].t;
  let cwnd = 0, ss = 0, ssN = 0, un = 0, srtt = 0, tCwnd = 0, tUn = 0;
  let segs = 0;
  let limited = 0, open = 0;
  const ackedList: number[] = [];
  const states = [0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    cwnd += r.cwnd;
    if (Number.isFinite(r.ssthresh)) {
      ss += r.ssthresh;
      ssN++;
    }
    un += r.unacked;
    srtt += r.srttMs;
    segs += r.acked;
    if (r.acked > 0) ackedList.push(r.acked);
    states[r.state] = (states[r.state] ?? 0) + 1;
    if (!reducing(r.state) && r.cwndLimited !== null) {
      open++;
      if (r.cwndLimited) limited++;
    }
    if (i + 1 < n) {
      const dt = recs[i + 1].t - r.t;
      tCwnd += r.cwnd * dt;
      tUn += r.unacked * dt;
    }
  }
  // Episodes (a new one wherever the reduction count went up, also on an ACK that ended
  // the one before) and the stretches between them.
  const eps: Episode[] = [];
  const stretches: { ms: number; acks: number; segs: number; c0: number; c1: number }[] = [];
  let cur: Episode | null = null;
  let merged = 0;
  let start = -1;
  for (let i = 1; i < n; i++) {
    const r = recs[i];
    if (r.reductions > recs[i - 1].reductions) {
      if (cur !== null) merged++;
      else if (start >= 0) {
        let s = 0;
        for (let k = start + 1; k < i; k++) s += recs[k].acked;
        stretches.push({
          ms: recs[i - 1].t - recs[start].t,
          acks: i - start,
          segs: s,
          c0: recs[start].cwnd,
          c1: recs[i - 1].cwnd,
        });
      }
      start = -1;
      cur = {
        state: r.state,
        startMs: r.t,
        ms: 0,
        acks: 0,
        cwndBefore: recs[i - 1].cwnd,
        ssthresh: r.ssthresh,
        cwndAfter: NaN,
        holeSegs: r.acked,
      };
      eps.push(cur);
    } else if (cur !== null && r.acked > cur.holeSegs) cur.holeSegs = r.acked;
    if (cur === null) {
      // The first record after an episode: the kernel's shows its last ACK's count.
      const e = eps.length > 0 ? eps[eps.length - 1] : null;
      if (e !== null && start === i - 1 && r.acked > e.holeSegs) e.holeSegs = r.acked;
      continue;
    }
    if (reducing(r.state)) {
      cur.acks++;
      if (r.state > cur.state) cur.state = r.state;
    } else {
      cur.ms = r.t - cur.startMs;
      cur.cwndAfter = r.cwnd;
      cur = null;
      start = i;
    }
  }
  // RTT samples: a change of SRTT between two records is the sample of the ACK between them
  // (the kernel's records hold the window before their ACK, the stack's after it: either
  // way the pair's first state is the one before that ACK, the second the one after).
  const samples: number[] = [];
  let coarse = 0, coarseAtEnd = 0, fine = 0, fineN = 0;
  for (let i = 1; i < n; i++) {
    const a = recs[i - 1], b = recs[i];
    if (b.srttMs === a.srttMs) continue;
    const x = 8 * b.srttMs - 7 * a.srttMs;
    samples.push(x);
    if (x >= COARSE_SAMPLE_MS) {
      coarse++;
      if (reducing(a.state) && !reducing(b.state)) coarseAtEnd++;
    } else {
      fine += x;
      fineN++;
    }
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const byKind: Record<string, number> = {};
  for (const e of eps) byKind[CA_NAMES[e.state]] = (byKind[CA_NAMES[e.state]] ?? 0) + 1;
  byKind.backToBack = merged;
  const recov = eps.filter((e) => e.state === 3 && !Number.isNaN(e.cwndAfter));
  const gpw = stretches.filter((s) => s.segs > 0).map((s) => (s.c1 - s.c0) / (s.segs / s.c0));
  const share: Record<string, number> = {};
  for (let k = 0; k < 5; k++) if (states[k] > 0) share[CA_NAMES[k]] = r2(states[k] / n);
  return {
    acks: n,
    ms: r2(ms),
    ackedPerAck: {
      mean: r2(segs / ackedList.length),
      p50: r2(median(ackedList)),
      p90: r2(pct(ackedList, 0.9)),
    },
    perAck: {
      cwnd: r2(cwnd / n),
      ssthresh: r2(ss / ssN),
      unacked: r2(un / n),
      srttMs: Math.round((srtt / n) * 1000) / 1000,
    },
    perTime: { cwnd: r2(tCwnd / ms), unacked: r2(tUn / ms) },
    stateShare: share,
    cwndLimitedShare: open > 0 ? r2(limited / open) : null,
    episodes: byKind,
    episodesPerKSeg: r2((eps.length * 1000) / segs),
    recovery: {
      ms: Math.round(median(recov.map((e) => e.ms)) * 1000) / 1000,
      acks: median(recov.map((e) => e.acks)),
      cwndBefore: r2(median(recov.map((e) => e.cwndBefore))),
      ssthresh: r2(median(recov.map((e) => e.ssthresh))),
      cwndAfter: r2(median(recov.map((e) => e.cwndAfter))),
      ratio: r2(median(recov.map((e) => e.cwndAfter / e.cwndBefore))),
      undone: recov.filter((e) => e.cwndAfter >= e.cwndBefore).length,
      holeSegs: {
        p50: r2(median(recov.map((e) => e.holeSegs))),
        p90: r2(pct(recov.map((e) => e.holeSegs), 0.9)),
      },
    },
    rttSamples: {
      n: samples.length,
      p10: r3(pct(samples, 0.1)),
      p50: r3(pct(samples, 0.5)),
      p90: r3(pct(samples, 0.9)),
      coarseShare: r3(coarse / samples.length),
      coarseAtReductionEnd: coarse > 0 ? r2(coarseAtEnd / coarse) : 0,
      fineMeanMs: r3(fine / fineN),
    },
    between: {
      ms: Math.round(median(stretches.map((s) => s.ms)) * 1000) / 1000,
      acks: median(stretches.map((s) => s.acks)),
      segs: r2(median(stretches.map((s) => s.segs))),
      cwndStart: r2(median(stretches.map((s) => s.c0))),
      cwndEnd: r2(median(stretches.map((s) => s.c1))),
      growthPerWindow: r2(median(gpw)),
      growthPerWindowMean: r2(gpw.reduce((a, b) => a + b, 0) / gpw.length),
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      stack: { type: "string", multiple: true },
      kernel: { type: "string", multiple: true },
      dport: { type: "string" },
      mss: { type: "string" },
      skip: { type: "string" },
    },
  });
  const mss = Number(values.mss ?? 1448);
  const dport = values.dport === undefined ? undefined : Number(values.dport);
  // --skip MS: leave out the first MS of each trace (slow start).
  const skip = Number(values.skip ?? 500);
  const trim = (recs: WindowRecord[]) => recs.filter((r) => r.t >= recs[0].t + skip);
  const out: Record<string, WindowSummary> = {};
  for (const base of values.stack ?? []) {
    out[`stack ${base}`] = summarise(trim(readStackTrace(base)));
  }
  for (const file of values.kernel ?? []) {
    const text = Deno.readTextFileSync(file);
    const ports = new Set<number>();
    for (const m of text.matchAll(/tcp_probe: .*?dest=[\d.]+:(\d+)/g)) ports.add(Number(m[1]));
    for (const p of dport !== undefined ? [dport] : [...ports].sort()) {
      out[`kernel ${file}:${p}`] = summarise(trim(parseKernelTrace(text, mss, p)));
    }
  }
  console.log(JSON.stringify(out, null, 1));
}
