// Malformed and hostile IPv6 input, sent by a hand-made host on the sim wire: every one is
// dropped and counted, answered with the ICMPv6 error RFC 8200 asks for where it asks for one,
// and never throws.

import assert from "node:assert/strict";
import { makeSimNet } from "../harness/sim_net.ts";
import {
  concat,
  drain,
  icmpv6,
  inject,
  ipv6Frame,
  llOption,
  type SeenFrame,
  udp6,
} from "../harness/ipv6_frames.ts";
import { IpAddress } from "../../net/ip_address.ts";

const A = IpAddress.parse("fd00:5::1");
const H = IpAddress.parse("fd00:5::99");
const A_MAC = new Uint8Array([2, 0, 0, 0, 0, 0xa]);
const H_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x99]);

function setup() {
  const net = makeSimNet({ wire: { seed: 31, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A, 64);
  const host = net.wire.endpoint("h0", H_MAC);
  const seen: SeenFrame[] = [];
  const advance = (ms: number) => net.run(() => (seen.push(...drain(host)), false), ms);
  advance(2500);
  // Introduce ourselves: a neighbour solicitation with our MAC makes a learn it.
  send(net, host, 58, icmpv6(H, A, 135, 0, 0, concat(A.toBytes(), llOption(1, H_MAC))), 255);
  advance(20);
  seen.length = 0;
  const fromA = (type: number) =>
    seen.filter((f) => f.src === "fd00:5::1" && f.nextHeader === 58 && f.payload[0] === type);
  return { net, host, seen, advance, fromA };
}

function send(
  net: ReturnType<typeof makeSimNet>,
  host: ReturnType<ReturnType<typeof makeSimNet>["wire"]["endpoint"]>,
  nextHeader: number,
  payload: Uint8Array,
  hopLimit = 64,
  payloadLength?: number,
): void {
  void net;
  inject(
    host,
    ipv6Frame({
      srcMac: H_MAC,
      dstMac: A_MAC,
      src: H,
      dst: A,
      hopLimit,
      nextHeader,
      payload,
      payloadLength,
    }),
  );
}

const echo = (seq: number, data = new Uint8Array(8)) => icmpv6(H, A, 128, 0, (7 << 16) | seq, data);
/** An options header (hop-by-hop or destination) holding one option of `type` with 4 bytes of data. */
const optionsHeader = (next: number, type: number) =>
  new Uint8Array([next, 0, type, 4, 0, 0, 0, 0]);
const pointerOf = (f: SeenFrame) =>
  new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(4);

Deno.test("sim ipv6 input: unknown next header → parameter problem code 1 pointing at it", () => {
  const { net, host, advance, fromA } = setup();
  send(net, host, 253, new Uint8Array(8));
  advance(20);
  assert.equal(net.a.stats.ip6.InUnknownProtos, 1);
  const pp = fromA(4);
  assert.equal(pp.length, 1);
  assert.equal(pp[0].payload[1], 1);
  assert.equal(pointerOf(pp[0]), 6);
});

Deno.test("sim ipv6 input: hop-by-hop after another header, truncated headers, bad lengths", () => {
  const { net, host, advance, fromA } = setup();
  // destination options, then hop-by-hop: refused, pointer at the destination header's next header
  send(net, host, 60, concat(optionsHeader(0, 1), optionsHeader(58, 1), echo(1)));
  advance(20);
  assert.equal(net.a.stats.ip6.InHdrErrors, 1);
  assert.equal(pointerOf(fromA(4)[0]), 40);
  // an extension header longer than the datagram: dropped, no answer
  send(net, host, 60, new Uint8Array([58, 3, 1, 2, 0, 0]));
  // payload length beyond the frame
  send(net, host, 58, echo(2), 64, 400);
  advance(20);
  assert.equal(net.a.stats.ip6.InHdrErrors, 2);
  assert.equal(net.a.stats.ip6.InTruncatedPkts, 1);
  assert.equal(fromA(4).length, 1);
  assert.equal(fromA(129).length, 0);
});

Deno.test("sim ipv6 input: routing header type 0 refused (RFC 5095), ignored with no segments left", () => {
  const { net, host, advance, fromA } = setup();
  const rh0 = (segmentsLeft: number) =>
    concat(new Uint8Array([58, 2, 0, segmentsLeft, 0, 0, 0, 0]), new Uint8Array(16));
  send(net, host, 43, concat(rh0(1), echo(1)));
  advance(20);
  const pp = fromA(4);
  assert.equal(pp.length, 1);
  assert.equal(pp[0].payload[1], 0);
  assert.equal(pointerOf(pp[0]), 42, "points at the routing type");
  assert.equal(net.a.stats.ip6.InHdrErrors, 1);
  assert.equal(fromA(129).length, 0);
  send(net, host, 43, concat(rh0(0), echo(2)));
  advance(20);
  assert.equal(fromA(129).length, 1, "no segments left: the header is skipped");
});

Deno.test("sim ipv6 input: destination option action bits (RFC 8200 §4.2)", () => {
  const { net, host, advance, fromA } = setup();
  send(net, host, 60, concat(optionsHeader(58, 0x1e), echo(1))); // 00: skip
  send(net, host, 60, concat(optionsHeader(58, 0x5e), echo(2))); // 01: drop
  send(net, host, 60, concat(optionsHeader(58, 0x9e), echo(3))); // 10: drop + report
  send(net, host, 60, concat(optionsHeader(58, 0xde), echo(4))); // 11: drop + report (unicast)
  advance(20);
  assert.equal(fromA(129).length, 1);
  const pp = fromA(4);
  assert.equal(pp.length, 2);
  assert.equal(pp[0].payload[1], 2);
  assert.equal(pointerOf(pp[0]), 42);
  assert.equal(net.a.stats.ip6.InHdrErrors, 3);
});

Deno.test("sim ipv6 input: overlapping fragments discard the datagram (RFC 5722); atomic fragments pass", () => {
  const { net, host, advance, fromA } = setup();
  const msg = echo(1, new Uint8Array(24)); // 32 bytes
  const frag = (offset: number, more: boolean, id: number, data: Uint8Array) =>
    concat(
      new Uint8Array([58, 0, offset >>> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0, id]),
      data,
    );
  send(net, host, 44, frag(0, true, 1, msg.subarray(0, 16)));
  send(net, host, 44, frag(8, false, 1, msg.subarray(8, 32)));
  send(net, host, 44, frag(16, false, 1, msg.subarray(16, 32))); // would have completed it
  advance(20);
  assert.equal(net.a.stats.ip6.ReasmOverlaps, 1);
  assert.equal(fromA(129).length, 0);
  send(net, host, 44, frag(0, false, 2, echo(2)));
  advance(20);
  assert.equal(fromA(129).length, 1, "an atomic fragment is a whole datagram (RFC 6946)");
  // a middle fragment that is not a multiple of 8 bytes: parameter problem, pointer 4
  send(net, host, 44, frag(0, true, 3, echo(3).subarray(0, 12)));
  advance(20);
  assert.equal(pointerOf(fromA(4)[0]), 4);
});

Deno.test("sim ipv6 input: an incomplete datagram times out after 60 s with time exceeded (code 1)", () => {
  const { net, host, advance, fromA } = setup();
  const msg = echo(1, new Uint8Array(24));
  send(net, host, 44, concat(new Uint8Array([58, 0, 0, 1, 0, 0, 0, 9]), msg.subarray(0, 16)));
  advance(59_000);
  assert.equal(fromA(3).length, 0);
  // Say hello again: a forgets an unused neighbour after 60 s, and we do not answer solicitations.
  send(net, host, 58, icmpv6(H, A, 135, 0, 0, concat(A.toBytes(), llOption(1, H_MAC))), 255);
  advance(2_000);
  const te = fromA(3);
  assert.equal(te.length, 1);
  assert.equal(te[0].payload[1], 1);
  assert.equal(net.a.stats.ip6.ReasmTimeout, 1);
});

Deno.test("sim ipv6 input: NDP with hop limit below 255, bad checksums, martian sources", () => {
  const { net, host, advance, fromA } = setup();
  send(net, host, 58, icmpv6(H, A, 135, 0, 0, concat(A.toBytes(), llOption(1, H_MAC))), 64);
  advance(20);
  assert.equal(net.a.stats.ndp.InBadHopLimit, 1);
  assert.equal(fromA(136).length, 0);
  const bad = echo(1);
  bad[2] ^= 0xff;
  send(net, host, 58, bad);
  advance(20);
  assert.equal(net.a.stats.icmp6.InCsumErrors, 1);
  const mcast = IpAddress.parse("ff02::1");
  inject(
    host,
    ipv6Frame({
      srcMac: H_MAC,
      dstMac: A_MAC,
      src: mcast,
      dst: A,
      nextHeader: 58,
      payload: echo(2),
    }),
  );
  advance(20);
  assert.equal(net.a.stats.ip6.InHdrErrors, 1);
  assert.equal(fromA(129).length, 0);
});

Deno.test("sim ipv6 input: packet too big lowers the path MTU; later datagrams are fragmented to fit", () => {
  const { net, host, advance, seen } = setup();
  const data = new Uint8Array(1400);
  net.a.icmp6.sendEcho(H, 1, 1, data, 0, data.length);
  advance(20);
  const req = seen.find((f) => f.payload[0] === 128)!;
  assert.equal(req.bytes.length, 14 + 40 + 8 + 1400);
  const quote = req.bytes.subarray(14, 14 + 1232);
  inject(
    host,
    ipv6Frame({
      srcMac: H_MAC,
      dstMac: A_MAC,
      src: H,
      dst: A,
      nextHeader: 58,
      payload: icmpv6(H, A, 2, 0, 1280, quote),
    }),
  );
  advance(20);
  assert.equal(net.a.stats.icmp6.InPktTooBigs, 1);
  seen.length = 0;
  net.a.icmp6.sendEcho(H, 1, 2, data, 0, data.length);
  advance(20);
  assert.equal(seen.length, 2);
  assert.ok(seen.every((f) => f.bytes.length <= 14 + 1280 && f.nextHeader === 44));
});

Deno.test("sim ipv6 input: no error about an ICMPv6 error, to a multicast group, or from a multicast source (RFC 4443 §2.4 (e))", () => {
  const { net, host, advance, fromA } = setup();
  // Controls: an option that asks for a report, in front of an echo request; a closed port.
  send(net, host, 60, concat(optionsHeader(58, 0x9e), echo(1)));
  advance(20);
  assert.equal(fromA(4).length, 1, "control: parameter problem about an echo request");
  // The same option in front of ICMPv6 errors: nothing.
  for (const type of [1, 2, 3, 4]) {
    send(
      net,
      host,
      60,
      concat(optionsHeader(58, 0x9e), icmpv6(H, A, type, 0, 0, new Uint8Array(48))),
    );
  }
  advance(20);
  assert.equal(fromA(4).length, 1, "no error about an error");
  assert.equal(net.a.stats.ip6.InHdrErrors, 5);
  // A closed port at the all-nodes group: no port unreachable; at our address: one.
  const allNodes = IpAddress.parse("ff02::1");
  const toGroup = ipv6Frame({
    srcMac: H_MAC,
    src: H,
    dst: allNodes,
    nextHeader: 17,
    payload: udp6(H, allNodes, 40000, 9, new Uint8Array(4)),
  });
  inject(host, toGroup);
  advance(20);
  assert.equal(fromA(1).length, 0, "nothing to a multicast destination");
  // Nor to our unicast address in a link-layer broadcast frame (e.4).
  inject(
    host,
    ipv6Frame({
      srcMac: H_MAC,
      dstMac: new Uint8Array([255, 255, 255, 255, 255, 255]),
      src: H,
      dst: A,
      nextHeader: 17,
      payload: udp6(H, A, 40000, 9, new Uint8Array(4)),
    }),
  );
  advance(20);
  assert.equal(fromA(1).length, 0, "nothing about a link-layer broadcast");
  assert.equal(net.a.stats.udp.NoPorts, 1, "delivered, only not answered");
  send(net, host, 17, udp6(H, A, 40000, 9, new Uint8Array(4)));
  advance(20);
  assert.equal(fromA(1).length, 1, "control: port unreachable to a unicast source");
  // From a multicast source: dropped on arrival, never answered.
  const group = IpAddress.parse("ff02::5");
  const hdrErrors = net.a.stats.ip6.InHdrErrors;
  inject(
    host,
    ipv6Frame({
      srcMac: H_MAC,
      dstMac: A_MAC,
      src: group,
      dst: A,
      nextHeader: 17,
      payload: udp6(group, A, 40000, 9, new Uint8Array(4)),
    }),
  );
  advance(20);
  assert.equal(net.a.stats.ip6.InHdrErrors, hdrErrors + 1);
  assert.equal(fromA(1).length, 1);
});
