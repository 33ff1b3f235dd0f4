/**
 * A `TcpSender` alone for unit tests: established on a virtual clock with its own timer wheel,
 * its segments recorded by a {@link SenderStub}, and ACKs made by hand. ISS 1000 (data from
 * 1001), the peer's ISS 7000, window scale 7, MSS {@link RIG_MSS}, Nagle off.
 */

import { SenderStub } from "./sender_stub.ts";
import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { latencyHistogram } from "../../core/histogram.ts";
import { StackStats } from "../../stack/stats.ts";
import { resolveTcpOptions, type TransportContext } from "../../transport/tcp/context.ts";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { RxSegment } from "../../transport/tcp/segment.ts";
import { TcpSender } from "../../transport/tcp/sender.ts";

/** The rig's MSS. */
export const RIG_MSS = 1000;

/** The peer's ACK of `n` (SEQ 7001), with `window` (scaled by 7 on the sender's side). */
export function ackOf(n: number, window = 65535): RxSegment {
  const s = new RxSegment();
  s.seq = 7001;
  s.ack = n >>> 0;
  s.flags = TCP_FLAG_ACK;
  s.window = window;
  s.buf = new Uint8Array(0);
  return s;
}

/** A rig's sender and what it runs on. */
export interface SenderRig {
  /** The sender. */
  snd: TcpSender;
  /** Its connection: what it emitted. */
  conn: SenderStub;
  /** Its clock (advance by hand). */
  clock: VirtualClock;
  /** Its timers. */
  timers: TimerWheel;
}

/**
 * An established NewReno sender; the peer's window (unscaled) `window`, pacing as asked, TSO
 * super-segments of `tsoBytes` (0: none).
 */
export function establishedSender(
  o: { pacing?: boolean; window?: number; tsoBytes?: number } = {},
): SenderRig {
  const clock = new VirtualClock(1000);
  const timers = new TimerWheel({ startMs: clock.nowMs() });
  const ctx = { clock, timers } as unknown as TransportContext;
  const opts = resolveTcpOptions({ congestionControl: "newreno", pacing: o.pacing ?? false });
  const svc = { ctx, opts, stats: new StackStats().tcp, rttNs: latencyHistogram() };
  const conn = new SenderStub(o.tsoBytes ?? 0);
  const snd = new TcpSender(conn, svc);
  snd.start({ iss: 1000, firstSentMs: clock.nowMs() });
  snd.peerSyn(o.window ?? 65535, 7000, 1001);
  snd.setPeerOptions(7, RIG_MSS);
  snd.sndNxt = 1001;
  snd.sndMax = 1001;
  snd.sndUna = 1001;
  snd.established(clock.nowMs());
  snd.setNoDelay(true);
  return { snd, conn, clock, timers };
}

/**
 * An unpaced sender with TSO super-segments of 64,000 bytes, an SRTT of 1 ms from a first round
 * trip, then a window of 30 segments all in flight, `bufferBytes` written in all; the stub's
 * record emptied and its sequence numbers relative to SND.UNA.
 */
export function windowInFlight(bufferBytes: number): SenderRig {
  const rig = establishedSender({ window: 1 << 20, tsoBytes: 64_000 });
  const { snd, conn, clock } = rig;
  conn.una = () => snd.sndUna;
  snd.setBufferSize(bufferBytes);
  snd.write(new Uint8Array(bufferBytes), 0, bufferBytes);
  // A first round trip: the initial window out, acknowledged 1 ms later (SRTT 1 ms).
  snd.output();
  clock.advance(1);
  assert(snd.onAck(ackOf(snd.sndNxt)));
  // A window of 30 segments, filled.
  snd.cc.setCwnd(30 * RIG_MSS);
  conn.sent.length = 0;
  snd.output();
  assert.equal(snd.sndNxt - snd.sndUna, 30 * RIG_MSS, "the whole window in flight");
  conn.sent.length = 0;
  return rig;
}
