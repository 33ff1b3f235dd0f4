// Every frame pump passes the same two interop checks through the CLI: the kernel pings the
// stack, and curl downloads from the stack's HTTP server byte-exact.

import assert from "node:assert/strict";
import { assertCleanCapture, tcpFrameSizes } from "../harness/capture.ts";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";
import { type CliProcess, spawnCli } from "../harness/ustack_cli.ts";
import { type DriverName, Runtime } from "../../stack/runtime.ts";
import {
  AF_PACKET_RING_V2_FRAME_BYTES,
  type AfPacketRingDriver,
} from "../../drivers/af_packet_ring.ts";

const BYTES = 3_000_000;

async function pingAndCurl(
  run: (cmd: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  addr: string,
  pingSize = 56,
): Promise<void> {
  const ping = await run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", String(pingSize), addr]);
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  assert.match(ping.stdout, /3 received/);
  const got = await run([
    "sh",
    "-c",
    `curl -sS --fail -m 60 http://${addr}/bytes/${BYTES} | sha256sum`,
  ]);
  assert.equal(got.code, 0, got.stderr);
  const want = await run([
    "python3",
    "-c",
    `import hashlib;print(hashlib.sha256(bytes(i%251 for i in range(${BYTES}))).hexdigest())`,
  ]);
  assert.equal(got.stdout.split(" ")[0], want.stdout.trim());
}

async function serveOn(pair: VethPair, args: string[]): Promise<CliProcess> {
  const p = spawnCli(pair, ["serve", "--addr", `${pair.stackAddr}/24`, "--http", "80", ...args]);
  await p.waitForLine(/^ready /, 20_000);
  return p;
}

for (const mtu of [1500, 9000]) {
  interopTest(
    `af_xdp driver (MTU ${mtu}): ping and curl; the program is gone after exit`,
    async () => {
      await withVethPair({ mtu }, async (pair) => {
        const serve = await serveOn(pair, ["--driver", "af_xdp", "--if", pair.stackIf]);
        try {
          const shown = await pair.runInStackNs(["ip", "link", "show", pair.stackIf]);
          assert.match(shown.stdout, /prog\/xdp/);
          await pingAndCurl((cmd) => pair.run(cmd), pair.stackAddr, mtu === 9000 ? 8000 : 56);
        } finally {
          assert.equal(await serve.stop(), 0);
        }
        const after = await pair.runInStackNs(["ip", "link", "show", pair.stackIf]);
        assert.doesNotMatch(after.stdout, /prog\/xdp/);
        // The kernel handles the interface again once it has an address.
        await pair.runInStackNs(["ip", "addr", "add", `${pair.stackAddr}/24`, "dev", pair.stackIf]);
        const ping = await pair.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", pair.stackAddr]);
        assert.equal(ping.code, 0, ping.stdout);
      });
    },
    { tools: ["ping", "curl", "python3"] },
  );
}

for (const vnet of [false, true]) {
  interopTest(
    `tap driver${vnet ? " with --vnet-hdr" : ""}: ping and curl from the kernel side`,
    async () => {
      await withVethPair({}, async (pair) => {
        // The TAP lives in the stack namespace; its kernel side is the peer there.
        const tap = "utap0";
        const serve = await serveOn(pair, [
          "--driver",
          "tap",
          "--if",
          tap,
          ...(vnet ? ["--vnet-hdr"] : []),
        ]);
        try {
          const addr = await pair.runInStackNs([
            "ip",
            "addr",
            "add",
            `${pair.peerAddr}/24`,
            "dev",
            tap,
          ]);
          assert.equal(addr.code, 0, addr.stderr);
          await pingAndCurl((cmd) => pair.runInStackNs(cmd), pair.stackAddr);
        } finally {
          assert.equal(await serve.stop(), 0);
        }
      });
    },
    { tools: ["ping", "curl", "python3"] },
  );
}

for (
  const [label, args, expectSuper] of [
    ["af_packet (rings, offloads on)", ["--driver", "af_packet"], true],
    ["af_packet --no-offload", ["--driver", "af_packet", "--no-offload"], false],
    ["af_packet --rx-ring v3", ["--driver", "af_packet", "--rx-ring", "v3"], true],
    ["af_packet_mmsg", ["--driver", "af_packet_mmsg"], false],
  ] as const
) {
  interopTest(
    `${label}: ping and curl; tshark sees good checksums and the expected segment sizes`,
    async () => {
      await withVethPair({}, async (pair) => {
        const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
        try {
          const serve = await serveOn(pair, [...args, "--if", pair.stackIf, "--pcap", pcap]);
          try {
            await pingAndCurl((cmd) => pair.run(cmd), pair.stackAddr);
          } finally {
            assert.equal(await serve.stop(), 0);
          }
          await assertCleanCapture(pcap);
          const lens = await tcpFrameSizes(pcap, pair.stackAddr);
          const biggest = Math.max(...lens);
          if (expectSuper) {
            assert.ok(biggest > 1514, `largest frame ${biggest}: no TSO super-segment`);
          } else {assert.ok(
              biggest <= 1514,
              `largest frame ${biggest} exceeds the MTU without offloads`,
            );}
        } finally {
          await Deno.remove(pcap).catch(() => {});
        }
      });
    },
    { tools: ["ping", "curl", "python3", "tshark"] },
  );
}

interopTest("every --driver name opens a driver whose kind is that name", async () => {
  await withVethPair({}, async (pair) => {
    const names: DriverName[] = ["af_packet", "af_packet_mmsg", "af_xdp", "tap", "loopback"];
    for (const driver of names) {
      const rt = await Runtime.start({
        driver,
        if: driver === "tap" ? "utap0" : driver === "loopback" ? undefined : pair.stackIf,
        netns: driver === "loopback" ? undefined : pair.stackNs,
        addr: `${pair.stackAddr}/24`,
      });
      try {
        assert.equal(rt.nic.driver.kind, driver);
      } finally {
        await rt.stop();
      }
    }
  });
});

interopTest(
  "rxSmallSlots and rxSplit (--rx-slots) reach the af_packet ring: MTU-sized, 64 KiB or both",
  async () => {
    await withVethPair({ mtu: 1500 }, async (pair) => {
      for (
        const [rxSmallSlots, rxSplit, copyMode, slotBytes, split] of [
          [undefined, undefined, true, 1600, true],
          [true, false, true, 1600, false],
          [true, true, true, 1600, true],
          [false, undefined, false, AF_PACKET_RING_V2_FRAME_BYTES, false],
        ] as const
      ) {
        const rt = await Runtime.start({
          driver: "af_packet",
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: `${pair.stackAddr}/24`,
          rxSmallSlots,
          rxSplit,
        });
        const what = `rxSmallSlots ${rxSmallSlots}, rxSplit ${rxSplit}`;
        try {
          const driver = rt.nic.driver as AfPacketRingDriver;
          assert.equal(driver.rxRing, "v2");
          assert.equal(driver.rxCopyMode, copyMode, what);
          assert.equal(driver.rxFrameBytes, slotBytes, what);
          assert.equal(driver.rxSplit, split, what);
          assert.equal(driver.rxLargeFrames, split ? 240 : 0, what);
        } finally {
          await rt.stop();
        }
      }
    });
  },
);
