// `serve --discard` warms its receive path up before the ready line (bulk streams between two
// private in-memory stacks, `stack/conn_warm_up.ts` `bulkClient`, the first over the af_packet
// driver's rings in memory): the warm-up is reported, and the real service then counts exactly
// the kernel sender's bytes, none of the warm-up's; the final stats carry the event loop's
// counters.

import assert from "node:assert/strict";
import { queryControl } from "../../stack/control.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { startServe } from "../harness/ustack_cli.ts";

/** A kernel client: connect to argv[1]:argv[2], send argv[3] zero bytes, close. */
const SEND = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(bytes(int(sys.argv[3])))
s.close()
`;

interopTest(
  "serve --discard: a bulk warm-up before ready; the service counts only the real bytes",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const dir = await Deno.makeTempDir();
      const control = `${dir}/ustack.sock`;
      const serve = await startServe(pair, ["--discard", "9", "--json", "--control", control], [
        "--allow-net",
      ]);
      const size = 3_000_000;
      try {
        const warm = serve.lines.find((l) => l.startsWith('{"event":"warm_up"'));
        assert.ok(warm !== undefined, "a warm_up event before ready");
        const w = JSON.parse(warm);
        assert.ok(w.connections >= 1, `warm-up connections ${w.connections}`);
        // Its first streams ran on the af_packet driver's rings in memory: the real link's
        // super-frames with partial checksums, which the simulated wire never makes, are no
        // longer first met after the ready line (bench/README.md, "jit13k").
        assert.ok(w.ringConnections >= 1, `warm-up connections on the rings ${w.ringConnections}`);
        // Every connection's server learned its client afresh (an ARP reply each), as the real
        // stack learns the kernel peer — not once per pair of stacks (2): the neighbour's STALE
        // → DELAY path is no longer first taken after the ready line (bench/README.md,
        // "jit13l").
        assert.ok(
          w.arpReplies > 2 && w.arpReplies >= w.ringConnections,
          `warm-up ARP replies ${w.arpReplies}, connections on the rings ${w.ringConnections}`,
        );
        const sent = await pair.run(["python3", "-c", SEND, pair.stackAddr, "9", `${size}`]);
        assert.equal(sent.code, 0, sent.stderr);
        // The kernel's close returns once its bytes are queued: wait until the service has
        // read them all (its counter, through the control socket), or more — the exact count
        // is judged below, in the final stats. No fixed sleep: a loaded machine reads late.
        let read = 0;
        await waitFor(async () => {
          const { counters } = await queryControl(control, { cmd: "stats" });
          read = counters.Discard9InBytes;
          return read >= size;
        }, { what: `the service to read ${size} bytes`, timeoutMs: 30_000 }).catch((e) => {
          throw new Error(`${e.message} (it read ${read})`);
        });
      } finally {
        assert.equal(await serve.stop(), 0);
        await Deno.remove(dir, { recursive: true });
      }
      const stats = serve.statsEvent() as unknown as {
        services: Record<string, Record<string, number>>;
        loop: Record<string, number>;
      };
      assert.equal(stats.services["discard/9"].InBytes, size);
      assert.equal(stats.services["discard/9"].Connections, 1);
      // The event loop's counters are in the final stats: how the loop waited (spins in the
      // busy poll, blocking slices, parks) tells a slow receive run from a fast one.
      assert.ok(stats.loop.ticks > 0, `loop ticks ${stats.loop.ticks}`);
      for (const k of ["spins", "blocks", "parks", "yields", "tickUsMean", "yieldUsMean"]) {
        assert.equal(typeof stats.loop[k], "number", `loop.${k}`);
      }
    });
  },
  { tools: ["python3"] },
);
