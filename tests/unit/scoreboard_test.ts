import assert from "node:assert/strict";
import { DeliveryRate } from "../../transport/tcp/delivery_rate.ts";
import { RX_RACK } from "../../transport/tcp/retrans_log.ts";
import {
  isDsack,
  SB_EVER_RETRANS,
  SB_FIN,
  SB_LOST,
  SB_RETRANS,
  SB_SACKED,
  Scoreboard,
} from "../../transport/tcp/scoreboard.ts";

/** The records as [start, end, flags] triples. */
function records(sb: Scoreboard): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < sb.count; i++) out.push([sb.start(i), sb.end(i), sb.flags(i) & 0x1f]);
  return out;
}

/** Ten 1000-byte transmissions from 1000, sent 1 ms apart from t = 0. */
function tenSent(max?: number): Scoreboard {
  const sb = new Scoreboard(new DeliveryRate(), max);
  sb.reset(1000);
  for (let i = 0; i < 10; i++) assert.ok(sb.onSend(1000 + 1000 * i, 2000 + 1000 * i, i, 0));
  return sb;
}

Deno.test("scoreboard: SACK blocks split records; pipe = out − sacked − lost + retransmitted", () => {
  const sb = tenSent();
  assert.equal(sb.count, 10);
  assert.equal(sb.pipe(10000), 10000);
  sb.beginAck(20, 0);
  sb.sack(3500, 6000); // half of one record and two whole ones
  assert.deepEqual(records(sb).slice(2, 6), [
    [3000, 3500, 0],
    [3500, 6000, SB_SACKED], // merged: one record per SACKed run
    [6000, 7000, 0],
    [7000, 8000, 0],
  ]);
  assert.equal(sb.sackedBytes, 2500);
  assert.equal(sb.ackSacked, 2500);
  assert.equal(sb.ackDelivered, 2500);
  assert.equal(sb.fack, 6000);
  assert.equal(sb.highSacked, 6000);
  assert.equal(sb.pipe(10000), 7500);
  // The same block again changes nothing.
  sb.beginAck(21, 0);
  sb.sack(3500, 6000);
  assert.equal(sb.ackSacked, 0);
  // Loss and retransmission.
  sb.markLost(0);
  assert.equal(sb.lostBytes, 1000);
  assert.equal(sb.pipe(10000), 6500);
  assert.equal(sb.nextLost(), 0);
  assert.equal(sb.onRetransmit(0, 400, 30), 400); // split: the first 400 bytes
  assert.deepEqual(records(sb).slice(0, 2), [
    [1000, 1400, SB_LOST | SB_RETRANS | SB_EVER_RETRANS],
    [1400, 2000, SB_LOST],
  ]);
  assert.equal(sb.retransBytes, 400);
  assert.equal(sb.pipe(10000), 6900);
  assert.equal(sb.nextLost(), 1);
});

Deno.test("scoreboard: the cumulative ACK removes and cuts records, gathering RTT and RACK facts", () => {
  const sb = tenSent();
  sb.beginAck(50, 0);
  sb.ackTo(3500); // two records and half of the third
  assert.equal(sb.count, 8);
  assert.deepEqual(records(sb)[0], [3500, 4000, 0]);
  assert.equal(sb.ackDelivered, 2500);
  assert.equal(sb.ackRttOldestMs, 50); // sent at 0
  assert.equal(sb.ackRttNewestMs, 48); // sent at 2
  assert.ok(sb.ackRackValid);
  assert.equal(sb.ackRackXmitMs, 2);
  assert.equal(sb.ackRackEndSeq, 4000);
  assert.equal(sb.pipe(7500), 7500);
  // A retransmitted record gives no RTT (Karn) and, delivered too soon, no RACK update.
  sb.markLost(0);
  sb.onRetransmit(0, 500, 60);
  sb.beginAck(61, 20);
  sb.ackTo(4000);
  assert.equal(sb.ackRttOldestMs, -1);
  assert.ok(!sb.ackRackValid);
  assert.equal(sb.ackRetransDelivered, 500);
  assert.deepEqual([sb.lostBytes, sb.retransBytes], [0, 0]);
  sb.ackTo(20000);
  assert.equal(sb.count, 0);
});

