import assert from "node:assert/strict";
import {
  SEQ_SPACE,
  seqAdd,
  seqBetween,
  seqDiff,
  seqGe,
  seqGt,
  seqInWindow,
  seqLe,
  seqLt,
  seqMax,
  seqMin,
  seqSegmentAcceptable,
  seqSub,
} from "../../transport/tcp/seq.ts";
import {
  clampReceivedShift,
  decodeWindow,
  encodeWindow,
  MAX_SCALED_WINDOW,
  MAX_WINDOW_SHIFT,
  windowShiftFor,
} from "../../transport/tcp/window_scale.ts";

/** Deterministic xorshift32 in [0, 2**32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const MAX = 0xffff_ffff;

Deno.test("seqAdd/seqSub wrap modulo 2**32 and return uint32", () => {
  assert.equal(seqAdd(MAX, 1), 0);
  assert.equal(seqAdd(MAX, 2), 1);
  assert.equal(seqAdd(0, -1), MAX);
  assert.equal(seqAdd(0x8000_0000, 0x8000_0000), 0);
  assert.equal(seqAdd(5, 0), 5);
  assert.equal(seqSub(0, 1), MAX);
  assert.equal(seqSub(10, 20), SEQ_SPACE - 10);
  assert.equal(seqSub(seqAdd(0xffff_fff0, 0x100), 0x100), 0xffff_fff0);
  for (const v of [seqAdd(MAX, MAX), seqSub(0, MAX), seqAdd(1, -2)]) {
    assert.ok(v >= 0 && v <= MAX && Number.isInteger(v));
  }
});

Deno.test("seqDiff is the signed int32 distance across the wrap", () => {
  assert.equal(seqDiff(5, 0xffff_fffb), 10);
  assert.equal(seqDiff(0xffff_fffb, 5), -10);
  assert.equal(seqDiff(0, 0), 0);
  assert.equal(seqDiff(0x7fff_ffff, 0), 0x7fff_ffff);
  assert.equal(seqDiff(0x8000_0000, 0), -0x8000_0000); // undefined point: negative
  assert.equal(seqDiff(0, 0x8000_0001), 0x7fff_ffff);
  assert.equal(seqDiff(seqAdd(0xffff_ff00, 1000), 0xffff_ff00), 1000);
});

Deno.test("comparisons across the wrap", () => {
  assert.ok(seqLt(MAX, 0));
  assert.ok(seqGt(0, MAX));
  assert.ok(seqLt(0xffff_fff0, 0x10));
  assert.ok(!seqLt(0x10, 0xffff_fff0));
  assert.ok(seqLe(7, 7) && seqGe(7, 7) && !seqLt(7, 7) && !seqGt(7, 7));
  assert.ok(seqLt(0, 0x7fff_ffff));
  assert.ok(seqGt(0, 0x8000_0001)); // 0x8000_0001 is "before" 0
  // RFC 1982 §3.2: at distance exactly 2**31 the order is undefined; both sides say "less".
  assert.ok(seqLt(0, 0x8000_0000) && seqLt(0x8000_0000, 0));
});

Deno.test("comparisons agree with a reference over random pairs and offsets", () => {
  const next = rng(12345);
  for (let i = 0; i < 20000; i++) {
    const a = next();
    const d = (next() % 0x7fff_ffff) + 1; // 1 .. 2**31 - 1
    const b = (a + d) % SEQ_SPACE; // b is strictly after a
    assert.ok(seqLt(a, b) && seqLe(a, b) && !seqGt(a, b) && !seqGe(a, b), `${a} ${b}`);
    assert.ok(seqGt(b, a) && seqGe(b, a));
    assert.equal(seqDiff(b, a), d);
    assert.equal(seqDiff(a, b), -d);
    assert.equal(seqMax(a, b), b);
    assert.equal(seqMin(a, b), a);
    assert.equal(seqMax(b, a), b);
    assert.equal(seqMin(b, a), a);
    assert.equal(seqAdd(a, d), b);
    assert.equal(seqSub(b, d), a);
  }
});

Deno.test("seqMax/seqMin with equal values and across 0", () => {
  assert.equal(seqMax(3, 3), 3);
  assert.equal(seqMin(3, 3), 3);
  assert.equal(seqMax(0xffff_fff0, 3), 3);
  assert.equal(seqMin(0xffff_fff0, 3), 0xffff_fff0);
});

Deno.test("seqInWindow is the half-open interval, wrapping", () => {
  assert.ok(seqInWindow(0xffff_fffe, 0xffff_fffe, 8));
  assert.ok(seqInWindow(MAX, 0xffff_fffe, 8));
  assert.ok(seqInWindow(0, 0xffff_fffe, 8));
  assert.ok(seqInWindow(5, 0xffff_fffe, 8));
  assert.ok(!seqInWindow(6, 0xffff_fffe, 8)); // start + len
  assert.ok(!seqInWindow(0xffff_fffd, 0xffff_fffe, 8)); // one before
  assert.ok(!seqInWindow(100, 100, 0)); // empty window holds nothing
  assert.ok(seqInWindow(100, 100, 1));
  assert.ok(!seqInWindow(101, 100, 1));
  // A window of 2**32 - 1 holds everything but start - 1.
  assert.ok(seqInWindow(99, 100, MAX) === false && seqInWindow(98, 100, MAX));
  const next = rng(99);
  for (let i = 0; i < 5000; i++) {
    const start = next();
    const len = next() % 100000;
    const off = next() % 200000;
    assert.equal(seqInWindow(seqAdd(start, off), start, len), off < len);
  }
});

Deno.test("seqBetween is inclusive at both ends", () => {
  assert.ok(seqBetween(0xffff_fff0, 0xffff_fff0, 0x10));
  assert.ok(seqBetween(0x10, 0xffff_fff0, 0x10));
  assert.ok(seqBetween(0, 0xffff_fff0, 0x10));
  assert.ok(!seqBetween(0x11, 0xffff_fff0, 0x10));
  assert.ok(!seqBetween(0xffff_ffef, 0xffff_fff0, 0x10));
  assert.ok(seqBetween(5, 5, 5) && !seqBetween(6, 5, 5));
  // ACK acceptability SND.UNA < SEG.ACK ≤ SND.NXT.
  const una = MAX, nxt = 9;
  assert.ok(!seqBetween(una, seqAdd(una, 1), nxt));
  assert.ok(seqBetween(0, seqAdd(una, 1), nxt));
  assert.ok(seqBetween(9, seqAdd(una, 1), nxt));
  assert.ok(!seqBetween(10, seqAdd(una, 1), nxt));
});

Deno.test("seqSegmentAcceptable follows RFC 9293 §3.10.7.4's four cases", () => {
  const nxt = 0xffff_fff0;
  // SEG.LEN = 0, RCV.WND = 0: only SEG.SEQ = RCV.NXT.
  assert.ok(seqSegmentAcceptable(nxt, 0, nxt, 0));
  assert.ok(!seqSegmentAcceptable(seqAdd(nxt, 1), 0, nxt, 0));
  assert.ok(!seqSegmentAcceptable(seqSub(nxt, 1), 0, nxt, 0));
  // SEG.LEN = 0, RCV.WND > 0: RCV.NXT ≤ SEG.SEQ < RCV.NXT + RCV.WND.
  assert.ok(seqSegmentAcceptable(nxt, 0, nxt, 100));
  assert.ok(seqSegmentAcceptable(seqAdd(nxt, 99), 0, nxt, 100));
  assert.ok(!seqSegmentAcceptable(seqAdd(nxt, 100), 0, nxt, 100));
  assert.ok(!seqSegmentAcceptable(seqSub(nxt, 1), 0, nxt, 100));
  // SEG.LEN > 0, RCV.WND = 0: never.
  assert.ok(!seqSegmentAcceptable(nxt, 1, nxt, 0));
  // SEG.LEN > 0, RCV.WND > 0: first or last byte inside.
  assert.ok(seqSegmentAcceptable(nxt, 10, nxt, 100));
  assert.ok(seqSegmentAcceptable(seqSub(nxt, 5), 10, nxt, 100)); // last byte inside (overlap)
  assert.ok(!seqSegmentAcceptable(seqSub(nxt, 10), 10, nxt, 100)); // ends exactly at RCV.NXT
  assert.ok(seqSegmentAcceptable(seqAdd(nxt, 99), 50, nxt, 100)); // first byte inside
  assert.ok(!seqSegmentAcceptable(seqAdd(nxt, 100), 1, nxt, 100));
  assert.ok(seqSegmentAcceptable(seqAdd(nxt, 20), 1, nxt, 100)); // across the wrap
});

Deno.test("window_scale: shift choice, encode/decode, clamping (RFC 7323 §2)", () => {
  assert.equal(windowShiftFor(0), 0);
  assert.equal(windowShiftFor(65535), 0);
  assert.equal(windowShiftFor(65536), 1);
  assert.equal(windowShiftFor(131070), 1);
  assert.equal(windowShiftFor(131071), 2);
  assert.equal(windowShiftFor(4 * 1024 * 1024), 7);
  assert.equal(windowShiftFor(2 ** 40), MAX_WINDOW_SHIFT);
  assert.equal(clampReceivedShift(15), 14);
  assert.equal(clampReceivedShift(255), 14);
  assert.equal(clampReceivedShift(7), 7);
  assert.equal(clampReceivedShift(-1), 0);
  assert.equal(encodeWindow(1000, 2), 250);
  assert.equal(encodeWindow(1003, 2), 250); // rounds down
  assert.equal(encodeWindow(10_000_000, 0), 0xffff); // saturates
  assert.equal(encodeWindow(-5, 3), 0);
  assert.equal(decodeWindow(250, 2), 1000);
  assert.equal(decodeWindow(0xffff, 14), MAX_SCALED_WINDOW);
  assert.equal(MAX_SCALED_WINDOW, 1_073_725_440);
  for (const bytes of [1, 100, 65535, 65536, 1 << 20, 3_000_000, MAX_SCALED_WINDOW]) {
    const s = windowShiftFor(bytes);
    const field = encodeWindow(bytes, s);
    assert.ok(field <= 0xffff);
    const back = decodeWindow(field, s);
    assert.ok(back <= bytes && bytes - back < 2 ** s, `${bytes} ${s} ${back}`);
  }
});
