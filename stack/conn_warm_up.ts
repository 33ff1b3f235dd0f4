/**
 * Connection warm-up: run a bounded number of short connections between two private stacks on
 * an in-memory wire before a server or client starts on the real interface, so that the code
 * a new connection runs — handshake, accept, the application's first read and write, the FIN
 * exchange, TIME_WAIT — is compiled by V8 before the first real client arrives.
 *
 * Why: a fresh process runs those paths in V8's interpreter and baseline tiers for its first
 * thousands of connections (`bench/conn_warmup.ts`: a `serve --http` process spent ~100–140 µs
 * of CPU per connection over its first 5,000 `ab` connections and 46–76 µs over its third
 * 5,000, where `Deno.serve` on kernel sockets is flat from the start). Keep-alive traffic does
 * not warm them: it never opens or closes a connection.
 *
 * Isolation: the two stacks are separate {@link Runtime}s joined in memory — by default a
 * {@link SimWire} (`wire: "sim"`), or two `AfPacketRingDriver`s whose rings are joined by an
 * in-memory stand-in for the kernel (`AfPacketRingDriver.memoryPair`, `wire: "af_packet"`):
 * no socket, no file descriptor but their event loops' eventfds, no real interface, their own
 * addresses, pools, flow tables, timers and counters — stopped and dropped before this resolves.
 *
 * Why the driver's own rings exist as an option: code V8 compiles during the warm-up is
 * specialised to the objects it met there, and on the simulated wire those are the simulated
 * driver's; over the ring driver in memory the warm-up runs the real receive walker, TX ring,
 * vnet-header and checksum-offload paths. Measured (bench/README.md, "The warm-up on the real
 * driver's rings"), a fresh `serve --http` was no faster over its first 5,000 connections
 * with it alone: the rings in memory make fewer connections in the same time. So the
 * simulated wire stays the default here, and the CLI's default warm-ups run only their first
 * few hundred connections on the rings (`cli/warm_up.ts`, `WARM_UP_RING_CONNECTIONS`).
 * Nothing of theirs is reachable from the caller's stack: the only thing shared is V8's
 * compiled code and type feedback. The application code that runs in them is what the caller
 * hands in (`serve`, `client`): it must keep its own per-run state (counters) in what it
 * creates there.
 *
 * Bounded: at most `connections` connections, and none started after `timeLimitMs` or once
 * `signal` is aborted; the connections in flight then get `graceMs` to finish before both stacks
 * are stopped anyway.
 *
 * @module
 */

import { MonotonicClock } from "../core/clock.ts";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import type { LinkDriver } from "../link/driver.ts";
import { SimWire } from "../link/sim_wire.ts";
import { IpAddress } from "../net/ip_address.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { Runtime } from "./runtime.ts";
import type { StackOptions } from "./stack.ts";
import type { EventLoopOptions } from "./event_loop.ts";

/** The warm-up server's address on the private wire (never on a real interface). */
export const WARM_UP_SERVER_ADDR = "198.19.255.1";
const SERVER_ADDR = WARM_UP_SERVER_ADDR;
/** The warm-up client's address on the private wire. */
const CLIENT_ADDR = "198.19.255.2";
/**
 * Share of the frames the connection warm-up's simulated wire delivers twice. A real peer
 * sends segments that acknowledge nothing new — a window update, a duplicate ACK, a
 * retransmission the other side already had — which the warm-up's own client never does; one
 * frame in a few hundred delivered twice runs those paths (the duplicate-ACK test of the
 * sender and of loss control, the receiver's duplicate-segment ACK, segments for a connection
 * already in TIME_WAIT), so that V8 has type feedback for them before the first real peer
 * (bench/README.md, "warm9k").
 */
export const WARM_UP_DUPLICATE_RATE = 0.005;

/**
 * The warm-up loops' options by default: they never park while the warm-up runs (a simulated
 * driver has no fd to wake them; a park waits on a JavaScript timer).
 */
export const WARM_UP_LOOP: EventLoopOptions = { busyPollUs: 60_000_000 };

/** The port the warm-up server listens on. */
const WARM_UP_PORT = 80;

/**
 * Most time a warm-up waits, once its client is done, for the server to accept every
 * connection the client established (ms): see {@link serverCaughtUp}.
 */
