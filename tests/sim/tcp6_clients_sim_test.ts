// The many-clients machinery over IPv6 between two stacks on the in-memory wire: TIME_WAIT
// records (both kinds of reuse), syncache records (SYN-ACK retransmission) and SYN cookies
// (hashed over the whole IPv6 four-tuple, the MSS from the IPv6 table, options in the
// timestamp) work as over IPv4.

import assert from "node:assert/strict";
import { inTimeWait, makeSimNet, type SimNet, type SimNetOptions } from "../harness/sim_net.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import type { TcpListener } from "../../transport/tcp/listener.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { COOKIE_MSS_TABLE_V6 } from "../../transport/tcp/syn_cookie.ts";
import { rxMeta } from "../harness/net_meta.ts";
import { RX_CSUM_VALID } from "../../link/driver.ts";
import { TCP_FLAG_SYN, writeTcpHeader } from "../../transport/tcp/header.ts";

const A6 = IpAddress.parse("fd00:5::1");
const B6 = IpAddress.parse("fd00:5::2");

function setup(opts: SimNetOptions = {}): SimNet {
  const net = makeSimNet({ wire: { seed: 61, delayMs: 1 }, ...opts });
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  net.advance(2500);
  return net;
}

function accept(net: SimNet, l: TcpListener, c: TcpEndpoint): TcpEndpoint {
  let s: TcpEndpoint | null = null;
  assert.ok(
    net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 10_000),
    "accepted",
  );
  return s!;
}

/** `len` bytes c → s, read back at s. */
function transfer(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, len: number): void {
  const data = Uint8Array.from({ length: len }, (_, i) => (i * 13) & 0xff);
  const got = new Uint8Array(len);
  let w = 0, r = 0;
  assert.ok(
    net.run(() => {
      if (w < len) w += c.write(data, w, len - w);
      const n = s.read(got, r, len - r);
      if (n > 0) r += n;
      return r === len;
    }, 30_000),
  );
  assert.deepEqual(got, data);
}

/** `first` closes, then `second`: `first` ends in TIME_WAIT. */
function close(net: SimNet, first: TcpEndpoint, second: TcpEndpoint): void {
  first.close();
  assert.ok(net.run(() => second.state === TcpState.CLOSE_WAIT, 2000));
  second.close();
  assert.ok(
    net.run(() => second.state === TcpState.CLOSED && first.state === TcpState.CLOSED, 2000),
  );
}

Deno.test("sim tcp6: TIME_WAIT record on an IPv6 four-tuple, taken over by connect() (tcp_tw_reuse)", () => {
  const net = setup();
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(B6, 80, { localPort: 45000 });
  const s = accept(net, l, c);
  transfer(net, c, s, 50_000);
  close(net, c, s);
  assert.ok(inTimeWait(net.tcpA, c));
  assert.equal(net.tcpA.endpoints, 0, "the endpoint itself is gone");
  const rec = net.tcpA.timeWaitRecord(A6, 45000, B6, 80)!;
  assert.equal(`${rec.remoteAddr}`, "fd00:5::2");
  assert.equal(rec.remoteAddr.family, 6);
  assert.ok(rec.tsOk);
  // The IPv4-mapped tuple with the same low words is another tuple.
  assert.equal(net.tcpA.timeWaitRecord(IpAddress.v4(1), 45000, IpAddress.v4(2), 80), undefined);
  assert.throws(() => net.tcpA.connect(B6, 80, { localPort: 45000 }), /EADDRINUSE/);
  net.advance(1000);
  const c2 = net.tcpA.connect(B6, 80, { localPort: 45000 });
  assert.equal(net.a.stats.tcp.TWRecycled, 1);
  const s2 = accept(net, l, c2);
  transfer(net, c2, s2, 1000);
});

Deno.test("sim tcp6: a SYN with a newer timestamp reopens the server's TIME_WAIT record (RFC 6191)", () => {
  const net = setup();
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(B6, 80, { localPort: 45100 });
  const s = accept(net, l, c);
  transfer(net, c, s, 2000);
  close(net, s, c); // the server closes first: its side keeps the record
  assert.ok(inTimeWait(net.tcpB, s));
  net.advance(10);
  const c2 = net.tcpA.connect(B6, 80, { localPort: 45100 });
  const s2 = accept(net, l, c2);
  assert.equal(net.b.stats.tcp.TCPTimeWaitReuse, 1);
  assert.equal(net.tcpB.timeWaitCount, 0);
  transfer(net, c2, s2, 2000);
});

