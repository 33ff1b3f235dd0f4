// What a half-open record costs the heap. Every SYN a listener answers with a record (not a
// cookie) made a `SynEntry` — a timer with 30-odd fields, five or more of them doubles, each a
// box of its own — that lived until the handshake completed or failed: ~400 B per record on
// main's code (bench/conn_alloc.ts: the syncache's `onSyn` ~370 B of a short connection's
// ~8,750 B, both sides). Records that leave the cache now go to a bounded free list and the
// next SYN takes one (bench/README.md, branch alloc9z).

import assert from "node:assert/strict";
import { type HeapRun, medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { countIpv4Frames, PEER_ADDR, RIG_ADDR, SERVICE_PORT, TcpRig } from "../harness/tcp_rig.ts";
import { RX_CSUM_VALID } from "../../link/driver.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { NetRxMeta } from "../../net/network_layer.ts";
import { makeSimNet } from "../harness/sim_net.ts";
import { TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN } from "../../transport/tcp/header.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { FREE_SYN_ENTRIES_MAX } from "../../transport/tcp/syncache.ts";
import { TcpState } from "../../transport/tcp/state.ts";

/** Most heap growth per half-open record made and reset (main: ~400 B; this code ~0). */
const MAX_BYTES_PER_RECORD = 64;
/** Sources, each with one four-tuple (a record made and reset before its next SYN). */
const SOURCES = 200;
/** Records per measured window. */
const WINDOW = 10_000;

/**
 * SYN then RST from each of {@link SOURCES} sources in turn: a record made (its SYN-ACK sent)
 * and reset (RFC 9293 §3.10.7.4: a RST at RCV.NXT in SYN_RECEIVED), `n` times; the rig's
 * clock moves a millisecond (and the rig ticks: ARP in) every 100.
 */
function synThenRst(rig: TcpRig): (n: number) => void {
  const tcp = rig.stack.tcp;
  const metas: NetRxMeta[] = [];
  const syns: Uint8Array[] = [];
  const rsts: Uint8Array[] = [];
  for (let i = 0; i < SOURCES; i++) {
    // Sequence numbers and TSvals above 2**30 (heap numbers wherever they cross a call).
    const seq = Math.imul(i + 1, 0x9e3779b9) >>> 0;
    const syn = rig.segmentBytes({
      srcPort: 1024 + i,
      seq,
      flags: TCP_FLAG_SYN,
      mss: 1460,
      sackPermitted: true,
      windowScale: 7,
      ts: [(0xc0000000 + i * 7919) >>> 0, 0],
    });
    syns.push(syn);
    rsts.push(rig.segmentBytes({ srcPort: 1024 + i, seq: (seq + 1) >>> 0, flags: TCP_FLAG_RST }));
    metas.push(rxMeta(rig.stack, IpAddress.v4(PEER_ADDR + 9 + i), IpAddress.v4(RIG_ADDR), syn));
  }
  return (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = k % SOURCES;
      tcp.receive(metas[i], syns[i], 0, syns[i].length, RX_CSUM_VALID);
      tcp.receive(metas[i], rsts[i], 0, rsts[i].length, RX_CSUM_VALID);
      if (k % 100 === 99) {
        rig.clock.advance(1);
        rig.tick();
      }
    }
  };
}

Deno.test(`syncache alloc: a half-open record made and reset allocates < ${MAX_BYTES_PER_RECORD} B`, () => {
  const rig = new TcpRig();
  rig.stack.tcp.listen(null, SERVICE_PORT, 1024);
  const st = rig.stack.stats.tcp;
  const synAcks = countIpv4Frames(rig); // SYN-ACKs counted, not recorded
  const run1 = synThenRst(rig);
  rig.clock.advance(0.25); // fractional milliseconds, as the real clock reads
  run1(100_000); // warm: optimised code, every source's ARP resolved
  const fails0 = st.AttemptFails;
  const sent0 = synAcks();
  const run: HeapRun = { step: () => run1(WINDOW), units: () => st.AttemptFails };
  const [perRecord] = medianHeapGrowthPerUnit([run], 12);
  const records = st.AttemptFails - fails0;
  assert.equal(records, 12 * WINDOW, "every SYN made a record, every RST reset it");
  assert.ok(synAcks() - sent0 >= records, `${synAcks() - sent0} SYN-ACKs for ${records} records`);
  assert.equal(st.SyncookiesSent, 0);
  assert.equal(rig.stack.tcp.syncache.size, 0);
  if (Deno.env.get("SHOW")) console.log(`${perRecord.toFixed(1)} B per record`);
  assert.ok(perRecord < MAX_BYTES_PER_RECORD, `${perRecord.toFixed(1)} B per record`);
});