const ACCEPT_SETTLE_MS = 200;

/**
 * What joins the warm-up's two stacks: `"af_packet"`, two af_packet ring drivers joined in
 * memory (the real driver's code; for a stack that will run on it), or `"sim"`, the simulated
 * wire.
 */
export type WarmUpWire = "af_packet" | "sim";

/** Link options of the `"af_packet"` wire: as the real driver will be opened. */
export interface WarmUpLinkOptions {
  /** MTU [1500]. */
  mtu?: number;
  /** virtio_net_hdr on the frames (offloads) [true]. */
  vnetHdr?: boolean;
  /** MTU-sized RX slots [as the driver's `open`]. */
  rxSmallSlots?: boolean;
  /** The split receive (a second ring for super-frames) [as the driver's `open`: on]. */
  rxSplit?: boolean;
}

/** One warm-up connection on the client stack: call `done` once it has ended (null: fine). */
export type WarmUpClient = (index: number, done: (error: string | null) => void) => void;

/**
 * A warm-up client that paces its own connections, as the application's real client does (so
 * that the warm-up runs the same per-connection calls, not the warm-up's own pacing closures).
 */
export interface WarmUpCrowd {
  /** Connections that ended well so far. */
  readonly done: number;
  /** Connections started so far. */
  readonly started: number;
  /**
   * Start connections, `conc` in flight, until `upTo` have been started, `endMs`
   * (`performance.now()`) has passed or {@link WarmUpCrowd.stop}; resolves once none is in
   * flight.
   */
  run(upTo: number, conc: number, endMs: number): Promise<void>;
  /** Start no more connections. */
  stop(): void;
}

/** What to warm up, and how much. */
export interface ConnectionWarmUpOptions {
  /** Connections in all [3000]. */
  connections?: number;
  /** Connections in flight at once [32]. */
  concurrency?: number;
  /** Start no connection after this many ms [3000]. */
  timeLimitMs?: number;
  /** Then wait at most this long for the ones in flight (ms) [1000]. */
  graceMs?: number;
  /**
   * Count `timeLimitMs` (and so the grace after it) from the moment both stacks are up and the
   * application serves, not from the call [false]: a pair whose start-up is slow (the af_packet
   * wire's ring memory, a cold process on a loaded machine) keeps its whole time bound for
   * connections. The report's `ms` still counts from the call.
   */
  timeFromPair?: boolean;
  /**
   * While no connection has ended well, neither `timeLimitMs` nor the grace ends the warm-up:
   * the ones in flight go on until the first ends well (then the rest get `graceMs`), for at
   * most this many ms after the stacks are up — a hard bound, after which the ones in flight
   * are cut and counted as failed, so a pair that carries nothing still ends and is reported
   * (`connections` 0) [0: no hold]. A held warm-up starts its first connection (a crowd client
   * its first batch) even when `timeLimitMs` has passed before it could (a stall after the
   * stacks are up), so the hold has something to hold. `signal` still ends the warm-up as
   * without it.
   */
  holdFirstMs?: number;
  /**
   * Start no connection once this is aborted, as after `timeLimitMs` (the ones in flight get
   * `graceMs`): how a caller ends a warm-up that fills an idle wait of unknown length.
   */
  signal?: AbortSignal;
  /**
   * The real stack's options (TCP options, congestion control), so that the same code paths
   * run; pool sizes and `prewarm` are replaced by small private ones.
   */
  stack?: StackOptions;
  /** TCP congestion control name, as {@link RuntimeConfig.cc}. */
  cc?: string;
  /** What joins the two stacks [`"sim"`] (`--prewarm-wire`). */
  wire?: WarmUpWire;
  /** The `"af_packet"` wire's link options. */
  link?: WarmUpLinkOptions;
  /**
   * The simulated wire's one-way delay (µs) [0]. With a delay the loops wait for the other
   * stack's frames as for a peer in another process — idle ticks, busy polls that find the
   * frames — where without one every tick finds them already there (and no loop ever spins).
   */
  wireDelayUs?: number;
  /**
   * Before each connection, both stacks forget their IPv4 neighbours [false]: the connection
   * starts as a real peer's first one does — the client resolves the server, the server learns
   * the client from its ARP request (a STALE entry, RFC 826 merge as Linux does it) and its
   * SYN-ACK moves that entry to DELAY, past the neighbour it sent to last. A warm-up whose
   * stacks keep their one neighbour runs that path once per pair of stacks, before V8 keeps type
   * feedback, and the real stack took it first after its ready line (bench/README.md, "jit13l").
   * For a `client` that starts connections one by one (a function); a crowd client's share
   * their neighbours.
   */
  freshNeighbours?: boolean;
  /**
   * The two stacks' event loop options [{@link WARM_UP_LOOP}]. A loop that parks waits on a
   * JavaScript timer here (a simulated driver has no fd): keep `busyPollUs` long.
   */
  loop?: EventLoopOptions;
  /**
   * Start the application's server on the warm-up server stack, listening on `port`; returns
   * what stops it.
   */
  serve(rt: Runtime, port: number): { close(): void };
  /**
   * Build the client side on the warm-up client stack (`host`, `port`: the server): one
   * connection per call, paced by the warm-up, or a {@link WarmUpCrowd} that paces its own.
   * Default: {@link requestClient} with a 64-byte request and a 64-byte answer.
   */
  client?(rt: Runtime, host: string, port: number): WarmUpClient | WarmUpCrowd;
}

