import assert from "node:assert/strict";
import { type Flow, FlowTable } from "../../transport/flow_table.ts";
import { type IpAddr, IpAddress } from "../../net/ip_address.ts";

/** A flow; a number is an IPv4 address. */
function flow(la: number | IpAddr, lp: number, ra: number | IpAddr, rp: number): Flow {
  return { localAddr: v4(la), localPort: lp, remoteAddr: v4(ra), remotePort: rp, flowNext: null };
}

function v4(a: number | IpAddr): IpAddr {
  return typeof a === "number" ? IpAddress.v4(a) : a;
}

Deno.test("FlowTable: insert, lookup by four-tuple, refuse a taken tuple, remove by identity", () => {
  const t = new FlowTable<Flow>({ buckets: 4 });
  const a = flow(0xc6120002, 80, 0xc6120001, 40000);
  const b = flow(0xc6120002, 80, 0xc6120001, 40001);
  assert.ok(t.insert(a));
  assert.ok(t.insert(b));
  assert.equal(t.insert(flow(0xc6120002, 80, 0xc6120001, 40000)), false, "tuple taken");
  assert.equal(t.lookup(v4(0xc6120002), 80, v4(0xc6120001), 40000), a);
  assert.equal(t.lookup(v4(0xc6120002), 80, v4(0xc6120001), 40001), b);
  assert.equal(t.lookup(v4(0xc6120002), 81, v4(0xc6120001), 40001), undefined);
  assert.equal(t.remove(flow(0xc6120002, 80, 0xc6120001, 40000)), false, "only by identity");
  assert.ok(t.remove(a));
  assert.equal(t.remove(a), false);
  assert.equal(t.lookup(v4(0xc6120002), 80, v4(0xc6120001), 40000), undefined);
  assert.equal(t.size, 1);
  assert.deepEqual([...t.values()], [b]);
});

Deno.test("FlowTable: grows with its flows and shrinks back, every flow still found", () => {
  const t = new FlowTable<Flow>({ buckets: 16 });
  const all: Flow[] = [];
  for (let i = 0; i < 10_000; i++) {
    const f = flow(0xc6120002, 5000 + (i % 7), 0xc6120000 + (i >>> 8), i & 0xffff);
    assert.ok(t.insert(f));
    all.push(f);
  }
  assert.equal(t.size, 10_000);
  assert.ok(t.bucketCount >= 10_000, `buckets ${t.bucketCount}`);
  for (const f of all) {
    assert.equal(t.lookup(f.localAddr, f.localPort, f.remoteAddr, f.remotePort), f);
  }
  for (let i = 0; i < 9_990; i++) assert.ok(t.remove(all[i]));
  assert.ok(t.bucketCount <= 128, `shrank to ${t.bucketCount}`);
  assert.ok(t.bucketCount >= 16, "never below the initial size");
  for (let i = 9_990; i < 10_000; i++) {
    const f = all[i];
    assert.equal(t.lookup(f.localAddr, f.localPort, f.remoteAddr, f.remotePort), f);
  }
});

Deno.test("FlowTable: bounded, refusals counted", () => {
  const t = new FlowTable<Flow>({ maxEntries: 2 });
  assert.ok(t.insert(flow(1, 1, 2, 1)));
  assert.ok(t.insert(flow(1, 1, 2, 2)));
  assert.equal(t.insert(flow(1, 1, 2, 3)), false);
  assert.equal(t.refused, 1);
  assert.throws(() => new FlowTable({ buckets: 3 }), RangeError);
});

Deno.test("FlowTable: IPv6 tuples told apart by every word, and from IPv4-mapped ones", () => {
  const t = new FlowTable<Flow>({ buckets: 4 });
  const l6 = IpAddress.parse("fd00:5::2");
  const a = flow(l6, 80, IpAddress.parse("fd00:5::1"), 40000);
  const b = flow(l6, 80, IpAddress.parse("fd00:6::1"), 40000); // same low word
  const c = flow(IpAddress.v4(2), 80, IpAddress.v4(1), 40000); // ::ffff:0.0.0.1
  assert.ok(t.insert(a));
  assert.ok(t.insert(b));
  assert.ok(t.insert(c));
  assert.equal(t.lookup(IpAddress.parse("fd00:5::2"), 80, IpAddress.parse("fd00:5::1"), 40000), a);
  assert.equal(t.lookup(l6, 80, IpAddress.parse("fd00:6::1"), 40000), b);
  assert.equal(t.lookup(IpAddress.v4(2), 80, IpAddress.v4(1), 40000), c);
  assert.equal(t.lookup(IpAddress.parse("::2"), 80, IpAddress.parse("::1"), 40000), undefined);
  assert.ok(t.remove(b));
  assert.equal(t.lookup(l6, 80, IpAddress.parse("fd00:6::1"), 40000), undefined);
  assert.equal(t.lookup(l6, 80, IpAddress.parse("fd00:5::1"), 40000), a);
});

Deno.test("FlowTable: insertVacant adds without a lookup, bounded like insert", () => {
  const t = new FlowTable<Flow>({ buckets: 1, maxEntries: 2 });
  const f1 = flow(1, 80, 2, 40000), f2 = flow(1, 80, 2, 40001);
  let lookups = 0;
  const lookup = t.lookup.bind(t);
  t.lookup = (la, lp, ra, rp) => {
    lookups++;
    return lookup(la, lp, ra, rp);
  };
  assert.equal(t.insertVacant(f1), true);
  assert.equal(t.insertVacant(f2), true);
  assert.equal(lookups, 0);
  assert.equal(t.insertVacant(flow(1, 80, 2, 40002)), false);
  assert.equal(t.refused, 1);
  assert.equal(t.lookup(v4(1), 80, v4(2), 40000), f1);
  assert.equal(t.lookup(v4(1), 80, v4(2), 40001), f2);
  assert.equal(t.size, 2);
});
