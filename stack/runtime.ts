/**
 * `Runtime`: boot a whole stack — driver, NIC, addresses, routes, event loop — from one config
 * object whose names match the CLI flags, and tear all of it down again.
 *
 * @module
 */

import { AfPacketDriver } from "../drivers/af_packet.ts";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import { AfXdpDriver } from "../drivers/af_xdp.ts";
import { LoopbackDriver } from "../drivers/loopback.ts";
import { primeNodeWorkerStart } from "../drivers/node_worker_prime.ts";
import { TapDriver } from "../drivers/tap.ts";
import type { LinkDriver } from "../link/driver.ts";
import { PcapDriver } from "../link/pcap_driver.ts";
import { PcapWriter } from "../link/pcap_writer.ts";
import { finishPartialChecksum, finishPartialChecksumIpFrame } from "../net/checksum.ts";
import { formatIpv4 } from "../net/ipv4_address.ts";
import { type IpAddr, isMulticast, parseIpCidr, tryParseIp } from "../net/ip_address.ts";
import { NetRoute } from "../net/network_layer.ts";
import type {
  Ipv6AddressOrigin,
  Ipv6AddressState,
  Ipv6InterfaceAddress,
} from "../net/ipv6_addresses.ts";
import { StackError } from "../core/errors.ts";
import {
  CONGESTION_CONTROL_NAMES,
  isCongestionControlName,
} from "../transport/tcp/congestion/mod.ts";
import { EventLoop } from "./event_loop.ts";
import { followKernelRxDrop } from "./kernel_rx_follow.ts";
import type { Nic } from "./nic.ts";
import { SocketTable } from "./socket.ts";
import { type HostsMap, resolveHost } from "./host_address.ts";
import { HttpClient, type HttpClientOptions } from "./http/client.ts";
import { HttpServer, type ServeHandler, type ServeOptions } from "./http/server.ts";
import { TcpConn, TcpServer } from "./tcp_conn.ts";
import { Stack, type StackOptions } from "./stack.ts";
import { RuntimeWorkers, type RuntimeWorkersConfig } from "./workers.ts";
import type { DriverName, RuntimeConfig } from "./runtime_config.ts";

export type { DriverName, RuntimeConfig };

/** An IPv6 address change as {@link Runtime.onAddressChange} reports it. */
export type AddressChangeListener = (
  addr: string,
  origin: Ipv6AddressOrigin,
  state: Ipv6AddressState | "removed",
) => void;

type AddressChange = [string, Ipv6AddressOrigin, Ipv6AddressState | "removed"];

/** Address changes a runtime keeps for listeners added later. */
const MAX_KEPT_ADDRESS_CHANGES = 64;
/** How long {@link Runtime.stop} waits, by default, for closed connections' FINs to be acknowledged. */
const DEFAULT_STOP_LINGER_MS = 2000;

function invalid(message: string): StackError {
  return new StackError("EINVAL", message);
}

/**
 * A running stack.
 *
 * @example
 * ```ts ignore
 * await using rt = await Runtime.start({ if: "veth0", addr: "198.18.0.2/24" });
 * console.log(rt.nic.macString);
 * ```
 */
export class Runtime {
  /** The stack. */
  readonly stack: Stack;
  /** Its (single) NIC. */
  readonly nic: Nic;
  /** The loop driving it. */
  readonly loop: EventLoop;
  /** Addresses as configured (CIDR strings). */
  readonly addrs: readonly string[];
  /** The BSD-style socket API of this stack. */
  readonly sockets: SocketTable;
  /** Names resolved by `fetch` and the node-style sockets (see {@link RuntimeConfig.hosts}). */
  readonly hosts: HostsMap | undefined;
  readonly #done: Promise<void>;
  readonly #route = new NetRoute();
  readonly #addressChanges: AddressChange[] = [];
  readonly #addressListeners: AddressChangeListener[] = [];
  readonly #httpOptions: HttpClientOptions;
  #http: HttpClient | null = null;
  #stopped = false;

