/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
 * the data taken as big-endian 16-bit words, used by IPv4, ICMP, UDP and TCP.
 *
 * Sums are built in two steps so they can be chained across pieces (pseudo-header, header,
 * payload): {@link onesComplementSum} returns an *unfolded* accumulator and
 * {@link foldChecksum} turns the final accumulator into the value stored in the header.
 *
 * Chaining rule: every piece except the last must have an even length. The sum is defined on
 * 16-bit words, so a piece that ends in the middle of a word would shift the byte order of the
 * next piece (RFC 1071 §2(A)); the last piece may be odd and is padded with a zero byte.
 *
 * Speed: long runs are summed as aligned 32-bit words through an `Int32Array` over the same
 * memory, adding the two 16-bit halves of each word; on a little-endian host that is the sum of
 * byte-swapped words, and byte-swapping the folded sum gives the big-endian sum (RFC 1071
 * §2(B), byte-order independence). The `Int32Array` views are cached per `ArrayBuffer`, so no
 * call allocates after the first one on a given buffer.
 *
 * @module
 */

import {
  GSO_NONE,
  isPartialChecksum,
  RX_CSUM_MAYBE_PARTIAL,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  type TxOffload,
} from "../link/driver.ts";
import type { PacketBuffer } from "../core/packet_buffer.ts";
import type { IpAddr } from "./ip_address.ts";

/** Bytes of the Ethernet header the offload offsets count in front of the IP header. */
const ETHERNET_HEADER_BYTES = 14;

/** True when the host stores integers little-endian (every platform Deno ships for). */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Below this many bytes the byte-pair loop is as fast as the word loop and skips the cache. */
const WORD_LOOP_MIN_BYTES = 48;

/** Words per inner run: 8192 × 0x1fffe < 2^31, so the run sum stays a small integer. */
const RUN_WORDS = 8192;

const EMPTY_WORDS = new Int32Array(0);

// A tiny cache of word views, checked before the WeakMap. A stack touches few ArrayBuffers
// (an RX ring, a TX pool, …); the strong references keep at most four of them alive.
let cacheKey0: ArrayBufferLike | null = null;
let cacheView0: Int32Array = EMPTY_WORDS;
let cacheKey1: ArrayBufferLike | null = null;
let cacheView1: Int32Array = EMPTY_WORDS;
let cacheKey2: ArrayBufferLike | null = null;
let cacheView2: Int32Array = EMPTY_WORDS;
let cacheKey3: ArrayBufferLike | null = null;
let cacheView3: Int32Array = EMPTY_WORDS;
let cacheNext = 0;
const wordViews = new WeakMap<ArrayBufferLike, Int32Array>();

/** The `Int32Array` over all whole words of `ab`, allocated once per buffer (and per resize). */
function wordView(ab: ArrayBufferLike): Int32Array {
  if (ab === cacheKey0) return cacheView0;
  if (ab === cacheKey1) return cacheView1;
  if (ab === cacheKey2) return cacheView2;
  if (ab === cacheKey3) return cacheView3;
  const words = ab.byteLength >>> 2;
  let v = wordViews.get(ab);
  if (v === undefined || v.length !== words) {
    v = new Int32Array(ab, 0, words);
    wordViews.set(ab, v);
  }
  switch (cacheNext) {
    case 0:
      cacheKey0 = ab;
      cacheView0 = v;
      break;
    case 1:
      cacheKey1 = ab;
      cacheView1 = v;
      break;
    case 2:
      cacheKey2 = ab;
      cacheView2 = v;
      break;
    default:
      cacheKey3 = ab;
      cacheView3 = v;
  }
  cacheNext = (cacheNext + 1) & 3;
  return v;
}

/** Drop `ab` from the small cache so the next {@link wordView} rebuilds its view. */
function forgetWordView(ab: ArrayBufferLike): void {
  if (ab === cacheKey0) cacheKey0 = null;
  if (ab === cacheKey1) cacheKey1 = null;
  if (ab === cacheKey2) cacheKey2 = null;
  if (ab === cacheKey3) cacheKey3 = null;
}

