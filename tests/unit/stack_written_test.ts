// `Stack.written`: while the event loop has set `flushAfterBytes` (around the microtask turns it
// runs dry from a turn's callback), the output goes out each time the application has written
// that many bytes; at 0 (everywhere else) a write never flushes. Counted on a stack with no NIC
// (a flush there produces the queued output and flushes no driver).

import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { Stack } from "../../stack/stack.ts";

Deno.test("stack written: a flush each time flushAfterBytes were written, none while it is 0", () => {
  const stack = new Stack({ clock: new VirtualClock(0), poolBuffers: 16, random: () => 0.5 });
  // Off: however much is written.
  stack.written(1 << 30);
  assert.equal(stack.writeFlushes, 0);
  stack.flushWrites(100);
  assert.equal(stack.flushAfterBytes, 100);
  stack.written(60);
  assert.equal(stack.writeFlushes, 0);
  stack.written(50); // 110: a flush, the count starts again
  assert.equal(stack.writeFlushes, 1);
  stack.written(99);
  assert.equal(stack.writeFlushes, 1);
  stack.written(0);
  assert.equal(stack.writeFlushes, 1);
  stack.written(1); // 100
  assert.equal(stack.writeFlushes, 2);
  // Set again: the count starts afresh (the 40 before do not carry over).
  stack.written(40);
  stack.flushWrites(100);
  stack.written(60);
  assert.equal(stack.writeFlushes, 2);
  stack.flushWrites(0);
  stack.written(1 << 30);
  assert.equal(stack.writeFlushes, 2);
  // A flush asks for no tick of its own and leaves none asked for.
  assert.equal(stack.tickRequested, false);
  stack.close();
});
