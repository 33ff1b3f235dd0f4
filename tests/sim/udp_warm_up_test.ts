// UDP receive warm-up (`stack/udp_warm_up.ts`, `uperf server --udp --prewarm N`): datagrams
// between two private Runtimes on an in-memory wire reach the caller's receiver — fragmented
// ones reassembled — bounded in number, and leave nothing a user's own stack could see.

import assert from "node:assert/strict";
import { prepareUdpReceive, Runtime, UdpPeer, warmUpUdpReceive } from "../../mod.ts";
import { uperfCommand } from "../../cli/uperf.ts";
import { UsageError } from "../../cli/args.ts";

for (const wire of ["sim", "af_packet"] as const) {
  Deno.test({
    name: `udp warm-up: N datagrams of 8,900 and 1,472 bytes reach the given receiver [${wire}]`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using user = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
      const before = JSON.stringify(user.stack.stats.snapshot().udp);
      const sizes = new Map<number, number>();
      let reassembled = 0;
      const r = await warmUpUdpReceive({
        datagrams: 200,
        // The default bound (1 s) cut a run on a loaded machine at 145: the count is what is
        // looked at here.
        timeLimitMs: 20_000,
        wire,
        link: { mtu: 1500 },
        serve: (rt, port) => {
          const ep = rt.stack.udp.open(4);
          ep.bind(null, port);
          ep.receiveBufferBytes = 4 << 20;
          const peer = new UdpPeer();
          const sink = new Uint8Array(0);
          ep.wq.listener = () => {
            while (!ep.closed && ep.recvfrom(sink, 0, 0, peer) >= 0) {
              sizes.set(peer.length, (sizes.get(peer.length) ?? 0) + 1);
            }
            reassembled = Number(rt.stack.stats.snapshot().ip.ReasmOKs);
          };
          return { close: () => ep.close() };
        },
      });
      assert.equal(r.datagrams, 200);
      // Every datagram arrived, half of them in seven fragments at MTU 1500.
      assert.deepEqual([sizes.get(8900), sizes.get(1472)], [100, 100]);
      assert.equal(reassembled, 100);
      assert.equal(JSON.stringify(user.stack.stats.snapshot().udp), before);
    },
  });
}

Deno.test("udp warm-up: --prewarm is the UDP server's option only", async () => {
  for (
    const args of [
      ["client", "198.18.0.1", "--udp", "--prewarm", "5", "--driver", "loopback"],
      ["server", "--prewarm", "5", "--driver", "loopback"],
    ]
  ) {
    await assert.rejects(() => uperfCommand(args), UsageError);
  }
});

Deno.test({
  name: "udp warm-up: prepareUdpReceive makes the server stack's copy-view tables before traffic",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const udp = rt.stack.udp.copyViews;
    const reasm = rt.stack.ipv4.reassemblyCopyViews;
    // Lazily made: a stack that never copies a long datagram pays nothing.
    assert.deepEqual([udp.prepared, reasm.prepared], [false, false]);
    prepareUdpReceive(rt.stack);
    assert.deepEqual([udp.prepared, reasm.prepared], [true, true]);
    assert.deepEqual([udp.misses, reasm.misses], [0, 0], "no view made yet");
  },
});
