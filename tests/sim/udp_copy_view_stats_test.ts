// The reused copy views (core/subarray_cache.ts) are counted in the stack's stats with the
// other UDP and IP counters: `udp.CopyView{Hits,Misses,Replaced}` for the copies onto sockets,
// `ip.ReasmCopyView{Hits,Misses,Replaced}` for the fragment copies of reassembly, in the
// snapshot and in the nstat names. Datagrams of 8,900 bytes replayed from one ring-like buffer
// (seven IPv4 fragments at MTU 1500).

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { nstatCounters } from "../../stack/nstat.ts";

Deno.test("sim udp rx: the copy views' hits, misses and replacements are in stack.stats", () => {
  const rig = makeUdpRxRig({ mtu: 1500, datagrams: 64 });
  const before = rig.stack.stats.snapshot();
  assert.equal(before.udp.CopyViewHits, 0);
  assert.equal(before.ip.ReasmCopyViewHits, 0);
  assert.equal(rig.receive(2_000), 2_000);
  const s = rig.stack.stats.snapshot();
  const u = rig.stack.udp.copyViews;
  const r = rig.stack.ipv4.reassemblyCopyViews;
  // The same numbers as the tables' own, and every long copy counted once.
  assert.deepEqual(
    [s.udp.CopyViewHits, s.udp.CopyViewMisses, s.udp.CopyViewReplaced],
    [u.hits, u.misses, u.replaced],
  );
  assert.deepEqual(
    [s.ip.ReasmCopyViewHits, s.ip.ReasmCopyViewMisses, s.ip.ReasmCopyViewReplaced],
    [r.hits, r.misses, r.replaced],
  );
  assert.equal(s.udp.CopyViewHits + s.udp.CopyViewMisses, 2_000, "one socket copy a datagram");
  // Six of the seven fragments are copied into the reassembly buffer (the first stays put)
  // or all seven: either way at least six long copies per datagram, each counted.
  const reasmCopies = s.ip.ReasmCopyViewHits + s.ip.ReasmCopyViewMisses;
  assert.ok(reasmCopies >= 6 * 2_000 && reasmCopies <= 7 * 2_000, `${reasmCopies} copies`);
  // 64 datagrams replayed: after the first lap the views come back.
  assert.ok(s.ip.ReasmCopyViewHits > 10 * s.ip.ReasmCopyViewMisses, JSON.stringify(s.ip));
  assert.equal(s.ip.ReasmCopyViewReplaced, 0, "the table holds one lap of 64 datagrams");
  assert.equal(s.ip6.ReasmCopyViewHits, 0, "no IPv6 fragments");
  // Flattened with the other counters under their nstat names.
  const n = nstatCounters(s);
  assert.equal(n.UdpCopyViewHits, s.udp.CopyViewHits);
  assert.equal(n.IpReasmCopyViewMisses, s.ip.ReasmCopyViewMisses);
});