  private constructor(
    stack: Stack,
    nic: Nic,
    loop: EventLoop,
    addrs: string[],
    config: RuntimeConfig,
  ) {
    // Before any hot code (the first Runtime of a process is made before its warm-up's
    // traffic): what the first node Worker's start would drop later — the af_packet TX kicker,
    // started by the first bulk batch — is dropped now, while nothing is optimised yet.
    primeNodeWorkerStart();
    this.hosts = config.hosts;
    this.#httpOptions = { ...config.http, hosts: config.hosts };
    this.stack = stack;
    this.nic = nic;
    this.loop = loop;
    this.addrs = addrs;
    this.sockets = new SocketTable(stack);
    // Address changes from the first tick on are kept (the loop starts ticking before the
    // caller gets the runtime), so a listener added later still hears every one of them.
    stack.ipv6.addAddressListener((a: Ipv6InterfaceAddress, event) => {
      if (a.nicIndex !== this.nic.index) return;
      const change: AddressChange = [`${a}`, a.origin, event];
      if (this.#addressChanges.length < MAX_KEPT_ADDRESS_CHANGES) this.#addressChanges.push(change);
      for (const l of this.#addressListeners) l(...change);
    });
    this.#done = loop.run();
  }

  /**
   * Build and start a stack from `config` — or, with `config.workers`, N stacks in workers
   * ({@link RuntimeWorkers}). Throws StackError (EINVAL) or SyscallError.
   */
  static start(config: RuntimeWorkersConfig): Promise<RuntimeWorkers>;
  /** Build and start a stack from `config`. Throws StackError (EINVAL) or SyscallError. */
  static start(config: RuntimeConfig): Promise<Runtime>;
  static start(config: RuntimeConfig | RuntimeWorkersConfig): Promise<Runtime | RuntimeWorkers> {
    if ("workers" in config && config.workers !== undefined) return RuntimeWorkers.start(config);
    return Promise.resolve(Runtime.#startOne(config));
  }

  static #startOne(config: RuntimeConfig): Runtime {
    const addrs = config.addr === undefined
      ? []
      : Array.isArray(config.addr)
      ? config.addr
      : [config.addr];
    const parsed = addrs.map((a) => {
      try {
        return parseIpCidr(a);
      } catch {
        throw invalid(`--addr ${a}: not a CIDR like 198.18.0.2/24 or fd00:5::2/64`);
      }
    });
    const gws = (config.gw === undefined ? [] : Array.isArray(config.gw) ? config.gw : [config.gw])
      .map((g) => {
        const a = tryParseIp(g);
        if (a === null) throw invalid(`--gw ${g}: not an IPv4 or IPv6 address`);
        return a;
      });
    if (config.mtu !== undefined && !(Number.isInteger(config.mtu) && config.mtu >= 68)) {
      throw invalid(`--mtu ${config.mtu}: must be an integer >= 68`);
    }
    if (config.cc !== undefined && !isCongestionControlName(config.cc)) {
      throw invalid(
        `--cc ${config.cc}: unknown congestion control (${CONGESTION_CONTROL_NAMES.join(", ")})`,
      );
    }
    let driver: LinkDriver;
    // The driver whose kernel RX program follows the stack's addresses (opened here, default).
    let ringDriver: AfPacketRingDriver | null = null;
    if (config.linkDriver !== undefined) driver = config.linkDriver;
    else {
      const kind = config.driver ?? "af_packet";
      if (kind === "loopback") {
        driver = new LoopbackDriver({ name: config.if ?? "lo", mtu: config.mtu ?? 65536 });
      } else {
        if (config.if === undefined || config.if === "") throw invalid("--if NAME is required");
        const common = { netns: config.netns, mtu: config.mtu };
        const fanoutGroup = config.fanoutGroup;
        if (fanoutGroup !== undefined && kind !== "af_packet" && kind !== "af_packet_mmsg") {
          throw invalid(`fanoutGroup: only the af_packet drivers join one, not ${kind}`);
        }
        if (kind === "af_packet") {
          ringDriver = AfPacketRingDriver.open({
            ifname: config.if,
            vnetHdr: config.vnetHdr ?? true,
            rxRing: config.rxRing,
            rxSmallSlots: config.rxSmallSlots,
            rxSplit: fanoutGroup !== undefined ? undefined : config.rxSplit,
            rxLargeFrameBytes: config.rxLargeFrameBytes,
            txKick: config.txKick,
            txKickSpinUs: config.txKickSpinUs,
            txKickUringIdleMs: config.txKickUringIdleMs,
            txKickUringCpu: config.txKickUringCpu,
            txFrames: config.txFrames,
            txKickBytes: config.txKickBytes,
            udpFragmentationOffload: config.udpFragmentationOffload,
            kernelRx: config.kernelRx,
            // By default the host kernel is kept off the frames to the stack's own addresses
            // (where a tcx program can be attached; followKernelRxDrop below hands them over,
            // and every later change); `kernelRx: true` keeps it on all.
            kernelRxDropTo: config.kernelRx === undefined ? [] : undefined,
            fanoutGroup,
            ...common,
          });
          driver = ringDriver;
        } else if (kind === "af_packet_mmsg") {
          driver = AfPacketDriver.open({ ifname: config.if, fanoutGroup, ...common });
        } else if (kind === "tap") {
          driver = TapDriver.open({ name: config.if, vnetHdr: config.vnetHdr ?? false, ...common });
        } else if (kind === "af_xdp") {
          driver = AfXdpDriver.open({
            ifname: config.if,
            queue: config.queue,
            zeroCopy: config.zeroCopy,
            ...common,
          });
        } else {throw invalid(
            `--driver ${kind}: unknown driver (af_packet, af_packet_mmsg, af_xdp, tap, loopback)`,
          );}
      }
    }
    if (config.pcap !== undefined) {
      try {
        driver = new PcapDriver(driver, PcapWriter.open(config.pcap), {
          finishChecksums: { tx: finishPartialChecksum, rx: finishPartialChecksumIpFrame },
        });
      } catch (e) {
        driver.close();
        throw e;
      }
    }
    let stack: Stack;
    let nic: Nic;
    try {
      const stackOpts: StackOptions = { ...config.stack };
      if (config.cc !== undefined) {
        stackOpts.tcp = { ...stackOpts.tcp, congestionControl: config.cc };
      }
      if (config.slaac === true) {
        stackOpts.routerDiscovery = { ...stackOpts.routerDiscovery, enabled: true };
      }
      stack = new Stack(stackOpts);
      nic = stack.addNic(driver);
      for (const p of parsed) {
        try {
          if (p.addr.family === 4) stack.ipv4.addAddress(nic.index, p.addr.v4, p.prefixLen);
          else stack.ipv6.addAddress(nic.index, p.addr, p.prefixLen);
        } catch (e) {
          throw invalid(`--addr ${p.addr}/${p.prefixLen}: ${(e as Error).message}`);
        }
      }
      for (const g of gws) {
        try {
          if (g.family === 4) stack.ipv4.setDefaultGateway(g.v4);
          else stack.ipv6.setDefaultRouter(g, nic.index);
        } catch (e) {
          // Off-subnet is the configuration's mistake (EINVAL); anything else (a full routing
          // table) keeps its own code.
          if (e instanceof StackError && e.code !== "ENETUNREACH") throw e;
          throw invalid(`--gw ${g}: not on a subnet of --addr`);
        }
      }
      if (ringDriver !== null && config.kernelRx === undefined) {
        followKernelRxDrop(stack, nic.index, ringDriver);
      }
    } catch (e) {
      driver.close();
      throw e;
    }
    const loop = new EventLoop(stack, config.loop);
    return new Runtime(stack, nic, loop, addrs, config);
  }

  /**
   * Listen for TCP connections on `port` (0 picks one) at `hostname`: by default every
   * address of both families (a dual-stack `::`), `0.0.0.0` every IPv4 address, else one
   * address of either family. Throws StackError EADDRINUSE / EADDRNOTAVAIL / EINVAL.
   */
  listen(opts: { port: number; hostname?: string; backlog?: number }): TcpServer {
    const addr = opts.hostname === undefined ? null : resolveHost(opts.hostname, this.hosts).addr;
    if (!(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535)) {
      throw invalid(`listen: port ${opts.port} must be 0..65535`);
    }
    const l = this.stack.tcp.listen(addr, opts.port, opts.backlog ?? 128);
    this.stack.requestTick();
    return new TcpServer(this.stack, l);
  }

  /**
   * Open a TCP connection to `hostname:port` (an IPv4 or IPv6 address — a link-local one may
   * name its interface, `fe80::1%veth0` — or a name in {@link RuntimeConfig.hosts}); resolves
   * once established. Throws StackError (ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EINVAL for an
   * unknown name, …).
   */
  async connect(opts: { hostname: string; port: number; localPort?: number }): Promise<TcpConn> {
    const dst = resolveHost(opts.hostname, this.hosts).addr;
    if (!(Number.isInteger(opts.port) && opts.port > 0 && opts.port <= 65535)) {
      throw invalid(`connect: port ${opts.port} must be 1..65535`);
    }
    const zoneNic = this.zoneIndex(dst.zone);
    // IPv6 needs a source address that passed duplicate address detection.
    if (dst.family === 6) await this.addressesReady();
    const ep = this.stack.tcp.connect(dst, opts.port, { localPort: opts.localPort, zoneNic });
    this.stack.requestTick();
    const conn = new TcpConn(this.stack, ep);
    try {
      await conn.established();
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }

  /**
   * Serve HTTP/1.1 with a fetch handler, the way `Deno.serve(options, handler)` does: returns
   * the server (`addr`, `finished`, `shutdown()`). Throws StackError EADDRINUSE / EINVAL like
   * {@link listen}.
   *
   * @example
   * ```ts ignore
   * const server = rt.serve({ port: 80 }, () => new Response("hello\n"));
   * await server.finished;
   * ```
   */
  serve(options: ServeOptions, handler: ServeHandler): HttpServer {
    const tcp = this.listen({
      port: options.port,
      hostname: options.hostname,
      backlog: options.backlog ?? 511,
    });
    return new HttpServer(tcp, options, handler);
  }

  /**
   * `fetch` over this stack: HTTP/1.1 to `http:` URLs whose host is a literal IPv4 or IPv6
   * address (`http://[fd00::1]/`) or a name in {@link RuntimeConfig.hosts}, with connection
   * reuse. No TLS or DNS.
   *
   * @example
   * ```ts ignore
   * const res = await rt.fetch("http://198.18.0.1:8000/");
   * console.log(res.status, await res.text());
   * ```
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    this.#http ??= new HttpClient(
      (hostname, port) => this.connect({ hostname, port }),
      this.#httpOptions,
    );
    return this.#http.fetch(input, init);
  }

  /** The first configured IPv4 address as a string, or "" if none. */
  get primaryAddress(): string {
    const a = this.stack.ipv4.primaryAddressOn(this.nic.index);
    if (a !== 0) return formatIpv4(a);
    const v6 = this.usableAddresses().find((x) => x.includes(":"));
    return v6 === undefined ? "" : v6.slice(0, v6.indexOf("/"));
  }

  /**
   * Settles once duplicate address detection has finished for the configured IPv6 addresses
   * and the link-local one (RFC 4862 §5.4: they are tentative until then). Addresses found
   * duplicate are dropped from {@link Runtime.usableAddresses}; the promise still resolves.
   */
  addressesReady(): Promise<void> {
    const list = this.stack.ipv6.iface(this.nic.index).addresses;
    const origins: Ipv6AddressOrigin[] = ["static", "link-local"];
    if (!list.hasTentative(origins)) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      this.stack.ipv6.addAddressListener(() => {
        if (!done && !list.hasTentative(origins)) {
          done = true;
          resolve();
        }
      });
    });
  }

  /**
   * Every usable address as CIDR text: IPv4 ones first, then IPv6 ones (link-local last).
   * Tentative and duplicate addresses are not listed.
   */
  usableAddresses(): string[] {
    const v4 = this.stack.ipv4.addresses().filter((a) => a.nicIndex === this.nic.index)
      .map((a) => `${formatIpv4(a.addr)}/${a.prefixLen}`);
    const v6 = this.stack.ipv6.iface(this.nic.index).addresses.list().filter((a) => a.usable);
    const global = v6.filter((a) => a.origin !== "link-local").map((a) => `${a}`);
    const local = v6.filter((a) => a.origin === "link-local").map((a) => `${a}`);
    return [...v4, ...global, ...local];
  }

  /**
   * Call `listener` on every IPv6 address change: `addr/len`, its origin and its new state
   * (`preferred`, `deprecated`, `duplicate`, `removed`) — first the changes since the runtime
   * started (the first 64), then each new one.
   */
  onAddressChange(listener: AddressChangeListener): void {
    for (const change of this.#addressChanges) listener(...change);
    this.#addressListeners.push(listener);
  }

  /** True when the neighbour that datagrams to `dst` go through has a known MAC (ARP or NDP). */
  nextHopResolved(dst: IpAddr): boolean {
    const r = this.#route;
    if (!this.stack.networks.of(dst).route(dst, r)) return false;
    if (dst.family === 4) {
      return this.stack.ipv4.arp(r.nicIndex).lookup(r.nextHop.w3) !== null || isMulticast(dst);
    }
    return this.stack.ipv6.iface(r.nicIndex).neighbours.lookup(r.nextHop) !== null ||
      isMulticast(dst);
  }

  /**
   * The NIC index a `%zone` names (its interface name, or the index as digits); the runtime's
   * NIC for an empty zone. Throws EINVAL for another interface.
   */
  zoneIndex(zone: string): number {
    if (zone === "" || zone === this.nic.name || zone === String(this.nic.index)) {
      return this.nic.index;
    }
    throw invalid(`%${zone}: no such interface (this stack has ${this.nic.name})`);
  }

  /** Settles when the loop ends. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Stop: close the HTTP server and every socket (a connection with data still to send gets
   * its FIN after that data), wait until every closed connection's FIN is acknowledged — at most
   * `lingerMs` [2000], as the loop keeps running — then stop the loop, flush what is staged and
   * close the driver (and pcap). Without the wait, data an application wrote just before
   * stopping (an echo's last bytes beyond the congestion window) would never leave the process.
   * Idempotent.
   */
  async stop(opts: { lingerMs?: number } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#http?.close();
    if (this.loop.running) {
      this.sockets.closeAll();
      this.stack.tick();
      const tcp = this.stack.tcp;
      const deadline = Date.now() + Math.max(0, opts.lingerMs ?? DEFAULT_STOP_LINGER_MS);
      while (tcp.finPending > 0 && this.loop.running && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    await this.loop.close();
    // One last turn so what the application already sent (staged in the driver, or queued
    // output such as a FIN) leaves before the drivers close.
    this.stack.tick();
    this.sockets.closeAll();
    this.stack.tick();
    this.stack.close();
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
