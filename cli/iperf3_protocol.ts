/**
 * The iperf3 control protocol as the real tool (esnet iperf3 3.x) speaks it, so that
 * `ustack iperf3` interoperates with stock `iperf3 -c` and `iperf3 -s`:
 *
 * - the client opens a TCP control connection and sends a 37-byte cookie (36 characters of
 *   `[a-z2-7]` and a NUL); every data connection starts with the same cookie;
 * - the server drives the test with one signed state byte at a time: PARAM_EXCHANGE (the
 *   client answers with its parameters as JSON), CREATE_STREAMS (the client opens `-P`
 *   streams; a UDP stream "connects" with a 4-byte datagram the server answers), TEST_START,
 *   TEST_RUNNING; the client sends TEST_END when its time is up, the server EXCHANGE_RESULTS
 *   (client results, then server results, both JSON), DISPLAY_RESULTS, and the client
 *   IPERF_DONE;
 * - JSON travels as a 4-byte big-endian length and the text; streams are numbered 1, 3, 4, 5,
 *   … in the order they connect (iperf3's own numbering, which both sides must agree on);
 * - a UDP datagram starts with the send time (seconds, microseconds) and a sequence number
 *   (32-bit, or 64-bit when `udp_counters_64bit` is set), all big-endian.
 *
 * @module
 */

import type { TcpConn } from "../mod.ts";

/** Default port. */
export const IPERF3_PORT = 5201;
/** Cookie length, the NUL included. */
export const COOKIE_SIZE = 37;

/** Control states (iperf_api.h). */
export const TEST_START = 1;
/** Data flows. */
export const TEST_RUNNING = 2;
/** The client's time is up. */
export const TEST_END = 4;
/** The client sends its parameters. */
export const PARAM_EXCHANGE = 9;
/** The client opens its streams. */
export const CREATE_STREAMS = 10;
/** The server gives up. */
export const SERVER_TERMINATE = 11;
/** The client gives up. */
export const CLIENT_TERMINATE = 12;
/** Both sides send their results. */
export const EXCHANGE_RESULTS = 13;
/** The client prints its summary. */
export const DISPLAY_RESULTS = 14;
/** The client is done. */
export const IPERF_DONE = 16;
/** The server is busy with another test. */
export const ACCESS_DENIED = -1;
/** The server failed. */
export const SERVER_ERROR = -2;

/**
 * The 4-byte UDP "connect" datagram as current iperf3 sends it from a little-endian host
 * (0x36373839 written without byte swapping: the bytes "9876"), and the reply ("6789").
 * Older versions used 123456789 / 987654321 the same way; either is accepted, the reply
 * matches the request.
 */
export const UDP_CONNECT_MSG = new Uint8Array([0x39, 0x38, 0x37, 0x36]);
/** Reply to {@link UDP_CONNECT_MSG}. */
export const UDP_CONNECT_REPLY = new Uint8Array([0x36, 0x37, 0x38, 0x39]);
/** Legacy connect datagram (123456789, little-endian). */
export const LEGACY_UDP_CONNECT_MSG = new Uint8Array([0x15, 0xcd, 0x5b, 0x07]);
/** Legacy reply (987654321, little-endian). */
export const LEGACY_UDP_CONNECT_REPLY = new Uint8Array([0xb1, 0x68, 0xde, 0x3a]);

/** Largest JSON message accepted on the control connection. */
const MAX_JSON_BYTES = 1 << 20;

/** Test parameters, as the client sends them (the fields this implementation uses). */
export interface Iperf3Params {
  /** "tcp" or "udp". */
  protocol: "tcp" | "udp";
  /** Seconds to run. */
  time: number;
  /** Streams. */
  parallel: number;
  /** Bytes per write (TCP) or per datagram (UDP). */
  len: number;
  /** The server sends, the client receives (`-R`). */
  reverse: boolean;
  /** Target bits/s per stream (UDP; 0 = unlimited). */
  bandwidth: number;
  /** 64-bit UDP sequence numbers. */
  udpCounters64: boolean;
}

/** Parameters from the client's JSON (missing fields take iperf3's defaults). */
export function paramsFromJson(j: Record<string, unknown>): Iperf3Params {
  const udp = j.udp === true;
  return {
    protocol: udp ? "udp" : "tcp",
    time: typeof j.time === "number" ? j.time : 10,
    parallel: typeof j.parallel === "number" && j.parallel > 0 ? j.parallel : 1,
    len: typeof j.len === "number" && j.len > 0 ? j.len : udp ? 1460 : 131072,
    reverse: j.reverse === true,
    bandwidth: typeof j.bandwidth === "number" ? j.bandwidth : udp ? 1_000_000 : 0,
    udpCounters64: j.udp_counters_64bit === true || j.udp_counters_64bit === 1,
  };
}

/** The client's parameter JSON for `p`, as iperf3 3.x sends it. */
export function paramsToJson(p: Iperf3Params): Record<string, unknown> {
  const j: Record<string, unknown> = {
    [p.protocol]: true,
    omit: 0,
    time: p.time,
    num: 0,
    blockcount: 0,
    parallel: p.parallel,
    len: p.len,
    pacing_timer: 1000,
    client_version: "3.12",
  };
  if (p.reverse) j.reverse = true;
  if (p.protocol === "udp") j.bandwidth = p.bandwidth;
  return j;
}

/**
 * A new cookie: 36 characters of iperf3's alphabet and the NUL.
 *
 * @example
 * ```ts
 * makeCookie().length; // 37
 * ```
 */
export function makeCookie(): Uint8Array {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const random = crypto.getRandomValues(new Uint8Array(COOKIE_SIZE - 1));
  const out = new Uint8Array(COOKIE_SIZE);
  for (let i = 0; i < random.length; i++) out[i] = alphabet.charCodeAt(random[i] & 31);
  return out;
}

