import assert from "node:assert/strict";
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_DROP_CSUM_ERRORS,
  ICMPV4_DROP_ERRORS,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_HEADER_BYTES,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_UNREACH_FRAG_NEEDED,
  ICMPV4_UNREACH_PORT,
  Icmpv4Header,
  writeIcmpv4Header,
} from "../../net/icmpv4_header.ts";
import { Ipv4Header } from "../../net/ipv4_header.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
}

// 198.18.0.1 → 198.18.0.2 echo request id 0x1234 seq 1, data "abcdefgh".
const PING = hex(
  "45000024abcd4000400102e4c6120001c6120002 0800 5435 1234 0001 6162636465666768",
);

Deno.test("icmpv4 header: constants", () => {
  assert.deepEqual(
    [ICMPV4_ECHO_REPLY, ICMPV4_DEST_UNREACHABLE, ICMPV4_ECHO_REQUEST, ICMPV4_TIME_EXCEEDED],
    [0, 3, 8, 11],
  );
  assert.equal(ICMPV4_PARAMETER_PROBLEM, 12);
  assert.equal(ICMPV4_UNREACH_PORT, 3);
  assert.equal(ICMPV4_UNREACH_FRAG_NEEDED, 4);
  assert.equal(ICMPV4_HEADER_BYTES, 8);
  assert.deepEqual([ICMPV4_DROP_ERRORS, ICMPV4_DROP_CSUM_ERRORS], ["InErrors", "InCsumErrors"]);
});

Deno.test("icmpv4 header: parse a known echo request", () => {
  const ip = new Ipv4Header().attach(PING, 0, PING.length);
  assert.equal(ip.check(), null);
  const icmp = new Icmpv4Header().attach(PING, ip.payloadOffset, ip.payloadLength);
  assert.equal(icmp.check(), null);
  assert.equal(icmp.type, ICMPV4_ECHO_REQUEST);
  assert.equal(icmp.code, 0);
  assert.equal(icmp.checksum, 0x5435);
  assert.equal(icmp.identifier, 0x1234);
  assert.equal(icmp.sequence, 1);
  assert.equal(icmp.rest, 0x12340001);
  assert.equal(icmp.payloadOffset, 28);
  assert.equal(icmp.payloadLength, 8);
  assert.equal(new TextDecoder().decode(PING.subarray(28)), "abcdefgh");
  assert.ok(!icmp.isError());
});

Deno.test("icmpv4 header: answer in place, and build with setters", () => {
  const pkt = PING.slice();
  const icmp = new Icmpv4Header().attach(pkt, 20, 16);
  icmp.type = ICMPV4_ECHO_REPLY;
  icmp.fillChecksum();
  assert.equal(icmp.check(), null);
  // RFC 1624: the type word changed by 0x0800, so the checksum grows by 0x0800.
  assert.equal(icmp.checksum, 0x5c35);

  const b = new Uint8Array(16);
  const built = new Icmpv4Header().attach(b, 0, 16);
  built.type = ICMPV4_ECHO_REQUEST;
  built.code = 0;
  built.identifier = 0x1234;
  built.sequence = 1;
  b.set(new TextEncoder().encode("abcdefgh"), built.payloadOffset);
  built.fillChecksum();
  assert.deepEqual(b, PING.subarray(20));
  // fillChecksum(len) over a prefix of the attached bytes.
  const big = new Uint8Array(100);
  big.set(b);
  big[2] = big[3] = 0;
  const v = new Icmpv4Header().attach(big, 0, 100);
  v.fillChecksum(16);
  assert.equal(v.checksum, 0x5435);
});

Deno.test("icmpv4 header: error-message fields", () => {
  const b = new Uint8Array(8 + 28);
  const icmp = new Icmpv4Header().attach(b, 0, b.length);
  icmp.type = ICMPV4_DEST_UNREACHABLE;
  icmp.code = ICMPV4_UNREACH_FRAG_NEEDED;
  icmp.nextHopMtu = 1400;
  assert.equal(icmp.rest, 1400);
  assert.equal(icmp.sequence, 1400);
  assert.ok(icmp.isError());
  icmp.rest = 0xc6120001; // a redirect gateway
  assert.equal(icmp.rest, 0xc6120001);
  assert.equal(icmp.identifier, 0xc612);
  icmp.rest = 0;
  icmp.type = ICMPV4_PARAMETER_PROBLEM;
  icmp.pointer = 9;
  assert.equal(b[4], 9);
  assert.equal(icmp.pointer, 9);
  icmp.checksum = 0xabcd;
  assert.equal(icmp.checksum, 0xabcd);
  icmp.fillChecksum();
  assert.equal(icmp.check(), null);
  for (const t of [3, 4, 5, 11, 12]) {
    icmp.type = t;
    assert.ok(icmp.isError(), `${t}`);
  }
  for (const t of [0, 8, 13, 14]) {
    icmp.type = t;
    assert.ok(!icmp.isError(), `${t}`);
  }
});

