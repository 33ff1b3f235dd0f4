// Many clients against the stack, kept short for CI (the long runs — a million connections,
// 200,000 SYNs/s, ten minutes of mixed load — are bench/ scripts): a spoofed SYN flood while
// curl downloads, ten thousand kernel connections held and closed, pingpong's connection
// modes between two stacks, and a TIME_WAIT record reopened by a kernel client over IPv6.

import assert from "node:assert/strict";
import { PY_HOLD } from "../../bench/clients.ts";
import { downloads, floodCommand, spoofedSources } from "../../bench/flood.ts";
import { expectedPatternSha } from "../harness/byte_pattern.ts";
import { deoptsFrom } from "../harness/deopt_trace.ts";
import { interopTest } from "../harness/interop.ts";
import { type CommandRunner, runCommand, withVethPair } from "../harness/netns.ts";
import {
  crowdClientCommand,
  peerPingpongServer,
  peerWithoutKernelAddress,
} from "../harness/pingpong_pair.ts";
import { cliCommand, CliProcess, startServe } from "../harness/ustack_cli.ts";

/** The last JSON line of `lines` whose event is `event`. */
function event(lines: string[], event: string): Record<string, any> {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].includes(`"event":"${event}"`)) return JSON.parse(lines[i]);
  }
  throw new Error(`no ${event} line in:\n${lines.join("\n")}`);
}

interopTest(
  "a spoofed SYN flood from 200 sources that answer ARP: curl downloads stay byte-exact",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const serve = await startServe(pair, ["--http", "80", "--rx-ring", "v3", "--json"]);
      try {
        const range = await spoofedSources(pair, 200);
        // One download before the flood: the peer completes a handshake, so its SYNs during
        // the flood are charged to a known source's buckets, out of the spoofers' reach.
        const before = await downloads(pair, 1_000_000, 0, 1);
        assert.equal(before.downloads, 1);
        const flooder = new CliProcess(
          pair.spawn(floodCommand(pair, range, 100_000, 8), { stdout: "piped", stderr: "piped" }),
        );
        // The flood is on, and has filled the syncache: curl's SYNs meet it full. (A fixed
        // second from the spawn was not enough on a loaded machine: the flooder's own start
        // took longer, and a download's SYN took a syncache record, not a cookie.)
        await flooder.waitForLine(/"event":"start"/, 30_000);
        await new Promise((r) => setTimeout(r, 1000));
        // Downloads for 3 s, and at least 3 of them however slow a loaded machine makes each
        // (every curl is bounded by its --max-time): a count, not a rate, is what CI can check.
        const r = await downloads(pair, 1_000_000, 3, 3);
        assert.equal(await flooder.exited(), 0, flooder.errors.join("\n"));
        const flood = JSON.parse(flooder.lines.find((l) => l.startsWith('{"sent"'))!);
        assert.ok(flood.sent > 200_000, `the flood sent ${flood.sent} SYNs`);
        assert.equal(r.bad, 0, "every download byte-exact");
        assert.ok(r.downloads >= 3, `${r.downloads} downloads completed during the flood`);
        assert.equal(await serve.stop(), 0);
        const stats = serve.statsEvent()!;
        assert.ok(stats.tcp.SyncookiesSent > 0, "the syncache overflowed into cookies");
        assert.ok(stats.tcp.SyncookiesRateLimited > 0, "the flood's cookies were rate-limited");
        assert.ok(stats.tcp.SyncookiesRecv >= r.downloads, "curl's connections came by cookie");
        assert.ok(stats.tcp.SyncookiesKnownSource >= r.downloads, "curl's SYNs: a known source");
        assert.equal(stats.arp.CacheFull ?? 0, 0, "the neighbour table held every source");
      } finally {
        await serve.stop();
      }
    });
  },
  { tools: ["curl", "nft"] },
);

interopTest(
  "10,000 kernel connections held against --tcp-echo; each FIN is answered with a FIN",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const serve = await startServe(pair, ["--tcp-echo", "7", "--json"]);
      try {
        const py = new CliProcess(
          pair.spawn(["python3", "-c", PY_HOLD, pair.stackAddr, "7", "10000"], {
            stdin: "piped",
            stdout: "piped",
            stderr: "piped",
          }),
        );
        const held = JSON.parse(await py.waitForLine(/"event": "held"/, 120_000));
        assert.deepEqual([held.connections, held.failed, held.echoed], [10000, 0, 10000]);
        await py.send("close\n");
        const end = JSON.parse(await py.waitForLine(/"event": "summary"/, 120_000));
        assert.equal(end.closed_clean, 10000, "every half-close was answered with a FIN");
        assert.equal(await py.exited(), 0);
        assert.equal(await serve.stop(), 0);
        const stats = serve.statsEvent()!;
        assert.equal(stats.tcp.PassiveOpens, 10000);
        assert.equal(stats.tcp.CurrEstab ?? 0, 0, "none left behind");
      } finally {
        await serve.stop();
      }
    });
  },
  { tools: ["python3"] },
);

