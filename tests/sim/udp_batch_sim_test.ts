// UDP's batch and zero-copy calls between two simulated stacks: sendmmsg/recvmmsg move many
// datagrams per call byte-exact (fragmented ones too), borrowed datagrams are read in place and
// handed back, and leases are accounted (kept ones fill the socket, closed ones are counted).

import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, makeSimNet } from "../harness/sim_net.ts";
import type { StackError } from "../../core/errors.ts";
import { ipEquals } from "../../net/ip_address.ts";
import { UdpLease, UdpMessages } from "../../transport/udp_records.ts";
import type { UdpEndpoint } from "../../transport/udp.ts";

function pattern(len: number, seed: number): Uint8Array {
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (i * 31 + seed) & 0xff;
  return d;
}

/** Two hosts, a UDP socket on each: `tx` on a (connected to b:7000), `rx` on b bound to 7000. */
function udpPair(mtu = 1500) {
  const net = makeSimNet({ mtu, poolBuffers: 1024 });
  const rx = net.b.udp.open(4);
  rx.bind(null, 7000);
  rx.receiveBufferBytes = 1 << 20;
  const tx = net.a.udp.open(4);
  tx.connect(ADDR_B, 7000);
  // Resolve the neighbour first: datagrams sent while ARP is pending wait in a short queue.
  tx.sendto(new Uint8Array(1), 0, 1);
  assert.ok(net.run(() => rx.queuedDatagrams === 1, 1000));
  rx.recvfrom(new Uint8Array(1), 0, 1, null);
  return { net, rx, tx };
}

/** Send `lens` as one sendmmsg batch (to the connected peer). */
function sendBatch(tx: UdpEndpoint, lens: number[]): UdpMessages {
  const msgs = new UdpMessages(lens.length, 9000);
  lens.forEach((len, i) => {
    msgs.bufs[i].set(pattern(len, i));
    msgs.lengths[i] = len;
  });
  assert.equal(tx.sendmmsg(msgs, lens.length), lens.length);
  return msgs;
}

Deno.test("sim udp: sendmmsg + recvmmsg move a batch byte-exact, fragmented datagrams too", () => {
  const { net, rx, tx } = udpPair();
  const lens = [0, 1, 64, 1472, 1473, 8900, 3000, 8900];
  sendBatch(tx, lens);
  assert.ok(net.run(() => rx.queuedDatagrams === lens.length, 1000), "all arrived");
  const got = new UdpMessages(16, 9000);
  const check = (from: number, n: number) => {
    for (let i = 0; i < n; i++) {
      const want = pattern(lens[from + i], from + i);
      assert.deepEqual(got.bufs[i].subarray(0, got.lengths[i]), want, `datagram ${from + i}`);
      assert.equal(got.peers[i].port, tx.localPort);
      assert.ok(ipEquals(got.peers[i].addr, ADDR_A));
      assert.equal(got.truncated(i), false);
    }
  };
  assert.equal(rx.recvmmsg(got, 5), 5, "max is honoured");
  check(0, 5);
  assert.equal(rx.recvmmsg(got), 3, "then the rest");
  assert.equal(got.count, 3);
  check(5, 3);
  assert.equal(rx.recvmmsg(got), 0, "empty: 0, no throw");
  assert.equal(net.b.stats.udp.InDatagrams, lens.length + 1);
});

Deno.test("sim udp: recvmmsg truncates to each buffer and says so", () => {
  const { net, rx, tx } = udpPair();
  sendBatch(tx, [100, 20]);
  net.run(() => rx.queuedDatagrams === 2, 1000);
  const small = new UdpMessages(4, 50);
  assert.equal(rx.recvmmsg(small), 2);
  assert.equal(small.lengths[0], 50);
  assert.equal(small.truncated(0), true);
  assert.equal(small.peers[0].length, 100);
  assert.deepEqual(small.bufs[0], pattern(100, 0).subarray(0, 50));
  assert.equal(small.truncated(1), false);
});

Deno.test("sim udp: sendmmsg throws the first message's error, stops at a later one", () => {
  const { rx, tx, net } = udpPair();
  const bad = new UdpMessages(3, 100);
  bad.lengths.fill(10);
  const unconnected = net.a.udp.open(4);
  assert.throws(
    () => unconnected.sendmmsg(bad, 1),
    (e) => (e as StackError).code === "EDESTADDRREQ",
  );
  // Message 1 goes to port 0 of nobody: the connected peer; message 2 to an unroutable address.
  bad.peers[2].addr.setV4(0x0a000001); // 10.0.0.1: no route
  bad.peers[2].port = 9;
  assert.equal(tx.sendmmsg(bad, 3), 2);
  net.run(() => rx.queuedDatagrams === 2, 1000);
  assert.equal(rx.queuedDatagrams, 2);
});

