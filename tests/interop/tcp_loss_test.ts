// Kernel interop under heavy loss: 100 MB echoed through `ustack serve --tcp-echo` byte-exact
// with nftables dropping 1 % and 5 % of the packets in each direction, for each congestion
// control algorithm, and over IPv6 (the same TCP); and ECN negotiated with a kernel that asks
// for it.
//
// On veth a dropped GSO super-frame loses all of its segments at once, for the kernel peer
// and for the stack: 5 % of packets is far more than 5 % of segments' worth of recovery.
// The size can be lowered with USTACK_LOSS_TEST_MB (default 100; ~5–20 s per run here).

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";
import { startServe } from "../harness/ustack_cli.ts";
import { startCapture } from "../harness/capture.ts";

const MB = Number(Deno.env.get("USTACK_LOSS_TEST_MB") ?? 100);

/** Drop `percent` % of the packets the peer receives and sends (the stack's both ways). */
async function lossBothWays(pair: VethPair, percent: number): Promise<void> {
  const n = Math.round(percent * 10);
  const r = await pair.run(["nft", "-f", "-"], {
    stdin: `table inet loss {
  chain in { type filter hook input priority 0; numgen random mod 1000 < ${n} drop; }
  chain out { type filter hook output priority 0; numgen random mod 1000 < ${n} drop; }
}\n`,
  });
  assert.equal(r.code, 0, r.stderr);
}

for (const percent of [1, 5]) {
  for (const cc of ["cubic", "bbr", "newreno"]) {
    interopTest(
      `${MB} MB echoed byte-exact through ${percent} % loss each way, ${cc}`,
      async () => {
        await withVethPair({ ipv6: false }, async (pair) => {
          await lossBothWays(pair, percent);
          const serve = await startServe(pair, ["--tcp-echo", "7", "--json", "--cc", cc]);
          const dir = await Deno.makeTempDir();
          try {
            const r = await pair.run([
              "sh",
              "-c",
              `set -e; cd ${dir}; head -c ${MB * 1_000_000} /dev/urandom > in; ` +
              `socat -t 60 -T 60 TCP:${pair.stackAddr}:7 - < in > out; ` +
              `sha256sum < in; sha256sum < out; stat -c %s out`,
            ], { timeoutMs: 300_000 });
            assert.equal(r.code, 0, r.stderr);
            const [a, b, size] = r.stdout.trim().split("\n");
            assert.equal(size, String(MB * 1_000_000));
            assert.equal(a, b);
          } finally {
            await serve.stop();
            await Deno.remove(dir, { recursive: true });
          }
          const tcp = serve.statsEvent()!.tcp;
          assert.ok(tcp.RetransSegs > 0, "loss made the stack retransmit");
          assert.ok(tcp.TCPSackRecovery > 0, "with SACK recovery");
        });
      },
      { tools: ["socat", "nft"] },
    );
  }
}

interopTest(
  `IPv6: ${Math.min(MB, 20)} MB echoed byte-exact through 2 % loss each way, cubic`,
  async () => {
    await withVethPair({}, async (pair) => {
      await lossBothWays(pair, 2);
      const serve = await startServe(pair, [
        "--addr",
        `${pair.stackAddr6}/${pair.prefixLen6}`,
        "--tcp-echo",
        "7",
        "--json",
      ]);
      const dir = await Deno.makeTempDir();
      const bytes = Math.min(MB, 20) * 1_000_000;
      try {
        const r = await pair.run([
          "sh",
          "-c",
          `set -e; cd ${dir}; head -c ${bytes} /dev/urandom > in; ` +
          `socat -t 60 -T 60 TCP6:[${pair.stackAddr6}]:7 - < in > out; ` +
          `sha256sum < in; sha256sum < out; stat -c %s out`,
        ], { timeoutMs: 300_000 });
        assert.equal(r.code, 0, r.stderr);
        const [a, b, size] = r.stdout.trim().split("\n");
        assert.equal(size, String(bytes));
        assert.equal(a, b);
      } finally {
        await serve.stop();
        await Deno.remove(dir, { recursive: true });
      }
      const tcp = serve.statsEvent()!.tcp;
      assert.ok(tcp.RetransSegs > 0, "loss made the stack retransmit");
      assert.ok(tcp.TCPSackRecovery > 0, "with SACK recovery");
    });
  },
  { tools: ["socat", "nft"] },
);

interopTest("ECN with a kernel that asks for it: negotiated, the stack's data ECT(0)", async () => {
  await withVethPair({ ipv6: false }, async (pair) => {
    const sysctl = await pair.run(["sysctl", "-w", "net.ipv4.tcp_ecn=1"]);
    assert.equal(sysctl.code, 0, sysctl.stderr);
    const serve = await startServe(pair, ["--tcp-echo", "7", "--json"]);
    const cap = await startCapture(pair, {
      filter: "tcp port 7",
      fields: ["tcp.flags.str", "ip.dsfield.ecn", "ip.src", "tcp.len"],
    });
    try {
      const r = await pair.run([
        "sh",
        "-c",
        `head -c 100000 /dev/zero | socat -t 5 - TCP:${pair.stackAddr}:7 | wc -c`,
      ]);
      assert.equal(r.stdout.trim(), "100000");
      // Every byte of the echo seen (the capture may trail the transfer).
      const echoed = (fs: string[][]) =>
        fs.filter((f) => f[2] === pair.stackAddr).reduce((n, f) => n + Number(f[3]), 0);
      const frames = await cap.waitUntil((fs) => echoed(fs) >= 100000, "the whole echo");
      const syn = frames.find((f) => /S/.test(f[0]) && !/A/.test(f[0]))!;
      const synAck = frames.find((f) => /S/.test(f[0]) && /A/.test(f[0]))!;
      assert.match(syn[0], /C/); // RFC 3168 §6.1.1: the kernel asks with CWR and ECE
      assert.match(syn[0], /E/);
      assert.match(synAck[0], /E/); // the stack agrees with ECE alone
      assert.doesNotMatch(synAck[0], /C/);
      const ours = frames.filter((f) => f[2] === pair.stackAddr && Number(f[3]) > 0);
      assert.ok(ours.length > 0 && ours.every((f) => f[1] === "2"), JSON.stringify(frames));
    } finally {
      await cap.stop();
      await serve.stop();
    }
  });
}, { tools: ["socat", "tshark", "python3"] });