/** What a warm-up did. */
export interface ConnectionWarmUpReport {
  /** Connections that ended well. */
  connections: number;
  /** Connections that failed (or were still open when the grace time ran out). */
  failed: number;
  /** Wall time of the whole warm-up, both stacks' start and stop included (ms). */
  ms: number;
  /**
   * ARP replies the warm-up's server stack sent: each for a request of a client it learned
   * afresh (STALE, then DELAY at its first send; {@link ConnectionWarmUpOptions.freshNeighbours}).
   */
  arpReplies?: number;
}

/** Options of {@link requestClient}. */
export interface RequestClientOptions {
  /**
   * Take local ports in turn from this many (from 20000 on) instead of ephemeral ones [0:
   * ephemeral]: once they wrap, new SYNs meet the server's TIME_WAIT records of earlier
   * connections (RFC 6191 reuse), as a busy kernel client's do (`ab` from one address).
   */
  localPorts?: number;
  /**
   * Every this-many-th connection (`i % unusedEvery === unusedEvery - 1`) sends nothing and
   * closes once established [0: none]: a connection opened and never used (a browser's
   * pre-connect, the spare connections of a load tool at its end), whose server meets the
   * end of the stream before any request.
   */
  unusedEvery?: number;
  /**
   * Every this-many-th connection (`i % lateEvery === lateEvery - 1`, where that `i` is odd:
   * one that sends its request once established, not with the handshake's ACK) sends its
   * request {@link LATE_REQUEST_MS} after it is established rather than at once [0: none]:
   * the server has acknowledged the handshake, and met its window, in a tick of its own
   * before the request arrives, as it does with a client in another process (`ab`).
   */
  lateEvery?: number;
  /** How long after the handshake a late request is sent (ms) [{@link LATE_REQUEST_MS}]. */
  lateMs?: number;
}

/**
 * How long after the handshake a late request ({@link RequestClientOptions}) is sent (ms). A
 * late connection that ends before its request went out (the server closed it, or reset it)
 * counts as failed.
 */
export const LATE_REQUEST_MS = 1;

/**
 * Bytes of a {@link bulkClient} connection's first write: less than a segment, so it goes out
 * on its own with PSH while the receiver is still in quick-ack mode (the first 16 segments), as
 * the end of a kernel sender's first `write` does; the rest follows a turn later. A
 * receiver that first met a PSH in quick-ack mode after its ready line threw its optimised ACK
 * path away there (bench/README.md, "jit13l").
 */
export const BULK_FIRST_WRITE = 1000;

/**
 * A bulk warm-up client: each connection writes `bytes` bytes (zeros) as fast as the send
 * buffer takes them, half-closes, and ends once the server has closed too (what it answers is
 * read and dropped) — the receive path of a bulk receiver (`serve --discard`): full-sized and
 * super-segments, posted reads, window updates, the ACKs of a stream, run on the server.
 *
 * @example
 * ```ts ignore
 * await warmUpConnections({ serve: startDiscard, client: bulkClient(8 << 20), concurrency: 1 });
 * ```
 */
