// What opening a connection costs in SipHashes and clock reads (the per-connection work of a
// short-connection client and server, `pingpong --connect`).

import assert from "node:assert/strict";
import { type Clock, VirtualClock } from "../../core/clock.ts";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { IpAddrMap } from "../../net/ip_addr_map.ts";
import { type IpAddr, IpAddress } from "../../net/ip_address.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { Stack } from "../../stack/stack.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { ADDR_B, makeSimNet } from "../harness/sim_net.ts";

/** A virtual clock that counts the reads of its time. */
class CountingClock implements Clock {
  readonly time = new VirtualClock(1000);
  reads = 0;
  nowMs(): number {
    this.reads++;
    return this.time.nowMs();
  }
}

/** One stack on a loopback NIC with 198.18.9.1/24 and a listener on port 80. */
function loopbackStack(clock: Clock) {
  const stack = new Stack({ clock, poolBuffers: 32 });
  const lo = stack.addNic(new LoopbackDriver({ mtu: 1500 }));
  const addr = IpAddress.v4(parseIpv4("198.18.9.1"));
  stack.ipv4.addAddress(lo.index, addr.w3, 24);
  const listener = stack.tcp.listen(null, 80, 8);
  return { stack, addr, listener };
}

/** Tick until the listener has a connection to accept (bounded). */
function acceptOne(
  stack: Stack,
  clock: { time: VirtualClock } | VirtualClock,
  listener: { accept(): TcpEndpoint | null },
): TcpEndpoint {
  const time = clock instanceof VirtualClock ? clock : clock.time;
  for (let i = 0; i < 20; i++) {
    time.advance(1);
    stack.tick();
    const ep = listener.accept();
    if (ep !== null) return ep;
  }
  throw new Error("no connection to accept");
}

Deno.test("connect cost: one SipHash per side of a handshake gives the ISN and the TSval offset", () => {
  const clock = new VirtualClock(1000);
  const { stack, addr, listener } = loopbackStack(clock);
  const isn = stack.tcp.isn;
  const before = isn.hashes;
  const client = stack.tcp.connect(addr, 80);
  assert.equal(isn.hashes - before, 1, "the client's connect: one hash");
  const server = acceptOne(stack, clock, listener);
  assert.equal(isn.hashes - before, 2, "the server's SYN: one hash");
  assert.equal(client.stateName(), "ESTABLISHED");
  // Each offset is the ISN hash's other half: what next() leaves for this tuple.
  isn.next(client.localAddr, client.localPort, client.remoteAddr, client.remotePort);
  assert.equal(client.tsOffset, isn.nextTimestampOffset | 0);
  isn.next(server.localAddr, server.localPort, server.remoteAddr, server.remotePort);
  assert.equal(server.tsOffset, isn.nextTimestampOffset | 0);
  assert.notEqual(client.tsOffset, server.tsOffset);
  // Timestamps flow both ways with those offsets: a round trip of data works.
  client.write(new Uint8Array([1, 2, 3]), 0, 3);
  clock.advance(1);
  stack.tick();
  clock.advance(1);
  stack.tick();
  const buf = new Uint8Array(8);
  assert.equal(server.read(buf, 0, 8), 3);
});

Deno.test("connect cost: connect() reads the clock once (route, port, ISN, endpoint, SYN)", () => {
  const clock = new CountingClock();
  const { stack, addr, listener } = loopbackStack(clock);
  // A first connection resolves what is cached (the route, the shared addresses).
  stack.tcp.connect(addr, 80);
  acceptOne(stack, clock, listener);
  clock.time.advance(5);
  const reads = clock.reads;
  const ep = stack.tcp.connect(addr, 80);
  assert.equal(clock.reads - reads, 1, "one read for the whole open");
  assert.equal(ep.stateName(), "SYN_SENT");
  // The SYN's time is that read: the handshake's RTT sample is the virtual time it took.
  acceptOne(stack, clock, listener);
  assert.equal(ep.stateName(), "ESTABLISHED");
});

/** Count the flow-table lookups of `stack` (the table's own inserts included). */
function countLookups(stack: Stack): { n: number } {
  const flows = stack.tcp.flows;
  const lookup = flows.lookup.bind(flows);
  const count = { n: 0 };
  flows.lookup = (la, lp, ra, rp) => {
    count.n++;
    return lookup(la, lp, ra, rp);
  };
  return count;
}

