// The split receive's two pieces without a kernel: the classic length filters (run in a small
// classic-BPF interpreter written here, as the kernel would run them on each socket) and the
// ordered merge of two TPACKET_V2 rings by their slots' kernel stamps.

import assert from "node:assert/strict";
import { frameLengthFilter, WHOLE_FRAME_SNAP } from "../../drivers/frame_length_steering.ts";
import { RxRingMerge } from "../../drivers/af_packet_rx_merge.ts";
import { RxRingV2 } from "../../drivers/af_packet_rx_ring.ts";
import { RxBatch } from "../../link/driver.ts";
import {
  T2_LEN,
  T2_MAC,
  T2_NSEC,
  T2_SEC,
  T2_SNAPLEN,
  T2_STATUS,
  TP_STATUS_KERNEL,
  TP_STATUS_LOSING,
  TP_STATUS_USER,
  tpacketFrameOffsets,
} from "../../ffi/tpacket.ts";

// --- a classic BPF interpreter (linux/filter.h semantics, the subset a socket filter uses) ---

/**
 * Run the assembled classic program `code` on a frame of `frame.length` bytes, as the kernel's
 * `sk_filter` would for a packet socket: returns the snap length (0: dropped). Loads past the
 * frame's end drop it, as the kernel does.
 */
