// IPv6 between two stacks on the in-memory wire: link-local addresses from the MAC, DAD,
// neighbour discovery both ways, echo over link-local and global addresses, fragmentation.

import assert from "node:assert/strict";
import { makeSimNet } from "../harness/sim_net.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { IpAddr } from "../../net/ip_address.ts";

const A6 = IpAddress.parse("fd00:5::1");
const B6 = IpAddress.parse("fd00:5::2");

function net6() {
  const net = makeSimNet({ wire: { seed: 11, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  return net;
}

function pinger() {
  const replies: { src: string; seq: number; len: number }[] = [];
  return {
    replies,
    onEchoReply(src: IpAddr, seq: number, _b: Uint8Array, _o: number, len: number) {
      replies.push({ src: `${src}`, seq, len });
    },
  };
}

Deno.test("sim ipv6: link-local from the MAC (modified EUI-64), DAD, then usable", () => {
  const net = net6();
  const ll = net.a.ipv6.iface(1).linkLocal;
  assert.equal(`${ll}`, "fe80::ff:fe00:a");
  assert.equal(net.a.ipv6.isLocalAddress(ll), false, "tentative while DAD runs");
  net.advance(2500);
  assert.equal(net.a.ipv6.isLocalAddress(ll), true);
  assert.equal(net.a.ipv6.isLocalAddress(A6), true);
  const states = net.a.ipv6.iface(1).addresses.list().map((x) => `${x}:${x.state}`);
  assert.deepEqual(states, ["fe80::ff:fe00:a/64:preferred", "fd00:5::1/64:preferred"]);
  assert.equal(net.a.stats.ndp.DadSuccesses, 2);
  assert.equal(net.a.stats.ndp.DadFailures, 0);
  // MLDv2 reports for the solicited-node groups went out.
  assert.ok(net.a.stats.icmp6.OutMLDv2Reports >= 2);
});

Deno.test("sim ipv6: ping a global and a link-local address, NDP resolved both ways", () => {
  const net = net6();
  net.advance(2500);
  const p = pinger();
  net.a.icmp6.listenEcho(7, p);
  const data = new Uint8Array(56).fill(0x5a);
  assert.equal(net.a.icmp6.sendEcho(B6, 7, 1, data, 0, data.length), null);
  net.advance(50);
  assert.deepEqual(p.replies, [{ src: "fd00:5::2", seq: 1, len: 56 }]);
  const llB = net.b.ipv6.iface(1).linkLocal;
  assert.equal(net.a.icmp6.sendEcho(llB, 7, 2, data, 0, data.length, 0, 1), null);
  net.advance(50);
  assert.deepEqual(p.replies[1], { src: "fe80::ff:fe00:b", seq: 2, len: 56 });
  const entryB = net.a.ipv6.iface(1).neighbours.entries().find((e) => `${e.ip}` === "fd00:5::2");
  assert.equal(entryB?.state, "REACHABLE");
  assert.deepEqual([...entryB!.mac], [2, 0, 0, 0, 0, 0xb]);
  // b learned a from the solicitation (STALE), then used it to answer.
  const entryA = net.b.ipv6.iface(1).neighbours.entries().find((e) => `${e.ip}` === "fd00:5::1");
  assert.ok(entryA !== undefined);
  assert.deepEqual([...entryA.mac], [2, 0, 0, 0, 0, 0xa]);
  assert.equal(net.b.stats.icmp6.InEchos, 2);
  assert.equal(net.b.stats.icmp6.OutEchoReplies, 2);
  assert.equal(net.a.stats.icmp6.InCsumErrors + net.b.stats.icmp6.InCsumErrors, 0);
});

Deno.test("sim ipv6: 3000-byte echo is fragmented at the source and reassembled both ways", () => {
  const net = net6();
  net.advance(2500);
  const p = pinger();
  net.a.icmp6.listenEcho(9, p);
  const data = new Uint8Array(3000);
  for (let i = 0; i < data.length; i++) data[i] = i * 7;
  assert.equal(net.a.icmp6.sendEcho(B6, 9, 1, data, 0, data.length), null);
  net.advance(100);
  assert.deepEqual(p.replies, [{ src: "fd00:5::2", seq: 1, len: 3000 }]);
  assert.equal(net.a.stats.ip6.FragCreates, 3);
  assert.equal(net.b.stats.ip6.ReasmOKs, 1);
  assert.equal(net.b.stats.ip6.FragCreates, 3);
  assert.equal(net.a.stats.ip6.ReasmOKs, 1);
});

Deno.test("sim ipv6: unreachable neighbour: three solicitations, then the entry is gone", () => {
  const net = net6();
  net.advance(2500);
  const nobody = IpAddress.parse("fd00:5::99");
  const data = new Uint8Array(8);
  net.a.icmp6.sendEcho(nobody, 1, 1, data, 0, 8);
  net.advance(500);
  assert.equal(net.a.ipv6.iface(1).neighbours.stateOf(nobody), "INCOMPLETE");
  net.advance(3000);
  assert.equal(net.a.ipv6.iface(1).neighbours.stateOf(nobody), undefined);
  assert.equal(net.a.stats.ndp.ResolveFailed, 1);
  assert.equal(net.a.stats.icmp6.OutNeighborSolicits >= 3, true);
});
