/**
 * Datagrams a stack sends to its own addresses never touch a link: the network layer queues
 * them (bounded) and delivers them at the start of the next tick, so a sender is never
 * re-entered by its own packet (like Linux's loopback route). One queue type for both
 * families.
 *
 * @module
 */

import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import { objectArray } from "../core/v8_shapes.ts";

/** Where queued datagrams are delivered (the network layer's input). */
export interface LocalReceiver {
  /** Take the datagram `buf[off, off + len)` (network header first) as if received on `nicIndex`. */
  receiveLocal(nicIndex: number, buf: Uint8Array, off: number, len: number): void;
}

/**
 * The bounded queue.
 *
 * @example
 * ```ts ignore
 * if (!local.push(pb, nicIndex)) stats.OutDiscards++;
 * // next tick:
 * local.deliver(layer);
 * ```
 */
export class LocalDeliveryQueue {
  readonly #pool: BufferPool;
  readonly #max: number;
  readonly #queue: PacketBuffer[] = objectArray();

  /** A queue of at most `max` datagrams whose buffers go back to `pool`. */
  constructor(pool: BufferPool, max: number) {
    this.#pool = pool;
    this.#max = max;
  }

  /** True when datagrams wait. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** Queue `pb` (headers complete) for NIC `nicIndex`; when full it is freed and false returned. */
  push(pb: PacketBuffer, nicIndex: number): boolean {
    if (this.#queue.length >= this.#max) {
      this.#pool.free(pb);
      return false;
    }
    pb.queueTag = nicIndex;
    this.#queue.push(pb);
    return true;
  }

  /** Deliver the datagrams queued before this call to `to`; returns how many. */
  deliver(to: LocalReceiver): number {
    const q = this.#queue;
    const n = q.length;
    for (let i = 0; i < n; i++) {
      const pb = q[i];
      to.receiveLocal(pb.queueTag, pb.data, pb.head, pb.length);
      this.#pool.free(pb);
    }
    q.splice(0, n);
    return n;
  }
}
