// TCP over IPv6, and dual-stack listeners, between two stacks on the in-memory wire: the
// same TCP as over IPv4, with MSS = MTU − 60, IPv4-mapped peers on a dual-stack listener,
// IPV6_V6ONLY, link-local connections, packet too big lowering the MSS end to end, and an
// unreachable neighbour failing a connect with EHOSTUNREACH.

import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, makeSimNet } from "../harness/sim_net.ts";
import { drain, icmpv6, inject, ipv6Frame, type SeenFrame } from "../harness/ipv6_frames.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { TcpState } from "../../transport/tcp/state.ts";

const A6 = IpAddress.parse("fd00:5::1");
const B6 = IpAddress.parse("fd00:5::2");

function setup(seed = 51) {
  const net = makeSimNet({ wire: { seed, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  net.advance(2500);
  return net;
}

/** Accept one connection from `l` once the handshake completed. */
function accept(net: ReturnType<typeof setup>, l: ReturnType<typeof net.tcpB.listen>) {
  let s: TcpEndpoint | null = null;
  assert.ok(net.run(() => (s = l.accept()) !== null, 5000), "accepted");
  return s!;
}

/** Send `data` c→s and read it back at s; returns what s read. */
function pump(
  net: ReturnType<typeof setup>,
  c: TcpEndpoint,
  s: TcpEndpoint,
  data: Uint8Array,
): Uint8Array {
  const got = new Uint8Array(data.length);
  let written = 0;
  let read = 0;
  const ok = net.run(() => {
    if (written < data.length) written += c.write(data, written, data.length - written);
    const n = s.read(got, read, got.length - read);
    if (n > 0) read += n;
    return read === data.length;
  }, 60_000);
  assert.ok(ok, `read ${read} of ${data.length}`);
  return got;
}

const pattern = (n: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >>> 10)) & 0xff);

Deno.test("sim tcp6: 1 MiB byte-exact both ways; MSS is MTU − 60 (with timestamps MTU − 72)", () => {
  const net = setup();
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(B6, 80);
  const s = accept(net, l);
  assert.equal(c.state, TcpState.ESTABLISHED);
  assert.equal(`${s.remoteAddr}`, "fd00:5::1");
  assert.equal(`${c.localAddr}`, "fd00:5::1");
  assert.equal(c.rcv.advMss, 1500 - 60);
  assert.equal(c.snd.mss, 1500 - 60 - 12);
  const data = pattern(1 << 20);
  assert.deepEqual(pump(net, c, s, data), data);
  assert.deepEqual(pump(net, s, c, data.subarray(0, 300_000)), data.subarray(0, 300_000));
  assert.equal(net.a.stats.tcp.InCsumErrors + net.b.stats.tcp.InCsumErrors, 0);
  assert.equal(net.a.stats.ip6.FragCreates, 0, "segments fit the MTU: no fragmentation");
  c.close();
  s.close();
  assert.ok(net.run(() => c.state === TcpState.TIME_WAIT || c.state === TcpState.CLOSED, 5000));
});

Deno.test("sim tcp6: a dual-stack listener takes both families; IPV6_V6ONLY only IPv6", () => {
  const net = setup();
  const l = net.tcpB.listen(null, 80, 8);
  const c4 = net.tcpA.connect(ADDR_B, 80);
  const s4 = accept(net, l);
  assert.equal(`${s4.remoteAddr}`, `${ADDR_A}`, "an IPv4 peer, held IPv4-mapped");
  assert.equal(s4.remoteAddr.family, 4);
  assert.equal(c4.rcv.advMss, 1460);
  const c6 = net.tcpA.connect(B6, 80);
  const s6 = accept(net, l);
  assert.equal(s6.remoteAddr.family, 6);
  void c6;
  const only6 = net.tcpB.listen(IpAddress.parse("::"), 81, 8, { v6only: true });
  const refused = net.tcpA.connect(ADDR_B, 81);
  assert.ok(net.run(() => refused.state === TcpState.CLOSED, 2000));
  assert.equal(refused.error, "ECONNREFUSED");
  const ok6 = net.tcpA.connect(B6, 81);
  accept(net, only6);
  assert.equal(ok6.state, TcpState.ESTABLISHED);
  // The IPv4 side of port 81 is still free for an IPv4 listener.
  net.tcpB.listen(IpAddress.parse("0.0.0.0"), 81, 8);
  assert.throws(() => net.tcpB.listen(null, 81, 8), { code: "EADDRINUSE" });
});

Deno.test("sim tcp6: a connection between link-local addresses", () => {
  const net = setup();
  const l = net.tcpB.listen(null, 22, 8);
  const llB = net.b.ipv6.iface(1).linkLocal;
  const c = net.tcpA.connect(llB, 22, { zoneNic: 1 });
  const s = accept(net, l);
  assert.equal(`${c.localAddr}`, `${net.a.ipv6.iface(1).linkLocal}`);
  assert.equal(`${s.localAddr}`, `${llB}`);
  const data = pattern(10_000);
  assert.deepEqual(pump(net, c, s, data), data);
});

Deno.test("sim tcp6: a packet too big from a router lowers the path MTU and TCP's segment size", () => {
  const net = setup();
  const routerMac = new Uint8Array([2, 0, 0, 0, 0, 0x77]);
  const router = net.wire.endpoint("r0", routerMac);
  const seen: SeenFrame[] = [];
  const advance = (ms: number) => net.run(() => (seen.push(...drain(router)), false), ms);
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(B6, 80);
  let s: TcpEndpoint | null = null;
  net.run(() => (seen.push(...drain(router)), (s = l.accept()) !== null), 5000);
  c.write(pattern(20_000), 0, 20_000);
  advance(5);
  const full = seen.find((f) =>
    f.src === "fd00:5::1" && f.nextHeader === 6 && f.bytes.length > 1400
  );
  assert.ok(full !== undefined, "saw a full-sized segment");
  const rtr = IpAddress.parse("fd00:5::77");
  // The router dropped this segment: it quotes it, with a sequence number still unacknowledged
  // (RFC 5927 §4.1: errors about data no longer in flight are not believed).
  const quote = full.bytes.slice(14, 14 + 1232);
  new DataView(quote.buffer).setUint32(40 + 4, c.snd.sndUna);
  inject(
    router,
    ipv6Frame({
      srcMac: routerMac,
      dstMac: new Uint8Array([2, 0, 0, 0, 0, 0xa]),
      src: rtr,
      dst: A6,
      nextHeader: 58,
      payload: icmpv6(rtr, A6, 2, 0, 1280, quote),
    }),
  );
  advance(5);
  assert.equal(net.a.stats.icmp6.InPktTooBigs, 1);
  assert.equal(net.a.ipv6.pmtu.mtuFor(B6, 1500), 1280);
  assert.equal(c.snd.mss, 1280 - 60 - 12);
  seen.length = 0;
  c.write(pattern(20_000), 0, 20_000); // sent after the error: cut to the new segment size
  const got = new Uint8Array(40_000);
  let read = 0;
  assert.ok(net.run(() => {
    seen.push(...drain(router));
    const n = s!.read(got, read, got.length - read);
    if (n > 0) read += n;
    return read === 40_000;
  }, 10_000));
  assert.deepEqual(got.subarray(20_000), pattern(20_000));
  const sizes = seen.filter((f) => f.src === "fd00:5::1" && f.nextHeader === 6).map((f) =>
    f.bytes.length
  );
  assert.ok(sizes.length > 0 && sizes.every((n) => n <= 14 + 1280), `frame sizes ${sizes}`);
});

Deno.test("sim tcp6: a connect to an address nobody answers NDP for fails with EHOSTUNREACH", () => {
  const net = setup();
  const c = net.tcpA.connect(IpAddress.parse("fd00:5::99"), 80);
  assert.ok(net.run(() => c.state === TcpState.CLOSED, 10_000));
  assert.equal(c.error, "EHOSTUNREACH");
  assert.equal(net.a.stats.ndp.ResolveFailed, 1);
});