Deno.test("sim udp: borrow lends datagrams in place; giveBack frees them; misuse is EINVAL", () => {
  const { net, rx, tx } = udpPair(9000);
  const lens = [8900, 10, 8900];
  sendBatch(tx, lens);
  net.run(() => rx.queuedDatagrams === 3, 1000);
  const leases = [new UdpLease(), new UdpLease(), new UdpLease()];
  for (let i = 0; i < 3; i++) {
    assert.ok(rx.borrow(leases[i]));
    const l = leases[i];
    assert.deepEqual(l.buf.subarray(l.off, l.off + l.len), pattern(lens[i], i));
    assert.equal(l.peer.port, tx.localPort);
  }
  assert.equal(rx.borrow(new UdpLease()), false, "nothing left to lend");
  assert.equal(rx.lentDatagrams, 3);
  assert.equal(rx.queuedBytes, 8900 * 2 + 10, "lent datagrams still count");
  const view = leases[1].buf; // the socket's ring itself: no copy was made
  assert.equal(view, leases[0].buf);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as StackError).code;
    }
    return "none";
  };
  assert.equal(code(() => rx.borrow(leases[0])), "EINVAL", "a lease holding a datagram");
  rx.giveBack(leases[1]);
  assert.equal(leases[1].held, false);
  assert.equal(code(() => rx.giveBack(leases[1])), "EINVAL", "handed back twice");
  rx.giveBack(leases[2]);
  rx.giveBack(leases[0]);
  assert.equal(rx.lentDatagrams, 0);
  assert.equal(rx.queuedBytes, 0);
  assert.equal(net.b.stats.udp.ZeroCopyLent, 3);
  assert.equal(net.b.stats.udp.ZeroCopyReturned, 3);
  // Readiness follows queued datagrams only.
  sendBatch(tx, [5]);
  net.run(() => rx.queuedDatagrams === 1, 1000);
  assert.ok(rx.borrow(leases[0]));
  assert.equal(rx.queuedDatagrams, 0);
});

Deno.test("sim udp: kept leases fill the receive buffer (RcvbufErrors), not the stack's memory", () => {
  const { net, rx, tx } = udpPair(9000);
  rx.receiveBufferBytes = 40_000;
  const leases: UdpLease[] = [];
  for (let round = 0; round < 3; round++) {
    sendBatch(tx, [8900, 8900, 8900]);
    net.advance(50);
    for (;;) {
      const l = new UdpLease();
      if (!rx.borrow(l)) break;
      leases.push(l); // kept: never handed back
    }
  }
  assert.ok(leases.length >= 4 && leases.length <= 5, `${leases.length} lent`);
  assert.ok(net.b.stats.udp.RcvbufErrors >= 4, "the rest was dropped and counted");
  assert.ok(rx.queuedBytes <= 40_000 + 8900);
  // Handing them back makes room again.
  for (const l of leases) rx.giveBack(l);
  sendBatch(tx, [8900]);
  net.run(() => rx.queuedDatagrams === 1, 1000);
  assert.equal(rx.queuedDatagrams, 1);
});

Deno.test("sim udp: leases still out at close are counted; their socket refuses them", () => {
  const { net, rx, tx } = udpPair();
  sendBatch(tx, [10, 20]);
  net.run(() => rx.queuedDatagrams === 2, 1000);
  const l = new UdpLease();
  assert.ok(rx.borrow(l));
  rx.close();
  assert.equal(net.b.stats.udp.ZeroCopyLeakedOnClose, 1);
  assert.throws(() => rx.giveBack(l), (e) => (e as StackError).code === "EBADF");
});

Deno.test("sim udp: recvfrom after borrow takes the next datagram; order is kept", () => {
  const { net, rx, tx } = udpPair();
  sendBatch(tx, [11, 22, 33]);
  net.run(() => rx.queuedDatagrams === 3, 1000);
  const l = new UdpLease();
  rx.borrow(l);
  const buf = new Uint8Array(100);
  assert.equal(rx.recvfrom(buf, 0, 100, null), 22);
  rx.giveBack(l);
  assert.equal(rx.recvfrom(buf, 0, 100, null), 33);
  assert.equal(rx.queuedBytes, 0);
});
