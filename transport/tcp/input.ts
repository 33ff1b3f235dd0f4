/**
 * Segment arrival for a connection (RFC 9293 §3.10.7.4), in the order of the RFC's checks:
 * PAWS (RFC 7323 §5), sequence acceptability, RST and SYN with RFC 5961's protections, the
 * ACK field (RFC 5961 §5.2 bounds), then the text and FIN. Each check asks the side that owns
 * the state: the receiver for RCV.* and TS.Recent, the sender for SND.* and the ACK, the
 * endpoint for the state machine. SYN_SENT and the SYN_RECEIVED special cases are in
 * `handshake.ts`.
 *
 * @module
 */

import type { TcpEndpoint } from "./endpoint.ts";
import { synReceivedAck, synReceivedSyn, synSentInput } from "./handshake.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import type { RxSegment } from "./segment.ts";
import { ACK_TOO_NEW, ACK_TOO_OLD } from "./sender.ts";
import { TcpEvent, TcpState } from "./state.ts";

/** Challenge ACK (RFC 5961 §3.2, §4.2), rate-limited layer-wide (§7). */
function challengeAck(ep: TcpEndpoint): void {
  if (!ep.layer.takeChallengeToken()) return;
  ep.layer.stats.TCPChallengeACK++;
  ep.sendAck();
}

/** Process one segment for `ep` (any state but LISTEN and CLOSED). */
export function endpointInput(ep: TcpEndpoint, seg: RxSegment): void {
  const stats = ep.layer.stats;
  const rcv = ep.rcv;
  if ((seg.flags & TCP_FLAG_RST) !== 0) stats.InRsts++;
  if (ep.state === TcpState.SYN_SENT) {
    synSentInput(ep, seg);
    return;
  }
  if (ep.state === TcpState.CLOSED) return;
  const isRst = (seg.flags & TCP_FLAG_RST) !== 0;
  const ts = ep.tsOk && seg.opts.hasTimestamps;
  // RFC 7323 §5.3 PAWS: a segment with an older timestamp is a duplicate from the past.
  if (ts && !isRst && rcv.isOldTimestamp(seg)) {
    stats.PAWSEstab++;
    ep.sendAck();
    return;
  }
  if (ep.state === TcpState.SYN_RECEIVED && synReceivedSyn(ep, seg)) return;
  // First check: sequence number acceptability.
  if (!rcv.acceptable(seg)) {
    if (!isRst) {
      // In TIME_WAIT a retransmitted FIN is ACKed again and restarts 2·MSL.
      if (ep.state === TcpState.TIME_WAIT && (seg.flags & TCP_FLAG_FIN) !== 0) {
        ep.transition(TcpEvent.RCV_FIN);
      }
      rcv.noteOldDuplicate(seg); // RFC 2883: tell the sender with a D-SACK
      ep.sendAck();
    }
    return;
  }
  ep.segmentArrivedNow(); // reads the clock itself: no time passed
  // RFC 7323 §4.3: remember the timestamp to echo.
  if (ts) rcv.noteTimestamp(seg);
  // Second check: RST (RFC 5961 §3.2: exact match resets, in-window draws a challenge ACK).
  if (isRst) {
    if (seg.seq === rcv.rcvNxt) ep.resetReceived();
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
  if (ep.state === TcpState.SYN_RECEIVED && !synReceivedAck(ep, seg)) return;
  switch (ep.snd.checkAck(seg)) {
    case ACK_TOO_NEW:
      ep.sendAck();
      return;
    case ACK_TOO_OLD:
      challengeAck(ep);
      return;
    default:
      break;
  }
  if ((seg.flags & TCP_FLAG_FIN) === 0) {
    if (!ep.snd.onAck(seg)) return;
    // Seventh check: segment text.
    if (seg.dataLen > 0) ep.receiveText(seg);
    return;
  }
  // A FIN rides on this ACK: FIN_WAIT_2 entered on the ACK arms its timeout only if the FIN
  // does not take the connection on at once (finSegmentDone).
  ep.finSegmentBegins();
  // Seventh and eighth checks: segment text and FIN.
  if (ep.snd.onAck(seg)) ep.receiveText(seg);
  ep.finSegmentDone();
}
