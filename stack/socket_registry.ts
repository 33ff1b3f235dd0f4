/**
 * The sockets an application opened through the stack's APIs (TCP connections, listeners, UDP
 * endpoints), for `ss`-style listings. Everything the composition layer hands out registers
 * here: `TcpConn`, `TcpServer`, the socket table; code that opens endpoints on the layers
 * directly can register them itself.
 *
 * A connection stays listed after the application closes it, through FIN_WAIT and TIME_WAIT,
 * until it reaches CLOSED — like `ss`. Connections still in the listener's accept queue are
 * not listed (their listener's Recv-Q counts them). Connections and UDP endpoints are held by
 * `WeakRef`, so listing a socket never keeps it (and its buffers) alive; dead entries are
 * dropped by a sweep that runs whenever a set has doubled since the last one, so the registry
 * holds at most about twice the live sockets and adding costs O(1) amortised.
 *
 * @module
 */

import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import type { TcpListener } from "../transport/tcp/listener.ts";
import type { UdpEndpoint } from "../transport/udp.ts";

/** Entries before the first sweep. */
const FIRST_SWEEP = 64;

/**
 * Live sockets of one stack.
 *
 * @example
 * ```ts ignore
 * for (const ep of stack.registry.tcp()) console.log(ep.stateName(), ep.localPort);
 * ```
 */
export class SocketRegistry {
  readonly #tcp = new Set<WeakRef<TcpEndpoint>>();
  readonly #listeners = new Set<TcpListener>();
  readonly #udp = new Set<WeakRef<UdpEndpoint>>();
  #tcpSweepAt = FIRST_SWEEP;
  #udpSweepAt = FIRST_SWEEP;

  /** List a TCP connection until it reaches CLOSED. */
  addTcp(ep: TcpEndpoint): void {
    this.#tcp.add(new WeakRef(ep));
    if (this.#tcp.size >= this.#tcpSweepAt) {
      this.tcp();
      this.#tcpSweepAt = Math.max(FIRST_SWEEP, 2 * this.#tcp.size);
    }
  }

  /** List a listener until {@link removeListener}. */
  addListener(l: TcpListener): void {
    this.#listeners.add(l);
  }

  /** The listener was closed. */
  removeListener(l: TcpListener): void {
    this.#listeners.delete(l);
  }

  /** List a UDP endpoint until it is closed. */
  addUdp(ep: UdpEndpoint): void {
    this.#udp.add(new WeakRef(ep));
    if (this.#udp.size >= this.#udpSweepAt) {
      this.udp();
      this.#udpSweepAt = Math.max(FIRST_SWEEP, 2 * this.#udp.size);
    }
  }

  /** TCP connections not yet CLOSED. */
  tcp(): TcpEndpoint[] {
    const out: TcpEndpoint[] = [];
    for (const ref of this.#tcp) {
      const e = ref.deref();
      if (e === undefined || e.stateName() === "CLOSED") this.#tcp.delete(ref);
      else out.push(e);
    }
    return out;
  }

  /** Open listeners. */
  listeners(): TcpListener[] {
    return [...this.#listeners];
  }

  /** Open UDP endpoints. */
  udp(): UdpEndpoint[] {
    const out: UdpEndpoint[] = [];
    for (const ref of this.#udp) {
      const e = ref.deref();
      if (e === undefined || e.closed) this.#udp.delete(ref);
      else out.push(e);
    }
    return out;
  }
}
