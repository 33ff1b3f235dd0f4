/**
 * Wait queues and the coalescing readiness multiplexer.
 *
 * Endpoints call {@link EventMux.notify} as their readiness changes during a tick; nothing is
 * delivered then. At the end of the tick {@link EventMux.fire} walks the endpoints that became
 * ready, once each, wakes their waiters, and — if anything at all became ready — signals the
 * outside world exactly once (one eventfd write per tick, however many sockets were touched).
 *
 * @module
 */

import { objectArray } from "./v8_shapes.ts";

/** Readable (data, a connection to accept, EOF). Same value as `POLLIN`. */
export const EV_READABLE = 0x001;
/** Writable (room in the send buffer). Same value as `POLLOUT`. */
export const EV_WRITABLE = 0x004;
/** An error is pending (`POLLERR`). */
export const EV_ERROR = 0x008;
/** The peer hung up / the endpoint is closed (`POLLHUP`). */
export const EV_HANGUP = 0x010;

/** A waiter's mask bit: the waiter is a `waitCall` function, not a promise's resolver. */
const CALL_WAITER = 1 << 30;

/** The masks of a queue never waited on (never written: the first wait makes its own). */
const NO_MASKS: number[] = [];

/** A one-shot waiter's promise resolver: called with the events that woke it. */
type Wake = (events: number) => void;

/**
 * The wait queue of one endpoint (socket). The endpoint keeps `readiness` current; waiters are
 * woken at the end of the tick in which readiness they wait for was signalled.
 */
