import assert from "node:assert/strict";
import { Ipv4Reassembler } from "../../net/ipv4_reassembly.ts";
import type { ReassemblyOptions } from "../../net/reassembly.ts";
import { VirtualClock } from "../../core/clock.ts";
import { StackStats } from "../../stack/stats.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { RX_CSUM_VALID, RX_GSO } from "../../link/driver.ts";

/** One fragment of a datagram with `id` whose payload is `payload[start..end)`. */
function fragment(
  id: number,
  payload: Uint8Array,
  start: number,
  end: number,
  more: boolean,
  src = 1,
  optionBytes = 0,
): Uint8Array {
  const hb = 20 + optionBytes;
  const f = new Uint8Array(hb + end - start);
  const total = f.length;
  f.set([0x40 | (hb / 4), 0, total >> 8, total & 0xff, id >> 8, id & 0xff], 0);
  const word = (more ? 0x2000 : 0) | (start >> 3);
  f[6] = word >> 8;
  f[7] = word & 0xff;
  f[8] = 64;
  f[9] = 17;
  f.set([198, 18, src >> 8, src & 0xff, 198, 18, 0, 2], 12);
  for (let i = 20; i < hb; i++) f[i] = 1; // NOP options
  f.set(payload.subarray(start, end), hb);
  return f;
}

function setup(opts: ReassemblyOptions = {}) {
  const clock = new VirtualClock();
  const timers = new TimerWheel();
  const stats = new StackStats();
  const r = new Ipv4Reassembler(timers, clock, stats.ip, opts);
  const add = (f: Uint8Array) => r.add(f, 0, f.length, 0);
  const elapse = (ms: number) => {
    clock.advance(ms);
    timers.advance(clock.nowMs());
  };
  return { clock, timers, stats, r, add, elapse };
}

const payload = Uint8Array.from({ length: 65000 }, (_, i) => (i * 7) & 0xff);
const p3000 = payload.subarray(0, 3000);

/** Send the 3000-byte datagram `id` from `src` in three fragments; true if it completed. */
function completes(add: (f: Uint8Array) => unknown, id: number, src = 1): boolean {
  add(fragment(id, p3000, 0, 1480, true, src));
  add(fragment(id, p3000, 1480, 2960, true, src));
  return add(fragment(id, p3000, 2960, 3000, false, src)) !== null;
}

Deno.test("reassembly: fragments in any order, duplicates ignored, header fixed up", () => {
  const { r, add, stats } = setup();
  const frags = [
    fragment(1, p3000, 1480, 2960, true),
    fragment(1, p3000, 2960, 3000, false),
    fragment(1, p3000, 1480, 2960, true), // exact duplicate
    fragment(1, p3000, 0, 1480, true),
  ];
  let whole = null;
  for (const f of frags) whole = add(f) ?? whole;
  assert.ok(whole);
  assert.equal(whole.len, 3020);
  const d = whole.buf.subarray(whole.off, whole.off + whole.len);
  assert.equal((d[2] << 8) | d[3], 3020);
  assert.equal(d[6] | d[7], 0);
  assert.deepEqual(d.subarray(20), p3000);
  assert.equal(r.pending, 0);
  assert.equal(r.memoryBytes, 0);
  assert.equal(stats.ip.ReasmDuplicates, 1);
});

Deno.test("reassembly: a 65 000-byte datagram arriving last fragment first", () => {
  const { add } = setup();
  let whole = null;
  for (let at = 64 * 1000; at >= 0; at -= 1000) {
    const end = Math.min(at + 1000, 65000);
    whole = add(fragment(9, payload, at, end, end < 65000)) ?? whole;
  }
  assert.ok(whole);
  assert.equal(whole.len, 65020);
  assert.deepEqual(whole.buf.subarray(whole.off + 20, whole.off + whole.len), payload);
});

