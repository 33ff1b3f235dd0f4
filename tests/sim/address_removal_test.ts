// Taking an address off a NIC (`Ipv4Layer.removeAddress`, `Ipv6Layer.removeAddress`), two
// stacks on the in-memory wire: the address stops being local (nothing to it is delivered, new
// binds fail EADDRNOTAVAIL), routes follow (a secondary address is promoted; an IPv6 static
// prefix goes with its last address), existing sockets are neither closed nor reset, the
// address listeners hear it, and removing what is not there is EADDRNOTAVAIL.

import assert from "node:assert/strict";
import { makeSimNet } from "../harness/sim_net.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import type { StackError } from "../../core/errors.ts";
import { AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, SocketTable } from "../../stack/socket.ts";
import { errnoOf } from "../harness/errno.ts";

const B2 = parseIpv4("198.18.0.2");
const B3 = parseIpv4("198.18.0.3");

Deno.test("sim address removal: an IPv4 address stops being local; sockets on it stay", () => {
  const net = makeSimNet({ wire: { seed: 7, delayMs: 1 } });
  const sa = new SocketTable(net.a);
  const sb = new SocketTable(net.b);
  net.b.ipv4.addAddress(1, B3, 24); // secondary: the connected route keeps .2 as source
  const heard: [number, number, string][] = [];
  net.b.ipv4.addAddressListener((addr, nic, event) => heard.push([addr, nic, event]));
  // A UDP sink on the wildcard, one bound to .3, and a TCP connection to .3.
  const sink = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(sink, "0.0.0.0", 5000);
  const on3 = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(on3, "198.18.0.3", 5001);
  const lis = sb.socket(AF_INET, SOCK_STREAM);
  sb.bind(lis, "0.0.0.0", 80);
  sb.listen(lis);
  const cli = sa.socket(AF_INET, SOCK_STREAM);
  try {
    sa.connect(cli, "198.18.0.3", 80);
  } catch (e) {
    assert.equal((e as StackError).code, "EINPROGRESS");
  }
  const tx = sa.socket(AF_INET, SOCK_DGRAM);
  sa.sendto(tx, new Uint8Array(10), "198.18.0.3", 5000);
  net.advance(50);
  const buf = new Uint8Array(100);
  assert.equal(sb.recvfrom(sink, buf).bytes, 10, "delivered while .3 is ours");
  const conn = sb.accept(lis);
  assert.equal(sb.tcpInfo(conn).state, "ESTABLISHED");

  net.b.ipv4.removeAddress(1, B3);
  assert.deepEqual(heard, [[B3, 1, "removed"]]);
  assert.equal(net.b.ipv4.isLocalAddress(B3), false);
  assert.equal(net.b.ipv4.isLocalAddress(B2), true);
  assert.deepEqual(net.b.ipv4.addresses().map((a) => a.addr), [B2]);
  assert.deepEqual(
    net.b.ipv4.routes.list().map((r) => [r.dest, r.prefixLen, r.source]),
    [[parseIpv4("198.18.0.0"), 24, B2]],
    "the connected route (sourced from the primary) stays",
  );
  // Nothing to .3 is delivered any more (the peer's ARP entry still names b's MAC).
  const addrErrors = net.b.stats.ip.InAddrErrors;
  sa.sendto(tx, new Uint8Array(10), "198.18.0.3", 5000);
  net.advance(50);
  assert.equal(errnoOf(() => sb.recvfrom(sink, buf)), "EAGAIN");
  assert.equal(net.b.stats.ip.InAddrErrors, addrErrors + 1);
  // Sockets on it are neither closed nor reset; new ones cannot take it.
  assert.equal(sb.getsockname(on3).addr, "198.18.0.3");
  assert.equal(sb.tcpInfo(conn).state, "ESTABLISHED");
  assert.equal(sb.getsockname(conn).addr, "198.18.0.3");
  // What it sends still leaves from the address (its cached route); the answers are dropped.
  assert.equal(sb.write(conn, new Uint8Array([42])), 1);
  net.advance(50);
  assert.equal(sa.read(cli, buf), 1, "the peer got the byte");
  assert.ok(net.b.stats.ip.InAddrErrors > addrErrors + 1, "its ACK to .3 was dropped");
  assert.equal(sb.tcpInfo(conn).state, "ESTABLISHED");
  const late = sb.socket(AF_INET, SOCK_DGRAM);
  assert.equal(errnoOf(() => sb.bind(late, "198.18.0.3", 5002)), "EADDRNOTAVAIL");
  // Misuse: not there (any more), or not on that NIC.
  assert.equal(errnoOf(() => net.b.ipv4.removeAddress(1, B3)), "EADDRNOTAVAIL");
  assert.equal(errnoOf(() => net.b.ipv4.removeAddress(2, B2)), "EADDRNOTAVAIL");
  assert.equal(heard.length, 1, "a refused removal is not announced");
});

