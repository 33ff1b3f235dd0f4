// Kernel interop for the io_uring kick (`--tx-kick uring`, drivers/tx_kick_uring.ts): a kernel
// TCP sender's stream arrives byte-exact while every kick of ours (the ACKs') went to the
// kernel's submission-queue polling thread — no `sendto` counted — and a stack→kernel echo
// both ways is byte-exact, its end-of-tick kicks queued too.

import assert from "node:assert/strict";
import { type AfPacketRingDriver, Runtime } from "../../mod.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import {
  firstWrongStreamByte,
  readPostedToEnd,
  sendStreamFromPeer,
} from "../harness/byte_pattern.ts";
import { ECHO_ONCE, echoThrough } from "../harness/kernel_echo.ts";
import { pollingThreads } from "../harness/sq_poll_threads.ts";

for (const mtu of [9000, 1500]) {
  interopTest(
    `tx kick uring: kernel→ustack 16 MB at MTU ${mtu} byte-exact, no sendto kick, polling thread gone at close`,
    async () => {
      await withVethPair({ ipv6: false, mtu }, async (pair) => {
        const before = pollingThreads();
        const rt = await Runtime.start({
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: `${pair.stackAddr}/24`,
          txKick: "uring",
        });
        const driver = rt.nic.driver as AfPacketRingDriver;
        let ours = "";
        try {
          assert.equal(driver.txKick, "uring");
          // The thread names itself once it runs (another test's may still be leaving).
          await waitFor(() => [...pollingThreads()].some((t) => !before.has(t)), {
            what: "the polling thread",
          });
          for (const t of pollingThreads()) if (!before.has(t)) ours = t;
          const size = 16_000_000;
          const server = rt.listen({ port: 5001 });
          const client = sendStreamFromPeer(pair, pair.stackAddr, 5001, size);
          const conn = await server.accept();
          const got = new Uint8Array(size + 1);
          const n = await readPostedToEnd(conn, got);
          const done = await client;
          assert.equal(done.code, 0, done.stderr);
          assert.equal(n, size);
          assert.equal(firstWrongStreamByte(got, size), -1, "first wrong byte");
          conn.close();
          server.close();
          const s = driver.stats;
          // Every end-of-tick kick went to the polling thread: a sendto of ours only where the
          // ring was found full (those stay synchronous; none on a quiet machine).
          assert.ok(
            s.txKicks <= s.txRingFull,
            `sendto kicks ${s.txKicks}, ring full ${s.txRingFull}`,
          );
          assert.ok(s.txKickHandoffs > 0, "sends queued in the io_uring");
          assert.equal(s.txKickErrors, 0);
        } finally {
          await rt.stop();
        }
        // The ring was closed with the driver: its polling thread leaves (asynchronously).
        await waitFor(() => !pollingThreads().has(ours), {
          what: "the polling thread to leave",
          timeoutMs: 10_000,
        });
      });
    },
    { tools: ["python3"] },
  );
}

interopTest("tx kick uring: 20 MB to a kernel echo and back at MTU 9000, byte-exact", async () => {
  await withVethPair({ ipv6: false, mtu: 9000 }, async (pair) => {
    const server = pair.spawn(["python3", "-c", ECHO_ONCE, "5000"], {
      stdout: "null",
      stderr: "null",
    });
    try {
      await pair.waitForListener("tcp", 5000);
      await using rt = await Runtime.start({
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: `${pair.stackAddr}/${pair.prefixLen}`,
        txKick: "uring",
      });
      const driver = rt.nic.driver as AfPacketRingDriver;
      assert.equal(driver.txKick, "uring");
      const conn = await rt.connect({ hostname: pair.peerAddr, port: 5000 });
      const bytes = 20_000_000;
      const data = Uint8Array.from({ length: bytes }, (_, i) => (i * 31 + (i >>> 13)) & 0xff);
      const back = await echoThrough(conn, data);
      assert.equal(back.length, data.length);
      assert.ok(back.every((b, i) => b === data[i]), "echo is byte-exact");
      conn.close();
      const s = driver.stats;
      assert.ok(s.txKickHandoffs > 0, "sends queued in the io_uring");
      // sendto kicks only where the ring was found full (those stay synchronous).
      assert.ok(s.txKicks <= s.txRingFull, `sendto kicks ${s.txKicks}, ring full ${s.txRingFull}`);
      assert.equal(s.txKickErrors, 0);
    } finally {
      try {
        server.kill();
      } catch { /* gone */ }
      await server.status;
    }
  });
}, { tools: ["python3", "ss"] });
