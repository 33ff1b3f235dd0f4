/**
 * `bench/flood_syn_cost.ts`: what one spoofed SYN of a flood costs the stack, without the
 * kernel. A {@link Stack} on an in-memory link is handed Linux-like SYN frames (MSS, SACK,
 * timestamps, window scale; checksums to verify) from `--sources` addresses that answer ARP,
 * round robin over 65,536 four-tuples as `bench/syn_flood.ts` sends them, at `--rate` SYNs
 * per second (paced on the real clock), at most 64 per tick, to a listener whose syncache is
 * full: each SYN is a rate-limited drop or a SYN cookie (`synCookieSourceRate`), as in
 * `bench/flood.ts`. Prints the time per SYN in the stack's ticks (`tick_ns_per_syn`: receive,
 * TCP, SYN-ACKs, transmit; wall time around the ticks, so preemption on a loaded machine
 * counts) and the process's CPU time per SYN (`cpu_ns_per_syn`: with the pacing's timers and
 * the runtime's threads; `--rate 0` hands the SYNs as fast as the stack takes them, without
 * pacing — nearly all are then refused by the per-source limit), the counters, and then — one more run under V8's sampling heap
 * profiler, collected objects included — the bytes allocated per SYN and the sites.
 *
 * ```sh
 * deno run --allow-all bench/flood_syn_cost.ts [--syns 2000000] [--rate 200000] [--sources 200]
 *   [--source-rate N] [--closed] [--ipv6] [--ack] [--cpu-prof FILE]
 * ```
 *
 * `--source-rate` sets `synCookieSourceRate` (cookies per second per source; 0: no limit, so
 * every SYN is answered with a cookie — the cost of the cookie SYN-ACK path alone). `--closed`
 * listens on no port: every SYN is answered with a RST (the cost of the RST path alone).
 * `--ipv6` floods from fd00::a… to fd00::2 (the link answers neighbour solicitations) instead.
 * `--ack` measures forged cookie ACKs instead: after the warm-up's SYNs (the listener has sent
 * cookies, so it checks ACKs for one) the flood is ACKs with timestamps and made-up ACK
 * numbers over the same four-tuples — each a failed cookie check (`cookies_failed`), no reply.
 * `--cpu-prof FILE` runs V8's CPU profiler (50 µs samples) over one more run of `--syns` SYNs
 * after the heap run, writes the profile to FILE and adds the functions' self time per SYN
 * (`cpu_self_ns_per_syn`, the top 16) to the output line.
 *
 * A timing run: take the measurement lock as for any benchmark.
 *
 * @module
 */

import { Session } from "node:inspector";
import { parseArgs } from "node:util";
import process from "node:process";
import { MonotonicClock } from "../core/clock.ts";
import { DriverStats, type LinkDriver, NO_OFFLOADS, type RxBatch } from "../link/driver.ts";
import { ETH_HEADER_BYTES, ETHERTYPE_ARP, writeEthernetHeader } from "../link/ethernet.ts";
import {
  ARP_HEADER_BYTES,
  ARP_REPLY,
  ARP_REQUEST,
  ArpHeader,
  writeArp,
} from "../net/arp_header.ts";
import { parseIpv4 } from "../net/ipv4_address.ts";
import { IpAddress, ipEquals } from "../net/ip_address.ts";
import { internetChecksum, pseudoHeaderSumIp } from "../net/checksum.ts";
import { NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED } from "../net/ndp_header.ts";
import { icmpv6, ipv6Frame, llOption } from "../tests/harness/ipv6_frames.ts";
import { Stack } from "../stack/stack.ts";
import {
  ETH,
  ETHERTYPE_IPV4,
  transportChecksum,
  writeEth,
  writeIpv4,
  writeTcp,
} from "../tests/fuzz/frames.ts";
import {
  type CpuProfile,
  frameWhere,
  type HeapProfileNode,
  inspectorPost,
  selfTimes,
  startHeapSampling,
  stopHeapSampling,
} from "./inspector.ts";

