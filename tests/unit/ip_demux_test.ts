// The dual-family demux table: exact 4-tuples, bound addresses, family wildcards, dual-stack
// `::` with and without IPV6_V6ONLY, and growth.

import assert from "node:assert/strict";
import { IpAddress, IpAddressScratch } from "../../net/ip_address.ts";
import { hashIpTuple, IpDemuxTable } from "../../transport/ip_demux.ts";

const ip = IpAddress.parse;
const ANY4 = ip("0.0.0.0");
const ANY6 = ip("::");
const L4 = ip("198.18.0.2");
const R4 = ip("198.18.0.1");
const L6 = ip("fd00:5::2");
const R6 = ip("fd00:5::1");

Deno.test("ip demux: exact match first, then the bound address, then the family wildcard", () => {
  const t = new IpDemuxTable<string>();
  assert.ok(t.insertBound(ANY4, 53, "any4"));
  assert.ok(t.insertBound(ANY6, 53, "any6", true));
  assert.ok(t.insertBound(L6, 53, "l6"));
  assert.ok(t.insertConnected(L6, 53, R6, 5000, "conn6"));
  assert.ok(t.insertConnected(L4, 53, R4, 5000, "conn4"));
  assert.equal(t.lookup(L6, 53, R6, 5000), "conn6");
  assert.equal(t.lookup(L4, 53, R4, 5000), "conn4");
  assert.equal(t.lookup(L6, 53, R6, 5001), "l6");
  assert.equal(t.lookup(ip("fd00:5::3"), 53, R6, 5000), "any6");
  assert.equal(t.lookup(L4, 53, R4, 5001), "any4");
  // A scratch address filled from bytes finds the same entries.
  const s = new IpAddressScratch().setFrom6(L6.toBytes(), 0);
  assert.equal(t.lookupExact(s, 53, R6, 5000), "conn6");
  assert.ok(t.removeConnected(L6, 53, R6, 5000, "conn6"));
  assert.equal(t.lookup(L6, 53, R6, 5000), "l6");
  assert.equal(t.size, 4);
});

Deno.test("ip demux: a dual-stack :: takes IPv4 only when no IPv4 wildcard is bound and not v6only", () => {
  const t = new IpDemuxTable<string>();
  t.insertBound(ANY6, 80, "dual");
  assert.equal(t.lookupBound(L4, 80), "dual");
  assert.equal(t.lookupBound(L6, 80), "dual");
  t.insertBound(ANY4, 81, "v4");
  t.insertBound(ANY6, 81, "v6only", true);
  assert.equal(t.lookupBound(L4, 81), "v4");
  assert.equal(t.lookupBound(L6, 81), "v6only");
  t.insertBound(ANY6, 82, "v6only", true);
  assert.equal(t.lookupBound(L4, 82), undefined);
});

Deno.test("ip demux: bind conflicts follow the address sets the bindings cover", () => {
  const t = new IpDemuxTable<string>();
  t.insertBound(ANY6, 1000, "dual");
  assert.ok(t.isPortBound(ANY4, 1000));
  assert.ok(t.isPortBound(L4, 1000));
  assert.ok(t.isPortBound(L6, 1000));
  t.insertBound(ANY6, 1001, "v6only", true);
  assert.ok(!t.isPortBound(ANY4, 1001));
  assert.ok(!t.isPortBound(L4, 1001));
  assert.ok(t.isPortBound(L6, 1001));
  assert.ok(t.isPortBound(ANY6, 1001, true));
  t.insertBound(L4, 1002, "l4");
  assert.ok(t.isPortBound(ANY4, 1002));
  assert.ok(t.isPortBound(ANY6, 1002, false), "a dual-stack wildcard covers it");
  assert.ok(!t.isPortBound(ANY6, 1002, true));
  assert.ok(!t.isPortBound(ip("198.18.0.3"), 1002));
  assert.ok(!t.isPortBound(L6, 1002));
});

Deno.test("ip demux: hashing mixes IPv6 words; shards grow; the bound is counted", () => {
  const h = hashIpTuple(L6, 80, R6, 40000);
  assert.notEqual(h, hashIpTuple(ip("fd00:6::2"), 80, R6, 40000));
  assert.notEqual(h, hashIpTuple(L6, 80, ip("fd00:6::1"), 40000));
  const t = new IpDemuxTable<number>({ shards: 4, maxEntries: 100 });
  for (let p = 0; p < 100; p++) assert.ok(t.insertConnected(L6, 80, R6, 10000 + p, p));
  assert.ok(t.shardCount > 4);
  assert.ok(!t.insertConnected(L6, 80, R6, 20000, 1));
  assert.equal(t.refused, 1);
  for (let p = 0; p < 100; p++) assert.equal(t.lookupExact(L6, 80, R6, 10000 + p), p);
});
