// Datagrams to the stack's own addresses are delivered locally, on any driver.

import assert from "node:assert/strict";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { SimWire } from "../../link/sim_wire.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import { Stack } from "../../stack/stack.ts";
import { UdpPeer } from "../../transport/udp.ts";
import { IpAddress } from "../../net/ip_address.ts";

function roundTrip(stack: Stack, addr4: number): void {
  const addr = IpAddress.v4(addr4);
  const a = stack.udp.open();
  const b = stack.udp.open();
  a.bind(null, 5000);
  b.bind(addr, 0);
  const msg = new TextEncoder().encode("to myself");
  b.sendto(msg, 0, msg.length, addr, 5000);
  for (let i = 0; i < 3; i++) stack.tick();
  const buf = new Uint8Array(64);
  const from = new UdpPeer();
  const n = a.recvfrom(buf, 0, 64, from);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "to myself");
  assert.equal(from.addr.w3, addr4);
  assert.equal(from.port, b.localPort);
  // Echo back through the same path.
  a.sendto(buf, 0, n, from.addr, from.port);
  for (let i = 0; i < 3; i++) stack.tick();
  assert.equal(b.recvfrom(buf, 0, 64, null), n);
  a.close();
  b.close();
}

Deno.test("local delivery: two UDP sockets in one stack talk over the loopback driver", () => {
  const stack = new Stack({ clock: new VirtualClock(), poolBuffers: 16 });
  const lo = stack.addNic(new LoopbackDriver({ mtu: 9000 }));
  stack.ipv4.addAddress(lo.index, parseIpv4("198.18.7.1"), 24);
  roundTrip(stack, parseIpv4("198.18.7.1"));
  assert.equal(stack.pool.inUse, 0);
});

Deno.test("local delivery: own address on a wire NIC never goes out on the wire", () => {
  const clock = new VirtualClock();
  const wire = new SimWire({ clock, seed: 1 });
  const stack = new Stack({ clock, poolBuffers: 16 });
  const nic = stack.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1])));
  stack.ipv4.addAddress(nic.index, parseIpv4("198.18.0.1"), 24);
  stack.tick(); // flushes the gratuitous ARP
  const sentBefore = wire.stats.framesSent;
  roundTrip(stack, parseIpv4("198.18.0.1"));
  assert.equal(wire.stats.framesSent, sentBefore, "nothing hit the wire");
  assert.equal(stack.stats.ip.InMartianSrc, 0);
});