Deno.test("connect cost: a short connection looks its four-tuple up once per segment, plus once to open", () => {
  const net = makeSimNet({ wire: { seed: 3, delayMs: 0.05 } });
  const listener = net.b.tcp.listen(null, 80, 8);
  const clientLookups = countLookups(net.a);
  const serverLookups = countLookups(net.b);
  const inA = net.a.stats.tcp.InSegs, inB = net.b.stats.tcp.InSegs;
  // An HTTP/1.0-like exchange: the client sends, the server answers, the client closes first
  // (its side ends in TIME_WAIT), then the server.
  const c = net.tcpA.connect(ADDR_B, 80);
  assert.equal(clientLookups.n, 1, "connect: the port search's lookup, no second one to insert");
  let s: TcpEndpoint | null = null;
  const buf = new Uint8Array(64);
  assert.ok(
    net.run(() => (s ??= listener.accept()) !== null && c.state === TcpState.ESTABLISHED, 1000),
  );
  c.write(buf, 0, 64);
  assert.ok(net.run(() => s!.read(buf, 0, 64) === 64, 1000));
  s!.write(buf, 0, 64);
  assert.ok(net.run(() => c.read(buf, 0, 64) === 64, 1000));
  c.close();
  assert.ok(net.run(() => s!.read(buf, 0, 64) === 0, 1000));
  s!.close();
  assert.ok(net.run(() => s!.state === TcpState.CLOSED && c.state === TcpState.CLOSED, 1000));
  assert.ok(net.tcpA.timeWaitRecord(c.localAddr, c.localPort, c.remoteAddr, c.remotePort));
  const segsA = net.a.stats.tcp.InSegs - inA, segsB = net.b.stats.tcp.InSegs - inB;
  assert.ok(segsA >= 3 && segsB >= 3);
  // The client: one lookup per segment received and the port search's (the connection's and
  // its TIME_WAIT record's inserts take a tuple just seen vacant) and timeWaitRecord's above.
  assert.equal(clientLookups.n, segsA + 2, `client: ${segsA} segments in`);
  // The server: one per segment and the syncache entry's insert (the connection takes the
  // entry's tuple over without another).
  assert.equal(serverLookups.n, segsB + 1, `server: ${segsB} segments in`);
});

Deno.test("connect cost: short connections read their route and shared addresses without a map lookup each", () => {
  const net = makeSimNet({ wire: { seed: 5, delayMs: 0.05 } });
  const listener = net.b.tcp.listen(null, 80, 64);
  // Every lookup in an address-keyed map (the route cache's two, and any other).
  const get = IpAddrMap.prototype.get;
  let lookups = 0;
  IpAddrMap.prototype.get = function <V>(this: IpAddrMap<V>, a: IpAddr): V | undefined {
    lookups++;
    return get.call(this, a) as V | undefined;
  };
  try {
    const buf = new Uint8Array(64);
    const exchange = () => {
      const c = net.tcpA.connect(ADDR_B, 80);
      let s: TcpEndpoint | null = null;
      assert.ok(net.run(() => (s ??= listener.accept()) !== null, 1000));
      c.write(buf, 0, 64);
      assert.ok(net.run(() => s!.read(buf, 0, 64) === 64, 1000));
      s!.write(buf, 0, 64);
      assert.ok(net.run(() => c.read(buf, 0, 64) === 64, 1000));
      c.close();
      assert.ok(net.run(() => s!.read(buf, 0, 64) === 0, 1000));
      s!.close();
      assert.ok(net.run(() => s!.state === TcpState.CLOSED, 1000));
    };
    exchange(); // the first fills the caches (routes, addresses, neighbours)
    const before = lookups;
    const shared0 = net.tcpA.shared.mapLookups + net.b.tcp.shared.mapLookups;
    for (let i = 0; i < 50; i++) exchange();
    // 50 connections within the route cache's 1 s: the client's connect() asks for the route
    // and two addresses, the server's SYN for two addresses and the route — each the last
    // answer again. (main: ≥ 3 lookups per connection on each side.)
    assert.ok(lookups - before <= 5, `${lookups - before} map lookups for 50 connections`);
    assert.ok(net.tcpA.shared.mapLookups + net.b.tcp.shared.mapLookups - shared0 <= 5);
  } finally {
    IpAddrMap.prototype.get = get;
  }
});
