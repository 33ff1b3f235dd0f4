/**
 * ICMPv6 (RFC 4443): echo both ways; errors consumed — packet too big lowers the path MTU
 * towards the quoted destination (RFC 8201) and every error reaches the transport that sent
 * the quoted datagram; errors generated for the IPv6 layer and the transports under the
 * rules of §2.4 (never about an error, a multicast or unspecified source; rate-limited by a
 * token bucket as Linux's `icmp_msgs_per_sec`/`icmp_msgs_burst`); and the dispatch of
 * Neighbor Discovery and MLD messages.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import { TokenBucket } from "../core/token_bucket.ts";
import type { BufferPool } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import { EchoListeners } from "./echo_listeners.ts";
import { pseudoHeaderSumIp, transportChecksumOk } from "./checksum.ts";
import {
  type IpAddr,
  IpAddressScratch,
  isLinkLocal,
  isMulticast,
  isUnspecified,
} from "./ip_address.ts";
import type { Ipv6ErrorReporter, Ipv6Layer } from "./ipv6.ts";
import {
  IPV6_HEADER_BYTES,
  IPV6_MIN_MTU,
  IPV6_NH_DEST_OPTIONS,
  IPV6_NH_FRAGMENT,
  IPV6_NH_HOP_BY_HOP,
  IPV6_NH_ICMPV6,
  IPV6_NH_ROUTING,
} from "./ipv6_header.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_HEADER_BYTES,
  ICMPV6_MLD_QUERY,
  ICMPV6_MLDV1_DONE,
  ICMPV6_MLDV1_REPORT,
  ICMPV6_MLDV2_REPORT,
  ICMPV6_NEIGHBOR_ADVERT,
  ICMPV6_NEIGHBOR_SOLICIT,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_PARAMPROB_NEXT_HEADER,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERT,
  ICMPV6_ROUTER_SOLICIT,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_UNREACH_ADDRESS,
  Icmpv6Header,
  writeIcmpv6Header,
} from "./icmpv6_header.ts";
import { MLD_QUERY_MIN_BYTES, mldMaxResponseMs, mldQueryGroup } from "./mld_header.ts";
import {
  NET_ERR_HOST_UNREACHABLE,
  NET_ERR_NET_UNREACHABLE,
  NET_ERR_PARAMETER_PROBLEM,
  NET_ERR_PORT_UNREACHABLE,
  NET_ERR_PROHIBITED,
  NET_ERR_PROTOCOL_UNREACHABLE,
  NET_ERR_TIME_EXCEEDED,
  NET_ERR_TOO_BIG,
  NetError,
  type NetProtocolHandler,
  NetRoute,
  type NetRxMeta,
} from "./network_layer.ts";
import type { NdpInput } from "./ndp.ts";

/** Receives IPv6 echo replies for one identifier. */
export interface Echo6ReplyListener {
  /** An echo reply from `src` with sequence `seq`; data `buf[off, off + len)`, valid during the call. */
  onEchoReply(
    src: IpAddr,
    seq: number,
    buf: Uint8Array,
    off: number,
    len: number,
    hopLimit: number,
  ): void;
}

/** Tunables of ICMPv6. */
export interface Icmpv6Options {
  /** Errors allowed per second (token bucket rate) [1000]. */
  errorsPerSecond?: number;
  /** Burst of the bucket [50]. */
  errorBurst?: number;
  /** Most echo identifiers registered at once [1024]. */
  maxEchoListeners?: number;
  /**
   * The token bucket to take from instead of one of its own (the stack shares one between
   * ICMPv6 and ICMP; `errorsPerSecond` and `errorBurst` are then unused).
   */
  limiter?: TokenBucket;
}

/** Most bytes of an error message: it must fit the minimum MTU (RFC 4443 §2.4 (c)). */
const MAX_ERROR_BYTES = IPV6_MIN_MTU - IPV6_HEADER_BYTES;