export function bulkClient(
  bytes: number,
): (rt: Runtime, host: string, port: number) => WarmUpClient {
  return (rt, host, port) => {
    const dst = IpAddress.parse(host);
    const chunk = new Uint8Array(64 * 1024);
    const scratch = new Uint8Array(2048);
    return (_i, done) => {
      const c = openWarmUpConnection(rt, dst, port, 0, done);
      if (c === null) return;
      const { ep, finish } = c;
      let sent = 0;
      ep.wq.listener = (): void => {
        try {
          if (ep.stateName() === "ESTABLISHED") {
            // A short first write: it leaves as one segment with PSH while the receiver is in
            // quick-ack mode, as a kernel sender's first write does.
            if (sent === 0 && bytes > BULK_FIRST_WRITE) {
              const n = ep.write(chunk, 0, BULK_FIRST_WRITE);
              if (n > 0) sent += n;
              // The rest in a later turn, once the first has left on its own (writable stays
              // set, so no new readiness would call this again).
              setTimeout(() => ep.wq.listener?.(0, ep.wq), 0);
              rt.stack.requestTick();
              return;
            }
            while (sent < bytes) {
              const n = ep.write(chunk, 0, Math.min(chunk.length, bytes - sent));
              if (n <= 0) break;
              sent += n;
            }
            if (sent >= bytes) ep.shutdownWrite();
          }
          for (;;) {
            const n = ep.read(scratch, 0, scratch.length);
            if (n > 0) continue;
            if (n === 0) return finish(sent >= bytes ? null : "short");
            break;
          }
        } catch (e) {
          return finish(String(e));
        }
        if (ep.error !== null) return finish(ep.takeError() ?? "error");
      };
      rt.stack.requestTick();
    };
  };
}

/**
 * Open one warm-up connection to `dst`:`port` (`localPort` 0: an ephemeral one). Returns its
 * endpoint and `finish`, which closes it and reports `done` once; null when `connect` threw
 * (then `done` gets the error in a microtask).
 */
function openWarmUpConnection(
  rt: Runtime,
  dst: IpAddress,
  port: number,
  localPort: number,
  done: (error: string | null) => void,
): { ep: TcpEndpoint; finish: (error: string | null) => void } | null {
  let ep: TcpEndpoint;
  try {
    ep = rt.stack.tcp.connect(dst, port, { localPort });
  } catch (e) {
    queueMicrotask(() => done(String(e)));
    return null;
  }
  let finished = false;
  const finish = (error: string | null): void => {
    if (finished) return;
    finished = true;
    ep.wq.listener = null;
    ep.close();
    done(error);
  };
  return { ep, finish };
}

/**
 * A warm-up client: connection `i` sends `requests[i % requests.length]` — even `i` with the
 * handshake's ACK, odd `i` once established, in a segment of its own as a kernel client
 * does — reads until it has `replyBytes` bytes (null: until the server closes) and closes;
 * driven by readiness callbacks on the endpoint, as `pingpong client --connect` is.
 *
 * @example
 * ```ts ignore
 * const http = requestClient(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"), null);
 * ```
 */
