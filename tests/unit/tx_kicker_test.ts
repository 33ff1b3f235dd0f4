import assert from "node:assert/strict";
import { Worker as NodeWorker } from "node:worker_threads";
import {
  KICK_AWAKE,
  KICK_COUNT,
  KICK_REQUEST,
  KICK_STATE,
  KICK_STOP,
  KICK_WORDS,
  KICKER_RUNNING,
  KICKER_STOPPED,
  type KickerCounters,
  requestKick,
  TxKicker,
} from "../../drivers/tx_kicker.ts";
import { EBADF } from "../../ffi/errno.ts";
import { PROBE_PUBLISHED, PROBE_SEEN } from "./tx_kicker_probe_worker.ts";

const PROBE = new URL("./tx_kicker_probe_worker.ts", import.meta.url);

function counters(): KickerCounters {
  return { txKicks: 0, syscalls: 0, txKickErrors: 0, txKickHandoffs: 0, txKickWakes: 0 };
}

/** Poll `cond` (turning the event loop) until true or `ms` pass. */
async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
  return true;
}

Deno.test("tx kicker: the real kicker kicks, carries errno back, and close joins it", async () => {
  const k = TxKicker.start(-1); // sendto(-1, …) fails with EBADF
  try {
    assert.equal(k.request(counters()), false, "not running before its worker loaded");
    assert.ok(k.waitRunning(5000), "kicker runs");
    const c = counters();
    assert.equal(k.request(c), true);
    assert.ok(await until(() => (k.collect(c), c.txKicks >= 1)));
    assert.equal(c.txKickHandoffs, 1);
    assert.equal(c.txKickErrors, c.txKicks);
    assert.equal(c.syscalls, c.txKicks);
    assert.equal(k.lastErrno, EBADF);
  } finally {
    k.close();
  }
  assert.equal(k.running, false);
  k.close(); // idempotent
});

Deno.test("tx kicker: requests made while it kicks are served, without a wake-up", async () => {
  const k = TxKicker.start(400_000, 0, PROBE); // each fake kick is busy 400 ms
  try {
    assert.ok(k.waitRunning(5000));
    assert.ok(await until(() => k.sleeps >= 1 && !k.awake), "asleep when idle");
    const c = counters();
    k.request(c);
    assert.equal(c.txKickWakes, 1, "a sleeping kicker is woken");
    assert.ok(await until(() => !k.pending), "it took the request");
    // It is inside its 400 ms kick now: both requests go in without a wake-up and merge.
    k.request(c);
    k.request(c);
    assert.equal(c.txKickWakes, 1);
    assert.equal(c.txKickHandoffs, 3);
    assert.ok(await until(() => (k.collect(c), c.txKicks === 2)), "the merged request is served");
    await new Promise((r) => setTimeout(r, 50));
    k.collect(c);
    assert.equal(c.txKicks, 2, "one kick for the two merged requests");
  } finally {
    k.close();
  }
});

Deno.test("tx kicker: close waits for a kick in progress to return", async () => {
  const k = TxKicker.start(300_000, 0, PROBE);
  const c = counters();
  assert.ok(k.waitRunning(5000));
  k.request(c);
  assert.ok(await until(() => !k.pending));
  const t0 = performance.now();
  k.close();
  const took = performance.now() - t0;
  k.collect(c);
  assert.equal(c.txKicks, 1, "the kick in progress finished before close returned");
  assert.ok(took >= 20, `close returned after ${took.toFixed(1)} ms, during the kick`);
  assert.equal(k.running, false);
});

Deno.test("tx kicker: closed before its worker started, it never runs", () => {
  const k = TxKicker.start(0, 0, PROBE);
  k.close();
  assert.equal(k.running, false);
  assert.equal(k.waitRunning(100), false);
});

Deno.test("tx kicker: no request is lost (20,000 publications racing the kicker)", async () => {
  const words = new Int32Array(new SharedArrayBuffer(KICK_WORDS * 4));
  words[KICK_AWAKE] = 1;
  const probe = new Int32Array(new SharedArrayBuffer(8));
  // Each fake kick is busy 20 µs: requests land before, during and after kicks.
  const worker = new NodeWorker(PROBE, {
    workerData: { words: words.buffer, fd: 20, probe: probe.buffer },
  });
  try {
    assert.ok(await until(() => Atomics.load(words, KICK_STATE) === KICKER_RUNNING));
    let woke = 0;
    for (let i = 1; i <= 20_000; i++) {
      Atomics.store(probe, PROBE_PUBLISHED, i); // the frames
      if (requestKick(words)) woke++;
      if (i % 997 === 0 || i === 20_000) {
        // A checkpoint: publication i must be seen by a kick that started after it.
        assert.ok(
          await until(() => Atomics.load(probe, PROBE_SEEN) >= i, 5000),
          `publication ${i}: last seen ${Atomics.load(probe, PROBE_SEEN)}`,
        );
      } else if (i % 7 === 0) {
        const t = performance.now() + 0.02;
        while (performance.now() < t) { /* a little work between requests */ }
      }
    }
    assert.ok(woke >= 1, "it slept and was woken at least once");
    assert.ok(Atomics.load(words, KICK_COUNT) <= 20_000);
  } finally {
    Atomics.store(words, KICK_STOP, 1);
    Atomics.store(words, KICK_REQUEST, 1);
    Atomics.notify(words, KICK_REQUEST);
    await until(() => Atomics.load(words, KICK_STATE) === KICKER_STOPPED);
    await worker.terminate();
  }
});

Deno.test("tx kicker: a kicker left running does not keep the process alive", async () => {
  // A child process starts a kicker (fd -1: its kicks fail harmlessly) and never closes it.
  const mod = new URL("../../drivers/tx_kicker.ts", import.meta.url).href;
  const code = `import { TxKicker } from ${JSON.stringify(mod)};
const k = TxKicker.start(-1);
if (!k.waitRunning(5000)) Deno.exit(3);
console.log("running");`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(timer);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "running");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});