/** Big-endian word sum of buf[i, end), byte i taken as a high byte; an odd last byte is high. */
function sumBytePairs(buf: Uint8Array, i: number, end: number): number {
  let s = 0;
  const pairsEnd = end - ((end - i) & 1);
  for (; i < pairsEnd; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (pairsEnd !== end) s += buf[pairsEnd] << 8;
  return s;
}

/** Sum of the 16-bit halves of words [w, wEnd) of `v`, folded to 16 bits (host byte order). */
function sumWords(v: Int32Array, w: number, wEnd: number): number {
  let total = 0;
  while (w < wEnd) {
    const runEnd = wEnd - w > RUN_WORDS ? w + RUN_WORDS : wEnd;
    let s = 0;
    for (; w < runEnd; w++) {
      const x = v[w];
      s += (x & 0xffff) + (x >>> 16);
    }
    total += (s & 0xffff) + (s >>> 16);
    total = (total & 0xffff) + (total >>> 16); // ≤ 0x1fffe between runs
  }
  total = (total & 0xffff) + (total >>> 16);
  return (total & 0xffff) + (total >>> 16);
}

/** Big-endian one's complement sum (not folded) of buf[off, off + len), len > 0. */
function sumRange(buf: Uint8Array, off: number, len: number): number {
  if (len < WORD_LOOP_MIN_BYTES || !LITTLE_ENDIAN_HOST) return sumBytePairs(buf, off, off + len);
  const addr = buf.byteOffset + off;
  const head = (4 - (addr & 3)) & 3; // bytes before the first 4-byte-aligned address
  const wordCount = (len - head) >>> 2;
  const w0 = (addr + head) >>> 2;
  const v = wordView(buf.buffer);
  if (w0 + wordCount > v.length) {
    // A resizable buffer grew under its cached view: forget the view, take the slow road.
    forgetWordView(buf.buffer);
    return sumBytePairs(buf, off, off + len);
  }
  let s = sumBytePairs(buf, off, off + head);
  let mid = sumWords(v, w0, w0 + wordCount);
  // The words were read little-endian. Starting at an even position of the sum they are
  // byte-swapped big-endian words: swap the folded sum back. Starting at an odd position the
  // swap is already the right alignment (RFC 1071 §2(B), byte-order independence).
  if ((head & 1) === 0) mid = ((mid & 0xff) << 8) | (mid >>> 8);
  s += mid;
  const tail = off + head + (wordCount << 2);
  const end = off + len;
  if (tail < end) {
    if ((head & 1) === 0) s += sumBytePairs(buf, tail, end);
    else s += buf[tail] + sumBytePairs(buf, tail + 1, end); // the tail starts on a low byte
  }
  return s;
}

/**
 * Add the bytes `buf[off, off + len)` to a one's complement sum.
 *
 * Returns an unfolded accumulator (a non-negative integer below 2^17 after its own end-around
 * carry) to pass on as `acc` of the next piece, to {@link foldChecksum} or
 * {@link verifyChecksum}. `acc` may be any non-negative integer, e.g. a
 * {@link pseudoHeaderSumV4} or the plain sum of several accumulators.
 *
 * Only the last piece of a chained sum may have an odd length (see the module notes). A range
 * reaching past the end of `buf` is clamped to it. Allocation-free after the first call on a
 * given `ArrayBuffer`.
 *
 * @example
 * ```ts
 * const acc = onesComplementSum(new Uint8Array([0x45, 0x00, 0x00, 0x73]), 0, 4);
 * foldChecksum(acc); // ~(0x4500 + 0x0073) & 0xffff
 * ```
 */
export function onesComplementSum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  if (len > buf.length - off) len = buf.length - off; // clamp: never read undefined (NaN)
  // Keep s below 2^32 so the bit operations below are exact: a huge acc is replaced by the
  // same one's complement value (0 ≡ 0xffff, and a non-zero sum never folds to 0).
  if (acc > 0xfff00000) acc = acc % 0xffff || 0xffff;
  let s = acc;
  if (len > 0) s += sumRange(buf, off, len);
  if (s > 0xffffffff) s = s % 0xffff || 0xffff; // only the byte-pair fallback on huge ranges
  return (s & 0xffff) + (s >>> 16);
}

