// ICMP errors the stack generates (RFC 792, RFC 1122 §3.2.2, RFC 1812 §4.3.2.7): port and
// protocol unreachable, parameter problem for a malformed option, and each "never" — about
// an ICMP error, to a broadcast or multicast destination, from a broadcast source, about a
// fragment other than the first — each beside a control that does get its error; the rate
// limit, one token bucket for ICMP and ICMPv6; and what the transports make of errors that
// arrive (TCP's hard and soft errors). Reassembly time exceeded: sim/ping_sim_test.ts; UDP's
// ECONNREFUSED on a connected socket: sim/udp_sim_test.ts and sim/udp6_sim_test.ts.

import assert from "node:assert/strict";
import type { TxOffload } from "../../link/driver.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { AF_INET, AF_INET6, SOCK_DGRAM, SocketTable } from "../../stack/socket.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import {
  ACK,
  ETH,
  ETHERTYPE_IPV4,
  macOf,
  PEER_IP,
  STACK_IP,
  STACK_MAC,
  transportChecksum,
  writeEth,
  writeIpv4,
  writeUdp,
} from "../fuzz/frames.ts";
import { RawPeer } from "../harness/raw_peer.ts";
import { makeSimNet } from "../harness/sim_net.ts";

const BROADCAST = 0xc61200ff; // 198.18.0.255, the stack's subnet broadcast

/** A raw peer that keeps a copy of every IPv4 ICMP frame the stack sends. */
function peer(opts: ConstructorParameters<typeof RawPeer>[0] = {}) {
  const p = new RawPeer(opts);
  const icmp: Uint8Array[] = [];
  const model = p.model;
  p.driver.observer = {
    onTransmit(f: Uint8Array, off: number, len: number, o: TxOffload | null) {
      model.onTransmit(f, off, len, o);
      if (len > ETH + 20 && f[off + 12] === 0x08 && f[off + 13] === 0 && f[off + ETH + 9] === 1) {
        icmp.push(f.slice(off, off + len));
      }
    },
  };
  p.arpFrom(PEER_IP);
  return { p, icmp };
}

interface Datagram {
  src?: number;
  dst?: number;
  protocol?: number;
  payload: Uint8Array;
  options?: Uint8Array;
  fragOffset?: number;
  moreFragments?: boolean;
  /** Destination MAC [the stack's]. */
  dstMac?: readonly number[];
}

/** Inject an IPv4 datagram from the peer (or `src`) to the stack (or `dst`). */
function send(p: RawPeer, d: Datagram): void {
  const f = new Uint8Array(ETH + 60 + d.payload.length);
  const src = d.src ?? PEER_IP;
  writeEth(f, d.dstMac ?? STACK_MAC, macOf(PEER_IP), ETHERTYPE_IPV4);
  const hb = writeIpv4(f, ETH, {
    src,
    dst: d.dst ?? STACK_IP,
    protocol: d.protocol ?? 17,
    payloadLen: d.payload.length,
    options: d.options ?? null,
    fragOffset: d.fragOffset,
    moreFragments: d.moreFragments,
  });
  f.set(d.payload, ETH + hb);
  p.inject(f, ETH + hb + d.payload.length);
}

/** A UDP datagram to `port` with 4 bytes of data (no checksum: allowed over IPv4). */
function udp(port: number): Uint8Array {
  const b = new Uint8Array(12);
  writeUdp(b, 0, 40000, port, 4);
  return b;
}

/** An ICMP message of `type`/`code` with a valid checksum. */
function icmpMsg(type: number, code: number, body: Uint8Array = new Uint8Array(20)): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  m.set(body, 8);
  transportChecksum(m, 0, m.length, 1, 0, 0);
  return m;
}

/** A malformed option: type 7 (record route) with length 1. */
const BAD_OPTION = Uint8Array.of(7, 1, 0, 0);

