// Two stacks on the in-memory wire with a virtual clock, talking UDP through the socket API:
// sizes up to fragmentation, queue bounds, ephemeral ports, bind conflicts, connected-peer
// filtering, ECONNREFUSED, broadcast, and the `serve --udp-echo` service.

import assert from "node:assert/strict";
import { UdpEchoService } from "../../cli/serve.ts";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { SimWire } from "../../link/sim_wire.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import type { StackError } from "../../core/errors.ts";
import {
  AF_INET,
  POLLERR,
  POLLIN,
  SO_BROADCAST,
  SO_ERROR,
  SO_RCVBUF,
  SOCK_DGRAM,
  SocketTable,
  SOL_SOCKET,
} from "../../stack/socket.ts";
import { Stack, type StackOptions } from "../../stack/stack.ts";
import { errnoOf } from "../harness/errno.ts";

const A = "198.18.0.1";
const B = "198.18.0.2";

function twoStacks(opts: { a?: StackOptions; b?: StackOptions; seed?: number } = {}) {
  const clock = new VirtualClock(1000);
  const wire = new SimWire({ clock, seed: opts.seed ?? 1, delayMs: 1 });
  const a = new Stack({ clock, poolBuffers: 128, ...opts.a });
  const b = new Stack({ clock, poolBuffers: 128, ...opts.b });
  const na = a.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1])));
  const nb = b.addNic(wire.endpoint("b", new Uint8Array([2, 0, 0, 0, 0, 2])));
  a.ipv4.addAddress(na.index, parseIpv4(A), 24);
  b.ipv4.addAddress(nb.index, parseIpv4(B), 24);
  /** Run both stacks until `until()` or `maxMs` of virtual time pass. */
  const run = (maxMs: number, until: () => boolean = () => false) => {
    const end = clock.nowMs() + maxMs;
    while (!until() && clock.nowMs() < end) {
      a.tick();
      b.tick();
      // Output produced by readiness callbacks at the end of a tick goes out on the next one.
      if (a.hasPendingWork || b.hasPendingWork) continue;
      const next = Math.min(wire.nextEventMs(), a.nextDeadlineMs(), b.nextDeadlineMs(), end);
      clock.set(Math.max(clock.nowMs() + 0.1, next));
    }
  };
  return { clock, wire, a, b, sa: new SocketTable(a), sb: new SocketTable(b), run };
}

function pattern(len: number, seed: number): Uint8Array {
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (i * 31 + seed) & 0xff;
  return d;
}

Deno.test("sim udp: datagrams of 0, 1, 1472 and 8000 bytes cross both ways byte-exact", () => {
  const { a, b, sa, sb, run } = twoStacks();
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  const fb = sb.socket(AF_INET, SOCK_DGRAM);
  sa.bind(fa, "0.0.0.0", 0);
  sb.bind(fb, B, 5000);
  const portA = sa.getsockname(fa).port;
  assert.ok(portA >= 32768 && portA <= 60999, `ephemeral port ${portA}`);
  const buf = new Uint8Array(65536);
  for (const [i, len] of [0, 1, 1472, 8000].entries()) {
    const data = pattern(len, i);
    assert.equal(sa.sendto(fa, data, B, 5000), len);
    run(50, () => sb.poll(fb, POLLIN) !== 0);
    const r = sb.recvfrom(fb, buf);
    assert.deepEqual(r, { bytes: len, addr: A, port: portA, truncated: false });
    assert.deepEqual(buf.subarray(0, len), data);
    // And back, to the sender's ephemeral port.
    sb.sendto(fb, buf.subarray(0, len), r.addr, r.port);
    run(50, () => sa.poll(fa, POLLIN) !== 0);
    const back = sa.recvfrom(fa, buf);
    assert.deepEqual(back, { bytes: len, addr: B, port: 5000, truncated: false });
    assert.deepEqual(buf.subarray(0, len), data);
  }
  // 8000 bytes + 8 UDP = 8008 bytes of IP payload: 6 fragments of at most 1480 at MTU 1500.
  assert.equal(a.stats.ip.FragCreates, 6);
  assert.equal(b.stats.ip.ReasmOKs, 1);
  assert.equal(b.stats.ip.FragCreates, 6);
  assert.equal(a.stats.ip.ReasmOKs, 1);
  assert.equal(b.stats.udp.InDatagrams, 4);
  assert.equal(a.stats.udp.InDatagrams, 4);
  assert.equal(a.stats.udp.InCsumErrors + b.stats.udp.InCsumErrors, 0);
  assert.throws(() => sb.recvfrom(fb, buf), (e: StackError) => e.code === "EAGAIN");
  assert.equal(a.pool.inUse, 0);
  assert.equal(b.pool.inUse, 0);
});

