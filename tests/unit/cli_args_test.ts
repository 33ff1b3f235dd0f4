import assert from "node:assert/strict";
import {
  LINK_OPTIONS,
  linkConfig,
  parseStrict,
  TCP_STACK_OPTIONS,
  tcpStackConfig,
  UsageError,
} from "../../cli/args.ts";
import {
  PREWARM_OPTIONS,
  prewarmCount,
  prewarmDefault,
  withPrewarmedPools,
} from "../../cli/warm_up.ts";
import { serveCommand } from "../../cli/serve.ts";
import { pingpongCommand } from "../../cli/pingpong.ts";

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
  usage(["--rx-slots", "big"], /--rx-slots big: say mtu, 64k or split/);
  usage(["--rx-ring", "v3", "--rx-slots", "64k"], /rx-ring v2 only/);
  usage(["--driver", "af_packet_mmsg", "--rx-slots", "64k"], /rx-ring v2 only/);
});

Deno.test("cli: --rx-large-frame sizes the large RX slots (BIG TCP); bounded, v2 only", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(parse([]).rxLargeFrameBytes, undefined);
  assert.equal(parse(["--rx-large-frame", "185018"]).rxLargeFrameBytes, 185_018);
  const usage = (args: string[], re: RegExp) =>
    assert.throws(() => parse(args), (e: unknown) => e instanceof UsageError && re.test(e.message));
  usage(["--rx-large-frame", "65536"], /rx-large-frame/);
  usage(["--rx-large-frame", "600000"], /rx-large-frame/);
  usage(["--rx-ring", "v3", "--rx-large-frame", "100000"], /rx-ring v2 only/);
});

Deno.test("cli: --tx-kick picks where the TX ring's kick runs; elsewhere it is a usage error", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(parse([]).txKick, undefined);
  assert.equal(parse(["--tx-kick", "thread"]).txKick, "thread");
  assert.equal(parse(["--tx-kick", "auto", "--tx-kick-spin", "20"]).txKickSpinUs, 20);
  const usage = (args: string[], re: RegExp) =>
    assert.throws(() => parse(args), (e: unknown) => e instanceof UsageError && re.test(e.message));
  usage(["--tx-kick", "later"], /--tx-kick later: say sync, thread, auto or uring/);
  usage(["--driver", "af_packet_mmsg", "--tx-kick", "thread"], /af_packet only/);
  usage(["--tx-kick-spin", "-1"], /tx-kick-spin/);
});

Deno.test("cli: --tx-kick uring with the polling thread's idle time and CPU", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  const c = parse(["--tx-kick", "uring", "--tx-kick-uring-idle", "2", "--tx-kick-uring-cpu", "1"]);
  assert.equal(c.txKick, "uring");
  assert.equal(c.txKickUringIdleMs, 2);
  assert.equal(c.txKickUringCpu, 1);
  assert.equal(parse([]).txKickUringIdleMs, undefined);
  const usage = (args: string[], re: RegExp) =>
    assert.throws(() => parse(args), (e: unknown) => e instanceof UsageError && re.test(e.message));
  usage(["--tx-kick-uring-idle", "0"], /tx-kick-uring-idle/);
  usage(["--tx-kick-uring-cpu", "-1"], /tx-kick-uring-cpu/);
  usage(
    ["--driver", "tap", "--tx-kick-uring-cpu", "0"],
    /tx-kick-uring-cpu applies to --driver af_packet/,
  );
});

Deno.test("cli: --tx-frames sizes the af_packet TX ring; elsewhere or out of range a usage error", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(parse([]).txFrames, undefined);
  assert.equal(parse(["--tx-frames", "16"]).txFrames, 16);
  const usage = (args: string[], re: RegExp) =>
    assert.throws(() => parse(args), (e: unknown) => e instanceof UsageError && re.test(e.message));
  usage(["--tx-frames", "0"], /tx-frames/);
  usage(["--driver", "tap", "--tx-frames", "16"], /--tx-frames applies to --driver af_packet/);
});

Deno.test("cli: --no-kernel-rx sets kernelRx false for af_packet; elsewhere a usage error", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(parse([]).kernelRx, undefined);
  assert.equal(parse(["--no-kernel-rx"]).kernelRx, false);
  assert.throws(
    () => parse(["--driver", "af_xdp", "--no-kernel-rx"]),
    (e: unknown) => e instanceof UsageError && /--no-kernel-rx applies to/.test(e.message),
  );
});

