import assert from "node:assert/strict";
import {
  inPrefix,
  IpAddress,
  IpAddressScratch,
  ipEquals,
  isLinkLocal,
  isLoopback,
  isMulticast,
  isUnspecified,
  parseIpCidr,
  prefixOf,
  tryParseIp,
} from "../../net/ip_address.ts";
import {
  eui64InterfaceId,
  isIpv6MartianSource,
  linkLocalFromMac,
  multicastMac,
  solicitedNode,
} from "../../net/ipv6_address.ts";
import { hashIp, IpAddrMap } from "../../net/ip_addr_map.ts";

Deno.test("ip address: RFC 5952 text form", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"], // first of equal runs
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays "0"
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
    ["FD00:5::2", "fd00:5::2"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["fe80::1:2", "fe80::1:2"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ];
  for (const [input, text] of cases) assert.equal(IpAddress.parse(input).toString(), text, input);
});

Deno.test("ip address: IPv4 is held IPv4-mapped, one compare for both families", () => {
  const v4 = IpAddress.parse("198.18.0.2");
  assert.equal(v4.family, 4);
  assert.deepEqual([v4.w0, v4.w1, v4.w2, v4.w3], [0, 0, 0xffff, 0xc6120002]);
  assert.equal(v4.toString(), "198.18.0.2");
  const mapped = IpAddress.parse("::ffff:198.18.0.2");
  assert.equal(mapped.family, 4);
  assert.ok(ipEquals(v4, mapped));
  assert.ok(ipEquals(v4, IpAddress.v4(0xc6120002)));
  assert.equal(IpAddress.parse("fd00::1").family, 6);
  assert.deepEqual([...IpAddress.parse("fd00:5::2").toBytes()], [
    0xfd,
    0,
    0,
    5,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    2,
  ]);
});

Deno.test("ip address: strict parsing and zones", () => {
  for (
    const bad of [
      "",
      ":::",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "fe80::1%",
      "::ffff:1.2.3",
      "g::1",
      "198.18.0.256",
      "01.2.3.4",
      "fd00::/64",
      "1:2:3:4:5:6:7:8::",
    ]
  ) {
    assert.equal(tryParseIp(bad), null, bad);
  }
  const z = IpAddress.parse("fe80::1%veth0");
  assert.equal(z.zone, "veth0");
  assert.equal(z.toString(), "fe80::1%veth0");
  assert.ok(ipEquals(z, IpAddress.parse("fe80::1")), "zones are not part of equality");
  assert.throws(() => IpAddress.parse("nope"), /ERR_INVALID_IP/);
});

Deno.test("ip address: CIDR, prefixes and classes", () => {
  const c6 = parseIpCidr("fd00:5::2/64");
  assert.equal(`${c6.addr}`, "fd00:5::2");
  assert.equal(c6.prefixLen, 64);
  const c4 = parseIpCidr("198.18.0.2/24");
  assert.equal(c4.addr.family, 4);
  assert.equal(c4.prefixLen, 24);
  for (
    const bad of ["fd00::/129", "1.2.3.4/33", "fd00::1", "fe80::1%eth0/64", "/64", "fd00::/064"]
  ) {
    assert.throws(() => parseIpCidr(bad), /ERR_INVALID_CIDR/, bad);
  }
  assert.equal(`${prefixOf(IpAddress.parse("fd00:5:0:0:ffff::2"), 64)}`, "fd00:5::");
  assert.equal(`${prefixOf(IpAddress.parse("fd00:5::2"), 127)}`, "fd00:5::2");
  assert.equal(`${prefixOf(IpAddress.parse("198.18.3.4"), 16)}`, "198.18.0.0");
  assert.ok(inPrefix(IpAddress.parse("fd00:5::9"), IpAddress.parse("fd00:5::"), 64));
  assert.ok(!inPrefix(IpAddress.parse("fd00:6::9"), IpAddress.parse("fd00:5::"), 64));
  assert.ok(inPrefix(IpAddress.parse("198.18.0.9"), IpAddress.parse("198.18.0.0"), 24));
  assert.ok(!inPrefix(IpAddress.parse("198.18.0.9"), IpAddress.parse("::"), 0), "families differ");
  assert.ok(isLinkLocal(IpAddress.parse("fe80::1")) && isLinkLocal(IpAddress.parse("febf::1")));
  assert.ok(!isLinkLocal(IpAddress.parse("fec0::1")));
  assert.ok(isMulticast(IpAddress.parse("ff02::1")) && isMulticast(IpAddress.parse("224.0.0.1")));
  assert.ok(isUnspecified(IpAddress.parse("::")) && isUnspecified(IpAddress.parse("0.0.0.0")));
  assert.ok(isLoopback(IpAddress.parse("::1")) && isLoopback(IpAddress.parse("127.0.0.9")));
});

