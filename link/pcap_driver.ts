/**
 * A `LinkDriver` wrapper that records traffic to a pcap file: wrap any driver (AF_PACKET,
 * TAP, a simulated wire endpoint, loopback) and hand the wrapper to the stack.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import {
  type DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  RX_CSUM_PARTIAL,
  type RxBatch,
  type TxOffload,
} from "./driver.ts";
import type { PcapWriter } from "./pcap_writer.ts";

/** Options of a {@link PcapDriver}. */
export interface PcapDriverOptions {
  /** Clock stamping the records. Default: `performance.now()`. */
  clock?: Clock;
  /**
   * Wall-clock epoch ms at clock time 0, so records carry real dates. Default: chosen at
   * construction so that the clock's current time maps to `Date.now()`.
   */
  epochMs?: number;
  /** Record received frames. Default true. */
  recordRx?: boolean;
  /** Record transmitted frames. Default true. */
  recordTx?: boolean;
  /**
   * Finish checksums left partial by offloads before recording, so the capture shows what
   * went on the wire (and verifies in tshark): `tx(frame, off, len, csumStart, csumOffset)`
   * for transmitted frames with `needsCsum` (offsets from the frame start), `rx(frame, off,
   * len)` for received frames flagged `RX_CSUM_PARTIAL` (it must find the L4 header itself).
   * The Runtime passes the IPv4 implementations from `net/checksum.ts`. Default: none (frames
   * recorded exactly as handed over).
   */
  finishChecksums?: {
    tx(frame: Uint8Array, off: number, len: number, csumStart: number, csumOffset: number): void;
    rx(frame: Uint8Array, off: number, len: number): void;
  };
}

const performanceClock: Clock = { nowMs: () => performance.now() };

/**
 * Forwards every call to the wrapped driver and records each frame it receives (in
 * `receive()`) and each frame it accepts for transmit (in `transmit()`) to a
 * {@link PcapWriter}. Frames are recorded as handed over: a transmitted frame with checksum
 * or segmentation offload shows its partial checksum or its full super-frame size, as it does
 * in `tcpdump` on the sending host.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../core/clock.ts";
 * import { PcapWriter } from "./pcap_writer.ts";
 * import { SimWire } from "./sim_wire.ts";
 * const clock = new VirtualClock();
 * const endpoint = new SimWire({ clock }).endpoint("a0", new Uint8Array([2, 0, 0, 0, 0, 1]));
 * const path = Deno.makeTempFileSync({ suffix: ".pcap" });
 * const driver = new PcapDriver(endpoint, PcapWriter.open(path), { clock });
 * // ... run the stack on `driver` ...
 * driver.close(); // closes the endpoint and the file
 * ```
 */
export class PcapDriver implements LinkDriver {
  /** The wrapped driver. */
  readonly inner: LinkDriver;
  /** The capture being written. */
  readonly pcap: PcapWriter;
  readonly #clock: Clock;
  readonly #epochMs: number;
  readonly #recordRx: boolean;
  readonly #recordTx: boolean;
  readonly #finish: NonNullable<PcapDriverOptions["finishChecksums"]> | null;

  /** Wrap `inner`, recording to `pcap` (which this driver closes on `close()`). */
  constructor(inner: LinkDriver, pcap: PcapWriter, opts: PcapDriverOptions = {}) {
    this.inner = inner;
    this.pcap = pcap;
    this.#clock = opts.clock ?? performanceClock;
    this.#epochMs = opts.epochMs ?? Date.now() - this.#clock.nowMs();
    this.#recordRx = opts.recordRx ?? true;
    this.#recordTx = opts.recordTx ?? true;
    this.#finish = opts.finishChecksums ?? null;
  }

  /** The wrapped driver's name. */
  get name(): string {
    return this.inner.name;
  }
  /** The wrapped driver's kind. */
  get kind(): string {
    return this.inner.kind;
  }
  /** The wrapped driver's MAC. */
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  /** The wrapped driver's MTU. */
  get mtu(): number {
    return this.inner.mtu;
  }
  /** The wrapped driver's capabilities. */
  get capabilities(): LinkCapabilities {
    return this.inner.capabilities;
  }
  /** The wrapped driver's fd. */
  get fd(): number {
    return this.inner.fd;
  }
  /** The wrapped driver's counters. */
  get stats(): DriverStats {
    return this.inner.stats;
  }

  /** Receive from the wrapped driver and record every frame of the batch. */
  receive(batch: RxBatch, max: number): number {
    const n = this.inner.receive(batch, max);
    if (n > 0 && this.#recordRx) {
      const t = this.#epochMs + this.#clock.nowMs();
      const fin = this.#finish;
      for (let i = 0; i < n; i++) {
        if (fin !== null && (batch.flags[i] & RX_CSUM_PARTIAL) !== 0) {
          fin.rx(batch.buf[i], batch.off[i], batch.len[i]);
        }
        this.pcap.write(batch.buf[i], batch.off[i], batch.len[i], t);
      }
    }
    return n;
  }

  /** Release through the wrapped driver. */
  release(batch: RxBatch): void {
    this.inner.release(batch);
  }

  /** Transmit through the wrapped driver; record the frame if it was accepted. */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    const ok = this.inner.transmit(frame, off, len, offload);
    if (ok && this.#recordTx) {
      // The driver has its copy: finishing the checksum here changes only what is recorded.
      if (this.#finish !== null && offload !== null && offload.needsCsum) {
        this.#finish.tx(frame, off, len, offload.csumStart, offload.csumOffset);
      }
      this.pcap.write(frame, off, len, this.#epochMs + this.#clock.nowMs());
    }
    return ok;
  }

  /** Flush the wrapped driver, then the capture file. */
  flush(): void {
    this.inner.flush();
    this.pcap.flush();
  }

  /** Close the wrapped driver and the capture file (both, even if one throws). */
  close(): void {
    try {
      this.inner.close();
    } finally {
      this.pcap.close();
    }
  }
}
