/**
 * A turn of Deno's event loop that allocates nothing: the callback runs in the loop's check
 * phase, as a `setImmediate` callback does, from a record made once and queued again each turn.
 *
 * `setImmediate` from `node:timers` is how the event loop lets Deno's timers and I/O run while it
 * is busy, and on Deno 2.9 each call makes ~500 B: the `Immediate` (nine properties, one of them
 * an `inspect.custom` function of its own), a closure that wraps the callback in its async
 * context, the rest-argument arrays and a `SafeArrayIterator` (bench/README.md, "heap38"). Deno's
 * core keeps immediates as records in a list (`core.queueImmediate`, run by `runImmediates`,
 * which reads only the record's list links, `_onImmediate`, `_argv`, `_destroyed`, its async
 * ids and its ref flag), and a record of that shape may be queued again once it has run. So a
 * turn here re-arms one of two records and queues it: no object, no closure. Two, used in turn:
 * after a record's callback `runImmediates` clears its `_onImmediate` and follows its
 * `_idleNext`, and after the microtasks that ran next (where the loop's async function asks for
 * its next turn) it may follow that record's `_idleNext` again to step over a cleared immediate;
 * a record queued again from its own callback would lose the callback (tried: it threw), one
 * queued again from those microtasks could cut the pass's list short. The record just run is
 * never the one queued next.
 *
 * The core's queue is reached through `Deno[Deno.internal].core`, an internal of the runtime.
 * The constructor checks that `setImmediate` queues its records there, and that the records
 * carry the ref flag this code sets; when anything is missing, each turn is a `setImmediate`
 * (the old way) and {@link DenoTurn.reused} is false.
 *
 * Microtask turns without a promise ({@link DenoTurn.runMicrotasks}): between two immediates of
 * one pass `runImmediates` calls the core's `runNextTicks` — V8's microtask queue run dry
 * (`op_run_microtasks`), then Node's nextTicks — so the callback may call it too, and the tasks
 * its tick woke react before the callback goes on, as they would between two records (nothing in
 * the immediate list, its count or its ref count is touched). Only from the callback: from inside
 * a microtask V8 runs no checkpoint (the call returns having run nothing), and the callback is
 * the one place the caller knows it is not in one.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";

/** The part of Deno's core a turn uses. */
interface ImmediateCore {
  queueImmediate(record: object): void;
  runNextTicks?: () => void;
  immediateRefCount(increase: boolean): void;
  immediateQueue: { tail: object | null };
}

/** Deno's immediate record, as `runImmediates` reads it. */
interface ImmediateRecord {
  _idleNext: ImmediateRecord | null;
  _idlePrev: ImmediateRecord | null;
  _onImmediate: (() => void) | null;
  _argv: undefined;
  _destroyed: boolean;
  asyncId: number;
  triggerAsyncId: number;
  [flag: symbol]: boolean | null;
}

/** The core and the ref flag's symbol, or null when this Deno does not queue immediates so. */
interface CoreQueue {
  core: ImmediateCore;
  /** The core's `runNextTicks`, or null when this Deno has none. */
  runNextTicks: (() => void) | null;
  refed: symbol;
  asyncId: number;
  triggerAsyncId: number;
}

/**
 * The record the last turn used (or, without the core's queue, the last `Immediate`), held for
 * its map. The turn code (`request`, Deno's `queueImmediate`/`runImmediates`, and the loop's
 * callbacks that inline them) is compiled against that map and holds it weakly; were no record
 * alive while the loop sleeps, a memory-reducing full GC after a quiet spell (V8's memory
 * reducer, ~30 s) could free the map and throw that code away, so the next burst's first turns
 * would run cold (bench/README.md, branch `idle34`). A `DenoTurn` holds its own records while it
 * lives; this holds the last one past that (a loop closed, the next one not yet started) and,
 * without the core's queue, the last `Immediate`, which nothing else holds. Replaced at every
 * turn: a store, no allocation.
 */
let lastRecord: object | null = null;

/** The record the last turn of any {@link DenoTurn} used, or null before the first. */
export function lastTurnRecord(): object | null {
  return lastRecord;
}

/** Found once per process ({@link findCoreQueue}); `undefined` before the first look. */
let coreQueue: CoreQueue | null | undefined;

/**
 * Deno's core immediate queue, checked against a real `setImmediate`: its record must be the
 * queue's tail once made, and carry a symbol-keyed ref flag named "refed" set to true.
 */
