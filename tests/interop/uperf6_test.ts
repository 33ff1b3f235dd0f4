// Kernel interop for `ustack uperf` over IPv6: the TCP client into a kernel sink on the peer's
// global address (every byte written arrives), the UDP client to the peer's link-local address
// with a `%IF` zone, and a kernel sender into the uperf server over IPv6.

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { terminate, type VethPair, withVethPair } from "../harness/netns.ts";
import { runCli, spawnCli } from "../harness/ustack_cli.ts";

/** The stack's link options: its interface and IPv6 address. */
function link6(pair: VethPair): string[] {
  return ["--if", pair.stackIf, "--addr", `${pair.stackAddr6}/${pair.prefixLen6}`];
}

interopTest(
  "uperf over IPv6: TCP client into a kernel sink, UDP client to a link-local %IF, kernel into the server",
  async () => {
    await withVethPair({}, async (pair) => {
      const sinkFile = await Deno.makeTempFile({ suffix: ".sink" });
      try {
        const sink = pair.spawn([
          "socat",
          "-u",
          "TCP6-LISTEN:5201,reuseaddr,fork",
          `OPEN:${sinkFile},append`,
        ], { stdout: "null", stderr: "null" });
        await pair.waitForListener("tcp", 5201);
        const c = await runCli(pair, [
          "uperf",
          "client",
          pair.peerAddr6,
          "-t",
          "1",
          "-P",
          "2",
          "--json",
          ...link6(pair),
        ]);
        assert.equal(c.code, 0, c.stdout + c.stderr);
        const summary = JSON.parse(c.stdout.trim().split("\n").at(-1)!);
        assert.equal(summary.event, "summary");
        assert.ok(summary.bytes > 0, JSON.stringify(summary));
        await pair.waitForNoConnections(5201);
        await terminate(sink);
        assert.equal((await Deno.stat(sinkFile)).size, summary.bytes, "every byte arrived");

        // UDP to the peer's link-local address, the zone naming the stack's interface.
        const peerLl = await pair.peerLinkLocal();
        const udpSink = pair.spawn(["socat", "-u", "UDP6-RECV:5202", "OPEN:/dev/null"], {
          stdout: "null",
          stderr: "null",
        });
        await pair.waitForListener("udp", 5202);
        const u = await runCli(pair, [
          "uperf",
          "client",
          `${peerLl}%${pair.stackIf}`,
          "--udp",
          "-l",
          "1000",
          "-t",
          "1",
          "-p",
          "5202",
          "--json",
          ...link6(pair),
        ]);
        assert.equal(u.code, 0, u.stdout + u.stderr);
        const us = JSON.parse(u.stdout.trim().split("\n").at(-1)!);
        assert.equal(us.event, "summary");
        assert.ok(us.packets > 0, JSON.stringify(us));
        await terminate(udpSink);
      } finally {
        await Deno.remove(sinkFile).catch(() => {});
      }

      const server = spawnCli(pair, ["uperf", "server", "-t", "2", ...link6(pair)]);
      await server.waitForLine(/^ready: uperf server on TCP port 5201/);
      const send = await pair.run([
        "sh",
        "-c",
        `head -c 20000000 /dev/zero | socat -u - TCP6:[${pair.stackAddr6}]:5201`,
      ]);
      assert.equal(send.code, 0, send.stderr);
      assert.equal(await server.exited(), 0);
      const sum = server.lines.find((l) => l.startsWith("summary:"));
      assert.match(sum ?? "", /^summary: received \d+ packets, 20\.00 MB in /);
    });
  },
  { tools: ["socat", "ss"] },
);
