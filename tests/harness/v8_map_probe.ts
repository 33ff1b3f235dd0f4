/**
 * Run by `tests/unit/v8_maps_test.ts` in a child `deno run --v8-flags=--allow-natives-syntax`
 * (V8's `%` functions, reached through `new Function` because the TypeScript parser does not
 * know them): each check builds a long-lived object first — as the real stack is built before
 * the warm-up runs — then optimises a call on another object of the same class that has
 * already been used, and reports whether that optimised code survives the first use of the
 * long-lived one. Prints one JSON object of booleans.
 *
 * @module
 */

import { DenseSet } from "../../core/dense_set.ts";
import { EventMux, WaitQueue } from "../../core/event_mux.ts";
import { objectArray } from "../../core/v8_shapes.ts";
import { Histogram } from "../../core/histogram.ts";
import { IpAddress, IpAddressScratch } from "../../net/ip_address.ts";
import { RouteResult } from "../../net/route_table.ts";
import { OutputQueue, type OutputSource } from "../../core/output_queue.ts";
import { DriverStats, linkCapabilities, NO_OFFLOADS } from "../../link/driver.ts";
import { makeCounters } from "../../core/counters.ts";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { Timer, TimerWheel } from "../../core/timer_wheel.ts";
import { NetRoute } from "../../net/network_layer.ts";
import { TcpHeaderOptions } from "../../transport/tcp/options.ts";
import { RxSegment } from "../../transport/tcp/segment.ts";
import { TxSegment } from "../../transport/tcp/transmit.ts";
import { RackTlp } from "../../transport/tcp/rack.ts";
import { WindowedFilter } from "../../transport/tcp/windowed_filter.ts";
import { RetransLog } from "../../transport/tcp/retrans_log.ts";
import { Pacer } from "../../transport/tcp/pacing.ts";
import { CA_RECOVERY, LossRecovery } from "../../transport/tcp/recovery.ts";
import { AckResults, Scoreboard } from "../../transport/tcp/scoreboard.ts";
import { DeliveryRate, RateSample } from "../../transport/tcp/delivery_rate.ts";
import { AckSample, RoundCounter } from "../../transport/tcp/congestion/congestion_control.ts";
import { HyStartPP } from "../../transport/tcp/congestion/hystart.ts";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { TcpSender } from "../../transport/tcp/sender.ts";
import { type ReceiverConnection, TcpReceiver } from "../../transport/tcp/receiver.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { SynEntry } from "../../transport/tcp/syncache.ts";
import { resolveTcpOptions, type TransportContext } from "../../transport/tcp/context.ts";
import { VirtualClock } from "../../core/clock.ts";
import { latencyHistogram } from "../../core/histogram.ts";
import { StackStats } from "../../stack/stats.ts";
import { WindowSampler } from "../../cli/uperf_window.ts";
import type { TcpConn } from "../../mod.ts";
import { SenderStub } from "./sender_stub.ts";
import { type Fn, isOptimized, natives, optimizeNext, prepare } from "./v8_natives.ts";

const hasObjectElements = natives("return %HasObjectElements(a)", "a");
const haveSameMap = natives("return %HaveSameMap(a, b)", "a", "b");

/**
 * Optimise `call` on `used` (after 50 calls), then call it once on `fresh`: true when the
 * optimised code is still in place afterwards.
 */
function survives<T>(call: (o: T) => void, used: T, fresh: T): boolean {
  prepare(call as Fn);
  for (let i = 0; i < 50; i++) call(used);
  optimizeNext(call as Fn);
  call(used);
  // Not optimised at all: report failure rather than pass without testing anything.
  if (!isOptimized(call as Fn)) return false;
  call(fresh);
  return isOptimized(call as Fn);
}

function denseSet(): boolean {
  const fresh = new DenseSet<{ denseIndex: number }>();
  const used = new DenseSet<{ denseIndex: number }>();
  return survives((s) => s.add({ denseIndex: -1 }), used, fresh);
}

function outputQueue(): boolean {
  const fresh = new OutputQueue();
  const used = new OutputQueue();
  const source = (): OutputSource => ({ outputQueued: false, flushOutput() {} });
  return survives((q) => q.add(source()), used, fresh);
}

