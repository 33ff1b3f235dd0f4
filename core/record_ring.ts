/**
 * A fixed-memory ring of records of `fields` numbers each, in one `Float64Array`: the newest
 * `capacity` records are kept, older ones overwritten. The traces (the event loop's, a
 * sender's window) build on it; adding a record allocates nothing.
 *
 * @module
 */

/**
 * The ring. A subclass writes a record's fields at the offset {@link RecordRing.slot} gives.
 *
 * @example
 * ```ts
 * import { RecordRing } from "./record_ring.ts";
 * class Pairs extends RecordRing {
 *   add(a: number, b: number): void {
 *     const i = this.slot();
 *     this.data[i] = a;
 *     this.data[i + 1] = b;
 *   }
 * }
 * const p = new Pairs("Pairs", 2, 2);
 * p.add(1, 2);
 * p.add(3, 4);
 * p.add(5, 6);
 * Array.from(p.snapshot()); // [3, 4, 5, 6]
 * ```
 */
export class RecordRing {
  /** Capacity in records. */
  readonly capacity: number;
  /** Numbers per record. */
  readonly fields: number;
  /** Records made in all (the ring keeps the last `capacity`). */
  recorded = 0;
  /** The records, `fields` numbers each, at `(n % capacity) * fields` for the n-th. */
  protected readonly data: Float64Array;

  /**
   * A ring of `capacity` records of `fields` numbers; `name` is for the error message.
   *
   * @throws {RangeError} if `capacity` is not a whole number ≥ 1.
   */
  constructor(name: string, capacity: number, fields: number) {
    if (!(capacity >= 1 && Number.isInteger(capacity))) {
      throw new RangeError(`${name}: capacity must be a whole number >= 1`);
    }
    this.capacity = capacity;
    this.fields = fields;
    this.data = new Float64Array(capacity * fields);
  }

  /** Records held (at most `capacity`). */
  get length(): number {
    return this.recorded < this.capacity ? this.recorded : this.capacity;
  }

  /** Count a new record and return where its fields go (over the oldest once full). */
  protected slot(): number {
    const i = (this.recorded % this.capacity) * this.fields;
    this.recorded++;
    return i;
  }

  /** The records held, oldest first, flattened (`fields` numbers each). */
  snapshot(): Float64Array {
    const n = this.length;
    const f = this.fields;
    const out = new Float64Array(n * f);
    const first = this.recorded - n;
    for (let k = 0; k < n; k++) {
      const i = ((first + k) % this.capacity) * f;
      out.set(this.data.subarray(i, i + f), k * f);
    }
    return out;
  }
}
