/**
 * TCP timers, one {@link Timer} per purpose per connection (created once in the endpoint):
 * retransmission (RFC 6298, with SYN retries and give-up after `maxRetries`), persist
 * (zero-window probes with backoff, RFC 9293 §3.8.6.1), delayed ACK (RFC 1122 §4.2.3.2),
 * keepalive (RFC 1122 §4.2.3.6) and the TIME_WAIT / FIN_WAIT_2 linger timer.
 *
 * @module
 */

import type { TcpEndpoint } from "./endpoint.ts";
import { TCP_FLAG_ACK } from "./header.ts";
import { emitSegment, finSeqOf, sendAck, tcpOutput } from "./output.ts";
import { seqDiff, seqSub } from "./seq.ts";
import { TcpState } from "./state.ts";

/** Arm the retransmission timer at now + RTO; with `restart` also when already armed. */
export function armRto(ep: TcpEndpoint, restart: boolean): void {
  if (ep.rtoTimer.armed && !restart) return;
  const ctx = ep.layer.ctx;
  ctx.timers.schedule(ep.rtoTimer, ctx.clock.nowMs() + ep.rtt.rtoMs);
}

/** Arm the persist timer (unless it or the RTO timer runs), backed off. */
export function armPersist(ep: TcpEndpoint): void {
  if (ep.persistTimer.armed || ep.rtoTimer.armed) return;
  const ctx = ep.layer.ctx;
  const base = ep.rtt.rtoMs * 2 ** ep.persistBackoff;
  const max = ep.layer.opts.maxRtoMs;
  ctx.timers.schedule(ep.persistTimer, ctx.clock.nowMs() + (base < max ? base : max));
}

/** Linux's TCP_CORK bound: a corked partial segment leaves after at most this long. */
export const CORK_TIMEOUT_MS = 200;

/** Arm the cork timer if a short segment is being held by TCP_CORK. */
export function armCork(ep: TcpEndpoint): void {
  if (ep.corkTimer.armed) return;
  const ctx = ep.layer.ctx;
  ctx.timers.schedule(ep.corkTimer, ctx.clock.nowMs() + CORK_TIMEOUT_MS);
}

/** The cork held a short segment long enough: send it (as Linux does after 200 ms). */
export function onCorkTimeout(ep: TcpEndpoint): void {
  if (ep.state < TcpState.ESTABLISHED || ep.state === TcpState.TIME_WAIT) return;
  ep.forceSend = true;
  tcpOutput(ep);
}

/** (Re)arm keepalive for `idle` after the last segment received. */
export function armKeepalive(ep: TcpEndpoint): void {
  if (!ep.keepAlive || ep.state === TcpState.CLOSED) return;
  const ctx = ep.layer.ctx;
  ctx.timers.schedule(ep.keepTimer, ep.lastRecvMs + ep.keepIdleMs);
}

/** The retransmission timer fired. */
export function onRto(ep: TcpEndpoint): void {
  const layer = ep.layer;
  const stats = layer.stats;
  const now = layer.ctx.clock.nowMs();
  const st = ep.state;
  if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
    if (++ep.synRetries > layer.opts.synRetries) {
      stats.AttemptFails++;
      if (ep.activeOpen) ep.fail(ep.softError ?? "ETIMEDOUT");
      else ep.destroy();
      return;
    }
    ep.rtt.backoff();
    ep.sndNxt = ep.iss; // resend the SYN / SYN-ACK
    stats.RetransSegs++;
    ep.retransmits++;
    tcpOutput(ep);
    return;
  }
  if (st === TcpState.CLOSED || st === TcpState.TIME_WAIT || ep.sndUna === ep.sndMax) return;
  if (++ep.retries > layer.opts.maxRetries) {
    // Linux tcp_write_err: the soft (ICMP) error if one was seen, else ETIMEDOUT.
    stats.TCPAbortOnTimeout++;
    ep.fail(ep.softError ?? "ETIMEDOUT");
    return;
  }
  stats.TCPTimeouts++;
  const flight = seqDiff(ep.sndMax, ep.sndUna);
  ep.cc.onRetransmitTimeout(flight, now);
  ep.rtt.backoff();
  ep.recover = ep.sndMax;
  ep.dupAcks = 0;
  ep.rttTiming = false;
  // RFC 6298 §5.4–5.6: retransmit the earliest unacknowledged segment (and go back: what
  // followed it is resent as the window reopens).
  ep.sndNxt = ep.sndUna;
  tcpOutput(ep);
  armRto(ep, true);
}

