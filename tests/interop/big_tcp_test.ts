// Kernel interop for BIG TCP: the kernel peer's veth allows GSO packets of 185,000 bytes
// (`gso_max_size`, `gso_ipv4_max_size`, Linux ≥ 6.3), so its TCP sender hands the link
// super-frames above 64 KB — IPv4 with total length 0, IPv6 with payload length 0 and a jumbo
// hop-by-hop header. The stack, with large RX slots to match (`rxLargeFrameBytes`), takes them
// whole and gets 24 MB byte-exact over each family.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";
import { receiveStreamFromPeer } from "../harness/byte_pattern.ts";
import { setBigTcp } from "../harness/big_tcp.ts";

/** The peer's GSO limit: 20 segments of 8,948 bytes fit. */
const BIG_TCP_BYTES = 185_000;

/** The stack's address answers the peer's ping (IPv6: past duplicate address detection). */
async function waitReachable(pair: VethPair, addr: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await pair.run(["ping", "-6", "-c", "1", "-W", "1", addr]);
    if (r.code === 0) return;
  }
  throw new Error(`${addr} never answered`);
}

/** 24 MB from the kernel peer with BIG TCP over `family`, checked byte by byte. */
async function bigTcpTransfer(family: 4 | 6): Promise<void> {
  await withVethPair({ ipv6: family === 6, mtu: 9000 }, async (pair) => {
    await setBigTcp(pair.peerNs, pair.peerIf, BIG_TCP_BYTES);
    // IPv4 names the slot size; over IPv6 the driver reads it from the interface's GRO limit.
    if (family === 6) await setBigTcp(pair.stackNs, pair.stackIf, BIG_TCP_BYTES);
    const addr = family === 4 ? pair.stackAddr : pair.stackAddr6;
    await using rt = await Runtime.start({
      if: pair.stackIf,
      netns: pair.stackNs,
      addr: family === 4 ? `${addr}/24` : `${addr}/64`,
      rxLargeFrameBytes: family === 4 ? BIG_TCP_BYTES + 18 : undefined,
    });
    const driver = rt.nic.driver as AfPacketRingDriver;
    assert.equal(driver.rxSplit, true, "the default at MTU 9000");
    assert.ok(driver.rxLargeFrameBytes >= BIG_TCP_BYTES + 18 + 76);
    if (family === 6) await waitReachable(pair, addr);
    const size = 24_000_000;
    await receiveStreamFromPeer(rt, pair, addr, 5001, size);
    const ip = family === 4 ? rt.stack.stats.ip : rt.stack.stats.ip6;
    assert.ok(ip.InBigTcpPkts > 0, `InBigTcpPkts ${ip.InBigTcpPkts}: no super-frame above 64 KB`);
    assert.equal(ip.InHdrErrors, 0);
    assert.equal(driver.stats.rxTruncated, 0);
  });
}

interopTest(
  "big tcp: a kernel sender's IPv4 super-frames above 64 KB reach the stack whole, 24 MB byte-exact",
  () => bigTcpTransfer(4),
  { tools: ["python3"] },
);

interopTest(
  "big tcp: a kernel sender's IPv6 jumbo super-frames reach the stack whole, 24 MB byte-exact",
  () => bigTcpTransfer(6),
  { tools: ["python3", "ping"] },
);
