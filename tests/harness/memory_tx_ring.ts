/**
 * A TPACKET_V2 TX ring over ordinary memory, on no socket, for unit tests of `TxRing`: the
 * slots live in an `ArrayBuffer` the test can read. Without `send`, a kick fails (fd -1,
 * counted as a kick error); a test's `send` plays the kernel (e.g. gives every slot back).
 */

import type { TxKicker } from "../../drivers/tx_kicker.ts";
import type { UringTxKick } from "../../drivers/tx_kick_uring.ts";
import {
  TX_SLOT_V2,
  type TxKickPolicy,
  TxRing,
  type TxRingCounters,
  type TxRingGeometry,
  txRingGeometry,
} from "../../drivers/af_packet_tx_ring.ts";
import { VIRTIO_NET_HDR_LEN } from "../../ffi/virtio_net.ts";

/** What {@link memoryTxRing} makes. */
export interface MemoryTxRing {
  /** The ring. */
  tx: TxRing;
  /** Its slots' memory, bytes. */
  slots: Uint8Array;
  /** The same memory as words (the slots' status words). */
  words: Uint32Array;
  /** The slots' layout. */
  geometry: TxRingGeometry;
}

/** Options of {@link memoryTxRing}. */
export interface MemoryTxRingOptions {
  /** Slots (default 16). */
  frames?: number;
  /** The MTU the slots hold (default 9000). */
  mtu?: number;
  /** A virtio-net header before each frame (default true). */
  vnetHdr?: boolean;
  /** The kernel's part of a kick (default none: fd -1 fails). */
  send?: () => number;
  /** A kicker and its policy. */
  kicker?: TxKicker;
  /** The kick policy (with `kicker`). */
  kickPolicy?: TxKickPolicy;
  /** An io_uring kick (`drivers/tx_kick_uring.ts`). */
  uring?: UringTxKick;
}

/** A TX ring over memory counting into `stats` (see the module comment). */
export function memoryTxRing(stats: TxRingCounters, o: MemoryTxRingOptions = {}): MemoryTxRing {
  const vnetHdr = o.vnetHdr ?? true;
  const geometry = txRingGeometry(TX_SLOT_V2, o.mtu ?? 9000, vnetHdr, o.frames ?? 16);
  const mem = new ArrayBuffer(geometry.blockBytes * geometry.blocks);
  const slots = new Uint8Array(mem);
  const words = new Uint32Array(mem);
  const tx = new TxRing({
    fd: -1,
    ring: slots,
    words,
    base: 0,
    geometry,
    layout: TX_SLOT_V2,
    vnetBytes: vnetHdr ? VIRTIO_NET_HDR_LEN : 0,
    stats,
    send: o.send,
    kicker: o.kicker,
    kickPolicy: o.kickPolicy,
    uring: o.uring,
  });
  return { tx, slots, words, geometry };
}
