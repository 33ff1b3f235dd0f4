// Path MTU discovery against a real Linux router: the stack serves HTTP, `curl` on a far host
// downloads through a kernel router whose link towards the far host carries 1280 bytes
// (tests/harness/netns.ts createRoutedPair). The far host advertises a 1460-byte MSS, so the
// stack's first segments are full-sized; the router drops them (DF) and answers with an ICMP
// fragmentation needed (IPv6: packet too big) — the stack must lower its MSS, resend, and
// deliver 10 MB byte-exact, every data segment after the first error fitting 1280 bytes
// (checked in the stack's own --pcap recording).

import assert from "node:assert/strict";
import { curlSha, expectedPatternSha } from "../harness/byte_pattern.ts";
import { interopTest } from "../harness/interop.ts";
import { type RoutedPair, runCommand, withRoutedPair } from "../harness/netns.ts";
import { startServe } from "../harness/ustack_cli.ts";

const FAR_MTU = 1280;
const BYTES = 10_000_000;

/**
 * The stack's recording as (frame length, is a data segment from the stack, is a too-big
 * error to it) in order.
 */
async function framesOf(pcap: string, family: 4 | 6): Promise<{ len: number; error: boolean }[]> {
  const stack = family === 4 ? "ip.src == 198.18.0.2" : "ipv6.src == fd00::2";
  const error = family === 4 ? "(icmp.type == 3 && icmp.code == 4)" : "icmpv6.type == 2";
  const r = await runCommand([
    "tshark",
    "-r",
    pcap,
    "-Y",
    `(${stack} && tcp.len > 0) || ${error}`,
    "-T",
    "fields",
    "-e",
    "frame.len",
    "-e",
    family === 4 ? "icmp.type" : "icmpv6.type",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter((l) => l !== "").map((l) => {
    const [len, type] = l.split("\t");
    return { len: Number(len), error: type !== undefined && type !== "" };
  });
}

async function downloadThroughRouter(net: RoutedPair, family: 4 | 6): Promise<void> {
  const pair = net.pair;
  const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    // No offloads: every frame the stack hands over is one segment, as the router sees it.
    const serve = await startServe(pair, [
      "--addr",
      `${pair.stackAddr6}/${pair.prefixLen6}`,
      "--gw",
      net.gateway,
      "--gw",
      net.gateway6,
      "--http",
      "80",
      "--no-offload",
      "--pcap",
      pcap,
      "--json",
    ]);
    let stats: Record<string, Record<string, number>> | undefined;
    try {
      const host = family === 4 ? pair.stackAddr : `[${pair.stackAddr6}]`;
      assert.equal(
        await curlSha(net.far, `http://${host}/bytes/${BYTES}`, 60),
        await expectedPatternSha(net.far, BYTES),
      );
    } finally {
      assert.equal(await serve.stop(), 0);
      stats = serve.statsEvent();
    }
    assert.ok(stats !== undefined, "serve printed its counters");
    if (family === 4) assert.ok(stats.icmp.InFragNeeded >= 1, "IcmpInFragNeeded");
    else assert.ok(stats.icmp6.InPktTooBigs >= 1, "Icmp6InPktTooBigs");
    assert.ok(stats.pmtu.Updates >= 1, "PmtuUpdates");
    assert.ok(stats.tcp.TCPPathMtuLowered >= 1, "TcpExtTCPPathMtuLowered");
    const frames = await framesOf(pcap, family);
    const first = frames.findIndex((f) => f.error);
    assert.ok(first > 0, "the router's error is in the recording");
    assert.ok(
      frames.slice(0, first).some((f) => f.len === 14 + 1500),
      "full-sized segments went out before the error",
    );
    const after = frames.slice(first + 1).filter((f) => !f.error);
    assert.ok(after.length > 1000, `${after.length} data segments after the error`);
    const big = after.filter((f) => f.len > 14 + FAR_MTU);
    assert.equal(big.length, 0, `segments over ${FAR_MTU} bytes after the error: ${big.length}`);
  } finally {
    await Deno.remove(pcap).catch(() => {});
  }
}

interopTest(
  "a Linux router with a 1280-byte next hop sends fragmentation needed: curl of 10 MB through it byte-exact",
  async () => {
    await withRoutedPair({ farMtu: FAR_MTU }, (net) => downloadThroughRouter(net, 4));
  },
  { tools: ["curl", "tshark", "python3"] },
);

interopTest(
  "the same over IPv6: packet too big from the router, 10 MB byte-exact",
  async () => {
    await withRoutedPair({ farMtu: FAR_MTU }, (net) => downloadThroughRouter(net, 6));
  },
  { tools: ["curl", "tshark", "python3"] },
);
