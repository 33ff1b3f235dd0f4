import assert from "node:assert/strict";
import {
  UDP_DROP_CSUM_ERRORS,
  UDP_DROP_ERRORS,
  UDP_HEADER_BYTES,
  UdpHeader,
  writeUdpHeader,
} from "../../transport/udp_header.ts";
import { IP_PROTO_UDP, Ipv4Header } from "../../net/ipv4_header.ts";
import {
  foldChecksum,
  onesComplementSum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
} from "../../net/checksum.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
}

// 198.18.0.1:5353 → 198.18.0.2:53, "hello", UDP checksum 0x1abc.
const DGRAM = hex("45000021000100004011eea3c6120001c6120002 14e9 0035 000d 1abc 68656c6c6f");

Deno.test("udp header: parse a known datagram and verify its checksum", () => {
  const ip = new Ipv4Header().attach(DGRAM, 0, DGRAM.length);
  assert.equal(ip.check(), null);
  const udp = new UdpHeader().attach(DGRAM, ip.payloadOffset, ip.payloadLength);
  assert.equal(udp.check(), null);
  assert.equal(udp.srcPort, 5353);
  assert.equal(udp.dstPort, 53);
  assert.equal(udp.length, 13);
  assert.equal(udp.checksum, 0x1abc);
  assert.equal(udp.payloadOffset, 28);
  assert.equal(udp.payloadLength, 5);
  const ph = pseudoHeaderSumV4(ip.src, ip.dst, IP_PROTO_UDP, udp.length);
  assert.ok(udp.verifyChecksum(ph));
  assert.equal(udp.computeUdpChecksum(ph), 0x1abc); // ignores the stored field
  assert.ok(!udp.verifyChecksum(ph + 1));
  assert.equal(UDP_DROP_CSUM_ERRORS, "InCsumErrors");
});

Deno.test("udp header: build with writeUdpHeader + fillChecksum, byte for byte", () => {
  const b = new Uint8Array(13);
  assert.equal(writeUdpHeader(b, 0, 5353, 53, 13), UDP_HEADER_BYTES);
  b.set(new TextEncoder().encode("hello"), 8);
  const udp = new UdpHeader().attach(b, 0, 13);
  udp.fillChecksum(pseudoHeaderSumV4(0xc6120001, 0xc6120002, 17, 13));
  assert.deepEqual(b, DGRAM.subarray(20));
  // Setters build the same bytes.
  const c = new Uint8Array(13);
  c.set(b.subarray(8), 8);
  const v = new UdpHeader().attach(c, 0, 13);
  v.srcPort = 5353;
  v.dstPort = 53;
  v.length = 13;
  v.checksum = 0x1abc;
  assert.deepEqual(c, b);
});

Deno.test("udp header: a computed 0 goes on the wire as 0xffff; 0 received means none", () => {
  // Find a payload whose checksum computes to 0 (sum 0xffff), then check both rules.
  const b = new Uint8Array(10);
  writeUdpHeader(b, 0, 1, 2, 10);
  const ph = pseudoHeaderSumV4(0xc6120001, 0xc6120002, 17, 10);
  const need = foldChecksum(onesComplementSum(b, 0, 8, ph)); // the last word that sums to ~0
  b[8] = need >>> 8;
  b[9] = need & 0xff;
  const udp = new UdpHeader().attach(b, 0, 10);
  assert.equal(udp.computeUdpChecksum(ph), 0xffff);
  udp.fillChecksum(ph);
  assert.equal(udp.checksum, 0xffff);
  assert.ok(udp.verifyChecksum(ph));
  udp.checksum = 0;
  assert.ok(udp.verifyChecksum(ph)); // IPv4: no checksum
  assert.ok(udp.verifyChecksum(ph + 12345)); // … whatever the pseudo-header
  assert.ok(!udp.verifyChecksum(ph, false)); // IPv6 (RFC 8200 §8.1): must be discarded
});

Deno.test("udp header: checksum over IPv6 pseudo-header, odd payloads, trailing bytes", () => {
  const pkt = new Uint8Array(40 + 8 + 7 + 5);
  pkt.set(hex("fd000000000000000000000000000001"), 8);
  pkt.set(hex("fd000000000000000000000000000002"), 24);
  writeUdpHeader(pkt, 40, 1000, 2000, 15);
  pkt.set([1, 2, 3, 4, 5, 6, 7], 48);
  pkt.set([9, 9, 9, 9, 9], 55); // bytes after the UDP length: not covered
  const ph = pseudoHeaderSumV6(pkt, 8, pkt, 24, 17, 15);
  const udp = new UdpHeader().attach(pkt, 40, pkt.length - 40);
  assert.equal(udp.check(), null);
  udp.fillChecksum(ph);
  assert.ok(udp.verifyChecksum(ph, false));
  pkt[59] ^= 0xff;
  assert.ok(udp.verifyChecksum(ph, false));
  pkt[54] ^= 0xff;
  assert.ok(!udp.verifyChecksum(ph, false));
});

Deno.test("udp header: check() drop paths", () => {
  const udp = new UdpHeader();
  const d = DGRAM.slice(20);
  for (let len = 0; len < 8; len++) assert.equal(udp.attach(d, 0, len).check(), UDP_DROP_ERRORS);
  for (const l of [0, 1, 7]) {
    const b = d.slice();
    b[4] = 0;
    b[5] = l;
    assert.equal(udp.attach(b, 0, b.length).check(), UDP_DROP_ERRORS, `length ${l}`);
  }
  assert.equal(udp.attach(d, 0, 12).check(), UDP_DROP_ERRORS); // length 13 > 12 bytes
  assert.equal(udp.attach(d, 0, 13).check(), null);
  const e = d.slice();
  e[5] = 8; // an empty datagram inside more bytes is fine
  assert.equal(udp.attach(e, 0, 13).check(), null);
  assert.equal(udp.payloadLength, 0);
  assert.equal(UDP_DROP_ERRORS, "InErrors");
});

Deno.test("udp header: random bytes never throw", () => {
  const udp = new UdpHeader();
  const buf = new Uint8Array(64);
  for (let i = 0; i < 10000; i++) {
    crypto.getRandomValues(buf);
    const off = i % 4;
    const r = udp.attach(buf, off, (i * 3) % (65 - off)).check();
    if (r === null) {
      assert.ok(udp.length >= 8 && udp.length <= udp.len);
      const ph = pseudoHeaderSumV4(i, i * 7, 17, udp.length);
      udp.verifyChecksum(ph);
      udp.fillChecksum(ph);
      assert.ok(udp.verifyChecksum(ph, false));
    }
  }
});
