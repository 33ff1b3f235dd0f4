import assert from "node:assert/strict";
import {
  PEER_ADDR,
  PEER_ISS,
  RIG_ADDR,
  type SegmentSpec,
  type SentSegment,
  SERVICE_PORT,
  TcpRig,
} from "../harness/tcp_rig.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { internetChecksum, pseudoHeaderSumV4 } from "../../net/checksum.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN } from "../../transport/tcp/header.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { MIN_SYN_QUEUE, SYN_COOKIE_SOURCE_SLOTS } from "../../transport/tcp/syncache.ts";
import { keyedSlot } from "../../core/keyed_rate_limiter.ts";

const SYN = TCP_FLAG_SYN;
const ACK = TCP_FLAG_ACK;
const SYNACK = TCP_FLAG_SYN | TCP_FLAG_ACK;

/** One SYN-ACK out of what the rig sent. */
function synAck(sent: SentSegment[]): SentSegment {
  const s = sent.filter((x) => x.flags === SYNACK);
  assert.equal(s.length, 1, `one SYN-ACK, got ${JSON.stringify(sent.map((x) => x.flags))}`);
  return s[0];
}

/** Fill the listener's syncache with SYNs from spoofed sources that never answer. */
function fillSyncache(rig: TcpRig): void {
  for (let i = 0; i < MIN_SYN_QUEUE; i++) {
    rig.inject({ src: PEER_ADDR + 10 + (i >> 4), srcPort: 20000 + i, seq: 1000 + i, flags: SYN });
  }
  rig.take();
  assert.equal(rig.stack.tcp.syncache.size, MIN_SYN_QUEUE);
}

Deno.test("syncache: a SYN makes a record, not a connection; the ACK makes the connection", () => {
  const rig = new TcpRig();
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  rig.inject({
    seq: PEER_ISS,
    flags: SYN,
    mss: 1460,
    windowScale: 7,
    sackPermitted: true,
    ts: [500, 0],
  });
  const sa = synAck(rig.take());
  assert.equal(rig.stack.tcp.endpoints, 0);
  assert.equal(l.halfOpen, 1);
  assert.ok(sa.hasTimestamps && sa.tsEcr === 500 && sa.sackPermitted && sa.windowScale >= 0);
  assert.equal(sa.mss, 1460);
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1), flags: ACK, ts: [501, sa.tsVal] });
  const ep = l.accept()!;
  assert.ok(ep !== null);
  assert.equal(ep.state, TcpState.ESTABLISHED);
  assert.ok(ep.wsOk && ep.tsOk && ep.sackOk);
  assert.equal(ep.snd.sndShift, 7);
  assert.equal(ep.rcv.rcvShift, sa.windowScale);
  assert.equal(l.halfOpen, 0);
  assert.equal(rig.stack.stats.tcp.PassiveOpens, 1);
  // Data flows: the window our SYN-ACK offered holds.
  rig.inject({
    seq: seqAdd(PEER_ISS, 1),
    ack: seqAdd(sa.seq, 1),
    flags: ACK,
    ts: [502, sa.tsVal],
    payload: 100,
  });
  assert.equal(ep.readableBytes, 100);
});

Deno.test("syncache: the SYN-ACK is retransmitted with backoff, a repeated SYN draws it again, then the record expires", () => {
  const rig = new TcpRig({ tcp: { synAckRetries: 3 } });
  rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const t0 = rig.clock.nowMs();
  rig.inject({ seq: PEER_ISS, flags: SYN });
  const first = synAck(rig.take());
  const times: number[] = [];
  for (let i = 0; i < 32; i++) {
    rig.advance(500);
    for (const s of rig.take()) {
      if (s.flags === SYNACK) {
        assert.equal(s.seq, first.seq, "the same ISS every time");
        times.push(rig.clock.nowMs() - t0);
      }
    }
  }
  assert.deepEqual(times, [1000, 3000, 7000], "1 s, then 2 s, then 4 s later");
  assert.equal(rig.stack.stats.tcp.TCPSynRetrans, 3);
  assert.equal(rig.stack.tcp.syncache.size, 0, "gone after synAckRetries");
  // A peer repeating its SYN gets the SYN-ACK again.
  rig.inject({ seq: PEER_ISS + 5, flags: SYN });
  const again = synAck(rig.take());
  rig.inject({ seq: PEER_ISS + 5, flags: SYN });
  assert.equal(synAck(rig.take()).seq, again.seq);
});

