/**
 * The three-way handshake (RFC 9293 §3.5) of a connection: the active open, segments arriving
 * in SYN_SENT (§3.10.7.3) and in SYN_RECEIVED (simultaneous open, a retransmitted SYN, the
 * completing ACK), and the move to ESTABLISHED. The passive side's half-open state is a
 * syncache record (`syncache.ts`); a connection exists from the ACK that completes it.
 *
 * @module
 */

import type { TcpEndpoint } from "./endpoint.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import type { RxSegment } from "./segment.ts";
import type { SynStart } from "./sender.ts";
import { seqAdd } from "./seq.ts";
import { TcpEvent } from "./state.ts";

/**
 * Start an active open with the ISS (RFC 6528) and the SYN's time (the clock's) of `open`,
 * read as fields; the SYN leaves at the end of the tick.
 */
export function activeOpen(ep: TcpEndpoint, open: SynStart): void {
  const layer = ep.layer;
  ep.snd.start(open);
  ep.transition(TcpEvent.CONNECT);
  layer.stats.ActiveOpens++;
  ep.scheduleOutput();
}

/** The handshake completed: ESTABLISHED (FIN_WAIT_1 if the write side was shut early). */
function establish(ep: TcpEndpoint): void {
  const now = ep.layer.ctx.clock.nowMs();
  ep.snd.established(now);
  ep.segmentArrived(now);
  ep.rcv.startMeasuring(now);
  ep.transition(TcpEvent.RCV_ACK_OF_SYN);
  if (ep.snd.finQueued) ep.transition(TcpEvent.CLOSE); // shut for writing during the handshake
  ep.keepalive?.arm();
  if (ep.listener !== null) ep.listener.established(ep);
  ep.scheduleOutput();
  ep.updateReadiness();
}

/** RFC 9293 §3.10.7.3: a segment arrives in SYN_SENT. */
export function synSentInput(ep: TcpEndpoint, seg: RxSegment): void {
  const flags = seg.flags;
  const hasAck = (flags & TCP_FLAG_ACK) !== 0;
  if (hasAck && !ep.snd.acksSynOf(seg)) {
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
  // The segment's numbers are read by the callees: passed, each is a heap number ≥ 2**31.
  ep.rcv.initFrom(seg);
  ep.negotiate(seg);
  ep.segmentArrived(ep.layer.ctx.clock.nowMs());
  ep.snd.peerSynFrom(seg);
  if (hasAck) {
    ep.snd.synAcked(seg, ep.layer.ctx.clock.nowMs());
    establish(ep);
    // The handshake's ACK leaves at the end of the tick, on the first data if there is some.
    ep.rcv.ackAtEndOfTick();
    if (seg.dataLen > 0 || (flags & TCP_FLAG_FIN) !== 0) {
      seg.seq = seqAdd(seg.seq, 1);
      ep.receiveText(seg);
    }
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 7): SYN_RECEIVED, send SYN-ACK.
  ep.transition(TcpEvent.RCV_SYN);
  ep.snd.resendSyn();
  ep.scheduleOutput();
}

/**
 * A SYN in SYN_RECEIVED that repeats the peer's: in a simultaneous open the peer's SYN-ACK
 * (its SYN is old news: the segment goes on as an ACK), else a retransmitted SYN (our SYN-ACK
 * was lost: send it again). Returns true when the segment was consumed.
 */
export function synReceivedSyn(ep: TcpEndpoint, seg: RxSegment): boolean {
  if ((seg.flags & TCP_FLAG_SYN) === 0 || seg.seq !== ep.rcv.irs) return false;
  if ((seg.flags & TCP_FLAG_ACK) !== 0) {
    if (!ep.activeOpen) return false;
    seg.seq = seqAdd(seg.seq, 1);
    seg.flags &= ~TCP_FLAG_SYN;
    seg.segLen--;
    return false;
  }
  ep.snd.resendSyn();
  ep.scheduleOutput();
  return true;
}

/**
 * The ACK of our SYN-ACK (RFC 9293 §3.10.7.4, fifth check in SYN_RECEIVED): out of range it
 * draws `<SEQ=SEG.ACK><CTL=RST>`; with the accept queue full it is dropped (the peer
 * retransmits; Linux ListenOverflows); else ESTABLISHED. Returns false when dropped.
 */
export function synReceivedAck(ep: TcpEndpoint, seg: RxSegment): boolean {
  const stats = ep.layer.stats;
  if (!ep.snd.acksSynAck(seg.ack)) {
    ep.layer.tx.replyRst(seg);
    return false;
  }
  if (ep.listener !== null && !ep.listener.hasRoom()) {
    stats.ListenOverflows++;
    stats.ListenDrops++;
    return false;
  }
  ep.snd.synAckAcked(seg);
  if (!ep.activeOpen) stats.PassiveOpens++;
  establish(ep);
  return true;
}
