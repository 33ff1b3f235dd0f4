/**
 * The data streams of an iperf3 test on ustack: a TCP stream that writes LEN-byte blocks as
 * fast as the connection takes them or reads and counts, and a UDP stream that sends
 * LEN-byte datagrams paced to the target rate or is fed the datagrams its endpoint receives.
 * Each keeps the counters the interval lines and the results message need.
 *
 * @module
 */

import { type IpAddress, StackError, type TcpConn, type UdpEndpoint, UdpPeer } from "../mod.ts";
import { type StreamResult, UdpReceiveStats, writeUdpHeader } from "./iperf3_protocol.ts";
import { sleep, yieldToEventLoop } from "./meter.ts";

/** Writes between two yields to the event loop (timers and the control channel run). */
const WRITES_PER_YIELD = 16;
/** Pacing step of UDP senders. */
const PACE_MS = 1;
/** Most datagrams one pacing step may send. */
const MAX_BURST = 256;

/**
 * Hand every datagram `ep` receives to `onDatagram`, as it arrives (at the end of the tick
 * that queued it). Readiness is edge-triggered, so whatever is queued already is drained now.
 * `onDatagram` runs inside the stack's tick and hands nothing on to promises: the listener is
 * marked synchronous (`WaitQueue.listenerSync`), so the event loop gives its ticks no microtask
 * turns.
 */
export function drainDatagrams(
  ep: UdpEndpoint,
  onDatagram: (buf: Uint8Array, len: number, peer: UdpPeer) => void,
): void {
  const buf = new Uint8Array(65536);
  const peer = new UdpPeer();
  const drain = () => {
    while (!ep.closed) {
      let n: number;
      try {
        n = ep.recvfrom(buf, 0, buf.length, peer);
      } catch {
        continue; // a reported socket error (cleared by reporting it): keep draining
      }
      if (n < 0) return;
      onDatagram(buf, n, peer);
    }
  };
  ep.wq.listener = drain;
  ep.wq.listenerSync = true;
  drain();
}

/** One data stream of a test. */
export abstract class DataStream {
  /** iperf3 stream number. */
  readonly id: number;
  /** This side sends on it. */
  readonly sender: boolean;
  /** Payload bytes sent or received. */
  bytes = 0;
  /** Datagrams sent (UDP sender). */
  sent = 0;
  /** When the stream started (ms, performance clock). */
  startMs = 0;
  /** When it stopped. */
  endMs = 0;
  /** Interval bookkeeping: bytes at the last interval line. */
  lastBytes = 0;
  /** Retransmits at the last interval line. */
  lastRetransmits = 0;
  /** UDP datagrams at the last interval line (sent, or highest sequence seen). */
  lastPackets = 0;
  /** UDP loss at the last interval line. */
  lastLost = 0;
  protected stopped = false;

  /** A stream numbered `id`. */
  constructor(id: number, sender: boolean) {
    this.id = id;
    this.sender = sender;
  }

  /** Local and remote `address port` for the "connected" line. */
  abstract get endpoints(): {
    local: string;
    localPort: number;
    remote: string;
    remotePort: number;
  };

  /** Segments retransmitted so far (TCP sender). */
  retransmits(): number {
    return 0;
  }

  /** Congestion window in bytes (TCP). */
  cwnd(): number {
    return 0;
  }

  /** Start moving data (senders) or counting (receivers). */
  abstract start(nowMs: number): void;

  /** Stop sending or counting. */
  stop(nowMs: number): void {
    if (this.stopped) return;
    this.stopped = true;
    this.endMs = nowMs;
  }

  /** Release the socket. */
  abstract close(): void;

  /** This side's results message entry. */
  result(): StreamResult {
    return {
      id: this.id,
      bytes: this.bytes,
      retransmits: this.sender ? this.retransmits() : -1,
      jitter: 0,
      errors: 0,
      packets: 0,
      start_time: 0,
      end_time: Math.max(0, (this.endMs || performance.now()) - this.startMs) / 1000,
    };
  }
}

/** A TCP data connection (after the cookie). */
export class TcpDataStream extends DataStream {
  readonly #conn: TcpConn;
  readonly #block: Uint8Array;
  #running: Promise<void> | null = null;

  /** Stream `id` on `conn`, writing `len`-byte blocks when `sender`. */
  constructor(conn: TcpConn, id: number, sender: boolean, len: number) {
    super(id, sender);
    this.#conn = conn;
    this.#block = sender
      ? crypto.getRandomValues(new Uint8Array(Math.min(len, 65536)))
      : new Uint8Array(0);
    if (sender && len > this.#block.length) {
      const big = new Uint8Array(len);
      for (let off = 0; off < len; off += this.#block.length) {
        big.set(this.#block.subarray(0, Math.min(this.#block.length, len - off)), off);
      }
      this.#block = big;
    }
  }

  override get endpoints(): {
    local: string;
    localPort: number;
    remote: string;
    remotePort: number;
  } {
    const l = this.#conn.localAddr;
    const r = this.#conn.remoteAddr;
    return { local: l.hostname, localPort: l.port, remote: r.hostname, remotePort: r.port };
  }

  override retransmits(): number {
    return this.#conn.info().retransmits;
  }

  override cwnd(): number {
    return this.#conn.info().cwnd;
  }

  override start(nowMs: number): void {
    this.startMs = nowMs;
    this.#running = (this.sender ? this.#send() : this.#receive()).catch(() => {});
  }

  async #send(): Promise<void> {
    const conn = this.#conn;
    const block = this.#block;
    let off = 0;
    let writes = 0;
    while (!this.stopped) {
      const n = conn.writeFrom(block, off, block.length - off);
      this.bytes += n;
      off += n;
      if (off === block.length) off = 0;
      if (n === 0) await conn.waitWritable();
      else if (++writes % WRITES_PER_YIELD === 0) await yieldToEventLoop();
    }
  }