Deno.test("syncache: a RST on RCV.NXT drops the record; an ACK of something else draws a RST", () => {
  const rig = new TcpRig();
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  rig.inject({ seq: PEER_ISS, flags: SYN });
  const sa = synAck(rig.take());
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 7), flags: ACK });
  const rst = rig.take();
  assert.deepEqual(rst.map((s) => [s.flags, s.seq]), [[TCP_FLAG_RST, seqAdd(sa.seq, 7)]]);
  assert.equal(l.halfOpen, 1);
  rig.inject({ seq: seqAdd(PEER_ISS, 1), flags: TCP_FLAG_RST });
  assert.equal(l.halfOpen, 0);
  assert.equal(rig.stack.stats.tcp.AttemptFails, 1);
});

Deno.test("syncache overflow → SYN cookies → a connection from the cookie ACK with its options", () => {
  const rig = new TcpRig();
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  fillSyncache(rig);
  rig.inject({
    seq: PEER_ISS,
    flags: SYN,
    mss: 1400,
    windowScale: 9,
    sackPermitted: true,
    ts: [700, 0],
  });
  const sa = synAck(rig.take());
  const st = rig.stack.stats.tcp;
  assert.equal(st.SyncookiesSent, 1);
  assert.equal(st.TCPReqQFullDoCookies, 1);
  assert.equal(rig.stack.tcp.syncache.size, MIN_SYN_QUEUE, "no record for a cookie");
  assert.ok(sa.hasTimestamps && sa.tsEcr === 700 && sa.sackPermitted && sa.windowScale >= 0);
  assert.equal(sa.tsVal & 0x3f, 9 | 16, "the peer's shift and SACK ride in TSval");
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1), flags: ACK, ts: [701, sa.tsVal] });
  assert.equal(st.SyncookiesRecv, 1);
  const ep = l.accept()!;
  assert.ok(ep !== null, "the cookie ACK made a connection");
  assert.equal(ep.state, TcpState.ESTABLISHED);
  assert.ok(ep.wsOk && ep.tsOk && ep.sackOk);
  assert.equal(ep.snd.sndShift, 9);
  assert.equal(ep.snd.mss, 1300 - 12, "the cookie's table MSS, less the timestamps option");
  assert.equal(ep.rcv.rcvShift, sa.windowScale, "the shift our SYN-ACK announced");
  rig.inject({
    seq: seqAdd(PEER_ISS, 1),
    ack: seqAdd(sa.seq, 1),
    flags: ACK,
    ts: [702, sa.tsVal],
    payload: 10,
  });
  assert.equal(ep.readableBytes, 10);
});

Deno.test("SYN cookies without timestamps: a connection without window scaling or SACK", () => {
  const rig = new TcpRig();
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  fillSyncache(rig);
  rig.inject({ seq: PEER_ISS, flags: SYN, mss: 1460, windowScale: 9, sackPermitted: true });
  const sa = synAck(rig.take());
  assert.equal(sa.windowScale, -1);
  assert.equal(sa.sackPermitted, false);
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1), flags: ACK });
  const ep = l.accept()!;
  assert.ok(ep !== null);
  assert.deepEqual([ep.wsOk, ep.sackOk, ep.tsOk, ep.snd.mss], [false, false, false, 1460]);
});

