/**
 * The TX-ring kicker thread: a worker thread (`node:worker_threads`) that owns nothing but the AF_PACKET TX ring's kick,
 * `sendto(fd, NULL, 0, MSG_DONTWAIT)`. On veth the kernel runs the whole path behind our frames
 * inside that call (software segmentation, nftables, the peer's IP/TCP receive, its ACKs into our
 * RX ring); handing the call to a second thread lets that work run on another CPU while the
 * stack's thread goes on filling the ring.
 *
 * The protocol, over one small SharedArrayBuffer of Int32 words (`KICK_*` indices):
 *
 * - The stack publishes frames in the mmap'ed ring (data, length, then the status word with
 *   `Atomics.store`), then asks for a kick: `Atomics.exchange(REQUEST, 1)`; only if that returns
 *   0 (no kick pending) *and* the kicker says it is asleep (`AWAKE` = 0) does it call
 *   `Atomics.notify` — no syscall or lock when the kicker is already awake or busy.
 * - The kicker loops: `Atomics.exchange(REQUEST, 0)`; if it was 1, kick (the kernel sends every
 *   SEND_REQUEST slot, also ones published during the call) and loop again; if 0, spin a little
 *   re-reading REQUEST, then store `AWAKE` = 0, re-read REQUEST once more and only then
 *   `Atomics.wait(REQUEST, 0)`. All Atomics are sequentially consistent, so of "stack: set
 *   REQUEST, read AWAKE" and "kicker: clear AWAKE, read REQUEST" at least one sees the other's
 *   write: either the stack notifies, or the kicker does not sleep. A request made while the
 *   kicker is inside `sendto` leaves REQUEST at 1 and is served by the next pass; none is lost.
 * - Memory ordering: the slot's status is written with `Atomics.store` before the request's
 *   `Atomics.exchange`, both sequentially consistent, and the kicker reads REQUEST before its
 *   `sendto`: the kernel, on the kicker's thread, sees the slot's bytes and status.
 * - Errors: the kicker counts its kicks and failures and leaves the last errno other than
 *   EAGAIN/ENOBUFS in the shared words; the stack folds them into its counters
 *   ({@link TxKicker.collect}).
 * - Shutdown ({@link TxKicker.close}, synchronous): if the kicker has not started yet it is
 *   cancelled (it will never touch the socket); else STOP is set, a kick requested to wake it,
 *   and the stack waits (`Atomics.wait` on STATE, bounded) until the kicker has left its loop —
 *   after its last `sendto` returned — before terminating the worker. Only then may the caller
 *   unmap the ring and close the socket.
 *
 * The worker is `unref()`'d: like the socket it serves, it does not keep the process alive (a
 * Deno `Worker` would, and cannot be unref'd).
 *
 * @module
 */

import { Worker as NodeWorker } from "node:worker_threads";

/** Shared word: 1 when a kick is asked for and not yet taken by the kicker. */
export const KICK_REQUEST = 0;
/** Shared word: the kicker's life, one of the `KICKER_*` states. */
export const KICK_STATE = 1;
/** Shared word: 1 when the kicker must leave its loop. */
export const KICK_STOP = 2;
/** Shared word: 1 while the kicker is awake (not in, nor about to enter, `Atomics.wait`). */
export const KICK_AWAKE = 3;
/** Shared word: kicks (`sendto` calls) the kicker made (wraps at 2^32). */
export const KICK_COUNT = 4;
/** Shared word: kicks that failed with an errno other than EAGAIN/ENOBUFS. */
export const KICK_ERRORS = 5;
/** Shared word: the last such errno. */
export const KICK_ERRNO = 6;
/** Shared word: times the kicker went to sleep in `Atomics.wait`. */
export const KICK_SLEEPS = 7;
/** Shared word: microseconds the kicker spins re-reading REQUEST before it sleeps. */
export const KICK_SPIN_US = 8;
/** Number of shared words. */
export const KICK_WORDS = 9;

/** {@link KICK_STATE}: worker created, its loop not entered yet. */
export const KICKER_STARTING = 0;
/** {@link KICK_STATE}: in its loop, serving requests. */
export const KICKER_RUNNING = 1;
/** {@link KICK_STATE}: left its loop (after its last `sendto`). */
export const KICKER_STOPPED = 2;
/** {@link KICK_STATE}: closed before it started; it never runs. */
export const KICKER_CANCELLED = 3;

/** The kicker worker's `workerData`: the shared words and the socket. */
export interface KickerStart {
  /** The shared words (`KICK_*` indices). */
  words: SharedArrayBuffer;
  /** The packet socket whose TX ring it kicks. */
  fd: number;
}

