import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { IsnGenerator, TupleHash } from "../../transport/tcp/isn.ts";
import { IpAddress } from "../../net/ip_address.ts";

const KEY = new Uint32Array([0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210]);
const A4 = 0xc6120001; // 198.18.0.1
const B4 = 0xc6120002; // 198.18.0.2
const A = IpAddress.v4(A4);
const B = IpAddress.v4(B4);

Deno.test("ISN = M + F: same tuple advances by 250 per ms (4 µs ticks, RFC 6528 §3)", () => {
  const clock = new VirtualClock();
  const g = new IsnGenerator(clock, KEY);
  const f = g.next(A, 40000, B, 80); // M = 0 at t = 0
  clock.advance(1);
  assert.equal(g.next(A, 40000, B, 80), (f + 250) >>> 0);
  clock.advance(0.004); // one more tick
  assert.equal(g.next(A, 40000, B, 80), (f + 251) >>> 0);
  clock.advance(0.003); // not yet a whole tick
  assert.equal(g.next(A, 40000, B, 80), (f + 251) >>> 0);
  clock.advance(1000);
  assert.equal(g.next(A, 40000, B, 80), (f + 251 + 250_000) >>> 0);
});

Deno.test("M wraps modulo 2**32 and results stay uint32", () => {
  // 2**32 ticks = 17,179,869.184 ms; start just before that.
  const clock = new VirtualClock(17_179_869.184 - 0.4);
  const g = new IsnGenerator(clock, KEY);
  const before = g.next(A, 1, B, 2);
  clock.advance(0.8); // 200 ticks, across the wrap of M
  const after = g.next(A, 1, B, 2);
  assert.equal((after - before) >>> 0, 200);
  for (const v of [before, after]) assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
});

Deno.test("F depends on every tuple field and on the key, not on the generator instance", () => {
  const clock = new VirtualClock(12345);
  const g = new IsnGenerator(clock, KEY);
  const base = g.next(A, 40000, B, 80);
  assert.equal(new IsnGenerator(clock, KEY).next(A, 40000, B, 80), base);
  const variants = [
    g.next(IpAddress.v4(A4 + 1), 40000, B, 80),
    g.next(A, 40001, B, 80),
    g.next(A, 40000, IpAddress.v4(B4 + 1), 80),
    g.next(A, 40000, B, 81),
    g.next(B, 80, A, 40000), // the reverse direction is another tuple
    new IsnGenerator(clock, new Uint32Array([1, 2, 3, 4])).next(A, 40000, B, 80),
  ];
  for (const v of variants) assert.notEqual(v, base);
  assert.equal(new Set(variants).size, variants.length);
});

Deno.test("default key is random: two generators disagree", () => {
  const clock = new VirtualClock();
  const x = new IsnGenerator(clock).next(A, 1, B, 2);
  const y = new IsnGenerator(clock).next(A, 1, B, 2);
  assert.notEqual(x, y); // fails with probability 2**-32
});

Deno.test("IPv6 tuples hash their 16-byte forms, IPv4-mapped ones their IPv4 words", () => {
  const clock = new VirtualClock(5);
  const g = new IsnGenerator(clock, KEY);
  const local = IpAddress.parse("fd00::1");
  const remote = IpAddress.parse("fd00::2");
  const packet = new Uint8Array(40); // as in an IPv6 header: src at 8, dst at 24
  packet.set(local.toBytes(), 8);
  packet.set(remote.toBytes(), 24);
  const x = g.next(local, 443, remote, 50000);
  assert.equal(
    x,
    (1250 + new TupleHash(KEY).hash6(packet, 8, 443, packet, 24, 50000, 0x49534e31)) >>> 0,
  );
  assert.notEqual(g.next(remote, 443, local, 50000), x);
  assert.notEqual(g.next(local, 443, remote, 50001), x);
  clock.advance(2);
  assert.equal(g.next(local, 443, remote, 50000), (x + 500) >>> 0);
  const h = new TupleHash(KEY);
  assert.equal(h.hashIp(A, 1, B, 2, 7), h.hash4(A4, 1, B4, 2, 7));
});