/** The persist timer fired: probe the zero window (Linux sends SEQ = SND.UNA − 1). */
export function onPersist(ep: TcpEndpoint): void {
  const st = ep.state;
  if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
  const unsent = seqDiff(finSeqOf(ep), ep.sndNxt);
  if (unsent <= 0 && !ep.finQueued) return;
  if (ep.sndWnd > 0) {
    // A window is open but too small for SWS avoidance: send what fits (RFC 1122 override).
    ep.forceSend = true;
    tcpOutput(ep);
    if (ep.sndUna !== ep.sndMax) return;
  } else {
    if (++ep.probes > ep.layer.opts.maxRetries) {
      ep.layer.stats.TCPAbortOnTimeout++;
      ep.fail(ep.softError ?? "ETIMEDOUT");
      return;
    }
    ep.layer.stats.TCPZeroWindowProbes++;
    emitSegment(ep, seqSub(ep.sndUna, 1), TCP_FLAG_ACK, 0);
  }
  if (ep.persistBackoff < 16) ep.persistBackoff++;
  armPersist(ep);
}

/** The delayed-ACK timer fired. */
export function onDelayedAck(ep: TcpEndpoint): void {
  if (!ep.ackPending || ep.state === TcpState.CLOSED) return;
  ep.layer.stats.TCPDelayedAcks++;
  sendAck(ep);
}

/**
 * Keepalive (RFC 1122 §4.2.3.6, Linux semantics): after `idle` without a segment from the
 * peer, probe every `interval`; after `count` unanswered probes fail with ETIMEDOUT.
 */
export function onKeepalive(ep: TcpEndpoint): void {
  const st = ep.state;
  if (!ep.keepAlive || st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
  const ctx = ep.layer.ctx;
  const now = ctx.clock.nowMs();
  // Data in flight: the retransmission timer watches the peer instead.
  if (ep.sndUna !== ep.sndMax) {
    ctx.timers.schedule(ep.keepTimer, now + ep.keepIdleMs);
    return;
  }
  const idle = now - ep.lastRecvMs;
  if (ep.keepProbes === 0 && idle < ep.keepIdleMs) {
    ctx.timers.schedule(ep.keepTimer, ep.lastRecvMs + ep.keepIdleMs);
    return;
  }
  if (ep.keepProbes >= ep.keepCount) {
    ep.layer.stats.TCPKeepAlive++;
    ep.fail(ep.softError ?? "ETIMEDOUT");
    return;
  }
  ep.keepProbes++;
  ep.layer.stats.TCPKeepAlive++;
  // A segment the peer must answer: SEQ = SND.UNA − 1, no data.
  emitSegment(ep, seqSub(ep.sndUna, 1), TCP_FLAG_ACK, 0);
  ctx.timers.schedule(ep.keepTimer, now + ep.keepIntervalMs);
}

/** TIME_WAIT ended (the connection is gone) or the FIN_WAIT_2 timeout hit (RST, gone). */
export function onLinger(ep: TcpEndpoint): void {
  if (ep.state === TcpState.TIME_WAIT) {
    ep.destroy();
    return;
  }
  if (ep.state === TcpState.FIN_WAIT_2) {
    ep.sendReset();
    ep.destroy();
  }
}