/**
 * Fold an accumulator to 16 bits with end-around carry, without complementing it: the one's
 * complement sum itself. This is the value a partial (offloaded) checksum field is seeded with:
 * the folded pseudo-header sum, which the device completes over the L4 bytes.
 *
 * @example
 * ```ts
 * foldSum(0x1_fffe); // 0xffff
 * ```
 */
export function foldSum(acc: number): number {
  if (acc > 0xffffffff) acc = acc % 0xffff || 0xffff; // 0 ≡ 0xffff for a non-zero sum
  acc = (acc & 0xffff) + (acc >>> 16);
  return (acc & 0xffff) + (acc >>> 16);
}

/**
 * The checksum to store in a header: the one's complement of the folded sum, with the
 * checksum field itself counted as zero while summing. A result of 0 is stored as 0 except by
 * UDP (see {@link udpChecksumToWire}).
 *
 * @example
 * ```ts
 * const hdr = new Uint8Array(20); // an IPv4 header with its checksum field zeroed
 * const c = foldChecksum(onesComplementSum(hdr, 0, 20));
 * ```
 */
export function foldChecksum(acc: number): number {
  return ~foldSum(acc) & 0xffff;
}

/**
 * The checksum of `buf[off, off + len)` (plus `acc`), ready to store: `foldChecksum` of
 * `onesComplementSum`.
 *
 * @example
 * ```ts
 * internetChecksum(new Uint8Array([0x00, 0x01, 0xf2, 0x03]), 0, 4); // 0x0dfb
 * ```
 */
export function internetChecksum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  return foldChecksum(onesComplementSum(buf, off, len, acc));
}

/**
 * True when `buf[off, off + len)` (plus `acc`, e.g. a pseudo-header sum) carries a valid
 * checksum: summed *with* its checksum field, the folded sum is 0xffff (all ones).
 *
 * @example
 * ```ts
 * const ip = new Uint8Array([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61,
 *   0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
 * verifyChecksum(ip, 0, 20); // true
 * ```
 */
export function verifyChecksum(buf: Uint8Array, off: number, len: number, acc = 0): boolean {
  return foldSum(onesComplementSum(buf, off, len, acc)) === 0xffff;
}

/**
 * Sum of the IPv4 pseudo-header of TCP and UDP (RFC 9293 §3.1, RFC 768): source and
 * destination addresses (unsigned 32-bit numbers), zero, protocol and the L4 length in bytes.
 * Pass the result as `acc` when summing the L4 header and payload.
 *
 * @example
 * ```ts
 * const acc = pseudoHeaderSumV4(0xc6120001, 0xc6120002, 17, 8 + payloadBytes);
 * ```
 */
export function pseudoHeaderSumV4(
  src: number,
  dst: number,
  protocol: number,
  l4Length: number,
): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + l4Length;
}

/**
 * Sum of the IPv6 pseudo-header (RFC 8200 §8.1): the 16-byte source and destination addresses
 * read from `src[srcOff..]` and `dst[dstOff..]`, the 32-bit upper-layer length and the next
 * header value (of the upper-layer protocol, not of an extension header).
 *
 * @example
 * ```ts
 * const acc = pseudoHeaderSumV6(pkt, 8, pkt, 24, 58, icmpBytes);
 * ```
 */
export function pseudoHeaderSumV6(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  nextHeader: number,
  l4Length: number,
): number {
  let s = (l4Length >>> 16) + (l4Length & 0xffff) + nextHeader;
  for (let i = 0; i < 16; i += 2) {
    s += (src[srcOff + i] << 8) | src[srcOff + i + 1];
    s += (dst[dstOff + i] << 8) | dst[dstOff + i + 1];
  }
  return s;
}

/**
 * UDP's wire form of a computed checksum: RFC 768 (and RFC 8200 §8.1) send a computed 0 as
 * 0xffff, because 0 in the field means "no checksum".
 *
 * @example
 * ```ts
 * udpChecksumToWire(0); // 0xffff
 * ```
 */
export function udpChecksumToWire(checksum: number): number {
  return checksum === 0 ? 0xffff : checksum;
}