/** How long {@link TxKicker.close} waits for the kicker to leave its loop. */
const JOIN_TIMEOUT_MS = 2000;
/** Default spin of the kicker before it sleeps (µs). */
export const TX_KICKER_DEFAULT_SPIN_US = 0;

/** Counters a {@link TxKicker} folds the kicker's work into (part of the TX ring's counters). */
export interface KickerCounters {
  /** Kicks issued (both threads). */
  txKicks: number;
  /** Syscalls made (both threads). */
  syscalls: number;
  /** Kicks that failed with an error other than EAGAIN/ENOBUFS. */
  txKickErrors: number;
  /** Kicks handed to the kicker thread. */
  txKickHandoffs: number;
  /** Handoffs that had to wake a sleeping kicker (`Atomics.notify`). */
  txKickWakes: number;
}

/**
 * Ask the kicker on shared words `w` for a kick (after the frames were published): set REQUEST
 * and wake the kicker only if no kick was pending and it is asleep. Returns true if it woke it
 * (one `Atomics.notify`). The half of the protocol the stack runs; the other is `runKicker`.
 *
 * @example
 * ```ts
 * const woke = requestKick(new Int32Array(words));
 * ```
 */
export function requestKick(w: Int32Array): boolean {
  // Dekker with the kicker: set REQUEST, then read AWAKE (both sequentially consistent).
  if (Atomics.exchange(w, KICK_REQUEST, 1) === 0 && Atomics.load(w, KICK_AWAKE) === 0) {
    Atomics.notify(w, KICK_REQUEST, 1);
    return true;
  }
  return false;
}

/**
 * The stack's side of the kicker thread: start it, ask it for kicks, fold its counters, join
 * it. Per-kick calls allocate nothing.
 *
 * @example
 * ```ts
 * const kicker = TxKicker.start(fd, 0);
 * // ... frames published in the TX ring ...
 * if (!kicker.request(stats)) tx.kick(); // not running (yet, or any more): kick here
 * kicker.collect(stats);
 * kicker.close();
 * ```
 */
export class TxKicker {
  readonly #w: Int32Array;
  readonly #worker: NodeWorker;
  #failed = false;
  #closed = false;
  #seenKicks = 0;
  #seenErrors = 0;
  /** errno of the kicker's last failed kick other than EAGAIN/ENOBUFS, or 0. */
  lastErrno = 0;

