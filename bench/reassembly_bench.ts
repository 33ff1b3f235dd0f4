/**
 * IPv4 reassembly of 8,900-byte UDP datagrams (8,908 bytes of IP payload) at MTU 1500: seven
 * fragments per datagram, in order, one datagram after another — the receive side of
 * `bench:e2e`'s UDP row at MTU 1500. One iteration reassembles one datagram.
 *
 * ```sh
 * deno bench --allow-all bench/reassembly_bench.ts
 * ```
 *
 * @module
 */

import { Ipv4Reassembler } from "../net/ipv4_reassembly.ts";
import { VirtualClock } from "../core/clock.ts";
import { TimerWheel } from "../core/timer_wheel.ts";
import { StackStats } from "../stack/stats.ts";

/** IP payload of one datagram: an 8,900-byte UDP payload and its 8-byte header. */
const PAYLOAD_BYTES = 8908;
/** Fragment payload at MTU 1500 (1500 − 20, a multiple of 8). */
const FRAGMENT_PAYLOAD_BYTES = 1480;

/** The fragments of datagram `id`, each a whole IPv4 packet in its own buffer. */
function fragments(id: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let start = 0; start < PAYLOAD_BYTES; start += FRAGMENT_PAYLOAD_BYTES) {
    const end = Math.min(PAYLOAD_BYTES, start + FRAGMENT_PAYLOAD_BYTES);
    const f = new Uint8Array(20 + end - start);
    f.set([0x45, 0, f.length >> 8, f.length & 0xff, id >> 8, id & 0xff], 0);
    const word = (end < PAYLOAD_BYTES ? 0x2000 : 0) | (start >> 3);
    f[6] = word >> 8;
    f[7] = word & 0xff;
    f[8] = 64;
    f[9] = 17;
    f.set([198, 18, 0, 1, 198, 18, 0, 2], 12);
    for (let i = 20; i < f.length; i++) f[i] = (start + i) & 0xff;
    out.push(f);
  }
  return out;
}

const clock = new VirtualClock();
const timers = new TimerWheel();
const stats = new StackStats();
const reassembler = new Ipv4Reassembler(timers, clock, stats.ip);
// Ids cycle over 256 prepared datagrams so every iteration is a new datagram.
const trains = Array.from({ length: 256 }, (_, i) => fragments(i + 1));
let next = 0;

Deno.bench("IPv4 reassembly, 8,908 B in 7 fragments (MTU 1500)", () => {
  const train = trains[next];
  next = (next + 1) & 255;
  let whole = null;
  for (const f of train) whole = reassembler.add(f, 0, f.length, 0);
  if (whole === null) throw new Error("datagram did not complete");
});
