// The io_uring kick (`drivers/tx_kick_uring.ts`, `ffi/io_uring.ts`): a ring polled by the
// kernel's SQ thread, sends that complete through the CQ ring, merged requests, the close
// order, the fallback where io_uring cannot run, and the TX ring's use of it. The sends go to
// fd -1 (each completes with EBADF): a real packet socket is the interop test's
// (tests/interop/tx_kick_uring_test.ts).

import assert from "node:assert/strict";
import { IoUringSqPoll } from "../../ffi/io_uring.ts";
import { EBADF, EINVAL, SyscallError } from "../../ffi/errno.ts";
import { type UringKickCounters, UringTxKick } from "../../drivers/tx_kick_uring.ts";
import type { TxRingCounters } from "../../drivers/af_packet_tx_ring.ts";
import { memoryTxRing } from "../harness/memory_tx_ring.ts";
import { pollingThreads } from "../harness/sq_poll_threads.ts";
import { until } from "../harness/until.ts";

function counters(): Required<UringKickCounters> {
  return { syscalls: 0, txKickErrors: 0, txKickHandoffs: 0, txKickWakes: 0, txKickMerges: 0 };
}

/** A polling thread not among `before` (another test's may still be leaving), once it runs. */
async function newPollingThread(before: Set<string>): Promise<string> {
  let id = "";
  await until(() => {
    for (const t of pollingThreads()) if (!before.has(t)) id = t;
    return id !== "";
  });
  return id;
}

Deno.test("io_uring: an SQPOLL ring is set up with a polling thread, which leaves after close", async () => {
  const before = pollingThreads();
  let thread = "";
  const ring = IoUringSqPoll.setup({ entries: 2, idleMs: 1 });
  try {
    assert.equal(ring.sqEntries, 2);
    assert.equal(ring.sqMask, 1);
    assert.ok(ring.cqEntries >= 2);
    assert.equal(ring.sqHead, ring.sqTail);
    assert.equal(ring.cqHead, ring.cqTail);
    // The thread names itself once it runs.
    thread = await newPollingThread(before);
    assert.notEqual(thread, "", "a polling thread runs");
  } finally {
    ring.close();
  }
  assert.equal(ring.open, false);
  ring.close(); // idempotent
  assert.ok(await until(() => !pollingThreads().has(thread)), "the polling thread left");
});

Deno.test("io_uring kick: a send completes through the CQ ring and its errno is counted", async () => {
  const u = UringTxKick.open(-1);
  try {
    const c = counters();
    assert.equal(u.request(c), true);
    assert.equal(c.txKickHandoffs, 1);
    assert.equal(u.inFlight, true);
    assert.ok(await until(() => u.reap(c)), "the send completed");
    assert.equal(u.inFlight, false);
    assert.equal(c.txKickErrors, 1);
    assert.equal(u.lastErrno, EBADF);
    // The only syscalls are the polling thread's wake-ups.
    assert.equal(c.syscalls, c.txKickWakes);
    assert.equal(u.reap(c), false, "nothing more to read");
  } finally {
    u.close();
  }
});

Deno.test("io_uring kick: a request while a send is in flight is merged; never two in flight", async () => {
  const u = UringTxKick.open(-1);
  try {
    const c = counters();
    const asks = 2000;
    for (let i = 0; i < asks; i++) u.request(c);
    // Each request was queued or merged; a queued one only once the previous had completed.
    assert.equal(c.txKickHandoffs + c.txKickMerges, asks);
    assert.ok(c.txKickMerges > 0, "requests faster than the polling thread were merged");
    assert.ok(await until(() => !u.inFlight || u.reap(c)));
    // One completion per queued send (EBADF each), none lost or doubled.
    assert.equal(c.txKickErrors, c.txKickHandoffs);
  } finally {
    u.close();
  }
});

Deno.test("io_uring kick: close waits for the send in flight, then closes the ring", async () => {
  const before = pollingThreads();
  const u = UringTxKick.open(-1);
  const thread = await newPollingThread(before);
  assert.notEqual(thread, "", "a polling thread runs");
  const c = counters();
  u.request(c);
  u.close(c);
  assert.equal(u.open, false);
  assert.equal(u.inFlight, false, "the send completed before the ring closed");
  assert.equal(c.txKickErrors, 1);
  u.close(); // idempotent
  assert.ok(await until(() => !pollingThreads().has(thread)), "the polling thread left");
});

Deno.test("io_uring kick: where io_uring cannot run, tryOpen says why and returns null", () => {
  // A CPU that does not exist: io_uring_setup refuses SQ_AFF with EINVAL.
  assert.throws(
    () => IoUringSqPoll.setup({ entries: 2, idleMs: 1, cpu: 4095 }),
    (e) => e instanceof SyscallError && e.errno === EINVAL && /io_uring_setup/.test(e.message),
  );
  const said: string[] = [];
  assert.equal(UringTxKick.tryOpen(-1, { cpu: 4095 }, (m) => said.push(m)), null);
  assert.equal(said.length, 1);
  assert.match(
    said[0],
    /--tx-kick uring unavailable: io_uring_setup: EINVAL .*kicks stay synchronous/,
  );
  assert.throws(() => IoUringSqPoll.setup({ entries: 2, idleMs: 0 }), RangeError);
});

Deno.test("tx ring with the io_uring kick: a tick's kick is queued, no sendto; a still-waiting slot is asked again", async () => {
  const stats: TxRingCounters & { txKickMerges: number } = {
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    txRingFull: 0,
    txKicks: 0,
    syscalls: 0,
    txKickErrors: 0,
    txKickHandoffs: 0,
    txKickWakes: 0,
    txKickMerges: 0,
  };
  const u = UringTxKick.open(-1);
  try {
    let sendtos = 0;
    const { tx } = memoryTxRing(stats, {
      mtu: 1500,
      frames: 16,
      uring: u,
      send: () => (sendtos++, 0),
    });
    const frame = new Uint8Array(1500);
    for (let i = 0; i < 4; i++) assert.ok(tx.put(frame, 0, 1500, null));
    tx.flush();
    assert.equal(stats.txKickHandoffs, 1, "the kick went to the io_uring");
    assert.equal(stats.txKicks, 0);
    assert.equal(sendtos, 0, "no sendto");
    assert.equal(tx.pending, 0);
    // Nothing consumes the in-memory slots (the send went to fd -1): once that send completed,
    // the newest slot still waits, and the busy poll's service asks again.
    assert.ok(await until(() => (tx.serviceKick(), stats.txKickHandoffs === 2)));
    assert.ok(await until(() => !u.inFlight || u.reap(stats)));
    // A flush with nothing new queued asks again too while the slot waits and none is in flight.
    tx.flush();
    assert.equal(stats.txKickHandoffs, 3);
    assert.equal(sendtos, 0);
    assert.equal(stats.syscalls, stats.txKickWakes);
  } finally {
    u.close();
  }
});