  private constructor(fd: number, spinUs: number, module: URL) {
    const sab = new SharedArrayBuffer(KICK_WORDS * 4);
    this.#w = new Int32Array(sab);
    this.#w[KICK_SPIN_US] = spinUs;
    this.#w[KICK_AWAKE] = 1;
    const start: KickerStart = { words: sab, fd };
    this.#worker = new NodeWorker(module, { workerData: start });
    this.#worker.unref();
    // A kicker that dies leaves the stack kicking by itself (request() says false).
    this.#worker.on("error", () => {
      this.#failed = true;
    });
  }

  /**
   * Start a kicker for socket `fd` (it takes requests once its worker has loaded, tens of
   * milliseconds on; until then {@link request} returns false). `spinUs`: how long it spins
   * before sleeping. `module`: the worker's main module (tests run the loop with a stand-in
   * kick); default `drivers/tx_kicker_worker.ts`.
   */
  static start(
    fd: number,
    spinUs: number = TX_KICKER_DEFAULT_SPIN_US,
    module: URL = new URL("./tx_kicker_worker.ts", import.meta.url),
  ): TxKicker {
    if (!Number.isInteger(spinUs) || spinUs < 0 || spinUs > 1_000_000) {
      throw new RangeError(`TxKicker: spinUs must be an integer 0..1000000, got ${spinUs}`);
    }
    return new TxKicker(fd, spinUs, module);
  }

  /**
   * Whether {@link tryStart} can start a kicker here: its worker's modules are readable
   * (`module` as for {@link tryStart}).
   *
   * @example
   * ```ts ignore
   * const lazy = TxKicker.canStart(); // start one later, when the first bulk batch comes
   * ```
   */
  static canStart(
    module: URL = new URL("./tx_kicker_worker.ts", import.meta.url),
  ): boolean {
    return canLoadWorkerModules(module);
  }

  /**
   * {@link start}, or null where no kicker thread can run: a worker's modules need read
   * permission for their files (Deno checks it for workers, not for the main module's imports,
   * so `deno run --allow-ffi` alone cannot start one), or the worker could not be created. The
   * caller then kicks on its own thread.
   */
  static tryStart(
    fd: number,
    spinUs: number = TX_KICKER_DEFAULT_SPIN_US,
    module: URL = new URL("./tx_kicker_worker.ts", import.meta.url),
  ): TxKicker | null {
    if (!canLoadWorkerModules(module)) return null;
    try {
      return TxKicker.start(fd, spinUs, module);
    } catch (e) {
      if (e instanceof RangeError) throw e;
      return null;
    }
  }

  /**
   * Wait (blocking this thread, at most `timeoutMs`) until the kicker runs; true if it does.
   * For tests and benchmarks: a driver does not wait, it kicks by itself meanwhile.
   */
  waitRunning(timeoutMs: number): boolean {
    const w = this.#w;
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(w, KICK_STATE) === KICKER_STARTING && !this.#failed) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      Atomics.wait(w, KICK_STATE, KICKER_STARTING, Math.min(left, 10));
    }
    return this.running;
  }

  /** True while the kicker serves requests. */
  get running(): boolean {
    return !this.#failed && !this.#closed &&
      Atomics.load(this.#w, KICK_STATE) === KICKER_RUNNING;
  }

  /** True while the kicker is awake (kicking, or spinning before it sleeps). */
  get awake(): boolean {
    return Atomics.load(this.#w, KICK_AWAKE) !== 0;
  }

  /** True while a requested kick has not been taken by the kicker yet. */
  get pending(): boolean {
    return Atomics.load(this.#w, KICK_REQUEST) !== 0;
  }

  /** Times the kicker went to sleep. */
  get sleeps(): number {
    return Atomics.load(this.#w, KICK_SLEEPS) >>> 0;
  }

  /**
   * Ask the kicker for a kick; false when it is not running (the caller kicks itself). Counts
   * `txKickHandoffs`, and `txKickWakes` when it had to wake the kicker.
   */
  request(stats: KickerCounters): boolean {
    if (!this.running) return false;
    stats.txKickHandoffs++;
    if (requestKick(this.#w)) stats.txKickWakes++;
    return true;
  }

  /** Fold the kicker's kicks and failures since the last call into `stats` and `lastErrno`. */
  collect(stats: KickerCounters): void {
    const w = this.#w;
    const kicks = Atomics.load(w, KICK_COUNT) >>> 0;
    const errors = Atomics.load(w, KICK_ERRORS) >>> 0;
    const dk = (kicks - this.#seenKicks) >>> 0;
    if (dk !== 0) {
      this.#seenKicks = kicks;
      stats.txKicks += dk;
      stats.syscalls += dk;
    }
    const de = (errors - this.#seenErrors) >>> 0;
    if (de !== 0) {
      this.#seenErrors = errors;
      stats.txKickErrors += de;
      this.lastErrno = Atomics.load(w, KICK_ERRNO);
    }
  }

  /**
   * Stop the kicker and wait until it has left its loop (its last `sendto` returned), then
   * terminate its worker. After this the socket and the ring may be released. Idempotent.
   * Throws if the kicker did not stop within two seconds (the worker is terminated anyway).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#w;
    let stuck = false;
    const was = Atomics.compareExchange(
      w,
      KICK_STATE,
      KICKER_STARTING,
      KICKER_CANCELLED,
    );
    if (was === KICKER_RUNNING) {
      Atomics.store(w, KICK_STOP, 1);
      Atomics.store(w, KICK_REQUEST, 1);
      Atomics.notify(w, KICK_REQUEST, 1);
      const deadline = performance.now() + JOIN_TIMEOUT_MS;
      while (Atomics.load(w, KICK_STATE) === KICKER_RUNNING) {
        const left = deadline - performance.now();
        if (left <= 0) {
          stuck = true;
          break;
        }
        Atomics.wait(w, KICK_STATE, KICKER_RUNNING, left);
      }
    }
    void this.#worker.terminate();
    if (stuck) throw new Error("TxKicker: the kicker thread did not stop within 2 s");
  }
}

/**
 * Whether a worker can load `module` and the package's other modules: for `file:` modules,
 * read permission on the package's root folder (remote modules are the import permission's
 * business, which the main module's own loading already needed).
 */
function canLoadWorkerModules(module: URL): boolean {
  if (module.protocol !== "file:") return true;
  try {
    const root = new URL("../", import.meta.url);
    return Deno.permissions.querySync({ name: "read", path: root }).state === "granted" &&
      Deno.permissions.querySync({ name: "read", path: module }).state === "granted";
  } catch {
    return false;
  }
}
