/**
 * ICMP errors about a connection's segments (RFC 1122 §4.2.3.9, RFC 5927, Linux
 * `tcp_v4_err` semantics): "fragmentation needed" lowers the MSS and resends; unreachables
 * abort a connection still in the handshake and are kept as a soft error otherwise (reported
 * instead of ETIMEDOUT if the connection later times out).
 *
 * @module
 */

import type { ErrnoCode } from "../../core/errors.ts";
import type { TcpEndpoint } from "./endpoint.ts";
import { TCP_IPV4_OVERHEAD_BYTES, TIMESTAMP_OPTION_BYTES } from "./endpoint.ts";
import { retransmitFirst } from "./output.ts";
import { TcpState } from "./state.ts";

/** ICMP type: destination unreachable. */
const ICMP_DEST_UNREACHABLE = 3;
/** ICMP type: time exceeded. */
const ICMP_TIME_EXCEEDED = 11;
/** Code of "fragmentation needed and DF set" (RFC 1191). */
const CODE_FRAG_NEEDED = 4;
/** Smallest MSS we go down to (RFC 1191 / Linux tcp_min_snd_mss is 48; 536 − 40 floor here). */
const MIN_MSS = 88;

/** errno of a destination-unreachable code (Linux `icmp_err_convert`). */
function unreachErrno(code: number): ErrnoCode {
  switch (code) {
    case 0:
      return "ENETUNREACH";
    case 2:
      return "ENOPROTOOPT"; // protocol unreachable (Linux icmp_err_convert)
    case 3:
      return "ECONNREFUSED";
    default:
      return "EHOSTUNREACH";
  }
}

/** Act on an ICMP error already matched to `ep` (the quoted sequence number is in flight). */
export function handleIcmpError(ep: TcpEndpoint, type: number, code: number, mtu: number): void {
  if (type === ICMP_DEST_UNREACHABLE && code === CODE_FRAG_NEEDED) {
    if (mtu <= 0) return;
    let mss = mtu - TCP_IPV4_OVERHEAD_BYTES - (ep.tsOk ? TIMESTAMP_OPTION_BYTES : 0);
    if (mss < MIN_MSS) mss = MIN_MSS;
    if (mss >= ep.mss) return;
    ep.mss = mss;
    if (ep.state >= TcpState.ESTABLISHED) {
      ep.cc.setMss(mss);
      // Linux tcp_simple_retransmit: what was sent too big is resent now.
      retransmitFirst(ep);
    }
    return;
  }
  if (type !== ICMP_DEST_UNREACHABLE && type !== ICMP_TIME_EXCEEDED) return;
  const err: ErrnoCode = type === ICMP_TIME_EXCEEDED ? "EHOSTUNREACH" : unreachErrno(code);
  if (ep.state === TcpState.SYN_SENT || ep.state === TcpState.SYN_RECEIVED) {
    if (ep.activeOpen) {
      ep.layer.stats.AttemptFails++;
      ep.fail(err);
    } else {
      ep.destroy();
    }
    return;
  }
  ep.softError = err;
}