Deno.test("sim udp: a datagram longer than the buffer is truncated and the rest discarded", () => {
  const { sa, sb, run } = twoStacks();
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  const fb = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(fb, "0.0.0.0", 5000);
  sa.sendto(fa, pattern(100, 1), B, 5000);
  sa.sendto(fa, pattern(3, 2), B, 5000);
  run(50);
  const small = new Uint8Array(10);
  const r = sb.recvfrom(fb, small);
  assert.equal(r.bytes, 10);
  assert.equal(r.truncated, true);
  assert.deepEqual(small, pattern(100, 1).subarray(0, 10));
  const r2 = sb.recvfrom(fb, small);
  assert.equal(r2.bytes, 3);
  assert.equal(r2.truncated, false);
  assert.deepEqual(small.subarray(0, 3), pattern(3, 2));
});

Deno.test("sim udp: the receive queue bound holds and overflow is counted in RcvbufErrors", () => {
  const { a, b, sa, sb, run } = twoStacks({ b: { udp: { maxQueuedDatagrams: 64 } } });
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  const fb = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(fb, "0.0.0.0", 5000);
  // Byte bound: SO_RCVBUF 4096 holds three 1000-byte datagrams, not five.
  sb.setsockopt(fb, SOL_SOCKET, SO_RCVBUF, 4096);
  assert.equal(sb.getsockopt(fb, SOL_SOCKET, SO_RCVBUF), 4096);
  const payload = pattern(1000, 7);
  sa.sendto(fa, payload, B, 5000); // resolves ARP first
  run(50, () => sb.poll(fb, POLLIN) !== 0);
  for (let i = 0; i < 9; i++) sa.sendto(fa, payload, B, 5000);
  run(50);
  const ep = b.udp;
  assert.equal(ep.sockets, 1);
  assert.equal(b.stats.udp.InDatagrams, 4);
  assert.equal(b.stats.udp.RcvbufErrors, 6);
  assert.equal(b.stats.udp.InErrors, 6);
  const buf = new Uint8Array(2000);
  let n = 0;
  for (;;) {
    try {
      sb.recvfrom(fb, buf);
      n++;
    } catch (e) {
      assert.equal((e as StackError).code, "EAGAIN");
      break;
    }
  }
  assert.equal(n, 4);
  // Count bound: 64 empty datagrams fit the bytes but not the 64-slot queue after 4 more.
  sb.setsockopt(fb, SOL_SOCKET, SO_RCVBUF, 1 << 20);
  const empty = new Uint8Array(0);
  for (let i = 0; i < 70; i++) sa.sendto(fa, empty, B, 5000);
  run(50);
  assert.equal(b.stats.udp.RcvbufErrors, 6 + 6);
  assert.equal(a.pool.inUse, 0);
});

Deno.test("sim udp: running out of ephemeral ports is a clear EADDRINUSE", () => {
  const { sa } = twoStacks({ a: { udp: { ephemeralPortRange: [40000, 40003] } } });
  const fds: number[] = [];
  const ports = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const fd = sa.socket(AF_INET, SOCK_DGRAM);
    sa.bind(fd, "0.0.0.0", 0);
    ports.add(sa.getsockname(fd).port);
    fds.push(fd);
  }
  assert.deepEqual([...ports].sort(), [40000, 40001, 40002, 40003]);
  const extra = sa.socket(AF_INET, SOCK_DGRAM);
  assert.throws(
    () => sa.bind(extra, "0.0.0.0", 0),
    (e: StackError) => e.code === "EADDRINUSE" && /no free ephemeral port/.test(e.message),
  );
  // An implicit bind (sendto on an unbound socket) fails the same way.
  assert.equal(errnoOf(() => sa.sendto(extra, new Uint8Array(1), B, 9)), "EADDRINUSE");
  // Closing one frees its port for the next bind.
  const freed = sa.getsockname(fds[2]).port;
  sa.close(fds[2]);
  sa.bind(extra, "0.0.0.0", 0);
  assert.equal(sa.getsockname(extra).port, freed);
});