export class WaitQueue {
  /** The endpoint's current readiness (`EV_*` bits), kept up to date by the endpoint. */
  readiness = 0;
  /** Bits signalled during the current tick, not yet delivered. */
  pending = 0;
  /** True while queued in the mux for delivery. */
  queued = false;
  /**
   * A persistent listener, called at every delivery with the events and this queue (so one
   * function can serve many sockets: it finds its socket in {@link WaitQueue.owner}).
   */
  listener: ((events: number, wq: WaitQueue) => void) | null = null;
  /**
   * True when {@link WaitQueue.listener}'s reaction to a delivery is complete when it returns:
   * it reads and writes synchronously and hands nothing on to promises (a stream consumer, see
   * `TcpConn.consume`). Then {@link EventMux.reactionsDone} keeps following the tick — the event
   * loop gives no microtask turns for it — where another listener's delivery turns that off
   * (it may resolve a promise whose write must still make the tick). [false]
   */
  listenerSync = false;
  /** Whatever the application ties to this queue (e.g. the socket it belongs to), or null. */
  owner: unknown = null;
  /**
   * One-shot waiters, the first `#nWaiters` slots: each one's resolver, and in `#masks` the
   * events it waits for (two arrays, no waiter object per wait). Made by the first wait (most
   * sockets of a crowd are never waited on). Never shrunk: emptying a JS array gives its
   * backing store back, and the next wait would allocate a new one — once per read of a
   * request/response exchange.
   */
  #wakes: (Wake | null)[] | null = null;
  #masks: number[] = NO_MASKS;
  #nWaiters = 0;
  /** The queue and mask of the wait being made, for {@link WaitQueue.#executor}. */
  static #adding: WaitQueue | null = null;
  static #addingMask = 0;
  /**
   * The executor of every wait's promise (the promise constructor calls it at once): one
   * function for all queues, where a closure per wait would be allocated with its context.
   */
  static readonly #executor = (resolve: Wake): void => {
    const q = WaitQueue.#adding!;
    WaitQueue.#adding = null;
    q.#add(resolve, WaitQueue.#addingMask);
  };
  /**
   * Waits that found nothing ready and were queued, over the queue's life: the mux compares it
   * with its value at a delivery to tell that the woken task waits again.
   */
  waits = 0;

  /**
   * Resolve when any of `mask` is (or becomes) ready; resolves at once if it already is.
   * This is the API side (one promise per wait), never the per-packet path.
   */
  wait(mask: number): Promise<number> {
    const now = this.readiness & mask;
    if (now !== 0) return Promise.resolve(now);
    if (this.#wakes === null) {
      this.#wakes = objectArray();
      this.#masks = [];
    }
    this.waits++;
    WaitQueue.#adding = this;
    WaitQueue.#addingMask = mask;
    return new Promise(WaitQueue.#executor);
  }

  /**
   * Call `wake(events)` once, when any of `mask` becomes ready — {@link WaitQueue.wait} without
   * the promise, for readers that settle their own (one function per reader, not one promise and
   * two resolving functions per wait). It is called at the delivery, inside the stack's tick:
   * it must not throw, and what it hands on to promises runs after the tick's receive half, as
   * an awaiting task would. It may call `waitCall` again; such a wait inside the delivery does
   * not tell {@link EventMux.reactionsDone} that it reacted (it may have handed its reaction on
   * first): the mux follows it as a woken promise whose task has not waited again. The caller
   * checks readiness first (a wait registered while the events are ready waits for the next
   * delivery).
   */
  waitCall(mask: number, wake: (events: number) => void): void {
    if (this.#wakes === null) {
      this.#wakes = objectArray();
      this.#masks = [];
    }
    this.waits++;
    this.#add(wake, mask | CALL_WAITER);
  }

  /**
   * `waitCall` functions this queue's deliveries called, over its life: a function reacts
   * inside the delivery (a read, say, whose window update asks for a tick) and hands the rest
   * to promises, so the mux tells the event loop that a tick asked for then is no answer. Per
   * queue (and summed per mux), so that one stack's readers say nothing about another's in the
   * same isolate.
   */
  calls = 0;
  /**
   * Waiters for writable space ({@link EV_WRITABLE} in their mask) this queue's deliveries woke,
   * over its life: the mux tells the event loop that a tick woke a writer (see
   * {@link EventMux.wokeWriters}).
   */
  writerWakes = 0;

  /** Add a one-shot waiter. */
  #add(wake: Wake, mask: number): void {
    const i = this.#nWaiters;
    const wakes = this.#wakes!;
    if (i < wakes.length) {
      wakes[i] = wake;
      this.#masks[i] = mask;
    } else {
      wakes.push(wake);
      this.#masks.push(mask);
    }
    this.#nWaiters = i + 1;
  }

  /** Number of pending one-shot waiters. */
  get waiters(): number {
    return this.#nWaiters;
  }

  /** Deliver `events` to the waiters they concern; returns how many it woke. Called by the mux. */
  deliver(events: number): number {
    const ws = this.#wakes;
    const n = this.#nWaiters;
    let woke = 0;
    if (ws !== null && n > 0) {
      // Keep the waiters not woken at the front. A promise's wake-up only queues its
      // reactions; a `waitCall` function runs and may wait again: its new waiter lands past
      // the first `n` slots and moves down with the kept ones.
      const masks = this.#masks;
      let keep = 0;
      let i = 0;
      try {
        for (; i < n; i++) {
          const hit = (events | this.readiness) & masks[i] & ~CALL_WAITER;
          if (hit !== 0) {
            if ((masks[i] & CALL_WAITER) !== 0) this.calls++;
            if ((masks[i] & EV_WRITABLE) !== 0) this.writerWakes++;
            ws[i]!(hit);
          } else {
            ws[keep] = ws[i];
            masks[keep++] = masks[i];
          }
        }
      } finally {
        // A `waitCall` function that threw (the mux counts it) is gone, as woken; the waiters
        // after it were not looked at and stay.
        for (let j = i + 1; j < n; j++) {
          ws[keep] = ws[j];
          masks[keep++] = masks[j];
        }
        const added = this.#nWaiters - n;
        for (let j = 0; j < added; j++) {
          ws[keep + j] = ws[n + j];
          masks[keep + j] = masks[n + j];
        }
        for (let j = keep + added; j < n + added; j++) ws[j] = null;
        this.#nWaiters = keep + added;
        woke = n - keep;
      }
    }
    if (this.listener !== null) this.listener(events, this);
    return woke;
  }

  /** Wake every waiter with `EV_HANGUP | EV_ERROR` (the endpoint is gone). */
  wakeAll(events: number): void {
    const ws = this.#wakes;
    const n = this.#nWaiters;
    if (ws !== null) {
      this.#wakes = null;
      this.#masks = NO_MASKS;
      this.#nWaiters = 0;
      for (let i = 0; i < n; i++) ws[i]!(events);
    }
    if (this.listener !== null) this.listener(events, this);
  }
}

