/**
 * Kernel-interop test harness: a veth pair between two fresh network namespaces, one end for
 * the stack (no kernel address on it), the other end for the Linux kernel as the peer.
 *
 * ```
 *  namespace <stackNs>                      namespace <peerNs>
 *  us0 (no address, kernel IPv6 off)  <--->  kp0 198.18.0.1/24, fd00::1/64
 *  ustack uses 198.18.0.2 / fd00::2          ping, curl, socat, iperf3, tshark run here
 * ```
 *
 * Namespace names are unique per process and pair (`ustk-<pid>-<n>-s` / `-p`). Every pair is
 * kept in a registry and deleted on `destroy()`, and also on `unload`, SIGINT, SIGTERM and
 * SIGHUP if a test forgot or the process is stopped; where no JavaScript runs any more
 * (SIGKILL, a crash) the namespace watchdog (`netns_watchdog.ts`) deletes them. Needs root
 * (CAP_NET_ADMIN, CAP_SYS_ADMIN) and `ip` from iproute2.
 *
 * @module
 */

import { claimNamespace, releaseNamespace } from "./netns_watchdog.ts";

/** Options of {@link createVethPair}. */
export interface VethPairOptions {
  /** MTU of both ends (default 1500; veth takes up to 65,535). */
  mtu?: number;
  /** Also give the peer end `fd00::1/64` (no DAD); default true. */
  ipv6?: boolean;
}

/** Options of {@link VethPair.run} and {@link VethPair.runInStackNs}. */
export interface RunOptions {
  /** Text written to the command's stdin (stdin is closed otherwise). */
  stdin?: string;
  /** Kill the command (SIGKILL) after this many milliseconds; default 60,000. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** What a finished command produced. */
export interface CommandResult {
  /** Exit code (128 + signal number when killed). */
  code: number;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
}

/** Interface counters as `ip -s -j link show` reports them. */
export interface LinkCounters {
  /** Packets received. */
  rxPackets: number;
  /** Bytes received. */
  rxBytes: number;
  /** Received packets dropped. */
  rxDropped: number;
  /** Packets transmitted. */
  txPackets: number;
  /** Bytes transmitted. */
  txBytes: number;
  /** Transmitted packets dropped. */
  txDropped: number;
}

/** Default timeout of commands run through the harness. */
const DEFAULT_TIMEOUT_MS = 60_000;

let pairCounter = 0;
const livePairs = new Set<VethPair>();
let unloadHookInstalled = false;
let signalHooksInstalled = false;

/** Signals that end the process: the pairs are deleted first, then it exits as if killed. */
const EXIT_SIGNALS: readonly [Deno.Signal, number][] = [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
];

/**
 * Two namespaces joined by a veth pair; made by {@link createVethPair}.
 *
 * @example
 * ```ts
 * const pair = await createVethPair({ mtu: 9000 });
 * try {
 *   const r = await pair.run(["ping", "-c", "1", pair.stackAddr]);
 * } finally {
 *   await pair.destroy();
 * }
 * ```
 */
export class VethPair {
  /** Namespace of the stack end. */
  readonly stackNs: string;
  /** Namespace of the kernel peer. */
  readonly peerNs: string;
  /** Interface name of the stack end (in `stackNs`). */
  readonly stackIf = "us0";
  /** Interface name of the kernel end (in `peerNs`). */
  readonly peerIf = "kp0";
  /** The kernel peer's IPv4 address (on `peerIf`). */
  readonly peerAddr = "198.18.0.1";
  /** The IPv4 address the stack should use (not configured in any kernel). */
  readonly stackAddr = "198.18.0.2";
  /** IPv4 prefix length of the link. */
  readonly prefixLen = 24;
  /** The kernel peer's IPv6 address (when created with `ipv6`, the default). */
  readonly peerAddr6 = "fd00::1";
  /** The IPv6 address the stack should use. */
  readonly stackAddr6 = "fd00::2";
  /** IPv6 prefix length of the link. */
  readonly prefixLen6 = 64;
  /** MTU of both ends. */
  readonly mtu: number;
  /** MAC address of `peerIf`. */
  peerMac: Uint8Array = new Uint8Array(6);
  /** MAC address of `stackIf`. */
  stackMac: Uint8Array = new Uint8Array(6);
  /** Further namespaces made for this pair (a routed topology's far host), deleted with it. */
  readonly extraNs: string[] = [];

  readonly #children = new Set<Deno.ChildProcess>();
  #destroyed: Promise<void> | null = null;

