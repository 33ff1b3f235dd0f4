import assert from "node:assert/strict";
import {
  IP_PROTO_ICMP,
  IP_PROTO_ICMPV6,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_DROP_BAD_VERSION,
  IPV4_DROP_CSUM_ERRORS,
  IPV4_DROP_HDR_ERRORS,
  IPV4_DROP_TRUNCATED,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_HEADER_MIN_BYTES,
  Ipv4Header,
  Ipv4Repr,
} from "../../net/ipv4_header.ts";
import {
  formatIpv4,
  IPV4_ANY,
  IPV4_BROADCAST,
  isInSubnet,
  isIpv4LimitedBroadcast,
  isIpv4LinkLocal,
  isIpv4Loopback,
  isIpv4Martian,
  isIpv4Multicast,
  parseIpv4,
  parseIpv4Cidr,
  prefixMask,
  readIpv4,
  writeIpv4,
} from "../../net/ipv4_address.ts";
import { verifyChecksum } from "../../net/checksum.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
}

// 192.168.0.1 → 192.168.0.199, UDP, total length 0x73, DF, TTL 64, checksum 0xb861.
const HDR = hex("45000073000040004011b861c0a80001c0a800c7");
// 198.18.0.1 → 198.18.0.2 ICMP echo request, 36 bytes, id 0xabcd, DF, checksum 0x02e4.
const ICMP_PKT = hex(
  "45000024abcd4000400102e4c6120001c612000208005435123400016162636465666768",
);

Deno.test("ipv4 header: constants", () => {
  assert.equal(IP_PROTO_ICMP, 1);
  assert.equal(IP_PROTO_TCP, 6);
  assert.equal(IP_PROTO_UDP, 17);
  assert.equal(IP_PROTO_ICMPV6, 58);
  assert.equal(IPV4_HEADER_MIN_BYTES, 20);
  assert.deepEqual(
    [IPV4_DROP_TRUNCATED, IPV4_DROP_BAD_VERSION, IPV4_DROP_HDR_ERRORS, IPV4_DROP_CSUM_ERRORS],
    ["InTruncatedPkts", "InBadVersion", "InHdrErrors", "InCsumErrors"],
  );
});

Deno.test("ipv4 header: parse a known header (checksum 0xb861)", () => {
  const buf = new Uint8Array(0x73);
  buf.set(HDR);
  const ip = new Ipv4Header().attach(buf, 0, buf.length);
  assert.equal(ip.check(), null);
  assert.equal(ip.version, 4);
  assert.equal(ip.ihl, 5);
  assert.equal(ip.headerBytes, 20);
  assert.equal(ip.tos, 0);
  assert.equal(ip.dscp, 0);
  assert.equal(ip.ecn, 0);
  assert.equal(ip.totalLength, 0x73);
  assert.equal(ip.id, 0);
  assert.equal(ip.flagsFragment, IPV4_FLAG_DF);
  assert.ok(ip.dontFragment);
  assert.ok(!ip.moreFragments);
  assert.equal(ip.fragmentOffset, 0);
  assert.ok(!ip.isFragment());
  assert.equal(ip.ttl, 64);
  assert.equal(ip.protocol, IP_PROTO_UDP);
  assert.equal(ip.checksum, 0xb861);
  assert.equal(formatIpv4(ip.src), "192.168.0.1");
  assert.equal(formatIpv4(ip.dst), "192.168.0.199");
  assert.equal(ip.optionsOffset, 20);
  assert.equal(ip.optionsLength, 0);
  assert.equal(ip.payloadOffset, 20);
  assert.equal(ip.payloadLength, 0x73 - 20);
});