Deno.test("sim udp: binding a port twice is EADDRINUSE; other bind errors", () => {
  const { sa } = twoStacks();
  const f1 = sa.socket(AF_INET, SOCK_DGRAM);
  const f2 = sa.socket(AF_INET, SOCK_DGRAM);
  sa.bind(f1, "0.0.0.0", 6000);
  assert.equal(errnoOf(() => sa.bind(f2, "0.0.0.0", 6000)), "EADDRINUSE");
  // A specific address conflicts with the wildcard binding of the same port.
  assert.equal(errnoOf(() => sa.bind(f2, A, 6000)), "EADDRINUSE");
  assert.equal(errnoOf(() => sa.bind(f1, "0.0.0.0", 6001)), "EINVAL"); // already bound
  assert.equal(errnoOf(() => sa.bind(f2, "198.18.0.99", 6002)), "EADDRNOTAVAIL");
  const f3 = sa.socket(AF_INET, SOCK_DGRAM);
  sa.bind(f3, A, 6003);
  assert.equal(errnoOf(() => sa.bind(f2, "0.0.0.0", 6003)), "EADDRINUSE");
  sa.close(f1);
  sa.bind(f2, "0.0.0.0", 6000); // free again after close
  assert.equal(errnoOf(() => sa.bind(f1, "0.0.0.0", 7000)), "EBADF");
});

Deno.test("sim udp: a connected socket only sees its peer; others get port unreachable", () => {
  const { a, b, sa, sb, run } = twoStacks();
  const fb = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(fb, "0.0.0.0", 5000);
  const good = sa.socket(AF_INET, SOCK_DGRAM);
  const other = sa.socket(AF_INET, SOCK_DGRAM);
  sa.bind(good, "0.0.0.0", 7001);
  sa.bind(other, "0.0.0.0", 7002);
  sb.connect(fb, A, 7001);
  assert.deepEqual(sb.getpeername(fb), { addr: A, port: 7001 });
  assert.deepEqual(sb.getsockname(fb), { addr: B, port: 5000 });
  sa.sendto(other, pattern(5, 1), B, 5000);
  sa.sendto(good, pattern(6, 2), B, 5000);
  run(50);
  const buf = new Uint8Array(100);
  const r = sb.recvfrom(fb, buf);
  assert.deepEqual(r, { bytes: 6, addr: A, port: 7001, truncated: false });
  assert.throws(() => sb.recvfrom(fb, buf), (e: StackError) => e.code === "EAGAIN");
  assert.equal(b.stats.udp.NoPorts, 1);
  assert.equal(b.stats.icmp.OutDestUnreachs, 1);
  assert.equal(a.stats.icmp.InDestUnreachs, 1);
  // `other` is unconnected: Linux does not report the ICMP error to it.
  assert.equal(sa.getsockopt(other, SOL_SOCKET, SO_ERROR), 0);
  // write/read on the connected socket.
  assert.equal(sb.write(fb, pattern(4, 3)), 4);
  run(50, () => sa.poll(good, POLLIN) !== 0);
  assert.deepEqual(sa.recvfrom(good, buf), { bytes: 4, addr: B, port: 5000, truncated: false });
  assert.equal(errnoOf(() => sa.read(good, buf)), "ENOTCONN");
  assert.equal(errnoOf(() => sa.write(good, buf)), "ENOTCONN");
});

Deno.test("sim udp: a connected socket gets ECONNREFUSED after the peer's port unreachable", async () => {
  const { sa, sb, run } = twoStacks();
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  sa.connect(fa, B, 9999); // nothing bound there on b
  const woke = sa.wait(fa, POLLIN);
  sa.write(fa, pattern(10, 1));
  run(50, () => sa.poll(fa, POLLERR) !== 0);
  assert.equal(sa.poll(fa, POLLIN) & POLLERR, POLLERR);
  assert.ok(((await woke) & POLLERR) !== 0, "the waiter is woken with POLLERR");
  const buf = new Uint8Array(100);
  assert.equal(errnoOf(() => sa.recvfrom(fa, buf)), "ECONNREFUSED");
  // Reported once; then the socket is usable again.
  assert.equal(errnoOf(() => sa.recvfrom(fa, buf)), "EAGAIN");
  // SO_ERROR reads (and clears) the same error.
  sa.write(fa, pattern(10, 2));
  run(50, () => sa.poll(fa, POLLERR) !== 0);
  assert.equal(sa.getsockopt(fa, SOL_SOCKET, SO_ERROR), 111);
  assert.equal(sa.getsockopt(fa, SOL_SOCKET, SO_ERROR), 0);
  // Once something listens there, the same socket exchanges datagrams.
  const fb = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(fb, "0.0.0.0", 9999);
  sa.write(fa, pattern(3, 3));
  run(50, () => sb.poll(fb, POLLIN) !== 0);
  assert.equal(sb.recvfrom(fb, buf).bytes, 3);
});