/**
 * ICMPv6 for one stack.
 *
 * @example
 * ```ts ignore
 * const icmp6 = new Icmpv6Layer(ip6, ndp, pool, clock, stats.icmp6);
 * icmp6.listenEcho(7, { onEchoReply(src, seq) { console.log(`${src}`, seq); } });
 * icmp6.sendEcho(IpAddress.parse("fd00:5::1"), 7, 1, data, 0, 56);
 * ```
 */
export class Icmpv6Layer implements NetProtocolHandler, Ipv6ErrorReporter {
  readonly #ip: Ipv6Layer;
  readonly #ndp: NdpInput;
  readonly #pool: BufferPool;
  readonly #stats: Counters;
  readonly #hdr = new Icmpv6Header();
  readonly #route = new NetRoute();
  readonly #err = new NetError();
  readonly #group = new IpAddressScratch();
  readonly #src = new IpAddressScratch();
  readonly #dst = new IpAddressScratch();
  readonly #listeners: EchoListeners<Echo6ReplyListener>;
  readonly #bucket: TokenBucket;

  /** Attach to `ip` as next header 58 and as its error reporter. */
  constructor(
    ip: Ipv6Layer,
    ndp: NdpInput,
    pool: BufferPool,
    clock: Clock,
    stats: Counters,
    opts: Icmpv6Options = {},
  ) {
    this.#ip = ip;
    this.#ndp = ndp;
    this.#pool = pool;
    this.#stats = stats;
    this.#bucket = opts.limiter ??
      new TokenBucket(clock, opts.errorsPerSecond ?? 1000, opts.errorBurst ?? 50);
    this.#listeners = new EchoListeners(opts.maxEchoListeners ?? 1024);
    this.#err.family = 6;
    ip.registerHandler(IPV6_NH_ICMPV6, this);
    ip.reporter = this;
  }

  /** Deliver echo replies with identifier `id` to `listener`; throws EADDRINUSE if taken. */
  listenEcho(id: number, listener: Echo6ReplyListener): void {
    this.#listeners.listen(id, listener);
  }

  /** Stop delivering replies for `id`. */
  unlistenEcho(id: number): void {
    this.#listeners.unlisten(id);
  }