Deno.test("ipv4 header: parse inside an Ethernet frame with padding", () => {
  const frame = new Uint8Array(14 + ICMP_PKT.length + 10); // 10 bytes of link padding
  frame.set(ICMP_PKT, 14);
  const ip = new Ipv4Header().attach(frame, 14, frame.length - 14);
  assert.equal(ip.check(), null);
  assert.equal(ip.totalLength, 36);
  assert.equal(ip.id, 0xabcd);
  assert.equal(ip.protocol, IP_PROTO_ICMP);
  assert.equal(ip.src, 0xc6120001);
  assert.equal(ip.dst, 0xc6120002);
  assert.equal(ip.payloadOffset, 34);
  assert.equal(ip.payloadLength, 16);
});

/** A record with the given fields (the rest at their defaults). */
function repr(
  total: number,
  id: number,
  df: boolean,
  ttl: number,
  proto: number,
  src: number,
  dst: number,
): Ipv4Repr {
  const r = new Ipv4Repr();
  r.totalLength = total;
  r.id = id;
  r.dontFragment = df;
  r.ttl = ttl;
  r.protocol = proto;
  r.src = src;
  r.dst = dst;
  return r;
}

Deno.test("ipv4 header: build with Ipv4Repr.emit and with setters, byte for byte", () => {
  const a = new Uint8Array(40);
  const n = repr(36, 0xabcd, true, 64, IP_PROTO_ICMP, 0xc6120001, 0xc6120002).emit(a, 3);
  assert.equal(n, 20);
  assert.deepEqual(a.subarray(3, 23), ICMP_PKT.subarray(0, 20));

  const b = new Uint8Array(0x73);
  const ip = new Ipv4Header().attach(b, 0, b.length).init(20);
  ip.totalLength = 0x73;
  ip.id = 0;
  ip.dontFragment = true;
  ip.ttl = 64;
  ip.protocol = IP_PROTO_UDP;
  ip.src = parseIpv4("192.168.0.1");
  ip.dst = parseIpv4("192.168.0.199");
  ip.fillChecksum();
  assert.deepEqual(b.subarray(0, 20), HDR);
  assert.equal(ip.check(), null);

  // Ipv4Repr.emit agrees with fillChecksum for many field values, fragments and TOS included,
  // and parse() reads back what emit() wrote.
  const r = new Ipv4Repr();
  const back = new Ipv4Repr();
  for (let i = 0; i < 500; i++) {
    const v = crypto.getRandomValues(new Uint32Array(6));
    r.totalLength = 20 + (v[0] % 65516);
    r.id = v[1] & 0xffff;
    r.dontFragment = (v[2] & 1) === 1;
    r.moreFragments = (v[2] & 2) === 2;
    r.fragmentOffsetBytes = (v[5] & 0x1fff) << 3;
    r.tos = v[5] >>> 24;
    r.ttl = v[2] >>> 24;
    r.protocol = v[2] >>> 16 & 0xff;
    r.src = v[3];
    r.dst = v[4];
    r.emit(a, 0);
    assert.ok(verifyChecksum(a, 0, 20));
    const c = ip.attach(a, 0, 20).checksum;
    ip.fillChecksum();
    assert.equal(ip.checksum, c);
    back.parse(ip.attach(a, 0, 20));
    assert.deepEqual({ ...back }, { ...r });
  }
  // An offload super-packet larger than 65535 bytes carries total length 0.
  r.totalLength = 70000;
  r.emit(a, 0);
  assert.equal(ip.attach(a, 0, 20).totalLength, 0);
  assert.ok(verifyChecksum(a, 0, 20));
});

