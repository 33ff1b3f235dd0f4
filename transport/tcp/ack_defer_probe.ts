/**
 * Adaptive ACK deferral for a bulk receiver: whether holding the ACK owed for in-order data
 * (`TcpReceiver.deferAck`) pays against this sender, found by trying it.
 *
 * Deferral cuts the receiver's ACKs — on veth its TX kicks, the syscalls per wire packet — but
 * what it does to the rate depends on the sender (bench/README.md, ack13b): an unpaced sender
 * (Linux CUBIC) sends from its own thread whatever the window allows, and one ACK for several
 * super-segments costs it nothing; a paced one (Linux BBR) releases one GSO packet per ACK
 * that reaches it when the packet is due, and without the ACK its pacing timer releases it
 * later and at a higher cost — 40 % fewer bytes. The receiver cannot see the sender's pacing,
 * but it sees what it gets: the probe alternates measurement epochs with deferral off and on
 * in the order off, on, on, off (a steady rise or fall of the rate weighs on both alike),
 * compares the bytes received per millisecond, each epoch measured after a settling time, and
 * defers when deferral's rate is at least {@link ACK_PROBE_KEEP} of the rate without in both
 * pairs of epochs (off, on) and (on, off). The
 * decision holds for a while, then the probe runs again (the sender, its congestion control or
 * the path may change): not deferring longer each time it comes out again; deferring for the
 * shortest hold, and while the rate stays at the level measured without deferral.
 *
 * Only fields and arithmetic: nothing is allocated after construction. The receiver calls
 * {@link AckDeferProbe.advance} only when the tick's time reaches {@link AckDeferProbe.nextMs},
 * a few times per epoch.
 *
 * @module
 */

/** Length of a measurement epoch after its settling time (ms). */
export const ACK_PROBE_MEASURE_MS = 30;
/**
 * While deferring, an epoch whose rate falls below this share of the rate the probe measured
 * without deferral starts the probe again (a paced sender loses ~40 %; noise, less).
 */
export const ACK_PROBE_GUARD = 0.9;
/** Settling time at the start of each epoch: the sender reacts to the change first (ms). */
export const ACK_PROBE_SETTLE_MS = 8;
/**
 * Deferral is chosen when its epochs' rates are at least this share of the epochs' without
 * it, next to them, in both pairs; and stays on while its rate stays at this share of theirs.
 */
export const ACK_PROBE_KEEP = 1;
/** Time without deferral before the first probe (slow start, the window opening) (ms). */
export const ACK_PROBE_START_MS = 40;
/**
 * The hold of a decision (ms); a decision not to defer holds twice as long each time it comes
 * out again.
 */
export const ACK_PROBE_HOLD_MIN_MS = 500;
/** The longest hold of a decision not to defer (ms). */
export const ACK_PROBE_HOLD_MAX_MS = 4000;
/**
 * A call later than this past {@link AckDeferProbe.nextMs} means the flow paused (the ACK was
 * not due for a while): the epoch's rate says nothing, the probe starts over (ms).
 */
export const ACK_PROBE_GAP_MS = 10;

/** {@link AckDeferProbe.advance}: nothing was decided. */
export const PROBE_NO_DECISION = 0;
/** {@link AckDeferProbe.advance}: the probe decided to defer. */
export const PROBE_DECIDED_ON = 1;
/** {@link AckDeferProbe.advance}: the probe decided not to defer. */
export const PROBE_DECIDED_OFF = 2;
/** {@link AckDeferProbe.advance}: the flow paused; the probe starts over. */
export const PROBE_RESTARTED = 3;

/** Deferral in each of the four probe epochs: off, on, on, off. */
const EPOCH_DEFERS = [false, true, true, false] as const;
/** The stage after the four epochs: a decision holds. */
const HOLDING = 4;

/**
 * One connection's probe (made when the receiver first has an ACK to defer).
 *
 * @example
 * ```ts
 * const p = new AckDeferProbe(0);
 * let bytes = 0;
 * for (let t = 0; t < 200; t += 0.5) {
 *   bytes += 1e6; // the same rate with and without deferral
 *   if (t >= p.nextMs) p.advance(t, bytes);
 * }
 * p.on; // true: deferral costs nothing here
 * ```
 */
export class AckDeferProbe {
  /** Deferral is on now (an epoch that tries it, or the decision to defer). */
  on = false;
  /** The tick time at which {@link AckDeferProbe.advance} next has something to do (ms). */
  nextMs: number;
  /** The last decision (true: defer); false before the first. */
  decided = false;
  /** Decisions taken so far. */
  decisions = 0;
  /** 0–3: the probe epoch running; {@link HOLDING}: a decision holds. */
  #stage = HOLDING;
  /** Within an epoch: measuring (the settling time is over). */
  #measuring = false;
  /** When the measurement of this epoch started (ms). */
  #measureStartMs = 0;
  /** Bytes received when it started. */
  #measureStartBytes = 0;
  /** This probe's bytes and milliseconds measured with deferral off. */
  #offBytes = 0;
  #offMs = 0;
  /** … and with deferral on. */
  #onBytes = 0;
  #onMs = 0;
  /** The bytes and milliseconds of the epoch measured last. */
  #prevBytes = 0;
  #prevMs = 0;
  /** Pairs of epochs (off, on), (on, off) of this probe that deferral won. */
  #wins = 0;
  /** When the decision that holds ends (ms). */
  #holdEndMs = 0;
  /** The next hold of a decision (ms). */
  #holdMs = ACK_PROBE_HOLD_MIN_MS;

