/**
 * Argument handling shared by the `ustack` commands: the link options, usage errors (exit 2)
 * and the privilege error (exit 1, naming CAP_NET_RAW).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES,
  AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
  CONGESTION_CONTROL_NAMES,
  isCongestionControlName,
  type RuntimeConfig,
  type TcpOptions,
} from "../mod.ts";

/** A usage error: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  /** Make one with a message saying what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** `parseArgs` option specs of the link options every command takes. */
export const LINK_OPTIONS = {
  driver: { type: "string" },
  if: { type: "string" },
  addr: { type: "string", multiple: true },
  gw: { type: "string", multiple: true },
  slaac: { type: "boolean" },
  mtu: { type: "string" },
  pcap: { type: "string" },
  netns: { type: "string" },
  "vnet-hdr": { type: "boolean" },
  "no-offload": { type: "boolean" },
  "rx-ring": { type: "string" },
  "rx-slots": { type: "string" },
  "rx-large-frame": { type: "string" },
  "tx-kick": { type: "string" },
  "tx-kick-spin": { type: "string" },
  "tx-kick-uring-idle": { type: "string" },
  "tx-kick-uring-cpu": { type: "string" },
  "tx-frames": { type: "string" },
  ufo: { type: "string" },
  "tx-kick-bytes": { type: "string" },
  "no-kernel-rx": { type: "boolean" },
  "kernel-rx-all": { type: "boolean" },
  "busy-poll": { type: "string" },
  "block-poll": { type: "string" },
  "deno-turn": { type: "string" },
  "deno-turn-busy": { type: "string" },
  "busy-turn": { type: "string" },
  "no-spin-yield": { type: "boolean" },
  "spin-quiet": { type: "string" },
  "spin-quiet-start": { type: "string" },
  "sched-slice": { type: "string" },
  cpu: { type: "string" },
  "yield-stall": { type: "string" },
  "yield-stall-mode": { type: "string" },
  "no-core-turns": { type: "boolean" },
  "drain-flush": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** `parseArgs` option spec of the TCP stack options (`serve`, `uperf`, `pingpong`). */
export const TCP_STACK_OPTIONS = {
  cc: { type: "string" },
  "rcv-buf": { type: "string" },
  "no-pacing": { type: "boolean" },
  "no-coalesce-acks": { type: "boolean" },
  "ack-defer-us": { type: "string" },
  "ack-defer-bytes": { type: "string" },
  "ack-defer-auto": { type: "boolean" },
  "snd-buf": { type: "string" },
} as const;

/** Usage text of the TCP stack options. */
export const TCP_STACK_USAGE = `tcp options:
  --cc NAME            congestion control: cubic (default), bbr, newreno
  --rcv-buf BYTES      largest receive buffer (and so window) a connection grows to
                       (4194304)
  --snd-buf BYTES      largest send buffer (unacknowledged and unsent bytes) a
                       connection's auto-tuning grows to (4194304)
  --no-pacing          no pacing for cubic/newreno (Linux paces them only under the fq
                       qdisc; default: 2x cwnd/SRTT in slow start, 1.2x after); bbr paces
  --no-coalesce-acks   ACK every second full-sized segment (and every GRO super-segment)
                       at once, not once per tick for all of a tick's in-order data
  --ack-defer-us US    let the ACK owed for in-order data wait up to US µs for more
                       data to cover (one ACK for several GRO super-segments; 0: off) (0)
  --ack-defer-bytes B  most bytes such a deferred ACK leaves unacknowledged (196608)
  --ack-defer-auto     defer those ACKs (up to --ack-defer-us, else 150 µs) only while
                       epochs with deferral receive as fast as epochs without`;

/**
 * The TCP stack options of `v` applied to `config` (`--cc`, `--rcv-buf`, `--snd-buf`,
 * `--no-pacing`, `--no-coalesce-acks`, `--ack-defer-us`, `--ack-defer-bytes`,
 * `--ack-defer-auto`), or a UsageError (naming the algorithms for `--cc`).
 */
export function tcpStackConfig(v: Record<string, unknown>, config: RuntimeConfig): RuntimeConfig {
  // The flags' TCP options, merged into the configuration's once.
  const tcp: TcpOptions = {};
  if (v["no-pacing"] === true) tcp.pacing = false;
  if (v["no-coalesce-acks"] === true) tcp.coalesceAcks = false;
  if (v["ack-defer-auto"] === true) tcp.ackDeferAuto = true;
  if (v["ack-defer-us"] !== undefined) {
    tcp.ackDeferUs = numberFlag("ack-defer-us", v["ack-defer-us"], 0, { min: 0, max: 1_000_000 });
  }
  if (v["ack-defer-bytes"] !== undefined) {
    tcp.ackDeferBytes = numberFlag("ack-defer-bytes", v["ack-defer-bytes"], 0, {
      integer: true,
      min: 1,
      max: 1 << 30,
    });
  }
  const bufferCap = (flag: "rcv-buf" | "snd-buf"): number =>
    numberFlag(flag, v[flag], 0, { integer: true, min: 65536, max: 1 << 30 });
  if (v["rcv-buf"] !== undefined) tcp.maxReceiveBufferBytes = bufferCap("rcv-buf");
  if (v["snd-buf"] !== undefined) tcp.maxSendBufferBytes = bufferCap("snd-buf");
  if (Object.keys(tcp).length > 0) {
    const stack = config.stack ?? {};
    config = { ...config, stack: { ...stack, tcp: { ...stack.tcp, ...tcp } } };
  }
  const cc = v.cc as string | undefined;
  if (cc === undefined) return config;
  if (!isCongestionControlName(cc)) {
    throw new UsageError(
      `--cc ${cc}: unknown congestion control (${CONGESTION_CONTROL_NAMES.join(", ")})`,
    );
  }
  return { ...config, cc: cc.toLowerCase() };
}

/** Usage text of the link options. */
export const LINK_USAGE = `link options:
  --driver NAME        frame pump: af_packet (default: mmap rings with checksum and
                       segmentation offloads), af_packet_mmsg (recvmmsg/sendmmsg), af_xdp,
                       tap (creates or attaches the TAP named by --if), loopback
  --if NAME            interface to attach to (not for loopback)
  --vnet-hdr           tap: use the virtio-net header (checksum/segmentation offloads)
  --no-offload         af_packet: no virtio-net header, no offloads
  --rx-ring v2|v3      af_packet: per-frame RX ring (v2, default, lowest latency) or block
                       ring (v3, less memory)
  --rx-slots mtu|64k|split
                       af_packet, RX ring v2: MTU-sized slots (bigger GRO frames are copied
                       through the socket), 64 KiB ones, or both: MTU-sized slots and a second
                       socket whose 64 KiB slots take the GRO frames (default: split up to
                       MTU 9216, 64k above; with --workers mtu up to MTU 4096, 64k above)
  --rx-large-frame BYTES
                       af_packet, RX ring v2: the longest frame a large slot (split or 64k)
                       holds whole, 69828..524288 (default 69828: a 64 KB super-frame); more
                       for a kernel peer with BIG TCP (gso_max_size above 65536)
  --tx-kick sync|thread|auto|uring
                       af_packet: where the TX ring's kick (sendto) runs: on the stack's
                       thread (sync), on a kicker thread (thread), or on it for batches of
                       48 KiB and more (auto, default); sync on a 1-CPU machine
                       or without --allow-read (the kicker's worker loads files); uring:
                       an io_uring send taken by the kernel's polling thread, no syscall
                       unless it sleeps (sync where io_uring is unavailable)
  --tx-kick-spin US    af_packet, thread/auto: the kicker spins this long before sleeping (0)
  --tx-kick-uring-idle MS
                       af_packet, uring: the polling thread spins this long before sleeping (1)
  --tx-kick-uring-cpu N
                       af_packet, uring: pin the polling thread to CPU N (not pinned)
  --tx-frames N        af_packet: TX ring slots (128)
  --tx-kick-bytes N    af_packet: kick once N bytes of datagrams are queued (262144)
  --ufo on|off         af_packet: UDP datagrams over the MTU go to the kernel whole and it
                       fragments them (UFO; the qdisc is not bypassed then) (on)
  --no-kernel-rx       af_packet: the host kernel's own protocols stop receiving on --if
                       (a tcx drop program after the packet socket, Linux >= 6.6, root):
                       saves its IP receive path per frame where the stack owns the link
                       (default: only unicast frames to the stack's own addresses, IPv4 and
                       IPv6, SLAAC and later ones too, are kept from it)
  --kernel-rx-all      af_packet: the host kernel receives every frame on --if, those to
                       the stack's own addresses too (no tcx program)
  --addr CIDR          address, IPv4 or IPv6, e.g. 198.18.0.2/24 or fd00:5::2/64
                       (repeatable; a link-local IPv6 address is always added)
  --gw ADDR            default gateway, IPv4 and/or IPv6 (repeatable, one per family)
  --slaac              solicit IPv6 routers; take default routers, prefixes, MTU and
                       addresses (SLAAC) from their advertisements
  --mtu N              use a smaller MTU than the link's
  --pcap FILE          record every frame to FILE (needs --allow-write)
  --netns NAME         open the interface inside network namespace NAME
  --busy-poll US       when idle, keep polling this long after the last frame (200)
  --block-poll US      then wait in blocking poll() slices of <= 1 ms this long
                       before parking on a helper thread (5000; 0: park at once)
  --deno-turn US       while busy-polling idle, turn Deno's event loop this often (50)
  --deno-turn-busy US  while frames keep coming to synchronous listeners only (consumers),
                       turn Deno's event loop at most this often (50: --deno-turn)
  --busy-turn US       while ticks find work, turn Deno's event loop at most this often
                       (0: after every busy tick)
  --no-spin-yield      do not sched_yield() between the polls of the busy poll
  --spin-quiet US      after a sched_yield() of the busy poll that came straight back,
                       poll without one for US µs (0..1000; default 50; 0: a yield per poll)
  --spin-quiet-start M how a spin's first poll begins: with a yield every time (every),
                       only after a tick that sent frames (kick), or as kick and also not
                       after a kick while first yields come straight back (probe); stream
                       (default): probe and the window only while readiness goes to
                       synchronous listeners (a stream consumer), else a yield per poll
  --sched-slice US     ask the scheduler for this time slice for the stack's thread
                       (sched_setattr, Linux >= 6.12, 100..100000): a short one lets its
                       wake-ups preempt CPU-bound tasks (default: the kernel's)
  --cpu LIST           run the stack's thread only on these CPUs, e.g. 1 or 0,2
                       (sched_setaffinity; default: unpinned)
  --yield-stall US     when a sched_yield() of the busy poll keeps the CPU away longer than
                       this, wait in blocking poll() slices for 50 ms instead (default: off)
  --yield-stall-mode M after such a yield: block (the above) or spin (busy-poll without
                       sched_yield() for 50 ms) (block)
  --no-core-turns      turn Deno's event loop with setImmediate and await every microtask
                       turn in the loop's async function (what a Deno whose internals
                       differ gets)
  --drain-flush BYTES  while a tick's microtask turns run from a turn's callback, send the
                       output each time the application wrote this much (524288; 0: none,
                       and a tick that woke a writer awaits its turns instead)
  --json               machine-readable output, one JSON object per line`;

type Spec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

/** Parse `args` with `spec` strictly; unknown flags and bad values become UsageErrors. */
export function parseStrict(
  args: string[],
  spec: Spec,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: spec, strict: true, allowPositionals: true });
    return {
      values: r.values as Record<string, string | boolean | string[] | undefined>,
      positionals: r.positionals,
    };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A positive number from a flag value, else a UsageError. */
