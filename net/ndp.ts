/**
 * Neighbor Discovery input (RFC 4861): validation of every NDP message (§6.1.2, §7.1.1,
 * §7.1.2, §8.1 — hop limit 255 first of all, so nothing forwarded is believed), then
 * neighbour solicitations answered and learned from (§7.2.3–4), advertisements applied to the
 * neighbour cache (§7.2.5), DAD conflicts detected (RFC 4862 §5.4.3–4), router
 * advertisements handed to router discovery. Router solicitations (for routers) and redirects
 * are counted and safely ignored: a host that ignores redirects keeps using its default
 * router, which still forwards.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import { IpAddressScratch, isLinkLocal, isMulticast, isUnspecified } from "./ip_address.ts";
import { isSolicitedNodeOf } from "./ipv6_address.ts";
import type { Ipv6Layer } from "./ipv6.ts";
import { NDP_HOP_LIMIT, NDP_OPT_NONCE } from "./ipv6_interface.ts";
import {
  ICMPV6_NEIGHBOR_ADVERT,
  ICMPV6_NEIGHBOR_SOLICIT,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERT,
  ICMPV6_ROUTER_SOLICIT,
} from "./icmpv6_header.ts";
import {
  findNdpOption,
  NA_FLAG_OVERRIDE,
  NA_FLAG_ROUTER,
  NA_FLAG_SOLICITED,
  NDP_NA_BYTES,
  NDP_NS_BYTES,
  NDP_OPT_SOURCE_LL,
  NDP_OPT_TARGET_LL,
  NDP_RA_BYTES,
  NDP_REDIRECT_BYTES,
  NDP_RS_BYTES,
  NDP_TARGET_OFFSET,
  ndpOptionsValid,
} from "./ndp_header.ts";
import type { NetRxMeta } from "./network_layer.ts";
import type { RouterDiscovery } from "./router_discovery.ts";

/** Bytes before the options, per NDP type (133..137). */
const FIXED_BYTES = [NDP_RS_BYTES, NDP_RA_BYTES, NDP_NS_BYTES, NDP_NA_BYTES, NDP_REDIRECT_BYTES];

/**
 * NDP message handling for an IPv6 layer.
 *
 * @example
 * ```ts ignore
 * const ndp = new NdpInput(ip6, routerDiscovery, stats.ndp);
 * ndp.receive(meta, buf, off, len); // called by ICMPv6 for types 133..137
 * ```
 */
export class NdpInput {
  readonly #ip: Ipv6Layer;
  readonly #rd: RouterDiscovery;
  readonly #stats: Counters;
  readonly #target = new IpAddressScratch();

  /** NDP input for `ip`; advertisements go to `rd`. */
  constructor(ip: Ipv6Layer, rd: RouterDiscovery, stats: Counters) {
    this.#ip = ip;
    this.#rd = rd;
    this.#stats = stats;
  }

