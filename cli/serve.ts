/**
 * `ustack serve`: run as a host until SIGINT/SIGTERM, answering ARP and ping (and, with
 * service flags, the services they name).
 *
 * Each service has its own `start…` function that binds everything it needs (so that the
 * `ready` line is printed only once every service is bound) and returns a {@link ServeService}
 * that is closed at exit and whose counters are printed with the stack's.
 *
 * @module
 */

import {
  bulkClient,
  ControlServer,
  requestClient,
  Runtime,
  type Stack,
  UDP_MAX_PAYLOAD,
  type UdpEndpoint,
  UdpPeer,
} from "../mod.ts";
import {
  LINK_OPTIONS,
  LINK_USAGE,
  linkConfig,
  numberFlag,
  parseStrict,
  TCP_STACK_OPTIONS,
  TCP_STACK_USAGE,
  tcpStackConfig,
  UsageError,
} from "./args.ts";
import { emit, emitJson, printCounterSet, serviceGroupName } from "./output.ts";
import { onStopSignal, StopLatch } from "./meter.ts";
import type { ServeService } from "./service.ts";
import { startDiscard, startHttp, startTcpEcho, startWarmUpHttp } from "./tcp_services.ts";
import { serveWorkers } from "./serve_workers.ts";
import {
  DISCARD_WARM_UP_RING_MS,
  PREWARM_OPTIONS,
  PREWARM_USAGE,
  prewarmCount,
  prewarmDefault,
  runIdleWarmUp,
  runWarmUp,
  type WarmUpConfig,
  withPrewarmedPools,
  withWarmUpWire,
} from "./warm_up.ts";
import { settleYoungGeneration } from "./young_gen.ts";

/** Usage of `serve`. */
export const SERVE_USAGE = `usage: ustack serve [service options] [link options]
Run as a host until SIGINT/SIGTERM; answers ARP, NDP and ping on IPv4 and IPv6.
Prints "ready <if> <addr>..." once every service is bound and duplicate address detection
has finished, listing every usable address (the IPv6 link-local one included), and the
final stats when stopped. "address <addr> <origin> <state>" lines report an address found
duplicate (never used) or one that becomes usable later (e.g. by --slaac).
services:
  --udp-echo PORT      send every UDP datagram received on PORT back to its sender
                       (repeatable)
  --tcp-echo PORT      echo TCP until the client half-closes, then close (repeatable)
  --discard PORT       read and drop; close after the peer's FIN (repeatable)
  --http PORT          HTTP/1.1: GET / (a page), GET /bytes/N (N bytes, byte i = i % 251)
                       (repeatable)
  --control PATH       a Unix socket for 'ustack stats' and 'ustack ss' (live counters and
                       sockets); Deno counts Unix sockets as net access: --allow-net
  --workers N          run N stacks, one per Deno Worker (a stack per core), on the one
                       interface: an AF_PACKET fanout group steers each connection to one
                       worker; every worker runs every service; counters are summed
                       (af_packet drivers only; no --pcap)
${PREWARM_USAGE}
                       (--http only: GET / and /bytes/N, HTTP/1.0 and 1.1). Without it,
                       --http is warmed with up to 20,000 such connections while the ready
                       line waits for duplicate address detection (at most ~0.1 s later
                       than without; the first 300 on the af_packet driver's rings in
                       memory when it runs on them, the rest on a simulated wire); else
                       --discard is warmed the same way with bulk streams of 4 MiB, one
                       at a time; --prewarm 0 turns either off
${TCP_STACK_USAGE}
${LINK_USAGE}`;

/** Receive buffer of an echo socket: room for a whole RX batch of 64 KB datagrams. */
const ECHO_RECEIVE_BUFFER_BYTES = 4 << 20;

/**
 * UDP echo (RFC 862 over UDP): every datagram received on the port is sent back to its sender,
 * byte for byte. Driven by readiness: the socket's wait-queue listener runs at the end of each
 * tick that queued datagrams and drains all of them; nothing polls.
 *
 * @example
 * ```ts ignore
 * const echo = new UdpEchoService(rt.stack, 7);
 * // … later
 * echo.close();
 * ```
 */
