// Kernel interop for the foundation: ARP and ICMP echo between the Linux kernel and the stack
// running as the `ustack` CLI on the other end of a veth pair.

import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { withNetns } from "../../ffi/netns.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { RxBatch } from "../../link/driver.ts";
import { formatMac, runCommand, withVethPair } from "../harness/netns.ts";
import { cliCommand, runCli, startServe } from "../harness/ustack_cli.ts";

interopTest("kernel ping -c 5 gets 5 replies and learns the stack's MAC", async () => {
  await withVethPair({}, async (pair) => {
    const serve = await startServe(pair, ["--json"]);
    try {
      const r = await pair.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", pair.stackAddr]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /5 packets transmitted, 5 received/);
      const neigh = await pair.run(["ip", "neigh", "show", pair.stackAddr, "dev", pair.peerIf]);
      assert.match(neigh.stdout, new RegExp(formatMac(pair.stackMac)));
    } finally {
      assert.equal(await serve.stop(), 0);
    }
    const stats = serve.statsEvent();
    assert.ok(stats, "serve printed its stats on SIGTERM");
    assert.equal(stats.icmp.OutEchoReps, 5);
    assert.ok(stats.arp.OutReplies >= 1);
  });
}, { tools: ["ping"] });

interopTest("kernel ping -s 8000 at MTU 9000 gets replies", async () => {
  await withVethPair({ mtu: 9000 }, async (pair) => {
    const serve = await startServe(pair);
    try {
      const r = await pair.run([
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        "-s",
        "8000",
        pair.stackAddr,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /3 packets transmitted, 3 received/);
      assert.match(r.stdout, /8008 bytes from/);
    } finally {
      await serve.stop();
    }
  });
}, { tools: ["ping"] });

interopTest(
  "kernel ping -s 4000 at MTU 1500 is reassembled and answered in fragments",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, ["--json"]);
      try {
        const r = await pair.run([
          "ping",
          "-c",
          "2",
          "-i",
          "0.2",
          "-W",
          "2",
          "-s",
          "4000",
          pair.stackAddr,
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /2 packets transmitted, 2 received/);
      } finally {
        await serve.stop();
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.ip.ReasmOKs, 2);
      assert.ok(stats.ip.FragCreates >= 6);
    });
  },
  { tools: ["ping"] },
);

interopTest("ustack ping to the kernel gets replies; exit 1 when nobody answers", async () => {
  await withVethPair({}, async (pair) => {
    const link = ["--if", pair.stackIf, "--addr", `${pair.stackAddr}/24`];
    const ok = await runCli(pair, [
      "ping",
      pair.peerAddr,
      "-c",
      "3",
      "-i",
      "0.2",
      "-W",
      "2",
      ...link,
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /icmp_seq=1 ttl=64 time=/);
    assert.match(ok.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
    const json = await runCli(pair, [
      "ping",
      pair.peerAddr,
      "-c",
      "1",
      "-W",
      "2",
      "--json",
      ...link,
    ]);
    const summary = JSON.parse(json.stdout.trim().split("\n").at(-1)!);
    assert.equal(summary.event, "summary");
    assert.equal(summary.received, 1);
    const none = await runCli(pair, [
      "ping",
      "198.18.0.77",
      "-c",
      "2",
      "-i",
      "0.2",
      "-W",
      "1",
      ...link,
    ]);
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.match(none.stdout, /2 packets transmitted, 0 received, 100% packet loss/);
  });
}, { tools: ["ping"] });

/** An Ethernet + IPv4 + ICMP echo request frame from the peer to the stack. */
function echoFrame(dstMac: Uint8Array, srcMac: Uint8Array, seq: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 16);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  f[12] = 0x08;
  const ip = [0x45, 0, 0, 36, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2];
  f.set(ip, 14);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (f[14 + i] << 8) | f[15 + i];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  f[24] = c >>> 8;
  f[25] = c & 0xff;
  const icmp = 34;
  f[icmp] = 8;
  f[icmp + 4] = 0xbe;
  f[icmp + 5] = 0xef;
  f[icmp + 7] = seq;
  s = 0;
  for (let i = 0; i < 16; i += 2) s += (f[icmp + i] << 8) | f[icmp + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const ic = ~s & 0xffff;
  f[icmp + 2] = ic >>> 8;
  f[icmp + 3] = ic & 0xff;
  return f;
}

interopTest(
  "frames with a bad IPv4 checksum or a truncated header get no reply and are counted",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, ["--json"]);
      const inject = withNetns(pair.peerNs, () => AfPacketDriver.open({ ifname: pair.peerIf }));
      try {
        const good = echoFrame(pair.stackMac, pair.peerMac, 1);
        const badCsum = echoFrame(pair.stackMac, pair.peerMac, 2);
        badCsum[25] ^= 0xff;
        const truncated = echoFrame(pair.stackMac, pair.peerMac, 3).slice(0, 14 + 12);
        const badIhl = echoFrame(pair.stackMac, pair.peerMac, 4);
        badIhl[14] = 0x44;
        // The kernel peer must know nothing else is going on: resolve ARP first with a real ping.
        await pair.run(["ping", "-c", "1", "-W", "2", pair.stackAddr]);
        for (const f of [badCsum, truncated, badIhl, good]) {
          assert.ok(inject.transmit(f, 0, f.length, null));
          inject.flush();
        }
        // The stack handles frames in order: once the good (last) frame is answered, the bad
        // ones before it have been counted.
        const batch = new RxBatch(64);
        await waitFor(() => {
          const n = inject.receive(batch, batch.capacity);
          let answered = false;
          for (let i = 0; i < n; i++) {
            const f = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
            // Echo reply (type 0), identifier 0xbeef, sequence 1.
            if (f.length >= 42 && f[23] === 1 && f[34] === 0 && f[38] === 0xbe && f[41] === 1) {
              answered = true;
            }
          }
          inject.release(batch);
          return answered;
        }, { what: "the echo reply to the good injected frame" });
      } finally {
        inject.close();
        await serve.stop();
      }
      const stats = serve.statsEvent()!;
      // One reply for the resolving ping, one for the good injected frame, none for the bad ones.
      assert.equal(stats.icmp.OutEchoReps, 2);
      assert.equal(stats.ip.InCsumErrors, 1);
      assert.equal(stats.ip.InTruncatedPkts + stats.ip.InHdrErrors, 2);
    });
  },
  { tools: ["ping"] },
);

