/**
 * Run by `tests/unit/counters_shape_test.ts` in a child `deno run --v8-flags=--allow-natives-syntax`
 * (V8's `%HasFastProperties`, reached through `new Function` because the TypeScript parser does
 * not know it): reports, for every counter group of a fresh `Stack` and of the other
 * `makeCounters` users, whether V8 keeps it in fast (map-described) property mode rather than
 * in dictionary mode, where every `group.Name++` is a hash lookup. Prints one JSON object of
 * booleans, one per group.
 *
 * @module
 */

import { VirtualClock } from "../../core/clock.ts";
import { makeCounters } from "../../core/counters.ts";
import { PathMtuCache } from "../../net/path_mtu.ts";
import { Stack } from "../../stack/stack.ts";
import { TCP_COUNTERS } from "../../stack/stats.ts";

const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (
  o: object,
) => boolean;

const out: Record<string, boolean> = {};
const stack = new Stack();
const stats = stack.stats as unknown as Record<string, Record<string, number>>;
for (const [name, group] of Object.entries(stats)) out[`stack.${name}`] = hasFastProperties(group);
// Still fast after every counter was counted, and past a small integer (a field turned double).
for (const group of Object.values(stats)) for (const k of Object.keys(group)) group[k] += 3e9;
for (const [name, group] of Object.entries(stats)) {
  out[`counted.${name}`] = hasFastProperties(group);
}
for (const [name, group] of Object.entries(stack.stats.snapshot())) {
  out[`snapshot.${name}`] = hasFastProperties(group);
}
out.makeCounters = hasFastProperties(makeCounters(TCP_COUNTERS));
out.pathMtuOwn = hasFastProperties(new PathMtuCache(new VirtualClock()).stats);
stack.close();
console.log(JSON.stringify(out));