Deno.test("scoreboard: delivery below what was already delivered is reordering (RFC 8985 §6.2)", () => {
  const sb = tenSent();
  sb.beginAck(20, 0);
  sb.sack(5000, 6000);
  assert.ok(!sb.ackReordered);
  sb.beginAck(21, 0);
  sb.sack(3000, 4000); // never retransmitted, below fack 6000
  assert.ok(sb.ackReordered);
  sb.beginAck(22, 0);
  sb.markLost(0);
  sb.onRetransmit(0, 1000, 22);
  sb.beginAck(40, 0);
  sb.ackTo(2000); // the retransmission: not reordering
  assert.ok(!sb.ackReordered);
});

Deno.test("scoreboard: markAllLost after an RTO; reneging clears SACKs; unmarkLost", () => {
  const sb = tenSent();
  sb.beginAck(20, 0);
  sb.sack(4000, 6000);
  sb.markLost(0);
  sb.onRetransmit(0, 1000, 21);
  sb.markAllLost();
  assert.equal(sb.sackedBytes, 2000);
  assert.equal(sb.lostBytes, 8000);
  assert.equal(sb.retransBytes, 0);
  assert.equal(sb.lostRetransmits, 1); // the retransmission was lost again
  sb.unmarkLost();
  assert.equal(sb.lostBytes, 0);
  // Reneging: the oldest record is SACKed, so the receiver dropped what it SACKed.
  const r = tenSent();
  r.beginAck(20, 0);
  r.sack(1000, 3000);
  r.markAllLost();
  assert.equal(r.sackedBytes, 0);
  assert.equal(r.lostBytes, 10000);
});

Deno.test("scoreboard: bounded — a full board refuses transmissions and splits, counting them", () => {
  const sb = tenSent(16);
  for (let i = 10; i < 16; i++) assert.ok(sb.onSend(1000 + 1000 * i, 2000 + 1000 * i, i, 0));
  assert.equal(sb.capacity, 16);
  assert.ok(!sb.hasRoom());
  assert.ok(!sb.onSend(17000, 18000, 20, 0));
  assert.equal(sb.refused, 1);
  // A block cutting a record cannot split it: only what it covers whole is marked.
  sb.beginAck(30, 0);
  sb.sack(2500, 5000);
  assert.equal(sb.sackedBytes, 2000); // [3000, 5000)
  assert.ok(sb.refused >= 2);
  assert.ok(!sb.onSend(2000, 3000, 0, 0)); // not at the end either
});

Deno.test("scoreboard: a SACKed edge grows into the next record in place, also on a full board", () => {
  const sb = tenSent(16);
  for (let i = 10; i < 16; i++) assert.ok(sb.onSend(1000 + 1000 * i, 2000 + 1000 * i, i, 0));
  sb.beginAck(30, 0);
  sb.sack(3000, 5000); // two whole records, merged: one slot free
  assert.ok(sb.onSend(17000, 18000, 20, 0)); // full again
  assert.ok(!sb.hasRoom());
  const refused = sb.refused;
  // The receiver holds the hole at 1000: its next ACKs move the block's right edge on by half a
  // record — no split is needed (and none is possible), the boundary moves.
  sb.beginAck(31, 0);
  sb.sack(3000, 5500);
  assert.equal(sb.ackSacked, 500);
  assert.equal(sb.ackDelivered, 500);
  assert.equal(sb.sackedBytes, 2500);
  assert.equal(sb.refused, refused);
  assert.equal(sb.count, 16);
  assert.deepEqual(records(sb).slice(1, 4), [
    [2000, 3000, 0],
    [3000, 5500, SB_SACKED],
    [5500, 6000, 0],
  ]);
  // Over the rest of that record and a whole one into a retransmitted one: the back half keeps
  // its state (still counted in pipe), the SACKed run one record that was ever resent.
  sb.markLost(5, RX_RACK); // [7000, 8000)
  sb.onRetransmit(5, 1000, 32);
  assert.equal(sb.retransBytes, 1000);
  sb.beginAck(33, 0);
  sb.sack(3000, 7400);
  assert.equal(sb.ackSacked, 1900);
  assert.equal(sb.ackRetransDelivered, 400);
  assert.equal(sb.sackedBytes, 4400);
  assert.equal(sb.retransBytes, 600);
  assert.equal(sb.lostBytes, 600);
  assert.equal(sb.fack, 7400);
  assert.equal(sb.refused, refused);
  assert.deepEqual(records(sb).slice(1, 4), [
    [2000, 3000, 0],
    [3000, 7400, SB_SACKED | SB_EVER_RETRANS],
    [7400, 8000, SB_LOST | SB_RETRANS | SB_EVER_RETRANS],
  ]);
  assert.equal(sb.pipe(17000), 17000 - 4400 - 600 + 600);
});