Deno.test("sim tcp6: a syncache record retransmits its SYN-ACK and completes over IPv6", () => {
  // The client retransmits its SYN late, so the record's own timer resends the SYN-ACK.
  const net = setup({ tcpA: { initialRtoMs: 3000 } });
  const l = net.tcpB.listen(null, 80, 8);
  // The first SYN-ACK is lost: the link is cut once the SYN is through.
  const c = net.tcpA.connect(B6, 80);
  assert.ok(net.run(() => net.tcpB.syncache.size === 1, 1000), "a half-open record");
  net.wire.partition(true);
  net.advance(500);
  net.wire.partition(false);
  const s = accept(net, l, c);
  assert.ok(net.b.stats.tcp.TCPSynRetrans >= 1, "the record resent its SYN-ACK");
  assert.equal(net.tcpB.syncache.size, 0);
  assert.equal(`${s.remoteAddr}`, "fd00:5::1");
  transfer(net, c, s, 100_000);
});

Deno.test("sim tcp6: SYN cookies over IPv6 — the MSS from the IPv6 table, options from the timestamp", () => {
  const net = setup({ tcpB: { syncookies: 2 } }); // every SYN gets a cookie
  const l = net.tcpB.listen(null, 80, 8);
  const c = net.tcpA.connect(B6, 80);
  const s = accept(net, l, c);
  const st = net.b.stats.tcp;
  assert.equal(st.SyncookiesSent, 1);
  assert.equal(st.SyncookiesRecv, 1);
  assert.equal(st.SyncookiesFailed, 0);
  assert.equal(net.tcpB.syncache.size, 0, "no record was kept");
  // The peer's MSS (1500 − 60) is in the IPv6 table; with timestamps 12 bytes go to options.
  assert.ok(COOKIE_MSS_TABLE_V6.includes(1440));
  assert.equal(s.snd.mss, 1440 - 12);
  assert.ok(s.tsOk && s.sackOk && s.wsOk, "options restored from the timestamp bits");
  transfer(net, c, s, 200_000);
  transfer(net, s, c, 50_000);
});

/** The inverse of an odd `a` modulo 2³² (Newton's iteration). */
function inverseOdd(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x >>> 0;
}

/** An IPv6 address from its four 32-bit words. */
function fromWords(w0: number, w1: number, w2: number, w3: number): IpAddress {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, w0), v.setUint32(4, w1), v.setUint32(8, w2), v.setUint32(12, w3);
  return IpAddress.fromBytes(b);
}

Deno.test("sim tcp6: a /64 chosen to match a client's in 32 bits does not share its cookie buckets", () => {
  const net = setup({ tcpB: { syncookies: 2, synCookieSourceRate: 5 } });
  net.tcpB.listen(null, 80, 64);
  const st = net.b.stats.tcp;
  // The client's /64 is fd00:5::/64. A /64 whose words fold to the same 32 bits as the
  // client's did in a fold of (w0, w1) (w0 ^ w1·0x9e3779b1): anybody can compute one.
  const [w0, w1] = [A6.w0, A6.w1];
  const t = 0x100;
  const aimed1 = Math.imul(t, inverseOdd(0x9e3779b1)) >>> 0;
  const aimed0 = (w0 ^ t ^ Math.imul(w1, 0x9e3779b1)) >>> 0;
  assert.equal(
    (aimed0 ^ Math.imul(aimed1, 0x9e3779b1)) >>> 0,
    (w0 ^ Math.imul(w1, 0x9e3779b1)) >>> 0,
  );
  assert.ok(aimed0 >>> 24 === 0xfd, "the aimed /64 is in fd00::/8");
  // The flood from that /64: 40 SYNs (no route back: no SYN-ACK, but each takes its token).
  const syn = new Uint8Array(20);
  for (let i = 0; i < 40; i++) {
    writeTcpHeader(syn, 0, 2000 + i, 80, i, 0, 20, TCP_FLAG_SYN, 65535);
    const src = fromWords(aimed0, aimed1, 0, 1 + i);
    net.tcpB.receive(rxMeta(net.b, src, B6), syn, 0, syn.length, RX_CSUM_VALID);
  }
  assert.equal(st.SyncookiesRateLimited, 35, "the aimed /64 got its burst of 5");
  // The client connects at once, without a retransmitted SYN.
  const c = net.tcpA.connect(B6, 80);
  assert.ok(
    net.run(() => c.state === TcpState.ESTABLISHED && st.SyncookiesRecv === 1, 500),
    "connected from a cookie within 500 ms",
  );
  assert.equal(st.SyncookiesRateLimited, 35, "the client's SYN was not refused");
});
