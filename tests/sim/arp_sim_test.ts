// The ARP neighbour state machine over the in-memory wire with a virtual clock.

import assert from "node:assert/strict";
import { SimWire } from "../../link/sim_wire.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import { Stack } from "../../stack/stack.ts";
import { RawPeer } from "../harness/raw_peer.ts";

Deno.test("sim: ARP entry goes REACHABLE → STALE → DELAY → PROBE → REACHABLE, confirm() skips the probe", () => {
  const clock = new VirtualClock(0);
  const wire = new SimWire({ clock, seed: 7, delayMs: 1 });
  const a = new Stack({ clock, poolBuffers: 32 });
  const b = new Stack({ clock, poolBuffers: 32 });
  a.ipv4.addAddress(
    a.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1]))).index,
    parseIpv4("198.18.0.1"),
    24,
  );
  b.ipv4.addAddress(
    b.addNic(wire.endpoint("b", new Uint8Array([2, 0, 0, 0, 0, 2]))).index,
    parseIpv4("198.18.0.2"),
    24,
  );
  const peer = parseIpv4("198.18.0.2");
  const run = (ms: number) => {
    const end = clock.nowMs() + ms;
    while (clock.nowMs() < end) {
      a.tick();
      b.tick();
      clock.set(
        Math.min(
          end,
          Math.max(
            clock.nowMs() + 0.5,
            Math.min(wire.nextEventMs(), a.nextDeadlineMs(), b.nextDeadlineMs()),
          ),
        ),
      );
    }
  };
  const state = () => a.ipv4.arp(1).entries().find((e) => e.ip === peer)?.state;
  const ping = (seq: number) => a.icmp.sendEcho(peer, 1, seq, new Uint8Array(8), 0, 8);

  ping(1);
  run(50);
  assert.equal(state(), "REACHABLE");
  assert.equal(a.stats.arp.OutRequests, 1);
  run(31_000);
  assert.equal(state(), "STALE");
  ping(2);
  run(10);
  assert.equal(state(), "DELAY");
  assert.equal(a.stats.arp.OutRequests, 1, "no probe while in DELAY");
  assert.equal(b.stats.icmp.OutEchoReps, 2, "a STALE entry is still used to send");
  run(5_100);
  assert.equal(a.stats.arp.OutRequests, 2, "one unicast probe after DELAY");
  assert.equal(state(), "REACHABLE");

  run(31_000);
  ping(3);
  run(10);
  assert.equal(state(), "DELAY");
  a.ipv4.arp(1).confirm(peer);
  assert.equal(state(), "REACHABLE");
  run(6_000);
  assert.equal(a.stats.arp.OutRequests, 2, "confirmed: no probe");
});

Deno.test("sim: ARP neighbour table evicts the least recently used resolved entry (O(1) LRU)", () => {
  const p = new RawPeer({ ipv4: { arp: { maxEntries: 4 } } });
  const arp = p.stack.ipv4.arp(1);
  const host = (n: number) => parseIpv4(`198.18.0.${n}`);
  for (let n = 10; n < 14; n++) p.arpFrom(host(n)); // four neighbours, all resolved
  assert.equal(arp.size, 4);
  // 10 is used now (a ping to it): 11 becomes the least recently used.
  p.stack.icmp.sendEcho(host(10), 1, 1, new Uint8Array(8), 0, 8);
  p.stack.tick();
  p.arpFrom(host(14));
  const ips = arp.entries().map((e) => e.ip);
  assert.equal(arp.size, 4);
  assert.ok(ips.includes(host(10)), "the neighbour in use stays");
  assert.ok(!ips.includes(host(11)), "the least recently used one went");
  assert.equal(p.stack.stats.arp.CacheFull, 0);
});

Deno.test("sim: ARP keeps unresolved neighbours (they hold packets) and bounds the packets they hold", () => {
  const p = new RawPeer({ ipv4: { arp: { maxEntries: 64, queuePerEntry: 16, maxPending: 8 } } });
  const host = (n: number) => parseIpv4(`198.18.0.${n}`);
  // Three neighbours that never answer, five packets each: eight are held in all.
  for (let n = 20; n < 23; n++) {
    for (let k = 0; k < 5; k++) p.stack.icmp.sendEcho(host(n), 1, k, new Uint8Array(8), 0, 8);
  }
  const arp = p.stack.ipv4.arp(1);
  assert.equal(arp.pending, 8);
  assert.equal(p.stack.stats.arp.QueueDrops, 7);
  assert.equal(p.stack.pool.inUse, 8);
  p.advance(5_000); // they give up: the packets go back to the pool
  assert.equal(arp.pending, 0);
  assert.equal(p.stack.pool.inUse, 0);
});