export function requestClient(
  requests: Uint8Array | Uint8Array[],
  replyBytes: number | null,
  opts: RequestClientOptions = {},
): (rt: Runtime, host: string, port: number) => WarmUpClient {
  const localPorts = opts.localPorts ?? 0;
  const unusedEvery = opts.unusedEvery ?? 0;
  const lateEvery = opts.lateEvery ?? 0;
  const lateMs = opts.lateMs ?? LATE_REQUEST_MS;
  return (rt, host, port) => {
    const dst = IpAddress.parse(host);
    const scratch = new Uint8Array(16384);
    const list = Array.isArray(requests) ? requests : [requests];
    return (i, done) => {
      const request = list[i % list.length];
      const unused = unusedEvery > 0 && i % unusedEvery === unusedEvery - 1;
      const late = (i & 1) === 1 && lateEvery > 1 && i % lateEvery === lateEvery - 1;
      // An unused connection is closed by the client first, which keeps its TIME_WAIT, and a
      // late one may still be open when its port's turn comes again: on an ephemeral port,
      // not on one of the ports later connections take again.
      const localPort = localPorts > 0 && !unused && !late ? 20000 + (i % localPorts) : 0;
      const c = openWarmUpConnection(rt, dst, port, localPort, done);
      if (c === null) return;
      const { ep, finish } = c;
      ep.setNoDelay(true);
      if (unused) {
        ep.wq.listener = (): void => {
          if (ep.stateName() === "ESTABLISHED") return finish(null);
          if (ep.error !== null) return finish(ep.takeError() ?? "error");
        };
        rt.stack.requestTick();
        return;
      }
      let sent = false;
      if ((i & 1) === 0) {
        ep.write(request, 0, request.length);
        sent = true;
      }
      let got = 0;
      // A late request waits on its timer: the connection may end (closed or reset by the
      // server) before it goes out, and then it failed, whichever side sees the end first.
      let waiting = false;
      ep.wq.listener = (): void => {
        if (!sent && ep.stateName() === "ESTABLISHED") {
          sent = true;
          if (late) {
            waiting = true;
            setTimeout(() => {
              waiting = false;
              if (ep.error !== null) return finish(ep.takeError() ?? "error");
              if (ep.stateName() !== "ESTABLISHED") return finish(LATE_CLOSED);
              try {
                ep.write(request, 0, request.length);
              } catch (e) {
                return finish(String(e));
              }
              rt.stack.requestTick();
            }, lateMs);
          } else {
            ep.write(request, 0, request.length);
            rt.stack.requestTick();
          }
        }
        for (;;) {
          let n: number;
          try {
            n = ep.read(scratch, 0, scratch.length);
          } catch (e) {
            return finish(String(e));
          }
          if (n > 0) {
            got += n;
            if (replyBytes !== null && got >= replyBytes) return finish(null);
            continue;
          }
          if (n === 0) {
            if (waiting) return finish(LATE_CLOSED);
            return finish(replyBytes === null || got >= replyBytes ? null : "short");
          }
          if (ep.error !== null) return finish(ep.takeError() ?? "error");
          return;
        }
      };
      rt.stack.requestTick();
    };
  };
}

/** Why a late connection failed when it ended before its request was sent. */
const LATE_CLOSED = "closed before its late request";

/**
 * The two drivers of `opts.wire`: the server's, then the client's (shared with the UDP
 * warm-up, `stack/udp_warm_up.ts`). A simulated wire delivers `duplicateRate` of its frames
 * twice (the connection warm-up's {@link WARM_UP_DUPLICATE_RATE}; the UDP warm-up's none).
 */
export function warmUpDrivers(
  opts: Pick<ConnectionWarmUpOptions, "wire" | "link" | "wireDelayUs">,
  duplicateRate = 0,
): [LinkDriver, LinkDriver] {
  if (opts.wire === "af_packet") {
    const l = opts.link ?? {};
    return AfPacketRingDriver.memoryPair({
      mtu: l.mtu,
      vnetHdr: l.vnetHdr,
      rxSmallSlots: l.rxSmallSlots,
      rxSplit: l.rxSplit,
    });
  }
  const delayMs = (opts.wireDelayUs ?? 0) / 1000;
  const wire = new SimWire({ clock: new MonotonicClock(), duplicateRate, delayMs });
  const mac = (last: number) => new Uint8Array([0x02, 0x00, 0x5e, 0xff, 0xff, last]);
  return [wire.endpoint("warm-up-server", mac(1)), wire.endpoint("warm-up-client", mac(2))];
}

/**
 * The simulated-wire drivers of every warm-up pair of the process (closed), kept alive for
 * their maps. The real stack's data path (`Nic.poll`, `Nic.output`, `Stack.transmitFlush`, the
 * event loop's `#transmitHalf`, `#kickHandoffs`, `#framesSent`) is compiled in the warm-up
 * against these drivers too, and V8's optimised code holds the maps it checks weakly: once
 * nothing holds a warm-up driver a full GC that retains no maps — V8's memory reducer's, after
 * a quiet spell — frees their maps and throws that code away, and the first requests after the
 * quiet run cold (bench/README.md, branch `idle32`). Two per warm-up pair on the simulated wire
 * (a process runs a few, at start-up), ~11 KiB of heap for a 3,000-connection warm-up's pair;
 * not the af_packet rings' in-memory pairs, whose closed drivers still reference ~21 MB of ring
 * memory (that class is the real driver's, which lives anyway). Bounded: the last
 * {@link WARM_UP_DRIVERS_HELD} drivers, the oldest replaced (a `pingpong --connect` client's
 * warm-up makes three pairs on the simulated wire).
 */
