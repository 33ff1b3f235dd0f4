/**
 * A router with a smaller next-hop MTU, in the simulated network: a frame hook on one host's
 * port drops what that host sends beyond `mtu` bytes of IP (IPv4 with DF set, and all IPv6:
 * IPv4 without DF passes, as a router would have fragmented it), and — unless silent (a black
 * hole) — answers each with an ICMP fragmentation needed (RFC 1191 §4: type 3 code 4, the
 * next-hop MTU) or an ICMPv6 packet too big (RFC 4443 §3.2), sent from a port of its own on
 * the wire like a real router's. Errors are queued by the hook and sent by
 * {@link SimRouter.pump} (call it from the run loop's `until`, or use
 * {@link SimRouter.advance}). The router's port exists only while it sends (it would otherwise
 * collect every frame on the wire, and an unread queue keeps the simulation from advancing).
 *
 * @module
 */

import { SIM_DROP, type SimEndpoint } from "../../link/sim_wire.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { ETHERTYPE_IPV4, transportChecksum, writeEth, writeIpv4 } from "../fuzz/frames.ts";
import { icmpv6, inject, ipv6Frame } from "./ipv6_frames.ts";
import type { SimNet } from "./sim_net.ts";

/** The router's MAC on the sim wire. */
export const ROUTER_MAC: Uint8Array = new Uint8Array([2, 0, 0, 0, 0, 0x77]);
/** The router's IPv4 address (on the hosts' subnet). */
export const ROUTER_IP: IpAddress = IpAddress.parse("198.18.0.254");
/** The router's IPv6 address. */
export const ROUTER_IP6: IpAddress = IpAddress.parse("fd00:5::77");

/** Options of a {@link SimRouter}. */
export interface SimRouterOptions {
  /** Largest IP datagram passed on. */
  mtu: number;
  /** Drop without a word (a PMTU black hole) [false]. */
  silent?: boolean;
  /** The next-hop MTU written in fragmentation needed (0: an RFC 792 router) [mtu]. */
  reportedMtu?: number;
  /** Bytes of the dropped datagram quoted [IPv4: header + 8 (RFC 792); IPv6: up to 1232]. */
  quoteBytes?: number;
}

/**
 * The router in front of host a (its frames to b pass through it).
 *
 * @example
 * ```ts ignore
 * const router = new SimRouter(net, { mtu: 1200 });
 * net.run(() => (router.pump(), done()), 5000);
 * ```
 */
export class SimRouter {
  /** Datagrams dropped for their size. */
  dropped = 0;
  /** Errors sent. */
  answered = 0;
  /** IP datagram sizes passed on (for assertions on what the host sent). */
  readonly passed: number[] = [];
  /** Current options (may be changed between steps). */
  opts: Required<SimRouterOptions>;
  readonly #net: SimNet;
  readonly #from: SimEndpoint;
  readonly #pending: Uint8Array[] = [];
  #ports = 0;

  /** Install the router on host a's port. */
  constructor(net: SimNet, opts: SimRouterOptions) {
    this.#net = net;
    this.#from = net.portA;
    this.opts = { silent: false, reportedMtu: opts.mtu, quoteBytes: 0, ...opts };
    net.wire.setFrameHook(this.#from, (f, len) => this.#hook(f, len));
  }

  /** Let `ms` of virtual time pass, sending the router's errors as they are due. */
  advance(ms: number): void {
    this.#net.run(() => (this.pump(), false), ms);
  }

  /** Take the router away: everything passes again. */
  remove(): void {
    this.#net.wire.setFrameHook(this.#from, null);
  }

  /** Send the queued errors. */
  pump(): void {
    if (this.#pending.length === 0) return;
    for (const q of this.#pending.splice(0)) {
      this.send(q[12] === 0x86 ? this.#tooBig6(q) : this.#fragNeeded(q, this.opts.reportedMtu));
      this.answered++;
    }
  }

  /** Put `frame` on the wire from the router's MAC now. */
  send(frame: Uint8Array): void {
    const port: SimEndpoint = this.#net.wire.endpoint(`r${++this.#ports}`, ROUTER_MAC);
    inject(port, frame);
    port.close();
  }

  /**
   * An ICMP fragmentation needed about the IPv4 frame `frame` (Ethernet first), saying
   * `mtu`, from the router to the frame's source.
   */
  fragNeeded(frame: Uint8Array, mtu: number): Uint8Array {
    return this.#fragNeeded(frame, mtu);
  }

  #hook(f: Uint8Array, len: number): number {
    const ipLen = len - 14;
    if (ipLen <= this.opts.mtu) {
      this.passed.push(ipLen);
      return 0;
    }
    const ethType = (f[12] << 8) | f[13];
    if (ethType === ETHERTYPE_IPV4 && (f[20] & 0x40) === 0) {
      this.passed.push(ipLen); // DF clear: a router fragments it on
      return 0;
    }
    this.dropped++;
    if (!this.opts.silent) this.#pending.push(f.slice(0, len));
    return SIM_DROP;
  }

  #fragNeeded(frame: Uint8Array, mtu: number): Uint8Array {
    const hb = (frame[14] & 0x0f) * 4;
    const quote = Math.min(frame.length - 14, this.opts.quoteBytes || hb + 8);
    const out = new Uint8Array(14 + 20 + 8 + quote);
    writeEth(out, [...frame.subarray(6, 12)], [...ROUTER_MAC], ETHERTYPE_IPV4);
    const src = new DataView(frame.buffer, frame.byteOffset).getUint32(14 + 12);
    writeIpv4(out, 14, { src: ROUTER_IP.v4, dst: src, protocol: 1, payloadLen: 8 + quote });
    out[34] = 3;
    out[35] = 4;
    out[40] = mtu >>> 8;
    out[41] = mtu & 0xff;
    out.set(frame.subarray(14, 14 + quote), 42);
    transportChecksum(out, 34, 8 + quote, 1, 0, 0);
    return out;
  }

  #tooBig6(frame: Uint8Array): Uint8Array {
    const quote = frame.slice(14, 14 + Math.min(frame.length - 14, this.opts.quoteBytes || 1232));
    const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const to = new IpAddress(v.getUint32(22), v.getUint32(26), v.getUint32(30), v.getUint32(34));
    return ipv6Frame({
      srcMac: ROUTER_MAC,
      dstMac: frame.slice(6, 12),
      src: ROUTER_IP6,
      dst: to,
      nextHeader: 58,
      payload: icmpv6(ROUTER_IP6, to, 2, 0, this.opts.reportedMtu, quote),
    });
  }
}
