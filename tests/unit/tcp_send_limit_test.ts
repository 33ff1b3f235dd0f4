/**
 * What held a sender back, by time (`send_limit.ts`, `TcpSender.sendLimitedMs`, TCP_INFO's
 * `sendLimitedMs`): each output pass ends for one reason, and the time until the next pass is
 * counted to it.
 */

import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { latencyHistogram } from "../../core/histogram.ts";
import { StackStats } from "../../stack/stats.ts";
import { resolveTcpOptions, type TransportContext } from "../../transport/tcp/context.ts";
import { TCP_FLAG_ACK } from "../../transport/tcp/header.ts";
import { RxSegment } from "../../transport/tcp/segment.ts";
import { type SenderConnection, TcpSender } from "../../transport/tcp/sender.ts";
import {
  LIMIT_APP,
  LIMIT_CWND,
  LIMIT_IDLE,
  LIMIT_NAMES,
  LIMIT_PACING,
  LIMIT_RWND,
  LIMIT_SNDBUF,
  SendLimit,
} from "../../transport/tcp/send_limit.ts";
import { TcpState } from "../../transport/tcp/state.ts";

const MSS = 1000;

/** A connection without TSO that counts what the sender emits. */
class Conn implements SenderConnection {
  state: TcpState = TcpState.ESTABLISHED;
  tsOk = false;
  sackOk = false;
  ecnOk = false;
  sent = 0;
  sackOptionBytes(): number {
    return 0;
  }
  pathMss(): number {
    return Infinity;
  }
  tsNow(): number {
    return 0;
  }
  tsEchoAgeMs(): number {
    return 0;
  }
  emit(_fromUna: number, _flags: number, len: number): boolean {
    this.sent += len;
    return true;
  }
  tsoLimit(): number {
    return 0;
  }
  scheduleOutput(): void {}
  flushOutput(): void {}
  transition(): void {}
  timedOut(): void {}
  updateReadiness(): void {}
}

function ack(n: number, window = 65535): RxSegment {
  const s = new RxSegment();
  s.seq = 7001;
  s.ack = n >>> 0;
  s.flags = TCP_FLAG_ACK;
  s.window = window;
  s.buf = new Uint8Array(0);
  return s;
}

/** An established NewReno sender (ISS 1000), the peer's window `window` << 7 bytes. */
function sender(pacing = false, window = 65535): {
  snd: TcpSender;
  conn: Conn;
  clock: VirtualClock;
} {
  const clock = new VirtualClock(1000);
  const timers = new TimerWheel({ startMs: clock.nowMs() });
  const ctx = { clock, timers } as unknown as TransportContext;
  const opts = resolveTcpOptions({ congestionControl: "newreno", pacing });
  const svc = { ctx, opts, stats: new StackStats().tcp, rttNs: latencyHistogram() };
  const conn = new Conn();
  const snd = new TcpSender(conn, svc);
  snd.start(1000, clock.nowMs());
  snd.peerSyn(window, 7000, 1001);
  snd.setPeerOptions(7, MSS);
  snd.sndNxt = 1001;
  snd.sndMax = 1001;
  snd.sndUna = 1001;
  snd.established(clock.nowMs());
  snd.setNoDelay(true);
  return { snd, conn, clock };
}

Deno.test("send limit: time goes to the class of the last pass, the current one up to now", () => {
  const l = new SendLimit();
  assert.deepEqual(Object.keys(l.totals(0)), [...LIMIT_NAMES]);
  l.enter(LIMIT_CWND, 10);
  l.enter(LIMIT_CWND, 11); // the same class: nothing moves
  l.enter(LIMIT_PACING, 12);
  l.enter(LIMIT_RWND, 15.5);
  const t = l.totals(20);
  assert.equal(t.cwnd, 2);
  assert.equal(t.pacing, 3.5);
  assert.equal(t.rwnd, 4.5, "the current class counted to now");
  assert.equal(t.idle, 0, "nothing before the first pass");
  assert.equal(l.current, LIMIT_RWND);
});

Deno.test("send limit: a sender's passes end on cwnd, then on nothing left (app), then idle", () => {
  const { snd, clock } = sender();
  snd.setBufferSize(1 << 20);
  snd.write(new Uint8Array(100 * MSS), 0, 100 * MSS);
  snd.output(); // the initial window goes, the rest waits for cwnd
  assert.equal(snd.sendLimit.current, LIMIT_CWND);
  clock.advance(1);
  // Round trips until everything is sent; the last flight still unacknowledged.
  while (snd.unsentBytes > 0) {
    assert(snd.onAck(ack(snd.sndNxt)));
    snd.output();
    clock.advance(1);
  }
  assert.equal(snd.sendLimit.current, LIMIT_APP, "all sent, room in the buffer: the writer");
  assert(snd.onAck(ack(snd.sndNxt)));
  snd.output();
  assert.equal(snd.sendLimit.current, LIMIT_IDLE);
  clock.advance(5);
  const t = snd.sendLimitedMs();
  assert(t.cwnd >= 1, `cwnd-limited for the first round trips (${t.cwnd} ms)`);
  assert.equal(t.idle, 5);
  assert.equal(t.pacing + t.rwnd + t.sndbuf + t.other, 0);
});

Deno.test("send limit: all of a full send buffer in flight is sndbuf, a closed peer window rwnd", () => {
  {
    const { snd } = sender();
    snd.cc.setCwnd(200 * MSS);
    snd.setBufferSize(20 * MSS);
    snd.write(new Uint8Array(20 * MSS), 0, 20 * MSS);
    snd.output();
    assert.equal(snd.sndBuf.length, 20 * MSS);
    assert.equal(snd.sendLimit.current, LIMIT_SNDBUF, "the writer is not woken: the buffer");
  }
  {
    const { snd, clock } = sender(false, 8); // 8 << 7 = 1024 bytes: one segment
    snd.cc.setCwnd(200 * MSS);
    snd.setBufferSize(1 << 20);
    snd.write(new Uint8Array(50 * MSS), 0, 50 * MSS);
    snd.output();
    assert.equal(snd.sendLimit.current, LIMIT_RWND);
    clock.advance(2);
    assert.equal(snd.sendLimitedMs().rwnd, 2);
  }
});

Deno.test("send limit: output stopped by the pacer with the windows open is pacing", () => {
  const { snd, clock } = sender(true);
  snd.cc.setCwnd(200 * MSS);
  snd.setBufferSize(1 << 20);
  snd.write(new Uint8Array(100 * MSS), 0, 100 * MSS);
  snd.pacer.rateBytesPerMs = 10 * MSS; // 10 segments a ms
  snd.output(); // a horizon's credit goes, then the pacer holds
  assert.equal(snd.sendLimit.current, LIMIT_PACING);
  clock.advance(0.5);
  assert.equal(snd.sendLimitedMs().pacing, 0.5);
});