/**
 * iperf3's stream numbers for `n` streams: 1, 3, 4, 5, …
 *
 * @example
 * ```ts
 * streamIds(3); // [1, 3, 4]
 * ```
 */
export function streamIds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i + 2));
}

/** Thrown when the peer breaks the protocol or leaves. */
export class Iperf3Error extends Error {
  /** An error saying what went wrong. */
  constructor(message: string) {
    super(message);
    this.name = "Iperf3Error";
  }
}

/** Exact reads, state bytes and length-prefixed JSON on a TCP connection. */
export class ControlChannel {
  /** The connection. */
  readonly conn: TcpConn;
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  /** A channel on `conn`. */
  constructor(conn: TcpConn) {
    this.conn = conn;
  }

  /** Read exactly `n` bytes; throws Iperf3Error at EOF. */
  async readExact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (this.#end > this.#start) {
        const k = Math.min(n - got, this.#end - this.#start);
        out.set(this.#buf.subarray(this.#start, this.#start + k), got);
        this.#start += k;
        got += k;
        continue;
      }
      this.#start = this.#end = 0;
      const r = await this.conn.read(this.#buf);
      if (r === null) throw new Iperf3Error("the peer closed the control connection");
      this.#end = r;
    }
    return out;
  }

  /** Read one state byte (signed). */
  async readState(): Promise<number> {
    const b = (await this.readExact(1))[0];
    return b > 127 ? b - 256 : b;
  }

  /** Send one state byte. */
  async writeState(state: number): Promise<void> {
    await this.conn.write(new Uint8Array([state & 0xff]));
  }

  /** Read a length-prefixed JSON object. */
  async readJson(): Promise<Record<string, any>> {
    const len = new DataView((await this.readExact(4)).buffer).getUint32(0);
    if (len > MAX_JSON_BYTES) throw new Iperf3Error(`JSON message of ${len} bytes`);
    const text = new TextDecoder().decode(await this.readExact(len));
    try {
      return JSON.parse(text);
    } catch {
      throw new Iperf3Error("the peer sent malformed JSON");
    }
  }

  /** Send a length-prefixed JSON object. */
  async writeJson(obj: Record<string, unknown>): Promise<void> {
    const body = new TextEncoder().encode(JSON.stringify(obj));
    const msg = new Uint8Array(4 + body.length);
    new DataView(msg.buffer).setUint32(0, body.length);
    msg.set(body, 4);
    await this.conn.write(msg);
  }
}

/** Results of one stream, as exchanged. */
export interface StreamResult {
  /** iperf3 stream number. */
  id: number;
  /** Bytes sent (sender) or received (receiver). */
  bytes: number;
  /** Retransmitted segments (sender), -1 otherwise. */
  retransmits: number;
  /** UDP jitter in seconds. */
  jitter: number;
  /** UDP datagrams lost. */
  errors: number;
  /** UDP datagrams (highest sequence number seen, or sent). */
  packets: number;
  /** Seconds from the stream's start. */
  start_time: number;
  /** Seconds at its end. */
  end_time: number;
}

/** The results message of one side. */
export function resultsJson(
  sender: boolean,
  streams: StreamResult[],
  cpu: { total: number; user: number; system: number },
): Record<string, unknown> {
  return {
    cpu_util_total: cpu.total,
    cpu_util_user: cpu.user,
    cpu_util_system: cpu.system,
    sender_has_retransmits: sender ? 1 : -1,
    congestion_used: "newreno",
    streams,
  };
}

/** Write a UDP datagram header (time, sequence) into `buf`. */
export function writeUdpHeader(buf: Uint8Array, nowMs: number, seq: number, wide: boolean): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const us = Math.floor((performance.timeOrigin + nowMs) * 1000);
  v.setUint32(0, Math.floor(us / 1e6));
  v.setUint32(4, us % 1e6);
  if (wide) v.setBigUint64(8, BigInt(seq));
  else v.setUint32(8, seq >>> 0);
}

/**
 * Receive-side UDP accounting of one stream (iperf3's rules): loss from sequence gaps,
 * out-of-order arrivals, and RFC 3550 §6.4.1 jitter from the send times.
 */
export class UdpReceiveStats {
  /** Highest sequence number seen. */
  packetCount = 0;
  /** Datagrams missing (gaps not filled later). */
  lost = 0;
  /** Datagrams that arrived after a later one. */
  outOfOrder = 0;
  /** Smoothed jitter in seconds. */
  jitter = 0;
  /** Payload bytes received. */
  bytes = 0;
  /** Datagrams received. */
  datagrams = 0;
  #prevTransit = 0;
  #haveTransit = false;

  /** Account one datagram of `len` bytes received at `nowMs`. */
  receive(buf: Uint8Array, len: number, nowMs: number, wide: boolean): void {
    this.bytes += len;
    this.datagrams++;
    if (len < 12) return;
    const v = new DataView(buf.buffer, buf.byteOffset, len);
    const sent = v.getUint32(0) + v.getUint32(4) / 1e6;
    const seq = wide && len >= 16 ? Number(v.getBigUint64(8)) : v.getUint32(8);
    if (seq >= this.packetCount + 1) {
      if (seq > this.packetCount + 1) this.lost += seq - 1 - this.packetCount;
      this.packetCount = seq;
    } else {
      this.outOfOrder++;
      if (this.lost > 0) this.lost--;
    }
    const transit = (performance.timeOrigin + nowMs) / 1000 - sent;
    if (this.#haveTransit) {
      const d = Math.abs(transit - this.#prevTransit);
      this.jitter += (d - this.jitter) / 16;
    }
    this.#prevTransit = transit;
    this.#haveTransit = true;
  }
}
