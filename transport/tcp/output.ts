/**
 * The sending half of TCP: what may go out now (windows, Nagle/cork, sender-side SWS
 * avoidance), building segments straight from the send ring (`ByteRing.peek`, so a
 * retransmission is rebuilt the same way as the first transmission), the window we advertise
 * (receiver-side SWS avoidance, never shrinking).
 *
 * Segments are written and sent by the layer's transmitter (`transmit.ts`); no allocation per
 * segment.
 *
 * @module
 */

import type { TcpEndpoint } from "./endpoint.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import { seqAdd, seqDiff, seqGt, seqLt } from "./seq.ts";
import { TcpState } from "./state.ts";
import { armCork, armPersist, armRto } from "./timers.ts";
import { encodeWindow, MAX_WINDOW_FIELD, windowShiftFor } from "./window_scale.ts";

/** Most SACK blocks sent beside timestamps (RFC 2018 §3). */
const SACK_BLOCKS_WITH_TS = 3;
/** Most SACK blocks sent without timestamps. */
const SACK_BLOCKS_NO_TS = 4;

/** TSval now for `ep` (ms clock plus the per-connection offset, RFC 7323 §5.4). */
export function tsNow(ep: TcpEndpoint): number {
  return (Math.floor(ep.layer.ctx.clock.nowMs()) + ep.tsOffset) >>> 0;
}

/**
 * The window to advertise, in bytes, and move `rcvAdvRight`. RFC 1122 §4.2.3.3: the right
 * edge moves only by at least min(buffer/2, MSS); RFC 9293 §3.8.6.2.2: it never moves left.
 */
export function selectWindow(ep: TcpEndpoint): number {
  const maxWin = MAX_WINDOW_FIELD * (1 << ep.rcvShift);
  let free = ep.rcvBuf.free;
  if (free > maxWin) free = maxWin;
  let cur = seqDiff(ep.rcvAdvRight, ep.rcvNxt);
  if (cur < 0) cur = 0;
  const cap = ep.rcvBuf.capacity;
  const step = Math.min(cap >>> 1, ep.advMss);
  let win = free;
  if (free <= cur || free - cur < step) win = cur;
  const field = encodeWindow(win, ep.rcvShift);
  const adv = field * (1 << ep.rcvShift);
  const right = seqAdd(ep.rcvNxt, adv);
  if (seqGt(right, ep.rcvAdvRight)) ep.rcvAdvRight = right;
  return adv;
}

/**
 * Build and send one segment of `ep`: `len` payload bytes taken from the send ring at
 * `seq` (so `seq - sndBufSeq` is the ring offset), with `flags`. Returns false when no
 * packet buffer was free (nothing sent, nothing changed; a timer retries).
 */