Deno.test("reassembly: the whole datagram carries the first fragment's header (options)", () => {
  const { add } = setup();
  assert.equal(add(fragment(3, p3000, 1480, 3000, false)), null);
  const whole = add(fragment(3, p3000, 0, 1480, true, 1, 8));
  assert.ok(whole);
  assert.equal(whole.headerBytes, 28);
  assert.equal(whole.len, 3028);
  assert.equal(whole.buf[whole.off] & 0x0f, 7);
  assert.deepEqual(whole.buf.subarray(whole.off + 28, whole.off + 3028), p3000);
});

Deno.test("reassembly: overlaps drop the datagram and are counted; exact repeats do not", () => {
  const { r, add, stats } = setup();
  // A partial overlap.
  assert.equal(add(fragment(2, p3000, 0, 1480, true)), null);
  assert.equal(add(fragment(2, p3000, 1472, 3000, false)), null);
  assert.equal(stats.ip.ReasmOverlaps, 1);
  assert.equal(r.pending, 0);
  // A fragment inside one received before, same end but another start: an overlap too.
  add(fragment(4, p3000, 0, 1480, true));
  add(fragment(4, p3000, 8, 1480, true));
  assert.equal(stats.ip.ReasmOverlaps, 2);
  // A last fragment ending before data already received.
  add(fragment(5, p3000, 1480, 2960, true));
  add(fragment(5, p3000, 0, 1000, false));
  assert.equal(stats.ip.ReasmOverlaps, 3);
  // Two different lengths.
  add(fragment(6, p3000, 1480, 3000, false));
  add(fragment(6, p3000, 1480, 2000, false));
  assert.equal(stats.ip.ReasmOverlaps, 4);
  assert.equal(stats.ip.ReasmFails, 4);
  assert.equal(r.pending, 0);
  assert.equal(stats.ip.ReasmDuplicates, 0);
});

Deno.test("reassembly: malformed fragments are refused and counted", () => {
  const { r, add, stats } = setup();
  add(fragment(7, p3000, 0, 1479, true)); // not a multiple of 8
  add(fragment(7, p3000, 0, 0, true)); // empty
  // Ping of death: a last fragment reaching past 65 535 bytes.
  add(fragment(8, payload, 0, 1480, true));
  const big = fragment(8, new Uint8Array(66000), 65000, 65520, false);
  add(big);
  assert.equal(stats.ip.ReasmMalformed, 3);
  assert.equal(r.pending, 1); // datagram 8's first fragment waits
  // Each fragment fits, but with the first one's 60-byte header the whole exceeds 65 535.
  const huge = new Uint8Array(65515);
  add(fragment(12, huge, 0, 1480, true, 1, 40));
  assert.equal(add(fragment(12, huge, 1480, 65515, false)), null);
  assert.equal(stats.ip.ReasmMalformed, 4);
  assert.equal(r.pending, 1);
});

Deno.test("reassembly: incomplete datagrams time out, oldest first, counted", () => {
  const { r, stats, add, elapse } = setup({ timeoutMs: 1000 });
  add(fragment(10, p3000, 0, 1480, true));
  elapse(500);
  add(fragment(11, p3000, 1480, 2960, true));
  elapse(501);
  assert.equal(r.pending, 1);
  assert.equal(stats.ip.ReasmTimeout, 1);
  elapse(500);
  assert.equal(r.pending, 0);
  assert.equal(stats.ip.ReasmTimeout, 2);
  assert.equal(r.memoryBytes, 0);
});

Deno.test("reassembly: a timed-out first fragment is reported with its header", () => {
  const { r, add, elapse } = setup({ timeoutMs: 1000 });
  const seen: number[] = [];
  r.onTimeout = (buf, off, hb) => seen.push(hb, buf[off + 4] << 8 | buf[off + 5], buf[off + hb]);
  add(fragment(0x1234, p3000, 0, 1480, true));
  add(fragment(0x1235, p3000, 1480, 2960, true)); // no fragment zero: no report
  elapse(1001);
  assert.deepEqual(seen, [20, 0x1234, p3000[0]]);
});

