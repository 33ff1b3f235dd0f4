// What an idle, established connection keeps on the heap (bench/conn_held.ts, bench/README.md
// branch conn9b). A field that once holds a value that is not a small integer (Infinity, a
// fraction, a number ≥ 2**31) is kept as a double in every object of its class: a 16-byte heap
// number per connection, whatever the value. `MssControl.path` started at Infinity ("no path
// MTU known", the usual case) and so cost every connection a box; it is a small integer now.
// `LossControl`'s SND.UNA at the ACK and its cwnd-usage edge, uint32 sequence numbers only
// compared through `seqLt`, are kept as int32 (always a small integer on 64-bit V8); so are the
// sender's SND.WL1/WL2, send-buffer start and Minshall marker, the receiver's advertised edge
// and Last.ACK.sent, the scoreboard's fack and lost hint, ISS and IRS; and RACK's min-RTT filter
// is built at the first RTT sample, not with the connection (branch held9c). The delivery rate's
// per-ACK sample and the estimator's pending RTT are one record for every connection, the
// scoreboard's nine columns one record (the shared empty set while idle), the estimator's bounds
// one record per set of options, and the sender reads the loss control's parts through it
// (branch held9d).

import assert from "node:assert/strict";
import { heldCensus, takeHeapSnapshot } from "../../bench/conn_held.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { MssControl, NO_PATH_MSS_LIMIT } from "../../transport/tcp/mss_control.ts";
import { RttEstimator } from "../../transport/tcp/rtt_estimator.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { ADDR_B, makeSimNet } from "../harness/sim_net.ts";

/** Open `n` connections on the sim wire; both ends, established. */
function openHeld(n: number): TcpEndpoint[] {
  const net = makeSimNet({ wire: { seed: 4, delayMs: 0.05 } });
  const listener = net.tcpB.listen(null, 80, 1024);
  const clients: TcpEndpoint[] = [];
  const servers: TcpEndpoint[] = [];
  for (let i = 0; i < n; i++) clients.push(net.tcpA.connect(ADDR_B, 80));
  const ok = net.run(() => {
    for (let s = listener.accept(); s !== null; s = listener.accept()) servers.push(s);
    return servers.length === n && clients.every((c) => c.state === TcpState.ESTABLISHED);
  }, 100_000);
  assert.ok(ok, `${servers.length} of ${n} accepted`);
  return [...clients, ...servers];
}

Deno.test("conn held: before any path MTU is known the path MSS is a small integer and limits nothing", () => {
  const m = new MssControl();
  assert.equal(m.path, NO_PATH_MSS_LIMIT);
  assert.ok(Number.isInteger(m.path) && m.path <= 2 ** 31 - 1); // a small integer on 64-bit V8
  m.negotiated = 8948;
  assert.equal(m.effective(), 8948);
  assert.equal(m.syncPath(NO_PATH_MSS_LIMIT), false);
  assert.equal(m.syncPath(1448), true);
  assert.equal(m.effective(), 1448);
  for (const ep of openHeld(8)) {
    assert.ok(Number.isInteger(ep.snd.mssControl.path));
    assert.equal(ep.snd.mss, 1448); // MTU 1500 less IPv4, TCP and the timestamp option
  }
});

