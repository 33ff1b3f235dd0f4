/**
 * `bench/conn_held.ts`: what an established, idle connection keeps on the heap, by class and by
 * boxed number field. N connections opened between two stacks on the simulated wire and held
 * (both ends in this process, as `pingpong --hold` holds them across two), then one V8 heap
 * snapshot; the same with a few connections in a fresh process gives the base. Per connection
 * pair: objects and self bytes per constructor, and the heap numbers each object field owns —
 * a field V8 keeps as a double (a time in fractional ms, a sequence number ≥ 2³¹) holds a
 * 16-byte box of its own in every object, whatever its value.
 *
 * ```
 * deno run --allow-all bench/conn_held.ts [-n 5000] [--base 200] [--min 3] [--json]
 * ```
 *
 * Runs itself twice (`--child N FILE`): one snapshot per process (a second snapshot in the same
 * process did not complete here). Heap bytes, not timing; still run it under the lock.
 *
 * @module
 */

import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import { ADDR_B, makeSimNet } from "../tests/harness/sim_net.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { TcpState } from "../transport/tcp/state.ts";

/** The parts of a V8 heap snapshot this tool reads. */
export interface HeapSnapshot {
  /** Field layout of `nodes` and `edges`, and the type names. */
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  /** Flat node records. */
  nodes: number[];
  /** Flat edge records (each node's edges follow the previous node's). */
  edges: number[];
  /** The string table. */
  strings: string[];
}

/** A snapshot summed up: per constructor `[objects, self bytes]`, per owned number field its bytes. */
export interface HeldCensus {
  /** Objects and their self bytes by constructor name (`(type)` for other nodes). */
  byClass: Record<string, [number, number]>;
  /**
   * Bytes of heap numbers referenced by exactly one edge, by `Owner.field`: the boxes of double
   * fields (shared constants and numbers elsewhere are left out).
   */
  ownedNumbers: Record<string, number>;
}

/**
 * Sum up a heap snapshot: objects and bytes per constructor, and the bytes of the heap numbers
 * that a single object field holds (by owner class and field name).
 *
 * @example
 * ```ts
 * const census = heldCensus(JSON.parse(Deno.readTextFileSync("x.heapsnapshot")));
 * census.byClass["TcpSender"]; // [objects, bytes]
 * ```
 */
export function heldCensus(snap: HeapSnapshot): HeldCensus {
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields.length, enf = meta.edge_fields.length;
  const iType = meta.node_fields.indexOf("type"), iName = meta.node_fields.indexOf("name");
  const iSize = meta.node_fields.indexOf("self_size");
  const iEdges = meta.node_fields.indexOf("edge_count");
  const eType = meta.edge_fields.indexOf("type"), eName = meta.edge_fields.indexOf("name_or_index");
  const eTo = meta.edge_fields.indexOf("to_node");
  const types = meta.node_types[0], etypes = meta.edge_types[0];
  const { nodes, edges, strings } = snap;
  const byClass: Record<string, [number, number]> = {};
  const numberIn = new Map<number, number>();
  for (let i = 0; i < nodes.length; i += nf) {
    const t = types[nodes[i + iType]];
    const name = t === "object" ? strings[nodes[i + iName]] : `(${t})`;
    const e = byClass[name] ??= [0, 0];
    e[0]++;
    e[1] += nodes[i + iSize];
  }
  for (let e = 0; e < edges.length; e += enf) {
    const to = edges[e + eTo];
    if (types[nodes[to + iType]] === "number") numberIn.set(to, (numberIn.get(to) ?? 0) + 1);
  }
  const ownedNumbers: Record<string, number> = {};
  let e = 0;
  for (let i = 0; i < nodes.length; i += nf) {
    const owner = types[nodes[i + iType]] === "object" ? strings[nodes[i + iName]] : "";
    for (let k = nodes[i + iEdges]; k > 0; k--, e += enf) {
      const to = edges[e + eTo];
      if (owner === "" || types[nodes[to + iType]] !== "number" || numberIn.get(to) !== 1) continue;
      const et = etypes[edges[e + eType]];
      if (et !== "property") continue;
      const key = `${owner}.${strings[edges[e + eName]]}`;
      ownedNumbers[key] = (ownedNumbers[key] ?? 0) + nodes[to + iSize];
    }
  }
  return { byClass, ownedNumbers };
}

/**
 * Per connection pair, what `big` holds beyond `small` (`n` more pairs): rows of at least `min`
 * bytes, largest first.
 */
