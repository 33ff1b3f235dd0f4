// The coalescing readiness mux: readiness gathered during a tick is delivered once at its end,
// and the outside world is signalled (one eventfd write) exactly once per tick that made
// anything ready — checked on the mux alone and on a real Stack over the in-memory wire.

import assert from "node:assert/strict";
import { SimWire } from "../../link/sim_wire.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import { SeededRandom } from "../../core/random.ts";
import {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  EventMux,
  WaitQueue,
} from "../../core/event_mux.ts";
import { Stack } from "../../stack/stack.ts";
import { UdpPeer } from "../../transport/udp.ts";
import { IpAddress } from "../../net/ip_address.ts";

/** Let pending promise reactions run. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("EventMux: notifications during a tick are delivered once per queue at fire()", async () => {
  const mux = new EventMux();
  let signals = 0;
  mux.signal = () => signals++;
  const queues = [new WaitQueue(), new WaitQueue(), new WaitQueue()];
  const calls: number[][] = queues.map(() => []);
  queues.forEach((wq, i) => wq.listener = (ev) => calls[i].push(ev));
  let woken = 0;
  const waiter = queues[0].wait(EV_READABLE).then((ev) => {
    woken++;
    return ev;
  });
  // "During the tick": many notifications, nothing delivered yet.
  for (let round = 0; round < 10; round++) {
    for (const wq of queues) {
      wq.readiness |= EV_READABLE;
      mux.notify(wq, EV_READABLE);
    }
  }
  queues[1].readiness |= EV_WRITABLE;
  mux.notify(queues[1], EV_WRITABLE);
  await microtasks();
  assert.deepEqual(calls, [[], [], []]);
  assert.equal(woken, 0);
  assert.equal(signals, 0);
  assert.ok(mux.hasPending);
  assert.equal(queues[0].waiters, 1);
  // End of the tick: one delivery per queue, events OR'ed, one signal.
  assert.equal(mux.fire(), 3);
  assert.deepEqual(calls, [[EV_READABLE], [EV_READABLE | EV_WRITABLE], [EV_READABLE]]);
  assert.equal(signals, 1);
  assert.equal(await waiter, EV_READABLE);
  assert.equal(queues[0].waiters, 0);
  assert.equal(mux.hasPending, false);
  assert.deepEqual(mux.stats, {
    signals: 1,
    deliveries: 3,
    notifies: 31,
    listenerErrors: 0,
    reactionsUntracked: 1, // the listeners' deliveries (one tick)
  });
  // A tick that made nothing ready signals nothing.
  assert.equal(mux.fire(), 0);
  assert.equal(signals, 1);
  for (const wq of queues) assert.equal(wq.pending, 0);
});

Deno.test("EventMux: readiness raised while delivering goes to the next round", () => {
  const mux = new EventMux();
  let signals = 0;
  mux.signal = () => signals++;
  const a = new WaitQueue();
  const b = new WaitQueue();
  const seen: string[] = [];
  a.listener = () => {
    seen.push("a");
    // A callback that makes another socket ready (say, it wrote to it).
    b.readiness |= EV_READABLE;
    mux.notify(b, EV_READABLE);
  };
  b.listener = () => seen.push("b");
  mux.notify(a, EV_READABLE);
  assert.equal(mux.fire(), 1);
  assert.deepEqual(seen, ["a"]);
  assert.ok(mux.hasPending);
  assert.equal(mux.fire(), 1);
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(signals, 2);
});

Deno.test("WaitQueue: wait() resolves at once when ready, else only for its own events", async () => {
  const wq = new WaitQueue();
  wq.readiness = EV_WRITABLE;
  assert.equal(await wq.wait(EV_WRITABLE | EV_READABLE), EV_WRITABLE);
  let readable = 0;
  let errored = 0;
  wq.wait(EV_READABLE).then((ev) => readable = ev);
  wq.wait(EV_ERROR).then((ev) => errored = ev);
  assert.equal(wq.waiters, 2);
  wq.deliver(EV_WRITABLE);
  await microtasks();
  assert.equal(readable, 0);
  assert.equal(wq.waiters, 2, "writability wakes neither");
  wq.readiness = EV_WRITABLE | EV_READABLE;
  wq.deliver(EV_READABLE);
  await microtasks();
  assert.equal(readable, EV_READABLE);
  assert.equal(errored, 0);
  assert.equal(wq.waiters, 1);
  wq.wakeAll(EV_ERROR | EV_HANGUP);
  await microtasks();
  assert.equal(errored, EV_ERROR | EV_HANGUP);
  assert.equal(wq.waiters, 0);
});

/** Two stacks on a wire; `b` has `sockets` UDP sockets bound to ports 7000.. */
function setup(sockets: number, rxBatch = 64) {
  const clock = new VirtualClock(1000);
  const wire = new SimWire({ clock, seed: 3, delayMs: 1 });
  // Seeded timers: with Math.random an IPv6 start-up frame (DAD, MLD report, router
  // solicitation, sent at a random delay) sometimes landed inside a test's ticks and was counted.
  const ra = new SeededRandom(7), rb = new SeededRandom(8);
  const a = new Stack({ clock, poolBuffers: 128, random: () => ra.nextFloat() });
  const b = new Stack({ clock, poolBuffers: 128, rxBatch, random: () => rb.nextFloat() });
  const na = a.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1])));
  const nb = b.addNic(wire.endpoint("b", new Uint8Array([2, 0, 0, 0, 0, 2])));
  a.ipv4.addAddress(na.index, parseIpv4("198.18.0.1"), 24);
  b.ipv4.addAddress(nb.index, parseIpv4("198.18.0.2"), 24);
  let signals = 0;
  b.mux.signal = () => signals++;
  const eps = Array.from({ length: sockets }, (_, i) => {
    const ep = b.udp.open();
    ep.bind(null, 7000 + i);
    return ep;
  });
  const sender = a.udp.open();
  const dst = IpAddress.v4(parseIpv4("198.18.0.2"));
  const payload = new Uint8Array(100);
  // Resolve ARP both ways with one datagram, then empty everything.
  sender.sendto(payload, 0, 100, dst, 7000);
  for (let i = 0; i < 20; i++) {
    a.tick();
    b.tick();
    clock.advance(1);
  }
  const scratch = new Uint8Array(200);
  assert.equal(eps[0].recvfrom(scratch, 0, 200, new UdpPeer()), 100);
  return { clock, a, b, eps, sender, dst, payload, signals: () => signals };
}