Deno.test("ipv4 header: every field setter round-trips and leaves the others alone", () => {
  const b = new Uint8Array(60);
  const ip = new Ipv4Header().attach(b, 0, 60).init(24);
  assert.equal(ip.version, 4);
  assert.equal(ip.headerBytes, 24);
  assert.equal(ip.optionsLength, 4);
  ip.dscp = 46;
  ip.ecn = 3;
  assert.equal(ip.tos, (46 << 2) | 3);
  ip.ecn = 1;
  assert.equal(ip.dscp, 46);
  assert.equal(ip.ecn, 1);
  ip.dscp = 0;
  assert.equal(ip.ecn, 1);
  ip.tos = 0xff;
  assert.equal(ip.dscp, 63);
  ip.moreFragments = true;
  ip.fragmentOffset = 1480;
  assert.equal(ip.fragmentOffset, 1480);
  assert.ok(ip.moreFragments);
  assert.ok(!ip.dontFragment);
  assert.ok(ip.isFragment());
  assert.equal(ip.flagsFragment, IPV4_FLAG_MF | (1480 / 8));
  ip.dontFragment = true;
  assert.equal(ip.fragmentOffset, 1480);
  ip.moreFragments = false;
  assert.ok(ip.isFragment()); // last fragment: offset ≠ 0
  ip.fragmentOffset = 65528; // largest offset
  assert.equal(ip.fragmentOffset, 65528);
  assert.ok(ip.dontFragment);
  ip.fragmentOffset = 0;
  assert.ok(!ip.isFragment());
  ip.headerBytes = 60;
  assert.equal(ip.ihl, 15);
  assert.equal(ip.version, 4);
  ip.version = 6;
  assert.equal(ip.ihl, 15);
  ip.ihl = 5;
  assert.equal(ip.version, 6);
  ip.totalLength = 65535;
  ip.id = 0xfedc;
  ip.ttl = 255;
  ip.protocol = 253;
  ip.checksum = 0xbeef;
  ip.src = 0xffffffff;
  ip.dst = 0x80000001;
  assert.deepEqual(
    [ip.totalLength, ip.id, ip.ttl, ip.protocol, ip.checksum, ip.src, ip.dst],
    [65535, 0xfedc, 255, 253, 0xbeef, 0xffffffff, 0x80000001],
  );
});

Deno.test("ipv4 header: check() drop paths", () => {
  const ip = new Ipv4Header();
  const pkt = () => {
    const b = new Uint8Array(0x73);
    b.set(HDR);
    return b;
  };
  const refill = (b: Uint8Array) => ip.attach(b, 0, b.length).fillChecksum();
  // Too short for a header.
  for (let len = 0; len < 20; len++) {
    assert.equal(ip.attach(pkt(), 0, len).check(), IPV4_DROP_TRUNCATED, `len ${len}`);
  }
  // Bad version.
  let b = pkt();
  b[0] = 0x65;
  refill(b);
  assert.equal(ip.attach(b, 0, b.length).check(), IPV4_DROP_BAD_VERSION);
  // IHL < 5.
  for (let ihl = 0; ihl < 5; ihl++) {
    b = pkt();
    b[0] = 0x40 | ihl;
    assert.equal(ip.attach(b, 0, b.length).check(), IPV4_DROP_HDR_ERRORS, `ihl ${ihl}`);
  }
  // Header longer than the bytes (IHL 15 = 60 bytes, only 40 present).
  b = pkt();
  b[0] = 0x4f;
  assert.equal(ip.attach(b, 0, 40).check(), IPV4_DROP_TRUNCATED);
  // Total length < header length.
  b = pkt();
  b[2] = 0;
  b[3] = 19;
  refill(b);
  assert.equal(ip.attach(b, 0, b.length).check(), IPV4_DROP_HDR_ERRORS);
  // Total length beyond the bytes.
  b = pkt();
  assert.equal(ip.attach(b, 0, 0x72).check(), IPV4_DROP_TRUNCATED);
  assert.equal(ip.attach(b, 0, 0x73).check(), null);
  // Total length shorter than the bytes (link padding) is fine.
  const padded = new Uint8Array(0x73 + 20);
  padded.set(HDR);
  assert.equal(ip.attach(padded, 0, padded.length).check(), null);
  // Any single bit flipped in the header fails (checksum or a structural reason).
  for (let bit = 0; bit < 160; bit++) {
    b = pkt();
    b[bit >>> 3] ^= 0x80 >>> (bit & 7);
    assert.notEqual(ip.attach(b, 0, b.length).check(), null, `bit ${bit}`);
  }
  b = pkt();
  b[8] = 63; // TTL changed without a new checksum
  assert.equal(ip.attach(b, 0, b.length).check(), IPV4_DROP_CSUM_ERRORS);
  assert.equal(ip.attach(b, 0, b.length).check(false), null);
});

