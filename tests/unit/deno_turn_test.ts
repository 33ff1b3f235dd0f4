// A turn of Deno's event loop (`DenoTurn`): the event loop's hand-over to Deno's timers and I/O
// while it is busy. Through `setImmediate` each turn made ~500 B on Deno 2.9 (the `Immediate`,
// a closure around the callback, rest arrays, an iterator); `DenoTurn` queues one of two
// records made once in Deno's core immediate queue. These tests hold the turn free of
// allocation, and check that it still is a turn: other immediates and timers run between
// turns, the process is kept alive while one is pending, and nothing stays referenced after.

import assert from "node:assert/strict";
import process from "node:process";
import { setImmediate } from "node:timers";
import { DenoTurn, lastTurnRecord } from "../../stack/deno_turn.ts";
import { medianHeapGrowthPerUnitAsync } from "../harness/heap_growth.ts";

/** Turns per measured window. */
const WINDOW = 1_000;
/** Most heap growth per turn (a `setImmediate` turn: ~500 B). */
const MAX_BYTES_PER_TURN = 16;

/**
 * `count` turns of `turn`'s kind, chained: each callback asks for the next (after running the
 * microtask queue, empty then, with `microtasks`).
 */
function chain(count: number, microtasks = false): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  let left = count;
  const turn = new DenoTurn(() => {
    if (microtasks) turn.runMicrotasks();
    if (--left > 0) turn.request();
    else resolve();
  });
  turn.request();
  return promise;
}

/** Deno's count of refed immediates pending (what keeps the event loop from waiting). */
function activeImmediates(): number {
  const d = Deno as unknown as Record<string | symbol, unknown>;
  const core = (d[d.internal as symbol] as { core: { getActiveImmediateCount(): number } }).core;
  return core.getActiveImmediateCount();
}

Deno.test("deno turn: this Deno's core immediate queue is found and its records reused", () => {
  const turn = new DenoTurn(() => {});
  assert.ok(turn.reused, "each turn would be a setImmediate");
});

Deno.test(`deno turn: a turn of Deno's event loop allocates < ${MAX_BYTES_PER_TURN} B`, async () => {
  let turns = 0;
  const step = async (): Promise<void> => {
    await chain(WINDOW);
    turns += WINDOW;
  };
  for (let i = 0; i < 20; i++) await step(); // optimised code
  const [perTurn] = await medianHeapGrowthPerUnitAsync([{ step, units: () => turns }], 9);
  assert.ok(perTurn < MAX_BYTES_PER_TURN, `${perTurn.toFixed(1)} B per turn`);
});

Deno.test(
  `deno turn: a turn that runs the microtask queue allocates < ${MAX_BYTES_PER_TURN} B`,
  async () => {
    let turns = 0;
    const step = async (): Promise<void> => {
      await chain(WINDOW, true);
      turns += WINDOW;
    };
    for (let i = 0; i < 20; i++) await step(); // optimised code
    const [perTurn] = await medianHeapGrowthPerUnitAsync([{ step, units: () => turns }], 9);
    assert.ok(perTurn < MAX_BYTES_PER_TURN, `${perTurn.toFixed(1)} B per turn`);
  },
);