const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 2]);
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);
const OUR_ADDR = parseIpv4("198.18.0.2");
const FIRST_SOURCE = parseIpv4("198.18.0.10");
const OUR_ADDR6 = IpAddress.parse("fd00::2");
/** The IPv6 sources: fd00::a and up. */
const FIRST_SOURCE6 = IpAddress.parse("fd00::a");
const PORT = 80;
const TUPLES = 65536;
/** Linux's SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
const SYN_OPTIONS = new Uint8Array([2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
/** Linux's ACK options: NOP, NOP, timestamps (TSval 2**31 + 1, TSecr 1). */
const ACK_OPTIONS = new Uint8Array([1, 1, 8, 10, 0x80, 0, 0, 1, 0, 0, 0, 1]);

/** The `i`-th IPv6 source, fd00::a + i. */
function source6(i: number): IpAddress {
  return new IpAddress(FIRST_SOURCE6.w0, FIRST_SOURCE6.w1, FIRST_SOURCE6.w2, FIRST_SOURCE6.w3 + i);
}

/** A link that hands out flood frames and answers ARP for the /24; transmits are counted. */
class FloodLink implements LinkDriver {
  readonly name = "flood0";
  readonly kind = "sim";
  readonly mac = OUR_MAC;
  readonly mtu = 1500;
  readonly capabilities = NO_OFFLOADS;
  readonly fd = -1;
  readonly stats = new DriverStats();
  /** SYN frames still to hand out. */
  budget = 0;
  /** Frames transmitted. */
  sent = 0;
  #frames: Uint8Array;
  #next = 0;
  readonly #replies: Uint8Array[] = [];
  readonly #arp = new ArpHeader();

  #frameBytes: number;
  readonly #sources: number;
  readonly #ipv6: boolean;

  constructor(sources: number, ipv6 = false) {
    this.#sources = sources;
    this.#ipv6 = ipv6;
    this.#frameBytes = 0;
    this.#frames = this.#build(false);
  }

  /** From now on the flood is forged cookie ACKs (the same four-tuples) instead of SYNs. */
  useAcks(): void {
    this.#frames = this.#build(true);
    this.#next = 0;
  }

