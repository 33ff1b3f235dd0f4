// What a short connection's life costs in timer operations and clock reads, counted on the
// simulated wire with `pingpong --connect`'s own client (`ConnectCrowd`) and a server that
// answers and closes from its readiness listener as `pingpong server` does — so the server's
// FIN rides on its ACK of the client's FIN, as on a real pair.

import assert from "node:assert/strict";
import { ConnectCrowd } from "../../cli/pingpong_crowd.ts";
import type { Timer, TimerWheel } from "../../core/timer_wheel.ts";
import type { WaitQueue } from "../../core/event_mux.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import type { TcpListener } from "../../transport/tcp/listener.ts";
import { ADDR_B, makeSimNet, type SimNet } from "../harness/sim_net.ts";

const PORT = 7300;
/** The client's FIN_WAIT_2 timeout in the test that looks for it (no other timer's). */
const LINGER_MS = 77_777;
const SCRATCH = new Uint8Array(256);

/** Echo what arrives; close on EOF (pingpong server's `StackEchoServer`, in small). */
function onServerEvents(_events: number, wq: WaitQueue): void {
  const ep = wq.owner as TcpEndpoint | null;
  if (ep === null) return;
  for (;;) {
    const n = ep.read(SCRATCH, 0, SCRATCH.length);
    if (n > 0) {
      ep.write(SCRATCH, 0, n);
      continue;
    }
    if (n === 0) {
      wq.owner = null;
      wq.listener = null;
      ep.close();
    }
    return;
  }
}

function echoServer(net: SimNet): TcpListener {
  const l = net.tcpB.listen(null, PORT, 1024);
  l.wq.listener = () => {
    for (let ep = l.accept(); ep !== null; ep = l.accept()) {
      ep.setNoDelay(true);
      ep.wq.owner = ep;
      ep.wq.listener = onServerEvents;
      onServerEvents(1, ep.wq);
    }
  };
  return l;
}

/** `n` more connections of `crowd`, `conc` at a time, on the simulated wire (bounded). */
function runCrowd(net: SimNet, crowd: ConnectCrowd, n: number, conc: number): void {
  const upTo = crowd.started + n;
  const before = crowd.done + crowd.failed;
  void crowd.run(upTo, conc, Infinity);
  assert(net.run(() => crowd.done + crowd.failed === before + n, 60_000), "the crowd stalled");
  assert.equal(crowd.failed, 0, crowd.firstError);
}

/** Count the calls of `wheel`'s arm (schedule goes through it) and cancel, by fired callback. */
function countTimerOps(wheel: TimerWheel): { arms: number; cancelsOfArmed: number } {
  const counts = { arms: 0, cancelsOfArmed: 0 };
  const w = wheel as unknown as { arm(t: Timer): void; cancel(t: Timer): void };
  const arm = w.arm.bind(wheel);
  const cancel = w.cancel.bind(wheel);
  w.arm = (t: Timer) => {
    counts.arms++;
    arm(t);
  };
  w.cancel = (t: Timer) => {
    if (t.armed) counts.cancelsOfArmed++;
    cancel(t);
  };
  return counts;
}

function crowdPair(finWait2TimeoutMs = 60_000): { net: SimNet; crowd: ConnectCrowd } {
  const net = makeSimNet({ wire: { seed: 5, delayMs: 0.05 }, tcpA: { finWait2TimeoutMs } });
  echoServer(net);
  const crowd = new ConnectCrowd(net.a, ADDR_B, PORT, [], new Uint8Array(64).fill(7));
  runCrowd(net, crowd, 200, 32); // warm: routes, neighbours, pools
  return { net, crowd };
}

Deno.test("conn cost: a short connection arms each side's timers without re-arming them", () => {
  const { net, crowd } = crowdPair();
  const client = countTimerOps(net.a.timers);
  const server = countTimerOps(net.b.timers);
  const n = 1000;
  runCrowd(net, crowd, n, 32);
  assert(net.run(() => net.tcpB.endpoints === 0 && net.tcpA.endpoints === 0, 5000));
  // Each ends the usual way: the client in TIME_WAIT, from the server's FIN on its ACK.
  assert(net.tcpA.timeWaitCount >= n);
  // The client: the SYN's RTO and the request's and FIN's probe timers; the server: the
  // syncache entry's SYN-ACK timer and the answer's and FIN's probe timers (the TIME_WAIT
  // table's one timer now and then). Before: the RTO armed and moved to the probe at once
  // after each send (+2 a side), and the client's FIN_WAIT_2 timeout armed and cancelled on
  // the same segment (+1).
  const perConn = (x: number) => x / n;
  assert(perConn(client.arms) <= 3.1, `client arms ${perConn(client.arms)} per connection`);
  assert(perConn(server.arms) <= 3.1, `server arms ${perConn(server.arms)} per connection`);
  assert(
    perConn(client.cancelsOfArmed) <= 3.1,
    `client cancels ${perConn(client.cancelsOfArmed)} per connection`,
  );
});