Deno.test("Stack: 50 datagrams to 10 sockets arriving in one tick make exactly one signal", () => {
  const { clock, a, b, eps, sender, dst, payload, signals } = setup(10);
  const deliveries = eps.map(() => 0);
  const queuedAtDelivery = eps.map(() => 0);
  eps.forEach((ep, i) => {
    ep.wq.listener = () => {
      deliveries[i]++;
      queuedAtDelivery[i] = ep.queuedDatagrams;
    };
  });
  const signalsBefore = signals();
  const muxBefore = { ...b.mux.stats };
  for (let i = 0; i < 50; i++) sender.sendto(payload, 0, 100, dst, 7000 + (i % 10));
  a.tick(); // all 50 on the wire at once
  clock.advance(1);
  const ticksBefore = b.ticks;
  assert.equal(b.tick(), 50, "one tick received all 50 frames");
  assert.equal(b.ticks, ticksBefore + 1);
  assert.equal(signals() - signalsBefore, 1, "one eventfd write for the whole tick");
  assert.equal(b.mux.stats.signals - muxBefore.signals, 1);
  assert.equal(b.mux.stats.deliveries - muxBefore.deliveries, 10, "one delivery per socket");
  assert.equal(b.mux.stats.notifies - muxBefore.notifies, 10, "readiness gained once each");
  assert.deepEqual(deliveries, Array(10).fill(1));
  // Delivered at the end of the tick: each socket already held all 5 of its datagrams.
  assert.deepEqual(queuedAtDelivery, Array(10).fill(5));
  // Ticks with nothing new signal nothing, even with data still queued.
  b.tick();
  clock.advance(1);
  b.tick();
  assert.equal(signals() - signalsBefore, 1);
  assert.equal(b.stats.udp.InDatagrams, 51);
});

