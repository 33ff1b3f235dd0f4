import assert from "node:assert/strict";
import { DenseSet } from "../../core/dense_set.ts";

interface Item {
  id: number;
  denseIndex: number;
}
const item = (id: number): Item => ({ id, denseIndex: -1 });

Deno.test("DenseSet: add, has, delete with the last member moved into the hole", () => {
  const s = new DenseSet<Item>();
  const items = [0, 1, 2, 3].map(item);
  for (const it of items) s.add(it);
  s.add(items[1]); // already a member: no-op
  assert.equal(s.size, 4);
  assert.ok(s.delete(items[1]));
  assert.equal(items[1].denseIndex, -1);
  assert.ok(!s.has(items[1]));
  assert.ok(!s.delete(items[1]), "not a member any more");
  assert.equal(s.size, 3);
  assert.equal(items[3].denseIndex, 1, "the last member took the hole");
  assert.deepEqual(s.toArray().map((i) => i.id).sort(), [0, 2, 3]);
  for (let i = 0; i < s.size; i++) assert.equal(s.at(i).denseIndex, i);
  assert.ok(s.delete(items[3]) && s.delete(items[0]) && s.delete(items[2]));
  assert.equal(s.size, 0);
  s.add(items[2]);
  assert.equal(items[2].denseIndex, 0);
});

Deno.test("DenseSet: a stale index (member of another set, or of none) is not membership", () => {
  const a = new DenseSet<Item>();
  const b = new DenseSet<Item>();
  const x = item(1);
  const y = item(2);
  a.add(x);
  b.add(y);
  // y says index 0, as x does in a: a must not take y for x.
  assert.ok(!a.has(y));
  assert.ok(!a.delete(y));
  assert.equal(a.size, 1);
  assert.equal(y.denseIndex, 0);
});

Deno.test("DenseSet: clear resets every member; toArray is a snapshot safe to delete through", () => {
  const s = new DenseSet<Item>();
  const items = Array.from({ length: 100 }, (_, i) => item(i));
  for (const it of items) s.add(it);
  for (const it of s.toArray()) if (it.id % 2 === 0) s.delete(it);
  assert.equal(s.size, 50);
  assert.ok(s.toArray().every((it) => it.id % 2 === 1));
  s.clear();
  assert.equal(s.size, 0);
  assert.ok(items.every((it) => it.denseIndex === -1));
});
