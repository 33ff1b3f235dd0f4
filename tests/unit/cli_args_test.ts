import assert from "node:assert/strict";
import {
  LINK_OPTIONS,
  linkConfig,
  parseStrict,
  TCP_STACK_OPTIONS,
  tcpStackConfig,
  UsageError,
} from "../../cli/args.ts";

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

Deno.test("cli: --rx-slots picks the v2 RX slot size; elsewhere it is a usage error", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(parse([]).rxSmallSlots, undefined);
  assert.equal(parse(["--rx-slots", "mtu"]).rxSmallSlots, true);
  assert.equal(parse(["--rx-ring", "v2", "--rx-slots", "64k"]).rxSmallSlots, false);
  const usage = (args: string[], re: RegExp) =>
    assert.throws(() => parse(args), (e: unknown) => e instanceof UsageError && re.test(e.message));
  usage(["--rx-slots", "big"], /--rx-slots big: say mtu or 64k/);
  usage(["--rx-ring", "v3", "--rx-slots", "64k"], /rx-ring v2 only/);
  usage(["--driver", "af_packet_mmsg", "--rx-slots", "64k"], /rx-ring v2 only/);
});

Deno.test("cli: --rcv-buf sets the TCP receive buffer cap; out of range is a usage error", () => {
  const { values } = parseStrict(["--rcv-buf", "33554432"], { ...TCP_STACK_OPTIONS });
  assert.deepEqual(tcpStackConfig(values, { driver: "loopback" }), {
    driver: "loopback",
    stack: { tcp: { maxReceiveBufferBytes: 33554432 } },
  });
  assert.throws(
    () => tcpStackConfig({ "rcv-buf": "1000" }, {}),
    (e: unknown) => e instanceof UsageError && /rcv-buf/.test(e.message),
  );
});