  #build(ack: boolean): Uint8Array {
    const sources = this.#sources;
    const ipv6 = this.#ipv6;
    const options = ack ? ACK_OPTIONS : SYN_OPTIONS;
    const tcpBytes = 20 + options.length;
    const size = this.#frameBytes = ETH + (ipv6 ? 40 : 20) + tcpBytes;
    const frames = new Uint8Array(TUPLES * size);
    for (let i = 0; i < TUPLES; i++) {
      const f = frames.subarray(i * size, (i + 1) * size);
      const seq = Math.imul(i, 0x9e3779b9) >>> 0;
      const tcp = {
        srcPort: 1024 + ((i * 7919) % 64000),
        dstPort: PORT,
        seq: ack ? (seq + 1) >>> 0 : seq,
        ack: ack ? Math.imul(i + 1, 0x85ebca6b) >>> 0 : 0,
        flags: ack ? 0x10 : 0x02,
        window: 64240,
        options,
      };
      if (ipv6) {
        const src = source6(i % sources);
        f.set(
          ipv6Frame({
            srcMac: PEER_MAC,
            dstMac: OUR_MAC,
            src,
            dst: OUR_ADDR6,
            nextHeader: 6,
            payload: new Uint8Array(tcpBytes),
          }),
        );
        writeTcp(f, ETH + 40, tcp);
        const c = internetChecksum(
          f,
          ETH + 40,
          tcpBytes,
          pseudoHeaderSumIp(src, OUR_ADDR6, 6, tcpBytes),
        );
        f[ETH + 40 + 16] = c >>> 8;
        f[ETH + 40 + 17] = c;
        continue;
      }
      writeEth(f, [...OUR_MAC], [...PEER_MAC], ETHERTYPE_IPV4);
      const src = (FIRST_SOURCE + (i % sources)) >>> 0;
      writeIpv4(f, ETH, { src, dst: OUR_ADDR, protocol: 6, payloadLen: tcpBytes, id: i });
      writeTcp(f, ETH + 20, tcp);
      transportChecksum(f, ETH + 20, tcpBytes, 6, src, OUR_ADDR);
    }
    return frames;
  }

  receive(batch: RxBatch, max: number): number {
    let n = 0;
    while (n < max && this.#replies.length > 0) {
      const r = this.#replies.shift()!;
      batch.buf[n] = r;
      batch.off[n] = 0;
      batch.len[n] = r.length;
      batch.flags[n] = 0;
      n++;
    }
    const frames = this.#frames;
    while (n < max && this.budget > 0) {
      batch.buf[n] = frames;
      batch.off[n] = this.#next * this.#frameBytes;
      batch.len[n] = this.#frameBytes;
      batch.flags[n] = 0;
      if (++this.#next === TUPLES) this.#next = 0;
      this.budget--;
      n++;
    }
    batch.count = n;
    return n;
  }

  release(_batch: RxBatch): void {}

  transmit(frame: Uint8Array, off: number, len: number): boolean {
    this.sent++;
    const type = (frame[off + 12] << 8) | frame[off + 13];
    if (type === 0x86dd) {
      // A neighbour solicitation (not our own address's DAD): answered for the target.
      const l3 = off + ETH_HEADER_BYTES;
      if (frame[l3 + 6] !== 58 || frame[l3 + 40] !== 135) return true;
      const target = IpAddress.fromBytes(frame, l3 + 48);
      if (ipEquals(target, OUR_ADDR6)) return true;
      const to = IpAddress.fromBytes(frame, l3 + 8);
      const body = new Uint8Array(24);
      body.set(frame.subarray(l3 + 48, l3 + 64));
      body.set(llOption(2, PEER_MAC), 16);
      const flags = NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE;
      this.#replies.push(ipv6Frame({
        srcMac: PEER_MAC,
        dstMac: OUR_MAC,
        src: target,
        dst: to,
        hopLimit: 255,
        nextHeader: 58,
        payload: icmpv6(target, to, 136, 0, flags, body),
      }));
      return true;
    }
    if (type !== ETHERTYPE_ARP) return true;
    const a = this.#arp.attach(frame, off + ETH_HEADER_BYTES, len - ETH_HEADER_BYTES);
    if (a.check() === null && a.oper === ARP_REQUEST && (a.tpa >>> 8) === (OUR_ADDR >>> 8)) {
      const reply = new Uint8Array(ETH_HEADER_BYTES + ARP_HEADER_BYTES);
      writeEthernetHeader(reply, 0, OUR_MAC, PEER_MAC, ETHERTYPE_ARP);
      writeArp(reply, ETH_HEADER_BYTES, ARP_REPLY, PEER_MAC, a.tpa, OUR_MAC, a.spa);
      this.#replies.push(reply);
    }
    return true;
  }

  flush(): void {}
  close(): void {}
}

/**
 * A stack (on the real clock, as in production) with a full syncache being flooded; `run(n)`
 * hands it `n` SYNs paced at `rate` per second (what is due each millisecond, 64 a tick).
 */
function makeFlood(
  rate: number,
  sources: number,
  sourceRate?: number,
  closed = false,
  ipv6 = false,
) {
  const stack = new Stack({
    clock: new MonotonicClock(),
    tcp: sourceRate === undefined ? undefined : { synCookieSourceRate: sourceRate },
    ipv6: { iface: { addresses: { dadTransmits: 0 } } },
  });
  const link = new FloodLink(sources, ipv6);
  const nic = stack.addNic(link);
  stack.ipv4.addAddress(nic.index, OUR_ADDR, 24);
  if (ipv6) stack.ipv6.addAddress(nic.index, OUR_ADDR6, 64);
  if (!closed) stack.tcp.listen(null, PORT, 128);
  let tickMs = 0;
  return {
    stack,
    link,
    /** Milliseconds spent in the stack's ticks so far (wall time: on a loaded machine, more). */
    tickMs: () => tickMs,
    async run(syns: number): Promise<void> {
      const t0 = performance.now();
      let handed = 0;
      while (handed < syns) {
        // `rate` 0: as fast as the stack takes them (CPU per SYN without the pacing's timers).
        const due = rate <= 0
          ? syns - handed
          : Math.min(syns, Math.floor(((performance.now() - t0) * rate) / 1000)) - handed;
        if (due <= 0) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        link.budget += due;
        handed += due;
        const t1 = performance.now();
        while (link.budget > 0) stack.tick();
        tickMs += performance.now() - t1;
      }
      stack.tick();
    },
  };
}

