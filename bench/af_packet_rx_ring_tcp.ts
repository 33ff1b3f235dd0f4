/**
 * The AF_PACKET ring driver with each RX ring version, in one run on one veth pair:
 *
 * - ustack → kernel bulk TCP: the stack writes 128 KB chunks for `--seconds` into a kernel
 *   `socat -u TCP-LISTEN - > /dev/null`, once with socat's default 8 KB reads and once with
 *   1 MB reads (`-b`), since the 8 KB reader alone can close the window at a few Gbit/s;
 * - kernel → ustack bulk TCP (`socat` from `/dev/zero` for `--seconds`);
 * - request/response: 64-byte TCP round trips from the stack to a kernel echo (`socat PIPE`),
 *   and ICMP echo from the kernel peer to the stack (`ping -i 0.005`).
 *
 * A TPACKET_V3 ring hands a block over only when it is full or its retire timer fires, so an
 * ACK or a reply that arrives alone can wait up to a millisecond; a TPACKET_V2 ring hands each
 * frame over at once. One line per case, then a JSON summary.
 *
 * ```
 * deno run --allow-all bench/af_packet_rx_ring_tcp.ts [--seconds 3] [--rounds 1] [--mtu 1500]
 * ```
 *
 * Needs root (namespaces, CAP_NET_RAW), `socat`, `ping` and `timeout`. The namespaces are
 * deleted at the end.
 *
 * @module
 */

import { AfPacketRingDriver, type AfPacketRxRingVersion } from "../drivers/af_packet_ring.ts";
import { Runtime } from "../stack/runtime.ts";
import type { TcpConn } from "../stack/tcp_conn.ts";
import { missingRequirements, waitFor } from "../tests/harness/interop.ts";
import { createVethPair, type VethPair } from "../tests/harness/netns.ts";

/** Bytes per `conn.write()` in the bulk cases. */
const CHUNK_BYTES = 128 * 1024;
/** Bytes per request (and response) in the round-trip case. */
const REQUEST_BYTES = 64;
/** Round trips measured. */
const ROUND_TRIPS = 2000;
/** ICMP echoes sent by the peer. */
const PINGS = 200;
/** Port of the kernel's sink / echo. */
const KERNEL_PORT = 5201;
/** Port of the stack's sink. */
const STACK_PORT = 5202;

/** The cases, in the order they run for each ring. */
type CaseName =
  | "ustack->kernel, 8 KB reads"
  | "ustack->kernel, 1 MB reads"
  | "kernel->ustack"
  | "tcp 64 B round trip"
  | "icmp echo from kernel";

/** One measured case. */
interface CaseResult {
  rxRing: AfPacketRxRingVersion;
  name: CaseName;
  /** Bulk cases: goodput. */
  gbitPerS?: number;
  /** Bulk send: mean of conn.info().srttMs sampled every 100 ms (ms-granular TS samples). */
  srttMs?: number;
  /** Bulk send: the peer's smallest advertised window among those samples (bytes). */
  peerWindowMin?: number;
  /** Round-trip cases: median and 99th percentile, µs. */
  p50Us?: number;
  p99Us?: number;
  retransmits?: number;
  /** CPU time of this process (user + system) per wall-clock second of the case, in %. */
  cpuPercent: number;
  rxDropped: number;
  rxFrames: number;
  txFrames: number;
}

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

/** CPU seconds (user + system) this process has used, from /proc/self/stat. */
function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Wait until the peer namespace has a TCP socket in LISTEN on `port` (not a TIME_WAIT one). */
async function listening(pair: VethPair, port: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const TCP_LISTEN = "0A"; // `st` column of /proc/net/tcp
  await waitFor(async () => {
    const lines = (await pair.run(["cat", "/proc/net/tcp"])).stdout.split("\n");
    return lines.some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1]?.endsWith(hex) && f[3] === TCP_LISTEN;
    });
  }, { what: `a listener on ${port}`, intervalMs: 20 });
}

/** ustack writes to a kernel sink reading `readBytes` at a time, for `seconds`. */
async function bulkSend(
  pair: VethPair,
  rt: Runtime,
  seconds: number,
  readBytes: number,
): Promise<Partial<CaseResult>> {
  const sink = pair.spawn([
    "sh",
    "-c",
    `socat -u -b ${readBytes} TCP-LISTEN:${KERNEL_PORT},reuseaddr - > /dev/null`,
  ]);
  await listening(pair, KERNEL_PORT);
  const conn = await rt.connect({ hostname: pair.peerAddr, port: KERNEL_PORT });
  const chunk = new Uint8Array(CHUNK_BYTES).fill(0x5a);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let srttSum = 0;
  let srttSamples = 0;
  let peerWindowMin = Infinity;
  let lastSample = t0;
  while (performance.now() < end) {
    await conn.write(chunk);
    const now = performance.now();
    if (now - lastSample >= 100) {
      const sample = conn.info();
      srttSum += sample.srttMs;
      peerWindowMin = Math.min(peerWindowMin, sample.sndWnd);
      srttSamples++;
      lastSample = now;
    }
  }
  const info = conn.info();
  const elapsed = (performance.now() - t0) / 1000;
  await conn.closeWrite();
  await sink.status;
  conn.close();
  return {
    gbitPerS: (info.bytesAcked * 8) / elapsed / 1e9,
    srttMs: srttSamples > 0 ? srttSum / srttSamples : info.srttMs,
    peerWindowMin,
    retransmits: info.retransmits,
  };
}

