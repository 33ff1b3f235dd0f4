/**
 * Probe for `tests/sim/tcp_read_srtt_test.ts`, run with `--allow-natives-syntax`: the heap growth
 * per `TcpEndpoint.read` of buffered data where V8 does not inline the receiver's read into it
 * (`%NeverOptimizeFunction` on `TcpReceiver.prototype.read`: what a real reader's compile
 * showed, bench/README.md, "heap13m"). One-byte reads (a byte loop, no view) of a receive
 * buffer filled once over a simulated network: what is left per read is the read's own. Prints
 * one JSON line.
 *
 * @module
 */

import { connectPair, makeSimNet } from "./sim_net.ts";
import { TcpReceiver } from "../../transport/tcp/receiver.ts";

const natives = (body: string) => new Function("f", body) as (f: unknown) => void;
const neverOptimize = natives("%NeverOptimizeFunction(f)");
neverOptimize(TcpReceiver.prototype.read);

const net = makeSimNet({ mtu: 9000, tcp: { receiveBufferBytes: 1 << 20 } });
const { c, s } = connectPair(net);
// A fractional smoothed RTT, as a real path has (the simulated one's is whole milliseconds: a
// small integer, never boxed).
s.snd.rtt.sample(0.37);
const chunk = new Uint8Array(64 * 1024);
const one = new Uint8Array(1);
/** Fill `s`'s receive buffer (the RTT sampled on the way: the sender side's srtt is set). */
const fill = (): void => {
  net.run(() => {
    c.write(chunk, 0, chunk.length);
    return s.rcv.rcvBuf.free < 64 * 1024;
  }, 60_000);
};
const READS = 50_000;
const grew: number[] = [];
for (let w = 0; w < 14; w++) {
  fill();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < READS; i++) s.read(one, 0, 1);
  const after = Deno.memoryUsage().heapUsed;
  // The first windows warm up; a window with a scavenge says nothing.
  if (w >= 4 && after >= before) grew.push((after - before) / READS);
}
grew.sort((a, b) => a - b);
console.log(JSON.stringify({
  perRead: grew[grew.length >> 1],
  windows: grew.length,
  srttMs: s.snd.rtt.srttMs,
}));
