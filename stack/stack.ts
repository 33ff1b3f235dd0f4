/**
 * The stack: NICs, the protocol layers, buffer pool, timers and the readiness mux, driven one
 * `tick()` at a time. `tick()` never blocks and never touches the kernel except through the
 * drivers, so tests drive it by hand with a virtual clock; `stack/event_loop.ts` drives it for
 * real.
 *
 * @module
 */

import type { LinkDriver } from "../link/driver.ts";
import { type IcmpOptions, Icmpv4Layer } from "../net/icmpv4.ts";
import { Ipv4Layer, type Ipv4Options } from "../net/ipv4.ts";
import { Ipv6Layer, type Ipv6Options } from "../net/ipv6.ts";
import { Icmpv6Layer, type Icmpv6Options } from "../net/icmpv6.ts";
import { NdpInput } from "../net/ndp.ts";
import { PathMtuCache, type PathMtuOptions } from "../net/path_mtu.ts";
import { TokenBucket } from "../core/token_bucket.ts";
import { Ipv4Network } from "../net/ipv4_network.ts";
import { IpNetworks } from "../net/ip_networks.ts";
import { RouterDiscovery, type RouterDiscoveryOptions } from "../net/router_discovery.ts";
import { UdpLayer, type UdpOptions } from "../transport/udp.ts";
import { TcpLayer, type TcpOptions } from "../transport/tcp/tcp_layer.ts";
import { type Clock, MonotonicClock, type MonotonicSource } from "../core/clock.ts";
import { LibcMonotonicTime } from "../ffi/monotonic_time.ts";
import { OutputQueue, type OutputSource } from "../core/output_queue.ts";
import { EventMux } from "../core/event_mux.ts";
import { Nic, type NicReceiver } from "./nic.ts";
import { BufferPool, HEADROOM_BYTES } from "../core/packet_buffer.ts";
import { RingStoragePool } from "../core/ring_storage.ts";
import { SocketRegistry } from "./socket_registry.ts";
import { StackStats } from "./stats.ts";
import { TimerWheel } from "../core/timer_wheel.ts";

/**
 * The default clock's source: libc's `clock_gettime` where FFI is allowed (no heap number per
 * read, see `ffi/monotonic_time.ts`), else none (`performance.now()`; asked, never prompted).
 */
function libcTime(): MonotonicSource | null {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    return new LibcMonotonicTime();
  } catch {
    return null;
  }
}

/** Options of a stack. Every field has a default. */
export interface StackOptions {
  /** Time source [a MonotonicClock, reading libc's `clock_gettime` where FFI is allowed]. */
  clock?: Clock;
  /** Packet buffers in the pool [512]. */
  poolBuffers?: number;
  /**
   * Bytes per packet buffer [headroom + 65 536 + 64: room for the largest datagram, which is
   * fragmented on the way out, and for 64 KB offload super-segments]. Memory is committed by
   * the OS only as buffers are touched.
   */
  bufferBytes?: number;
  /** Frames received per NIC per tick [64]. */
  rxBatch?: number;
  /**
   * Sockets that produce output per tick [1024]; more wait for the next tick, so a crowd
   * sending at once (a million FINs) is spread over ticks.
   */
  outputBatch?: number;
  /** IPv4 options. */
  ipv4?: Ipv4Options;
  /** ICMP options. */
  icmp?: IcmpOptions;
  /** IPv6 options. */
  ipv6?: Ipv6Options;
  /** The path MTU cache both families share [`ipv6.pathMtu`, else the defaults]. */
  pathMtu?: PathMtuOptions;
  /** ICMPv6 options. */
  icmp6?: Icmpv6Options;
  /** Router discovery and SLAAC (off unless `enabled`). */
  routerDiscovery?: RouterDiscoveryOptions;
  /**
   * Random source in [0, 1) for protocol timers that RFCs randomise (DAD, MLD, router
   * solicitation delays, ReachableTime); a seeded one makes simulations reproducible
   * [Math.random].
   */
  random?: () => number;
  /** UDP options. */
  udp?: UdpOptions;
  /** TCP options. */
  tcp?: TcpOptions;
  /**
   * Connections expected at once [1024]: sizes the TCP flow table up front and, with
   * `prewarm`, the socket-buffer storage made ready before the first connection. Not a limit.
   */
  maxConnections?: number;
  /**
   * Make pools ready before traffic arrives [false]: the flow table is sized for
   * `maxConnections` anyway; this also puts one smallest buffer chunk per expected
   * connection (up to the warm bound) on the socket-buffer free list. The code paths of a
   * connection are warmed separately, before the stack starts: `warmUpConnections`
   * (`stack/conn_warm_up.ts`, the CLI's `--prewarm N`).
   */
  prewarm?: boolean;
  /**
   * Bytes of socket-buffer storage kept for reuse when connections give it back [64 MiB];
   * beyond it, storage goes back to the system so the process shrinks after a crowd leaves.
   */
  bufferWarmBytes?: number;
}

