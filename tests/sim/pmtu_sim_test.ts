// Path MTU discovery between two stacks with a router in front of host a whose next hop
// carries less than the link (tests/harness/sim_router.ts): fragmentation needed lowers the
// shared cache and the MSS of every connection to the destination, the lost segments go out
// again at once (no RTO), errors that quote data not in flight are not believed (RFC 5927),
// an RFC 792 router's missing MTU is guessed from the plateaus (RFC 1191 §5), the entry
// expires after 10 minutes, a silent router (black hole) is survived by falling back to a
// smaller MSS, UDP is fragmented to the cached MTU, and the same over IPv6.

import assert from "node:assert/strict";
import {
  ADDR_A,
  ADDR_B,
  BulkFlow,
  connectPair,
  makeSimNet,
  type SimNet,
} from "../harness/sim_net.ts";
import { SimRouter } from "../harness/sim_router.ts";
import { IpAddress } from "../../net/ip_address.ts";
import {
  AF_INET,
  ERRNO_NUMBERS,
  IP_MTU,
  IP_MTU_DISCOVER,
  IP_PMTUDISC_DO,
  IP_PMTUDISC_DONT,
  IPPROTO_IP,
  SO_ERROR,
  SOCK_DGRAM,
  SocketTable,
  SOL_SOCKET,
} from "../../stack/socket.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { NetRoute } from "../../net/network_layer.ts";
import { HEADROOM_BYTES } from "../../core/packet_buffer.ts";
import type { NetError } from "../../net/network_layer.ts";
import { NET_ERR_TOO_BIG } from "../../net/network_layer.ts";

const A6 = IpAddress.parse("fd00:5::1");
const B6 = IpAddress.parse("fd00:5::2");

/** Move `bytes` c → s through the router (pumping its errors); returns false on timeout. */
function transfer(
  net: SimNet,
  router: SimRouter,
  c: TcpEndpoint,
  s: TcpEndpoint,
  bytes: number,
  ms: number,
): boolean {
  const flow = new BulkFlow(c, s, bytes);
  return net.run(() => (router.pump(), flow.step()), ms);
}

Deno.test("pmtu: fragmentation needed lowers the path MTU and the MSS of every connection to it, resent at once", () => {
  const net = makeSimNet({ wire: { seed: 7, delayMs: 1 } });
  const one = connectPair(net, 5001);
  const two = connectPair(net, 5002);
  assert.equal(one.c.snd.mss, 1448);
  const router = new SimRouter(net, { mtu: 1200 });
  assert.ok(transfer(net, router, one.c, one.s, 300_000, 2000), "300 kB through the router");
  const a = net.a.stats;
  assert.ok(router.dropped >= 1 && router.answered >= 1);
  assert.ok(a.icmp.InFragNeeded >= 1, "IcmpInFragNeeded");
  assert.equal(a.pmtu.Updates, 1, "one lowering; later errors say nothing new");
  assert.equal(net.a.pmtu.mtuFor(ADDR_B, 1500), 1200);
  assert.equal(one.c.snd.mss, 1200 - 40 - 12);
  // The segments the router dropped went out again at the new size at once, not after an RTO.
  assert.equal(a.tcp.TCPTimeouts, 0, "no retransmission timeout");
  // The second connection to the same destination sends small segments from its first one:
  // the router drops nothing of it and never has to tell it.
  const dropped = router.dropped;
  const passedBefore = router.passed.length;
  assert.ok(transfer(net, router, two.c, two.s, 100_000, 2000));
  assert.equal(router.dropped, dropped, "nothing of the second connection was too big");
  assert.equal(two.c.snd.mss, 1200 - 40 - 12);
  assert.ok(router.passed.slice(passedBefore).every((n) => n <= 1200));
  assert.equal(a.tcp.TCPPathMtuLowered, 2, "both connections' MSS went down");
  // ... before it built a single segment too big (else the IPv4 layer refuses it locally).
  assert.equal(a.ip.FragFails, 0);
  assert.equal(a.tcp.TCPTimeouts, 0);
  // A connection opened now starts at the path's MSS.
  const three = connectPair(net, 5003);
  assert.equal(three.c.snd.mss, 1200 - 40 - 12);
  assert.equal(three.c.rcv.advMss, 1460, "what we advertise follows our link, as Linux's advmss");
});