Deno.test("timestamp offsets are stable per tuple and independent of the ISN", () => {
  const clock = new VirtualClock();
  const g = new IsnGenerator(clock, KEY);
  const t = g.timestampOffset(A, 40000, B, 80);
  clock.advance(10_000);
  assert.equal(g.timestampOffset(A, 40000, B, 80), t);
  assert.notEqual(g.timestampOffset(A, 40001, B, 80), t);
  const isnAt0 = new IsnGenerator(new VirtualClock(), KEY).next(A, 40000, B, 80);
  assert.notEqual(t, isnAt0);
  const l = IpAddress.parse("fd00::1"), r = IpAddress.parse("fd00::2");
  assert.equal(g.timestampOffset(l, 1, r, 2), g.timestampOffset(l, 1, r, 2));
  assert.notEqual(g.timestampOffset(l, 1, r, 2), g.next(l, 1, r, 2));
});

Deno.test("one SipHash: next() leaves a timestamp offset, stable per tuple, not the ISN's half", () => {
  const clock = new VirtualClock();
  const g = new IsnGenerator(clock, KEY);
  const n0 = g.hashes;
  const isn = g.next(A, 40000, B, 80);
  const t = g.nextTimestampOffset;
  assert.equal(g.hashes - n0, 1, "the ISN and the offset from one hash");
  // The ISN is M + the hash's low half (M = 0 at t = 0); the offset is its high half.
  const h = new TupleHash(KEY);
  assert.equal(isn, h.hashIp(A, 40000, B, 80, 0x49534e31));
  assert.equal(t, h.high);
  assert.notEqual(t, isn);
  clock.advance(10_000);
  g.next(A, 40000, B, 80);
  assert.equal(g.nextTimestampOffset, t, "stable for the tuple while the ISN moves on");
  g.next(A, 40001, B, 80);
  assert.notEqual(g.nextTimestampOffset, t);
  // Pins hold for both halves.
  const p = new IsnGenerator(clock, KEY, { isn: 7, timestampOffset: 9 });
  assert.equal(p.next(A, 1, B, 2), 7);
  assert.equal(p.nextTimestampOffset, 9);
});

Deno.test("TupleHash: keyed, extra word matters, key is copied and validated", () => {
  const key = KEY.slice();
  const h = new TupleHash(key);
  const x = h.hash4(A4, 1, B4, 2, 7);
  key[0] ^= 1; // later changes to the caller's array do not affect the hasher
  assert.equal(h.hash4(A4, 1, B4, 2, 7), x);
  assert.notEqual(h.hash4(A4, 1, B4, 2, 8), x);
  assert.notEqual(new TupleHash(key).hash4(A4, 1, B4, 2, 7), x);
  assert.throws(() => new TupleHash(new Uint32Array(3)), RangeError);
  const v = h.hash4(0xffffffff, 0xffff, 0, 0, 0xffffffff);
  assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
});

Deno.test("ISNs of many tuples look uniform (no gross bias in F)", () => {
  const g = new IsnGenerator(new VirtualClock(), KEY);
  const buckets = new Array(16).fill(0);
  for (let port = 0; port < 16000; port++) buckets[g.next(A, port, B, 80) >>> 28]++;
  for (const n of buckets) assert.ok(n > 800 && n < 1200, `${buckets}`);
});

Deno.test("isn: nextInto and timestampOffsetInto write what next and timestampOffset return", () => {
  const key = new Uint32Array([1, 2, 3, 4]);
  const clock = new VirtualClock(123_456.75);
  const a = new IsnGenerator(clock, key), b = new IsnGenerator(clock, key);
  const out = { iss: 0, tsOffset: 0, tupleTag: 0 };
  for (const [l, r] of [["198.18.0.1", "198.18.200.7"], ["fd00::1", "fd00::2:3"]]) {
    const la = IpAddress.parse(l), ra = IpAddress.parse(r);
    const iss = a.next(la, 80, ra, 40000);
    b.nextInto(la, 80, ra, 40000, out);
    assert.equal(out.iss, iss);
    assert.equal(out.tsOffset, a.nextTimestampOffset);
    const offset = a.timestampOffset(la, 80, ra, 40001);
    b.timestampOffsetInto(la, 80, ra, 40001, out);
    assert.equal(out.tsOffset, offset);
    assert.equal(out.tupleTag, a.tupleTag);
  }
});