Deno.test("ipv4 header: options are covered by the checksum", () => {
  const b = new Uint8Array(24 + 8);
  const ip = new Ipv4Header().attach(b, 0, b.length).init(24);
  ip.totalLength = 32;
  ip.ttl = 1;
  ip.protocol = 2;
  ip.src = parseIpv4("198.18.0.1");
  ip.dst = parseIpv4("224.0.0.22");
  b.set([0x94, 0x04, 0x00, 0x00], 20); // Router Alert (RFC 2113)
  ip.fillChecksum();
  assert.equal(ip.check(), null);
  assert.equal(ip.optionsOffset, 20);
  assert.equal(ip.optionsLength, 4);
  assert.equal(ip.payloadOffset, 24);
  assert.equal(ip.payloadLength, 8);
  b[21] = 5;
  assert.equal(ip.check(), IPV4_DROP_CSUM_ERRORS);
});

Deno.test("ipv4 header: random bytes never throw", () => {
  const ip = new Ipv4Header();
  const buf = new Uint8Array(80);
  let valid = 0;
  for (let i = 0; i < 20000; i++) {
    crypto.getRandomValues(buf);
    if (i & 1) buf[0] = 0x45 + (i % 11); // make the deeper paths reachable
    const off = i % 8;
    if (i % 3 === 0) {
      // A plausible header with a correct checksum, so the accepting path is fuzzed too.
      buf[off] = 0x45;
      buf[off + 2] = 0;
      buf[off + 3] = 20 + (i % 50);
      ip.attach(buf, off, 20).fillChecksum();
    }
    const r = ip.attach(buf, off, (i * 7) % (81 - off)).check();
    if (r === null) {
      // A valid header keeps every promise the receive path relies on.
      valid++;
      assert.ok(ip.version === 4 && ip.headerBytes >= 20 && ip.headerBytes <= ip.totalLength);
      assert.ok(ip.totalLength <= ip.len && verifyChecksum(buf, off, ip.headerBytes));
    }
    void [ip.version, ip.headerBytes, ip.totalLength, ip.fragmentOffset, ip.src, ip.dst];
    void [ip.payloadOffset, ip.payloadLength, ip.optionsLength, ip.isFragment()];
  }
  assert.ok(valid > 0);
});

Deno.test("ipv4 address: parse and format", () => {
  assert.equal(parseIpv4("198.18.0.1"), 0xc6120001);
  assert.equal(parseIpv4("0.0.0.0"), IPV4_ANY);
  assert.equal(parseIpv4("255.255.255.255"), IPV4_BROADCAST);
  assert.equal(formatIpv4(0xc6120001), "198.18.0.1");
  assert.equal(formatIpv4(0xffffffff), "255.255.255.255");
  assert.equal(formatIpv4(0), "0.0.0.0");
  assert.equal(formatIpv4(-1), "255.255.255.255");
  for (let i = 0; i < 200; i++) {
    const a = crypto.getRandomValues(new Uint32Array(1))[0];
    assert.equal(parseIpv4(formatIpv4(a)), a);
  }
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.-4",
      "1.2.3.4 ",
      "a.b.c.d",
      "1..2.3",
      "1.2.3.4/24",
      "0x1.2.3.4",
      "1.2.3.1000",
    ]
  ) {
    assert.throws(
      () => parseIpv4(bad),
      (e: unknown) => e instanceof TypeError && e.message.startsWith("ERR_INVALID_IPV4"),
      bad,
    );
  }
});

