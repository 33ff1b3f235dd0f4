/**
 * `deno run --allow-read bench/tx_trace.ts BASE [BASE…]`: where a bulk sender's ACKs wait.
 * Reads the event-loop trace `ustack uperf client … --trace BASE` wrote (`BASE.json`,
 * `BASE.loop.f64`) and splits the sender's loop into what a round trip is made of:
 *
 * - for every received batch (mostly the peer's ACKs): how long its first frame sat in the RX
 *   ring (the kernel's receive stamp to the receive that found it), and what the loop was doing
 *   when it arrived — inside a tick's transmit half (the TX kick: the kernel's transmit path
 *   and, on veth, the peer's receive), elsewhere in a tick (receive, TCP, output), in a turn of
 *   Deno's event loop, the microtask wait, the busy poll, a blocking poll slice or a park;
 * - how long from that pickup until the transmit half of the same tick ended (the JS of the
 *   ACKs and of the output, then the kick that sends what they released);
 * - the loop's time split (ticks, of which transmit; yields; spin; blocks; parks) per tick;
 * - traces with the drivers' flush timed apart (`TRACE_FLUSH`): the transmit half split into
 *   output (TCP output, the copies into the TX ring) and the flush — a kick on the stack's
 *   thread, or its hand-off to the kicker thread — with the kick's length, the share of
 *   sending ticks whose kick was handed off, and arrivals during the kick told apart from
 *   arrivals during the output; and from a batch's pickup to its tick's flush (the ACKs' JS
 *   and the output decision) against the flush itself.
 *
 * - the gaps between kicks longer than {@link GAP_MS} (a sender waiting on its window):
 *   their share of the run, when the first ACK batch after the gap's kick reached the RX ring,
 *   how long it waited there (told apart for gaps the loop spent partly in a blocking `poll()`
 *   slice), from its pickup to the kick that ended the gap, and the loop's time inside them by
 *   state ({@link kickGaps}).
 *
 * Prints one block per trace; `--json` prints the figures as one JSON line each.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadSide } from "./rr_trace.ts";
import {
  TRACE_BLOCK,
  TRACE_FLUSH,
  TRACE_KIND_NAMES,
  TRACE_RX,
  TRACE_TICK,
  TRACE_TRANSMIT,
  TRACE_TX,
} from "../stack/loop_trace.ts";

/** Loop states an arriving frame can meet, in the order they are printed. */
const STATES = [
  "kick",
  "handoff",
  "output",
  "transmit",
  "tick",
  "yield",
  "microtasks",
  "spin",
  "block",
  "park",
  "inline",
  "gap",
] as const;
type State = typeof STATES[number];

/** A span of the loop: its record kind (`stack/loop_trace.ts`) and times (ms). */
export interface Span {
  /** Record kind. */
  kind: number;
  /** Start (ms). */
  start: number;
  /** End (ms). */
  end: number;
}

/** Gaps between two kicks longer than this (ms) are split by {@link kickGaps}. */
export const GAP_MS = 0.15;

/** The gaps between kicks longer than {@link GAP_MS}, split ({@link kickGaps}). */
export interface KickGaps {
  /** Gaps, their time (ms) and its share of the span. */
  count: number;
  totalMs: number;
  share: number;
  /** Gaps with at least one blocking `poll()` slice in them. */
  withBlock: number;
  /**
   * Gaps with an ACK batch in them: the first batch's kernel stamp after the gap's opening kick
   * (µs: median, p90), its wait in the RX ring in gaps with a blocking slice and in the others
   * (median, p90), and from its pickup to the kick that ends the gap (median).
   */
  withAck: number;
  ackAfterKickUs: { median: number; p90: number };
  ringWaitBlockUs: { median: number; p90: number };
  ringWaitOtherUs: { median: number; p90: number };
  pickupToKickUs: { median: number };
  /** The loop's time inside the gaps by state (ms): spin, block, yield, transmit, … (not ticks). */
  loopMs: Record<string, number>;
}

