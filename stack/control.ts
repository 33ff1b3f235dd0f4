/**
 * The control socket of a running stack: a Unix stream socket where tools ask for live state
 * (`ustack stats`, `ustack ss`). One request per connection, one line of JSON each way:
 *
 * ```
 * → {"cmd":"stats"}              ← {"counters":{"IpInReceives":12,…},"seconds":3.2,"delta":false}
 * → {"cmd":"stats","delta":true} ← the change since the previous delta request (nstat's history)
 * → {"cmd":"sockets"}            ← {"sockets":[{"netid":"tcp","state":"ESTAB",…,"info":{…}}]}
 * → {"cmd":"memory"}             ← {"rss":…,"heapTotal":…,"heapUsed":…,"external":…} (bytes)
 * → {"cmd":"rtt"}                ← {"rtt":{"count":…,"minUs":…,"p50Us":…,"p99Us":…,…}}: every
 *                                  TCP RTT sample since start (`rtt` + `"reset":true` clears it)
 * ```
 *
 * Counters carry Linux's nstat names (`stack/nstat.ts`); sockets are those the registry lists
 * (`stack/socket_registry.ts`), with TCP_INFO for connections. Requests are bounded (4 KiB,
 * 2 s), a bad one gets `{"error":…}`, and nothing a client sends can stop the stack.
 *
 * @module
 */

import { type Histogram, latencySummary } from "../core/histogram.ts";
import { formatIp, type IpAddr, isUnspecified } from "../net/ip_address.ts";
import type { TcpInfo } from "../transport/tcp/tcp_info.ts";
import { nstatCounters } from "./nstat.ts";
import type { Stack } from "./stack.ts";
import type { Counters } from "../core/counters.ts";

/** Largest request line. */
const MAX_REQUEST_BYTES = 4096;
/** A client must send its request within this time. */
const REQUEST_TIMEOUT_MS = 2000;

/** One socket as `ss` shows it. */
export interface SocketEntry {
  /** "tcp" or "udp". */
  netid: "tcp" | "udp";
  /** ss's state name: LISTEN, ESTAB, SYN-SENT, TIME-WAIT, … (UDP: UNCONN or ESTAB). */
  state: string;
  /** Listener: connections waiting for accept; otherwise unread bytes. */
  recvQ: number;
  /** Listener: the backlog; TCP: bytes not yet acknowledged; UDP: 0. */
  sendQ: number;
  /** Local address. */
  localAddress: string;
  /** Local port. */
  localPort: number;
  /** Peer address ("0.0.0.0" when none). */
  peerAddress: string;
  /** Peer port (0 when none, shown as `*`). */
  peerPort: number;
  /** TCP_INFO of a connection. */
  info?: TcpInfo;
}

/** ss's names for RFC 9293 states. */
const SS_STATE: Record<string, string> = {
  ESTABLISHED: "ESTAB",
  SYN_SENT: "SYN-SENT",
  SYN_RECEIVED: "SYN-RECV",
  FIN_WAIT_1: "FIN-WAIT-1",
  FIN_WAIT_2: "FIN-WAIT-2",
  CLOSE_WAIT: "CLOSE-WAIT",
  CLOSING: "CLOSING",
  LAST_ACK: "LAST-ACK",
  TIME_WAIT: "TIME-WAIT",
  CLOSED: "UNCONN",
  LISTEN: "LISTEN",
};

/** A wildcard as ss shows it: `0.0.0.0`, `::` (IPV6_V6ONLY) or `*` (dual-stack). */
function wildcardText(family: 4 | 6, v6only: boolean): string {
  return family === 4 ? "0.0.0.0" : v6only ? "::" : "*";
}

/** A bound address as ss shows it (wildcards per {@link wildcardText}). */
function addressText(a: IpAddr, v6only: boolean): string {
  return isUnspecified(a) ? wildcardText(a.family, v6only) : formatIp(a);
}

