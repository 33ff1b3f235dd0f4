/**
 * The two network layers side by side, chosen by the address a transport sends to: the one
 * place a transport "asks" which family carries a datagram.
 *
 * @module
 */

import type { IpAddr } from "./ip_address.ts";
import type { NetworkLayer } from "./network_layer.ts";

/**
 * IPv4 and IPv6 for the transports.
 *
 * @example
 * ```ts ignore
 * const net = stack.networks.of(dst); // IPv4 for an IPv4(-mapped) address, else IPv6
 * net.route(dst, route);
 * ```
 */
export class IpNetworks {
  /** Both layers. */
  constructor(readonly v4: NetworkLayer, readonly v6: NetworkLayer) {}

  /** The layer that carries datagrams to `a`. */
  of(a: IpAddr): NetworkLayer {
    return a.family === 4 ? this.v4 : this.v6;
  }
}
