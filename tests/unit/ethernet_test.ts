import assert from "node:assert/strict";
import {
  BROADCAST_MAC,
  ETH_DROP_TRUNCATED,
  ETH_HEADER_BYTES,
  EthernetHeader,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  formatMac,
  macEquals,
  parseMac,
  writeEthernetHeader,
} from "../../link/ethernet.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
}

// An ARP request frame: broadcast from 02:00:00:00:00:01, EtherType 0x0806.
const ARP_FRAME = hex(
  "ffffffffffff 020000000001 0806 0001080006040001020000000001c6120001000000000000c6120002",
);

Deno.test("ethernet: constants", () => {
  assert.equal(ETH_HEADER_BYTES, 14);
  assert.equal(ETHERTYPE_IPV4, 0x0800);
  assert.equal(ETHERTYPE_ARP, 0x0806);
  assert.equal(ETHERTYPE_IPV6, 0x86dd);
  assert.equal(ETHERTYPE_VLAN, 0x8100);
  assert.equal(formatMac(BROADCAST_MAC), "ff:ff:ff:ff:ff:ff");
});

Deno.test("ethernet: parse a known frame", () => {
  const eth = new EthernetHeader();
  assert.equal(eth.attach(ARP_FRAME, 0, ARP_FRAME.length).check(), null);
  assert.equal(eth.etherType, ETHERTYPE_ARP);
  assert.equal(eth.dstOffset, 0);
  assert.equal(eth.srcOffset, 6);
  assert.equal(eth.payloadOffset, 14);
  assert.equal(eth.payloadLength, 28);
  assert.ok(eth.isBroadcast());
  assert.ok(eth.isMulticast());
  assert.ok(eth.isForMac(BROADCAST_MAC));
  assert.ok(!eth.isForMac(parseMac("02:00:00:00:00:01")));
  const src = new Uint8Array(8);
  eth.copySrc(src, 2);
  assert.equal(formatMac(src, 2), "02:00:00:00:00:01");
  const dst = new Uint8Array(6);
  eth.copyDst(dst, 0);
  assert.deepEqual(dst, BROADCAST_MAC);
});

Deno.test("ethernet: a view at an offset inside a larger buffer", () => {
  const buf = new Uint8Array(100);
  buf.set(ARP_FRAME, 37);
  const eth = new EthernetHeader().attach(buf, 37, ARP_FRAME.length);
  assert.equal(eth.check(), null);
  assert.equal(eth.dstOffset, 37);
  assert.equal(eth.srcOffset, 43);
  assert.equal(eth.payloadOffset, 51);
  assert.equal(eth.etherType, ETHERTYPE_ARP);
});

Deno.test("ethernet: unicast and multicast destinations", () => {
  const me = parseMac("02:00:5e:10:00:01");
  const frame = new Uint8Array(60);
  writeEthernetHeader(frame, 0, me, parseMac("02:00:00:00:00:02"), ETHERTYPE_IPV4);
  const eth = new EthernetHeader().attach(frame, 0, 60);
  assert.ok(eth.isForMac(me));
  assert.ok(!eth.isBroadcast());
  assert.ok(!eth.isMulticast());
  eth.setDst(parseMac("01:00:5e:00:00:fb"));
  assert.ok(eth.isMulticast());
  assert.ok(!eth.isBroadcast());
  assert.ok(!eth.isForMac(me));
});

Deno.test("ethernet: build with setters and with the writer, byte for byte", () => {
  const a = new Uint8Array(ARP_FRAME.length);
  a.set(ARP_FRAME.subarray(14), 14);
  const n = writeEthernetHeader(a, 0, BROADCAST_MAC, parseMac("02:00:00:00:00:01"), 0x0806);
  assert.equal(n, 14);
  assert.deepEqual(a, ARP_FRAME);

  const b = new Uint8Array(ARP_FRAME.length);
  b.set(ARP_FRAME.subarray(14), 14);
  const eth = new EthernetHeader().attach(b, 0, b.length);
  eth.setDst(BROADCAST_MAC);
  const macs = new Uint8Array(10);
  macs.set(parseMac("02:00:00:00:00:01"), 3);
  eth.setSrc(macs, 3);
  eth.etherType = ETHERTYPE_ARP;
  assert.deepEqual(b, ARP_FRAME);

  // Writer with MAC offsets into other buffers.
  const c = new Uint8Array(ARP_FRAME.length);
  c.set(ARP_FRAME.subarray(14), 14);
  writeEthernetHeader(c, 0, ARP_FRAME, ARP_FRAME, ETHERTYPE_ARP, 0, 6);
  assert.deepEqual(c, ARP_FRAME);
});

Deno.test("ethernet: check() drop path", () => {
  const eth = new EthernetHeader();
  for (let len = 0; len < 14; len++) {
    assert.equal(eth.attach(ARP_FRAME, 0, len).check(), ETH_DROP_TRUNCATED);
  }
  assert.equal(eth.attach(ARP_FRAME, 0, 14).check(), null);
  assert.equal(ETH_DROP_TRUNCATED, "InTruncated");
});

Deno.test("ethernet: macEquals, parseMac, formatMac", () => {
  const a = hex("00aabbccddeeff00");
  const b = hex("aabbccddeeff");
  assert.ok(macEquals(a, 1, b, 0));
  assert.ok(!macEquals(a, 0, b, 0));
  for (let i = 0; i < 6; i++) {
    const c = b.slice();
    c[i] ^= 1;
    assert.ok(!macEquals(a, 1, c, 0));
  }
  assert.deepEqual(parseMac("AA:bb:CC:dd:EE:ff"), b);
  assert.deepEqual(parseMac("aa-bb-cc-dd-ee-ff"), b);
  assert.equal(formatMac(b), "aa:bb:cc:dd:ee:ff");
  assert.equal(formatMac(parseMac("02:00:0a:00:00:01")), "02:00:0a:00:00:01");
  for (
    const bad of [
      "",
      "aa:bb:cc:dd:ee",
      "aa:bb:cc:dd:ee:ff:00",
      "aa:bb:cc:dd:ee:fg",
      "a:b:c:d:e:f",
      "aabbccddeeff",
      "aa:bb-cc:dd:ee:ff",
      " aa:bb:cc:dd:ee:ff",
    ]
  ) {
    assert.throws(
      () => parseMac(bad),
      (e: unknown) => e instanceof TypeError && e.message.startsWith("ERR_INVALID_MAC"),
      bad,
    );
  }
});

Deno.test("ethernet: random bytes never throw", () => {
  const eth = new EthernetHeader();
  const buf = new Uint8Array(64);
  for (let i = 0; i < 5000; i++) {
    crypto.getRandomValues(buf);
    const len = i % 64;
    if (eth.attach(buf, 0, len).check() === null) {
      void eth.etherType;
      eth.isBroadcast();
      eth.isMulticast();
      eth.isForMac(BROADCAST_MAC);
    }
  }
});