Deno.test("Stack: two ticks that each make sockets ready signal twice; no new readiness, no signal", () => {
  const { clock, a, b, eps, sender, dst, payload, signals } = setup(10, 25);
  const deliveries = eps.map(() => 0);
  eps.forEach((ep, i) => ep.wq.listener = () => deliveries[i]++);
  const before = signals();
  // The first 25 frames go to sockets 0..4, the next 25 to sockets 5..9; 25 frames per tick.
  for (let i = 0; i < 50; i++) {
    sender.sendto(payload, 0, 100, dst, 7000 + (i < 25 ? 0 : 5) + (i % 5));
  }
  a.tick();
  clock.advance(1);
  assert.equal(b.tick(), 25);
  assert.equal(signals() - before, 1);
  assert.deepEqual(deliveries, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  assert.equal(b.tick(), 25);
  assert.equal(signals() - before, 2);
  assert.deepEqual(deliveries, Array(10).fill(1));
  // More datagrams for sockets that are still readable: nothing became ready, no signal.
  for (let i = 0; i < 10; i++) sender.sendto(payload, 0, 100, dst, 7000 + i);
  a.tick();
  clock.advance(1);
  assert.equal(b.tick(), 10);
  assert.equal(signals() - before, 2);
  for (const ep of eps) assert.equal(ep.queuedDatagrams, 6);
  // Drained, a socket becomes ready again with its next datagram: a new signal.
  const buf = new Uint8Array(200);
  for (const ep of eps) while (ep.recvfrom(buf, 0, 200, null) >= 0) { /* drain */ }
  sender.sendto(payload, 0, 100, dst, 7003);
  a.tick();
  clock.advance(1);
  b.tick();
  assert.equal(signals() - before, 3);
  assert.equal(deliveries[3], 2);
});

Deno.test("event mux: a throwing listener is counted and does not stop other deliveries", () => {
  const mux = new EventMux();
  const errors: unknown[] = [];
  mux.onListenerError = (e) => errors.push(e);
  const bad = new WaitQueue();
  const good = new WaitQueue();
  let delivered = 0;
  bad.listener = () => {
    throw new Error("application bug");
  };
  good.listener = () => delivered++;
  mux.notify(bad, EV_READABLE);
  mux.notify(good, EV_READABLE);
  assert.equal(mux.fire(), 2);
  assert.equal(delivered, 1);
  assert.equal(mux.stats.listenerErrors, 1);
  assert.equal(errors.length, 1);
});

Deno.test("WaitQueue: a waiter not woken keeps its place while others come and go", async () => {
  const mux = new EventMux();
  const wq = new WaitQueue();
  let writable = 0;
  const w = wq.wait(EV_WRITABLE).then((ev) => writable = ev);
  for (let i = 0; i < 20; i++) {
    const r = wq.wait(EV_READABLE);
    assert.equal(wq.waiters, 2);
    mux.notify(wq, EV_READABLE);
    mux.fire();
    assert.equal(await r, EV_READABLE);
    assert.equal(wq.waiters, 1);
  }
  assert.equal(writable, 0);
  mux.notify(wq, EV_WRITABLE);
  mux.fire();
  await w;
  assert.equal(writable, EV_WRITABLE);
  assert.equal(wq.waiters, 0);
});

Deno.test("mux: reactionsDone once every woken waiter waits again, not for listeners", async () => {
  const mux = new EventMux();
  const a = new WaitQueue();
  const b = new WaitQueue();
  mux.beginReactions();
  assert.equal(mux.reactionsDone, true, "nothing woken");
  const pa = a.wait(EV_READABLE);
  const pb1 = b.wait(EV_READABLE);
  const pb2 = b.wait(EV_READABLE | EV_WRITABLE);
  a.readiness = EV_READABLE;
  b.readiness = EV_READABLE;
  mux.notify(a, EV_READABLE);
  mux.notify(b, EV_READABLE);
  mux.fire();
  await Promise.all([pa, pb1, pb2]);
  assert.equal(mux.reactionsDone, false, "woken, not waiting again");
  a.readiness = 0;
  b.readiness = 0;
  void a.wait(EV_READABLE);
  void b.wait(EV_READABLE);
  assert.equal(mux.reactionsDone, false, "b woke two waiters; one waits again");
  void b.wait(EV_WRITABLE);
  assert.equal(mux.reactionsDone, true);
  // A wait that finds its event ready does not count: the task did not stop.
  a.readiness = EV_READABLE;
  mux.beginReactions();
  const pc = b.wait(EV_READABLE);
  b.readiness = EV_READABLE;
  mux.notify(b, EV_READABLE);
  mux.fire();
  await pc;
  await b.wait(EV_READABLE);
  assert.equal(mux.reactionsDone, false);
  // A delivery to a listener cannot be followed.
  mux.beginReactions();
  a.listener = () => {};
  mux.notify(a, EV_READABLE);
  mux.fire();
  assert.equal(mux.reactionsDone, false);
  assert.equal(mux.stats.reactionsUntracked, 1);
  mux.beginReactions();
  assert.equal(mux.reactionsDone, true);
});

Deno.test("mux: a listener marked listenerSync has reacted when it returns; reactionsDone follows it", () => {
  const mux = new EventMux();
  const a = new WaitQueue();
  let calls = 0;
  a.listener = () => calls++;
  a.listenerSync = true;
  a.readiness = EV_READABLE;
  mux.beginReactions();
  mux.notify(a, EV_READABLE);
  mux.fire();
  assert.equal(calls, 1);
  assert.equal(mux.reactionsDone, true, "nothing left to wait for");
  assert.equal(mux.stats.reactionsUntracked, 0);
  // The same listener unmarked: its reaction cannot be followed.
  a.listenerSync = false;
  mux.beginReactions();
  mux.notify(a, EV_READABLE);
  mux.fire();
  assert.equal(calls, 2);
  assert.equal(mux.reactionsDone, false);
  assert.equal(mux.stats.reactionsUntracked, 1);
});

Deno.test("WaitQueue: a waitCall function that throws is dropped; the waiters after it stay, counted per queue", () => {
  const mux = new EventMux();
  const errors: unknown[] = [];
  mux.onListenerError = (e) => errors.push(e);
  const wq = new WaitQueue();
  const calls: string[] = [];
  wq.waitCall(EV_READABLE, () => calls.push("a"));
  wq.waitCall(EV_READABLE, () => {
    calls.push("bad");
    throw new Error("application bug");
  });
  wq.waitCall(EV_READABLE, () => calls.push("c"));
  wq.waitCall(EV_WRITABLE, () => calls.push("w"));
  mux.beginReactions();
  mux.notify(wq, EV_READABLE);
  mux.fire();
  assert.deepEqual(calls, ["a", "bad"]);
  assert.equal(errors.length, 1);
  assert.equal(wq.calls, 2);
  assert.ok(mux.calledWaiters);
  // Neither the woken nor the one that threw is called again; the two after it are kept.
  assert.equal(wq.waiters, 2);
  mux.notify(wq, EV_READABLE | EV_WRITABLE);
  mux.fire();
  assert.deepEqual(calls, ["a", "bad", "c", "w"]);
  assert.equal(wq.waiters, 0);
});

Deno.test("mux: calledWaiters follows its own queues' waitCall deliveries, not another mux's", () => {
  const a = new EventMux();
  const b = new EventMux();
  const qa = new WaitQueue();
  a.beginReactions();
  b.beginReactions();
  qa.waitCall(EV_READABLE, () => {});
  a.notify(qa, EV_READABLE);
  a.fire();
  assert.equal(a.calledWaiters, true);
  assert.equal(b.calledWaiters, false, "another stack's mux in the same isolate");
  a.beginReactions();
  assert.equal(a.calledWaiters, false);
});

Deno.test("mux: wokeWriters tells a tick that woke a writer from one that woke only readers", () => {
  // The event loop drains a tick's microtask turns from a turn's callback unless the tick woke a
  // task waiting for send space (bench/README.md, "heap39b").
  const mux = new EventMux();
  const wq = new WaitQueue();
  mux.beginReactions();
  void wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
  wq.readiness = EV_READABLE | EV_WRITABLE;
  mux.notify(wq, EV_READABLE | EV_WRITABLE);
  mux.fire();
  assert.equal(mux.wokeWriters, false, "a reader, though the queue is writable too");
  wq.waitCall(EV_WRITABLE | EV_ERROR | EV_HANGUP, () => {});
  mux.notify(wq, EV_WRITABLE);
  mux.fire();
  assert.equal(mux.wokeWriters, true, "a waitCall writer");
  mux.beginReactions();
  assert.equal(mux.wokeWriters, false, "a new tick");
  wq.readiness = 0;
  void wq.wait(EV_WRITABLE);
  mux.notify(wq, EV_WRITABLE);
  wq.readiness = EV_WRITABLE;
  mux.fire();
  assert.equal(mux.wokeWriters, true, "a promise writer");
});

Deno.test("mux: a waitCall function that waits again inside its delivery has not reacted yet", async () => {
  // A writer woken through `waitCall` that writes inside the delivery, settles a promise (its
  // reaction, an answer, is queued) and waits for more room: main's mux took the wait made inside
  // the delivery as the reaction, and the event loop ended its microtask turns before the
  // answer ran (and ticked on without a turn of Deno's event loop).
  const mux = new EventMux();
  const wq = new WaitQueue();
  const steps: string[] = [];
  let settle: () => void = () => {};
  const handedOn = new Promise<void>((r) => settle = r);
  const onWritable = (): void => {
    steps.push("wrote");
    settle();
    wq.waitCall(EV_WRITABLE, onWritable);
  };
  wq.waitCall(EV_WRITABLE, onWritable);
  const answered = handedOn.then(() => {
    steps.push("answered");
    // The answer's task waits on the queue: now every reaction is done.
    void wq.wait(EV_READABLE);
  });
  mux.beginReactions();
  mux.notify(wq, EV_WRITABLE);
  mux.fire();
  assert.deepEqual(steps, ["wrote"]);
  assert.equal(wq.waiters, 1, "the function waits again");
  assert.equal(mux.reactionsDone, false, "its handed-on reaction is still queued");
  await answered;
  assert.deepEqual(steps, ["wrote", "answered"]);
  assert.equal(mux.reactionsDone, true);
  // The same for a function that waits again with nothing to hand on (a spurious wake-up): the
  // mux cannot tell the two apart, so it follows it as a woken promise whose task waits no more.
  const quiet = new WaitQueue();
  const onReadable = (): void => quiet.waitCall(EV_READABLE, onReadable);
  quiet.waitCall(EV_READABLE, onReadable);
  mux.beginReactions();
  mux.notify(quiet, EV_READABLE);
  mux.fire();
  assert.equal(quiet.waiters, 1);
  assert.equal(mux.reactionsDone, false);
  assert.ok(mux.calledWaiters);
});
