/**
 * What one `AfPacketRingDriver.setKernelRxDropTo` costs the loop: the af_packet driver opened
 * on a fresh veth pair (in its namespace, as a test or `Runtime.start({ netns })` opens it), then
 * 40 calls per size with a set that differs from the last (each loads and swaps a program) and
 * 40 with the same set (no load: the kernel's addresses are read and compared). Prints the
 * median, the 37th of 40 and the longest, in µs. Root (namespaces, BPF).
 *
 * ```sh
 * deno run -A bench/kernel_rx_filter_update.ts
 * ```
 *
 * @module
 */

import { AfPacketRingDriver, type Ipv6Words } from "../drivers/af_packet_ring.ts";
import { withVethPair } from "../tests/harness/netns.ts";

/** Median, 37th of 40 and longest of `t` (ms), in whole µs. */
function spread(t: number[]): number[] {
  const s = [...t].sort((a, b) => a - b);
  return [s[s.length >> 1], s[Math.floor(s.length * 0.9)], s[s.length - 1]].map((x) =>
    Math.round(x * 1000)
  );
}

if (import.meta.main) {
  await withVethPair({}, (pair) => {
    const d = AfPacketRingDriver.open({
      ifname: pair.stackIf,
      netns: pair.stackNs,
      kernelRxDropTo: [],
    });
    const out: Record<string, number[]> = {};
    try {
      for (const [name, n4, n6] of [["1+1", 1, 1], ["4+8", 4, 8], ["64+64", 64, 64]] as const) {
        const t: number[] = [];
        for (let r = 0; r < 40; r++) {
          const v4 = Array.from({ length: n4 }, (_, i) => 0xc6120100 + i + (r & 1));
          const v6 = Array.from(
            { length: n6 },
            (_, i): Ipv6Words => [0xfd000000, 0, 0, 0x100 + i + (r & 1)],
          );
          const t0 = performance.now();
          d.setKernelRxDropTo({ v4, v6 });
          t.push(performance.now() - t0);
        }
        out[`${name} addresses, a new set each call`] = spread(t);
      }
      const same: number[] = [];
      for (let r = 0; r < 40; r++) {
        const t0 = performance.now();
        d.setKernelRxDropTo({ v4: [0xc6120101], v6: [[0xfd000000, 0, 0, 0x101]] });
        same.push(performance.now() - t0);
      }
      out["the same set"] = spread(same);
      console.log(JSON.stringify({ loads: d.kernelRxFilter!.loads, usMedianP90Max: out }));
    } finally {
      d.close();
    }
  });
}