interopTest(
  "pingpong --connect and --hold between two stacks, a few thousand connections",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      await peerWithoutKernelAddress(pair);
      const server = peerPingpongServer(pair);
      try {
        await server.waitForLine(/"event":"ready"/);
        const link = [
          "--if",
          pair.stackIf,
          "--addr",
          `${pair.stackAddr}/${pair.prefixLen}`,
          "--addr",
          "198.18.0.20/24",
        ];
        const client = (args: string[]) =>
          runCommand(
            ["ip", "netns", "exec", pair.stackNs, ...cliCommand(["pingpong", "client", ...args])],
            { timeoutMs: 120_000 },
          );
        const c = await client([
          pair.peerAddr,
          "--connect",
          "-C",
          "64",
          "-n",
          "3000",
          "--json",
          ...link,
        ]);
        assert.equal(c.code, 0, c.stderr);
        const cs = event(c.stdout.trim().split("\n"), "summary");
        assert.equal(cs.mode, "connect");
        assert.equal(cs.connections, 3000);
        assert.equal(cs.failed, 0);
        assert.ok(cs.conn_per_s > 0);
        assert.equal(cs.counters.tcp.ActiveOpens, 3000);

        const h = await client([
          pair.peerAddr,
          "--hold",
          "1",
          "-C",
          "256",
          "-n",
          "3000",
          "--json",
          ...link,
        ]);
        assert.equal(h.code, 0, h.stderr);
        const lines = h.stdout.trim().split("\n");
        const held = event(lines, "held");
        assert.deepEqual(Object.keys(held), [
          "event",
          "connections",
          "failed",
          "rss_bytes",
          "heap_bytes",
          "seconds",
        ]);
        assert.equal(held.connections, 3000);
        assert.equal(held.failed, 0);
        assert.ok(held.rss_bytes > 0 && held.heap_bytes > 0 && held.seconds > 0);
        const hs = event(lines, "summary");
        assert.equal(hs.mode, "hold");
        assert.equal(hs.round_trips, 1000);
        assert.equal(hs.round_trip_failed, 0);
        assert.equal(hs.closed, 3000);
        assert.equal(hs.counters.tcp.CurrEstab ?? 0, 0);

        assert.equal(await server.stop(), 0);
        const ss = event(server.lines, "summary");
        assert.equal(ss.connections, 6000);
        assert.ok(ss.peak_connections >= 3000, `peak ${ss.peak_connections}`);
        assert.ok(ss.rss_bytes > 0 && ss.heap_bytes > 0);
        assert.equal(ss.transactions, 3000 + 1000);
      } finally {
        await server.stop();
      }
    });
  },
);

/**
 * A line each V8 trace flag the crowd's probes use prints: the warm-up before the client's
 * `warm_up` event (and the server's before its ready line) prints some, so a probe that finds
 * none there saw no trace at all — and an empty list after the line would prove nothing.
 */
const TRACE_LINE: Record<string, RegExp> = {
  "--trace-gc": /: (Scavenge|Mark-Compact)\b/,
  "--trace-deopt": /\bdeoptimizing\b/,
  "--trace-deopt-verbose": /\bdeoptimizing\b/,
};

/** Assert that `before` (a process's lines before its warm-up's end) holds `flag`'s trace. */
function assertTraced(before: string[], flag: string, who: string): void {
  const line = TRACE_LINE[flag];
  assert.ok(line !== undefined, `no trace line known for ${flag}`);
  const n = before.filter((l) => line.test(l)).length;
  assert.ok(n > 0, `no ${flag} line in the ${who}'s warm-up: the probe sees nothing`);
}

/**
 * Run a fresh `pingpong client --connect` (1,000 connections, 32 at once) from the stack's end
 * against a peer pingpong server, with V8 flag `v8Flag` and line-buffered output (V8's trace
 * lines and the JSON events keep their order); the lines it printed between its warm-up event
 * and its summary — what ran in the real crowd. Asserts that no connection failed, and that
 * the trace arrived (its lines before the warm-up event: {@link assertTraced}).
 */
async function crowdTrace(v8Flag: string): Promise<string[]> {
  return (await pairTrace(v8Flag)).client;
}