Deno.test("ip address: the scratch record fills from bytes without allocating", () => {
  const s = new IpAddressScratch();
  const bytes = IpAddress.parse("fe80::ff:fe00:a").toBytes();
  const wire = new Uint8Array(40);
  wire.set(bytes, 8);
  s.setFrom6(wire, 8);
  assert.equal(s.family, 6);
  assert.equal(`${s}`, "fe80::ff:fe00:a");
  s.setV4(0xc6120001);
  assert.equal(`${s}`, "198.18.0.1");
  const frozen = s.freeze();
  s.setWords(0xfd000000, 0, 0, 1);
  assert.equal(`${frozen}`, "198.18.0.1");
  assert.equal(`${s}`, "fd00::1");
});

Deno.test("ipv6 address: solicited-node groups, multicast MACs, modified EUI-64", () => {
  assert.equal(`${solicitedNode(IpAddress.parse("fd00:5::2"))}`, "ff02::1:ff00:2");
  assert.equal(`${solicitedNode(IpAddress.parse("fe80::5054:ff:fe12:3456"))}`, "ff02::1:ff12:3456");
  const mac = new Uint8Array(6);
  multicastMac(IpAddress.parse("ff02::1:ff12:3456"), mac, 0);
  assert.deepEqual([...mac], [0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
  // QEMU's default MAC and the address Linux gives it.
  const qemu = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
  assert.equal(`${linkLocalFromMac(qemu)}`, "fe80::5054:ff:fe12:3456");
  assert.deepEqual(eui64InterfaceId(new Uint8Array([0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc])), [
    0x021b21ff,
    0xfeaabbcc,
  ]);
  const src = (s: string) => isIpv6MartianSource(IpAddress.parse(s).toBytes(), 0);
  assert.ok(src("ff02::1") && src("::1") && src("::ffff:198.18.0.1"));
  assert.ok(!src("::") && !src("fe80::1") && !src("fd00::1") && !src("::2"));
});

Deno.test("ip addr map: lookups by a scratch address, bounded inserts, deletes", () => {
  const m = new IpAddrMap<number>(2);
  const a = IpAddress.parse("fd00::1");
  const b = IpAddress.parse("198.18.0.1");
  assert.ok(m.set(a, 1));
  assert.ok(m.set(b, 2));
  assert.ok(!m.set(IpAddress.parse("fd00::3"), 3));
  assert.equal(m.refused, 1);
  assert.ok(m.set(a, 10), "updating an existing key is no insert");
  const s = new IpAddressScratch().setFrom6(a.toBytes(), 0);
  assert.equal(m.get(s), 10);
  assert.equal(m.get(new IpAddressScratch().setV4(0xc6120001)), 2);
  assert.ok(m.delete(s));
  assert.equal(m.get(a), undefined);
  assert.equal(m.size, 1);
  assert.notEqual(hashIp(IpAddress.parse("fd00::1")), hashIp(IpAddress.parse("fd00::2")));
});

Deno.test("ip address: hashIp: every mix is a small integer in [0, 2^30) (never a boxed Map key)", () => {
  // The real stack's addresses (198.18.0.0/15, fe80::/64 from a MAC, fd00::/8) and many more:
  // a 32-bit result would leave this range for about three in four of them.
  const s = new IpAddressScratch();
  let high = 0;
  for (let i = 0; i < 4096; i++) {
    for (
      const h of [
        hashIp(s.setV4(0xc6120000 + i)),
        hashIp(IpAddress.parse(`fe80::${i.toString(16)}`)),
      ]
    ) {
      assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 30, `hash ${h}`);
      if (h >= 2 ** 29) high++;
    }
  }
  assert.ok(high > 1000, "the mix still uses the top bit of its range");
});
