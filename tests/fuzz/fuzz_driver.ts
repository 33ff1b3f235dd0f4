/**
 * The fuzzer's link: a {@link LinkDriver} that hands the stack whatever frames the fuzzer
 * queued for the next tick (with the receive flags it chose) and shows every frame the stack
 * transmits to an observer (the fuzzer's model of the peers, which answers ARP and follows TCP
 * sequence numbers). Nothing is copied on receive: the queued buffers are handed out as they
 * are.
 *
 * @module
 */

import {
  DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  type RxBatch,
  type TxOffload,
} from "../../link/driver.ts";
import { STACK_MAC } from "./frames.ts";

/** Offloads a fuzzed host may be given: checksum and TCP/UDP segmentation. */
export const FUZZ_OFFLOADS: Readonly<LinkCapabilities> = Object.freeze({
  txChecksumOffload: true,
  tcpSegmentationOffload: true,
  udpSegmentationOffload: true,
  maxGsoBytes: 65536,
});

/** Sees every frame the stack transmits. */
export interface TxObserver {
  /** `frame[off, off+len)` was transmitted; `offload` as the stack passed it. */
  onTransmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): void;
}

/** Most frames queued for one tick. */
export const MAX_BATCH = 16;

/** The fuzzer's driver. */
export class FuzzDriver implements LinkDriver {
  /** Interface name. */
  readonly name = "fuzz0";
  /** Driver kind. */
  readonly kind = "sim";
  /** The fuzzed host's MAC. */
  readonly mac: Uint8Array = Uint8Array.from(STACK_MAC);
  /** Link MTU. */
  readonly mtu: number;
  /** Offloads. */
  readonly capabilities: LinkCapabilities;
  /** No fd: the fuzzer ticks the stack itself. */
  readonly fd = -1;
  /** Counters. */
  readonly stats: DriverStats = new DriverStats();
  /** Who sees transmitted frames. */
  observer: TxObserver | null = null;
  readonly #buf: Uint8Array[] = [];
  readonly #len = new Int32Array(MAX_BATCH);
  readonly #flags = new Uint8Array(MAX_BATCH);
  #count = 0;
  #closed = false;

  /** A link of `mtu` bytes, with or without offloads. */
  constructor(mtu: number, offloads: boolean) {
    this.mtu = mtu;
    this.capabilities = offloads ? FUZZ_OFFLOADS : NO_OFFLOADS;
  }

  /** Frames queued for the next receive. */
  get queued(): number {
    return this.#count;
  }

  /** Queue `buf[0, len)` for the next receive; false when the batch is full. */
  queue(buf: Uint8Array, len: number, flags: number): boolean {
    if (this.#count >= MAX_BATCH) return false;
    this.#buf[this.#count] = buf;
    this.#len[this.#count] = len;
    this.#flags[this.#count] = flags;
    this.#count++;
    return true;
  }

  /** Hand out the queued frames. */
  receive(batch: RxBatch, max: number): number {
    if (this.#closed) throw new Error("FuzzDriver: closed");
    const n = Math.min(this.#count, max, batch.capacity);
    for (let i = 0; i < n; i++) {
      batch.buf[i] = this.#buf[i];
      batch.off[i] = 0;
      batch.len[i] = this.#len[i];
      batch.flags[i] = this.#flags[i];
      this.stats.rxFrames++;
      this.stats.rxBytes += this.#len[i];
    }
    // Frames that did not fit the stack's batch move up for the next receive.
    for (let i = n; i < this.#count; i++) {
      this.#buf[i - n] = this.#buf[i];
      this.#len[i - n] = this.#len[i];
      this.#flags[i - n] = this.#flags[i];
    }
    this.#count -= n;
    batch.count = n;
    return n;
  }

  /** Nothing to give back: the fuzzer owns the buffers. */
  release(batch: RxBatch): void {
    batch.count = 0;
  }

  /** Show the frame to the observer; always accepted. */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    if (this.#closed) throw new Error("FuzzDriver: closed");
    this.stats.txFrames++;
    this.stats.txBytes += len;
    if (this.observer !== null) this.observer.onTransmit(frame, off, len, offload);
    return true;
  }

  /** Nothing queued to push. */
  flush(): void {}

  /** Refuse further use. */
  close(): void {
    this.#closed = true;
  }
}
