/**
 * An in-memory Ethernet segment for simulated-network tests: two (or more) {@link SimEndpoint}
 * drivers joined like ports of a hub, with seeded, per-direction fault injection (loss,
 * duplication, reordering, delay, jitter, a serialization rate and a bounded queue) and a
 * partition switch. With a rate, each direction is a bottleneck (`sim_bottleneck.ts`): a
 * bounded drop-tail queue in front of the link, ECN marking, loss bursts and scheduled drops. Time comes from the {@link Clock} given at construction (a
 * `VirtualClock` in tests), so a run is exactly reproducible from its seed.
 *
 * Why this file is over 600 lines: the wire, its endpoints and their fault settings are one
 * unit (endpoints reach into the wire's slot pool and queues); the bottleneck's own state
 * is in `sim_bottleneck.ts`.
 *
 * A frame's life: `transmit()` copies it into a pooled slot on the sender's pending queue
 * (`transmitGather()` copies its headers and then its payload from where the payload lies, a
 * TCP send ring: the path an AF_PACKET TX ring takes, so every simulated TCP segment checks it);
 * `flush()` puts the pending frames on the wire at the current time, decides each one's fate
 * per receiver and files the survivors in the receiver's queue ordered by arrival time;
 * the receiver's `receive()` hands out those whose arrival time has come. Slots are recycled,
 * so a steady-state run allocates nothing per frame.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { PayloadSource } from "../core/packet_buffer.ts";
import { SeededRandom } from "../core/random.ts";
import { copyBytes } from "../core/copy_bytes.ts";
import {
  LINK_OK,
  LINK_SCHEDULED_DROP,
  markCe,
  SimBottleneck,
  type SimFrameHook,
} from "./sim_bottleneck.ts";

export { SIM_DROP, type SimFrameHook } from "./sim_bottleneck.ts";
import {
  DriverStats,
  GSO_NONE,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  type RxBatch,
  type TxOffload,
} from "./driver.ts";

/** Ethernet header bytes (destination, source, EtherType): IEEE 802.3 §3.1.1. */
const ETHERNET_HEADER_BYTES = 14;
/** Default link MTU of an endpoint. */
const DEFAULT_MTU = 1500;

/**
 * Fault and shaping settings of one direction (the frames one endpoint sends). All
 * probabilities are per frame and per receiver.
 */
export interface SimFaults {
  /** Probability a frame is lost, in [0, 1]. Default 0. */
  lossRate: number;
  /** Probability a delivered frame is delivered twice, in [0, 1]. Default 0. */
  duplicateRate: number;
  /**
   * Probability a frame is held back by {@link SimFaults.reorderExtraMs} so that frames sent
   * after it overtake it, in [0, 1]. Default 0.
   */
  reorderRate: number;
  /** Extra delay of a reordered frame, in ms. Default 2. */
  reorderExtraMs: number;
  /** Fixed one-way propagation delay in ms. Default 0. */
  delayMs: number;
  /**
   * Random extra delay, uniform in [0, jitterMs) ms. Jitter never reorders frames: a frame
   * never arrives before one sent earlier in the same direction (unless that one was picked
   * for reordering). Default 0.
   */
  jitterMs: number;
  /** Serialization rate in bit/s; frames queue behind each other. 0 = infinitely fast. */
  rateBitsPerSec: number;
  /**
   * Queue bound in frames: at most this many frames wait in the sender's pending queue (more
   * are refused by `transmit()`), and at most this many are in flight or waiting to be
   * received toward one receiver (more are dropped, counted in
   * {@link SimWireStats.queueDrops}). Default 1024.
   */
  queueFrames: number;
  /**
   * Bottleneck (with `rateBitsPerSec`): frames the queue in front of the link holds at most;
   * a frame finding it full is dropped ({@link SimWireStats.bottleneckDrops}). 0: unbounded.
   * Default 0.
   */
  bottleneckQueueFrames: number;
  /** Bottleneck: bytes the queue holds at most (0: unbounded). Default 0. */
  bottleneckQueueBytes: number;
  /**
   * Bottleneck: CE-mark ECN-capable IPv4 frames that find at least this many frames queued
   * (RFC 3168 §5; {@link SimWireStats.ecnMarks}). 0: no marking. Default 0.
   */
  ecnMarkFrames: number;
  /**
   * Probability per frame, in [0, 1], that a loss burst of {@link SimFaults.burstLossFrames}
   * frames starts with it ({@link SimWireStats.burstLosses}). Default 0.
   */
  burstLossRate: number;
  /** Frames one loss burst takes, the first included. Default 1. */
  burstLossFrames: number;
}