Deno.test("ipv4 address: CIDR, masks, subnets", () => {
  assert.deepEqual(parseIpv4Cidr("198.18.0.2/24"), { addr: 0xc6120002, prefixLen: 24 });
  assert.deepEqual(parseIpv4Cidr("0.0.0.0/0"), { addr: 0, prefixLen: 0 });
  assert.deepEqual(parseIpv4Cidr("10.0.0.1/32"), { addr: 0x0a000001, prefixLen: 32 });
  for (
    const bad of [
      "198.18.0.2",
      "198.18.0.2/33",
      "198.18.0.2/",
      "/24",
      "198.18.0/24",
      "1.2.3.4/024",
      "1.2.3.4/-1",
    ]
  ) {
    assert.throws(
      () => parseIpv4Cidr(bad),
      (e: unknown) => e instanceof TypeError && e.message.startsWith("ERR_INVALID_CIDR"),
      bad,
    );
  }
  assert.equal(prefixMask(0), 0);
  assert.equal(prefixMask(1), 0x80000000);
  assert.equal(prefixMask(24), 0xffffff00);
  assert.equal(prefixMask(31), 0xfffffffe);
  assert.equal(prefixMask(32), 0xffffffff);
  assert.equal(prefixMask(-3), 0);
  assert.equal(prefixMask(40), 0xffffffff);
  const net = parseIpv4("198.18.0.0");
  assert.ok(isInSubnet(parseIpv4("198.18.0.7"), net, 24));
  assert.ok(!isInSubnet(parseIpv4("198.18.1.7"), net, 24));
  assert.ok(isInSubnet(parseIpv4("198.19.255.255"), net, 15));
  assert.ok(!isInSubnet(parseIpv4("198.20.0.0"), net, 15));
  assert.ok(isInSubnet(0xffffffff, 0, 0));
  assert.ok(isInSubnet(net, net, 32));
  assert.ok(!isInSubnet(net + 1, net, 32));
});

Deno.test("ipv4 address: classification", () => {
  const p = parseIpv4;
  assert.ok(isIpv4Multicast(p("224.0.0.1")) && isIpv4Multicast(p("239.255.255.255")));
  assert.ok(!isIpv4Multicast(p("223.255.255.255")) && !isIpv4Multicast(p("240.0.0.0")));
  assert.ok(isIpv4Loopback(p("127.0.0.1")) && isIpv4Loopback(p("127.255.0.9")));
  assert.ok(!isIpv4Loopback(p("128.0.0.1")));
  assert.ok(isIpv4LimitedBroadcast(0xffffffff) && isIpv4LimitedBroadcast(-1));
  assert.ok(!isIpv4LimitedBroadcast(p("198.18.0.255")));
  assert.ok(isIpv4LinkLocal(p("169.254.3.4")) && !isIpv4LinkLocal(p("169.253.3.4")));
  for (
    const m of [
      "0.0.0.0",
      "0.1.2.3",
      "127.0.0.1",
      "224.0.0.1",
      "239.1.1.1",
      "240.0.0.1",
      "255.255.255.255",
    ]
  ) {
    assert.ok(isIpv4Martian(p(m)), m);
  }
  for (
    const ok of [
      "1.0.0.0",
      "10.0.0.1",
      "126.255.255.255",
      "128.0.0.0",
      "198.18.0.1",
      "223.255.255.255",
    ]
  ) {
    assert.ok(!isIpv4Martian(p(ok)), ok);
  }
});

Deno.test("ipv4 address: read and write", () => {
  const b = new Uint8Array(8);
  writeIpv4(b, 3, 0xc6120001);
  assert.deepEqual([...b], [0, 0, 0, 198, 18, 0, 1, 0]);
  assert.equal(readIpv4(b, 3), 0xc6120001);
  writeIpv4(b, 0, 0xffffffff);
  assert.equal(readIpv4(b, 0), 0xffffffff);
});
