/**
 * What a turn of Deno's event loop allocates, by its form: a chain of turns (each callback asks
 * for the next) under V8's sampling heap profiler, with the bytes sampled per turn, the time per
 * turn and the top sites. The forms: `immediate` — `setImmediate` from `node:timers` (the event
 * loop's turns before `stack/deno_turn.ts`); `turn` — a {@link DenoTurn} (one of two records
 * re-queued in Deno's core immediate queue); `promise-immediate` and `promise-turn` — the
 * event loop's async function's form, `await new Promise(executor)` whose executor asks for the
 * turn and whose turn resolves it (the executor and callback bound once, as the loop's).
 *
 * ```sh
 * deno run --allow-all bench/turn_alloc.ts [--turns 200000] [--form immediate]...
 * ```
 *
 * Without `--form`, every form in turn, one process. Not a timing benchmark (the time per turn
 * is a by-product): no lock needed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { setImmediate } from "node:timers";
import { Session } from "node:inspector";
import { DenoTurn } from "../stack/deno_turn.ts";
import { sitesByDepth, startHeapSampling, stopHeapSampling } from "./inspector.ts";

const FORMS = ["immediate", "turn", "promise-immediate", "promise-turn"] as const;
type Form = typeof FORMS[number];

const { values } = parseArgs({
  options: {
    turns: { type: "string", default: "200000" },
    form: { type: "string", multiple: true },
  },
});
const turns = Number(values.turns);
const forms = (values.form ?? [...FORMS]) as Form[];
for (const f of forms) if (!FORMS.includes(f)) throw new Error(`unknown --form ${f}`);

/** `n` turns of the form `form`; resolves after the last. */
function run(form: Form, n: number): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  let left = n;
  if (form === "immediate" || form === "turn") {
    const step = (): void => {
      if (--left <= 0) resolve();
      else if (form === "immediate") setImmediate(step);
      else turn.request();
    };
    const turn = new DenoTurn(step);
    if (form === "immediate") setImmediate(step);
    else turn.request();
    return promise;
  }
  let pending: (() => void) | null = null;
  const onTurn = (): void => {
    const r = pending;
    pending = null;
    r!();
  };
  const turn = new DenoTurn(onTurn);
  const executor = (r: () => void): void => {
    pending = r;
    if (form === "promise-immediate") setImmediate(onTurn);
    else turn.request();
  };
  return (async () => {
    while (left-- > 0) await new Promise<void>(executor);
    resolve();
  })();
}

const s = new Session();
s.connect();
for (const form of forms) {
  await run(form, 20_000); // optimised code
  await startHeapSampling(s, 64);
  const t0 = performance.now();
  await run(form, turns);
  const ms = performance.now() - t0;
  const head = await stopHeapSampling(s);
  const { sites, total } = sitesByDepth(head, 2);
  console.log(
    `${form}: ${turns} turns, ${(ms * 1000 / turns).toFixed(2)} µs each, ` +
      `${(total / turns).toFixed(1)} B sampled per turn`,
  );
  for (const [k, b] of [...sites.entries()].sort((x, y) => y[1] - x[1]).slice(0, 5)) {
    console.log(`  ${(b / turns).toFixed(1).padStart(7)} B/turn  ${k}`);
  }
}
s.disconnect();
