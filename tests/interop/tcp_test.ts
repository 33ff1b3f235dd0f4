// Kernel interop for TCP: the kernel's curl, socat and nftables against `ustack serve` (and the
// stack connecting out to a kernel server), byte-exact, also with loss on the wire.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { curlSha, expectedPatternSha } from "../harness/byte_pattern.ts";
import { interopTest } from "../harness/interop.ts";
import { ECHO_ONCE, echoThrough } from "../harness/kernel_echo.ts";
import { terminate, withVethPair } from "../harness/netns.ts";
import { runCli, spawnCli, startServe } from "../harness/ustack_cli.ts";
import { assertCleanCapture, startCapture, tcpFrameSizes } from "../harness/capture.ts";
import { analyze as analyzeTxTrace } from "../../bench/tx_trace.ts";
import { readStackTrace } from "../../bench/cc_trace.ts";

const SERVICES = ["--http", "80", "--tcp-echo", "7", "--discard", "9", "--json"];

interopTest(
  "curl downloads /bytes/10000000 byte-exact; GET / and a malformed request",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, SERVICES);
      try {
        assert.equal(
          await curlSha(pair, `http://${pair.stackAddr}/bytes/10000000`),
          await expectedPatternSha(pair, 10_000_000),
        );
        const page = await pair.run(["curl", "-sS", "-i", "-m", "10", `http://${pair.stackAddr}/`]);
        assert.match(page.stdout, /^HTTP\/1\.1 200 OK/);
        assert.match(page.stdout, /Hello from ustack/);
        // Two requests on one keep-alive connection.
        const two = await pair.run([
          "curl",
          "-sS",
          "-m",
          "10",
          "-o",
          "/dev/null",
          "-o",
          "/dev/null",
          "-w",
          "%{num_connects}\\n",
          `http://${pair.stackAddr}/bytes/100`,
          `http://${pair.stackAddr}/bytes/200`,
        ]);
        assert.deepEqual(
          two.stdout.trim().split("\n"),
          ["1", "0"],
          "second request reused the connection",
        );
        const bad = await pair.run([
          "sh",
          "-c",
          `printf 'BLAH\\r\\n\\r\\n' | socat -t 5 - TCP:${pair.stackAddr}:80`,
        ]);
        assert.match(bad.stdout, /^HTTP\/1\.1 400 Bad Request/);
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.ok(stats.tcp.PassiveOpens >= 3);
    });
  },
  { tools: ["curl", "socat", "python3"] },
);

