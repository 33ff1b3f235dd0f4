/**
 * iperf3's output for `ustack iperf3`: the "connected" lines, one line per stream per second
 * (and a `[SUM]` line with several streams), the sender/receiver summary, in iperf3's units
 * (transfer in KBytes/MBytes/GBytes of 1024, rates in Kbits/Mbits/Gbits of 1000) — or, with
 * `--json`, one document in the shape of `iperf3 -J` (`start`, `intervals`, `end`).
 *
 * @module
 */

import { emit } from "./output.ts";

/** iperf3's adaptive number: 2 decimals below 10, 1 below 100, none above (width 4). */
function num(v: number): string {
  const s = v < 9.995 ? v.toFixed(2) : v < 99.95 ? v.toFixed(1) : v.toFixed(0);
  return s.padStart(4);
}

/**
 * Bytes in iperf3's transfer units.
 *
 * @example
 * ```ts
 * formatBytes(870318080); // " 830 MBytes"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["Bytes", "KBytes", "MBytes", "GBytes", "TBytes"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 * 0.9995 && u < units.length - 1 && (u > 0 || v >= 1024)) {
    v /= 1024;
    u++;
  }
  return `${num(v)} ${units[u]}`;
}

/**
 * Bits per second in iperf3's rate units.
 *
 * @example
 * ```ts
 * formatRate(6.95e9); // "6.95 Gbits/sec"
 * ```
 */
