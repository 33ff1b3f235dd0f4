/**
 * The per-connection operations of the many-clients work at 1,000, 100,000 and 1,000,000
 * connections, to show their cost does not grow with the number: the flow table (a
 * segment's demultiplexing hit and miss, a connection's insert and remove), the TIME_WAIT
 * table (a record added and retired, with that many records held), the timer wheel (a
 * connection's RTO re-armed and the next deadline asked, with that many timers armed) and the
 * ephemeral port choice of `connect()` (ports probed against the flow table).
 *
 * Run: `deno bench bench/flow_bench.ts` (building the 1M tables takes a few seconds).
 *
 * @module
 */

import { VirtualClock } from "../core/clock.ts";
import { makeCounters } from "../core/counters.ts";
import { SeededRandom } from "../core/random.ts";
import { Timer, TimerWheel } from "../core/timer_wheel.ts";
import { IpAddress, IpAddressScratch } from "../net/ip_address.ts";
import { PortAllocator } from "../transport/demux.ts";
import { type Flow, FlowTable } from "../transport/flow_table.ts";
import { type TcpFlow, type TimeWaitRecord, TimeWaitTable } from "../transport/tcp/time_wait.ts";

/** Operations per iteration. */
const OPS = 1024;
const SERVER = IpAddress.v4(0xc6120002);
const SERVER_PORT = 443;
const peer = new IpAddressScratch();

/** A flow: a client's four-tuple to the server (as TIME_WAIT records are made). */
class BenchFlow implements TcpFlow {
  flowNext: Flow | null = null;
  constructor(
    readonly localAddr: IpAddress,
    readonly localPort: number,
    readonly remoteAddr: IpAddress,
    readonly remotePort: number,
  ) {}
  get flowKind(): number {
    return 0;
  }
}

/** `n` distinct clients: 64 addresses per /24, every port of the ephemeral range. */
function clients(n: number): { addrs: IpAddress[]; ports: Int32Array } {
  const addrs: IpAddress[] = [];
  const ports = new Int32Array(n);
  const perAddr = 28_232;
  for (let i = 0; i < n; i++) {
    if (i % perAddr === 0) addrs.push(IpAddress.v4(0xc6130000 + addrs.length));
    ports[i] = 32768 + (i % perAddr);
  }
  return { addrs, ports };
}

let sink = 0;
const noop = () => {};
const sender = { sendTimeWaitAck: noop, takeChallengeToken: () => false };

for (const n of [1_000, 100_000, 1_000_000]) {
  const group = `${n.toLocaleString("en")} connections`;
  const rng = new SeededRandom(n);
  const { addrs, ports } = clients(n);
  const addrOf = (i: number) => addrs[Math.floor(i / 28_232)];
  const table = new FlowTable<TcpFlow>({ buckets: 1024 });
  for (let i = 0; i < n; i++) {
    table.insert(new BenchFlow(SERVER, SERVER_PORT, addrOf(i), ports[i]));
  }
  const probe = Int32Array.from({ length: OPS }, () => rng.nextU32() % n);
  Deno.bench(`flow table: lookup hit ×${OPS}`, { group }, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) {
      const k = probe[i];
      peer.setV4(addrOf(k).v4);
      s += table.lookup(SERVER, SERVER_PORT, peer, ports[k])!.remotePort;
    }
    sink ^= s;
  });
  Deno.bench(`flow table: lookup miss (a new SYN) ×${OPS}`, { group }, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) {
      peer.setV4(0xc6140000 + i);
      if (table.lookup(SERVER, SERVER_PORT, peer, 40000) === undefined) s++;
    }
    sink ^= s;
  });
  const fresh = Array.from(
    { length: OPS },
    (_, i) => new BenchFlow(SERVER, SERVER_PORT, IpAddress.v4(0xc6150000 + i), 50000),
  );
  Deno.bench(`flow table: insert + remove ×${OPS}`, { group }, () => {
    for (let i = 0; i < OPS; i++) table.insert(fresh[i]);
    for (let i = 0; i < OPS; i++) table.remove(fresh[i]);
  });

  // TIME_WAIT: n records held; add one and retire the oldest, as a steady close rate does.
  const clock = new VirtualClock(0);
  const timers = new TimerWheel({ startMs: 0 });
  const twFlows = new FlowTable<TcpFlow>({ buckets: 1024 });
  const tw = new TimeWaitTable(twFlows, timers, clock, makeCounters([]), sender, {
    maxRecords: n + OPS,
    durationMs: 60_000,
    reuseAfterMs: 1000,
  });
  const src = {
    localAddr: SERVER,
    localPort: SERVER_PORT,
    remoteAddr: SERVER,
    remotePort: 0,
    peerNic: 0,
    tsOk: true,
    tsOffset: 0,
  };
  for (let i = 0; i < n; i++) {
    tw.add({ ...src, remoteAddr: addrOf(i), remotePort: ports[i] }, 1, 2, 65535, 3);
  }
  const recs: TimeWaitRecord[] = [...tw.records()];
  let at = 0;
  Deno.bench(`TIME_WAIT: a record added and the oldest retired ×${OPS}`, { group }, () => {
    for (let i = 0; i < OPS; i++) {
      const old = recs[at];
      tw.remove(old);
      recs[at] = tw.add(
        { ...src, remoteAddr: old.remoteAddr, remotePort: old.remotePort },
        1,
        2,
        65535,
        3,
      )!;
      at = (at + 1) % recs.length;
    }
  });

  // Timers: n armed (one RTO each); re-arm one and ask for the next deadline, as each ACK does.
  const wheel = new TimerWheel({ startMs: 0 });
  const rtos: Timer[] = [];
  for (let i = 0; i < n; i++) {
    const t = new Timer(noop);
    wheel.schedule(t, 200 + (i % 3000));
    rtos.push(t);
  }
  let k = 0;
  Deno.bench(`timers: an RTO re-armed, the next deadline asked ×${OPS}`, { group }, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) {
      wheel.schedule(rtos[k], 200 + ((k * 7) % 3000));
      s += wheel.nextDeadlineMs();
      k = (k + 1) % n;
    }
    sink ^= s;
  });

  // connect(): a port for a new connection to a server the n clients' addresses also use.
  const ports2 = new PortAllocator(32768, 60999);
  const dst = IpAddress.v4(0xc6160001);
  Deno.bench(`connect(): an ephemeral port probed against the flow table ×${OPS}`, {
    group,
  }, () => {
    let s = 0;
    for (let i = 0; i < OPS; i++) {
      const la = addrOf(i % n);
      s += ports2.allocate((p) => table.lookup(la, p, dst, 80) !== undefined);
    }
    sink ^= s;
  });
}

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep `sink` observable
});