interopTest("socat pushes 200 MB through --tcp-echo and back byte-exact", async () => {
  await withVethPair({}, async (pair) => {
    const serve = await startServe(pair, SERVICES);
    const dir = await Deno.makeTempDir();
    try {
      const r = await pair.run([
        "sh",
        "-c",
        `set -e; cd ${dir}; head -c 200000000 /dev/urandom > in; ` +
        `socat -t 60 -T 60 TCP:${pair.stackAddr}:7 - < in > out; ` +
        `sha256sum < in; sha256sum < out; stat -c %s out`,
      ], { timeoutMs: 240_000 });
      assert.equal(r.code, 0, r.stderr);
      const [a, b, size] = r.stdout.trim().split("\n");
      assert.equal(size, "200000000");
      assert.equal(a, b);
    } finally {
      await serve.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}, { tools: ["socat"] });

interopTest("the stack connects out to a kernel echo server, data both ways", async () => {
  await withVethPair({ ipv6: false }, async (pair) => {
    const server = pair.spawn(["python3", "-c", ECHO_ONCE, "5000"], {
      stdout: "null",
      stderr: "null",
    });
    try {
      await pair.waitForListener("tcp", 5000);
      await using rt = await Runtime.start({
        if: pair.stackIf,
        netns: pair.stackNs,
        addr: `${pair.stackAddr}/24`,
      });
      const conn = await rt.connect({ hostname: pair.peerAddr, port: 5000 });
      const data = Uint8Array.from({ length: 3_000_000 }, (_, i) => (i * 31) & 0xff);
      const back = await echoThrough(conn, data);
      assert.equal(back.length, data.length);
      assert.deepEqual(back, data);
      const info = conn.info();
      assert.ok(info.srttMs >= 0 && info.bytesAcked >= data.length);
      conn.close();
    } finally {
      try {
        server.kill();
      } catch { /* gone */ }
      await server.status;
    }
  });
}, { tools: ["python3", "ss"] });

/**
 * A kernel sink: accept one connection on the port in argv[1], read nothing for 0.3 s (so the
 * sender's data waits in its send buffer behind a full receive window), then read to EOF (or
 * 10 s of silence) and print the byte count.
 */
const SINK_ONCE = `
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); time.sleep(0.3); c.settimeout(10); n = 0
while True:
    try:
        b = c.recv(1 << 16)
    except (socket.timeout, OSError):
        break
    if not b: break
    n += len(b)
print(n, flush=True)
`;

interopTest(
  "data written just before the runtime stops still reaches the kernel peer",
  async () => {
    // 2 MB is far beyond the initial congestion window: when write() returns most of it is only
    // in the send buffer, and stop() must let it leave (and the FIN be acknowledged) first.
    await withVethPair({ ipv6: false }, async (pair) => {
      const sink = pair.spawn(["python3", "-c", SINK_ONCE, "5001"], {
        stdout: "piped",
        stderr: "piped",
      });
      try {
        await pair.waitForListener("tcp", 5001);
        const rt = await Runtime.start({
          if: pair.stackIf,
          netns: pair.stackNs,
          addr: `${pair.stackAddr}/24`,
        });
        try {
          const conn = await rt.connect({ hostname: pair.peerAddr, port: 5001 });
          const data = new Uint8Array(500_000).fill(0x5a);
          for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
          conn.close();
        } finally {
          await rt.stop();
        }
        const out = await sink.output();
        assert.equal(new TextDecoder().decode(out.stdout).trim(), "500000");
      } finally {
        try {
          sink.kill();
        } catch { /* gone */ }
      }
    });
  },
  { tools: ["python3", "ss"] },
);

interopTest("a SYN to a closed port gets a RST at once, as RFC 9293 §3.10.7.1 says", async () => {
  await withVethPair({}, async (pair) => {
    const serve = await startServe(pair, SERVICES);
    const cap = await startCapture(pair, {
      filter: "tcp port 81",
      fields: ["tcp.flags.str", "tcp.seq_raw", "tcp.ack_raw"],
    });
    try {
      const t0 = performance.now();
      const r = await pair.run(["curl", "-sS", "-m", "5", `http://${pair.stackAddr}:81/`]);
      const ms = performance.now() - t0;
      assert.equal(r.code, 7, r.stderr); // curl: couldn't connect
      assert.match(r.stderr, /refused|couldn't connect/i);
      assert.ok(ms < 1000, `refused after ${ms} ms`);
      const [syn, rst] = await cap.waitForFrames(2);
      assert.match(syn[0], /S/);
      assert.match(rst[0], /R/);
      assert.match(rst[0], /A/);
      // No ACK on the SYN: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN counting as one.
      assert.equal(Number(rst[1]), 0);
      assert.equal(Number(rst[2]), (Number(syn[1]) + 1) >>> 0);
    } finally {
      await cap.stop();
      await serve.stop();
    }
  });
}, { tools: ["curl", "tshark", "python3"] });

interopTest(
  "with nftables dropping 2 % of packets the download still completes byte-exact",
  async () => {
    await withVethPair({}, async (pair) => {
      const nft = await pair.run(["nft", "-f", "-"], {
        stdin: `table inet loss {
  chain in { type filter hook input priority 0; numgen random mod 100 < 2 drop; }
  chain out { type filter hook output priority 0; numgen random mod 100 < 2 drop; }
}\n`,
      });
      assert.equal(nft.code, 0, nft.stderr);
      const serve = await startServe(pair, SERVICES);
      try {
        assert.equal(
          await curlSha(pair, `http://${pair.stackAddr}/bytes/20000000`, 120),
          await expectedPatternSha(pair, 20_000_000),
        );
      } finally {
        await serve.stop();
      }
      const stats = serve.statsEvent()!;
      assert.ok(stats.tcp.RetransSegs > 0, "loss made the stack retransmit");
    });
  },
  { tools: ["curl", "nft", "python3"] },
);

interopTest(
  "tshark finds no malformed packet and no bad checksum in a TCP session's capture",
  async () => {
    await withVethPair({}, async (pair) => {
      const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
      try {
        const serve = await startServe(pair, [...SERVICES, "--pcap", pcap]);
        await curlSha(pair, `http://${pair.stackAddr}/bytes/2000000`);
        await serve.stop();
        // Checksums left partial by offloads (ours and the kernel peer's) are finished in the
        // recording (PcapDriver finishChecksums), so every frame must verify.
        await assertCleanCapture(pcap);
        const lens = await tcpFrameSizes(pcap, pair.stackAddr);
        assert.ok(lens.length > 10, `only ${lens.length} frames from the stack`);
        // af_packet offloads segmentation by default: the stack hands over super-segments.
        assert.ok(lens.some((l) => l > 1514), "TSO super-segments were handed to the kernel");
      } finally {
        await Deno.remove(pcap).catch(() => {});
      }
    });
  },
  { tools: ["curl", "tshark"] },
);

interopTest(
  "uperf TCP: client into a kernel sink, and a kernel sender into uperf server",
  async () => {
    await withVethPair({}, async (pair) => {
      // fork: one child per connection (-P 2), each appending what it reads to one file.
      const sinkFile = await Deno.makeTempFile({ suffix: ".sink" });
      const sink = pair.spawn([
        "socat",
        "-u",
        "TCP-LISTEN:5201,reuseaddr,fork",
        `OPEN:${sinkFile},append`,
      ], { stdout: "null", stderr: "null" });
      await pair.waitForListener("tcp", 5201);
      const link = ["--if", pair.stackIf, "--addr", `${pair.stackAddr}/24`];
      let summary: { event: string; gbps: number; bytes: number } = {
        event: "",
        gbps: 0,
        bytes: 0,
      };
      // --trace: the loop's records of the measured seconds, read back by bench/tx_trace.ts.
      const traceDir = await Deno.makeTempDir({ prefix: "uperf-trace-" });
      const traceBase = `${traceDir}/client`;
      try {
        const c = await runCli(pair, [
          "uperf",
          "client",
          pair.peerAddr,
          "-t",
          "2",
          "-P",
          "2",
          "--json",
          "--trace",
          traceBase,
          "--cc-trace",
          `${traceDir}/cc`,
          ...link,
        ]);
        assert.equal(c.code, 0, c.stdout + c.stderr);
        const lines = c.stdout.trim().split("\n").map((l) => JSON.parse(l));
        summary = lines.at(-1);
        assert.equal(summary.event, "summary");
        assert.ok(summary.gbps > 0 && summary.bytes > 0);
        assert.ok(lines.some((l) => l.event === "interval"));
        const t = await analyzeTxTrace(traceBase);
        assert.ok(t.ticks > 0 && t.sendingTicks > 0, JSON.stringify(t));
        assert.ok(t.batches > 0, "the ACKs' batches, with the kernel's receive stamps");
        assert.ok(t.transmitUs > 0 && t.framesPerTransmit > 0);
        // --cc-trace: the first stream's window at every ACK, read back by bench/cc_trace.ts.
        const w = readStackTrace(`${traceDir}/cc`);
        assert.ok(w.length > 100, `${w.length} per-ACK records`);
        assert.ok(w.every((r) => r.cwnd >= 1 && r.t >= w[0].t), "cwnd and times");
      } finally {
        await Deno.remove(traceDir, { recursive: true });
      }
      // The client waited for its data to be acknowledged; once no connection to the sink is
      // left open, every child has written what it read.
      await pair.waitForNoConnections(5201);
      await terminate(sink);
      const received = (await Deno.stat(sinkFile)).size;
      await Deno.remove(sinkFile);
      assert.equal(
        received,
        summary.bytes,
        "every byte written was delivered (client waited for ACKs)",
      );
      await sink.status;

      const server = spawnCli(pair, ["uperf", "server", "-t", "2", ...link]);
      await server.waitForLine(/^ready: uperf server on TCP port 5201/);
      const send = await pair.run([
        "sh",
        "-c",
        `head -c 50000000 /dev/zero | socat -u - TCP:${pair.stackAddr}:5201`,
      ]);
      assert.equal(send.code, 0, send.stderr);
      assert.equal(await server.exited(), 0);
      const sum = server.lines.find((l) => l.startsWith("summary:"));
      assert.match(sum ?? "", /^summary: received \d+ packets, 50\.00 MB in /);
    });
  },
  { tools: ["socat", "ss"] },
);

interopTest(
  "500 kernel HTTP connections, 50 at a time, all answered; none left behind",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, SERVICES);
      try {
        // "-o /dev/null" applies to one URL each.
        const urls = Array.from(
          { length: 500 },
          (_, i) => ["-o", "/dev/null", `http://${pair.stackAddr}/bytes/${i}`],
        ).flat();
        const r = await pair.run([
          "curl",
          "-sS",
          "--parallel",
          "--parallel-max",
          "50",
          "-H",
          "Connection: close", // one connection per request
          "-w",
          "%{http_code} %{size_download}\\n",
          ...urls,
        ], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.trim().split("\n");
        assert.equal(lines.length, 500);
        const sizes = lines.map((l) => {
          const [code, size] = l.split(" ");
          assert.equal(code, "200");
          return Number(size);
        }).sort((a, b) => a - b);
        assert.deepEqual(sizes, Array.from({ length: 500 }, (_, i) => i));
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.tcp.PassiveOpens, 500);
      assert.equal(stats.tcp.ListenOverflows, 0);
    });
  },
  { tools: ["curl"] },
);