function eventMux(): boolean {
  const fresh = new EventMux();
  const used = new EventMux();
  return survives(
    (m) => {
      m.notify(new WaitQueue(), 1);
    },
    used,
    fresh,
  );
}

/**
 * True when an object made first keeps the map of one made after a value that does not fit a
 * small integer (an address word above 2^30, a fractional ms) was stored into another.
 */
function keepsMap<T>(make: () => T, fill: (o: T) => void): boolean {
  const early = make();
  const later = make();
  fill(later);
  return haveSameMap(early, later) === true;
}

function ringDriverCapabilities(): boolean {
  const [a, b] = AfPacketRingDriver.memoryPair({ vnetHdr: true });
  try {
    return haveSameMap(a.capabilities, NO_OFFLOADS) === true &&
      a.capabilities.txChecksumOffload;
  } finally {
    a.close();
    b.close();
  }
}

/**
 * RACK's shared empty min-RTT filter (made when `rack.ts` loads, never written) against a
 * connection's own filter after a fractional sample: whether they have one map, and whether
 * code optimised on a sampled filter survives reading the shared one. A map the shared filter
 * kept from before the first sample is deprecated by it, and TurboFan then gave up every compile
 * of the per-ACK code that reads the shared filter (branch `tx13e`).
 */
function rackSharedMinRtt(): { keepsMap: boolean; survives: boolean } {
  const shared = new RackTlp().minRtt;
  const own = new WindowedFilter("min", 10_000);
  own.updateFrom({ ackRttNewestMs: 0.137, now: 1_000_000.25 });
  const used = new WindowedFilter("min", 10_000);
  used.update(0.25, 1_000_000.5);
  return {
    keepsMap: haveSameMap(shared, own) === true,
    survives: survives((f: WindowedFilter) => f.best, used, shared),
  };
}

/** The bulk senders' initial sequence number. */
const HIGH_ISS = 0xc612_0000;

/** A TCP service of defaults on a virtual clock starting at `startMs`, with its own timers. */
function stubService(startMs: number) {
  const clock = new VirtualClock(startMs);
  const timers = new TimerWheel({ startMs: clock.nowMs() });
  const ctx = { clock, timers } as unknown as TransportContext;
  return {
    ctx,
    opts: resolveTcpOptions({}),
    stats: new StackStats().tcp,
    rttNs: latencyHistogram(),
  };
}

/** A sender past the handshake (MSS 8960, window scale 7, TSO of 64 KiB) on a stub link. */
function bulkSender(startMs = 1000): TcpSender {
  const svc = stubService(startMs);
  const conn = new SenderStub(65536);
  const snd = new TcpSender(conn, svc);
  conn.una = () => snd.sndUna;
  // An ISS above 2^31 (as half of all random ones): the sequence numbers are doubles from the
  // start in both senders compared, only the acknowledged total differs.
  snd.start({ iss: HIGH_ISS, firstSentMs: 0 });
  snd.peerSyn(65535, 7000, HIGH_ISS + 1);
  snd.setPeerOptions(7, 8960);
  snd.sndNxt = HIGH_ISS + 1; // the SYN went out
  snd.sndMax = HIGH_ISS + 1;
  snd.sndUna = HIGH_ISS + 1;
  snd.established(0);
  snd.setNoDelay(true);
  return snd;
}

/**
 * A receiver past the handshake with the peer's ISN `irs` (a stub connection); with `ages`,
 * timestamps are on and each timestamp RTT sample is the next of them (ms).
 */
function receiverAt(irs: number, ages: number[] | null = null): TcpReceiver {
  const svc = stubService(1000);
  const conn: ReceiverConnection = {
    state: TcpState.ESTABLISHED,
    tsOk: ages !== null,
    tsNow: () => 0,
    tsEchoAgeMs: () => ages?.shift() ?? 0,
    sendAck() {},
    scheduleOutput() {},
    transition() {},
    updateReadiness() {},
  };
  const rcv = new TcpReceiver(conn, svc, 8960);
  rcv.init(irs);
  return rcv;
}