Deno.test("scoreboard: the FIN stays with the last piece of a split record", () => {
  const sb = new Scoreboard(new DeliveryRate());
  sb.reset(1);
  sb.onSend(1, 1002, 0, SB_FIN); // 1000 bytes and the FIN
  sb.markLost(0);
  sb.onRetransmit(0, 500, 1);
  assert.deepEqual(records(sb), [
    [1, 501, SB_LOST | SB_RETRANS | SB_EVER_RETRANS],
    [501, 1002, SB_LOST | SB_FIN],
  ]);
});

Deno.test("scoreboard: grows from a small start without losing records", () => {
  const sb = new Scoreboard(new DeliveryRate(), 4096);
  sb.reset(0);
  for (let i = 0; i < 1000; i++) sb.onSend(i * 10, i * 10 + 10, i, 0);
  assert.equal(sb.count, 1000);
  assert.ok(sb.capacity >= 1000);
  sb.beginAck(2000, 0);
  sb.ackTo(5000);
  for (let i = 1000; i < 1400; i++) sb.onSend(i * 10, i * 10 + 10, i, 0);
  assert.equal(sb.count, 900);
  assert.equal(sb.start(0), 5000);
  assert.equal(sb.end(sb.count - 1), 14000);
});

Deno.test("scoreboard: a window sliding through a board over half full grows it, not compacting every few records", () => {
  // 100 records in flight, one sent per one acknowledged: a board of 128 would compact (move
  // all 100) every 28 records; it grows to 256 once, and then compacts every 155, moving 101.
  for (const [max, cap] of [[4096, 256], [128, 128]]) {
    const sb = new Scoreboard(new DeliveryRate(), max);
    sb.reset(0);
    for (let i = 0; i < 100; i++) assert.ok(sb.onSend(i * 10, i * 10 + 10, i, 0));
    assert.equal(sb.capacity, 128);
    for (let i = 100; i < 1100; i++) {
      sb.beginAck(i, 0);
      sb.ackTo((i - 99) * 10);
      assert.ok(sb.onSend(i * 10, i * 10 + 10, i, 0));
    }
    assert.equal(sb.capacity, cap); // at the bound it compacts, as before
    assert.equal(sb.refused, 0);
    assert.equal(sb.count, 100);
    assert.equal(sb.start(0), 10000);
    assert.equal(sb.end(99), 11000);
  }
});

Deno.test("scoreboard: an emptied board gives its columns back; the next board reuses them clean", () => {
  const a = new Scoreboard(new DeliveryRate());
  a.reset(0);
  for (let i = 0; i < 5; i++) a.onSend(i * 100, i * 100 + 100, i, 0);
  a.beginAck(10, 0);
  a.sack(200, 300);
  assert.ok(a.capacity > 0);
  a.ackTo(500); // every record acknowledged: the columns go back
  assert.equal(a.count, 0);
  assert.equal(a.capacity, 0);
  const b = new Scoreboard(new DeliveryRate());
  b.reset(7000);
  b.onSend(7000, 7100, 20, 0);
  b.onSend(7100, 7200, 21, 0);
  assert.ok(b.capacity > 0);
  assert.deepEqual(records(b), [[7000, 7100, 0], [7100, 7200, 0]]);
  assert.equal(b.sackedBytes, 0);
  // The first board takes columns again on its next transmission.
  a.onSend(500, 600, 30, 0);
  assert.deepEqual(records(a), [[500, 600, 0]]);
  b.beginAck(40, 0);
  b.ackTo(7100);
  assert.equal(b.ackDelivered, 100);
  assert.equal(b.ackRttOldestMs, 20);
});

