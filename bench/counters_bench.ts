/**
 * The cost of counting into a counter group, as the per-segment path does (`stats.tcp.InSegs++`
 * and three more per segment): a group built the way `makeCounters` builds it (`Object.fromEntries`,
 * V8's fast property mode) against one built the way it was before issue 13's fix (keyed stores
 * `c[name] = 0` in a loop, then the copy-view caches adding their names), which V8 keeps as a
 * dictionary: every increment is a hash lookup.
 *
 * Run: `deno bench bench/counters_bench.ts`. With
 * `deno bench --v8-flags=--allow-natives-syntax bench/counters_bench.ts` it also prints each
 * group's property mode first.
 *
 * @module
 */

import { type Counters, makeCounters } from "../core/counters.ts";
import { TCP_COUNTERS } from "../stack/stats.ts";

/** Increments per iteration (four per simulated segment). */
const SEGMENTS = 10_000;

/** The copy-view names the TCP layer's caches used to add after the group was made. */
const COPY_VIEW_NAMES = TCP_COUNTERS.filter((n) => n.includes("CopyView"));

/** `makeCounters` as it was before the fix: keyed stores in a loop. */
function keyedLoop(names: readonly string[]): Counters {
  const c: Counters = {};
  for (const n of names) c[n] = 0;
  return c;
}

/** The TCP group as it was built before the fix: the loop, then the caches adding their names. */
function keyedLoopGroup(): Counters {
  const c = keyedLoop(TCP_COUNTERS.filter((n) => !COPY_VIEW_NAMES.includes(n)));
  for (const n of COPY_VIEW_NAMES) if (!(n in c)) c[n] = 0;
  return c;
}

// The keyed-loop group first: V8 follows map transitions that already exist without the check
// that turns a growing object into a dictionary, so after `makeCounters` made them the loop
// would build a fast group too.
const dictionary = keyedLoopGroup();
const fast = makeCounters(TCP_COUNTERS);

try {
  const mode = new Function("o", "return %HasFastProperties(o) ? 'fast' : 'dictionary'") as (
    o: object,
  ) => string;
  console.log(`makeCounters group: ${mode(fast)}; keyed-loop group: ${mode(dictionary)}`);
} catch {
  // Without --allow-natives-syntax the `%` call is a syntax error: the bench runs without it.
}

/** What one received data segment counts on the TCP path. */
function countSegments(s: Counters): number {
  for (let i = 0; i < SEGMENTS; i++) {
    s.InSegs++;
    s.TCPAckDeferred++;
    s.RcvCopyViewHits++;
    s.TCPRcvDirectBytes += 1448;
  }
  return s.InSegs;
}

Deno.bench(`counters: ${SEGMENTS} segments × 4 increments, makeCounters group`, {
  group: "counters",
  baseline: true,
}, () => {
  countSegments(fast);
});

Deno.bench(`counters: ${SEGMENTS} segments × 4 increments, keyed-loop (dictionary) group`, {
  group: "counters",
}, () => {
  countSegments(dictionary);
});