function runClassic(code: Uint8Array, frame: Uint8Array): number {
  const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const n = code.byteLength / 8;
  const mem = new Uint32Array(16);
  let a = 0;
  let x = 0;
  const load = (at: number, size: number): number | null => {
    if (at < 0 || at + size > frame.length) return null;
    if (size === 1) return frame[at];
    if (size === 2) return (frame[at] << 8) | frame[at + 1];
    return ((frame[at] << 24) | (frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]) >>> 0;
  };
  for (let pc = 0; pc < n; pc++) {
    const op = v.getUint16(pc * 8, true);
    const jt = v.getUint8(pc * 8 + 2);
    const jf = v.getUint8(pc * 8 + 3);
    const k = v.getUint32(pc * 8 + 4, true);
    const cls = op & 0x07;
    const size = [4, 2, 1][(op & 0x18) >> 3];
    const mode = op & 0xe0;
    const src = (op & 0x08) !== 0 ? x : k;
    switch (cls) {
      case 0x00: { // LD
        if (mode === 0x00) a = k;
        else if (mode === 0x80) a = frame.length;
        else if (mode === 0x60) a = mem[k];
        else {
          const r = load(mode === 0x40 ? x + k : k, size);
          if (r === null) return 0;
          a = r;
        }
        break;
      }
      case 0x01: // LDX
        if (mode === 0x00) x = k;
        else if (mode === 0x80) x = frame.length;
        else if (mode === 0x60) x = mem[k];
        else if (mode === 0xa0) {
          const r = load(k, 1);
          if (r === null) return 0;
          x = (r & 0xf) * 4;
        } else throw new Error(`ldx mode ${mode}`);
        break;
      case 0x02: // ST
        mem[k] = a;
        break;
      case 0x03: // STX
        mem[k] = x;
        break;
      case 0x04: { // ALU
        const o = op & 0xf0;
        if (o === 0x00) a = (a + src) >>> 0;
        else if (o === 0x10) a = (a - src) >>> 0;
        else if (o === 0x20) a = Math.imul(a, src) >>> 0;
        else if (o === 0x50) a = (a & src) >>> 0;
        else if (o === 0x70) a = a >>> src;
        else if (o === 0x90) a = a % src;
        else if (o === 0xa0) a = (a ^ src) >>> 0;
        else throw new Error(`alu op ${o}`);
        break;
      }
      case 0x05: { // JMP
        const o = op & 0xf0;
        if (o === 0x00) {
          pc += k;
          break;
        }
        const cond = o === 0x10
          ? a === src
          : o === 0x20
          ? a > src
          : o === 0x30
          ? a >= src
          : o === 0x40
          ? (a & src) !== 0
          : (() => {
            throw new Error(`jmp op ${o}`);
          })();
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: // RET
        return (op & 0x18) === 0x10 ? a : k;
      case 0x07: // MISC
        if ((op & 0xf8) === 0x00) x = a;
        else a = x;
        break;
    }
  }
  throw new Error("classic BPF: ran off the end");
}

Deno.test("split receive: the two length filters split every frame length at the limit", () => {
  for (const limit of [1518, 9018, 4114]) {
    const small = frameLengthFilter(limit, "small");
    const large = frameLengthFilter(limit, "large");
    const lengths = [14, 42, 60, 1514, limit - 1, limit, limit + 1, limit + 2, 9000, 65_549];
    for (const len of lengths) {
      const frame = new Uint8Array(len);
      const s = runClassic(small, frame);
      const l = runClassic(large, frame);
      const what = `limit ${limit}, ${len} bytes`;
      // Exactly one socket keeps the frame, and keeps it whole.
      assert.equal(s === 0, l !== 0, what);
      assert.equal(s !== 0, len <= limit, what);
      assert.ok(Math.max(s, l) >= len, `${what}: whole frame`);
      assert.equal(Math.max(s, l), WHOLE_FRAME_SNAP, what);
    }
  }
  // Four instructions each: load the length, one jump, keep, drop.
  assert.equal(frameLengthFilter(1518, "small").length, 4 * 8);
  assert.throws(() => frameLengthFilter(-1, "small"), RangeError);
  assert.throws(() => frameLengthFilter(1.5, "large"), RangeError);
});

// --- the ordered merge ----------------------------------------------------------------------

/** Where the Ethernet header starts in a slot (tp_mac without a vnet header). */
const MAC = 66;

/** A V2 ring in plain memory, with a writer that plays the kernel. */
class FakeRing {
  readonly ring: Uint8Array;
  readonly words: Uint32Array;
  readonly slots: Int32Array;
  readonly walker: RxRingV2;
  #head = 0;
  constructor(stats: ConstructorParameters<typeof RxRingV2>[0]["stats"], frameBytes: number) {
    const blockBytes = frameBytes * 4;
    const blocks = 2;
    const buf = new ArrayBuffer(blockBytes * blocks);
    this.ring = new Uint8Array(buf);
    this.words = new Uint32Array(buf);
    this.slots = tpacketFrameOffsets(0, 8, 4, blockBytes, frameBytes);
    this.walker = new RxRingV2({
      ring: this.ring,
      words: this.words,
      stats,
      vnetBytes: 0,
      gsoAbove: 1514,
      blockBytes,
      blocks,
      frameBytes,
      readCopy: null,
    });
  }

  /** Publish a frame of `len` bytes marked `mark` (byte 14), stamped `sec`.`nsec`. */
  put(mark: number, len: number, sec: number, nsec: number, status = TP_STATUS_USER): void {
    const f = this.slots[this.#head];
    this.#head = (this.#head + 1) % this.slots.length;
    const w = f >>> 2;
    assert.equal(this.words[w + (T2_STATUS >>> 2)], TP_STATUS_KERNEL, "slot free");
    this.words[w + (T2_LEN >>> 2)] = len;
    this.words[w + (T2_SNAPLEN >>> 2)] = len;
    this.ring[f + T2_MAC] = MAC;
    this.ring[f + T2_MAC + 1] = 0;
    this.words[w + (T2_SEC >>> 2)] = sec;
    this.words[w + (T2_NSEC >>> 2)] = nsec;
    this.ring[f + MAC + 14] = mark;
    this.words[w + (T2_STATUS >>> 2)] = status;
  }

  /** Slots the walker still holds (status not KERNEL). */
  held(): number {
    let n = 0;
    for (const f of this.slots) if (this.words[(f + T2_STATUS) >>> 2] !== TP_STATUS_KERNEL) n++;
    return n;
  }
}

function newStats() {
  return {
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    rxBlocks: 0,
    rxOutgoingSkipped: 0,
    rxTruncated: 0,
    rxCopied: 0,
    syscalls: 0,
    rxCsumPartialFrames: 0,
    rxCsumValidFrames: 0,
    rxGsoFrames: 0,
    rxSmallRingFrames: 0,
    rxLargeRingFrames: 0,
  };
}

/** The marks of a batch, in order. */
function marks(batch: RxBatch): number[] {
  const out: number[] = [];
  for (let i = 0; i < batch.count; i++) out.push(batch.buf[i][batch.off[i] + 14]);
  return out;
}

Deno.test("split receive: two rings are merged in the order the kernel stamped their frames", () => {
  const stats = newStats();
  const small = new FakeRing(stats, 2048);
  const large = new FakeRing(stats, 8192);
  const merge = new RxRingMerge(small.walker, large.walker, stats);
  // A flow as a GRO receiver sees it: super-frame, its small tail, another super-frame, ACKs…
  large.put(1, 6000, 100, 10);
  small.put(2, 1514, 100, 20);
  small.put(3, 66, 100, 30);
  large.put(4, 7000, 100, 40);
  large.put(5, 7000, 100, 999_999_999);
  small.put(6, 1000, 101, 0); // a later second wins over a larger nanosecond count
  const batch = new RxBatch(16);
  assert.equal(merge.receive(batch, 16), 6);
  // One ring drained after the other would give 1 4 5 2 3 6 (or 2 3 6 1 4 5).
  assert.deepEqual(marks(batch), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([merge.stampSec, merge.stampNsec], [100, 10], "the first frame's stamp");
  assert.equal(stats.rxLargeRingFrames, 3);
  assert.equal(stats.rxSmallRingFrames, 3);
  assert.equal(stats.rxFrames, 6);
  assert.equal(small.held() + large.held(), 6, "held until release");
  merge.release();
  assert.equal(small.held() + large.held(), 0);
});

Deno.test("split receive: a batch limit stops the merge mid-way; the next batch resumes in order", () => {
  const stats = newStats();
  const small = new FakeRing(stats, 2048);
  const large = new FakeRing(stats, 8192);
  const merge = new RxRingMerge(small.walker, large.walker, stats);
  small.put(1, 100, 5, 1);
  large.put(2, 5000, 5, 2);
  small.put(3, 100, 5, 3);
  large.put(4, 5000, 5, 4);
  const batch = new RxBatch(16);
  assert.equal(merge.receive(batch, 3), 3);
  assert.deepEqual(marks(batch), [1, 2, 3]);
  merge.release();
  // Only one ring has frames now; later frames land in both.
  assert.equal(merge.receive(batch, 16), 1);
  assert.deepEqual(marks(batch), [4]);
  merge.release();
  assert.equal(merge.receive(batch, 16), 0);
  large.put(6, 5000, 6, 2);
  small.put(5, 100, 6, 1, TP_STATUS_USER | TP_STATUS_LOSING);
  assert.equal(merge.lossSeen, false);
  assert.equal(merge.receive(batch, 16), 2);
  assert.deepEqual(marks(batch), [5, 6]);
  assert.equal(merge.lossSeen, true, "a LOSING slot in either ring is seen");
  merge.lossSeen = false;
  assert.equal(merge.lossSeen, false);
  // An unreleased batch is released by the next receive.
  assert.equal(merge.receive(batch, 16), 0);
  assert.equal(small.held() + large.held(), 0);
});
