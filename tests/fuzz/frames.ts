/**
 * Frame writing for the fuzzer: the addresses of the fuzzed host and its peers, Ethernet /
 * IPv4 / UDP / TCP / ICMP / ARP headers written into a caller's buffer, a checksum fixer that
 * makes a mutated frame's checksums valid again (so it reaches the code behind them), and a
 * light parser that tells where each header starts (for field-aware mutations and for
 * following the stack's TCP sequence numbers).
 *
 * Everything works on a caller-owned buffer with explicit lengths and never throws on garbage:
 * offsets are checked against the length.
 *
 * @module
 */

/** MAC of the fuzzed stack. */
export const STACK_MAC: readonly number[] = [2, 0, 0, 0, 0, 2];
/** MAC of the main peer (198.18.0.1); every peer host has one like it ({@link macOf}). */
export const PEER_MAC: readonly number[] = [2, 0, 0xc6, 0x12, 0, 1];
/** The fuzzed stack's address, 198.18.0.2/24. */
export const STACK_IP = 0xc6120002;
/** The main peer, 198.18.0.1. */
export const PEER_IP = 0xc6120001;
/** The default gateway, 198.18.0.254. */
export const GATEWAY_IP = 0xc61200fe;
/** Subnet broadcast, 198.18.0.255. */
export const BROADCAST_IP = 0xc61200ff;

/** Ethernet header length. */
export const ETH = 14;
/** EtherType IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType ARP. */
export const ETHERTYPE_ARP = 0x0806;

/** Big-endian 16-bit store. */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** Big-endian 32-bit store. */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Big-endian 16-bit load. */
export function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Big-endian 32-bit load (unsigned). */
export function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Ethernet header: `dst`, `src`, EtherType. Returns 14. */
export function writeEth(
  b: Uint8Array,
  dst: readonly number[],
  src: readonly number[],
  type: number,
): number {
  for (let i = 0; i < 6; i++) {
    b[i] = dst[i];
    b[6 + i] = src[i];
  }
  put16(b, 12, type);
  return ETH;
}

/** Fields of an IPv4 header to write. */
export interface Ipv4Fields {
  src: number;
  dst: number;
  protocol: number;
  /** Payload bytes after the header. */
  payloadLen: number;
  id?: number;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes (a multiple of 8 for real fragments). */
  fragOffset?: number;
  /** Option bytes (padded with EOL to a multiple of 4, at most 40). */
  options?: Uint8Array | null;
}

/** IPv4 header at `b[o..]` with a valid checksum; returns its length. */
export function writeIpv4(b: Uint8Array, o: number, f: Ipv4Fields): number {
  const optLen = f.options ? Math.min(40, (f.options.length + 3) & ~3) : 0;
  const hb = 20 + optLen;
  b[o] = 0x40 | (hb >>> 2);
  b[o + 1] = f.tos ?? 0;
  put16(b, o + 2, (hb + f.payloadLen) & 0xffff);
  put16(b, o + 4, f.id ?? 0);
  const frag = (f.dontFragment ? 0x4000 : 0) | (f.moreFragments ? 0x2000 : 0) |
    (((f.fragOffset ?? 0) >>> 3) & 0x1fff);
  put16(b, o + 6, frag);
  b[o + 8] = f.ttl ?? 64;
  b[o + 9] = f.protocol;
  put32(b, o + 12, f.src);
  put32(b, o + 16, f.dst);
  if (f.options) {
    for (let i = 0; i < optLen; i++) b[o + 20 + i] = i < f.options.length ? f.options[i] : 0;
  }
  ipv4HeaderChecksum(b, o, hb);
  return hb;
}

