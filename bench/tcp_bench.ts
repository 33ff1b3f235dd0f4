/**
 * Benchmarks of the TCP connection path with no kernel in the way: two stacks on the
 * in-memory wire (`tests/harness/sim_net.ts`, virtual clock, no faults), one connection kept
 * open across iterations. The figures include Ethernet, IPv4 and the wire's frame copies, so
 * they are for comparing TCP changes with each other, not with the kernel. Run:
 * `deno bench --allow-all bench/tcp_bench.ts`.
 *
 * @module
 */

import { ADDR_B, makeSimNet, type SimNet } from "../tests/harness/sim_net.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import { TcpState } from "../transport/tcp/state.ts";

/** Bytes moved by one bulk iteration. */
const BULK_BYTES = 1 << 20;

/** An established connection a → b on a fresh simulated network of `mtu`. */
function connected(mtu: number): { net: SimNet; c: TcpEndpoint; s: TcpEndpoint } {
  const net = makeSimNet({ mtu });
  const l = net.tcpB.listen(null, 5001, 8);
  const c = net.tcpA.connect(ADDR_B, 5001);
  let s: TcpEndpoint | null = null;
  const ok = net.run(() => (s ??= l.accept()) !== null && c.state === TcpState.ESTABLISHED, 5000);
  if (!ok || s === null) throw new Error("tcp_bench: the connection did not come up");
  c.setNoDelay(true);
  (s as TcpEndpoint).setNoDelay(true);
  return { net, c, s };
}

/** Push `BULK_BYTES` from `c` to `s` and read them all. */
function bulk(net: SimNet, c: TcpEndpoint, s: TcpEndpoint, src: Uint8Array, dst: Uint8Array) {
  let written = 0;
  let read = 0;
  const ok = net.run(() => {
    while (written < BULK_BYTES) {
      const n = c.write(src, 0, Math.min(src.length, BULK_BYTES - written));
      if (n <= 0) break;
      written += n;
    }
    for (;;) {
      const n = s.read(dst, 0, dst.length);
      if (n <= 0) break;
      read += n;
    }
    return read === BULK_BYTES;
  }, 60_000);
  if (!ok) throw new Error(`tcp_bench: bulk stalled at ${read} of ${BULK_BYTES}`);
}

for (const mtu of [1500, 9000]) {
  const { net, c, s } = connected(mtu);
  const src = new Uint8Array(64 * 1024).fill(0x5a);
  const dst = new Uint8Array(256 * 1024);
  Deno.bench(`sim bulk 1 MiB a→b, MTU ${mtu}`, { group: "tcp bulk" }, () => {
    bulk(net, c, s, src, dst);
  });
}

{
  const { net, c, s } = connected(1500);
  const req = new Uint8Array(64).fill(1);
  const buf = new Uint8Array(64);
  Deno.bench("sim request/response 64 B ×100", { group: "tcp rr" }, () => {
    for (let i = 0; i < 100; i++) {
      c.write(req, 0, req.length);
      let got = 0;
      net.run(() => {
        const n = s.read(buf, 0, buf.length);
        if (n > 0) got += n;
        return got === req.length;
      }, 1000);
      s.write(buf, 0, buf.length);
      got = 0;
      net.run(() => {
        const n = c.read(buf, 0, buf.length);
        if (n > 0) got += n;
        return got === req.length;
      }, 1000);
    }
  });
}