/**
 * Whether a receiver whose sequence numbers are above 2^31 (doubles in both compared) keeps its
 * map through its first D-SACK, of an old duplicate there: a real receive run's first
 * duplicate (a kernel sender's tail loss probe, a spurious retransmission) changed it, and ~30
 * receive-path functions lost their code in the middle of the run (branch `box40`).
 */
function receiverDsack(): boolean {
  const early = receiverAt(HIGH_ISS);
  const rcv = receiverAt(HIGH_ISS);
  const data = new Uint8Array(4096);
  const seg = new RxSegment();
  seg.flags = TCP_FLAG_ACK;
  seg.window = 65535;
  seg.buf = data;
  seg.dataOff = 0;
  seg.dataLen = seg.segLen = 1000;
  seg.seq = (HIGH_ISS + 1) >>> 0;
  rcv.receive(seg); // [ISS + 1, + 1000) in order
  seg.dataLen = seg.segLen = 500;
  rcv.noteOldDuplicate(seg); // received again: the D-SACK block
  return rcv.dsackPending && haveSameMap(early, rcv) === true;
}

/**
 * Whether a receiver whose timestamp RTT average turned fractional (whole-ms samples 1, then 0:
 * 0.875 ms) keeps the map of one made first: in ms the field turned double at a process's
 * first such pair, mid-transfer on the real path, and ~25 receive-path functions lost their
 * code (branch `box40`).
 */
function receiverRtt(): boolean {
  const early = receiverAt(HIGH_ISS, []);
  const rcv = receiverAt(HIGH_ISS, [1, 0, 0]);
  const seg = new RxSegment();
  seg.flags = TCP_FLAG_ACK;
  seg.window = 65535;
  seg.buf = new Uint8Array(4096);
  seg.dataOff = 0;
  seg.opts.hasTimestamps = true;
  seg.opts.tsEcr = 5;
  for (let i = 0; i < 3; i++) {
    seg.dataLen = seg.segLen = 1000;
    seg.seq = rcv.rcvNxt;
    rcv.receive(seg);
  }
  return rcv.rttMs > 0 && rcv.rttMs < 1 && haveSameMap(early, rcv) === true;
}

/**
 * Send and acknowledge a little over `bytes` through `snd` (2^31, past any small integer: a
 * 30 Gbit/s run's first ~0.6 s).
 */
function ackPast(snd: TcpSender, bytes: number): void {
  const chunk = new Uint8Array(1 << 20);
  const ack = new RxSegment();
  ack.seq = 7001;
  ack.flags = TCP_FLAG_ACK;
  ack.window = 65535;
  ack.buf = new Uint8Array(0);
  for (let i = 0; i < 2200 && snd.bytesAcked <= bytes; i++) {
    snd.write(chunk, 0, chunk.length);
    snd.output();
    ack.ack = snd.sndNxt >>> 0;
    snd.onAck(ack);
  }
  if (snd.bytesAcked <= bytes) throw new Error(`acknowledged only ${snd.bytesAcked} bytes`);
}

/**
 * Whether a sender that acknowledged 64 MiB and one that acknowledged past 2^31 have one map:
 * both went through the same paths (their other fields took the same kinds), only the total
 * left the small integers in one of them.
 */
function senderBytesAcked(): boolean {
  const warm = bulkSender();
  ackPast(warm, 2 ** 26);
  const bulk = bulkSender();
  ackPast(bulk, 2 ** 31);
  return haveSameMap(warm, bulk) === true;
}

/**
 * Whether a sender's loss control made first keeps the map of one driven on a fractional clock
 * (its event time and RTO deadline fractional, as in every real run: `performance.now()`); no
 * time passes, so its RTT samples stay whole, as on the simulated wire.
 */
function lossControlTimesCheck(): boolean {
  const early = bulkSender();
  const snd = bulkSender(1000.25);
  const chunk = new Uint8Array(1 << 16);
  const ack = new RxSegment();
  ack.seq = 7001;
  ack.flags = TCP_FLAG_ACK;
  ack.window = 65535;
  ack.buf = new Uint8Array(0);
  for (let i = 0; i < 8; i++) {
    snd.write(chunk, 0, chunk.length);
    snd.output();
    ack.ack = snd.sndNxt >>> 0;
    snd.onAck(ack);
  }
  return haveSameMap(early.loss, snd.loss) === true;
}