/** Counters of the mux. */
export interface EventMuxStats {
  /** Ticks that made something ready and signalled (eventfd writes). */
  signals: number;
  /** Wait-queue deliveries (one per endpoint per tick at most). */
  deliveries: number;
  /** notify() calls (many per delivery when coalesced). */
  notifies: number;
  /** Exceptions thrown by listeners or waiters (caught: one bad callback never stops the stack). */
  listenerErrors: number;
  /**
   * Ticks in which {@link EventMux.reactionsDone} stopped following deliveries (one went to a
   * listener, threw, or the slots it keeps were full): their microtask turns ran in full.
   */
  reactionsUntracked: number;
}

/** Deliveries {@link EventMux.reactionsDone} tracks between two `beginReactions()`. */
const REACTION_SLOTS = 64;

/**
 * The readiness multiplexer of a stack.
 *
 * @example
 * ```ts
 * const mux = new EventMux();
 * const wq = new WaitQueue();
 * wq.readiness = EV_READABLE;
 * mux.notify(wq, EV_READABLE);
 * mux.notify(wq, EV_READABLE);
 * mux.fire(); // one delivery, one signal
 * ```
 */
export class EventMux {
  /** Counters. */
  readonly stats: EventMuxStats = {
    signals: 0,
    deliveries: 0,
    notifies: 0,
    listenerErrors: 0,
    reactionsUntracked: 0,
  };
  /** Called with what a listener threw [prints it with console.error]. */
  onListenerError: (error: unknown) => void = (e) =>
    console.error("ustack: a socket listener threw:", e);
  /** Called once per tick that made anything ready (the runtime writes its eventfd here). */
  signal: (() => void) | null = null;
  /**
   * Queues that gained readiness, the first `#nPending` slots. Never shrunk (an array emptied
   * by `splice` or `length = 0` allocates again on the next push: every tick of a
   * request/response exchange).
   */
  readonly #pending: (WaitQueue | null)[] = objectArray();
  #nPending = 0;
  /** Queues whose waiters were woken since `beginReactions()`, the first `#nWoken` slots. */
  readonly #woken: (WaitQueue | null)[] = objectArray();
  /** Their `waits` once every task the delivery woke waits again (one new wait each). */
  readonly #wokenWaits: Float64Array = new Float64Array(REACTION_SLOTS);
  #nWoken = 0;
  /** A delivery since `beginReactions()` that `reactionsDone` cannot follow. */
  #untracked = false;

