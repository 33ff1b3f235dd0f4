/**
 * UDP receive warm-up: before a UDP server answers "ready", send a bounded number of datagrams
 * between two private stacks joined in memory, so that the receive path — the ring walk, IPv4
 * reassembly of fragments, the UDP checksum, the socket's datagram ring and the application's
 * own drain — is compiled by V8 before the first real datagram.
 *
 * Why (measured, bench/README.md "UDP both ways, branch udp13b"): a freshly started
 * `uperf server --udp` at MTU 1500 lost 36,000–117,000 ring frames (1–10 % of a 2 s run of
 * 8,900-byte datagrams from a kernel sender) about the same number whatever the run's length
 * (2 s or 6 s), and none once a first second of traffic had warmed it: the first ~0.1–0.2 s of
 * a line-rate stream overran the 20,960-slot ring while the code ran in V8's lower tiers. A
 * kernel receiver has no such start.
 *
 * The two stacks are separate {@link Runtime}s on the wire `conn_warm_up.ts` uses (the
 * simulated one, or the af_packet driver's own rings in memory): nothing reaches the real
 * interface, and they are stopped before this resolves. The datagrams alternate between the
 * sizes given (by default one that is fragmented at MTU 1500 and one that is not).
 *
 * @module
 */

import { IpAddress } from "../net/ip_address.ts";
import type { Runtime } from "./runtime.ts";
import type { Stack, StackOptions } from "./stack.ts";
import { setImmediate } from "node:timers";
import {
  WARM_UP_SERVER_ADDR as SERVER_ADDR,
  warmUpDrivers,
  type WarmUpLinkOptions,
  type WarmUpWire,
  withWarmUpPair,
} from "./conn_warm_up.ts";
/** The port the warm-up receiver is bound to. */
const WARM_UP_PORT = 9;
/** Datagrams sent between two turns of the event loop (the receiver drains meanwhile). */
const BURST = 16;

/** What to warm up, and how much. */
export interface UdpWarmUpOptions {
  /** Datagrams in all [3000]. */
  datagrams?: number;
  /** Their payload sizes, in turn [8,900 and 1,472 bytes]. */
  lengths?: number[];
  /** Send nothing after this many ms [1000]. */
  timeLimitMs?: number;
  /** The real stack's options; pool sizes and `prewarm` are replaced by small private ones. */
  stack?: StackOptions;
  /** What joins the two stacks [`"sim"`]. */
  wire?: WarmUpWire;
  /** The `"af_packet"` wire's link options. */
  link?: WarmUpLinkOptions;
  /**
   * Start the application's receiver on the warm-up receiving stack, bound to `port`; returns
   * what stops it.
   */
  serve(rt: Runtime, port: number): { close(): void };
}

/** What a UDP warm-up did. */
export interface UdpWarmUpReport {
  /** Datagrams sent. */
  datagrams: number;
  /** Wall time, both stacks' start and stop included (ms). */
  ms: number;
}

/** One turn of Deno's event loop (timers and I/O get theirs). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Run the warm-up (see the module documentation); resolves once both private stacks are
 * stopped.
 *
 * @example
 * ```ts ignore
 * const r = await warmUpUdpReceive({ serve: (rt, port) => myReceiver(rt, port) });
 * console.error(`warm-up: ${r.datagrams} datagrams in ${r.ms} ms`);
 * ```
 */
export async function warmUpUdpReceive(opts: UdpWarmUpOptions): Promise<UdpWarmUpReport> {
  const t0 = performance.now();
  const total = opts.datagrams ?? 3000;
  const lengths = opts.lengths ?? [8900, 1472];
  const deadline = t0 + (opts.timeLimitMs ?? 1000);
  const stackOpts: StackOptions = { ...opts.stack, poolBuffers: 256, prewarm: false };
  let sent = 0;
  await withWarmUpPair(
    warmUpDrivers(opts),
    { stack: stackOpts },
    opts.serve,
    WARM_UP_PORT,
    async ({ client }) => {
      const dst = IpAddress.parse(SERVER_ADDR);
      const ep = client.stack.udp.open(4);
      ep.bind(null, 0);
      const payload = new Uint8Array(Math.max(...lengths));
      // The first datagram starts ARP; the rest wait for its answer.
      ep.sendto(payload, 0, lengths[0], dst, WARM_UP_PORT);
      sent++;
      while (!client.nextHopResolved(dst) && performance.now() < deadline) await turn();
      while (sent < total && performance.now() < deadline) {
        for (let i = 0; i < BURST && sent < total; i++, sent++) {
          try {
            ep.sendto(payload, 0, lengths[sent % lengths.length], dst, WARM_UP_PORT);
          } catch {
            break; // out of packet buffers: the next turn frees them
          }
        }
        await turn();
      }
      // The last ones in flight reach the receiver within a few ticks.
      for (let i = 0; i < 8; i++) await turn();
      ep.close();
    },
  );
  return { datagrams: sent, ms: Math.round(performance.now() - t0) };
}

/**
 * Make the tables the long-datagram receive path of `stack` fills at its first datagram now:
 * the reused copy views of the copies onto sockets and of IPv4 reassembly (`SubarrayCache`,
 * ~2.7 MB together). Made lazily they cost milliseconds at the first real datagram, while a
 * line-rate sender fills the ring (bench/README.md, "UDP kernel→ustack at MTU 1500"). The
 * warm-up above runs private stacks and cannot do this for the server's own.
 *
 * @example
 * ```ts ignore
 * const rt = await Runtime.start(config);
 * prepareUdpReceive(rt.stack); // before the server says "ready"
 * ```
 */
export function prepareUdpReceive(stack: Stack): void {
  stack.udp.copyViews.prepare();
  stack.ipv4.reassemblyCopyViews.prepare();
}