/**
 * Whether every record the wheel holds is one class: a sender's retransmission timer and a
 * half-open record's SYN-ACK timer have the map of a plain {@link Timer} (each was once the
 * record itself, a subclass: a map the wheel's optimised code met first mid-run).
 */
function timerRecordsOneMap(): boolean {
  const plain = new Timer(() => {});
  const loss = bulkSender().loss.timer;
  const entry = new SynEntry(
    null as never,
    null as never,
    IpAddress.v4(0xc6120001),
    80,
    IpAddress.v4(0xc6120002),
    40000,
  );
  // Before the change the record was its own timer (it had no `timer`).
  const synTimer = (entry as unknown as { timer?: Timer }).timer ?? entry;
  return haveSameMap(plain, loss) === true && haveSameMap(plain, synTimer) === true;
}

/** A TCP_INFO sample whose numbers are fractional or past 2^31, as in a bulk run. */
const BULK_INFO = {
  srttMs: 0.137,
  mss: 8948,
  cwnd: 1_234_567,
  ssthresh: 2 ** 31,
  inflight: 987_654,
  pacingRate: 3.75e9,
  caState: "Open",
  sndBufBytes: 2 ** 31,
  sndQueued: 2 ** 30 + 1,
  sndWnd: 2 ** 31,
  deliveryRate: 3.5e9,
  minRttMs: 0.0625,
};

/**
 * A scoreboard and RACK driven as a sender's first ACKs and first loss detection drive them:
 * ten segments from `seq` sent at `t0 + i + frac / 2`, the sixth SACKed at `t0 + 100 + frac` (one
 * segment above the hole: RACK's window is min_RTT/4), then a loss detection at
 * `t0 + 130 + frac` with an SRTT of `100 + frac` (fractional with `frac` 0.5, as a real
 * clock's; whole with 0).
 */
function rackRound(sb: Scoreboard, rack: RackTlp, seq: number, t0: number, frac: number): void {
  sb.reset(seq);
  for (let i = 0; i < 10; i++) {
    sb.onSend((seq + 1000 * i) >>> 0, (seq + 1000 * i + 1000) >>> 0, t0 + i + frac / 2, 0);
  }
  rack.reset();
  sb.beginAck(t0 + 100 + frac, rack.minRttMs);
  sb.sack((seq + 5000) >>> 0, (seq + 6000) >>> 0);
  rack.onAck(sb, false, { sndUna: seq, sndMax: (seq + 10_000) >>> 0 });
  rack.detectLoss(sb, { eventMs: t0 + 130 + frac, rtt: { srttMs: 100 + frac } }, false, 1000);
}

/**
 * Sequence numbers past 2^31 (half of all ISSs, or any connection after 2 GB) at whole times:
 * the shared ACK record, RACK and the scoreboard keep the maps of ones made first (RACK.end_seq
 * and the ACK record's copy of it are int32s). Run before any other check makes these classes.
 */
function seqPast2p31(): boolean {
  const early = { ack: new AckResults(), rack: new RackTlp() };
  const sb = new Scoreboard(new DeliveryRate());
  const rack = new RackTlp();
  rackRound(sb, rack, HIGH_ISS, 1000, 0);
  return haveSameMap(early.ack, sb.ackResults) === true && haveSameMap(early.rack, rack) === true;
}

/**
 * A sender's first ACKs and first loss detection on a fractional clock (every real run's):
 * the shared ACK record, RACK-TLP, the scoreboard (its reordering window at the loss detection)
 * and the delivery-rate record keep the maps of ones made first.
 */
