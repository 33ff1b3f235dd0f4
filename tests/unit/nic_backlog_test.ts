// The NIC's RX_BACKLOG flag: set on every frame of a full receive batch whose first frame waited
// in the driver RX_BACKLOG_WAIT_MS or more (the stack is behind the wire), on no frame of a
// fresh batch, a partial one or a driver's without receive stamps, whatever the driver put in
// that bit.

import assert from "node:assert/strict";
import { makeCounters } from "../../core/counters.ts";
import { BufferPool } from "../../core/packet_buffer.ts";
import {
  DriverStats,
  type LinkDriver,
  NO_OFFLOADS,
  RX_BACKLOG,
  RX_BACKLOG_WAIT_MS,
  RX_CSUM_VALID,
  type RxBatch,
} from "../../link/driver.ts";
import { ETHERTYPE_IPV4, writeEthernetHeader } from "../../link/ethernet.ts";
import { Nic, type NicReceiver } from "../../stack/nic.ts";
import { LINK_COUNTERS } from "../../stack/stats.ts";

const MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);

/** A driver that hands out `pending` copies of one IPv4 frame, at most `max` a call. */
class QueueLink implements LinkDriver {
  readonly name = "q0";
  readonly kind = "sim";
  readonly mac = MAC;
  readonly mtu = 1500;
  readonly capabilities = NO_OFFLOADS;
  readonly fd = -1;
  readonly stats = new DriverStats();
  pending = 0;
  /** The kernel's receive time of the batch's first frame (epoch ms). */
  stampMs = 0;
  /** The driver's own flags on each frame (RX_BACKLOG among them: the NIC replaces it). */
  flags = RX_CSUM_VALID | RX_BACKLOG;
  readonly #frame = new Uint8Array(14 + 20);

  constructor() {
    writeEthernetHeader(this.#frame, 0, MAC, new Uint8Array([2, 0, 0, 0, 0, 2]), ETHERTYPE_IPV4, 0);
  }

  receive(batch: RxBatch, max: number): number {
    const n = Math.min(max, this.pending);
    for (let i = 0; i < n; i++) {
      batch.buf[i] = this.#frame;
      batch.off[i] = 0;
      batch.len[i] = this.#frame.length;
      batch.flags[i] = this.flags;
    }
    this.pending -= n;
    batch.count = n;
    return n;
  }
  rxStampMs(): number {
    return this.stampMs;
  }
  release(batch: RxBatch): void {
    batch.count = 0;
  }
  transmit(): boolean {
    return true;
  }
  flush(): void {}
  close(): void {}
}

/** A receiver that keeps each IPv4 frame's flags. */
class FlagLog implements NicReceiver {
  readonly flags: number[] = [];
  receiveArp(): void {}
  receiveIpv4(_nic: number, _b: Uint8Array, _o: number, _l: number, rxFlags: number): void {
    this.flags.push(rxFlags);
  }
  receiveIpv6(): void {}
}

/** The flags the NIC handed on for `frames` frames stamped `waitedMs` ago, in batches of 4. */
function polled(link: QueueLink, frames: number, waitedMs: number): number[][] {
  const log = new FlagLog();
  const pool = new BufferPool({ count: 4, bufferBytes: 2048 });
  const nic = new Nic(0, link, pool, makeCounters(LINK_COUNTERS), log, 4);
  link.pending = frames;
  const out: number[][] = [];
  for (;;) {
    link.stampMs = Date.now() - waitedMs;
    const n = nic.poll();
    if (n === 0) return out;
    out.push(log.flags.splice(0));
  }
}

const BEHIND = RX_CSUM_VALID | RX_BACKLOG;
const FRESH = RX_CSUM_VALID;

Deno.test("nic: a full batch whose first frame waited carries RX_BACKLOG on every frame; a fresh or partial one none", () => {
  const waited = RX_BACKLOG_WAIT_MS + 3;
  // Behind: two full batches, then the partial one that says the stack has caught up.
  assert.deepEqual(polled(new QueueLink(), 10, waited), [
    [BEHIND, BEHIND, BEHIND, BEHIND],
    [BEHIND, BEHIND, BEHIND, BEHIND],
    [FRESH, FRESH],
  ]);
  // A burst that just arrived fills batches too: not behind (the driver's own bit replaced).
  assert.deepEqual(polled(new QueueLink(), 8, 0), [[FRESH, FRESH, FRESH, FRESH], [
    FRESH,
    FRESH,
    FRESH,
    FRESH,
  ]]);
  // A driver without receive stamps: the NIC cannot tell, and never says behind.
  const unstamped = new QueueLink() as QueueLink & { rxStampMs?: () => number };
  Object.defineProperty(unstamped, "rxStampMs", { value: undefined });
  assert.deepEqual(polled(unstamped, 4, waited), [[FRESH, FRESH, FRESH, FRESH]]);
});
