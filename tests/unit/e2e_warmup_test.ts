// `bench:e2e`'s bulk and request/response rows run in interleaved rounds and leave each
// sender's warm-up out of its figure (bench/e2e_warmup.ts): before, each cell was one 2-s run
// whose first second a fresh stack spent compiling, against one kernel run.

import assert from "node:assert/strict";
import {
  gbitPerS,
  intervalLines,
  markFromIntervals,
  splitAt,
  uperfSplit,
} from "../../bench/e2e_warmup.ts";
import {
  bulkPort,
  emptyValues,
  type MtuResult,
  parseE2eArgs,
  PORTS,
  receivedAfterMark,
  roundLines,
  toRecord,
  warmupLines,
} from "../../bench/e2e.ts";
import { spreadOf } from "../../bench/e2e_rounds.ts";

/** A `uperf --json` stdout: a second at `first` Gbit/s, then `rest` Gbit/s, a summary. */
function uperfOut(first: number, rest: number[], endLate = 0.004): string {
  const lines: string[] = ['{"event":"start","role":"client"}'];
  let bytes = 0;
  const rates = [first, ...rest];
  rates.forEach((g, i) => {
    const b = g * 1e9 / 8;
    bytes += b;
    lines.push(JSON.stringify({
      event: "interval",
      role: "client",
      start: i === 0 ? 0 : i + endLate,
      end: i + 1 + endLate,
      bytes: b,
    }));
  });
  // A GC trace line cut into the stream, as V8's --trace-gc-nvp does.
  lines.push('pause=0.2 … GC: {"x":1}');
  lines.push(JSON.stringify({ event: "summary", role: "client", bytes, seconds: rates.length }));
  return lines.join("\n");
}

Deno.test("e2e warm-up: a slow first second is left out; the whole run's rate is what main counted", () => {
  // A fresh stack sender: 15 Gbit/s in its first second (V8 still compiling), 25 after.
  const out = uperfOut(15, [25, 25]);
  assert.equal(intervalLines(out).length, 3);
  const summary = { bytes: (15 + 25 + 25) * 1e9 / 8, seconds: 3 };
  const s = uperfSplit(summary, out, 1);
  assert.ok(Math.abs(s.warmSeconds - 1.004) < 1e-9, `mark at ${s.warmSeconds}`);
  assert.equal(s.warmBytes, 15e9 / 8);
  assert.ok(Math.abs(s.gbps! - 25) < 0.1, `after the mark ${s.gbps}`);
  assert.ok(Math.abs(s.warmGbps! - 15) < 0.1, `in the warm-up ${s.warmGbps}`);
  // What a run that counts its start reports: a fifth below the steady rate.
  assert.ok(Math.abs(gbitPerS(summary.bytes, summary.seconds)! - 21.67) < 0.01);
  // --warmup 0: the whole run counts, as before.
  const whole = uperfSplit(summary, out, 0);
  assert.equal(whole.warmSeconds, 0);
  assert.equal(whole.warmGbps, null);
  assert.ok(Math.abs(whole.gbps! - 21.67) < 0.01);
  // The Python sender's own mark (bytes acknowledged at 1.002 s).
  const py = splitAt(8e9, 3.01, 2e9, 1.002);
  assert.ok(Math.abs(py.gbps! - (6e9 * 8 / 2.008 / 1e9)) < 1e-9);
  // A mark at or past the end (a run shorter than its warm-up) is no mark.
  assert.equal(splitAt(1e9, 0.8, 1e9, 1.0).warmSeconds, 0);
  assert.equal(splitAt(1e9, 0.8, 1e9, 1.0).gbps, 10);
});

Deno.test("e2e warm-up: the interval mark takes the lines that end by the warm-up, a late timer too", () => {
  const lines = [
    { start: 0, end: 1.2, bytes: 100 },
    { start: 1.2, end: 2.2, bytes: 300 },
    { start: 2.2, end: 3.2, bytes: 300 },
  ];
  assert.deepEqual(markFromIntervals(lines, 1), { warmBytes: 100, warmSeconds: 1.2 });
  assert.deepEqual(markFromIntervals(lines, 2), { warmBytes: 400, warmSeconds: 2.2 });
  // A first line past the slack: no mark (the whole run counts), not a wrong one.
  assert.deepEqual(markFromIntervals([{ start: 0, end: 1.5, bytes: 9 }], 1), {
    warmBytes: 0,
    warmSeconds: 0,
  });
  assert.deepEqual(markFromIntervals(lines, 0), { warmBytes: 0, warmSeconds: 0 });
  // A UDP receiver's bytes after its own mark over the sender's measured seconds.
  const sent = splitAt(3e9, 3, 1e9, 1);
  assert.equal(receivedAfterMark({ bytes: 2.5e9, warmBytes: 0.5e9 }, sent), 8);
  // A receiver that got nothing after its mark received nothing in the measured time.
  assert.equal(receivedAfterMark({ bytes: 1e9, warmBytes: 1e9 }, sent), 0);
  // No sender mark: all it got over the whole time, as before.
  assert.equal(receivedAfterMark({ bytes: 3e9, warmBytes: 1e9 }, splitAt(3e9, 3, 0, 0)), 8);
});

