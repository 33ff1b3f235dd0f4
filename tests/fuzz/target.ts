/**
 * The fuzzed host: a real {@link Stack} on a {@link FuzzDriver} with a virtual clock, at
 * 198.18.0.2/24 with a default gateway, running small applications through the socket API so
 * every layer has state to break: a UDP echo (port 7), a TCP echo (80), a TCP discard with a
 * tiny receive buffer (9), a listener nobody accepts from (81), connections opened to the
 * peers now and then, and sockets poked with options, shutdowns and aborts.
 *
 * Everything the host does is a function of its seed and the frames it is given: its own
 * randomness (TCP ISN secret, IP identification seed, hash keys) is drawn from a seeded
 * generator while the stack is built, so a run can be replayed exactly.
 *
 * Escapes are counted here: an exception out of `tick()` or out of a socket call that is not
 * a {@link StackError}, and every `link.InInternalErrors` (a bug hit by one frame that the NIC
 * caught). Leaks are measured by {@link FuzzTarget.drain}: everything closed and every timer
 * run out, the pool must have every buffer back.
 *
 * @module
 */

import { VirtualClock } from "../../core/clock.ts";
import { StackError } from "../../core/errors.ts";
import { SeededRandom } from "../../core/random.ts";
import { Stack } from "../../stack/stack.ts";
import {
  AF_INET,
  IPPROTO_TCP,
  POLLERR,
  POLLHUP,
  POLLIN,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_SNDBUF,
  SOCK_DGRAM,
  SOCK_STREAM,
  SocketTable,
  SOL_SOCKET,
  TCP_CORK,
  TCP_NODELAY,
} from "../../stack/socket.ts";
import type { TargetConfig } from "./corpus.ts";
import { FuzzDriver } from "./fuzz_driver.ts";
import { GATEWAY_IP, STACK_IP } from "./frames.ts";

/** What went wrong, once per escape. */
export interface Escape {
  /** Where: "tick", "socket", "link" (caught by the NIC), "drain". */
  where: string;
  /** The error's first line. */
  message: string;
}

/** Most descriptors the applications hold. */
const MAX_FDS = 24;
/** Virtual time a drain may take: longer than every timeout (TIME-WAIT, retries, ARP). */
const DRAIN_MS = 4 * 3600_000;

/** Fill typed arrays from a seeded generator instead of the OS (only while building). */
function withSeededRandom<T>(seed: number, fn: () => T): T {
  const rng = new SeededRandom(seed);
  const original = crypto.getRandomValues;
  const seeded = <A extends ArrayBufferView | null>(a: A): A => {
    if (a !== null) {
      const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (let i = 0; i < b.length; i++) b[i] = rng.nextInt(256);
    }
    return a;
  };
  crypto.getRandomValues = seeded as typeof crypto.getRandomValues;
  try {
    return fn();
  } finally {
    crypto.getRandomValues = original;
  }
}

/** The fuzzed host. */
export class FuzzTarget {
  /** Its configuration. */
  readonly config: TargetConfig;
  /** Virtual time. */
  readonly clock: VirtualClock = new VirtualClock(1_000_000);
  /** The stack. */
  readonly stack: Stack;
  /** Its link. */
  readonly driver: FuzzDriver;
  /** The applications' sockets. */
  readonly sockets: SocketTable;
  /** Escapes so far (the first few are kept in {@link FuzzTarget.escapes}). */
  escapeCount = 0;
  /** The first escapes, with their messages. */
  readonly escapes: Escape[] = [];
  readonly #rng: SeededRandom;
  readonly #stackRng: SeededRandom;
  readonly #conns: number[] = [];
  readonly #echo = new Set<number>();
  readonly #listeners: number[] = [];
  readonly #buf = new Uint8Array(65536);
  readonly #burst = Uint8Array.from({ length: 20000 }, (_, i) => (i * 13) & 0xff);
  #udp = -1;
  #udpConnected = -1;
  #internalSeen = 0;
  #lastReport: unknown = undefined;
  #nextPort = 20000;

