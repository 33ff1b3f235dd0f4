/**
 * `pingpong client --connect` on the stack: a crowd of short connections, CONC in flight, each
 * one LEN-byte request, LEN bytes read back, close ({@link ConnectCrowd}).
 *
 * One class drives both the default warm-up's client (through {@link WarmUpCrowd}) and the real
 * run, and every per-connection call is one of its methods or the stack's: no closure is
 * called per connection. With a completion closure per run (the warm-up's and `runConnect`'s)
 * V8 compiled the readiness callback for the warm-up's closure and threw it away at the first
 * real connection ("wrong feedback cell"), and the real run's pacing function, never run in
 * the warm-up, at its first call ("insufficient type feedback"; bench/README.md, `conn9p`).
 *
 * @module
 */

import {
  type Histogram,
  IpAddress,
  latencyHistogram,
  type Stack,
  type TcpConnectOptions,
  type TcpEndpoint,
  type WaitQueue,
  type WarmUpCrowd,
} from "../mod.ts";

/** Reply bytes are read here and dropped: one buffer, used in synchronous steps only. */
const SCRATCH = new Uint8Array(64 * 1024);

/** One connection of a crowd: its endpoint, reply bytes so far, start time. */
class Cycle {
  got = 0;
  constructor(
    readonly crowd: ConnectCrowd,
    readonly ep: TcpEndpoint,
    readonly t0: number,
  ) {}
}

/** Readiness of a crowd's connection: read the reply; once whole (or failed), close. */
function onCycleEvent(_events: number, wq: WaitQueue): void {
  const c = wq.owner as Cycle | null;
  if (c === null) return;
  const crowd = c.crowd;
  const ep = c.ep;
  const len = crowd.msg.length;
  let error: string | null = null;
  try {
    for (;;) {
      const n = ep.read(SCRATCH, 0, Math.min(len - c.got, SCRATCH.length));
      if (n > 0) {
        c.got += n;
        if (c.got < len) continue;
      } else if (n === 0) {
        error = "the server closed the connection";
      } else {
        return; // nothing yet
      }
      break;
    }
  } catch (e) {
    error = (e as Error)?.message ?? String(e);
  }
  wq.owner = null;
  wq.listener = null;
  ep.close();
  crowd.finished(c, error);
}

/**
 * Connect-mode connections to one server on one stack, source addresses in turn: started by
 * {@link ConnectCrowd.run}, CONC at a time, counted and timed (ns, in
 * {@link ConnectCrowd.latencies}) as they end.
 *
 * @example
 * ```ts ignore
 * const crowd = new ConnectCrowd(rt.stack, IpAddress.parse("198.18.0.2"), 7300, [], msg);
 * await crowd.run(1000, 32, Infinity);
 * console.log(crowd.done, crowd.failed);
 * ```
 */
export class ConnectCrowd implements WarmUpCrowd {
  /** Connections that ended well. */
  done = 0;
  /** Connections that failed. */
  failed = 0;
  /** The first failure's reason ("" while none). */
  firstError = "";
  /** Connections started so far (the next one's index). */
  started = 0;
  /** Connection times (ns). */
  readonly latencies: Histogram = latencyHistogram();
  #running = 0;
  #upTo = 0;
  #conc = 1;
  #endMs = 0;
  #stopped = false;
  #resolve: (() => void) | null = null;
  /**
   * The options of every `connect()`, the source address set per call: `connect` reads them and
   * keeps nothing (an object literal per call was ~40 bytes of garbage per connection).
   */
  readonly #connectOpts: TcpConnectOptions = { localAddr: undefined };

  /**
   * A crowd on `stack` to `dst`:`port`, source addresses taken from `addrs` in turn (none:
   * the route's), each connection sending `msg` and reading as many bytes back.
   */
  constructor(
    readonly stack: Stack,
    readonly dst: IpAddress,
    readonly port: number,
    readonly addrs: readonly IpAddress[],
    readonly msg: Uint8Array,
  ) {}

  /**
   * Start connections, `conc` in flight, until `upTo` have been started in all (counting
   * earlier runs), `endMs` (`performance.now()`) has passed or {@link ConnectCrowd.stop};
   * resolves once none is in flight.
   */
  run(upTo: number, conc: number, endMs: number): Promise<void> {
    this.#upTo = upTo;
    this.#conc = conc;
    this.#endMs = endMs;
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#pump(performance.now());
    });
  }

  /** Start no more connections (the ones in flight go on). */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Connection `c` ended: `error` null, or why it failed. One clock read: its end, the
   * pacing test's time and the start of the connection that takes its place.
   */
  finished(c: Cycle, error: string | null): void {
    const now = performance.now();
    if (error === null) {
      this.latencies.record((now - c.t0) * 1e6);
      this.done++;
    } else {
      this.#fail(error);
    }
    this.#running--;
    this.#pump(now);
  }

  #fail(error: string): void {
    this.failed++;
    if (this.firstError === "") this.firstError = error;
  }

  /**
   * Start connections up to the limits; the first at `now` (read by the caller), each further one
   * at a clock read of its own, so a batch's later connections (the first `conc` of a run, say)
   * are not timed from the batch's start. One clock read per connection started either way.
   */
  #pump(now: number): void {
    let fresh = true;
    while (this.#running < this.#conc && this.started < this.#upTo && !this.#stopped) {
      // Also after a connect() that threw (it starts nothing and moves nothing on): a run whose
      // connects keep failing (the ephemeral range used up) still ends at -t.
      if (!fresh) now = performance.now();
      fresh = false;
      if (now >= this.#endMs) break;
      this.#start(this.started++, now);
    }
    if (this.#running === 0 && this.#resolve !== null) {
      const resolve = this.#resolve;
      this.#resolve = null;
      queueMicrotask(resolve); // never from inside the stack's tick
    }
  }

  /** Start connection `i` at `t0`; false when `connect()` refused it (counted as failed). */
  #start(i: number, t0: number): boolean {
    const addrs = this.addrs;
    let ep: TcpEndpoint;
    try {
      const opts = this.#connectOpts;
      opts.localAddr = addrs.length > 0 ? addrs[i % addrs.length] : undefined;
      ep = this.stack.tcp.connect(this.dst, this.port, opts);
      ep.setNoDelay(true);
    } catch (e) {
      this.#fail((e as Error)?.message ?? String(e));
      return false;
    }
    this.#running++;
    ep.write(this.msg, 0, this.msg.length); // sent with the handshake's ACK
    ep.wq.owner = new Cycle(this, ep, t0);
    ep.wq.listener = onCycleEvent;
    this.stack.requestTick();
    return true;
  }
}

/** A crowd for `rt`-like stacks: source addresses of `dst`'s family from `cidrs` ("a/len"). */
export function connectCrowd(
  stack: Stack,
  host: string,
  port: number,
  cidrs: readonly string[],
  msg: Uint8Array,
): ConnectCrowd {
  const dst = IpAddress.parse(host);
  const addrs = cidrs.map((a) => IpAddress.parse(a.split("/")[0]))
    .filter((a) => a.family === dst.family);
  return new ConnectCrowd(stack, dst, port, addrs, msg);
}
