// The transport demux table (exact 4-tuple, then bound address, then wildcard) and the
// ephemeral port allocator.

import assert from "node:assert/strict";
import { IpAddress, IpAddressScratch } from "../../net/ip_address.ts";
import { DemuxTable, hashTuple, PortAllocator } from "../../transport/demux.ts";

const v4 = (a: number) => IpAddress.v4(a);
const ANY = v4(0);
const LOCAL = v4(0xc6120002); // 198.18.0.2
const LOCAL2 = v4(0xc6120003); // 198.18.0.3
const PEER = v4(0xc6120001); // 198.18.0.1
const PEER2 = v4(0xc6120009); // 198.18.0.9

Deno.test("hashTuple is a deterministic unsigned 32-bit mix that depends on every field", () => {
  const h = hashTuple(LOCAL, 80, PEER, 40000);
  assert.equal(h, hashTuple(LOCAL, 80, PEER, 40000));
  assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
  const variants = [
    hashTuple(LOCAL2, 80, PEER, 40000),
    hashTuple(LOCAL, 81, PEER, 40000),
    hashTuple(LOCAL, 80, PEER2, 40000),
    hashTuple(LOCAL, 80, PEER, 40001),
  ];
  for (const v of variants) assert.notEqual(v, h);
  // Spread: 4096 consecutive client ports land in most of the 256 shards.
  const shards = new Set<number>();
  for (let p = 40000; p < 44096; p++) shards.add(hashTuple(LOCAL, 80, PEER, p) & 255);
  assert.ok(shards.size > 240, `only ${shards.size} shards used`);
});

Deno.test("DemuxTable: exact match first, then the bound address, then the wildcard", () => {
  const t = new DemuxTable<string>();
  assert.ok(t.insertBound(ANY, 53, "any"));
  assert.ok(t.insertBound(LOCAL, 53, "specific"));
  assert.ok(t.insertConnected(LOCAL, 53, PEER, 5000, "conn"));
  assert.equal(t.size, 3);
  assert.equal(t.lookup(LOCAL, 53, PEER, 5000), "conn");
  assert.equal(t.lookup(LOCAL, 53, PEER, 5001), "specific", "other peer port");
  assert.equal(t.lookup(LOCAL, 53, PEER2, 5000), "specific", "other peer address");
  assert.equal(t.lookup(LOCAL2, 53, PEER, 5000), "any", "other local address");
  assert.equal(t.lookup(LOCAL, 54, PEER, 5000), undefined, "other port");
  assert.equal(t.lookupExact(LOCAL, 53, PEER, 5001), undefined);
  assert.equal(t.lookupBound(LOCAL, 53), "specific");
  assert.equal(t.lookupBound(LOCAL2, 53), "any");
  assert.equal(t.lookupBound(ANY, 53), "any", "a broadcast lookup (address 0) finds the wildcard");
  // The order of insertion does not matter: the specific binding still wins.
  const u = new DemuxTable<string>();
  u.insertBound(LOCAL, 53, "specific");
  u.insertBound(ANY, 53, "any");
  assert.equal(u.lookupBound(LOCAL, 53), "specific");
});

