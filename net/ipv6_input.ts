/**
 * The receive side of IPv6 past the fixed header: the extension header chain in the order
 * RFC 8200 §4.1 allows (hop-by-hop first only), options with their action bits (§4.2),
 * routing headers — type 0 and every other type with segments left refused, since a host
 * never forwards (§4.4, RFC 5095) — fragments handed to reassembly (atomic ones taken whole,
 * RFC 6946), and delivery to the upper-layer protocol, or a parameter problem naming the
 * byte that stopped it.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";
import {
  IPV6_HEADER_BYTES,
  IPV6_MAX_PAYLOAD,
  IPV6_NH_DEST_OPTIONS,
  IPV6_NH_FRAGMENT,
  IPV6_NH_HOP_BY_HOP,
  IPV6_NH_NONE,
  IPV6_NH_ROUTING,
} from "./ipv6_header.ts";
import {
  extHeaderBytes,
  FragmentHeader,
  hasRouterAlert,
  IPV6_FRAGMENT_HEADER_BYTES,
  OPTIONS_OK,
  processOptions,
} from "./ipv6_ext_headers.ts";
import type { Ipv6Reassembler } from "./ipv6_reassembly.ts";
import {
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_PARAMPROB_HEADER,
  ICMPV6_PARAMPROB_NEXT_HEADER,
  ICMPV6_PARAMPROB_OPTION,
} from "./icmpv6_header.ts";
import type { NetProtocolHandler, NetRxMeta } from "./network_layer.ts";

/** Sends ICMPv6 errors for the layer (the ICMPv6 module implements it). */
export interface Ipv6ErrorReporter {
  /**
   * Send an ICMPv6 error `type`/`code` with `param` (pointer or MTU) about the datagram at
   * `buf[off, off + len)` (its IPv6 header first) that arrived on NIC `nicIndex` — or, with
   * `local`, that we were about to send (the error goes to ourselves, not rate-limited).
   */
  sendError(
    type: number,
    code: number,
    param: number,
    buf: Uint8Array,
    off: number,
    len: number,
    nicIndex: number,
    local?: boolean,
  ): void;
  /** A datagram we sent (`buf[off, off + len)`) could not reach its next hop: tell its sender. */
  localUnreachable(buf: Uint8Array, off: number, len: number): void;
}

/** Who sends the parameter problems (the layer, once ICMPv6 registered its reporter). */
export interface Ipv6ReporterHost {
  /** The reporter, or null. */
  readonly reporter: Ipv6ErrorReporter | null;
}

/**
 * The header chain walker of one IPv6 layer.
 *
 * @example
 * ```ts ignore
 * const chain = new Ipv6HeaderChain(handlers, reassembler, stats.ip6, layer);
 * chain.walk(meta, buf, ipOff, ipOff + 40, end, nextHeader, ipOff + 6, rxFlags);
 * ```
 */
export class Ipv6HeaderChain {
  readonly #handlers: readonly (NetProtocolHandler | null)[];
  readonly #reasm: Ipv6Reassembler;
  readonly #stats: Counters;
  readonly #host: Ipv6ReporterHost;
  readonly #frag = new FragmentHeader();

  /** A walker delivering to `handlers` (indexed by next header), reassembling with `reasm`. */
  constructor(
    handlers: readonly (NetProtocolHandler | null)[],
    reasm: Ipv6Reassembler,
    stats: Counters,
    host: Ipv6ReporterHost,
  ) {
    this.#handlers = handlers;
    this.#reasm = reasm;
    this.#stats = stats;
    this.#host = host;
  }