export function emitSegment(
  ep: TcpEndpoint,
  seq: number,
  flags: number,
  len: number,
  gsoSize = 0,
): boolean {
  const layer = ep.layer;
  const tx = layer.tx;
  const pb = tx.begin();
  if (pb === null) return false;
  const s = tx.seg;
  const isSyn = (flags & TCP_FLAG_SYN) !== 0;
  const o = s.opts;
  let window: number;
  if (isSyn) {
    o.mss = ep.advMss;
    if (ep.wsOk || (ep.state === TcpState.SYN_SENT && layer.opts.windowScaling)) {
      o.windowScale = ep.rcvShift;
    }
    o.sackPermitted = ep.sackOk || (ep.state === TcpState.SYN_SENT && layer.opts.sack);
    o.hasTimestamps = ep.tsOk || (ep.state === TcpState.SYN_SENT && layer.opts.timestamps);
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    let w = ep.rcvBuf.free;
    if (w > MAX_WINDOW_FIELD) w = MAX_WINDOW_FIELD;
    window = w;
    const right = seqAdd(ep.rcvNxt, w);
    if (ep.state === TcpState.SYN_RECEIVED || seqGt(right, ep.rcvAdvRight)) ep.rcvAdvRight = right;
  } else {
    o.hasTimestamps = ep.tsOk;
    window = (flags & TCP_FLAG_RST) !== 0 ? 0 : encodeWindow(selectWindow(ep), ep.rcvShift);
    if (ep.sackOk && !ep.asm.isEmpty) {
      o.sackBlockCount = ep.asm.sackBlocks(
        o.sackBlocks,
        ep.rcvNxt,
        ep.tsOk ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_NO_TS,
      );
    }
  }
  if (o.hasTimestamps) {
    o.tsVal = tsNow(ep);
    o.tsEcr = (flags & TCP_FLAG_ACK) !== 0 ? ep.tsRecent : 0;
  }
  s.route = ep.route;
  s.src = ep.localAddr;
  s.dst = ep.remoteAddr;
  s.srcPort = ep.localPort;
  s.dstPort = ep.remotePort;
  s.seq = seq;
  s.ack = ep.rcvNxt;
  s.flags = flags;
  s.window = window;
  if (len > 0) {
    s.payload = ep.sndBuf;
    s.payloadOffset = seqDiff(seq, ep.sndBufSeq);
    s.payloadLength = len;
    s.gsoSize = gsoSize;
  }
  tx.write(pb, s);
  if ((flags & TCP_FLAG_ACK) !== 0) {
    ep.ackPending = false;
    ep.rcvUnackedBytes = 0;
    ep.lastAckSent = ep.rcvNxt;
    if (ep.delackTimer.armed) layer.ctx.timers.cancel(ep.delackTimer);
  }
  tx.send(pb, s);
  return true;
}

/** Send a bare ACK now (also a window update or a reply to an unacceptable segment). */
export function sendAck(ep: TcpEndpoint): void {
  emitSegment(ep, ep.sndNxt, TCP_FLAG_ACK, 0);
}

/** Sequence number of our FIN (valid when `finQueued`). */
export function finSeqOf(ep: TcpEndpoint): number {
  return seqAdd(ep.sndBufSeq, ep.sndBuf.length);
}

/**
 * Retransmit the first unacknowledged segment without moving SND.NXT (fast retransmit,
 * NewReno partial ACK, ICMP-driven).
 */
export function retransmitFirst(ep: TcpEndpoint): void {
  const dataEnd = finSeqOf(ep);
  let len = seqDiff(dataEnd, ep.sndUna);
  if (len < 0) len = 0;
  if (len > ep.mss) len = ep.mss;
  let flags = TCP_FLAG_ACK;
  if (ep.finQueued && seqAdd(ep.sndUna, len) === dataEnd && seqGt(ep.sndMax, dataEnd)) {
    flags |= TCP_FLAG_FIN;
  }
  if (len === 0 && (flags & TCP_FLAG_FIN) === 0) return;
  if (emitSegment(ep, ep.sndUna, flags, len)) {
    ep.layer.stats.RetransSegs++;
    ep.retransmits++;
    // Karn: a timed segment that is retransmitted gives no sample.
    ep.rttTiming = false;
  }
}

/**
 * Send what the windows, Nagle/cork and SWS avoidance allow, the pending ACK if nothing
 * carried it, and keep the retransmission/persist timers armed as needed.
 */