function firstAckTimes(): Record<string, boolean> {
  const early = {
    ack: new AckResults(),
    rack: new RackTlp(),
    rate: new DeliveryRate(),
    sb: new Scoreboard(new DeliveryRate()),
  };
  const rate = new DeliveryRate();
  const sb = new Scoreboard(rate);
  const rack = new RackTlp();
  rackRound(sb, rack, 1000, 1000, 0.5);
  rate.endAck(0.0625);
  return {
    ackResultsTimes: haveSameMap(early.ack, sb.ackResults) === true,
    rackTimes: haveSameMap(early.rack, rack) === true,
    scoreboardReoWnd: haveSameMap(early.sb, sb) === true,
    deliveryRateTimes: haveSameMap(early.rate, rate) === true,
  };
}

// First of all: the records these checks compare are made nowhere else before them.
const sharedSamples = {
  // The rate sample and the congestion controls' ACK sample: one record each in the process,
  // filled with fractional times, rates and totals at a sender's first ACKs.
  rateSampleTimes: keepsMap(() => new RateSample(), (r) => {
    r.priorDelivered = 2 ** 31 + 1448;
    r.priorTimeMs = 1000.25;
    r.sendElapsedMs = r.ackElapsedMs = r.intervalMs = 0.125;
    r.sampleDelivered = 2 ** 31;
    r.rateBytesPerMs = 3.5e6 + 0.5;
  }),
  // A connection's pacing rate: fractional from its first ACK on.
  pacerRate: keepsMap(() => new Pacer(), (p) => {
    p.rateBytesPerMs = 1250.5;
  }),
  // Its release time: fractional from its first paced send (rate 1250.5 B/ms, 2,896 B at
  // 100.25 ms).
  pacerRelease: keepsMap(() => new Pacer(), (p) => {
    p.rateBytesPerMs = 1250.5;
    p.onSent(2896, 100.25);
  }),
  ackSampleTimes: keepsMap(() => new AckSample(), (a) => {
    a.nowMs = 1000.25;
    a.rttMs = a.minRttMs = a.srttMs = 0.137;
    a.priorDelivered = 2 ** 31 + 1448;
    a.deliveryRate = 3.5e6 + 0.5;
    a.intervalMs = 0.125;
  }),
};
const firstAck = firstAckTimes();
const seqPast2p31Check = seqPast2p31();
// Then, before any other sender's loss control has taken fractional times.
const lossControlTimes = lossControlTimesCheck();

