import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { withNetns } from "../../ffi/netns.ts";
import { SyscallError } from "../../ffi/errno.ts";
import { RX_GSO, RxBatch } from "../../link/driver.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { formatMac, type VethPair, withVethPair } from "../harness/netns.ts";

/** An IEEE 802 local experimental EtherType: nothing in the kernel reacts to it. */
const ETHERTYPE_EXPERIMENTAL = 0x88b5;

/** Open the driver on the stack end, inside the stack namespace. */
function openStackDriver(pair: VethPair, opts: { mtu?: number; txQueue?: number } = {}) {
  return withNetns(pair.stackNs, () => AfPacketDriver.open({ ifname: pair.stackIf, ...opts }));
}

/**
 * Poll `receive()` (with short awaits between polls) until a frame satisfies `match`; returns
 * a copy of it and its flags.
 */
async function receiveUntil(
  driver: AfPacketDriver,
  match: (frame: Uint8Array) => boolean,
  what: string,
  timeoutMs = 3_000,
): Promise<{ frame: Uint8Array; flags: number }> {
  const batch = new RxBatch(32);
  return await waitFor(() => {
    const n = driver.receive(batch, batch.capacity);
    try {
      for (let i = 0; i < n; i++) {
        const frame = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
        if (match(frame)) return { frame: frame.slice(), flags: batch.flags[i] };
      }
      return null;
    } finally {
      driver.release(batch);
    }
  }, { what, timeoutMs, intervalMs: 5 });
}

/** EtherType of an Ethernet frame. */
function etherType(frame: Uint8Array): number {
  return (frame[12] << 8) | frame[13];
}

/** A minimum-size broadcast frame from `src` with the experimental EtherType. */
function broadcastFrame(src: Uint8Array, marker: number): Uint8Array {
  const frame = new Uint8Array(60);
  frame.fill(0xff, 0, 6);
  frame.set(src, 6);
  frame[12] = ETHERTYPE_EXPERIMENTAL >> 8;
  frame[13] = ETHERTYPE_EXPERIMENTAL & 0xff;
  frame[14] = marker;
  return frame;
}

interopTest(
  "af_packet: opens in the stack namespace; MAC, MTU and index match ip link",
  async () => {
    await withVethPair({ mtu: 9000 }, async (pair) => {
      const info = JSON.parse(
        (await pair.runInStackNs(["ip", "-j", "link", "show", "dev", pair.stackIf])).stdout,
      )[0];
      // withNetns moves the thread in and always back, also when the callback throws.
      const home = Deno.readLinkSync("/proc/thread-self/ns/net");
      const inside = withNetns(pair.stackNs, () => Deno.readLinkSync("/proc/thread-self/ns/net"));
      assert.notEqual(inside, home);
      assert.throws(() =>
        withNetns(pair.stackNs, () => {
          throw new Error("boom");
        }), /boom/);
      assert.equal(Deno.readLinkSync("/proc/thread-self/ns/net"), home);

      const driver = openStackDriver(pair);
      try {
        assert.equal(driver.kind, "af_packet_mmsg"); // the --driver name that opens it
        assert.equal(driver.name, "us0");
        assert.equal(formatMac(driver.mac), info.address);
        assert.deepEqual(driver.mac, pair.stackMac);
        assert.equal(driver.mtu, 9000);
        assert.equal(driver.linkMtu, info.mtu);
        assert.equal(driver.ifindex, info.ifindex);
        assert.ok(driver.fd >= 0);
        assert.equal(driver.capabilities.tcpSegmentationOffload, false);
        assert.ok(driver.rxSlotBytes >= 65_536, "receive slots hold 64 KiB super-frames");
        assert.equal(driver.txSlotBytes, 9016);
      } finally {
        driver.close();
      }
      assert.equal(driver.fd, -1);
      assert.throws(
        () => driver.close(),
        (e: unknown) => e instanceof Error && (e as SyscallError).code === "EBADF",
      );

      // The netns option does the same namespace switch; a smaller MTU is allowed, a larger not.
      const small = AfPacketDriver.open({ ifname: pair.stackIf, netns: pair.stackNs, mtu: 1400 });
      assert.equal(small.mtu, 1400);
      assert.equal(small.linkMtu, 9000);
      assert.equal(small.txSlotBytes, 2048);
      small.close();
      assert.throws(
        () => AfPacketDriver.open({ ifname: pair.stackIf, netns: pair.stackNs, mtu: 9001 }),
        (e: unknown) => e instanceof SyscallError && e.code === "EINVAL",
      );
      assert.throws(
        () => AfPacketDriver.open({ ifname: "ustk-none0", netns: pair.stackNs }),
        (e: unknown) => e instanceof SyscallError && e.code === "ENODEV",
      );
    });
  },
);

