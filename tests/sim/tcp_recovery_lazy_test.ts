// A connection's recovery record (`LossRecovery` with its PRR episode) is built on its first
// need: a short exchange on a clean wire shares one Open record and builds none; a connection
// that meets a loss builds its own, and the shared record is never written.

import assert from "node:assert/strict";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { CA_OPEN } from "../../transport/tcp/recovery.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { BulkFlow, connectPair, makeSimNet, type SimNet } from "../harness/sim_net.ts";

const REQ = new Uint8Array(64).fill(0x41);
const BUF = new Uint8Array(256);

/**
 * One request/response on `net` to port 80 of host b (the server answers and closes first, as
 * behind `ab` or `pingpong --connect`); returns both endpoints once both are CLOSED.
 */
function shortExchange(net: SimNet, accept: () => TcpEndpoint | null) {
  const c = net.tcpA.connect(net.addrB, 80);
  let s: TcpEndpoint | null = null;
  const up = () => (s ??= accept()) !== null && c.state === TcpState.ESTABLISHED;
  assert.ok(net.run(up, 5000), "the connection came up");
  // Before any data, `recover` is where the start put it: after our SYN (the client's reset
  // at ESTABLISHED; the server's reset while its SYN-ACK was unacknowledged).
  assert.equal(c.snd.recover, seqAdd(c.snd.iss, 1));
  assert.equal(s!.snd.recover, s!.snd.iss);
  c.write(REQ, 0, REQ.length);
  assert.ok(net.run(() => s!.read(BUF, 0, BUF.length) === REQ.length, 5000), "the request");
  s!.write(REQ, 0, REQ.length);
  s!.close();
  assert.ok(net.run(() => c.read(BUF, 0, BUF.length) === 0, 5000), "the answer and the FIN");
  c.close();
  assert.ok(
    net.run(() => c.state === TcpState.CLOSED && s!.state === TcpState.CLOSED, 10_000),
    "both sides closed",
  );
  return { c, s: s! };
}

/** The shared record's fields are a fresh record's (nothing wrote it). */
function assertPristine(ep: TcpEndpoint): void {
  const r = ep.snd.rec;
  assert.equal(ep.snd.loss.recoveryBuilt, false);
  assert.equal(r.state, CA_OPEN);
  assert.equal(r.recover, 0);
  assert.equal(r.dupAcks, 0);
  assert.equal(r.undoPossible, false);
  assert.equal(r.undoMarker, 0);
  assert.equal(r.undoRetrans, 0);
  assert.equal(r.hasRetransTs, false);
  assert.equal(r.retransTsVal, 0);
  assert.equal(r.cwrPending, false);
}

Deno.test("tcp recovery record: a short exchange on a clean wire builds none on either side", () => {
  const net = makeSimNet({ wire: { seed: 5, delayMs: 0.05 } });
  const l = net.tcpB.listen(null, 80, 64);
  const accept = () => l.accept();
  const first = shortExchange(net, accept);
  for (let i = 0; i < 200; i++) {
    const { c, s } = shortExchange(net, accept);
    // One Open record for every connection that needed none.
    assert.equal(c.snd.rec, first.c.snd.rec, `client ${i} has a recovery record of its own`);
    assert.equal(s.snd.rec, first.c.snd.rec, `server ${i} has a recovery record of its own`);
    assert.equal(c.snd.loss.recoveryBuilt, false);
    assert.equal(s.snd.loss.recoveryBuilt, false);
    // TCP_INFO reads what a fresh record holds.
    assert.equal(c.info().caState, "Open");
    assert.equal(s.info().caState, "Open");
  }
  assertPristine(first.c);
  assert.equal(net.a.stats.tcp.RetransSegs + net.b.stats.tcp.RetransSegs, 0, "a clean wire");
});

Deno.test("tcp recovery record: a lossy transfer builds the sender's own; the shared one stays unwritten", () => {
  const net = makeSimNet({
    wire: { seed: 11, lossRate: 0.02, reorderRate: 0.01, duplicateRate: 0.005, delayMs: 2 },
    tcp: { ecn: "on" },
  });
  const { c, s } = connectPair(net);
  const fresh = net.tcpA.connect(net.addrB, 5002); // never sends: shares the Open record
  const flow = new BulkFlow(c, s, 4 << 20);
  assert.ok(net.run(() => flow.step(), 120_000), "the transfer completed");
  const st = net.a.stats.tcp;
  assert.ok(st.RetransSegs > 0, "the wire lost segments");
  assert.equal(c.snd.loss.recoveryBuilt, true);
  assert.notEqual(c.snd.rec, fresh.snd.rec);
  assert.ok(c.snd.loss.reductions > 0, "the sender reduced its window");
  assertPristine(fresh);
  // A record built after the start reads `recover` as the reductions left it, not ISS + 1.
  assert.equal(c.snd.recover, c.snd.rec.recover);
});
