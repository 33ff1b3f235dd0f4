/**
 * BIG TCP over IPv4 (Linux ≥ 6.3, `gso_ipv4_max_size` above 65,536): a kernel sender's GSO
 * super-frame longer than 65,535 bytes carries IPv4 total length 0 (`iph_set_totlen`); the
 * datagram is the whole frame. The receive path takes that only from a frame the driver
 * flagged a super-frame (RX_GSO), longer than 65,535 bytes, TCP, not a fragment; every other
 * total length of 0 is a header error, dropped and counted.
 */

import assert from "node:assert/strict";
import {
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_DROP_HDR_ERRORS,
  IPV4_HEADER_MIN_BYTES,
  Ipv4Header,
  Ipv4Repr,
} from "../../net/ipv4_header.ts";
import { RX_CSUM_VALID, RX_GSO } from "../../link/driver.ts";
import { PEER_ADDR, RIG_ADDR, type RigConn, TcpRig } from "../harness/tcp_rig.ts";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";

/** A BIG TCP datagram's length: 100,000 bytes of data behind the headers. */
const BIG_PAYLOAD = 100_000;

/** An IPv4 datagram from the peer around `segment`, as `emit` writes it (total 0 above 64 KB). */
function ipv4Datagram(segment: Uint8Array, change: (r: Ipv4Repr) => void = () => {}): Uint8Array {
  const r = new Ipv4Repr();
  r.src = PEER_ADDR;
  r.dst = RIG_ADDR;
  r.protocol = IP_PROTO_TCP;
  r.dontFragment = true;
  r.totalLength = IPV4_HEADER_MIN_BYTES + segment.length;
  change(r);
  const buf = new Uint8Array(IPV4_HEADER_MIN_BYTES + segment.length);
  r.emit(buf, 0);
  buf.set(segment, IPV4_HEADER_MIN_BYTES);
  return buf;
}

/** A rig with an established connection whose window takes a BIG TCP segment. */
function established(): { rig: TcpRig; c: RigConn } {
  const rig = new TcpRig({ tcp: { quickAcks: 0 } });
  const { conn } = rig.openPassive({ windowScale: 7 });
  // The SYN-ACK's window is unscaled (64 KB): the ACK of a first small segment opens it.
  rig.inject(conn.seg({ flags: TCP_FLAG_ACK, payload: 100 }));
  conn.peerNxt = seqAdd(conn.peerNxt, 100);
  conn.ep.read(new Uint8Array(100), 0, 100);
  rig.advance(500);
  rig.take();
  assert(conn.ep.rcv.window >= BIG_PAYLOAD, `receive window ${conn.ep.rcv.window}`);
  return { rig, c: conn };
}

/** The peer's next data segment of `bytes` bytes (a counting pattern), as TCP bytes. */
function dataSegment(rig: TcpRig, c: RigConn, bytes: number): Uint8Array {
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = (i * 7 + 3) & 0xff;
  return rig.segmentBytes(c.seg({ flags: TCP_FLAG_ACK, payload }));
}

