/**
 * A `SenderConnection` for unit tests of `TcpSender` alone: it records every segment the sender
 * emits (its sequence number, flags and length) and the bytes in total, follows FIN_WAIT_1 →
 * FIN_WAIT_2 when the FIN is acknowledged, and answers the rest with constants (no SACK or
 * timestamps negotiated, no path MTU limit, TSO super-segments of `tsoBytes`, 0: none).
 */

import type { TcpHeaderOptions } from "../../transport/tcp/options.ts";
import type { SenderConnection } from "../../transport/tcp/sender.ts";
import { NO_PATH_MSS_LIMIT } from "../../transport/tcp/mss_control.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import { TcpEvent, TcpState } from "../../transport/tcp/state.ts";

/** See the module comment. */
export class SenderStub implements SenderConnection {
  state: TcpState = TcpState.ESTABLISHED;
  tsOk = false;
  sackOk = false;
  ecnOk = false;
  /** [sequence number, flags, length] of each emitted segment. */
  sent: [number, number, number][] = [];
  /** Bytes of data emitted in all. */
  sentBytes = 0;
  /** The connection events the sender reported. */
  events: TcpEvent[] = [];
  /** The sender's SND.UNA (emit's sequence number is relative to it); set after making one. */
  una: () => number = () => 0;
  readonly #tsoBytes: number;

  /** A stub whose TSO limit is `tsoBytes` (0: no TSO). */
  constructor(tsoBytes = 0) {
    this.#tsoBytes = tsoBytes;
  }
  sackOptionBytes(): number {
    return 0;
  }
  pathMss(): number {
    return NO_PATH_MSS_LIMIT;
  }
  tsNow(): number {
    return 0;
  }
  tsEchoAgeMs(opts: TcpHeaderOptions): number {
    return (0 - opts.tsEcr) >>> 0;
  }
  emit(fromUna: number, flags: number, len: number): boolean {
    this.sent.push([seqAdd(this.una(), fromUna), flags, len]);
    this.sentBytes += len;
    return true;
  }
  tsoLimit(): number {
    return this.#tsoBytes;
  }
  scheduleOutput(): void {}
  flushOutput(): void {}
  transition(ev: TcpEvent): void {
    this.events.push(ev);
    if (ev === TcpEvent.RCV_ACK_OF_FIN && this.state === TcpState.FIN_WAIT_1) {
      this.state = TcpState.FIN_WAIT_2;
    }
  }
  timedOut(): void {}
  updateReadiness(): void {}
}