Deno.test("conn cost: FIN_WAIT_2's timeout waits for a FIN riding on the ACK of ours", () => {
  const { net, crowd } = crowdPair(LINGER_MS);
  const wheel = net.a.timers as unknown as { arm(t: Timer): void };
  const arm = wheel.arm.bind(net.a.timers);
  let lingerArms = 0;
  wheel.arm = (t: Timer) => {
    const inMs = t.armAtMs - net.clock.nowMs();
    if (inMs > LINGER_MS - 10 && inMs <= LINGER_MS) lingerArms++;
    arm(t);
  };
  runCrowd(net, crowd, 300, 32);
  assert.equal(lingerArms, 0, "no FIN_WAIT_2 timer when the FIN comes with the ACK");
});

Deno.test("conn cost: pingpong's crowd reads the clock once per connection", () => {
  const { net, crowd } = crowdPair();
  const perf = globalThis.performance;
  const now = perf.now.bind(perf);
  let reads = 0;
  perf.now = () => {
    reads++;
    return now();
  };
  const n = 500;
  try {
    runCrowd(net, crowd, n, 32);
  } finally {
    perf.now = now;
  }
  // One read as each connection ends: its time, and the next one's start. Before: three (the
  // start, the end, the pacing test).
  assert(reads / n <= 1.1, `${reads / n} clock reads per connection`);
});

Deno.test("conn cost: pingpong's crowd hands connect() one options object, not one per connection", () => {
  const { net, crowd } = crowdPair();
  const tcp = net.a.tcp;
  const connect = tcp.connect;
  const seen = new Set<unknown>();
  const done = crowd.done;
  tcp.connect = function (...args: Parameters<typeof connect>) {
    seen.add(args[2]);
    return connect.apply(this, args);
  };
  try {
    runCrowd(net, crowd, 200, 32);
  } finally {
    tcp.connect = connect;
  }
  assert.equal(crowd.done - done, 200);
  assert.equal(seen.size, 1, `${seen.size} options objects for 200 connections`);
});

Deno.test("conn cost: a crowd whose connects keep failing still ends at its end time (-t)", async () => {
  // connect() refused at once, as from one address past the ephemeral range (EADDRNOTAVAIL):
  // with one clock read per batch the loop kept starting and failing until -n.
  const refusing = {
    tcp: {
      connect(): never {
        throw new Error("connect: no ephemeral port left");
      },
    },
    requestTick() {},
  } as unknown as ConstructorParameters<typeof ConnectCrowd>[0];
  const crowd = new ConnectCrowd(refusing, ADDR_B, PORT, [], new Uint8Array(64));
  const t0 = performance.now();
  await crowd.run(20_000_000, 32, t0 + 50);
  const ms = performance.now() - t0;
  assert.ok(ms < 5_000, `ran ${ms.toFixed(0)} ms past a 50 ms end: ${crowd.failed} failed`);
  assert.ok(crowd.failed > 0 && crowd.failed < 20_000_000);
});

Deno.test("conn cost: a crowd's first batch times each connection from its own start", () => {
  // The first `conc` connections start in one pump; each is timed from a clock read of its own
  // (before: all from the batch's one read, so the last of 1,000 carried the 999 connects before
  // it in its latency).
  const eps: { wq: { owner?: { t0: number } } }[] = [];
  const fake = {
    tcp: {
      connect() {
        const ep = { setNoDelay() {}, write() {}, wq: {} };
        eps.push(ep);
        return ep;
      },
    },
    requestTick() {},
  } as unknown as ConstructorParameters<typeof ConnectCrowd>[0];
  const crowd = new ConnectCrowd(fake, ADDR_B, PORT, [], new Uint8Array(64));
  const perf = globalThis.performance;
  const now = perf.now.bind(perf);
  let clock = 1000;
  perf.now = () => clock++;
  try {
    void crowd.run(4, 4, Infinity); // never resolves: nothing ends here
  } finally {
    perf.now = now;
  }
  assert.deepEqual(eps.map((ep) => ep.wq.owner?.t0), [1000, 1001, 1002, 1003]);
  crowd.stop();
});
