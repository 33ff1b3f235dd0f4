/**
 * Micro-benchmarks of the per-segment TCP building blocks: sequence arithmetic first, then the
 * receive/send buffer, the out-of-order assembler, SipHash and the ISN generator, so their
 * costs can be compared with the per-frame budget (linux-ffi-facts: ~7 µs per 9000-byte frame
 * at 10 Gbit/s). Run: `deno bench bench/seq_bench.ts`.
 *
 * @module
 */

import { ByteRing, type ByteSpan } from "../core/byte_ring.ts";
import { VirtualClock } from "../core/clock.ts";
import { siphash24, sipKeyFromBytes } from "../core/siphash.ts";
import { Assembler } from "../transport/tcp/assembler.ts";
import { IsnGenerator } from "../transport/tcp/isn.ts";
import { IpAddress } from "../net/ip_address.ts";
import {
  seqAdd,
  seqDiff,
  seqInWindow,
  seqLt,
  seqMax,
  seqSegmentAcceptable,
} from "../transport/tcp/seq.ts";

// Inputs spread across the wrap so no branch is trivially predicted away.
const N = 1024;
const xs = new Uint32Array(N);
const ys = new Uint32Array(N);
for (let i = 0; i < N; i++) {
  xs[i] = (0xffff_f000 + i * 7919) >>> 0;
  ys[i] = (xs[i] + ((i * 2654435761) % 200000) - 100000) >>> 0;
}
const ISN_A = IpAddress.v4(0xc6120001);
const ISN_B = IpAddress.v4(0xc6120002);
let sink = 0;

Deno.bench("seqLt ×1024", { group: "seq" }, () => {
  let n = 0;
  for (let i = 0; i < N; i++) if (seqLt(xs[i], ys[i])) n++;
  sink += n;
});

Deno.bench("seqDiff + seqAdd ×1024", { group: "seq" }, () => {
  let n = 0;
  for (let i = 0; i < N; i++) n += seqAdd(xs[i], seqDiff(ys[i], xs[i]) & 0xff);
  sink += n;
});

Deno.bench("seqInWindow ×1024", { group: "seq" }, () => {
  let n = 0;
  for (let i = 0; i < N; i++) if (seqInWindow(ys[i], xs[i], 65535)) n++;
  sink += n;
});

Deno.bench("seqMax ×1024", { group: "seq" }, () => {
  let n = 0;
  for (let i = 0; i < N; i++) n ^= seqMax(xs[i], ys[i]);
  sink += n;
});

Deno.bench("seqSegmentAcceptable ×1024", { group: "seq" }, () => {
  let n = 0;
  for (let i = 0; i < N; i++) if (seqSegmentAcceptable(ys[i], 1460, xs[i], 65535)) n++;
  sink += n;
});

const ring = new ByteRing(256 * 1024);
const segment = new Uint8Array(1460).fill(7);
const scratch = new Uint8Array(1460);
const span: ByteSpan = { buf: new Uint8Array(0), off: 0, len: 0 };

Deno.bench("ByteRing write + read 1460 B", { group: "ring" }, () => {
  ring.write(segment, 0, 1460);
  ring.read(scratch, 0, 1460);
});

Deno.bench("ByteRing writeAt + commit + consume 1460 B", { group: "ring" }, () => {
  ring.writeAt(0, segment, 0, 1460);
  ring.commit(1460);
  ring.consume(1460);
});

Deno.bench("ByteRing peek 1460 B at offset", { group: "ring" }, () => {
  if (ring.length < 64 * 1024) ring.commit(64 * 1024);
  ring.peek(scratch, 0, 30_000, 1460);
});

Deno.bench("ByteRing readableSpan", { group: "ring" }, () => {
  sink += ring.readableSpan(1000, span);
});

const asm = new Assembler(8);
Deno.bench("Assembler out-of-order add ×3 + fill + removeFront", { group: "assembler" }, () => {
  asm.add(2920, 1460);
  asm.add(5840, 1460);
  asm.add(4380, 1460);
  asm.add(0, 2920);
  sink += asm.removeFront();
});

const sack = new Uint32Array(8);
const holes = new Assembler(8);
holes.add(1460, 1460);
holes.add(4380, 1460);
holes.add(7300, 1460);
Deno.bench("Assembler sackBlocks (3 of 3)", { group: "assembler" }, () => {
  sink += holes.sackBlocks(sack, 123456, 4);
});

const key = sipKeyFromBytes(new Uint8Array(16).map((_, i) => i));
const msg16 = new Uint8Array(16).map((_, i) => i);
const msg40 = new Uint8Array(40).map((_, i) => i);
const out = new Uint32Array(2);
Deno.bench("siphash24 16 B (IPv4 tuple)", { group: "hash" }, () => {
  siphash24(key, msg16, 0, 16, out);
});
Deno.bench("siphash24 40 B (IPv6 tuple)", { group: "hash" }, () => {
  siphash24(key, msg40, 0, 40, out);
});
const isn = new IsnGenerator(new VirtualClock(1000), new Uint32Array([1, 2, 3, 4]));
Deno.bench("IsnGenerator.next (IPv4)", { group: "hash" }, () => {
  sink += isn.next(ISN_A, 40000, ISN_B, 80);
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep results observable
});
