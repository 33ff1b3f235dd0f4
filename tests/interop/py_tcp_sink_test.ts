/**
 * `bench/py_tcp.ts`'s Python sink reads every connection it was told to expect (`PORT
 * STREAMS`, `tx_ab --streams`) and sums their bytes; one connection as before. Kernel sockets
 * only, inside the peer namespace of a veth pair (its own address: the traffic stays there).
 *
 * @module
 */

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { PY_TCP_SENDER, PY_TCP_SINK } from "../../bench/py_tcp.ts";

/** The sink's summary and each sender's, with `streams` senders of `seconds` each. */
async function sinkWith(streams: number, seconds: number) {
  return await withVethPair({ ipv6: false }, async (pair) => {
    const port = 7100 + streams;
    const sinkArgs = streams === 1 ? [] : [String(streams)];
    const sink = pair.run(["python3", "-c", PY_TCP_SINK, String(port), ...sinkArgs], {
      timeoutMs: 30_000,
    });
    await pair.waitForListener("tcp", port);
    const senders = await Promise.all(
      Array.from({ length: streams }, () =>
        pair.run(
          ["python3", "-c", PY_TCP_SENDER, pair.peerAddr, String(port), String(seconds)],
          { timeoutMs: 30_000 },
        )),
    );
    const s = await sink;
    assert.equal(s.code, 0, `sink: ${s.stderr}`);
    for (const r of senders) assert.equal(r.code, 0, `sender: ${r.stderr}`);
    return {
      sink: JSON.parse(s.stdout.trim().split("\n").at(-1)!),
      sent: senders.map((r) => JSON.parse(r.stdout.trim().split("\n").at(-1)!).bytes as number),
    };
  });
}

interopTest("py_tcp sink: STREAMS connections read to their ends, bytes summed", async () => {
  const { sink, sent } = await sinkWith(3, 0.3);
  assert.equal(sent.length, 3);
  for (const b of sent) assert.ok(b > 0);
  assert.equal(sink.bytes, sent[0] + sent[1] + sent[2]);
  assert.ok(sink.reads >= 3, `${sink.reads} reads`);
}, { tools: ["python3", "ss"] });

interopTest("py_tcp sink: one connection without STREAMS, as before", async () => {
  const { sink, sent } = await sinkWith(1, 0.2);
  assert.equal(sink.bytes, sent[0]);
}, { tools: ["python3", "ss"] });
