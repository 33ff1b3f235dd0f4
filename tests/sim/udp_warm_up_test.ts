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
        wire,
        link: { mtu: 1500 },
        ipv6: false,
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

for (const wire of ["sim", "af_packet"] as const) {
  Deno.test({
    name: `udp warm-up: by default IPv6 gets every other datagram, reassembled too [${wire}]`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      // family/size → datagrams, as a dual-stack receiver (uperf server's) sees them.
      const seen = new Map<string, number>();
      let reasm = [0, 0];
      const r = await warmUpUdpReceive({
        datagrams: 200,
        wire,
        link: { mtu: 1500 },
        serve: (rt, port) => {
          const ep = rt.stack.udp.open(6);
          ep.bind(null, port);
          ep.receiveBufferBytes = 4 << 20;
          const peer = new UdpPeer();
          const sink = new Uint8Array(0);
          ep.wq.listener = () => {
            while (!ep.closed && ep.recvfrom(sink, 0, 0, peer) >= 0) {
              const k = `${peer.addr.family}/${peer.length}`;
              seen.set(k, (seen.get(k) ?? 0) + 1);
            }
            const s = rt.stack.stats.snapshot();
            reasm = [Number(s.ip.ReasmOKs), Number(s.ip6.ReasmOKs)];
          };
          return { close: () => ep.close() };
        },
      });
      assert.equal(r.datagrams, 200);
      assert.deepEqual(Object.fromEntries([...seen].sort()), {
        "4/1472": 50,
        "4/8900": 50,
        "6/1472": 50,
        "6/8900": 50,
      });
      // At MTU 1500 an 8,900-byte datagram is fragmented in both families, a 1,472-byte one in
      // IPv6 only (its header is 20 bytes longer).
      assert.deepEqual(reasm, [50, 100]);
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
    const reasm6 = rt.stack.ipv6.reassemblyCopyViews;
    // Lazily made: a stack that never copies a long datagram pays nothing.
    assert.deepEqual([udp.prepared, reasm.prepared, reasm6.prepared], [false, false, false]);
    prepareUdpReceive(rt.stack);
    assert.deepEqual([udp.prepared, reasm.prepared, reasm6.prepared], [true, true, true]);
    assert.deepEqual([udp.misses, reasm.misses, reasm6.misses], [0, 0, 0], "no view made yet");
  },
});