Deno.test("icmp: port unreachable, protocol unreachable, parameter problem at the bad option", () => {
  const { p, icmp } = peer();
  send(p, { payload: udp(9) });
  send(p, { protocol: 200, payload: new Uint8Array(16) });
  send(p, { payload: udp(9), options: Uint8Array.of(1, 1, 7, 1) });
  assert.equal(icmp.length, 3);
  const [port, proto, param] = icmp;
  const st = p.stack.stats;
  // Type 3 code 3, quoting the datagram's header and its first 8 bytes (RFC 792).
  assert.deepEqual([port[34], port[35]], [3, 3]);
  assert.equal(port.length, ETH + 20 + 8 + 20 + 8);
  assert.equal(port[ETH + 28 + 9], 17, "the quoted header");
  assert.deepEqual([proto[34], proto[35]], [3, 2]);
  assert.equal(st.ip.InUnknownProtos, 1);
  // Type 12 code 0; the pointer is the header byte at fault: 20 + 3 (the length byte of 7, 1).
  assert.deepEqual([param[34], param[35], param[38]], [12, 0, 23]);
  assert.equal(st.ip.InHdrErrors, 1);
  assert.equal(st.udp.InDatagrams, 0, "the datagram with the bad option went no further");
  assert.equal(st.icmp.OutDestUnreachs, 2);
  assert.equal(st.icmp.OutParmProbs, 1);
  // Well-formed options (NOPs, an unknown type) are fine.
  send(p, { payload: udp(9), options: Uint8Array.of(1, 0x99, 4, 0, 0) });
  assert.equal(icmp.length, 4);
  assert.deepEqual([icmp[3][34], icmp[3][35]], [3, 3]);
});

Deno.test("icmp: never about an ICMP error (RFC 1122 §3.2.2)", () => {
  const { p, icmp } = peer();
  send(p, { protocol: 1, payload: icmpMsg(8, 0), options: BAD_OPTION }); // echo request: control
  assert.equal(icmp.length, 1);
  assert.equal(icmp[0][34], 12);
  for (const type of [3, 11, 12]) {
    send(p, { protocol: 1, payload: icmpMsg(type, 0), options: BAD_OPTION });
  }
  assert.equal(icmp.length, 1, "no error about an error");
  assert.equal(p.stack.stats.ip.InHdrErrors, 4);
});

Deno.test("icmp: never to a broadcast or multicast destination", () => {
  const { p, icmp } = peer();
  send(p, { payload: udp(9) }); // control
  assert.equal(icmp.length, 1);
  send(p, { dst: BROADCAST, payload: udp(9) });
  send(p, { dst: 0xffffffff, payload: udp(9) });
  send(p, { dst: 0xe0000001, payload: udp(9) }); // all-hosts
  send(p, { dst: BROADCAST, protocol: 200, payload: new Uint8Array(16) });
  send(p, { dst: BROADCAST, payload: udp(9), options: BAD_OPTION });
  assert.equal(icmp.length, 1);
  // To our address, but in a link-layer broadcast or multicast frame (RFC 1122 §3.2.2).
  const ETH_BROADCAST = [255, 255, 255, 255, 255, 255];
  const ETH_MULTICAST = [1, 0, 0x5e, 0, 0, 1];
  send(p, { dstMac: ETH_BROADCAST, payload: udp(9) });
  send(p, { dstMac: ETH_MULTICAST, payload: udp(9) });
  send(p, { dstMac: ETH_BROADCAST, protocol: 200, payload: new Uint8Array(16) });
  send(p, { dstMac: ETH_MULTICAST, payload: udp(9), options: BAD_OPTION });
  assert.equal(icmp.length, 1);
  // The IP-group datagrams count as IgnoredMulti; the link-group ones are delivered as Linux
  // does (they reach UDP: NoPorts), only not answered.
  assert.equal(p.stack.stats.udp.IgnoredMulti, 3);
  assert.equal(p.stack.stats.udp.NoPorts, 3);
  assert.equal(p.stack.stats.ip.InUnknownProtos, 2);
});

Deno.test("icmp: never to a source that names no single host", () => {
  const { p, icmp } = peer();
  send(p, { src: BROADCAST, payload: udp(9) });
  send(p, { src: 0xe0000005, payload: udp(9) });
  send(p, { src: 0, payload: udp(9) });
  send(p, { src: BROADCAST, protocol: 200, payload: new Uint8Array(16) });
  assert.equal(icmp.length, 0);
  send(p, { payload: udp(9) }); // control
  assert.equal(icmp.length, 1);
});

