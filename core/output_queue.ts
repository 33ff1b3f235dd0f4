/**
 * Deferred output: a source (a TCP connection with data queued) asks to produce its output at
 * the end of the tick, once, however many times it asked. The queue belongs to the stack; the
 * transports see only {@link OutputScheduler}, so they never import the stack.
 *
 * @module
 */

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
  readonly #items: OutputSource[] = [];

  /** Sources waiting. */
  get length(): number {
    return this.#items.length;
  }

  /** Queue `src` unless it is queued already. */
  add(src: OutputSource): void {
    if (src.outputQueued) return;
    src.outputQueued = true;
    this.#items.push(src);
  }

  /**
   * Let every source queued so far produce its output. Sources may queue themselves again
   * while flushing: those wait for the next flush.
   */
  flush(): void {
    const out = this.#items;
    const n = out.length;
    if (n === 0) return;
    for (let i = 0; i < n; i++) {
      const s = out[i];
      s.outputQueued = false;
      s.flushOutput();
    }
    out.splice(0, n);
  }
}