Deno.test("icmpv4 header: check() drop paths", () => {
  const icmp = new Icmpv4Header();
  const msg = PING.slice(20);
  for (let len = 0; len < 8; len++) {
    assert.equal(icmp.attach(msg, 0, len).check(), ICMPV4_DROP_ERRORS);
  }
  // The checksum covers the data too: any flipped data bit is caught.
  for (let bit = 0; bit < msg.length * 8; bit++) {
    const b = msg.slice();
    b[bit >>> 3] ^= 0x80 >>> (bit & 7);
    assert.equal(icmp.attach(b, 0, b.length).check(), ICMPV4_DROP_CSUM_ERRORS, `bit ${bit}`);
    assert.equal(icmp.check(false), null);
  }
  // A message cut short no longer verifies.
  assert.equal(icmp.attach(msg, 0, 15).check(), ICMPV4_DROP_CSUM_ERRORS);
});

Deno.test("icmpv4 header: odd-length messages", () => {
  const b = new Uint8Array(8 + 7);
  const icmp = new Icmpv4Header().attach(b, 0, b.length);
  icmp.type = ICMPV4_ECHO_REQUEST;
  b.set([1, 2, 3, 4, 5, 6, 7], 8);
  icmp.fillChecksum();
  assert.equal(icmp.check(), null);
});

Deno.test("icmpv4 header: random bytes never throw", () => {
  const icmp = new Icmpv4Header();
  const buf = new Uint8Array(100);
  for (let i = 0; i < 10000; i++) {
    crypto.getRandomValues(buf);
    const off = i % 5;
    const len = (i * 13) % (101 - off);
    if (i % 3 === 0 && len >= 8) icmp.attach(buf, off, len).fillChecksum();
    const r = icmp.attach(buf, off, len).check();
    if (i % 3 === 0 && len >= 8) assert.equal(r, null);
    void [icmp.type, icmp.code, icmp.rest, icmp.nextHopMtu, icmp.payloadLength, icmp.isError()];
  }
});

Deno.test("icmpv4 header: writeIcmpv4Header + fillChecksum builds what the view reads back", () => {
  const buf = new Uint8Array(8 + 5);
  buf.set([1, 2, 3, 4, 5], 8);
  assert.equal(writeIcmpv4Header(buf, 0, ICMPV4_ECHO_REQUEST, 0, (0x1234 << 16) | 0x0102), 8);
  const h = new Icmpv4Header().attach(buf, 0, buf.length);
  h.fillChecksum();
  assert.equal(h.check(), null);
  assert.equal(h.type, ICMPV4_ECHO_REQUEST);
  assert.equal(h.identifier, 0x1234);
  assert.equal(h.sequence, 0x0102);
  // Fragmentation needed carries the next-hop MTU in the low 16 bits (RFC 1191 §4).
  writeIcmpv4Header(buf, 0, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_FRAG_NEEDED, 1400);
  assert.equal(h.nextHopMtu, 1400);
  assert.equal(h.rest, 1400);
});

Deno.test("icmpv4 header: rewriteType patches the checksum as a full recomputation would", () => {
  for (let i = 0; i < 200; i++) {
    const len = 8 + (i % 37);
    const buf = crypto.getRandomValues(new Uint8Array(len));
    buf[0] = ICMPV4_ECHO_REQUEST;
    const h = new Icmpv4Header().attach(buf, 0, len);
    h.fillChecksum();
    h.rewriteType(ICMPV4_ECHO_REPLY);
    assert.equal(h.type, ICMPV4_ECHO_REPLY);
    assert.equal(h.check(), null);
    const patched = h.checksum;
    h.fillChecksum();
    // One's complement has two zeros; both verify, and a recomputation gives one of them.
    assert.ok(patched === h.checksum || (patched ^ h.checksum) === 0xffff);
  }
});
