import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/v8_map_probe.ts", import.meta.url);

// V8's `%` functions need a process started with --allow-natives-syntax: the checks run in a
// child (tests/harness/v8_map_probe.ts) and come back as one JSON line.
Deno.test("v8 maps: long-lived objects built before the warm-up keep the warm-up's optimised code", async () => {
  const r = await runNativesProbe(PROBE);
  // The probe can tell the two elements kinds apart (else the checks below prove nothing).
  assert.equal(r.emptyLiteralHasObjectElements, false);
  assert.equal(r.objectArrayHasObjectElements, true);
  // A fresh DenseSet / OutputQueue / EventMux's first store does not deoptimise code that was
  // optimised on a used one (their arrays start in the object elements kind).
  assert.equal(r.denseSet, true, "DenseSet.add");
  assert.equal(r.outputQueue, true, "OutputQueue.add");
  assert.equal(r.eventMux, true, "EventMux.notify");
  // Number fields that hold unsigned 32-bit words or large/fractional values are doubles from
  // the first object made: an object made early keeps the map of one that holds such a value.
  assert.equal(r.ipAddressScratch, true, "IpAddressScratch words");
  assert.equal(r.ipAddress, true, "IpAddress words");
  assert.equal(r.routeResult, true, "RouteResult addresses");
  assert.equal(r.histogram, true, "Histogram min/max/sum");
  assert.equal(r.timer, true, "Timer deadline");
  assert.equal(r.rxSegment, true, "RxSegment seq/ack/reuseIsnAfter");
  assert.equal(r.txSegment, true, "TxSegment seq/ack");
  assert.equal(r.tcpHeaderOptions, true, "TcpHeaderOptions tsVal/tsEcr");
  // RACK-TLP's probe and D-SACK sequence numbers, the recovery record's, the retransmission
  // log's times: the first probe, D-SACK or reduction of a run no longer changes their maps.
  assert.equal(r.rackTlpProbe, true, "RackTlp TLP.end_seq");
  assert.equal(r.rackTlpDsack, true, "RackTlp RACK.dsack_round");
  assert.equal(r.lossRecovery, true, "LossRecovery recover/undoMarker/retransTsVal");
  assert.equal(r.retransLog, true, "RetransLog horizon/window/found times");
  // The byte totals of a driver's counters and of counter groups are doubles from the start.
  assert.equal(r.driverStatsBytes, true, "DriverStats rxBytes/txBytes");
  assert.equal(r.counterBytes, true, "makeCounters' *Bytes");
  // The sending side's byte totals: TcpSender.bytesAcked (driven past 2^31 through onAck),
  // DeliveryRate's delivered and app-limited mark, the ACK sample's and the round counters'
  // copies of them, uperf's TCP_INFO sums.
  assert.equal(r.senderBytesAcked, true, "TcpSender bytesAcked");
  assert.equal(r.deliveryRateTotals, true, "DeliveryRate delivered/appLimitedUntil");
  assert.equal(r.ackSampleDelivered, true, "AckSample delivered");
  assert.equal(r.roundCounter, true, "RoundCounter nextRoundDelivered");
  assert.equal(r.hystartRound, true, "HyStartPP next round's delivered");
  assert.equal(r.windowSampler, true, "uperf WindowSampler sums");
  // A sender's first ACKs and first loss detection on a fractional clock, and sequence numbers
  // past 2^31, change no map (branch deopt11l): the shared ACK record's times are doubles from
  // the start and its RACK end an int32; RACK's send time a double, its RTT whole µs and its
  // end an int32; the scoreboard's reordering window whole µs; the delivery-rate record's
  // times and reported rate doubles; the shared rate sample and congestion sample doubles; a
  // pacer's rate and release time doubles (the release time: branch uu31).
  assert.equal(r.seqPast2p31, true, "AckResults/RackTlp with sequence numbers past 2^31");
  assert.equal(r.ackResultsTimes, true, "AckResults now/minRtt/ackRtt*/ackRackXmitMs/queueRtt");
  assert.equal(r.rackTimes, true, "RackTlp xmitMs/rttMs");
  assert.equal(r.scoreboardReoWnd, true, "Scoreboard reordering window at a loss detection");
  assert.equal(r.deliveryRateTimes, true, "DeliveryRate firstSentMs/deliveredTimeMs/reported");
  assert.equal(r.rateSampleTimes, true, "RateSample times and totals");
  assert.equal(r.ackSampleTimes, true, "AckSample times, RTTs and rate");
  assert.equal(r.pacerRate, true, "Pacer rateBytesPerMs");
  assert.equal(r.pacerRelease, true, "Pacer releaseMs at the first paced send");
  // A receiver's first D-SACK with sequence numbers past 2^31 changes no map (branch box40):
  // its edges are int32s.
  assert.equal(r.receiverDsack, true, "TcpReceiver D-SACK edges past 2^31");
  // Nor does its timestamp RTT average turning fractional (kept in whole µs).
  assert.equal(r.receiverRtt, true, "TcpReceiver RTT average fractional");
  // The loss control's times are doubles from the first object: a real run's fractional clock
  // gives it no new map that code optimised on it has not seen.
  assert.equal(r.lossControlTimes, true, "LossControl eventMs/RTO deadline/queue RTT");
  // Every record on the wheel is a plain Timer (the loss control and the SYN-ACK record hold
  // one): one map for the wheel's code.
  assert.equal(r.timerRecordsOneMap, true, "LossControl's and SynEntry's timers are plain Timers");
  // Every driver's capabilities record has one map (the ring driver's had a field more).
  assert.equal(r.capabilitiesOneMap, true);
  assert.equal(r.ringDriverCapabilities, true);
  // RACK's shared empty min-RTT filter keeps the map of a filter that took fractional samples,
  // and code optimised on such a filter survives reading it (else TurboFan gave up the per-ACK
  // code that reads it, compile after compile: "Maps became deprecated during optimization").
  assert.equal(r.rackSharedMinRttKeepsMap, true, "RACK's shared min-RTT filter map");
  assert.equal(r.rackSharedMinRttSurvives, true, "code on a sampled filter reading the shared one");
});