  /**
   * Walk the header chain from `at` (next header `nh`, named by the byte at `nhField`) to the
   * upper-layer protocol and deliver it (RFC 8200 §4.1 order, §4.2–4.5 processing).
   */
  walk(
    meta: NetRxMeta,
    buf: Uint8Array,
    ipOff: number,
    at: number,
    end: number,
    nh: number,
    nhField: number,
    rxFlags: number,
  ): void {
    const st = this.#stats;
    for (;;) {
      switch (nh) {
        case IPV6_NH_HOP_BY_HOP:
        case IPV6_NH_DEST_OPTIONS: {
          if (nh === IPV6_NH_HOP_BY_HOP && at !== ipOff + IPV6_HEADER_BYTES) {
            // RFC 8200 §4.1: hop-by-hop only right after the fixed header.
            st.InHdrErrors++;
            this.#paramProblem(ICMPV6_PARAMPROB_NEXT_HEADER, nhField - ipOff, meta);
            return;
          }
          if (at + 2 > end || at + extHeaderBytes(buf, at) > end) {
            st.InHdrErrors++;
            return;
          }
          const n = extHeaderBytes(buf, at);
          const r = processOptions(buf, at, n, meta.toGroup, nh === IPV6_NH_HOP_BY_HOP);
          if (r !== OPTIONS_OK) {
            // Linux counts unknown and malformed options alike as header errors.
            st.InHdrErrors++;
            if (r >= 0) this.#paramProblem(ICMPV6_PARAMPROB_OPTION, at + r - ipOff, meta);
            return;
          }
          if (nh === IPV6_NH_HOP_BY_HOP) meta.routerAlert = hasRouterAlert(buf, at, n);
          nhField = at;
          nh = buf[at];
          at += n;
          continue;
        }
        case IPV6_NH_ROUTING: {
          if (at + 4 > end || at + extHeaderBytes(buf, at) > end) {
            st.InHdrErrors++;
            return;
          }
          // RFC 8200 §4.4 / RFC 5095: with no segments left the header is ignored; otherwise we
          // would have to forward, which a host never does — type 0 and every other type are
          // refused with a parameter problem pointing at the routing type.
          if (buf[at + 3] !== 0) {
            st.InHdrErrors++;
            this.#paramProblem(ICMPV6_PARAMPROB_HEADER, at + 2 - ipOff, meta);
            return;
          }
          nhField = at;
          nh = buf[at];
          at += extHeaderBytes(buf, at);
          continue;
        }
        case IPV6_NH_FRAGMENT: {
          if (at + IPV6_FRAGMENT_HEADER_BYTES > end) {
            st.InHdrErrors++;
            return;
          }
          const f = this.#frag.attach(buf, at, IPV6_FRAGMENT_HEADER_BYTES);
          st.ReasmReqds++;
          if (f.isAtomic) {
            // RFC 6946: an atomic fragment is a whole datagram; no reassembly state.
            st.ReasmOKs++;
            nhField = at;
            nh = f.nextHeader;
            at += IPV6_FRAGMENT_HEADER_BYTES;
            continue;
          }
          const dataLen = end - at - IPV6_FRAGMENT_HEADER_BYTES;
          // RFC 8200 §4.5: a non-last fragment carries a multiple of 8 bytes, and no fragment
          // reaches past 65535 bytes of fragmentable part.
          if (f.moreFragments && (dataLen & 7) !== 0) {
            st.ReasmFails++;
            this.#paramProblem(ICMPV6_PARAMPROB_HEADER, 4, meta);
            return;
          }
          if (f.offsetBytes + dataLen > IPV6_MAX_PAYLOAD) {
            st.ReasmFails++;
            this.#paramProblem(ICMPV6_PARAMPROB_HEADER, at + 2 - ipOff, meta);
            return;
          }
          const whole = this.#reasm.add(buf, ipOff, at, end, rxFlags);
          if (whole === null) return;
          st.ReasmOKs++;
          meta.buf = whole.buf;
          meta.headerOff = whole.off;
          meta.datagramBytes = whole.len;
          this.walk(
            meta,
            whole.buf,
            whole.off,
            whole.off + whole.unfragBytes,
            whole.off + whole.len,
            whole.nextHeader,
            whole.off + whole.nhFieldRel,
            whole.rxFlags,
          );
          return;
        }
        case IPV6_NH_NONE:
          return; // RFC 8200 §4.7: nothing follows
        default: {
          const handler = this.#handlers[nh];
          if (handler === null) {
            st.InUnknownProtos++;
            this.#paramProblem(ICMPV6_PARAMPROB_NEXT_HEADER, nhField - ipOff, meta);
            return;
          }
          st.InDelivers++;
          meta.payloadOff = at;
          handler.receive(meta, buf, at, end - at, rxFlags);
          return;
        }
      }
    }
  }

  #paramProblem(code: number, pointer: number, meta: NetRxMeta): void {
    // RFC 4443 §2.4 (e): not for a multicast destination, except code 2 with action 10, which
    // processOptions already folded into the pointer it returned.
    // (e.3, e.4): nor for a link-layer multicast or broadcast frame, with the same exception.
    if ((meta.toGroup || meta.linkNotHost) && code !== ICMPV6_PARAMPROB_OPTION) return;
    this.#host.reporter?.sendError(
      ICMPV6_PARAMETER_PROBLEM,
      code,
      pointer,
      meta.buf,
      meta.headerOff,
      meta.datagramBytes,
      meta.nicIndex,
    );
  }
}