Deno.test("pmtu: an error quoting a sequence number not in flight is not believed (RFC 5927 §4.1)", () => {
  const net = makeSimNet({ wire: { seed: 8, delayMs: 1 } });
  const { c, s } = connectPair(net);
  const router = new SimRouter(net, { mtu: 1500, silent: true });
  assert.ok(transfer(net, router, c, s, 50_000, 2000));
  // A forged error: a big segment of this connection, its sequence number long acknowledged.
  const frame = new Uint8Array(14 + 1500);
  frame.set([2, 0, 0, 0, 0, 0xa], 6);
  frame[14] = 0x45;
  frame[16] = 1500 >> 8;
  frame[17] = 1500 & 0xff;
  frame[20] = 0x40;
  frame[23] = 6;
  const v = new DataView(frame.buffer);
  v.setUint32(14 + 12, ADDR_A.v4);
  v.setUint32(14 + 16, ADDR_B.v4);
  v.setUint16(34, c.localPort);
  v.setUint16(36, c.remotePort);
  v.setUint32(38, (c.snd.sndUna - 40_000) >>> 0);
  const inject = (f: Uint8Array) => {
    router.send(f);
    router.advance(5);
  };
  inject(router.fragNeeded(frame, 1000));
  assert.equal(net.a.stats.icmp.InFragNeeded, 1);
  assert.equal(net.a.pmtu.size, 0, "not believed: the cache is untouched");
  assert.equal(c.snd.mss, 1448);
  // The same error quoting SND.UNA with data in flight is believed.
  c.write(new Uint8Array(20_000), 0, 20_000);
  net.a.tick();
  v.setUint32(38, c.snd.sndUna);
  inject(router.fragNeeded(frame, 1000));
  assert.equal(net.a.pmtu.mtuFor(ADDR_B, 1500), 1000);
  assert.equal(c.snd.mss, 1000 - 40 - 12);
});

Deno.test("pmtu: an RFC 792 router's missing MTU is the plateau below the datagram (RFC 1191 §5)", () => {
  const net = makeSimNet({ wire: { seed: 9, delayMs: 1 } });
  const { c, s } = connectPair(net);
  const router = new SimRouter(net, { mtu: 1400, reportedMtu: 0 });
  assert.ok(transfer(net, router, c, s, 200_000, 3000));
  // 1500 → 1492 (still too big for the router) → 1006, which passes.
  assert.equal(net.a.pmtu.mtuFor(ADDR_B, 1500), 1006);
  assert.equal(net.a.stats.pmtu.Updates, 2);
  assert.ok(net.a.stats.pmtu.PlateauGuesses >= 2);
  assert.equal(c.snd.mss, 1006 - 40 - 12);
});

Deno.test("pmtu: the entry expires after 10 minutes and full-sized segments are tried again", () => {
  const net = makeSimNet({ wire: { seed: 10, delayMs: 1 } });
  const { c, s } = connectPair(net);
  const router = new SimRouter(net, { mtu: 1200 });
  assert.ok(transfer(net, router, c, s, 100_000, 2000));
  assert.equal(c.snd.mss, 1200 - 40 - 12);
  router.opts.mtu = 1500; // the path is wide again; only the expiry can tell
  router.advance(590_000);
  router.passed.length = 0;
  assert.ok(transfer(net, router, c, s, 50_000, 2000));
  assert.equal(c.snd.mss, 1200 - 40 - 12, "still lowered before 10 minutes");
  assert.ok(router.passed.every((n) => n <= 1200));
  router.advance(10_000);
  assert.ok(transfer(net, router, c, s, 50_000, 2000));
  assert.equal(net.a.stats.pmtu.Expired, 1);
  assert.equal(net.a.pmtu.size, 0);
  assert.equal(c.snd.mss, 1448, "back to the full MSS");
  assert.ok(router.passed.some((n) => n === 1500), "full-sized segments again");
});

