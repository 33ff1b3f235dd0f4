import assert from "node:assert/strict";
import { ADDR_A, ADDR_B, inTimeWait, makeSimNet, type SimNet } from "../harness/sim_net.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { EV_ERROR, EV_READABLE, EV_WRITABLE } from "../../core/event_mux.ts";

/** Connect a→b:80 and return both established ends. */
function pair(net: SimNet, port = 80): { c: TcpEndpoint; s: TcpEndpoint } {
  const l = net.tcpB.listen(null, port, 8);
  const c = net.tcpA.connect(ADDR_B, port);
  let s: TcpEndpoint | null = null;
  assert(net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000));
  l.close();
  return { c, s: s! };
}

Deno.test("tcp: connect to a closed port gets ECONNREFUSED", () => {
  const net = makeSimNet();
  const c = net.tcpA.connect(ADDR_B, 9);
  assert(net.run(() => c.state === TcpState.CLOSED, 5000));
  assert.equal(c.error, "ECONNREFUSED");
  assert((c.wq.readiness & EV_ERROR) !== 0);
  assert.throws(() => c.read(new Uint8Array(1), 0, 1), /ECONNREFUSED/);
  assert.equal(net.b.stats.tcp.OutRsts, 1);
  assert.equal(net.a.stats.tcp.AttemptFails, 1);
  assert.equal(net.tcpA.endpoints, 0);
});

Deno.test("tcp: simultaneous open", () => {
  const net = makeSimNet();
  const a = net.tcpA.connect(ADDR_B, 7000, { localPort: 6000 });
  const b = net.tcpB.connect(ADDR_A, 6000, { localPort: 7000 });
  const seen = new Set<string>();
  assert(net.run(() => {
    seen.add(`${a.stateName()}/${b.stateName()}`);
    return a.state === TcpState.ESTABLISHED && b.state === TcpState.ESTABLISHED;
  }, 5000));
  assert([...seen].some((x) => x.includes("SYN_RECEIVED")), [...seen].join(" "));
  const m = new Uint8Array([1, 2, 3]);
  a.write(m, 0, 3);
  b.write(m, 0, 3);
  assert(net.run(() => a.readableBytes === 3 && b.readableBytes === 3, 2000));
});

Deno.test("tcp: simultaneous close goes through CLOSING to TIME_WAIT on both sides", () => {
  const net = makeSimNet({ tcp: { mslMs: 500 } });
  const { c, s } = pair(net);
  c.close();
  s.close(); // both FINs cross on the wire
  const seen = new Set<number>();
  assert(net.run(() => {
    seen.add(c.state);
    seen.add(s.state);
    return inTimeWait(net.tcpA, c) && inTimeWait(net.tcpB, s);
  }, 2000));
  assert(seen.has(TcpState.CLOSING));
  assert.equal(c.state, TcpState.CLOSED);
  assert.equal(s.state, TcpState.CLOSED);
  assert(net.run(() => net.tcpA.timeWaitCount === 0 && net.tcpB.timeWaitCount === 0, 2000));
});

Deno.test("tcp: half-close — the passive side keeps sending after the FIN", () => {
  const net = makeSimNet();
  const { c, s } = pair(net);
  c.shutdownWrite();
  assert(net.run(() => s.state === TcpState.CLOSE_WAIT && c.state === TcpState.FIN_WAIT_2, 1000));
  assert.equal(s.read(new Uint8Array(4), 0, 4), 0); // EOF
  assert.throws(() => c.write(new Uint8Array(1), 0, 1), /EPIPE/);
  const data = new Uint8Array(10000).map((_, i) => i & 0xff);
  assert.equal(s.write(data, 0, data.length), data.length);
  assert(net.run(() => c.readableBytes === data.length, 2000));
  const got = new Uint8Array(data.length);
  assert.equal(c.read(got, 0, got.length), data.length);
  assert.deepEqual(got, data);
  s.close();
  assert(net.run(() => s.state === TcpState.CLOSED && inTimeWait(net.tcpA, c), 2000));
  assert.equal(c.read(got, 0, 1), 0);
});

Deno.test("tcp: close with unread data sends RST; the peer sees ECONNRESET", () => {
  const net = makeSimNet();
  const { c, s } = pair(net);
  c.write(new Uint8Array(100), 0, 100);
  assert(net.run(() => s.readableBytes === 100, 1000));
  s.close();
  assert.equal(s.state, TcpState.CLOSED);
  assert(net.run(() => c.state === TcpState.CLOSED, 1000));
  assert.equal(c.error, "ECONNRESET");
  assert.equal(net.b.stats.tcp.TCPAbortOnClose, 1);
  assert.equal(net.a.stats.tcp.EstabResets, 1);
});

Deno.test("tcp: abort() sends RST at once", () => {
  const net = makeSimNet();
  const { c, s } = pair(net);
  c.abort();
  assert(net.run(() => s.state === TcpState.CLOSED, 1000));
  assert.equal(s.error, "ECONNRESET");
  assert.equal(c.error, null);
});

Deno.test("tcp: readiness — writable once connected, readable on data", () => {
  const net = makeSimNet();
  const { c, s } = pair(net);
  assert((c.wq.readiness & EV_WRITABLE) !== 0);
  assert.equal(s.wq.readiness & EV_READABLE, 0);
  c.write(new Uint8Array(10), 0, 10);
  assert(net.run(() => (s.wq.readiness & EV_READABLE) !== 0, 1000));
  const info = c.info();
  assert.equal(info.state, "ESTABLISHED");
  assert(info.timestamps && info.sack && info.rcvWscale >= 0);
  assert.equal(info.mss, 1500 - 40 - 12);
});
