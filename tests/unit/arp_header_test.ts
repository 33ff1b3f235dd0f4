import assert from "node:assert/strict";
import {
  ARP_DROP_ERRORS,
  ARP_HEADER_BYTES,
  ARP_HTYPE_ETHERNET,
  ARP_PTYPE_IPV4,
  ARP_REPLY,
  ARP_REQUEST,
  ArpHeader,
  writeArp,
} from "../../net/arp_header.ts";
import { formatMac, parseMac } from "../../link/ethernet.ts";
import { formatIpv4, parseIpv4 } from "../../net/ipv4_address.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
}

// who-has 198.18.0.2 tell 198.18.0.1 (02:00:00:00:00:01)
const REQUEST = hex("0001 0800 06 04 0001 020000000001 c6120001 000000000000 c6120002");
// 198.18.0.2 is-at 02:00:00:00:00:02, to 198.18.0.1 (02:00:00:00:00:01)
const REPLY = hex("0001 0800 06 04 0002 020000000002 c6120002 020000000001 c6120001");

const MAC1 = parseMac("02:00:00:00:00:01");
const MAC2 = parseMac("02:00:00:00:00:02");
const IP1 = parseIpv4("198.18.0.1");
const IP2 = parseIpv4("198.18.0.2");

Deno.test("arp header: parse a known request", () => {
  const frame = new Uint8Array(60); // padded to the Ethernet minimum
  frame.set(REQUEST, 14);
  const arp = new ArpHeader().attach(frame, 14, frame.length - 14);
  assert.equal(arp.check(), null);
  assert.equal(arp.htype, ARP_HTYPE_ETHERNET);
  assert.equal(arp.ptype, ARP_PTYPE_IPV4);
  assert.equal(arp.hlen, 6);
  assert.equal(arp.plen, 4);
  assert.equal(arp.oper, ARP_REQUEST);
  assert.equal(arp.shaOffset, 22);
  assert.equal(arp.thaOffset, 32);
  assert.equal(formatMac(frame, arp.shaOffset), "02:00:00:00:00:01");
  assert.equal(formatIpv4(arp.spa), "198.18.0.1");
  assert.equal(formatIpv4(arp.tpa), "198.18.0.2");
  const mac = new Uint8Array(7);
  arp.copySha(mac, 1);
  assert.equal(formatMac(mac, 1), "02:00:00:00:00:01");
  arp.copyTha(mac, 1);
  assert.equal(formatMac(mac, 1), "00:00:00:00:00:00");
});

Deno.test("arp header: writeArp, both forms, byte for byte", () => {
  const a = new Uint8Array(40);
  assert.equal(writeArp(a, 5, ARP_REQUEST, MAC1, IP1, new Uint8Array(6), IP2), ARP_HEADER_BYTES);
  assert.deepEqual(a.subarray(5, 33), REQUEST);
  // The offset form: answer straight out of the received request's bytes.
  const rx = new Uint8Array(60);
  rx.set(REQUEST, 14);
  const req = new ArpHeader().attach(rx, 14, 46);
  const b = new Uint8Array(28);
  writeArp(b, 0, ARP_REPLY, MAC2, 0, req.tpa, rx, req.shaOffset, req.spa);
  assert.deepEqual(b, REPLY);
  const c = new Uint8Array(28);
  const macs = new Uint8Array(20);
  macs.set(MAC2, 3);
  macs.set(MAC1, 11);
  writeArp(c, 0, ARP_REPLY, macs, 3, IP2, macs, 11, IP1);
  assert.deepEqual(c, REPLY);
});

Deno.test("arp header: build with setters, byte for byte", () => {
  const b = new Uint8Array(28);
  const arp = new ArpHeader().attach(b, 0, 28);
  arp.htype = ARP_HTYPE_ETHERNET;
  arp.ptype = ARP_PTYPE_IPV4;
  arp.hlen = 6;
  arp.plen = 4;
  arp.oper = ARP_REPLY;
  arp.setSha(MAC2);
  arp.spa = IP2;
  const m = new Uint8Array(9);
  m.set(MAC1, 2);
  arp.setTha(m, 2);
  arp.tpa = IP1;
  assert.deepEqual(b, REPLY);
  assert.equal(arp.check(), null);
});

Deno.test("arp header: check() drop paths", () => {
  const arp = new ArpHeader();
  for (let len = 0; len < 28; len++) {
    assert.equal(arp.attach(REQUEST, 0, len).check(), ARP_DROP_ERRORS, `len ${len}`);
  }
  const bad = (mutate: (b: Uint8Array) => void, what: string) => {
    const b = REQUEST.slice();
    mutate(b);
    assert.equal(arp.attach(b, 0, 28).check(), ARP_DROP_ERRORS, what);
  };
  bad((b) => b[1] = 6, "htype 6 (IEEE 802)");
  bad((b) => b[0] = 1, "htype 0x0101");
  bad((b) => b[2] = 0x86, "ptype 0x86dd-ish");
  bad((b) => b[3] = 0x06, "ptype 0x0806");
  bad((b) => b[4] = 8, "hlen 8");
  bad((b) => b[5] = 16, "plen 16");
  for (const op of [0, 3, 4, 8, 9, 0x0101, 0xffff]) {
    bad((b) => {
      b[6] = op >>> 8;
      b[7] = op & 0xff;
    }, `op ${op}`);
  }
  assert.equal(arp.attach(REPLY, 0, 28).check(), null);
  assert.equal(ARP_DROP_ERRORS, "InErrors");
});

Deno.test("arp header: random bytes never throw", () => {
  const arp = new ArpHeader();
  const buf = new Uint8Array(64);
  for (let i = 0; i < 10000; i++) {
    crypto.getRandomValues(buf);
    if (i & 1) buf.set(REQUEST.subarray(0, 6 + (i % 3)), i % 8);
    const r = arp.attach(buf, i % 8, (i * 5) % 57).check();
    if (r === null) assert.ok(arp.oper === ARP_REQUEST || arp.oper === ARP_REPLY);
    void [arp.spa, arp.tpa, arp.shaOffset, arp.oper, arp.htype, arp.ptype];
  }
});
