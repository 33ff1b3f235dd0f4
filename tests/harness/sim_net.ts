/**
 * A simulated two-host network for TCP tests: two {@link Stack}s on one {@link SimWire}
 * sharing a {@link VirtualClock}, at 198.18.0.1/24 ("a") and 198.18.0.2/24 ("b"), each with a
 * {@link TcpLayer}. {@link SimNet.run} ticks both stacks and jumps the clock to the next timer
 * or wire event, until a condition holds or a virtual-time bound passes.
 *
 * @module
 */

import { SimWire, type SimWireOptions } from "../../link/sim_wire.ts";
import { type IpAddr, IpAddress } from "../../net/ip_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import { Stack, type StackOptions } from "../../stack/stack.ts";
import { SeededRandom } from "../../core/random.ts";
import type { SimEndpoint } from "../../link/sim_wire.ts";
import type { TcpLayer, TcpOptions } from "../../transport/tcp/tcp_layer.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { TcpState } from "../../transport/tcp/state.ts";

/** Address of host a. */
export const ADDR_A: IpAddress = IpAddress.parse("198.18.0.1");
/** Address of host b. */
export const ADDR_B: IpAddress = IpAddress.parse("198.18.0.2");

/** Rounds `run` may spin without virtual time passing before it calls it a livelock. */
const MAX_ROUNDS_WITHOUT_TIME = 100_000;

/** Options of {@link makeSimNet}. */
export interface SimNetOptions {
  /** Wire faults and seed (the clock is provided). */
  wire?: Omit<SimWireOptions, "clock">;
  /** TCP options of both hosts (overridden per host by `tcpA`/`tcpB`). */
  tcp?: TcpOptions;
  /** TCP options of host a. */
  tcpA?: TcpOptions;
  /** TCP options of host b. */
  tcpB?: TcpOptions;
  /** Link MTU [1500]. */
  mtu?: number;
  /** Packet buffers per stack [4096]. */
  poolBuffers?: number;
  /** Further options of both stacks (a seeded `random` is the default). */
  stack?: StackOptions;
  /** Host a's IPv4 address [{@link ADDR_A}]; a /24 with `addrB`. */
  addrA?: IpAddress;
  /** Host b's IPv4 address [{@link ADDR_B}]. */
  addrB?: IpAddress;
}

/** The simulated network. */
export interface SimNet {
  /** Shared virtual clock. */
  clock: VirtualClock;
  /** The wire. */
  wire: SimWire;
  /** Host a's stack. */
  a: Stack;
  /** Host b's stack. */
  b: Stack;
  /** Host a's wire port. */
  portA: SimEndpoint;
  /** Host b's wire port. */
  portB: SimEndpoint;
  /** Host a's TCP. */
  tcpA: TcpLayer;
  /** Host b's TCP. */
  tcpB: TcpLayer;
  /** Host a's IPv4 address. */
  addrA: IpAddress;
  /** Host b's IPv4 address. */
  addrB: IpAddress;
  /**
   * Tick both stacks, calling `until` after each round, advancing the clock to the next
   * event whenever both are idle. Returns true when `until()` held, false when `maxVirtualMs`
   * of virtual time passed (or nothing at all is left to happen).
   */
  run(until: () => boolean, maxVirtualMs: number): boolean;
  /** Let `ms` of virtual time pass, processing everything that happens. */
  advance(ms: number): void;
}

/**
 * Build the two-host network.
 *
 * @example
 * ```ts ignore
 * const net = makeSimNet({ wire: { seed: 3, lossRate: 0.02 } });
 * const l = net.tcpB.listen(null, 80, 8);
 * const c = net.tcpA.connect(ADDR_B, 80);
 * net.run(() => c.state === TcpState.ESTABLISHED, 5000);
 * ```
 */