Deno.test("conn held: an idle connection's path MSS and the sequence marks only compared through seq* own no heap number", async () => {
  const held = openHeld(200);
  const census = heldCensus(await takeHeapSnapshot());
  const objects = census.byClass["MssControl"]?.[0] ?? 0;
  assert.ok(objects >= held.length, `${objects} MssControl objects for ${held.length} endpoints`);
  // Main: 16 B for every MssControl (its `path` a double field holding Infinity).
  assert.equal(census.ownedNumbers["MssControl.path"] ?? 0, 0);
  // Main: 16 B each in every LossControl (SND.UNA and SND.NXT kept as uint32); now int32.
  assert.equal(census.ownedNumbers["LossControl.#priorUna"] ?? 0, 0);
  assert.equal(census.ownedNumbers["LossControl.#cwndUsageSeq"] ?? 0, 0);
  // Main: 16 B each in every TcpSender, TcpReceiver and Scoreboard for these sequence numbers and
  // timestamps, compared only through `seq*`; now int32 (branch held9c).
  for (
    const field of [
      "TcpSender.#iss",
      "TcpReceiver.#irs",
      "TcpSender.sndWl1",
      "TcpSender.sndWl2",
      "TcpSender.sndBufSeq",
      "TcpSender.sndSml",
      "TcpReceiver.#advRight",
      "TcpReceiver.#lastAckSent",
      "Scoreboard.fack",
      "Scoreboard.#lostHint",
    ]
  ) assert.equal(census.ownedNumbers[field] ?? 0, 0, field);
  // Main: every RackTlp built its min-RTT filter (120 B and its boxes); an idle connection has
  // had no RTT sample and now shares one empty filter (branch held9c). Room for a few others.
  const filters = census.byClass["WindowedFilter"]?.[0] ?? 0;
  assert.ok(
    filters < held.length / 4,
    `${filters} WindowedFilter objects for ${held.length} endpoints`,
  );
  // The census sees the boxes that remain (a sequence number ≥ 2**31 makes SND.UNA a double
  // field); half the bound leaves room for a box something else also points at.
  assert.ok((census.ownedNumbers["TcpSender.sndUna"] ?? 0) >= 8 * held.length);
  assert.equal(held.length, 400);
});

Deno.test("conn held: an idle connection keeps no per-ACK rate sample, no pending RTT, one column record and no copies of its loss control's parts", async () => {
  const held = openHeld(200);
  // Estimators with more sets of options than the shared bounds records keep (8): each still
  // answers with its own.
  const own: RttEstimator[] = [];
  for (let i = 0; i < 12; i++) own.push(new RttEstimator({ minRtoMs: 400 + i, maxRtoMs: 9000 }));
  for (let i = 0; i < 12; i++) {
    const e = own[i];
    assert.equal(e.minRtoMs, 400 + i);
    assert.equal(e.maxRtoMs, 9000);
    assert.equal(e.initialRtoMs, 1000);
    e.sample(10); // 10 + 4 × 5 = 30, below the bound
    assert.equal(e.rtoMs, 400 + i);
  }
  const census = heldCensus(await takeHeapSnapshot());
  const perObject = (cls: string): number => {
    const [objects, bytes] = census.byClass[cls] ?? [0, 0];
    assert.ok(objects >= held.length, `${objects} ${cls} objects for ${held.length} endpoints`);
    return bytes / objects;
  };
  // Main: 16 B each in every DeliveryRate (RS's newest send time, -Infinity) and RttEstimator
  // (the pending sample); both are one record for every connection now.
  assert.equal(census.ownedNumbers["DeliveryRate.#newestSentMs"] ?? 0, 0);
  assert.equal(census.ownedNumbers["RttEstimator.pendingMs"] ?? 0, 0);
  // Object sizes (V8's self bytes, 8 B a field; main in brackets, here with room for about
  // three more fields): the rate's nine RS.* fields [152 B], the scoreboard's nine column
  // fields [232 B], the estimator's five bounds fields [128 B], the sender's five copies of the
  // loss control's parts [352 B]; CUBIC's three constants, now getters [192 B; two fields of
  // room].
  const sizes = {
    DeliveryRate: perObject("DeliveryRate"),
    Scoreboard: perObject("Scoreboard"),
    RttEstimator: perObject("RttEstimator"),
    TcpSender: perObject("TcpSender"),
    Cubic: perObject("Cubic"),
  };
  assert.ok(sizes.DeliveryRate <= 104, JSON.stringify(sizes));
  assert.ok(sizes.Scoreboard <= 184, JSON.stringify(sizes));
  assert.ok(sizes.RttEstimator <= 112, JSON.stringify(sizes));
  assert.ok(sizes.TcpSender <= 336, JSON.stringify(sizes));
  assert.ok(sizes.Cubic <= 184, JSON.stringify(sizes));
  for (const ep of held) assert.equal(ep.snd.sb, ep.snd.loss.sb); // still the loss control's
  assert.equal(held.length, 400);
});