/**
 * A user-space TCP/IP stack instance.
 *
 * @example
 * ```ts ignore
 * const stack = new Stack({ clock: new VirtualClock() });
 * const nic = stack.addNic(driver);
 * stack.ipv4.addAddress(nic.index, parseIpv4("198.18.0.2"), 24);
 * stack.tick();
 * ```
 */
export class Stack {
  /** Time source. */
  readonly clock: Clock;
  /** Timers of every layer. */
  readonly timers: TimerWheel;
  /** Packet buffers for everything the stack sends. */
  readonly pool: BufferPool;
  /** Storage of socket send and receive buffers, taken on first data, given back when empty. */
  readonly rings: RingStoragePool;
  /** Counters. */
  readonly stats: StackStats = new StackStats();
  /** Readiness multiplexer. */
  readonly mux: EventMux = new EventMux();
  /** IPv4, ARP and routing. */
  readonly ipv4: Ipv4Layer;
  /** ICMPv4. */
  readonly icmp: Icmpv4Layer;
  /** IPv6, NDP, MLD, addresses and routes. */
  readonly ipv6: Ipv6Layer;
  /** ICMPv6. */
  readonly icmp6: Icmpv6Layer;
  /** Path MTU per destination, for both families (RFC 1191, RFC 8201). */
  readonly pmtu: PathMtuCache;
  /** Router discovery and SLAAC. */
  readonly routerDiscovery: RouterDiscovery;
  /** Both network layers as the transports see them. */
  readonly networks: IpNetworks;
  /** UDP. */
  readonly udp: UdpLayer;
  /** TCP. */
  readonly tcp: TcpLayer;
  /** Sockets opened through the stack's APIs, for `ss`-style listings. */
  readonly registry: SocketRegistry = new SocketRegistry();
  /** Attached NICs, by index − 1. */
  readonly nics: Nic[] = [];
  /** Ticks run. */
  ticks = 0;
  /**
   * Flushes of output made inside a tick's microtask turns ({@link Stack.written}): each time
   * the application had written `flushAfterBytes` since the last.
   */
  writeFlushes = 0;
  /**
   * While above 0, {@link Stack.written} sends the output queued so far at once (a TX flush)
   * each time the application has written this many bytes: set by the event loop around the
   * microtask turns it runs dry from a turn's callback, 0 everywhere else.
   */
  flushAfterBytes = 0;
  /** Bytes written since {@link Stack.flushAfterBytes} was set or since the last such flush. */
  #writtenSinceFlush = 0;
  readonly #rxBatch: number;
  readonly #outputBatch: number;
  readonly #output: OutputQueue = new OutputQueue();
  readonly #receiver: NicReceiver;
  #waker: (() => void) | null = null;
  #tickRequested = false;
  #closed = false;

