// Kernel interop for UDP: the `ustack` CLI (`serve --udp-echo`, `uperf --udp`) on one end of a
// veth pair, kernel sockets (socat) on the other. Also the CLI's usage errors, which need no
// privileges.

import assert from "node:assert/strict";
import { AfPacketDriver } from "../../drivers/af_packet.ts";
import { withNetns } from "../../ffi/netns.ts";
import { interopTest, waitFor } from "../harness/interop.ts";
import { runCommand, terminate, type VethPair, withVethPair } from "../harness/netns.ts";
import { cliCommand, runCli, spawnCli, startServe } from "../harness/ustack_cli.ts";

/** The link options that put the CLI on the pair's stack end. */
function link(pair: VethPair): string[] {
  return ["--if", pair.stackIf, "--addr", `${pair.stackAddr}/${pair.prefixLen}`];
}

/** Random bytes (getRandomValues takes at most 65,536 bytes per call). */
function randomBytes(len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

/**
 * A kernel UDP socket sends stdin as one datagram to `argv[1]:argv[2]` and writes the first
 * datagram that comes back to stdout (waiting up to 10 s, returning as soon as it arrives).
 */
const ROUND_TRIP = `
import socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(data, (sys.argv[1], int(sys.argv[2])))
sys.stdout.buffer.write(s.recv(65535))
`;

/** Send `data` as one datagram from a kernel socket to the stack's `port`; return the answer. */
async function kernelRoundTrip(
  pair: VethPair,
  port: number,
  data: Uint8Array,
): Promise<Uint8Array> {
  const input = await Deno.makeTempFile({ suffix: ".in" });
  const output = `${input}.out`;
  try {
    await Deno.writeFile(input, data);
    const r = await pair.run([
      "sh",
      "-c",
      `python3 -c "$0" ${pair.stackAddr} ${port} < ${input} > ${output}`,
      ROUND_TRIP,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return await Deno.readFile(output);
  } finally {
    await Deno.remove(input).catch(() => {});
    await Deno.remove(output).catch(() => {});
  }
}

interopTest(
  "serve --udp-echo: kernel datagrams of 1, 1472 and 4000 bytes come back byte-exact",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, ["--udp-echo", "7", "--udp-echo", "5007", "--json"]);
      const ready = JSON.parse(serve.lines[0]);
      assert.deepEqual(ready.services, ["udp-echo/7", "udp-echo/5007"]);
      try {
        // 1472 fills a 1500-byte frame; 4000 is fragmented by the kernel both ways (UFO).
        for (const [port, len] of [[7, 1], [7, 1472], [5007, 4000]]) {
          const data = randomBytes(len);
          const back = await kernelRoundTrip(pair, port, data);
          assert.equal(back.length, len, `echo of ${len} bytes on port ${port}`);
          assert.deepEqual(back, data);
        }
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent() as any;
      assert.deepEqual(stats.services["udp-echo/7"], {
        InDatagrams: 2,
        InBytes: 1473,
        OutDatagrams: 2,
        OutErrors: 0,
      });
      assert.equal(stats.services["udp-echo/5007"].OutDatagrams, 1);
      assert.equal(stats.udp.InDatagrams, 3);
      assert.equal(stats.udp.OutDatagrams, 3);
      assert.equal(stats.ip.ReasmOKs, 1);
      // The 4000-byte answer leaves as one UFO frame (the af_packet default): the kernel
      // fragments it, the stack creates no fragment.
      assert.equal(stats.ip.FragCreates, 0);
    });
  },
  { tools: ["python3"] },
);

interopTest(
  "serve --udp-echo at MTU 9000: an 8900-byte kernel datagram comes back byte-exact",
  async () => {
    await withVethPair({ mtu: 9000 }, async (pair) => {
      const serve = await startServe(pair, ["--udp-echo", "7", "--json"]);
      try {
        for (const len of [8900, 1]) {
          const data = randomBytes(len);
          const back = await kernelRoundTrip(pair, 7, data);
          assert.equal(back.length, len);
          assert.deepEqual(back, data);
        }
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.ip.FragCreates, 0, "8900 + 28 fits a 9000-byte MTU");
      assert.equal(stats.udp.OutDatagrams, 2);
    });
  },
  { tools: ["python3"] },
);

