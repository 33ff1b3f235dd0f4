/**
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2): echo server and client; errors consumed — each reaches
 * the transport that sent the quoted datagram, a fragmentation needed with the MTU it allows
 * (the router's next-hop MTU, or the RFC 1191 §5 plateau estimate) for the transport to
 * believe or not (RFC 5927) before the path MTU cache is lowered; and errors generated for the
 * IPv4 layer and the transports — port and protocol unreachable, reassembly time exceeded,
 * parameter problem, and the fragmentation needed a DF datagram too big for its path earns
 * us locally — under RFC 1122 §3.2.2 and RFC 1812 §4.3.2.7: never about an ICMP error, a
 * datagram to a broadcast or multicast address (IP or link layer) or from one that does not
 * name a single host, or a fragment other than the first, and rate-limited by a token bucket (Linux
 * `icmp_msgs_per_sec`/`icmp_msgs_burst`) the stack shares with ICMPv6.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import { TokenBucket } from "../core/token_bucket.ts";
import type { BufferPool } from "../core/packet_buffer.ts";
import { HEADROOM_BYTES } from "../core/packet_buffer.ts";
import type { Counters } from "../core/counters.ts";
import { EchoListeners } from "./echo_listeners.ts";
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_HEADER_BYTES,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_PARAMPROB_POINTER,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_TIME_EXCEEDED_REASSEMBLY,
  ICMPV4_UNREACH_ADMIN_PROHIBITED,
  ICMPV4_UNREACH_FRAG_NEEDED,
  ICMPV4_UNREACH_NET,
  ICMPV4_UNREACH_PORT,
  ICMPV4_UNREACH_PROTOCOL,
  Icmpv4Header,
  writeIcmpv4Header,
} from "./icmpv4_header.ts";
import { isIpv4LimitedBroadcast, isIpv4Martian, isIpv4Multicast } from "./ipv4_address.ts";
import type { Ipv4ErrorReporter, Ipv4Layer } from "./ipv4.ts";
import { IP_PROTO_ICMP, IPV4_HEADER_MIN_BYTES, Ipv4Header } from "./ipv4_header.ts";
import { RouteResult } from "./route_table.ts";
import { IpAddressScratch } from "./ip_address.ts";
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
  type NetRxMeta,
} from "./network_layer.ts";

/** Receives echo replies for one identifier. */
export interface EchoReplyListener {
  /**
   * An echo reply arrived from `src` with sequence `seq`; its data is `buf[off..off+len)`,
   * valid only during the call.
   */
  onEchoReply(
    src: number,
    seq: number,
    buf: Uint8Array,
    off: number,
    len: number,
    ttl: number,
  ): void;
}

/** Tunables of ICMP. */
export interface IcmpOptions {
  /** Error messages allowed per second, as a token bucket (Linux icmp_msgs_per_sec) [1000]. */
  errorsPerSecond?: number;
  /** Burst of the token bucket (Linux icmp_msgs_burst) [50]. */
  errorBurst?: number;
  /** Answer echo requests sent to broadcast addresses (Linux: ignored by default) [false]. */
  answerBroadcastEcho?: boolean;
  /** Most echo identifiers registered at once [1024]. */
  maxEchoListeners?: number;
  /**
   * The token bucket to take from instead of one of its own (the stack shares one between
   * ICMP and ICMPv6; `errorsPerSecond` and `errorBurst` are then unused).
   */
  limiter?: TokenBucket;
}

/**
 * ICMPv4 for one stack.
 *
 * @example
 * ```ts ignore
 * const icmp = new Icmpv4Layer(ipv4, pool, clock, stats.icmp);
 * icmp.listenEcho(0x1234, { onEchoReply(src, seq) { console.log(seq); } });
 * icmp.sendEcho(dst, 0x1234, 1, data, 0, 56);
 * ```
 */
export class Icmpv4Layer implements NetProtocolHandler, Ipv4ErrorReporter {
  readonly #ip: Ipv4Layer;
  readonly #pool: BufferPool;
  readonly #stats: Counters;
  readonly #hdr = new Icmpv4Header();
  readonly #txHdr = new Icmpv4Header();
  readonly #quoted = new Ipv4Header();
  readonly #route = new RouteResult();
  readonly #err = new NetError();
  readonly #quotedDst = new IpAddressScratch();
  /** An echo request's addresses, handed to `Ipv4Layer.sendAddr` as records. */
  readonly #echoSrc = new IpAddressScratch();
  readonly #echoDst = new IpAddressScratch();
  readonly #listeners: EchoListeners<EchoReplyListener>;
  readonly #bucket: TokenBucket;
  readonly #answerBroadcast: boolean;