export function makeSimNet(opts: SimNetOptions = {}): SimNet {
  const clock = new VirtualClock(1_000_000);
  const wire = new SimWire({ clock, ...opts.wire });
  const mtu = opts.mtu ?? 1500;
  const portA = wire.endpoint("a0", new Uint8Array([2, 0, 0, 0, 0, 0xa]), mtu);
  const portB = wire.endpoint("b0", new Uint8Array([2, 0, 0, 0, 0, 0xb]), mtu);
  const pool = opts.poolBuffers ?? 4096;
  // Seeded, so the IPv6 start-up traffic (DAD, MLD) is the same in every run.
  const rngA = new SeededRandom(opts.wire?.seed ?? 1);
  const rngB = new SeededRandom((opts.wire?.seed ?? 1) + 1000);
  const a = new Stack({
    clock,
    poolBuffers: pool,
    random: () => rngA.nextFloat(),
    ...opts.stack,
    tcp: { ...opts.tcp, ...opts.tcpA },
  });
  const b = new Stack({
    clock,
    poolBuffers: pool,
    random: () => rngB.nextFloat(),
    ...opts.stack,
    tcp: { ...opts.tcp, ...opts.tcpB },
  });
  const nicA = a.addNic(portA);
  const nicB = b.addNic(portB);
  const addrA = opts.addrA ?? ADDR_A;
  const addrB = opts.addrB ?? ADDR_B;
  a.ipv4.addAddress(nicA.index, addrA.v4, 24);
  b.ipv4.addAddress(nicB.index, addrB.v4, 24);
  const tcpA = a.tcp;
  const tcpB = b.tcp;
  const run = (until: () => boolean, maxVirtualMs: number): boolean => {
    const end = clock.nowMs() + maxVirtualMs;
    let spins = 0;
    for (;;) {
      a.tick();
      b.tick();
      if (until()) return true;
      if (a.hasPendingWork || b.hasPendingWork) {
        if (++spins > MAX_ROUNDS_WITHOUT_TIME) {
          throw new Error(`sim_net: ${spins} rounds at ${clock.nowMs()} ms without time passing`);
        }
        continue;
      }
      // The exact time of the next event, fractions included: a frame is received when it
      // arrives, not at the next whole millisecond. (Rounding up to whole ms, as this once
      // did, quantised every ACK's arrival; BBR's delivery-rate samples over a 40 ms round
      // then read up to 1 ms short, BtlBw came out 1–2 % high and BBR held a standing queue
      // of about a BDP — see bench/README.md, "Goodput under loss, third pass".)
      const next = Math.min(a.nextDeadlineMs(), b.nextDeadlineMs(), wire.nextEventMs());
      if (next > end) {
        if (clock.nowMs() < end) clock.set(end);
        a.tick();
        b.tick();
        return until();
      }
      if (next > clock.nowMs()) {
        clock.set(next);
        spins = 0;
      } else if (++spins > MAX_ROUNDS_WITHOUT_TIME) {
        throw new Error(`sim_net: ${spins} rounds at ${clock.nowMs()} ms without time passing`);
      }
    }
  };
  const advance = (ms: number): void => {
    run(() => false, ms);
  };
  return { clock, wire, a, b, portA, portB, tcpA, tcpB, addrA, addrB, run, advance };
}

/** True when `ep`'s four-tuple is held by a TIME_WAIT record of `tcp` (the endpoint itself is CLOSED). */
export function inTimeWait(
  tcp: TcpLayer,
  ep: { localAddr: IpAddr; localPort: number; remoteAddr: IpAddr; remotePort: number },
): boolean {
  return tcp.timeWaitRecord(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort) !==
    undefined;
}

/** An established connection a → b on `net` (client `c` on a, server `s` on b). */
export function connectPair(net: SimNet, port = 5001): { c: TcpEndpoint; s: TcpEndpoint } {
  const l = net.tcpB.listen(null, port, 8);
  const c = net.tcpA.connect(net.addrB, port);
  let s: TcpEndpoint | null = null;
  const ok = net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000);
  if (!ok || s === null) throw new Error("sim_net: the connection did not come up");
  l.close();
  return { c, s };
}

/**
 * A one-way bulk transfer of `total` bytes from `c` to `s` with a checked byte pattern: call
 * {@link BulkFlow.step} in `SimNet.run`'s condition; it returns true once every byte arrived.
 */
export class BulkFlow {
  /** Bytes written so far. */
  written = 0;
  /** Bytes read so far (verified). */
  read = 0;
  readonly #chunk = new Uint8Array(64 * 1024);
  readonly #rbuf = new Uint8Array(256 * 1024);

  /** A flow of `total` bytes over the connection `c` → `s`. */
  constructor(readonly c: TcpEndpoint, readonly s: TcpEndpoint, readonly total: number) {}

  /** Write what fits, read what arrived (throws on a corrupted byte); true when done. */
  step(): boolean {
    const chunk = this.#chunk;
    while (this.written < this.total) {
      const off = this.written;
      const n = Math.min(chunk.length, this.total - off);
      for (let i = 0; i < n; i++) chunk[i] = (off + i) * 7 & 0xff;
      const k = this.c.write(chunk, 0, n);
      if (k <= 0) break;
      this.written += k;
    }
    for (;;) {
      const n = this.s.read(this.#rbuf, 0, this.#rbuf.length);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) {
        if (this.#rbuf[i] !== ((this.read + i) * 7 & 0xff)) {
          throw new Error(`sim_net: byte ${this.read + i} corrupted`);
        }
      }
      this.read += n;
    }
    return this.read >= this.total;
  }
}

/** The TCP fields of an IPv4 frame's segment (tests' frame hooks), or null for others. */
export function tcpOfFrame(
  frame: Uint8Array,
  len: number,
): { seq: number; dataLen: number; flags: number } | null {
  if (len < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return null;
  const ihl = (frame[14] & 15) * 4;
  const total = (frame[16] << 8) | frame[17];
  const t = 14 + ihl;
  const doff = (frame[t + 12] >>> 4) * 4;
  const seq = ((frame[t + 4] << 24) | (frame[t + 5] << 16) | (frame[t + 6] << 8) | frame[t + 7]) >>>
    0;
  return { seq, dataLen: total - ihl - doff, flags: frame[t + 13] };
}
