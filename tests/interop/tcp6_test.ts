// Kernel interop for TCP over IPv6: curl -6 and socat against `ustack serve` (HTTP and TCP
// echo answered on every address of both families, link-local included), a router that drops
// what exceeds 1280 bytes and says so with a packet too big, and pingpong over IPv6.

import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { withNetns } from "../../ffi/netns.ts";
import { RxBatch } from "../../link/driver.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { linkLocalFromMac } from "../../net/ipv6_address.ts";
import { curlSha, expectedPatternSha } from "../harness/byte_pattern.ts";
import { interopTest } from "../harness/interop.ts";
import { icmpv6, ipv6Frame } from "../harness/ipv6_frames.ts";
import { runCommand, withVethPair } from "../harness/netns.ts";
import { cliCommand, CliProcess, startServe } from "../harness/ustack_cli.ts";

interopTest(
  "curl -6 downloads 1 MB and 10 MB byte-exact from the global and the link-local address",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, [
        "--addr",
        `${pair.stackAddr6}/64`,
        "--http",
        "80",
        "--json",
      ]);
      const ll = `${linkLocalFromMac(pair.stackMac)}`;
      try {
        for (const n of [1_000_000, 10_000_000]) {
          assert.equal(
            await curlSha(pair, `http://[${pair.stackAddr6}]/bytes/${n}`),
            await expectedPatternSha(pair, n),
            `${n} bytes over IPv6`,
          );
        }
        assert.equal(
          await curlSha(pair, `http://[${ll}%25${pair.peerIf}]/bytes/100000`),
          await expectedPatternSha(pair, 100_000),
          "over the link-local address",
        );
        // The same service answers IPv4 too.
        const v4 = await pair.run(["curl", "-sS", "-m", "10", `http://${pair.stackAddr}/`]);
        assert.match(v4.stdout, /Hello from ustack/);
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.ok(stats.tcp.PassiveOpens >= 4);
      assert.equal(stats.tcp.InCsumErrors, 0);
    });
  },
  { tools: ["curl", "python3"] },
);

interopTest("serve --tcp-echo over IPv6: 1 MB through socat comes back byte-exact", async () => {
  await withVethPair({}, async (pair) => {
    const serve = await startServe(pair, ["--addr", `${pair.stackAddr6}/64`, "--tcp-echo", "7"]);
    const file = await Deno.makeTempFile();
    try {
      const data = new Uint8Array(1_000_000);
      for (let i = 0; i < data.length; i += 65536) {
        crypto.getRandomValues(data.subarray(i, i + 65536));
      }
      await Deno.writeFile(file, data);
      const r = await pair.run([
        "sh",
        "-c",
        `socat -t 10 - TCP6:[${pair.stackAddr6}]:7 < ${file} > ${file}.out`,
      ], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await Deno.readFile(`${file}.out`), data);
    } finally {
      await Deno.remove(file).catch(() => {});
      await Deno.remove(`${file}.out`).catch(() => {});
      assert.equal(await serve.stop(), 0);
    }
  });
}, { tools: ["socat"] });

interopTest(
  "a router that drops what exceeds 1280 bytes and sends packet too big lowers TCP's segment size",
  async () => {
    await withVethPair({}, async (pair) => {
      // The "router": nftables on the peer drops the stack's big IPv6 packets (before the
      // kernel's TCP sees them, so they are never acknowledged), and this process answers each
      // with an ICMPv6 packet too big quoting it, as a router with a 1280-byte next hop would.
      const nft = await pair.run(["nft", "-f", "-"], {
        stdin: `table inet ptb { chain input { type filter hook input priority 0;
          ip6 saddr ${pair.stackAddr6} meta length > 1280 counter drop; }; };\n`,
      });
      assert.equal(nft.code, 0, nft.stderr);
      // No offloads: every frame is one segment, as a router sees them.
      const serve = await startServe(pair, [
        "--addr",
        `${pair.stackAddr6}/64`,
        "--http",
        "80",
        "--no-offload",
        "--json",
      ]);
      const router = withNetns(pair.peerNs, () => AfPacketDriver.open({ ifname: pair.peerIf }));
      const rtr = IpAddress.parse(pair.peerAddr6);
      const stack = IpAddress.parse(pair.stackAddr6);
      let stopped = false;
      let sent = 0;
      const batch = new RxBatch(64);
      const answer = async () => {
        while (!stopped) {
          const n = router.receive(batch, batch.capacity);
          for (let i = 0; i < n; i++) {
            const f = batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]);
            if (f.length <= 14 + 1280 || f[12] !== 0x86 || f[13] !== 0xdd || f[20] !== 6) continue;
            const quote = f.slice(14, 14 + 1232);
            const ptb = ipv6Frame({
              srcMac: pair.peerMac,
              dstMac: pair.stackMac,
              src: rtr,
              dst: stack,
              nextHeader: 58,
              payload: icmpv6(rtr, stack, 2, 0, 1280, quote),
            });
            router.transmit(ptb, 0, ptb.length, null);
            router.flush();
            sent++;
          }
          router.release(batch);
          await new Promise((r) => setTimeout(r, 1));
        }
      };
      const answering = answer();
      try {
        assert.equal(
          await curlSha(pair, `http://[${pair.stackAddr6}]/bytes/2000000`, 30),
          await expectedPatternSha(pair, 2_000_000),
        );
      } finally {
        stopped = true;
        await answering;
        router.close();
        assert.equal(await serve.stop(), 0);
      }
      assert.ok(sent >= 1, "the router saw big segments and answered");
      const stats = serve.statsEvent()!;
      assert.ok(stats.icmp6.InPktTooBigs >= 1);
    });
  },
  { tools: ["curl", "nft", "python3"] },
);

interopTest("pingpong over IPv6: the stack's client against a kernel server", async () => {
  await withVethPair({}, async (pair) => {
    const withNet = (args: string[]) => {
      const cmd = cliCommand(args);
      cmd.splice(2, 0, "--allow-net");
      return cmd;
    };
    const server = new CliProcess(
      pair.spawn(withNet(["pingpong", "server", "--kernel", "-l", "64", "--json"]), {
        stdout: "piped",
        stderr: "piped",
      }),
    );
    await server.waitForLine(/"event":"ready"/);
    try {
      const r = await runCommand([
        "ip",
        "netns",
        "exec",
        pair.stackNs,
        ...withNet([
          "pingpong",
          "client",
          pair.peerAddr6,
          "-n",
          "200",
          "--json",
          "--if",
          pair.stackIf,
          "--addr",
          `${pair.stackAddr6}/64`,
        ]),
      ], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const s = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.equal(s.event, "summary");
      assert.equal(s.transactions, 200);
    } finally {
      await server.stop();
    }
  });
});