Deno.test("cli: --kernel-rx-all sets kernelRx true for af_packet; not with --no-kernel-rx", () => {
  const parse = (args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(parse(["--kernel-rx-all"]).kernelRx, true);
  assert.throws(
    () => parse(["--driver", "tap", "--kernel-rx-all"]),
    (e: unknown) => e instanceof UsageError && /--kernel-rx-all applies to/.test(e.message),
  );
  assert.throws(
    () => parse(["--no-kernel-rx", "--kernel-rx-all"]),
    (e: unknown) => e instanceof UsageError && /one or the other/.test(e.message),
  );
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

Deno.test("cli: --no-pacing turns the default pacing off (and keeps --rcv-buf)", () => {
  const { values } = parseStrict(["--no-pacing", "--rcv-buf", "65536", "--cc", "cubic"], {
    ...TCP_STACK_OPTIONS,
  });
  assert.deepEqual(tcpStackConfig(values, { driver: "loopback" }), {
    driver: "loopback",
    cc: "cubic",
    stack: { tcp: { pacing: false, maxReceiveBufferBytes: 65536 } },
  });
  assert.deepEqual(tcpStackConfig({}, { driver: "loopback" }), { driver: "loopback" });
});

Deno.test("cli: --no-coalesce-acks turns the one-ACK-per-tick default off", () => {
  const { values } = parseStrict(["--no-coalesce-acks", "--no-pacing"], { ...TCP_STACK_OPTIONS });
  assert.deepEqual(tcpStackConfig(values, {}), {
    stack: { tcp: { pacing: false, coalesceAcks: false } },
  });
});

Deno.test("cli: --ack-defer-us and --ack-defer-bytes set the deferred-ACK bounds; bad values are usage errors", () => {
  const { values } = parseStrict(["--ack-defer-us", "150", "--ack-defer-bytes", "131072"], {
    ...TCP_STACK_OPTIONS,
  });
  assert.deepEqual(tcpStackConfig(values, {}), {
    stack: { tcp: { ackDeferUs: 150, ackDeferBytes: 131072 } },
  });
  assert.deepEqual(tcpStackConfig({ "ack-defer-us": "0" }, {}), {
    stack: { tcp: { ackDeferUs: 0 } },
  });
  assert.throws(
    () => tcpStackConfig({ "ack-defer-us": "-1" }, {}),
    (e: unknown) => e instanceof UsageError && /ack-defer-us/.test(e.message),
  );
  assert.throws(
    () => tcpStackConfig({ "ack-defer-bytes": "1.5" }, {}),
    (e: unknown) => e instanceof UsageError && /ack-defer-bytes/.test(e.message),
  );
});

Deno.test("cli: --ack-defer-auto turns the adaptive ACK deferral on", () => {
  const { values } = parseStrict(["--ack-defer-auto"], { ...TCP_STACK_OPTIONS });
  assert.deepEqual(tcpStackConfig(values, {}), { stack: { tcp: { ackDeferAuto: true } } });
});

Deno.test("cli: --snd-buf sets the TCP send buffer cap, beside --rcv-buf; out of range is a usage error", () => {
  const { values } = parseStrict(["--snd-buf", "8388608", "--rcv-buf", "65536"], {
    ...TCP_STACK_OPTIONS,
  });
  assert.deepEqual(tcpStackConfig(values, { stack: { tcp: { mslMs: 1000 } } }), {
    stack: { tcp: { mslMs: 1000, maxReceiveBufferBytes: 65536, maxSendBufferBytes: 8388608 } },
  });
  assert.throws(
    () => tcpStackConfig({ "snd-buf": "100" }, {}),
    (e: unknown) => e instanceof UsageError && /snd-buf/.test(e.message),
  );
});

Deno.test("cli: --prewarm N counts warm-up connections; where it cannot apply it is refused", async () => {
  const { values } = parseStrict(["--prewarm", "5000"], { ...PREWARM_OPTIONS });
  assert.equal(prewarmCount(values), 5000);
  assert.equal(prewarmCount({}), 0);
  // No flag: the command's default warm-up; `--prewarm 0`: none at all.
  assert.equal(prewarmDefault({}), true);
  assert.equal(
    prewarmDefault(parseStrict(["--prewarm", "0"], { ...PREWARM_OPTIONS }).values),
    false,
  );
  assert.equal(prewarmDefault(values), false);
  assert.deepEqual(withPrewarmedPools({ driver: "loopback", stack: { maxConnections: 8 } }), {
    driver: "loopback",
    stack: { maxConnections: 8, prewarm: true },
  });
  assert.throws(() => prewarmCount({ prewarm: "-1" }), UsageError);
  assert.throws(() => prewarmCount({ prewarm: "many" }), UsageError);
  const refused = async (run: Promise<number>, re: RegExp) =>
    await assert.rejects(run, (e: unknown) => e instanceof UsageError && re.test(e.message));
  await refused(
    serveCommand(["--driver", "loopback", "--http", "80", "--workers", "2", "--prewarm", "10"]),
    /--prewarm does not apply with --workers/,
  );
  await refused(
    pingpongCommand(["client", "198.18.0.1", "--connect", "--kernel", "--prewarm", "10"]),
    /--prewarm does not apply with --kernel/,
  );
  await refused(
    pingpongCommand(["client", "198.18.0.1", "--prewarm", "10"]),
    /--prewarm applies to the server and to --connect\/--hold/,
  );
});

Deno.test("cli: --sched-slice sets the loop thread's scheduler slice; out of range a usage error", () => {
  const cfg = (...args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(cfg("--sched-slice", "150").loop?.schedSliceUs, 150);
  assert.equal(cfg().loop, undefined);
  assert.throws(() => cfg("--sched-slice", "50"), UsageError);
  assert.throws(() => cfg("--sched-slice", "200000"), UsageError);
});

Deno.test("cli: --cpu pins the loop thread to a CPU list; a malformed list is a usage error", () => {
  const cfg = (...args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.deepEqual(cfg("--cpu", "1").loop?.cpus, [1]);
  assert.deepEqual(cfg("--cpu", "0,2").loop?.cpus, [0, 2]);
  assert.equal(cfg("--busy-poll", "100").loop?.cpus, undefined);
  assert.throws(() => cfg("--cpu", "one"), UsageError);
  assert.throws(() => cfg("--cpu", "1,"), UsageError);
  assert.throws(() => cfg("--cpu", "4096"), UsageError);
});

Deno.test("cli: --yield-stall sets the busy poll's stalled-yield guard; 0 is a usage error", () => {
  const cfg = (...args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(cfg("--yield-stall", "200").loop?.yieldStallUs, 200);
  assert.equal(cfg("--cpu", "0").loop?.yieldStallUs, undefined);
  assert.throws(() => cfg("--yield-stall", "0"), UsageError);
});

Deno.test("cli: --spin-quiet sets the busy poll's quiet window after a lone yield (µs)", () => {
  const cfg = (...args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  assert.equal(cfg("--cpu", "0").loop?.spinQuietUs, undefined);
  assert.equal(cfg("--spin-quiet", "20").loop?.spinQuietUs, 20);
  assert.throws(() => cfg("--spin-quiet", "2000"), UsageError);
});

Deno.test("cli: --spin-quiet-start picks how a spin's first poll begins, with or without --spin-quiet", () => {
  const cfg = (...args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  const quiet = ["--spin-quiet", "20"];
  assert.equal(cfg(...quiet).loop?.spinQuietStart, undefined);
  assert.equal(cfg(...quiet, "--spin-quiet-start", "kick").loop?.spinQuietStart, "kick");
  assert.equal(cfg(...quiet, "--spin-quiet-start", "probe").loop?.spinQuietStart, "probe");
  assert.equal(cfg(...quiet, "--spin-quiet-start", "every").loop?.spinQuietStart, "every");
  assert.equal(cfg(...quiet, "--spin-quiet-start", "stream").loop?.spinQuietStart, "stream");
  assert.throws(() => cfg(...quiet, "--spin-quiet-start", "never"), UsageError);
  // The window has a default (50 µs): the start applies without --spin-quiet too.
  assert.equal(cfg("--spin-quiet-start", "kick").loop?.spinQuietStart, "kick");
  assert.equal(cfg("--spin-quiet", "0").loop?.spinQuietUs, 0);
});

Deno.test("cli: --yield-stall-mode picks what a stalled yield leads to; other words a usage error", () => {
  const cfg = (...args: string[]) =>
    linkConfig(parseStrict(["--if", "us0", ...args], { ...LINK_OPTIONS }).values);
  const stall = ["--yield-stall", "200"];
  assert.equal(cfg(...stall, "--yield-stall-mode", "spin").loop?.yieldStallMode, "spin");
  assert.equal(cfg(...stall, "--yield-stall-mode", "block").loop?.yieldStallMode, "block");
  assert.equal(cfg(...stall).loop?.yieldStallMode, undefined);
  assert.throws(() => cfg(...stall, "--yield-stall-mode", "yield"), UsageError);
  // Without --yield-stall no yield is judged stalled: the mode alone would do nothing.
  assert.throws(() => cfg("--yield-stall-mode", "spin"), /only with --yield-stall/);
});
