import assert from "node:assert/strict";
import { ADDR_B, inTimeWait, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import type { TcpListener } from "../../transport/tcp/listener.ts";

function established(
  net: SimNet,
  localPort = 0,
): { c: TcpEndpoint; s: TcpEndpoint; l: TcpListener } {
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(ADDR_B, 80, { localPort });
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  return { c, s: s!, l };
}

Deno.test("tcp timers: a zero window is probed and reopens when the receiver reads", () => {
  const rcv = 16 * 1024;
  const net = makeSimNet({ tcpB: { receiveBufferBytes: rcv, maxReceiveBufferBytes: rcv } });
  const { c, s } = established(net);
  const total = 200_000;
  const data = new Uint8Array(total).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  let written = c.write(data, 0, total);
  // The receiver does not read: the window closes, the sender probes.
  assert(net.run(() => c.snd.sndWnd === 0 && s.readableBytes === rcv, 5000), `wnd ${c.snd.sndWnd}`);
  net.advance(20_000);
  assert(net.a.stats.tcp.TCPZeroWindowProbes >= 2, `probes ${net.a.stats.tcp.TCPZeroWindowProbes}`);
  assert.equal(c.state, TcpState.ESTABLISHED);
  assert.equal(s.readableBytes, rcv);
  // Now read everything: the window reopens and the rest flows.
  const got = new Uint8Array(total);
  let read = 0;
  assert(net.run(() => {
    if (written < total) written += c.write(data, written, total - written);
    for (;;) {
      const n = s.read(got, read, total - read);
      if (n <= 0) break;
      read += n;
    }
    return read === total;
  }, 60_000));
  assert.deepEqual(got, data);
});

Deno.test("tcp timers: keepalive detects a dead peer (partition) with ETIMEDOUT", () => {
  const net = makeSimNet();
  const { c } = established(net);
  c.setKeepAlive(true, 1000, 500, 3);
  net.advance(5000); // idle but alive: probes are answered
  assert.equal(c.state, TcpState.ESTABLISHED);
  assert(net.a.stats.tcp.TCPKeepAlive >= 2);
  net.wire.partition(true);
  const t0 = net.clock.nowMs();
  assert(net.run(() => c.state === TcpState.CLOSED, 60_000));
  const dt = net.clock.nowMs() - t0;
  assert.equal(c.error, "ETIMEDOUT");
  assert(dt <= 1000 + 4 * 500 + 10, `took ${dt} ms`);
});

Deno.test("tcp timers: retransmission gives up after maxRetries with ETIMEDOUT", () => {
  const net = makeSimNet({ tcpA: { maxRetries: 3 } });
  const { c } = established(net);
  net.wire.partition(true);
  c.write(new Uint8Array(1000), 0, 1000);
  assert(net.run(() => c.state === TcpState.CLOSED, 120_000));
  assert.equal(c.error, "ETIMEDOUT");
  assert.equal(net.a.stats.tcp.TCPTimeouts, 3);
  assert.equal(net.a.stats.tcp.TCPAbortOnTimeout, 1);
  assert.throws(() => c.read(new Uint8Array(1), 0, 1), /ETIMEDOUT/);
});

Deno.test("tcp timers: SYN retries, backed off, then ETIMEDOUT", () => {
  const net = makeSimNet({ tcpA: { synRetries: 2 } });
  net.wire.partition(true);
  const t0 = net.clock.nowMs();
  const c = net.tcpA.connect(ADDR_B, 80);
  assert(net.run(() => c.state === TcpState.CLOSED, 60_000));
  assert.equal(c.error, "ETIMEDOUT");
  const dt = net.clock.nowMs() - t0;
  assert(dt >= 7000 && dt < 7100, `took ${dt} ms`); // 1 + 2 + 4 s
});

Deno.test("tcp timers: FIN_WAIT_2 of a closed connection times out", () => {
  const net = makeSimNet({ tcpA: { finWait2TimeoutMs: 3000 } });
  const { c, s } = established(net);
  c.close();
  assert(net.run(() => c.state === TcpState.FIN_WAIT_2 && s.state === TcpState.CLOSE_WAIT, 1000));
  const t0 = net.clock.nowMs();
  assert(net.run(() => c.state === TcpState.CLOSED, 10_000));
  assert(net.clock.nowMs() - t0 >= 2990);
  assert(net.run(() => s.state === TcpState.CLOSED, 1000));
  assert.equal(s.error, "ECONNRESET");
});

Deno.test("tcp timers: TIME_WAIT lasts 2·MSL and a newer SYN reuses it (RFC 6191)", () => {
  const net = makeSimNet({ tcp: { mslMs: 30_000 } });
  const { c, s, l } = established(net, 45000);
  s.close(); // the server closes first and ends in TIME_WAIT
  assert(net.run(() => c.state === TcpState.CLOSE_WAIT, 1000));
  c.close();
  assert(net.run(() => c.state === TcpState.CLOSED && inTimeWait(net.tcpB, s), 1000));
  net.advance(1000);
  assert(inTimeWait(net.tcpB, s));
  // Same 4-tuple again: the SYN's timestamp is newer, so the TIME_WAIT yields.
  const c2 = net.tcpA.connect(ADDR_B, 80, { localPort: 45000 });
  let s2: TcpEndpoint | null = null;
  assert(net.run(() => (s2 ??= l.accept()) !== null && c2.state === TcpState.ESTABLISHED, 5000));
  assert.equal(net.b.stats.tcp.TCPTimeWaitReuse, 1);
  assert.equal(net.tcpB.timeWaitCount, 0);
  c2.write(new Uint8Array([9]), 0, 1);
  assert(net.run(() => s2!.readableBytes === 1, 1000));
});

Deno.test("tcp timers: TIME_WAIT without reuse expires after exactly 2·MSL", () => {
  const net = makeSimNet({ tcp: { mslMs: 5000 } });
  const { c, s } = established(net);
  c.close();
  assert(net.run(() => s.state === TcpState.CLOSE_WAIT, 1000));
  s.close();
  assert(net.run(() => inTimeWait(net.tcpA, c), 1000));
  const t0 = net.clock.nowMs();
  assert(net.run(() => !inTimeWait(net.tcpA, c), 20_000));
  const dt = net.clock.nowMs() - t0;
  assert(dt >= 10_000 && dt <= 10_002, `TIME_WAIT ${dt}`);
});

Deno.test("tcp timers: delayed ACK — one ACK per two full segments, a lone segment after 40 ms", () => {
  const net = makeSimNet({ tcp: { quickAcks: 0 } });
  const { c, s } = established(net);
  net.advance(100);
  const before = net.b.stats.tcp.OutSegs;
  c.setNoDelay(true);
  c.write(new Uint8Array(100), 0, 100);
  const t0 = net.clock.nowMs();
  assert(net.run(() => net.b.stats.tcp.OutSegs > before, 1000));
  assert(net.clock.nowMs() - t0 >= 40, `acked after ${net.clock.nowMs() - t0} ms`);
  assert.equal(net.b.stats.tcp.TCPDelayedAcks, 1);
  assert.equal(s.readableBytes, 100);
});
