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
 * A marking V8 begins only after the warm-up, driven by the first real connections' own
 * allocation with the heap left near its limit by the warm-up's garbage, cannot be waited for:
 * {@link MarkingWatch.provoke} makes V8 begin it during the warm-up instead (bench/README.md,
 * "flake33").
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

/**
 * Bytes of each ballast buffer {@link MarkingWatch.provoke} allocates: an `ArrayBuffer` whose
 * memory is never touched (calloc'd pages, no resident memory), which V8 counts towards its
 * global allocation limit all the same.
 */
const BALLAST_BYTES = 32 << 20;

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

/** What {@link MarkingWatch.provoke} did. */
export interface MarkingProvoke extends MarkingSettle {
  /** Bytes of ballast buffers held (virtual memory, never touched). */
  ballastBytes: number;
  /** A marking began (or a mark-compact ran) while the ballast was held. */
  began: boolean;
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

  /** Mark-compacts seen since the watch began (read now). */
  get markCompacts(): number {
    this.#read();
    return this.#markCompacts;
  }

  /**
   * Make V8 collect the garbage it holds now, with its own regular (not memory-reducing)
   * incremental marking and mark-compact, and compute its next limits from what is left: hold
   * untouched ballast buffers ({@link BALLAST_BYTES} each, at most `maxBytes`), a turn of the
   * event loop after each, until V8 begins a marking (its heap plus the buffers reach its global
   * allocation limit) or runs a mark-compact; then drop them and {@link settle} (the rest of
   * `maxMs`). Start-up code only. A no-op where the runtime has no `GCProfiler`.
   */
  async provoke(maxBytes: number, maxMs: number): Promise<MarkingProvoke> {
    const t0 = performance.now();
    if (this.#profiler === null) {
      return { ballastBytes: 0, began: false, ...(await this.settle(0)) };
    }
    this.#read();
    const compacts = this.#markCompacts;
    let ballast: ArrayBuffer[] | null = [];
    let bytes = 0;
    while (
      !this.#marking && this.#markCompacts === compacts && bytes < maxBytes &&
      performance.now() - t0 < maxMs
    ) {
      try {
        ballast.push(new ArrayBuffer(BALLAST_BYTES));
      } catch {
        break; // no memory to reserve: what is held so far is all
      }
      bytes += BALLAST_BYTES;
      // V8 begins the marking in the allocation or with a task; a turn lets the task run.
      await new Promise((r) => setTimeout(r, 0));
      this.#read();
    }
    const began = this.#marking || this.#markCompacts > compacts;
    ballast = null;
    const s = await this.settle(Math.max(0, maxMs - (performance.now() - t0)));
    return { ...s, ballastBytes: bytes, began, waitedMs: performance.now() - t0 };
  }

  /** Stop watching (no collection is recorded after it). */
  stop(): void {
    this.#profiler?.stop();
  }
}
