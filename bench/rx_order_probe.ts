/**
 * `deno run -A bench/rx_order_probe.ts [--mtu 1500] [--mb 400]`: how often a kernel TCP flow's
 * frames reach an AF_PACKET receiver out of sequence order, with the split receive (two rings
 * merged by stamps) and with one ring of 64 KiB slots, side by side on the same flow. The
 * kernel owns the address here (a socat sink on the stack end); both drivers only tap.
 *
 * Prints, per driver: data frames seen, frames whose sequence number is below one seen before
 * (inversions), and for the split driver how many of those came from the other ring than the
 * frame before.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import { RxBatch } from "../link/driver.ts";
import { withVethPair } from "../tests/harness/netns.ts";

const args = parseArgs({
  args: Deno.args,
  options: { mtu: { type: "string" }, mb: { type: "string" } },
});
const mtu = Number(args.values.mtu ?? 1500);
const mb = Number(args.values.mb ?? 400);

interface Tally {
  frames: number;
  inversions: number;
  maxSeq: number;
  crossRing: number;
  lastLarge: boolean;
}

function tally(): Tally {
  return { frames: 0, inversions: 0, maxSeq: -1, crossRing: 0, lastLarge: false };
}

await withVethPair({ mtu, ipv6: false }, async (pair) => {
  const add = await pair.runInStackNs([
    "ip",
    "addr",
    "add",
    `${pair.stackAddr}/24`,
    "dev",
    pair.stackIf,
  ]);
  if (add.code !== 0) throw new Error(add.stderr);
  const split = AfPacketRingDriver.open({
    ifname: pair.stackIf,
    netns: pair.stackNs,
    rxSplit: true,
    txKick: "sync",
  });
  const big = AfPacketRingDriver.open({
    ifname: pair.stackIf,
    netns: pair.stackNs,
    rxSmallSlots: false,
    txKick: "sync",
  });
  const sink = pair.spawnInStackNs(["socat", "-u", "TCP-LISTEN:5001,reuseaddr", "OPEN:/dev/null"]);
  await new Promise((r) => setTimeout(r, 300));
  const flow = pair.run([
    "sh",
    "-c",
    `head -c ${mb}000000 /dev/zero | socat -u - TCP:${pair.stackAddr}:5001`,
  ]);
  let finished = false;
  flow.then(() => (finished = true));
  const batch = new RxBatch(64);
  const t = { split: tally(), big: tally() };
  const look = (d: AfPacketRingDriver, s: Tally, isSplit: boolean) => {
    const before = d.stats.rxLargeRingFrames;
    const n = d.receive(batch, 64);
    for (let i = 0; i < n; i++) {
      const f = batch.buf[i];
      const o = batch.off[i];
      if (((f[o + 12] << 8) | f[o + 13]) !== 0x0800 || f[o + 23] !== 6) continue;
      const ihl = (f[o + 14] & 0xf) * 4;
      const tcp = o + 14 + ihl;
      if (((f[tcp + 2] << 8) | f[tcp + 3]) !== 5001) continue;
      const ipLen = (f[o + 16] << 8) | f[o + 17];
      if (ipLen - ihl - ((f[tcp + 12] >> 4) * 4) <= 0) continue;
      const seq = ((f[tcp + 4] << 24) | (f[tcp + 5] << 16) | (f[tcp + 6] << 8) | f[tcp + 7]) >>> 0;
      const large = batch.len[i] > mtu + 14;
      s.frames++;
      if (s.maxSeq >= 0 && seq < s.maxSeq && s.maxSeq - seq < 2 ** 30) {
        s.inversions++;
        if (isSplit && large !== s.lastLarge) s.crossRing++;
      } else s.maxSeq = seq;
      s.lastLarge = large;
    }
    d.release(batch);
    void before;
  };
  let spins = 0;
  while (!finished) {
    look(split, t.split, true);
    look(big, t.big, false);
    if (++spins % 256 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  await sink.status;
  console.log(
    JSON.stringify({
      mtu,
      mb,
      split: t.split,
      big: t.big,
      splitStats: { ...split.stats },
      bigStats: { ...big.stats },
    }),
  );
  split.close();
  big.close();
});