export class UdpEchoService implements ServeService {
  /** `udp-echo/PORT`. */
  readonly name: string;
  /**
   * Counters: datagrams and bytes received, datagrams echoed, echoes that could not be sent
   * (no route back, no packet buffer, broadcast source).
   */
  readonly stats: Record<string, number> = {
    InDatagrams: 0,
    InBytes: 0,
    OutDatagrams: 0,
    OutErrors: 0,
  };
  readonly #ep: UdpEndpoint;
  readonly #buf = new Uint8Array(UDP_MAX_PAYLOAD);
  readonly #peer = new UdpPeer();

  /**
   * Bind `port` on every address of both families on `stack` and start echoing. Throws
   * EADDRINUSE if taken.
   */
  constructor(stack: Stack, port: number) {
    this.name = `udp-echo/${port}`;
    // Dual-stack (AF_INET6 bound to `::`): every address of both families is answered.
    const ep = stack.udp.open(6);
    try {
      ep.bind(null, port);
      ep.receiveBufferBytes = ECHO_RECEIVE_BUFFER_BYTES;
    } catch (e) {
      ep.close();
      throw e;
    }
    this.#ep = ep;
    stack.registry.addUdp(ep);
    ep.wq.listener = () => this.#drain();
  }

  /** The bound port. */
  get port(): number {
    return this.#ep.localPort;
  }

  #drain(): void {
    const ep = this.#ep;
    const buf = this.#buf;
    const peer = this.#peer;
    const st = this.stats;
    while (!ep.closed) {
      let n: number;
      try {
        n = ep.recvfrom(buf, 0, buf.length, peer);
      } catch {
        continue; // a pending socket error was reported (and cleared): keep draining
      }
      if (n < 0) return;
      st.InDatagrams++;
      st.InBytes += n;
      try {
        ep.sendto(buf, 0, n, peer.addr, peer.port);
        st.OutDatagrams++;
      } catch {
        st.OutErrors++;
      }
    }
  }

  /** Close the socket. */
  close(): void {
    this.#ep.wq.listener = null;
    this.#ep.close();
  }
}

/** Start `serve --udp-echo PORT`. */
export function startUdpEcho(stack: Stack, port: number): ServeService {
  return new UdpEchoService(stack, port);
}

/** Parse the repeatable `--NAME PORT` values into distinct ports. */
function servicePorts(name: string, values: unknown): number[] {
  const ports: number[] = [];
  for (const v of (values as string[] | undefined) ?? []) {
    const port = numberFlag(name, v, 0, { integer: true, min: 1, max: 65535 });
    if (ports.includes(port)) throw new UsageError(`--${name} ${port} given twice`);
    ports.push(port);
  }
  return ports;
}

/** Ports of each service flag. */
export interface ServicePorts {
  udpEcho: number[];
  tcpEcho: number[];
  discard: number[];
  http: number[];
}

/** Start every service the flags name; on failure, close those already started. */
export function startServices(rt: Runtime, ports: ServicePorts): ServeService[] {
  const services: ServeService[] = [];
  try {
    for (const port of ports.udpEcho) services.push(startUdpEcho(rt.stack, port));
    for (const port of ports.tcpEcho) services.push(startTcpEcho(rt, port));
    for (const port of ports.discard) services.push(startDiscard(rt, port));
    for (const port of ports.http) services.push(startHttp(rt, port));
  } catch (e) {
    for (const s of services) s.close();
    throw e;
  }
  return services;
}

/**
 * What `--prewarm` asks the HTTP service, in turn: its page and bodies of a few sizes, HTTP/1.0
 * (closed by the server after the answer) and HTTP/1.1 with `Connection: close`.
 */
const WARM_UP_REQUESTS = [
  "GET /bytes/64 HTTP/1.0\r\nHost: warm-up\r\nUser-Agent: ustack\r\nAccept: */*\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n",
  "GET /bytes/1000 HTTP/1.0\r\n\r\n",
  "GET /bytes/8 HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n",
].map((r) => new TextEncoder().encode(r));

/**
 * Local ports `--prewarm`'s client takes in turn: fewer than its connections, so that later
 * SYNs meet the TIME_WAIT records of earlier ones, as a busy `ab` client's do.
 */
const WARM_UP_LOCAL_PORTS = 1000;

