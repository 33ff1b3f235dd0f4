/**
 * Adaptive ACK deferral for a bulk receiver: whether holding the ACK owed for in-order data
 * (`TcpReceiver.deferAck`) pays against this sender, found by trying it.
 *
 * Deferral cuts the receiver's ACKs — on veth its TX kicks, the syscalls per wire packet — but
 * what it does depends on the sender (bench/README.md, ack13b and ackad13): an unpaced sender
 * (Linux CUBIC) transmits from its own thread on its own CPU whatever the window allows, and
 * one ACK for several super-segments takes that work out of our kicks; a paced one (Linux BBR)
 * releases one GSO packet per ACK that reaches it when the packet is due, and without the ACK
 * its pacing timer releases it — on our CPU, as an interrupt, later and at a higher cost
 * (1.8× the CPU per byte, 40 % fewer bytes). The receiver cannot see the sender's pacing, but
 * it sees what deferral costs: the probe alternates measurement epochs with deferral off and
 * on in the order off, on, on, off (a steady drift weighs on both alike), each measured after
 * a settling time, and defers when the epochs with deferral cost no more of the process's CPU
 * per byte received ({@link ACK_PROBE_CPU_KEEP}) and lose little rate ({@link ACK_PROBE_KEEP};
 * the rate alone is what a loaded machine makes noisy, CPU per byte much less). The decision
 * holds for a while, then the probe runs again (the sender, its congestion control or the path
 * may change): not deferring longer each time it comes out again; deferring for the shortest
 * hold, and while each epoch stays as good as the probe's epochs without deferral.
 *
 * Only fields and arithmetic; the CPU time is read a few times per epoch. The receiver calls
 * {@link AckDeferProbe.advance} only when the tick's time reaches {@link AckDeferProbe.nextMs}.
 *
 * @module
 */

/** Length of a measurement epoch after its settling time (ms). */
export const ACK_PROBE_MEASURE_MS = 12;
/**
 * While deferring, an epoch whose rate falls below this share of the rate the probe measured
 * without deferral starts the probe again…
 */
export const ACK_PROBE_GUARD = 0.85;
/**
 * … or whose CPU per byte rises above this multiple of theirs (one 12 ms epoch is noisier than
 * the probe's two; a paced sender's timer costs ~1.8×).
 */
export const ACK_PROBE_GUARD_CPU = 1.2;
/** Settling time at the start of each epoch: the sender reacts to the change first (ms). */
export const ACK_PROBE_SETTLE_MS = 4;
/**
 * Deferral is chosen when the process's CPU time per byte received in its epochs is at most
 * this multiple of the epochs' without it (a paced sender's timer runs on our CPU: ~1.8×
 * measured; an unpaced sender's transmits leave it: ~0.7×)…
 */
export const ACK_PROBE_CPU_KEEP = 1;
/** … and its rate at least this share of theirs (a paced sender loses ~40 %). */
export const ACK_PROBE_KEEP = 0.85;
/** Time without deferral before the first probe (slow start, the window opening) (ms). */
export const ACK_PROBE_START_MS = 40;
/**
 * The hold of a decision (ms); a decision not to defer holds twice as long each time it comes
 * out again.
 */
