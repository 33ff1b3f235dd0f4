// The pieces of a stack per core that need no kernel: the port hash both the steering program
// and the stacks' port choice follow, the classic BPF assembler, the sum of the workers'
// counters, the TCP port filter of active opens, and the neighbour sharing between stacks.

import assert from "node:assert/strict";
import { LoopbackDriver } from "../../drivers/loopback.ts";
import { flowWorker, MAX_STEERED_WORKERS, steeringProgram } from "../../drivers/flow_steering.ts";
import {
  BPF_JEQ,
  BPF_JMP,
  BPF_K,
  BPF_RET,
  ClassicProgram,
  SOCK_FILTER_BYTES,
} from "../../ffi/classic_bpf.ts";
import { ARP_REPLY, writeArp } from "../../net/arp_header.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { type NeighbourBatch, NeighbourShare } from "../../stack/neighbour_share.ts";
import { Stack } from "../../stack/stack.ts";
import { sumWorkerCounters } from "../../stack/workers.ts";

const STACK_MAC = new Uint8Array([2, 0, 0, 0, 0, 2]);
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);
const PEER = "198.18.0.1";

Deno.test("flowWorker: symmetric in the ports, in range, even ports spread too", () => {
  for (const n of [1, 2, 3, 4, 7]) {
    for (let p = 1000; p < 1100; p++) {
      const w = flowWorker(p, 80, n);
      assert.equal(w, flowWorker(80, p, n));
      assert.ok(w >= 0 && w < n);
    }
  }
  // Linux's connect() prefers even ephemeral ports: they must not all land on one worker.
  for (const n of [2, 3, 4]) {
    const per = new Array(n).fill(0);
    for (let p = 32768; p < 61000; p += 2) per[flowWorker(p, 80, n)]++;
    const total = per.reduce((a, b) => a + b, 0);
    for (const c of per) assert.ok(Math.abs(c / total - 1 / n) < 0.05, `${n} workers: ${per}`);
  }
});

Deno.test("classic BPF: labels become forward offsets; bad labels and counts throw", () => {
  const p = new ClassicProgram();
  p.jump(BPF_JMP | BPF_JEQ | BPF_K, 7, "yes", 0);
  p.op(BPF_RET | BPF_K, 0);
  p.label("yes");
  p.op(BPF_RET | BPF_K, 0xffff);
  const code = p.assemble();
  assert.equal(code.length, 3 * SOCK_FILTER_BYTES);
  const v = new DataView(code.buffer);
  assert.equal(v.getUint16(0, true), BPF_JMP | BPF_JEQ | BPF_K);
  assert.equal(code[2], 1, "jt skips one instruction");
  assert.equal(code[3], 0, "jf is the next one");
  assert.equal(v.getUint32(4, true), 7);
  assert.equal(v.getUint32(2 * SOCK_FILTER_BYTES + 4, true), 0xffff);
  assert.throws(() => new ClassicProgram().jump(BPF_JMP | BPF_JEQ, 0, "nowhere", 0).assemble());
  assert.throws(() => new ClassicProgram().assemble(), RangeError);
  assert.throws(() => new ClassicProgram().label("a").label("a"), RangeError);
  assert.throws(() => steeringProgram([], 0), RangeError);
  assert.throws(() => steeringProgram(new Array(MAX_STEERED_WORKERS + 1).fill(1), 0), RangeError);
  // The largest group still fits the jumps (each at most 255 instructions ahead).
  assert.ok(steeringProgram(new Array(MAX_STEERED_WORKERS).fill(1), 0).length > 0);
});

Deno.test("sumWorkerCounters: every group and counter added, missing ones from zero", () => {
  const total = sumWorkerCounters([
    { stack: { tcp: { PassiveOpens: 2, CurrEstab: 1 } }, driver: { rxFrames: 5 }, app: {} },
    {
      stack: { tcp: { PassiveOpens: 3 }, udp: { InDatagrams: 4 } },
      driver: { rxFrames: 1, txFrames: 2 },
      app: { "http/80": { Requests: 9 } },
    },
  ]);
  assert.deepEqual(total.stack, {
    tcp: { PassiveOpens: 5, CurrEstab: 1 },
    udp: { InDatagrams: 4 },
  });
  assert.deepEqual(total.driver, { rxFrames: 6, txFrames: 2 });
  assert.deepEqual(total.app, { "http/80": { Requests: 9 } });
  assert.deepEqual(sumWorkerCounters([]), { stack: {}, driver: {}, app: {} });
});

function stackOnLoopback(tcp = {}, udp = {}): Stack {
  const stack = new Stack({ tcp, udp });
  const nic = stack.addNic(new LoopbackDriver({ mtu: 1500, mac: STACK_MAC }));
  stack.ipv4.addAddress(nic.index, parseIpv4("198.18.0.2"), 24);
  return stack;
}

