/**
 * ACKs for GRO super-segments (a kernel peer's receive offload hands the stack ~64 KB frames):
 * each one counts as the full-sized segments it carries (RFC 5681 §4.2: an ACK for at least
 * every second full-sized segment). With `coalesceAcks` (the default) the ACK they owe goes
 * out with the tick's transmit, one for all the super-segments the tick received (the frames
 * would have left in that one TX kick anyway); without it each is ACKed at once inside the
 * receive half, as Linux does for a GRO frame. One MSS alone waits for the next.
 */
import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { RX_CSUM_PARTIAL } from "../../link/driver.ts";
import { TCP_FLAG_ACK, TcpHeader, writeTcpHeader } from "../../transport/tcp/header.ts";
import { pseudoHeaderSumV4 } from "../../net/checksum.ts";

function established(net: SimNet): { c: TcpEndpoint; s: TcpEndpoint } {
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(ADDR_B, 80);
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  return { c, s: s! };
}

/** Hand `s` one segment of `len` bytes at RCV.NXT straight from "the driver" (no PSH). */
function inject(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, len: number): void {
  const buf = new Uint8Array(20 + len);
  writeTcpHeader(buf, 0, c.localPort, 80, s.rcv.rcvNxt, s.snd.sndNxt, 20, TCP_FLAG_ACK, 1000);
  new TcpHeader().attach(buf, 0, buf.length).checksum =
    pseudoHeaderSumV4(ADDR_A.v4, ADDR_B.v4, 6, buf.length) & 0xffff;
  net.tcpB.receive(rxMeta(net.b, ADDR_A, ADDR_B), buf, 0, buf.length, RX_CSUM_PARTIAL);
}

Deno.test("tcp GRO ACKs: the super-segments of one tick get one ACK, in its transmit", () => {
  // Quick-ack mode off: the steady state of a bulk transfer.
  const net = makeSimNet({ tcpB: { quickAcks: 0, timestamps: false } });
  const { c, s } = established(net);
  const mss = s.rcv.advMss;
  const stats = net.b.stats.tcp;
  for (let tick = 0; tick < 3; tick++) {
    const before = stats.OutSegs;
    // Three 7-segment GRO frames (nobody reads: 9 of them and one MSS fit the 128 KiB buffer).
    for (let i = 0; i < 3; i++) inject(net, c, s, 7 * mss);
    assert.equal(stats.OutSegs, before, `tick ${tick}: nothing sent inside the receive half`);
    assert.equal(s.rcv.ackDue, true);
    net.b.transmit(); // the second half of the tick
    assert.equal(stats.OutSegs, before + 1, `tick ${tick}: one ACK for three super-segments`);
    assert.equal(s.rcv.ackPending, false);
    assert.equal(s.rcv.lastAckSent, s.rcv.rcvNxt);
  }
  // One MSS alone still waits for a second (delayed ACK).
  const before = stats.OutSegs;
  inject(net, c, s, mss);
  net.b.transmit();
  assert.equal(stats.OutSegs, before, "one full-sized segment waits (delayed ACK)");
  assert.equal(s.rcv.ackPending, true);
});

Deno.test("tcp GRO ACKs: without coalescing every super-segment is ACKed within the receive half", () => {
  const net = makeSimNet({ tcpB: { quickAcks: 0, timestamps: false, coalesceAcks: false } });
  const { c, s } = established(net);
  const mss = s.rcv.advMss;
  const stats = net.b.stats.tcp;
  for (let i = 0; i < 3; i++) {
    const before = stats.OutSegs;
    inject(net, c, s, 7 * mss); // a 7-segment GRO frame
    // Sent during the input call itself, with no timer and no tick in between.
    assert.equal(stats.OutSegs, before + 1, `super-segment ${i}`);
    assert.equal(s.rcv.ackPending, false);
    assert.equal(s.rcv.lastAckSent, s.rcv.rcvNxt);
  }
  // The largest segment seen is capped at our MSS: a later single segment is one of two.
  assert.equal(s.rcv.rcvMss, mss);
  const before = stats.OutSegs;
  inject(net, c, s, mss);
  assert.equal(stats.OutSegs, before, "one full-sized segment waits (delayed ACK)");
  assert.equal(s.rcv.ackPending, true);
  inject(net, c, s, mss);
  assert.equal(stats.OutSegs, before + 1, "the second full-sized segment is ACKed at once");
  assert.equal(s.rcv.ackPending, false);
});