/** CPU time of this process so far (user + system), µs. */
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Bytes sampled under `node` by allocating site (with its two callers). */
function sites(node: HeapProfileNode, out: Map<string, number>, path: string[] = []): number {
  let total = node.selfSize;
  const here = [...path, frameWhere(node.callFrame)];
  if (node.selfSize > 0) {
    const k = here.slice(-3).reverse().join(" < ");
    out.set(k, (out.get(k) ?? 0) + node.selfSize);
  }
  for (const c of node.children) total += sites(c, out, here);
  return total;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      syns: { type: "string" },
      rate: { type: "string" },
      sources: { type: "string" },
      "source-rate": { type: "string" },
      closed: { type: "boolean" },
      ipv6: { type: "boolean" },
      ack: { type: "boolean" },
      "cpu-prof": { type: "string" },
    },
  });
  const syns = Number(values.syns ?? 2_000_000);
  const rate = Number(values.rate ?? 200_000);
  const sources = Number(values.sources ?? 200);
  const sourceRate = values["source-rate"] === undefined
    ? undefined
    : Number(values["source-rate"]);
  const f = makeFlood(rate, sources, sourceRate, values.closed === true, values.ipv6 === true);
  await f.run(rate > 0 ? rate : 200_000); // warm-up: the syncache fills, the JIT settles
  if (values.ack === true) {
    f.link.useAcks();
    await f.run(rate > 0 ? rate : 200_000); // the ACK path's warm-up
  }
  const st = f.stack.stats.tcp;
  const cookies0 = st.SyncookiesSent, limited0 = st.SyncookiesRateLimited, sent0 = f.link.sent;
  const rsts0 = st.OutRsts, failed0 = st.SyncookiesFailed;
  const arp0 = f.stack.stats.arp.OutRequests + f.stack.stats.icmp6.OutNeighborSolicits;
  const cpu0 = cpuUs(), tick0 = f.tickMs();
  await f.run(syns);
  const cpu = cpuUs() - cpu0, tick = f.tickMs() - tick0;
  const cookies = st.SyncookiesSent - cookies0;
  const limited = st.SyncookiesRateLimited - limited0;
  const framesSent = f.link.sent - sent0;
  const rsts = st.OutRsts - rsts0;
  const failed = st.SyncookiesFailed - failed0;
  const resolutions = f.stack.stats.arp.OutRequests + f.stack.stats.icmp6.OutNeighborSolicits -
    arp0;
  const session = new Session();
  session.connect();
  await startHeapSampling(session, 1024);
  await f.run(syns / 4);
  const head = await stopHeapSampling(session);
  let cpuSelf: [string, number][] | undefined;
  const profFile = values["cpu-prof"];
  if (profFile !== undefined) {
    await inspectorPost(session, "Profiler.enable");
    await inspectorPost(session, "Profiler.setSamplingInterval", { interval: 50 });
    await inspectorPost(session, "Profiler.start");
    await f.run(syns);
    const { profile } = await inspectorPost<{ profile: CpuProfile }>(session, "Profiler.stop");
    await Deno.writeTextFile(profFile, JSON.stringify(profile));
    cpuSelf = [...selfTimes(profile).by].sort((a, b) => b[1] - a[1]).slice(0, 16)
      .map(([k, us]) => [k, Math.round((us * 1000) / syns)]);
  }
  session.disconnect();
  const by = new Map<string, number>();
  const bytes = sites(head, by);
  console.log(JSON.stringify({
    syns,
    rate,
    sources,
    tick_ns_per_syn: (tick * 1e6) / syns,
    cpu_ns_per_syn: (cpu * 1000) / syns,
    cookies_sent: cookies,
    rate_limited: limited,
    rsts_sent: rsts,
    cookies_failed: failed,
    frames_sent: framesSent,
    neighbour_requests: resolutions,
    syncache: f.stack.tcp.syncache.size,
    heap_bytes_per_syn: bytes / (syns / 4),
    top_sites: [...by].sort((a, b) => b[1] - a[1]).slice(0, 8)
      .map(([k, v]) => [k, Math.round(v)]),
    ...(cpuSelf === undefined ? {} : { cpu_self_ns_per_syn: cpuSelf }),
  }));
}
