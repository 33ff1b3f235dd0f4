/**
 * What a `connect()` costs when the ephemeral port range is used up: every port of the range
 * holds a TIME_WAIT record toward the one server, none reusable yet (within a second of its
 * last timestamp), as when one client opens tens of thousands of connections a second from
 * one address. The first failure searches the whole range; the following ones are answered
 * from that search until a four-tuple comes free or a record becomes reusable.
 *
 * ```
 * deno run --allow-all bench/connect_exhausted.ts --ports 28232 --connects 1000
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ADDR_B, makeSimNet } from "../tests/harness/sim_net.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { TcpState } from "../transport/tcp/state.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    ports: { type: "string", default: "28232" },
    connects: { type: "string", default: "1000" },
    json: { type: "boolean", default: false },
  },
});
const ports = Number(args.values.ports);
const connects = Number(args.values.connects);
if (!(ports >= 1 && ports <= 28232) || !(connects >= 1)) {
  console.error("connect_exhausted: --ports 1..28232, --connects >= 1");
  Deno.exit(2);
}

const LOW = 32768;
const net = makeSimNet({
  tcpA: { ephemeralPortRange: [LOW, LOW + ports - 1], maxTimeWait: 1 << 20 },
  tcpB: { maxTimeWait: 1 << 20 },
});
const listener = net.tcpB.listen(null, 80, 4096);

// Fill the range: batches of connections opened, accepted, closed by the client first.
const t0 = performance.now();
for (let done = 0; done < ports;) {
  const batch = Math.min(256, ports - done);
  const clients: TcpEndpoint[] = [];
  for (let i = 0; i < batch; i++) clients.push(net.tcpA.connect(ADDR_B, 80));
  const servers: TcpEndpoint[] = [];
  net.run(() => {
    let s: TcpEndpoint | null;
    while ((s = listener.accept()) !== null) servers.push(s);
    return servers.length === batch;
  }, 5000);
  for (const c of clients) c.close();
  net.run(() => servers.every((s) => s.state === TcpState.CLOSE_WAIT), 5000);
  for (const s of servers) s.close();
  net.run(() => servers.every((s) => s.state === TcpState.CLOSED), 5000);
  done += batch;
}
const fillMs = performance.now() - t0;

/** Time `n` connects that must fail (µs each) and the ports they examined. */
function failures(n: number): { us: number; probes: number } {
  const p0 = net.tcpA.portProbes;
  let failed = 0;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    try {
      net.tcpA.connect(ADDR_B, 80);
    } catch {
      failed++;
    }
  }
  const us = (performance.now() - t) * 1000 / n;
  if (failed !== n) throw new Error(`connect_exhausted: ${n - failed} connects found a port`);
  return { us, probes: net.tcpA.portProbes - p0 };
}

const first = failures(1);
const next = failures(connects);
const summary = {
  event: "summary",
  ports,
  timeWait: net.tcpA.timeWaitCount,
  fillMs: Math.round(fillMs),
  firstUs: Math.round(first.us),
  firstProbes: first.probes,
  nextUs: Math.round(next.us * 10) / 10,
  nextProbesPerConnect: next.probes / connects,
};
if (args.values.json) console.log(JSON.stringify(summary));
else {
  console.log(
    `${ports} ports in TIME_WAIT (filled in ${summary.fillMs} ms): the first failing connect ` +
      `${summary.firstUs} µs, ${first.probes} ports examined; the next ${connects}: ` +
      `${summary.nextUs} µs each, ${summary.nextProbesPerConnect} ports examined each`,
  );
}