  /**
   * Send an echo request to `dst` (on NIC `zoneNic` for a link-local one; 0 = the first).
   * Returns an errno name (`ENETUNREACH`, `EMSGSIZE`, `ENOBUFS`) or null when it went out.
   */
  sendEcho(
    dst: IpAddr,
    id: number,
    seq: number,
    data: Uint8Array,
    off: number,
    len: number,
    hopLimit = 0,
    zoneNic = 0,
  ): string | null {
    const r = this.#route;
    if (!this.#ip.routeScoped(dst, zoneNic, r)) return "ENETUNREACH";
    const n = ICMPV6_HEADER_BYTES + len;
    if (n > 65535) return "EMSGSIZE";
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null || pb.tailroom < n) {
      if (pb !== null) this.#pool.free(pb);
      return "ENOBUFS";
    }
    const o = pb.append(n);
    writeIcmpv6Header(pb.data, o, ICMPV6_ECHO_REQUEST, 0, ((id & 0xffff) << 16) | (seq & 0xffff));
    pb.data.set(data.subarray(off, off + len), o + ICMPV6_HEADER_BYTES);
    this.#hdr.attach(pb.data, o, n).fillChecksum(
      pseudoHeaderSumIp(r.source, dst, IPV6_NH_ICMPV6, n),
    );
    this.#stats.OutMsgs++;
    this.#stats.OutEchos++;
    const hl = hopLimit || this.#ip.iface(r.nicIndex).hopLimit;
    this.#ip.send(pb, r, r.source, dst, IPV6_NH_ICMPV6, hl, 0, false, null);
    return null;
  }

  /** Handle a received ICMPv6 message. */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number, rxFlags: number): void {
    const st = this.#stats;
    st.InMsgs++;
    const pseudo = pseudoHeaderSumIp(meta.src, meta.dst, IPV6_NH_ICMPV6, len);
    if (len < 4) {
      st.InErrors++;
      return;
    }
    if (!transportChecksumOk(buf, off, len, 2, pseudo, rxFlags)) {
      st.InCsumErrors++;
      st.InErrors++;
      return;
    }
    const type = buf[off];
    switch (type) {
      case ICMPV6_ECHO_REQUEST:
        st.InEchos++;
        if (len >= ICMPV6_HEADER_BYTES) this.#reply(meta, buf, off, len);
        return;
      case ICMPV6_ECHO_REPLY: {
        st.InEchoReplies++;
        if (len < ICMPV6_HEADER_BYTES) return;
        const h = this.#hdr.attach(buf, off, len);
        const l = this.#listeners.get(h.identifier);
        if (l !== undefined) {
          l.onEchoReply(meta.src, h.sequence, buf, off + 8, len - 8, meta.hopLimit);
        }
        return;
      }
      case ICMPV6_DEST_UNREACHABLE:
        st.InDestUnreachs++;
        this.#consumeError(meta, buf, off, len);
        return;
      case ICMPV6_PACKET_TOO_BIG:
        st.InPktTooBigs++;
        this.#consumeError(meta, buf, off, len);
        return;
      case ICMPV6_TIME_EXCEEDED:
        st.InTimeExcds++;
        this.#consumeError(meta, buf, off, len);
        return;
      case ICMPV6_PARAMETER_PROBLEM:
        st.InParmProblems++;
        this.#consumeError(meta, buf, off, len);
        return;
      case ICMPV6_ROUTER_SOLICIT:
      case ICMPV6_ROUTER_ADVERT:
      case ICMPV6_NEIGHBOR_SOLICIT:
      case ICMPV6_NEIGHBOR_ADVERT:
      case ICMPV6_REDIRECT:
        st[NDP_IN_COUNTERS[type - ICMPV6_ROUTER_SOLICIT]]++;
        this.#ndp.receive(meta, buf, off, len);
        return;
      case ICMPV6_MLD_QUERY:
        st.InGroupMembQueries++;
        this.#mldQuery(meta, buf, off, len);
        return;
      case ICMPV6_MLDV1_REPORT:
        st.InGroupMembResponses++;
        return;
      case ICMPV6_MLDV1_DONE:
        st.InGroupMembReductions++;
        return;
      case ICMPV6_MLDV2_REPORT:
        st.InMLDv2Reports++;
        return;
      default:
        // RFC 4443 §2.4 (a)/(b): unknown informational messages are dropped; unknown errors
        // go up like the known ones.
        if (type < 128) this.#consumeError(meta, buf, off, len);
        else st.InOther++;
    }
  }

  /** Errors about ICMPv6 messages we sent are not reported further. */
  receiveError(): void {}

  /** {@link Ipv6ErrorReporter.sendError}: build and send an error, under RFC 4443 §2.4. */
  sendError(
    type: number,
    code: number,
    param: number,
    buf: Uint8Array,
    off: number,
    len: number,
    nicIndex: number,
    local = false,
  ): void {
    const st = this.#stats;
    const src = this.#src.setFrom6(buf, off + 8);
    const dst = this.#dst.setFrom6(buf, off + 24);
    // (e): never to an address that does not name one node, never about an error message.
    if (isUnspecified(src) || isMulticast(src) || this.#isError(buf, off, len)) return;
    // Linux icmpv6_xrlim_allow: no limit for what stays on this host.
    if (!local && !this.#bucket.take()) {
      st.OutRateLimitHost++;
      return;
    }
    const r = this.#route;
    if (!this.#ip.routeScoped(src, isLinkLocal(src) ? nicIndex : 0, r)) return;
    // Answer from the address the datagram was sent to when it is ours (unicast).
    const from = !isMulticast(dst) && this.#ip.isLocalAddress(dst) ? dst : r.source;
    const quote = Math.min(len, MAX_ERROR_BYTES - ICMPV6_HEADER_BYTES);
    const n = ICMPV6_HEADER_BYTES + quote;
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null) {
      st.OutErrors++;
      return;
    }
    const o = pb.append(n);
    writeIcmpv6Header(pb.data, o, type, code, param);
    pb.data.set(buf.subarray(off, off + quote), o + ICMPV6_HEADER_BYTES);
    this.#hdr.attach(pb.data, o, n).fillChecksum(pseudoHeaderSumIp(from, src, IPV6_NH_ICMPV6, n));
    st.OutMsgs++;
    st[OUT_ERROR_COUNTERS[type] ?? "OutErrors"]++;
    this.#ip.send(pb, r, from, src, IPV6_NH_ICMPV6, this.#ip.defaultHopLimit, 0, false, null);
  }

  /** {@link Ipv6ErrorReporter.localUnreachable}: our datagram's next hop never answered. */
  localUnreachable(buf: Uint8Array, off: number, len: number): void {
    const e = this.#err;
    e.kind = NET_ERR_HOST_UNREACHABLE;
    e.type = ICMPV6_DEST_UNREACHABLE;
    e.code = ICMPV6_UNREACH_ADDRESS;
    e.mtu = 0;
    e.reporter.setFrom6(buf, off + 8);
    this.#deliverQuoted(buf, off, len);
  }

  #isError(buf: Uint8Array, off: number, len: number): boolean {
    const end = off + len;
    let nh = buf[off + 6];
    let at = off + IPV6_HEADER_BYTES;
    while (at + 2 <= end) {
      if (nh === IPV6_NH_ICMPV6) return buf[at] < 128;
      if (nh === IPV6_NH_HOP_BY_HOP || nh === IPV6_NH_DEST_OPTIONS || nh === IPV6_NH_ROUTING) {
        nh = buf[at];
        at += (buf[at + 1] + 1) << 3;
      } else if (nh === IPV6_NH_FRAGMENT) {
        if ((((buf[at + 2] << 8) | buf[at + 3]) & 0xfff8) !== 0) return false;
        nh = buf[at];
        at += 8;
      } else return false;
    }
    return false;
  }

  #consumeError(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    if (len < ICMPV6_HEADER_BYTES + IPV6_HEADER_BYTES) {
      this.#stats.InErrors++;
      return;
    }
    const type = buf[off];
    const code = buf[off + 1];
    const rest = this.#hdr.attach(buf, off, len).rest;
    const e = this.#err;
    e.type = type;
    e.code = code;
    e.mtu = 0;
    e.kind = errorKind(type, code);
    e.reporter.set(meta.src);
    const q = off + ICMPV6_HEADER_BYTES;
    // RFC 8201 §4: the MTU the error allows; the transport that sent the quoted datagram
    // checks it against its state before the path MTU cache is lowered (one below 1280 is
    // discarded there, RFC 8201 §4).
    if (type === ICMPV6_PACKET_TOO_BIG) e.mtu = rest;
    this.#deliverQuoted(buf, q, len - ICMPV6_HEADER_BYTES, meta.nicIndex);
  }

  /**
   * Find the transport header in the quoted datagram `buf[q, q + qlen)` and hand up `#err`.
   * A packet too big about one of our ICMPv6 messages (an echo request) has no connection to
   * be checked against: it lowers the path MTU here.
   */
  #deliverQuoted(buf: Uint8Array, q: number, qlen: number, nicIndex = 0): void {
    if (qlen < IPV6_HEADER_BYTES || buf[q] >>> 4 !== 6) {
      this.#stats.InErrors++;
      return;
    }
    const e = this.#err;
    e.src.setFrom6(buf, q + 8);
    e.dst.setFrom6(buf, q + 24);
    // Only errors about datagrams we sent are believed.
    if (!this.#ip.isLocalAddress(e.src)) return;
    const end = q + qlen;
    let nh = buf[q + 6];
    let at = q + IPV6_HEADER_BYTES;
    for (;;) {
      if (nh === IPV6_NH_HOP_BY_HOP || nh === IPV6_NH_DEST_OPTIONS || nh === IPV6_NH_ROUTING) {
        if (at + 2 > end) return;
        nh = buf[at];
        at += (buf[at + 1] + 1) << 3;
      } else if (nh === IPV6_NH_FRAGMENT) {
        // Only the first fragment carries the transport header.
        if (at + 8 > end || (((buf[at + 2] << 8) | buf[at + 3]) & 0xfff8) !== 0) return;
        nh = buf[at];
        at += 8;
      } else break;
    }
    if (at + 8 > end) return;
    if (nh === IPV6_NH_ICMPV6) {
      const r = this.#route;
      if (e.mtu > 0 && this.#ip.routeScoped(e.dst, nicIndex, r)) {
        this.#ip.pmtu.lower(e.dst, e.mtu, r.linkMtu);
      }
      return;
    }
    const handler = this.#ip.handlerOf(nh);
    if (handler !== null) handler.receiveError(e, buf, at, end - at);
  }

  #mldQuery(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    // RFC 3810 §5.1.14: from a link-local source; at least the MLDv1 layout.
    if (len < MLD_QUERY_MIN_BYTES || !isLinkLocal(meta.src)) {
      this.#stats.InErrors++;
      return;
    }
    const group = mldQueryGroup(buf, off, this.#group);
    if (!isUnspecified(group) && !isMulticast(group)) {
      this.#stats.InErrors++;
      return;
    }
    this.#ip.iface(meta.nicIndex).mld.query(group, mldMaxResponseMs(buf, off, len));
  }

  #reply(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    const r = this.#route;
    if (!this.#ip.routeScoped(meta.src, isLinkLocal(meta.src) ? meta.nicIndex : 0, r)) return;
    // RFC 4443 §4.2: from the address the request went to, unless that was multicast.
    const from = meta.toGroup ? r.source : meta.dst;
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null || pb.tailroom < len) {
      if (pb !== null) this.#pool.free(pb);
      this.#stats.OutErrors++;
      return;
    }
    const o = pb.append(len);
    pb.data.set(buf.subarray(off, off + len), o);
    pb.data[o] = ICMPV6_ECHO_REPLY;
    this.#hdr.attach(pb.data, o, len).fillChecksum(
      pseudoHeaderSumIp(from, meta.src, IPV6_NH_ICMPV6, len),
    );
    this.#stats.OutMsgs++;
    this.#stats.OutEchoReplies++;
    const hl = this.#ip.iface(r.nicIndex).hopLimit;
    this.#ip.send(pb, r, from, meta.src, IPV6_NH_ICMPV6, hl, meta.tos, false, null);
  }
}