/** The kernel writes to a stack sink for `seconds`. */
async function bulkReceive(
  pair: VethPair,
  rt: Runtime,
  seconds: number,
): Promise<Partial<CaseResult>> {
  const server = rt.listen({ port: STACK_PORT });
  const source = pair.spawn([
    "timeout",
    String(seconds),
    "socat",
    "-u",
    "-b",
    String(CHUNK_BYTES),
    "OPEN:/dev/zero",
    `TCP:${pair.stackAddr}:${STACK_PORT}`,
  ]);
  const conn = await server.accept();
  const buf = new Uint8Array(256 * 1024);
  let got = 0;
  const t0 = performance.now();
  for (let n; (n = await conn.read(buf)) !== null;) got += n;
  const elapsed = (performance.now() - t0) / 1000;
  const retransmits = conn.info().retransmits;
  conn.close();
  server.close();
  await source.status;
  return { gbitPerS: (got * 8) / elapsed / 1e9, retransmits };
}

/** Read exactly `buf.length` bytes. */
async function readFull(conn: TcpConn, buf: Uint8Array): Promise<void> {
  for (let got = 0; got < buf.length;) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error("echo closed early");
    got += n;
  }
}

/** 64-byte request, 64-byte response, ROUND_TRIPS times, against a kernel echo. */
async function roundTrips(pair: VethPair, rt: Runtime): Promise<Partial<CaseResult>> {
  const echo = pair.spawn(["socat", `TCP-LISTEN:${KERNEL_PORT},reuseaddr`, "PIPE"]);
  await listening(pair, KERNEL_PORT);
  const conn = await rt.connect({ hostname: pair.peerAddr, port: KERNEL_PORT });
  const request = new Uint8Array(REQUEST_BYTES).fill(0x61);
  const response = new Uint8Array(REQUEST_BYTES);
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS + 100; i++) {
    const t0 = performance.now();
    await conn.write(request);
    await readFull(conn, response);
    if (i >= 100) times.push((performance.now() - t0) * 1000); // the first 100 warm up
  }
  conn.close();
  try {
    echo.kill("SIGTERM");
  } catch { /* gone */ }
  await echo.status;
  times.sort((a, b) => a - b);
  return { p50Us: percentile(times, 0.5), p99Us: percentile(times, 0.99) };
}

/** ICMP echo from the kernel peer to the stack; per-reply RTTs from ping's output. */
async function icmpEcho(pair: VethPair): Promise<Partial<CaseResult>> {
  const r = await pair.run(["ping", "-c", String(PINGS), "-i", "0.005", "-W", "1", pair.stackAddr]);
  const times = [...r.stdout.matchAll(/time=([0-9.]+) ms/g)].map((m) => Number(m[1]) * 1000)
    .slice(10) // warm-up
    .sort((a, b) => a - b);
  if (times.length === 0) throw new Error(`ping: ${r.stdout} ${r.stderr}`);
  return { p50Us: percentile(times, 0.5), p99Us: percentile(times, 0.99) };
}

async function runCase(
  pair: VethPair,
  rxRing: AfPacketRxRingVersion,
  name: CaseName,
  seconds: number,
): Promise<CaseResult> {
  const driver = AfPacketRingDriver.open({ ifname: pair.stackIf, netns: pair.stackNs, rxRing });
  const rt = await Runtime.start({ linkDriver: driver, addr: `${pair.stackAddr}/24` });
  try {
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    const measured = name === "ustack->kernel, 8 KB reads"
      ? await bulkSend(pair, rt, seconds, 8192)
      : name === "ustack->kernel, 1 MB reads"
      ? await bulkSend(pair, rt, seconds, 1 << 20)
      : name === "kernel->ustack"
      ? await bulkReceive(pair, rt, seconds)
      : name === "tcp 64 B round trip"
      ? await roundTrips(pair, rt)
      : await icmpEcho(pair);
    const cpuPercent = ((cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    return {
      rxRing,
      name,
      ...measured,
      cpuPercent,
      rxDropped: driver.stats.rxDropped,
      rxFrames: driver.stats.rxFrames,
      txFrames: driver.stats.txFrames,
    };
  } finally {
    await rt.stop();
  }
}

function describe(c: CaseResult): string {
  const parts = [`${c.name.padEnd(28)} ${c.rxRing}:`];
  if (c.gbitPerS !== undefined) parts.push(`${c.gbitPerS.toFixed(2)} Gbit/s`);
  if (c.srttMs !== undefined) parts.push(`srtt ${c.srttMs.toFixed(2)} ms`);
  if (c.peerWindowMin !== undefined) parts.push(`peer window min ${c.peerWindowMin} B`);
  if (c.p50Us !== undefined) {
    parts.push(`p50 ${c.p50Us.toFixed(0)} µs, p99 ${c.p99Us!.toFixed(0)} µs`);
  }
  if (c.retransmits !== undefined) parts.push(`retransmits ${c.retransmits}`);
  parts.push(`cpu ${c.cpuPercent.toFixed(0)} %`, `rxDropped ${c.rxDropped}`);
  return parts.join(" ");
}

if (import.meta.main) {
  const missing = missingRequirements(["socat", "ping", "timeout"]);
  if (missing.length > 0) {
    console.error(`needs: ${missing.join(", ")}`);
    Deno.exit(2);
  }
  const seconds = arg("seconds", 3);
  const rounds = arg("rounds", 1);
  const pair = await createVethPair({ mtu: arg("mtu", 1500), ipv6: false });
  const results: CaseResult[] = [];
  const names: CaseName[] = [
    "ustack->kernel, 8 KB reads",
    "ustack->kernel, 1 MB reads",
    "kernel->ustack",
    "tcp 64 B round trip",
    "icmp echo from kernel",
  ];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const name of names) {
        for (const rxRing of ["v3", "v2"] as const) {
          const c = await runCase(pair, rxRing, name, seconds);
          results.push(c);
          console.log(describe(c));
        }
      }
    }
  } finally {
    await pair.destroy();
  }
  console.log(JSON.stringify(results));
}
