/**
 * Who receives echo replies: ICMPv4 and ICMPv6 each keep one table from echo identifier to
 * listener (`ping` and friends), bounded so a caller cannot grow it without limit.
 *
 * @module
 */

import { StackError } from "../core/errors.ts";

/**
 * A bounded table of echo-reply listeners by 16-bit identifier.
 *
 * @example
 * ```ts
 * const t = new EchoListeners<(seq: number) => void>(2);
 * t.listen(7, (seq) => console.log(seq));
 * t.get(7)?.(1); // prints 1
 * t.unlisten(7);
 * ```
 */
export class EchoListeners<L> {
  readonly #byId = new Map<number, L>();
  readonly #max: number;

  /** A table of at most `max` identifiers. */
  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Deliver replies with identifier `id` to `listener`.
   *
   * @throws {StackError} EADDRINUSE when `id` is taken, ENOBUFS when the table is full.
   */
  listen(id: number, listener: L): void {
    if (this.#byId.has(id)) throw new StackError("EADDRINUSE", `echo identifier ${id} in use`);
    if (this.#byId.size >= this.#max) {
      throw new StackError("ENOBUFS", `too many echo identifiers (${this.#max})`);
    }
    this.#byId.set(id, listener);
  }

  /** Stop delivering replies for `id`. */
  unlisten(id: number): void {
    this.#byId.delete(id);
  }

  /** The listener of `id`, if any. */
  get(id: number): L | undefined {
    return this.#byId.get(id);
  }
}