/**
 * As {@link crowdTrace}, with the server under `serverV8Flag` too: the client's lines between
 * its warm-up event and its summary, and the server's from its ready line to the client's end
 * (before it is stopped).
 */
async function pairTrace(
  v8Flag: string,
  serverV8Flag?: string,
): Promise<{ client: string[]; server: string[] }> {
  let crowd: string[] = [];
  let served: string[] = [];
  await withVethPair({ ipv6: false }, async (pair) => {
    await peerWithoutKernelAddress(pair);
    const server = peerPingpongServer(pair, serverV8Flag);
    try {
      await server.waitForLine(/"event":"ready"/);
      const c = await runCommand(crowdClientCommand(pair, v8Flag), { timeoutMs: 120_000 });
      assert.equal(c.code, 0, c.stderr);
      const lines = c.stdout.trim().split("\n");
      const from = lines.findIndex((l) => l.startsWith('{"event":"warm_up"'));
      const to = lines.findIndex((l) => l.startsWith('{"event":"summary"'));
      assert.ok(from >= 0 && to > from, c.stdout.slice(-2_000));
      assert.equal(event(lines, "summary").failed, 0);
      // The warm-up's first part ran on the af_packet driver's rings in memory, and its event
      // counts those connections.
      assert.ok(event(lines, "warm_up").ringConnections >= 1, lines[from]);
      // The probe sees V8's trace: the warm-up's own lines come before its event.
      assertTraced(lines.slice(0, from), v8Flag, "client");
      crowd = lines.slice(from + 1, to);
      const ready = server.lines.findIndex((l) => l.startsWith('{"event":"ready"'));
      if (serverV8Flag !== undefined) {
        assertTraced(server.lines.slice(0, ready), serverV8Flag, "server");
      }
      served = server.lines.slice(ready + 1);
    } finally {
      await server.stop();
    }
  });
  return { client: crowd, server: served };
}

interopTest(
  "a fresh pingpong --connect client runs its first 1,000 connections without a mark-compact",
  async () => {
    // The client starts its real stack before its warm-up: V8 counts the real stack's ring
    // memory towards the heap's global limit while the warm-up runs, so the mark-compact that
    // frees the warm-up's garbage comes during the warm-up, not in the first real connections
    // (bench/README.md, "conn9n": started after the warm-up, the real stack's rings took the
    // heap over a limit computed without them, a 2–16 ms pause in a ~50 ms crowd).
    const crowd = (await crowdTrace("--trace-gc")).filter((l) => l.includes("Mark-Compact"));
    assert.deepEqual(crowd, [], "a mark-compact after the warm-up, in the first connections");
  },
);