interopTest("af_packet: receives the kernel's ARP request for the stack's address", async () => {
  await withVethPair({}, async (pair) => {
    const driver = openStackDriver(pair);
    try {
      // The kernel has to resolve 198.18.0.2 before it can send the echo request.
      const ping = pair.run(["ping", "-c", "1", "-W", "1", pair.stackAddr]);
      const { frame } = await receiveUntil(
        driver,
        (f) =>
          etherType(f) === 0x0806 && f[21] === 1 && f.subarray(38, 42).join(".") === pair.stackAddr,
        "the ARP request for 198.18.0.2",
      );
      await ping;
      assert.deepEqual(frame.subarray(0, 6), new Uint8Array(6).fill(0xff), "broadcast");
      assert.deepEqual(frame.subarray(6, 12), pair.peerMac);
      assert.equal(frame.subarray(28, 32).join("."), pair.peerAddr, "ARP sender IP");
      assert.deepEqual(frame.subarray(22, 28), pair.peerMac, "ARP sender MAC");
      assert.ok(driver.stats.rxFrames >= 1);
      assert.ok(driver.stats.rxBytes >= 42);
      assert.ok(driver.stats.syscalls >= 1);
    } finally {
      driver.close();
    }
  });
}, { tools: ["ping"] });

interopTest(
  "af_packet: transmitted frames reach the peer; oversize frames are refused",
  async () => {
    await withVethPair({}, async (pair) => {
      const driver = openStackDriver(pair, { txQueue: 4 });
      try {
        const before = await pair.peerCounters();
        assert.ok(driver.transmit(broadcastFrame(driver.mac, 1), 0, 60, null));
        assert.equal(driver.txPending, 1);
        driver.flush();
        assert.equal(driver.txPending, 0);
        assert.equal(driver.stats.txKicks, 1);
        await waitFor(async () => (await pair.peerCounters()).rxPackets > before.rxPackets, {
          what: "the peer's rx counter to move",
          intervalMs: 20,
        });

        // Ten frames through a 4-slot queue: two automatic flushes, then the explicit one.
        const mid = await pair.peerCounters();
        const frame = new Uint8Array(200);
        frame.set(broadcastFrame(driver.mac, 2));
        for (let i = 0; i < 10; i++) assert.ok(driver.transmit(frame, 100, 60, null));
        driver.flush();
        assert.equal(driver.stats.txKicks, 4);
        assert.equal(driver.stats.txFrames, 11);
        assert.equal(driver.stats.txBytes, 660);
        assert.equal(driver.stats.txDropped, 0);
        await waitFor(async () => (await pair.peerCounters()).rxPackets >= mid.rxPackets + 10, {
          what: "ten more frames at the peer",
          intervalMs: 20,
        });

        // Our own frames are not handed back as received.
        const batch = new RxBatch(64);
        driver.receive(batch, 64);
        for (let i = 0; i < batch.count; i++) {
          const f = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
          assert.notEqual(etherType(f), ETHERTYPE_EXPERIMENTAL, "own frame looped back");
        }
        driver.release(batch);

        // Too big for a staging slot, or too short to be Ethernet: refused and counted.
        const big = new Uint8Array(driver.txSlotBytes + 1);
        assert.equal(driver.transmit(big, 0, big.length, null), false);
        assert.equal(driver.stats.txOversize, 1);
        assert.equal(driver.transmit(frame, 0, 10, null), false);
        assert.equal(driver.stats.txDropped, 2);
        assert.equal(driver.txPending, 0);
      } finally {
        driver.close();
      }
      assert.throws(
        () => driver.flush(),
        (e: unknown) => e instanceof SyscallError && e.code === "EBADF",
      );
    });
  },
);

interopTest("af_packet: frames above the MTU arrive whole and flagged RX_GSO", async () => {
  await withVethPair({ mtu: 65_535 }, async (pair) => {
    const driver = openStackDriver(pair, { mtu: 1500 });
    try {
      // A static neighbour lets the kernel send IP to the stack without an ARP reply.
      const mac = formatMac(pair.stackMac);
      const neigh = await pair.run(
        [
          "ip",
          "neigh",
          "replace",
          pair.stackAddr,
          "lladdr",
          mac,
          "dev",
          pair.peerIf,
          "nud",
          "permanent",
        ],
      );
      assert.equal(neigh.code, 0, neigh.stderr);
      for (const payload of [8_000, 60_000]) {
        const ping = pair.run([
          "ping",
          "-c",
          "1",
          "-W",
          "1",
          "-s",
          String(payload),
          pair.stackAddr,
        ]);
        const expected = 14 + 20 + 8 + payload;
        const { frame, flags } = await receiveUntil(
          driver,
          (f) => etherType(f) === 0x0800 && f.length === expected,
          `a ${expected}-byte ICMP echo request`,
        );
        await ping;
        assert.equal(frame[23], 1, "ICMP");
        assert.equal((frame[16] << 8) | frame[17], 20 + 8 + payload, "IP total length");
        assert.equal(flags & RX_GSO, RX_GSO);
      }
      assert.equal(driver.stats.rxTruncated, 0);
    } finally {
      driver.close();
    }
  });
}, { tools: ["ping"] });

interopTest(
  "af_packet: without CAP_NET_RAW, open fails with EPERM naming the capability",
  async () => {
    const driverUrl = new URL("../../drivers/af_packet.ts", import.meta.url).href;
    const code = `import { AfPacketDriver } from ${JSON.stringify(driverUrl)};
    try { AfPacketDriver.open({ ifname: "lo" }); console.log("{}"); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const out = await new Deno.Command("setpriv", {
      args: ["--bounding-set", "-net_raw", "--inh-caps", "-net_raw", Deno.execPath(), "eval", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(result.code, "EPERM");
    assert.match(result.message, /^socket: EPERM \(Operation not permitted\): .*CAP_NET_RAW/);
  },
  { tools: ["setpriv"] },
);