Deno.test("sim udp: broadcast needs SO_BROADCAST and reaches a socket bound to any", () => {
  const { a, b, sa, sb, run } = twoStacks();
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  const any = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(any, "0.0.0.0", 6767);
  const unicast = sb.socket(AF_INET, SOCK_DGRAM);
  sb.bind(unicast, B, 6768);
  const data = pattern(20, 4);
  for (const dst of ["198.18.0.255", "255.255.255.255"]) {
    assert.equal(errnoOf(() => sa.sendto(fa, data, dst, 6767)), "EACCES");
  }
  assert.equal(a.stats.udp.OutDatagrams, 0);
  sa.setsockopt(fa, SOL_SOCKET, SO_BROADCAST, true);
  assert.equal(sa.getsockopt(fa, SOL_SOCKET, SO_BROADCAST), 1);
  const buf = new Uint8Array(100);
  for (const dst of ["198.18.0.255", "255.255.255.255"]) {
    assert.equal(sa.sendto(fa, data, dst, 6767), 20);
    run(50, () => sb.poll(any, POLLIN) !== 0);
    const r = sb.recvfrom(any, buf);
    assert.equal(r.bytes, 20);
    assert.equal(r.addr, A);
    assert.deepEqual(buf.subarray(0, 20), data);
  }
  // A broadcast to a port only bound to the unicast address is not delivered, and a broadcast
  // to an unbound port draws no ICMP error (RFC 1122 §3.2.2).
  sa.sendto(fa, data, "198.18.0.255", 6768);
  sa.sendto(fa, data, "198.18.0.255", 6769);
  run(50);
  assert.equal(sb.poll(unicast, POLLIN), 0);
  assert.equal(b.stats.udp.IgnoredMulti, 2);
  assert.equal(b.stats.icmp.OutDestUnreachs, 0);
  assert.equal(a.stats.arp.OutRequests, 0, "broadcast frames need no ARP");
});

Deno.test("sim udp: the serve --udp-echo service echoes every queued datagram byte-exact", () => {
  const { b, sa, run } = twoStacks();
  const echo = new UdpEchoService(b, 7);
  assert.equal(echo.port, 7);
  assert.throws(() => new UdpEchoService(b, 7), (e: StackError) => e.code === "EADDRINUSE");
  const fa = sa.socket(AF_INET, SOCK_DGRAM);
  const sizes = [0, 1, 1472, 8000, 100, 3];
  const sent = sizes.map((len, i) => pattern(len, i + 10));
  sa.sendto(fa, sent[0], B, 7); // resolve ARP first
  run(50, () => sa.poll(fa, POLLIN) !== 0);
  // The rest arrive together: one drain answers them all, in order.
  for (const d of sent.slice(1)) sa.sendto(fa, d, B, 7);
  const buf = new Uint8Array(65536);
  const got: Uint8Array[] = [];
  run(100, () => {
    while (sa.poll(fa, POLLIN) !== 0) {
      const r = sa.recvfrom(fa, buf);
      assert.equal(r.addr, B);
      assert.equal(r.port, 7);
      got.push(buf.slice(0, r.bytes));
    }
    return got.length === sizes.length;
  });
  assert.deepEqual(got, sent);
  assert.deepEqual(echo.stats, {
    InDatagrams: 6,
    InBytes: 9576,
    OutDatagrams: 6,
    OutErrors: 0,
  });
  echo.close();
  echo.close();
  assert.equal(b.udp.sockets, 0);
  // Closed: the port is free again and now answers with port unreachable.
  sa.sendto(fa, sent[1], B, 7);
  run(50);
  assert.equal(b.stats.udp.NoPorts, 1);
});

Deno.test("udp: a port held by a connected socket cannot be bound again (EADDRINUSE)", () => {
  const stack = new Stack({ clock: new VirtualClock(), poolBuffers: 8 });
  const nic = stack.addNic(new LoopbackDriver());
  stack.ipv4.addAddress(nic.index, parseIpv4("198.18.5.1"), 24);
  const peer = IpAddress.parse("198.18.5.9");
  const s1 = stack.udp.open();
  s1.bind(null, 5000);
  s1.connect(peer, 9);
  const s2 = stack.udp.open();
  assert.throws(() => s2.bind(null, 5000), { code: "EADDRINUSE" });
  const s3 = stack.udp.open();
  s3.connect(peer, 9); // implicitly bound to an ephemeral port
  assert.throws(() => s2.bind(null, s3.localPort), { code: "EADDRINUSE" });
});
