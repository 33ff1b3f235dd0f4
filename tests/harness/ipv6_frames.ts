/**
 * Hand-built IPv6 frames for tests: a fake host or router on the sim wire sends exactly the
 * bytes a test needs (router advertisements, malformed extension headers, fragments, packet
 * too big) and reads what the stack sends back.
 *
 * @module
 */

import { RxBatch } from "../../link/driver.ts";
import type { SimEndpoint } from "../../link/sim_wire.ts";
import { internetChecksum } from "../../net/checksum.ts";
import { pseudoHeaderSumIp } from "../../net/checksum.ts";
import { type IpAddr, IpAddressScratch, writeIp6 } from "../../net/ip_address.ts";
import { multicastMac } from "../../net/ipv6_address.ts";
import { isMulticast } from "../../net/ip_address.ts";

/** Options of {@link ipv6Frame}. */
export interface FrameOptions {
  /** Source MAC. */
  srcMac: Uint8Array;
  /** Destination MAC (default: the multicast mapping of `dst`, else required). */
  dstMac?: Uint8Array;
  /** Source address. */
  src: IpAddr;
  /** Destination address. */
  dst: IpAddr;
  /** Hop limit [64]. */
  hopLimit?: number;
  /** Next header of the fixed header. */
  nextHeader: number;
  /** Everything after the fixed header (extension headers and upper layer). */
  payload: Uint8Array;
  /** Payload length field (default: the payload's length). */
  payloadLength?: number;
}

/** An Ethernet + IPv6 frame. */
export function ipv6Frame(o: FrameOptions): Uint8Array {
  const f = new Uint8Array(14 + 40 + o.payload.length);
  let dstMac = o.dstMac;
  if (dstMac === undefined) {
    if (!isMulticast(o.dst)) throw new Error("ipv6Frame: dstMac needed for unicast");
    dstMac = new Uint8Array(6);
    multicastMac(o.dst, dstMac, 0);
  }
  f.set(dstMac, 0);
  f.set(o.srcMac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  const len = o.payloadLength ?? o.payload.length;
  f[14] = 0x60;
  f[18] = len >>> 8;
  f[19] = len;
  f[20] = o.nextHeader;
  f[21] = o.hopLimit ?? 64;
  writeIp6(f, 22, o.src);
  writeIp6(f, 38, o.dst);
  f.set(o.payload, 54);
  return f;
}

/** An ICMPv6 message (type, code, 4-byte field, body) with its checksum for src → dst. */
export function icmpv6(
  src: IpAddr,
  dst: IpAddr,
  type: number,
  code: number,
  rest: number,
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  m[4] = rest >>> 24;
  m[5] = rest >>> 16;
  m[6] = rest >>> 8;
  m[7] = rest;
  m.set(body, 8);
  const c = internetChecksum(m, 0, m.length, pseudoHeaderSumIp(src, dst, 58, m.length));
  m[2] = c >>> 8;
  m[3] = c;
  return m;
}

/** A UDP datagram with its checksum for src → dst. */
export function udp6(
  src: IpAddr,
  dst: IpAddr,
  sport: number,
  dport: number,
  data: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = sport >>> 8;
  m[1] = sport;
  m[2] = dport >>> 8;
  m[3] = dport;
  m[4] = m.length >>> 8;
  m[5] = m.length;
  m.set(data, 8);
  const c = internetChecksum(m, 0, m.length, pseudoHeaderSumIp(src, dst, 17, m.length)) || 0xffff;
  m[6] = c >>> 8;
  m[7] = c;
  return m;
}

/** Bytes joined. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A router advertisement body (after the 8-byte ICMPv6 header's flags/lifetime word). */
export function raBody(reachableMs: number, retransMs: number, options: Uint8Array[]): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, reachableMs);
  new DataView(b.buffer).setUint32(4, retransMs);
  return concat(b, ...options);
}

/** The 4-byte word of an RA: hop limit, flags, router lifetime (s). */
export function raWord(hopLimit: number, routerLifetimeS: number): number {
  return ((hopLimit << 24) | routerLifetimeS) >>> 0;
}

/** A prefix information option. */
export function prefixOption(
  prefix: IpAddr,
  len: number,
  flags: number,
  validS: number,
  preferredS: number,
): Uint8Array {
  const o = new Uint8Array(32);
  const v = new DataView(o.buffer);
  o[0] = 3;
  o[1] = 4;
  o[2] = len;
  o[3] = flags;
  v.setUint32(4, validS);
  v.setUint32(8, preferredS);
  writeIp6(o, 16, prefix);
  return o;
}

/** A source (1) or target (2) link-layer address option. */
export function llOption(type: number, mac: Uint8Array): Uint8Array {
  const o = new Uint8Array(8);
  o[0] = type;
  o[1] = 1;
  o.set(mac, 2);
  return o;
}

/** An MTU option. */
export function mtuOption(mtu: number): Uint8Array {
  const o = new Uint8Array(8);
  o[0] = 5;
  o[1] = 1;
  new DataView(o.buffer).setUint32(4, mtu);
  return o;
}

/** A received IPv6 frame, decoded enough for assertions. */
export interface SeenFrame {
  /** Whole frame. */
  bytes: Uint8Array;
  /** Next header of the fixed header. */
  nextHeader: number;
  /** Hop limit. */
  hopLimit: number;
  /** Source. */
  src: string;
  /** Destination. */
  dst: string;
  /** The byte after the fixed header. */
  payload: Uint8Array;
}

/** Send `frame` from `ep` now. */
export function inject(ep: SimEndpoint, frame: Uint8Array): void {
  ep.transmit(frame, 0, frame.length, null);
  ep.flush();
}

/** Drain every IPv6 frame `ep` has received. */
export function drain(ep: SimEndpoint): SeenFrame[] {
  const batch = new RxBatch(64);
  const out: SeenFrame[] = [];
  const s = new IpAddressScratch();
  for (;;) {
    const n = ep.receive(batch, batch.capacity);
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      const f = batch.buf[i].slice(batch.off[i], batch.off[i] + batch.len[i]);
      if (f[12] !== 0x86 || f[13] !== 0xdd) continue;
      out.push({
        bytes: f,
        nextHeader: f[20],
        hopLimit: f[21],
        src: s.setFrom6(f, 22).toString(),
        dst: s.setFrom6(f, 38).toString(),
        payload: f.subarray(54),
      });
    }
    ep.release(batch);
  }
  return out;
}
