// Kernel interop for posted reads (`TcpConn.readPosted`): a kernel TCP sender's data goes
// straight from the received frames into a waiting reader's buffer, byte-exact, and
// `serve --discard`'s posted skips count every byte without the receive buffer.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { startDiscard } from "../../cli/tcp_services.ts";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import {
  firstWrongStreamByte,
  readPostedToEnd,
  sendStreamFromPeer,
} from "../harness/byte_pattern.ts";

interopTest(
  "posted reads: kernel→ustack TCP straight into the reader's buffer byte-exact; discard counts every byte",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      await using rt = await Runtime.start({
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: `${pair.stackAddr}/24`,
      });
      const tcp = rt.stack.stats.tcp;
      const size = 8_000_000;
      const server = rt.listen({ port: 5001 });
      const client = sendStreamFromPeer(pair, pair.stackAddr, 5001, size);
      const conn = await server.accept();
      const got = new Uint8Array(size + 1);
      const n = await readPostedToEnd(conn, got);
      const done = await client;
      assert.equal(done.code, 0, done.stderr);
      assert.equal(n, size);
      assert.equal(firstWrongStreamByte(got, size), -1, "first wrong byte");
      const direct = tcp.TCPRcvDirectBytes;
      assert.ok(direct > size / 2, `TCPRcvDirectBytes ${direct} of ${size}`);
      conn.close();
      server.close();

      // The discard service: every byte counted, most never in the receive buffer.
      const svc = startDiscard(rt, 9);
      try {
        const sent = await sendStreamFromPeer(pair, pair.stackAddr, 9, size);
        assert.equal(sent.code, 0, sent.stderr);
        for (let i = 0; i < 500 && svc.stats.InBytes < size; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(svc.stats.InBytes, size);
        assert.ok(tcp.TCPRcvDirectBytes - direct > size / 2, "discard's skips were posted");
      } finally {
        svc.close();
      }
    });
  },
  { tools: ["python3"] },
);
