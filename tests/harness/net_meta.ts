/**
 * Records that tests hand straight to a transport, as the network layer would: the metadata
 * of a received datagram and an ICMP error about a sent one.
 *
 * @module
 */

import type { IpAddr } from "../../net/ip_address.ts";
import { NetError, NetRxMeta } from "../../net/network_layer.ts";
import type { Stack } from "../../stack/stack.ts";

/** The metadata of a datagram from `src` to `dst` received on NIC 1 of `stack`. */
export function rxMeta(stack: Stack, src: IpAddr, dst: IpAddr, buf?: Uint8Array): NetRxMeta {
  const m = new NetRxMeta();
  m.net = stack.networks.of(dst);
  m.family = dst.family;
  m.src.set(src);
  m.dst.set(dst);
  m.nicIndex = 1;
  m.hopLimit = 64;
  if (buf !== undefined) m.buf = buf;
  return m;
}

/** An error of `kind` (`NET_ERR_*`) about a datagram we sent from `src` to `dst`. */
export function netError(kind: number, src: IpAddr, dst: IpAddr, mtu = 0): NetError {
  const e = new NetError();
  e.family = dst.family;
  e.kind = kind;
  e.mtu = mtu;
  e.src.set(src);
  e.dst.set(dst);
  e.reporter.set(dst);
  return e;
}