  /** Attach to `ip` as protocol 1. */
  constructor(
    ip: Ipv4Layer,
    pool: BufferPool,
    clock: Clock,
    stats: Counters,
    opts: IcmpOptions = {},
  ) {
    this.#ip = ip;
    this.#pool = pool;
    this.#stats = stats;
    this.#bucket = opts.limiter ??
      new TokenBucket(clock, opts.errorsPerSecond ?? 1000, opts.errorBurst ?? 50);
    this.#answerBroadcast = opts.answerBroadcastEcho ?? false;
    this.#listeners = new EchoListeners(opts.maxEchoListeners ?? 1024);
    ip.registerProtocol(IP_PROTO_ICMP, this);
    ip.reporter = this;
  }

  /** Deliver echo replies with identifier `id` to `listener`; throws EADDRINUSE if taken. */
  listenEcho(id: number, listener: EchoReplyListener): void {
    this.#listeners.listen(id, listener);
  }

  /** Stop delivering replies for `id`. */
  unlistenEcho(id: number): void {
    this.#listeners.unlisten(id);
  }

  /**
   * Send an echo request to `dst` with `data[off..off+len)` as payload. Returns an errno name
   * (`ENETUNREACH`, `ENOBUFS`, `EMSGSIZE`) or null when it went out.
   */
  sendEcho(
    dst: number,
    id: number,
    seq: number,
    data: Uint8Array,
    off: number,
    len: number,
    ttl = 0,
  ): string | null {
    const r = this.#route;
    if (!this.#ip.route(dst, r)) return "ENETUNREACH";
    if (len + 8 > 65535 - 20) return "EMSGSIZE";
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null || pb.tailroom < len + 8) {
      if (pb !== null) this.#pool.free(pb);
      return "ENOBUFS";
    }
    const o = pb.append(ICMPV4_HEADER_BYTES + len);
    const b = pb.data;
    writeIcmpv4Header(b, o, ICMPV4_ECHO_REQUEST, 0, ((id & 0xffff) << 16) | (seq & 0xffff));
    b.set(data.subarray(off, off + len), o + ICMPV4_HEADER_BYTES);
    this.#txHdr.attach(b, o, ICMPV4_HEADER_BYTES + len).fillChecksum();
    this.#stats.OutMsgs++;
    this.#stats.OutEchos++;
    // The addresses as records: a u32 ≥ 64.0.0.0 passed as a number to a call V8 does not
    // inline is a new heap number (bench/README.md, "route9w", "heap13r").
    const s = this.#echoSrc.setV4(r.source);
    const d = this.#echoDst.setV4(dst);
    this.#ip.sendAddr(pb, r, s, d, IP_PROTO_ICMP, ttl || this.#ip.defaultTtl, 0, false, null);
    return null;
  }

