/**
 * Structure-aware frame generators: each makes a plausible frame of one protocol with its
 * fields drawn from ranges that matter (valid, boundary, wrong) — ARP (requests, answers to
 * the host's own requests, conflicts), IPv4 (every option kind, bad lengths and pointers, odd
 * TTLs and destinations, fragment trains in any order with overlaps, gaps and duplicates),
 * ICMP (echo, timestamp, every error quoting the host's own recent frames), UDP (echo, closed
 * ports, broadcast, zero checksum, lying lengths), TCP (every option kind with good and bad
 * lengths, and stateful sessions that follow the host's sequence numbers: handshakes, data in
 * and out of order, SACK, timestamps, FIN, RST, answers to the host's own SYNs), and Ethernet
 * oddities (runts, VLAN tags, IPv6, unknown types).
 *
 * Frames that belong together (fragments) are put on a queue the fuzzer drains first.
 *
 * @module
 */

import type { SeededRandom } from "../../core/random.ts";
import {
  ACK,
  BROADCAST_IP,
  ETH,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  FIN,
  GATEWAY_IP,
  ipv4HeaderChecksum,
  macOf,
  PEER_IP,
  PEER_MAC,
  PSH,
  put16,
  put32,
  RST,
  STACK_IP,
  STACK_MAC,
  SYN,
  transportChecksum,
  URG,
  writeArp,
  writeEth,
  writeIpv4,
  writeTcp,
  writeUdp,
} from "./frames.ts";
import { fragmentInto, FrameQueue } from "./frame_queue.ts";
import type { PeerModel, TcpSession } from "./peer_model.ts";

/** TCP option kinds worth trying, with the lengths they should have (0: any). */
const TCP_OPTIONS: readonly [number, number][] = [
  [2, 4], // MSS
  [3, 3], // window scale
  [4, 2], // SACK permitted
  [5, 0], // SACK blocks
  [8, 10], // timestamps
  [19, 18], // MD5 signature
  [28, 4], // user timeout
  [29, 0], // TCP-AO
  [30, 0], // MPTCP
  [34, 0], // fast open cookie
  [172, 0], // AccECN
  [253, 0], // experimental
  [254, 0], // experimental
  [77, 0], // unassigned
];

/** IP option kinds: EOL, NOP, security, LSRR, TS, RR, stream id, SSRR, router alert, unknown. */
const IP_OPTIONS = [0, 1, 130, 131, 68, 7, 136, 137, 148, 25, 255];

/** Ports the host listens on, and some it does not. */
const HOST_PORTS = [7, 80, 9, 81, 80, 80, 5000, 0, 65535];

/** Makes frames of every protocol into a caller's buffer. */
export class Generators {
  /** Trains of frames (fragments) waiting to be sent. */
  readonly queue: FrameQueue = new FrameQueue(64);
  readonly #rng: SeededRandom;
  readonly #model: PeerModel;
  readonly #mtu: number;
  readonly #big = new Uint8Array(65536 + 64);
  readonly #opt = new Uint8Array(40);

  /** Generators for a host with link MTU `mtu`, seen through `model`. */
  constructor(rng: SeededRandom, model: PeerModel, mtu: number) {
    this.#rng = rng;
    this.#model = model;
    this.#mtu = mtu;
  }

  /** One frame of a random kind into `b`; returns its length. */
  frame(b: Uint8Array): number {
    const r = this.#rng.nextInt(100);
    if (r < 30) return this.tcpSession(b);
    if (r < 40) return this.tcpRandom(b);
    if (r < 52) return this.udp(b);
    if (r < 64) return this.icmp(b);
    if (r < 74) return this.arp(b);
    if (r < 82) return this.ipv4Odd(b);
    if (r < 92) return this.fragments(b);
    return this.ethernetOdd(b);
  }

