// No `subarray` view per fragment made at the source: `BufferPool.allocCopy` copies each
// fragment's slice of its datagram through the pool's table of views (`POOL_COPY_VIEWS`). A
// stream of same-sized datagrams from pooled buffers slices them at the same offsets, so a few
// views serve it; a new view per fragment was ~100 B (bench/README.md, "heap13r").

import assert from "node:assert/strict";
import { makeCounters } from "../../core/counters.ts";
import { BufferPool, HEADROOM_BYTES, type PacketBuffer } from "../../core/packet_buffer.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { fragmentIpv4 } from "../../net/ipv4_fragmenter.ts";
import { Ipv4Repr } from "../../net/ipv4_header.ts";
import { fragmentIpv6, type FragmentOutput } from "../../net/ipv6_fragmenter.ts";
import { Ipv6Repr } from "../../net/ipv6_header.ts";
import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";

/** Most heap growth per fragment of a warm stream (a view is ~100 B). */
const MAX_BYTES_PER_FRAGMENT = 16;
/** The datagram's payload: an 8,900-byte UDP datagram with its header. */
const PAYLOAD = 8_908;

/**
 * A stream of datagrams fragmented at MTU 1500 by `fragment` into `chunk`-byte slices behind
 * `headerBytes` of headers, each fragment checked and freed.
 */
function stream(
  fragment: (pb: PacketBuffer, pool: BufferPool, out: FragmentOutput) => boolean,
  headerBytes: number,
  chunk: number,
) {
  const pool = new BufferPool({ count: 64, bufferBytes: 10_240 });
  let fragments = 0;
  let at = 0;
  let bad = 0;
  const out: FragmentOutput = {
    outputFragment(pb) {
      // The slice's first and last bytes, where the datagram's byte i is i & 0xff.
      const n = pb.length - headerBytes;
      const first = pb.data[pb.head + headerBytes];
      const last = pb.data[pb.head + headerBytes + n - 1];
      if (first !== (at & 0xff) || last !== ((at + n - 1) & 0xff)) bad++;
      at = (at + n) % PAYLOAD;
      fragments++;
      pool.free(pb);
      return true;
    },
  };
  const run = (datagrams: number) => {
    for (let d = 0; d < datagrams; d++) {
      const pb = pool.alloc(HEADROOM_BYTES)!;
      const o = pb.append(PAYLOAD);
      // Each fragment's first and last byte marked (where the datagram's byte i is i & 0xff).
      for (let i = 0; i < PAYLOAD; i += chunk) {
        pb.data[o + i] = i & 0xff;
        const end = i + chunk < PAYLOAD ? i + chunk : PAYLOAD;
        pb.data[o + end - 1] = (end - 1) & 0xff;
      }
      if (!fragment(pb, pool, out)) bad++;
    }
  };
  return { pool, run, fragments: () => fragments, bad: () => bad };
}

const counters = () => makeCounters(["FragFails", "FragCreates", "FragOKs", "OutNoBuffers"]);

Deno.test(`fragmenters: a warm stream of 8,900-byte datagrams grows the heap < ${MAX_BYTES_PER_FRAGMENT} B per fragment, both families`, () => {
  const v4 = new Ipv4Repr();
  v4.src = IpAddress.parse("198.18.0.1").w3;
  v4.dst = IpAddress.parse("198.18.0.2").w3;
  v4.protocol = 17;
  const s4 = counters();
  const a = stream((pb, pool, out) => fragmentIpv4(pb, 1500, v4, pool, s4, out), 20, 1480);
  const v6 = new Ipv6Repr();
  v6.src = IpAddress.parse("fd00::1");
  v6.dst = IpAddress.parse("fd00::2");
  v6.nextHeader = 17;
  const s6 = counters();
  let id = 1;
  const b = stream((pb, pool, out) => fragmentIpv6(pb, 1500, v6, id++, pool, s6, out), 48, 1448);
  a.run(300); // warm: optimised code
  b.run(300);
  const made = [a.pool.copyViewMisses, b.pool.copyViewMisses];
  // Measured again (up to 5 times) while the bound is missed: inside the full suite on a loaded
  // machine one measurement read 32.4 B per IPv4 fragment (tx13e); a view per fragment (~100 B)
  // is there at every attempt.
  let g4 = Infinity;
  let g6 = Infinity;
  for (
    let attempt = 0;
    attempt < 5 && !(g4 < MAX_BYTES_PER_FRAGMENT && g6 < MAX_BYTES_PER_FRAGMENT);
    attempt++
  ) {
    [g4, g6] = medianHeapGrowthPerUnit([
      { step: () => a.run(200), units: a.fragments },
      { step: () => b.run(200), units: b.fragments },
    ], 9);
  }
  const msg = `${g4.toFixed(1)} B per IPv4 fragment, ${g6.toFixed(1)} per IPv6 fragment; ` +
    `views made while measured: ${a.pool.copyViewMisses - made[0]}, ` +
    `${b.pool.copyViewMisses - made[1]}`;
  assert.equal(a.bad() + b.bad(), 0, "a fragment's bytes");
  assert.equal(s4.FragFails + s6.FragFails, 0);
  assert.equal(a.fragments(), 7 * s4.FragOKs);
  assert.ok(g4 < MAX_BYTES_PER_FRAGMENT && g6 < MAX_BYTES_PER_FRAGMENT, msg);
});
