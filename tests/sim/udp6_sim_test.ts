// UDP over IPv6 and dual-stack sockets, two stacks on the in-memory wire: sizes up to source
// fragmentation, IPv4-mapped peers on AF_INET6 sockets, IPV6_V6ONLY, bind conflicts across
// families, ICMPv6 port unreachable → ECONNREFUSED, and the mandatory IPv6 UDP checksum.

import assert from "node:assert/strict";
import { makeSimNet } from "../harness/sim_net.ts";
import { drain, inject, ipv6Frame, type SeenFrame, udp6 } from "../harness/ipv6_frames.ts";
import { IpAddress } from "../../net/ip_address.ts";
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SOCK_DGRAM,
  SocketTable,
} from "../../stack/socket.ts";
import { errnoOf } from "../harness/errno.ts";

const A6 = "fd00:5::1";
const B6 = "fd00:5::2";

function setup() {
  const net = makeSimNet({ wire: { seed: 41, delayMs: 1 } });
  net.a.ipv6.addAddress(1, IpAddress.parse(A6), 64);
  net.b.ipv6.addAddress(1, IpAddress.parse(B6), 64);
  net.advance(2500);
  return { net, sa: new SocketTable(net.a), sb: new SocketTable(net.b) };
}

const pattern = (len: number, seed: number) =>
  Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff);

Deno.test("sim udp6: 1, 1232 and 8000 bytes echoed byte-exact (8000 fragmented at MTU 1500)", () => {
  const { net, sa, sb } = setup();
  const fa = sa.socket(AF_INET6, SOCK_DGRAM);
  const fb = sb.socket(AF_INET6, SOCK_DGRAM);
  sb.bind(fb, "::", 7);
  const buf = new Uint8Array(65536);
  for (const [i, len] of [1, 1232, 8000].entries()) {
    const data = pattern(len, i);
    assert.equal(sa.sendto(fa, data, B6, 7), len);
    net.advance(20);
    const r = sb.recvfrom(fb, buf);
    assert.equal(r.addr, A6);
    assert.equal(r.bytes, len);
    sb.sendto(fb, buf.subarray(0, r.bytes), r.addr, r.port);
    net.advance(20);
    const back = sa.recvfrom(fa, buf);
    assert.equal(back.addr, B6);
    assert.equal(back.port, 7);
    assert.deepEqual(buf.subarray(0, back.bytes), data);
  }
  assert.equal(net.a.stats.ip6.FragCreates, 6);
  assert.equal(net.b.stats.ip6.ReasmOKs, 1);
  assert.equal(net.a.stats.udp.InCsumErrors + net.b.stats.udp.InCsumErrors, 0);
  assert.equal(sa.getsockname(fa).addr, "::");
});