/**
 * Split the gaps between kicks longer than {@link GAP_MS}: `kicks` are the ends of the
 * transmit halves that sent frames (ms, ascending), `batches` the received batches (kernel
 * stamp and pickup, ms, by pickup), `spans` the loop's other records (kind, start, end; by
 * start) and `spanMs` the run's length.
 *
 * @example
 * ```ts
 * import { kickGaps } from "./tx_trace.ts";
 * kickGaps([0, 0.5], [{ stamp: 0.2, pickup: 0.3 }], [], 1).ackAfterKickUs.median; // 200
 * ```
 */
export function kickGaps(
  kicks: number[],
  batches: { stamp: number; pickup: number }[],
  spans: Span[],
  spanMs: number,
): KickGaps {
  const gaps: [number, number][] = [];
  for (let i = 1; i < kicks.length; i++) {
    if (kicks[i] - kicks[i - 1] > GAP_MS) gaps.push([kicks[i - 1], kicks[i]]);
  }
  const loopMs: Record<string, number> = {};
  const hasBlock = new Array<boolean>(gaps.length).fill(false);
  let g = 0;
  for (const sp of spans) {
    // A tick holds its transmit half, listed apart: not counted twice.
    if (sp.kind === TRACE_TICK) continue;
    while (g < gaps.length && gaps[g][1] <= sp.start) g++;
    // A span may overlap the next gaps too: walk them from this one.
    for (let k = g; k < gaps.length && gaps[k][0] < sp.end; k++) {
      const over = Math.min(gaps[k][1], sp.end) - Math.max(gaps[k][0], sp.start);
      if (over <= 0) continue;
      const name = kindName(sp.kind);
      loopMs[name] = (loopMs[name] ?? 0) + over;
      if (sp.kind === TRACE_BLOCK) hasBlock[k] = true;
    }
  }
  const after: number[] = [];
  const waitBlock: number[] = [];
  const waitOther: number[] = [];
  const toKick: number[] = [];
  const pickups = batches.map((b) => b.pickup);
  for (let k = 0; k < gaps.length; k++) {
    const [from, to] = gaps[k];
    const i = firstAfter(pickups, from);
    if (i < 0 || pickups[i] === from || pickups[i] >= to) continue;
    const b = batches[i];
    after.push((b.stamp - from) * 1000);
    (hasBlock[k] ? waitBlock : waitOther).push((b.pickup - b.stamp) * 1000);
    toKick.push((to - b.pickup) * 1000);
  }
  for (const a of [after, waitBlock, waitOther, toKick]) a.sort((x, y) => x - y);
  const totalMs = gaps.reduce((a, [x, y]) => a + (y - x), 0);
  for (const k of Object.keys(loopMs)) loopMs[k] = Math.round(loopMs[k] * 1000) / 1000;
  const mp = (a: number[]) => ({
    median: round1(percentile(a, 0.5)),
    p90: round1(percentile(a, 0.9)),
  });
  return {
    count: gaps.length,
    totalMs: round1(totalMs),
    share: Math.round((totalMs / Math.max(spanMs, 1e-9)) * 1000) / 1000,
    withBlock: hasBlock.filter((x) => x).length,
    withAck: after.length,
    ackAfterKickUs: mp(after),
    ringWaitBlockUs: mp(waitBlock),
    ringWaitOtherUs: mp(waitOther),
    pickupToKickUs: { median: round1(percentile(toKick, 0.5)) },
    loopMs,
  };
}