const warmUpDriversHeld: LinkDriver[] = [];

/** Most warm-up drivers {@link warmUpDriversHeld} keeps (four pairs). */
const WARM_UP_DRIVERS_HELD = 8;

/** Keep a closed warm-up pair's drivers for their maps (bounded; {@link warmUpDriversHeld}). */
function holdForMaps(server: LinkDriver, client: LinkDriver): void {
  warmUpDriversHeld.push(server, client);
  if (warmUpDriversHeld.length > WARM_UP_DRIVERS_HELD) {
    warmUpDriversHeld.splice(0, warmUpDriversHeld.length - WARM_UP_DRIVERS_HELD);
  }
}

/** The two private stacks of a warm-up ({@link withWarmUpPair}). */
export interface WarmUpPair {
  /** The stack the application (`serve`) runs on, at {@link WARM_UP_SERVER_ADDR}. */
  server: Runtime;
  /** The stack that connects or sends to it. */
  client: Runtime;
}

/**
 * Start the two private stacks of a warm-up on `drivers` (the server's, then the client's, as
 * {@link warmUpDrivers} gives them), the application on the server (`serve(server, port)`),
 * then run `body`; the application is closed and both stacks stopped afterwards, also when a
 * start or `body` throws (a driver whose stack never started is closed); the loops run on
 * `config.loop` [{@link WARM_UP_LOOP}]. Shared by the connection warm-up and the UDP one
 * (`stack/udp_warm_up.ts`).
 */
export async function withWarmUpPair<T>(
  drivers: [LinkDriver, LinkDriver],
  config: { stack: StackOptions; cc?: string; loop?: EventLoopOptions },
  serve: (rt: Runtime, port: number) => { close(): void },
  port: number,
  body: (pair: WarmUpPair) => Promise<T>,
): Promise<T> {
  const [serverDriver, clientDriver] = drivers;
  const loop = config.loop ?? WARM_UP_LOOP;
  let server: Runtime;
  try {
    server = await Runtime.start({
      linkDriver: serverDriver,
      addr: `${SERVER_ADDR}/24`,
      stack: config.stack,
      cc: config.cc,
      loop,
    });
  } catch (e) {
    clientDriver.close();
    throw e;
  }
  let client: Runtime | null = null;
  let clientStarted = false;
  let app: { close(): void } | null = null;
  try {
    app = serve(server, port);
    clientStarted = true;
    client = await Runtime.start({
      linkDriver: clientDriver,
      addr: `${CLIENT_ADDR}/24`,
      stack: config.stack,
      cc: config.cc,
      loop,
    });
    return await body({ server, client });
  } finally {
    app?.close();
    if (client !== null) await client.stop();
    else if (!clientStarted) clientDriver.close();
    await server.stop();
    if (serverDriver.kind === "sim") holdForMaps(serverDriver, clientDriver);
  }
}

/**
 * Run a self-pacing warm-up client: `total` connections, `conc` in flight, none started after
 * `deadline` or once `signal` is aborted; the ones in flight then get `graceMs`. Resolves to
 * the connections that ended well by then.
 */
