// Every queue the stack keeps is bounded, and what the bound refuses is counted. One test per
// bound here; the bounds tested next to their feature are listed with where:
//
//   ARP pending packets per neighbour   arp.QueueDrops        sim/ping_sim_test.ts ("ARP gives up …")
//   reassembly memory                   ip.ReasmEvictions,    unit/ipv4_reassembly_test.ts,
//                                       ip.ReasmSourceEvictions  interop/ip_fragment_test.ts
//   accept queue                        tcp.ListenOverflows   sim/tcp_options_test.ts ("accept queue …")
//   UDP receive queue (bytes, count)    udp.RcvbufErrors      sim/udp_sim_test.ts ("receive queue …")
//   socket descriptor table             SocketTable.refused   sim/socket_api_test.ts ("descriptor table …")
//   path MTU cache                      pmtu.Evictions        unit/path_mtu_test.ts ("bounded; …")
//   ICMP errors (rate, not a queue)     icmp.OutRateLimited,  sim/icmp_errors_sim_test.ts ("rate-limited …")
//                                       icmp6.OutRateLimitHost
//
// and below: the TCP out-of-order ranges, the half-open (SYN) queue, the local delivery queue,
// the ARP cache, UDP sockets, the TCP send buffer (tcp.TCPSendBufferFull), and the IPv6
// neighbour cache and its per-neighbour queue (ndp.CacheFull, ndp.QueueDrops).

import assert from "node:assert/strict";
import { StackError } from "../../core/errors.ts";
import { AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, SocketTable } from "../../stack/socket.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { makeSimNet } from "../harness/sim_net.ts";
import { ACK } from "../fuzz/frames.ts";
import { PEER_IP, RawPeer } from "../harness/raw_peer.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StackError) return e.code;
    throw e;
  }
  return "no error";
}

Deno.test("bounds: TCP holds at most ooqMaxRanges out-of-order ranges (TCPOFODrop)", () => {
  const p = new RawPeer({ tcp: { ooqMaxRanges: 2 } });
  const s = new SocketTable(p.stack);
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, "0.0.0.0", 80);
  s.listen(l, 4);
  p.arpFrom(PEER_IP);
  const isn = 1000;
  const conn = p.connect(40000, 80, isn);
  const fd = s.accept(l);
  const st = p.stack.stats.tcp;
  // Four islands of 100 bytes with holes between them: two are kept, two are dropped.
  for (const k of [1, 3, 5, 7]) p.tcp(40000, 80, isn + 1 + 200 * k, conn.hostNext, ACK, 100);
  assert.equal(st.TCPOFOQueue, 2);
  assert.equal(st.TCPOFODrop, 2);
  // Filling the first hole makes the data up to the second hole readable.
  p.tcp(40000, 80, isn + 1, conn.hostNext, ACK, 200);
  const buf = new Uint8Array(4096);
  assert.equal(s.read(fd, buf), 300);
  assert.equal(p.stack.pool.inUse, 0);
});

Deno.test("bounds: the half-open (SYN) queue is bounded (TCPReqQFullDrop, ListenDrops)", () => {
  const p = new RawPeer({ tcp: { synAckRetries: 1, syncookies: 0 } });
  const s = new SocketTable(p.stack);
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, "0.0.0.0", 80);
  s.listen(l, 4);
  p.arpFrom(PEER_IP);
  // SYNs that never complete: 64 half-open records (Linux's minimum SYN queue) fit; with
  // cookies off the rest are dropped.
  for (let i = 0; i < 70; i++) p.tcp(30000 + i, 80, 5000, 0, 0x02);
  const st = p.stack.stats.tcp;
  assert.equal(st.TCPReqQFullDrop, 6);
  assert.equal(st.ListenDrops, 6);
  assert.equal(st.SyncookiesSent, 0);
  assert.equal(p.stack.tcp.syncache.size, 64);
  assert.equal(p.stack.tcp.endpoints, 0, "half-open connections are records, not endpoints");
  // When their SYN-ACKs have gone unanswered, the records are gone and a new SYN is taken.
  p.advance(10_000);
  assert.equal(p.stack.tcp.syncache.size, 0);
  p.tcp(31000, 80, 5000, 0, 0x02);
  assert.equal(st.TCPReqQFullDrop, 6);
  assert.equal(p.stack.tcp.syncache.size, 1);
});

Deno.test("bounds: beyond the half-open queue SYNs get cookies (TCPReqQFullDoCookies)", () => {
  const p = new RawPeer({ tcp: { synAckRetries: 1 } });
  const s = new SocketTable(p.stack);
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, "0.0.0.0", 80);
  s.listen(l, 4);
  p.arpFrom(PEER_IP);
  for (let i = 0; i < 70; i++) p.tcp(30000 + i, 80, 5000, 0, 0x02);
  const st = p.stack.stats.tcp;
  assert.equal(p.stack.tcp.syncache.size, 64);
  assert.equal(st.TCPReqQFullDoCookies, 6);
  assert.equal(st.SyncookiesSent, 6);
  assert.equal(st.ListenDrops, 0);
});