Deno.test("deno turn: runMicrotasks in the callback runs the microtasks and nextTicks dry", async () => {
  // What Deno's immediate pass does between two immediates: every microtask, those they queue
  // too, and the nextTicks, before the call returns — a task's whole chain of awaits.
  const log: string[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  let ran: boolean | null = null;
  const turn = new DenoTurn(() => {
    const task = async (): Promise<void> => {
      log.push("task");
      await null;
      log.push("await 1");
      await null;
      log.push("await 2");
    };
    void task();
    queueMicrotask(() => log.push("microtask"));
    process.nextTick(() => log.push("nextTick"));
    ran = turn.runMicrotasks();
    log.push("returned");
    resolve();
  });
  assert.ok(turn.microtasks);
  turn.request();
  await promise;
  assert.equal(ran, true);
  // Node's order: the nextTicks first, then the microtasks.
  assert.deepEqual(log, ["task", "nextTick", "await 1", "microtask", "await 2", "returned"]);
});

Deno.test("deno turn: runMicrotasks outside the callback runs nothing", async () => {
  // From a microtask V8 runs no checkpoint: the call must say so (false), not claim turns.
  const turn = new DenoTurn(() => {});
  await null; // now in a microtask
  const log: string[] = [];
  queueMicrotask(() => log.push("microtask"));
  assert.equal(turn.runMicrotasks(), false);
  assert.deepEqual(log, []);
  await null;
  assert.deepEqual(log, ["microtask"]);
});

for (const drain of [false, true]) {
  Deno.test(
    `deno turn: a timer fires while turns${drain ? " with microtask turns" : ""} keep coming`,
    async () => {
      // The next turn is a record queued for Deno's next pass, after its timers and I/O; with
      // `drain`, each turn's microtask turns run inside it.
      let fired = false;
      const t = setTimeout(() => fired = true, 5);
      let turns = 0;
      let reactions = 0;
      let within = 0;
      const { promise, resolve } = Promise.withResolvers<void>();
      const turn = new DenoTurn(() => {
        turns++;
        if (drain) {
          Promise.resolve().then(() => reactions++);
          turn.runMicrotasks();
          if (reactions === turns) within++;
        }
        if (!fired) turn.request();
        else resolve();
      });
      turn.request();
      await promise;
      clearTimeout(t);
      assert.ok(fired && turns > 1, `${turns} turns`);
      if (drain) assert.equal(within, turns, "each turn's microtask ran within it");
    },
  );
}

Deno.test("deno turn: immediates queued beside the turns run, the refed count comes back", async () => {
  const before = activeImmediates();
  let others = 0;
  let turns = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const turn = new DenoTurn(() => {
    turns++;
    // One immediate of the old kind queued before the next turn, one after, one cleared.
    setImmediate(() => others++);
    if (turns < 200) turn.request();
    setImmediate(() => others++);
    clearImmediate(setImmediate(() => others += 1000));
    if (turns === 200) setImmediate(resolve);
    assert.ok(activeImmediates() >= 1, "a pending turn keeps the event loop from waiting");
  });
  turn.request();
  await promise;
  assert.equal(turns, 200);
  assert.equal(others, 400);
  assert.equal(activeImmediates(), before);
  assert.ok(lastTurnRecord() !== null, "the last turn's record is held for its map");
});

Deno.test("deno turn: the async loop's form — a promise resolved from each turn", async () => {
  let resolveTurn: (() => void) | null = null;
  const turn = new DenoTurn(() => {
    const r = resolveTurn;
    resolveTurn = null;
    r!();
  });
  const executor = (r: () => void): void => {
    resolveTurn = r;
    turn.request();
  };
  for (let i = 0; i < 500; i++) await new Promise<void>(executor);
  assert.equal(resolveTurn, null);
});

Deno.test("deno turn: each request is one call, also with turns already pending", async () => {
  // Three requests at once (both records queued, then one more) and two from inside the first
  // callback (the other record still queued): five calls, none lost or repeated — queueing a
  // record that is queued or running again would cut Deno's list or null its callback. Then the
  // records are free again: a chain of turns runs on them.
  const before = activeImmediates();
  let calls = 0;
  let chainTo = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const turn = new DenoTurn(() => {
    calls++;
    if (calls === 1) {
      turn.request();
      turn.request();
    }
    if (chainTo > 0) {
      if (calls < chainTo) turn.request();
      else resolve();
    }
  });
  turn.request();
  turn.request();
  turn.request();
  for (let i = 0; i < 200 && calls < 5; i++) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 10)); // a repeated call would come by now
  assert.equal(calls, 5);
  assert.equal(activeImmediates(), before, "no turn left pending");
  chainTo = calls + 50;
  turn.request();
  await promise;
  assert.equal(calls, chainTo);
  assert.ok(turn.reused);
});

Deno.test("deno turn: without the core's queue each turn is a setImmediate and still runs", async () => {
  let n = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const turn = new DenoTurn(() => (++n < 100 ? turn.request() : resolve()), {
    coreQueue: false,
  });
  assert.equal(turn.reused, false);
  assert.equal(turn.microtasks, false);
  turn.request();
  await promise;
  assert.equal(n, 100);
  // Nor does it run microtasks from the callback: the caller awaits instead.
  const log: string[] = [];
  const { promise: done, resolve: finish } = Promise.withResolvers<boolean>();
  const other = new DenoTurn(() => {
    queueMicrotask(() => log.push("microtask"));
    finish(other.runMicrotasks());
  }, { coreQueue: false });
  other.request();
  assert.equal(await done, false);
  assert.deepEqual(log, ["microtask"]);
});