Deno.test("SYN cookies: forged and stale cookie ACKs are dropped and counted, no RST", () => {
  const rig = new TcpRig({ tcp: { syncookies: 2 } }); // cookies for every SYN
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const st = rig.stack.stats.tcp;
  rig.inject({ seq: PEER_ISS, flags: SYN, mss: 1460 });
  const sa = synAck(rig.take());
  // Forged: a wrong ACK number.
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1000), flags: ACK });
  assert.equal(st.SyncookiesFailed, 1);
  assert.equal(rig.take().length, 0, "dropped, not answered");
  assert.equal(l.pending, 0);
  // Stale: the right cookie after more than two minutes (cookies still recently in use).
  rig.advance(100_000);
  rig.inject({ src: PEER_ADDR + 50, srcPort: 9, seq: 1, flags: SYN });
  rig.take();
  rig.advance(30_000);
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1), flags: ACK });
  assert.equal(st.SyncookiesFailed, 2);
  assert.equal(st.SyncookiesRecv, 0);
  assert.equal(l.pending, 0);
  // With no cookie sent for two minutes an unknown ACK is answered with a RST again.
  rig.advance(130_000);
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1), flags: ACK });
  assert.equal(rig.take().filter((s) => s.flags === TCP_FLAG_RST).length, 1);
  assert.equal(st.SyncookiesFailed, 2);
});

Deno.test("a full accept queue: SYNs get cookies (ListenOverflows), an ACK waits until there is room", () => {
  const rig = new TcpRig();
  const l = rig.stack.tcp.listen(null, SERVICE_PORT, 1);
  const st = rig.stack.stats.tcp;
  // One connection fills the accept queue.
  rig.inject({ seq: PEER_ISS, flags: SYN });
  let sa = synAck(rig.take());
  rig.inject({ seq: seqAdd(PEER_ISS, 1), ack: seqAdd(sa.seq, 1), flags: ACK });
  assert.equal(l.pending, 1);
  // The next SYN gets a cookie; its ACK finds no room and is dropped.
  rig.inject({ srcPort: 40001, seq: 9000, flags: SYN });
  sa = synAck(rig.take());
  assert.equal(st.ListenOverflows, 1);
  assert.equal(st.SyncookiesSent, 1);
  rig.inject({ srcPort: 40001, seq: 9001, ack: seqAdd(sa.seq, 1), flags: ACK });
  assert.equal(st.ListenDrops, 1);
  assert.equal(l.pending, 1);
  // Room again: the peer's retransmitted ACK (or data) is taken.
  l.accept();
  rig.inject({ srcPort: 40001, seq: 9001, ack: seqAdd(sa.seq, 1), flags: ACK });
  assert.equal(l.pending, 1);
  assert.equal(st.SyncookiesRecv, 1);
});

Deno.test("SYN cookies are answered at most synCookieSourceRate per second per source", () => {
  const rig = new TcpRig({ tcp: { syncookies: 2, synCookieSourceRate: 5 } });
  rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const st = rig.stack.stats.tcp;
  const flooder = PEER_ADDR + 77;
  for (let i = 0; i < 20; i++) rig.inject({ src: flooder, srcPort: 3000 + i, seq: i, flags: SYN });
  assert.equal(st.SyncookiesSent, 5, "a burst of as many as the rate");
  assert.equal(st.SyncookiesRateLimited, 15);
  // Another source is answered as before.
  rig.inject({ seq: PEER_ISS, flags: SYN });
  assert.equal(st.SyncookiesSent, 6);
  // A second later the flooder has five more.
  rig.advance(1000);
  for (let i = 0; i < 10; i++) rig.inject({ src: flooder, srcPort: 4000 + i, seq: i, flags: SYN });
  assert.equal(st.SyncookiesSent, 11);
});

const SLOT_MASK = SYN_COOKIE_SOURCE_SLOTS - 1;

