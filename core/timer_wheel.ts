/**
 * A hashed, hierarchical timer wheel for protocol timers (TCP RTO/delayed ACK/keepalive/
 * TIME-WAIT, ARP and NDP retries, reassembly timeouts).
 *
 * Each purpose of each endpoint owns one {@link Timer}, created once (lazily, when first
 * needed, if most endpoints never need it) and re-armed for its whole life. A timer calls a
 * function with the argument it was made with, so one shared function serves every endpoint
 * (`new Timer(onRto, sender)`): no closure per endpoint. Arming, re-arming and cancelling are
 * O(1) and allocate nothing: timers are nodes of intrusive, circular, doubly linked lists (one
 * per slot, each with a sentinel head), so unlinking never needs to know which list a timer is
 * on. The stack's records hold a plain `Timer` rather than extend it: every record on the lists
 * is then one class, and the wheel's code, which writes a record's neighbours, sees one map
 * (a subclass first met mid-run deoptimised it: bench/README.md, "jit13k").
 *
 * Layout, with `N = slots` and a tick of `slotMs`:
 * - level 0: `N` slots, one per tick of the *current block* (the aligned run of `N` ticks
 *   holding the cursor). A level-0 slot only ever holds timers of exactly one tick.
 * - level 1: `N` slots, one per block of the *current super-block* (`N` blocks). When the
 *   cursor enters a block, that block's level-1 slot is cascaded into level 0.
 * - overflow: one list for everything beyond the current super-block (with the defaults:
 *   more than ~4.6 hours away), re-bucketed once per super-block.
 * Advancing across idle time jumps straight to the next non-empty block or super-block, so a
 * virtual clock may leap hours ahead in a handful of steps.
 *
 * @module
 */

import { type Clock, readClockMs } from "./clock.ts";
import { DOUBLE_ZERO } from "./v8_shapes.ts";

/** Where {@link TimerWheel.advanceTo} has the clock write the time (see `readClockMs`). */
const CLOCK_CELL = new Float64Array(1);

/** Where a timer currently lives. */
const NOT_ARMED = 0;
const IN_LEVEL0 = 1; // also while on the firing list, which holds one level-0 slot
const IN_LEVEL1 = 2;
const IN_OVERFLOW = 3;
const IN_DEFERRED = 4;

/** Default slot width: 1 ms. */
const DEFAULT_SLOT_MS = 1;
/** Default slots per level: 4096 (a block of ~4.1 s, a super-block of ~4.66 h at 1 ms). */
const DEFAULT_SLOTS = 4096;

function noop(): void {}

/**
 * One re-armable timer. Create it once per purpose per endpoint and schedule it on a
 * {@link TimerWheel} as often as needed; arming never allocates. When it expires it calls
 * `fire(arg)`: pass a shared function and the endpoint as `arg` rather than a closure per
 * endpoint (a closure costs ~100 bytes per endpoint).
 *
 * @example
 * ```ts
 * const wheel = new TimerWheel({ startMs: 0 });
 * const onRto = (conn: { name: string }) => console.log("retransmit", conn.name);
 * const rto = new Timer(onRto, { name: "c1" });
 * wheel.schedule(rto, 200);
 * wheel.advance(200); // logs "retransmit c1"
 * ```
 */
export class Timer {
  /** @internal Previous node on the list (itself when unlinked). */
  _prev: Timer;
  /** @internal Next node on the list (itself when unlinked). */
  _next: Timer;
  /** @internal Absolute deadline in ms. */
  _deadline: number = DOUBLE_ZERO;
  /**
   * The deadline (ms) the next {@link TimerWheel.arm} of this timer uses. Per-packet callers
   * set it and call `arm`: a fractional time passed to a call V8 does not inline is a new heap
   * number, one stored in this (double) field is not.
   */
  armAtMs: number = DOUBLE_ZERO;
  /** @internal Absolute tick the timer is filed under (clamped to the wheel's cursor). */
  _tick = 0;
  /** @internal One of the `IN_*` placement codes, `NOT_ARMED` when idle. */
  _where = NOT_ARMED;
  /** @internal The wheel holding the timer while armed. */
  _wheel: TimerWheel | null = null;
  /** @internal The callback. */
  readonly _fire: (arg: any) => void;
  /** @internal Its argument. */
  readonly _arg: unknown;