  /** Use {@link createVethPair}; the constructor only names things. */
  constructor(id: string, mtu: number) {
    this.stackNs = `ustk-${id}-s`;
    this.peerNs = `ustk-${id}-p`;
    this.mtu = mtu;
  }

  /** Run `cmd` inside the peer namespace and wait for it (never throws on a non-zero exit). */
  run(cmd: string[], opts: RunOptions = {}): Promise<CommandResult> {
    return runCommand(["ip", "netns", "exec", this.peerNs, ...cmd], opts);
  }

  /** Run `cmd` inside the stack namespace and wait for it. */
  runInStackNs(cmd: string[], opts: RunOptions = {}): Promise<CommandResult> {
    return runCommand(["ip", "netns", "exec", this.stackNs, ...cmd], opts);
  }

  /**
   * Start `cmd` in the peer namespace (a server, a capture). stdin defaults to "null",
   * stdout/stderr to "piped". Killed by `destroy()` if still running.
   */
  spawn(cmd: string[], opts: Omit<Deno.CommandOptions, "args"> = {}): Deno.ChildProcess {
    return this.#spawn(this.peerNs, cmd, opts);
  }

  /** Start `cmd` in the stack namespace (e.g. `tshark -i us0`). Killed by `destroy()`. */
  spawnInStackNs(cmd: string[], opts: Omit<Deno.CommandOptions, "args"> = {}): Deno.ChildProcess {
    return this.#spawn(this.stackNs, cmd, opts);
  }

