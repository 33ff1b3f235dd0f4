/**
 * How one output pass packs what the congestion window allows into super-segments
 * (`TcpSender.output`): the window counts whole segments, as Linux counts packets, and a
 * window that ends inside a segment lets that segment go in the same super-segment — one
 * frame for the kernel to take, not a super-segment of the whole segments and then a frame
 * of one (under 1 % loss PRR's and CUBIC's windows are rarely whole segments: measured in
 * `bench:cc`, 74 frames per MB before, 55 after; bench/README.md, branch `cc11m`).
 */

import assert from "node:assert/strict";
import { ackOf, RIG_MSS, windowInFlight } from "../harness/sender_rig.ts";

const MSS = RIG_MSS;
const ack = ackOf;

Deno.test("output: a window ending inside a segment leaves as one super-segment, that segment included", () => {
  const { snd, conn, clock } = windowInFlight(1 << 21);
  // 0.2 ms later (no TSO deferral: the next ACK is far off) ten segments are acknowledged and
  // the window is 30.5 segments: 10.5 free, which Linux counts as 11 packets.
  clock.advance(0.2);
  assert(snd.onAck(ack(snd.sndUna + 10 * MSS)));
  snd.cc.setCwnd(30 * MSS + 500);
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [11 * MSS], "one frame of eleven segments");
});

Deno.test("output: a window of whole segments sends exactly them, in one super-segment", () => {
  const { snd, conn, clock } = windowInFlight(1 << 21);
  clock.advance(0.2);
  assert(snd.onAck(ack(snd.sndUna + 10 * MSS)));
  snd.cc.setCwnd(30 * MSS);
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [10 * MSS]);
});

Deno.test("output: the peer's window still ends a super-segment on a segment boundary below it", () => {
  const { snd, conn, clock } = windowInFlight(1 << 21);
  clock.advance(0.2);
  const a = ack(snd.sndUna + 10 * MSS);
  // The peer's window (scale 7) is 40,960 bytes from the new SND.UNA, 20,960 of them free
  // with 20 segments in flight; cwnd (60.5 segments) would allow 41. The peer's window is
  // counted in bytes: twenty whole segments, no runt.
  a.window = 320; // 320 << 7 = 40,960
  assert(snd.onAck(a));
  snd.cc.setCwnd(60 * MSS + 500);
  snd.output();
  assert.deepEqual(conn.sent.map(([, , l]) => l), [20 * MSS], "rounded down to the peer's window");
});
