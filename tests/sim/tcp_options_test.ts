import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, makeSimNet, type SimNet, type SimNetOptions } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { netError, rxMeta } from "../harness/net_meta.ts";
import {
  NET_ERR_HOST_UNREACHABLE,
  NET_ERR_PORT_UNREACHABLE,
  NET_ERR_TOO_BIG,
} from "../../net/network_layer.ts";
import { RX_CSUM_PARTIAL } from "../../link/driver.ts";
import { TCP_FLAG_ACK, TCP_FLAG_PSH, writeTcpHeader } from "../../transport/tcp/header.ts";
import { pseudoHeaderSumV4 } from "../../net/checksum.ts";
import { TcpHeader } from "../../transport/tcp/header.ts";

function established(net: SimNet, backlog = 8): { c: TcpEndpoint; s: TcpEndpoint } {
  const l = net.tcpB.listen(null, 80, backlog);
  const c = net.tcpA.connect(ADDR_B, 80);
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  return { c, s: s! };
}

function netWith(opts: SimNetOptions) {
  return makeSimNet(opts);
}

Deno.test("tcp options: MSS follows the route MTU (never above MTU − 40) and the peer's", () => {
  const net = netWith({ mtu: 9000 });
  const { c, s } = established(net);
  assert.equal(c.rcv.advMss, 8960);
  assert.equal(c.snd.mss, 8960 - 12); // timestamps take 12 bytes of every segment
  assert.equal(s.snd.mss, 8960 - 12);
  const big = new Uint8Array(100_000).map((_, i) => i % 251);
  c.write(big, 0, big.length);
  const got = new Uint8Array(big.length);
  let n = 0;
  assert(net.run(() => {
    const r = s.read(got, n, got.length - n);
    if (r > 0) n += r;
    return n === big.length;
  }, 5000));
  assert.deepEqual(got, big);
});

Deno.test("tcp options: without timestamps/SACK/window scaling on one side, none is used", () => {
  const net = netWith({ tcpB: { timestamps: false, sack: false, windowScaling: false } });
  const { c, s } = established(net);
  for (const e of [c, s]) {
    const i = e.info();
    assert.equal(i.timestamps, false);
    assert.equal(i.sack, false);
    assert.equal(i.rcvWscale, -1);
  }
  assert.equal(c.snd.mss, 1460);
  c.write(new Uint8Array(300_000), 0, 300_000);
  let n = 0;
  const buf = new Uint8Array(65536);
  assert(net.run(() => {
    const r = s.read(buf, 0, buf.length);
    if (r > 0) n += r;
    return n === 300_000;
  }, 10_000));
  assert(s.info().rcvWnd <= 65535);
});

Deno.test("tcp options: a GRO super-segment with a partial checksum is accepted whole", () => {
  const net = netWith({});
  const { c, s } = established(net);
  const len = 20_000;
  const buf = new Uint8Array(20 + len);
  writeTcpHeader(
    buf,
    0,
    c.localPort,
    80,
    s.rcv.rcvNxt,
    s.snd.sndNxt,
    20,
    TCP_FLAG_ACK | TCP_FLAG_PSH,
    1000,
  );
  for (let i = 0; i < len; i++) buf[20 + i] = i & 0xff;
  // Checksum field left as the kernel leaves it: the pseudo-header sum only.
  new TcpHeader().attach(buf, 0, buf.length).checksum =
    pseudoHeaderSumV4(ADDR_A.v4, ADDR_B.v4, 6, buf.length) & 0xffff;
  const meta = rxMeta(net.b, ADDR_A, ADDR_B);
  net.tcpB.receive(meta, buf, 0, buf.length, RX_CSUM_PARTIAL);
  assert.equal(s.readableBytes, len);
  // The same segment without the flag fails the checksum and is dropped (counted).
  const before = net.b.stats.tcp.InCsumErrors;
  net.tcpB.receive(meta, buf, 0, buf.length, 0);
  assert.equal(net.b.stats.tcp.InCsumErrors, before + 1);
  assert.equal(s.readableBytes, len);
});

Deno.test("tcp options: corrupted segments on the wire are dropped by the checksum", () => {
  const net = netWith({});
  const { c, s } = established(net);
  // Flip a payload byte of everything a sends for a while.
  const port = net.portA;
  const orig = port.transmit.bind(port);
  let corrupt = true;
  port.transmit = (frame, off, len, o) => {
    if (corrupt && len > 100) {
      const copy = frame.slice(off, off + len);
      copy[len - 1] ^= 0xff;
      return orig(copy, 0, len, o);
    }
    return orig(frame, off, len, o);
  };
  // TCP data leaves by gather (headers, then the payload from the send ring): flatten and flip.
  const origGather = port.transmitGather.bind(port);
  port.transmitGather = (frame, off, len, payload, payloadOff, payloadLen, o) => {
    if (!corrupt || payload === null) {
      return origGather(frame, off, len, payload, payloadOff, payloadLen, o);
    }
    const copy = new Uint8Array(len + payloadLen);
    copy.set(frame.subarray(off, off + len));
    payload.peek(copy, len, payloadOff, payloadLen);
    copy[copy.length - 1] ^= 0xff;
    return orig(copy, 0, copy.length, o);
  };
  c.write(new Uint8Array(1000).fill(7), 0, 1000);
  net.advance(50);
  assert(net.b.stats.tcp.InCsumErrors >= 1);
  assert.equal(s.readableBytes, 0);
  corrupt = false;
  assert(net.run(() => s.readableBytes === 1000, 10_000));
});

