/**
 * The shape every `serve` service has (UDP echo, TCP echo, discard, HTTP): a name, counters
 * and a way to stop it; and the signal that stops `serve` itself.
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

/**
 * SIGINT or SIGTERM, which end `serve` (one stack or workers): `signalled` resolves on the first,
 * `fired` says whether it came.
 *
 * @example
 * ```ts ignore
 * const stop = new StopSignal();
 * await Promise.race([rt.addressesReady(), stop.signalled]);
 * if (!stop.fired) emit("ready …");
 * await stop.signalled;
 * ```
 */
export class StopSignal {
  /** True once a signal came. */
  fired = false;
  /** Resolves when a signal came. */
  readonly signalled: Promise<void>;

  /** Listen for SIGINT and SIGTERM from now on. */
  constructor() {
    this.signalled = new Promise<void>((resolve) => {
      const onSignal = () => {
        this.fired = true;
        resolve();
      };
      Deno.addSignalListener("SIGINT", onSignal);
      Deno.addSignalListener("SIGTERM", onSignal);
    });
  }
}
