// The round-trip client's warm-up (`cli/pingpong_rr_warm_up.ts`): a fresh `pingpong` client
// makes its round trips on one connection between two private stacks before its first real
// one, so that V8 has compiled its data path (bench/README.md, `tail13a`).

import assert from "node:assert/strict";
import { type Runtime, warmUpConnections } from "../../mod.ts";
import { warmUpServer } from "../../cli/pingpong_server.ts";
import {
  RR_WARM_UP_MS,
  RR_WARM_UP_ROUND_TRIPS,
  RR_WARM_UP_TAIL_MS,
  RR_WARM_UP_TAIL_ROUND_TRIPS,
  rrWarmUpConfig,
  RrWarmUpCrowd,
} from "../../cli/pingpong_rr_warm_up.ts";
import { PINGPONG_WARM_UP_TAIL } from "../../cli/warm_up.ts";
import { runCommand } from "../harness/netns.ts";
import { cliCommand } from "../harness/ustack_cli.ts";

for (const wire of ["af_packet", "sim"] as const) {
  Deno.test(`rr warm-up: round trips on one connection, the count bounded (${wire} wire)`, async () => {
    let server: Runtime | null = null;
    let client: Runtime | null = null;
    const r = await warmUpConnections({
      connections: 3_000,
      timeLimitMs: 20_000,
      wire,
      serve: (rt, port) => {
        server = rt;
        return warmUpServer(rt, port, 64);
      },
      client: (rt, host, port) => {
        client = rt;
        return new RrWarmUpCrowd(rt, host, port, 64);
      },
    });
    assert.equal(r.failed, 0);
    assert.equal(r.connections, 3_000);
    // One connection for all of them: the data path of an established connection is what
    // a round-trip client runs, not the handshake.
    const s = (server as Runtime | null)?.stack.stats.snapshot();
    const c = (client as Runtime | null)?.stack.stats.snapshot();
    assert.equal(s?.tcp.PassiveOpens, 1);
    assert.equal(c?.tcp.ActiveOpens, 1);
    // 3,000 requests of 64 bytes in, as many answers out (one segment each way per message).
    assert.ok((c?.tcp.OutSegs ?? 0) >= 3_000, JSON.stringify(c?.tcp));
  });
}

Deno.test("rr warm-up: stop() ends the round trips and the connection", async () => {
  let crowd: RrWarmUpCrowd | null = null;
  const r = await warmUpConnections({
    connections: 1_000_000,
    timeLimitMs: 20_000,
    serve: (rt, port) => warmUpServer(rt, port, 64),
    client: (rt, host, port) => {
      crowd = new RrWarmUpCrowd(rt, host, port, 64);
      setTimeout(() => crowd?.stop(), 50);
      return crowd;
    },
  });
  assert.equal(r.failed, 0);
  assert.ok(r.connections > 0 && r.connections < 1_000_000, `${r.connections}`);
});

Deno.test("rr warm-up: on the driver's rings in memory unless --prewarm-wire chose", () => {
  assert.equal(rrWarmUpConfig({}).warmUpWire, "af_packet");
  assert.equal(rrWarmUpConfig({ warmUpWire: "sim" }).warmUpWire, "sim");
  assert.equal(rrWarmUpConfig({ warmUpWire: "af_packet" }).warmUpWire, "af_packet");
});

Deno.test({
  name: "rr warm-up: a pingpong round-trip client warms up before it connects; --prewarm 0: not",
  async fn() {
    // The CLI itself (the loopback driver: no interface, no namespace). Nothing listens on the
    // port, so the real connection is refused after the warm-up: only the warm-up is looked at.
    const args = [
      "pingpong",
      "client",
      "198.18.9.2",
      "-p",
      "9",
      "-n",
      "10",
      "--driver",
      "loopback",
      "--addr",
      "198.18.9.2/24",
      "--json",
    ];
    const out = await runCommand(cliCommand(args), { timeoutMs: 60_000 });
    const line = out.stdout.split("\n").find((l) => l.startsWith('{"event":"warm_up"'));
    assert.ok(line !== undefined, `${out.stdout}\n${out.stderr}`);
    const warm = JSON.parse(line);
    // One round trip is in flight at a time: a part cut at its time bound on a slow machine
    // (on the rings, on the simulated wire, the tail) may count it as failed.
    assert.ok(warm.failed <= 3, `${warm.failed} failed`);
    // Until the count (then the tail's round trips, the round-trip client's longer tail), or a
    // time bound on a slow machine.
    assert.ok(
      warm.connections === RR_WARM_UP_ROUND_TRIPS + RR_WARM_UP_TAIL_ROUND_TRIPS ||
        warm.ms >= RR_WARM_UP_MS ||
        (warm.connections > RR_WARM_UP_ROUND_TRIPS && warm.ms >= RR_WARM_UP_TAIL_MS),
      `${warm.connections} round trips in ${warm.ms} ms`,
    );
    const off = await runCommand(cliCommand([...args, "--prewarm", "0"]), { timeoutMs: 30_000 });
    assert.ok(!off.stdout.includes('"event":"warm_up"'), off.stdout);
  },
});

Deno.test({
  name: "rr warm-up: a pingpong server warms up its connections, then round trips on one",
  async fn() {
    // The CLI itself (the loopback driver: no interface, no namespace); -t 0.05 ends it soon
    // after its ready line.
    const args = ["pingpong", "server", "--driver", "loopback", "--json", "-t", "0.05"];
    const out = await runCommand(cliCommand(args), { timeoutMs: 60_000 });
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split("\n");
    const warm = lines.filter((l) => l.startsWith('{"event":"warm_up"')).map((l) => JSON.parse(l));
    assert.equal(warm.length, 2, out.stdout);
    const rr = warm[1];
    // At most one round trip in flight per part cut at its time bound (a slow machine).
    assert.ok(rr.failed <= 3, `${rr.failed} failed`);
    assert.ok(
      rr.connections === RR_WARM_UP_ROUND_TRIPS + PINGPONG_WARM_UP_TAIL || rr.ms >= RR_WARM_UP_MS,
      `${rr.connections} round trips in ${rr.ms} ms`,
    );
    // Both before the ready line.
    const ready = lines.findIndex((l) => l.includes('"event":"ready"'));
    assert.ok(ready > lines.findLastIndex((l) => l.startsWith('{"event":"warm_up"')), out.stdout);
  },
});