/**
 * One connection in this many of the HTTP warm-up is opened and closed without a request, as
 * `ab`'s spare connections at its end are: the server's end-of-stream-before-a-request path.
 */
const WARM_UP_UNUSED_EVERY = 50;

/**
 * One connection in this many of the HTTP warm-up sends its request a moment after the
 * handshake, as a kernel client in another process does: the server's tick that completes
 * the handshake has no request to answer (bench/README.md, "warm9k").
 */
const WARM_UP_LATE_EVERY = 8;

/**
 * Bytes each connection of the discard service's default warm-up sends (one stream at a time,
 * as many streams as the wait for the ready line allows). A fresh process received a kernel
 * sender's stream at 4 Gbit/s for its first 0.2 s and well below its later rate for its first
 * second, while V8 compiled the receive path (bench/README.md, "The first second").
 */
const DISCARD_WARM_UP_BYTES = 4 << 20;

/** The warm-up's HTTP client ({@link WARM_UP_REQUESTS} from {@link WARM_UP_LOCAL_PORTS}). */
function warmUpHttpClient(): ReturnType<typeof requestClient> {
  return requestClient(WARM_UP_REQUESTS, null, {
    localPorts: WARM_UP_LOCAL_PORTS,
    unusedEvery: WARM_UP_UNUSED_EVERY,
    lateEvery: WARM_UP_LATE_EVERY,
  });
}

