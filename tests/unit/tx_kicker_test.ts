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
import { VIRTIO_NET_HDR_LEN } from "../../ffi/virtio_net.ts";
import { GSO_TCPV4, GSO_UDP, TxOffload } from "../../link/driver.ts";
import {
  TX_SLOT_V2,
  TxRing,
  type TxRingCounters,
  txRingGeometry,
} from "../../drivers/af_packet_tx_ring.ts";
import { PROBE_PUBLISHED, PROBE_SEEN } from "./tx_kicker_probe_worker.ts";
import { memoryTxRing } from "../harness/memory_tx_ring.ts";
import { until } from "../harness/until.ts";

const PROBE = new URL("./tx_kicker_probe_worker.ts", import.meta.url);

function counters(): KickerCounters {
  return { txKicks: 0, syscalls: 0, txKickErrors: 0, txKickHandoffs: 0, txKickWakes: 0 };
}

Deno.test("tx kicker: the real kicker kicks, carries errno back, and close joins it", async () => {
  const k = TxKicker.start(-1); // sendto(-1, …) fails with EBADF
  try {
    // Before its worker has loaded a request is refused (the caller kicks itself) — unless the
    // worker won the race to here, which a descheduled test thread lets it do: read `running`
    // first, then ask (a refusal after `running` said true would be the bug).
    const ranBefore = k.running;
    const taken = k.request(counters());
    if (ranBefore) assert.equal(taken, true, "running, yet the request was refused");
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

Deno.test("tx kicker: without read permission for its modules none starts (the caller kicks)", async () => {
  const mod = new URL("../../drivers/tx_kicker.ts", import.meta.url).href;
  const code = `import { TxKicker } from ${JSON.stringify(mod)};
const k = TxKicker.tryStart(-1);
console.log(k === null ? "none" : "started");
k?.close();`;
  const run = async (perms: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms, "data:application/typescript," + encodeURIComponent(code)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  };
  assert.equal(await run(["--allow-ffi"]), "none");
  assert.equal(await run(["--allow-ffi", "--allow-read"]), "started");
});

Deno.test("tx ring, auto: a tick's batch of 48 KiB goes to the kicker, a small one is kicked here", async () => {
  // A ring over ordinary memory on no socket (fd -1): this thread's kicks fail with EBADF and
  // are counted; the stand-in kicker counts its own.
  const stats = txCounters();
  const kicker = TxKicker.start(0, 0, PROBE);
  const tx = autoRing(1500, false, 64, kicker, stats);
  const frame = new Uint8Array(1500);
  try {
    assert.ok(kicker.waitRunning(5000));
    assert.ok(await until(() => kicker.sleeps >= 1 && !kicker.awake), "the kicker sleeps");
    // Request/response: two frames, the kicker asleep — kicked on this thread, no wake-up.
    for (let i = 0; i < 2; i++) assert.ok(tx.put(frame, 0, 100, null));
    tx.flush();
    assert.deepEqual([stats.txKickHandoffs, stats.txKicks, stats.txKickErrors], [0, 1, 1]);
    // Bulk: 44 frames of 1,500 bytes (66,000 ≥ 48 KiB) — handed to the kicker.
    for (let i = 0; i < 44; i++) assert.ok(tx.put(frame, 0, 1500, null));
    tx.flush();
    assert.equal(stats.txKickHandoffs, 1);
    assert.equal(stats.txKickWakes, 1, "it had to be woken");
    assert.ok(await until(() => (kicker.collect(stats), stats.txKicks === 2)), "the kicker kicked");
    assert.equal(stats.txKickErrors, 1, "the kicker's stand-in kick does not fail");
  } finally {
    kicker.close();
  }
});

/**
 * A stand-in for the kicker thread, driven by the test: it takes requests when told to and
 * never kicks, so a ring slot stays SEND_REQUEST for as long as the test wants.
 */
class StubKicker {
  running = true;
  awake = false;
  pending = false;
  lastErrno = 0;
  requests = 0;
  request(stats: KickerCounters): boolean {
    stats.txKickHandoffs++;
    this.requests++;
    this.pending = true;
    return true;
  }
  collect(_stats: KickerCounters): void {}
}

function txCounters(): TxRingCounters {
  return {
    txFrames: 0,
    txBytes: 0,
    txDropped: 0,
    txRingFull: 0,
    txKicks: 0,
    syscalls: 0,
    txKickErrors: 0,
    txKickHandoffs: 0,
    txKickWakes: 0,
  };
}

/** An "auto" TX ring over ordinary memory on no socket (fd -1: kicks here fail, counted). */
function autoRing(
  mtu: number,
  vnetHdr: boolean,
  frames: number,
  kicker: TxKicker | StubKicker,
  stats: TxRingCounters,
): TxRing {
  return memoryTxRing(stats, {
    mtu,
    vnetHdr,
    frames,
    kicker: kicker as TxKicker,
    kickPolicy: "auto",
  }).tx;
}

Deno.test("tx ring, auto: a kick the kicker has not taken yet is left to it, not repeated here", () => {
  const stats = txCounters();
  const kicker = new StubKicker();
  const tx = autoRing(1500, false, 16, kicker, stats);
  const frame = new Uint8Array(1500);
  // Bulk: handed to the kicker, which is asleep; it has not taken the request yet.
  for (let i = 0; i < 40; i++) assert.ok(tx.put(frame, 0, 1500, null));
  tx.flush();
  assert.deepEqual([kicker.requests, stats.txKicks], [1, 0]);
  // The next tick queued nothing; the newest slot still waits for the kicker's coming kick:
  // asking again costs nothing, kicking here would race it for the same frames.
  tx.flush();
  assert.deepEqual([kicker.requests, stats.txKicks, stats.txKickErrors], [2, 0, 0]);
  // A small batch while the request is still pending goes with it too.
  assert.ok(tx.put(frame, 0, 100, null));
  tx.flush();
  assert.deepEqual([kicker.requests, stats.txKicks], [3, 0]);
  // The kicker took the request, kicked and went back to sleep, but the kernel left the
  // newest frame (its socket buffer was full): this thread kicks again, now.
  kicker.pending = false;
  tx.flush();
  assert.deepEqual([kicker.requests, stats.txKicks, stats.txKickErrors], [3, 1, 1]);
});

Deno.test("tx ring, auto: one full TCP super-segment is a bulk batch at MTU 9000 and 1500", () => {
  // The largest super-segment is a whole number of segments under the 64 KiB GSO limit:
  // 7 × 8,948 at MTU 9000 and 45 × 1,448 at MTU 1500, behind 66 bytes of headers.
  for (const [mtu, mss, segs] of [[9000, 8948, 7], [1500, 1448, 45]]) {
    const stats = txCounters();
    const kicker = new StubKicker();
    const tx = autoRing(mtu, true, 16, kicker, stats);
    const offload = new TxOffload();
    offload.needsCsum = true;
    offload.csumStart = 34;
    offload.csumOffset = 16;
    offload.gsoType = GSO_TCPV4;
    offload.gsoSize = mss;
    offload.hdrLen = 66;
    const len = 66 + segs * mss;
    assert.ok(len < 65536, `${len}: under 64 KiB`);
    assert.ok(tx.put(new Uint8Array(len), 0, len, offload));
    tx.flush();
    assert.deepEqual([kicker.requests, stats.txKicks], [1, 0], `MTU ${mtu}: handed off`);
    // A pure ACK with the kicker asleep and nothing pending stays on this thread.
    kicker.pending = false;
    assert.ok(tx.put(new Uint8Array(66), 0, 66, null));
    tx.flush();
    assert.deepEqual([kicker.requests, stats.txKicks], [1, 1], `MTU ${mtu}: ACK kicked here`);
  }
});

Deno.test("tx ring, auto: UDP datagrams are kicked here, however many; UFO frames count for the burst bound", () => {
  const stats = txCounters();
  const kicker = new StubKicker();
  const tx = autoRing(9000, true, 64, kicker, stats);
  // 16 datagrams of 8,900 bytes with UDP checksum offload: 143 KB, a bulk-sized batch, yet a
  // kick handed to a kicker on the other CPU would let the sender outrun its receiver.
  const udp = new TxOffload();
  udp.needsCsum = true;
  udp.csumStart = 34;
  udp.csumOffset = 6;
  udp.hdrLen = 42;
  for (let i = 0; i < 16; i++) assert.ok(tx.put(new Uint8Array(8942), 0, 8942, udp));
  tx.flush();
  assert.deepEqual([kicker.requests, stats.txKicks], [0, 1], "kicked on this thread");
  // UFO super-datagrams (GSO_UDP) are datagrams too: on this thread, and the 256 KiB burst
  // bound kicks once 30 of them are queued (TCP super-segments would not count).
  const ufo = new TxOffload();
  ufo.needsCsum = true;
  ufo.csumStart = 34;
  ufo.csumOffset = 6;
  ufo.gsoType = GSO_UDP;
  ufo.gsoSize = 1480;
  ufo.hdrLen = 42;
  const bounded = new TxRing({
    fd: -1,
    ...ringMemory(1500, 64),
    layout: TX_SLOT_V2,
    vnetBytes: VIRTIO_NET_HDR_LEN,
    stats,
    kicker: kicker as unknown as TxKicker,
    kickPolicy: "auto",
    kickBytes: 256 * 1024,
  });
  for (let i = 0; i < 29; i++) assert.ok(bounded.put(new Uint8Array(8942), 0, 8942, ufo));
  assert.equal(stats.txKicks, 1, "29 datagrams: under the bound");
  assert.ok(bounded.put(new Uint8Array(8942), 0, 8942, ufo));
  assert.equal(stats.txKicks, 2, "the burst bound kicked at the 30th datagram");
  for (let i = 0; i < 10; i++) assert.ok(bounded.put(new Uint8Array(8942), 0, 8942, ufo));
  bounded.flush();
  assert.deepEqual([kicker.requests, stats.txKicks], [0, 3], "89 KB of UFO: kicked here");
});

/** Slot memory for a V2 TX ring of `frames` slots at `mtu` with a vnet header. */
function ringMemory(mtu: number, frames: number) {
  const geometry = txRingGeometry(TX_SLOT_V2, mtu, true, frames);
  const mem = new ArrayBuffer(geometry.blockBytes * geometry.blocks);
  return { ring: new Uint8Array(mem), words: new Uint32Array(mem), base: 0, geometry };
}

/**
 * A kick's kernel stand-in for a ring over ordinary memory: sends every SEND_REQUEST slot at
 * once (its status word back to AVAILABLE, 0), so the ring never fills.
 */
function kernelStandIn(words: Uint32Array): (fd: number) => number {
  return () => {
    // Only status words hold 1 here: lengths are frame sizes, the frames are zeros.
    for (let i = 0; i < words.length; i++) if (words[i] === 1) words[i] = 0;
    return 0;
  };
}

Deno.test("tx ring, auto: the kicker thread starts with the first bulk batch, never for small ones", () => {
  const stats = txCounters();
  const kicker = new StubKicker();
  let starts = 0;
  const mem = ringMemory(1500, 64);
  const kernel = kernelStandIn(mem.words);
  const tx = new TxRing({
    fd: -1,
    ...mem,
    send: kernel,
    layout: TX_SLOT_V2,
    vnetBytes: VIRTIO_NET_HDR_LEN,
    stats,
    startKicker: () => {
      starts++;
      return kicker as unknown as TxKicker;
    },
    kickPolicy: "auto",
  });
  // Request/response traffic: 1,000 ticks of a few small frames, every kick on this thread
  // and no thread started.
  for (let t = 0; t < 1000; t++) {
    for (let i = 0; i < 3; i++) assert.ok(tx.put(new Uint8Array(130), 0, 130, null));
    tx.flush();
  }
  assert.deepEqual([starts, tx.kicker, kicker.requests, stats.txKicks], [0, null, 0, 1000]);
  // The first batch of a full TCP super-segment's size starts it and is handed to it.
  for (let i = 0; i < 40; i++) assert.ok(tx.put(new Uint8Array(1500), 0, 1500, null));
  tx.flush();
  assert.deepEqual([starts, kicker.requests, stats.txKicks], [1, 1, 1000]);
  assert.equal(tx.kicker, kicker as unknown as TxKicker);
  // Started once: the next bulk batch goes to the same kicker.
  kicker.pending = false;
  kernel(-1); // what its kick sent
  for (let i = 0; i < 40; i++) assert.ok(tx.put(new Uint8Array(1500), 0, 1500, null));
  tx.flush();
  assert.deepEqual([starts, kicker.requests], [1, 2]);
});

Deno.test("tx ring, auto: a kicker that cannot start is asked for once; kicks stay here", () => {
  const stats = txCounters();
  let starts = 0;
  const mem = ringMemory(1500, 64);
  const tx = new TxRing({
    fd: -1,
    ...mem,
    send: kernelStandIn(mem.words),
    layout: TX_SLOT_V2,
    vnetBytes: VIRTIO_NET_HDR_LEN,
    stats,
    startKicker: () => {
      starts++;
      return null;
    },
    kickPolicy: "auto",
  });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 40; i++) assert.ok(tx.put(new Uint8Array(1500), 0, 1500, null));
    tx.flush();
  }
  assert.deepEqual([starts, tx.kicker, stats.txKicks], [1, null, 3]);
});