Deno.test("DemuxTable: duplicates are refused, removal needs the matching value", () => {
  const t = new DemuxTable<string>();
  assert.ok(t.insertConnected(LOCAL, 80, PEER, 40000, "a"));
  assert.equal(t.insertConnected(LOCAL, 80, PEER, 40000, "b"), false);
  assert.ok(t.insertBound(LOCAL, 80, "l"));
  assert.equal(t.insertBound(LOCAL, 80, "l2"), false);
  assert.ok(t.insertBound(ANY, 80, "w"), "wildcard and specific bindings coexist in the table");
  assert.equal(t.removeConnected(LOCAL, 80, PEER, 40000, "b"), false, "wrong value");
  assert.equal(t.lookup(LOCAL, 80, PEER, 40000), "a");
  assert.ok(t.removeConnected(LOCAL, 80, PEER, 40000, "a"));
  assert.equal(t.removeConnected(LOCAL, 80, PEER, 40000), false, "already gone");
  assert.equal(t.lookup(LOCAL, 80, PEER, 40000), "l", "falls back to the listener");
  assert.equal(t.removeBound(LOCAL, 80, "w"), false, "wrong value");
  assert.ok(t.removeBound(LOCAL, 80, "l"));
  assert.equal(t.lookup(LOCAL, 80, PEER, 40000), "w");
  assert.ok(t.removeBound(ANY, 80));
  assert.equal(t.lookup(LOCAL, 80, PEER, 40000), undefined);
  assert.equal(t.removeBound(ANY, 80), false);
  assert.equal(t.size, 0);
  assert.equal(t.isPortBound(ANY, 80), false, "the port's list is gone");
});

Deno.test("DemuxTable: the bound on entries holds for both kinds and refusals are counted", () => {
  const t = new DemuxTable<number>({ maxEntries: 3 });
  assert.equal(t.maxEntries, 3);
  assert.ok(t.insertBound(ANY, 1, 1));
  assert.ok(t.insertConnected(LOCAL, 2, PEER, 2, 2));
  assert.ok(t.insertBound(LOCAL, 3, 3));
  assert.equal(t.insertBound(ANY, 4, 4), false);
  assert.equal(t.insertConnected(LOCAL, 5, PEER, 5, 5), false);
  assert.equal(t.refused, 2);
  assert.equal(t.size, 3);
  // A duplicate is not a refusal for lack of room.
  assert.equal(t.insertBound(ANY, 1, 9), false);
  assert.equal(t.refused, 2);
  t.removeBound(ANY, 1);
  assert.ok(t.insertConnected(LOCAL, 5, PEER, 5, 5));
  assert.deepEqual([...t.values()].sort(), [2, 3, 5]);
});

Deno.test("DemuxTable: isPortBound and hasConnectedOnPort answer port-allocation questions", () => {
  const t = new DemuxTable<string>();
  t.insertBound(LOCAL, 7, "specific");
  t.insertBound(ANY, 8, "any");
  t.insertConnected(LOCAL, 9, PEER, 1000, "conn");
  assert.ok(t.isPortBound(LOCAL, 7));
  assert.ok(t.isPortBound(ANY, 7), "binding any conflicts with a specific binding");
  assert.equal(t.isPortBound(LOCAL2, 7), false, "another specific address does not");
  assert.ok(t.isPortBound(LOCAL2, 8), "a wildcard binding conflicts with every address");
  assert.equal(t.isPortBound(ANY, 9), false, "connected entries are not bindings");
  assert.ok(t.hasConnectedOnPort(9));
  assert.equal(t.hasConnectedOnPort(7), false);
});

Deno.test("DemuxTable: many connections over few or many shards all look up right", () => {
  assert.throws(() => new DemuxTable({ shards: 100 }), RangeError);
  for (const shards of [1, 256, 4096]) {
    const t = new DemuxTable<number>({ shards });
    for (let i = 0; i < 5000; i++) {
      assert.ok(t.insertConnected(LOCAL, 443, v4(PEER.w3 + i), 1024 + i, i));
    }
    for (let i = 0; i < 5000; i++) {
      assert.equal(t.lookupExact(LOCAL, 443, v4(PEER.w3 + i), 1024 + i), i);
    }
    for (let i = 0; i < 5000; i += 2) {
      assert.ok(t.removeConnected(LOCAL, 443, v4(PEER.w3 + i), 1024 + i));
    }
    for (let i = 0; i < 5000; i++) {
      assert.equal(
        t.lookupExact(LOCAL, 443, v4(PEER.w3 + i), 1024 + i),
        i % 2 === 0 ? undefined : i,
      );
    }
    assert.equal(t.size, 2500);
  }
});