/** What one trace says. */
export interface TxTraceFigures {
  /** Trace files' base. */
  base: string;
  /** Wall time the records cover (ms). */
  spanMs: number;
  /** Ticks, and ticks whose transmit handed frames to the driver. */
  ticks: number;
  sendingTicks: number;
  /** Mean µs per tick of: the whole loop, ticks, the transmit half, yields, spin, blocks. */
  perTickUs: Record<string, number>;
  /** Mean µs of a transmit half that sent frames, and frames per such transmit. */
  transmitUs: number;
  framesPerTransmit: number;
  /** Received batches, frames per batch. */
  batches: number;
  framesPerBatch: number;
  /** µs a batch's first frame sat in the ring: median, mean, p90. */
  waitUs: { median: number; mean: number; p90: number };
  /** Share of batches, and their mean wait (µs), by what the loop was doing at arrival. */
  byState: Record<string, { share: number; meanWaitUs: number }>;
  /** µs from a batch's pickup to the end of its tick's transmit, when that sent frames. */
  pickupToKickEndUs: { median: number; mean: number };
  /**
   * With the flush timed apart (null without): of the transmit halves that sent, µs of output
   * (mean), the share whose flush handed the kick to the kicker thread, the kick on this thread
   * (µs: median, mean, p90) and a hand-off's flush (mean µs); from a batch's pickup to its
   * tick's flush start (the ACKs' JS and the output: median, mean).
   */
  flush: {
    outputUs: number;
    handoffShare: number;
    syncKickUs: { median: number; mean: number; p90: number };
    handoffUs: number;
    pickupToFlushUs: { median: number; mean: number };
  } | null;
  /** The gaps between kicks longer than {@link GAP_MS}. */
  gaps: KickGaps;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function mean(a: number[]): number {
  return a.length === 0 ? NaN : a.reduce((x, y) => x + y, 0) / a.length;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Analyse the trace under `base`. */
export async function analyze(base: string): Promise<TxTraceFigures> {
  const { rec } = await loadSide(base);
  const spans: Span[] = [];
  const transmits: Span[] = [];
  const transmitFrames: number[] = [];
  const flushes: { start: number; end: number; handoffs: number }[] = [];
  const rx: { stamp: number; pickup: number; frames: number }[] = [];
  const sum: Record<string, number> = {};
  let ticks = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < rec.length; i += 4) {
    const kind = rec[i];
    const start = rec[i + 1];
    const end = rec[i + 2];
    const aux = rec[i + 3];
    if (kind === TRACE_RX) {
      if (Number.isFinite(start)) rx.push({ stamp: start, pickup: end, frames: aux });
      continue;
    }
    if (kind === TRACE_TX) continue;
    if (kind === TRACE_FLUSH) {
      flushes.push({ start, end, handoffs: aux });
      continue;
    }
    if (start < first) first = start;
    if (end > last) last = end;
    const name = STATES[STATES.indexOf(kindName(kind) as State)] ?? "gap";
    sum[name] = (sum[name] ?? 0) + (end - start);
    if (kind === TRACE_TICK) ticks++;
    if (kind === TRACE_TRANSMIT) {
      transmits.push({ kind, start, end });
      transmitFrames.push(aux);
    } else spans.push({ kind, start, end });
  }
  spans.sort((a, b) => a.start - b.start);
  // What the loop was doing at time t: a transmit half first (it lies inside a tick).
  const transmitStarts = transmits.map((s) => s.start);
  const spanStarts = spans.map((s) => s.start);
  const flushStarts = flushes.map((f) => f.start);
  const stateAt = (t: number): State => {
    const k = lastAtOrBefore(transmitStarts, t);
    if (k >= 0 && t <= transmits[k].end) {
      if (flushes.length === 0) return "transmit";
      const f = lastAtOrBefore(flushStarts, t);
      if (f >= 0 && flushes[f].start >= transmits[k].start && t <= flushes[f].end) {
        return flushes[f].handoffs > 0 ? "handoff" : "kick";
      }
      return "output";
    }
    const j = lastAtOrBefore(spanStarts, t);
    if (j >= 0 && t <= spans[j].end) return kindName(spans[j].kind) as State;
    return "gap";
  };
  const waits: number[] = [];
  const byState = new Map<State, number[]>();
  const toKick: number[] = [];
  const toFlush: number[] = [];
  for (const b of rx) {
    const w = (b.pickup - b.stamp) * 1000;
    waits.push(w);
    const st = stateAt(b.stamp);
    const list = byState.get(st) ?? [];
    list.push(w);
    byState.set(st, list);
    // The transmit half of the tick that picked the batch up: the first one starting after.
    const k = firstAfter(transmitStarts, b.pickup);
    if (k >= 0 && transmitFrames[k] > 0) {
      toKick.push((transmits[k].end - b.pickup) * 1000);
      const f = firstAfter(flushStarts, b.pickup);
      if (f >= 0 && flushes[f].start <= transmits[k].end) {
        toFlush.push((flushes[f].start - b.pickup) * 1000);
      }
    }
  }
  waits.sort((a, b) => a - b);
  toKick.sort((a, b) => a - b);
  const sending = transmits.filter((_, i) => transmitFrames[i] > 0);
  toFlush.sort((a, b) => a - b);
  // The flush of each transmit half that sent frames: output = the half's start to the flush.
  const outputs: number[] = [];
  const syncKicks: number[] = [];
  const handoffFlushes: number[] = [];
  if (flushes.length > 0) {
    for (const t of sending) {
      const f = lastAtOrBefore(flushStarts, t.end);
      if (f < 0 || flushes[f].start < t.start) continue;
      outputs.push((flushes[f].start - t.start) * 1000);
      const us = (flushes[f].end - flushes[f].start) * 1000;
      if (flushes[f].handoffs > 0) handoffFlushes.push(us);
      else syncKicks.push(us);
    }
    syncKicks.sort((a, b) => a - b);
  }
  const sentFrames = transmitFrames.reduce((a, b) => a + b, 0);
  const byPickup = [...rx].sort((a, b) => a.pickup - b.pickup);
  const gaps = kickGaps(
    sending.map((t) => t.end),
    byPickup,
    [...spans, ...transmits].sort((a, b) => a.start - b.start),
    last - first,
  );
  const perTick = (ms: number | undefined) => round1(((ms ?? 0) * 1000) / Math.max(1, ticks));
  const byStateOut: Record<string, { share: number; meanWaitUs: number }> = {};
  for (const st of STATES) {
    const l = byState.get(st);
    if (l === undefined) continue;
    byStateOut[st] = {
      share: Math.round((l.length / rx.length) * 1000) / 1000,
      meanWaitUs: round1(mean(l)),
    };
  }
  return {
    base,
    spanMs: round1(last - first),
    ticks,
    sendingTicks: sending.length,
    perTickUs: {
      loop: perTick(last - first),
      tick: perTick(sum.tick),
      transmit: perTick(sum.transmit),
      yield: perTick(sum.yield),
      microtasks: perTick(sum.microtasks),
      spin: perTick(sum.spin),
      block: perTick(sum.block),
      park: perTick(sum.park),
    },
    transmitUs: round1(mean(sending.map((s) => (s.end - s.start) * 1000))),
    framesPerTransmit: round1(sentFrames / Math.max(1, sending.length)),
    batches: rx.length,
    framesPerBatch: round1(rx.reduce((a, b) => a + b.frames, 0) / Math.max(1, rx.length)),
    waitUs: {
      median: round1(percentile(waits, 0.5)),
      mean: round1(mean(waits)),
      p90: round1(percentile(waits, 0.9)),
    },
    byState: byStateOut,
    pickupToKickEndUs: { median: round1(percentile(toKick, 0.5)), mean: round1(mean(toKick)) },
    flush: flushes.length === 0 ? null : {
      outputUs: round1(mean(outputs)),
      handoffShare: Math.round(
        (handoffFlushes.length / Math.max(1, handoffFlushes.length + syncKicks.length)) * 1000,
      ) / 1000,
      syncKickUs: {
        median: round1(percentile(syncKicks, 0.5)),
        mean: round1(mean(syncKicks)),
        p90: round1(percentile(syncKicks, 0.9)),
      },
      handoffUs: round1(mean(handoffFlushes)),
      pickupToFlushUs: { median: round1(percentile(toFlush, 0.5)), mean: round1(mean(toFlush)) },
    },
    gaps,
  };
}

/** The name of a record kind (`stack/loop_trace.ts`), or "gap" for none. */
function kindName(kind: number): string {
  return TRACE_KIND_NAMES[kind] || "gap";
}

/** Index of the last element of sorted `a` at or before `t`, or -1. */
function lastAtOrBefore(a: number[], t: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Index of the first element of sorted `a` at or after `t`, or -1. */
function firstAfter(a: number[], t: number): number {
  const k = lastAtOrBefore(a, t);
  if (k >= 0 && a[k] === t) return k;
  return k + 1 < a.length ? k + 1 : -1;
}

/** Print the figures of one trace. */
function print(f: TxTraceFigures): void {
  console.log(`${f.base}: ${f.spanMs} ms, ${f.ticks} ticks (${f.sendingTicks} sending)`);
  console.log(
    "  per tick (µs): " +
      Object.entries(f.perTickUs).map(([k, v]) => `${k} ${v}`).join(", "),
  );
  console.log(
    `  transmit that sent: ${f.transmitUs} µs, ${f.framesPerTransmit} frames; ` +
      `received batches ${f.batches} (${f.framesPerBatch} frames each)`,
  );
  console.log(
    `  a batch's wait in the RX ring (µs): median ${f.waitUs.median}, mean ${f.waitUs.mean}, ` +
      `p90 ${f.waitUs.p90}; pickup to its tick's kick done: median ` +
      `${f.pickupToKickEndUs.median}, mean ${f.pickupToKickEndUs.mean}`,
  );
  if (f.flush !== null) {
    const x = f.flush;
    console.log(
      `  transmit split: output ${x.outputUs} µs, then the flush: kick here median ` +
        `${x.syncKickUs.median} / mean ${x.syncKickUs.mean} / p90 ${x.syncKickUs.p90} µs, ` +
        `handed off ${Math.round(x.handoffShare * 100)} % (${x.handoffUs} µs); pickup to ` +
        `flush start: median ${x.pickupToFlushUs.median}, mean ${x.pickupToFlushUs.mean}`,
    );
  }
  const g = f.gaps;
  console.log(
    `  gaps between kicks > ${GAP_MS * 1000} µs: ${g.count}, ${g.totalMs} ms ` +
      `(${Math.round(g.share * 1000) / 10} %), ${g.withBlock} with a blocking slice; with an ACK ` +
      `${g.withAck}: its stamp after the kick median ${g.ackAfterKickUs.median} / p90 ` +
      `${g.ackAfterKickUs.p90} µs, its ring wait median / p90 ${g.ringWaitBlockUs.median} / ` +
      `${g.ringWaitBlockUs.p90} µs with a slice, ${g.ringWaitOtherUs.median} / ` +
      `${g.ringWaitOtherUs.p90} without; pickup to the gap's end kick median ` +
      `${g.pickupToKickUs.median} µs; loop inside (ms): ` +
      Object.entries(g.loopMs).map(([k, v]) => `${k} ${v}`).join(", "),
  );
  console.log(
    "  arrived during: " +
      Object.entries(f.byState).map(([k, v]) =>
        `${k} ${Math.round(v.share * 100)} % (wait ${v.meanWaitUs} µs)`
      ).join(", "),
  );
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean" }, help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.log("usage: deno run --allow-read bench/tx_trace.ts [--json] BASE [BASE…]");
    Deno.exit(values.help ? 0 : 2);
  }
  for (const base of positionals) {
    const f = await analyze(base);
    if (values.json) console.log(JSON.stringify(f));
    else print(f);
  }
}
