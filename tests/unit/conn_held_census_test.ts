// `bench/conn_held.ts` sums a V8 heap snapshot up per class and per boxed number field, and
// takes the per-connection difference of two runs (bench/README.md, branch conn9b).

import assert from "node:assert/strict";
import { type HeapSnapshot, heldCensus, perConnection } from "../../bench/conn_held.ts";

/** Two senders: one owns its heap number in `sndUna`, both point at one shared number. */
function tinySnapshot(): HeapSnapshot {
  const strings = ["TcpSender", "sndUna", "mss", "", "cwnd"];
  // node: type, name, id, self_size, edge_count
  const nodes = [
    3,
    0,
    1,
    64,
    3, // 0: object TcpSender: sndUna → n2, mss → n3, cwnd → n3
    3,
    0,
    3,
    64,
    1, // 5: object TcpSender: mss → n3
    7,
    3,
    5,
    16,
    0, // 10: number (owned by node 0's sndUna)
    7,
    3,
    7,
    16,
    0, // 15: number (shared)
  ];
  // edge: type, name_or_index, to_node (an index into nodes)
  const edges = [
    2,
    1,
    10,
    2,
    2,
    15,
    2,
    4,
    15,
    2,
    2,
    15,
  ];
  const types = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number"];
  return {
    snapshot: {
      meta: {
        node_fields: ["type", "name", "id", "self_size", "edge_count"],
        node_types: [types],
        edge_fields: ["type", "name_or_index", "to_node"],
        edge_types: [["context", "element", "property", "internal"]],
      },
    },
    nodes,
    edges,
    strings,
  };
}

Deno.test("conn_held: objects per class and the heap numbers one field owns", () => {
  const c = heldCensus(tinySnapshot());
  assert.deepEqual(c.byClass["TcpSender"], [2, 128]);
  assert.deepEqual(c.byClass["(number)"], [2, 32]);
  assert.deepEqual(c.ownedNumbers, { "TcpSender.sndUna": 16 }); // the shared one left out
});

Deno.test("conn_held: per connection, what the big run holds beyond the small one", () => {
  const rows = perConnection(
    { A: [10, 1000], B: 100 },
    { A: [110, 11_000], B: 1_700, C: [5, 40] },
    100,
    1,
  );
  assert.deepEqual(rows, [
    { key: "A", objects: 1, bytes: 100 },
    { key: "B", objects: 0, bytes: 16 },
  ]);
});