Deno.test("PortAllocator: ports come from the range, skip used ones, and run out with -1", () => {
  assert.throws(() => new PortAllocator(0, 10), RangeError);
  assert.throws(() => new PortAllocator(100, 99), RangeError);
  assert.throws(() => new PortAllocator(1, 65536), RangeError);
  const a = new PortAllocator(40000, 40003);
  assert.equal(a.low, 40000);
  assert.equal(a.high, 40003);
  const used = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const p = a.allocate((port) => used.has(port));
    assert.ok(p >= 40000 && p <= 40003, `port ${p}`);
    assert.equal(used.has(p), false);
    used.add(p);
  }
  assert.equal(a.allocate((port) => used.has(port)), -1);
  used.delete(40002);
  assert.equal(a.allocate((port) => used.has(port)), 40002);
  // Successive allocations move forward (wrapping), so a just-freed port is not reused first.
  const b = new PortAllocator(50000, 50009);
  const first = b.allocate(() => false);
  const second = b.allocate(() => false);
  assert.equal(second, first === 50009 ? 50000 : first + 1);
  const single = new PortAllocator(7, 7);
  assert.equal(single.allocate(() => false), 7);
  assert.equal(single.allocate((p) => p === 7), -1);
});

Deno.test("demux: the table grows its shards as connections arrive and still finds every one", () => {
  const t = new DemuxTable<number>({ shards: 4 });
  assert.equal(t.shardCount, 4);
  for (let i = 0; i < 20_000; i++) {
    assert.ok(t.insertConnected(LOCAL, 80, v4(0xc6120000 + i), 40000 + (i % 1000), i));
  }
  assert.ok(t.shardCount >= 4096, `shards ${t.shardCount}`);
  for (let i = 0; i < 20_000; i++) {
    assert.equal(t.lookupExact(LOCAL, 80, v4(0xc6120000 + i), 40000 + (i % 1000)), i);
  }
  for (let i = 0; i < 20_000; i += 2) {
    assert.ok(t.removeConnected(LOCAL, 80, v4(0xc6120000 + i), 40000 + (i % 1000)));
  }
  assert.equal(t.size, 10_000);
  const fixed = new DemuxTable<number>({ shards: 16, maxShards: 16 });
  for (let i = 0; i < 1000; i++) fixed.insertConnected(LOCAL, 80, v4(i), 1, i);
  assert.equal(fixed.shardCount, 16);
});

// ---- both families ----

const ip = IpAddress.parse;
const ANY4 = ANY;
const ANY6 = ip("::");
const L4 = ip("198.18.0.2");
const R4 = ip("198.18.0.1");
const L6 = ip("fd00:5::2");
const R6 = ip("fd00:5::1");

Deno.test("demux (dual family): exact match first, then the bound address, then the family wildcard", () => {
  const t = new DemuxTable<string>();
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

Deno.test("demux (dual family): a dual-stack :: takes IPv4 only when no IPv4 wildcard is bound and not v6only", () => {
  const t = new DemuxTable<string>();
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

Deno.test("demux (dual family): bind conflicts follow the address sets the bindings cover", () => {
  const t = new DemuxTable<string>();
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

Deno.test("demux (dual family): hashing mixes IPv6 words; shards grow; the bound is counted", () => {
  const h = hashTuple(L6, 80, R6, 40000);
  assert.notEqual(h, hashTuple(ip("fd00:6::2"), 80, R6, 40000));
  assert.notEqual(h, hashTuple(L6, 80, ip("fd00:6::1"), 40000));
  const t = new DemuxTable<number>({ shards: 4, maxEntries: 100 });
  for (let p = 0; p < 100; p++) assert.ok(t.insertConnected(L6, 80, R6, 10000 + p, p));
  assert.ok(t.shardCount > 4);
  assert.ok(!t.insertConnected(L6, 80, R6, 20000, 1));
  assert.equal(t.refused, 1);
  for (let p = 0; p < 100; p++) assert.equal(t.lookupExact(L6, 80, R6, 10000 + p), p);
});
