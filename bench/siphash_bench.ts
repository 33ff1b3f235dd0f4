/**
 * SipHash-2-4 (`core/siphash.ts`) on repeated and on varied input: a flood's SYNs hash a new
 * four-tuple each time, and a hash whose carries the CPU can learn (the same input every call)
 * says nothing of one whose carries it cannot. The varied cases change the message's bytes
 * between calls the way round-robin flood sources and ports do.
 *
 * ```sh
 * deno bench --allow-all bench/siphash_bench.ts
 * ```
 *
 * @module
 */

import { siphash24, sipKeyFromBytes } from "../core/siphash.ts";
import { TupleHash } from "../transport/tcp/isn.ts";
import { IpAddress } from "../net/ip_address.ts";

const key = sipKeyFromBytes(new Uint8Array(16).map((_, i) => i));
const out = new Uint32Array(2);
const msg16 = new Uint8Array(16).map((_, i) => i);
const msg40 = new Uint8Array(40).map((_, i) => i);
let n = 0;
let sink = 0;

Deno.bench("siphash24 16 B, the same input each call", { group: "16 B" }, () => {
  siphash24(key, msg16, 0, 16, out);
  sink ^= out[0];
});
Deno.bench("siphash24 16 B, a new four-tuple each call", { group: "16 B", baseline: true }, () => {
  n = (n + 1) | 0;
  msg16[4] = 10 + (n % 200); // source address: 200 sources in turn
  msg16[10] = n >>> 8; // source port
  msg16[11] = n;
  siphash24(key, msg16, 0, 16, out);
  sink ^= out[0];
});
Deno.bench("siphash24 40 B, the same input each call", { group: "40 B" }, () => {
  siphash24(key, msg40, 0, 40, out);
  sink ^= out[0];
});
Deno.bench("siphash24 40 B, a new four-tuple each call", { group: "40 B", baseline: true }, () => {
  n = (n + 1) | 0;
  msg40[31] = 10 + (n % 200);
  msg40[34] = n >>> 8;
  msg40[35] = n;
  siphash24(key, msg40, 0, 40, out);
  sink ^= out[0];
});

const tuples = new TupleHash(new Uint32Array([1, 2, 3, 4]));
const local = IpAddress.parse("198.18.0.2");
const sources = Array.from({ length: 200 }, (_, i) => IpAddress.parse(`198.18.1.${i + 10}`));
Deno.bench("TupleHash.digestIp IPv4, a new four-tuple each call", { group: "tuple" }, () => {
  n = (n + 1) | 0;
  tuples.digestIp(local, 80, sources[n % 200], (n >>> 8) & 0xffff, 0x54534f31);
  sink ^= tuples.low;
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep results observable
});