  /**
   * Make an idle timer that calls `fire(arg)` (no `this`) when it expires; `arg` defaults to
   * the timer itself (for a record that extends Timer and is its own timer).
   */
  constructor(fire: (arg: any) => void, arg?: unknown) {
    this._fire = fire;
    this._arg = arg === undefined ? this : arg;
    this._prev = this;
    this._next = this;
  }

  /** True while scheduled and not yet fired or cancelled. */
  get armed(): boolean {
    return this._where !== NOT_ARMED;
  }

  /** The deadline of the current (or, when idle, the last) arming, in ms. */
  get deadlineMs(): number {
    return this._deadline;
  }
}

/** Options of a {@link TimerWheel}. */
export interface TimerWheelOptions {
  /** Width of one slot in ms; deadlines are ordered within this precision. Default 1. */
  slotMs?: number;
  /** Slots per level, a power of two ≥ 2. Default 4096. */
  slots?: number;
  /** The time the wheel starts at (the clock's current time). Default 0. */
  startMs?: number;
}

/**
 * A timer wheel. Timers never fire early: {@link TimerWheel.advance} fires exactly the
 * timers armed when it was called whose deadline is ≤ `nowMs`, in deadline order to within
 * one slot (FIFO within a slot).
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock();
 * const wheel = new TimerWheel({ startMs: clock.nowMs() });
 * const t = new Timer(() => console.log("fired"));
 * wheel.schedule(t, clock.nowMs() + 1000);
 * clock.advance(wheel.nextDeadlineMs() - clock.nowMs());
 * wheel.advance(clock.nowMs()); // logs "fired", returns 1
 * ```
 */
export class TimerWheel {
  readonly #slotMs: number;
  readonly #n: number;
  readonly #mask: number;
  readonly #originMs: number;
  readonly #level0: Timer[];
  readonly #level1: Timer[];
  /** One bit per level-0 / level-1 slot: set while the slot holds a timer. */
  readonly #bits0: Uint32Array;
  readonly #bits1: Uint32Array;
  readonly #overflow = new Timer(noop);
  readonly #deferred = new Timer(noop);
  readonly #firing = new Timer(noop);

  /** The lowest tick not yet fully processed; every armed timer's tick is ≥ it. */
  #cursor = 0;
  #block = 0;
  #superBlock = 0;
  #size = 0;
  #level0Count = 0;
  #level1Count = 0;
  #overflowCount = 0;
  /** A lower bound on the block of every overflow timer. */
  #overflowMinBlock = Infinity;
  #advancing = false;
  #advanceNowMs = 0;
  /** The time `advance`/`advanceTo` was given (a field: no heap number per call). */
  #nowArg = 0;
  #cachedNextMs = Infinity;
  #cacheValid = true;

  /** Make an empty wheel (see {@link TimerWheelOptions} for the defaults). */
  constructor(opts: TimerWheelOptions = {}) {
    const slotMs = opts.slotMs ?? DEFAULT_SLOT_MS;
    const slots = opts.slots ?? DEFAULT_SLOTS;
    if (!(slotMs > 0) || !Number.isFinite(slotMs)) {
      throw new RangeError("TimerWheel: slotMs must be a positive number");
    }
    if (!(slots >= 2 && slots <= 1 << 24 && (slots & (slots - 1)) === 0)) {
      throw new RangeError("TimerWheel: slots must be a power of two in [2, 2^24]");
    }
    const startMs = opts.startMs ?? 0;
    if (!Number.isFinite(startMs)) throw new RangeError("TimerWheel: startMs must be finite");
    this.#slotMs = slotMs;
    this.#n = slots;
    this.#mask = slots - 1;
    this.#originMs = startMs;
    this.#level0 = new Array<Timer>(slots);
    this.#level1 = new Array<Timer>(slots);
    this.#bits0 = new Uint32Array((slots + 31) >>> 5);
    this.#bits1 = new Uint32Array((slots + 31) >>> 5);
    for (let i = 0; i < slots; i++) {
      this.#level0[i] = new Timer(noop);
      this.#level1[i] = new Timer(noop);
    }
    if (!rehearsed) rehearsePaths();
  }

  /** Number of armed timers. */
  get size(): number {
    return this.#size;
  }

