// A stack per core against the kernel: two workers on one veth, steered by an AF_PACKET fanout
// group. Kernel clients' connections spread over both workers and all succeed byte for byte;
// connections the workers open themselves come back to them; a worker that dies is reported
// and the other keeps its connections and takes new ones.

import assert from "node:assert/strict";
import { flowWorker, Runtime, type RuntimeWorkers } from "../../mod.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { runCommand, type VethPair, withVethPair } from "../harness/netns.ts";
import { cliCommand, startServe } from "../harness/ustack_cli.ts";
import { setNetdevFeatures } from "../../ffi/ethtool.ts";
import { withNetns } from "../../ffi/netns.ts";
import { close, socket } from "../../ffi/syscalls.ts";
import type { WorkersAppData } from "../harness/workers_app.ts";

const APP = new URL("../harness/workers_app.ts", import.meta.url);
const HTTP_PORT = 8080;

function startWorkers(
  pair: VethPair,
  data: WorkersAppData,
  addr = [`${pair.stackAddr}/${pair.prefixLen}`],
): Promise<RuntimeWorkers> {
  return Runtime.start({
    if: pair.stackIf,
    netns: pair.stackNs,
    addr,
    workers: 2,
    workerModule: APP,
    workerData: data,
  });
}

/** SHA-256 (hex) of `copies` bodies of `GET /bytes/n` (byte i is i % 251). */
async function patternSha(n: number, copies: number): Promise<string> {
  const all = new Uint8Array(n * copies);
  for (let c = 0; c < copies; c++) for (let i = 0; i < n; i++) all[c * n + i] = i % 251;
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Fetch a globbed URL (`…?[1-N]`, the last of `curlArgs`) with one curl and return the SHA-256
 * of its bodies, concatenated in the glob's order, and curl's status. Each body goes to a file
 * of its own (`#1`): with `--parallel`, bodies written to one stdout interleave wherever one
 * arrives in more than one piece (a loaded machine), which changes the hash though no byte is
 * wrong.
 */
async function curlSha(pair: VethPair, curlArgs: string[]): Promise<{ sha: string; err: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ustack-workers-curl-" });
  try {
    const quoted = curlArgs.map((a) => `'${a}'`).join(" ");
    const r = await pair.run([
      "bash",
      "-c",
      `set -o pipefail; curl -sS --output-dir '${dir}' -o '#1' ${quoted} && ` +
      `ls '${dir}' | sort -n | sed 's|^|${dir}/|' | xargs cat | sha256sum`,
    ], { timeoutMs: 90_000 });
    return { sha: r.stdout.split(" ")[0], err: `${r.code} ${r.stderr}` };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A local port from `from` on whose flows to HTTP_PORT the steering picks `worker` of `n`. */
function portFor(worker: number, n: number, from: number): number {
  for (let p = from;; p++) if (flowWorker(p, HTTP_PORT, n) === worker) return p;
}

/** `GET URL/worker` from local port `port`: the body names the worker that answered. */
function curlWorker(pair: VethPair, url: string, port: number) {
  return pair.run(["curl", "-sS", "-m", "10", "--local-port", `${port}`, `${url}/worker`]);
}

interopTest(
  "workers: 2 stacks on one veth serve 200 kernel connections byte-exact, both take some",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const group = await startWorkers(pair, { httpPort: HTTP_PORT });
      try {
        const n = 200;
        const bytes = 1000;
        // One curl, 200 URLs, 20 at a time, each on its own connection (Connection: close).
        const r = await curlSha(pair, [
          "-m",
          "60",
          "--parallel",
          "--parallel-max",
          "20",
          "-H",
          "Connection: close",
          `http://${pair.stackAddr}:${HTTP_PORT}/bytes/${bytes}?[1-${n}]`,
        ]);
        assert.equal(r.sha, await patternSha(bytes, n), r.err);
        const c = await group.counters();
        const opens = c.workers.map((w) => w?.stack.tcp.PassiveOpens ?? 0);
        assert.ok(opens.every((x) => x > 0), `every worker took connections: ${opens}`);
        assert.equal(c.total.stack.tcp.PassiveOpens, opens[0] + opens[1]);
        assert.ok(c.total.stack.tcp.PassiveOpens >= n);
        assert.equal(c.total.app.App.Requests, n);
        // ARP is answered by the primary alone; the other worker learned the peer from it.
        assert.ok((c.workers[1]?.app.Neighbours.learnedIn ?? 0) > 0);
        // ICMP goes to the primary: ping works.
        const ping = await pair.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", pair.stackAddr]);
        assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      } finally {
        await group.stop();
      }
    });
  },
  { tools: ["curl", "ping"] },
);

