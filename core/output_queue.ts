/**
 * Deferred output: a source (a TCP connection with data queued) asks to produce its output at
 * the end of the tick, once, however many times it asked. The queue belongs to the stack; the
 * transports see only {@link OutputScheduler}, so they never import the stack.
 *
 * @module
 */

import { objectArray } from "./v8_shapes.ts";

/** Something with output to send at the end of the tick (a TCP endpoint with data queued). */
export interface OutputSource {
  /** True while queued for output; managed by the queue. */
  outputQueued: boolean;
  /** Produce the queued output now. */
  flushOutput(): void;
}

/** What a transport calls to have a source's output produced at the end of the tick. */
export interface OutputScheduler {
  /** Queue `src` for the end of this (or the next) tick and make sure a tick comes. */
  scheduleOutput(src: OutputSource): void;
}

/**
 * The sources waiting to produce output, each at most once.
 *
 * @example
 * ```ts
 * const q = new OutputQueue();
 * const src = { outputQueued: false, flushOutput() {} };
 * q.add(src);
 * q.add(src); // still one entry
 * console.log(q.length); // 1
 * q.flush();
 * ```
 */
export class OutputQueue {
  /**
   * Queued sources: `#items[#head, #tail)`. The array is never shrunk (one emptied with
   * `length = 0` allocates a new backing store on the next push: every tick of a
   * request/response exchange); flushed slots are cleared so no source is kept alive.
   */
  readonly #items: (OutputSource | null)[] = objectArray();
  #head = 0;
  #tail = 0;

  /** Sources waiting. */
  get length(): number {
    return this.#tail - this.#head;
  }

  /** Queue `src` unless it is queued already. */
  add(src: OutputSource): void {
    if (src.outputQueued) return;
    src.outputQueued = true;
    const items = this.#items;
    if (this.#tail < items.length) items[this.#tail] = src;
    else items.push(src);
    this.#tail++;
  }

  /**
   * Let the sources queued so far produce their output, at most `max` of them (the rest stay
   * queued, in order, for the next flush: a crowd of sockets all sending at once is spread
   * over ticks instead of overrunning the link in one). Sources may queue themselves again
   * while flushing: those wait for the next flush. O(1) per source.
   */
  flush(max = Infinity): void {
    const out = this.#items;
    const start = this.#head;
    let end = this.#tail;
    if (end === start) return;
    if (end - start > max) end = start + max;
    for (let i = start; i < end; i++) {
      const s = out[i]!;
      out[i] = null;
      s.outputQueued = false;
      s.flushOutput();
    }
    const tail = this.#tail; // sources queued again while flushing are past `end`
    if (end === tail) {
      this.#head = 0;
      this.#tail = 0;
    } else if (end > tail >>> 1) {
      // Move the rest to the front once the flushed part is most of the array (amortised
      // O(1) per source).
      for (let i = end; i < tail; i++) {
        out[i - end] = out[i];
        out[i] = null;
      }
      this.#head = 0;
      this.#tail = tail - end;
    } else {
      this.#head = end;
    }
  }
}