/** The per-source limiter's two buckets of an IPv4 `src` under `secrets`. */
function sourceSlots(secrets: readonly [number, number], src: number): [number, number] {
  return [keyedSlot(src, 0, secrets[0], SLOT_MASK), keyedSlot(src, 0, secrets[1], SLOT_MASK)];
}

/**
 * Secrets under which `flooder` shares the client's first bucket (and only that one): the
 * collision a flood from a few hundred sources meets by chance, and an attacker who knew an
 * unkeyed layout would aim for.
 */
function collidingSecrets(client: number, flooder: number): readonly [number, number] {
  for (let s0 = 1; s0 < 10_000_000; s0++) {
    const secrets = [s0, 0x5eed] as const;
    const [c0, c1] = sourceSlots(secrets, client);
    const [f0, f1] = sourceSlots(secrets, flooder);
    if (f0 === c0 && f1 !== c0 && f1 !== c1 && c1 !== c0) return secrets;
  }
  throw new Error("no colliding secret");
}

Deno.test("SYN cookies: a client sharing a bucket with a flooding source is still answered", () => {
  const flooder = PEER_ADDR + 77;
  const secrets = collidingSecrets(PEER_ADDR, flooder);
  const rig = new TcpRig({
    tcp: { syncookies: 2, synCookieSourceRate: 5, synCookieSourceSecrets: secrets },
  });
  rig.stack.tcp.listen(null, SERVICE_PORT, 64);
  const st = rig.stack.stats.tcp;
  // The flood: 200 SYNs a second from one source, for 3 s.
  for (let t = 0; t < 3000; t += 5) {
    rig.inject({ src: flooder, srcPort: 3000 + (t % 60000), seq: t, flags: SYN });
    if (t === 1500) {
      // Mid-flood the client connects: its SYN is answered at once, from its other bucket.
      const limited = st.SyncookiesRateLimited;
      rig.take();
      rig.inject({ seq: PEER_ISS, flags: SYN });
      assert.equal(st.SyncookiesRateLimited, limited, "the client's SYN was not refused");
      const sa = synAck(rig.take());
      assert.equal(sa.dst, PEER_ADDR);
      rig.inject({ seq: PEER_ISS + 1, ack: seqAdd(sa.seq, 1), flags: ACK });
      assert.equal(st.SyncookiesRecv, 1, "the cookie ACK made the connection");
    }
    rig.advance(5);
  }
  // The bound: the flooder got its burst and then the rate, never more than its two buckets.
  const flooded = st.SyncookiesSent - 1;
  assert.ok(flooded >= 5 + 5 * 2 && flooded <= 2 * (5 + 5 * 3), `flooder answered ${flooded}`);
  assert.equal(st.SyncookiesRateLimited, 600 - flooded, "every SYN beyond is counted");
});

Deno.test("SYN cookies: the per-source limit holds for every source of a many-source flood", () => {
  const secrets = [0x1234567, 0x89abcdef] as const;
  const rig = new TcpRig({
    tcp: { syncookies: 2, synCookieSourceRate: 5, synCookieSourceSecrets: secrets },
  });
  rig.stack.tcp.listen(null, SERVICE_PORT, 64);
  const st = rig.stack.stats.tcp;
  const sources = 200;
  const sent = new Map<number, number>();
  // 200 sources (198.18.0.10 onwards), 20 SYNs each in the same millisecond.
  for (let k = 0; k < 20; k++) {
    for (let i = 0; i < sources; i++) {
      rig.inject({ src: PEER_ADDR + 9 + i, srcPort: 1024 + k, seq: k, flags: SYN });
    }
  }
  for (const s of rig.take()) sent.set(s.dst, (sent.get(s.dst) ?? 0) + 1);
  assert.equal(sent.size, sources, "every source was answered");
  for (const [src, n] of sent) {
    // A source alone in its buckets gets exactly its burst; sharing one, at most both.
    assert.ok(n >= 1 && n <= 2 * 5, `source ${src}: ${n} cookies`);
  }
  assert.equal(st.SyncookiesSent + st.SyncookiesRateLimited, 20 * sources);
  assert.ok(st.SyncookiesSent <= sources * 5 * 1.1, `${st.SyncookiesSent} cookies sent`);
});

