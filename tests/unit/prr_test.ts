import assert from "node:assert/strict";
import { Prr } from "../../transport/tcp/prr.ts";

const MSS = 1000;

Deno.test("PRR: proportional while pipe > ssthresh — about ssthresh/RecoverFS of what is delivered", () => {
  const prr = new Prr();
  prr.start(20 * MSS); // RecoverFS 20 segments; ssthresh will be 10
  let sent = 0;
  for (let i = 0; i < 10; i++) {
    // Each ACK delivers one segment; pipe stays above ssthresh.
    prr.onAck(MSS, 15 * MSS, 10 * MSS, MSS);
    prr.onSent(prr.sndcnt);
    sent += prr.sndcnt;
  }
  // RFC 6937: after delivering 10 segments, ⌈10 · 10/20⌉ = 5 segments were sent.
  assert.equal(sent, 5 * MSS);
});

Deno.test("PRR-SSRB: below ssthresh, grow back at most one segment more than delivered", () => {
  const prr = new Prr();
  prr.start(20 * MSS);
  prr.onAck(2 * MSS, 4 * MSS, 10 * MSS, MSS); // pipe far below ssthresh after a big loss
  assert.equal(prr.sndcnt, 3 * MSS); // max(2 − 0, 2) + 1 segments
  prr.onSent(3 * MSS);
  prr.onAck(MSS, 9 * MSS, 10 * MSS, MSS);
  assert.equal(prr.sndcnt, MSS); // min(ssthresh − pipe = 1, …)
  prr.onSent(MSS);
  prr.onAck(MSS, 10 * MSS, 10 * MSS, MSS);
  assert.equal(prr.sndcnt, 0); // at ssthresh
});

Deno.test("PRR: the reduction's first ACK always allows one segment (the fast retransmit)", () => {
  const prr = new Prr();
  prr.start(100 * MSS);
  prr.onAck(MSS, 99 * MSS, 70 * MSS, MSS); // ⌈1 · 70/100⌉ = 1 byte … rounds to one segment
  assert.equal(prr.sndcnt, MSS);
  prr.onSent(MSS);
  prr.onAck(0, 99 * MSS, 70 * MSS, MSS); // nothing delivered: nothing to send
  assert.equal(prr.sndcnt, 0);
});
