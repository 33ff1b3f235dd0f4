import assert from "node:assert/strict";
import { IpAddress } from "../../net/ip_address.ts";
import { Ipv6Header, Ipv6Repr } from "../../net/ipv6_header.ts";
import {
  FragmentHeader,
  hasRouterAlert,
  OPTIONS_DROP,
  OPTIONS_MALFORMED,
  OPTIONS_OK,
  processOptions,
  writeFragmentHeader,
} from "../../net/ipv6_ext_headers.ts";
import { Icmpv6Header, writeIcmpv6Header } from "../../net/icmpv6_header.ts";
import { pseudoHeaderSumIp } from "../../net/checksum.ts";
import {
  findNdpOption,
  NdpOptionCursor,
  ndpOptionsValid,
  writeNeighborAdvert,
  writeNeighborSolicit,
} from "../../net/ndp_header.ts";
import { mldMaxResponseMs, writeMldv2Report } from "../../net/mld_header.ts";

const hex = (s: string) =>
  new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

/** The RFC 1071 sum the slow way: pseudo-header bytes + message, byte pairs. */
function referenceChecksum(src: Uint8Array, dst: Uint8Array, nh: number, msg: Uint8Array): number {
  const ph = new Uint8Array(40 + msg.length + (msg.length & 1));
  ph.set(src, 0);
  ph.set(dst, 16);
  new DataView(ph.buffer).setUint32(32, msg.length);
  ph[39] = nh;
  ph.set(msg, 40);
  let s = 0;
  for (let i = 0; i < ph.length; i += 2) s += (ph[i] << 8) | ph[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

Deno.test("ipv6 header: Repr.emit writes the RFC 8200 layout; the view reads it back", () => {
  const r = new Ipv6Repr();
  r.src = IpAddress.parse("fd00:5::2");
  r.dst = IpAddress.parse("ff02::1:ff00:1");
  r.nextHeader = 58;
  r.hopLimit = 255;
  r.trafficClass = 0xb8;
  r.flowLabel = 0xabcde;
  r.payloadLength = 32;
  const b = new Uint8Array(72);
  assert.equal(r.emit(b, 0), 40);
  assert.deepEqual(
    b.subarray(0, 40),
    hex(`6b8abcde 0020 3a ff fd000005000000000000000000000002 ff0200000000000000000001ff000001`),
  );
  const h = new Ipv6Header().attach(b, 0, 72);
  assert.equal(h.check(), null);
  assert.equal(h.trafficClass, 0xb8);
  assert.equal(h.flowLabel, 0xabcde);
  assert.equal(h.payloadLength, 32);
  assert.equal(h.nextHeader, 58);
  assert.equal(h.hopLimit, 255);
  assert.equal(h.payloadOffset, 40);
});

Deno.test("ipv6 header: check() names the drop reason", () => {
  const b = new Uint8Array(48);
  b[0] = 0x60;
  b[5] = 8;
  const h = new Ipv6Header();
  assert.equal(h.attach(b, 0, 48).check(), null);
  assert.equal(h.attach(b, 0, 39).check(), "InTruncatedPkts");
  assert.equal(h.attach(b, 0, 47).check(), "InTruncatedPkts", "payload beyond the bytes");
  b[0] = 0x40;
  assert.equal(h.attach(b, 0, 48).check(), "InHdrErrors");
});

Deno.test("ipv6 ext headers: option action bits, padding, malformed lengths, router alert", () => {
  const opts = (...bytes: number[]) => new Uint8Array([59, 0, ...bytes]);
  assert.equal(processOptions(opts(1, 4, 0, 0, 0, 0), 0, 8, false, false), OPTIONS_OK);
  assert.equal(processOptions(opts(0, 0, 0, 0, 0, 0), 0, 8, false, false), OPTIONS_OK, "Pad1");
  assert.equal(processOptions(opts(0x1e, 4, 0, 0, 0, 0), 0, 8, false, false), OPTIONS_OK);
  assert.equal(processOptions(opts(0x5e, 4, 0, 0, 0, 0), 0, 8, false, false), OPTIONS_DROP);
  assert.equal(
    processOptions(opts(0x9e, 4, 0, 0, 0, 0), 0, 8, true, false),
    2,
    "10: report even to multicast",
  );
  assert.equal(processOptions(opts(0xde, 4, 0, 0, 0, 0), 0, 8, false, false), 2);
  assert.equal(
    processOptions(opts(0xde, 4, 0, 0, 0, 0), 0, 8, true, false),
    OPTIONS_DROP,
    "11: not to multicast",
  );
  assert.equal(processOptions(opts(1, 9, 0, 0, 0, 0), 0, 8, false, false), OPTIONS_MALFORMED);
  assert.equal(processOptions(opts(0, 0, 0, 0, 0, 1), 0, 8, false, false), OPTIONS_MALFORMED);
  const ra = opts(5, 2, 0, 0, 1, 0);
  assert.equal(processOptions(ra, 0, 8, true, true), OPTIONS_OK);
  assert.equal(processOptions(ra, 0, 8, true, false), OPTIONS_OK, "type 5 is action 00");
  assert.ok(hasRouterAlert(ra, 0, 8));
  assert.ok(!hasRouterAlert(opts(1, 4, 0, 0, 0, 0), 0, 8));
  const rnd = new Uint8Array(64);
  for (let i = 0; i < 2000; i++) {
    crypto.getRandomValues(rnd);
    processOptions(rnd, 0, 8 + (rnd[1] & 7) * 8 > 64 ? 64 : 8 + (rnd[1] & 7) * 8, false, true);
  }
});

Deno.test("ipv6 ext headers: fragment header fields, atomic fragments", () => {
  const b = new Uint8Array(8);
  writeFragmentHeader(b, 0, 17, 1232, true, 0xdeadbeef);
  assert.deepEqual(b, hex("11 00 04d1 deadbeef"));
  const f = new FragmentHeader().attach(b, 0, 8);
  assert.equal(f.nextHeader, 17);
  assert.equal(f.offsetBytes, 1232);
  assert.ok(f.moreFragments);
  assert.equal(f.identification, 0xdeadbeef);
  assert.ok(!f.isAtomic);
  writeFragmentHeader(b, 0, 58, 0, false, 1);
  assert.ok(new FragmentHeader().attach(b, 0, 8).isAtomic);
});

Deno.test("icmpv6: checksum over the pseudo-header matches the slow reference", () => {
  const src = IpAddress.parse("fe80::ff:fe00:a");
  const dst = IpAddress.parse("ff02::1:ff00:b");
  for (const len of [8, 9, 24, 33, 1232]) {
    const m = new Uint8Array(len);
    for (let i = 8; i < len; i++) m[i] = (i * 31) & 0xff;
    writeIcmpv6Header(m, 0, 128, 0, 0x12340001);
    const h = new Icmpv6Header().attach(m, 0, len);
    h.fillChecksum(pseudoHeaderSumIp(src, dst, 58, len));
    const stored = (m[2] << 8) | m[3];
    m[2] = m[3] = 0;
    assert.equal(stored, referenceChecksum(src.toBytes(), dst.toBytes(), 58, m), `len ${len}`);
    m[2] = stored >>> 8;
    m[3] = stored;
    assert.equal(h.check(pseudoHeaderSumIp(src, dst, 58, len)), null);
    m[len - 1] ^= 1;
    assert.equal(h.check(pseudoHeaderSumIp(src, dst, 58, len)), "InCsumErrors");
  }
});

Deno.test("ndp: NS/NA writers and the option cursor", () => {
  const mac = new Uint8Array([2, 0, 0, 0, 0, 0xa]);
  const b = new Uint8Array(64);
  const n = writeNeighborSolicit(b, 0, IpAddress.parse("fd00:5::2"), mac);
  assert.equal(n, 32);
  assert.deepEqual(
    b.subarray(0, 32),
    hex("87 00 0000 00000000 fd000005000000000000000000000002 0101 02000000000a"),
  );
  assert.equal(writeNeighborSolicit(b, 0, IpAddress.parse("fd00:5::2"), null), 24);
  const na = writeNeighborAdvert(b, 0, 0x60000000, IpAddress.parse("fd00:5::1"), mac);
  assert.equal(na, 32);
  assert.deepEqual(b.subarray(0, 8), hex("88 00 0000 60000000"));
  assert.deepEqual(b.subarray(24, 32), hex("0201 02000000000a"));
  const opts = hex("0101 02000000000a 0501 0000 000005dc");
  const c = new NdpOptionCursor().start(opts, 0, opts.length);
  const seen: number[] = [];
  while (c.next()) seen.push(c.type, c.optLen);
  assert.deepEqual(seen, [1, 8, 5, 8]);
  assert.ok(c.valid);
  assert.equal(findNdpOption(opts, 0, opts.length, 5), 8);
  assert.equal(findNdpOption(opts, 0, opts.length, 3), -1);
  assert.ok(!ndpOptionsValid(hex("0100 0000 0000 0000"), 0, 8), "zero length");
  assert.ok(!ndpOptionsValid(hex("0102 0000 0000 0000"), 0, 8), "past the end");
  assert.ok(!ndpOptionsValid(hex("01"), 0, 1), "one byte");
});

Deno.test("mld: MLDv2 report layout and the maximum response code", () => {
  const b = new Uint8Array(64);
  const n = writeMldv2Report(b, 0, 4, [IpAddress.parse("ff02::1:ff00:2")]);
  assert.equal(n, 28);
  assert.deepEqual(
    b.subarray(0, 28),
    hex("8f 00 0000 0000 0001 04 00 0000 ff0200000000000000000001ff000002"),
  );
  const q = new Uint8Array(28);
  q[4] = 0x27;
  q[5] = 0x10;
  assert.equal(mldMaxResponseMs(q, 0, 28), 10000);
  q[4] = 0x80; // exponent 0, mantissa 0: (0x1000) << 3
  q[5] = 0x00;
  assert.equal(mldMaxResponseMs(q, 0, 28), 0x8000);
  assert.equal(mldMaxResponseMs(q, 0, 24), 0x8000, "MLDv1: the plain value");
});
