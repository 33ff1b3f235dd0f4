/**
 * `bench/lossy_tick.ts`: the lossy CUBIC sender's tick in isolation — no system call, no other
 * CPU's work, no kernel peer. One stack sends bulk TCP on the af_packet driver's rings in memory
 * (`AfPacketRingDriver.memoryPair`, MTU 1500, super-frames as on the veth); the peer is a small
 * receiver written here on the other ring: it drops a seeded 1 % of the segments (MTU-sized
 * pieces of each super-frame, retransmissions included, as the bench's nftables rule), ACKs
 * every second in-order segment, at once for a segment out of order or one that fills a hole
 * (SACK blocks, most recent first, as Linux), and whatever is left at the end of its pass (the
 * stand-in for the delayed ACK of a GRO receiver). So the sender sits in CUBIC's congestion
 * avoidance with a window of ~15–25 segments, SACK, RACK, fast retransmits and PRR, as in
 * `bench:cc --loss-only`'s lossy phase, and every one of its ticks finds the ACKs of its last.
 *
 * The connection is opened against a real stack on the peer's ring (the handshake, the
 * neighbour); then that stack is no longer ticked and the peer above answers instead.
 *
 * Per tick the sender runs what its event loop runs: `Stack.receive` (the RX ring walk, IPv4,
 * TCP input and ACK/SACK/RACK/PRR/CUBIC, timers, readiness), the application's writes that
 * refill the send buffer (uperf's), `Stack.transmitOutput` (TCP output and the copy into the
 * TX ring) and `Stack.transmitFlush` (the TX ring's flush; here the kick is the in-memory
 * stand-in of the kernel: the copy into the peer's RX ring, reported apart and not counted in
 * the tick). The loop's own turns (microtask and Deno turns, the busy poll) are not here.
 *
 * Prints µs per tick, per ACK and per segment, by phase, and with `--profile` V8's CPU profile
 * of the measured window: self time by function and inclusive time of the tick's layers.
 *
 * Run: `deno run -A bench/lossy_tick.ts [--ticks N] [--warm N] [--loss P] [--mtu N]
 * [--profile] [--top K] [--json FILE]` (under the measurement lock).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import { RxBatch } from "../link/driver.ts";
import { IpAddress } from "../net/ip_address.ts";
import { Stack } from "../stack/stack.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { TcpState } from "../transport/tcp/state.ts";
import { type CpuProfile, type CpuProfileNode, frameWhere, inspectorPost } from "./inspector.ts";
import {
  ETH,
  ETHERTYPE_IPV4,
  get16,
  get32,
  type Ipv4Fields,
  put16,
  put32,
  type TcpFields,
  transportChecksum,
  writeIpv4,
  writeTcp,
} from "../tests/fuzz/frames.ts";

/** The sender's address. */
const ADDR_S = "198.18.0.1";
/** The peer's address. */
const ADDR_P = "198.18.0.2";
/** The peer's port. */
const PORT = 5001;
/** SACK blocks the peer sends at most (three fit beside the timestamps). */
const MAX_SACK = 3;
/** Out-of-order intervals the peer keeps at most (the oldest are forgotten beyond). */
const MAX_OOO = 16;

/**
 * The receiving end: reads the sender's frames from its ring, keeps RCV.NXT and the
 * out-of-order intervals (absolute byte offsets from the first byte seen), drops a seeded
 * share of the segments and writes ACK frames (timestamps, SACK) into its TX ring.
 */