/**
 * The sockets of `stack` (listeners, then connections, then UDP), as `ss -tuna -i` lists them.
 *
 * @example
 * ```ts ignore
 * for (const s of listSockets(rt.stack)) console.log(s.state, s.localPort);
 * ```
 */
export function listSockets(stack: Stack): SocketEntry[] {
  const out: SocketEntry[] = [];
  const reg = stack.registry;
  for (const l of reg.listeners()) {
    out.push({
      netid: "tcp",
      state: "LISTEN",
      recvQ: l.pending,
      sendQ: l.backlog,
      localAddress: addressText(l.localAddr, l.v6only),
      localPort: l.localPort,
      peerAddress: wildcardText(l.localAddr.family, l.v6only),
      peerPort: 0,
    });
  }
  for (const ep of reg.tcp()) {
    const info = ep.info();
    out.push({
      netid: "tcp",
      state: SS_STATE[info.state] ?? info.state,
      recvQ: info.rcvQueued,
      sendQ: info.sndQueued,
      localAddress: formatIp(ep.localAddr),
      localPort: ep.localPort,
      peerAddress: formatIp(ep.remoteAddr),
      peerPort: ep.remotePort,
      info,
    });
  }
  for (const ep of reg.udp()) {
    out.push({
      netid: "udp",
      state: ep.remotePort === 0 ? "UNCONN" : "ESTAB",
      recvQ: ep.queuedBytes,
      sendQ: 0,
      localAddress: addressText(ep.localAddr, ep.v6only),
      localPort: ep.localPort,
      peerAddress: ep.remotePort === 0
        ? wildcardText(ep.family, ep.v6only)
        : formatIp(ep.remoteAddr),
      peerPort: ep.remotePort,
    });
  }
  return out;
}

/**
 * Stacks the control server reaches asynchronously (a stack per core: `stack/workers.ts`):
 * their counters, already summed, and their sockets.
 */
export interface RemoteControlSource {
  /** The summed stack counter groups (`StackStats.snapshot()` shape) and extra groups. */
  counters(): Promise<{ stack: Record<string, Counters>; extra: Record<string, Counters> }>;
  /** Every stack's sockets. */
  sockets(): Promise<SocketEntry[]>;
  /** Every stack's TCP RTT samples in one histogram (ns); `reset` clears each stack's own. */
  rtt(reset: boolean): Promise<Histogram>;
}

/** What the control server reports: one stack (`stack`) or stacks elsewhere (`remote`). */
export interface ControlSources {
  /** The stack. */
  stack?: Stack;
  /** More counter groups (driver, services), flattened as `<Group><Name>`. */
  extraCounters?: () => Record<string, Record<string, number>>;
  /** Instead of `stack`: stacks in workers, asked on every request. */
  remote?: RemoteControlSource;
}

/**
 * A control socket serving one stack.
 *
 * @example
 * ```ts ignore
 * const control = await ControlServer.listen("/run/ustack.sock", { stack: rt.stack });
 * // … later
 * await control.close();
 * ```
 */
export class ControlServer {
  /** The socket path. */
  readonly path: string;
  /** Requests answered, and requests refused (malformed, too large, too slow). */
  readonly stats = { requests: 0, errors: 0 };
  readonly #listener: Deno.Listener;
  readonly #sources: ControlSources;
  readonly #startMs = performance.now();
  #deltaBase: Record<string, number> = {};
  #deltaAtMs = this.#startMs;
  readonly #served: Promise<void>;

  private constructor(path: string, listener: Deno.Listener, sources: ControlSources) {
    this.path = path;
    this.#listener = listener;
    this.#sources = sources;
    this.#served = this.#serve();
  }

