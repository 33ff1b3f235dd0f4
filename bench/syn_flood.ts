/**
 * A spoofed SYN flood for tests and benchmarks: SYNs from many source addresses and ports to
 * one (address, port), written straight onto an interface through the project's AF_PACKET
 * ring driver at a steady rate, cheaper in CPU than any shell tool.
 *
 * The frames are made once (a pool of distinct four-tuples, MSS / SACK / window scale /
 * timestamps options like a Linux SYN) and sent round robin; each SYN gets a fresh ISN and
 * TSval and so a fresh checksum (an incremental update, RFC 1624). Run it in the namespace of
 * the interface's side:
 *
 * ```
 * deno run --allow-ffi --allow-read bench/syn_flood.ts --if kp0 --src-mac 02:.. \
 *   --dst-mac 02:.. --src 198.18.0.100-198.18.0.199 --dst 198.18.0.2 --port 80 \
 *   --rate 200000 --seconds 10
 * ```
 *
 * Prints `{"event":"start","epochMs":T}` as its first SYN goes out (`Date.now()`), and one JSON
 * line at the end: `{"sent":N,"seconds":S,"rate":R,"dropped":D}`.
 *
 * `--period-ms P` floods in the first half of every P ms only (at `--rate` then, so half the
 * SYNs in all): the periods count from the start line's T, so a benchmark can tell which half
 * each of its requests ran in.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AfPacketRingDriver } from "../drivers/af_packet_ring.ts";
import { setsockopt } from "../ffi/syscalls.ts";
import { parseMac } from "../link/ethernet.ts";
import { parseIpv4 } from "../net/ipv4_address.ts";
import {
  ETH,
  ETHERTYPE_IPV4,
  fold,
  put16,
  put32,
  transportChecksum,
  writeEth,
  writeIpv4,
  writeTcp,
} from "../tests/fuzz/frames.ts";

/** Options of a flood. */
export interface SynFloodOptions {
  /** Interface to send on. */
  ifname: string;
  /** Source MAC of the frames (the interface's own, so replies come back to it). */
  srcMac: Uint8Array;
  /** Destination MAC (the target's). */
  dstMac: Uint8Array;
  /** First and last spoofed source address (inclusive, uint32). */
  srcFirst: number;
  /** Last spoofed source address. */
  srcLast: number;
  /** Target address. */
  dst: number;
  /** Target port. */
  port: number;
  /** SYNs per second. */
  rate: number;
  /** How long. */
  seconds: number;
  /** Distinct four-tuples cycled through [65536]. */
  tuples?: number;
  /** Flood in the first half of every period of this many ms only (default: all the time). */
  periodMs?: number;
  /** Called once when the flood starts, with `Date.now()` (the periods count from it). */
  onStart?: (epochMs: number) => void;
}

/** What a flood did. */
export interface SynFloodResult {
  /** SYNs handed to the driver. */
  sent: number;
  /** Seconds it ran. */
  seconds: number;
  /** SYNs per second achieved. */
  rate: number;
  /** SYNs the driver refused (TX ring full). */
  dropped: number;
}

/** Linux's SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
const SYN_OPTIONS = new Uint8Array([
  2,
  4,
  0x05,
  0xb4, // MSS 1460
  4,
  2, // SACK permitted
  8,
  10,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0, // timestamps (TSval filled per SYN)
  1, // NOP
  3,
  3,
  7, // window scale 7
]);
const TCP_HDR = 20 + SYN_OPTIONS.length;
const FRAME = ETH + 20 + TCP_HDR;
/** Offsets in a frame. */
const SEQ_AT = ETH + 20 + 4;
const CSUM_AT = ETH + 20 + 16;
const TSVAL_AT = ETH + 20 + 20 + 8;

/** SOL_SOCKET / SO_ATTACH_FILTER (asm-generic/socket.h). */
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;

/**
 * Attach a classic BPF program that accepts nothing (`ret #0`) to packet socket `fd`: the
 * flooder only sends, and the kernel then skips copying every frame it receives into its ring.
 */
function dropAllIncoming(fd: number): void {
  const insn = new Uint8Array(8); // struct sock_filter { u16 code; u8 jt, jf; u32 k }: ret #0
  new DataView(insn.buffer).setUint16(0, 0x06, true); // BPF_RET | BPF_K
  const prog = new Uint8Array(16); // struct sock_fprog { u16 len; (pad); void *filter }
  const v = new DataView(prog.buffer);
  v.setUint16(0, 1, true);
  v.setBigUint64(
    8,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(insn))),
    true,
  );
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog);
}