/** Turn TCP segmentation offload of a veth end off (like `ethtool -K IF tso off`). */
function tsoOff(ns: string, ifname: string): void {
  const after = withNetns(ns, () => {
    const fd = socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
    try {
      return setNetdevFeatures(fd, ifname, {
        "tx-tcp-segmentation": false,
        "tx-tcp6-segmentation": false,
      });
    } finally {
      close(fd);
    }
  });
  assert.equal(after.get("tx-tcp-segmentation")?.active, false);
}

interopTest(
  "workers: the fanout group does not hand the workers' own transmissions back (both drivers)",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      // Without TSO on the device the kernel segments our super-segments in software (the
      // ring driver leaves the qdisc on for that); the segments have no socket, so only the
      // group's PACKET_FANOUT_FLAG_IGNORE_OUTGOING keeps them from coming back to the group.
      // (Frames a member sends whole are never looped back to its own group: skb_loop_sk.)
      tsoOff(pair.stackNs, pair.stackIf);
      for (const driver of ["af_packet", "af_packet_mmsg"] as const) {
        const group = await Runtime.start({
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: [`${pair.stackAddr}/${pair.prefixLen}`],
          driver,
          workers: 2,
          workerModule: APP,
          workerData: { httpPort: HTTP_PORT },
        });
        try {
          // 40 connections of 100 kB each from the stacks: thousands of wire segments sent.
          const bytes = 100_000;
          const r = await curlSha(pair, [
            "-m",
            "60",
            "--parallel",
            "-H",
            "Connection: close",
            `http://${pair.stackAddr}:${HTTP_PORT}/bytes/${bytes}?[1-40]`,
          ]);
          assert.equal(r.sha, await patternSha(bytes, 40), r.err);
          const c = await group.counters();
          for (const [i, w] of c.workers.entries()) {
            const d = w?.driver ?? {};
            // Bytes, not frames: a frame may be a super-segment of up to 64 KiB, so how many
            // frames carry a connection depends on its window. 400 kB is ≥ 270 wire segments
            // (each worker owns ~20 of the 40 connections; fewer than 4 is improbable).
            assert.ok(
              (d.txBytes ?? 0) > 400_000,
              `${driver} worker ${i} sent: ${JSON.stringify(d)}`,
            );
            // Without PACKET_FANOUT_FLAG_IGNORE_OUTGOING on the group every one of those frames
            // also came back to some worker's ring (PACKET_OUTGOING) and was skipped there.
            assert.equal(d.rxOutgoingSkipped, 0, `${driver} worker ${i}: ${JSON.stringify(d)}`);
          }
          assert.equal(group.ignoresOutgoing, true, driver);
        } finally {
          await group.stop();
        }
      }
    });
  },
  { tools: ["curl"] },
);