Deno.test("bounds: the local delivery queue holds localQueue datagrams (ip.OutDiscards)", () => {
  const p = new RawPeer({ ipv4: { localQueue: 4 } });
  const s = new SocketTable(p.stack);
  const rx = s.socket(AF_INET, SOCK_DGRAM);
  s.bind(rx, "0.0.0.0", 5000);
  const tx = s.socket(AF_INET, SOCK_DGRAM);
  // Ten datagrams to ourselves before the next tick delivers any: the sends succeed (a
  // datagram may be lost), six are discarded and counted.
  for (let i = 0; i < 10; i++) s.sendto(tx, new Uint8Array([i]), "198.18.0.2", 5000);
  assert.equal(p.stack.stats.ip.OutDiscards, 6);
  p.stack.tick();
  let got = 0;
  while (code(() => s.recvfrom(rx, new Uint8Array(8))) === "no error") got++;
  assert.equal(got, 4);
  assert.equal(p.stack.pool.inUse, 0);
});

Deno.test("bounds: the ARP cache holds maxEntries neighbours (arp.CacheFull)", () => {
  const p = new RawPeer({ ipv4: { arp: { maxEntries: 4 } } });
  const s = new SocketTable(p.stack);
  const tx = s.socket(AF_INET, SOCK_DGRAM);
  // Ten unresolved neighbours at once: four entries are made, six resolutions refused.
  for (let host = 10; host < 20; host++) {
    code(() => s.sendto(tx, new Uint8Array(8), `198.18.0.${host}`, 9));
  }
  assert.equal(p.stack.stats.arp.CacheFull, 6);
  assert.equal(p.stack.stats.arp.OutRequests, 4);
  p.advance(10_000); // the four give up and free their queued packets
  assert.equal(p.stack.pool.inUse, 0);
});

Deno.test("bounds: UDP sockets are bounded by maxSockets (ENOBUFS)", () => {
  const p = new RawPeer({ udp: { maxSockets: 3 } });
  const s = new SocketTable(p.stack);
  for (let i = 0; i < 3; i++) s.socket(AF_INET, SOCK_DGRAM);
  assert.equal(code(() => s.socket(AF_INET, SOCK_DGRAM)), "ENOBUFS");
  assert.equal(p.stack.udp.sockets, 3);
});

Deno.test("bounds: a TCP send buffer takes what fits, then EAGAIN", () => {
  const p = new RawPeer({ tcp: { sendBufferBytes: 16384, maxSendBufferBytes: 16384 } });
  const s = new SocketTable(p.stack);
  const l = s.socket(AF_INET, SOCK_STREAM);
  s.bind(l, "0.0.0.0", 80);
  s.listen(l, 4);
  p.arpFrom(PEER_IP);
  p.connect(40001, 80, 7000);
  const fd = s.accept(l);
  const big = new Uint8Array(100_000);
  const n = s.write(fd, big);
  assert.ok(n > 0 && n <= 16384, `took ${n} bytes`);
  const st = p.stack.stats.tcp;
  assert.equal(st.TCPSendBufferFull, 1, "the first write left bytes behind");
  assert.equal(code(() => s.write(fd, big)), "EAGAIN");
  assert.equal(st.TCPSendBufferFull, 2);
});

Deno.test("bounds: IPv6 neighbours hold queuePerEntry packets each and maxEntries in all (ndp.QueueDrops, ndp.CacheFull)", () => {
  const net = makeSimNet({
    wire: { seed: 31, delayMs: 1 },
    stack: { ipv6: { iface: { ndp: { queuePerEntry: 4, maxEntries: 3 } } } },
  });
  net.a.ipv6.addAddress(1, IpAddress.parse("fd00:5::1"), 64);
  net.advance(2500);
  const s = new SocketTable(net.a);
  const fd = s.socket(AF_INET6, SOCK_DGRAM);
  const one = new Uint8Array(1);
  // Ten datagrams to a neighbour nobody answers for: four wait for its resolution.
  for (let i = 0; i < 10; i++) s.sendto(fd, one, "fd00:5::99", 9);
  const st = net.a.stats.ndp;
  assert.equal(st.QueueDrops, 6);
  // Entries being resolved cannot be evicted: of six more neighbours, two fit the three
  // entries and four find no room (their datagrams are dropped).
  for (let n = 0x9a; n <= 0x9f; n++) s.sendto(fd, one, `fd00:5::${n.toString(16)}`, 9);
  assert.equal(st.CacheFull, 4);
  net.advance(10_000);
  assert.equal(net.a.pool.inUse, 0, "what waited is freed when resolution fails");
});
