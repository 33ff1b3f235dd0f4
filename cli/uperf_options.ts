/**
 * What `ustack uperf` is asked to do, once its arguments are parsed.
 *
 * @module
 */

import type { IpAddress } from "../net/ip_address.ts";

/** What uperf is asked to do. */
export interface UperfOptions {
  /** Which side. */
  role: "server" | "client";
  /** UDP or TCP. */
  protocol: "udp" | "tcp";
  /** Client: destination address (either family). */
  host: IpAddress;
  /** Bytes per datagram (UDP) or per write (TCP). */
  len: number;
  /** Seconds to run. */
  seconds: number;
  /** Port. */
  port: number;
  /** TCP client: parallel connections. */
  streams: number;
  /** JSON lines output. */
  json: boolean;
  /** TCP client `--trace BASE`: where to write the event loop's trace, or null. */
  trace: string | null;
  /** TCP client `--cc-trace BASE`: where to write the first stream's per-ACK window, or null. */
  ccTrace: string | null;
}
