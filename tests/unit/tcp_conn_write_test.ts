// `TcpConn.write` without an async call when the send buffer takes the whole write: the
// connection's resolved promise for that length (bench/README.md, "heap13r": the async call was
// ~250 B a 128 KiB write, ~17 B per wire packet at MTU 9000). What a write resolves to, when it
// settles (not before the send buffer took its last byte) and how it fails stay as they were.

import assert from "node:assert/strict";
import { EV_WRITABLE, WaitQueue } from "../../core/event_mux.ts";
import { StackError } from "../../core/errors.ts";
import type { Stack } from "../../stack/stack.ts";
import { TcpConn } from "../../stack/tcp_conn.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { medianHeapGrowthPerUnit, medianHeapGrowthPerUnitAsync } from "../harness/heap_growth.ts";

/** Most heap growth per whole write of a warm connection (an async call: ~100 B and more). */
const MAX_BYTES_PER_WRITE = 8;
/**
 * Most heap growth per wait of a write that waits, beyond the same frees and awaits with no
 * writer: the wait queue calls the writer with no promise, and its step is one reaction on a
 * settled promise (~96 B); an async step, a wait's promise and its resolving functions per wait
 * were ~208 B.
 */
const MAX_BYTES_PER_WAIT = 128;

/**
 * A send buffer of `room` free bytes behind a wait queue; `write` takes what fits (all of it,
 * uncounted, when `room` is negative).
 */
class StubEndpoint {
  readonly wq = new WaitQueue();
  room: number;
  taken = 0;
  error: StackError | null = null;
  constructor(room: number) {
    this.room = room;
  }
  write(_buf: Uint8Array, _off: number, len: number): number {
    if (this.error !== null) throw this.error;
    if (this.room < 0) return len; // no limit, no count
    const n = Math.min(len, this.room);
    this.room -= n;
    this.taken += n;
    if (this.room === 0) this.wq.readiness &= ~EV_WRITABLE;
    return n;
  }
  /** Free `n` bytes and wake the writers, as the end of a tick does. */
  free(n: number): void {
    this.room += n;
    this.wq.readiness |= EV_WRITABLE;
    this.wq.deliver(EV_WRITABLE);
  }
}

/**
 * A connection over `ep` and a stack that counts the ticks asked for and the bytes it was told
 * went into the send buffer (`Stack.written`).
 */
function conn(ep: StubEndpoint): { c: TcpConn; ticks: () => number; written: () => number } {
  let ticks = 0;
  let written = 0;
  const stack = {
    registry: { addTcp: () => {} },
    requestTick: () => {
      ticks++;
    },
    written: (n: number) => {
      // Kept a small integer (a sum past 2**30 would be a heap number per write, which the heap
      // tests below would count as the write's).
      written = (written + n) & 0x3fffffff;
    },
  } as unknown as Stack;
  return {
    c: new TcpConn(stack, ep as unknown as TcpEndpoint),
    ticks: () => ticks,
    written: () => written,
  };
}