/** The first secret from 1 under which `a` and `b` share a bucket. */
function sharedBucketSecret(a: number, b: number): number {
  for (let s = 1; s < 10_000_000; s++) {
    if (keyedSlot(a, 0, s, SLOT_MASK) === keyedSlot(b, 0, s, SLOT_MASK)) return s;
  }
  throw new Error("no such secret");
}

/** `rig`'s flood from `f1` and `f2`, 20 SYNs each (their bursts and then some). */
function floodTwo(rig: TcpRig, f1: number, f2: number, port: number): void {
  for (let i = 0; i < 20; i++) {
    rig.inject({ src: f1, srcPort: port + i, seq: i, flags: SYN });
    rig.inject({ src: f2, srcPort: port + i, seq: i, flags: SYN });
  }
}

Deno.test("SYN cookies: a client that completed a handshake is answered when a flood drains both of its buckets", () => {
  // Two flooding sources, one on each of the client's buckets: what two-choice buckets cannot
  // help (by chance ~(2b/16384)² with b flooding sources, or a flood from enough of them).
  const f1 = PEER_ADDR + 77, f2 = PEER_ADDR + 78;
  const secrets = [sharedBucketSecret(PEER_ADDR, f1), sharedBucketSecret(PEER_ADDR, f2)] as const;
  const tcp = { syncookies: 2 as const, synCookieSourceRate: 5, synCookieSourceSecrets: secrets };
  // Never connected before: the client's SYN during the flood is refused.
  const fresh = new TcpRig({ tcp });
  fresh.stack.tcp.listen(null, SERVICE_PORT, 64);
  floodTwo(fresh, f1, f2, 3000);
  const limited = fresh.stack.stats.tcp.SyncookiesRateLimited;
  fresh.inject({ seq: PEER_ISS, flags: SYN });
  assert.equal(fresh.stack.stats.tcp.SyncookiesRateLimited, limited + 1, "a stranger is refused");
  // Connected once before the flood: known, and charged to buckets no spoofer reaches.
  const rig = new TcpRig({ tcp });
  rig.stack.tcp.listen(null, SERVICE_PORT, 64);
  const st = rig.stack.stats.tcp;
  rig.inject({ srcPort: 40000, seq: PEER_ISS, flags: SYN });
  const first = synAck(rig.take());
  rig.inject({ srcPort: 40000, seq: PEER_ISS + 1, ack: seqAdd(first.seq, 1), flags: ACK });
  assert.equal(st.SyncookiesRecv, 1);
  floodTwo(rig, f1, f2, 3000);
  rig.take();
  const before = st.SyncookiesRateLimited;
  for (let i = 0; i < 5; i++) {
    rig.inject({ srcPort: 40001 + i, seq: PEER_ISS + 1000 * i, flags: SYN });
    const sa = synAck(rig.take());
    rig.inject({
      srcPort: 40001 + i,
      seq: PEER_ISS + 1000 * i + 1,
      ack: seqAdd(sa.seq, 1),
      flags: ACK,
    });
  }
  assert.equal(st.SyncookiesRateLimited, before, "the known client was never refused");
  assert.equal(st.SyncookiesKnownSource, 5);
  assert.equal(st.SyncookiesRecv, 6);
  // Its own buckets still bound it: a sixth SYN in the same instant is refused.
  rig.inject({ srcPort: 40010, seq: PEER_ISS, flags: SYN });
  assert.equal(st.SyncookiesRateLimited, before + 1);
});

/** How {@link injectSummed} spoils a segment. */
type Spoil = "none" | "checksum" | "options";