Deno.test("tcp options: the accept queue is bounded by the backlog (ListenOverflows)", () => {
  const net = netWith({ tcpA: { synRetries: 1 } });
  const l = net.tcpB.listen(null, 80, 2);
  const cs = [0, 1, 2, 3].map(() => net.tcpA.connect(ADDR_B, 80));
  net.advance(200);
  assert.equal(l.pending, 2);
  assert(net.b.stats.tcp.ListenOverflows >= 1);
  assert(net.b.stats.tcp.ListenDrops >= 1);
  assert(l.accept() !== null);
  assert(l.accept() !== null);
  assert.equal(l.accept(), null);
  // Room again: the others get in on their retransmissions.
  assert(net.run(() => l.pending === 2, 20_000));
  void cs;
});

Deno.test("tcp options: ICMP port unreachable in SYN_SENT gives ECONNREFUSED", () => {
  const net = netWith({});
  const c = net.tcpA.connect(ADDR_B, 80);
  net.a.tick();
  const q = new Uint8Array(8);
  q[0] = c.localPort >> 8;
  q[1] = c.localPort & 0xff;
  q[2] = 0;
  q[3] = 80;
  new DataView(q.buffer).setUint32(4, c.snd.iss);
  net.tcpA.receiveError(netError(NET_ERR_PORT_UNREACHABLE, ADDR_A, ADDR_B), q, 0, 8);
  assert.equal(c.state, TcpState.CLOSED);
  assert.equal(c.error, "ECONNREFUSED");
  const d = net.tcpA.connect(ADDR_B, 81);
  net.a.tick();
  q[3] = 81;
  q[0] = d.localPort >> 8;
  q[1] = d.localPort & 0xff;
  new DataView(q.buffer).setUint32(4, d.snd.iss);
  net.tcpA.receiveError(netError(NET_ERR_HOST_UNREACHABLE, ADDR_A, ADDR_B), q, 0, 8);
  assert.equal(d.error, "EHOSTUNREACH");
});

Deno.test("tcp options: ICMP fragmentation-needed lowers the MSS", () => {
  const net = netWith({});
  const { c } = established(net);
  const q = new Uint8Array(8);
  q[0] = c.localPort >> 8;
  q[1] = c.localPort & 0xff;
  q[3] = 80;
  new DataView(q.buffer).setUint32(4, c.snd.sndUna);
  net.tcpA.receiveError(netError(NET_ERR_TOO_BIG, ADDR_A, ADDR_B, 1000), q, 0, 8);
  assert.equal(c.snd.mss, 1000 - 40 - 12);
});

Deno.test("tcp options: Nagle coalesces small writes; TCP_NODELAY does not", () => {
  const run = (noDelay: boolean): number => {
    const net = netWith({ wire: { delayMs: 5 } }); // the 50 writes happen within one RTT
    const { c, s } = established(net);
    c.setNoDelay(noDelay);
    net.advance(100);
    const before = net.a.stats.tcp.OutSegs;
    for (let i = 0; i < 50; i++) {
      c.write(new Uint8Array(10), 0, 10);
      net.a.tick(); // each write in its own tick
      net.b.tick();
    }
    assert(net.run(() => s.readableBytes === 500, 2000));
    return net.a.stats.tcp.OutSegs - before;
  };
  const nagle = run(false);
  const nodelay = run(true);
  assert(nagle < 10, `nagle ${nagle}`);
  assert(nodelay >= 50, `nodelay ${nodelay}`);
});

Deno.test("tcp options: the receive buffer auto-tunes up to its cap", () => {
  const net = netWith({
    wire: { delayMs: 5 },
    tcp: { receiveBufferBytes: 64 * 1024, maxReceiveBufferBytes: 1024 * 1024 },
  });
  const { c, s } = established(net);
  const chunk = new Uint8Array(64 * 1024);
  let read = 0;
  assert(net.run(() => {
    c.write(chunk, 0, chunk.length);
    for (;;) {
      const n = s.read(chunk, 0, chunk.length);
      if (n <= 0) break;
      read += n;
    }
    return read >= 20_000_000;
  }, 120_000));
  const i = s.info();
  assert(i.rcvBufBytes > 64 * 1024 && i.rcvBufBytes <= 1024 * 1024, `rcvbuf ${i.rcvBufBytes}`);
  assert.equal(i.rcvWscale, 5);
});

Deno.test("tcp options: TCP_CORK holds a short segment at most 200 ms; uncorking sends at once", () => {
  const net = netWith({ wire: { delayMs: 1 } });
  const { c, s } = established(net);
  net.advance(100);
  c.setCork(true);
  c.write(new Uint8Array(100), 0, 100);
  net.advance(150);
  assert.equal(s.readableBytes, 0, "held by the cork");
  assert(net.run(() => s.readableBytes === 100, 100), "released by the 200 ms cork bound");
  c.write(new Uint8Array(50), 0, 50);
  net.advance(20);
  assert.equal(s.readableBytes, 100, "held again");
  c.setCork(false);
  assert(net.run(() => s.readableBytes === 150, 20), "uncork sends what was held");
});