  /** Handle a received ICMP message. */
  receive(meta: NetRxMeta, buf: Uint8Array, off: number, len: number, _rxFlags: number): void {
    const st = this.#stats;
    st.InMsgs++;
    const h = this.#hdr.attach(buf, off, len);
    const bad = h.check();
    if (bad !== null) {
      if (bad === "InCsumErrors") st.InCsumErrors++;
      st.InErrors++;
      return;
    }
    const type = h.type;
    switch (type) {
      case ICMPV4_ECHO_REQUEST:
        st.InEchos++;
        if (meta.toGroup && !this.#answerBroadcast) return;
        this.#reply(meta, buf, off, len);
        return;
      case ICMPV4_ECHO_REPLY: {
        st.InEchoReps++;
        const l = this.#listeners.get(h.identifier);
        if (l !== undefined) {
          l.onEchoReply(meta.src.w3, h.sequence, buf, off + 8, len - 8, meta.hopLimit);
        }
        return;
      }
      case ICMPV4_DEST_UNREACHABLE:
      case ICMPV4_TIME_EXCEEDED:
      case ICMPV4_PARAMETER_PROBLEM:
        if (type === ICMPV4_DEST_UNREACHABLE) {
          st.InDestUnreachs++;
          if (h.code === ICMPV4_UNREACH_FRAG_NEEDED) st.InFragNeeded++;
        } else if (type === ICMPV4_TIME_EXCEEDED) st.InTimeExcds++;
        else st.InParmProbs++;
        this.#deliverError(type, h.code, meta.src.w3, buf, off, len);
        return;
      default:
        st.InOther++;
    }
  }

  /** ICMP errors about ICMP are not reported further (RFC 1122 §3.2.2). */
  receiveError(): void {}

  /**
   * Send a destination-unreachable `code` about the received datagram whose IP header starts at
   * `meta.headerOff` in `meta.buf`, quoting its header and first 8 payload bytes (RFC 792).
   * Suppressed, per RFC 1122 §3.2.2, for group destinations, non-initial fragments, martian or
   * broadcast sources, and ICMP errors; rate-limited by a token bucket.
   */
  sendDestUnreachable(meta: NetRxMeta, code: number, mtu = 0): void {
    if (this.#sendError(ICMPV4_DEST_UNREACHABLE, code, meta, mtu)) this.#stats.OutDestUnreachs++;
  }

  /**
   * Send a time-exceeded `code` (1: fragment reassembly time exceeded, RFC 1122 §3.3.2) about
   * the datagram described by `meta`, with the same suppression rules and rate limit.
   */
  sendTimeExceeded(meta: NetRxMeta, code: number): void {
    if (this.#sendError(ICMPV4_TIME_EXCEEDED, code, meta, 0)) this.#stats.OutTimeExcds++;
  }

  /**
   * Send a parameter problem (code 0) pointing at byte `pointer` of the datagram's header
   * (RFC 792), under the same rules.
   */
  sendParameterProblem(meta: NetRxMeta, pointer: number): void {
    const rest = (pointer & 0xff) << 24;
    if (this.#sendError(ICMPV4_PARAMETER_PROBLEM, ICMPV4_PARAMPROB_POINTER, meta, rest)) {
      this.#stats.OutParmProbs++;
    }
  }

  /** {@link Ipv4ErrorReporter.protocolUnreachable}: destination unreachable, code 2. */
  protocolUnreachable(meta: NetRxMeta): void {
    this.sendDestUnreachable(meta, ICMPV4_UNREACH_PROTOCOL);
  }

  /** {@link Ipv4ErrorReporter.parameterProblem}. */
  parameterProblem(meta: NetRxMeta, pointer: number): void {
    this.sendParameterProblem(meta, pointer);
  }

  /** {@link Ipv4ErrorReporter.reassemblyTimeout}: time exceeded, code 1. */
  reassemblyTimeout(meta: NetRxMeta): void {
    this.sendTimeExceeded(meta, ICMPV4_TIME_EXCEEDED_REASSEMBLY);
  }

  /**
   * {@link Ipv4ErrorReporter.fragmentationNeeded}: a fragmentation needed to ourselves,
   * delivered at the next tick through the local path like any other (Linux sends itself one
   * from `ip_fragment`; it is not rate-limited on loopback, nor here).
   */
  fragmentationNeeded(meta: NetRxMeta, mtu: number): void {
    if (this.#sendError(ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_FRAG_NEEDED, meta, mtu, true)) {
      this.#stats.OutDestUnreachs++;
    }
  }

  #sendError(type: number, code: number, meta: NetRxMeta, rest: number, local = false): boolean {
    const buf = meta.buf;
    const ipOff = meta.headerOff;
    const headerBytes = meta.payloadOff - ipOff;
    // Nor for a datagram that came in a link-layer broadcast or multicast frame.
    if (meta.toGroup || meta.linkNotHost) return false;
    const src = meta.src.w3;
    if (
      isIpv4Martian(src) || isIpv4Multicast(src) || isIpv4LimitedBroadcast(src) ||
      this.#isDirectedBroadcast(src)
    ) return false;
    const ip = this.#quoted.attach(buf, ipOff, headerBytes);
    if (ip.fragmentOffset !== 0) return false;
    const total = ip.totalLength;
    if (ip.protocol === IP_PROTO_ICMP) {
      const t = buf[ipOff + headerBytes];
      if (t !== ICMPV4_ECHO_REQUEST && t !== ICMPV4_ECHO_REPLY) return false;
    }
    if (!local && !this.#bucket.take()) {
      this.#stats.OutRateLimited++;
      return false;
    }
    const r = this.#route;
    if (!this.#ip.routeAddr(meta.src, r)) return false;
    const quote = Math.min(total, headerBytes + 8);
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null) {
      this.#stats.OutErrors++;
      return false;
    }
    const o = pb.append(ICMPV4_HEADER_BYTES + quote);
    const b = pb.data;
    // The rest-of-header word: the next-hop MTU (fragmentation needed) or the pointer.
    writeIcmpv4Header(b, o, type, code, type === ICMPV4_PARAMETER_PROBLEM ? rest : rest & 0xffff);
    b.set(buf.subarray(ipOff, ipOff + quote), o + ICMPV4_HEADER_BYTES);
    this.#txHdr.attach(b, o, ICMPV4_HEADER_BYTES + quote).fillChecksum();
    this.#stats.OutMsgs++;
    // From the address the datagram was sent to; a local report from ourselves.
    const from = local ? meta.src : meta.dst;
    this.#ip.sendAddr(pb, r, from, meta.src, IP_PROTO_ICMP, this.#ip.defaultTtl, 0, false, null);
    return true;
  }

  /** True when `a` is the directed broadcast address of one of our subnets. */
  #isDirectedBroadcast(a: number): boolean {
    const addrs = this.#ip.addresses();
    for (let i = 0; i < addrs.length; i++) if (addrs[i].broadcast === a) return true;
    return false;
  }

  #reply(meta: NetRxMeta, buf: Uint8Array, off: number, len: number): void {
    const r = this.#route;
    if (!this.#ip.routeAddr(meta.src, r)) return;
    const pb = this.#pool.alloc(HEADROOM_BYTES);
    if (pb === null || pb.tailroom < len) {
      if (pb !== null) this.#pool.free(pb);
      this.#stats.OutErrors++;
      return;
    }
    const o = pb.append(len);
    const b = pb.data;
    b.set(buf.subarray(off, off + len), o);
    // RFC 1624 incremental update: only the type changed (8 → 0).
    this.#txHdr.attach(b, o, len).rewriteType(ICMPV4_ECHO_REPLY);
    this.#stats.OutMsgs++;
    this.#stats.OutEchoReps++;
    // Reply from the address the request was sent to (RFC 1122 §3.2.2.6).
    // The addresses as the records they arrived in, not as u32 numbers (boxed ≥ 64.0.0.0).
    this.#ip.sendAddr(
      pb,
      r,
      meta.dst,
      meta.src,
      IP_PROTO_ICMP,
      this.#ip.defaultTtl,
      meta.tos,
      false,
      null,
    );
  }

