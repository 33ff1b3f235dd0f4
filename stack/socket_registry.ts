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
import { objectArray } from "../core/v8_shapes.ts";

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
  // Plain arrays compacted by the sweep, not Sets: a Set with this churn rehashes every few
  // dozen adds and its dead tables keep their entries for young-generation collections (see
  // core/dense_set.ts), which promoted every connection to the old generation.
  // (Never shrunk: a grown array leaves its old copy behind, with the same effect once.)
  readonly #tcp: (WeakRef<TcpEndpoint> | null)[] = objectArray();
  #tcpCount = 0;
  readonly #listeners = new Set<TcpListener>();
  readonly #udp: (WeakRef<UdpEndpoint> | null)[] = objectArray();
  #udpCount = 0;
  #tcpSweepAt = FIRST_SWEEP;
  #udpSweepAt = FIRST_SWEEP;

  /** List a TCP connection until it reaches CLOSED. */
  addTcp(ep: TcpEndpoint): void {
    this.#tcpCount = put(this.#tcp, this.#tcpCount, new WeakRef(ep));
    if (this.#tcpCount >= this.#tcpSweepAt) {
      this.tcp();
      this.#tcpSweepAt = Math.max(FIRST_SWEEP, 2 * this.#tcpCount);
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
    this.#udpCount = put(this.#udp, this.#udpCount, new WeakRef(ep));
    if (this.#udpCount >= this.#udpSweepAt) {
      this.udp();
      this.#udpSweepAt = Math.max(FIRST_SWEEP, 2 * this.#udpCount);
    }
  }

  /** TCP connections not yet CLOSED. */
  tcp(): TcpEndpoint[] {
    const out: TcpEndpoint[] = [];
    const refs = this.#tcp;
    let keep = 0;
    for (let i = 0; i < this.#tcpCount; i++) {
      const ref = refs[i]!;
      refs[i] = null;
      const e = ref.deref();
      if (e === undefined || e.stateName() === "CLOSED") continue;
      refs[keep++] = ref;
      out.push(e);
    }
    this.#tcpCount = keep;
    return out;
  }

  /** Open listeners. */
  listeners(): TcpListener[] {
    return [...this.#listeners];
  }

  /** Open UDP endpoints. */
  udp(): UdpEndpoint[] {
    const out: UdpEndpoint[] = [];
    const refs = this.#udp;
    let keep = 0;
    for (let i = 0; i < this.#udpCount; i++) {
      const ref = refs[i]!;
      refs[i] = null;
      const e = ref.deref();
      if (e === undefined || e.closed) continue;
      refs[keep++] = ref;
      out.push(e);
    }
    this.#udpCount = keep;
    return out;
  }
}

/** Store `ref` at `count` in `refs` (growing it only when full); the new count. */
function put<T>(refs: (T | null)[], count: number, ref: T): number {
  if (count < refs.length) refs[count] = ref;
  else refs.push(ref);
  return count + 1;
}
