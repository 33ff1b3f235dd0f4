// Live observability of a running `ustack serve --control PATH`: `ustack stats` (nstat's names
// and layout, deltas with -d, nstat -j JSON) and `ustack ss` (ss -tuna's table, TCP_INFO with
// -i, JSON), while the kernel's curl and socat talk to it.

import assert from "node:assert/strict";
import { interopTest, waitFor } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { cliCommand, startServe } from "../harness/ustack_cli.ts";
import { runCommand } from "../harness/netns.ts";
import { queryControl } from "../../stack/control.ts";

/** Run `ustack ARGS` in this namespace (the control socket is a path, not an address). */
async function ustack(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runCommand(cliCommand(args, ["--allow-net"]), { timeoutMs: 30_000 });
}

interopTest("ustack stats and ss read a running serve through its control socket", async () => {
  await withVethPair({ ipv6: false }, async (pair) => {
    const dir = await Deno.makeTempDir();
    const control = `${dir}/ustack.sock`;
    const serve = await startServe(pair, [
      "--http",
      "80",
      "--tcp-echo",
      "7",
      "--udp-echo",
      "7",
      "--control",
      control,
    ], ["--allow-net"]);
    // A connection held open while we look: socat waits on stdin that never ends.
    const held = pair.spawn(["sh", "-c", `sleep 30 | socat - TCP:${pair.stackAddr}:7`], {
      stdout: "null",
      stderr: "null",
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await pair.run([
          "curl",
          "-sS",
          "-o",
          "/dev/null",
          `http://${pair.stackAddr}/bytes/1000`,
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
      const stats = await ustack(["stats", "--control", control]);
      assert.equal(stats.code, 0, stats.stderr);
      const lines = stats.stdout.trim().split("\n");
      assert.equal(lines[0], "#kernel");
      const value = (name: string) => {
        const l = lines.find((x) => x.startsWith(name + " "));
        return l === undefined ? undefined : Number(l.trim().split(/\s+/)[1]);
      };
      assert.ok(value("IpInReceives")! > 0);
      assert.ok(value("TcpPassiveOpens")! >= 3);
      assert.ok(value("TcpOutSegs")! > 0);
      assert.equal(value("Http80Requests"), 3);
      // Deltas: the first -d is since start, the next only what happened in between.
      await ustack(["stats", "--control", control, "-d"]);
      await pair.run(["curl", "-sS", "-o", "/dev/null", `http://${pair.stackAddr}/`]);
      const delta = await ustack(["stats", "--control", control, "-d", "--json"]);
      assert.equal(delta.code, 0, delta.stderr);
      const kernel = JSON.parse(delta.stdout).kernel;
      assert.equal(kernel.TcpPassiveOpens, 1);
      assert.equal(kernel.Http80Requests, 1);

      await waitFor(async () => {
        const ss = await ustack(["ss", "--control", control]);
        return ss.stdout.includes("ESTAB");
      }, { what: "the held connection in ss", timeoutMs: 10_000, intervalMs: 200 });
      const ss = await ustack(["ss", "--control", control, "-i"]);
      assert.equal(ss.code, 0, ss.stderr);
      const rows = ss.stdout.trim().split("\n");
      assert.match(
        rows[0],
        /^Netid\s+State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port$/,
      );
      assert.ok(
        rows.some((r) => /^tcp\s+LISTEN\s+0\s+511\s+\*:80\s+\*:\*$/.test(r)),
        ss.stdout,
      );
      assert.ok(
        rows.some((r) => /^udp\s+UNCONN\s+0\s+0\s+\*:7\s+\*:\*$/.test(r)),
        ss.stdout,
      );
      const estab = rows.findIndex((r) =>
        new RegExp(`^tcp\\s+ESTAB\\s+0\\s+0\\s+${pair.stackAddr}:7\\s+${pair.peerAddr}:\\d+$`).test(
          r,
        )
      );
      assert.ok(estab > 0, ss.stdout);
      assert.match(rows[estab + 1], /^\t cubic .*rto:\d+ rtt:[\d.]+\/[\d.]+ mss:\d+ .*cwnd:\d+/);
      const json = await ustack(["ss", "--control", control, "-t", "--json"]);
      const sockets = JSON.parse(json.stdout).sockets;
      assert.ok(sockets.every((s: { netid: string }) => s.netid === "tcp"));
      const conn = sockets.find((s: { state: string }) => s.state === "ESTAB");
      assert.equal(conn.info.state, "ESTABLISHED");
      assert.ok(conn.info.mss > 0);
      // The process's own memory (bench:soak samples it): RSS at least the heap in use.
      const mem = await queryControl(control, { cmd: "memory" });
      assert.ok(mem.heapUsed > 1e6 && mem.rss >= mem.heapUsed, JSON.stringify(mem));
      // The stack-wide RTT distribution: the four connections' handshakes and data gave samples,
      // all of them well under the RTO floor on a veth pair.
      const rttText = await ustack(["stats", "--control", control, "--rtt"]);
      assert.equal(rttText.code, 0, rttText.stderr);
      assert.match(
        rttText.stdout.trim(),
        /^rtt samples \d+ min [\d.]+ mean [\d.]+ p50 [\d.]+ p90 [\d.]+ p99 [\d.]+ p99\.9 [\d.]+ max [\d.]+ \(µs\)$/,
      );
      const rttJson = await ustack(["stats", "--control", control, "--rtt", "--json", "--reset"]);
      const rtt = JSON.parse(rttJson.stdout).rtt;
      assert.ok(rtt.count >= 5, rttJson.stdout);
      assert.ok(rtt.minUs > 0 && rtt.minUs <= rtt.p50Us && rtt.p50Us <= rtt.p99Us, rttJson.stdout);
      assert.ok(rtt.p99Us <= rtt.maxUs && rtt.maxUs < 200_000, rttJson.stdout);
      const cleared = await queryControl(control, { cmd: "rtt" });
      assert.equal(cleared.rtt.count, 0, "--reset cleared the distribution");
      assert.equal((await ustack(["stats", "--control", control, "--reset"])).code, 2);
      await assert.rejects(queryControl(control, { cmd: "nope" }), /unknown command "nope"/);
      const bad = await ustack(["stats"]);
      assert.equal(bad.code, 2, "no --control is a usage error");
    } finally {
      try {
        held.kill();
      } catch { /* gone */ }
      await held.status;
      assert.equal(await serve.stop(), 0);
      await Deno.remove(dir, { recursive: true });
    }
    await assert.rejects(Deno.lstat(control), Deno.errors.NotFound, "socket file removed at exit");
  });
}, { tools: ["curl", "socat"] });
