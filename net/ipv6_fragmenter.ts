/**
 * Fragmentation at the source (RFC 8200 §4.5): a datagram larger than the path MTU leaves as
 * fragments, each the fixed header (the whole unfragmentable part: the stack sends no
 * extension headers with transport data), a fragment header and a slice of the payload — a
 * multiple of 8 bytes except in the last one.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import { IPV6_FRAGMENT_HEADER_BYTES, writeFragmentHeader } from "./ipv6_ext_headers.ts";
import { IPV6_HEADER_BYTES, IPV6_NH_FRAGMENT, type Ipv6Repr } from "./ipv6_header.ts";

/** Where the fragments go (the layer's neighbour output for one next hop). */
export interface FragmentOutput {
  /** Send one fragment (headers complete); takes ownership of `pb`. */
  outputFragment(pb: PacketBuffer): boolean;
}

/**
 * Split the payload in `pb` (head = the upper-layer header; `repr` describes the datagram,
 * its `nextHeader` the upper-layer protocol) into fragments fitting `mtu`, with
 * identification `id`, and hand them to `out`. Frees `pb`. Returns false when a fragment
 * could not be made (counted `FragFails`; the datagram is lost, as a lost fragment would
 * lose it).
 *
 * @example
 * ```ts ignore
 * fragmentIpv6(pb, 1500, repr, nextId(), pool, stats.ip6, out);
 * ```
 */
export function fragmentIpv6(
  pb: PacketBuffer,
  mtu: number,
  repr: Ipv6Repr,
  id: number,
  pool: BufferPool,
  stats: Counters,
  out: FragmentOutput,
): boolean {
  const chunk = (mtu - IPV6_HEADER_BYTES - IPV6_FRAGMENT_HEADER_BYTES) & ~7;
  const payloadLen = pb.length;
  const upper = repr.nextHeader;
  if (chunk <= 0) {
    stats.FragFails++;
    pool.free(pb);
    return false;
  }
  repr.nextHeader = IPV6_NH_FRAGMENT;
  let ok = true;
  for (let at = 0; at < payloadLen; at += chunk) {
    const n = Math.min(chunk, payloadLen - at);
    const frag = pool.allocCopy(pb, at, n, HEADROOM_BYTES);
    if (frag === null) {
      stats.OutNoBuffers++;
      ok = false;
      break;
    }
    const fo = frag.prepend(IPV6_FRAGMENT_HEADER_BYTES);
    writeFragmentHeader(frag.data, fo, upper, at, at + n < payloadLen, id);
    const o = frag.prepend(IPV6_HEADER_BYTES);
    repr.payloadLength = IPV6_FRAGMENT_HEADER_BYTES + n;
    repr.emit(frag.data, o);
    stats.FragCreates++;
    out.outputFragment(frag);
  }
  repr.nextHeader = upper;
  pool.free(pb);
  if (ok) stats.FragOKs++;
  else stats.FragFails++;
  return ok;
}