Deno.test("sim: ARP gives up on a neighbour that stops answering its probes (PROBE → deleted, ProbeFailed)", () => {
  const p = new RawPeer({ ipv4: { arp: { delayProbeMs: 5_000, retransMs: 1_000, maxProbes: 3 } } });
  const arp = p.stack.ipv4.arp(1);
  const host = parseIpv4("198.18.0.30");
  const state = () => arp.entries().find((e) => e.ip === host)?.state;
  p.arpFrom(host); // a request for us: the sender is created STALE
  assert.equal(state(), "STALE");
  p.stack.icmp.sendEcho(host, 1, 1, new Uint8Array(8), 0, 8);
  p.stack.tick();
  assert.equal(state(), "DELAY", "a STALE entry in use waits for a confirmation");
  const requests = p.stack.stats.arp.OutRequests;
  p.advance(5_100);
  assert.equal(state(), "PROBE");
  assert.equal(p.stack.stats.arp.OutRequests, requests + 1, "the first unicast probe");
  p.advance(3_000);
  assert.equal(state(), undefined, "three unanswered probes: deleted");
  assert.equal(p.stack.stats.arp.OutRequests, requests + 3);
  assert.equal(p.stack.stats.arp.ProbeFailed, 1);
  assert.equal(p.stack.stats.arp.ResolveFailed, 0, "it had been resolved");
});

Deno.test("sim: ARP confirm() on a REACHABLE neighbour keeps it REACHABLE for another ReachableTime", () => {
  const p = new RawPeer({ ipv4: { arp: { reachableMs: 10_000 } } });
  const arp = p.stack.ipv4.arp(1);
  const host = parseIpv4("198.18.0.31");
  const state = () => arp.entries().find((e) => e.ip === host)?.state;
  p.arpFrom(host);
  arp.confirm(host);
  assert.equal(state(), "REACHABLE");
  p.advance(8_000);
  arp.confirm(host); // forward progress seen again (a TCP ACK of new data)
  p.advance(8_000);
  assert.equal(state(), "REACHABLE", "16 s after the first confirmation, 8 s after the last");
  p.advance(3_000);
  assert.equal(state(), "STALE");
});

Deno.test("sim: ARP's kept last neighbour is dropped with its entry (flush) and when its address becomes a directed broadcast", () => {
  const p = new RawPeer();
  const arp = p.stack.ipv4.arp(1);
  const dstMacs: number[][] = [];
  p.driver.observer = {
    onTransmit: (f, off) => {
      if (f[off + 12] === 0x08 && f[off + 13] === 0x00) dstMacs.push([...f.subarray(off, off + 6)]);
    },
  };
  const host = parseIpv4("198.18.0.79");
  const ping = (seq: number) => {
    p.stack.icmp.sendEcho(host, 1, seq, new Uint8Array(8), 0, 8);
    p.stack.tick();
  };
  p.arpFrom(host);
  ping(1);
  ping(2); // through the kept neighbour
  assert.equal(dstMacs.length, 2);
  assert.notDeepEqual(dstMacs[1], [255, 255, 255, 255, 255, 255]);
  // Flushed: the kept entry is not the table's any more; the next ping waits for a request.
  const requests = p.stack.stats.arp.OutRequests;
  arp.flush();
  ping(3);
  assert.equal(p.stack.stats.arp.OutRequests, requests + 1, "resolved again");
  assert.equal(arp.pending, 1, "the ping waits for the answer");
  assert.equal(dstMacs.length, 2);
  // Known again, then 198.18.0.79 becomes the broadcast of 198.18.0.76/30 on this link.
  p.arpFrom(host);
  ping(4);
  assert.equal(dstMacs.length, 4, "the queued ping and this one");
  p.stack.ipv4.addAddress(1, parseIpv4("198.18.0.77"), 30);
  ping(5);
  assert.deepEqual(dstMacs[4], [255, 255, 255, 255, 255, 255], "a directed broadcast now");
});