  /** A random peer address: mostly the main peer, sometimes others, rarely odd ones. */
  #peerIp(): number {
    const rng = this.#rng;
    const r = rng.nextInt(100);
    if (r < 70) return PEER_IP;
    if (r < 85) return (0xc6120000 | (1 + rng.nextInt(253))) >>> 0;
    if (r < 92) return (0xcb007100 | rng.nextInt(256)) >>> 0; // off-link, 203.0.113.x
    return [0, 0x7f000001, 0xe0000001, BROADCAST_IP, STACK_IP, 0xffffffff][rng.nextInt(6)];
  }

  /** A destination address: mostly the host, sometimes broadcast/multicast/someone else. */
  #hostIp(): number {
    const rng = this.#rng;
    if (rng.chance(0.9)) return STACK_IP;
    return [BROADCAST_IP, 0xffffffff, 0xe0000001, 0xe0000016, PEER_IP, 0xc6120063][rng.nextInt(6)];
  }

  #eth(b: Uint8Array, src: number, type: number): number {
    const rng = this.#rng;
    const dst = rng.chance(0.95)
      ? STACK_MAC
      : rng.chance(0.5)
      ? [255, 255, 255, 255, 255, 255]
      : [1, 0, 0x5e, 0, 0, 1];
    return writeEth(b, dst, src === PEER_IP ? PEER_MAC : macOf(src), type);
  }

  /** Random IP options (sometimes well formed, sometimes not), or null. */
  #ipOptions(): Uint8Array | null {
    const rng = this.#rng;
    if (!rng.chance(0.15)) return null;
    const o = this.#opt;
    let n = 0;
    const want = 1 + rng.nextInt(40);
    while (n < want) {
      const kind = IP_OPTIONS[rng.nextInt(IP_OPTIONS.length)];
      o[n++] = kind;
      if (kind <= 1 || n >= 40) continue;
      const len = rng.chance(0.8) ? Math.min(40 - n + 1, 3 + 4 * rng.nextInt(5)) : rng.nextInt(256);
      o[n++] = len;
      if (n < 40) o[n++] = rng.chance(0.7) ? 4 + 4 * rng.nextInt(3) : rng.nextInt(256); // pointer
      for (let i = 3; i < len && n < 40; i++) o[n++] = rng.nextInt(256);
    }
    return o.subarray(0, Math.min(n, 40));
  }

  /** Write an IPv4 datagram with `payload` bytes already at `b[l4..]`; finish checksums. */
  #ip(
    b: Uint8Array,
    src: number,
    dst: number,
    protocol: number,
    payloadLen: number,
    options: Uint8Array | null,
  ): number {
    const rng = this.#rng;
    const hb = writeIpv4(b, ETH, {
      src,
      dst,
      protocol,
      payloadLen,
      options,
      id: rng.nextInt(65536),
      ttl: rng.chance(0.95) ? 64 : rng.nextInt(3),
      tos: rng.chance(0.9) ? 0 : rng.nextInt(256),
      dontFragment: rng.chance(0.5),
    });
    return hb;
  }

  /**
   * Build a datagram: `write(b, l4)` writes the transport payload at `b[l4..]` and returns
   * its length; then IP header and checksums. Returns the frame length.
   */
  #datagram(
    b: Uint8Array,
    src: number,
    dst: number,
    protocol: number,
    write: (b: Uint8Array, l4: number) => number,
  ): number {
    const options = this.#ipOptions();
    const hb = options ? 20 + ((options.length + 3) & ~3) : 20;
    this.#eth(b, src, ETHERTYPE_IPV4);
    const l4 = ETH + hb;
    const len = write(b, l4);
    this.#ip(b, src, dst, protocol, len, options);
    if (this.#rng.chance(0.95)) transportChecksum(b, l4, len, protocol, src, dst);
    return l4 + len;
  }

  /** TCP options: a random mix of every kind, good and bad lengths. */
  #tcpOptions(s: TcpSession | null): Uint8Array | null {
    const rng = this.#rng;
    if (rng.chance(0.4)) return null;
    const o = this.#opt;
    let n = 0;
    const count = 1 + rng.nextInt(5);
    for (let k = 0; k < count && n < 38; k++) {
      if (rng.chance(0.15)) {
        o[n++] = rng.chance(0.5) ? 1 : 0;
        continue;
      }
      const [kind, good] = TCP_OPTIONS[rng.nextInt(TCP_OPTIONS.length)];
      let len = good !== 0 && rng.chance(0.85)
        ? good
        : kind === 5
        ? 2 + 8 * (1 + rng.nextInt(4))
        : rng.nextInt(20);
      len = Math.min(len, 40 - n);
      o[n] = kind;
      if (n + 1 < 40) o[n + 1] = rng.chance(0.95) ? len : rng.nextInt(256);
      for (let i = 2; i < len; i++) o[n + i] = rng.nextInt(256);
      if (kind === 8 && len === 10 && s !== null && s.hostTsVal >= 0 && rng.chance(0.9)) {
        // Our clock moves forward (PAWS, RFC 7323 §5) and we echo the host's TSval.
        s.peerTsVal = (s.peerTsVal + (rng.chance(0.95) ? rng.nextInt(100) : rng.nextU32())) >>> 0;
        put32(o, n + 2, s.peerTsVal);
        put32(o, n + 6, s.hostTsVal);
      }
      if (kind === 5 && s !== null && rng.chance(0.7)) {
        // SACK blocks around what the host has sent.
        for (let i = 2; i + 8 <= len; i += 8) {
          const left = (s.hostNext - rng.nextInt(20000)) >>> 0;
          put32(o, n + i, left);
          put32(o, n + i + 4, (left + rng.nextInt(5000)) >>> 0);
        }
      }
      n += Math.max(len, 1);
    }
    return o.subarray(0, Math.min(n, 40));
  }

  /** A TCP segment with random everything, to the host's ports. */
  tcpRandom(b: Uint8Array): number {
    const rng = this.#rng;
    const src = this.#peerIp();
    return this.#datagram(b, src, this.#hostIp(), 6, (f, l4) => {
      const opts = this.#tcpOptions(null);
      const hl = writeTcp(f, l4, {
        srcPort: rng.nextInt(65536),
        dstPort: HOST_PORTS[rng.nextInt(HOST_PORTS.length)],
        seq: rng.nextU32(),
        ack: rng.nextU32(),
        flags: rng.nextInt(256),
        window: rng.nextInt(65536),
        urgent: rng.chance(0.9) ? 0 : rng.nextInt(65536),
        options: opts,
        dataOffset: rng.chance(0.9) ? undefined : rng.nextInt(16),
      });
      const data = rng.chance(0.6) ? 0 : rng.nextInt(Math.min(2000, this.#mtu));
      for (let i = 0; i < data; i++) f[l4 + hl + i] = rng.nextInt(256);
      return hl + data;
    });
  }

  /** A segment of a session that follows the host's sequence numbers. */
  tcpSession(b: Uint8Array): number {
    const rng = this.#rng;
    const m = this.#model;
    let s: TcpSession;
    let flags: number;
    let seq: number;
    let ack: number;
    let pure = false;
    if (m.sessions.length === 0 || rng.chance(0.15)) {
      // A new connection to a listening port.
      s = m.session(
        rng.chance(0.8) ? PEER_IP : this.#peerIp(),
        1024 + rng.nextInt(60000),
        [80, 80, 7, 9, 81][rng.nextInt(5)],
      );
      s.peerNext = rng.nextU32();
      flags = SYN;
      seq = s.peerNext;
      s.peerNext = (s.peerNext + 1) >>> 0;
      ack = 0;
    } else {
      s = m.sessions[rng.nextInt(m.sessions.length)];
      ack = s.hostNext;
      if (s.hostSyn && rng.chance(0.5)) {
        // Answer the host's own SYN.
        s.hostSyn = false;
        s.peerNext = rng.nextU32();
        flags = SYN | ACK;
        seq = s.peerNext;
        s.peerNext = (s.peerNext + 1) >>> 0;
      } else if (rng.chance(0.35)) {
        // A pure ACK of the host's data: progress, or a duplicate (the same ACK again, same
        // window, often with SACK blocks) that drives fast retransmit and recovery.
        pure = true;
        flags = ACK;
        seq = s.peerNext;
        if (rng.chance(0.5) && s.peerAck !== 0) ack = s.peerAck;
        else {
          const outstanding = (s.hostNext - s.peerAck) >>> 0;
          ack = outstanding > 0 && outstanding < 0x40000000
            ? (s.peerAck + 1 + rng.nextInt(outstanding)) >>> 0
            : s.hostNext;
        }
      } else {
        const r = rng.nextInt(100);
        flags = r < 70
          ? ACK | (rng.chance(0.3) ? PSH : 0)
          : r < 80
          ? FIN | ACK
          : r < 88
          ? RST
          : r < 92
          ? RST | ACK
          : r < 96
          ? SYN
          : ACK | URG;
        seq = s.peerNext;
        // In order, a bit ahead (a hole), behind (old or overlapping), or far off.
        const drift = rng.nextInt(100);
        if (drift >= 70 && drift < 82) seq = (seq + 1 + rng.nextInt(8000)) >>> 0;
        else if (drift >= 82 && drift < 94) seq = (seq - 1 - rng.nextInt(3000)) >>> 0;
        else if (drift >= 94) seq = rng.nextU32();
        const a = rng.nextInt(100);
        if (a >= 80 && a < 90) ack = (ack - rng.nextInt(70000)) >>> 0;
        else if (a >= 90 && a < 95) ack = (ack + 1 + rng.nextInt(70000)) >>> 0;
        else if (a >= 95) ack = rng.nextU32();
      }
    }
    const dst = STACK_IP;
    // Mostly up to an MTU; now and then a GRO-sized super-segment (sent whole or fragmented).
    const dataLen = !pure && (flags & (SYN | RST)) === 0 && rng.chance(0.6)
      ? rng.nextInt(rng.chance(0.95) ? Math.min(3000, this.#mtu) : 12000)
      : 0;
    let hdr = 0;
    const len = this.#datagram(b, s.peerIp, dst, 6, (f, l4) => {
      hdr = writeTcp(f, l4, {
        srcPort: s.peerPort,
        dstPort: s.hostPort,
        seq,
        ack,
        flags,
        window: pure || rng.chance(0.85) ? 65535 : rng.chance(0.5) ? 0 : rng.nextInt(65536),
        urgent: (flags & URG) !== 0 ? rng.nextInt(4000) : 0,
        options: this.#tcpOptions(s),
      });
      for (let i = 0; i < dataLen; i++) f[l4 + hdr + i] = (seq + i) & 0xff;
      return hdr + dataLen;
    });
    const duplicate = pure && ack === s.peerAck;
    if ((flags & ACK) !== 0) s.peerAck = ack;
    if (seq === s.peerNext) {
      s.peerNext = (s.peerNext + dataLen + ((flags & FIN) !== 0 ? 1 : 0)) >>> 0;
    }
    // Too big for the link: fragments, or whole as a receive-offload (GRO) super-frame would.
    if (len - ETH > this.#mtu && rng.chance(0.6)) {
      return fragmentInto(this.queue, rng, this.#mtu, b, len);
    }
    if (duplicate && rng.chance(0.5)) {
      // Three more of the same duplicate ACK: fast retransmit (RFC 5681 §3.2).
      for (let i = 0; i < 3; i++) {
        const slot = this.queue.reserve();
        if (slot === null) break;
        slot.set(b.subarray(0, len));
        this.queue.commit(len);
      }
    }
    return len;
  }

  /** A UDP datagram to echo, to closed ports, broadcast, with lying lengths. */
  udp(b: Uint8Array): number {
    const rng = this.#rng;
    const src = this.#peerIp();
    const size = rng.chance(0.8) ? rng.nextInt(1500) : rng.nextInt(9000);
    const dst = this.#hostIp();
    const len = this.#datagram(this.#big, src, dst, 17, (f, l4) => {
      writeUdp(
        f,
        l4,
        rng.chance(0.95) ? 1024 + rng.nextInt(60000) : 0,
        [7, 7, 7, 9, 53, 0][rng.nextInt(6)],
        size,
      );
      for (let i = 0; i < size; i++) f[l4 + 8 + i] = i & 0xff;
      if (rng.chance(0.05)) put16(f, l4 + 4, rng.nextInt(65536)); // a lying length
      return 8 + size;
    });
    if (rng.chance(0.05)) {
      // Zero checksum: "none" (RFC 768).
      const l4 = ETH + (this.#big[ETH] & 15) * 4;
      this.#big[l4 + 6] = 0;
      this.#big[l4 + 7] = 0;
    }
    return this.#sendBig(b, len);
  }

  /** ICMP: echo (sometimes big), timestamp, and errors quoting the host's own frames. */
  icmp(b: Uint8Array): number {
    const rng = this.#rng;
    const src = this.#peerIp();
    const m = this.#model;
    const len = this.#datagram(this.#big, src, this.#hostIp(), 1, (f, l4) => {
      const r = rng.nextInt(100);
      if (r < 45) {
        f[l4] = 8;
        f[l4 + 1] = rng.chance(0.95) ? 0 : rng.nextInt(256);
        put32(f, l4 + 4, rng.nextU32());
        const size = rng.chance(0.85) ? rng.nextInt(1400) : rng.nextInt(65400);
        for (let i = 0; i < size; i++) f[l4 + 8 + i] = i & 0xff;
        return 8 + size;
      }
      if (r < 55) {
        f[l4] = [13, 15, 17, 0, 14, 9, 10][rng.nextInt(7)];
        f[l4 + 1] = 0;
        put32(f, l4 + 4, rng.nextU32());
        const size = rng.nextInt(40);
        for (let i = 0; i < size; i++) f[l4 + 8 + i] = rng.nextInt(256);
        return 8 + size;
      }
      // An error: type 3 (any code; 4 carries a next-hop MTU), 11, 12, 4, 5.
      f[l4] = [3, 3, 3, 11, 12, 4, 5][rng.nextInt(7)];
      f[l4 + 1] = f[l4] === 3 ? rng.nextInt(16) : rng.nextInt(3);
      put32(f, l4 + 4, 0);
      if (f[l4] === 3 && f[l4 + 1] === 4) {
        put16(f, l4 + 6, [0, 68, 300, 576, 1280, 1400, 9000, 65535][rng.nextInt(8)]);
      }
      if (f[l4] === 12) f[l4 + 4] = rng.nextInt(64);
      if (f[l4] === 5) put32(f, l4 + 4, GATEWAY_IP);
      // Quote one of the host's recent frames (its IP header + at least 8 bytes).
      let q = 0;
      if (m.recentCount > 0 && rng.chance(0.8)) {
        const i = rng.nextInt(m.recentCount);
        const n = m.recentLen[i] - ETH;
        if (n > 0) {
          f.set(m.recent[i].subarray(ETH, ETH + n), l4 + 8);
          q = rng.chance(0.9) ? n : rng.nextInt(n);
        }
      } else {
        q = 28 + rng.nextInt(40);
        for (let i = 0; i < q; i++) f[l4 + 8 + i] = rng.nextInt(256);
        f[l4 + 8] = 0x45;
      }
      return 8 + q;
    });
    return this.#sendBig(b, len);
  }

  /** ARP: answers to the host's questions, questions to it, conflicts, odd fields. */
  arp(b: Uint8Array): number {
    const rng = this.#rng;
    const m = this.#model;
    const r = rng.nextInt(100);
    let op = 1;
    let sip = this.#peerIp();
    let tip = STACK_IP;
    let tmac: readonly number[] = [0, 0, 0, 0, 0, 0];
    if (r < 40 && m.arpAsked.length > 0) {
      op = 2; // the answer the host waits for
      sip = m.arpAsked[rng.nextInt(m.arpAsked.length)];
      tmac = STACK_MAC;
    } else if (r < 55) {
      tip = sip; // gratuitous
    } else if (r < 62) {
      sip = STACK_IP; // someone claims the host's address
      tip = STACK_IP;
    } else if (r < 70) {
      op = rng.nextInt(65536);
    }
    const smac = rng.chance(0.95) ? macOf(sip) : [1, 2, 3, 4, 5, 6];
    writeEth(b, rng.chance(0.6) ? [255, 255, 255, 255, 255, 255] : STACK_MAC, smac, ETHERTYPE_ARP);
    writeArp(b, ETH, op, smac, sip, tmac, tip);
    if (rng.chance(0.1)) b[ETH + rng.nextInt(8)] = rng.nextInt(256); // hardware/protocol fields
    let len = ETH + 28;
    if (rng.chance(0.1)) len = ETH + rng.nextInt(28);
    else if (rng.chance(0.3)) {
      for (let i = len; i < 60; i++) b[i] = 0; // Ethernet padding
      len = 60;
    }
    return len;
  }

  /** IPv4 oddities: odd versions and header lengths, unknown protocols, odd addresses. */
  ipv4Odd(b: Uint8Array): number {
    const rng = this.#rng;
    const src = this.#peerIp();
    const len = this.#datagram(
      b,
      src,
      this.#hostIp(),
      rng.chance(0.5) ? rng.nextInt(256) : [1, 6, 17, 253][rng.nextInt(4)],
      (f, l4) => {
        const n = rng.nextInt(200);
        for (let i = 0; i < n; i++) f[l4 + i] = rng.nextInt(256);
        return n;
      },
    );
    const r = rng.nextInt(6);
    if (r === 0) b[ETH] = (rng.nextInt(16) << 4) | (b[ETH] & 15);
    else if (r === 1) b[ETH] = (b[ETH] & 0xf0) | rng.nextInt(16);
    else if (r === 2) put16(b, ETH + 2, rng.nextInt(65536));
    else if (r === 3) put16(b, ETH + 6, rng.nextInt(65536));
    if (r <= 3 && rng.chance(0.7)) {
      // Re-seal the header so the oddity passes the checksum.
      const hb = Math.min(60, Math.max(20, (b[ETH] & 15) * 4));
      if (ETH + hb <= len) ipv4HeaderChecksum(b, ETH, hb);
    }
    return len;
  }

  /** A fragment train of a UDP, ICMP or TCP datagram, in any order, with faults. */
  fragments(b: Uint8Array): number {
    const rng = this.#rng;
    const r = rng.nextInt(3);
    const len = r === 0
      ? this.udp(this.#big)
      : r === 1
      ? this.icmp(this.#big)
      : this.tcpRandom(this.#big);
    return fragmentInto(this.queue, this.#rng, this.#mtu, this.#big, len, b);
  }

  /** Ethernet oddities: runts, unknown types, VLAN tags, IPv6, other hosts' frames. */
  ethernetOdd(b: Uint8Array): number {
    const rng = this.#rng;
    const types = [0x86dd, 0x8100, 0x88cc, 0x0000, 0xffff, 0x0801, ETHERTYPE_IPV4, ETHERTYPE_ARP];
    writeEth(
      b,
      rng.chance(0.7) ? STACK_MAC : [2, 0, 0, 0, 0, 9],
      PEER_MAC,
      types[rng.nextInt(types.length)],
    );
    const len = rng.chance(0.3) ? rng.nextInt(ETH + 1) : ETH + rng.nextInt(200);
    for (let i = ETH; i < len; i++) b[i] = rng.nextInt(256);
    if (len >= ETH + 1 && rng.chance(0.5)) b[ETH] = 0x60; // looks like IPv6
    return len;
  }

  /** Send a frame built in the big buffer: as is when it fits, else as fragments. */
  #sendBig(b: Uint8Array, len: number): number {
    if (b === this.#big) return len;
    if (len - ETH > this.#mtu || len > b.length) {
      return fragmentInto(this.queue, this.#rng, this.#mtu, this.#big, len, b);
    }
    b.set(this.#big.subarray(0, len));
    return len;
  }
}
