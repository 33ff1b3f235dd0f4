/**
 * Demux lookup cost (`transport/demux.ts`) with 10, 10,000 and 100,000 connected 4-tuples in
 * one table, with the shard count pinned at 256 (what a table that never grew would cost) and
 * pinned so a shard holds about one entry (close to what the table's own growth, 4 entries per
 * shard at most, gives). Each iteration looks up 1,024 tuples: hits on connected
 * entries, then misses that fall back to a listener (a SYN for a new connection).
 *
 * Run: `deno bench bench/demux_bench.ts`
 *
 * @module
 */

import { DemuxTable } from "../transport/demux.ts";
import { IpAddress, IpAddressScratch } from "../net/ip_address.ts";
import { SeededRandom } from "../core/random.ts";

/** Lookups per iteration. */
const LOOKUPS = 1024;
/** The server's address and port: every connection is to it, as on a busy server. */
const LOCAL_ADDR = IpAddress.v4(0xc6120002);
/** The peer address of each lookup, refilled as the receive path refills its record. */
const peer = new IpAddressScratch();
const LOCAL_PORT = 443;

/** One table of `n` connections from random clients, plus the probe tuples. */
function build(n: number, shards: number): {
  table: DemuxTable<number>;
  hitAddr: Int32Array;
  hitPort: Int32Array;
  missAddr: Int32Array;
  missPort: Int32Array;
} {
  const rng = new SeededRandom(n ^ shards);
  const table = new DemuxTable<number>({ shards, maxShards: shards, maxEntries: n + 16 });
  table.insertBound(IpAddress.v4(0), LOCAL_PORT, -1);
  const addrs = new Int32Array(n);
  const ports = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    // Clients in 198.18.0.0/15, ephemeral ports: distinct tuples.
    let ra: number, rp: number;
    do {
      ra = (0xc6120000 | (rng.nextU32() & 0x1ffff)) >>> 0;
      rp = 32768 + (rng.nextU32() % 28232);
    } while (!table.insertConnected(LOCAL_ADDR, LOCAL_PORT, IpAddress.v4(ra), rp, i));
    addrs[i] = ra;
    ports[i] = rp;
  }
  const hitAddr = new Int32Array(LOOKUPS);
  const hitPort = new Int32Array(LOOKUPS);
  const missAddr = new Int32Array(LOOKUPS);
  const missPort = new Int32Array(LOOKUPS);
  for (let i = 0; i < LOOKUPS; i++) {
    const k = rng.nextU32() % n;
    hitAddr[i] = addrs[k];
    hitPort[i] = ports[k];
    // Port 1..1023 never appears among the ephemeral ports: a guaranteed miss.
    missAddr[i] = addrs[k];
    missPort[i] = 1 + (i % 1023);
  }
  return { table, hitAddr, hitPort, missAddr, missPort };
}

let sink = 0;

for (const n of [10, 10_000, 100_000]) {
  for (const shards of [256, 1 << Math.max(8, Math.ceil(Math.log2(n)))]) {
    if (n <= 256 && shards !== 256) continue;
    const t = build(n, shards);
    const group = `demux ${n} connections`;
    const suffix = shards === 256 ? "256 shards (fixed, never grown)" : `${shards} shards`;
    Deno.bench({
      name: `lookup hit ×${LOOKUPS}, ${suffix}`,
      group,
      baseline: shards === 256,
      fn: () => {
        let s = 0;
        for (let i = 0; i < LOOKUPS; i++) {
          peer.setV4(t.hitAddr[i]);
          s += t.table.lookup(LOCAL_ADDR, LOCAL_PORT, peer, t.hitPort[i])!;
        }
        sink ^= s;
      },
    });
    Deno.bench({
      name: `lookup miss → listener ×${LOOKUPS}, ${suffix}`,
      group,
      fn: () => {
        let s = 0;
        for (let i = 0; i < LOOKUPS; i++) {
          peer.setV4(t.missAddr[i]);
          s += t.table.lookup(LOCAL_ADDR, LOCAL_PORT, peer, t.missPort[i])!;
        }
        sink ^= s;
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep `sink` observable
});
