/**
 * The `virtio_net_hdr` (`linux/virtio_net.h`) that AF_PACKET (PACKET_VNET_HDR) and TAP
 * (IFF_VNET_HDR) put in front of every frame: 10 bytes, or 12 with `num_buffers`
 * (`virtio_net_hdr_mrg_rxbuf`). Fields are little-endian on the kernels we run on (legacy
 * virtio byte order = host order, x86-64).
 *
 * Layout:
 * ```
 *  0 flags u8      1 gso_type u8   2 hdr_len u16   4 gso_size u16
 *  6 csum_start u16                8 csum_offset u16            (10 num_buffers u16)
 * ```
 *
 * Readers and writers over it are in `drivers/vnet_header.ts`.
 *
 * @module
 */

/** Size of `struct virtio_net_hdr`. */
export const VIRTIO_NET_HDR_LEN = 10;
/** Size of `struct virtio_net_hdr_mrg_rxbuf` (adds `num_buffers`). */
export const VIRTIO_NET_HDR_MRG_LEN = 12;

/** `flags` (u8). */
export const VNET_FLAGS = 0;
/** `gso_type` (u8, `VIRTIO_NET_HDR_GSO_*`). */
export const VNET_GSO_TYPE = 1;
/** `hdr_len` (u16): bytes of headers in front of the GSO payload. */
export const VNET_HDR_LEN = 2;
/** `gso_size` (u16): payload bytes per segment. */
export const VNET_GSO_SIZE = 4;
/** `csum_start` (u16): where checksumming starts, from the start of the frame. */
export const VNET_CSUM_START = 6;
/** `csum_offset` (u16): where the checksum goes, from `csum_start`. */
export const VNET_CSUM_OFFSET = 8;
/** `num_buffers` (u16), 12-byte header only. */
export const VNET_NUM_BUFFERS = 10;

/** flags: the checksum is partial; finish it from `csum_start` into `csum_offset`. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** flags: the checksum was verified. */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** flags: `csum_start`/`csum_offset` carry RSC coalescing info instead. */
export const VIRTIO_NET_HDR_F_RSC_INFO = 4;

/** gso_type: not a GSO frame. */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
/** gso_type: TCP over IPv4. */
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** gso_type: UDP fragmentation (UFO). */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
/** gso_type: TCP over IPv6. */
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** gso_type: UDP segmentation (USO). */
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** gso_type bit: the TCP stream uses ECN (CWR on the first segment only). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;