/**
 * Deliver `spec` from `src` with a real checksum the stack must verify (no `RX_CSUM_*` flag),
 * spoiled as `spoil` says: a checksum off by one, or the first option's length 0 (a list that
 * cannot be walked, RFC 9293 §3.1 MUST-7); then tick.
 */
function injectSummed(rig: TcpRig, src: number, spec: SegmentSpec, spoil: Spoil): void {
  const buf = rig.segmentBytes(spec);
  if (spoil === "options") buf[21] = 0;
  let c = internetChecksum(buf, 0, buf.length, pseudoHeaderSumV4(src, RIG_ADDR, 6, buf.length));
  if (spoil === "checksum") c ^= 1;
  buf[16] = c >>> 8;
  buf[17] = c & 0xff;
  const meta = rxMeta(rig.stack, IpAddress.v4(src), IpAddress.v4(RIG_ADDR), buf);
  rig.stack.tcp.receive(meta, buf, 0, buf.length, 0);
  rig.tick();
}

Deno.test("SYN cookies: a SYN the per-source limit refuses is dropped unsummed and unparsed; one to be answered is checked first", () => {
  const rig = new TcpRig({ tcp: { syncookies: 2, synCookieSourceRate: 2 } });
  rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const st = rig.stack.stats.tcp;
  const syn = (port: number): SegmentSpec => ({ srcPort: port, seq: port, flags: SYN, mss: 1460 });
  const flooder = PEER_ADDR + 77;
  injectSummed(rig, flooder, syn(3000), "none");
  injectSummed(rig, flooder, syn(3001), "none");
  assert.equal(st.SyncookiesSent, 2, "a burst of as many as the rate");
  rig.take();
  // Its bucket is empty: spoiled SYNs are refused by the limit before anything looks at their
  // checksum or options (a flood SYN costs neither; dropped either way).
  const csum0 = st.InCsumErrors, errs0 = st.InErrs, limited0 = st.SyncookiesRateLimited;
  for (let i = 0; i < 4; i++) injectSummed(rig, flooder, syn(3100 + i), "checksum");
  for (let i = 0; i < 4; i++) injectSummed(rig, flooder, syn(3200 + i), "options");
  assert.equal(st.SyncookiesRateLimited, limited0 + 8, "refused by the per-source limit");
  assert.equal(st.InCsumErrors, csum0, "no checksum summed");
  assert.equal(st.InErrs, errs0, "no options parsed");
  assert.equal(rig.take().length, 0);
  // A source with tokens: its spoiled SYNs are checked before a cookie answers them.
  const other = PEER_ADDR + 78;
  injectSummed(rig, other, syn(4000), "checksum");
  assert.equal(st.InCsumErrors, csum0 + 1);
  assert.equal(st.InErrs, errs0 + 1);
  injectSummed(rig, other, syn(4001), "options");
  assert.equal(st.InErrs, errs0 + 2);
  assert.equal(st.SyncookiesSent, 2, "no cookie for a spoiled SYN");
  assert.equal(rig.take().length, 0);
});

