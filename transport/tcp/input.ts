/**
 * Segment arrival for a connection (RFC 9293 §3.10.7.3–3.10.7.4): SYN_SENT handling,
 * PAWS (RFC 7323 §5), the acceptability test, RST and SYN processing with RFC 5961's
 * protections, ACK processing (RTT, congestion control, NewReno fast retransmit and
 * recovery, window updates), data into the receive ring (out-of-order data in place,
 * tracked by the assembler), delayed ACKs and the FIN.
 *
 * @module
 */

import type { TcpEndpoint } from "./endpoint.ts";
import { DEFAULT_PEER_MSS, sendMss } from "./mss.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import type { RxSegment } from "./segment.ts";
import { finSeqOf, retransmitFirst, sendAck, tsNow } from "./output.ts";
import {
  seqAdd,
  seqBetween,
  seqDiff,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
  seqSegmentAcceptable,
  seqSub,
} from "./seq.ts";
import { canReceiveData, TcpEvent, TcpState } from "./state.ts";
import { armKeepalive, armRto } from "./timers.ts";
import { EV_READABLE } from "../../core/event_mux.ts";
import { HANDSHAKE_RETRY_RTO_MS } from "./rtt_estimator.ts";

/** Negotiate options from a SYN (or SYN-ACK) `seg` into `ep` (RFC 7323, RFC 2018). */
export function negotiateSynOptions(ep: TcpEndpoint, seg: RxSegment, offered: boolean): void {
  const o = seg.opts;
  const lo = ep.layer.opts;
  ep.wsOk = o.windowScale >= 0 && lo.windowScaling && offered;
  ep.sndShift = ep.wsOk ? o.windowScale : 0;
  if (!ep.wsOk) ep.rcvShift = 0;
  ep.tsOk = o.hasTimestamps && lo.timestamps && offered;
  if (ep.tsOk) ep.tsRecent = o.tsVal;
  ep.sackOk = o.sackPermitted && lo.sack && offered;
  ep.mss = sendMss(o.mss, ep.advMss, ep.tsOk);
  ep.rcvMss = Math.min(ep.advMss, DEFAULT_PEER_MSS);
}

/** The handshake completed: ESTABLISHED (or FIN_WAIT_1 if the write side was shut early). */
export function establish(ep: TcpEndpoint): void {
  const now = ep.layer.ctx.clock.nowMs();
  ep.cc.init(ep.mss, now);
  if (ep.synRetries > 0 && !ep.rtt.hasSample) ep.rtt.reset(HANDSHAKE_RETRY_RTO_MS);
  ep.retries = 0;
  ep.lastRecvMs = now;
  ep.rcvSpaceStartMs = now;
  ep.transition(TcpEvent.RCV_ACK_OF_SYN);
  if (ep.finQueued) ep.transition(TcpEvent.CLOSE); // shut for writing during the handshake
  if (ep.sndUna === ep.sndMax) ep.layer.ctx.timers.cancel(ep.rtoTimer);
  if (ep.keepAlive) armKeepalive(ep);
  if (ep.listener !== null) ep.listener.established(ep);
  ep.layer.ctx.scheduleOutput(ep);
  ep.updateReadiness();
}

/** Challenge ACK (RFC 5961 §3.2, §4.2), rate-limited layer-wide (§7). */
function challengeAck(ep: TcpEndpoint): void {
  if (!ep.layer.takeChallengeToken()) return;
  ep.layer.stats.TCPChallengeACK++;
  sendAck(ep);
}

/** The peer reset the connection (RFC 9293 §3.10.7.4, second check). */
function resetReceived(ep: TcpEndpoint): void {
  const stats = ep.layer.stats;
  switch (ep.state) {
    case TcpState.SYN_RECEIVED:
      stats.AttemptFails++;
      if (ep.activeOpen) ep.fail("ECONNREFUSED");
      else ep.destroy(); // back to LISTEN: the listener simply forgets it
      return;
    case TcpState.ESTABLISHED:
    case TcpState.CLOSE_WAIT:
      stats.EstabResets++;
      ep.fail("ECONNRESET");
      return;
    case TcpState.FIN_WAIT_1:
    case TcpState.FIN_WAIT_2:
      ep.fail("ECONNRESET");
      return;
    default:
      ep.destroy(); // CLOSING, LAST_ACK, TIME_WAIT
      return;
  }
}