Deno.test("sim address removal: the primary IPv4 address's routes pass to a secondary", () => {
  const net = makeSimNet({ wire: { seed: 8, delayMs: 1 } });
  const ip = net.b.ipv4;
  ip.addAddress(1, B3, 24);
  ip.setDefaultGateway(parseIpv4("198.18.0.1"));
  const routes = () => ip.routes.list().map((r) => [r.prefixLen, r.gateway, r.source]);
  assert.deepEqual(routes(), [[24, 0, B2], [0, parseIpv4("198.18.0.1"), B2]]);
  ip.removeAddress(1, B2);
  assert.deepEqual(routes(), [[24, 0, B3], [0, parseIpv4("198.18.0.1"), B3]], "promoted");
  assert.equal(ip.primaryAddressOn(1), B3);
  ip.removeAddress(1, B3);
  assert.deepEqual(routes(), [], "the last address takes its routes");
  assert.equal(ip.addresses().length, 0);
  // The address can come back.
  ip.addAddress(1, B2, 24);
  assert.deepEqual(routes(), [[24, 0, B2]]);
});

Deno.test("sim address removal: an IPv6 address stops being local; its static prefix goes last", () => {
  const net = makeSimNet({ wire: { seed: 9, delayMs: 1 } });
  const ip6 = net.b.ipv6;
  const a2 = IpAddress.parse("fd00:5::2");
  const a3 = IpAddress.parse("fd00:5::3");
  net.a.ipv6.addAddress(1, IpAddress.parse("fd00:5::1"), 64);
  ip6.addAddress(1, a2, 64);
  ip6.addAddress(1, a3, 64);
  net.advance(2500); // DAD
  const heard: string[] = [];
  ip6.addAddressListener((a, event) => heard.push(`${a.addr} ${event}`));
  const sb = new SocketTable(net.b);
  const sa = new SocketTable(net.a);
  const sink = sb.socket(AF_INET6, SOCK_DGRAM);
  sb.bind(sink, "::", 5000);
  const tx = sa.socket(AF_INET6, SOCK_DGRAM);
  sa.sendto(tx, new Uint8Array(10), "fd00:5::3", 5000);
  net.advance(50);
  const buf = new Uint8Array(100);
  assert.equal(sb.recvfrom(sink, buf).bytes, 10);

  ip6.removeAddress(1, a3);
  assert.deepEqual(heard, ["fd00:5::3 removed"]);
  assert.equal(ip6.isLocalAddress(a3), false);
  assert.equal(ip6.isLocalAddress(a2), true);
  const prefixes = () => ip6.routes.prefixes().map((p) => `${p.prefix}/${p.prefixLen}`);
  assert.deepEqual(prefixes(), ["fd00:5::/64"], "fd00:5::2 still holds the prefix");
  sa.sendto(tx, new Uint8Array(10), "fd00:5::3", 5000);
  net.advance(50);
  assert.equal(errnoOf(() => sb.recvfrom(sink, buf)), "EAGAIN", "not delivered");
  const late = sb.socket(AF_INET6, SOCK_DGRAM);
  assert.equal(errnoOf(() => sb.bind(late, "fd00:5::3", 5002)), "EADDRNOTAVAIL");
  assert.equal(errnoOf(() => ip6.removeAddress(1, a3)), "EADDRNOTAVAIL");
  ip6.removeAddress(1, a2);
  assert.deepEqual(prefixes(), [], "the last static address takes the prefix");
  assert.deepEqual(heard, ["fd00:5::3 removed", "fd00:5::2 removed"]);
  // The link-local address stays (it was not asked for).
  assert.equal(ip6.iface(1).addresses.list().map((a) => a.origin).join(), "link-local");
});