/** Run a flood; resolves when it is over. */
export async function synFlood(o: SynFloodOptions): Promise<SynFloodResult> {
  const n = o.tuples ?? 65536;
  const span = o.srcLast - o.srcFirst + 1;
  const frames = new Uint8Array(n * FRAME);
  /** Checksum of each frame with SEQ and TSval zero, unfolded (so one add updates it). */
  const base = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const f = frames.subarray(i * FRAME, (i + 1) * FRAME);
    writeEth(f, [...o.dstMac], [...o.srcMac], ETHERTYPE_IPV4);
    const src = (o.srcFirst + (i % span)) >>> 0;
    writeIpv4(f, ETH, {
      src,
      dst: o.dst,
      protocol: 6,
      payloadLen: TCP_HDR,
      id: i & 0xffff,
    });
    writeTcp(f, ETH + 20, {
      srcPort: 1024 + ((i * 7919) % 64000),
      dstPort: o.port,
      seq: 0,
      ack: 0,
      flags: 0x02,
      window: 64240,
      options: SYN_OPTIONS,
    });
    transportChecksum(f, ETH + 20, TCP_HDR, 6, src, o.dst);
    // The stored checksum is for SEQ = TSval = 0; keep its one's-complement sum.
    base[i] = (~((f[CSUM_AT] << 8) | f[CSUM_AT + 1])) & 0xffff;
  }
  const driver = AfPacketRingDriver.open({
    ifname: o.ifname,
    vnetHdr: false,
    txFrames: 1024,
    rxSplit: false, // one socket: its fd takes the drop-all filter
  });
  dropAllIncoming(driver.fd);
  let sent = 0;
  let dropped = 0;
  const t0 = performance.now();
  o.onStart?.(Date.now());
  const end = t0 + o.seconds * 1000;
  const period = o.periodMs ?? 0;
  let seq = (Math.random() * 2 ** 32) >>> 0;
  try {
    for (let i = 0;;) {
      const now = performance.now();
      if (now >= end) break;
      // Send what the rate allows by now, in batches, then let the event loop breathe.
      const due = Math.floor((onMs(now - t0, period) / 1000) * o.rate) - sent -
        dropped;
      if (due <= 0) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      const batch = due < 4096 ? due : 4096;
      for (let k = 0; k < batch; k++) {
        const at = i * FRAME;
        seq = (seq + 0x9e3779b9) >>> 0;
        const ts = (now * 1000 + k) >>> 0;
        put32(frames, at + SEQ_AT, seq);
        put32(frames, at + TSVAL_AT, ts);
        // RFC 1624: the sum changes by the new words only (they were zero in `base`).
        const sum = base[i] + (seq >>> 16) + (seq & 0xffff) + (ts >>> 16) +
          (ts & 0xffff);
        put16(frames, at + CSUM_AT, ~fold(sum) & 0xffff);
        if (driver.transmit(frames, at, FRAME, null)) sent++;
        else dropped++;
        if (++i === n) i = 0;
      }
      driver.flush();
      await new Promise((r) => setTimeout(r, 0));
    }
  } finally {
    driver.flush();
    driver.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { sent, seconds, rate: sent / seconds, dropped };
}

/**
 * Milliseconds of flooding in the first `elapsed` ms: all of them, or with a `period` the
 * first half of each period.
 */
function onMs(elapsed: number, period: number): number {
  if (period <= 0) return elapsed;
  const half = period / 2;
  const whole = Math.floor(elapsed / period);
  return whole * half + Math.min(elapsed - whole * period, half);
}

/** `a.b.c.d-e.f.g.h` (or one address) as [first, last]. */
function range(s: string): [number, number] {
  const [a, b] = s.split("-");
  const first = parseIpv4(a);
  return [first, b === undefined ? first : parseIpv4(b)];
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      if: { type: "string" },
      "src-mac": { type: "string" },
      "dst-mac": { type: "string" },
      src: { type: "string" },
      dst: { type: "string" },
      port: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
      "period-ms": { type: "string" },
    },
  });
  const [srcFirst, srcLast] = range(values.src ?? "198.18.0.100-198.18.0.199");
  const r = await synFlood({
    ifname: values.if ?? "kp0",
    srcMac: parseMac(values["src-mac"]!),
    dstMac: parseMac(values["dst-mac"]!),
    srcFirst,
    srcLast,
    dst: parseIpv4(values.dst ?? "198.18.0.2"),
    port: Number(values.port ?? 80),
    rate: Number(values.rate ?? 100_000),
    seconds: Number(values.seconds ?? 5),
    periodMs: values["period-ms"] === undefined ? undefined : Number(values["period-ms"]),
    onStart: (epochMs) => console.log(JSON.stringify({ event: "start", epochMs })),
  });
  console.log(JSON.stringify(r));
}