interopTest(
  "a datagram to an unbound port makes a connected kernel socket see ECONNREFUSED",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, ["--udp-echo", "7", "--json"]);
      try {
        // socat's UDP address is a connected socket: the port unreachable fails its next read.
        const r = await pair.run(["socat", "-t", "2", "-", `UDP:${pair.stackAddr}:9`], {
          stdin: "anyone there?\n",
        });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Connection refused/);
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const stats = serve.statsEvent()!;
      assert.equal(stats.udp.NoPorts, 1);
      assert.equal(stats.icmp.OutDestUnreachs, 1);
    });
  },
  { tools: ["socat", "ss"] },
);

interopTest("uperf client --udp sends to a kernel UDP socket and prints its rate", async () => {
  await withVethPair({}, async (pair) => {
    const sinkFile = await Deno.makeTempFile({ suffix: ".sink" });
    try {
      // A plain kernel sink: every datagram's payload is appended to the file.
      const sink = pair.spawn([
        "socat",
        "-u",
        "-b",
        "65536",
        "UDP-RECV:5201",
        `OPEN:${sinkFile},trunc`,
      ]);
      await pair.waitForListener("udp", 5201);
      const len = 1000;
      const r = await runCli(pair, [
        "uperf",
        "client",
        pair.peerAddr,
        "--udp",
        "-l",
        String(len),
        "-t",
        "1",
        "-p",
        "5201",
        ...link(pair),
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.match(lines[0], /^uperf client: 1000-byte UDP datagrams from 198\.18\.0\.2:\d+ to/);
      assert.match(lines[1], /^\[ {2}1\.00s\] \d+\.\d+ Gbit\/s \d+ pkt\/s$/);
      const summary = lines.at(-1)!;
      const m =
        /^summary: sent (\d+) packets, [\d.]+ (?:[kMG]B|B) in 1\.00 s, (\d+\.\d+) Gbit\/s, (\d+) pkt\/s$/
          .exec(summary);
      assert.ok(m, summary);
      const sent = Number(m[1]);
      assert.ok(sent > 100, `sent ${sent}`);
      assert.ok(Number(m[2]) > 0 && Number(m[3]) > 0, summary);
      // The client has exited, so every datagram reached the kernel: wait until socat has
      // read them all (its socket's receive queue is empty) before stopping it.
      await waitFor(async () => {
        const q = await pair.run(["ss", "-Hlun", "sport = :5201"]);
        return q.stdout.trim().split(/\s+/)[1] === "0";
      }, { what: "the kernel sink to drain its receive queue" });
      await terminate(sink);
      const got = await Deno.readFile(sinkFile);
      assert.ok(got.length > 0, "the kernel sink received datagrams");
      assert.equal(got.length % len, 0);
      assert.ok(got.length / len <= sent);
      for (let i = 0; i < len; i++) assert.equal(got[i], i & 0xff);
      // --json: one object per line, the summary's numbers consistent.
      const j = await runCli(pair, [
        "uperf",
        "client",
        pair.peerAddr,
        "--udp",
        "-l",
        "1472",
        "-t",
        "1",
        "-p",
        "5202",
        "--json",
        ...link(pair),
      ]);
      assert.equal(j.code, 0, j.stdout + j.stderr);
      const events = j.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(events[0].event, "start");
      assert.ok(events.some((e) => e.event === "interval" && e.end === 1));
      const s = events.at(-1);
      assert.equal(s.event, "summary");
      assert.equal(s.role, "client");
      assert.equal(s.bytes, s.packets * 1472);
      assert.equal(s.seconds, 1);
      assert.ok(s.gbps > 0 && s.pps > 0, JSON.stringify(s));
    } finally {
      await Deno.remove(sinkFile).catch(() => {});
    }
  });
}, { tools: ["socat", "ss"] });

interopTest(
  "uperf server --udp counts what a kernel sender sends; stops when idle or at -t",
  async () => {
    await withVethPair({}, async (pair) => {
      const count = 300;
      const len = 1200;
      const input = await Deno.makeTempFile({ suffix: ".src" });
      try {
        await Deno.writeFile(input, new Uint8Array(count * len));
        const server = spawnCli(pair, ["uperf", "server", "--udp", "-p", "6001", ...link(pair)]);
        await server.waitForLine(/^ready: uperf server on UDP port 6001/);
        // socat reads the file in -b sized blocks: exactly `count` datagrams of `len` bytes.
        const r = await pair.run([
          "socat",
          "-u",
          "-b",
          String(len),
          `OPEN:${input}`,
          `UDP:${pair.stackAddr}:6001`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await server.exited(), 0, server.errors.join("\n"));
        const summary = server.lines.at(-1)!;
        const m =
          /^summary: received (\d+) packets, [\d.]+ (?:[kMG]B|B) in \d+\.\d{2} s, [\d.]+ Gbit\/s, \d+ pkt\/s$/
            .exec(summary);
        assert.ok(m, server.lines.join("\n"));
        const got = Number(m[1]);
        assert.ok(got > 0 && got <= count, `received ${got} of ${count}`);
        // The same with --json and -t 1 against a sender that keeps going: stopped by time.
        const timed = spawnCli(pair, [
          "uperf",
          "server",
          "--udp",
          "-p",
          "6002",
          "-t",
          "1",
          "--json",
          ...link(pair),
        ]);
        await timed.waitForLine(/"event":"ready"/);
        const sender = pair.spawn([
          "timeout",
          "10",
          "socat",
          "-u",
          "-b",
          "1000",
          "OPEN:/dev/zero",
          `UDP:${pair.stackAddr}:6002`,
        ]);
        try {
          assert.equal(await timed.exited(), 0, timed.errors.join("\n"));
        } finally {
          // socat may have quit by itself: the closed port answers with port unreachable.
          await terminate(sender);
        }
        const events = timed.lines.map((l) => JSON.parse(l));
        const s = events.at(-1);
        assert.equal(s.event, "summary");
        assert.equal(s.role, "server");
        assert.equal(s.stoppedBy, "time");
        assert.equal(s.seconds, 1);
        assert.ok(s.packets > 0);
        assert.equal(s.bytes, s.packets * 1000);
        assert.ok(events.some((e) => e.event === "interval"));
        // Where a receiver loses datagrams, for the run and for each second of it.
        const where = [
          "rxDropped",
          "rxKernelDrops",
          "rxLargeRingKernelDrops",
          "rxTruncated",
          "reasmFails",
          "reasmTimeouts",
          "reasmEvictions",
          "rcvbufErrors",
        ];
        assert.deepEqual(Object.keys(s.losses), where);
        for (const k of where) assert.ok(s.losses[k] >= 0, JSON.stringify(s.losses));
        assert.equal(s.losses.rcvbufErrors, s.rcvbufErrors);
        for (const e of events.filter((e) => e.event === "interval")) {
          assert.deepEqual(Object.keys(e.losses), where);
        }
        assert.ok(s.longestTickMs > 0 && s.longestYieldMs >= 0, JSON.stringify(s));
        // The reused copy views of the run: each 1,000-byte datagram copied onto the socket
        // through one (found or made); no fragments, so reassembly copied nothing.
        const views = s.copyViews;
        assert.deepEqual(Object.keys(views), [
          "socketHits",
          "socketMisses",
          "socketReplaced",
          "reasmHits",
          "reasmMisses",
          "reasmReplaced",
        ]);
        assert.ok(views.socketHits + views.socketMisses > 0, JSON.stringify(views));
        assert.equal(views.reasmHits + views.reasmMisses, 0, JSON.stringify(views));
        // The host kernel was kept off the datagrams to the stack's address (tcx, root).
        assert.equal(s.kernelRxDrop, "own");
      } finally {
        await Deno.remove(input).catch(() => {});
      }
    });
  },
  { tools: ["socat", "ss", "timeout"] },
);

/** Collects a child's stdout as text; a test waits for what it expects instead of sleeping. */
class TextSink {
  text = "";
  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;
  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#pump = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stdout) this.text += dec.decode(chunk, { stream: true });
    })();
  }
  /** Wait until the output contains `needle` (throws after `timeoutMs`). */
  waitForText(needle: string, timeoutMs = 10_000): Promise<boolean> {
    return waitFor(() => this.text.includes(needle), { what: JSON.stringify(needle), timeoutMs });
  }
  /** SIGTERM the child and wait for the rest of its output. */
  async stop(): Promise<void> {
    await terminate(this.#child);
    await this.#pump;
  }
}

/** Ethernet + IPv4 + UDP from the peer (198.18.0.1:sport) to the stack (:dport). */
function udpFrame(
  pair: VethPair,
  sport: number,
  dport: number,
  payload: Uint8Array,
  checksum: "good" | "bad" | "zero",
): Uint8Array {
  const udpLen = 8 + payload.length;
  const f = new Uint8Array(14 + 20 + udpLen);
  f.set(pair.stackMac, 0);
  f.set(pair.peerMac, 6);
  f[12] = 0x08;
  const total = 20 + udpLen;
  f.set([0x45, 0, total >> 8, total & 0xff, 0x43, 0x21, 0x40, 0, 64, 17, 0, 0], 14);
  f.set([198, 18, 0, 1, 198, 18, 0, 2], 26);
  const ipc = ~sum16(f, 14, 20, 0) & 0xffff;
  f[24] = ipc >> 8;
  f[25] = ipc & 0xff;
  const u = 34;
  f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, udpLen >> 8, udpLen & 0xff], u);
  f.set(payload, u + 8);
  if (checksum !== "zero") {
    // RFC 768: pseudo-header (src, dst, zero, protocol, UDP length) + header + data.
    const pseudo = 0xc612 + 0x0001 + 0xc612 + 0x0002 + 17 + udpLen;
    let c = ~sum16(f, u, udpLen, pseudo) & 0xffff;
    if (c === 0) c = 0xffff;
    if (checksum === "bad") c ^= 0x5a5a;
    f[u + 6] = c >> 8;
    f[u + 7] = c & 0xff;
  }
  return f;
}

