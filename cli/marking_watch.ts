/**
 * Watching V8's incremental marking during a warm-up, so that a warm-up can end only once the
 * marking it set off has finished: a fresh `pingpong --connect` client's warm-up garbage was
 * marked in the warm-up's last idle wait, and beside load the marking's mark-compact came after
 * the `warm_up` line, in the first real connections (bench/README.md, "flake32").
 *
 * V8 tells no script whether it is marking; `node:v8`'s `GCProfiler` reports each collection
 * by type once it is stopped: an `IncrementalMarking` entry when a marking starts, a
 * `MarkSweepCompact` one when a mark-compact (the marking's end, or an atomic one) ran. The
 * watch stops and restarts it to read the entries so far.
 *
 * @module
 */

import v8 from "node:v8";

/** One entry of a `GCProfiler` report (the part read here). */
interface GcEntry {
  gcType: string;
}

/** The `GCProfiler` calls used (Deno 2.9's `node:v8`). */
interface Profiler {
  start(): void;
  stop(): { statistics?: GcEntry[] } | undefined;
}

/** Longest {@link MarkingWatch.settle} waits between two reads (ms). */
const POLL_MS = 1;

/** What {@link MarkingWatch.settle} saw. */
export interface MarkingSettle {
  /** A marking was in progress when the settle began. */
  wasMarking: boolean;
  /** Mark-compacts seen since the watch began. */
  markCompacts: number;
  /** Time waited (ms). */
  waitedMs: number;
  /** False when the wait ended at its bound with the marking still in progress. */
  settled: boolean;
}

/**
 * V8's incremental marking since the watch began: {@link MarkingWatch.marking} while a marking
 * started and its mark-compact has not run. Start-up code only (each read allocates a report).
 */
export class MarkingWatch {
  readonly #profiler: Profiler | null;
  #marking = false;
  #markCompacts = 0;

  /** Begin watching (a no-op watch where the runtime has no `GCProfiler`). */
  constructor() {
    const P = (v8 as unknown as { GCProfiler?: new () => Profiler }).GCProfiler;
    this.#profiler = P === undefined ? null : new P();
    this.#profiler?.start();
  }

  /** Read the collections reported since the last read. */
  #read(): void {
    const p = this.#profiler;
    if (p === null) return;
    const r = p.stop();
    p.start();
    for (const e of r?.statistics ?? []) {
      if (e.gcType === "IncrementalMarking") this.#marking = true;
      else if (e.gcType === "MarkSweepCompact") {
        this.#marking = false;
        this.#markCompacts++;
      }
    }
  }

  /** True while a marking V8 started since the watch began has not reached its mark-compact. */
  get marking(): boolean {
    this.#read();
    return this.#marking;
  }

  /**
   * Wait, idle, until no marking is in progress, at most `maxMs`: V8 finishes a marking with a
   * task on this thread, which runs while it waits.
   */
  async settle(maxMs: number): Promise<MarkingSettle> {
    const t0 = performance.now();
    const wasMarking = this.marking;
    let marking = wasMarking;
    while (marking && performance.now() - t0 < maxMs) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      marking = this.marking;
    }
    return {
      wasMarking,
      markCompacts: this.#markCompacts,
      waitedMs: performance.now() - t0,
      settled: !marking,
    };
  }

  /** Stop watching (no collection is recorded after it). */
  stop(): void {
    this.#profiler?.stop();
  }
}