/**
 * Incremental update (RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m')) of a stored checksum when one
 * 16-bit word of the covered data changes from `oldValue` to `newValue`. The word must sit at
 * an even offset of the checksummed data (swap its bytes otherwise). Exact except when every
 * covered byte becomes zero (then 0 comes out instead of 0xffff), which no header allows.
 *
 * @example
 * ```ts
 * // IPv4 TTL 64 → 63 changes the word (ttl << 8 | protocol):
 * const c2 = checksumAdjust(c, (64 << 8) | 6, (63 << 8) | 6);
 * ```
 */
export function checksumAdjust(oldChecksum: number, oldValue: number, newValue: number): number {
  let s = (~oldChecksum & 0xffff) + (~oldValue & 0xffff) + (newValue & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * {@link checksumAdjust} for a 32-bit field (an IPv4 address, a sequence number) at an even
 * offset of the checksummed data.
 *
 * @example
 * ```ts
 * const c2 = checksumAdjust32(c, oldAddr, newAddr);
 * ```
 */
export function checksumAdjust32(oldChecksum: number, oldValue: number, newValue: number): number {
  let s = (~oldChecksum & 0xffff) + (~oldValue & 0xffff) + (~(oldValue >>> 16) & 0xffff) +
    (newValue & 0xffff) + (newValue >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Finish a checksum left partial for offload, the way a NIC does: the field at
 * `csumStart + csumOffset` holds the pseudo-header sum; sum everything from `csumStart` to the
 * end (field included) and store the complement. Offsets are relative to `off`.
 */
export function finishPartialChecksum(
  buf: Uint8Array,
  off: number,
  len: number,
  csumStart: number,
  csumOffset: number,
): void {
  const at = off + csumStart + csumOffset;
  let c = foldChecksum(onesComplementSum(buf, off + csumStart, len - csumStart));
  // UDP sends a computed zero as all ones (RFC 768); for TCP 0 and 0xffff are equivalent.
  if (c === 0) c = 0xffff;
  buf[at] = c >>> 8;
  buf[at + 1] = c & 0xff;
}

/**
 * Finish the partial TCP/UDP checksum of an Ethernet/IPv4 frame (as received with the
 * kernel's checksum offload). Frames of other kinds are left alone. Used by capture tools so
 * a recording shows the checksums that were on the wire.
 */
export function finishPartialChecksumIpv4Frame(buf: Uint8Array, off: number, len: number): void {
  if (len < 34 || buf[off + 12] !== 0x08 || buf[off + 13] !== 0x00) return;
  const ip = off + 14;
  const ihl = (buf[ip] & 0x0f) * 4;
  const total = (buf[ip + 2] << 8) | buf[ip + 3];
  const proto = buf[ip + 9];
  const end = total > 0 && 14 + total <= len ? 14 + total : len;
  const csumOffset = proto === 6 ? 16 : proto === 17 ? 6 : -1;
  if (csumOffset < 0 || 14 + ihl + csumOffset + 2 > end) return;
  finishPartialChecksum(buf, off, end, 14 + ihl, csumOffset);
}

/**
 * {@link finishPartialChecksumIpv4Frame} for Ethernet/IPv6 frames: a TCP or UDP header right
 * after the fixed header (where a kernel peer's offloaded segments put it) gets its checksum
 * finished; other frames are left alone.
 */
export function finishPartialChecksumIpv6Frame(buf: Uint8Array, off: number, len: number): void {
  if (len < 54 || buf[off + 12] !== 0x86 || buf[off + 13] !== 0xdd) return;
  const ip = off + 14;
  const payload = (buf[ip + 4] << 8) | buf[ip + 5];
  const nh = buf[ip + 6];
  const end = payload > 0 && 54 + payload <= len ? 54 + payload : len;
  const csumOffset = nh === 6 ? 16 : nh === 17 ? 6 : -1;
  if (csumOffset < 0 || 54 + csumOffset + 2 > end) return;
  finishPartialChecksum(buf, off, end, 54, csumOffset);
}

/**
 * Finish the partial TCP/UDP checksum of an Ethernet frame of either IP family
 * ({@link finishPartialChecksumIpv4Frame}, {@link finishPartialChecksumIpv6Frame}).
 */
export function finishPartialChecksumIpFrame(buf: Uint8Array, off: number, len: number): void {
  finishPartialChecksumIpv4Frame(buf, off, len);
  finishPartialChecksumIpv6Frame(buf, off, len);
}

/**
 * Decide whether a received TCP/UDP segment's checksum is acceptable, honouring what the driver
 * says about it (`rxFlags`, the `RX_*` bits of `link/driver.ts`): verified by the kernel
 * (DATA_VALID) or left partial by a local kernel peer (NEEDS_CSUM) → accepted; otherwise the
 * sum over `buf[off, off+len)` plus `pseudo` must verify — or, when the driver cannot tell
 * (`RX_CSUM_MAYBE_PARTIAL`, AF_XDP), the field at `fieldOff` may hold exactly the pseudo-header
 * sum, the one value a partial checksum has. One place for this rule, used by TCP and UDP.
 */
export function transportChecksumOk(
  buf: Uint8Array,
  off: number,
  len: number,
  fieldOff: number,
  pseudo: number,
  rxFlags: number,
): boolean {
  if ((rxFlags & (RX_CSUM_VALID | RX_CSUM_PARTIAL)) !== 0) return true;
  if (foldChecksum(onesComplementSum(buf, off, len, pseudo)) === 0) return true;
  if ((rxFlags & RX_CSUM_MAYBE_PARTIAL) === 0) return false;
  return isPartialChecksum((buf[off + fieldOff] << 8) | buf[off + fieldOff + 1], foldSum(pseudo));
}

/**
 * The pseudo-header sum of either family from the addresses' words: the IPv6 pseudo-header
 * (RFC 8200 §8.1) for IPv6. For IPv4-mapped addresses the two 0xffff words add 0xffff twice,
 * which is zero in one's complement arithmetic, so the same sum is the IPv4 pseudo-header sum
 * (RFC 9293 §3.1) and one function serves both families.
 *
 * @example
 * ```ts
 * const acc = pseudoHeaderSumIp(IpAddress.parse("fd00::1"), IpAddress.parse("fd00::2"), 17, 16);
 * ```
 */
export function pseudoHeaderSumIp(
  src: IpAddr,
  dst: IpAddr,
  protocol: number,
  l4Length: number,
): number {
  return (src.w0 >>> 16) + (src.w0 & 0xffff) + (src.w1 >>> 16) + (src.w1 & 0xffff) +
    (src.w2 >>> 16) + (src.w2 & 0xffff) + (src.w3 >>> 16) + (src.w3 & 0xffff) +
    (dst.w0 >>> 16) + (dst.w0 & 0xffff) + (dst.w1 >>> 16) + (dst.w1 & 0xffff) +
    (dst.w2 >>> 16) + (dst.w2 & 0xffff) + (dst.w3 >>> 16) + (dst.w3 & 0xffff) +
    (l4Length >>> 16) + (l4Length & 0xffff) + protocol;
}

/**
 * When `offload` only asks for a checksum (no GSO), finish it in software in `pb` — an IP
 * packet whose offload offsets count from an Ethernet header in front of it — and return true;
 * false for a GSO super-segment (or no offload), which is left alone, and for a packet whose
 * gathered payload could not be copied in ({@link PacketBuffer.flatten}). The IP layers use it
 * when the frame has to wait for neighbour resolution, whose queue keeps no offload request.
 *
 * @example
 * ```ts
 * if (finishOffloadInSoftware(pb, offload)) arp.send(pb, nextHop, ETHERTYPE_IPV4);
 * ```
 */
export function finishOffloadInSoftware(pb: PacketBuffer, offload: TxOffload): boolean {
  if (offload.gsoType !== GSO_NONE || !pb.flatten()) return false;
  if (offload.needsCsum) {
    finishPartialChecksum(
      pb.data,
      pb.head - ETHERNET_HEADER_BYTES,
      pb.length + ETHERNET_HEADER_BYTES,
      offload.csumStart,
      offload.csumOffset,
    );
  }
  return true;
}