Deno.test("isDsack: RFC 2883 §4 — below the cumulative ACK, or inside the second block", () => {
  assert.ok(isDsack(new Uint32Array([500, 1000, 0, 0]), 1, 1000));
  assert.ok(isDsack(new Uint32Array([3000, 4000, 2000, 5000]), 2, 1000));
  assert.ok(!isDsack(new Uint32Array([3000, 4000, 5000, 6000]), 2, 1000));
  assert.ok(!isDsack(new Uint32Array([3000, 4000]), 1, 1000));
  assert.ok(!isDsack(new Uint32Array([4000, 3000]), 1, 5000)); // malformed
  assert.ok(!isDsack(new Uint32Array(0), 0, 1000));
  // Sequence space wraps.
  assert.ok(isDsack(new Uint32Array([0xffff_ff00, 0xffff_fff0]), 1, 10));
});

Deno.test("scoreboard: emptied boards hand their columns on; no two boards ever share them", () => {
  // Many short-lived boards (connections) taking turns: each empties, its columns go to the free
  // list and the next takes them. Boards in use at the same time must hold distinct columns,
  // also after many rounds of reuse (a set given back twice would be handed to two boards).
  const boards = Array.from({ length: 6 }, () => new Scoreboard(new DeliveryRate()));
  for (let round = 0; round < 50; round++) {
    for (let b = 0; b < boards.length; b++) {
      const sb = boards[b];
      const base = 1_000_000 * (b + 1) + round * 10_000;
      sb.reset(base);
      for (let i = 0; i < 5; i++) assert.ok(sb.onSend(base + 100 * i, base + 100 * i + 100, i, 0));
    }
    // Every board still sees exactly its own records.
    for (let b = 0; b < boards.length; b++) {
      const base = 1_000_000 * (b + 1) + round * 10_000;
      assert.deepEqual(
        records(boards[b]).map(([s, e]) => [s, e]),
        [0, 1, 2, 3, 4].map((i) => [base + 100 * i, base + 100 * i + 100]),
      );
    }
    // Half are acknowledged whole (emptied: columns given back), half reset (given back too).
    for (let b = 0; b < boards.length; b++) {
      const sb = boards[b];
      const base = 1_000_000 * (b + 1) + round * 10_000;
      sb.beginAck(10, 0);
      if (b % 2 === 0) sb.ackTo(base + 500);
      else sb.reset(base + 500);
      assert.equal(sb.count, 0);
    }
  }
});

Deno.test("scoreboard: sackBlock reads block k of an edge array; a left edge below the first record counts from it", () => {
  const sb = tenSent();
  sb.beginAck(20, 0);
  const blocks = new Uint32Array([9000, 9500, 500, 2500, 4000, 5000]);
  sb.sackBlock(blocks, 1); // [500, 2500): records from 1000 up to 2500 (the one at 2000 cut)
  sb.sackBlock(blocks, 2);
  assert.deepEqual(records(sb).slice(0, 6), [
    [1000, 2500, SB_SACKED],
    [2500, 3000, 0],
    [3000, 4000, 0],
    [4000, 5000, SB_SACKED],
    [5000, 6000, 0],
    [6000, 7000, 0],
  ]);
  assert.equal(sb.sackedBytes, 2500);
  assert.equal(sb.fack, 5000);
  assert.deepEqual([...blocks], [9000, 9500, 500, 2500, 4000, 5000]); // not written
});

