/**
 * Steering frames by length between the two packet sockets of the AF_PACKET ring driver's split
 * receive (`rxSplit`): a classic filter on each socket (`SO_ATTACH_FILTER`), one that keeps the
 * frames that fit an MTU-sized ring slot and one that keeps the longer ones — the GRO/GSO
 * super-frames a kernel peer's offloads make, up to 64 KB — for a ring of 64 KiB slots.
 *
 * What the filter sees: `tpacket_rcv` (net/packet/af_packet.c) pushes the link-layer header
 * back onto the frame and runs the filter on the whole frame, so `BPF_LD|BPF_LEN` loads the
 * Ethernet frame's length (`skb->len`, every fragment of a super-frame included); a
 * `virtio_net_hdr` (`PACKET_VNET_HDR`) is written into the slot in front of the frame and is
 * not part of it. The filter's return value is the snap length: 0 drops, and "whole frame" is
 * any value at least the frame's length.
 *
 * Set-up only: everything here allocates.
 *
 * @module
 */

import {
  BPF_JGT,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_LEN,
  BPF_RET,
  BPF_W,
  ClassicProgram,
} from "../ffi/classic_bpf.ts";

/** Snap length a filter returns to keep a whole frame (the kernel takes the smaller). */
export const WHOLE_FRAME_SNAP = 0xffff_ffff;

/** Which frames a {@link frameLengthFilter} keeps. */
export type FrameLengthSide = "small" | "large";

/**
 * The classic program keeping frames (Ethernet bytes) of at most `limitBytes` (`side`
 * `"small"`) or of more (`"large"`); the two sides of one limit split every frame between them.
 *
 * @example
 * ```ts
 * const small = frameLengthFilter(1518, "small"); // ≤ 1518 bytes
 * const large = frameLengthFilter(1518, "large"); // > 1518 bytes
 * ```
 */
export function frameLengthFilter(limitBytes: number, side: FrameLengthSide): Uint8Array {
  if (!(Number.isInteger(limitBytes) && limitBytes >= 0 && limitBytes < 0xffff_ffff)) {
    throw new RangeError(
      `frameLengthFilter: limit must be an integer byte count, got ${limitBytes}`,
    );
  }
  const p = new ClassicProgram();
  p.op(BPF_LD | BPF_W | BPF_LEN); // A = frame length
  if (side === "small") p.jump(BPF_JMP | BPF_JGT | BPF_K, limitBytes, "drop", 0);
  else p.jump(BPF_JMP | BPF_JGT | BPF_K, limitBytes, 0, "drop");
  p.op(BPF_RET | BPF_K, WHOLE_FRAME_SNAP);
  p.label("drop");
  p.op(BPF_RET | BPF_K, 0);
  return p.assemble();
}