export function perConnection(
  small: Record<string, number | [number, number]>,
  big: Record<string, number | [number, number]>,
  n: number,
  min: number,
): { key: string; objects: number; bytes: number }[] {
  const rows: { key: string; objects: number; bytes: number }[] = [];
  for (const [key, v] of Object.entries(big)) {
    const s = small[key] ?? (typeof v === "number" ? 0 : [0, 0]);
    const [o1, b1] = typeof v === "number" ? [0, v] : v;
    const [o0, b0] = typeof s === "number" ? [0, s] : s;
    const bytes = (b1 - b0) / n;
    if (Math.abs(bytes) >= min) rows.push({ key, objects: (o1 - o0) / n, bytes });
  }
  return rows.sort((a, b) => b.bytes - a.bytes);
}

/** Open `n` connections on a fresh simulated pair and hold them (both ends kept). */
function holdPairs(n: number): TcpEndpoint[] {
  const net = makeSimNet({ wire: { seed: 9, delayMs: 0.05 }, tcp: { maxTimeWait: 1 << 16 } });
  const listener = net.tcpB.listen(null, 80, 4096);
  const held: TcpEndpoint[] = [];
  let clients = 0, servers = 0, connecting = 0;
  const pending: TcpEndpoint[] = [];
  const step = (): boolean => {
    while (clients < n && connecting < 64) {
      pending.push(net.tcpA.connect(ADDR_B, 80));
      clients++;
      connecting++;
    }
    for (let s = listener.accept(); s !== null; s = listener.accept()) {
      held.push(s);
      servers++;
    }
    for (let i = pending.length - 1; i >= 0; i--) {
      if (pending[i].state !== TcpState.ESTABLISHED) continue;
      held.push(pending[i]);
      pending[i] = pending[pending.length - 1];
      pending.pop();
      connecting--;
    }
    return servers === n && pending.length === 0 && clients === n;
  };
  if (!net.run(step, 10_000_000)) throw new Error(`stalled: ${servers} of ${n} accepted`);
  (globalThis as { heldNet?: unknown }).heldNet = net; // keep both stacks alive
  return held;
}

/**
 * Take one V8 heap snapshot of this process (through the inspector).
 *
 * @example
 * ```ts ignore
 * const census = heldCensus(await takeHeapSnapshot());
 * ```
 */
export async function takeHeapSnapshot(): Promise<HeapSnapshot> {
  const s = new Session();
  s.connect();
  const chunks: string[] = [];
  s.on("HeapProfiler.addHeapSnapshotChunk", (m) => chunks.push(m.params.chunk));
  try {
    await new Promise<void>((resolve, reject) =>
      s.post("HeapProfiler.takeHeapSnapshot", {}, (e) => e ? reject(e) : resolve())
    );
  } finally {
    s.disconnect();
  }
  return JSON.parse(chunks.join("")) as HeapSnapshot;
}

async function child(n: number, out: string): Promise<void> {
  const held = holdPairs(n);
  const census = heldCensus(await takeHeapSnapshot());
  Deno.writeTextFileSync(out, JSON.stringify({ pairs: held.length / 2, ...census }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      n: { type: "string", short: "n", default: "5000" },
      base: { type: "string", default: "200" },
      min: { type: "string", default: "3" },
      json: { type: "boolean" },
      child: { type: "string" },
      file: { type: "string" },
    },
  });
  if (values.child !== undefined) return await child(Number(values.child), values.file!);
  const n = Number(values.n), base = Number(values.base), min = Number(values.min);
  const dir = Deno.makeTempDirSync();
  try {
    const runs: HeldCensus[] = [];
    for (const k of [base, base + n]) {
      const file = `${dir}/${k}.json`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", import.meta.filename!, "--child", String(k), "--file", file],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`child ${k} failed`);
      runs.push(JSON.parse(Deno.readTextFileSync(file)));
    }
    const classes = perConnection(runs[0].byClass, runs[1].byClass, n, min);
    const boxes = perConnection(runs[0].ownedNumbers, runs[1].ownedNumbers, n, 0.5);
    const sum = (r: { bytes: number }[]) => r.reduce((a, x) => a + x.bytes, 0);
    if (values.json) {
      console.log(JSON.stringify({ n, base, classes, boxes, classBytes: sum(classes) }, null, 2));
      return;
    }
    console.log(`per connection pair (both ends), ${n} pairs held over ${base}:`);
    for (const r of classes) {
      console.log(
        `  ${r.key.padEnd(36)} ${r.objects.toFixed(2).padStart(6)} objects ${
          r.bytes.toFixed(1).padStart(8)
        } B`,
      );
    }
    console.log(`  ${"total".padEnd(36)} ${sum(classes).toFixed(0).padStart(24)} B`);
    console.log(`boxed number fields (a heap number each object owns), per pair:`);
    for (const r of boxes) console.log(`  ${r.key.padEnd(36)} ${r.bytes.toFixed(1).padStart(8)} B`);
    console.log(`  ${"total".padEnd(36)} ${sum(boxes).toFixed(0).padStart(8)} B`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