function runCrowd(
  crowd: WarmUpCrowd,
  total: number,
  conc: number,
  deadline: number,
  graceMs: number,
  signal: AbortSignal | undefined,
  holdUntil: number,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let over = false;
    let stopAt: ReturnType<typeof setTimeout> | undefined;
    const end = (): void => {
      if (over) return;
      over = true;
      crowd.stop();
      clearTimeout(stopAt);
      grace.clear();
      signal?.removeEventListener("abort", onAbort);
      resolve(crowd.done);
    };
    const firstMs = Math.max(0, deadline - performance.now()) + graceMs;
    const grace = new GraceTimer(firstMs, () => crowd.done, holdUntil, graceMs, end);
    const onAbort = (): void => {
      if (over) return;
      crowd.stop();
      grace.abort();
    };
    if (signal !== undefined) {
      if (signal.aborted) crowd.stop();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    if (holdUntil > 0) {
      // Held: the crowd starts its first batch inside `run` whatever the clock says (a stall
      // between the pair's start-up and this call must not leave the hold nothing to hold), and
      // a timer at the deadline stops further starts — it cannot fire before that batch.
      stopAt = setTimeout(() => crowd.stop(), Math.max(0, deadline - performance.now()));
      crowd.run(total, conc, Infinity).then(end);
    } else {
      crowd.run(total, conc, deadline).then(end);
    }
  });
}

/** How often a held warm-up looks whether its first connection has ended well (ms). */
const HOLD_POLL_MS = 2;

/**
 * The end of a warm-up crowd's time: `end` runs `firstMs` from now (its time bound and grace),
 * unless {@link ConnectionWarmUpOptions.holdFirstMs} holds it while no connection has ended
 * well (`done()` 0; until `holdUntil`, 0: no hold), then `graceMs` more for the rest in flight;
 * after {@link GraceTimer.abort}, in `graceMs`.
 */
class GraceTimer {
  #timer: ReturnType<typeof setTimeout>;
  #held = false;
  #aborted = false;
  readonly #done: () => number;
  readonly #holdUntil: number;
  readonly #graceMs: number;
  readonly #end: () => void;

  constructor(
    firstMs: number,
    done: () => number,
    holdUntil: number,
    graceMs: number,
    end: () => void,
  ) {
    this.#done = done;
    this.#holdUntil = holdUntil;
    this.#graceMs = graceMs;
    this.#end = end;
    this.#timer = setTimeout(this.#over, firstMs);
  }

  /** The time bound's grace ran out: end, or hold (see {@link holdWait}). */
  #over = (): void => {
    const wait = this.#aborted
      ? -1
      : holdWait(this.#done(), this.#held, this.#holdUntil, this.#graceMs);
    if (wait < 0) return this.#end();
    this.#held = true;
    this.#timer = wait === 0 ? setTimeout(this.#over, HOLD_POLL_MS) : setTimeout(this.#end, wait);
  };

  /** The warm-up's signal fired: end in `graceMs`, held or not. */
  abort(): void {
    this.#aborted = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#end, this.#graceMs);
  }

