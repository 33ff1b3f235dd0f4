/**
 * `kernelRx: false` (`--no-kernel-rx`): the af_packet ring driver's tcx program keeps the host
 * kernel's IP layer off the stack's interface while the stack still gets every frame.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { kernelRxDropInsns } from "../../drivers/kernel_rx_drop.ts";
import { BPF_OP_EXIT, BPF_OP_MOV64_IMM, TC_ACT_SHOT } from "../../ffi/bpf.ts";
import { Runtime } from "../../stack/runtime.ts";
import { interopTest } from "../harness/interop.ts";
import { uploadFromPeer } from "../harness/peer_upload.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

/** `Ip: InReceives` of the kernel in the stack's namespace (`/proc/net/snmp`). */
async function kernelIpInReceives(pair: VethPair): Promise<number> {
  const r = await pair.runInStackNs(["cat", "/proc/net/snmp"]);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("Ip:"));
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  return Number(values[names.indexOf("InReceives")]);
}

/** Ping the stack and move 200 KB to it over TCP; returns the bytes the stack received. */
async function exercise(pair: VethPair, rt: Runtime): Promise<number> {
  const ping = await pair.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", pair.stackAddr]);
  assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout);
  return await uploadFromPeer(pair, rt, 5001, 200_000);
}

Deno.test("kernel_rx_drop: the program is r0 = TC_ACT_SHOT; exit", () => {
  const b = kernelRxDropInsns();
  assert.equal(b.length, 16);
  const v = new DataView(b.buffer);
  assert.equal(v.getUint8(0), BPF_OP_MOV64_IMM);
  assert.equal(v.getUint8(1), 0, "dst r0, src unused");
  assert.equal(v.getInt32(4, true), TC_ACT_SHOT);
  assert.equal(v.getUint8(8), BPF_OP_EXIT);
});

interopTest(
  "kernel_rx_drop: with kernelRx false the stack gets every frame and the kernel's IP layer none",
  async () => {
    await withVethPair({}, async (pair) => {
      for (const kernelRx of [true, false]) {
        const driver = AfPacketRingDriver.open({
          ifname: pair.stackIf,
          netns: pair.stackNs,
          kernelRx,
        });
        const rt = await Runtime.start({ linkDriver: driver, addr: `${pair.stackAddr}/24` });
        let seen: number;
        try {
          const before = await kernelIpInReceives(pair);
          assert.equal(await exercise(pair, rt), 200_000, `kernelRx ${kernelRx}: bytes`);
          seen = (await kernelIpInReceives(pair)) - before;
        } finally {
          await rt.stop();
        }
        if (kernelRx) assert.ok(seen >= 6, `the kernel's IP layer saw the frames too: ${seen}`);
        else assert.equal(seen, 0, "the kernel's IP layer saw none of the stack's frames");
      }
      // Closing the driver closed the link: the kernel receives on the interface again.
      const before = await kernelIpInReceives(pair);
      await pair.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", pair.stackAddr]);
      assert.ok((await kernelIpInReceives(pair)) - before >= 2, "the program was detached");
    });
  },
  { tools: ["ping", "socat"] },
);

interopTest(
  "kernel_rx_drop: by default the kernel's IP layer gets none of the stack's IPv4 frames, and " +
    "still those to its own addresses (also one the stack was given too)",
  async () => {
    await withVethPair({}, async (pair) => {
      const rt = await Runtime.start({
        driver: "af_packet",
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: `${pair.stackAddr}/24`,
      });
      try {
        assert.equal((rt.nic.driver as AfPacketRingDriver).kernelRxDrop, "own");
        const before = await kernelIpInReceives(pair);
        assert.equal(await exercise(pair, rt), 200_000, "bytes");
        const seen = (await kernelIpInReceives(pair)) - before;
        assert.equal(seen, 0, "the kernel's IP layer saw none of the stack's frames");
        // An address of the kernel's own on the same interface (in the pair's /24): its frames
        // still reach it.
        const own = "198.18.0.200";
        await pair.runInStackNs(["ip", "addr", "add", `${own}/24`, "dev", pair.stackIf]);
        const ping = await pair.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", own]);
        assert.match(ping.stdout, /2 packets transmitted, 2 received/, ping.stdout);
        assert.ok((await kernelIpInReceives(pair)) - before >= 2, "the kernel got its own");
      } finally {
        await rt.stop();
      }
      // A stack given an address the kernel holds too leaves that one to the kernel.
      const own = "198.18.0.200";
      const rt2 = await Runtime.start({
        driver: "af_packet",
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: [`${pair.stackAddr}/24`, `${own}/24`],
      });
      try {
        assert.equal((rt2.nic.driver as AfPacketRingDriver).kernelRxDrop, "own");
        const before = await kernelIpInReceives(pair);
        await pair.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", own]);
        assert.ok((await kernelIpInReceives(pair)) - before >= 2, "the kernel still got its own");
      } finally {
        await rt2.stop();
      }
    });
  },
  { tools: ["ping", "socat"] },
);
