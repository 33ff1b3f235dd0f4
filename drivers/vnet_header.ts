/**
 * Reading and writing the `virtio_net_hdr` that AF_PACKET (PACKET_VNET_HDR) and TAP
 * (IFF_VNET_HDR) put in front of every frame (its layout and flags: `ffi/virtio_net.ts`).
 *
 * Writers turn a {@link TxOffload} into a header; readers turn a received header into `RX_*`
 * flags and expose the GSO fields. All helpers work in place on any byte buffer and allocate
 * nothing.
 *
 * @module
 */

import {
  GSO_NONE,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  RX_GSO,
  type TxOffload,
} from "../link/driver.ts";
import {
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_LEN,
  VIRTIO_NET_HDR_MRG_LEN,
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_FLAGS,
  VNET_GSO_SIZE,
  VNET_GSO_TYPE,
  VNET_HDR_LEN,
  VNET_NUM_BUFFERS,
} from "../ffi/virtio_net.ts";

/** Read a little-endian u16 at `at`. */
function u16(buf: Uint8Array, at: number): number {
  return buf[at] | (buf[at + 1] << 8);
}

/** Write a little-endian u16 at `at`. */
function setU16(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
}

/**
 * Write a header for one transmitted frame at `buf[off]`: zeros for `null` (no offload), else
 * NEEDS_CSUM with `csum_start`/`csum_offset` when `offload.needsCsum`, and `gso_type`/
 * `gso_size`/`hdr_len` when `offload.gsoType` is not `GSO_NONE` (the `GSO_*` numbers of
 * `link/driver.ts` are the virtio ones). `size` is 10 or 12 (`num_buffers` written as 0).
 * `linearBytes` (GSO frames use `offload.hdrLen` when it is 0) goes in `hdr_len`,
 * capped at 65,535: AF_PACKET's TX ring copies that many leading bytes into the socket
 * buffer's linear part and attaches only the rest as pages of the ring. A whole frame copied
 * there saves the copy of ring pages (`skb_copy_ubufs`, a page allocation per frame) that
 * veth makes when it hands the frame to another namespace; 0 leaves the kernel's minimum.
 * Allocation-free.
 *
 * @example
 * ```ts
 * const off = new TxOffload();
 * off.needsCsum = true; off.csumStart = 34; off.csumOffset = 6; // UDP over IPv4
 * writeVnetHeader(slot, 48, off);
 * writeVnetHeader(slot, 48, null, 10, 1514); // no offload, the whole frame linear
 * ```
 */
export function writeVnetHeader(
  buf: Uint8Array,
  off: number,
  offload: TxOffload | null,
  size: number = VIRTIO_NET_HDR_LEN,
  linearBytes = 0,
): void {
  if (offload === null || (!offload.needsCsum && offload.gsoType === GSO_NONE)) {
    for (let i = 0; i < size; i++) buf[off + i] = 0;
    if (linearBytes > 0) setU16(buf, off + VNET_HDR_LEN, Math.min(linearBytes, 0xffff));
    return;
  }
  buf[off + VNET_FLAGS] = offload.needsCsum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
  buf[off + VNET_GSO_TYPE] = offload.gsoType;
  if (offload.gsoType !== GSO_NONE) {
    // A UFO frame may ask to be linear whole (linearBytes), as frames without GSO do.
    setU16(
      buf,
      off + VNET_HDR_LEN,
      linearBytes > 0 ? Math.min(linearBytes, 0xffff) : offload.hdrLen,
    );
    setU16(buf, off + VNET_GSO_SIZE, offload.gsoSize);
  } else {
    // The kernel raises hdr_len to cover the checksum field itself (csum_start+offset+2).
    setU16(buf, off + VNET_HDR_LEN, Math.min(linearBytes, 0xffff));
    setU16(buf, off + VNET_GSO_SIZE, 0);
  }
  if (offload.needsCsum) {
    setU16(buf, off + VNET_CSUM_START, offload.csumStart);
    setU16(buf, off + VNET_CSUM_OFFSET, offload.csumOffset);
  } else {
    setU16(buf, off + VNET_CSUM_START, 0);
    setU16(buf, off + VNET_CSUM_OFFSET, 0);
  }
  if (size >= VIRTIO_NET_HDR_MRG_LEN) setU16(buf, off + VNET_NUM_BUFFERS, 0);
}

/**
 * The `RX_*` flags a received header implies: NEEDS_CSUM → `RX_CSUM_PARTIAL`, DATA_VALID →
 * `RX_CSUM_VALID`, any `gso_type` other than NONE → `RX_GSO`.
 *
 * @example
 * ```ts
 * const flags = vnetRxFlags(ring, frameOff - VIRTIO_NET_HDR_LEN);
 * ```
 */
export function vnetRxFlags(buf: Uint8Array, off: number): number {
  const f = buf[off + VNET_FLAGS];
  let flags = 0;
  if ((f & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) flags |= RX_CSUM_PARTIAL;
  if ((f & VIRTIO_NET_HDR_F_DATA_VALID) !== 0) flags |= RX_CSUM_VALID;
  if ((buf[off + VNET_GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) {
    flags |= RX_GSO;
  }
  return flags;
}

/**
 * `flags` of the header at `off`.
 *
 * @example
 * ```ts
 * if (vnetFlags(buf, 0) & VIRTIO_NET_HDR_F_NEEDS_CSUM) finishChecksum();
 * ```
 */
export function vnetFlags(buf: Uint8Array, off: number): number {
  return buf[off + VNET_FLAGS];
}

/**
 * `gso_type` of the header at `off` (ECN bit included).
 *
 * @example
 * ```ts
 * vnetGsoType(buf, 0) === VIRTIO_NET_HDR_GSO_TCPV4;
 * ```
 */
export function vnetGsoType(buf: Uint8Array, off: number): number {
  return buf[off + VNET_GSO_TYPE];
}

/**
 * `gso_size` of the header at `off`.
 *
 * @example
 * ```ts
 * const mss = vnetGsoSize(buf, 0);
 * ```
 */
export function vnetGsoSize(buf: Uint8Array, off: number): number {
  return u16(buf, off + VNET_GSO_SIZE);
}

/**
 * `hdr_len` of the header at `off`.
 *
 * @example
 * ```ts
 * const headers = vnetHdrLen(buf, 0);
 * ```
 */
export function vnetHdrLen(buf: Uint8Array, off: number): number {
  return u16(buf, off + VNET_HDR_LEN);
}

/**
 * `csum_start` of the header at `off`.
 *
 * @example
 * ```ts
 * const l4 = vnetCsumStart(buf, 0);
 * ```
 */
export function vnetCsumStart(buf: Uint8Array, off: number): number {
  return u16(buf, off + VNET_CSUM_START);
}

/**
 * `csum_offset` of the header at `off`.
 *
 * @example
 * ```ts
 * const field = vnetCsumStart(buf, 0) + vnetCsumOffset(buf, 0);
 * ```
 */
export function vnetCsumOffset(buf: Uint8Array, off: number): number {
  return u16(buf, off + VNET_CSUM_OFFSET);
}