/** Let every queued reaction run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("TcpConn.write: a whole write resolves to its length and asks for a tick", async () => {
  const ep = new StubEndpoint(1 << 20);
  const { c, ticks, written } = conn(ep);
  assert.equal(await c.write(new Uint8Array(1000)), 1000);
  assert.equal(await c.write(new Uint8Array(1000)), 1000);
  assert.equal(await c.write(new Uint8Array(7)), 7);
  assert.equal(await c.write(new Uint8Array(0)), 0);
  assert.equal(await c.write(new Uint8Array(1000)), 1000);
  assert.equal(ep.taken, 3007);
  assert.equal(ticks(), 5);
  assert.equal(written(), 3007);
});

Deno.test("TcpConn.write: a write the buffer cannot take settles once its last byte is in", async () => {
  const ep = new StubEndpoint(600);
  const { c, ticks, written } = conn(ep);
  let done = -1;
  const p = c.write(new Uint8Array(1000)).then((n) => done = n);
  await settle();
  assert.equal(done, -1, "settled before the buffer took the rest");
  assert.equal(ep.taken, 600);
  assert.equal(ticks(), 0);
  ep.free(300);
  await settle();
  assert.equal(done, -1, "settled with 100 bytes still out");
  assert.equal(ep.taken, 900);
  ep.free(1000);
  await p;
  assert.equal(done, 1000);
  assert.equal(ep.taken, 1000);
  assert.equal(ticks(), 1);
  // Every part the buffer took was told to the stack (its flushes inside a drain count them).
  assert.equal(written(), 1000);
});

Deno.test("TcpConn.write: the endpoint's error rejects the write (first part and later)", async () => {
  const ep = new StubEndpoint(100);
  const { c } = conn(ep);
  ep.error = new StackError("EPIPE", "write");
  await assert.rejects(c.write(new Uint8Array(10)), StackError);
  ep.error = null;
  const p = c.write(new Uint8Array(1000));
  ep.error = new StackError("ECONNRESET", "write");
  ep.free(10);
  await assert.rejects(p, (e) => e instanceof StackError && e.code === "ECONNRESET");
});

Deno.test(`TcpConn.write: a warm whole write grows the heap < ${MAX_BYTES_PER_WRITE} B`, () => {
  const ep = new StubEndpoint(-1);
  const { c } = conn(ep);
  const chunk = new Uint8Array(128 * 1024);
  let writes = 0;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) c.write(chunk);
    writes += n;
  };
  run(50_000); // warm: optimised code
  const [perWrite] = medianHeapGrowthPerUnit([{ step: () => run(5_000), units: () => writes }], 9);
  assert.ok(perWrite < MAX_BYTES_PER_WRITE, `${perWrite.toFixed(1)} B per write`);
});

Deno.test(`TcpConn.write: a write that waits grows the heap < ${MAX_BYTES_PER_WAIT} B a wait`, async () => {
  const ep = new StubEndpoint(0);
  const { c } = conn(ep);
  const control = new StubEndpoint(0); // the same frees and awaits, no writer
  const data = new Uint8Array(4 << 20);
  let pending: Promise<void> | null = null;
  let waits = 0;
  let frees = 0;
  const writer = async (n: number) => {
    for (let i = 0; i < n; i++) {
      if (pending === null) {
        pending = c.write(data).then(() => {
          pending = null;
        });
      }
      ep.free(100);
      waits++;
      await null; // an awaiting writer's step runs here
    }
  };
  const idle = async (n: number) => {
    for (let i = 0; i < n; i++) {
      control.free(100);
      frees++;
      await null;
    }
  };
  await writer(20_000); // warm: optimised code
  await idle(20_000);
  const [perWait, perFree] = await medianHeapGrowthPerUnitAsync([
    { step: () => writer(2_000), units: () => waits },
    { step: () => idle(2_000), units: () => frees },
  ], 9);
  assert.ok(ep.taken > 2_000_000, `${ep.taken} bytes taken`);
  assert.ok(
    perWait - perFree < MAX_BYTES_PER_WAIT,
    `${perWait.toFixed(1)} B per wait, ${perFree.toFixed(1)} without a writer`,
  );
});

Deno.test("TcpConn.write: a write made while another waits goes in after it", async () => {
  const ep = new StubEndpoint(600);
  const { c } = conn(ep);
  const order: number[] = [];
  const a = c.write(new Uint8Array(1000)).then((n) => order.push(n));
  const b = c.write(new Uint8Array(10)).then((n) => order.push(n));
  await settle();
  assert.equal(ep.taken, 600, "the second write went in before the first's rest");
  ep.free(1000);
  await Promise.all([a, b]);
  assert.deepEqual(order, [1000, 10]);
  assert.equal(ep.taken, 1010);
});

/** A {@link StubEndpoint} that keeps every byte it takes, in order. */
class RecordingEndpoint extends StubEndpoint {
  readonly bytes: number[] = [];
  override write(buf: Uint8Array, off: number, len: number): number {
    const n = super.write(buf, off, len);
    for (let i = 0; i < n; i++) this.bytes.push(buf[off + i]);
    return n;
  }
}

Deno.test("TcpConn.write: a write made after room came back but before the waiting write went on goes after it", async () => {
  const ep = new RecordingEndpoint(5);
  const { c } = conn(ep);
  const a = c.write(new Uint8Array(10).fill(1));
  await settle();
  ep.free(100); // the waiting write's step is queued, not run
  const b = c.write(new Uint8Array(3).fill(2));
  assert.deepEqual(await Promise.all([a, b]), [10, 3]);
  // main's async writer interleaved: 1×5, 2×3, 1×5
  assert.deepEqual(ep.bytes, [...Array(10).fill(1), 2, 2, 2]);
});

Deno.test("TcpConn.write: writes go in in call order, also one made in a waiting write's reaction", async () => {
  const ep = new RecordingEndpoint(5);
  const { c } = conn(ep);
  const a = c.write(new Uint8Array(10).fill(1));
  // Made when A settles — after B and D were called.
  const cDone = a.then(() => c.write(new Uint8Array(3).fill(3)));
  const b = c.write(new Uint8Array(3).fill(2));
  const d = c.write(new Uint8Array(2).fill(4));
  await settle();
  ep.free(6); // A's last 5 go in; B takes 1 and waits, D and C queue behind it
  await settle();
  ep.free(100);
  assert.deepEqual(await Promise.all([a, b, d, cDone]), [10, 3, 2, 3]);
  assert.deepEqual(ep.bytes, [...Array(10).fill(1), 2, 2, 2, 4, 4, 3, 3, 3]);
});