  /** Build the host and start its applications. */
  constructor(config: TargetConfig) {
    this.config = config;
    this.#rng = new SeededRandom(config.seed ^ 0x5eed);
    this.#stackRng = new SeededRandom(config.seed ^ 0x6);
    this.driver = new FuzzDriver(config.mtu, config.offloads);
    const small = config.small === true;
    const plain = config.plainTcp === true;
    this.stack = withSeededRandom(config.seed, () =>
      new Stack({
        clock: this.clock,
        // IPv6's randomised timers (DAD, MLD) and DAD nonces, from the seed too.
        random: () => this.#stackRng.nextFloat(),
        poolBuffers: 48,
        rxBatch: 32,
        ipv4: small
          ? {
            reassembly: { maxBytes: 1, maxBytesPerSource: 1 },
            arp: { maxEntries: 8, queuePerEntry: 2 },
            localQueue: 4,
          }
          : {},
        udp: small ? { maxQueuedDatagrams: 4, receiveBufferBytes: 4096 } : {},
        tcp: {
          isnSecret: Uint32Array.of(config.seed, 1, 2, 3),
          ...(small ? { ooqMaxRanges: 2, sendBufferBytes: 8192, receiveBufferBytes: 8192 } : {}),
          ...(plain ? { timestamps: false, sack: false, windowScaling: false } : {}),
        },
      }));
    const nic = this.stack.addNic(this.driver);
    this.stack.ipv4.addAddress(nic.index, STACK_IP, 24);
    this.stack.ipv4.setDefaultGateway(GATEWAY_IP);
    this.sockets = new SocketTable(this.stack, MAX_FDS);
    this.#guard("socket", () => this.#start());
    if (config.plant !== undefined) plantFlaw(this.stack, config.plant);
  }