/** Options of a {@link SimWire}: a clock, a seed and the initial faults of every direction. */
export interface SimWireOptions extends Partial<SimFaults> {
  /** Where time comes from (a `VirtualClock` for deterministic tests). */
  clock: Clock;
  /** PRNG seed for every random decision. Default 1. */
  seed?: number;
}

/** Counters of a {@link SimWire} (all directions together). */
export class SimWireStats {
  /** Frames put on the wire by `flush()` (before any fault). */
  framesSent = 0;
  /** Frames handed to a receiver by `receive()`. */
  framesDelivered = 0;
  /** Bytes handed to a receiver by `receive()`. */
  bytesDelivered = 0;
  /** Frames dropped by random loss. */
  framesLost = 0;
  /** Extra copies made by random duplication. */
  framesDuplicated = 0;
  /** Frames held back for reordering. */
  framesReordered = 0;
  /** Frames dropped because a receiver's queue was full. */
  queueDrops = 0;
  /** Frames dropped for exceeding the sender's or the receiver's MTU + 14. */
  oversizeDrops = 0;
  /** Frames dropped by a partition (sent during one, or in flight when it started). */
  partitionDrops = 0;
  /** Frames sent with no other (open) endpoint on the wire. */
  noReceiverDrops = 0;
  /** Slots ever allocated (constant once the run reaches its steady state). */
  slotsAllocated = 0;
  /** Frames dropped because the bottleneck queue was full. */
  bottleneckDrops = 0;
  /** Frames lost in loss bursts. */
  burstLosses = 0;
  /** Frames dropped by {@link SimWire.dropNext}. */
  scheduledDrops = 0;
  /** Frames CE-marked at the bottleneck. */
  ecnMarks = 0;
  /** Frames dropped by a frame hook ({@link SimWire.setFrameHook}). */
  hookDrops = 0;
}

/** One frame's storage, recycled through the wire's free list. */
class SimSlot {
  buf: Uint8Array;
  len = 0;
  /** When the frame reaches its receiver (ms, clock time; a double from the first slot). */
  arrivalMs = -Infinity;
  /** Tie-break among equal arrival times: the order frames were filed. */
  seq = 0;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }
}

/** Index of a frame's departure time in `SimWire.#times`. */
const DEPART = 0;
/** Index of a frame's arrival time in `SimWire.#times`. */
const ARRIVAL = 1;

/**
 * Bytes of one block of slots: slots are carved out of shared blocks, each at its own offset,
 * as a driver's receive ring holds its frames (the receivers' reused copy views are keyed by
 * that offset: core/subarray_cache.ts).
 */
const SLOT_BLOCK_BYTES = 1 << 20;

/**
 * Bytes each block's first slot is moved on from the last block's (modulo
 * {@link SLOT_BLOCK_SKEWS} blocks): a driver's ring is one buffer whose frames are at offsets
 * of their own, but blocks carved alike would put a slot of every block at each offset — the
 * receivers' copy views, keyed by that offset and with two places a key, then missed about
 * every second segment at MTU 9000 with ~450 slots in 4 blocks (a view per segment: the rig's).
 */
const SLOT_BLOCK_SKEW_BYTES = 64;

/** Blocks before the skew comes round again (at most 32 KiB of a block left unused). */
const SLOT_BLOCK_SKEWS = 512;

const DEFAULT_FAULTS: Readonly<SimFaults> = Object.freeze({
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderExtraMs: 2,
  delayMs: 0,
  jitterMs: 0,
  rateBitsPerSec: 0,
  queueFrames: 1024,
  bottleneckQueueFrames: 0,
  bottleneckQueueBytes: 0,
  ecnMarkFrames: 0,
  burstLossRate: 0,
  burstLossFrames: 1,
});

