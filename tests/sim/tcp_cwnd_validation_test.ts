// cwnd validation (RFC 7661, Linux tcp_cwnd_validate) on the simulated wire: a bulk sender
// that cwnd holds back is cwnd-limited for the whole window, so every ACK of it may grow cwnd —
// also ACKs that arrive in a batch, before the next output pass.

import assert from "node:assert/strict";
import { SIM_DROP } from "../../link/sim_wire.ts";
import { BulkFlow, connectPair, makeSimNet, tcpOfFrame } from "../harness/sim_net.ts";
import { CA_OPEN } from "../../transport/tcp/recovery.ts";

/** RFC 9438 §4.3 α_cubic. */
const ALPHA = (3 * (1 - 0.7)) / (1 + 0.7);

Deno.test("tcp cwnd validation: with ACKs in batches every ACK of a cwnd-limited window grows CUBIC's cwnd", () => {
  // 100 Mbit/s, 20 ms RTT (a BDP of 172 segments), a deep queue: no loss but the one below.
  const net = makeSimNet({
    wire: { delayMs: 10, rateBitsPerSec: 100e6, bottleneckQueueFrames: 2000, queueFrames: 8192 },
    tcp: {
      congestionControl: "cubic",
      maxSendBufferBytes: 8 << 20,
      maxReceiveBufferBytes: 8 << 20,
    },
  });
  const { c, s } = connectPair(net);
  const flow = new BulkFlow(c, s, 1 << 30);
  let drop = false;
  net.wire.setFrameHook(net.portA, (frame, len) => {
    const t = tcpOfFrame(frame, len);
    if (t === null || t.dataLen === 0 || !drop) return 0;
    drop = false;
    return SIM_DROP;
  });
  // The receiver's pure ACKs leave in batches, every 5 ms (as an RX ring or GRO hands them
  // to a sender several at a time).
  net.wire.setFrameHook(net.portB, (frame, len) => {
    const t = tcpOfFrame(frame, len);
    if (t === null || t.dataLen !== 0) return 0;
    return 5 - (net.clock.nowMs() % 5);
  });
  const cc = c.snd.cc;
  const onAck = cc.onAck.bind(cc);
  let limited = 0;
  let notLimited = 0;
  cc.onAck = (x) => {
    if (!x.inRecovery && x.ackedBytes > 0 && !cc.inSlowStart) {
      if (x.cwndLimited) limited++;
      else notLimited++;
    }
    onAck(x);
  };
  // Slow start to ~80 segments, then one loss: a reduction to β·cwnd and a CUBIC epoch.
  net.run(() => flow.step() || cc.cwnd > 80 * c.snd.mss, 20_000);
  drop = true;
  net.run(() => flow.step() || (cc.ssthresh < 0x7fffffff && c.snd.rec.state === CA_OPEN), 20_000);
  const mss = c.snd.mss;
  const w0 = cc.cwnd / mss;
  const t0 = net.clock.nowMs();
  net.run(() => flow.step() || net.clock.nowMs() - t0 >= 3000, 10_000);
  assert.equal(net.a.stats.tcp.TCPSackRecovery, 1);
  // The sender always had data: cwnd limited it, and (nearly) every ACK says so.
  const share = limited / (limited + notLimited);
  assert.ok(limited > 1000 && share > 0.95, `${limited} cwnd-limited ACKs, ${notLimited} not`);
  // RFC 9438 §4.3: at least as fast as the Reno estimate, α segments per round trip.
  const rounds = 3000 / c.snd.rtt.srttMs;
  const grown = cc.cwnd / mss - w0;
  assert.ok(
    grown >= 0.8 * ALPHA * rounds,
    `cwnd grew ${grown.toFixed(1)} segments in ${rounds.toFixed(0)} round trips from ${
      w0.toFixed(1)
    }`,
  );
});
