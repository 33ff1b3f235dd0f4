// Kernel interop for the split receive (`rxSplit`, the default up to MTU 4096): a kernel TCP
// sender's GRO super-frames go to the second socket's ring of 64 KiB slots, everything else
// to the ring of MTU-sized slots, and the stack gets a few MB byte-exact through both.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { receiveStreamFromPeer } from "../harness/byte_pattern.ts";

interopTest(
  "split receive: kernel→ustack TCP at MTU 1500 moves 6 MB byte-exact through both rings",
  async () => {
    await withVethPair({ ipv6: false, mtu: 1500 }, async (pair) => {
      await using rt = await Runtime.start({
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: `${pair.stackAddr}/24`,
      });
      const driver = rt.nic.driver as AfPacketRingDriver;
      assert.equal(driver.kind, "af_packet");
      assert.equal(driver.rxSplit, true, "the default at MTU 1500");
      assert.equal(driver.rxCopyMode, true);
      assert.equal(driver.rxLargeFrames, 16 * 15);
      const size = 6_000_000;
      await receiveStreamFromPeer(rt, pair, pair.stackAddr, 5001, size);
      const s = driver.stats;
      // The super-frames came through the 64 KiB slots, the handshake and ARP through the
      // MTU-sized ones; nothing was read through the socket queue.
      assert.ok(s.rxLargeRingFrames >= 3, `rxLargeRingFrames ${s.rxLargeRingFrames}`);
      assert.ok(s.rxSmallRingFrames >= 2, `rxSmallRingFrames ${s.rxSmallRingFrames}`);
      assert.equal(s.rxCopied, 0);
      assert.equal(s.rxTruncated, 0);
      assert.equal(s.rxFrames, s.rxLargeRingFrames + s.rxSmallRingFrames);
    });
  },
  { tools: ["python3"] },
);