/** ACK now, or delay it (RFC 1122 §4.2.3.2; every second full-sized segment; quick-acks). */
function ackData(ep: TcpEndpoint, bytes: number): void {
  ep.rcvUnackedBytes += bytes;
  if (ep.quickAcks > 0) {
    ep.quickAcks--;
    sendAck(ep);
    return;
  }
  if (ep.rcvUnackedBytes >= 2 * ep.rcvMss) {
    sendAck(ep);
    return;
  }
  ep.ackPending = true;
  if (!ep.delackTimer.armed) {
    const ctx = ep.layer.ctx;
    ctx.timers.schedule(ep.delackTimer, ctx.clock.nowMs() + ep.layer.opts.delayedAckMs);
  }
}

/** Process one segment for `ep` (any state but LISTEN and CLOSED). */
export function endpointInput(ep: TcpEndpoint, seg: RxSegment): void {
  const stats = ep.layer.stats;
  if ((seg.flags & TCP_FLAG_RST) !== 0) stats.InRsts++;
  if (ep.state === TcpState.SYN_SENT) {
    synSentInput(ep, seg);
    return;
  }
  if (ep.state === TcpState.CLOSED) return;
  const flags = seg.flags;
  const isRst = (flags & TCP_FLAG_RST) !== 0;
  // RFC 7323 §5.3 PAWS: a segment with an older timestamp is a duplicate from the past.
  if (ep.tsOk && seg.opts.hasTimestamps && !isRst && seqLt(seg.opts.tsVal, ep.tsRecent)) {
    stats.PAWSEstab++;
    sendAck(ep);
    return;
  }
  if (ep.state === TcpState.SYN_RECEIVED && (flags & TCP_FLAG_SYN) !== 0 && seg.seq === ep.irs) {
    if ((flags & TCP_FLAG_ACK) !== 0 && ep.activeOpen) {
      // Simultaneous open: the peer's SYN-ACK. Its SYN is old news; use it as the ACK.
      seg.seq = seqAdd(seg.seq, 1);
      seg.flags &= ~TCP_FLAG_SYN;
      seg.segLen--;
    } else if ((flags & TCP_FLAG_ACK) === 0) {
      // The peer retransmitted its SYN: our SYN-ACK was lost.
      ep.sndNxt = ep.iss;
      ep.layer.ctx.scheduleOutput(ep);
      return;
    }
  }
  // RFC 9293 §3.10.7.4 first check: sequence number acceptability.
  let rcvWnd = seqDiff(ep.rcvAdvRight, ep.rcvNxt);
  if (rcvWnd < 0) rcvWnd = 0;
  let acceptable = seqSegmentAcceptable(seg.seq, seg.segLen, ep.rcvNxt, rcvWnd);
  if (!acceptable && rcvWnd === 0 && seg.seq === ep.rcvNxt) {
    // A zero window still takes ACKs, RSTs (and URGs) at RCV.NXT: drop the payload only.
    seg.dataLen = 0;
    seg.flags &= ~TCP_FLAG_FIN;
    seg.segLen = (seg.flags & TCP_FLAG_SYN) !== 0 ? 1 : 0;
    acceptable = true;
  }
  if (!acceptable) {
    if (!isRst) {
      if (ep.state === TcpState.TIME_WAIT && (flags & TCP_FLAG_FIN) !== 0) {
        // A retransmitted FIN: ACK it again and restart 2·MSL (RFC 9293 §3.10.7.4).
        ep.transition(TcpEvent.RCV_FIN);
      }
      sendAck(ep);
    }
    return;
  }
  ep.lastRecvMs = ep.layer.ctx.clock.nowMs();
  ep.keepProbes = 0;
  // RFC 7323 §4.3: remember the timestamp to echo.
  if (ep.tsOk && seg.opts.hasTimestamps && seqLe(seg.seq, ep.lastAckSent)) {
    if (seqGe(seg.opts.tsVal, ep.tsRecent)) ep.tsRecent = seg.opts.tsVal;
  }
  // Second check: RST (RFC 5961 §3.2: exact match resets, in-window draws a challenge ACK).
  if (isRst) {
    if (seg.seq === ep.rcvNxt) resetReceived(ep);
    else challengeAck(ep);
    return;
  }
  // Fourth check: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK.
  if ((seg.flags & TCP_FLAG_SYN) !== 0) {
    stats.TCPSYNChallenge++;
    challengeAck(ep);
    return;
  }
  // Fifth check: the ACK field.
  if ((seg.flags & TCP_FLAG_ACK) === 0) return;
  if (ep.state === TcpState.SYN_RECEIVED) {
    if (!seqBetween(seg.ack, seqAdd(ep.sndUna, 1), ep.sndMax)) {
      ep.layer.tx.replyRst(seg); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (ep.listener !== null && !ep.listener.hasRoom()) {
      // Accept queue full: drop the ACK, the peer retransmits (Linux ListenOverflows).
      stats.ListenOverflows++;
      stats.ListenDrops++;
      return;
    }
    ep.sndWnd = seg.window << ep.sndShift;
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = seg.ack;
    if (ep.sndWnd > ep.maxSndWnd) ep.maxSndWnd = ep.sndWnd;
    if (!ep.activeOpen) stats.PassiveOpens++;
    establish(ep);
  }
  // RFC 5961 §5.2: an ACK outside [SND.UNA − MAX.SND.WND, SND.NXT] is answered and dropped.
  if (seqGt(seg.ack, ep.sndMax)) {
    sendAck(ep);
    return;
  }
  if (seqLt(seg.ack, seqSub(ep.sndUna, ep.maxSndWnd > 0 ? ep.maxSndWnd : 0x10000))) {
    challengeAck(ep);
    return;
  }
  if (!processAck(ep, seg)) return;
  // Seventh check: segment text.
  if (seg.dataLen > 0 || (seg.flags & TCP_FLAG_FIN) !== 0) processData(ep, seg);
}

/** RFC 9293 §3.10.7.3: a segment arrives in SYN_SENT. */
function synSentInput(ep: TcpEndpoint, seg: RxSegment): void {
  const flags = seg.flags;
  const hasAck = (flags & TCP_FLAG_ACK) !== 0;
  if (hasAck && (seqLe(seg.ack, ep.iss) || seqGt(seg.ack, ep.sndMax))) {
    ep.layer.tx.replyRst(seg); // <SEQ=SEG.ACK><CTL=RST>, never to a RST
    return;
  }
  if ((flags & TCP_FLAG_RST) !== 0) {
    // RFC 5961 §3.2: in SYN_SENT a RST counts only if it acknowledges our SYN.
    if (hasAck) {
      ep.layer.stats.AttemptFails++;
      ep.fail("ECONNREFUSED");
    }
    return;
  }
  if ((flags & TCP_FLAG_SYN) === 0) return;
  const now = ep.layer.ctx.clock.nowMs();
  ep.irs = seg.seq;
  ep.rcvNxt = seqAdd(seg.seq, 1);
  ep.rcvAdvRight = ep.rcvNxt;
  negotiateSynOptions(ep, seg, true);
  ep.lastRecvMs = now;
  // RFC 7323 §2.2: the window of a SYN is not scaled.
  ep.sndWnd = seg.window;
  ep.maxSndWnd = seg.window;
  ep.sndWl1 = seg.seq;
  ep.sndWl2 = seg.ack;
  if (hasAck) {
    ep.sndUna = seg.ack;
    if (seqLt(ep.sndNxt, ep.sndUna)) ep.sndNxt = ep.sndUna;
    if (ep.synRetries === 0) ep.rtt.sample(now - ep.synSentMs);
    else if (ep.tsOk && seg.opts.tsEcr !== 0) ep.rtt.sample((tsNow(ep) - seg.opts.tsEcr) >>> 0);
    ep.layer.ctx.timers.cancel(ep.rtoTimer);
    establish(ep);
    sendAck(ep);
    if (seg.dataLen > 0 || (flags & TCP_FLAG_FIN) !== 0) {
      seg.seq = seqAdd(seg.seq, 1);
      processData(ep, seg);
    }
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 7): SYN_RECEIVED, send SYN-ACK.
  ep.transition(TcpEvent.RCV_SYN);
  ep.sndNxt = ep.iss;
  ep.layer.ctx.scheduleOutput(ep);
}

/**
 * ACK processing in the synchronized states. Returns false when the connection ended
 * (LAST_ACK done) and nothing more is to be done with the segment.
 */
function processAck(ep: TcpEndpoint, seg: RxSegment): boolean {
  const ctx = ep.layer.ctx;
  const stats = ep.layer.stats;
  const now = ctx.clock.nowMs();
  const ack = seg.ack;
  const cc = ep.cc;
  const scaledWnd = seg.window << ep.sndShift;
  if (seqGt(ack, ep.sndUna)) {
    const acked = seqDiff(ack, ep.sndUna);
    // Data bytes acknowledged leave the send ring.
    let dataAcked = seqDiff(ack, ep.sndBufSeq);
    if (dataAcked > ep.sndBuf.length) dataAcked = ep.sndBuf.length;
    if (dataAcked > 0) {
      ep.sndBuf.consume(dataAcked);
      ep.sndBufSeq = seqAdd(ep.sndBufSeq, dataAcked);
      ep.bytesAcked += dataAcked;
    }
    ep.sndUna = ack;
    if (seqLt(ep.sndNxt, ack)) ep.sndNxt = ack;
    if (seqLt(ep.sndSml, ack)) ep.sndSml = ack; // keep Minshall's marker from wrapping ahead
    // RTT (RFC 7323 §4 with timestamps; else one timed segment, Karn's rule).
    let sample = -1;
    if (ep.tsOk && seg.opts.hasTimestamps && seg.opts.tsEcr !== 0) {
      const r = (tsNow(ep) - seg.opts.tsEcr) >>> 0;
      if (r < 0x7fffffff) sample = r;
    } else if (ep.rttTiming && seqGt(ack, ep.rttSeq)) {
      sample = now - ep.rttStartMs;
      ep.rttTiming = false;
    }
    if (sample >= 0) ep.rtt.sample(sample);
    else ep.rtt.resetBackoff();
    ep.retries = 0;
    ep.probes = 0;
    ep.persistBackoff = 0;
    const flight = seqDiff(ep.sndMax, ep.sndUna);
    if (cc.inRecovery) {
      if (seqGe(ack, ep.recover)) {
        cc.exitFastRecovery(flight, now);
      } else {
        // RFC 6582 §3.2 step 5: partial ACK: retransmit the next hole, deflate.
        cc.onPartialAck(acked, flight, now);
        retransmitFirst(ep);
      }
    } else {
      cc.onAck(acked, flight, sample, now);
    }
    ep.dupAcks = 0;
    // RFC 6298 §5.2–5.3.
    if (ep.sndUna === ep.sndMax) ctx.timers.cancel(ep.rtoTimer);
    else armRto(ep, true);
    ctx.scheduleOutput(ep);
    // Our FIN acknowledged?
    if (ep.finQueued && seqGt(ack, finSeqOf(ep))) {
      ep.transition(TcpEvent.RCV_ACK_OF_FIN);
      if (ep.state === TcpState.CLOSED) return false; // LAST_ACK done
    }
    ep.updateReadiness();
  } else if (
    ack === ep.sndUna && seg.dataLen === 0 && (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 &&
    scaledWnd === ep.sndWnd && ep.sndUna !== ep.sndMax
  ) {
    // RFC 5681 §2 duplicate ACK.
    ep.dupAcks++;
    const flight = seqDiff(ep.sndMax, ep.sndUna);
    if (ep.dupAcks === 3 && !cc.inRecovery) {
      // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover`.
      if (seqGt(ack, ep.recover) || ep.recover === ep.sndUna) {
        ep.recover = ep.sndMax;
        cc.enterFastRecovery(flight, now);
        stats.TCPFastRetrans++;
        retransmitFirst(ep);
        armRto(ep, true);
      }
    } else if (ep.dupAcks > 3 && cc.inRecovery) {
      cc.onDupAck(flight, now);
      ctx.scheduleOutput(ep);
    }
  }
  // RFC 9293 §3.10.7.4: window update from a newer segment.
  if (seqLt(ep.sndWl1, seg.seq) || (ep.sndWl1 === seg.seq && seqLe(ep.sndWl2, ack))) {
    const opened = scaledWnd > ep.sndWnd;
    ep.sndWnd = scaledWnd;
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = ack;
    if (scaledWnd > ep.maxSndWnd) ep.maxSndWnd = scaledWnd;
    if (opened) {
      ep.probes = 0;
      if (ep.persistTimer.armed) ctx.timers.cancel(ep.persistTimer);
      ep.persistBackoff = 0;
      ctx.scheduleOutput(ep);
    }
  }
  return true;
}

/** Data and FIN of an acceptable segment (RFC 9293 §3.10.7.4, seventh and eighth checks). */
function processData(ep: TcpEndpoint, seg: RxSegment): void {
  const stats = ep.layer.stats;
  let seq = seg.seq;
  let off = seg.dataOff;
  let len = seg.dataLen;
  const hasFin = (seg.flags & TCP_FLAG_FIN) !== 0;
  if (len > 0 && !canReceiveData(ep.state)) {
    len = 0; // after the peer's FIN no data can be new
  }
  if (len > 0 && ep.appClosed) {
    // Linux: data for a socket the application closed is answered with a RST.
    stats.TCPAbortOnData++;
    ep.sendReset();
    ep.destroy();
    return;
  }
  let immediate = false;
  if (len > 0) {
    if (len > ep.rcvMss) ep.rcvMss = len < ep.advMss ? len : ep.advMss;
    const trim = seqDiff(ep.rcvNxt, seq);
    if (trim > 0) {
      off += trim;
      len -= trim;
      seq = ep.rcvNxt;
      immediate = true; // a duplicate: ACK at once (RFC 5681 §4.2)
    }
  }
  let advanced = 0;
  if (len > 0) {
    const rx = ep.rcvBuf;
    const at = seqDiff(seq, ep.rcvNxt);
    if (at === 0) {
      const n = rx.write(seg.buf, off, len);
      if (n < len) stats.TCPRcvQDrop++;
      advanced = n;
      if (!ep.asm.isEmpty) {
        ep.asm.shift(n);
        const more = ep.asm.removeFront();
        if (more > 0) advanced += rx.commit(more);
        immediate = true; // a hole was filled (RFC 5681 §4.2)
      }
    } else {
      let n = rx.free - at;
      if (n > len) n = len;
      if (n > 0 && ep.asm.add(at, n)) {
        rx.writeAt(at, seg.buf, off, n);
        stats.TCPOFOQueue++;
      } else {
        stats.TCPOFODrop++;
      }
      immediate = true; // out of order: a duplicate ACK with SACK blocks at once
    }
  }
  if (advanced > 0) {
    ep.rcvNxt = seqAdd(ep.rcvNxt, advanced);
    ep.bytesReceived += advanced;
    if (ep.tsOk && seg.opts.hasTimestamps && seg.opts.tsEcr !== 0) {
      const r = (tsNow(ep) - seg.opts.tsEcr) >>> 0;
      if (r < 0x7fffffff) ep.rcvRttMs = ep.rcvRttMs === 0 ? r : (7 * ep.rcvRttMs + r) / 8;
    }
  }
  if (hasFin && canReceiveData(ep.state)) {
    const finSeq = seqAdd(seg.seq, seg.dataLen);
    if (!ep.rcvFinPending) {
      ep.rcvFinPending = true;
      ep.rcvFinSeq = finSeq;
    }
  }
  if (ep.rcvFinPending && !ep.finReceived && ep.rcvNxt === ep.rcvFinSeq) {
    finReceived(ep);
    return;
  }
  if (advanced > 0) ep.updateReadiness(EV_READABLE);
  if (immediate) sendAck(ep);
  else if (advanced > 0) ackData(ep, advanced);
}

/** The peer's FIN is next in sequence: EOF (RFC 9293 §3.10.7.4, eighth check). */
function finReceived(ep: TcpEndpoint): void {
  ep.rcvNxt = seqAdd(ep.rcvNxt, 1);
  ep.finReceived = true;
  // FIN_WAIT_1 here means our FIN is not acknowledged yet: simultaneous close, CLOSING.
  ep.transition(TcpEvent.RCV_FIN);
  sendAck(ep);
  ep.updateReadiness(EV_READABLE);
}
