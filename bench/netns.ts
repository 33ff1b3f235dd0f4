/**
 * The end-to-end benchmark's view of a veth pair: the test harness's namespaces
 * (`tests/harness/netns.ts`, reused as is) plus what a benchmark needs on top — kernel
 * addresses switched on and off per phase, processes started on either end with every wait
 * bounded, and the kernel's UDP counters (the harness deletes the namespaces on errors, unload,
 * SIGINT, SIGTERM, SIGHUP and, through its watchdog, SIGKILL).
 *
 * ```
 *  side "stack": namespace stackNs, us0        side "peer": namespace peerNs, kp0
 *  kernel↔kernel: kernel 198.18.0.2/24   <->   kernel 198.18.0.1/24
 *  ustack→kernel: ustack 198.18.0.2      <->   kernel 198.18.0.1/24
 *  ustack↔ustack: ustack 198.18.0.2      <->   ustack 198.18.0.1 (kernel address removed)
 * ```
 *
 * @module
 */

import {
  createVethPair,
  type LinkCounters,
  runCommand,
  type VethPair,
} from "../tests/harness/netns.ts";
import { CliProcess } from "../tests/harness/ustack_cli.ts";
import { setNetdevFeatures } from "../ffi/ethtool.ts";
import { withNetns } from "../ffi/netns.ts";
import { close, socket } from "../ffi/syscalls.ts";

/** Which end of the pair. */
export type Side = "stack" | "peer";

/**
 * Absolute path of cli/ustack.ts, or of the environment variable `USTACK_BENCH_CLI` when set (a
 * script that runs the CLI's `main` inside a probe, e.g. under a heap profiler).
 */
export const USTACK_CLI = Deno.env.get("USTACK_BENCH_CLI") ||
  new URL("../cli/ustack.ts", import.meta.url).pathname;

/** How a bounded wait ended. */
export interface Finished {
  /** Exit code (128 + signal when killed). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** True when the process had to be killed because the wait ran out. */
  timedOut: boolean;
}

/** Kernel UDP counters of one namespace (`/proc/net/snmp`, `Udp:` lines). */
export interface UdpCounters {
  /** Datagrams delivered to sockets (read by the application). */
  InDatagrams: number;
  /** Datagrams dropped because a socket's receive buffer was full. */
  RcvbufErrors: number;
  /** Datagrams to a port nobody listens on. */
  NoPorts: number;
  /** Datagrams dropped on receive for any reason (RcvbufErrors and checksum errors included). */
  InErrors: number;
}

/**
 * The deno command line that runs the ustack CLI (this checkout's, or `cli`: another
 * checkout's `cli/ustack.ts`) with what the benchmark uses: FFI for the stack, net for
 * `pingpong --kernel`; `USTACK_BENCH_DENO_FLAGS` ({@link benchDenoFlags}) and then `denoFlags`
 * (this call's own, e.g. `--v8-flags=--prof` for one checkout only) go before the script.
 *
 * @example
 * ```ts
 * ustackCommand(["pingpong", "server", "--kernel"]);
 * ```
 */
export function ustackCommand(
  args: string[],
  cli: string = USTACK_CLI,
  denoFlags: string[] = [],
): string[] {
  return [
    Deno.execPath(),
    "run",
    ...benchDenoFlags(),
    ...denoFlags,
    "--allow-ffi",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    cli,
    ...args,
  ];
}

/**
 * Extra `deno run` flags for every stack the benchmarks start, from the environment variable
 * `USTACK_BENCH_DENO_FLAGS` (split at blanks), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the senders of `bench:cc`; none without it.
 */
export function benchDenoFlags(): string[] {
  const v = Deno.env.get("USTACK_BENCH_DENO_FLAGS") ?? "";
  return v.split(/\s+/).filter((f) => f !== "");
}

/**
 * `NAME=FLAGS`, a benchmark's named configuration (`--variant`): the name and the flags split
 * at blanks. Throws, naming `option`, when there is no name.
 *
 * @example
 * ```ts
 * parseVariant("v3=--rx-ring v3"); // ["v3", ["--rx-ring", "v3"]]
 * ```
 */