class LossyPeer {
  readonly #driver: AfPacketRingDriver;
  readonly #batch = new RxBatch(64);
  readonly #frame = new Uint8Array(14 + 20 + 60);
  /** The ACK's IPv4 and TCP header fields, set per ACK (one record each, reused). */
  readonly #ipFields: Ipv4Fields = {
    src: 0,
    dst: 0,
    protocol: 6,
    payloadLen: 0,
    id: 0,
    dontFragment: true,
  };
  readonly #tcpFields: TcpFields = {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0x10,
    window: 0xffff,
    dataOffset: 5,
  };
  readonly #lossPerMille: number;
  #seed = 12345;
  #started = false;
  #isn = 0;
  #rcvNxt = 0;
  #tsRecent = 0;
  #tsBase = 0;
  #hasTs = false;
  #unacked = 0;
  // Out-of-order intervals [start, end), most recently changed first.
  readonly #oooStart = new Float64Array(MAX_OOO);
  readonly #oooEnd = new Float64Array(MAX_OOO);
  #ooo = 0;
  /** Segments received (MTU-sized pieces). */
  segments = 0;
  /** Segments dropped by the loss rule. */
  dropped = 0;
  /** ACKs sent. */
  acks = 0;
  /** ACKs sent with SACK blocks. */
  sackAcks = 0;
  /** Frames (super-frames count once) received. */
  frames = 0;

  readonly #ackEvery: number;

  constructor(driver: AfPacketRingDriver, lossPercent: number, ackEvery: number) {
    this.#driver = driver;
    this.#ackEvery = ackEvery;
    this.#lossPerMille = Math.round(lossPercent * 10);
  }

  /** A seeded draw: true for `lossPerMille` of 1000. */
  #drop(): boolean {
    this.#seed = (Math.imul(this.#seed, 1103515245) + 12345) >>> 0;
    return ((this.#seed >>> 8) % 1000) < this.#lossPerMille;
  }

  /** One pass: every frame waiting, then the ACK still owed. Returns frames read. */
  pass(): number {
    const d = this.#driver;
    const b = this.#batch;
    let total = 0;
    for (;;) {
      const n = d.receive(b, b.capacity);
      if (n === 0) break;
      for (let i = 0; i < n; i++) this.#frameIn(b.buf[i], b.off[i], b.len[i]);
      d.release(b);
      total += n;
    }
    if (this.#unacked > 0) this.#ack(this.#lastFrame, this.#lastOff);
    if (total > 0 || this.acks !== this.#flushedAcks) {
      this.#flushedAcks = this.acks;
      d.flush();
    }
    return total;
  }

  #flushedAcks = 0;
  #lastFrame: Uint8Array = new Uint8Array(0);
  #lastOff = 0;

  #frameIn(buf: Uint8Array, off: number, len: number): void {
    if (len < 54 || buf[off + 12] !== 0x08 || buf[off + 13] !== 0x00) return;
    const ip = off + 14;
    if (buf[ip + 9] !== 6) return;
    const ihl = (buf[ip] & 15) * 4;
    const tcp = ip + ihl;
    const thl = (buf[tcp + 12] >>> 4) * 4;
    const payload = off + len - tcp - thl;
    const seq = ((buf[tcp + 4] << 24) | (buf[tcp + 5] << 16) | (buf[tcp + 6] << 8) |
      buf[tcp + 7]) >>> 0;
    // Timestamps: the option's TSval.
    let tsVal = -1;
    let tsEcr = 0;
    for (let o = tcp + 20; o < tcp + thl;) {
      const kind = buf[o];
      if (kind === 0) break;
      if (kind === 1) {
        o++;
        continue;
      }
      if (kind === 8) {
        tsVal = ((buf[o + 2] << 24) | (buf[o + 3] << 16) | (buf[o + 4] << 8) | buf[o + 5]) >>>
          0;
        tsEcr = ((buf[o + 6] << 24) | (buf[o + 7] << 16) | (buf[o + 8] << 8) | buf[o + 9]) >>>
          0;
      }
      o += buf[o + 1] || 1;
    }
    if (payload <= 0) return;
    this.frames++;
    this.#lastFrame = buf;
    this.#lastOff = off;
    if (!this.#started) {
      this.#started = true;
      this.#isn = seq;
      this.#rcvNxt = 0;
      this.#hasTs = tsVal >= 0;
      // Our TSvals go on from the peer stack's last (what the sender echoes), in ms.
      this.#tsBase = tsEcr - Math.floor(performance.now());
    }
    const mss = 1448;
    const base = this.#rcvNxt + ((seq - ((this.#isn + this.#rcvNxt) >>> 0)) | 0);
    for (let at = 0; at < payload; at += mss) {
      const segLen = Math.min(mss, payload - at);
      this.segments++;
      if (this.#drop()) {
        this.dropped++;
        continue;
      }
      this.#segment(base + at, base + at + segLen, tsVal, buf, off);
    }
  }

  #segment(s: number, e: number, tsVal: number, buf: Uint8Array, off: number): void {
    if (s === this.#rcvNxt) {
      if (tsVal >= 0) this.#tsRecent = tsVal;
      this.#rcvNxt = e;
      if (this.#ooo > 0) {
        this.#advance();
        this.#ack(buf, off); // filled (part of) a hole: at once
        return;
      }
      if (++this.#unacked >= this.#ackEvery) this.#ack(buf, off);
      return;
    }
    if (e <= this.#rcvNxt) {
      this.#ack(buf, off); // a duplicate
      return;
    }
    this.#insert(s, e);
    this.#ack(buf, off); // out of order: at once, with SACK
  }

  /** RCV.NXT moved: intervals now below it go, one it reached is taken in. */
  #advance(): void {
    let w = 0;
    let nxt = this.#rcvNxt;
    let moved = true;
    while (moved) {
      moved = false;
      for (let i = 0; i < this.#ooo; i++) {
        if (this.#oooStart[i] <= nxt && this.#oooEnd[i] > nxt) {
          nxt = this.#oooEnd[i];
          moved = true;
        }
      }
    }
    this.#rcvNxt = nxt;
    for (let i = 0; i < this.#ooo; i++) {
      if (this.#oooEnd[i] <= nxt) continue;
      this.#oooStart[w] = this.#oooStart[i];
      this.#oooEnd[w] = this.#oooEnd[i];
      w++;
    }
    this.#ooo = w;
  }

  /** Add [s, e) to the intervals, merged with its neighbours, first in the list. */
  #insert(s: number, e: number): void {
    let w = 0;
    for (let i = 0; i < this.#ooo; i++) {
      const a = this.#oooStart[i];
      const b = this.#oooEnd[i];
      if (b < s || a > e) {
        this.#oooStart[w] = a;
        this.#oooEnd[w] = b;
        w++;
      } else {
        if (a < s) s = a;
        if (b > e) e = b;
      }
    }
    if (w === MAX_OOO) w--;
    for (let i = w; i > 0; i--) {
      this.#oooStart[i] = this.#oooStart[i - 1];
      this.#oooEnd[i] = this.#oooEnd[i - 1];
    }
    this.#oooStart[0] = s;
    this.#oooEnd[0] = e;
    this.#ooo = w + 1;
  }

  /** Write one ACK answering the frame at `buf[off]` (addresses and ports swapped). */
  #ack(src: Uint8Array, off: number): void {
    this.#unacked = 0;
    const f = this.#frame;
    const sacks = Math.min(this.#ooo, MAX_SACK);
    const optLen = (this.#hasTs ? 12 : 0) + (sacks > 0 ? 4 + 8 * sacks : 0);
    const thl = 20 + optLen;
    f.set(src.subarray(off + 6, off + 12), 0);
    f.set(src.subarray(off, off + 6), 6);
    put16(f, 12, ETHERTYPE_IPV4);
    const sip = off + ETH;
    const ipf = this.#ipFields;
    ipf.src = get32(src, sip + 16);
    ipf.dst = get32(src, sip + 12);
    ipf.payloadLen = thl;
    ipf.id = this.acks & 0xffff;
    const t = ETH + writeIpv4(f, ETH, ipf);
    const st = sip + (src[sip] & 15) * 4;
    const tf = this.#tcpFields;
    tf.srcPort = get16(src, st + 2);
    tf.dstPort = get16(src, st);
    tf.seq = get32(src, st + 8);
    tf.ack = this.#isn + this.#rcvNxt;
    tf.dataOffset = thl >>> 2; // options written below, in place
    writeTcp(f, t, tf);
    let o = t + 20;
    if (this.#hasTs) {
      f[o++] = 1;
      f[o++] = 1;
      f[o++] = 8;
      f[o++] = 10;
      put32(f, o, this.#tsBase + Math.floor(performance.now()));
      put32(f, o + 4, this.#tsRecent);
      o += 8;
    }
    if (sacks > 0) {
      f[o++] = 1;
      f[o++] = 1;
      f[o++] = 5;
      f[o++] = 2 + 8 * sacks;
      for (let i = 0; i < sacks; i++) {
        put32(f, o, this.#isn + this.#oooStart[i]);
        put32(f, o + 4, this.#isn + this.#oooEnd[i]);
        o += 8;
      }
      this.sackAcks++;
    }
    transportChecksum(f, t, thl, 6, ipf.src, ipf.dst);
    this.#driver.transmit(f, 0, ETH + 20 + thl, null);
    this.acks++;
  }
}

/** Phase sums of the measured ticks (ms). */
interface Phases {
  receive: number;
  app: number;
  output: number;
  flush: number;
  peer: number;
}

/** Inclusive time (µs) of every function on the stack of each sample, by `frameWhere`. */
function inclusiveTimes(p: CpuProfile): Map<string, number> {
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const out = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id);
      if (n === undefined) break;
      const k = frameWhere(n.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      out.set(k, (out.get(k) ?? 0) + dt);
    }
  }
  return out;
}

/** Self time (µs) by function. */
function selfByFunction(p: CpuProfile): Map<string, number> {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const by = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    if (n === undefined) continue;
    const k = frameWhere(n.callFrame);
    by.set(k, (by.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  return by;
}

/** What {@link lossyTick} runs. */
export interface LossyTickOptions {
  /** Ticks measured. */
  ticks: number;
  /** Ticks run first, not measured (the JIT, the window's growth). */
  warm: number;
  /** Percent of the segments the peer drops (seeded). */
  lossPercent: number;
  /** In-order segments per ACK. */
  ackEvery: number;
  /** The sender paces (the stack's default). */
  pacing: boolean;
  /** The link's MTU. */
  mtu: number;
  /** The sender's congestion control. */
  cc: string;
  /** V8's CPU profile of the measured ticks. */
  profile: boolean;
}

/** {@link lossyTick}'s figures, and the profile when asked for. */
export interface LossyTickResult {
  /** The figures (see the module documentation). */
  report: {
    ticks: number;
    segmentsSent: number;
    segmentsDropped: number;
    retransmits: number;
    bytesAcked: number;
    acksIn: number;
    acksSent: number;
    sackAcks: number;
    meanCwnd: number;
    [k: string]: unknown;
  };
  /** The measured ticks' CPU profile, or null. */
  profile: CpuProfile | null;
}

/** Open the connection, warm it, measure `opts.ticks` ticks (see the module documentation). */
export async function lossyTick(opts: LossyTickOptions): Promise<LossyTickResult> {
  const { ticks, warm, mtu } = opts;
  const [ds, dp] = AfPacketRingDriver.memoryPair({ mtu });
  const s = new Stack({
    tcp: { congestionControl: opts.cc as "cubic", pacing: opts.pacing },
  });
  const p = new Stack({});
  const ns = s.addNic(ds);
  const np = p.addNic(dp);
  s.ipv4.addAddress(ns.index, IpAddress.parse(ADDR_S).v4, 24);
  p.ipv4.addAddress(np.index, IpAddress.parse(ADDR_P).v4, 24);
  const l = p.tcp.listen(null, PORT, 8);
  const c: TcpEndpoint = s.tcp.connect(IpAddress.parse(ADDR_P), PORT);
  let accepted: TcpEndpoint | null = null;
  for (let i = 0; i < 10_000 && (accepted === null || c.state !== TcpState.ESTABLISHED); i++) {
    s.tick();
    p.tick();
    accepted ??= l.accept();
  }
  if (accepted === null || c.state !== TcpState.ESTABLISHED) {
    throw new Error("lossy_tick: the connection did not come up");
  }
  // From here the peer's stack is not ticked: the LossyPeer answers on its ring.
  const peer = new LossyPeer(dp, opts.lossPercent, opts.ackEvery);
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  const ph: Phases = { receive: 0, app: 0, output: 0, flush: 0, peer: 0 };
  const now = () => performance.now();
  let acksIn = 0;
  let cwndSum = 0;
  let cwndN = 0;
  // Ticks (with the peer's pass) over 1 ms: the process held up (a preemption, a GC).
  let slowTicks = 0;
  let maxTickMs = 0;
  const run = (n: number, timed: boolean): void => {
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const frames = s.receive();
      const t1 = now();
      while (c.write(chunk, 0, chunk.length) > 0) { /* fill the send buffer */ }
      const t2 = now();
      s.transmitOutput();
      const t3 = now();
      s.transmitFlush();
      const t4 = now();
      peer.pass();
      const t5 = now();
      if (timed) {
        acksIn += frames;
        ph.receive += t1 - t0;
        ph.app += t2 - t1;
        ph.output += t3 - t2;
        ph.flush += t4 - t3;
        ph.peer += t5 - t4;
        if (t5 - t0 > 1) slowTicks++;
        if (t5 - t0 > maxTickMs) maxTickMs = t5 - t0;
        if ((i & 1023) === 0) {
          cwndSum += c.info().cwnd / 1448;
          cwndN++;
        }
      }
    }
  };
  run(warm, false);
  const info0 = c.info();
  s.tcp.rttNs.reset();
  const seg0 = peer.segments;
  const drop0 = peer.dropped;
  const acks0 = peer.acks;
  const sack0 = peer.sackAcks;
  let session: Session | null = null;
  if (opts.profile) {
    session = new Session();
    session.connect();
    await inspectorPost(session, "Profiler.enable");
    await inspectorPost(session, "Profiler.setSamplingInterval", { interval: 50 });
    await inspectorPost(session, "Profiler.start");
  }
  const w0 = now();
  run(ticks, true);
  const wallMs = now() - w0;
  let profile: CpuProfile | null = null;
  if (session !== null) {
    profile = (await inspectorPost<{ profile: CpuProfile }>(session, "Profiler.stop")).profile;
    session.disconnect();
  }
  const info1 = c.info();
  const segs = peer.segments - seg0;
  const acks = peer.acks - acks0;
  const bytes = info1.bytesAcked - info0.bytesAcked;
  const retrans = info1.retransmits - info0.retransmits;
  const tickMs = ph.receive + ph.app + ph.output + ph.flush;
  const us = (ms: number, per: number) => Math.round(ms * 1000 / per * 1000) / 1000;
  const report = {
    ticks,
    mtu,
    cc: opts.cc,
    lossPercent: opts.lossPercent,
    ackEvery: opts.ackEvery,
    pacing: opts.pacing,
    wallMs: Math.round(wallMs),
    segmentsSent: segs,
    segmentsDropped: peer.dropped - drop0,
    retransmits: retrans,
    bytesAcked: bytes,
    acksIn,
    acksSent: acks,
    sackAcks: peer.sackAcks - sack0,
    srttUs: Math.round(info1.srttMs * 1000),
    ticksOver1ms: slowTicks,
    maxTickUs: Math.round(maxTickMs * 1000),
    // The RTT samples the estimator took in the measured ticks (µs).
    rttSampleUs: {
      p10: Math.round(s.tcp.rttNs.valueAtPercentile(10) / 1000),
      p50: Math.round(s.tcp.rttNs.valueAtPercentile(50) / 1000),
      p90: Math.round(s.tcp.rttNs.valueAtPercentile(90) / 1000),
      p99: Math.round(s.tcp.rttNs.valueAtPercentile(99) / 1000),
    },
    sendLimit: info1.sendLimit,
    // A run that sent nothing measured a stall (an RTO of ≥ 200 ms is longer than most runs).
    caState: info1.caState,
    rtoMs: info1.rtoMs,
    backoff: info1.backoff,
    pacingRateGbps: Math.round(info1.pacingRate * 8 / 1e9 * 100) / 100,
    meanCwnd: Math.round(cwndSum / Math.max(1, cwndN) * 10) / 10,
    segmentsPerTick: Math.round(segs / ticks * 100) / 100,
    acksPerTick: Math.round(acksIn / ticks * 100) / 100,
    goodputGbpsIsolated: Math.round(bytes * 8 / (wallMs / 1000) / 1e9 * 100) / 100,
    usPerTick: {
      tick: us(tickMs, ticks),
      receive: us(ph.receive, ticks),
      app: us(ph.app, ticks),
      output: us(ph.output, ticks),
      flushInMemoryKick: us(ph.flush, ticks),
      peer: us(ph.peer, ticks),
    },
    usPerAck: { receive: us(ph.receive, acksIn) },
    usPerSegment: {
      tick: us(tickMs, segs),
      tickWithoutKick: us(tickMs - ph.flush, segs),
      output: us(ph.output, segs),
    },
  };
  s.close();
  p.close();
  return { report, profile };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ticks: { type: "string", default: "200000" },
      warm: { type: "string", default: "100000" },
      loss: { type: "string", default: "1" },
      "ack-every": { type: "string", default: "2" },
      "no-pacing": { type: "boolean", default: false },
      mtu: { type: "string", default: "1500" },
      cc: { type: "string", default: "cubic" },
      profile: { type: "boolean", default: false },
      top: { type: "string", default: "30" },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno run -A bench/lossy_tick.ts [--ticks N] [--warm N] [--loss P] [--mtu N]\n" +
        "  [--ack-every N] [--no-pacing] [--cc NAME] [--profile] [--top K] [--json FILE]",
    );
    return;
  }
  const ticks = Number(values.ticks);
  const { report, profile } = await lossyTick({
    ticks,
    warm: Number(values.warm),
    lossPercent: Number(values.loss),
    ackEvery: Number(values["ack-every"]),
    pacing: !values["no-pacing"],
    mtu: Number(values.mtu),
    cc: values.cc,
    profile: values.profile,
  });
  console.log(JSON.stringify(report, null, 1));
  let prof: Record<string, unknown> | null = null;
  if (profile !== null) {
    const self = selfByFunction(profile);
    const incl = inclusiveTimes(profile);
    let total = 0;
    for (const v of self.values()) total += v;
    const top = Number(values.top);
    const perTick = (v: number) => Math.round(v / ticks * 1000) / 1000;
    const selfTop = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
    const inclTop = [...incl].sort((a, b) => b[1] - a[1]).slice(0, top * 2);
    console.log(`\nself time, µs per tick (profile total ${perTick(total)} µs a tick):`);
    for (const [k, v] of selfTop) {
      console.log(`${perTick(v).toFixed(3).padStart(8)} ${(v / total * 100).toFixed(1)}% ${k}`);
    }
    console.log(`\ninclusive time, µs per tick:`);
    for (const [k, v] of inclTop) console.log(`${perTick(v).toFixed(3).padStart(8)} ${k}`);
    prof = {
      totalUsPerTick: perTick(total),
      self: Object.fromEntries(selfTop.map(([k, v]) => [k, perTick(v)])),
      inclusive: Object.fromEntries(inclTop.map(([k, v]) => [k, perTick(v)])),
    };
  }
  if (values.json !== undefined) {
    Deno.writeTextFileSync(values.json, JSON.stringify({ ...report, profile: prof }, null, 1));
  }
}

if (import.meta.main) await main();