/** One's-complement sum of `len` bytes at `off`, plus `initial`, folded to 16 bits. */
function sum16(b: Uint8Array, off: number, len: number, initial: number): number {
  let s = initial;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

interopTest("a bad UDP checksum is dropped and counted; a zero checksum is accepted", async () => {
  await withVethPair({}, async (pair) => {
    const serve = await startServe(pair, ["--udp-echo", "7", "--json"]);
    // The echoes go back to 198.18.0.1:40000, where a kernel socket collects them.
    const sink = new TextSink(pair.spawn(["socat", "-u", "UDP-RECV:40000", "-"]));
    await pair.waitForListener("udp", 40000);
    const inject = withNetns(pair.peerNs, () => AfPacketDriver.open({ ifname: pair.peerIf }));
    const text = (s: string) => new TextEncoder().encode(s);
    try {
      const frames = [
        udpFrame(pair, 40000, 7, text("bad-checksum\n"), "bad"),
        udpFrame(pair, 40000, 7, text("zero-checksum\n"), "zero"),
        udpFrame(pair, 40000, 7, text("good-checksum\n"), "good"),
      ];
      for (const f of frames) {
        assert.ok(inject.transmit(f, 0, f.length, null));
        inject.flush();
      }
      // The stack handles frames in order: the echo of the last one means all were counted.
      await sink.waitForText("good-checksum\n");
    } finally {
      inject.close();
      assert.equal(await serve.stop(), 0);
      await sink.stop();
    }
    assert.equal(sink.text, "zero-checksum\ngood-checksum\n");
    const stats = serve.statsEvent() as any;
    assert.equal(stats.udp.InCsumErrors, 1);
    assert.equal(stats.udp.InErrors, 1);
    assert.equal(stats.udp.InDatagrams, 2);
    assert.equal(stats.services["udp-echo/7"].OutDatagrams, 2);
  });
}, { tools: ["socat", "ss"] });

Deno.test("uperf and serve: bad flags exit 2 with the usage", async () => {
  const run = (args: string[]) => runCommand(cliCommand(args));
  const udpOnly = await run(["uperf", "client", "198.18.0.1", "-P", "2", "--udp", "--if", "us0"]);
  assert.equal(udpOnly.code, 2);
  assert.match(udpOnly.stderr, /-P applies to TCP mode only/);
  assert.match(udpOnly.stderr, /usage: ustack uperf/);
  for (
    const args of [
      ["uperf", "client", "--udp", "--if", "us0"],
      ["uperf", "server", "198.18.0.1", "--udp", "--if", "us0"],
      ["uperf", "client", "198.18.0.1", "--udp", "-l", "65508", "--if", "us0"],
      ["uperf", "client", "198.18.0.1", "--udp", "-t", "0", "--if", "us0"],
      ["uperf", "sideways", "--udp", "--if", "us0"],
      ["serve", "--udp-echo", "7", "--udp-echo", "7", "--if", "us0"],
      ["serve", "--udp-echo", "70000", "--if", "us0"],
    ]
  ) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
  const help = await run(["uperf", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--udp/);
});