function findCoreQueue(): CoreQueue | null {
  if (coreQueue !== undefined) return coreQueue;
  coreQueue = null;
  try {
    const d = Deno as unknown as Record<string | symbol, unknown>;
    const internal = d.internal;
    if (typeof internal !== "symbol") return null;
    const core = (d[internal] as { core?: ImmediateCore } | undefined)?.core;
    if (
      core === undefined || typeof core.queueImmediate !== "function" ||
      typeof core.immediateRefCount !== "function" || typeof core.immediateQueue !== "object"
    ) {
      return null;
    }
    const probe = setImmediate(() => {}) as unknown as ImmediateRecord;
    const queued = core.immediateQueue.tail === probe;
    const refed = Object.getOwnPropertySymbols(probe).find((s) => s.description === "refed");
    const ok = queued && refed !== undefined && probe[refed] === true &&
      "_onImmediate" in probe && "_destroyed" in probe && "_idleNext" in probe;
    const asyncId = probe.asyncId;
    const triggerAsyncId = probe.triggerAsyncId;
    clearImmediate(probe as unknown as ReturnType<typeof setImmediate>);
    if (!ok || refed === undefined) return null;
    const runNextTicks = typeof core.runNextTicks === "function" ? core.runNextTicks : null;
    coreQueue = { core, runNextTicks, refed, asyncId, triggerAsyncId };
  } catch {
    coreQueue = null;
  }
  return coreQueue;
}

/**
 * Turns of Deno's event loop, each ending in one call of a callback fixed at construction.
 *
 * @example
 * ```ts
 * import { DenoTurn } from "./deno_turn.ts";
 * let n = 0;
 * const { promise, resolve } = Promise.withResolvers<void>();
 * const turn = new DenoTurn(() => (++n < 3 ? turn.request() : resolve()));
 * turn.request();
 * await promise; // three turns of Deno's event loop, no allocation per turn
 * ```
 */
export class DenoTurn {
  readonly #callback: () => void;
  readonly #queue: CoreQueue | null;
  readonly #records: ImmediateRecord[] = [];
  #next = 0;
  /** The core's `runNextTicks` when this turn may call it, else null. */
  readonly #runNextTicks: (() => void) | null;
  /** The callback is running (called by `#call`). */
  #calling = false;
  /** What a turn calls: the callback, marked as running for {@link DenoTurn.runMicrotasks}. */
  readonly #call = (): void => {
    this.#calling = true;
    try {
      this.#callback();
    } finally {
      this.#calling = false;
    }
  };

  /**
   * Turns that will call `callback`; {@link DenoTurn.request} asks for each one.
   * `opts.coreQueue` false makes each turn a `setImmediate` (what a Deno without the core's
   * queue gets; for tests of that path), and {@link DenoTurn.runMicrotasks} run nothing.
   */
  constructor(callback: () => void, opts: { coreQueue?: boolean } = {}) {
    this.#callback = callback;
    this.#queue = opts.coreQueue === false ? null : findCoreQueue();
    const q = this.#queue;
    this.#runNextTicks = q === null ? null : q.runNextTicks;
    if (q !== null) {
      for (let i = 0; i < 2; i++) {
        this.#records.push({
          _idleNext: null,
          _idlePrev: null,
          _onImmediate: null,
          _argv: undefined,
          _destroyed: true,
          asyncId: q.asyncId,
          triggerAsyncId: q.triggerAsyncId,
          [q.refed]: null,
        });
      }
    }
  }

  /** True when turns re-queue this object's records; false when each is a `setImmediate`. */
  get reused(): boolean {
    return this.#queue !== null;
  }

  /** True when {@link DenoTurn.runMicrotasks} can run microtasks (from the callback). */
  get microtasks(): boolean {
    return this.#runNextTicks !== null;
  }

  /**
   * Called from within this turn's callback: run the microtask queue dry now, with Deno's
   * nextTicks, as Deno does between two immediates (the core's `runNextTicks`), and return true.
   * Every task the callback woke runs until it waits on something else — all of its microtask
   * turns, in one call, with no promise of the caller's. Anywhere else (outside the callback,
   * where this may be a microtask, which V8 does not nest), or on a Deno without the core's
   * queue or `runNextTicks`, it runs nothing and returns false: the caller awaits instead.
   */
  runMicrotasks(): boolean {
    const run = this.#runNextTicks;
    if (run === null || !this.#calling) return false;
    run();
    return true;
  }

  /**
   * Run the callback once in Deno's next check phase (after its timers and I/O poll), as
   * `setImmediate(callback)` would; the pending turn keeps the process alive. Each request is
   * one call, as each `setImmediate` is. The two records serve one turn pending at a time (ask
   * again from the callback, or later); a request while the next record is still queued or
   * running is made with a `setImmediate` — queueing that record again would corrupt Deno's list.
   * The callback is called with no `this` of its own (an arrow function or a bound one).
   */
  request(): void {
    const q = this.#queue;
    const r = q === null ? null : this.#records[this.#next];
    // `runImmediates` clears `_onImmediate` only after the call returns: set means the record is
    // queued or running, and queueing it again would corrupt the list or lose this turn.
    if (q === null || r === null || r._onImmediate !== null) {
      lastRecord = setImmediate(this.#call);
      return;
    }
    this.#next ^= 1;
    r._idleNext = null;
    r._idlePrev = null;
    r._onImmediate = this.#call;
    r._destroyed = false;
    r[q.refed] = true;
    lastRecord = r;
    q.core.immediateRefCount(true);
    q.core.queueImmediate(r);
  }
}