Deno.test("scoreboard: a super-segment acknowledged in parts feeds a rate sample with every part", () => {
  // One 64 KB super-segment (45 segments) sent at t = 0 as the first of a flight; a receiver
  // that acknowledges every other segment answers it in parts (here four: at 1, 2, 3, 4 ms).
  const rate = new DeliveryRate();
  const sb = new Scoreboard(rate);
  sb.reset(1000);
  rate.onSend(0, true);
  assert.ok(sb.onSend(1000, 1000 + 45 * 1448, 0, 0));
  const part = 11 * 1448;
  for (let k = 1; k <= 4; k++) {
    sb.beginAck(k, 0);
    rate.beginAck();
    sb.ackTo(1000 + k * part);
    rate.endAck(0.5);
    // Every part gives a sample from the super-segment's snapshot (Linux's rule), over the
    // time since it was sent: all the bytes acknowledged so far over k ms.
    assert.equal(rate.sampleDelivered, k * part, `part ${k}`);
    assert.equal(rate.rateBytesPerMs, part, `part ${k}`);
    // C.delivered_time follows C.delivered, so what is sent now is timed from this ACK.
    assert.equal(rate.deliveredTimeMs, k);
  }
  // A SACKed record does not feed its snapshot again when the cumulative ACK covers it.
  const r2 = new DeliveryRate();
  const s2 = new Scoreboard(r2);
  s2.reset(1000);
  r2.onSend(0, true);
  for (let i = 0; i < 4; i++) assert.ok(s2.onSend(1000 + 1000 * i, 2000 + 1000 * i, i, 0));
  s2.beginAck(10, 0);
  r2.beginAck();
  s2.sack(3000, 4000);
  r2.endAck(0.5);
  assert.ok(r2.rateBytesPerMs > 0);
  s2.beginAck(11, 0);
  r2.beginAck();
  s2.ackTo(4000); // delivers 1000–3000 anew; 3000–4000 was SACKed
  r2.endAck(0.5);
  assert.equal(r2.delivered, 3000);
  // The sample starts at the newest newly delivered record (sent at 1), not the SACKed one
  // (sent at 2): one ms of sending, everything delivered since the flight began.
  assert.equal(r2.sendElapsedMs, 1);
  assert.equal(r2.sampleDelivered, 3000);
});

Deno.test("scoreboard: only a delivery that was the original's notes its lateness in the retransmission log", () => {
  const sb = tenSent();
  sb.beginAck(20, 0);
  sb.sack(3000, 11000);
  sb.markLost(0, RX_RACK);
  sb.markLost(1, RX_RACK);
  sb.onRetransmit(0, 1000, 30);
  sb.onRetransmit(1, 1000, 30);
  const log = sb.retransLog!;
  // 5 ms after the resend, sooner than min_RTT (20): the original's delivery, 5 ms late.
  sb.beginAck(35, 20);
  sb.ackTo(2000);
  log.reasonOf(new Uint32Array([1000, 2000]), 0);
  assert.equal(log.foundLateMs, 5);
  // 25 ms after: it may be the resend's own delivery, which says nothing of the original.
  sb.beginAck(55, 20);
  sb.ackTo(3000);
  assert.equal(log.reasonOf(new Uint32Array([2000, 3000]), 0), RX_RACK);
  assert.equal(log.foundLateMs, -1);
});

Deno.test("scoreboard: a flight of 24 records sent 10 at a time stays in the initial 16 columns", () => {
  // A short response after IW10: compacted in place, not grown into columns that are not pooled.
  const sb = new Scoreboard(new DeliveryRate(), 1024);
  for (let round = 0; round < 20; round++) {
    const base = round * 100_000;
    let sent = 0;
    let acked = 0;
    let most = 0;
    while (acked < 24) {
      while (sent < 24 && sent - acked < 10) {
        assert.ok(sb.onSend(base + sent * 1000, base + (sent + 1) * 1000, sent, 0));
        sent++;
        if (sb.capacity > most) most = sb.capacity;
      }
      acked++;
      sb.ackTo(base + acked * 1000);
    }
    assert.equal(most, 16, `round ${round}`);
    assert.equal(sb.capacity, 0, "empty: the columns given back to the pool");
  }
});

Deno.test("scoreboard: a SACK split that makes room by moving the records splits the right one", () => {
  // Full (16 records from physical 0), two acknowledged: the split's room comes from moving
  // the 14 left down to 0, and the split must use the record's position after that move.
  const sb = new Scoreboard(new DeliveryRate(), 16);
  sb.reset(1000);
  for (let i = 0; i < 16; i++) assert.ok(sb.onSend(1000 + 1000 * i, 2000 + 1000 * i, i, 0));
  sb.beginAck(20, 0);
  sb.ackTo(3000);
  sb.sack(5500, 7000);
  assert.equal(sb.refused, 0);
  assert.deepEqual(records(sb).slice(0, 5), [
    [3000, 4000, 0],
    [4000, 5000, 0],
    [5000, 5500, 0],
    [5500, 7000, SB_SACKED],
    [7000, 8000, 0],
  ]);
  assert.equal(sb.count, 14); // 14, one split, two SACKed merged
  assert.equal(sb.sackedBytes, 1500);
});