  /**
   * Wait until a kernel socket in the peer namespace listens on `port` (TCP) or is bound to it
   * (UDP), as `ss` reports; throws after `timeoutMs`. Use it instead of sleeping after starting
   * a kernel server.
   */
  async waitForListener(proto: "tcp" | "udp", port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const r = await this.run(["ss", proto === "tcp" ? "-Hltn" : "-Hlun", `sport = :${port}`]);
      if (r.code === 0 && r.stdout.trim() !== "") return;
      if (performance.now() >= deadline) {
        throw new Error(`no kernel ${proto} socket on port ${port} after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Wait until no TCP connection to the peer's `port` is established or half-closed (a
   * kernel sink has read and written all it got); throws after `timeoutMs`.
   */
  async waitForNoConnections(port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const r = await this.run([
        "ss",
        "-Htn",
        "state",
        "established",
        "state",
        "close-wait",
        `sport = :${port}`,
      ]);
      if (r.code === 0 && r.stdout.trim() === "") return;
      if (performance.now() >= deadline) {
        throw new Error(`connections to kernel port ${port} still open after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The peer's link-local IPv6 address once its DAD is done; throws after `timeoutMs`. */
  async peerLinkLocal(timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const r = await this.run([
        "ip",
        "-6",
        "-o",
        "addr",
        "show",
        "dev",
        this.peerIf,
        "scope",
        "link",
      ]);
      const ll = /inet6 (fe80::[0-9a-f:]+)\//.exec(r.stdout)?.[1];
      if (ll !== undefined && !r.stdout.includes("tentative")) return ll;
      if (performance.now() >= deadline) {
        throw new Error(`no usable link-local address on the peer after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Counters of the peer end (`ip -s -j link show kp0`). */
  peerCounters(): Promise<LinkCounters> {
    return linkCounters(this.peerNs, this.peerIf);
  }

  /** Counters of the stack end. */
  stackCounters(): Promise<LinkCounters> {
    return linkCounters(this.stackNs, this.stackIf);
  }

  /** Kill children started here and delete both namespaces. Idempotent. */
  destroy(): Promise<void> {
    return this.#destroyed ??= this.#teardown();
  }

  /** Synchronous best-effort teardown for exit paths (`unload`, SIGINT/SIGTERM/SIGHUP). */
  destroySync(): void {
    for (const child of this.#children) killQuietly(child);
    this.#children.clear();
    for (const ns of [this.stackNs, this.peerNs, ...this.extraNs]) {
      try {
        new Deno.Command("ip", { args: ["netns", "del", ns], stdout: "null", stderr: "null" })
          .outputSync();
      } catch { /* nothing more to do on the way out */ }
      releaseNamespace(ns);
    }
    forget(this);
    this.#destroyed ??= Promise.resolve();
  }

  async #teardown(): Promise<void> {
    for (const child of this.#children) {
      killQuietly(child);
      await settleWithin(child.status, 2_000);
    }
    this.#children.clear();
    for (const ns of [this.stackNs, this.peerNs, ...this.extraNs]) {
      await runCommand(["ip", "netns", "del", ns], { timeoutMs: 10_000 });
      releaseNamespace(ns);
    }
    forget(this);
  }

  #spawn(ns: string, cmd: string[], opts: Omit<Deno.CommandOptions, "args">): Deno.ChildProcess {
    const child = new Deno.Command("ip", {
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...opts,
      args: ["netns", "exec", ns, ...cmd],
    }).spawn();
    this.#children.add(child);
    child.status.then(() => this.#children.delete(child), () => this.#children.delete(child));
    return child;
  }
}

/**
 * Create two namespaces and a veth pair between them: `us0` (stack end: up, no address,
 * kernel IPv6 disabled so the kernel stays silent) and `kp0` (kernel end: up, 198.18.0.1/24
 * and fd00::1/64). Loopback is up in both; the MTU applies to both ends.
 *
 * @example
 * ```ts
 * const pair = await createVethPair({ mtu: 1500 });
 * ```
 */
export async function createVethPair(opts: VethPairOptions = {}): Promise<VethPair> {
  const mtu = opts.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65_535) {
    throw new RangeError(`createVethPair: mtu must be 68..65535, got ${mtu}`);
  }
  const pair = new VethPair(`${Deno.pid}-${++pairCounter}`, mtu);
  remember(pair);
  try {
    const { stackNs: s, peerNs: p, stackIf, peerIf } = pair;
    await addNamespace(s);
    await addNamespace(p);
    // Created directly inside the namespaces: the names never exist in the caller's namespace.
    await ip([
      "link",
      "add",
      stackIf,
      "netns",
      s,
      "type",
      "veth",
      "peer",
      "name",
      peerIf,
      "netns",
      p,
    ]);
    // The stack end belongs to ustack: no kernel IPv6 (no link-local, DAD, RS or MLD).
    await mustRun([
      "ip",
      "netns",
      "exec",
      s,
      "sh",
      "-c",
      `echo 1 > /proc/sys/net/ipv6/conf/${stackIf}/disable_ipv6`,
    ]);
    await ip(["-n", s, "link", "set", "lo", "up"]);
    await ip(["-n", s, "link", "set", stackIf, "mtu", String(mtu), "up"]);
    await ip(["-n", p, "link", "set", "lo", "up"]);
    await ip(["-n", p, "link", "set", peerIf, "mtu", String(mtu), "up"]);
    await ip(["-n", p, "addr", "add", `${pair.peerAddr}/${pair.prefixLen}`, "dev", peerIf]);
    if (opts.ipv6 ?? true) {
      await ip([
        "-n",
        p,
        "addr",
        "add",
        `${pair.peerAddr6}/${pair.prefixLen6}`,
        "dev",
        peerIf,
        "nodad",
      ]);
    }
    pair.stackMac = parseMac(await linkAddress(s, stackIf));
    pair.peerMac = parseMac(await linkAddress(p, peerIf));
    return pair;
  } catch (e) {
    await pair.destroy();
    throw e;
  }
}

/**
 * Create a pair, run `fn` with it, and destroy the pair whatever happens.
 *
 * @example
 * ```ts
 * await withVethPair({}, async (pair) => {
 *   await pair.run(["ping", "-c", "1", pair.peerAddr]);
 * });
 * ```
 */
export async function withVethPair<T>(
  opts: VethPairOptions,
  fn: (pair: VethPair) => T | Promise<T>,
): Promise<T> {
  const pair = await createVethPair(opts);
  try {
    return await fn(pair);
  } finally {
    await pair.destroy();
  }
}

/** Something that runs commands in a namespace (a {@link VethPair}'s peer, a far host). */
export interface CommandRunner {
  /** Run `cmd` in the namespace and wait for it (never throws on a non-zero exit). */
  run(cmd: string[], opts?: RunOptions): Promise<CommandResult>;
}

/** Options of {@link createRoutedPair}. */
export interface RoutedPairOptions {
  /** MTU of the router's interface towards the far host (the far host's own stays 1500). */
  farMtu: number;
}

/**
 * Three namespaces in a row: the stack, a Linux router, a far host. The router forwards both
 * families; its link towards the far host has a smaller MTU (`farMtu`) on the router's side
 * only, so the far host still advertises a 1460-byte MSS and the router, not the far host,
 * meets the stack's full-sized datagrams — and answers those with DF set with an ICMP
 * fragmentation needed (IPv6: packet too big), as a router on a real path does.
 *
 * ```
 *  <stackNs>                <peerNs>: the router (ip_forward)          <farNs>
 *  us0 198.18.0.2/24  <-->  kp0 198.18.0.1/24 fd00::1/64
 *      fd00::2/64           kr1 198.18.1.1/24 fd00:1::1/64  <-->  kf0 198.18.1.2/24
 *                               (mtu farMtu)                          fd00:1::2/64 (mtu 1500)
 * ```
 */
export class RoutedPair {
  /** The stack ↔ router pair (its peer namespace is the router). */
  readonly pair: VethPair;
  /** The far host's namespace. */
  readonly farNs: string;
  /** The far host's IPv4 address. */
  readonly farAddr = "198.18.1.2";
  /** The far host's IPv6 address. */
  readonly farAddr6 = "fd00:1::2";
  /** The router's address on the stack's link: the stack's IPv4 gateway. */
  readonly gateway = "198.18.0.1";
  /** The router's IPv6 address on the stack's link. */
  readonly gateway6 = "fd00::1";
  /** Runs commands on the far host. */
  readonly far: CommandRunner;

  /** Use {@link createRoutedPair}. */
  constructor(pair: VethPair, farNs: string) {
    this.pair = pair;
    this.farNs = farNs;
    this.far = { run: (cmd, opts) => runCommand(["ip", "netns", "exec", farNs, ...cmd], opts) };
  }
}

/**
 * Make a {@link RoutedPair}; `destroy()` of its `pair` deletes all three namespaces.
 *
 * @example
 * ```ts
 * const net = await createRoutedPair({ farMtu: 1280 });
 * try {
 *   await net.far.run(["ping", "-c", "1", "198.18.0.1"]);
 * } finally {
 *   await net.pair.destroy();
 * }
 * ```
 */
export async function createRoutedPair(opts: RoutedPairOptions): Promise<RoutedPair> {
  const pair = await createVethPair({ mtu: 1500 });
  try {
    const router = pair.peerNs;
    const far = `${pair.stackNs.slice(0, -2)}-f`;
    pair.extraNs.push(far);
    await addNamespace(far);
    await ip([
      "link",
      "add",
      "kr1",
      "netns",
      router,
      "type",
      "veth",
      "peer",
      "name",
      "kf0",
      "netns",
      far,
    ]);
    await ip(["-n", router, "link", "set", "kr1", "mtu", String(opts.farMtu), "up"]);
    await ip(["-n", router, "addr", "add", "198.18.1.1/24", "dev", "kr1"]);
    await ip(["-n", router, "addr", "add", "fd00:1::1/64", "dev", "kr1", "nodad"]);
    await mustRun([
      "ip",
      "netns",
      "exec",
      router,
      "sysctl",
      "-qw",
      "net.ipv4.ip_forward=1",
      "net.ipv6.conf.all.forwarding=1",
    ]);
    await ip(["-n", far, "link", "set", "lo", "up"]);
    await ip(["-n", far, "link", "set", "kf0", "mtu", "1500", "up"]);
    await ip(["-n", far, "addr", "add", "198.18.1.2/24", "dev", "kf0"]);
    await ip(["-n", far, "addr", "add", "fd00:1::2/64", "dev", "kf0", "nodad"]);
    await ip(["-n", far, "route", "add", "default", "via", "198.18.1.1"]);
    await ip(["-n", far, "-6", "route", "add", "default", "via", "fd00:1::1"]);
    return new RoutedPair(pair, far);
  } catch (e) {
    await pair.destroy();
    throw e;
  }
}

/**
 * Create a {@link RoutedPair}, run `fn` with it, and delete its namespaces whatever happens.
 *
 * @example
 * ```ts
 * await withRoutedPair({ farMtu: 1280 }, async (net) => {
 *   await net.far.run(["ping", "-c", "1", net.gateway]);
 * });
 * ```
 */
export async function withRoutedPair<T>(
  opts: RoutedPairOptions,
  fn: (net: RoutedPair) => T | Promise<T>,
): Promise<T> {
  const net = await createRoutedPair(opts);
  try {
    return await fn(net);
  } finally {
    await net.pair.destroy();
  }
}

/**
 * Run a command to completion with a timeout; never throws for a non-zero exit.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runCommand(["ip", "netns", "list"]);
 * ```
 */
export async function runCommand(cmd: string[], opts: RunOptions = {}): Promise<CommandResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  }).spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const timer = setTimeout(() => killQuietly(child), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `"aa:bb:cc:dd:ee:ff"` → 6 bytes.
 *
 * @example
 * ```ts
 * parseMac("02:00:00:00:00:01");
 * ```
 */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6) throw new RangeError(`not a MAC address: "${text}"`);
  return Uint8Array.from(parts, (p) => {
    const v = parseInt(p, 16);
    if (!(v >= 0 && v <= 255)) throw new RangeError(`not a MAC address: "${text}"`);
    return v;
  });
}

/**
 * 6 bytes → `"aa:bb:cc:dd:ee:ff"`.
 *
 * @example
 * ```ts
 * formatMac(pair.stackMac);
 * ```
 */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Run `cmd`, throwing with its stderr when it fails. */
async function mustRun(cmd: string[]): Promise<string> {
  const r = await runCommand(cmd, { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** `ip netns add ns`, the watchdog told first. */
async function addNamespace(ns: string): Promise<void> {
  await claimNamespace(ns);
  await ip(["netns", "add", ns]);
}

/** `ip ARGS`, throwing on failure. */
function ip(args: string[]): Promise<string> {
  return mustRun(["ip", ...args]);
}

/** The JSON `ip -j link show` record of `ifname` in `ns`. */
async function linkRecord(ns: string, ifname: string, stats: boolean): Promise<any> {
  const args = ["-n", ns, "-j", ...(stats ? ["-s"] : []), "link", "show", "dev", ifname];
  const records = JSON.parse(await ip(args));
  if (!Array.isArray(records) || records.length !== 1) {
    throw new Error(`ip ${args.join(" ")}: unexpected output`);
  }
  return records[0];
}

/** MAC address text of `ifname` in `ns`. */
async function linkAddress(ns: string, ifname: string): Promise<string> {
  return String((await linkRecord(ns, ifname, false)).address);
}

/** Counters of `ifname` in `ns`. */
async function linkCounters(ns: string, ifname: string): Promise<LinkCounters> {
  const s = (await linkRecord(ns, ifname, true)).stats64;
  return {
    rxPackets: Number(s.rx.packets),
    rxBytes: Number(s.rx.bytes),
    rxDropped: Number(s.rx.dropped),
    txPackets: Number(s.tx.packets),
    txBytes: Number(s.tx.bytes),
    txDropped: Number(s.tx.dropped),
  };
}

/**
 * Send SIGTERM to a child (ignoring "already exited") and wait for it to exit.
 *
 * @example
 * ```ts
 * const status = await terminate(pair.spawn(["socat", "UDP-RECV:9", "-"]));
 * ```
 */
export async function terminate(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  return await child.status;
}

/** Send SIGKILL to a child we started, ignoring "already exited". */
function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
}

/** Wait for `promise` to settle, but no longer than `ms` (the timer is cleared either way). */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  try {
    await Promise.race([promise.then(() => {}, () => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Add a pair to the registry and make sure exit paths clean up. */
function remember(pair: VethPair): void {
  livePairs.add(pair);
  if (!unloadHookInstalled) {
    unloadHookInstalled = true;
    globalThis.addEventListener("unload", destroyAllSync);
  }
  if (!signalHooksInstalled) {
    signalHooksInstalled = true;
    for (const [sig] of EXIT_SIGNALS) Deno.addSignalListener(sig, onExitSignal[sig]!);
  }
}

/** Drop a pair from the registry; stop listening for signals when none is left. */
function forget(pair: VethPair): void {
  livePairs.delete(pair);
  if (livePairs.size === 0 && signalHooksInstalled) {
    signalHooksInstalled = false;
    for (const [sig] of EXIT_SIGNALS) Deno.removeSignalListener(sig, onExitSignal[sig]!);
  }
}

/** Delete every pair still alive, synchronously. */
function destroyAllSync(): void {
  for (const pair of [...livePairs]) pair.destroySync();
}

/**
 * Ctrl-C, `timeout`, a closed terminal: clean up, then exit with 128 + the signal's number as
 * a process killed by it would (SIGKILL and crashes are the namespace watchdog's).
 */
const onExitSignal: Partial<Record<Deno.Signal, () => void>> = Object.fromEntries(
  EXIT_SIGNALS.map(([sig, n]) => [sig, () => {
    destroyAllSync();
    Deno.exit(128 + n);
  }]),
);
