/**
 * IPv4 fragmentation at the source (RFC 791 §3.2): a datagram larger than the path MTU (and
 * allowed to be fragmented) leaves as fragments of (MTU − header) bytes rounded down to a
 * multiple of 8, the last one shorter, each behind a copy of the header with its fragment
 * offset and more-fragments flag.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import type { BufferPool, PacketBuffer } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import { IPV4_HEADER_MIN_BYTES, type Ipv4Repr } from "./ipv4_header.ts";
import type { FragmentOutput } from "./ipv6_fragmenter.ts";

/**
 * Split the payload in `pb` (head = the transport header; `repr` describes the datagram: its
 * addresses, protocol, identification) into fragments fitting `mtu` and hand them to `out`.
 * Frees `pb`. Returns false when the datagram could not be fragmented (counted `FragFails`:
 * no room for 8 bytes in the MTU, too long for the 16-bit total length, or no buffer left —
 * the datagram is lost then, as a lost fragment would lose it).
 *
 * @example
 * ```ts ignore
 * fragmentIpv4(pb, 1500, repr, pool, stats.ip, out);
 * ```
 */
export function fragmentIpv4(
  pb: PacketBuffer,
  mtu: number,
  repr: Ipv4Repr,
  pool: BufferPool,
  stats: Counters,
  out: FragmentOutput,
): boolean {
  const chunk = (mtu - IPV4_HEADER_MIN_BYTES) & ~7;
  const payloadLen = pb.length;
  if (chunk <= 0 || payloadLen > 0xffff - IPV4_HEADER_MIN_BYTES) {
    stats.FragFails++;
    pool.free(pb);
    return false;
  }
  let ok = true;
  for (let at = 0; at < payloadLen; at += chunk) {
    const n = Math.min(chunk, payloadLen - at);
    const frag = pool.allocCopy(pb, at, n, HEADROOM_BYTES);
    if (frag === null) {
      stats.OutNoBuffers++;
      stats.FragFails++;
      ok = false;
      break;
    }
    const o = frag.prepend(IPV4_HEADER_MIN_BYTES);
    repr.totalLength = n + IPV4_HEADER_MIN_BYTES;
    repr.fragmentOffsetBytes = at;
    repr.moreFragments = at + n < payloadLen;
    repr.emit(frag.data, o);
    stats.FragCreates++;
    out.outputFragment(frag);
  }
  pool.free(pb);
  if (ok) stats.FragOKs++;
  return ok;
}
