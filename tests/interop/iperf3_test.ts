// iperf3 on the wire: the stock iperf3 client measures `ustack iperf3 server`, and
// `ustack iperf3 client` measures a stock `iperf3 -s` — TCP, parallel streams, reverse mode and
// UDP at a set rate, over IPv4 and IPv6 — both ends exit 0 and report non-zero rates.

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { runCli, spawnCli } from "../harness/ustack_cli.ts";

interopTest("stock iperf3 -c measures ustack iperf3 server: TCP, -P 2, -R, UDP -u -b", async () => {
  await withVethPair({ ipv6: false }, async (pair) => {
    const server = spawnCli(pair, [
      "iperf3",
      "server",
      "--if",
      pair.stackIf,
      "--addr",
      `${pair.stackAddr}/24`,
    ]);
    await server.waitForLine(/^Server listening on 5201 \(test #1\)$/);
    const runs: [string[], (j: any) => number][] = [
      [[], (j) => j.end.sum_received.bits_per_second],
      [["-P", "2"], (j) => j.end.streams.length === 2 ? j.end.sum_received.bits_per_second : 0],
      [["-R"], (j) => j.end.sum_received.bits_per_second],
      [["-u", "-b", "20M"], (j) => j.end.sum.bits_per_second],
    ];
    try {
      for (const [extra, rate] of runs) {
        const r = await pair.run(["iperf3", "-c", pair.stackAddr, "-t", "2", "-J", ...extra], {
          timeoutMs: 30_000,
        });
        assert.equal(
          r.code,
          0,
          `iperf3 -c ${extra.join(" ")}: ${r.stdout.slice(-500)} ${r.stderr}`,
        );
        const j = JSON.parse(r.stdout);
        assert.ok(rate(j) > 0, `iperf3 -c ${extra.join(" ")}: rate ${rate(j)}`);
        if (extra.includes("-u")) {
          // 20 Mbit/s for 2 s: the receiver (ustack) counted the datagrams the client sent.
          assert.ok(j.end.sum.packets > 1000, `UDP datagrams ${j.end.sum.packets}`);
          assert.ok(j.end.sum.lost_percent < 50, `UDP loss ${j.end.sum.lost_percent}%`);
        }
      }
    } finally {
      assert.equal(await server.stop(), 0, server.errors.join("\n"));
    }
    assert.ok(
      server.lines.some((l) => /^\[\s*1\]\s+0\.00-\d+\.\d+\s+sec .* receiver$/.test(l)),
      server.lines.join("\n"),
    );
    assert.ok(server.lines.some((l) => /^\[SUM\]/.test(l)), "the -P 2 test printed a SUM line");
  });
}, { tools: ["iperf3"] });

interopTest(
  "ustack iperf3 client measures a stock iperf3 -s: TCP, -P 2 -R, UDP -u -b --json",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const server = pair.spawn(["iperf3", "-s"], { stdout: "null", stderr: "null" });
      const link = ["--if", pair.stackIf, "--addr", `${pair.stackAddr}/24`];
      try {
        for (let i = 0; i < 50; i++) {
          const ss = await pair.run(["ss", "-Hltn", "sport = :5201"]);
          if (ss.stdout.trim() !== "") break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const tcp = await runCli(pair, ["iperf3", "client", pair.peerAddr, "-t", "2", ...link]);
        assert.equal(tcp.code, 0, tcp.stdout + tcp.stderr);
        assert.match(tcp.stdout, /^Connecting to host 198\.18\.0\.1, port 5201$/m);
        const sender =
          /^\[\s*1\]\s+0\.00-\S+\s+sec\s+\S+ \w+\s+([\d.]+) (\w)bits\/sec\s+\d+\s+sender$/m
            .exec(tcp.stdout);
        assert.ok(sender !== null && Number(sender[1]) > 0, tcp.stdout);
        assert.match(tcp.stdout, /receiver\n\niperf Done\.\n?$/);

        const rev = await runCli(pair, [
          "iperf3",
          "client",
          pair.peerAddr,
          "-t",
          "2",
          "-P",
          "2",
          "-R",
          ...link,
        ]);
        assert.equal(rev.code, 0, rev.stdout + rev.stderr);
        const sum = /^\[SUM\]\s+\S+\s+sec\s+\S+ \w+\s+([\d.]+) \wbits\/sec\s+receiver$/m.exec(
          rev.stdout,
        );
        assert.ok(sum !== null && Number(sum[1]) > 0, rev.stdout);

        const udp = await runCli(pair, [
          "iperf3",
          "client",
          pair.peerAddr,
          "-t",
          "2",
          "-u",
          "-b",
          "20M",
          "--json",
          ...link,
        ]);
        assert.equal(udp.code, 0, udp.stdout + udp.stderr);
        const j = JSON.parse(udp.stdout);
        assert.equal(j.start.test_start.protocol, "UDP");
        assert.ok(j.intervals.length >= 2);
        assert.ok(j.end.sum_received.bits_per_second > 1e6, JSON.stringify(j.end));
        assert.ok(j.end.sum.packets > 1000);
      } finally {
        try {
          server.kill();
        } catch { /* gone */ }
        await server.status;
      }
    });
  },
  { tools: ["iperf3", "ss"] },
);

interopTest(
  "iperf3 over IPv6: stock client to ustack's server and ustack's client to stock -s",
  async () => {
    await withVethPair({}, async (pair) => {
      const link = ["--if", pair.stackIf, "--addr", `${pair.stackAddr6}/${pair.prefixLen6}`];
      const server = spawnCli(pair, ["iperf3", "server", ...link]);
      await server.waitForLine(/^Server listening on 5201 \(test #1\)$/);
      try {
        for (const extra of [[], ["-u", "-b", "10M"]]) {
          const r = await pair.run(
            ["iperf3", "-6", "-c", pair.stackAddr6, "-t", "1", "-J", ...extra],
            { timeoutMs: 30_000 },
          );
          assert.equal(
            r.code,
            0,
            `iperf3 -c ${extra.join(" ")}: ${r.stdout.slice(-500)} ${r.stderr}`,
          );
          const j = JSON.parse(r.stdout);
          const bps = extra.length === 0
            ? j.end.sum_received.bits_per_second
            : j.end.sum.bits_per_second;
          assert.ok(bps > 0, `iperf3 -c ${extra.join(" ")}: rate ${bps}`);
        }
      } finally {
        assert.equal(await server.stop(), 0, server.errors.join("\n"));
      }

      const stock = pair.spawn(["iperf3", "-s", "-1"], { stdout: "null", stderr: "null" });
      await pair.waitForListener("tcp", 5201);
      const c = await runCli(pair, ["iperf3", "client", pair.peerAddr6, "-t", "1", ...link]);
      assert.equal(c.code, 0, c.stdout + c.stderr);
      assert.match(c.stdout, /^Connecting to host fd00::1, port 5201$/m);
      assert.match(c.stdout, /receiver\n\niperf Done\.\n?$/);
      await stock.status;
    });
  },
  { tools: ["iperf3"] },
);