Deno.test("TCP connectPortFilter: active opens only take ports the filter accepts", () => {
  const mine = (lp: number, rp: number) => flowWorker(lp, rp, 4) === 3;
  const stack = stackOnLoopback({ connectPortFilter: mine });
  try {
    for (let i = 0; i < 50; i++) {
      const rp = 80 + (i % 5);
      const ep = stack.tcp.connect(IpAddress.parse(PEER), rp);
      assert.ok(mine(ep.localPort, rp), `port ${ep.localPort} to ${rp}`);
    }
  } finally {
    stack.close();
  }
});

Deno.test("UDP connectPortFilter: connect() and a first sendto() bind ports the filter accepts", () => {
  const mine = (lp: number, rp: number) => flowWorker(lp, rp, 3) === 1;
  const stack = stackOnLoopback({}, { connectPortFilter: mine });
  try {
    for (let i = 0; i < 20; i++) {
      const rp = 5000 + i;
      const a = stack.udp.open(4);
      a.connect(IpAddress.parse(PEER), rp);
      assert.ok(mine(a.localPort, rp), `connect: port ${a.localPort} to ${rp}`);
      const b = stack.udp.open(4);
      b.sendto(new Uint8Array(8), 0, 8, IpAddress.parse(PEER), rp);
      assert.ok(mine(b.localPort, rp), `sendto: port ${b.localPort} to ${rp}`);
      // An explicit bind(0) knows no peer: any free port.
      const c = stack.udp.open(4);
      c.bind(null, 0);
      assert.ok(c.localPort > 0);
    }
  } finally {
    stack.close();
  }
});

Deno.test("NeighbourShare: what ARP learns from the wire is posted once per turn; what others learned is applied without echo", async () => {
  const stack = stackOnLoopback();
  try {
    const posted: NeighbourBatch[] = [];
    const share = new NeighbourShare(stack, 1, (b) => posted.push(b));
    const arp = stack.ipv4.arp(1);
    // A reply to us from the peer, twice in one turn: one batch.
    const reply = new Uint8Array(28);
    writeArp(reply, 0, ARP_REPLY, PEER_MAC, parseIpv4(PEER), STACK_MAC, parseIpv4("198.18.0.2"));
    arp.receive(reply, 0, 28);
    arp.receive(reply, 0, 28);
    assert.equal(posted.length, 0, "not before the turn ends");
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(posted.length, 1);
    assert.deepEqual(posted[0].learned, [[4, PEER, Array.from(PEER_MAC), true]], "coalesced");

    // Another stack's entry: a packet waiting for resolution leaves, and nothing is echoed.
    const other = stackOnLoopback();
    const otherPosted: NeighbourBatch[] = [];
    const otherShare = new NeighbourShare(other, 1, (b) => otherPosted.push(b));
    try {
      const connectedAt = performance.now();
      other.tcp.connect(IpAddress.parse(PEER), 80); // SYN queued behind ARP
      other.tick();
      const oarp = other.ipv4.arp(1);
      assert.equal(oarp.pending, 1);
      // Count the IPv4 frames that leave: IPv6 timers (DAD, router solicitation, MLD) may send
      // their own frames here when the machine is slow, and they are not what this test checks.
      const driver = other.nics[0].driver;
      const transmit = driver.transmit.bind(driver);
      let ipv4Out = 0;
      driver.transmit = (frame, off, len, offload) => {
        if (frame[off + 12] === 0x08 && frame[off + 13] === 0x00) ipv4Out++;
        return transmit(frame, off, len, offload);
      };
      otherShare.apply(posted[0], false);
      assert.deepEqual(oarp.lookup(parseIpv4(PEER)), PEER_MAC);
      assert.equal(oarp.pending, 0, "the queued SYN left");
      other.tick();
      // Exactly the SYN, unless the machine stalled past the SYN's first retransmission (1 s).
      if (performance.now() - connectedAt < 900) {
        assert.equal(ipv4Out, 1, "one IPv4 frame: the SYN");
      } else assert.ok(ipv4Out >= 1, "the SYN left");
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(otherPosted.length, 0, "learned entries are not shared again");
      assert.equal(otherShare.stats.learnedIn, 1);
      // Malformed entries are skipped.
      otherShare.apply({ learned: [[4, "nope", [1, 2], true]], resolve: [] }, false);
      assert.equal(otherShare.stats.learnedIn, 1);
    } finally {
      other.close();
    }
    assert.equal(share.stats.batchesOut, 1);
  } finally {
    stack.close();
  }
});
