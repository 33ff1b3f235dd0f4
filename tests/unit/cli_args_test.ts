import assert from "node:assert/strict";
import { parseStrict, TCP_STACK_OPTIONS, tcpStackConfig, UsageError } from "../../cli/args.ts";

Deno.test("cli: --cc picks the congestion control; an unknown name is a usage error", () => {
  const { values } = parseStrict(["--cc", "BBR"], { ...TCP_STACK_OPTIONS });
  assert.deepEqual(tcpStackConfig(values, { driver: "loopback" }), {
    driver: "loopback",
    cc: "bbr",
  });
  assert.deepEqual(tcpStackConfig({}, { driver: "loopback" }), { driver: "loopback" });
  assert.throws(
    () => tcpStackConfig({ cc: "vegas" }, {}),
    (e: unknown) => e instanceof UsageError && /--cc vegas.*cubic/.test(e.message),
  );
});
