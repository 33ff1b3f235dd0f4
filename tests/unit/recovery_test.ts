import assert from "node:assert/strict";
import {
  CA_CWR,
  CA_LOSS,
  CA_OPEN,
  CA_RECOVERY,
  LossRecovery,
} from "../../transport/tcp/recovery.ts";

const MSS = 1000;

Deno.test("recovery: D-SACKs for every retransmission make the reduction undoable (RFC 3708)", () => {
  const r = new LossRecovery();
  r.reset(0);
  r.enter(CA_RECOVERY, 1000, 9000, 8000);
  assert.ok(r.inReduction && r.repairing);
  assert.equal(r.recover, 9000);
  r.onRetransmit(2000, MSS, 7); // two segments
  assert.equal(r.onDsack(1000, 2000, MSS), false); // one of two reported
  assert.equal(r.onDsack(2000, 3000, MSS), true);
  r.undone();
  assert.equal(r.state, CA_OPEN);
  assert.equal(r.onDsack(1000, 2000, MSS), false); // nothing left to undo
  // A D-SACK below the episode's start does not count.
  r.enter(CA_RECOVERY, 5000, 9000, 8000);
  r.onRetransmit(1000, MSS, 8);
  assert.equal(r.onDsack(1000, 2000, MSS), false);
});

Deno.test("recovery: Eifel — an ACK echoing a TSval older than the first retransmission", () => {
  const r = new LossRecovery();
  r.reset(0);
  r.enter(CA_LOSS, 1000, 9000, 8000);
  assert.equal(r.eifelSpurious(5), false); // nothing retransmitted yet
  r.onRetransmit(1000, MSS, 100);
  r.onRetransmit(1000, MSS, 150); // the first retransmission's TSval counts
  assert.ok(r.eifelSpurious(99));
  assert.ok(!r.eifelSpurious(100));
  assert.ok(!r.eifelSpurious(0)); // no echo
});

Deno.test("recovery: CWR (ECN, TLP) reduces without an undo episode; losses upgrade it", () => {
  const r = new LossRecovery();
  r.reset(0);
  r.enter(CA_CWR, 1000, 9000, 8000);
  assert.ok(r.inReduction && !r.repairing && !r.undoPossible);
  r.upgradeToRecovery(1500, 12000);
  assert.equal(r.state, CA_RECOVERY);
  assert.equal(r.recover, 12000);
  assert.ok(r.undoPossible);
  r.end();
  assert.equal(r.state, CA_OPEN);
});