  /**
   * Start following what deliveries wake (the event loop calls it at the start of a tick):
   * see {@link EventMux.reactionsDone}.
   */
  beginReactions(): void {
    this.#callsBefore = this.#calls;
    this.#writerWakesBefore = this.#writerWakes;
    const w = this.#woken;
    for (let i = 0; i < this.#nWoken; i++) w[i] = null;
    this.#nWoken = 0;
    this.#untracked = false;
  }

  /**
   * True when every task woken since {@link EventMux.beginReactions} waits on its queue again
   * (one new blocking wait per woken waiter, made after its delivery — a `waitCall` function's
   * wait inside its own delivery does not count): it has reacted to the delivery, and more
   * microtask turns would only wait for nothing. False when a woken queue has not been waited on again, or a
   * delivery went to a listener (its reaction cannot be followed; one marked
   * {@link WaitQueue.listenerSync} has reacted when it returns) or beyond the slots kept.
   */
  get reactionsDone(): boolean {
    if (this.#untracked) return false;
    const w = this.#woken;
    const waits = this.#wokenWaits;
    for (let i = 0; i < this.#nWoken; i++) if (w[i]!.waits < waits[i]) return false;
    return true;
  }

  /**
   * True when a delivery since {@link EventMux.beginReactions} called a
   * {@link WaitQueue.waitCall} function: a tick asked for during the delivery may be that
   * function's own doing (a read's window update), not the application's answer, which is still
   * to come in microtask turns.
   */
  get calledWaiters(): boolean {
    return this.#calls !== this.#callsBefore;
  }
  /** `waitCall` functions this mux's deliveries called (its queues' `calls`, summed). */
  #calls = 0;
  #callsBefore = 0;

  /**
   * True when a delivery since {@link EventMux.beginReactions} woke a task waiting for writable
   * space (a writer whose send buffer was full): the event loop gives such a tick its microtask
   * turns as awaits, not in one drain (bench/README.md, "heap39b").
   */
  get wokeWriters(): boolean {
    return this.#writerWakes !== this.#writerWakesBefore;
  }
  /** Writers this mux's deliveries woke (its queues' `writerWakes`, summed). */
  #writerWakes = 0;
  #writerWakesBefore = 0;

  /** Record that `wq` gained readiness `events` during this tick. */
  notify(wq: WaitQueue, events: number): void {
    this.stats.notifies++;
    wq.pending |= events;
    if (!wq.queued) {
      wq.queued = true;
      const p = this.#pending;
      if (this.#nPending < p.length) p[this.#nPending] = wq;
      else p.push(wq);
      this.#nPending++;
    }
  }

  /** True when deliveries are waiting for the end of the tick. */
  get hasPending(): boolean {
    return this.#nPending > 0;
  }

  /** Deliver everything signalled this tick; returns the number of wait queues woken. */
  fire(): number {
    const p = this.#pending;
    const n = this.#nPending;
    if (n === 0) return 0;
    // Deliveries may notify again (a callback writes, a send frees room): those go to the
    // next round, so iterate over a fixed count and keep the tail.
    for (let i = 0; i < n; i++) {
      const wq = p[i]!;
      const ev = wq.pending;
      wq.pending = 0;
      wq.queued = false;
      this.stats.deliveries++;
      const callsBefore = wq.calls;
      const writersBefore = wq.writerWakes;
      try {
        const woke = wq.deliver(ev);
        this.#calls += wq.calls - callsBefore;
        this.#writerWakes += wq.writerWakes - writersBefore;
        if (
          (wq.listener !== null && !wq.listenerSync) ||
          (woke > 0 && this.#nWoken === REACTION_SLOTS)
        ) {
          if (!this.#untracked) this.stats.reactionsUntracked++;
          this.#untracked = true;
        } else if (woke > 0) {
          const w = this.#woken;
          if (this.#nWoken < w.length) w[this.#nWoken] = wq;
          else w.push(wq);
          // Counted from after the delivery: a wait a woken `waitCall` function made again
          // inside it is that function's next wait, not a sign that it reacted — it may have
          // handed its reaction on to a promise first (settled a read with part of what it
          // wanted, say, and re-armed for the rest), and that reaction is still queued. Such a
          // waiter is followed as a woken promise is: done once its task waits once more.
          this.#wokenWaits[this.#nWoken++] = wq.waits + woke;
        }
      } catch (e) {
        this.#calls += wq.calls - callsBefore;
        this.#writerWakes += wq.writerWakes - writersBefore;
        this.#untracked = true;
        this.stats.listenerErrors++;
        this.onListenerError(e);
      }
    }
    // Move what the deliveries queued meanwhile to the front.
    const total = this.#nPending;
    for (let i = n; i < total; i++) p[i - n] = p[i];
    for (let i = total - n; i < total; i++) p[i] = null;
    this.#nPending = total - n;
    this.stats.signals++;
    if (this.signal !== null) this.signal();
    return n;
  }
}
