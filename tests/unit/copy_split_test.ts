// bench/copy_split.ts: a perf profile of the stack thread split by second into the send path's two
// copies (the application's write into the send ring, the send ring into the TX slot).

import assert from "node:assert/strict";
import { copyCostLines, copyKind, splitCopies } from "../../bench/copy_split.ts";

const MM = "16db75 __memmove_avx512_unaligned_erms";
const js = (fn: string, file: string) => `7f733fa0b48c JS:*'${fn} file:///w/${file}:1:1`;

/** A `perf script -F time,ip,sym` sample: header line, frames leaf first, blank line. */
function sample(t: number, frames: string[]): string {
  return `  ${t.toFixed(6)}: \n` + frames.map((f) => `\t    ${f}\n`).join("") + "\n";
}

Deno.test("copyKind: the TX copy by its driver or ring frames, inlined or not", () => {
  assert.deepEqual(
    copyKind([
      MM,
      js("copyBytes", "core/copy_bytes.ts"),
      js("put", "drivers/af_packet_tx_ring.ts"),
    ]),
    "tx",
  );
  assert.deepEqual(copyKind([MM, js("peek", "core/byte_ring.ts")]), "tx");
  // put and peek inlined into the sender's output, itself called from a tick.
  assert.deepEqual(copyKind([MM, js("output", "transport/tcp/sender.ts")]), "tx");
});

Deno.test("copyKind: the application copy by the write path; neither is other", () => {
  assert.deepEqual(
    copyKind([
      MM,
      js("#copyIn", "core/byte_ring.ts"),
      js("write", "core/byte_ring.ts"),
      js("write", "stack/tcp_conn.ts"),
    ]),
    "app",
  );
  assert.deepEqual(copyKind([MM, js("", "cli/uperf_tcp.ts")]), "app");
  assert.deepEqual(copyKind([MM, js("receive", "net/ipv4.ts")]), "other");
});

Deno.test("splitCopies: samples by second from the first, memmove split by copy", () => {
  const text = sample(100.2, [MM, js("put", "drivers/af_packet_tx_ring.ts")]) +
    sample(100.9, [MM, js("#copyIn", "core/byte_ring.ts")]) +
    sample(101.3, [js("receive", "net/ipv4.ts"), js("tick", "stack/event_loop.ts")]) +
    sample(102.25, [MM, js("peek", "core/byte_ring.ts")]) +
    sample(102.5, [MM, "0 [unknown]"]);
  assert.deepEqual(splitCopies(text), [
    { samples: 2, memmove: 2, txCopy: 1, appCopy: 1 },
    { samples: 1, memmove: 0, txCopy: 0, appCopy: 0 },
    { samples: 2, memmove: 2, txCopy: 1, appCopy: 0 },
  ]);
  assert.deepEqual(splitCopies(""), []);
});

Deno.test("copyCostLines: ms of the thread per GB sent, per copy", () => {
  const lines = copyCostLines(
    [{ samples: 500, memmove: 300, txCopy: 200, appCopy: 100 }, {
      samples: 3,
      memmove: 1,
      txCopy: 1,
      appCopy: 0,
    }],
    [20],
    1000,
  );
  // 200 samples at 1 kHz = 0.2 s for 2.5 GB: 80 ms per GB.
  assert.deepEqual(lines, [
    "s0: 20.0 Gbit/s, ms per GB: thread 200.0, memmove 120.0 (TX copy 80.0, app copy 40.0) (500 samples)",
    "s1: samples 3, memmove 1 (TX copy 1, app copy 0)",
  ]);
});