/** Copy `len` bytes; one short-lived view is far cheaper than a byte loop (see facts doc). */
function copyInto(dst: Uint8Array, src: Uint8Array, off: number, len: number): void {
  copyBytes(src, off, dst, 0, len); // headers byte by byte: no view per frame (the rig's own)
}

function checkFaults(f: Partial<SimFaults>): void {
  for (const key of ["lossRate", "duplicateRate", "reorderRate", "burstLossRate"] as const) {
    const v = f[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) {
      throw new RangeError(`SimWire: ${key} must be in [0, 1], got ${v}`);
    }
  }
  for (const key of ["reorderExtraMs", "delayMs", "jitterMs", "rateBitsPerSec"] as const) {
    const v = f[key];
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) {
      throw new RangeError(`SimWire: ${key} must be a finite number >= 0, got ${v}`);
    }
  }
  const q = f.queueFrames;
  if (q !== undefined && !(Number.isInteger(q) && q >= 1)) {
    throw new RangeError(`SimWire: queueFrames must be an integer >= 1, got ${q}`);
  }
  for (
    const key of ["bottleneckQueueFrames", "bottleneckQueueBytes", "ecnMarkFrames"] as const
  ) {
    const v = f[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
      throw new RangeError(`SimWire: ${key} must be an integer >= 0, got ${v}`);
    }
  }
  const b = f.burstLossFrames;
  if (b !== undefined && !(Number.isInteger(b) && b >= 1)) {
    throw new RangeError(`SimWire: burstLossFrames must be an integer >= 1, got ${b}`);
  }
}

function assignFaults(target: SimFaults, f: Partial<SimFaults>): void {
  if (f.lossRate !== undefined) target.lossRate = f.lossRate;
  if (f.duplicateRate !== undefined) target.duplicateRate = f.duplicateRate;
  if (f.reorderRate !== undefined) target.reorderRate = f.reorderRate;
  if (f.reorderExtraMs !== undefined) target.reorderExtraMs = f.reorderExtraMs;
  if (f.delayMs !== undefined) target.delayMs = f.delayMs;
  if (f.jitterMs !== undefined) target.jitterMs = f.jitterMs;
  if (f.rateBitsPerSec !== undefined) target.rateBitsPerSec = f.rateBitsPerSec;
  if (f.queueFrames !== undefined) target.queueFrames = f.queueFrames;
  if (f.bottleneckQueueFrames !== undefined) target.bottleneckQueueFrames = f.bottleneckQueueFrames;
  if (f.bottleneckQueueBytes !== undefined) target.bottleneckQueueBytes = f.bottleneckQueueBytes;
  if (f.ecnMarkFrames !== undefined) target.ecnMarkFrames = f.ecnMarkFrames;
  if (f.burstLossRate !== undefined) target.burstLossRate = f.burstLossRate;
  if (f.burstLossFrames !== undefined) target.burstLossFrames = f.burstLossFrames;
}

/**
 * The simulated segment. Make endpoints with {@link SimWire.endpoint} and hand each to a
 * stack as its `LinkDriver`.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../core/clock.ts";
 * import { RxBatch } from "./driver.ts";
 * const clock = new VirtualClock();
 * const wire = new SimWire({ clock, seed: 7, delayMs: 5, lossRate: 0.01 });
 * const a = wire.endpoint("a0", new Uint8Array([2, 0, 0, 0, 0, 1]));
 * const b = wire.endpoint("b0", new Uint8Array([2, 0, 0, 0, 0, 2]));
 * const frame = new Uint8Array(60); // an Ethernet frame from a to b
 * const batch = new RxBatch(32);
 * a.transmit(frame, 0, frame.length, null);
 * a.flush();
 * clock.advance(wire.nextEventMs() - clock.nowMs());
 * b.receive(batch, batch.capacity); // the frame, 5 ms later (unless lost)
 * ```
 */
