/**
 * BIG TCP over IPv6: Linux 6.18's GSO super-packets above 65,535 bytes of payload carry payload
 * length 0 and an 8-byte hop-by-hop header holding only a jumbo payload option (RFC 2675) —
 * seen on an AF_PACKET tap of a veth whose peer has `gso_max_size` 185000. Only that exact form
 * is taken (and only from a frame the driver flagged a super-frame: `net/ipv6.ts`).
 */

import assert from "node:assert/strict";
import { IPV6_OPT_JUMBO, isBigTcpJumbo } from "../../net/ipv6_ext_headers.ts";

/** An IPv6 packet of `payload` bytes after the fixed header in BIG TCP's form. */
function jumbo(payload: number): Uint8Array {
  const p = new Uint8Array(40 + payload);
  p[0] = 0x60;
  p[6] = 0; // hop-by-hop
  p[7] = 64;
  p.set([6, 0, IPV6_OPT_JUMBO, 4], 40);
  new DataView(p.buffer).setUint32(44, payload);
  return p;
}

Deno.test("big tcp ipv6: the jumbo hop-by-hop form of a 95 KB super-frame is recognised", () => {
  // What the tap showed: frame 95,262 B = 14 + 40 + 95,208 (jumbo length 0x000173e8).
  const p = jumbo(95_208);
  assert.equal(isBigTcpJumbo(p, 0, p.length), true);
  // At an offset (behind the Ethernet header) too.
  const f = new Uint8Array(14 + p.length);
  f.set(p, 14);
  assert.equal(isBigTcpJumbo(f, 14, p.length), true);
});

Deno.test("big tcp ipv6: anything else with payload length 0 is not BIG TCP", () => {
  const cases: [string, (p: Uint8Array) => void][] = [
    ["jumbo length one short", (p) => new DataView(p.buffer).setUint32(44, p.length - 41)],
    ["payload length not 0", (p) => p[5] = 1],
    ["not hop-by-hop first", (p) => p[6] = 6],
    ["UDP after the hop-by-hop header", (p) => p[40] = 17],
    ["a longer hop-by-hop header", (p) => p[41] = 1],
    ["another option", (p) => p[42] = 0x01],
    ["option length not 4", (p) => p[43] = 2],
  ];
  for (const [name, spoil] of cases) {
    const p = jumbo(95_208);
    spoil(p);
    assert.equal(isBigTcpJumbo(p, 0, p.length), false, name);
  }
  // 65,535 bytes of payload or fewer fit the 16-bit field: never a jumbogram.
  const small = jumbo(65_535);
  assert.equal(isBigTcpJumbo(small, 0, small.length), false);
});
