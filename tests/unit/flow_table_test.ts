import assert from "node:assert/strict";
import { type Flow, FlowTable } from "../../transport/flow_table.ts";

function flow(la: number, lp: number, ra: number, rp: number): Flow {
  return { localAddr: la, localPort: lp, remoteAddr: ra, remotePort: rp, flowNext: null };
}

Deno.test("FlowTable: insert, lookup by four-tuple, refuse a taken tuple, remove by identity", () => {
  const t = new FlowTable<Flow>({ buckets: 4 });
  const a = flow(0xc6120002, 80, 0xc6120001, 40000);
  const b = flow(0xc6120002, 80, 0xc6120001, 40001);
  assert.ok(t.insert(a));
  assert.ok(t.insert(b));
  assert.equal(t.insert(flow(0xc6120002, 80, 0xc6120001, 40000)), false, "tuple taken");
  assert.equal(t.lookup(0xc6120002, 80, 0xc6120001, 40000), a);
  assert.equal(t.lookup(0xc6120002, 80, 0xc6120001, 40001), b);
  assert.equal(t.lookup(0xc6120002, 81, 0xc6120001, 40001), undefined);
  assert.equal(t.remove(flow(0xc6120002, 80, 0xc6120001, 40000)), false, "only by identity");
  assert.ok(t.remove(a));
  assert.equal(t.remove(a), false);
  assert.equal(t.lookup(0xc6120002, 80, 0xc6120001, 40000), undefined);
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