Deno.test("reassembly: 64 lone first fragments do not stop the next datagram (was: table full)", () => {
  const { r, add, stats } = setup();
  for (let id = 100; id < 164; id++) add(fragment(id, p3000, 0, 1480, true));
  assert.equal(r.pending, 64);
  assert.ok(completes(add, 1), "a complete datagram from the same source still gets through");
  assert.ok(completes(add, 2, 7), "and from another source");
  assert.equal(stats.ip.ReasmEvictions + stats.ip.ReasmSourceEvictions, 0);
});

Deno.test("reassembly: memory is bounded in bytes; the oldest are evicted and counted", () => {
  const { r, add, stats } = setup({ maxBytes: 1 << 20, maxBytesPerSource: 1 << 20 });
  assert.equal(r.maxBytes, 1 << 20);
  // Lone first fragments from many sources, far more than fit.
  for (let i = 0; i < 2000; i++) {
    add(fragment(i, p3000, 0, 1480, true, 1 + (i % 50)));
    assert.ok(r.memoryBytes <= r.maxBytes, `${r.memoryBytes} bytes held`);
    assert.ok(r.heldBytes <= r.maxBytes);
  }
  const held = r.pending;
  assert.ok(held > 300 && held < 500, `${held} datagrams in 1 MiB (~2.4 KB each)`);
  assert.equal(stats.ip.ReasmEvictions, 2000 - held);
  assert.equal(stats.ip.ReasmFails, 2000 - held);
  // The oldest went: completing datagram 0 now starts over; the newest is still there.
  assert.equal(add(fragment(0, p3000, 1480, 3000, false, 1)), null);
  const newest = 1999;
  assert.ok(add(fragment(newest, p3000, 1480, 3000, false, 1 + (newest % 50))));
  // A complete datagram always gets through, also big ones that grow their buffer.
  assert.ok(completes(add, 5000, 99));
  let whole = null;
  for (let at = 0; at < 65000; at += 1480) {
    whole = add(fragment(5001, payload, at, Math.min(at + 1480, 65000), at + 1480 < 65000, 98));
  }
  assert.ok(whole);
  assert.ok(r.heldBytes <= r.maxBytes);
});

Deno.test("reassembly: one source's incomplete trains only ever evict its own datagrams", () => {
  const { r, add, stats } = setup({ maxBytes: 1 << 20, maxBytesPerSource: 256 << 10 });
  // Another source has a datagram half-way when the flood starts.
  add(fragment(1, p3000, 0, 1480, true, 7));
  for (let i = 0; i < 10_000; i++) {
    add(fragment(i, p3000, 0, 1480, true, 1));
    // Now and then a complete datagram from a third source: never refused.
    if (i % 1000 === 999) assert.ok(completes(add, 20_000 + i, 8));
  }
  assert.ok(r.memoryBytes <= r.maxBytesPerSource + 4096);
  assert.ok(stats.ip.ReasmSourceEvictions > 9000);
  assert.equal(stats.ip.ReasmEvictions, 0);
  // The other source's datagram survived the flood and completes.
  add(fragment(1, p3000, 1480, 2960, true, 7));
  assert.ok(add(fragment(1, p3000, 2960, 3000, false, 7)));
  // And the flooding source's newest datagram still completes too.
  assert.ok(completes(add, 9999, 1));
});

Deno.test("reassembly: bounds below one datagram's needs are raised to a working minimum", () => {
  const { r } = setup({ maxBytes: 1000, maxBytesPerSource: 10 });
  assert.ok(r.maxBytes >= 4 * 65535);
  assert.ok(r.maxBytesPerSource >= 2 * 65535);
});

