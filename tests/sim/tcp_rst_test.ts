import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { RX_CSUM_VALID } from "../../link/driver.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TcpHeader,
  writeTcpHeader,
} from "../../transport/tcp/header.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import { TcpHeaderOptions, writeTcpOptions } from "../../transport/tcp/options.ts";

interface Seg {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  len: number;
}

/** Record every TCP segment host b puts on the wire. */
function captureB(net: SimNet): Seg[] {
  const out: Seg[] = [];
  const port = net.portB;
  const orig = port.transmit.bind(port);
  port.transmit = (frame, off, len, offload) => {
    if (frame[off + 12] === 0x08 && frame[off + 13] === 0x00 && frame[off + 14 + 9] === 6) {
      const ip = off + 14;
      const ihl = (frame[ip] & 0x0f) * 4;
      const v = new DataView(frame.buffer, frame.byteOffset);
      const h = new TcpHeader().attach(frame, ip + ihl, len - 14 - ihl);
      out.push({
        src: v.getUint32(ip + 12),
        dst: v.getUint32(ip + 16),
        srcPort: h.srcPort,
        dstPort: h.dstPort,
        seq: h.seq,
        ack: h.ack,
        flags: h.flags,
        window: h.window,
        len: h.payloadLength,
      });
    }
    return orig(frame, off, len, offload);
  };
  return out;
}

/** Hand host b a segment "from a" directly (checksum marked valid). */
function inject(
  net: SimNet,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  payload = 0,
): void {
  const buf = new Uint8Array(20 + payload);
  writeTcpHeader(buf, 0, srcPort, dstPort, seq, ack, 20, flags, 65535);
  const meta = rxMeta(net.b, ADDR_A, ADDR_B, buf);
  net.tcpB.receive(meta, buf, 0, buf.length, RX_CSUM_VALID);
  net.advance(5); // lets ARP resolve the first time
}

function established(net: SimNet): { c: TcpEndpoint; s: TcpEndpoint } {
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(ADDR_B, 80);
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  net.advance(100); // quiet
  return { c, s: s! };
}

Deno.test("tcp rst: closed port answers exactly as RFC 9293 §3.10.7.1 says", () => {
  const net = makeSimNet();
  const got = captureB(net);
  // No ACK bit: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN counting one.
  inject(net, 40000, 9, 1000, 0, TCP_FLAG_SYN);
  assert.equal(got.length, 1);
  assert.deepEqual(
    [got[0].seq, got[0].ack, got[0].flags, got[0].srcPort, got[0].dstPort, got[0].dst],
    [0, 1001, TCP_FLAG_RST | TCP_FLAG_ACK, 9, 40000, ADDR_A.v4],
  );
  // Data without ACK: ACK = SEQ + payload length.
  inject(net, 40000, 9, 5000, 0, 0, 10);
  assert.deepEqual([got[1].seq, got[1].ack, got[1].flags], [0, 5010, TCP_FLAG_RST | TCP_FLAG_ACK]);
  // ACK bit on: <SEQ=SEG.ACK><CTL=RST>.
  inject(net, 40000, 9, 1000, 0xdeadbeef, TCP_FLAG_ACK);
  assert.deepEqual([got[2].seq, got[2].ack, got[2].flags], [0xdeadbeef, 0, TCP_FLAG_RST]);
  // A RST is never answered.
  inject(net, 40000, 9, 1000, 0, TCP_FLAG_RST);
  assert.equal(got.length, 3);
  assert.equal(net.b.stats.tcp.OutRsts, 3);
});

Deno.test("tcp rst: exact RST resets; in-window RST draws a challenge ACK; outside is dropped", () => {
  const net = makeSimNet();
  const { c, s } = established(net);
  const got = captureB(net);
  const lp = c.localPort;
  // In the window but not RCV.NXT: challenge ACK (RFC 5961 §3.2), connection stays.
  inject(net, lp, 80, seqAdd(s.rcv.rcvNxt, 100), 0, TCP_FLAG_RST);
  assert.equal(s.state, TcpState.ESTABLISHED);
  assert.equal(got.length, 1);
  assert.equal(got[0].flags, TCP_FLAG_ACK);
  assert.equal(got[0].ack, s.rcv.rcvNxt);
  assert.equal(got[0].seq, s.snd.sndNxt);
  assert.equal(net.b.stats.tcp.TCPChallengeACK, 1);
  // Outside the window: silently dropped.
  inject(net, lp, 80, seqAdd(s.rcv.rcvNxt, 10_000_000), 0, TCP_FLAG_RST);
  assert.equal(s.state, TcpState.ESTABLISHED);
  assert.equal(got.length, 1);
  // Exactly RCV.NXT: reset.
  inject(net, lp, 80, s.rcv.rcvNxt, 0, TCP_FLAG_RST);
  assert.equal(s.state, TcpState.CLOSED);
  assert.equal(s.error, "ECONNRESET");
  assert.equal(got.length, 1);
});