  /** Handle the NDP message (ICMPv6 type 133..137, checksum verified) at `buf[off, off + len)`. */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    const st = this.#stats;
    const type = buf[off];
    // §6.1.1–§8.1: hop limit 255 (not forwarded), code 0, the fixed part present.
    if (meta.hopLimit !== NDP_HOP_LIMIT) {
      st.InBadHopLimit++;
      return;
    }
    const fixed = FIXED_BYTES[type - ICMPV6_ROUTER_SOLICIT];
    if (buf[off + 1] !== 0 || len < fixed || !ndpOptionsValid(buf, off + fixed, len - fixed)) {
      st.InInvalid++;
      return;
    }
    let iface;
    try {
      iface = this.#ip.iface(meta.nicIndex);
    } catch {
      st.InInvalid++;
      return;
    }
    switch (type) {
      case ICMPV6_NEIGHBOR_SOLICIT:
        this.#solicit(meta, buf, off, len);
        return;
      case ICMPV6_NEIGHBOR_ADVERT:
        this.#advert(meta, buf, off, len);
        return;
      case ICMPV6_ROUTER_ADVERT:
        // §6.1.2: from a link-local address.
        if (!isLinkLocal(meta.src)) {
          st.InInvalid++;
          return;
        }
        this.#rd.receive(iface, meta.src, buf, off, len);
        return;
      case ICMPV6_ROUTER_SOLICIT:
        st.RsIgnored++; // hosts do not answer solicitations (§6.2.6 is for routers)
        return;
      case ICMPV6_REDIRECT:
        // §8.1 validity would need the source to be our first-hop router; ignoring is safe.
        st.RedirectsIgnored++;
        return;
    }
  }

  #solicit(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    const st = this.#stats;
    const target = this.#target.setFrom6(buf, off + NDP_TARGET_OFFSET);
    const optOff = off + NDP_NS_BYTES;
    const optLen = len - NDP_NS_BYTES;
    const sll = findNdpOption(buf, optOff, optLen, NDP_OPT_SOURCE_LL, 8);
    const fromDad = isUnspecified(meta.src);
    // §7.1.1: no multicast target; from :: only to a solicited-node group and without SLLA.
    if (
      isMulticast(target) ||
      (fromDad && (sll >= 0 || !isSolicitedNodeOf(meta.dst, target.w3)))
    ) {
      st.InInvalid++;
      return;
    }
    const iface = this.#ip.iface(meta.nicIndex);
    const mine = iface.addresses.find(target);
    if (mine === undefined) {
      st.NsNotForUs++;
      return;
    }
    if (mine.state === "tentative") {
      // RFC 4862 §5.4.3: a probe from :: for our tentative address is another node's DAD.
      if (fromDad) {
        const nonce = findNdpOption(buf, optOff, optLen, NDP_OPT_NONCE, 8);
        iface.addresses.dadConflict(target, nonce < 0 ? null : buf, nonce + 2);
      }
      return;
    }
    if (!mine.usable) return;
    if (fromDad) {
      // §7.2.4: someone probing an address we use: answer all nodes, unsolicited.
      iface.sendNeighborAdvert(mine.addr, null, null, 0);
      return;
    }
    if (sll >= 0) iface.neighbours.learn(meta.src, buf, sll + 2, true, null);
    iface.sendNeighborAdvert(mine.addr, meta.src, sll >= 0 ? buf : null, sll + 2);
  }

  #advert(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    const st = this.#stats;
    const flags = ((buf[off + 4] << 24) | (buf[off + 5] << 16)) >>> 0;
    const solicited = (flags & NA_FLAG_SOLICITED) !== 0;
    const target = this.#target.setFrom6(buf, off + NDP_TARGET_OFFSET);
    // §7.1.2: no multicast target; S clear when sent to a multicast address.
    if (isMulticast(target) || (solicited && isMulticast(meta.dst))) {
      st.InInvalid++;
      return;
    }
    const iface = this.#ip.iface(meta.nicIndex);
    const mine = iface.addresses.find(target);
    if (mine !== undefined) {
      // RFC 4862 §5.4.4: an advertisement for our tentative address means it is taken.
      if (mine.state === "tentative") iface.addresses.dadConflict(target, null);
      else st.AddressConflicts++;
      return;
    }
    const tll = findNdpOption(buf, off + NDP_NA_BYTES, len - NDP_NA_BYTES, NDP_OPT_TARGET_LL, 8);
    const router = (flags & NA_FLAG_ROUTER) !== 0;
    const wasRouter = iface.neighbours.isRouter(target);
    const known = iface.neighbours.advertised(
      target,
      buf,
      tll < 0 ? -1 : tll + 2,
      solicited,
      (flags & NA_FLAG_OVERRIDE) !== 0,
      router,
    );
    if (!known) {
      st.NaUnsolicited++;
      return;
    }
    // §7.2.5: a router that stops being one leaves the default router list.
    if (wasRouter && !router) this.#ip.routes.addRouter(target, iface.index, "ra", 0);
  }
}
