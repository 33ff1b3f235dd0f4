import assert from "node:assert/strict";
import { EchoListeners } from "../../net/echo_listeners.ts";
import { StackError } from "../../core/errors.ts";

Deno.test("echo listeners: one per identifier, bounded, freed by unlisten", () => {
  const t = new EchoListeners<string>(2);
  t.listen(1, "a");
  assert.throws(() => t.listen(1, "b"), (e) => e instanceof StackError && e.code === "EADDRINUSE");
  t.listen(2, "b");
  assert.throws(() => t.listen(3, "c"), (e) => e instanceof StackError && e.code === "ENOBUFS");
  assert.equal(t.get(1), "a");
  t.unlisten(1);
  assert.equal(t.get(1), undefined);
  t.listen(3, "c");
  assert.equal(t.get(3), "c");
});