  /**
   * Listen on `path` (a stale socket file left by a dead process is replaced; any other
   * existing file is an error). Needs `--allow-net` (Deno's permission for Unix sockets) and
   * `--allow-read --allow-write` for the path.
   */
  static listen(path: string, sources: ControlSources): ControlServer {
    try {
      if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const listener = Deno.listen({ transport: "unix", path });
    return new ControlServer(path, listener, sources);
  }

  /** Counters under nstat names: the stack's (or the remote stacks' sum), then the extra groups. */
  async counters(): Promise<Record<string, number>> {
    const src = this.#sources;
    const remote = src.remote === undefined ? null : await src.remote.counters();
    const out = nstatCounters(remote?.stack ?? src.stack?.stats.snapshot() ?? {});
    const extra = { ...remote?.extra, ...src.extraCounters?.() };
    for (const [group, values] of Object.entries(extra)) {
      for (const [name, v] of Object.entries(values)) {
        out[`${group}${name.charAt(0).toUpperCase()}${name.slice(1)}`] = v;
      }
    }
    return out;
  }

  /** Answer one parsed request. */
  async answer(request: unknown): Promise<Record<string, unknown>> {
    const cmd = (request as { cmd?: unknown })?.cmd;
    if (cmd === "stats") {
      const counters = await this.counters();
      const now = performance.now();
      if ((request as { delta?: unknown }).delta === true) {
        const delta: Record<string, number> = {};
        for (const [k, v] of Object.entries(counters)) delta[k] = v - (this.#deltaBase[k] ?? 0);
        const seconds = (now - this.#deltaAtMs) / 1000;
        this.#deltaBase = counters;
        this.#deltaAtMs = now;
        return { counters: delta, seconds, delta: true };
      }
      return { counters, seconds: (now - this.#startMs) / 1000, delta: false };
    }
    if (cmd === "sockets") {
      const src = this.#sources;
      const sockets = src.remote !== undefined
        ? await src.remote.sockets()
        : src.stack === undefined
        ? []
        : listSockets(src.stack);
      return { sockets };
    }
    if (cmd === "memory") return { ...Deno.memoryUsage() };
    if (cmd === "rtt") {
      const reset = (request as { reset?: unknown }).reset === true;
      const src = this.#sources;
      if (src.remote !== undefined) return { rtt: latencySummary(await src.remote.rtt(reset)) };
      if (src.stack === undefined) return { error: "no stack" };
      const samples = src.stack.tcp.rttNs;
      const rtt = latencySummary(samples);
      if (reset) samples.reset();
      return { rtt };
    }
    return { error: `unknown command ${JSON.stringify(cmd)} (stats, sockets, memory, rtt)` };
  }

  async #serve(): Promise<void> {
    for await (const conn of this.#listener) void this.#handle(conn);
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    try {
      const buf = new Uint8Array(MAX_REQUEST_BYTES);
      let have = 0;
      let nl = -1;
      while (nl < 0 && have < buf.length) {
        const n = await conn.read(buf.subarray(have));
        if (n === null) break;
        have += n;
        nl = buf.subarray(0, have).indexOf(10);
      }
      let reply: Record<string, unknown>;
      try {
        reply = await this.answer(
          JSON.parse(new TextDecoder().decode(buf.subarray(0, nl < 0 ? have : nl))),
        );
        this.stats.requests++;
      } catch {
        this.stats.errors++;
        reply = { error: 'bad request: send one line of JSON like {"cmd":"stats"}' };
      }
      const bytes = new TextEncoder().encode(JSON.stringify(reply) + "\n");
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    } catch {
      this.stats.errors++;
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* closed by the timeout */ }
    }
  }

  /** Stop listening and remove the socket file. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    await this.#served.catch(() => {});
    try {
      Deno.removeSync(this.path);
    } catch { /* gone */ }
  }
}

/**
 * Send one request to the control socket at `path` and return its answer.
 *
 * @example
 * ```ts ignore
 * const { counters } = await queryControl("/run/ustack.sock", { cmd: "stats" });
 * ```
 */
export async function queryControl(
  path: string,
  request: Record<string, unknown>,
): Promise<Record<string, any>> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const text = await new Response(conn.readable).text();
    const reply = JSON.parse(text);
    if (typeof reply.error === "string") throw new Error(reply.error);
    return reply;
  } finally {
    try {
      conn.close();
    } catch { /* closed with the stream */ }
  }
}