Deno.test("reassembly: after one datagram, the next grows its buffer once, to that size", () => {
  const { r, add } = setup();
  const p = payload.subarray(0, 8908);
  const train = (id: number) => {
    const out = [];
    for (let s = 0; s < p.length; s += 1480) {
      out.push(fragment(id, p, s, Math.min(p.length, s + 1480), s + 1480 < p.length));
    }
    return out;
  };
  const [a0, a1] = train(1);
  add(a0);
  const lone = r.memoryBytes; // the first fragment alone: the smallest buffer
  add(a1);
  const doubled = r.memoryBytes; // nothing completed yet: grown by doubling
  for (const f of train(1).slice(2)) add(f);
  assert.equal(r.memoryBytes, 0);
  const [b0, b1] = train(2);
  add(b0);
  assert.equal(r.memoryBytes, lone);
  add(b1);
  // Two fragments in: already the buffer of a whole 8,908-byte datagram (16 KiB class).
  assert.ok(r.memoryBytes > doubled, `${r.memoryBytes} vs ${doubled}`);
  assert.ok(r.memoryBytes > 16384, `${r.memoryBytes}`);
  let whole = null;
  for (const f of train(2).slice(2)) whole = add(f);
  assert.ok(whole !== null);
  assert.deepEqual(whole.buf.subarray(whole.off + 20, whole.off + whole.len), p);
});

Deno.test("reassembly: interleaved datagrams and overlaps at 32-block word edges", () => {
  const { add, stats } = setup();
  const p = payload.subarray(0, 2048);
  // Two datagrams' fragments alternate (the last-datagram shortcut must not mix them).
  assert.equal(add(fragment(7, p, 0, 256, true)), null);
  assert.equal(add(fragment(8, p, 1024, 2048, false)), null);
  assert.equal(add(fragment(7, p, 256, 1024, true)), null);
  assert.equal(add(fragment(8, p, 0, 1024, true))?.len, 20 + 2048);
  // A duplicate spanning a word edge is ignored; one ending one block further overlaps.
  assert.equal(add(fragment(7, p, 256, 1024, true)), null);
  assert.equal(stats.ip.ReasmDuplicates, 1);
  assert.equal(stats.ip.ReasmOverlaps, 0);
  assert.equal(add(fragment(7, p, 1016, 1032, true)), null);
  assert.equal(stats.ip.ReasmOverlaps, 1);
  // Datagram 7 is gone: its last fragment starts a new, incomplete one.
  assert.equal(add(fragment(7, p, 1024, 2048, false)), null);
  // A fragment starting inside another word's received run is an overlap, not a duplicate.
  assert.equal(add(fragment(9, p, 0, 512, true)), null);
  assert.equal(add(fragment(9, p, 248, 512, true)), null);
  assert.equal(stats.ip.ReasmOverlaps, 2);
});

Deno.test("reassembly: RX_CSUM_VALID carries over only when every fragment had it", () => {
  const { r } = setup();
  const p = payload.subarray(0, 3000);
  const send = (id: number, flags: number[]) => {
    let whole = null;
    const cuts = [[0, 1480, true], [1480, 2960, true], [2960, 3000, false]] as const;
    for (let i = 0; i < 3; i++) {
      const f = fragment(id, p, cuts[i][0], cuts[i][1], cuts[i][2]);
      whole = r.add(f, 0, f.length, flags[i]);
    }
    return whole;
  };
  assert.equal(send(1, [RX_CSUM_VALID, RX_CSUM_VALID, RX_CSUM_VALID])?.rxFlags, RX_CSUM_VALID);
  assert.equal(send(2, [RX_CSUM_VALID, 0, RX_CSUM_VALID])?.rxFlags, 0);
  // Other flags do not carry over.
  assert.equal(send(3, [RX_GSO, RX_GSO, RX_GSO])?.rxFlags, 0);
  assert.equal(send(4, [RX_CSUM_VALID, RX_CSUM_VALID, RX_CSUM_VALID])?.rxFlags, RX_CSUM_VALID);
});