interopTest(
  "a fresh pingpong --connect client's per-connection callbacks are not deoptimised after its warm-up",
  async () => {
    // The warm-up's client is the real run's class (cli/pingpong_crowd.ts): with a completion
    // closure of its own, V8 threw away the readiness callback compiled for it at the first real
    // connection ("wrong feedback cell"), and the real run's pacing function, never run in the
    // warm-up, at its first call (bench/README.md, "conn9p").
    const deopts = (await crowdTrace("--trace-deopt")).filter((l) =>
      l.includes("deoptimizing") &&
      /<JSFunction (onCycleEvent|#pump|#start|#fail|finished)\b/.test(l)
    );
    assert.deepEqual(deopts, [], "the client's connection callbacks deoptimised");
  },
);

interopTest(
  "a fresh pingpong --connect client's event loop is not deoptimised in its first connections",
  async () => {
    // The warm-up's loops busy-poll and are never woken from a park; their ticks wake many
    // sockets at once. The real loop's first connection wakes it from its park, and its ticks
    // wake one socket at a time: V8 compiled the loop without feedback for those paths and
    // threw the code away in the crowd, every time (bench/README.md, "conn9q"). Now the real
    // loop is woken once before the warm-up's tail, and those reads happen on every tick. The
    // warm-up's main part and tail never wait for a frame, so their loops never busy-poll nor
    // run without their async function: V8 compiled `#spin` on the crowd alone and threw it
    // away at the first spin driven without the async function after a kick (the quiet
    // window's probe: 1 run in 10 to 1 in 3). Now a paced part (one connection at a time on a
    // delayed wire, loops driven without the async function from their first quiet tick) runs
    // those, and the real loop rehearses its idle sequence (busy poll, blocking slices, park)
    // once after the main part, when V8 keeps its feedback (bench/README.md, "warm13j").
    // Any of the loop's code, inlined helpers included, `#asyncLoop` too (conn9q's, once
    // excepted: every loop now calls it at its start often enough for V8's feedback vector;
    // bench/README.md, "drive35").
    const deopts = deoptsFrom(await crowdTrace("--trace-deopt-verbose"), "/stack/event_loop.ts:");
    assert.deepEqual(deopts, [], "the client's loop deoptimised in its first connections");
  },
);

interopTest(
  "a fresh pingpong server's event loop is not deoptimised after its ready line",
  async () => {
    // Paths of the loop the warm-up's busy-polling loops never take, read only in a branch: the
    // cadence of a loop driven without its async function, a tick that woke one socket; and the
    // real stack's first IPv6 address after an IPv4-only warm-up (isLinkLocal). V8 compiled them
    // without feedback and threw the code away at the first real connections (bench/README.md,
    // "conn9q"): now read on every call.
    // And the loop's idle paths — the time to the next deadline, the park, the waker's inline
    // tick: the warm-up's loops on the simulated wire never take them, and the server's real
    // loop first took them after its ready line, every time; now it rehearses them before the
    // line (`rehearseRealLoop`; bench/README.md, "flake34"). Any of the loop's code, inlined
    // helpers included.
    const { server } = await pairTrace("--trace-deopt", "--trace-deopt-verbose");
    const deopts = server.filter((l) =>
      l.includes("deoptimizing") && /<JSFunction (#busyCadence|#receiveHalf|isLinkLocal)\b/.test(l)
    );
    assert.deepEqual(deopts, [], "the server's loop deoptimised after its ready line");
    // `#drive` (and its turn callback) too: its hand-over to the async loop when a loop driven
    // without it went to park, thrown away after the line in 1 run of ~30 on main (no type
    // feedback: every loop now rehearses the hand-over at its start; bench/README.md,
    // "drive35").
    const loop = deoptsFrom(server, "/stack/event_loop.ts:");
    assert.deepEqual(loop, [], "the server's loop deoptimised after its ready line");
  },
);

/** The kernel client's local port of the TIME_WAIT test. */
const CLIENT_PORT = 41000;

/**
 * The peer kernel's TCP sockets on local port `port` (`ss` lines), polled every 20 ms for at
 * most 5 s until there are none: "" once the port is free, else the last lines seen.
 */
async function portHeld(pair: CommandRunner, port: number): Promise<string> {
  const deadline = performance.now() + 5_000;
  let held = "";
  for (let i = 0; i < 250 && performance.now() < deadline; i++) {
    const r = await pair.run(["ss", "-Htan", `sport = :${port}`]);
    held = r.code === 0 ? r.stdout.trim() : `ss failed: ${r.stderr}`;
    if (held === "") return "";
    await new Promise((done) => setTimeout(done, 20));
  }
  return held;
}

interopTest(
  "over IPv6 the stack closes first and keeps a TIME_WAIT record; the client's next SYN on the same port reopens it",
  async () => {
    await withVethPair({}, async (pair) => {
      const serve = await startServe(pair, [
        "--addr",
        `${pair.stackAddr6}/64`,
        "--http",
        "80",
        "--json",
      ]);
      try {
        const want = await expectedPatternSha(pair, 100_000);
        // `Connection: close`: the server sends its FIN first, so the four-tuple stays in
        // TIME_WAIT on the stack; the same client port connects again at once.
        for (let i = 0; i < 3; i++) {
          // The client's previous socket on the port stays in LAST_ACK until the stack's ACK of
          // its FIN arrives; a curl started before then cannot bind the port (under load, one
          // suite run in many: an empty download).
          if (i > 0) {
            assert.equal(await portHeld(pair, CLIENT_PORT), "", `port ${CLIENT_PORT} freed`);
          }
          const r = await pair.run([
            "sh",
            "-c",
            `{ curl -sS --fail -g -m 20 -H 'Connection: close' --local-port ${CLIENT_PORT} ` +
            `'http://[${pair.stackAddr6}]/bytes/100000'; echo "curl exit $?" >&2; } | sha256sum`,
          ], { timeoutMs: 30_000 });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, /curl exit 0\b/, `download ${i}: ${r.stderr}`);
          assert.equal(r.stdout.split(" ")[0], want, `download ${i} byte-exact`);
        }
      } finally {
        assert.equal(await serve.stop(), 0);
      }
      const tcp = serve.statsEvent()!.tcp;
      assert.equal(tcp.PassiveOpens, 3);
      assert.equal(tcp.TCPTimeWaitReuse, 2, "the second and third SYN reopened the record");
      assert.equal(tcp.EstabResets ?? 0, 0);
    });
  },
  { tools: ["curl", "python3"] },
);