Deno.test("tcp rst: a SYN on an established connection draws a challenge ACK", () => {
  const net = makeSimNet();
  const { c, s } = established(net);
  const got = captureB(net);
  inject(net, c.localPort, 80, seqAdd(s.rcv.rcvNxt, 5), 0, TCP_FLAG_SYN);
  assert.equal(s.state, TcpState.ESTABLISHED);
  assert.equal(got.length, 1);
  assert.equal(got[0].flags, TCP_FLAG_ACK);
  assert.equal(got[0].ack, s.rcv.rcvNxt);
  assert.equal(net.b.stats.tcp.TCPSYNChallenge, 1);
  // The real peer answers the challenge ACK with nothing harmful; the connection still works.
  c.write(new Uint8Array(3), 0, 3);
  assert(net.run(() => s.readableBytes === 3, 1000));
});

Deno.test("tcp rst: challenge ACKs are rate-limited", () => {
  const net = makeSimNet({ tcpB: { challengeAckLimit: 5 } });
  const { c, s } = established(net);
  const got = captureB(net);
  for (let i = 0; i < 20; i++) {
    inject(net, c.localPort, 80, seqAdd(s.rcv.rcvNxt, 1 + i), 0, TCP_FLAG_RST);
  }
  assert.equal(got.length, 5);
  assert.equal(s.state, TcpState.ESTABLISHED);
});

Deno.test("tcp rst: an unacceptable ACK to a listener gets <SEQ=SEG.ACK><CTL=RST>", () => {
  const net = makeSimNet();
  net.tcpB.listen(null, 80, 8);
  const got = captureB(net);
  inject(net, 41000, 80, 7, 12345, TCP_FLAG_ACK);
  assert.deepEqual([got[0].seq, got[0].flags], [12345, TCP_FLAG_RST]);
});

Deno.test("tcp rst: RST in SYN_SENT counts only when it acknowledges the SYN", () => {
  const net = makeSimNet();
  const c = net.tcpA.connect(ADDR_B, 80);
  net.a.tick(); // the SYN goes out
  // Feed the client a RST without ACK: ignored (RFC 5961 §3.2 / RFC 9293 §3.10.7.3).
  const meta = rxMeta(net.a, ADDR_B, ADDR_A);
  const buf = new Uint8Array(20);
  writeTcpHeader(buf, 0, 80, c.localPort, 0, 0, 20, TCP_FLAG_RST, 0);
  net.tcpA.receive(meta, buf, 0, 20, RX_CSUM_VALID);
  assert.equal(c.state, TcpState.SYN_SENT);
  writeTcpHeader(
    buf,
    0,
    80,
    c.localPort,
    0,
    seqAdd(c.snd.iss, 1),
    20,
    TCP_FLAG_RST | TCP_FLAG_ACK,
    0,
  );
  net.tcpA.receive(meta, buf, 0, 20, RX_CSUM_VALID);
  assert.equal(c.state, TcpState.CLOSED);
  assert.equal(c.error, "ECONNREFUSED");
});

Deno.test("tcp paws: a segment with an old timestamp is dropped and answered with an ACK", () => {
  const net = makeSimNet();
  const { c, s } = established(net);
  const got = captureB(net);
  const opts = new TcpHeaderOptions();
  opts.hasTimestamps = true;
  opts.tsVal = (s.rcv.tsRecent - 1000) >>> 0; // older than TS.Recent
  opts.tsEcr = 0;
  const buf = new Uint8Array(32 + 5);
  writeTcpOptions(buf, 20, opts, false);
  writeTcpHeader(buf, 0, c.localPort, 80, s.rcv.rcvNxt, s.snd.sndNxt, 32, TCP_FLAG_ACK, 65535);
  const meta = rxMeta(net.b, ADDR_A, ADDR_B);
  net.tcpB.receive(meta, buf, 0, buf.length, RX_CSUM_VALID);
  net.b.tick();
  assert.equal(s.readableBytes, 0);
  assert.equal(net.b.stats.tcp.PAWSEstab, 1);
  assert.equal(got.length, 1);
  assert.equal(got[0].flags, TCP_FLAG_ACK);
  // A current timestamp gets through.
  opts.tsVal = s.rcv.tsRecent;
  writeTcpOptions(buf, 20, opts, false);
  net.tcpB.receive(meta, buf, 0, buf.length, RX_CSUM_VALID);
  assert.equal(s.readableBytes, 5);
});

Deno.test("tcp rst: a RST in SYN_RECEIVED returns the listener to LISTEN", () => {
  const net = makeSimNet();
  const l = net.tcpB.listen(null, 80, 8);
  // A forged SYN "from a": b answers with a SYN-ACK, a's stack (which never sent the SYN)
  // answers that with <SEQ=SEG.ACK><CTL=RST>, and b drops the half-open connection.
  inject(net, 42000, 80, 5000, 0, TCP_FLAG_SYN);
  assert.equal(net.a.stats.tcp.OutRsts, 1);
  assert.equal(l.halfOpen, 0);
  assert.equal(net.tcpB.endpoints, 0);
  assert.equal(net.b.stats.tcp.AttemptFails, 1);
  // The listener still works.
  const c = net.tcpA.connect(ADDR_B, 80);
  assert(net.run(() => l.pending === 1 && c.state === TcpState.ESTABLISHED, 5000));
});