interopTest(
  "workers: connections and datagram flows each worker opens to kernel servers come back to it",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const echo = pair.spawn(
        ["socat", "TCP-LISTEN:9000,fork,reuseaddr,backlog=256", "EXEC:cat"],
        { stdout: "null", stderr: "null" },
      );
      const udpEcho = pair.spawn([
        "/usr/bin/python3",
        "-c",
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n" +
        `s.bind(("${pair.peerAddr}", 9001))\nwhile True:\n    d, a = s.recvfrom(65535)\n    s.sendto(d, a)`,
      ], { stdout: "null", stderr: "null" });
      try {
        const listening = (proto: "t" | "u", port: number) => async () =>
          (await pair.run(["ss", `-Hl${proto}n`, `sport = :${port}`])).stdout !== "";
        await waitFor(listening("t", 9000), { what: "the kernel echo server" });
        await waitFor(listening("u", 9001), { what: "the kernel UDP echo server" });
        const connections = 40;
        const sockets = 20;
        const group = await startWorkers(pair, {
          httpPort: HTTP_PORT,
          echo: { host: pair.peerAddr, port: 9000, connections, bytes: 20_000 },
          udpEcho: { host: pair.peerAddr, port: 9001, sockets },
        });
        try {
          const done = await waitFor(async () => {
            const c = await group.counters();
            const app = c.total.app.App;
            const tcpDone = app.EchoOk + app.EchoFailed >= 2 * connections;
            return tcpDone && app.UdpOk + app.UdpFailed >= 2 * sockets ? c : null;
          }, { what: "every echo connection to finish", timeoutMs: 30_000, intervalMs: 100 });
          for (const w of done.workers) {
            const app = w?.app.App;
            assert.equal(app?.EchoOk, connections, JSON.stringify(app));
            assert.equal(app?.EchoPortOther, 0);
            assert.equal(w?.stack.tcp.ActiveOpens, connections);
            // Datagrams from connected UDP sockets: the answers come back to the sender.
            assert.equal(app?.UdpOk, sockets, JSON.stringify(app));
            assert.equal(app?.UdpPortOther, 0);
          }
        } finally {
          await group.stop();
        }
      } finally {
        echo.kill("SIGTERM");
        udpEcho.kill("SIGTERM");
        await echo.status;
        await udpEcho.status;
      }
    });
  },
  { tools: ["socat"] },
);

interopTest(
  "workers: over IPv6 too, kernel connections reach both workers and theirs come back (NDP shared)",
  async () => {
    await withVethPair({}, async (pair) => {
      const echo = pair.spawn(
        ["socat", "TCP6-LISTEN:9000,fork,reuseaddr,backlog=256", "EXEC:cat"],
        { stdout: "null", stderr: "null" },
      );
      try {
        await waitFor(
          async () => (await pair.run(["ss", "-Hltn", "sport = :9000"])).stdout !== "",
          {
            what: "the kernel echo server",
          },
        );
        const connections = 20;
        const group = await startWorkers(pair, {
          httpPort: HTTP_PORT,
          echo: { host: pair.peerAddr6, port: 9000, connections, bytes: 10_000 },
        }, [`${pair.stackAddr6}/${pair.prefixLen6}`]);
        try {
          await group.addressesReady();
          const n = 60;
          const r = await curlSha(pair, [
            // A name for the address: URL globbing ([1-n]) and IPv6 brackets do not mix.
            "--resolve",
            `ustack6:${HTTP_PORT}:[${pair.stackAddr6}]`,
            "-m",
            "60",
            "--parallel",
            "-H",
            "Connection: close",
            `http://ustack6:${HTTP_PORT}/bytes/1000?[1-${n}]`,
          ]);
          assert.equal(r.sha, await patternSha(1000, n), r.err);
          const done = await waitFor(async () => {
            const c = await group.counters();
            const app = c.total.app.App;
            return app.EchoOk + app.EchoFailed >= 2 * connections ? c : null;
          }, { what: "every echo connection to finish", timeoutMs: 30_000, intervalMs: 100 });
          for (const w of done.workers) {
            assert.ok((w?.stack.tcp.PassiveOpens ?? 0) > 0, "every worker took connections");
            assert.equal(w?.app.App.EchoOk, connections, JSON.stringify(w?.app));
          }
        } finally {
          await group.stop();
        }
      } finally {
        echo.kill("SIGTERM");
        await echo.status;
      }
    });
  },
  { tools: ["curl", "socat"] },
);

