// The GSO/GRO size limits out of an RTM_NEWLINK answer (ffi/rtnetlink.ts), without a kernel;
// and, where rtnetlink answers, a loopback interface's own.

import assert from "node:assert/strict";
import { linkSizeLimits, parseLinkSizeLimits } from "../../ffi/rtnetlink_link.ts";

/** An RTM_NEWLINK message with `attrs` ([type, u32 value]), plus an attribute of 6 bytes. */
function newLink(attrs: [number, number][]): Uint8Array {
  const len = 32 + 8 + attrs.length * 8;
  const m = new Uint8Array(len);
  const v = new DataView(m.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, 16, true);
  // IFLA_IFNAME "lo\0": 7 bytes, padded to 8.
  v.setUint16(32, 7, true);
  v.setUint16(34, 3, true);
  m.set([0x6c, 0x6f, 0], 36);
  attrs.forEach(([t, x], i) => {
    v.setUint16(40 + i * 8, 8, true);
    v.setUint16(42 + i * 8, t, true);
    v.setUint32(44 + i * 8, x, true);
  });
  return m;
}

Deno.test("rtnetlink: the four size limits are read, others skipped, padding honoured", () => {
  const l = parseLinkSizeLimits(newLink([[4, 9000], [41, 185_000], [58, 65_536], [63, 185_000], [
    64,
    262_144,
  ]]));
  assert.deepEqual(l, {
    gsoMaxSize: 185_000,
    groMaxSize: 65_536,
    gsoIpv4MaxSize: 185_000,
    groIpv4MaxSize: 262_144,
  });
  // An older kernel: no IPv4 limits, 0 there.
  assert.equal(parseLinkSizeLimits(newLink([[58, 65_536]]))?.groIpv4MaxSize, 0);
  // Not an RTM_NEWLINK (an error answer, type 2): null.
  const err = newLink([]);
  new DataView(err.buffer).setUint16(4, 2, true);
  assert.equal(parseLinkSizeLimits(err), null);
  // A truncated attribute stops the walk without throwing.
  const cut = newLink([[41, 1]]).subarray(0, 44);
  assert.ok(parseLinkSizeLimits(cut) !== null);
});

Deno.test("rtnetlink: loopback's limits from the kernel (index 1)", () => {
  const l = linkSizeLimits(1);
  if (l === null) return; // no rtnetlink here
  assert.ok(l.gsoMaxSize >= 65_536, `gso_max_size ${l.gsoMaxSize}`);
  assert.ok(l.groMaxSize >= 65_536, `gro_max_size ${l.groMaxSize}`);
});