  /** The warm-up ended: no timer left. */
  clear(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * What a warm-up whose grace ran out does ({@link ConnectionWarmUpOptions.holdFirstMs}), `done`
 * connections having ended well: -1, end now (one had ended well when the grace ran out, the
 * hold's bound `holdUntil` has passed, or there is no hold: 0); 0, none yet: look again in
 * {@link HOLD_POLL_MS}; else, the first having ended well while `held`, the ms the rest in
 * flight get before the end (`graceMs`, within the bound).
 */
function holdWait(done: number, held: boolean, holdUntil: number, graceMs: number): number {
  const now = performance.now();
  if (holdUntil <= 0 || now >= holdUntil) return -1;
  if (done === 0) return 0;
  if (!held) return -1;
  return Math.max(1, Math.min(graceMs, holdUntil - now));
}

/**
 * Connections a warm-up keeps in flight unless told otherwise; when a warm-up is cut (its time
 * bound, or its `signal`), at most these are cut with it and counted as failed.
 */
export const WARM_UP_CONCURRENCY = 32;

/** Both warm-up stacks forget their IPv4 neighbours ({@link ConnectionWarmUpOptions}). */
function forgetNeighbours(server: Runtime, client: Runtime): void {
  server.stack.ipv4.arp(server.nic.index).flush();
  client.stack.ipv4.arp(client.nic.index).flush();
}

/**
 * Run the warm-up (see the module documentation). Resolves once both private stacks are
 * stopped; never throws for a connection that fails (it is counted).
 *
 * @example
 * ```ts ignore
 * const r = await warmUpConnections({ serve: (rt, port) => rt.serve({ port }, handler) });
 * console.error(`warm-up: ${r.connections} connections in ${r.ms} ms`);
 * ```
 */
export async function warmUpConnections(
  opts: ConnectionWarmUpOptions,
): Promise<ConnectionWarmUpReport> {
  const t0 = performance.now();
  const total = opts.connections ?? 3000;
  const conc = Math.max(1, opts.concurrency ?? WARM_UP_CONCURRENCY);
  const timeLimitMs = opts.timeLimitMs ?? 3000;
  const graceMs = opts.graceMs ?? 1000;
  const stackOpts: StackOptions = {
    ...opts.stack,
    poolBuffers: 256,
    prewarm: false,
    maxConnections: conc,
    bufferWarmBytes: 1 << 20,
  };
  let ok = 0;
  let failed = 0;
  let arpReplies = 0;
  await withWarmUpPair(
    warmUpDrivers(opts, WARM_UP_DUPLICATE_RATE),
    { stack: stackOpts, cc: opts.cc, loop: opts.loop },
    opts.serve,
    WARM_UP_PORT,
    async ({ server, client }) => {
      await runConnections(server, client);
      await serverCaughtUp(server);
      arpReplies = server.stack.stats.arp.OutReplies;
    },
  );
  return { connections: ok, failed, ms: Math.round(performance.now() - t0), arpReplies };

  async function runConnections(server: Runtime, client: Runtime): Promise<void> {
    const makeClient = opts.client ?? requestClient(new Uint8Array(64), 64);
    const one = makeClient(client, SERVER_ADDR, WARM_UP_PORT);
    const up = performance.now();
    const deadline = (opts.timeFromPair === true ? up : t0) + timeLimitMs;
    const holdUntil = (opts.holdFirstMs ?? 0) > 0 ? up + opts.holdFirstMs! : 0;
    if (typeof one !== "function") {
      ok = await runCrowd(one, total, conc, deadline, graceMs, opts.signal, holdUntil);
      failed = one.started - ok;
      return;
    }
    let started = 0;
    let inFlight = 0;
    let over = false;
    await new Promise<void>((resolve) => {
      const end = (): void => {
        if (over) return;
        over = true;
        grace.clear();
        opts.signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const grace = new GraceTimer(timeLimitMs + graceMs, () => ok, holdUntil, graceMs, end);
      const onAbort = (): void => {
        if (over) return;
        grace.abort();
        if (inFlight === 0) end();
      };
      const signal = opts.signal;
      if (signal !== undefined) {
        if (signal.aborted) queueMicrotask(onAbort);
        else signal.addEventListener("abort", onAbort, { once: true });
      }
      const next = (): void => {
        // A held warm-up's first connection starts whatever the clock says: a stall between the
        // pair's start-up and this first look (a preempted thread on a loaded machine) must not
        // leave the hold nothing to hold.
        while (
          inFlight < conc && started < total &&
          (performance.now() < deadline || (started === 0 && holdUntil > 0)) &&
          signal?.aborted !== true
        ) {
          started++;
          inFlight++;
          if (opts.freshNeighbours === true) forgetNeighbours(server, client);
          one(started - 1, onDone);
        }
        if (inFlight === 0) end();
      };
      const onDone = (error: string | null): void => {
        if (over) return; // closed by the stop below, already counted as failed
        inFlight--;
        if (error === null) ok++;
        else failed++;
        next();
      };
      next();
    });
    failed = started - ok;
  }
}

/**
 * Wait, at most {@link ACCEPT_SETTLE_MS}, until the server's listener holds no connection its
 * application has not accepted (none queued, none half-open). A client counts a connection that
 * sends nothing done once it is established, before its last ACK reached the server: when such a
 * connection ended the crowd, the application was closed before it ever met it (with one
 * connection at a time and the last one unused, every time: a warm-up's first-met paths left
 * unrun, and its counts one short).
 */
async function serverCaughtUp(server: Runtime): Promise<void> {
  const at = IpAddress.parse(SERVER_ADDR);
  const deadline = performance.now() + ACCEPT_SETTLE_MS;
  for (;;) {
    const l = server.stack.tcp.listeners.lookupBound(at, WARM_UP_PORT);
    if (l === undefined || (l.pending === 0 && l.halfOpen === 0)) return;
    if (performance.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