Deno.test("pmtu: a black hole (a router dropping big segments silently) is survived at a smaller MSS", () => {
  const run = (mtuProbing: boolean) => {
    const net = makeSimNet({ wire: { seed: 11, delayMs: 1 }, tcpA: { mtuProbing } });
    const { c, s } = connectPair(net);
    const router = new SimRouter(net, { mtu: 1200, silent: true });
    const ok = transfer(net, router, c, s, 100_000, 30_000);
    return { ok, net, c, router };
  };
  const on = run(true);
  assert.ok(on.ok, "the transfer completes");
  const st = on.net.a.stats.tcp;
  assert.equal(st.TCPMTUPFail, 1, "one fallback");
  assert.equal(st.TCPMTUPSuccess, 1, "confirmed by an ACK");
  assert.equal(on.c.snd.mss, 1024);
  assert.ok(st.TCPTimeouts >= 3);
  assert.equal(on.net.a.pmtu.size, 0, "no ICMP: the shared cache knows nothing");
  const off = run(false);
  assert.ok(!off.ok, "without black-hole detection the transfer stalls");
  assert.equal(off.net.a.stats.tcp.TCPMTUPFail, 0);
});

Deno.test("pmtu: UDP is fragmented to the cached path MTU, DF clear", () => {
  const net = makeSimNet({ wire: { seed: 12, delayMs: 1 } });
  const sa = new SocketTable(net.a);
  const sb = new SocketTable(net.b);
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  const fb = sb.socket(AF_INET, SOCK_DGRAM);
  sa.bind(fa, "0.0.0.0", 4000);
  sb.bind(fb, "198.18.0.2", 5000);
  const router = new SimRouter(net, { mtu: 1500 });
  const frames: Uint8Array[] = [];
  net.wire.setFrameHook(net.portA, (f, len) => (frames.push(f.slice(0, len)), 0));
  sa.sendto(fa, new Uint8Array(1000), "198.18.0.2", 5000);
  router.advance(5);
  const udp = frames.find((f) => f[23] === 17)!;
  assert.equal(udp[20] & 0x40, 0, "UDP goes without DF");
  // A router reports a 900-byte next hop for it (as one would with DF set, or a tunnel).
  router.send(router.fragNeeded(udp, 900));
  router.advance(5);
  assert.equal(net.a.pmtu.mtuFor(ADDR_B, 1500), 900);
  frames.length = 0;
  const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  sa.sendto(fa, data, "198.18.0.2", 5000);
  router.advance(5);
  const sizes = frames.filter((f) => f[23] === 17).map((f) => f.length - 14);
  // 3008 bytes of UDP in slices of (900 − 20) & ~7 = 880: three full fragments and the rest.
  assert.deepEqual(sizes, [900, 900, 900, 20 + 3008 - 3 * 880]);
  const buf = new Uint8Array(4000);
  assert.equal(sb.recvfrom(fb, buf).bytes, 1000);
  assert.equal(sb.recvfrom(fb, buf).bytes, 3000);
  assert.deepEqual(buf.subarray(0, 3000), data);
  assert.equal(net.a.stats.udp.OutDatagrams, 2);
});