/** Run `serve` with `args`; resolves to the exit status. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseStrict(args, {
    ...LINK_OPTIONS,
    ...TCP_STACK_OPTIONS,
    ...PREWARM_OPTIONS,
    "udp-echo": { type: "string", multiple: true },
    "tcp-echo": { type: "string", multiple: true },
    discard: { type: "string", multiple: true },
    http: { type: "string", multiple: true },
    control: { type: "string" },
    workers: { type: "string" },
  });
  if (values.help) {
    emit(SERVE_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  let config: WarmUpConfig = withWarmUpWire(tcpStackConfig(values, linkConfig(values)), values);
  const prewarm = prewarmCount(values);
  if (prewarm > 0) config = withPrewarmedPools(config);
  const ports: ServicePorts = {
    udpEcho: servicePorts("udp-echo", values["udp-echo"]),
    tcpEcho: servicePorts("tcp-echo", values["tcp-echo"]),
    discard: servicePorts("discard", values.discard),
    http: servicePorts("http", values.http),
  };
  const json = values.json === true;
  if (values.workers !== undefined) {
    if (prewarm > 0) throw new UsageError("--prewarm does not apply with --workers");
    const workers = numberFlag("workers", values.workers as string, 1, {
      integer: true,
      min: 1,
      max: 64,
    });
    return await serveWorkers(config, {
      workers,
      ports,
      services: [
        ...ports.udpEcho.map((p) => `udp-echo/${p}`),
        ...ports.tcpEcho.map((p) => `tcp-echo/${p}`),
        ...ports.discard.map((p) => `discard/${p}`),
        ...ports.http.map((p) => `http/${p}`),
      ],
      control: values.control as string | undefined,
      json,
    });
  }
  if (ports.http.length > 0) {
    await runWarmUp(
      prewarm,
      config,
      json,
      startWarmUpHttp,
      warmUpHttpClient(),
    );
  }
  const rt: Runtime = await Runtime.start(config);
  // Addresses: one found duplicate is reported whenever DAD says so (and never used); one
  // that becomes usable after the ready line (SLAAC, a late DAD) is reported then.
  let ready = false;
  rt.onAddressChange((addr, origin, state) => {
    if (state !== "duplicate" && !(ready && state === "preferred")) return;
    if (json) emitJson("address", { addr, origin, state });
    else emit(`address ${addr} ${origin} ${state}`);
  });
  let services: ServeService[];
  try {
    services = startServices(rt, ports);
  } catch (e) {
    await rt.stop();
    throw e;
  }
  let control: ControlServer | null = null;
  if (typeof values.control === "string") {
    try {
      control = ControlServer.listen(values.control, {
        stack: rt.stack,
        extraCounters: () => controlCounters(rt, services),
      });
    } catch (e) {
      for (const s of services) s.close();
      await rt.stop();
      throw e;
    }
  }
  const stop = new StopLatch();
  const signals = onStopSignal(() => stop.stop("signal"));
  // The ready line waits for duplicate address detection (RFC 4862 §5.4) and lists the
  // addresses that passed it, link-local included.
  const addressesReady = Promise.race([rt.addressesReady(), stop.finished]);
  // Without --prewarm, the HTTP service's connection paths are warmed during that wait.
  if (ports.http.length > 0 && prewarmDefault(values)) {
    // The warm-up's rings are sized for the link's MTU, as the real driver's are.
    const linkMtu = { ...config, mtu: config.mtu ?? rt.nic.driver.mtu };
    await runIdleWarmUp(linkMtu, json, addressesReady, startWarmUpHttp, warmUpHttpClient(), {
      ringPart: true,
      real: rt,
    });
  } else if (ports.discard.length > 0 && prewarmDefault(values)) {
    // The discard service's receive path, the same way: bulk streams, one at a time, the first
    // on the driver's rings in memory, whose frames are the real link's — super-frames with
    // partial checksums — which the simulated wire's are not (bench/README.md, "jit13k"); the
    // paths a real stream takes first that the rest never did — a paced part (the busy poll,
    // `setImmediate` turns), every connection's neighbour learned afresh (STALE, then DELAY),
    // a PSH in quick-ack mode, the real loop woken from its park — and 600 ms on the rings
    // (bench/README.md, "jit13l").
    const linkMtu = { ...config, mtu: config.mtu ?? rt.nic.driver.mtu };
    await runIdleWarmUp(
      linkMtu,
      json,
      addressesReady,
      startDiscard,
      bulkClient(DISCARD_WARM_UP_BYTES),
      {
        concurrency: 1,
        ringPart: true,
        ringMs: DISCARD_WARM_UP_RING_MS,
        freshNeighbours: true,
        paced: true,
        real: rt,
      },
    );
  }
  await addressesReady;
  // The warm-up's garbage out of V8's new space, so that its first scavenge does not stop the
  // first real connections (bench/README.md, "http9o").
  if (ports.http.length > 0) settleYoungGeneration();
  ready = true;
  const addrs = rt.usableAddresses();
  if (stop.stoppedBy !== "") {
    // stopped before the addresses were ready: no ready line
  } else if (json) {
    emitJson("ready", {
      if: rt.nic.name,
      mac: rt.nic.macString,
      addrs,
      services: services.map((s) => s.name),
    });
  } else {
    emit(`ready ${rt.nic.name} ${addrs.join(" ")}`.trimEnd());
  }
  await stop.finished;
  signals.remove();
  await control?.close();
  for (const s of services) s.close();
  await rt.stop();
  printStats(rt, json, services);
  return 0;
}

/** The driver's and the services' counters for the control socket (`Driver…`, `Http80…`). */
function controlCounters(
  rt: Runtime,
  services: ServeService[],
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {
    Driver: { ...rt.nic.driver.stats } as unknown as Record<string, number>,
  };
  for (const s of services) out[serviceGroupName(s.name)] = { ...s.stats };
  return out;
}

/**
 * Print a runtime's final counters (`stats` JSON line, or an indented block), with the
 * services' counters under `services` (JSON) or one line per service, and the event loop's
 * (`loop`: ticks, busy-poll spins, blocking slices, parks, yields; the mean and p99 length of a
 * tick and of a turn of Deno's event loop in µs).
 */
export function printStats(rt: Runtime, json: boolean, services: ServeService[] = []): void {
  const svc: Record<string, Record<string, number>> = {};
  for (const s of services) svc[s.name] = { ...s.stats };
  const driver = { ...rt.nic.driver.stats } as Record<string, number>;
  const loop = { ...rt.loop.stats } as unknown as Record<string, number>;
  // How long the loop's ticks and its turns of Deno's event loop took (µs, whole run).
  const t = rt.loop.times;
  loop.tickUsMean = Math.round(t.tickUs.mean);
  loop.tickUsP99 = Math.round(t.tickUs.valueAtPercentile(99));
  loop.yieldUsMean = Math.round(t.yieldUs.mean);
  loop.yieldUsP99 = Math.round(t.yieldUs.valueAtPercentile(99));
  printCounterSet({ ...rt.stack.stats.snapshot(), loop }, driver, svc, json);
}