export class SimWire {
  /** Counters of the whole wire. */
  readonly stats: SimWireStats = new SimWireStats();
  /** @internal */
  readonly _clock: Clock;
  /** @internal */
  readonly _rng: SeededRandom;
  /** @internal Open endpoints, in creation order. */
  readonly _endpoints: SimEndpoint[] = [];
  /** @internal Faults given to endpoints created from now on. */
  readonly _defaults: SimFaults;
  /** @internal */
  _partitioned = false;
  /** @internal Next frame sequence number (arrival-time tie-break). */
  _seq = 0;
  readonly #free: SimSlot[] = [];
  /** The four random draws of one frame and receiver (loss, duplicate, reorder, jitter). */
  readonly #draws = new Float64Array(4);
  /** A frame's departure and arrival times ({@link DEPART}, {@link ARRIVAL}) in `_send`. */
  readonly #times = new Float64Array(2);
  /** {@link SimWire.nextEventMs}'s minimum. */
  readonly #best = new Float64Array(1);
  #slotBytes = ETHERNET_HEADER_BYTES + DEFAULT_MTU;
  /** The block new slots are carved from, and where the next one starts in it. */
  #block: ArrayBuffer | null = null;
  #blockNext = 0;
  /** Blocks carved so far (each one's slots start {@link SLOT_BLOCK_SKEW_BYTES} further). */
  #blocks = 0;
  #nextIndex = 0;

  /** Make a wire; fault options apply to every direction until changed by `setFaults`. */
  constructor(opts: SimWireOptions) {
    checkFaults(opts);
    this._clock = opts.clock;
    this._rng = new SeededRandom(opts.seed ?? 1);
    this._defaults = { ...DEFAULT_FAULTS };
    assignFaults(this._defaults, opts);
  }