  /**
   * Arm `timer` to fire once time reaches `deadlineMs`; an armed timer is moved (re-armed).
   * A deadline in the past fires at the next {@link TimerWheel.advance}. Throws a RangeError
   * on NaN (a caller bug). O(1), no allocation.
   */
  schedule(timer: Timer, deadlineMs: number): void {
    timer.armAtMs = deadlineMs;
    this.arm(timer);
  }

  /**
   * {@link TimerWheel.schedule} of `timer` for its {@link Timer.armAtMs}, set by the caller:
   * the form for per-packet callers (the deadline crosses no call as an argument).
   *
   * @example
   * ```ts
   * const wheel = new TimerWheel({ startMs: 0 });
   * const t = new Timer(() => {});
   * t.armAtMs = 12.5;
   * wheel.arm(t);
   * t.deadlineMs; // 12.5
   * ```
   */
  arm(timer: Timer): void {
    const deadlineMs = timer.armAtMs;
    if (deadlineMs !== deadlineMs) throw new RangeError("TimerWheel.schedule: NaN deadline");
    if (timer._where !== NOT_ARMED) timer._wheel!.cancel(timer);
    timer._deadline = deadlineMs;
    timer._wheel = this;
    this.#size++;
    if (this.#cacheValid && deadlineMs < this.#cachedNextMs) this.#cachedNextMs = deadlineMs;
    if (this.#advancing && deadlineMs <= this.#advanceNowMs) {
      // Armed by a callback for a time already reached: it waits for the next advance(),
      // so a callback re-arming itself "now" cannot loop forever.
      timer._tick = this.#cursor;
      timer._where = IN_DEFERRED;
      this.#append(this.#deferred, timer);
      return;
    }
    timer._tick = Math.floor((deadlineMs - this.#originMs) / this.#slotMs); // #tickOf, inline
    this.#place(timer);
  }

  /** Disarm `timer`; nothing happens if it is not armed. O(1), no allocation. */
  cancel(timer: Timer): void {
    if (timer._where === NOT_ARMED) return;
    if (timer._wheel !== this) {
      timer._wheel!.cancel(timer);
      return;
    }
    this.#unlink(timer);
    timer._wheel = null;
    this.#size--;
  }

  /**
   * Fire every timer armed before this call whose deadline is ≤ `nowMs`, in deadline order
   * within a slot's precision, and move the wheel to `nowMs`. Returns how many fired.
   * A callback may schedule or cancel any timer (itself included); timers it arms for a time
   * ≤ `nowMs` fire in a later `advance()`. If a callback throws, the wheel stays consistent
   * and the exception propagates; timers not yet fired stay armed. Not reentrant; throws a
   * RangeError on a non-finite `nowMs`.
   */
  advance(nowMs: number): number {
    this.#nowArg = nowMs;
    return this.#advanceToArg();
  }

  /**
   * {@link TimerWheel.advance} to `clock`'s time now. The time reaches the wheel through a field,
   * not as an argument: a fractional time (`performance.now()`) passed to a call V8 does not
   * inline is a new heap number each time, and a busy-polling event loop advances its wheel at
   * every spin (16 B per spin, measured).
   */
  advanceTo(clock: Clock): number {
    // Written into a cell, not returned: in a process whose stacks ran on two clock classes
    // (a sim test's `VirtualClock`, then the real one) the inlined `nowMs()` calls' results
    // merged into a heap number per tick (16 B, bench/README.md, "loop13z").
    readClockMs(clock, CLOCK_CELL);
    this.#nowArg = CLOCK_CELL[0];
    return this.#advanceToArg();
  }

  /** {@link TimerWheel.advance} to `#nowArg`. */
  #advanceToArg(): number {
    if (this.#advancing) throw new Error("TimerWheel.advance: not reentrant");
    const nowMs = this.#nowArg;
    // Comparisons, not Number.isFinite: V8's mid tier calls that as a function, and the time
    // passed to it (fractional) is a new heap number per advance.
    if (!(nowMs > -Infinity && nowMs < Infinity)) {
      throw new RangeError("TimerWheel.advance: nowMs must be finite");
    }
    // #tickOf written out: the time passed to it (fractional) was a new heap number per
    // advance whenever V8 did not inline the call ("sack33").
    const nowTick = Math.floor((nowMs - this.#originMs) / this.#slotMs);
    if (this.#size === 0) {
      if (nowTick > this.#cursor) this.#setCursor(nowTick);
      return 0;
    }
    const target = nowTick > this.#cursor ? nowTick : this.#cursor;
    this.#advancing = true;
    this.#advanceNowMs = nowMs;
    let fired = 0;
    try {
      for (;;) {
        if (this.#level0Count > 0) fired += this.#fireSlot(target);
        if (this.#cursor >= target) break;
        if (this.#level0Count > 0) {
          // More timers later in this block: step one tick (never crosses the block end,
          // because every tick before `target` is emptied as it is passed).
          this.#cursor++;
        } else {
          this.#jumpToward(target);
        }
      }
    } finally {
      this.#finishAdvance();
    }
    return fired;
  }

  /**
   * The earliest armed deadline in ms (exact; cached between changes), or Infinity when no
   * timer is armed. It may be ≤ the last `advance()` time when a timer is overdue.
   */
  nextDeadlineMs(): number {
    // One return, of the field: V8's mid tier boxes a fractional number merged from two
    // returns (`return Infinity` and the field) in a caller that inlines this.
    if (this.#size === 0) this.#cachedNextMs = Infinity;
    else if (!this.#cacheValid || this.#advancing) {
      this.#computeNextDeadline();
      this.#cacheValid = !this.#advancing;
    }
    return this.#cachedNextMs;
  }

  // ---- internals ----------------------------------------------------------------------

  #tickOf(ms: number): number {
    return Math.floor((ms - this.#originMs) / this.#slotMs);
  }

  #setCursor(tick: number): void {
    this.#cursor = tick;
    this.#block = Math.floor(tick / this.#n);
    this.#superBlock = Math.floor(this.#block / this.#n);
  }

  #append(head: Timer, t: Timer): void {
    const last = head._prev;
    t._prev = last;
    t._next = head;
    last._next = t;
    head._prev = t;
  }

  /** Remove an armed timer from its list and its level's count (it stays counted in size). */
  #unlink(t: Timer): void {
    t._prev._next = t._next;
    t._next._prev = t._prev;
    t._prev = t;
    t._next = t;
    switch (t._where) {
      case IN_LEVEL0: {
        this.#level0Count--;
        const i = t._tick & this.#mask;
        const head = this.#level0[i];
        if (head._next === head) this.#bits0[i >>> 5] &= ~(1 << (i & 31));
        break;
      }
      case IN_LEVEL1: {
        this.#level1Count--;
        const i = Math.floor(t._tick / this.#n) & this.#mask;
        const head = this.#level1[i];
        if (head._next === head) this.#bits1[i >>> 5] &= ~(1 << (i & 31));
        break;
      }
      case IN_OVERFLOW:
        this.#overflowCount--;
        break;
    }
    t._where = NOT_ARMED;
    // The cached minimum may have been this timer.
    if (t._deadline <= this.#cachedNextMs) this.#cacheValid = false;
  }

  /** File an unlinked timer by its tick (clamped to the cursor). */
  #place(t: Timer): void {
    let tick = t._tick;
    if (tick < this.#cursor) tick = t._tick = this.#cursor;
    const block = Math.floor(tick / this.#n);
    if (block === this.#block) {
      t._where = IN_LEVEL0;
      this.#level0Count++;
      // `& mask` is exact for any integer below 2^53: ToInt32 keeps the low bits.
      const i = tick & this.#mask;
      this.#bits0[i >>> 5] |= 1 << (i & 31);
      this.#append(this.#level0[i], t);
    } else if (Math.floor(block / this.#n) === this.#superBlock) {
      t._where = IN_LEVEL1;
      this.#level1Count++;
      const i = block & this.#mask;
      this.#bits1[i >>> 5] |= 1 << (i & 31);
      this.#append(this.#level1[i], t);
    } else {
      t._where = IN_OVERFLOW;
      this.#overflowCount++;
      if (block < this.#overflowMinBlock) this.#overflowMinBlock = block;
      this.#append(this.#overflow, t);
    }
  }

  /**
   * Fire the due timers of the cursor's slot (due: at or before `#advanceNowMs`, read here and not
   * passed: no heap number per call); the rest go back (or to `deferred`).
   */
  #fireSlot(target: number): number {
    const nowMs = this.#advanceNowMs;
    const slot = this.#cursor & this.#mask;
    const head = this.#level0[slot];
    if (head._next === head) return 0;
    this.#bits0[slot >>> 5] &= ~(1 << (slot & 31));
    // Move the whole slot onto the firing list so callbacks may freely add to the slot.
    const firing = this.#firing;
    firing._next = head._next;
    firing._prev = head._prev;
    firing._next._prev = firing;
    firing._prev._next = firing;
    head._next = head;
    head._prev = head;
    let fired = 0;
    while (firing._next !== firing) {
      const t = firing._next;
      this.#unlink(t);
      if (t._deadline <= nowMs) {
        t._wheel = null;
        this.#size--;
        fired++;
        const fire = t._fire;
        fire(t._arg);
      } else if (this.#cursor < target) {
        // Only floating-point rounding can get here: never fire early, never lose it.
        t._where = IN_DEFERRED;
        this.#append(this.#deferred, t);
      } else {
        this.#place(t);
      }
    }
    return fired;
  }

  /** With level 0 empty, move the cursor toward `target`, skipping empty blocks. */
  #jumpToward(target: number): void {
    const targetBlock = Math.floor(target / this.#n);
    if (targetBlock === this.#block) {
      this.#cursor = target;
      return;
    }
    let next = targetBlock;
    if (this.#level1Count > 0) {
      // The next non-empty block of this super-block (one must exist).
      const b = this.#nextLevel1Block();
      if (b >= 0) next = b;
    } else if (this.#overflowCount > 0) {
      const nextSuper = this.#superBlock + 1;
      const minSuper = Math.floor(this.#overflowMinBlock / this.#n);
      next = (minSuper > nextSuper ? minSuper : nextSuper) * this.#n;
    }
    if (next > targetBlock) next = targetBlock;
    this.#enterBlock(next);
  }

  /** Move the cursor to the start of block `b` (level 0 is empty): cascade its timers. */
  #enterBlock(b: number): void {
    const previousSuper = this.#superBlock;
    this.#setCursor(b * this.#n);
    if (this.#superBlock !== previousSuper && this.#overflowCount > 0) {
      const superEnd = (this.#superBlock + 1) * this.#n;
      if (this.#overflowMinBlock < superEnd) this.#rebucketOverflow(superEnd);
    }
    if (this.#level1Count > 0) {
      const head = this.#level1[b & this.#mask];
      while (head._next !== head) {
        const t = head._next;
        this.#unlink(t);
        this.#place(t);
      }
    }
  }

  /** Move overflow timers of blocks before `superEnd` into the levels. */
  #rebucketOverflow(superEnd: number): void {
    const head = this.#overflow;
    let minBlock = Infinity;
    let t = head._next;
    while (t !== head) {
      const next = t._next;
      const block = Math.floor(t._tick / this.#n);
      if (block < superEnd) {
        this.#unlink(t);
        this.#place(t);
      } else if (block < minBlock) {
        minBlock = block;
      }
      t = next;
    }
    this.#overflowMinBlock = minBlock;
  }

  /** End of advance(), also after a throwing callback: restore the lists. */
  #finishAdvance(): void {
    const firing = this.#firing;
    while (firing._next !== firing) {
      const t = firing._next;
      this.#unlink(t);
      this.#place(t);
    }
    const deferred = this.#deferred;
    while (deferred._next !== deferred) {
      const t = deferred._next;
      this.#unlink(t);
      this.#place(t);
    }
    this.#advancing = false;
    this.#cacheValid = false;
  }

  /**
   * The earliest deadline into `#cachedNextMs`. Kept in that double field, not in a local
   * passed from list to list: V8's mid tier keeps a fractional number assigned under a branch
   * or merged in a loop tagged, a new heap number per earlier deadline found.
   */
  #computeNextDeadline(): void {
    this.#cachedNextMs = Infinity;
    this.#minOnList(this.#firing);
    this.#minOnList(this.#deferred);
    if (this.#level0Count > 0) {
      // Level-0 slots hold one tick each, so the first non-empty slot holds the minimum.
      // The block's ticks are slots 0 … n − 1 in order: the occupancy bits find it.
      const i = nextSetBit(this.#bits0, this.#cursor & this.#mask, this.#n);
      if (i >= 0) {
        this.#minOnList(this.#level0[i]);
        return;
      }
    }
    if (this.#level1Count > 0) {
      const b = this.#nextLevel1Block();
      if (b >= 0) {
        this.#minOnList(this.#level1[b & this.#mask]);
        return;
      }
    }
    this.#minOnList(this.#overflow);
  }

  /** Lower `#cachedNextMs` to the earliest deadline on the list `head`. */
  #minOnList(head: Timer): void {
    for (let t = head._next; t !== head; t = t._next) {
      if (t._deadline < this.#cachedNextMs) this.#cachedNextMs = t._deadline;
    }
  }

  /** The first block after the cursor's, in its super-block, holding a timer; -1: none. */
  #nextLevel1Block(): number {
    const from = this.#block + 1;
    if (from >= (this.#superBlock + 1) * this.#n) return -1;
    // The super-block's blocks are slots 0 … n − 1 in order.
    const i = nextSetBit(this.#bits1, from & this.#mask, this.#n);
    return i < 0 ? -1 : from + (i - (from & this.#mask));
  }
}

/** Rounds of {@link rehearsePaths}: past V8's 8 calls before it keeps type feedback, and more. */
const REHEARSALS = 16;
/** Set when the first wheel of the process is made, before it rehearses (see rehearsePaths). */
let rehearsed = false;
/** The rehearsal's wheel, for its re-arming callback. */
let rehearsalWheel: TimerWheel | null = null;

/** A rehearsal timer's callback: re-arm itself for a time already reached (the deferred path). */
function rearmOnce(t: Timer): void {
  if (t.armAtMs < 0) return;
  t.armAtMs = -1;
  rehearsalWheel!.arm(t);
}

/**
 * Take every path of the wheel's code on a wheel of its own, once per process, when the first
 * wheel is made: level 0, level 1 and the overflow list, re-arming, cancelling, the cascades
 * of a block and a super-block, firing, and a callback's re-arming for a time reached. V8
 * keeps no type feedback for a path code has not taken, and optimised code that meets one
 * throws itself away ("insufficient type feedback"): a real stack's first timer beyond the
 * wheel's current 4.1-s block (an RTO armed near the block's end), its first cascade, took
 * `arm`, `cancel`, `#place`, `#unlink`, `#fireSlot` and the receive path that inlined them back
 * to V8's lower tiers in the middle of a transfer, where every fractional time is a new heap
 * number (bench/README.md, "box40").
 */
function rehearsePaths(): void {
  rehearsed = true;
  // 4 slots of 1 ms: a block is 4 ms, a super-block 16 ms.
  const w = new TimerWheel({ slots: 4, startMs: 0.25 });
  rehearsalWheel = w;
  const near = new Timer(noop);
  const block = new Timer(noop);
  const far = new Timer(noop);
  const again = new Timer(rearmOnce);
  // Fractional times, as a real clock's: the wheel's time fields are doubles from the first.
  let now = 0.5;
  for (let i = 0; i < REHEARSALS; i++) {
    w.schedule(near, now + 2.5); // level 0
    w.schedule(near, now + 1.5); // re-armed: moved within level 0
    w.schedule(block, now + 6.5); // level 1
    w.schedule(far, now + 40.5); // overflow
    w.nextDeadlineMs();
    w.cancel(block);
    w.schedule(block, now + 9.5);
    again.armAtMs = now + 1.25;
    w.arm(again);
    now += 12;
    w.advance(now); // fires near, again (re-armed: deferred), block (cascaded from level 1)
    w.nextDeadlineMs();
    now += 40;
    w.advance(now); // far: re-bucketed from the overflow list, fired; again, deferred
  }
  rehearsalWheel = null;
}

/** The first set bit at or after `from` (below `n`), or -1. */
function nextSetBit(bits: Uint32Array, from: number, n: number): number {
  if (from >= n) return -1;
  let w = from >>> 5;
  let word = bits[w] & (0xffffffff << (from & 31));
  for (;;) {
    if (word !== 0) return (w << 5) + (31 - Math.clz32(word & -word));
    if (++w >= bits.length) return -1;
    word = bits[w];
  }
}
