// The clock is read once per tick half, and readiness listeners run in that tick's time.

import assert from "node:assert/strict";
import { type Clock, VirtualClock } from "../../core/clock.ts";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { Stack } from "../../stack/stack.ts";

/**
 * A clock that caches the time during a tick, as the real one does, and counts its reads of
 * the underlying time (each `beginTick`, each `nowMs` outside a tick).
 */
class CountingTickClock implements Clock {
  readonly time = new VirtualClock(1000);
  reads = 0;
  #tickMs = 0;
  #inTick = false;
  nowMs(): number {
    if (this.#inTick) return this.#tickMs;
    this.reads++;
    return this.time.nowMs();
  }
  beginTick(): void {
    this.reads++;
    this.#tickMs = this.time.nowMs();
    this.#inTick = true;
  }
  endTick(): void {
    this.#inTick = false;
  }
}

Deno.test("tick clock: readiness listeners run in the tick's time; a connect there reads no clock", () => {
  const clock = new CountingTickClock();
  const stack = new Stack({ clock, poolBuffers: 32 });
  const lo = stack.addNic(new LoopbackDriver({ mtu: 1500 }));
  const addr = IpAddress.v4(parseIpv4("198.18.9.1"));
  stack.ipv4.addAddress(lo.index, addr.w3, 24);
  const rx = stack.udp.open();
  rx.bind(null, 5000);
  const tx = stack.udp.open();
  const l = stack.tcp.listen(null, 80, 8);
  let seen: { readsDuring: number; nowMs: number; tickReads: number } | null = null;
  let readsAtTick = -1;
  rx.wq.listener = () => {
    if (seen !== null) return;
    const before = clock.reads;
    const now = stack.clock.nowMs();
    const ep = stack.tcp.connect(addr, 80);
    ep.write(new Uint8Array(8), 0, 8);
    seen = { readsDuring: clock.reads - before, nowMs: now, tickReads: before - readsAtTick };
  };
  const msg = new Uint8Array(16);
  tx.sendto(msg, 0, msg.length, addr, 5000);
  for (let i = 0; i < 4 && seen === null; i++) {
    clock.time.advance(1);
    readsAtTick = clock.reads;
    stack.receive();
    stack.transmit();
  }
  assert.ok(seen !== null, "the datagram woke the listener");
  const s = seen as { readsDuring: number; nowMs: number; tickReads: number };
  assert.equal(s.readsDuring, 0, "the listener and its connect read the tick's time");
  assert.equal(s.tickReads, 1, "one read for the tick's receive half");
  assert.equal(s.nowMs, clock.time.nowMs());
  // Outside a tick the clock reads the time again.
  const r = clock.reads;
  stack.clock.nowMs();
  assert.equal(clock.reads, r + 1);
  // The connection made in the listener completes over the loopback.
  for (let i = 0; i < 10; i++) {
    clock.time.advance(1);
    stack.tick();
  }
  assert.ok(l.accept() !== null, "the connect made in the listener was accepted");
});