interopTest(
  "workers: a worker that dies is reported; the other keeps its connections and takes new ones",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const group = await startWorkers(pair, { httpPort: HTTP_PORT });
      const exits: [number, string][] = [];
      group.onWorkerExit((i, why) => exits.push([i, why]));
      const url = `http://${pair.stackAddr}:${HTTP_PORT}`;
      const dir = await Deno.makeTempDir();
      const flag = `${dir}/go`;
      try {
        // A keep-alive connection on worker 0, held across worker 1's death.
        const p0 = portFor(0, 2, 41000);
        const script = [
          "import http.client, os, time",
          `c = http.client.HTTPConnection("${pair.stackAddr}", ${HTTP_PORT}, timeout=20,` +
          ` source_address=("0.0.0.0", ${p0}))`,
          "for i in range(2):",
          "    c.request('GET', '/worker'); r = c.getresponse(); print(r.read().decode(), flush=True)",
          "    if i == 0:",
          `        while not os.path.exists("${flag}"): time.sleep(0.02)`,
        ].join("\n");
        const held = pair.spawn(["/usr/bin/python3", "-c", script], {
          stdout: "piped",
          stderr: "piped",
        });
        const heldOut = new Response(held.stdout).text();
        const heldErr = new Response(held.stderr).text();
        // Worker 1 answers a flow steered to it, then crashes.
        const p1 = portFor(1, 2, 42000);
        const before = await pair.run([
          "curl",
          "-sS",
          "-m",
          "10",
          "--local-port",
          `${p1}`,
          `${url}/worker`,
        ]);
        assert.equal(before.stdout, "1", before.stderr);
        const crash = await pair.run([
          "curl",
          "-sS",
          "-m",
          "10",
          "--local-port",
          `${portFor(1, 2, p1 + 1)}`,
          `${url}/crash`,
        ]);
        assert.equal(crash.stdout, "crashing\n", crash.stderr);
        await waitFor(() => exits.length > 0, { what: "the worker's death reported" });
        assert.equal(exits[0][0], 1);
        assert.match(exits[0][1], /crashed on request/);
        assert.deepEqual(group.workers.map((w) => w.alive), [true, false]);
        assert.equal(group.primary, 0);
        // The held connection on worker 0 still works.
        await Deno.writeTextFile(flag, "");
        const status = await held.status;
        assert.equal(status.code, 0, await heldErr);
        assert.equal(await heldOut, "0\n0\n");
        // New connections, on ports steered to worker 0 before and to worker 1 before: all
        // answered by worker 0 now.
        for (const p of [portFor(0, 2, 43000), portFor(1, 2, 43000), portFor(1, 2, 44000)]) {
          const r = await curlWorker(pair, url, p);
          assert.equal(r.stdout, "0", `port ${p}: ${r.stderr}`);
        }
        const many = await curlSha(pair, [
          "-m",
          "30",
          "-H",
          "Connection: close",
          `${url}/bytes/1000?[1-50]`,
        ]);
        assert.equal(many.sha, await patternSha(1000, 50), many.err);
        const c = await group.counters();
        assert.equal(c.workers[1], null);
        assert.ok(c.total.stack.tcp.PassiveOpens >= 54);
      } finally {
        await group.stop();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
  { tools: ["curl"] },
);

interopTest(
  "workers: serve --workers 2 runs every service in both; stats and ss sum over the workers",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const dir = await Deno.makeTempDir();
      const control = `${dir}/ustack.sock`;
      const serve = await startServe(pair, [
        "--workers",
        "2",
        "--http",
        "80",
        "--tcp-echo",
        "7",
        "--udp-echo",
        "7",
        "--control",
        control,
        "--json",
      ], ["--allow-net"]);
      try {
        const r = await curlSha(pair, [
          "-m",
          "30",
          "-H",
          "Connection: close",
          `http://${pair.stackAddr}/bytes/1000?[1-40]`,
        ]);
        assert.equal(r.sha, await patternSha(1000, 40), r.err);
        const echo = await pair.run([
          "sh",
          "-c",
          `printf 'hello workers' | socat -t 5 - TCP:${pair.stackAddr}:7`,
        ]);
        assert.equal(echo.stdout, "hello workers", echo.stderr);
        const stats = await runCommand(
          cliCommand(["stats", "--control", control], ["--allow-net"]),
          {
            timeoutMs: 30_000,
          },
        );
        assert.equal(stats.code, 0, stats.stderr);
        const value = (name: string) => {
          const l = stats.stdout.split("\n").find((x) => x.startsWith(name + " "));
          return l === undefined ? undefined : Number(l.trim().split(/\s+/)[1]);
        };
        assert.ok(value("TcpPassiveOpens")! >= 41, stats.stdout);
        assert.equal(value("Http80Requests"), 40);
        const ss = await runCommand(
          cliCommand(["ss", "--control", control, "-l"], ["--allow-net"]),
          {
            timeoutMs: 30_000,
          },
        );
        assert.equal(ss.code, 0, ss.stderr);
        // The RTT samples of both workers in one distribution.
        const rtt = await runCommand(
          cliCommand(["stats", "--control", control, "--rtt", "--json"], ["--allow-net"]),
          { timeoutMs: 30_000 },
        );
        assert.equal(rtt.code, 0, rtt.stderr);
        assert.ok(JSON.parse(rtt.stdout).rtt.count >= 41, rtt.stdout);
        // Every worker listens: two listeners per TCP port.
        assert.equal(
          ss.stdout.split("\n").filter((l) => /LISTEN.*:80\b/.test(l)).length,
          2,
          ss.stdout,
        );
      } finally {
        assert.equal(await serve.stop(), 0);
        await Deno.remove(dir, { recursive: true });
      }
      const final = serve.statsEvent();
      assert.ok(final !== undefined, serve.lines.join("\n"));
      assert.ok(final.tcp.PassiveOpens >= 41);
      const per = serve.lines.find((l) => l.startsWith('{"event":"workers"'));
      const workers = JSON.parse(per!).workers as { passiveOpens: number }[];
      assert.equal(workers.length, 2);
      assert.ok(workers.every((w) => w.passiveOpens > 0), per);
    });
  },
  { tools: ["curl", "socat"] },
);