  /** Build a stack with no NICs. */
  constructor(opts: StackOptions = {}) {
    this.clock = opts.clock ?? new MonotonicClock(libcTime());
    this.timers = new TimerWheel({ startMs: this.clock.nowMs() });
    this.pool = new BufferPool({
      count: opts.poolBuffers ?? 512,
      bufferBytes: opts.bufferBytes ?? HEADROOM_BYTES + 65536 + 64,
    });
    this.rings = new RingStoragePool({ warmBytes: opts.bufferWarmBytes });
    const maxConnections = opts.maxConnections ?? opts.tcp?.maxConnections ?? 1024;
    if (opts.prewarm === true) this.rings.prewarm(2 * maxConnections);
    this.#rxBatch = opts.rxBatch ?? 64;
    this.#outputBatch = opts.outputBatch ?? 1024;
    this.pmtu = new PathMtuCache(
      this.clock,
      opts.pathMtu ?? opts.ipv6?.pathMtu ?? opts.ipv4?.pathMtu,
      this.stats.pmtu,
    );
    // One rate limit for the errors of both families, as Linux's icmp_global.
    const limiter = new TokenBucket(
      this.clock,
      opts.icmp?.errorsPerSecond ?? opts.icmp6?.errorsPerSecond ?? 1000,
      opts.icmp?.errorBurst ?? opts.icmp6?.errorBurst ?? 50,
    );
    this.ipv4 = new Ipv4Layer(this.pool, this.timers, this.clock, this.stats, {
      ...opts.ipv4,
      pathMtuCache: this.pmtu,
    });
    this.icmp = new Icmpv4Layer(this.ipv4, this.pool, this.clock, this.stats.icmp, {
      limiter,
      ...opts.icmp,
    });
    const random = opts.random ?? Math.random;
    this.ipv6 = new Ipv6Layer(this.pool, this.timers, this.clock, this.stats, {
      random,
      ...opts.ipv6,
      pathMtuCache: this.pmtu,
    });
    this.routerDiscovery = new RouterDiscovery(
      this.ipv6,
      this.timers,
      this.clock,
      this.stats.ndp,
      { random, ...opts.routerDiscovery },
    );
    this.icmp6 = new Icmpv6Layer(
      this.ipv6,
      new NdpInput(this.ipv6, this.routerDiscovery, this.stats.ndp),
      this.pool,
      this.clock,
      this.stats.icmp6,
      { limiter, ...opts.icmp6 },
    );
    this.networks = new IpNetworks(new Ipv4Network(this.ipv4, this.icmp), this.ipv6);
    this.udp = new UdpLayer(this, opts.udp);
    this.tcp = new TcpLayer(this, { maxConnections, ...opts.tcp });
    const ipv4 = this.ipv4;
    const ipv6 = this.ipv6;
    this.#receiver = {
      receiveArp: (nic, buf, off, len) => ipv4.arp(nic).receive(buf, off, len),
      receiveIpv4: (nic, buf, off, len, flags) => ipv4.receive(nic, buf, off, len, flags),
      receiveIpv6: (nic, buf, off, len, flags) => ipv6.receive(nic, buf, off, len, flags),
    };
  }

  /** Attach a driver as a new NIC. Its MTU must fit the pool's buffers. */
  addNic(driver: LinkDriver): Nic {
    if (driver.mtu + 14 + 160 > this.pool.bufferBytes) {
      throw Object.assign(
        new RangeError(
          `MTU ${driver.mtu} does not fit packet buffers of ${this.pool.bufferBytes} bytes`,
        ),
        { code: "EINVAL" },
      );
    }
    const nic = new Nic(
      this.nics.length + 1,
      driver,
      this.pool,
      this.stats.link,
      this.#receiver,
      this.#rxBatch,
    );
    this.nics.push(nic);
    this.ipv4.attachLink(nic);
    this.ipv6.attachLink(nic);
    return nic;
  }

  /** The NIC with `index`, or undefined. */
  nic(index: number): Nic | undefined {
    return this.nics[index - 1];
  }

  /**
   * Queue `src` to produce output at the end of this (or the next) tick, and make sure a tick
   * comes: this is how API calls made outside a tick get their packets sent.
   */
  scheduleOutput(src: OutputSource): void {
    this.#output.add(src);
    this.requestTick();
  }

  /**
   * The application put `bytes` into a send buffer (`TcpConn.write`). While
   * {@link Stack.flushAfterBytes} is set — a tick's microtask turns run dry from the event
   * loop's turn callback, between the tick's halves — every `flushAfterBytes` of them the output
   * queued so far is produced and the drivers flushed (the TX kick, handed to a kicker thread
   * where the driver has one), so the wire gets the start of a bulk writer's refill while the
   * writer copies the rest, as it did when the loop awaited the turns and stopped after
   * sixteen (bench/README.md, "loop40"). Readiness it raises waits for the tick's transmit half.
   */
  written(bytes: number): void {
    // Every operand read and compared on every call (V8's type feedback: see EventLoop).
    const every = this.flushAfterBytes;
    const since = this.#writtenSinceFlush + bytes;
    const on = every > 0;
    const due = since >= every;
    const closed = this.#closed;
    const flush = on && due && !closed;
    this.#writtenSinceFlush = flush ? 0 : since;
    if (!flush) return;
    this.writeFlushes++;
    this.transmitOutput();
    const nics = this.nics;
    for (let i = 0; i < nics.length; i++) nics[i].driver.flush();
  }

  /**
   * Set {@link Stack.flushAfterBytes} (0: off) and start its count afresh: the event loop's
   * call around the microtask turns it runs from a turn's callback.
   */
  flushWrites(bytes: number): void {
    this.flushAfterBytes = bytes;
    this.#writtenSinceFlush = 0;
  }

  /** Ask the event loop for a tick soon (wakes it if parked). */
  requestTick(): void {
    if (this.#tickRequested) return;
    this.#tickRequested = true;
    if (this.#waker !== null) this.#waker();
  }

  /** True if a tick was requested since the last one began. */
  get tickRequested(): boolean {
    return this.#tickRequested;
  }

  /** Installed by the event loop: how to wake it from an idle wait. */
  setWaker(waker: (() => void) | null): void {
    this.#waker = waker;
  }

  /**
   * One turn of the loop: {@link Stack.receive} then {@link Stack.transmit}. Returns the
   * number of frames received.
   */
  tick(): number {
    const frames = this.receive();
    this.transmit();
    return frames;
  }

  /**
   * The first half of a tick: drain one RX batch per NIC, run due timers, deliver readiness
   * (socket listeners run now). What the application writes in answer — in a listener, or in
   * code an event loop runs before {@link Stack.transmit} — leaves in the same tick, carrying
   * the ACKs owed (one segment instead of two). Returns the number of frames received.
   * `nowMs`, when given, is the time the caller just read from {@link Stack.clock}: the tick
   * takes it instead of reading the clock again (an event loop has it at hand); `true` says
   * the same without passing the number (`Clock.beginTickAtLast`; a clock without it reads
   * the time).
   */
  receive(nowMs?: number | true): number {
    if (this.#closed) return 0;
    this.ticks++;
    this.#tickRequested = false;
    const clock = this.clock;
    if (nowMs !== true) clock.beginTick?.(nowMs);
    else if (clock.beginTickAtLast !== undefined) clock.beginTickAtLast();
    else clock.beginTick?.();
    let frames = 0;
    const nics = this.nics;
    for (let i = 0; i < nics.length; i++) frames += nics[i].poll();
    if (this.ipv4.hasLocalPending) frames += this.ipv4.deliverLocal();
    if (this.ipv6.hasLocalPending) frames += this.ipv6.deliverLocal();
    this.timers.advanceTo(clock);
    clock.endTick?.();
    // Output the protocols queued while receiving (an ACK that moved SND.UNA, an ACK owed)
    // leaves in this tick's transmit: only requests from here on — the application's reaction
    // to the readiness fired now — say that it has answered (the event loop stops waiting for
    // it then, see EventLoop's microtask turns).
    this.#tickRequested = false;
    this.mux.fire();
    return frames;
  }

  /**
   * The second half of a tick: produce queued output (at most `outputBatch` sockets), flush
   * every driver once, deliver readiness raised meanwhile.
   */
  transmit(): void {
    this.transmitOutput();
    this.transmitFlush();
  }

  /**
   * {@link Stack.transmit}'s first part: produce queued output (at most `outputBatch` sockets)
   * into the drivers. A traced loop calls the two parts itself to time the flush apart.
   */
  transmitOutput(): void {
    if (this.#closed) return;
    this.#tickRequested = false;
    const clock = this.clock;
    clock.beginTick?.();
    this.#output.flush(this.#outputBatch);
    clock.endTick?.();
  }

  /**
   * {@link Stack.transmit}'s second part: flush every driver once (the TX kick), deliver
   * readiness raised meanwhile.
   */
  transmitFlush(): void {
    if (this.#closed) return;
    const nics = this.nics;
    for (let i = 0; i < nics.length; i++) nics[i].driver.flush();
    this.mux.fire();
  }

  /** True when output or readiness is waiting, so the loop should tick again without waiting. */
  get hasPendingWork(): boolean {
    return this.#output.length > 0 || this.mux.hasPending || this.#tickRequested ||
      this.ipv4.hasLocalPending || this.ipv6.hasLocalPending;
  }

  /** Earliest timer deadline (ms), Infinity if none. */
  nextDeadlineMs(): number {
    return this.timers.nextDeadlineMs();
  }

  /** Close every driver. The stack is unusable afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const nic of this.nics) nic.driver.close();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }
}