export function formatRate(bitsPerSecond: number): string {
  const units = ["bits/sec", "Kbits/sec", "Mbits/sec", "Gbits/sec", "Tbits/sec"];
  let v = bitsPerSecond;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${num(v)} ${units[u]}`;
}

/** One row of an interval or summary. */
export interface ReportRow {
  /** Stream number, or "SUM". */
  id: number | "SUM";
  /** Start, seconds. */
  start: number;
  /** End, seconds. */
  end: number;
  /** Bytes in the interval. */
  bytes: number;
  /** TCP sender: retransmits in the interval (undefined elsewhere). */
  retransmits?: number;
  /** TCP sender: congestion window, bytes. */
  cwnd?: number;
  /** UDP: jitter, ms (receiver). */
  jitterMs?: number;
  /** UDP: datagrams lost. */
  lost?: number;
  /** UDP: datagrams. */
  packets?: number;
  /** Summary rows: "sender" or "receiver". */
  role?: "sender" | "receiver";
}

const SEPARATOR = "- - - - - - - - - - - - - - - - - - - - - - - - -";

/** Prints (or collects, with `--json`) what an iperf3 run reports. */
export class Iperf3Report {
  /** JSON output instead of text. */
  readonly json: boolean;
  readonly #doc: {
    start: Record<string, unknown>;
    intervals: unknown[];
    end: Record<string, unknown>;
  } = {
    start: { connected: [] },
    intervals: [],
    end: {},
  };
  readonly #udp: boolean;
  #headerShown = false;

  /** A report for a `protocol` test; `json` collects instead of printing. */
  constructor(json: boolean, protocol: "tcp" | "udp") {
    this.json = json;
    this.#udp = protocol === "udp";
  }

  /** A free text line (text mode only). */
  text(line: string): void {
    if (!this.json) emit(line);
  }

  /** Extra fields of the JSON `start` object. */
  start(fields: Record<string, unknown>): void {
    Object.assign(this.#doc.start, fields);
  }

  /** A stream connected. */
  connected(
    id: number,
    local: string,
    localPort: number,
    remote: string,
    remotePort: number,
  ): void {
    (this.#doc.start.connected as unknown[]).push({
      socket: id,
      local_host: local,
      local_port: localPort,
      remote_host: remote,
      remote_port: remotePort,
    });
    this.text(
      `[${
        String(id).padStart(3)
      }] local ${local} port ${localPort} connected to ${remote} port ${remotePort}`,
    );
  }

  #head(summary: boolean, sender: boolean): string {
    let h = "[ ID] Interval           Transfer     Bitrate";
    if (this.#udp) {
      h += summary || !sender
        ? "         Jitter    Lost/Total Datagrams"
        : "         Total Datagrams";
    } else if (sender) h += summary ? "         Retr" : "         Retr  Cwnd";
    return h;
  }

  #line(r: ReportRow): string {
    const id = r.id === "SUM" ? "SUM" : String(r.id).padStart(3);
    const seconds = r.end - r.start;
    let s = `[${id}] ${r.start.toFixed(2).padStart(6)}-${r.end.toFixed(2).padEnd(6)} sec  ` +
      `${formatBytes(r.bytes)}  ${formatRate(seconds > 0 ? (r.bytes * 8) / seconds : 0)}`;
    if (this.#udp) {
      if (r.jitterMs !== undefined) {
        const pct = r.packets ? (100 * (r.lost ?? 0)) / r.packets : 0;
        s += `  ${r.jitterMs.toFixed(3)} ms  ${r.lost ?? 0}/${r.packets ?? 0} (${
          pct.toFixed(pct > 0 && pct < 1 ? 2 : 0)
        }%)`;
      } else if (r.packets !== undefined) s += `  ${r.packets}`;
    } else if (r.retransmits !== undefined) {
      s += `  ${String(r.retransmits).padStart(4)}`;
      if (r.cwnd !== undefined) s += `   ${formatBytes(r.cwnd)}`;
    }
    if (r.role !== undefined) {
      s += `${" ".repeat(Math.max(2, (this.#udp ? 80 : 70) - s.length))}${r.role}`;
    }
    return s;
  }

  #jsonRow(r: ReportRow, sender: boolean): Record<string, unknown> {
    const seconds = r.end - r.start;
    const o: Record<string, unknown> = {
      ...(r.id === "SUM" ? {} : { socket: r.id }),
      start: r.start,
      end: r.end,
      seconds,
      bytes: r.bytes,
      bits_per_second: seconds > 0 ? (r.bytes * 8) / seconds : 0,
      omitted: false,
      sender,
    };
    if (r.retransmits !== undefined) o.retransmits = r.retransmits;
    if (r.cwnd !== undefined) o.snd_cwnd = r.cwnd;
    if (r.jitterMs !== undefined) o.jitter_ms = r.jitterMs;
    if (r.lost !== undefined) o.lost_packets = r.lost;
    if (r.packets !== undefined) {
      o.packets = r.packets;
      if (r.lost !== undefined) o.lost_percent = r.packets ? (100 * r.lost) / r.packets : 0;
    }
    return o;
  }

  /** One interval: a row per stream and, with several, a SUM row. */
  interval(rows: ReportRow[], sender: boolean): void {
    if (rows.length === 0) return;
    const sum = sumRow(rows);
    if (this.json) {
      this.#doc.intervals.push({
        streams: rows.map((r) => this.#jsonRow(r, sender)),
        sum: this.#jsonRow(sum, sender),
      });
      return;
    }
    if (!this.#headerShown) {
      this.#headerShown = true;
      emit(this.#head(false, sender));
    }
    for (const r of rows) emit(this.#line(r));
    if (rows.length > 1) emit(this.#line(sum));
  }

  /** The closing summary: rows with `role` set, per stream, then SUM rows. */
  summary(rows: ReportRow[], sender: boolean): void {
    const senders = rows.filter((r) => r.role === "sender");
    const receivers = rows.filter((r) => r.role === "receiver");
    if (this.json) {
      const end: Record<string, unknown> = {
        streams: rows.filter((r) => r.role === "receiver" || !receivers.length).map((r) => {
          const s = senders.find((x) => x.id === r.id);
          return this.#udp
            ? {
              udp: this.#jsonRow({
                ...r,
                ...(s ? { bytes: s.bytes, start: s.start, end: s.end } : {}),
              }, sender),
            }
            : {
              ...(s ? { sender: this.#jsonRow(s, true) } : {}),
              receiver: this.#jsonRow(r, false),
            };
        }),
      };
      if (senders.length) end.sum_sent = this.#jsonRow(sumRow(senders), true);
      if (receivers.length) end.sum_received = this.#jsonRow(sumRow(receivers), false);
      if (this.#udp && receivers.length) end.sum = this.#jsonRow(sumRow(receivers), sender);
      Object.assign(this.#doc.end, end);
      return;
    }
    emit(SEPARATOR);
    emit(this.#head(true, senders.length > 0));
    const ids = [...new Set(rows.map((r) => r.id))];
    for (const id of ids) for (const r of rows.filter((x) => x.id === id)) emit(this.#line(r));
    if (ids.length > 1) {
      if (senders.length) emit(this.#line({ ...sumRow(senders), role: "sender" }));
      if (receivers.length) emit(this.#line({ ...sumRow(receivers), role: "receiver" }));
    }
  }

  /** Extra fields of the JSON `end` object (cpu utilisation, …). */
  end(fields: Record<string, unknown>): void {
    Object.assign(this.#doc.end, fields);
  }

  /** Print the JSON document (json mode). */
  flush(): void {
    if (this.json) emit(JSON.stringify(this.#doc, null, 2));
  }
}

/** The SUM of rows (max end, totals; jitter averaged as iperf3 does). */
function sumRow(rows: ReportRow[]): ReportRow {
  const sum: ReportRow = {
    id: "SUM",
    start: Math.min(...rows.map((r) => r.start)),
    end: Math.max(...rows.map((r) => r.end)),
    bytes: rows.reduce((a, r) => a + r.bytes, 0),
    role: rows[0].role,
  };
  if (rows.some((r) => r.retransmits !== undefined)) {
    sum.retransmits = rows.reduce((a, r) => a + (r.retransmits ?? 0), 0);
  }
  if (rows.some((r) => r.packets !== undefined)) {
    sum.packets = rows.reduce((a, r) => a + (r.packets ?? 0), 0);
  }
  if (rows.some((r) => r.lost !== undefined)) {
    sum.lost = rows.reduce((a, r) => a + (r.lost ?? 0), 0);
  }
  if (rows.some((r) => r.jitterMs !== undefined)) {
    sum.jitterMs = rows.reduce((a, r) => a + (r.jitterMs ?? 0), 0) / rows.length;
  }
  return sum;
}
