// What an idle, established connection keeps on the heap (bench/conn_held.ts, bench/README.md
// branch conn9b). A field that once holds a value that is not a small integer (Infinity, a
// fraction, a number ≥ 2**31) is kept as a double in every object of its class: a 16-byte heap
// number per connection, whatever the value. `MssControl.path` started at Infinity ("no path
// MTU known", the usual case) and so cost every connection a box; it is a small integer now.
// `LossControl`'s SND.UNA at the ACK and its cwnd-usage edge, uint32 sequence numbers only
// compared through `seqLt`, are kept as int32 (always a small integer on 64-bit V8); so are the
// sender's SND.WL1/WL2, send-buffer start and Minshall marker, the receiver's advertised edge
// and Last.ACK.sent, the scoreboard's fack and lost hint, ISS and IRS; and RACK's min-RTT filter
// is built at the first RTT sample, not with the connection (branch held9c).

import assert from "node:assert/strict";
import { heldCensus, takeHeapSnapshot } from "../../bench/conn_held.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { MssControl, NO_PATH_MSS_LIMIT } from "../../transport/tcp/mss_control.ts";
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