// The survival checks first: each must be the first use of its class in this process (once
// any instance's array has changed kind, V8 makes later empty literals of that site in the
// changed kind, which would hide the difference).
const doubles = {
  ipAddressScratch: keepsMap(() => new IpAddressScratch(), (a) => a.setV4(0xc6120001)),
  ipAddress: haveSameMap(IpAddress.v4(1), IpAddress.parse("fe80::1")) === true,
  routeResult: keepsMap(() => new RouteResult(), (r) => {
    r.source = 0xc6120001;
    r.nextHop = 0xc6120002;
  }),
  histogram: keepsMap(() => new Histogram(), (h) => {
    h.record(2.5);
    h.record(3e9);
  }),
  // A timer made before the first fractional deadline (the real stack's, or one that optimised
  // code allocates with the map it was compiled with) and a segment or options record made
  // before the first sequence number or timestamp above 2^30.
  timer: keepsMap(() => new Timer(() => {}), (t) => {
    const wheel = new TimerWheel({ startMs: 1000.25 });
    wheel.schedule(t, 1200.5);
    wheel.cancel(t);
  }),
  rxSegment: keepsMap(() => new RxSegment(), (s) => {
    s.seq = 0xc6120001;
    s.ack = 0xc6120002;
    s.reuseIsnAfter = 0xc6120003;
  }),
  txSegment: keepsMap(() => new TxSegment(new NetRoute()), (s) => {
    s.seq = 0xc6120001;
    s.ack = 0xc6120002;
  }),
  tcpHeaderOptions: keepsMap(() => new TcpHeaderOptions(), (o) => {
    o.tsVal = 0xc6120001;
    o.tsEcr = 0xc6120002;
  }),
  // RACK-TLP, the recovery record and the retransmission log, made before their first tail
  // loss probe, D-SACK, reduction or fractional time in the process: these came in the middle
  // of a lossy bulk run and each dropped 4–11 per-ACK functions' code (branch `deopt11g`).
  rackTlpProbe: keepsMap(() => new RackTlp(), (r) => r.probeSent(0xc6120001, true)),
  rackTlpDsack: keepsMap(() => new RackTlp(), (r) => {
    const ackResults = { ackRttNewestMs: -1, ackRackValid: false, ackReordered: false, now: 5.5 };
    const sb = { ackResults } as unknown as Scoreboard;
    r.onAck(sb, true, { sndUna: 0xc6120001, sndMax: 0xc6120101 });
  }),
  lossRecovery: keepsMap(() => new LossRecovery(), (r) => {
    r.enter(CA_RECOVERY, 0xc6120001, 0xc6120101, 8000);
    r.onRetransmit(1448, 1448, 0xc6120002);
  }),
  // Byte totals pass 2^30 about half a second into a 20 Gbit/s stream: each one's change to a
  // double turned over the maps of every driver's counters, the TCP counter group and the
  // services' counters, and ~20 functions of the receive path lost their code (`rx13h`).
  driverStatsBytes: keepsMap(() => new DriverStats(), (d) => {
    d.rxBytes += 2 ** 31;
    d.txBytes += 2 ** 31;
  }),
  counterBytes: keepsMap(() => makeCounters(["InSegs", "TCPRcvDirectBytes"]), (c) => {
    c.TCPRcvDirectBytes += 2 ** 31;
  }),
  // The sending side's totals of delivered and acknowledged bytes, and what copies them, pass
  // 2^31 ~0.5 s into a 35 Gbit/s ustack→kernel run: each turned double there and ~20 per-ACK
  // and send-path functions lost their code ("wrong map", branch `tx13i`).
  deliveryRateTotals: keepsMap(() => new DeliveryRate(), (r) => {
    r.delivered += 2 ** 31;
    r.markAppLimited(65536);
  }),
  ackSampleDelivered: keepsMap(() => new AckSample(), (s) => {
    s.delivered = 2 ** 31 + 1448;
  }),
  roundCounter: keepsMap(() => new RoundCounter(), (r) => r.restart(2 ** 31 + 1448)),
  hystartRound: keepsMap(() => new HyStartPP(), (h) => h.reset(2 ** 31 + 1448)),
  // uperf's TCP_INFO sampler: its sums of fractional segments, rates and bytes.
  windowSampler: keepsMap(() => new WindowSampler(), (w) => {
    w.sample({ info: () => BULK_INFO } as unknown as Pick<TcpConn, "info">);
  }),
  retransLog: keepsMap(() => new RetransLog(), (l) => {
    l.horizonMs = 12.25;
    l.windowMs = 0.75;
    l.foundLateMs = 0.5;
    l.foundWindowMs = 0.75;
  }),
};
// After the checks above: the bulk run takes every per-ACK record's totals past 2^31 too.
const sender = {
  seqPast2p31: seqPast2p31Check,
  ...firstAck,
  ...sharedSamples,
  senderBytesAcked: senderBytesAcked(),
  lossControlTimes,
  timerRecordsOneMap: timerRecordsOneMap(),
  receiverDsack: receiverDsack(),
  receiverRtt: receiverRtt(),
};
const survival = { denseSet: denseSet(), outputQueue: outputQueue(), eventMux: eventMux() };
const rack = rackSharedMinRtt();
console.log(JSON.stringify({
  ...doubles,
  ...sender,
  ...survival,
  objectArrayHasObjectElements: hasObjectElements(objectArray<object>()),
  emptyLiteralHasObjectElements: hasObjectElements([]),
  capabilitiesOneMap: haveSameMap(
    NO_OFFLOADS,
    linkCapabilities({
      txChecksumOffload: true,
      tcpSegmentationOffload: true,
      udpSegmentationOffload: true,
      udpFragmentationOffload: true,
      maxGsoBytes: 1,
    }),
  ),
  ringDriverCapabilities: ringDriverCapabilities(),
  rackSharedMinRttKeepsMap: rack.keepsMap,
  rackSharedMinRttSurvives: rack.survives,
}));