Deno.test("icmp: never about a fragment other than the first", () => {
  const { p, icmp } = peer();
  send(p, { payload: new Uint8Array(16), fragOffset: 0, moreFragments: true, options: BAD_OPTION });
  assert.equal(icmp.length, 1, "control: the first fragment gets its parameter problem");
  send(p, { payload: new Uint8Array(16), fragOffset: 1480, options: BAD_OPTION });
  send(p, { payload: new Uint8Array(16), fragOffset: 8, moreFragments: true, options: BAD_OPTION });
  assert.equal(icmp.length, 1);
  assert.equal(p.stack.stats.ip.InHdrErrors, 3);
});

Deno.test("icmp: errors are rate-limited by one token bucket for ICMP and ICMPv6", () => {
  const net = makeSimNet({
    wire: { seed: 21, delayMs: 1 },
    stack: { icmp: { errorsPerSecond: 10, errorBurst: 50 } },
  });
  const A6 = IpAddress.parse("fd00:5::1");
  const B6 = IpAddress.parse("fd00:5::2");
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  net.advance(2500);
  const sb = new SocketTable(net.b);
  const fb4 = sb.socket(AF_INET, SOCK_DGRAM);
  const fb6 = sb.socket(AF_INET6, SOCK_DGRAM);
  const one = new Uint8Array(1);
  // Neighbours resolved both ways first; then a second for the bucket to fill up again.
  sb.sendto(fb4, one, "198.18.0.1", 9);
  sb.sendto(fb6, one, "fd00:5::1", 9);
  net.advance(1000);
  const icmp = net.a.stats.icmp;
  const icmp6 = net.a.stats.icmp6;
  const before = icmp.OutDestUnreachs;
  // 60 datagrams to a closed port in one instant: the burst of 50 is answered, 10 are not.
  for (let i = 0; i < 60; i++) sb.sendto(fb4, one, "198.18.0.1", 9);
  net.run(() => net.a.stats.udp.NoPorts >= 62, 10);
  assert.equal(icmp.OutDestUnreachs - before, 50);
  assert.equal(icmp.OutRateLimited, 10);
  // The bucket is empty for IPv6 too.
  const before6 = icmp6.OutDestUnreachs;
  sb.sendto(fb6, one, "fd00:5::1", 9);
  net.run(() => net.a.stats.udp.NoPorts >= 63, 10);
  assert.equal(icmp6.OutDestUnreachs, before6);
  assert.equal(icmp6.OutRateLimitHost, 1);
  // 10 a second: 200 ms later there are tokens again.
  net.advance(200);
  sb.sendto(fb6, one, "fd00:5::1", 9);
  net.run(() => net.a.stats.udp.NoPorts >= 64, 10);
  assert.equal(icmp6.OutDestUnreachs, before6 + 1);
});

Deno.test("icmp: TCP takes port unreachable in SYN-SENT as ECONNREFUSED; host unreachable is soft", () => {
  const { p } = peer({ tcp: { maxRetries: 2 } });
  const frames: Uint8Array[] = [];
  const model = p.model;
  p.driver.observer = {
    onTransmit(f, off, len, o) {
      model.onTransmit(f, off, len, o);
      frames.push(f.slice(off, off + len));
    },
  };
  /** An ICMP error of `code` from the peer quoting the last TCP segment the stack sent. */
  const unreachable = (code: number) => {
    const seg = frames.filter((f) => f[ETH + 9] === 6).at(-1)!;
    send(p, { protocol: 1, payload: icmpMsg(3, code, seg.subarray(ETH, ETH + 28)) });
  };
  const c = p.stack.tcp.connect(IpAddress.v4(PEER_IP), 80);
  p.stack.tick();
  unreachable(3);
  assert.equal(c.state, TcpState.CLOSED);
  assert.equal(c.error, "ECONNREFUSED");
  // An established connection: a host unreachable does not end it, but is the error it
  // reports when it times out (Linux sk_err_soft) instead of ETIMEDOUT.
  const l = p.stack.tcp.listen(null, 8080, 4);
  const conn = p.connect(41000, 8080, 9000);
  const s = l.accept()!;
  s.write(new Uint8Array(100), 0, 100);
  p.stack.tick();
  unreachable(1);
  assert.equal(s.state, TcpState.ESTABLISHED);
  assert.equal(s.softError, "EHOSTUNREACH");
  p.advance(60_000);
  assert.equal(s.state, TcpState.CLOSED);
  assert.equal(s.error, "EHOSTUNREACH");
  void conn;
  void ACK;
});
