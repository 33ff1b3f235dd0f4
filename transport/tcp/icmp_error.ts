/**
 * ICMP errors about a connection's segments (RFC 1122 §4.2.3.9, RFC 5927, Linux
 * `tcp_v4_err` semantics): "fragmentation needed" lowers the MSS and resends; unreachables
 * abort a connection still in the handshake and are kept as a soft error otherwise (reported
 * instead of ETIMEDOUT if the connection later times out).
 *
 * @module
 */

import type { ErrnoCode } from "../../core/errors.ts";
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_UNREACH_FRAG_NEEDED,
  ICMPV4_UNREACH_NET,
  ICMPV4_UNREACH_PORT,
  ICMPV4_UNREACH_PROTOCOL,
} from "../../net/icmpv4_header.ts";
import type { TcpEndpoint } from "./endpoint.ts";
import { pathMtuMss } from "./mss.ts";
import { TcpState } from "./state.ts";

/** errno of a destination-unreachable code (Linux `icmp_err_convert`). */
function unreachErrno(code: number): ErrnoCode {
  switch (code) {
    case ICMPV4_UNREACH_NET:
      return "ENETUNREACH";
    case ICMPV4_UNREACH_PROTOCOL:
      return "ENOPROTOOPT";
    case ICMPV4_UNREACH_PORT:
      return "ECONNREFUSED";
    default:
      return "EHOSTUNREACH";
  }
}

/** Act on an ICMP error already matched to `ep` (the quoted sequence number is in flight). */
export function handleIcmpError(ep: TcpEndpoint, type: number, code: number, mtu: number): void {
  if (type === ICMPV4_DEST_UNREACHABLE && code === ICMPV4_UNREACH_FRAG_NEEDED) {
    if (mtu <= 0) return;
    ep.snd.lowerMss(pathMtuMss(mtu, ep.tsOk));
    return;
  }
  if (type !== ICMPV4_DEST_UNREACHABLE && type !== ICMPV4_TIME_EXCEEDED) return;
  const err: ErrnoCode = type === ICMPV4_TIME_EXCEEDED ? "EHOSTUNREACH" : unreachErrno(code);
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