  /** A probe for a connection whose first ACK to defer comes at `nowMs`. */
  constructor(nowMs: number) {
    this.nextMs = nowMs + ACK_PROBE_START_MS;
    this.#holdEndMs = this.nextMs;
  }

  /**
   * The tick's time reached {@link AckDeferProbe.nextMs}; `bytes` is the connection's count
   * of bytes received in order. Moves the probe on: starts or ends a measurement, an epoch, a
   * hold; returns what happened (`PROBE_*`). {@link AckDeferProbe.on} says what to do now.
   */
  advance(nowMs: number, bytes: number): number {
    const late = nowMs - this.nextMs > ACK_PROBE_GAP_MS;
    if (this.#stage === HOLDING) {
      if (this.on && !late && nowMs < this.#holdEndMs) return this.#guard(nowMs, bytes);
      this.#startEpoch(0, nowMs);
      return PROBE_NO_DECISION;
    }
    if (late) {
      // The flow paused: this epoch's bytes are not the sender's rate. Start over.
      this.#startEpoch(0, nowMs);
      return PROBE_RESTARTED;
    }
    if (!this.#measuring) {
      this.#measuring = true;
      this.#measureStartMs = nowMs;
      this.#measureStartBytes = bytes;
      this.nextMs = nowMs + ACK_PROBE_MEASURE_MS;
      return PROBE_NO_DECISION;
    }
    const ms = nowMs - this.#measureStartMs;
    const got = bytes - this.#measureStartBytes;
    if (this.on) {
      this.#onBytes += got;
      this.#onMs += ms;
    } else {
      this.#offBytes += got;
      this.#offMs += ms;
    }
    // Epochs 1 and 3 end a pair (off, on) and (on, off): deferral wins it when its epoch's
    // rate is at least KEEP of the other's (compared without dividing).
    if (this.#stage === 1 || this.#stage === 3) {
      const onGot = this.on ? got : this.#prevBytes;
      const onMs = this.on ? ms : this.#prevMs;
      const offGot = this.on ? this.#prevBytes : got;
      const offMs = this.on ? this.#prevMs : ms;
      if (onGot * offMs >= ACK_PROBE_KEEP * offGot * onMs) this.#wins++;
    }
    this.#prevBytes = got;
    this.#prevMs = ms;
    if (this.#stage < HOLDING - 1) {
      this.#startEpoch(this.#stage + 1, nowMs);
      return PROBE_NO_DECISION;
    }
    return this.#decide(nowMs);
  }

  /**
   * While the decision to defer holds, the rate is measured epoch by epoch against the rate
   * the probe measured without deferral: an epoch below {@link ACK_PROBE_GUARD} of it (the
   * sender changed, or the machine got busier) starts the probe again at once.
   */
  #guard(nowMs: number, bytes: number): number {
    if (this.#measuring) {
      const ms = nowMs - this.#measureStartMs;
      const got = bytes - this.#measureStartBytes;
      if (got * this.#offMs < ACK_PROBE_GUARD * this.#offBytes * ms) {
        this.#startEpoch(0, nowMs);
        return PROBE_RESTARTED;
      }
    }
    this.#measuring = true;
    this.#measureStartMs = nowMs;
    this.#measureStartBytes = bytes;
    const end = nowMs + ACK_PROBE_MEASURE_MS;
    this.nextMs = end < this.#holdEndMs ? end : this.#holdEndMs;
    return PROBE_NO_DECISION;
  }

  /** Epoch `stage` of the probe starts at `nowMs`: settle first. */
  #startEpoch(stage: number, nowMs: number): void {
    if (stage === 0) {
      this.#offBytes = 0;
      this.#offMs = 0;
      this.#onBytes = 0;
      this.#onMs = 0;
      this.#wins = 0;
    }
    this.#stage = stage;
    this.on = EPOCH_DEFERS[stage];
    this.#measuring = false;
    this.nextMs = nowMs + ACK_PROBE_SETTLE_MS;
  }

  /** The four epochs are measured: decide, and hold the decision. */
  #decide(nowMs: number): number {
    // Deferral must win both pairs: noise alone (a loaded machine) passes both about one
    // time in four.
    const defer = this.#wins === 2;
    // Not deferring costs a few syscalls per wire packet: that decision holds longer each
    // time it comes out again. Deferring may cost rate: it holds the shortest time, and
    // guarded (#guard).
    if (!defer && this.decisions > 0 && !this.decided) {
      const h = 2 * this.#holdMs;
      this.#holdMs = h < ACK_PROBE_HOLD_MAX_MS ? h : ACK_PROBE_HOLD_MAX_MS;
    } else this.#holdMs = ACK_PROBE_HOLD_MIN_MS;
    this.decided = defer;
    this.decisions++;
    this.on = defer;
    this.#stage = HOLDING;
    this.#measuring = false;
    this.#holdEndMs = nowMs + this.#holdMs;
    this.nextMs = defer ? nowMs + ACK_PROBE_SETTLE_MS : this.#holdEndMs;
    return defer ? PROBE_DECIDED_ON : PROBE_DECIDED_OFF;
  }
}