interopTest(
  "the pcap of a ping session opens in tshark with no malformed packet or bad checksum",
  async () => {
    await withVethPair({}, async (pair) => {
      const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
      try {
        const serve = await startServe(pair, ["--pcap", pcap]);
        const r = await pair.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", pair.stackAddr]);
        assert.equal(r.code, 0);
        await serve.stop();
        const all = await runCommand(["tshark", "-r", pcap]);
        assert.equal(all.code, 0, all.stderr);
        assert.match(all.stdout, /Echo \(ping\) request/);
        assert.match(all.stdout, /Echo \(ping\) reply/);
        assert.match(all.stdout, /is at/);
        const bad = await runCommand([
          "tshark",
          "-r",
          pcap,
          "-o",
          "ip.check_checksum:TRUE",
          "-Y",
          '_ws.malformed || ip.checksum.status == "Bad" || icmp.checksum.status == "Bad" || _ws.expert.severity >= "warning"',
        ]);
        assert.equal(bad.code, 0, bad.stderr);
        assert.equal(bad.stdout.trim(), "", `tshark flagged:\n${bad.stdout}`);
      } finally {
        await Deno.remove(pcap).catch(() => {});
      }
    });
  },
  { tools: ["ping", "tshark"] },
);

interopTest(
  "serve without CAP_NET_RAW exits 1 naming the capability; bad arguments exit 2",
  async () => {
    await withVethPair({}, async (pair) => {
      const cmd = cliCommand(["serve", "--if", pair.stackIf, "--addr", `${pair.stackAddr}/24`]);
      const r = await pair.runInStackNs([
        "setpriv",
        "--bounding-set",
        "-net_raw",
        "--inh-caps",
        "-net_raw",
        ...cmd,
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /CAP_NET_RAW/);
      assert.doesNotMatch(r.stdout, /^ready/m);
      for (
        const args of [
          ["serve", "--if", pair.stackIf, "--addr", "198.18.0.300/24"],
          ["serve", "--addr", "198.18.0.2/24"],
          ["serve", "--if", pair.stackIf, "--bogus"],
          ["serve", "--if", pair.stackIf, "--addr", "198.18.0.2/24", "--gw", "198.19.0.1"],
          ["ping", "--if", pair.stackIf],
          ["ping", "198.18.0.1", "-c", "x", "--if", pair.stackIf],
          ["nonsense"],
        ]
      ) {
        const bad = await runCli(pair, args);
        assert.equal(bad.code, 2, `${args.join(" ")}: ${bad.stdout} ${bad.stderr}`);
        assert.ok(bad.stderr.length > 0);
      }
    });
  },
  { tools: ["setpriv"] },
);