Deno.test("pmtu: UDP with IP_MTU_DISCOVER = DO sends DF, refuses what exceeds the path (EMSGSIZE), reads IP_MTU", () => {
  const net = makeSimNet({ wire: { seed: 15, delayMs: 1 } });
  const sa = new SocketTable(net.a);
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  sa.setsockopt(fa, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
  assert.equal(sa.getsockopt(fa, IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_DO);
  assert.throws(() => sa.getsockopt(fa, IPPROTO_IP, IP_MTU), { code: "ENOTCONN" });
  sa.connect(fa, "198.18.0.2", 5000);
  assert.equal(sa.getsockopt(fa, IPPROTO_IP, IP_MTU), 1500);
  const router = new SimRouter(net, { mtu: 1500 });
  const frames: Uint8Array[] = [];
  net.wire.setFrameHook(net.portA, (f, len) => (frames.push(f.slice(0, len)), 0));
  sa.write(fa, new Uint8Array(1472));
  assert.throws(() => sa.write(fa, new Uint8Array(1473)), { code: "EMSGSIZE" });
  router.advance(5);
  const udp = frames.find((f) => f[23] === 17)!;
  assert.equal(udp[20] & 0x40, 0x40, "DF set");
  // A router with a 1400-byte next hop says so: the connected socket hears EMSGSIZE, and its
  // path MTU is 1400 from now on.
  router.send(router.fragNeeded(udp, 1400));
  router.advance(5);
  assert.equal(sa.getsockopt(fa, SOL_SOCKET, SO_ERROR), ERRNO_NUMBERS.EMSGSIZE);
  assert.equal(sa.getsockopt(fa, IPPROTO_IP, IP_MTU), 1400);
  assert.throws(() => sa.write(fa, new Uint8Array(1400 - 28 + 1)), { code: "EMSGSIZE" });
  assert.equal(sa.write(fa, new Uint8Array(1400 - 28)), 1400 - 28);
  // Without DF the same datagram is fragmented to the path MTU instead.
  sa.setsockopt(fa, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT);
  assert.equal(sa.write(fa, new Uint8Array(1472)), 1472);
});

for (const family of [4, 6] as const) {
  Deno.test(`pmtu: a DF datagram over the path MTU is refused locally with a too-big to its sender (IPv${family})`, () => {
    const net = makeSimNet({ wire: { seed: 13, delayMs: 1 } });
    net.a.ipv6.addAddress(1, A6, 64);
    net.b.ipv6.addAddress(1, B6, 64);
    net.advance(2500);
    const [src, dst] = family === 4 ? [ADDR_A, ADDR_B] : [A6, B6];
    const errors: NetError[] = [];
    const layer = net.a.networks.of(dst);
    layer.registerHandler(253, {
      receive() {},
      receiveError(err) {
        errors.push(Object.assign({}, err));
      },
    });
    const r = new NetRoute();
    assert.ok(layer.route(dst, r));
    const pb = net.a.pool.alloc(HEADROOM_BYTES)!;
    pb.append(2000);
    let sent = 0;
    net.wire.setFrameHook(net.portA, (f) => ((f[23] === 253 || f[20] === 253) && sent++, 0));
    assert.equal(layer.send(pb, r, src, dst, 253, 64, 0, true, null), false);
    assert.equal(family === 4 ? net.a.stats.ip.FragFails : net.a.stats.ip6.FragFails, 1);
    net.advance(2);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, NET_ERR_TOO_BIG);
    assert.equal(errors[0].mtu, 1500);
    assert.equal(sent, 0, "nothing went on the wire");
    assert.equal(net.a.pool.inUse, 0);
  });
}

Deno.test("pmtu6: packet too big lowers the MSS of every IPv6 connection to the destination", () => {
  const net = makeSimNet({ wire: { seed: 14, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  net.advance(2500);
  const l = net.tcpB.listen(null, 80, 8);
  const pair = () => {
    const c = net.tcpA.connect(B6, 80);
    let s: TcpEndpoint | null = null;
    assert.ok(net.run(() => (s ??= l.accept()) !== null, 5000));
    return { c, s: s! };
  };
  const one = pair();
  const two = pair();
  const router = new SimRouter(net, { mtu: 1280 });
  assert.ok(transfer(net, router, one.c, one.s, 200_000, 2000));
  assert.equal(net.a.pmtu.mtuFor(B6, 1500), 1280);
  assert.equal(one.c.snd.mss, 1280 - 60 - 12);
  assert.equal(net.a.stats.tcp.TCPTimeouts, 0);
  const dropped = router.dropped;
  assert.ok(transfer(net, router, two.c, two.s, 100_000, 2000));
  assert.equal(router.dropped, dropped);
  assert.equal(two.c.snd.mss, 1280 - 60 - 12);
});
