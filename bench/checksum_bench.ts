/**
 * Internet checksum micro benchmarks: the word-at-a-time `onesComplementSum` against the
 * obvious byte-pair loop, over 64 / 1500 / 9000 / 65535-byte buffers, aligned and not.
 *
 * Run: `deno bench bench/checksum_bench.ts`
 *
 * @module
 */

import {
  checksumAdjust,
  foldChecksum,
  onesComplementSum,
  pseudoHeaderSumV4,
} from "../net/checksum.ts";

/** The byte-pair reference loop. */
function naiveChecksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

// One pool-like ArrayBuffer, as the stack has: buffers are views into it.
const memory = new ArrayBuffer(1 << 17);
const data = new Uint8Array(memory);
for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;

let sink = 0;

for (const size of [64, 1500, 9000, 65535]) {
  Deno.bench({
    name: `naive byte pairs, ${size} B`,
    group: `checksum ${size} B`,
    baseline: true,
    fn: () => {
      sink ^= naiveChecksum(data, 16, size);
    },
  });
  Deno.bench({
    name: `onesComplementSum, ${size} B, aligned`,
    group: `checksum ${size} B`,
    fn: () => {
      sink ^= foldChecksum(onesComplementSum(data, 16, size));
    },
  });
  Deno.bench({
    name: `onesComplementSum, ${size} B, odd offset`,
    group: `checksum ${size} B`,
    fn: () => {
      sink ^= foldChecksum(onesComplementSum(data, 17, size));
    },
  });
}

Deno.bench({
  name: "TCP segment 1460 B: pseudo-header + segment",
  group: "composite",
  fn: () => {
    const ph = pseudoHeaderSumV4(0xc6120001, 0xc6120002, 6, 1480);
    sink ^= foldChecksum(onesComplementSum(data, 34, 1480, ph));
  },
});

Deno.bench({
  name: "RFC 1624 incremental update (TTL decrement)",
  group: "composite",
  fn: () => {
    sink ^= checksumAdjust(sink & 0xffff, 0x4006, 0x3f06);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep results alive
});