interopTest(
  "workers: a module that fails in a worker fails the start; a new group starts afterwards",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const start = () =>
        Runtime.start({
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: `${pair.stackAddr}/${pair.prefixLen}`,
          workers: 2,
          workerModule: new URL("../harness/no_such_module.ts", import.meta.url),
        });
      await assert.rejects(start(), /worker 0:.*no_such_module/);
      // The interface is free again: a group starts on it and serves.
      const group = await startWorkers(pair, { httpPort: HTTP_PORT });
      try {
        const r = await pair.run([
          "curl",
          "-sS",
          "-m",
          "10",
          `http://${pair.stackAddr}:${HTTP_PORT}/worker`,
        ]);
        assert.match(r.stdout, /^[01]$/, r.stderr);
      } finally {
        await group.stop();
      }
      await assert.rejects(
        Runtime.start({ if: pair.stackIf, workers: 0, workerModule: "x" }),
        /--workers 0/,
      );
    });
  },
  { tools: ["curl"] },
);

interopTest(
  "workers: when the primary is killed, the next one answers ARP, ping and every flow",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const group = await startWorkers(pair, { httpPort: HTTP_PORT });
      const exits: number[] = [];
      group.onWorkerExit((i) => exits.push(i));
      const url = `http://${pair.stackAddr}:${HTTP_PORT}`;
      try {
        const first = await pair.run(["curl", "-sS", "-m", "10", `${url}/worker`]);
        assert.equal(first.code, 0, first.stderr);
        group.terminate(0);
        assert.deepEqual(exits, [0]);
        assert.equal(group.primary, 1);
        // The peer forgets our MAC: its ARP request now reaches worker 1, which answers.
        await pair.run(["ip", "neigh", "flush", "dev", pair.peerIf]);
        const ping = await pair.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", pair.stackAddr]);
        assert.equal(ping.code, 0, ping.stdout + ping.stderr);
        for (const p of [portFor(0, 2, 45000), portFor(1, 2, 45000), portFor(0, 2, 46000)]) {
          const r = await curlWorker(pair, url, p);
          assert.equal(r.stdout, "1", `port ${p}: ${r.stderr}`);
        }
        const c = await group.counters();
        assert.equal(c.workers[0], null);
        assert.ok((c.workers[1]?.stack.arp.OutReplies ?? 0) > 0, "worker 1 answered ARP");
      } finally {
        await group.stop();
      }
    });
  },
  { tools: ["curl", "ping"] },
);