  #start(): void {
    const s = this.sockets;
    this.#udp = s.socket(AF_INET, SOCK_DGRAM);
    s.bind(this.#udp, "0.0.0.0", 7);
    // A connected socket: ICMP errors about its datagrams come back to it as errors.
    this.#udpConnected = s.socket(AF_INET, SOCK_DGRAM);
    s.connect(this.#udpConnected, "198.18.0.1", 9);
    for (const [port, backlog, rcvbuf] of [[80, 4, 0], [9, 4, 2048], [81, 2, 0]]) {
      const fd = s.socket(AF_INET, SOCK_STREAM);
      if (rcvbuf > 0) s.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
      s.bind(fd, "0.0.0.0", port);
      s.listen(fd, backlog);
      if (port !== 81) this.#listeners.push(fd);
      if (port === 80) this.#echo.add(fd);
    }
  }

  /** Run `fn`; a StackError is an expected answer, anything else an escape. */
  #guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof StackError) return;
      this.#escape(where, e);
    }
  }

  #escape(where: string, e: unknown): void {
    this.escapeCount++;
    if (this.escapes.length < 8) {
      const text = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.escapes.push({ where, message: text.split("\n").slice(0, 4).join(" | ") });
    }
  }

  /** Let `ms` pass, run one tick (the queued frames), then the applications. */
  step(ms: number): void {
    if (ms > 0) this.clock.advance(ms);
    this.#tick("tick");
    this.#guard("socket", () => this.#apps());
  }

  /**
   * One tick; what it throws is an escape, and so is every bug the NIC caught
   * (`link.InInternalErrors`) — its report to console.error is taken as the message.
   */
  #tick(where: string): void {
    const print = console.error;
    console.error = (...args: unknown[]) => (this.#lastReport = args.at(-1));
    try {
      this.stack.tick();
    } catch (e) {
      this.#escape(where, e);
    } finally {
      console.error = print;
    }
    const caught = this.stack.stats.link.InInternalErrors;
    while (this.#internalSeen < caught) {
      this.#internalSeen++;
      const report = this.#lastReport ??
        new Error("a frame hit a bug the NIC caught (link.InInternalErrors)");
      this.#escape("link", report);
    }
    this.#lastReport = undefined;
  }

  /** One round of every application. */
  #apps(): void {
    const s = this.sockets;
    const rng = this.#rng;
    // UDP echo.
    for (let i = 0; i < 8 && (s.poll(this.#udp, POLLIN) & POLLIN) !== 0; i++) {
      const r = s.recvfrom(this.#udp, this.#buf);
      this.#guard(
        "socket",
        () => s.sendto(this.#udp, this.#buf.subarray(0, r.bytes), r.addr, r.port),
      );
    }
    for (const l of this.#listeners) {
      while (this.#conns.length < MAX_FDS - 6 && (s.poll(l, POLLIN) & POLLIN) !== 0) {
        const fd = s.accept(l);
        this.#conns.push(fd);
        if (this.#echo.has(l)) this.#echo.add(fd);
      }
    }
    for (let i = this.#conns.length - 1; i >= 0; i--) {
      const fd = this.#conns[i];
      this.#guard("socket", () => this.#serve(fd));
    }
    if (rng.chance(0.002)) this.#guard("socket", () => this.#connectOut());
    if (rng.chance(0.003)) this.#guard("socket", () => this.#sendOut());
    if ((s.poll(this.#udpConnected, POLLIN) & (POLLIN | POLLERR)) !== 0) {
      this.#guard("socket", () => s.read(this.#udpConnected, this.#buf));
    }
  }

  /**
   * A datagram to some peer (ARP resolution, the neighbour queue, ICMP errors back), to
   * ourselves (local delivery), or on the connected socket.
   */
  #sendOut(): void {
    const s = this.sockets;
    const rng = this.#rng;
    const r = rng.nextInt(10);
    const data = this.#burst.subarray(0, rng.nextInt(rng.chance(0.9) ? 3000 : 20000));
    if (r === 9) s.write(this.#udpConnected, data);
    else if (r >= 7) s.sendto(this.#udp, data, "198.18.0.2", r === 8 ? 7 : 9);
    else s.sendto(this.#udp, data, r < 5 ? `198.18.0.${1 + rng.nextInt(254)}` : "203.0.113.9", 9);
  }

  /** Serve one connection: echo or discard, follow EOF and errors, poke it now and then. */
  #serve(fd: number): void {
    const s = this.sockets;
    const rng = this.#rng;
    const ev = s.poll(fd, POLLIN);
    if ((ev & (POLLERR | POLLHUP)) !== 0) return this.#close(fd);
    if ((ev & POLLIN) !== 0) {
      const n = s.read(fd, this.#buf);
      if (n === 0) return this.#close(fd);
      if (this.#echo.has(fd)) s.write(fd, this.#buf.subarray(0, n));
    }
    if (!rng.chance(0.01)) return;
    switch (rng.nextInt(8)) {
      case 0:
        s.write(fd, this.#burst.subarray(0, 1 + rng.nextInt(this.#burst.length)));
        break;
      case 1:
        s.shutdown(fd, SHUT_WR);
        break;
      case 2:
        s.setsockopt(fd, SOL_SOCKET, SO_LINGER, 0);
        return this.#close(fd);
      case 3:
        return this.#close(fd);
      case 4:
        s.setsockopt(fd, IPPROTO_TCP, rng.chance(0.5) ? TCP_NODELAY : TCP_CORK, rng.chance(0.5));
        break;
      case 5:
        s.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, true);
        break;
      case 6:
        s.setsockopt(
          fd,
          SOL_SOCKET,
          rng.chance(0.5) ? SO_SNDBUF : SO_RCVBUF,
          1 + rng.nextInt(70000),
        );
        break;
      default:
        s.getsockopt(fd, SOL_SOCKET, SO_RCVBUF);
    }
  }

  #close(fd: number): void {
    const i = this.#conns.indexOf(fd);
    if (i >= 0) this.#conns.splice(i, 1);
    this.#echo.delete(fd);
    this.sockets.close(fd);
  }

  /** Open a connection to a peer (on-link, or off-link through the gateway). */
  #connectOut(): void {
    if (this.#conns.length >= MAX_FDS - 6) return;
    const s = this.sockets;
    const rng = this.#rng;
    const fd = s.socket(AF_INET, SOCK_STREAM);
    this.#conns.push(fd);
    if (rng.chance(0.5)) this.#echo.add(fd);
    // A port of our choosing: the ephemeral port picker uses Math.random (not replayable).
    this.#nextPort = this.#nextPort >= 60000 ? 20000 : this.#nextPort + 1;
    s.bind(fd, "0.0.0.0", this.#nextPort);
    const r = rng.nextInt(10);
    if (r === 9) return s.connect(fd, "198.18.0.2", 80); // ourselves: local delivery
    const host = r < 7 ? "198.18.0.1" : `198.18.${1 + rng.nextInt(200)}.7`;
    s.connect(fd, host, rng.chance(0.7) ? 5000 : 1 + rng.nextInt(65535));
  }

  /**
   * Close everything (gracefully or with a RST), let virtual time run past every timeout,
   * and return how many packet buffers are still out (leaked).
   */
  drain(): number {
    const s = this.sockets;
    this.#guard("drain", () => {
      for (const fd of this.#conns) {
        if (this.#rng.chance(0.5)) s.setsockopt(fd, SOL_SOCKET, SO_LINGER, 0);
      }
      s.closeAll();
    });
    this.#conns.length = 0;
    this.#echo.clear();
    this.#listeners.length = 0;
    const end = this.clock.nowMs() + DRAIN_MS;
    for (let rounds = 0; rounds < 100_000; rounds++) {
      this.#tick("drain");
      if (this.stack.hasPendingWork) continue;
      const next = Math.ceil(this.stack.nextDeadlineMs());
      if (!(next <= end)) break;
      if (next > this.clock.nowMs()) this.clock.set(next);
    }
    this.clock.set(Math.max(this.clock.nowMs(), end));
    this.#tick("drain");
    return this.stack.pool.inUse;
  }

  /** Release the host. */
  close(): void {
    this.stack.close();
  }
}

/**
 * Self-test of the harness: a handler of IP protocol 253 (RFC 3692's experimental number)
 * that throws on a datagram with payload ("escape"), or keeps a packet buffer it never returns
 * ("leak"). The fuzzer must report both.
 */
function plantFlaw(stack: Stack, kind: "escape" | "leak"): void {
  stack.ipv4.registerProtocol(253, {
    receive(_meta, _buf, _off, len) {
      if (len < 1) return;
      if (kind === "escape") throw new Error("planted flaw: IP protocol 253");
      stack.pool.alloc(0);
    },
    receiveError() {},
  });
}