export function numberFlag(
  name: string,
  value: unknown,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} ${value}: not a ${opts.integer ? "whole " : ""}number`);
  }
  if (opts.min !== undefined && n < opts.min) {
    throw new UsageError(`--${name} must be >= ${opts.min}`);
  }
  if (opts.max !== undefined && n > opts.max) {
    throw new UsageError(`--${name} must be <= ${opts.max}`);
  }
  return n;
}

/** Drivers the CLI can select. */
const DRIVERS = ["af_packet", "af_packet_mmsg", "af_xdp", "tap", "loopback"];

/** Build the Runtime config from parsed link options. */
export function linkConfig(v: Record<string, unknown>): RuntimeConfig {
  const driver = (v.driver as string | undefined) ?? "af_packet";
  if (!DRIVERS.includes(driver)) {
    throw new UsageError(`--driver ${driver}: unknown driver (${DRIVERS.join(", ")})`);
  }
  if (v.if === undefined && driver !== "loopback") throw new UsageError("--if NAME is required");
  if (
    (v["vnet-hdr"] !== undefined || v["no-offload"] !== undefined) && driver !== "tap" &&
    driver !== "af_packet"
  ) {
    throw new UsageError("--vnet-hdr / --no-offload apply to --driver tap and af_packet only");
  }
  return {
    driver: driver as RuntimeConfig["driver"],
    rxRing: rxRingFlag(v["rx-ring"], driver),
    rxSmallSlots: rxSlotsFlag(v["rx-slots"], v["rx-ring"], driver),
    rxSplit: v["rx-slots"] === undefined ? undefined : v["rx-slots"] === "split",
    rxLargeFrameBytes: rxLargeFrameFlag(v["rx-large-frame"], v["rx-ring"], driver),
    txKick: txKickFlag(v["tx-kick"], driver),
    txKickSpinUs: v["tx-kick-spin"] === undefined
      ? undefined
      : numberFlag("tx-kick-spin", v["tx-kick-spin"], 0, { integer: true, min: 0, max: 1e6 }),
    txKickUringIdleMs: v["tx-kick-uring-idle"] === undefined ? undefined : afPacketOnly(
      "tx-kick-uring-idle",
      driver,
      numberFlag("tx-kick-uring-idle", v["tx-kick-uring-idle"], 1, {
        integer: true,
        min: 1,
        max: 60_000,
      }),
    ),
    txKickUringCpu: v["tx-kick-uring-cpu"] === undefined ? undefined : afPacketOnly(
      "tx-kick-uring-cpu",
      driver,
      numberFlag("tx-kick-uring-cpu", v["tx-kick-uring-cpu"], 0, {
        integer: true,
        min: 0,
        max: 4095,
      }),
    ),
    txFrames: txFramesFlag(v["tx-frames"], driver),
    udpFragmentationOffload: ufoFlag(v.ufo, driver),
    txKickBytes: v["tx-kick-bytes"] === undefined ? undefined : afPacketOnly(
      "tx-kick-bytes",
      driver,
      numberFlag("tx-kick-bytes", v["tx-kick-bytes"], 0, { integer: true, min: 0, max: 1 << 30 }),
    ),
    kernelRx: kernelRxFlag(v["no-kernel-rx"], v["kernel-rx-all"], driver),
    // af_packet offloads by default (--no-offload turns them off); tap only with --vnet-hdr.
    vnetHdr: v["no-offload"] === true ? false : v["vnet-hdr"] === true ? true : undefined,
    if: v.if as string | undefined,
    addr: (v.addr as string[] | undefined) ?? [],
    gw: (v.gw as string[] | undefined) ?? [],
    slaac: v.slaac === true,
    mtu: v.mtu === undefined ? undefined : numberFlag("mtu", v.mtu, 0, { integer: true, min: 68 }),
    pcap: v.pcap as string | undefined,
    netns: v.netns as string | undefined,
    loop: loopConfig(v),
  };
}

/**
 * The event-loop tunables of `--busy-poll` / `--block-poll` / `--deno-turn` /
 * `--deno-turn-busy` / `--busy-turn` /
 * `--no-spin-yield` / `--spin-quiet` / `--spin-quiet-start` / `--sched-slice` / `--cpu` /
 * `--yield-stall` /
 * `--yield-stall-mode` / `--no-core-turns` / `--drain-flush`, or
 * undefined for the defaults.
 */
function loopConfig(v: Record<string, unknown>): RuntimeConfig["loop"] {
  const names = [
    "busy-poll",
    "block-poll",
    "deno-turn",
    "deno-turn-busy",
    "busy-turn",
    "no-spin-yield",
    "spin-quiet",
    "spin-quiet-start",
    "sched-slice",
    "cpu",
    "yield-stall",
    "yield-stall-mode",
    "no-core-turns",
    "drain-flush",
  ];
  if (names.every((n) => v[n] === undefined)) return undefined;
  const us = (name: string) =>
    v[name] === undefined ? undefined : numberFlag(name, v[name], 0, { min: 0, max: 1_000_000 });
  return {
    busyPollUs: us("busy-poll"),
    blockPollUs: us("block-poll"),
    denoTurnUs: us("deno-turn"),
    denoTurnBusyUs: us("deno-turn-busy"),
    busyTurnUs: us("busy-turn"),
    spinYield: v["no-spin-yield"] === true ? false : undefined,
    spinQuietUs: v["spin-quiet"] === undefined
      ? undefined
      : numberFlag("spin-quiet", v["spin-quiet"], 0, { integer: true, min: 0, max: 1000 }),
    spinQuietStart: spinQuietStart(v["spin-quiet-start"]),
    schedSliceUs: v["sched-slice"] === undefined
      ? undefined
      : numberFlag("sched-slice", v["sched-slice"], 0, { min: 100, max: 100_000 }),
    cpus: v.cpu === undefined ? undefined : cpuList(v.cpu),
    yieldStallUs: v["yield-stall"] === undefined
      ? undefined
      : numberFlag("yield-stall", v["yield-stall"], 0, { min: 1, max: 1_000_000 }),
    yieldStallMode: yieldStallMode(v["yield-stall-mode"], v["yield-stall"]),
    coreTurns: v["no-core-turns"] === true ? false : undefined,
    drainFlushBytes: v["drain-flush"] === undefined
      ? undefined
      : numberFlag("drain-flush", v["drain-flush"], 0, { integer: true, min: 0, max: 2 ** 40 }),
  };
}

/**
 * `--yield-stall-mode block|spin`, or undefined for the default; only with `--yield-stall`
 * (`stall`), without which no yield is ever judged stalled and the mode would do nothing.
 */
function yieldStallMode(value: unknown, stall: unknown): "block" | "spin" | undefined {
  if (value === undefined) return undefined;
  if (value !== "block" && value !== "spin") {
    throw new UsageError(`--yield-stall-mode ${value}: say block or spin`);
  }
  if (stall === undefined) {
    throw new UsageError(`--yield-stall-mode ${value}: only with --yield-stall US`);
  }
  return value;
}

/** `--spin-quiet-start every|kick|probe|stream`, or undefined for the default (stream). */
function spinQuietStart(value: unknown): "every" | "kick" | "probe" | "stream" | undefined {
  if (value === undefined) return undefined;
  if (value !== "every" && value !== "kick" && value !== "probe" && value !== "stream") {
    throw new UsageError(`--spin-quiet-start ${value}: say every, kick, probe or stream`);
  }
  return value;
}

/** `--cpu 1` or `--cpu 0,2`: CPU numbers. */
function cpuList(value: unknown): number[] {
  const words = String(value).split(",");
  if (words.some((w) => !/^\d+$/.test(w) || Number(w) > 1023)) {
    throw new UsageError(`--cpu ${value}: say CPU numbers separated by commas, e.g. 1 or 0,2`);
  }
  return words.map(Number);
}

/**
 * `--no-kernel-rx`: false, `--kernel-rx-all`: true (af_packet only, not both), or undefined
 * for the default.
 */
function kernelRxFlag(none: unknown, all: unknown, driver: string): boolean | undefined {
  if (none !== true && all !== true) return undefined;
  const name = none === true ? "--no-kernel-rx" : "--kernel-rx-all";
  if (driver !== "af_packet") throw new UsageError(`${name} applies to --driver af_packet only`);
  if (none === true && all === true) {
    throw new UsageError("--no-kernel-rx and --kernel-rx-all: one or the other");
  }
  return all === true;
}

function rxRingFlag(value: unknown, driver: string): "v2" | "v3" | undefined {
  if (value === undefined) return undefined;
  if (driver !== "af_packet") throw new UsageError("--rx-ring applies to --driver af_packet only");
  if (value !== "v2" && value !== "v3") throw new UsageError(`--rx-ring ${value}: say v2 or v3`);
  return value;
}

function txKickFlag(
  value: unknown,
  driver: string,
): "sync" | "thread" | "auto" | "uring" | undefined {
  if (value === undefined) return undefined;
  if (driver !== "af_packet") throw new UsageError("--tx-kick applies to --driver af_packet only");
  if (value !== "sync" && value !== "thread" && value !== "auto" && value !== "uring") {
    throw new UsageError(`--tx-kick ${value}: say sync, thread, auto or uring`);
  }
  return value;
}

function afPacketOnly<T>(name: string, driver: string, value: T): T {
  if (driver !== "af_packet") throw new UsageError(`--${name} applies to --driver af_packet only`);
  return value;
}

function ufoFlag(value: unknown, driver: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (driver !== "af_packet") throw new UsageError("--ufo applies to --driver af_packet only");
  if (value !== "on" && value !== "off") throw new UsageError(`--ufo ${value}: say on or off`);
  return value === "on";
}

function txFramesFlag(value: unknown, driver: string): number | undefined {
  if (value === undefined) return undefined;
  if (driver !== "af_packet") {
    throw new UsageError("--tx-frames applies to --driver af_packet only");
  }
  return numberFlag("tx-frames", value, 0, { integer: true, min: 1, max: 65536 });
}

function rxLargeFrameFlag(value: unknown, ring: unknown, driver: string): number | undefined {
  if (value === undefined) return undefined;
  if (driver !== "af_packet" || ring === "v3") {
    throw new UsageError("--rx-large-frame applies to --driver af_packet with --rx-ring v2 only");
  }
  return numberFlag("rx-large-frame", value, 0, {
    integer: true,
    min: AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
    max: AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES,
  });
}

function rxSlotsFlag(value: unknown, ring: unknown, driver: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (driver !== "af_packet" || ring === "v3") {
    throw new UsageError("--rx-slots applies to --driver af_packet with --rx-ring v2 only");
  }
  if (value !== "mtu" && value !== "64k" && value !== "split") {
    throw new UsageError(`--rx-slots ${value}: say mtu, 64k or split`);
  }
  return value !== "64k";
}

/** True if `e` says we lack the privilege to open raw sockets. */
export function isPrivilegeError(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === "EPERM" || code === "EACCES";
}

/** The message printed when privileges are missing. */
export const PRIVILEGE_MESSAGE =
  "ustack: permission denied: opening a raw packet socket needs CAP_NET_RAW " +
  "(run as root, or grant the capability with setcap cap_net_raw+ep to the deno binary)";