export const ACK_PROBE_HOLD_MIN_MS = 500;
/** The longest hold of a decision not to defer (ms). */
export const ACK_PROBE_HOLD_MAX_MS = 8000;
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
 * let cpu = 0;
 * for (let t = 0; t < 200; t += 0.5) {
 *   bytes += 1e6; // the same rate with and without deferral…
 *   cpu += p.on ? 0.3 : 0.4; // … and less CPU with it
 *   if (t >= p.nextMs) p.advance(t, bytes, cpu);
 * }
 * p.on; // true: deferral pays here
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
  /** The process's CPU time when it started (ms). */
  #measureStartCpu = 0;
  /** This probe's bytes, milliseconds and CPU milliseconds measured with deferral off. */
  #offBytes = 0;
  #offMs = 0;
  #offCpu = 0;
  /** … and with deferral on. */
  #onBytes = 0;
  #onMs = 0;
  #onCpu = 0;
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
   * of bytes received in order, `cpuMs` the process's CPU time (constant when not known: the
   * rates alone decide). Moves the probe on: starts or ends a measurement, an epoch, a hold;
   * returns what happened (`PROBE_*`). {@link AckDeferProbe.on} says what to do now.
   */
  advance(nowMs: number, bytes: number, cpuMs: number): number {
    const late = nowMs - this.nextMs > ACK_PROBE_GAP_MS;
    if (this.#stage === HOLDING) {
      if (this.on && !late && nowMs < this.#holdEndMs) return this.#guard(nowMs, bytes, cpuMs);
      this.#startEpoch(0, nowMs);
      return PROBE_NO_DECISION;
    }
    if (late) {
      // The flow paused: this epoch's bytes are not the sender's rate. Start over.
      this.#startEpoch(0, nowMs);
      return PROBE_RESTARTED;
    }
    if (!this.#measuring) {
      this.#startMeasuring(nowMs, bytes, cpuMs);
      this.nextMs = nowMs + ACK_PROBE_MEASURE_MS;
      return PROBE_NO_DECISION;
    }
    const ms = nowMs - this.#measureStartMs;
    const got = bytes - this.#measureStartBytes;
    const cpu = cpuMs - this.#measureStartCpu;
    if (this.on) {
      this.#onBytes += got;
      this.#onMs += ms;
      this.#onCpu += cpu;
    } else {
      this.#offBytes += got;
      this.#offMs += ms;
      this.#offCpu += cpu;
    }
    if (this.#stage < HOLDING - 1) {
      this.#startEpoch(this.#stage + 1, nowMs);
      return PROBE_NO_DECISION;
    }
    return this.#decide(nowMs);
  }

  /** A measurement starts now. */
  #startMeasuring(nowMs: number, bytes: number, cpuMs: number): void {
    this.#measuring = true;
    this.#measureStartMs = nowMs;
    this.#measureStartBytes = bytes;
    this.#measureStartCpu = cpuMs;
  }

  /**
   * Deferral, measured over `onMs` ms with `onBytes` bytes and `onCpu` ms of CPU, is no worse
   * than the probe's epochs without it: CPU per byte at most `cpuKeep` times theirs, rate at
   * least `rateKeep` of theirs (compared without dividing).
   */
  #noWorse(
    onBytes: number,
    onMs: number,
    onCpu: number,
    cpuKeep: number,
    rateKeep: number,
  ): boolean {
    const offBytes = this.#offBytes;
    const cheap = onCpu * offBytes <= cpuKeep * this.#offCpu * onBytes;
    return cheap && onBytes * this.#offMs >= rateKeep * offBytes * onMs;
  }

  /**
   * While the decision to defer holds, each epoch is measured against the probe's epochs
   * without deferral: one that is worse (CPU per byte above {@link ACK_PROBE_GUARD_CPU} times
   * theirs, or the rate below {@link ACK_PROBE_GUARD} of theirs: the sender changed, or the
   * machine got busier) starts the probe again at once.
   */
  #guard(nowMs: number, bytes: number, cpuMs: number): number {
    if (this.#measuring) {
      const ms = nowMs - this.#measureStartMs;
      const got = bytes - this.#measureStartBytes;
      const cpu = cpuMs - this.#measureStartCpu;
      if (!this.#noWorse(got, ms, cpu, ACK_PROBE_GUARD_CPU, ACK_PROBE_GUARD)) {
        this.#startEpoch(0, nowMs);
        return PROBE_RESTARTED;
      }
    }
    this.#startMeasuring(nowMs, bytes, cpuMs);
    const end = nowMs + ACK_PROBE_MEASURE_MS;
    this.nextMs = end < this.#holdEndMs ? end : this.#holdEndMs;
    return PROBE_NO_DECISION;
  }

  /** Epoch `stage` of the probe starts at `nowMs`: settle first. */
  #startEpoch(stage: number, nowMs: number): void {
    if (stage === 0) {
      this.#offBytes = 0;
      this.#offMs = 0;
      this.#offCpu = 0;
      this.#onBytes = 0;
      this.#onMs = 0;
      this.#onCpu = 0;
    }
    this.#stage = stage;
    this.on = EPOCH_DEFERS[stage];
    this.#measuring = false;
    this.nextMs = nowMs + ACK_PROBE_SETTLE_MS;
  }

  /** The four epochs are measured: decide, and hold the decision. */
  #decide(nowMs: number): number {
    const defer = this.#noWorse(
      this.#onBytes,
      this.#onMs,
      this.#onCpu,
      ACK_PROBE_CPU_KEEP,
      ACK_PROBE_KEEP,
    );
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