Deno.test("a spoiled SYN makes no record and draws no RST; a spoiled ACK completes nothing", () => {
  const rig = new TcpRig();
  rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const st = rig.stack.stats.tcp;
  const csum0 = st.InCsumErrors, errs0 = st.InErrs;
  injectSummed(rig, PEER_ADDR, { seq: PEER_ISS, flags: SYN }, "checksum");
  injectSummed(rig, PEER_ADDR, { seq: PEER_ISS, flags: SYN, mss: 1460 }, "options");
  assert.equal(rig.stack.tcp.syncache.size, 0, "no record");
  // At a closed port: no RST.
  injectSummed(rig, PEER_ADDR, { dstPort: 9, seq: PEER_ISS, flags: SYN }, "checksum");
  assert.equal(rig.take().length, 0);
  assert.equal(st.InCsumErrors, csum0 + 2);
  assert.equal(st.InErrs, errs0 + 3);
  // A record's ACK spoiled: the record stays; the good one makes the connection.
  injectSummed(rig, PEER_ADDR, { seq: PEER_ISS, flags: SYN, mss: 1460 }, "none");
  const sa = synAck(rig.take());
  const ack = { seq: PEER_ISS + 1, ack: seqAdd(sa.seq, 1), flags: ACK };
  injectSummed(rig, PEER_ADDR, ack, "checksum");
  assert.equal(rig.stack.tcp.syncache.size, 1);
  assert.equal(rig.take().length, 0);
  injectSummed(rig, PEER_ADDR, ack, "none");
  assert.equal(rig.stack.tcp.syncache.size, 0);
  assert.equal(st.PassiveOpens, 1);
});

Deno.test("a damaged SYN at a full syncache counts InCsumErrors alone, not the queue's drop or cookie counters", () => {
  // Cookies off: a SYN the full syncache drops is checked first (Linux sums before any listener
  // work), so a damaged one is a checksum error, not a ListenDrop.
  const off = new TcpRig({ tcp: { syncookies: 0 } });
  off.stack.tcp.listen(null, SERVICE_PORT, 8);
  fillSyncache(off);
  const a = off.stack.stats.tcp;
  const drops0 = a.ListenDrops, full0 = a.TCPReqQFullDrop, csum0 = a.InCsumErrors;
  injectSummed(off, PEER_ADDR, { srcPort: 5000, seq: PEER_ISS, flags: SYN }, "checksum");
  assert.deepEqual([a.InCsumErrors - csum0, a.ListenDrops - drops0, a.TCPReqQFullDrop - full0], [
    1,
    0,
    0,
  ]);
  injectSummed(off, PEER_ADDR, { srcPort: 5001, seq: PEER_ISS, flags: SYN }, "none");
  assert.deepEqual([a.ListenDrops - drops0, a.TCPReqQFullDrop - full0], [1, 1]);
  // Cookies on: a damaged SYN from a source with tokens is not counted as one sent to cookies.
  const on = new TcpRig();
  on.stack.tcp.listen(null, SERVICE_PORT, 8);
  fillSyncache(on);
  const b = on.stack.stats.tcp;
  const doCookies0 = b.TCPReqQFullDoCookies;
  injectSummed(on, PEER_ADDR, { srcPort: 5000, seq: PEER_ISS, flags: SYN, mss: 1460 }, "checksum");
  assert.equal(b.TCPReqQFullDoCookies, doCookies0);
  injectSummed(on, PEER_ADDR, { srcPort: 5001, seq: PEER_ISS, flags: SYN, mss: 1460 }, "none");
  assert.equal(b.TCPReqQFullDoCookies, doCookies0 + 1);
  assert.equal(b.SyncookiesSent, 1);
});

Deno.test("InSegs counts a damaged segment (as Linux does) but not one sent to a group", () => {
  const rig = new TcpRig();
  rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  const st = rig.stack.stats.tcp;
  const in0 = st.InSegs, csum0 = st.InCsumErrors;
  injectSummed(rig, PEER_ADDR, { seq: PEER_ISS, flags: SYN }, "checksum");
  assert.deepEqual([st.InSegs - in0, st.InCsumErrors - csum0], [1, 1]);
  const buf = rig.segmentBytes({ seq: PEER_ISS, flags: SYN });
  const meta = rxMeta(rig.stack, IpAddress.v4(PEER_ADDR), IpAddress.v4(RIG_ADDR), buf);
  meta.toGroup = true;
  rig.stack.tcp.receive(meta, buf, 0, buf.length, 0);
  rig.tick();
  assert.deepEqual([st.InSegs - in0, st.InCsumErrors - csum0], [1, 1]);
  assert.equal(rig.take().length, 0);
});