Deno.test("e2e bulk rounds: options, ports apart from the connection rows', the JSON and the lines", () => {
  const quick = parseE2eArgs(["--quick"])!;
  assert.equal(quick.bulkRounds, 3);
  assert.equal(quick.warmupSeconds, 1);
  assert.equal(quick.seconds, 1);
  assert.equal(quick.rounds, 3, "the connection rows: 3 rounds, to fit a 6-minute hold");
  assert.equal(parseE2eArgs([])!.bulkRounds, 3);
  assert.equal(parseE2eArgs(["--bulk-rounds", "5", "--warmup", "0"])!.bulkRounds, 5);
  assert.equal(parseE2eArgs(["--warmup", "0"])!.warmupSeconds, 0);
  assert.throws(() => parseE2eArgs(["--bulk-rounds", "0"]), /--bulk-rounds/);
  assert.throws(() => parseE2eArgs(["--warmup", "-1"]), /--warmup/);

  // Every bulk and request/response port of 20 rounds: distinct, and none a connection row's
  // (conn + 100 per round) or HTTP's (8080 + round) or an iperf3 row's.
  const bulk: number[] = [];
  const other = new Set<number>();
  for (const ports of Object.values(PORTS)) {
    const p = ports as Record<string, number>;
    for (let r = 0; r < 20; r++) {
      for (const k of ["tcp", "udp", "rr"]) if (p[k] !== undefined) bulk.push(bulkPort(p[k], r));
      other.add(p.conn + 100 * r);
      other.add(8080 + r);
    }
    for (const k of ["tcpIperf3", "udpIperf3"]) if (p[k] !== undefined) other.add(p[k]);
  }
  assert.equal(new Set(bulk).size, bulk.length, "no two bulk runs share a port");
  assert.deepEqual(bulk.filter((p) => other.has(p)), []);
  assert.ok(Math.max(...bulk) < 32_768, "below the ephemeral range");

  const values = emptyValues();
  const kernel = spreadOf([16.4, 9.6, 17.1]);
  const stack = spreadOf([18.6, 17.0, 20.2]);
  values.tcpGbps.kernel_kernel = kernel.median;
  values.tcpGbps.kernel_ustack = stack.median;
  const warm = (w: number, g: number) => ({ warmup: splitAt((w + g) * 1.25e8, 2, w * 1.25e8, 1) });
  const r: MtuResult = {
    mtu: 9000,
    values,
    details: {
      kernel_kernel: { tcpRounds: [warm(16, 16.4), warm(9, 9.6), warm(17, 17.1)] },
      ustack_kernel: {},
      kernel_ustack: { tcpRounds: [warm(12, 18.6), null, warm(14, 20.2)] },
      ustack_ustack: {},
    },
    errors: [],
    rounds: { tcpGbps: { kernel_kernel: kernel, kernel_ustack: stack } },
    roundRatios: { tcpGbps: { kernel_ustack: spreadOf([1.13, 1.77, 1.18]) } },
  };
  const o = parseE2eArgs(["--quick", "--mtu", "9000", "--only", "tcp"])!;
  const rec = toRecord(o, [r], new Date(0), {}) as any;
  assert.equal(rec.options.bulkRounds, 3);
  assert.equal(rec.options.warmupSeconds, 1);
  assert.equal(rec.options.rounds, 3);
  const m = rec.mtus[0];
  assert.equal(m.results.kernel_ustack.tcpGbps, 18.6);
  assert.equal(m.ratioToKernel.kernel_ustack.tcpGbps, Math.round(18.6 / 16.4 * 1e4) / 1e4);
  assert.deepEqual(m.rounds.tcpGbps.kernel_kernel.perRound, [16.4, 9.6, 17.1]);
  assert.equal(m.roundRatioToKernel.kernel_ustack.tcpGbps.median, 1.18);
  const lines = roundLines(r);
  assert.match(lines[0], /^Rows in rounds/);
  assert.match(lines[1], /^ {2}TCP bulk, 1 stream: kernel↔kernel 16\.40 \(9\.60–17\.10, 3\)/);
  assert.match(lines[1], /kernel→ustack 18\.60 \(17\.00–20\.20, 3\), ×1\.18 \(1\.13–1\.77\)/);
  const w = warmupLines(r);
  assert.equal(w.length, 2);
  assert.match(w[1], /kernel↔kernel 16\.00 → 16\.40 \(1\.00 s, 3\)/);
  assert.match(w[1], /kernel→ustack 13\.00 → 19\.40 \(1\.00 s, 2\)/);
  assert.deepEqual(
    warmupLines({ ...r, details: { ...r.details, kernel_kernel: {}, kernel_ustack: {} } }),
    [],
  );
});