Deno.test("big tcp ipv4: the header view takes total length 0 only as BIG TCP makes it", () => {
  const seg = new Uint8Array(BIG_PAYLOAD + 20);
  const big = ipv4Datagram(seg);
  assert.equal((big[2] << 8) | big[3], 0, "emit writes 0 above 65,535 bytes");
  const h = new Ipv4Header();
  assert.equal(h.attach(big, 0, big.length).check(true, true), null);
  assert(h.isBigTcp());
  // Not flagged a super-frame by the driver: a forged total length.
  assert.equal(h.attach(big, 0, big.length).check(true, false), IPV4_DROP_HDR_ERRORS);
  // Not TCP, a fragment (MF or an offset), or not longer than 65,535 bytes.
  const udp = ipv4Datagram(seg, (r) => r.protocol = IP_PROTO_UDP);
  assert.equal(h.attach(udp, 0, udp.length).check(true, true), IPV4_DROP_HDR_ERRORS);
  const mf = ipv4Datagram(seg, (r) => r.moreFragments = true);
  assert.equal(h.attach(mf, 0, mf.length).check(true, true), IPV4_DROP_HDR_ERRORS);
  const offset = ipv4Datagram(seg, (r) => r.fragmentOffsetBytes = 8);
  assert.equal(h.attach(offset, 0, offset.length).check(true, true), IPV4_DROP_HDR_ERRORS);
  const small = ipv4Datagram(new Uint8Array(1000));
  small[2] = 0;
  small[3] = 0;
  small[10] = 0;
  small[11] = 0;
  new Ipv4Header().attach(small, 0, IPV4_HEADER_MIN_BYTES).fillChecksum();
  assert.equal(h.attach(small, 0, small.length).check(true, true), IPV4_DROP_HDR_ERRORS);
  // An ordinary datagram is not BIG TCP.
  const plain = ipv4Datagram(new Uint8Array(1000));
  assert.equal(h.attach(plain, 0, plain.length).check(true, true), null);
  assert(!h.isBigTcp());
});

Deno.test("big tcp ipv4: a 100 KB super-frame flagged RX_GSO is delivered whole and ACKed", () => {
  const { rig, c } = established();
  const seg = dataSegment(rig, c, BIG_PAYLOAD);
  const dgram = ipv4Datagram(seg);
  const ip = rig.stack.stats.ip;
  const before = ip.InDelivers;
  rig.stack.ipv4.receive(rig.nicIndex, dgram, 0, dgram.length, RX_GSO | RX_CSUM_VALID);
  rig.tick();
  assert.equal(ip.InBigTcpPkts, 1);
  assert.equal(ip.InHdrErrors, 0);
  assert.equal(ip.InDelivers, before + 1);
  assert.equal(c.ep.readableBytes, BIG_PAYLOAD);
  const out = new Uint8Array(BIG_PAYLOAD);
  assert.equal(c.ep.read(out, 0, BIG_PAYLOAD), BIG_PAYLOAD);
  for (let i = 0; i < BIG_PAYLOAD; i++) {
    if (out[i] !== ((i * 7 + 3) & 0xff)) assert.fail(`byte ${i}: ${out[i]}`);
  }
  c.peerNxt = seqAdd(c.peerNxt, BIG_PAYLOAD);
  assert.equal(c.ep.rcv.rcvNxt, c.peerNxt);
  const acks = rig.take().filter((s) => (s.flags & TCP_FLAG_ACK) !== 0);
  assert(acks.length >= 1 && acks[acks.length - 1].ack === c.peerNxt, "RCV.NXT is ACKed");
});

Deno.test("big tcp ipv4: a forged total length 0 is dropped and counted, the data never reaches TCP", () => {
  const { rig, c } = established();
  const seg = dataSegment(rig, c, BIG_PAYLOAD);
  const dgram = ipv4Datagram(seg);
  const ip = rig.stack.stats.ip;
  const before = ip.InDelivers;
  // The same bytes without the driver's super-frame flag, …
  rig.stack.ipv4.receive(rig.nicIndex, dgram, 0, dgram.length, RX_CSUM_VALID);
  // … and a short datagram with total length 0 flagged as one.
  const short = ipv4Datagram(dataSegment(rig, c, 1000));
  short[2] = 0;
  short[3] = 0;
  short[10] = 0;
  short[11] = 0;
  new Ipv4Header().attach(short, 0, IPV4_HEADER_MIN_BYTES).fillChecksum();
  rig.stack.ipv4.receive(rig.nicIndex, short, 0, short.length, RX_GSO | RX_CSUM_VALID);
  rig.tick();
  assert.equal(ip.InHdrErrors, 2);
  assert.equal(ip.InBigTcpPkts, 0);
  assert.equal(ip.InDelivers, before);
  assert.equal(c.ep.readableBytes, 0);
});