/** Ones' complement sum of `b[o, o+len)` added to `sum` (not folded). */
export function sumBytes(b: Uint8Array, o: number, len: number, sum: number): number {
  let s = sum;
  const end = o + (len & ~1);
  for (let i = o; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if ((len & 1) !== 0) s += b[o + len - 1] << 8;
  return s;
}

/** Fold a sum to 16 bits. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Recompute the IPv4 header checksum of the `hb`-byte header at `o`. */
export function ipv4HeaderChecksum(b: Uint8Array, o: number, hb: number): void {
  b[o + 10] = 0;
  b[o + 11] = 0;
  put16(b, o + 10, ~fold(sumBytes(b, o, hb, 0)) & 0xffff);
}

/**
 * Recompute the checksum of the transport segment `b[l4, l4+len)` (TCP 6, UDP 17, ICMP 1)
 * sent from `src` to `dst`. A UDP checksum that computes to 0 is sent as 0xffff (RFC 768).
 */
export function transportChecksum(
  b: Uint8Array,
  l4: number,
  len: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  const at = protocol === 6 ? 16 : protocol === 17 ? 6 : protocol === 1 ? 2 : -1;
  if (at < 0 || len < at + 2) return;
  b[l4 + at] = 0;
  b[l4 + at + 1] = 0;
  let s = protocol === 1
    ? 0
    : (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + len;
  s = sumBytes(b, l4, len, s);
  let c = ~fold(s) & 0xffff;
  if (protocol === 17 && c === 0) c = 0xffff;
  put16(b, l4 + at, c);
}

/** Where the headers of a frame are; -1 for what is absent. Reused, never one per frame. */
export class FrameLayout {
  /** EtherType, or -1 when shorter than an Ethernet header. */
  etherType = -1;
  /** IPv4 header offset. */
  ip = -1;
  /** IPv4 header length. */
  ipHeaderBytes = 0;
  /** IPv4 total length clipped to the frame. */
  ipEnd = 0;
  /** IP protocol. */
  protocol = -1;
  /** Transport header offset (only for the first or only fragment). */
  l4 = -1;
  /** True when the datagram is a fragment. */
  fragment = false;

  /** Parse `b[0, len)`. */
  parse(b: Uint8Array, len: number): this {
    this.etherType = -1;
    this.ip = -1;
    this.ipHeaderBytes = 0;
    this.ipEnd = 0;
    this.protocol = -1;
    this.l4 = -1;
    this.fragment = false;
    if (len < ETH) return this;
    this.etherType = get16(b, 12);
    if (this.etherType !== ETHERTYPE_IPV4 || len < ETH + 20) return this;
    const ip = ETH;
    const hb = (b[ip] & 0x0f) * 4;
    if (hb < 20 || ip + hb > len) return this;
    this.ip = ip;
    this.ipHeaderBytes = hb;
    this.ipEnd = Math.min(len, ip + Math.max(get16(b, ip + 2), hb));
    this.protocol = b[ip + 9];
    const frag = get16(b, ip + 6);
    this.fragment = (frag & 0x3fff) !== 0;
    if ((frag & 0x1fff) === 0 && ip + hb < this.ipEnd) this.l4 = ip + hb;
    return this;
  }
}

/**
 * Make the checksums of the frame `b[0, len)` valid for what its headers now say: the IPv4
 * header checksum, and the transport checksum of an unfragmented datagram (its payload as far
 * as the IP total length and the frame both reach). Optionally first sets the IP total length
 * to the frame's real length.
 */
export function fixFrame(b: Uint8Array, len: number, fixLength: boolean, lay: FrameLayout): void {
  lay.parse(b, len);
  if (lay.ip < 0) return;
  if (fixLength) {
    put16(b, lay.ip + 2, Math.min(0xffff, len - lay.ip));
    lay.parse(b, len);
  }
  ipv4HeaderChecksum(b, lay.ip, lay.ipHeaderBytes);
  if (lay.l4 >= 0 && !lay.fragment) {
    transportChecksum(
      b,
      lay.l4,
      lay.ipEnd - lay.l4,
      lay.protocol,
      get32(b, lay.ip + 12),
      get32(b, lay.ip + 16),
    );
  }
}

/** TCP flag bits. */
export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20;

/** Fields of a TCP header to write. */
export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent?: number;
  /** Option bytes (padded with EOL to a multiple of 4, at most 40). */
  options?: Uint8Array | null;
  /** Lie about the data offset (4-bit value) instead of the real header length. */
  dataOffset?: number;
}

/** TCP header at `b[o..]` (checksum left 0: fix it once the payload is in). Returns its length. */
export function writeTcp(b: Uint8Array, o: number, f: TcpFields): number {
  const optLen = f.options ? Math.min(40, (f.options.length + 3) & ~3) : 0;
  put16(b, o, f.srcPort);
  put16(b, o + 2, f.dstPort);
  put32(b, o + 4, f.seq >>> 0);
  put32(b, o + 8, f.ack >>> 0);
  b[o + 12] = (f.dataOffset ?? (20 + optLen) >>> 2) << 4;
  b[o + 13] = f.flags & 0xff;
  put16(b, o + 14, f.window);
  put16(b, o + 16, 0);
  put16(b, o + 18, f.urgent ?? 0);
  if (f.options) {
    for (let i = 0; i < optLen; i++) b[o + 20 + i] = i < f.options.length ? f.options[i] : 0;
  }
  return 20 + optLen;
}

/** UDP header at `b[o..]` for `payloadLen` bytes (checksum 0). Returns 8. */
export function writeUdp(
  b: Uint8Array,
  o: number,
  srcPort: number,
  dstPort: number,
  payloadLen: number,
): number {
  put16(b, o, srcPort);
  put16(b, o + 2, dstPort);
  put16(b, o + 4, (8 + payloadLen) & 0xffff);
  put16(b, o + 6, 0);
  return 8;
}

/** ARP packet for IPv4 over Ethernet at `b[o..]`. Returns 28. */
export function writeArp(
  b: Uint8Array,
  o: number,
  op: number,
  senderMac: readonly number[],
  senderIp: number,
  targetMac: readonly number[],
  targetIp: number,
): number {
  put16(b, o, 1);
  put16(b, o + 2, ETHERTYPE_IPV4);
  b[o + 4] = 6;
  b[o + 5] = 4;
  put16(b, o + 6, op);
  for (let i = 0; i < 6; i++) {
    b[o + 8 + i] = senderMac[i];
    b[o + 18 + i] = targetMac[i];
  }
  put32(b, o + 14, senderIp);
  put32(b, o + 24, targetIp);
  return 28;
}

/** The MAC of peer host `ip` on the fuzz subnet (02:00:c6:12:00:xx). */
export function macOf(ip: number): number[] {
  return [2, 0, 0xc6, 0x12, (ip >>> 8) & 0xff, ip & 0xff];
}
