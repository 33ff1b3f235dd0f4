import assert from "node:assert/strict";
import { SeededRandom } from "../../core/random.ts";
import { VirtualClock } from "../../core/clock.ts";
import { type SimEndpoint, SimWire, type SimWireOptions } from "../../link/sim_wire.ts";
import { GSO_TCPV4, NO_OFFLOADS, RxBatch, TxOffload } from "../../link/driver.ts";

const MAC_A = new Uint8Array([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B = new Uint8Array([0x02, 0, 0, 0, 0, 0x0b]);
const MAC_C = new Uint8Array([0x02, 0, 0, 0, 0, 0x0c]);
/** IEEE 802 "local experimental" EtherType: nothing will interpret these test frames. */
const ETHERTYPE_EXPERIMENTAL = 0x88b5;

/** An Ethernet frame from `src` to `dst` whose payload starts with a 32-bit id. */
function frame(src: Uint8Array, dst: Uint8Array, id: number, len = 64): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  const v = new DataView(f.buffer);
  v.setUint16(12, ETHERTYPE_EXPERIMENTAL);
  v.setUint32(14, id);
  for (let i = 18; i < len; i++) f[i] = (id + i) & 0xff;
  return f;
}

function idOf(batch: RxBatch, i: number): number {
  const b = batch.buf[i];
  const o = batch.off[i];
  return ((b[o + 14] << 24) | (b[o + 15] << 16) | (b[o + 16] << 8) | b[o + 17]) >>> 0;
}

function setup(opts: Omit<SimWireOptions, "clock"> = {}) {
  const clock = new VirtualClock();
  const wire = new SimWire({ clock, ...opts });
  const a = wire.endpoint("a0", MAC_A);
  const b = wire.endpoint("b0", MAC_B);
  const batch = new RxBatch(64);
  /** Receive everything due at each event until idle; returns [id, time] pairs. */
  const drain = (ep: SimEndpoint, untilMs = Infinity): [number, number][] => {
    const got: [number, number][] = [];
    for (;;) {
      const next = wire.nextEventMs();
      if (next === Infinity || next > untilMs) break;
      if (next > clock.nowMs()) clock.set(next);
      const n = ep.receive(batch, batch.capacity);
      for (let i = 0; i < n; i++) got.push([idOf(batch, i), clock.nowMs()]);
      ep.release(batch);
      if (n === 0) break; // due frames belong to another endpoint
    }
    return got;
  };
  return { clock, wire, a, b, batch, drain };
}

// ---- SeededRandom ----------------------------------------------------------------------

Deno.test("SeededRandom: deterministic per seed, distinct across seeds", () => {
  const seq = (seed: number): number[] => {
    const r = new SeededRandom(seed);
    return Array.from({ length: 8 }, () => r.nextU32());
  };
  assert.deepEqual(seq(42), seq(42));
  assert.notDeepEqual(seq(42), seq(43));
  assert.notDeepEqual(seq(0), seq(1));
  for (const x of seq(5)) assert(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
  // A pinned vector: the generator must not change silently (simulations depend on it).
  const r = new SeededRandom(1);
  assert.deepEqual([r.nextU32(), r.nextU32(), r.nextU32()], [1828152527, 3394835397, 2967886022]);
});

Deno.test("SeededRandom: ranges and rough uniformity", () => {
  const r = new SeededRandom(9);
  const buckets = new Array(10).fill(0);
  let trues = 0;
  for (let i = 0; i < 100_000; i++) {
    const f = r.nextFloat();
    assert(f >= 0 && f < 1);
    const k = r.nextInt(10);
    assert(Number.isInteger(k) && k >= 0 && k < 10);
    buckets[k]++;
    if (r.chance(0.25)) trues++;
  }
  for (const c of buckets) assert(c > 9_400 && c < 10_600, `bucket ${c}`);
  assert(trues > 24_000 && trues < 26_000, `chance ${trues}`);
  assert.equal(r.chance(0), false);
  assert.equal(r.chance(1), true);
  assert.equal(r.nextInt(1), 0);
  assert(r.nextInt(2 ** 32) < 2 ** 32);
  assert.throws(() => r.nextInt(0), RangeError);
  assert.throws(() => r.nextInt(1.5), RangeError);
});

// ---- SimWire -----------------------------------------------------------------------

Deno.test("SimWire: endpoints are 'sim' LinkDrivers with their own MAC and MTU", () => {
  const { wire, a } = setup();
  assert.equal(a.kind, "sim");
  assert.equal(a.fd, -1);
  assert.equal(a.mtu, 1500);
  assert.equal(a.capabilities, NO_OFFLOADS);
  assert.deepEqual(a.mac, MAC_A);
  assert.notEqual(a.mac, MAC_A); // copied
  const j = wire.endpoint("j0", MAC_C, 9000);
  assert.equal(j.mtu, 9000);
  assert.throws(() => wire.endpoint("x", new Uint8Array(5)), RangeError);
  assert.throws(() => wire.endpoint("x", MAC_C, 20), RangeError);
});

Deno.test("SimWire: frames go on the wire at flush and arrive after the delay", () => {
  const { clock, wire, a, b, batch } = setup({ delayMs: 5 });
  const f = frame(MAC_A, MAC_B, 7, 100);
  assert.equal(a.transmit(f, 0, f.length, null), true);
  assert.equal(wire.nextEventMs(), Infinity); // not flushed yet
  clock.advance(1);
  a.flush();
  assert.equal(wire.nextEventMs(), 6);
  clock.set(5.999);
  assert.equal(b.receive(batch, 64), 0);
  assert.equal(a.receive(batch, 64), 0);
  clock.set(6);
  assert.equal(b.receive(batch, 64), 1);
  assert.equal(batch.count, 1);
  assert.deepEqual(batch.buf[0].subarray(batch.off[0], batch.off[0] + batch.len[0]), f);
  assert.equal(batch.flags[0], 0);
  b.release(batch);
  assert.equal(wire.nextEventMs(), Infinity);
  assert.equal(a.stats.txFrames, 1);
  assert.equal(a.stats.txBytes, 100);
  assert.equal(a.stats.txKicks, 1);
  assert.equal(b.stats.rxFrames, 1);
  assert.equal(b.stats.rxBytes, 100);
  assert.equal(wire.stats.framesSent, 1);
  assert.equal(wire.stats.framesDelivered, 1);
  // and the other way
  const g = frame(MAC_B, MAC_A, 8);
  b.transmit(g, 0, g.length, null);
  b.flush();
  clock.advance(5);
  assert.equal(a.receive(batch, 64), 1);
  assert.equal(idOf(batch, 0), 8);
});

Deno.test("SimWire: transmit copies from an offset, receive honours max", () => {
  const { clock, a, b, batch } = setup();
  const big = new Uint8Array(1000);
  const f = frame(MAC_A, MAC_B, 1);
  for (let id = 1; id <= 5; id++) {
    big.set(frame(MAC_A, MAC_B, id), 300);
    assert(a.transmit(big, 300, 64, null));
  }
  big.fill(0); // the wire must own its copies
  a.flush();
  clock.advance(0);
  assert.equal(b.receive(batch, 2), 2);
  assert.deepEqual([idOf(batch, 0), idOf(batch, 1)], [1, 2]);
  assert.deepEqual(batch.buf[0].subarray(0, 64), f);
  assert.equal(b.receive(batch, 64), 3); // releases the previous batch itself
  assert.deepEqual([idOf(batch, 0), idOf(batch, 1), idOf(batch, 2)], [3, 4, 5]);
  b.release(batch);
});

Deno.test("SimWire: same seed, same run; another seed, another run", () => {
  const run = (seed: number): string => {
    const { clock, a, b, drain } = setup({
      seed,
      lossRate: 0.1,
      duplicateRate: 0.05,
      reorderRate: 0.1,
      delayMs: 3,
      jitterMs: 2,
    });
    const got: [number, number][] = [];
    for (let i = 0; i < 300; i++) {
      const f = frame(MAC_A, MAC_B, i);
      a.transmit(f, 0, f.length, null);
      a.flush();
      clock.advance(0.25);
      got.push(...drain(b, clock.nowMs()));
    }
    got.push(...drain(b));
    return JSON.stringify(got);
  };
  assert.equal(run(11), run(11));
  assert.notEqual(run(11), run(12));
});

Deno.test("SimWire: loss rate is honoured statistically and counted", () => {
  const { clock, wire, a, b, drain } = setup({ seed: 3, lossRate: 0.2 });
  const n = 5000;
  for (let i = 0; i < n; i++) {
    const f = frame(MAC_A, MAC_B, i);
    a.transmit(f, 0, f.length, null);
    if (i % 50 === 49) {
      a.flush();
      clock.advance(1);
      drain(b);
    }
  }
  a.flush();
  drain(b);
  const lost = wire.stats.framesLost;
  assert(lost > n * 0.18 && lost < n * 0.22, `lost ${lost}`);
  assert.equal(b.stats.rxFrames, n - lost);
  assert.equal(wire.stats.framesDelivered + lost, n);
});

Deno.test("SimWire: duplication delivers two identical copies", () => {
  const { clock, wire, a, b, drain } = setup({ duplicateRate: 1, delayMs: 1 });
  for (let i = 0; i < 3; i++) {
    const f = frame(MAC_A, MAC_B, i);
    a.transmit(f, 0, f.length, null);
  }
  a.flush();
  clock.advance(0);
  assert.deepEqual(drain(b).map(([id]) => id), [0, 0, 1, 1, 2, 2]);
  assert.equal(wire.stats.framesDuplicated, 3);
});

Deno.test("SimWire: jitter never reorders; reordering lets later frames overtake", () => {
  {
    const { clock, a, b, drain } = setup({ seed: 5, delayMs: 2, jitterMs: 10 });
    for (let i = 0; i < 200; i++) {
      const f = frame(MAC_A, MAC_B, i);
      a.transmit(f, 0, f.length, null);
      a.flush();
      clock.advance(0.1);
    }
    const ids = drain(b).map(([id]) => id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    assert.equal(ids.length, 200);
  }
  {
    const { clock, wire, a, b, drain } = setup({
      seed: 5,
      delayMs: 2,
      reorderRate: 0.2,
      reorderExtraMs: 1,
    });
    const got: [number, number][] = [];
    for (let i = 0; i < 200; i++) {
      clock.set(i * 0.1);
      const f = frame(MAC_A, MAC_B, i);
      a.transmit(f, 0, f.length, null);
      a.flush();
      got.push(...drain(b, (i + 1) * 0.1 - 1e-6));
    }
    got.push(...drain(b));
    const ids = got.map(([id]) => id);
    assert.equal(ids.length, 200);
    assert.deepEqual([...ids].sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i));
    assert.notDeepEqual(ids, [...ids].sort((x, y) => x - y));
    const reordered = wire.stats.framesReordered;
    assert(reordered > 20 && reordered < 60, `reordered ${reordered}`);
    // a held-back frame arrives exactly reorderExtraMs late
    for (const [id, at] of got) {
      const sent = id * 0.1;
      const late = Math.abs(at - (sent + 3)) < 1e-9;
      assert(Math.abs(at - (sent + 2)) < 1e-9 || late, `frame ${id} at ${at}`);
    }
  }
});

Deno.test("SimWire: serialization at a rate spaces frames out", () => {
  const { clock, a, b, drain } = setup({ rateBitsPerSec: 1_000_000, delayMs: 1 });
  for (let i = 0; i < 4; i++) {
    const f = frame(MAC_A, MAC_B, i, 1250); // 10,000 bits = 10 ms at 1 Mbit/s
    a.transmit(f, 0, f.length, null);
  }
  a.flush();
  clock.advance(0);
  const got = drain(b);
  assert.deepEqual(got, [[0, 11], [1, 21], [2, 31], [3, 41]]);
  // an idle link starts serializing immediately again
  clock.set(100);
  const f = frame(MAC_A, MAC_B, 9, 125); // 1 ms
  a.transmit(f, 0, f.length, null);
  a.flush();
  assert.deepEqual(drain(b), [[9, 102]]);
});

Deno.test("SimWire: queues are bounded and drops are counted", () => {
  const { clock, wire, a, b, drain } = setup({ queueFrames: 4, delayMs: 10 });
  for (let i = 0; i < 4; i++) {
    const f = frame(MAC_A, MAC_B, i);
    assert(a.transmit(f, 0, f.length, null));
  }
  const f = frame(MAC_A, MAC_B, 99);
  assert.equal(a.transmit(f, 0, f.length, null), false); // pending queue full
  assert.equal(a.stats.txRingFull, 1);
  assert.equal(a.stats.txDropped, 1);
  a.flush();
  for (let i = 4; i < 8; i++) {
    const g = frame(MAC_A, MAC_B, i);
    assert(a.transmit(g, 0, g.length, null));
  }
  a.flush(); // receiver queue holds 4 in flight already
  assert.equal(wire.stats.queueDrops, 4);
  assert.equal(b.queuedFrames, 4);
  clock.advance(0);
  assert.deepEqual(drain(b).map(([id]) => id), [0, 1, 2, 3]);
});

Deno.test("SimWire: oversize frames, bad ranges and offload requests are refused", () => {
  const { clock, wire, a, b, drain } = setup();
  const small = wire.endpoint("s0", MAC_C, 576);
  const big = frame(MAC_A, MAC_B, 1, 1515);
  assert.equal(a.transmit(big, 0, 1515, null), false);
  assert.equal(wire.stats.oversizeDrops, 1);
  const max = frame(MAC_A, MAC_B, 2, 1514);
  assert.equal(a.transmit(max, 0, 1514, null), true);
  assert.equal(a.transmit(max, 0, 13, null), false); // runt
  assert.equal(a.transmit(max, 100, 1514, null), false); // past the end
  const offload = new TxOffload();
  assert.equal(a.transmit(max, 0, 100, offload), true); // cleared offload is fine
  offload.gsoType = GSO_TCPV4;
  assert.equal(a.transmit(max, 0, 100, offload), false);
  offload.clear();
  offload.needsCsum = true;
  assert.equal(a.transmit(max, 0, 100, offload), false);
  a.flush();
  clock.advance(0);
  // the hub delivers to b and to the 576-MTU endpoint, which drops the 1514-byte frame
  assert.equal(drain(b).length, 2);
  assert.equal(drain(small).length, 1);
  assert.equal(small.stats.rxDropped, 1);
  assert.equal(wire.stats.oversizeDrops, 2);
  assert.equal(a.stats.txDropped, 5);
});

Deno.test("SimWire: partition drops in-flight and new frames until healed", () => {
  const { clock, wire, a, b, drain } = setup({ delayMs: 10 });
  const f = frame(MAC_A, MAC_B, 1);
  a.transmit(f, 0, f.length, null);
  a.flush();
  clock.advance(5);
  wire.partition(true);
  assert(wire.partitioned);
  assert.equal(wire.nextEventMs(), Infinity);
  a.transmit(f, 0, f.length, null);
  a.flush();
  b.transmit(f, 0, f.length, null);
  b.flush();
  assert.equal(wire.stats.partitionDrops, 3);
  clock.advance(20);
  assert.deepEqual(drain(b), []);
  wire.partition(false);
  const g = frame(MAC_A, MAC_B, 2);
  a.transmit(g, 0, g.length, null);
  a.flush();
  assert.deepEqual(drain(b), [[2, 35]]);
});

Deno.test("SimWire: faults can differ per direction", () => {
  const { clock, wire, a, b, drain } = setup({ delayMs: 1 });
  wire.setFaults({ lossRate: 1 }, a);
  wire.setFaults({ delayMs: 7 }, b);
  assert.equal(wire.faults(a).lossRate, 1);
  assert.equal(wire.faults(b).lossRate, 0);
  const f = frame(MAC_A, MAC_B, 1);
  const g = frame(MAC_B, MAC_A, 2);
  a.transmit(f, 0, f.length, null);
  a.flush();
  b.transmit(g, 0, g.length, null);
  b.flush();
  clock.advance(0);
  assert.deepEqual(drain(b), []);
  assert.deepEqual(drain(a), [[2, 7]]);
  assert.equal(wire.stats.framesLost, 1);
  wire.setFaults({ lossRate: 0 }); // every direction
  assert.equal(wire.faults(a).lossRate, 0);
  assert.equal(wire.faults(b).delayMs, 7);
  assert.throws(() => wire.setFaults({ lossRate: 2 }), RangeError);
  assert.throws(() => wire.setFaults({ queueFrames: 0 }), RangeError);
});

Deno.test("SimWire: a third endpoint hears everything (hub); closing detaches", () => {
  const { clock, wire, a, b, batch, drain } = setup();
  const c = wire.endpoint("c0", MAC_C);
  const f = frame(MAC_A, MAC_B, 1);
  a.transmit(f, 0, f.length, null);
  a.flush();
  clock.advance(0);
  assert.deepEqual(drain(b), [[1, 0]]);
  assert.deepEqual(drain(c), [[1, 0]]);
  c.close();
  b.close();
  assert.throws(() => b.receive(batch, 1), /closed/);
  a.transmit(f, 0, f.length, null);
  a.flush();
  assert.equal(wire.stats.noReceiverDrops, 1);
});

Deno.test("SimWire: no slot allocation in steady state", () => {
  const { clock, wire, a, b, batch } = setup({
    seed: 2,
    lossRate: 0.05,
    reorderRate: 0.05,
    delayMs: 1,
    jitterMs: 1,
  });
  const f = frame(MAC_A, MAC_B, 1, 1514);
  const round = (): void => {
    for (let i = 0; i < 32; i++) a.transmit(f, 0, f.length, null);
    a.flush();
    clock.advance(5);
    while (b.receive(batch, batch.capacity) > 0) b.release(batch);
  };
  for (let i = 0; i < 5; i++) round();
  const warm = wire.stats.slotsAllocated;
  assert.equal(warm, 32);
  for (let i = 0; i < 500; i++) round();
  assert.equal(wire.stats.slotsAllocated, warm);
  // duplicates need extra slots, bounded by the worst burst
  wire.setFaults({ duplicateRate: 0.05 });
  for (let i = 0; i < 500; i++) round();
  assert(wire.stats.slotsAllocated <= 64, `slots ${wire.stats.slotsAllocated}`);
});

// ---- the bottleneck model -------------------------------------------------------------

/** An Ethernet + IPv4 frame (20-byte header, valid checksum) with ECN field `ecn`. */
function ipFrame(ecn: number, len = 100): Uint8Array {
  const f = new Uint8Array(len);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  f[14] = 0x45;
  f[15] = ecn;
  f[16] = 0;
  f[17] = len - 14;
  f[22] = 64;
  f[23] = 17;
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (f[i] << 8) | f[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  f[24] = c >>> 8;
  f[25] = c & 0xff;
  return f;
}

function ipChecksumOk(f: Uint8Array, off: number): boolean {
  let sum = 0;
  for (let i = off + 14; i < off + 34; i += 2) sum += (f[i] << 8) | f[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

Deno.test("SimWire bottleneck: a bounded queue in front of the link drops what does not fit", () => {
  // 1 Mbit/s: a 125-byte frame takes 1 ms; the queue holds 3 frames.
  const { clock, wire, a, b, drain } = setup({
    rateBitsPerSec: 1_000_000,
    bottleneckQueueFrames: 3,
  });
  for (let i = 0; i < 6; i++) {
    const f = frame(MAC_A, MAC_B, i, 125);
    a.transmit(f, 0, f.length, null);
  }
  a.flush();
  assert.equal(wire.backlogFrames(a), 3);
  assert.equal(wire.backlogBytes(a), 375);
  assert.equal(wire.stats.bottleneckDrops, 3);
  clock.set(1.5);
  assert.equal(wire.backlogFrames(a), 2); // the first left the queue at 1 ms
  const got = drain(b);
  assert.deepEqual(got.map(([id]) => id), [0, 1, 2]);
  assert.deepEqual(got.map(([, t]) => t), [1.5, 2, 3]); // serialized one after another
  // A byte bound works the same way.
  wire.setFaults({ bottleneckQueueFrames: 0, bottleneckQueueBytes: 250 }, a);
  for (let i = 0; i < 3; i++) {
    const f = frame(MAC_A, MAC_B, 10 + i, 125);
    a.transmit(f, 0, f.length, null);
  }
  a.flush();
  assert.equal(wire.stats.bottleneckDrops, 4);
  assert.throws(() => wire.setFaults({ bottleneckQueueFrames: -1 }), RangeError);
  assert.throws(() => wire.setFaults({ burstLossFrames: 0 }), RangeError);
});

Deno.test("SimWire bottleneck: ECN-capable frames finding a queue are CE-marked, checksum fixed", () => {
  const { wire, a, b, batch, clock } = setup({ rateBitsPerSec: 1_000_000, ecnMarkFrames: 2 });
  const frames = [ipFrame(0b10), ipFrame(0b10), ipFrame(0b10), ipFrame(0b00), ipFrame(0b01)];
  for (const f of frames) a.transmit(f, 0, f.length, null);
  a.flush();
  assert.equal(wire.stats.ecnMarks, 2); // the third (ECT(0)) and fifth (ECT(1)); not Not-ECT
  clock.set(100);
  const n = b.receive(batch, 64);
  assert.equal(n, 5);
  const ecn = [];
  for (let i = 0; i < n; i++) {
    const buf = batch.buf[i];
    ecn.push(buf[batch.off[i] + 15] & 3);
    assert.ok(ipChecksumOk(buf, batch.off[i]), `frame ${i} checksum`);
  }
  assert.deepEqual(ecn, [2, 2, 3, 0, 3]);
  b.release(batch);
});

Deno.test("SimWire: loss bursts take consecutive frames; dropNext drops exact ones", () => {
  const { wire, a, b, drain, clock } = setup({ seed: 9 });
  wire.setFaults({ burstLossRate: 0.01, burstLossFrames: 20 }, a);
  const seen: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const f = frame(MAC_A, MAC_B, i);
    a.transmit(f, 0, f.length, null);
    if (i % 100 === 99) {
      a.flush();
      clock.advance(1);
      for (const [id] of drain(b)) seen.push(id);
    }
  }
  const lost = wire.stats.burstLosses;
  assert.ok(lost >= 20 * 20 && lost <= 20 * 90, `${lost} frames lost in bursts`);
  // Every gap is a whole number of bursts (back-to-back bursts merge).
  for (let k = 1; k < seen.length; k++) {
    const gap = seen[k] - seen[k - 1] - 1;
    assert.equal(gap % 20, 0, `a gap of ${gap} frames`);
  }
  wire.setFaults({ burstLossRate: 0 }, a);
  wire.dropNext(a, 2, 1);
  for (let i = 0; i < 5; i++) {
    const f = frame(MAC_A, MAC_B, 100_000 + i);
    a.transmit(f, 0, f.length, null);
  }
  a.flush();
  clock.advance(1);
  const ids = drain(b).map(([id]) => id - 100_000);
  assert.deepEqual(ids.slice(-3), [0, 3, 4]);
  assert.equal(wire.stats.scheduledDrops, 2);
});