Deno.test("sim udp6: a dual-stack socket sees IPv4 peers IPv4-mapped; IPV6_V6ONLY does not", () => {
  const { net, sa, sb } = setup();
  const dual = sb.socket(AF_INET6, SOCK_DGRAM);
  sb.bind(dual, "::", 5353);
  const f4 = sa.socket(AF_INET, SOCK_DGRAM);
  sa.sendto(f4, pattern(10, 1), "198.18.0.2", 5353);
  net.advance(20);
  const buf = new Uint8Array(100);
  const r = sb.recvfrom(dual, buf);
  assert.equal(r.addr, "::ffff:198.18.0.1");
  sb.sendto(dual, buf.subarray(0, r.bytes), r.addr, r.port);
  net.advance(20);
  assert.equal(sa.recvfrom(f4, buf).addr, "198.18.0.2");
  sb.close(dual);
  const v6only = sb.socket(AF_INET6, SOCK_DGRAM);
  sb.setsockopt(v6only, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  sb.bind(v6only, "::", 5353);
  sa.sendto(f4, pattern(10, 2), "198.18.0.2", 5353);
  net.advance(20);
  assert.equal(errnoOf(() => sb.recvfrom(v6only, buf)), "EAGAIN");
  assert.equal(net.b.stats.udp.NoPorts, 1);
  // ... while an AF_INET socket may take the IPv4 side of the same port.
  const f4b = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(f4b, "0.0.0.0", 5353);
  assert.equal(errnoOf(() => sb.setsockopt(v6only, IPPROTO_IPV6, IPV6_V6ONLY, 0)), "EINVAL");
});

Deno.test("sim udp6: binding conflicts across families follow Linux", () => {
  const { sb } = setup();
  const dual = sb.socket(AF_INET6, SOCK_DGRAM);
  sb.bind(dual, "::", 6000);
  const v4 = sb.socket(AF_INET, SOCK_DGRAM);
  assert.equal(errnoOf(() => sb.bind(v4, "0.0.0.0", 6000)), "EADDRINUSE");
  assert.equal(errnoOf(() => sb.bind(v4, "198.18.0.2", 6000)), "EADDRINUSE");
  const v6 = sb.socket(AF_INET6, SOCK_DGRAM);
  assert.equal(errnoOf(() => sb.bind(v6, B6, 6000)), "EADDRINUSE");
  sb.bind(v4, "0.0.0.0", 6001);
  sb.bind(v6, B6, 6001); // the IPv4 wildcard does not cover IPv6 addresses
  const dual2 = sb.socket(AF_INET6, SOCK_DGRAM);
  assert.equal(errnoOf(() => sb.bind(dual2, "::", 6001)), "EADDRINUSE");
  assert.equal(errnoOf(() => sb.bind(dual2, "fd00:5::77", 6002)), "EADDRNOTAVAIL");
  assert.equal(errnoOf(() => sb.bind(v4, B6, 6003)), "EINVAL", "an IPv6 address on AF_INET");
  const v4only = sb.socket(AF_INET, SOCK_DGRAM);
  assert.equal(errnoOf(() => sb.sendto(v4only, new Uint8Array(1), B6, 9)), "EINVAL");
});

Deno.test("sim udp6: ICMPv6 port unreachable makes a connected socket report ECONNREFUSED", () => {
  const { net, sa } = setup();
  const fa = sa.socket(AF_INET6, SOCK_DGRAM);
  sa.connect(fa, B6, 9999);
  sa.write(fa, pattern(4, 1));
  net.advance(50);
  assert.equal(net.b.stats.icmp6.OutDestUnreachs, 1);
  assert.equal(net.a.stats.icmp6.InDestUnreachs, 1);
  assert.equal(errnoOf(() => sa.read(fa, new Uint8Array(10))), "ECONNREFUSED");
  assert.equal(sa.getpeername(fa).addr, B6);
  assert.equal(sa.getsockname(fa).addr, A6);
});

Deno.test("sim udp6: link-local peers; a zero checksum over IPv6 is dropped (RFC 8200 §8.1)", () => {
  const { net, sb } = setup();
  const fb = sb.socket(AF_INET6, SOCK_DGRAM);
  sb.bind(fb, "::", 7);
  const host = net.wire.endpoint("h0", new Uint8Array([2, 0, 0, 0, 0, 0x77]));
  const seen: SeenFrame[] = [];
  const advance = (ms: number) => net.run(() => (seen.push(...drain(host)), false), ms);
  const src = IpAddress.parse("fe80::77");
  const dst = net.b.ipv6.iface(1).linkLocal;
  const bMac = new Uint8Array([2, 0, 0, 0, 0, 0xb]);
  const send = (payload: Uint8Array) =>
    inject(host, ipv6Frame({ srcMac: host.mac, dstMac: bMac, src, dst, nextHeader: 17, payload }));
  const good = udp6(src, dst, 4000, 7, pattern(5, 3));
  send(good);
  advance(20);
  const buf = new Uint8Array(16);
  const r = sb.recvfrom(fb, buf);
  assert.equal(r.addr, "fe80::77");
  assert.equal(r.bytes, 5);
  const zero = good.slice();
  zero[6] = zero[7] = 0;
  send(zero);
  advance(20);
  assert.equal(net.b.stats.udp.InCsumErrors, 1);
  assert.equal(errnoOf(() => sb.recvfrom(fb, buf)), "EAGAIN");
});