  /**
   * Read the stream until the peer's FIN: a consumer (`TcpConn.consume`), each read counted
   * inside the tick that brought it, with no promise or wait per read.
   */
  async #receive(): Promise<void> {
    const buf = new Uint8Array(256 * 1024);
    await this.#conn.consume(buf, (n) => {
      if (!this.stopped) this.bytes += n;
    });
  }

  /** Resolves when the send or receive loop ended. */
  get done(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  override close(): void {
    this.stopped = true;
    // Unread data makes this a RST, as closing an iperf3 data socket does.
    this.#conn.close();
  }
}

/** A UDP stream: this side's endpoint and the peer's address. */
export class UdpDataStream extends DataStream {
  /** Receive accounting (receivers). */
  readonly rx = new UdpReceiveStats();
  readonly #ep: UdpEndpoint;
  readonly #ownsEndpoint: boolean;
  readonly #peerAddr: IpAddress;
  readonly #peerPort: number;
  readonly #peerText: string;
  readonly #len: number;
  readonly #bitsPerSecond: number;
  readonly #wide: boolean;

  /**
   * Stream `id` between `ep` and `peerAddr:peerPort` (`peerText` for display); senders send
   * `len`-byte datagrams at `bitsPerSecond` (0: unpaced). `ownsEndpoint`: close `ep` with it.
   */
  constructor(
    ep: UdpEndpoint,
    ownsEndpoint: boolean,
    peer: { addr: IpAddress; port: number; text: string },
    id: number,
    sender: boolean,
    opts: { len: number; bitsPerSecond: number; wide: boolean },
  ) {
    super(id, sender);
    this.#ep = ep;
    this.#ownsEndpoint = ownsEndpoint;
    this.#peerAddr = peer.addr;
    this.#peerPort = peer.port;
    this.#peerText = peer.text;
    this.#len = Math.max(16, opts.len);
    this.#bitsPerSecond = opts.bitsPerSecond;
    this.#wide = opts.wide;
  }

  /** The peer's port (demultiplexing on a shared server endpoint). */
  get peerPort(): number {
    return this.#peerPort;
  }

  override get endpoints(): {
    local: string;
    localPort: number;
    remote: string;
    remotePort: number;
  } {
    return {
      local: "",
      localPort: this.#ep.localPort,
      remote: this.#peerText,
      remotePort: this.#peerPort,
    };
  }

  override start(nowMs: number): void {
    this.startMs = nowMs;
    if (this.sender) void this.#send().catch(() => {});
  }

  /** Datagrams so far: sent (senders) or the highest sequence number seen (receivers). */
  get packets(): number {
    return this.sender ? this.sent : this.rx.packetCount;
  }

  /** Datagrams lost so far (receivers). */
  get lost(): number {
    return this.rx.lost;
  }

  /** A datagram for this stream arrived (receivers). */
  receive(buf: Uint8Array, len: number, nowMs: number): void {
    if (!this.sender && !this.stopped) {
      this.rx.receive(buf, len, nowMs, this.#wide);
      this.bytes = this.rx.bytes;
    }
  }

  async #send(): Promise<void> {
    const payload = crypto.getRandomValues(new Uint8Array(this.#len));
    const rate = this.#bitsPerSecond / 8; // bytes per second
    while (!this.stopped) {
      const now = performance.now();
      let due = rate > 0
        ? Math.floor(((now - this.startMs) / 1000 * rate - this.bytes) / this.#len)
        : MAX_BURST;
      due = Math.min(due, MAX_BURST);
      for (let i = 0; i < due && !this.stopped; i++) {
        writeUdpHeader(payload, performance.now(), this.sent + 1, this.#wide);
        try {
          this.#ep.sendto(payload, 0, payload.length, this.#peerAddr, this.#peerPort);
        } catch (e) {
          if (e instanceof StackError && e.code === "ENOBUFS") break; // out of buffers: next step
          throw e;
        }
        this.sent++;
        this.bytes += payload.length;
      }
      if (rate > 0) await sleep(PACE_MS);
      else await yieldToEventLoop();
    }
  }

  override result(): StreamResult {
    const r = super.result();
    if (this.sender) r.packets = this.sent;
    else {
      r.bytes = this.rx.bytes;
      r.packets = this.rx.packetCount;
      r.errors = this.rx.lost;
      r.jitter = this.rx.jitter;
    }
    return r;
  }

  override close(): void {
    this.stopped = true;
    if (this.#ownsEndpoint) {
      this.#ep.wq.listener = null;
      this.#ep.wq.listenerSync = false;
      this.#ep.close();
    }
  }
}