Deno.test("syncache alloc: a completed handshake's record is the next SYN's; a reused one answers as a new one", () => {
  const net = makeSimNet({ wire: { seed: 11, delayMs: 0.05 } });
  const listener = net.tcpB.listen(null, 80, 64);
  const cache = net.tcpB.syncache;
  const buf = new Uint8Array(64);
  // 200 connections one after another (four at a time would need four records): each one's
  // record is taken by the next SYN once the handshake completed.
  for (let i = 0; i < 200; i++) {
    const c = net.tcpA.connect(net.addrB, 80);
    let s: TcpEndpoint | null = null;
    assert.ok(
      net.run(() => (s ??= listener.accept()) !== null && c.state === TcpState.ESTABLISHED, 1000),
    );
    // The connection made from a reused record has its own peer and sequence numbers.
    assert.equal(s!.remotePort, c.localPort);
    assert.equal(s!.snd.iss, (c.rcv.irs) >>> 0);
    assert.equal(s!.rcv.irs, (c.snd.iss) >>> 0);
    c.write(buf, 0, 64);
    assert.ok(net.run(() => s!.read(buf, 0, 64) === 64, 1000));
    c.abort();
    s!.abort();
  }
  assert.equal(cache.size, 0);
  assert.equal(cache.recordsMade, 1, "one record made for 200 handshakes");
});

Deno.test("syncache alloc: a reused record keeps nothing of its last SYN (its retransmissions, its options)", () => {
  const rig = new TcpRig({ tcp: { synAckRetries: 3 } });
  const listener = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const st = rig.stack.stats.tcp;
  const cache = rig.stack.tcp.syncache;
  // First SYN: every option; its SYN-ACK resent twice, then the peer resets it.
  rig.inject({
    srcPort: 5001,
    seq: 1000,
    flags: TCP_FLAG_SYN,
    mss: 1460,
    windowScale: 7,
    sackPermitted: true,
    ts: [0xc0000000, 0],
  });
  rig.advance(1000 + 2000 + 100); // two SYN-ACK retransmissions (1 s, then 2 s)
  assert.equal(st.TCPSynRetrans, 2);
  rig.inject({ srcPort: 5001, seq: 1001, flags: TCP_FLAG_RST });
  assert.equal(cache.size, 0);
  const made = cache.recordsMade;
  rig.take();
  // Second SYN, from another port, with no option: it takes the first one's record.
  rig.inject({ srcPort: 5002, seq: 7000, flags: TCP_FLAG_SYN });
  assert.equal(cache.recordsMade, made, "the record was reused");
  const synAck = rig.take().find((s) => (s.flags & TCP_FLAG_SYN) !== 0)!;
  assert.equal(synAck.dstPort, 5002);
  assert.equal(synAck.windowScale, -1, "no window scale to a SYN without one");
  assert.equal(synAck.sackPermitted, false);
  assert.equal(synAck.hasTimestamps, false);
  // Its retransmissions count from 0 again: 3 before it gives up, not 1.
  rig.advance(1000 + 2000 + 4000 + 8000 + 100);
  assert.equal(st.TCPSynRetrans - 2, 3, "the reused record's own retransmissions");
  assert.equal(cache.size, 0, "given up after its own 3");
  // Third SYN (the same record again) completes: the connection has none of the options.
  rig.inject({ srcPort: 5003, seq: 9000, flags: TCP_FLAG_SYN });
  const sa = rig.take().find((s) => (s.flags & TCP_FLAG_SYN) !== 0 && s.dstPort === 5003)!;
  rig.inject({ srcPort: 5003, seq: 9001, ack: (sa.seq + 1) >>> 0, flags: TCP_FLAG_ACK });
  const ep = listener.accept()!;
  assert.ok(ep !== null);
  assert.equal(ep.remotePort, 5003);
  assert.equal(ep.state, TcpState.ESTABLISHED);
  assert.equal(ep.wsOk, false);
  assert.equal(ep.tsOk, false);
  assert.equal(cache.recordsMade, made, "still the one record");
});

Deno.test("syncache alloc: the free list keeps at most FREE_SYN_ENTRIES_MAX records and counts the rest", () => {
  const rig = new TcpRig();
  const listener = rig.stack.tcp.listen(null, SERVICE_PORT, 4096);
  const cache = rig.stack.tcp.syncache;
  const n = FREE_SYN_ENTRIES_MAX + 76;
  for (let i = 0; i < n; i++) rig.inject({ srcPort: 2000 + i, seq: 1000, flags: TCP_FLAG_SYN });
  assert.equal(cache.size, n);
  assert.equal(cache.recordsMade, n);
  listener.close(); // every half-open record reset and out
  assert.equal(cache.size, 0);
  assert.equal(cache.recordsNotKept, 76);
});
