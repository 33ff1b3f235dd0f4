// Kernel interop for BIG TCP over IPv4: the kernel peer's veth allows GSO packets of 185,000
// bytes (`gso_ipv4_max_size`, Linux ≥ 6.3), so its TCP sender hands the link super-frames
// above 64 KB with IPv4 total length 0. The stack, with large RX slots to match
// (`rxLargeFrameBytes`), takes them whole and gets 24 MB byte-exact.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { firstWrongStreamByte, sendStreamFromPeer } from "../harness/byte_pattern.ts";
import { setBigTcp } from "../harness/big_tcp.ts";

/** The peer's GSO limit: 20 segments of 8,948 bytes fit. */
const BIG_TCP_BYTES = 185_000;

interopTest(
  "big tcp: a kernel sender's IPv4 super-frames above 64 KB reach the stack whole, 24 MB byte-exact",
  async () => {
    await withVethPair({ ipv6: false, mtu: 9000 }, async (pair) => {
      await setBigTcp(pair.peerNs, pair.peerIf, BIG_TCP_BYTES);
      await using rt = await Runtime.start({
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: `${pair.stackAddr}/24`,
        rxLargeFrameBytes: BIG_TCP_BYTES + 18,
      });
      const driver = rt.nic.driver as AfPacketRingDriver;
      assert.equal(driver.rxSplit, true, "the default at MTU 9000");
      assert.ok(driver.rxLargeFrameBytes >= BIG_TCP_BYTES + 18 + 76);
      const size = 24_000_000;
      const server = rt.listen({ port: 5001 });
      const client = sendStreamFromPeer(pair, pair.stackAddr, 5001, size);
      const conn = await server.accept();
      const got = new Uint8Array(size + 1);
      let n = 0;
      for (;;) {
        const r = await conn.read(got.subarray(n));
        if (r === null) break;
        n += r;
        assert.ok(n <= size, "no more than was sent");
      }
      const done = await client;
      assert.equal(done.code, 0, done.stderr);
      assert.equal(n, size);
      assert.equal(firstWrongStreamByte(got, size), -1, "first wrong byte");
      conn.close();
      server.close();
      const ip = rt.stack.stats.ip;
      assert.ok(ip.InBigTcpPkts > 0, `InBigTcpPkts ${ip.InBigTcpPkts}: no super-frame above 64 KB`);
      assert.equal(ip.InHdrErrors, 0);
      assert.equal(driver.stats.rxTruncated, 0);
    });
  },
  { tools: ["python3"] },
);
