import assert from "node:assert/strict";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { RouteResult, RouteTable } from "../../net/route_table.ts";

const ip = parseIpv4;

Deno.test("route table: longest prefix wins, default route last, on-link next hop is the destination", () => {
  const rt = new RouteTable();
  rt.add({
    dest: 0,
    prefixLen: 0,
    gateway: ip("198.18.0.254"),
    nicIndex: 1,
    source: ip("198.18.0.2"),
    metric: 100,
  });
  rt.add({
    dest: ip("198.18.0.0"),
    prefixLen: 24,
    gateway: 0,
    nicIndex: 1,
    source: ip("198.18.0.2"),
    metric: 0,
  });
  rt.add({
    dest: ip("198.18.0.128"),
    prefixLen: 25,
    gateway: 0,
    nicIndex: 2,
    source: ip("198.18.0.130"),
    metric: 0,
  });
  const r = new RouteResult();
  assert.ok(rt.lookup(ip("198.18.0.7"), r));
  assert.deepEqual([r.nicIndex, r.nextHop, r.source], [1, ip("198.18.0.7"), ip("198.18.0.2")]);
  assert.ok(rt.lookup(ip("198.18.0.200"), r));
  assert.equal(r.nicIndex, 2);
  assert.ok(rt.lookup(ip("198.19.5.5"), r));
  assert.equal(r.nextHop, ip("198.18.0.254"));
  assert.equal(rt.remove(0, 0), 1);
  assert.equal(rt.lookup(ip("198.19.5.5"), r), false);
});

Deno.test("route table: duplicates, bad prefixes and the bound are refused with codes", () => {
  const rt = new RouteTable(2);
  const route = {
    dest: ip("198.18.0.0"),
    prefixLen: 24,
    gateway: 0,
    nicIndex: 1,
    source: 0,
    metric: 0,
  };
  rt.add(route);
  assert.throws(() => rt.add(route), { code: "EEXIST" });
  assert.throws(() => rt.add({ ...route, prefixLen: 33 }), { code: "EINVAL" });
  rt.add({ ...route, prefixLen: 16 });
  assert.throws(() => rt.add({ ...route, prefixLen: 8 }), { code: "ENOSPC" });
  assert.equal(rt.refused, 1);
  // Host bits are masked off on insert.
  const r = new RouteResult();
  const t2 = new RouteTable();
  t2.add({ ...route, dest: ip("198.18.0.99") });
  assert.ok(t2.lookup(ip("198.18.0.1"), r));
});

Deno.test("route table: removeBySource takes the routes of one source on one NIC only", () => {
  const rt = new RouteTable();
  const base = { gateway: 0, metric: 0 };
  rt.add({ ...base, dest: ip("198.18.0.0"), prefixLen: 24, nicIndex: 1, source: ip("198.18.0.2") });
  rt.add({
    ...base,
    dest: 0,
    prefixLen: 0,
    gateway: ip("198.18.0.1"),
    nicIndex: 1,
    source: ip("198.18.0.2"),
  });
  rt.add({ ...base, dest: ip("198.19.0.0"), prefixLen: 24, nicIndex: 1, source: ip("198.19.0.2") });
  rt.add({ ...base, dest: ip("198.18.1.0"), prefixLen: 24, nicIndex: 2, source: ip("198.18.0.2") });
  const gone = rt.removeBySource(ip("198.18.0.2"), 1);
  assert.deepEqual(gone.map((r) => r.prefixLen), [24, 0], "longest prefix first");
  assert.deepEqual(
    rt.list().map((r) => [r.dest, r.nicIndex]),
    [[ip("198.19.0.0"), 1], [ip("198.18.1.0"), 2]],
  );
  assert.deepEqual(rt.removeBySource(ip("198.18.0.2"), 1), [], "none left");
});
