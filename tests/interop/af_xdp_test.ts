// Kernel interop for the AF_XDP driver and ustack's own XDP redirect program: the stack (the
// Runtime over AfXdpDriver on us0) against the Linux kernel on kp0 of a veth pair.

import assert from "node:assert/strict";
import { AfXdpDriver } from "../../drivers/af_xdp.ts";
import { xdpRedirectInsns } from "../../drivers/xdp_program.ts";
import { XDP_PASS } from "../../ffi/bpf.ts";
import { SyscallError } from "../../ffi/errno.ts";
import { RxBatch } from "../../link/driver.ts";
import { Runtime } from "../../stack/runtime.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";

/** What `ip link show` prints only while an XDP program is attached. */
const NO_XDP = /prog\/xdp| xdp(generic|drv)? /;

/** An IEEE 802 local experimental EtherType: nothing in the kernel reacts to it. */
const ETHERTYPE_EXPERIMENTAL = 0x88b5;

/**
 * `ip link show` of the stack end. While a program is attached the flags line carries `xdp`
 * (or `xdpgeneric`) and a `prog/xdp id N` line follows.
 */
async function stackLink(pair: VethPair): Promise<string> {
  const r = await pair.runInStackNs(["ip", "link", "show", "dev", pair.stackIf]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** `ping` from the peer namespace; returns stdout after asserting every reply came. */
async function pingFromPeer(pair: VethPair, count: number, extra: string[] = []): Promise<string> {
  const r = await pair.run([
    "ping",
    "-c",
    String(count),
    "-i",
    "0.2",
    "-W",
    "2",
    ...extra,
    pair.stackAddr,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`${count} packets transmitted, ${count} received`));
  return r.stdout;
}

Deno.test("xdp_program: the redirect program is six instructions, byte for byte", () => {
  const insns = xdpRedirectInsns(7);
  assert.equal(insns.length, 48);
  assert.deepEqual(
    Array.from(insns),
    [
      // r2 = *(u32 *)(r1 + 16): LDX|MEM|W, dst 2 src 1, off 16
      [0x61, 0x12, 16, 0, 0, 0, 0, 0],
      // r1 = map fd 7 (two slots): LD|IMM|DW, dst 1, src BPF_PSEUDO_MAP_FD
      [0x18, 0x11, 0, 0, 7, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0],
      // r3 = XDP_PASS: ALU64|MOV|K
      [0xb7, 0x03, 0, 0, XDP_PASS, 0, 0, 0],
      // call bpf_redirect_map (51)
      [0x85, 0x00, 0, 0, 51, 0, 0, 0],
      // exit
      [0x95, 0x00, 0, 0, 0, 0, 0, 0],
    ].flat(),
  );
});

interopTest(
  "af_xdp: opens on a veth, attaches its program, zero-copy falls back; close detaches",
  async () => {
    await withVethPair({}, async (pair) => {
      assert.doesNotMatch(await stackLink(pair), NO_XDP);
      const driver = AfXdpDriver.open({
        ifname: pair.stackIf,
        netns: pair.stackNs,
        zeroCopy: true,
        frames: 256,
        ringSize: 128,
      });
      try {
        assert.equal(driver.kind, "af_xdp");
        assert.equal(driver.name, pair.stackIf);
        assert.deepEqual(driver.mac, pair.stackMac);
        assert.equal(driver.mtu, 1500);
        assert.ok(driver.fd >= 0);
        // veth has no zero-copy AF_XDP: the driver says so and runs in copy mode.
        assert.equal(driver.zeroCopy, false);
        assert.equal(driver.zeroCopyFallback, "EOPNOTSUPP");
        assert.equal(driver.multiBuffer, false, "1514-byte frames fit a 4 KiB chunk");
        assert.equal(driver.rxFrames, 128);
        assert.equal(driver.txFrames, 128);
        assert.equal(driver.txFreeFrames, 128);
        assert.ok(driver.program.attached);
        const link = await stackLink(pair);
        assert.match(link, /prog\/xdp id (\d+) name ustack_redir/);
        assert.equal(Number(/prog\/xdp id (\d+)/.exec(link)![1]), driver.program.progId);

        // The queue already has a socket (and the device a program): a second open fails EBUSY
        // and leaves the first one attached.
        assert.throws(
          () => AfXdpDriver.open({ ifname: pair.stackIf, netns: pair.stackNs }),
          (e: unknown) => e instanceof SyscallError && e.code === "EBUSY",
        );
        assert.ok(driver.program.attached);
      } finally {
        driver.close();
      }
      assert.equal(driver.fd, -1);
      assert.equal(driver.program.attached, false);
      assert.doesNotMatch(await stackLink(pair), NO_XDP);
      assert.throws(
        () => driver.close(),
        (e: unknown) => e instanceof SyscallError && e.code === "EBADF",
      );

      // Bad options are refused before anything is created.
      assert.throws(
        () => AfXdpDriver.open({ ifname: pair.stackIf, netns: pair.stackNs, mtu: 1501 }),
        (e: unknown) => e instanceof SyscallError && e.code === "EINVAL",
      );
      assert.throws(
        () => AfXdpDriver.open({ ifname: "ustk-none0", netns: pair.stackNs }),
        (e: unknown) => e instanceof SyscallError && e.code === "ENODEV",
      );
      assert.throws(
        () => AfXdpDriver.open({ ifname: pair.stackIf, frameBytes: 3000 }),
        RangeError,
      );
      assert.throws(() => AfXdpDriver.open({ ifname: pair.stackIf, ringSize: 100 }), RangeError);
      assert.doesNotMatch(await stackLink(pair), NO_XDP);
    });
  },
);

interopTest(
  "af_xdp: the stack answers kernel ping; once it exits the kernel answers on us0 again",
  async () => {
    await withVethPair({}, async (pair) => {
      const driver = AfXdpDriver.open({ ifname: pair.stackIf, netns: pair.stackNs });
      const rt = await Runtime.start({
        linkDriver: driver,
        addr: `${pair.stackAddr}/${pair.prefixLen}`,
      });
      try {
        await pingFromPeer(pair, 3);
        assert.ok(driver.stats.rxFrames >= 4, "ARP request + 3 echo requests");
        assert.ok(driver.stats.txFrames >= 4, "ARP reply + 3 echo replies");
        assert.equal(driver.stats.txDropped, 0);
        assert.equal(driver.stats.rxDropped, 0);
        assert.ok(driver.stats.txKicks >= 4);
        assert.equal(driver.stats.txCompleted, driver.stats.txDescs);
        assert.equal(driver.stats.fillRefills, driver.stats.rxDescs);
        const k = driver.kernelStats();
        assert.equal(k.rxDropped + k.rxRingFull + k.rxFillRingEmptyDescs, 0);
        assert.equal(k.rxInvalidDescs + k.txInvalidDescs, 0);
      } finally {
        await rt.stop();
      }
      assert.equal(driver.fd, -1, "the Runtime closed the driver");
      assert.doesNotMatch(await stackLink(pair), NO_XDP);
      // The kernel owns us0 again: give it the address and it answers the same ping itself.
      const add = await pair.runInStackNs([
        "ip",
        "addr",
        "add",
        `${pair.stackAddr}/${pair.prefixLen}`,
        "dev",
        pair.stackIf,
      ]);
      assert.equal(add.code, 0, add.stderr);
      await pair.run(["ip", "neigh", "flush", "dev", pair.peerIf]);
      await pingFromPeer(pair, 2);
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "af_xdp: MTU 9000 with multi-buffer: ping -s 8000 is reassembled and answered",
  async () => {
    await withVethPair({ mtu: 9000 }, async (pair) => {
      const driver = AfXdpDriver.open({ ifname: pair.stackIf, netns: pair.stackNs });
      assert.equal(driver.multiBuffer, true);
      assert.equal(driver.mtu, 9000);
      const rt = await Runtime.start({
        linkDriver: driver,
        addr: `${pair.stackAddr}/${pair.prefixLen}`,
      });
      try {
        const out = await pingFromPeer(pair, 3, ["-s", "8000"]);
        assert.match(out, /8008 bytes from/);
        // 8042-byte frames span three 4 KiB chunks on receive (256 B headroom) and two on send.
        assert.ok(driver.stats.rxMultiBuffer >= 3, `rxMultiBuffer ${driver.stats.rxMultiBuffer}`);
        assert.ok(driver.stats.txDescs >= driver.stats.txFrames + 3);
        assert.equal(driver.stats.rxOversize, 0);
        assert.equal(driver.stats.txDropped, 0);
      } finally {
        await rt.stop();
      }
      assert.doesNotMatch(await stackLink(pair), NO_XDP);
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "af_xdp: a flood through small rings wraps them; every chunk comes back",
  async () => {
    await withVethPair({}, async (pair) => {
      const driver = AfXdpDriver.open({
        ifname: pair.stackIf,
        netns: pair.stackNs,
        frames: 128,
        ringSize: 64,
        rxBatch: 16,
      });
      const rt = await Runtime.start({
        linkDriver: driver,
        addr: `${pair.stackAddr}/${pair.prefixLen}`,
      });
      try {
        const r = await pair.run(["ping", "-f", "-c", "2000", "-W", "2", pair.stackAddr]);
        const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
        assert.ok(m, r.stdout + r.stderr);
        assert.ok(Number(m[2]) >= 1990, r.stdout);
        assert.ok(driver.stats.rxDescs > 64 * 20, "the RX and fill rings wrapped many times");
      } finally {
        await rt.stop();
      }
      assert.equal(driver.stats.fillRefills, driver.stats.rxDescs);
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "af_xdp: a burst larger than the TX ring is kicked out in batches and fully completed",
  async () => {
    await withVethPair({}, async (pair) => {
      const driver = AfXdpDriver.open({
        ifname: pair.stackIf,
        netns: pair.stackNs,
        frames: 512,
        ringSize: 256,
      });
      try {
        const frame = new Uint8Array(1514);
        frame.fill(0xff, 0, 6);
        frame.set(driver.mac, 6);
        frame[12] = ETHERTYPE_EXPERIMENTAL >> 8;
        frame[13] = ETHERTYPE_EXPERIMENTAL & 0xff;
        const before = await pair.peerCounters();
        const total = 20_000;
        const t0 = performance.now();
        let sent = 0;
        while (sent < total) {
          // 64 frames per "tick", as the event loop would stage them.
          for (let i = 0; i < 64 && sent < total; i++, sent++) {
            assert.ok(driver.transmit(frame, 0, frame.length, null), `frame ${sent} refused`);
          }
          driver.flush();
        }
        const ms = performance.now() - t0;
        await waitFor(() => {
          driver.flush();
          return driver.txFreeFrames === driver.txFrames;
        }, { what: "every transmit chunk back from the completion ring" });
        const after = await pair.peerCounters();
        assert.equal(driver.stats.txFrames, total);
        assert.equal(driver.stats.txCompleted, total);
        assert.equal(driver.stats.txDropped, 0);
        assert.ok(after.rxPackets - before.rxPackets >= total * 0.99, "the peer received them");
        // Copy mode takes at most 32 descriptors per kick: at least total/32 kicks.
        assert.ok(driver.stats.txKicks >= total / 32);
        console.log(
          `af_xdp tx: ${total} × 1514 B in ${ms.toFixed(0)} ms = ` +
            `${Math.round(total / ms * 1000)} pps, ${driver.stats.txKicks} kicks ` +
            `(${(driver.stats.syscalls / total).toFixed(3)} syscalls/frame)`,
        );

        // Nothing the kernel sent while we transmitted is ours to choke on.
        const batch = new RxBatch(64);
        driver.receive(batch, 64);
        driver.release(batch);
      } finally {
        driver.close();
      }
    });
  },
);

interopTest("af_xdp: when the process dies (SIGKILL) the kernel detaches the program", async () => {
  await withVethPair({}, async (pair) => {
    const driverUrl = new URL("../../drivers/af_xdp.ts", import.meta.url).href;
    const code = `import { AfXdpDriver } from ${JSON.stringify(driverUrl)};
      const d = AfXdpDriver.open({ ifname: ${JSON.stringify(pair.stackIf)},
        netns: ${JSON.stringify(pair.stackNs)} });
      console.log(JSON.stringify({ progId: d.program.progId }));
      setInterval(() => {}, 1000);`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let line = "";
      while (!line.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        line += value;
      }
      reader.releaseLock();
      const { progId } = JSON.parse(line);
      assert.match(await stackLink(pair), new RegExp(`prog/xdp id ${progId} `));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await child.stderr.cancel();
    }
    // The link fd died with the process: the kernel detaches the program by itself.
    await waitFor(async () => !NO_XDP.test(await stackLink(pair)), {
      what: "the program to go away with the process",
      intervalMs: 20,
    });
  });
});