export function parseVariant(v: string, option = "--variant"): [string, string[]] {
  const eq = v.indexOf("=");
  if (eq <= 0) throw new Error(`${option} ${v}: say NAME=FLAGS`);
  return [v.slice(0, eq), v.slice(eq + 1).split(/\s+/).filter((f) => f !== "")];
}

/**
 * A process started by the benchmark in one of the namespaces; its output is collected as it
 * comes, and every wait has a deadline after which the process is killed.
 */
export class BenchProcess {
  /** Line collector and ready-line waiter of the test harness. */
  readonly cli: CliProcess;
  readonly #child: Deno.ChildProcess;

  /** Where {@link finish} writes the command and its stdout (none: nowhere). */
  readonly #saveTo: { path: string; cmd: string[] } | undefined;

  /**
   * Wrap a child spawned with piped stdout and stderr; with `saveTo`, its command line and
   * stdout are written to `saveTo.path` when it has finished.
   */
  constructor(child: Deno.ChildProcess, saveTo?: { path: string; cmd: string[] }) {
    this.#child = child;
    this.cli = new CliProcess(child);
    this.#saveTo = saveTo;
  }

  /** Resolve with the first stdout line matching `re`; throws after `timeoutMs` or on exit. */
  waitForLine(re: RegExp, timeoutMs = 15_000): Promise<string> {
    return this.cli.waitForLine(re, timeoutMs);
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Send `signal` (ignored if the process is gone). */
  signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* already exited */ }
  }

  /** Wait for the process to exit by itself, killing it (SIGKILL) after `timeoutMs`. */
  async finish(timeoutMs: number): Promise<Finished> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.signal("SIGKILL");
    }, timeoutMs);
    try {
      const code = await this.cli.exited();
      const stdout = this.cli.lines.join("\n");
      if (this.#saveTo !== undefined) {
        await Deno.writeTextFile(this.#saveTo.path, `${this.#saveTo.cmd.join(" ")}\n${stdout}\n`);
      }
      return { code, stdout, stderr: this.cli.errors.join("\n"), timedOut };
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then wait up to `timeoutMs` (SIGKILL after that). */
  stop(timeoutMs = 5_000): Promise<Finished> {
    this.signal("SIGTERM");
    return this.finish(timeoutMs);
  }
}

/**
 * A veth pair between two fresh namespaces, set up for benchmarking. Made by
 * {@link BenchLink.create}; always {@link BenchLink.destroy} it (the harness also deletes it
 * when the process ends otherwise).
 *
 * @example
 * ```ts ignore
 * const link = await BenchLink.create(9000);
 * try {
 *   await link.setKernelAddress("stack", true);
 * } finally {
 *   await link.destroy();
 * }
 * ```
 */
export class BenchLink {
  /** The harness pair underneath. */
  readonly pair: VethPair;

  /**
   * The family of the traffic: 6 when made with `ipv6` (the peer has fd00::1/64, a stack or the
   * stack end's kernel fd00::2/64, and {@link addr} is the IPv6 address), else 4.
   */
  readonly family: 4 | 6;
  /**
   * With `ipv6`: leave the kernel's IPv6 on on the stack's interface while a stack owns it (a
   * link-local address, no global one, router advertisements ignored) — a host whose interface
   * has IPv6 on — instead of turning it off.
   */
  readonly stackKernelIpv6: boolean;

  private constructor(pair: VethPair, family: 4 | 6, stackKernelIpv6: boolean) {
    this.pair = pair;
    this.family = family;
    this.stackKernelIpv6 = stackKernelIpv6;
  }

  /**
   * Namespaces and veth pair with `mtu` on both ends; no IPv6 addresses unless `opts.ipv6`
   * (then IPv6 traffic: see {@link family}, {@link stackKernelIpv6}).
   */
  static async create(
    mtu: number,
    opts: { ipv6?: boolean; stackKernelIpv6?: boolean } = {},
  ): Promise<BenchLink> {
    const ipv6 = opts.ipv6 ?? false;
    const link = new BenchLink(
      await createVethPair({ mtu, ipv6 }),
      ipv6 ? 6 : 4,
      ipv6 && (opts.stackKernelIpv6 ?? false),
    );
    if (link.stackKernelIpv6) await link.#stackKernelIpv6(true);
    return link;
  }

  /** Turn the kernel's IPv6 on the stack's interface on (RAs ignored) or off. */
  async #stackKernelIpv6(on: boolean): Promise<void> {
    const conf = `/proc/sys/net/ipv6/conf/${this.ifname("stack")}`;
    const script = on
      ? `echo 0 > ${conf}/accept_ra && echo 0 > ${conf}/autoconf && ` +
        `echo 0 > ${conf}/router_solicitations && echo 0 > ${conf}/disable_ipv6`
      : `echo 1 > ${conf}/disable_ipv6`;
    await mustRun(["ip", "netns", "exec", this.ns("stack"), "sh", "-c", script]);
  }

  /** MTU of both ends. */
  get mtu(): number {
    return this.pair.mtu;
  }

  /** Interface name on `side`. */
  ifname(side: Side): string {
    return side === "stack" ? this.pair.stackIf : this.pair.peerIf;
  }

  /** The address used on `side` (by the kernel or by a stack): IPv4, or IPv6 with `ipv6`. */
  addr(side: Side): string {
    if (this.family === 6) return side === "stack" ? this.pair.stackAddr6 : this.pair.peerAddr6;
    return side === "stack" ? this.pair.stackAddr : this.pair.peerAddr;
  }

  /** Namespace of `side`. */
  ns(side: Side): string {
    return side === "stack" ? this.pair.stackNs : this.pair.peerNs;
  }

  /**
   * The processes running in each side's namespace (`ip netns pids`), by side: what a run's
   * threads can be found by (`bench/run_contention.ts`).
   */
  async pidsBySide(): Promise<Map<string, number[]>> {
    const m = new Map<string, number[]>();
    for (const side of ["stack", "peer"] as const) {
      const r = await runCommand(["ip", "netns", "pids", this.ns(side)], { timeoutMs: 5_000 });
      m.set(side, r.stdout.split(/\s+/).filter((t) => t !== "").map(Number));
    }
    return m;
  }

  /** The CLI's link options for a stack on `side`. */
  stackOptions(side: Side, driver: string): string[] {
    return [
      "--driver",
      driver,
      "--if",
      this.ifname(side),
      "--addr",
      `${side === "stack" ? this.pair.stackAddr : this.pair.peerAddr}/${this.pair.prefixLen}`,
      ...(this.family === 6 ? ["--addr", `${this.addr(side)}/${this.pair.prefixLen6}`] : []),
    ];
  }

  /**
   * Give the kernel on `side` its address (`on`; with `ipv6` its IPv6 one, IPv6 on), or take
   * it away — and turn the kernel's IPv6 off there, unless {@link stackKernelIpv6} — so that a
   * stack can own the interface without the kernel answering too.
   * Neighbour entries on both ends are flushed either way.
   */
  async setKernelAddress(side: Side, on: boolean): Promise<void> {
    const ns = this.ns(side);
    const dev = this.ifname(side);
    if (on && this.family === 6) {
      if (side === "stack") await this.#stackKernelIpv6(true);
      const a = `${this.addr(side)}/${this.pair.prefixLen6}`;
      await mustRun(["ip", "-n", ns, "addr", "replace", a, "dev", dev, "nodad"]);
    } else if (on) {
      await mustRun([
        "ip",
        "-n",
        ns,
        "addr",
        "replace",
        `${this.addr(side)}/${this.pair.prefixLen}`,
        "dev",
        dev,
      ]);
    } else if (side === "stack" && this.stackKernelIpv6) {
      await mustRun(["ip", "-n", ns, "addr", "flush", "dev", dev, "scope", "global"]);
    } else {
      await mustRun(["ip", "-n", ns, "addr", "flush", "dev", dev]);
      await mustRun([
        "ip",
        "netns",
        "exec",
        ns,
        "sh",
        "-c",
        `echo 1 > /proc/sys/net/ipv6/conf/${dev}/disable_ipv6`,
      ]);
    }
    for (const s of ["stack", "peer"] as const) {
      await runCommand(["ip", "-n", this.ns(s), "neigh", "flush", "dev", this.ifname(s)], {
        timeoutMs: 5_000,
      });
    }
  }

  /**
   * Turn TCP segmentation offload (TSO, v4 and v6) of the interface on `side` on or off
   * (ETHTOOL_SFEATURES); generic segmentation (GSO) stays on. With TSO off a sender's
   * super-segments — the kernel's and a stack's through its ring alike — are cut into
   * MTU-sized packets in software before they cross the veth, so the peer sees (and a drop
   * rule drops) wire packets. Returns whether TSO is on afterwards.
   */
  setTso(side: Side, on: boolean): boolean {
    const after = withNetns(this.ns(side), () => {
      const fd = socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
      try {
        return setNetdevFeatures(fd, this.ifname(side), {
          "tx-tcp-segmentation": on,
          "tx-tcp6-segmentation": on,
        });
      } finally {
        close(fd);
      }
    });
    return after.get("tx-tcp-segmentation")?.active === true;
  }

  /**
   * Receive packet steering on the interface of `side`: `mask` (hex, as in
   * `/sys/class/net/IF/queues/rx-0/rps_cpus`) names the CPUs that run the protocol receive of
   * packets arriving there; "0" turns it off (the default: the receive runs on the CPU that
   * sent the packet into the veth, inside its transmit call).
   */
  async setRpsCpus(side: Side, mask: string): Promise<void> {
    if (!/^[0-9a-fA-F,]+$/.test(mask)) throw new Error(`rps_cpus: a hex mask, not ${mask}`);
    await mustRun([
      "ip",
      "netns",
      "exec",
      this.ns(side),
      "sh",
      "-c",
      `echo ${mask} > /sys/class/net/${this.ifname(side)}/queues/rx-0/rps_cpus`,
    ]);
  }

  /**
   * With `ipv6`: wait until the address on `side` answers a ping from the other side (a stack's
   * IPv6 address is tentative for about a second after it starts: duplicate address
   * detection), at most `timeoutMs`; throws after. Nothing to wait for with IPv4.
   */
  async waitReachable(side: Side, timeoutMs = 10_000): Promise<void> {
    if (this.family === 4) return;
    const other = side === "stack" ? "peer" : "stack";
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const f = await this.run(other, ["ping", "-6", "-c", "1", "-W", "1", this.addr(side)], 5_000);
      if (f.code === 0) return;
    }
    throw new Error(`${this.addr(side)} did not answer in ${timeoutMs} ms`);
  }

  /**
   * Start `cmd` in the namespace of `side` (stdout and stderr collected). With the environment
   * variable `USTACK_BENCH_OUTPUT_DIR` set (a directory that exists), each process's command
   * line and stdout are written there when it finishes, as `<pid>.txt` (for V8's
   * `--trace-gc-nvp` lines: `bench/gc_rate.ts`).
   */
  start(side: Side, cmd: string[]): BenchProcess {
    const opts = { stdout: "piped", stderr: "piped" } as const;
    const child = side === "stack"
      ? this.pair.spawnInStackNs(cmd, opts)
      : this.pair.spawn(cmd, opts);
    const dir = Deno.env.get("USTACK_BENCH_OUTPUT_DIR");
    return new BenchProcess(
      child,
      dir === undefined || dir === "" ? undefined : { path: `${dir}/${child.pid}.txt`, cmd },
    );
  }

  /** Run `cmd` in the namespace of `side` to its end, killing it after `timeoutMs`. */
  run(side: Side, cmd: string[], timeoutMs: number): Promise<Finished> {
    return this.start(side, cmd).finish(timeoutMs);
  }

  /** Wait until a kernel socket listens on TCP (or binds UDP) `port` on `side`. */
  async waitForKernelPort(
    side: Side,
    proto: "tcp" | "udp",
    port: number,
    timeoutMs = 10_000,
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const flags = proto === "tcp" ? "-Hltn" : "-Hlun";
    for (;;) {
      const r = await runCommand(
        ["ip", "netns", "exec", this.ns(side), "ss", flags, `sport = :${port}`],
        { timeoutMs: 5_000 },
      );
      if (r.stdout.trim() !== "") return;
      if (performance.now() > deadline) {
        throw new Error(`nothing listens on ${proto} port ${port} in ${this.ns(side)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The kernel's UDP counters in the namespace of `side`. */
  async udpCounters(side: Side): Promise<UdpCounters> {
    const file = this.family === 6 ? "snmp6" : "snmp";
    const r = await runCommand(["ip", "netns", "exec", this.ns(side), "cat", `/proc/net/${file}`], {
      timeoutMs: 5_000,
    });
    if (this.family === 6) {
      // `Udp6InDatagrams 12` per line.
      const get6 = (name: string) =>
        Number(r.stdout.split("\n").find((l) => l.startsWith(`Udp6${name} `))?.split(/\s+/)[1]);
      return {
        InDatagrams: get6("InDatagrams"),
        RcvbufErrors: get6("RcvbufErrors"),
        NoPorts: get6("NoPorts"),
        InErrors: get6("InErrors"),
      };
    }
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("Udp:"));
    if (lines.length < 2) throw new Error(`no Udp: lines in /proc/net/snmp of ${this.ns(side)}`);
    const names = lines[0].trim().split(/\s+/);
    const values = lines[1].trim().split(/\s+/);
    const get = (name: string) => Number(values[names.indexOf(name)] ?? NaN);
    return {
      InDatagrams: get("InDatagrams"),
      RcvbufErrors: get("RcvbufErrors"),
      NoPorts: get("NoPorts"),
      InErrors: get("InErrors"),
    };
  }

  /**
   * The IP receive counters of the kernel in the namespace of `side`, under `nstat`'s names:
   * `IpInReceives`, `IpInAddrErrors`, `IpInDiscards` and, from `/proc/net/snmp6`,
   * `Ip6InReceives`, `Ip6InMcastPkts`, `Ip6InDiscards`, `Ip6InNoRoutes`, `Ip6InAddrErrors` —
   * what the kernel made of the frames that reached its own receive path.
   */
  async ipCounters(side: Side): Promise<Record<string, number>> {
    const cat = async (file: string) =>
      (await runCommand(["ip", "netns", "exec", this.ns(side), "cat", `/proc/net/${file}`], {
        timeoutMs: 5_000,
      })).stdout;
    const out: Record<string, number> = {};
    const v4 = (await cat("snmp")).split("\n").filter((l) => l.startsWith("Ip:"));
    if (v4.length >= 2) {
      const names = v4[0].trim().split(/\s+/);
      const values = v4[1].trim().split(/\s+/);
      for (const n of ["InReceives", "InAddrErrors", "InDiscards"]) {
        out[`Ip${n}`] = Number(values[names.indexOf(n)]);
      }
    }
    for (const l of (await cat("snmp6")).split("\n")) {
      const [name, value] = l.trim().split(/\s+/);
      const wanted = ["InReceives", "InMcastPkts", "InDiscards", "InNoRoutes", "InAddrErrors"];
      if (wanted.some((w) => name === `Ip6${w}`)) out[name] = Number(value);
    }
    return out;
  }

  /** Interface counters of `side`. */
  counters(side: Side): Promise<LinkCounters> {
    return side === "stack" ? this.pair.stackCounters() : this.pair.peerCounters();
  }

  /** Kill everything started here and delete both namespaces. Idempotent. */
  async destroy(): Promise<void> {
    await this.pair.destroy();
  }
}

/** Run `cmd`, throwing with its stderr when it fails. */
async function mustRun(cmd: string[]): Promise<void> {
  const r = await runCommand(cmd, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
}

/**
 * A Python kernel-socket script (`PY_SENDER`, `PY_SINK`, `PY_TCP_SENDER`, `PY_TCP_SINK`) for
 * IPv6: its sockets `AF_INET6`, its wildcard binds `::`.
 *
 * @example
 * ```ts ignore
 * link.start("stack", ["python3", "-c", pyFamily(PY_SINK, 6), "udp", "6500", "0.5", "5"]);
 * ```
 */
export function pyFamily(script: string, family: 4 | 6): string {
  if (family === 4) return script;
  return script.replaceAll("socket.AF_INET,", "socket.AF_INET6,").replaceAll(
    '"0.0.0.0"',
    '"::"',
  );
}