  /**
   * Attach a new endpoint (a `LinkDriver` of kind "sim") with its own MAC and MTU
   * (default 1500).
   */
  endpoint(name: string, mac: Uint8Array, mtu: number = DEFAULT_MTU): SimEndpoint {
    if (mac.length !== 6) throw new RangeError("SimWire.endpoint: a MAC is 6 bytes");
    if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65536)) {
      throw new RangeError("SimWire.endpoint: mtu must be an integer in [68, 65536]");
    }
    if (mtu + ETHERNET_HEADER_BYTES > this.#slotBytes) {
      this.#slotBytes = mtu + ETHERNET_HEADER_BYTES;
    }
    const ep = new SimEndpoint(this, this.#nextIndex++, name, mac, mtu, this._defaults);
    for (const other of this._endpoints) {
      other._lastArrivalMs[ep._index] = -Infinity;
      ep._lastArrivalMs[other._index] = -Infinity;
    }
    this._endpoints.push(ep);
    return ep;
  }

  /**
   * Change faults. Without `from`, every direction changes (and endpoints created later
   * start with these settings); with `from`, only the frames that endpoint sends.
   */
  setFaults(faults: Partial<SimFaults>, from?: SimEndpoint): void {
    checkFaults(faults);
    if (from !== undefined) {
      assignFaults(from._faults, faults);
      return;
    }
    assignFaults(this._defaults, faults);
    for (const ep of this._endpoints) assignFaults(ep._faults, faults);
  }

  /** The current faults of the direction `from` sends (a copy). */
  faults(from: SimEndpoint): SimFaults {
    return { ...from._faults };
  }

  /**
   * Cut (`true`) or restore (`false`) the wire. While cut, every frame sent is dropped;
   * cutting also drops every frame in flight. Frames already arrived but not yet received
   * stay (they are in the receiver's NIC).
   */
  partition(on: boolean): void {
    this._partitioned = on;
    if (!on) return;
    const now = this._clock.nowMs();
    for (const ep of this._endpoints) {
      this.stats.partitionDrops += ep._dropInFlight(now);
      ep._busyUntilMs = -Infinity; // what was being serialized is gone
      ep._bottleneck.clear();
    }
  }

  /** True while partitioned. */
  get partitioned(): boolean {
    return this._partitioned;
  }

  /**
   * Drop the next `count` frames `from` sends, after letting `skip` through (a loss at an
   * exact place; {@link SimWireStats.scheduledDrops}).
   */
  dropNext(from: SimEndpoint, count: number, skip = 0): void {
    from._bottleneck.dropSkip = skip;
    from._bottleneck.dropCount = count;
  }

  /**
   * Look at every frame `from` sends (tests): `hook` returns {@link SIM_DROP} to drop it
   * ({@link SimWireStats.hookDrops}), a positive number of ms to hold it back (frames sent
   * after it overtake it), or 0 to let it pass. `null` removes the hook. Make the function
   * once: it is called per frame.
   */
  setFrameHook(from: SimEndpoint, hook: SimFrameHook | null): void {
    from._bottleneck.hook = hook;
  }

  /** Frames waiting in the bottleneck queue of the direction `from` sends, now. */
  backlogFrames(from: SimEndpoint): number {
    return from._bottleneck.frames(this._clock.nowMs());
  }

  /** Bytes waiting in the bottleneck queue of the direction `from` sends, now. */
  backlogBytes(from: SimEndpoint): number {
    return from._bottleneck.bytes(this._clock.nowMs());
  }

  /**
   * Earliest arrival time (ms, clock time) of any frame waiting in a receiver queue, or
   * Infinity. A value ≤ now means a frame is ready to be received. Frames transmitted but
   * not yet flushed do not count: they wait for `flush()`, not for time.
   */
  nextEventMs(): number {
    // Indexed, the heads' times read in place: an iterator object and a fractional time
    // returned from a call V8 does not inline are each an allocation per frame of a simulated
    // run whose clock is fractional (bench/README.md, "dbl34").
    // The minimum kept in a cell, not in a variable the loop assigns (a loop phi of doubles
    // is tagged in V8's mid tier).
    const best = this.#best;
    best[0] = Infinity;
    const eps = this._endpoints;
    for (let i = 0; i < eps.length; i++) {
      if (eps[i]._headArrivalMs < best[0]) best[0] = eps[i]._headArrivalMs;
    }
    return best[0];
  }

  /** @internal A slot able to hold `len` bytes. */
  _alloc(len: number): SimSlot {
    let slot = this.#free.pop();
    if (slot === undefined) {
      const bytes = this.#slotBytes;
      if (this.#block === null || this.#blockNext + bytes > this.#block.byteLength) {
        const skew = (this.#blocks++ % SLOT_BLOCK_SKEWS) * SLOT_BLOCK_SKEW_BYTES;
        this.#block = new ArrayBuffer(skew + (bytes > SLOT_BLOCK_BYTES ? bytes : SLOT_BLOCK_BYTES));
        this.#blockNext = skew;
      }
      slot = new SimSlot(new Uint8Array(this.#block, this.#blockNext, bytes));
      this.#blockNext += bytes;
      this.stats.slotsAllocated++;
    } else if (slot.buf.length < len) {
      slot.buf = new Uint8Array(this.#slotBytes); // once per slot after a bigger MTU appears
    }
    return slot;
  }

  /** @internal */
  _free(slot: SimSlot): void {
    this.#free.push(slot);
  }

  /** @internal Put the frames `from` flushed on the wire. */
  _send(from: SimEndpoint, pending: SimSlot[], count: number): void {
    const stats = this.stats;
    const now = this._clock.nowMs();
    const f = from._faults;
    const rng = this._rng;
    const endpoints = this._endpoints;
    for (let i = 0; i < count; i++) {
      const slot = pending[i];
      stats.framesSent++;
      if (this._partitioned) {
        stats.partitionDrops++;
        this._free(slot);
        continue;
      }
      const q0 = from._bottleneck;
      let holdMs = 0;
      if (q0.hook !== null) {
        holdMs = q0.hook(slot.buf, slot.len);
        if (holdMs < 0) {
          stats.hookDrops++;
          this._free(slot);
          continue;
        }
      }
      const lost = q0.lose(f.burstLossRate, f.burstLossFrames, this._rng);
      if (lost !== LINK_OK) {
        if (lost === LINK_SCHEDULED_DROP) stats.scheduledDrops++;
        else stats.burstLosses++;
        this._free(slot);
        continue;
      }
      // Serialization: frames leave one after another at the direction's rate, waiting in
      // the bottleneck queue meanwhile.
      // The frame's times live in a Float64Array, not in variables that branches assign: a
      // fractional number merged from two branches is a new heap number in V8's mid tier
      // (`dbl34`); here the times of a run whose clock is fractional, per frame.
      const times = this.#times;
      times[DEPART] = now;
      if (from._busyUntilMs > now) times[DEPART] = from._busyUntilMs;
      if (f.rateBitsPerSec > 0) {
        times[DEPART] += (slot.len * 8 * 1000) / f.rateBitsPerSec;
        const departMs = times[DEPART];
        const q = from._bottleneck;
        if (f.ecnMarkFrames > 0 && q.frames(now) >= f.ecnMarkFrames) {
          if (markCe(slot.buf, slot.len)) stats.ecnMarks++;
        }
        if (!q.admit(now, departMs, slot.len, f.bottleneckQueueFrames, f.bottleneckQueueBytes)) {
          stats.bottleneckDrops++;
          this._free(slot);
          continue;
        }
      }
      from._busyUntilMs = times[DEPART];
      let lastReceiver = -1;
      for (let r = 0; r < endpoints.length; r++) if (endpoints[r] !== from) lastReceiver = r;
      if (lastReceiver < 0) {
        stats.noReceiverDrops++;
        this._free(slot);
        continue;
      }
      for (let r = 0; r <= lastReceiver; r++) {
        const to = endpoints[r];
        if (to === from) continue;
        // Four draws per frame and receiver whatever the rates, so changing one rate does
        // not shift the random stream of the others.
        // Into an array, not returned one by one: a returned float is a heap number when V8
        // does not inline the call.
        const draws = this.#draws;
        rng.fillFloats(draws, 4);
        const lossDraw = draws[0];
        const dupDraw = draws[1];
        const reorderDraw = draws[2];
        const jitterDraw = draws[3];
        let copy: SimSlot;
        if (r === lastReceiver) {
          copy = slot;
        } else {
          copy = this._alloc(slot.len);
          copyInto(copy.buf, slot.buf, 0, slot.len);
          copy.len = slot.len;
        }
        if (lossDraw < f.lossRate) {
          stats.framesLost++;
          this._free(copy);
          continue;
        }
        times[ARRIVAL] = times[DEPART] + f.delayMs + jitterDraw * f.jitterMs;
        if (holdMs > 0) {
          times[ARRIVAL] += holdMs; // held back by the frame hook: overtaken like a reordered frame
          stats.framesReordered++;
        } else if (reorderDraw < f.reorderRate) {
          times[ARRIVAL] += f.reorderExtraMs;
          stats.framesReordered++;
        } else {
          const last = from._lastArrivalMs[to._index];
          if (times[ARRIVAL] < last) times[ARRIVAL] = last;
          from._lastArrivalMs[to._index] = times[ARRIVAL];
        }
        const duplicate = dupDraw < f.duplicateRate;
        let dup: SimSlot | null = null;
        if (duplicate) {
          dup = this._alloc(copy.len);
          copyInto(dup.buf, copy.buf, 0, copy.len);
          dup.len = copy.len;
        }
        // The arrival time goes in the slot, not as an argument: a fractional time passed to
        // a call V8 does not inline is a new heap number ("dbl34").
        copy.arrivalMs = times[ARRIVAL];
        to._deliver(copy, f.queueFrames);
        if (dup !== null) {
          stats.framesDuplicated++;
          dup.arrivalMs = times[ARRIVAL];
          to._deliver(dup, f.queueFrames);
        }
      }
    }
  }

  /** @internal */
  _detach(ep: SimEndpoint): void {
    const i = this._endpoints.indexOf(ep);
    if (i >= 0) this._endpoints.splice(i, 1);
  }
}

/**
 * One port of a {@link SimWire}: a `LinkDriver` of kind "sim" (fd -1, no offloads). Frames
 * it transmits go on the wire at `flush()`; frames sent to it are received once the clock
 * reaches their arrival time.
 */
export class SimEndpoint implements LinkDriver {
  /** Interface name. */
  readonly name: string;
  /** Always "sim". */
  readonly kind: string = "sim";
  /** The endpoint's MAC address (a copy of the one given). */
  readonly mac: Uint8Array;
  /** Link MTU (IP bytes per frame). */
  readonly mtu: number;
  /** No offloads: checksums are complete and frames are at most MTU + 14 bytes. */
  readonly capabilities: LinkCapabilities = NO_OFFLOADS;
  /** -1: nothing to poll; drive the simulation with the clock and `nextEventMs()`. */
  readonly fd: number = -1;
  /** Counters. */
  readonly stats: DriverStats = new DriverStats();
  /** @internal Index on the wire, stable for the endpoint's life. */
  readonly _index: number;
  /** @internal Faults of the frames this endpoint sends. */
  readonly _faults: SimFaults;
  /** @internal When the sender's serializer is free again (ms). */
  _busyUntilMs = -Infinity;
  /** @internal The queue in front of the serializer, and loss state. */
  readonly _bottleneck: SimBottleneck = new SimBottleneck();
  /** @internal Latest non-reordered arrival time per receiver index (keeps FIFO order). */
  readonly _lastArrivalMs: number[] = [];
  readonly #wire: SimWire;
  readonly #pending: SimSlot[] = [];
  #pendingCount = 0;
  /**
   * @internal The earliest arrival time queued here, or Infinity: kept at every change of the
   * heap, read in place by {@link SimWire.nextEventMs}.
   */
  _headArrivalMs = Infinity;
  /** Min-heap of arriving frames by (arrivalMs, seq). */
  readonly #heap: SimSlot[] = [];
  #heapSize = 0;
  readonly #lent: SimSlot[] = [];
  #lentCount = 0;
  #closed = false;

  /** @internal Use {@link SimWire.endpoint}. */
  constructor(
    wire: SimWire,
    index: number,
    name: string,
    mac: Uint8Array,
    mtu: number,
    faults: SimFaults,
  ) {
    this.#wire = wire;
    this._index = index;
    this.name = name;
    this.mac = mac.slice();
    this.mtu = mtu;
    this._faults = { ...faults };
  }

  /**
   * Move up to `max` arrived frames (arrival time ≤ the clock now) into `batch`, earliest
   * first. Frames of a previous batch not yet released are released first.
   */
  receive(batch: RxBatch, max: number): number {
    this.#checkOpen();
    if (this.#lentCount > 0) this.release(batch);
    const now = this.#wire._clock.nowMs();
    const limit = max < batch.capacity ? max : batch.capacity;
    const wireStats = this.#wire.stats;
    let n = 0;
    while (n < limit && this.#heapSize > 0 && this.#heap[0].arrivalMs <= now) {
      const slot = this.#pop();
      this.#lent[n] = slot;
      batch.buf[n] = slot.buf;
      batch.off[n] = 0;
      batch.len[n] = slot.len;
      batch.flags[n] = 0;
      this.stats.rxFrames++;
      this.stats.rxBytes += slot.len;
      wireStats.framesDelivered++;
      wireStats.bytesDelivered += slot.len;
      n++;
    }
    this.#lentCount = n;
    batch.count = n;
    return n;
  }

  /** Return the slots of the last `receive()` to the wire's pool. */
  release(_batch: RxBatch): void {
    for (let i = 0; i < this.#lentCount; i++) this.#wire._free(this.#lent[i]);
    this.#lentCount = 0;
  }

  /**
   * Copy a frame onto the pending queue. Refused (false, counted in `txDropped`) when the
   * endpoint is asked for an offload, the frame is shorter than an Ethernet header or longer
   * than MTU + 14 (or `off`/`len` fall outside `frame`), or the pending queue holds
   * `queueFrames` frames already.
   */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    return this.transmitGather(frame, off, len, null, 0, 0, offload);
  }

  /**
   * {@link SimEndpoint.transmit} of `len` bytes of `frame` at `off` followed by
   * `payloadLength` bytes of `payload` from `payloadOffset` (none when null), both copied into
   * the slot; also refused (counted in `txDropped`) when `payload` holds fewer bytes.
   */
  transmitGather(
    frame: Uint8Array,
    off: number,
    len: number,
    payload: PayloadSource | null,
    payloadOffset: number,
    payloadLength: number,
    offload: TxOffload | null,
  ): boolean {
    this.#checkOpen();
    const stats = this.stats;
    if (offload !== null && (offload.needsCsum || offload.gsoType !== GSO_NONE)) {
      stats.txDropped++; // capabilities say NO_OFFLOADS: the caller should not ask
      return false;
    }
    const total = payload === null ? len : len + payloadLength;
    if (
      len < ETHERNET_HEADER_BYTES || total > this.mtu + ETHERNET_HEADER_BYTES || off < 0 ||
      off + len > frame.length || !(payloadLength >= 0)
    ) {
      stats.txDropped++;
      if (total > this.mtu + ETHERNET_HEADER_BYTES) this.#wire.stats.oversizeDrops++;
      return false;
    }
    if (this.#pendingCount >= this._faults.queueFrames) {
      stats.txDropped++;
      stats.txRingFull++;
      return false;
    }
    const slot = this.#wire._alloc(total);
    copyInto(slot.buf, frame, off, len);
    if (
      payload !== null &&
      payload.peek(slot.buf, len, payloadOffset, payloadLength) !== payloadLength
    ) {
      this.#wire._free(slot);
      stats.txDropped++;
      return false;
    }
    slot.len = total;
    this.#pending[this.#pendingCount++] = slot;
    stats.txFrames++;
    stats.txBytes += total;
    return true;
  }

  /** Put every pending frame on the wire at the current clock time. */
  flush(): void {
    this.#checkOpen();
    if (this.#pendingCount === 0) return;
    this.stats.txKicks++;
    const count = this.#pendingCount;
    this.#pendingCount = 0;
    this.#wire._send(this, this.#pending, count);
  }

  /** Detach from the wire and drop every queued frame; further calls throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let i = 0; i < this.#pendingCount; i++) this.#wire._free(this.#pending[i]);
    this.#pendingCount = 0;
    for (let i = 0; i < this.#heapSize; i++) this.#wire._free(this.#heap[i]);
    this.#heapSize = 0;
    this._headArrivalMs = Infinity;
    for (let i = 0; i < this.#lentCount; i++) this.#wire._free(this.#lent[i]);
    this.#lentCount = 0;
    this.#wire._detach(this);
  }

  /** Frames waiting for this endpoint (in flight or arrived, not yet received). */
  get queuedFrames(): number {
    return this.#heapSize;
  }

  /** @internal File an arriving frame, or drop it (queue full, too big for this MTU). */
  _deliver(slot: SimSlot, queueFrames: number): void {
    const wireStats = this.#wire.stats;
    if (slot.len > this.mtu + ETHERNET_HEADER_BYTES) {
      wireStats.oversizeDrops++;
      this.stats.rxDropped++;
      this.#wire._free(slot);
      return;
    }
    if (this.#heapSize >= queueFrames) {
      wireStats.queueDrops++;
      this.#wire._free(slot);
      return;
    }
    slot.seq = this.#wire._seq++;
    this.#push(slot);
    this._headArrivalMs = this.#heap[0].arrivalMs;
  }

  /** @internal Earliest arrival time queued here, or Infinity. */
  _nextArrivalMs(): number {
    return this._headArrivalMs;
  }

  /** @internal Drop frames not yet arrived at `nowMs` (a partition); returns how many. */
  _dropInFlight(nowMs: number): number {
    let kept = 0;
    let dropped = 0;
    const heap = this.#heap;
    for (let i = 0; i < this.#heapSize; i++) {
      const slot = heap[i];
      if (slot.arrivalMs > nowMs) {
        this.#wire._free(slot);
        dropped++;
      } else {
        heap[kept++] = slot;
      }
    }
    this.#heapSize = kept;
    // Re-heapify what is left (Floyd's bottom-up construction).
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.#siftDown(i);
    this.#syncHead();
    for (const other of this.#wire._endpoints) other._lastArrivalMs[this._index] = -Infinity;
    return dropped;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`SimEndpoint ${this.name}: closed`);
  }

  #push(slot: SimSlot): void {
    const heap = this.#heap;
    let i = this.#heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      if (earlier(p, slot)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = slot;
  }

  #pop(): SimSlot {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap[--this.#heapSize];
    if (this.#heapSize > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    this.#syncHead();
    return top;
  }

  /** Keep `_headArrivalMs` (each value stored on its own branch: no merged double). */
  #syncHead(): void {
    if (this.#heapSize > 0) this._headArrivalMs = this.#heap[0].arrivalMs;
    else this._headArrivalMs = Infinity;
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const n = this.#heapSize;
    const slot = heap[start];
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && earlier(heap[right], heap[child])) child = right;
      if (!earlier(heap[child], slot)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = slot;
  }
}

function earlier(a: SimSlot, b: SimSlot): boolean {
  return a.arrivalMs < b.arrivalMs || (a.arrivalMs === b.arrivalMs && a.seq < b.seq);
}
