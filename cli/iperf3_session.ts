/**
 * What the iperf3 client and server share once streams exist: the per-second interval lines,
 * the final partial interval, this side's results message and its CPU use.
 *
 * @module
 */

import process from "node:process";
import type { StreamResult } from "./iperf3_protocol.ts";
import type { Iperf3Report, ReportRow } from "./iperf3_report.ts";
import { type DataStream, UdpDataStream } from "./iperf3_streams.ts";
import { MIN_PARTIAL_INTERVAL_MS } from "./meter.ts";

/** The streams of one test and their interval reporting. */
export class TestSession {
  /** The streams, in iperf3's order. */
  readonly streams: DataStream[] = [];
  readonly #report: Iperf3Report;
  /** This side sends. */
  readonly sender: boolean;
  #startMs = 0;
  #lastMs = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #cpuStart = process.cpuUsage();
  #wallStart = performance.now();

  /** A session reporting to `report`; `sender` says which way data flows from here. */
  constructor(report: Iperf3Report, sender: boolean) {
    this.#report = report;
    this.sender = sender;
  }

  /** When the streams started. */
  get startMs(): number {
    return this.#startMs;
  }

  /** Start every stream and the once-a-second interval lines. */
  start(): void {
    const now = performance.now();
    this.#startMs = this.#lastMs = now;
    this.#cpuStart = process.cpuUsage();
    this.#wallStart = now;
    for (const s of this.streams) s.start(now);
    this.#ticker = setInterval(() => this.#interval(performance.now()), 1000);
  }

  /** Stop every stream, report the last partial interval. */
  stop(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    const now = performance.now();
    for (const s of this.streams) s.stop(now);
    if (now - this.#lastMs >= MIN_PARTIAL_INTERVAL_MS) this.#interval(now);
  }

  #row(s: DataStream, nowMs: number): ReportRow {
    const row: ReportRow = {
      id: s.id,
      start: (this.#lastMs - this.#startMs) / 1000,
      end: (nowMs - this.#startMs) / 1000,
      bytes: s.bytes - s.lastBytes,
    };
    s.lastBytes = s.bytes;
    if (s instanceof UdpDataStream) {
      row.packets = s.packets - s.lastPackets;
      s.lastPackets = s.packets;
      if (!s.sender) {
        row.jitterMs = s.rx.jitter * 1000;
        row.lost = s.lost - s.lastLost;
        s.lastLost = s.lost;
      }
    } else if (s.sender) {
      const r = s.retransmits();
      row.retransmits = r - s.lastRetransmits;
      s.lastRetransmits = r;
      row.cwnd = s.cwnd();
    }
    return row;
  }

  #interval(nowMs: number): void {
    this.#report.interval(this.streams.map((s) => this.#row(s, nowMs)), this.sender);
    this.#lastMs = nowMs;
  }

  /** This side's results message entries. */
  results(): StreamResult[] {
    return this.streams.map((s) => s.result());
  }

  /** CPU use since the start, in percent of one core (total, user, system). */
  cpu(): { total: number; user: number; system: number } {
    const u = process.cpuUsage(this.#cpuStart);
    const wallUs = Math.max(1, (performance.now() - this.#wallStart) * 1000);
    const user = (100 * u.user) / wallUs;
    const system = (100 * u.system) / wallUs;
    return { total: user + system, user, system };
  }

  /** Close every stream's socket. */
  close(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    for (const s of this.streams) s.close();
  }
}

/**
 * Summary rows from both sides' results: for each stream a sender row and a receiver row, the
 * local side's from `local`, the peer's from `remote` (its results message).
 */
export function summaryRows(
  local: StreamResult[],
  remote: StreamResult[],
  localSender: boolean,
  udp: boolean,
): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const l of local) {
    const r = remote.find((x) => x.id === l.id);
    const snd = localSender ? l : r;
    const rcv = localSender ? r : l;
    if (snd !== undefined) {
      rows.push({
        id: l.id,
        start: 0,
        end: snd.end_time,
        bytes: snd.bytes,
        role: "sender",
        ...(udp
          ? { jitterMs: 0, lost: 0, packets: snd.packets }
          : { retransmits: Math.max(0, snd.retransmits) }),
      });
    }
    if (rcv !== undefined) {
      rows.push({
        id: l.id,
        start: 0,
        end: rcv.end_time,
        bytes: rcv.bytes,
        role: "receiver",
        ...(udp ? { jitterMs: rcv.jitter * 1000, lost: rcv.errors, packets: rcv.packets } : {}),
      });
    }
  }
  return rows;
}