  #deliverError(
    type: number,
    code: number,
    reporter: number,
    buf: Uint8Array,
    off: number,
    len: number,
  ): void {
    // The quoted datagram: its IP header and at least 8 bytes of its transport header.
    const q = off + ICMPV4_HEADER_BYTES;
    const qlen = len - ICMPV4_HEADER_BYTES;
    const ip = this.#quoted.attach(buf, q, qlen);
    if (qlen < IPV4_HEADER_MIN_BYTES + 8 || ip.version !== 4) {
      this.#stats.InErrors++;
      return;
    }
    const hb = ip.headerBytes;
    if (hb < IPV4_HEADER_MIN_BYTES || qlen < hb + 8) {
      this.#stats.InErrors++;
      return;
    }
    const protocol = ip.protocol;
    const src = ip.src;
    const dst = ip.dst;
    // Only errors about datagrams we sent are believed.
    if (!this.#ip.isLocalAddress(src)) return;
    // RFC 1191 §5: the MTU the router allows, estimated from the quoted length if it said none.
    const mtu = type === ICMPV4_DEST_UNREACHABLE && code === ICMPV4_UNREACH_FRAG_NEEDED
      ? this.#ip.pmtu.reportedMtuV4(this.#hdr.attach(buf, off, len).nextHopMtu, ip.totalLength)
      : 0;
    const handler = this.#ip.handlerOf(protocol);
    if (handler === null) return;
    if (protocol === IP_PROTO_ICMP) {
      // Our echo requests have no connection to check the error against: lower the cache.
      if (mtu > 0 && this.#ip.route(dst, this.#route)) {
        const q = this.#quotedDst.setV4(dst);
        this.#ip.pmtu.lower(q, mtu, this.#ip.mtuOf(this.#route.nicIndex));
      }
      return;
    }
    const e = this.#err;
    e.family = 4;
    e.kind = netErrorKindV4(type, code);
    e.type = type;
    e.code = code;
    e.mtu = mtu;
    e.src.setV4(src);
    e.dst.setV4(dst);
    e.reporter.setV4(reporter);
    handler.receiveError(e, buf, q + hb, qlen - hb);
  }
}

/** The family-neutral kind of an ICMPv4 error (Linux `icmp_err_convert`). */
function netErrorKindV4(type: number, code: number): number {
  if (type === ICMPV4_TIME_EXCEEDED) return NET_ERR_TIME_EXCEEDED;
  if (type === ICMPV4_PARAMETER_PROBLEM) return NET_ERR_PARAMETER_PROBLEM;
  switch (code) {
    case ICMPV4_UNREACH_NET:
      return NET_ERR_NET_UNREACHABLE;
    case ICMPV4_UNREACH_PROTOCOL:
      return NET_ERR_PROTOCOL_UNREACHABLE;
    case ICMPV4_UNREACH_PORT:
      return NET_ERR_PORT_UNREACHABLE;
    case ICMPV4_UNREACH_FRAG_NEEDED:
      return NET_ERR_TOO_BIG;
    case ICMPV4_UNREACH_ADMIN_PROHIBITED:
      return NET_ERR_PROHIBITED;
    default:
      return NET_ERR_HOST_UNREACHABLE;
  }
}