export function tcpOutput(ep: TcpEndpoint): void {
  const st = ep.state;
  if (st === TcpState.CLOSED || st === TcpState.LISTEN) return;
  if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
    if (ep.sndNxt === ep.iss) {
      if (st === TcpState.SYN_SENT && ep.layer.opts.windowScaling) {
        const cap = ep.rcvBuf.capacity;
        const max = ep.layer.opts.maxReceiveBufferBytes;
        ep.rcvShift = windowShiftFor(ep.rcvAutotune && max > cap ? max : cap);
      }
      const flags = st === TcpState.SYN_SENT ? TCP_FLAG_SYN : TCP_FLAG_SYN | TCP_FLAG_ACK;
      if (emitSegment(ep, ep.iss, flags, 0)) {
        ep.sndNxt = seqAdd(ep.iss, 1);
        if (seqGt(ep.sndNxt, ep.sndMax)) ep.sndMax = ep.sndNxt;
      }
      armRto(ep, false);
    }
    return;
  }
  if (st === TcpState.TIME_WAIT) {
    if (ep.ackPending) sendAck(ep);
    return;
  }
  const layer = ep.layer;
  const stats = layer.stats;
  const now = layer.ctx.clock.nowMs();
  let sent = false;
  const dataEnd = finSeqOf(ep);
  const force = ep.forceSend;
  ep.forceSend = false;
  const tso = ep.layer.tx.tsoLimit(ep.route, ep.mss);
  for (;;) {
    let unsent = seqDiff(dataEnd, ep.sndNxt);
    if (unsent < 0) unsent = 0;
    const finNow = ep.finQueued && ep.sndNxt === dataEnd;
    if (unsent === 0 && !finNow) break;
    const isRetrans = seqLt(ep.sndNxt, ep.sndMax);
    const inflight = seqDiff(ep.sndNxt, ep.sndUna);
    let len = unsent < ep.mss ? unsent : ep.mss;
    // TSO: hand the NIC up to `tso` bytes at once; it cuts MSS-sized segments.
    if (tso > 0 && unsent > ep.mss && !isRetrans) len = unsent < tso ? unsent : tso;
    if (len > 0) {
      const wndAvail = seqDiff(seqAdd(ep.sndUna, ep.sndWnd), ep.sndNxt);
      const cwndAvail = ep.cc.cwnd - inflight;
      let allow = wndAvail < cwndAvail ? wndAvail : cwndAvail;
      if (force && allow <= 0 && wndAvail > 0) allow = wndAvail < ep.mss ? wndAvail : ep.mss;
      if (allow <= 0) break;
      const windowLimited = len > allow;
      if (windowLimited) {
        len = allow;
        // A window-limited super-segment ends on an MSS boundary (no runt segment).
        if (len > ep.mss) len -= len % ep.mss;
      }
      const carriesFin = ep.finQueued && seqAdd(ep.sndNxt, len) === dataEnd;
      if (len < ep.mss && !isRetrans && !carriesFin && !force) {
        // RFC 1122 §4.2.3.4 sender SWS: a window-limited short segment waits unless it is
        // at least half the largest window the peer ever offered.
        if (windowLimited && len < (ep.maxSndWnd >>> 1)) break;
        if (!windowLimited) {
          if (ep.cork) {
            armCork(ep);
            break;
          }
          // RFC 896 Nagle, Minshall's form (Linux): hold a short segment while an earlier
          // short one is unacknowledged.
          if (!ep.noDelay && inflight > 0 && seqGt(ep.sndSml, ep.sndUna)) break;
        }
      }
    }
    const fin = ep.finQueued && seqAdd(ep.sndNxt, len) === dataEnd;
    let flags = TCP_FLAG_ACK;
    if (fin) flags |= TCP_FLAG_FIN;
    if (len > 0 && seqAdd(ep.sndNxt, len) === dataEnd) flags |= TCP_FLAG_PSH;
    if (!emitSegment(ep, ep.sndNxt, flags, len, len > ep.mss ? ep.mss : 0)) break;
    if (isRetrans) {
      stats.RetransSegs++;
      ep.retransmits++;
    } else if (!ep.rttTiming && !ep.tsOk && len > 0) {
      ep.rttTiming = true;
      ep.rttSeq = ep.sndNxt;
      ep.rttStartMs = now;
    }
    if (len < ep.mss && len > 0) ep.sndSml = seqAdd(ep.sndNxt, len);
    ep.sndNxt = seqAdd(ep.sndNxt, len + (fin ? 1 : 0));
    if (seqGt(ep.sndNxt, ep.sndMax)) ep.sndMax = ep.sndNxt;
    sent = true;
    if (fin) break;
  }
  if (ep.ackPending) sendAck(ep);
  if (ep.sndUna !== ep.sndMax) {
    if (sent) armRto(ep, false);
  } else if (seqGt(dataEnd, ep.sndNxt)) {
    // Data waits for a window that is closed (or too small to use): probe it.
    armPersist(ep);
  }
}
