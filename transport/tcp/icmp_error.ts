/**
 * ICMP and ICMPv6 errors about a connection's segments (RFC 1122 §4.2.3.9, RFC 5927, Linux
 * `tcp_v4_err`/`tcp_v6_err` semantics), as the network layer hands them up, family-neutral:
 * "too big" (fragmentation needed, packet too big) lowers the MSS to what the path carries
 * and resends; unreachables abort a connection still in the handshake and are kept as a soft
 * error otherwise (reported instead of ETIMEDOUT if the connection later times out).
 *
 * @module
 */

import type { ErrnoCode } from "../../core/errors.ts";
import {
  errnoOfNetError,
  NET_ERR_PARAMETER_PROBLEM,
  NET_ERR_TIME_EXCEEDED,
  NET_ERR_TOO_BIG,
  type NetError,
} from "../../net/network_layer.ts";
import type { TcpEndpoint } from "./endpoint.ts";
import { TcpState } from "./state.ts";

/** Act on an error already matched to `ep` (the quoted sequence number is in flight). */
export function handleIcmpError(ep: TcpEndpoint, err: NetError): void {
  const kind = err.kind;
  if (kind === NET_ERR_TOO_BIG) {
    // RFC 1191 §6.1 / RFC 8201 §4: the path MTU cache goes down (IPv4 not below its floor,
    // IPv6 not below 1280) for every connection to the peer; this one resends what no longer
    // fits at once (Linux tcp_v4_mtu_reduced, tcp_simple_retransmit).
    if (err.mtu <= 0) return;
    const route = ep.route;
    route.net!.lowerPathMtu(ep.remoteAddr, err.mtu, route.linkMtu);
    ep.snd.pathMtuChanged();
    return;
  }
  if (kind === NET_ERR_PARAMETER_PROBLEM) return;
  const e: ErrnoCode = kind === NET_ERR_TIME_EXCEEDED ? "EHOSTUNREACH" : errnoOfNetError(kind);
  if (ep.state === TcpState.SYN_SENT || ep.state === TcpState.SYN_RECEIVED) {
    if (ep.activeOpen) {
      ep.layer.stats.AttemptFails++;
      ep.fail(e);
    } else {
      ep.destroy();
    }
    return;
  }
  ep.softError = e;
}
