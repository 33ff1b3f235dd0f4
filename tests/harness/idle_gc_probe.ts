/**
 * Run by `tests/unit/idle_gc_maps_test.ts` in a child `deno run --v8-flags=--allow-natives-syntax,
 * --expose-gc`: what a memory-reducing full GC after a quiet spell throws away. First the CLI's
 * kind of warm-up — connections between two private stacks on the simulated wire, the client
 * closing first so that the warm-up's server holds TIME_WAIT records — then "the real stacks":
 * a pair on the af_packet driver's rings in memory that never makes a TIME_WAIT record (as a
 * server whose peers close first), whose connections run the same server code. While they live,
 * V8's last-resort GC (`gc({flavor: "last-resort"})`: memory-reducing full GCs that retain no
 * maps, as V8's memory reducer's after a quiet spell) runs, and the probe prints, as one JSON
 * line, which data-path functions were optimised before it and which of them were not after.
 *
 * @module
 */

import { requestClient, warmUpConnections, withWarmUpPair } from "../../stack/conn_warm_up.ts";
import { AfPacketRingDriver } from "../../drivers/af_packet_ring.ts";
import { warmUpServer } from "../../cli/pingpong_server.ts";
import { FlowTable } from "../../transport/flow_table.ts";
import { TcpLayer } from "../../transport/tcp/tcp_layer.ts";
import { Nic } from "../../stack/nic.ts";
import { Stack } from "../../stack/stack.ts";
import { type Fn, isOptimized } from "./v8_natives.ts";
import { clientRounds } from "./client_rounds.ts";

/** The data path's functions the check watches, by `Class.method`. */
const WATCHED: Record<string, Fn> = {
  "FlowTable.lookup": FlowTable.prototype.lookup as Fn,
  "FlowTable.insertVacant": FlowTable.prototype.insertVacant as Fn,
  "FlowTable.remove": FlowTable.prototype.remove as Fn,
  "TcpLayer.receive": TcpLayer.prototype.receive as Fn,
  "Nic.poll": Nic.prototype.poll as Fn,
  "Nic.output": Nic.prototype.output as Fn,
  "Stack.receive": Stack.prototype.receive as Fn,
  "Stack.transmitFlush": Stack.prototype.transmitFlush as Fn,
};

const gc = (globalThis as unknown as { gc(o?: object): void }).gc;
const serve = (rt: Parameters<typeof warmUpServer>[0], port: number) => warmUpServer(rt, port, 64);
const connections = Number(Deno.args[0] ?? 4000);

await warmUpConnections({ serve, connections, wire: "sim", timeLimitMs: 20_000 });

// Closes without a TIME_WAIT record in the real stacks (all of them, with maxTimeWait 0).
const out: { before: string[]; lost: string[]; timeWaitOverflow: number } = {
  before: [],
  lost: [],
  timeWaitOverflow: 0,
};
// "The real stacks": no TIME_WAIT record of their own (maxTimeWait 0).
await withWarmUpPair(
  AfPacketRingDriver.memoryPair(),
  { stack: { tcp: { maxTimeWait: 0 }, maxConnections: 64 } },
  serve,
  7,
  async ({ server, client }) => {
    const one = requestClient(new Uint8Array(64), 64)(client, "198.19.255.1", 7);
    await clientRounds(one, connections);
    for (const [name, f] of Object.entries(WATCHED)) if (isOptimized(f)) out.before.push(name);
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    for (const name of out.before) if (!isOptimized(WATCHED[name])) out.lost.push(name);
    out.timeWaitOverflow = server.stack.stats.tcp.TCPTimeWaitOverflow +
      client.stack.stats.tcp.TCPTimeWaitOverflow;
  },
);
console.log(JSON.stringify(out));
