import assert from "node:assert/strict";
import { ADDR_B, inTimeWait, makeSimNet, type SimNetOptions } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { latencySummary } from "../../core/histogram.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";

/** A deterministic byte stream (xorshift32), generated in chunks. */
class Pattern {
  #x = 0x9e3779b9;
  fill(buf: Uint8Array, n: number): void {
    let x = this.#x;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf[i] = x & 0xff;
    }
    this.#x = x;
  }
}

/** Running FNV-1a over a byte stream. */
class Fnv {
  h = 0x811c9dc5;
  update(buf: Uint8Array, off: number, n: number): void {
    let h = this.h;
    for (let i = off; i < off + n; i++) h = Math.imul(h ^ buf[i], 0x01000193);
    this.h = h >>> 0;
  }
}

/** Push `total` bytes a→b, half-close, check both hashes and the clean close. */
export function transfer(total: number, opts: SimNetOptions, maxVirtualMs: number) {
  const net = makeSimNet(opts);
  const l = net.tcpB.listen(null, 5001, 8);
  const c = net.tcpA.connect(ADDR_B, 5001);
  let s: TcpEndpoint | null = null;
  const chunk = new Uint8Array(64 * 1024);
  let chunkLen = 0;
  let chunkOff = 0;
  const pat = new Pattern();
  const sent = new Fnv();
  const recv = new Fnv();
  let written = 0;
  let read = 0;
  let eof = false;
  const rbuf = new Uint8Array(256 * 1024);
  const describe = (e: TcpEndpoint | null): string =>
    e === null ? "none" : `${e.stateName()} ${
      JSON.stringify({
        una: e.snd.sndUna,
        nxt: e.snd.sndNxt,
        max: e.snd.sndMax,
        bufSeq: e.snd.sndBufSeq,
        queued: e.snd.sndBuf.length,
        fin: e.snd.finQueued,
        wnd: e.snd.sndWnd,
        rcvNxt: e.rcv.rcvNxt,
        rcvAdv: e.rcv.rcvAdvRight,
        rto: e.snd.rtoTimer.armed,
        persist: e.snd.persistTimer.armed,
        ack: e.rcv.ackPending,
        out: e.outputQueued,
        timers: [
          e.snd.rtoTimer,
          e.snd.persistTimer,
          e.rcv.delackTimer,
          e.keepalive?.timer,
        ].map((t) => t?.armed ? t.deadlineMs : -1),
      })
    }`;
  const runGuarded = (f: () => boolean, ms: number): boolean => {
    try {
      return net.run(f, ms);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nclient ${describe(c)}\nserver ${describe(s)}\n` +
          `a pending ${net.a.hasPendingWork} next ${net.a.nextDeadlineMs()}, b pending ` +
          `${net.b.hasPendingWork} next ${net.b.nextDeadlineMs()}, wire next ${net.wire.nextEventMs()}`,
      );
    }
  };
  const ok = runGuarded(() => {
    if (s === null) s = l.accept();
    if (c.state === TcpState.ESTABLISHED || c.state === TcpState.CLOSE_WAIT) {
      while (written < total) {
        if (chunkOff === chunkLen) {
          chunkLen = Math.min(chunk.length, total - written);
          pat.fill(chunk, chunkLen);
          sent.update(chunk, 0, chunkLen);
          chunkOff = 0;
        }
        const n = c.write(chunk, chunkOff, chunkLen - chunkOff);
        if (n === 0) break;
        chunkOff += n;
        written += n;
      }
      if (written === total && chunkOff === chunkLen) c.shutdownWrite();
    }
    if (s !== null && !eof) {
      for (;;) {
        const n = s.read(rbuf, 0, rbuf.length);
        if (n > 0) {
          recv.update(rbuf, 0, n);
          read += n;
        } else {
          if (n === 0) {
            eof = true;
            s.close();
          }
          break;
        }
      }
    }
    return eof && inTimeWait(net.tcpA, c);
  }, maxVirtualMs);
  return { net, ok, c, s: s as TcpEndpoint | null, read, written, sent: sent.h, recv: recv.h };
}

Deno.test("tcp: 4 MB transfer on a clean wire", () => {
  const total = 4 * 1024 * 1024;
  // Clean: the wire's queue (1024 frames by default) must hold a whole window (up to the
  // 4 MB receive-buffer cap), or it drops.
  const r = transfer(total, { wire: { delayMs: 1, queueFrames: 4096 } }, 60_000);
  assert(r.ok, `not done: read ${r.read}, state ${r.c.stateName()}`);
  assert.equal(r.read, total);
  assert.equal(r.recv, r.sent);
  assert.equal(r.net.a.stats.tcp.RetransSegs, 0);
});

Deno.test("tcp: 50 MB byte-exact through 2% loss, reordering and duplication", () => {
  const total = 50 * 1024 * 1024;
  const t0 = performance.now();
  const r = transfer(total, {
    wire: {
      seed: 42,
      delayMs: 1,
      lossRate: 0.02,
      reorderRate: 0.01,
      duplicateRate: 0.01,
      reorderExtraMs: 2,
    },
    tcp: { maxReceiveBufferBytes: 1024 * 1024 },
  }, 3_600_000);
  const wall = performance.now() - t0;
  console.log(
    `50 MB: wall ${wall.toFixed(0)} ms, virtual ${(r.net.clock.nowMs() - 1_000_000).toFixed(0)} ms`,
    JSON.stringify(r.net.a.stats.nonZero().tcp),
    JSON.stringify(r.net.b.stats.nonZero().tcp),
    JSON.stringify(r.net.wire.stats),
  );
  assert(r.ok, `not done: read ${r.read}, state ${r.c.stateName()}`);
  assert.equal(r.read, total);
  assert.equal(r.recv, r.sent);
});

Deno.test("tcp: both directions at once through 2% loss (piggybacked ACKs)", () => {
  const net = makeSimNet({ wire: { seed: 7, delayMs: 2, lossRate: 0.02, reorderRate: 0.01 } });
  const l = net.tcpB.listen(null, 7, 4);
  const c = net.tcpA.connect(ADDR_B, 7);
  let s: TcpEndpoint | null = null;
  const total = 3_000_000;
  const mk = (seed: number) => new Uint8Array(total).map((_, i) => (i * seed + (i >>> 11)) & 0xff);
  const da = mk(13);
  const db = mk(29);
  const ga = new Uint8Array(total);
  const gb = new Uint8Array(total);
  let wa = 0, wb = 0, ra = 0, rb = 0;
  assert(net.run(() => {
    s ??= l.accept();
    if (s === null || c.state !== TcpState.ESTABLISHED && c.state !== TcpState.FIN_WAIT_1) {
      return false;
    }
    if (wa < total) wa += c.write(da, wa, total - wa);
    if (wb < total) wb += s.write(db, wb, total - wb);
    for (let n; (n = s.read(gb, rb, total - rb)) > 0;) rb += n;
    for (let n; (n = c.read(ga, ra, total - ra)) > 0;) ra += n;
    return ra === total && rb === total;
  }, 600_000));
  assert.deepEqual(gb, da);
  assert.deepEqual(ga, db);
});

Deno.test("tcp: every RTT sample lands in the layer's histogram (ns), near the wire's round trip", () => {
  // 3 ms each way: every sample (handshake, data, FIN) is 6 ms plus serialisation and the
  // receiver's ACK timing; none is the 0 or 1 ms a millisecond timestamp would give.
  const r = transfer(1 << 20, { wire: { delayMs: 3, queueFrames: 4096 } }, 60_000);
  assert(r.ok);
  const a = latencySummary(r.net.tcpA.rttNs);
  const b = latencySummary(r.net.tcpB.rttNs);
  assert.ok(a.count > 50, `sender samples: ${JSON.stringify(a)}`);
  assert.ok(a.minUs >= 6000 && a.p50Us < 6500 && a.maxUs < 50_000, JSON.stringify(a));
  // The receiver sends no data: the handshake is its one sample by the time the sender sits
  // in TIME_WAIT (the ACK of its FIN is still on the wire). Not a second, coarser one from the
  // timestamp echo of the ACK that completed the handshake.
  assert.equal(b.count, 1, JSON.stringify(b));
  assert.ok(b.minUs >= 6000, JSON.stringify(b));
});
