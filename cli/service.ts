/**
 * The shape every `serve` service has (UDP echo, TCP echo, discard, HTTP): a name, counters
 * and a way to stop it.
 *
 * @module
 */

/** A service run by `serve`. */
export interface ServeService {
  /** Name in the output, e.g. `udp-echo/7`. */
  readonly name: string;
  /** Counters of the service, printed with the stack's at exit. */
  readonly stats: Record<string, number>;
  /** Stop serving and release the service's sockets. Idempotent. */
  close(): void;
}
