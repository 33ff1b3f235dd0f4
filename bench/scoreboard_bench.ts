/**
 * Micro-benchmark of the SACK scoreboard's per-ACK work under loss: a receiver holding a hole
 * near SND.UNA acknowledges each new arrival with a SACK block whose right edge moved on by
 * two segments, as the sink does under 1 % loss. One bench per window size (records of 30
 * segments in flight): the split is gone; an edge that passes a record boundary still merges,
 * moving the later records (O(records ÷ segments per record) per ACK). Run:
 * `deno bench bench/scoreboard_bench.ts` (here and in another checkout to compare).
 *
 * @module
 */

import { DeliveryRate } from "../transport/tcp/delivery_rate.ts";
import { Scoreboard } from "../transport/tcp/scoreboard.ts";

const MSS = 1448;
const SEGS = 30;
/** Above 2**30, as most of a connection's sequence space is. */
const BASE = 0x7ff0_0000;

for (const records of [30, 300, 1000]) {
  const sb = new Scoreboard(new DeliveryRate(), 16384);
  let t = 0;
  let s = 0;
  const fill = () => {
    sb.reset(BASE);
    for (let i = 0; i < records; i++) {
      sb.onSend(BASE + i * SEGS * MSS, BASE + (i + 1) * SEGS * MSS, t, 0);
    }
    s = 3;
  };
  fill();
  Deno.bench(`scoreboard: a SACK edge moved on 2 segments, ${records} records in flight`, () => {
    if (s > records * SEGS) fill();
    sb.beginAck(++t, 0);
    sb.sack(BASE + MSS, BASE + s * MSS);
    s += 2;
  });
}