/** Input counters of the NDP types 133..137. */
const NDP_IN_COUNTERS = [
  "InRouterSolicits",
  "InRouterAdvertisements",
  "InNeighborSolicits",
  "InNeighborAdvertisements",
  "InRedirects",
];

/** Output counters of the error types 1..4. */
const OUT_ERROR_COUNTERS: Record<number, string> = {
  [ICMPV6_DEST_UNREACHABLE]: "OutDestUnreachs",
  [ICMPV6_PACKET_TOO_BIG]: "OutPktTooBigs",
  [ICMPV6_TIME_EXCEEDED]: "OutTimeExcds",
  [ICMPV6_PARAMETER_PROBLEM]: "OutParmProblems",
};

/** The family-neutral kind of an ICMPv6 error (Linux `icmpv6_err_convert`). */
function errorKind(type: number, code: number): number {
  switch (type) {
    case ICMPV6_DEST_UNREACHABLE:
      if (code === 0) return NET_ERR_NET_UNREACHABLE;
      if (code === 1 || code === 5 || code === 6) return NET_ERR_PROHIBITED;
      if (code === 4) return NET_ERR_PORT_UNREACHABLE;
      return NET_ERR_HOST_UNREACHABLE;
    case ICMPV6_PACKET_TOO_BIG:
      return NET_ERR_TOO_BIG;
    case ICMPV6_TIME_EXCEEDED:
      return NET_ERR_TIME_EXCEEDED;
    case ICMPV6_PARAMETER_PROBLEM:
      return code === ICMPV6_PARAMPROB_NEXT_HEADER
        ? NET_ERR_PROTOCOL_UNREACHABLE
        : NET_ERR_PARAMETER_PROBLEM;
    default:
      return NET_ERR_HOST_UNREACHABLE;
  }
}
