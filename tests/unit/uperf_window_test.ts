import assert from "node:assert/strict";
import type { TcpConn } from "../../mod.ts";
import { WindowSampler } from "../../cli/uperf_window.ts";
import { INFINITE_SSTHRESH } from "../../transport/tcp/congestion/congestion_control.ts";

/** A stand-in connection whose TCP_INFO reports `cwnd` and `ssthresh` segments of 1000 bytes. */
function conn(cwnd: number, ssthresh: number): Pick<TcpConn, "info"> {
  const info = {
    srttMs: 0.1,
    mss: 1000,
    cwnd: cwnd * 1000,
    ssthresh: ssthresh === Infinity || ssthresh >= INFINITE_SSTHRESH ? ssthresh : ssthresh * 1000,
    inflight: cwnd * 1000,
    pacingRate: 0,
    caState: "Open",
    sndBufBytes: 1 << 20,
    sndQueued: 0,
    sndWnd: 1 << 20,
    deliveryRate: 0,
    minRttMs: 0.05,
  };
  return { info: () => info } as unknown as Pick<TcpConn, "info">;
}

Deno.test("uperf window: ssthresh is averaged over the samples where it is set, not the infinite ones before the first reduction", () => {
  const w = new WindowSampler();
  w.sample(conn(10, INFINITE_SSTHRESH)); // slow start: TCP_INFO's "infinite" ssthresh
  w.sample(conn(40, Infinity));
  w.sample(conn(20, 14));
  w.sample(conn(20, 16));
  const s = w.summary()!;
  assert.equal(s.samples, 4);
  assert.equal(s.cwndSegs, 22.5);
  assert.equal(s.ssthreshSegs, 15);
  assert.equal(s.ssthreshShare, 0.5);
});

Deno.test("uperf window: without a reduction (BBR keeps none) ssthresh has no mean", () => {
  const w = new WindowSampler();
  w.sample(conn(100, INFINITE_SSTHRESH));
  const s = w.summary()!;
  assert.equal(s.ssthreshSegs, null);
  assert.equal(s.ssthreshShare, 0);
  assert.equal(new WindowSampler().summary(), null);
});

Deno.test("uperf window: the limited shares are the share of samples in each sendLimit class", () => {
  const w = new WindowSampler();
  const base = conn(20, 14);
  const at = (sendLimit: string) =>
    ({ info: () => ({ ...base.info(), sendLimit }) }) as unknown as Pick<TcpConn, "info">;
  for (const c of ["cwnd", "cwnd", "cwnd", "pacing", "sndbuf"]) w.sample(at(c));
  assert.deepEqual(w.summary()!.limitedShare, {
    cwnd: 0.6,
    pacing: 0.2,
    rwnd: 0,
    sndbuf: 0.2,
    app: 0,
    idle: 0,
    due: 0,
  });
  const none = new WindowSampler();
  none.sample(conn(20, 14)); // a TCP_INFO without the field
  assert.equal(none.summary()!.limitedShare, null);
});
