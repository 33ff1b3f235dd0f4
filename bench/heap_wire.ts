/**
 * What the real send path allocates per wire packet: a ustack `Runtime` on the stack end of a
 * veth pair (AF_PACKET, TX ring, TSO by default) sends bulk TCP into `socat` on the peer end;
 * after a warm-up it runs under V8's sampling heap profiler (objects collected by scavenges
 * included) and prints the bytes sampled per TCP segment (a TSO super-segment is one), per
 * driver frame and per wire packet (payload bytes ÷ MSS, MSS = MTU − 52 with timestamps, − 72
 * over IPv6), with the top sites by bytes, and per tick of the event loop (with its turns of
 * Deno's event loop).
 * `--receive` measures the receive path instead: the kernel's `socat`
 * sends bulk TCP to the `Runtime`, which reads it with `TcpConn.read` into one 128 KiB buffer
 * (segments and frames are then the received ones; a second line gives the receive ring's read
 * views reused and made, `stats.tcp.RcvReadView*`); with `--consume` it reads with
 * `TcpConn.consume` into that buffer instead (no promise per read: its reads are the callback's
 * calls). The readers that await: `--read-into` (`readInto` until -1, then `waitReadable`),
 * `--readable` (the connection's `readable` stream, `reader.read()`) and `--node` (a
 * `node:net` `Socket` over the connection, its `data` events). `--deno-turn-us N` sets the
 * loop's `denoTurnUs` (how often the loop turns Deno's event loop while spinning, and while
 * busy with every reaction done), `--deno-turn-busy-us N` its `denoTurnBusyUs` (the same while
 * driven without its async function with frames coming). `--ipv6` runs it all over IPv6
 * (fd00::2 and fd00::1) instead of IPv4.
 *
 * ```sh
 * deno run --allow-all bench/heap_wire.ts [--mtu 1500] [--ipv6] [--seconds 5] [--warm 3]
 *     [--receive [--consume | --read-into | --readable | --node]] [--deno-turn-us 50]
 *     [--deno-turn-busy-us 50]
 * ```
 *
 * Makes its own namespaces and veth pair (deleted on exit) and needs root and `socat`. It is a
 * profiling run: take the measurement lock as for any benchmark.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { Runtime } from "../mod.ts";
import { Socket } from "../stack/node_net.ts";
import { withVethPair } from "../tests/harness/netns.ts";
import {
  frameWhere,
  type HeapProfileNode,
  startHeapSampling,
  stopHeapSampling,
} from "./inspector.ts";

const { values } = parseArgs({
  options: {
    mtu: { type: "string", default: "1500" },
    seconds: { type: "string", default: "5" },
    warm: { type: "string", default: "3" },
    receive: { type: "boolean", default: false },
    consume: { type: "boolean", default: false },
    "read-into": { type: "boolean", default: false },
    readable: { type: "boolean", default: false },
    node: { type: "boolean", default: false },
    "deno-turn-us": { type: "string" },
    "deno-turn-busy-us": { type: "string" },
    depth: { type: "string", default: "2" },
    ipv6: { type: "boolean", default: false },
  },
});
/** Frames named per site: the allocating function and its callers (`--depth`). */
const depth = Number(values.depth);
const mtu = Number(values.mtu);
const seconds = Number(values.seconds);
const warmSeconds = Number(values.warm);
const consume = values.consume;
const readInto = values["read-into"];
const readable = values.readable;
const node = values.node;
const receive = values.receive || consume || readInto || readable || node;
/** The reader's name in the result line. */
const readerName = consume
  ? "consume"
  : readInto
  ? "readInto"
  : readable
  ? "readable"
  : node
  ? "node:net"
  : "read";

/** `--ipv6`: the pair's IPv6 addresses, not its IPv4 ones. */
const v6 = values.ipv6;

await withVethPair({ ipv6: v6, mtu }, async (pair) => {
  const stackAddr = v6 ? pair.stackAddr6 : pair.stackAddr;
  const peerAddr = v6 ? pair.peerAddr6 : pair.peerAddr;
  await using rt = await Runtime.start({
    if: pair.stackIf,
    netns: pair.stackNs,
    addr: v6 ? `${stackAddr}/${pair.prefixLen6}` : `${stackAddr}/24`,
    loop: {
      denoTurnUs: values["deno-turn-us"] === undefined ? undefined : Number(values["deno-turn-us"]),
      denoTurnBusyUs: values["deno-turn-busy-us"] === undefined
        ? undefined
        : Number(values["deno-turn-busy-us"]),
    },
  });
  const listener = receive ? rt.listen({ port: 5201 }) : null;
  if (v6) await rt.addressesReady(); // duplicate address detection before the peer connects
  const sink = receive
    ? pair.spawn([
      "socat",
      "-u",
      "OPEN:/dev/zero",
      v6 ? `TCP6:[${stackAddr}]:5201` : `TCP:${stackAddr}:5201`,
    ], {
      stdout: "null",
      stderr: "null",
    })
    : pair.spawn([
      "socat",
      "-u",
      v6 ? "TCP6-LISTEN:5201,reuseaddr" : "TCP-LISTEN:5201,reuseaddr",
      "OPEN:/dev/null",
    ], {
      stdout: "null",
      stderr: "null",
    });
  try {
    let conn;
    if (listener !== null) {
      conn = await listener.accept();
    } else {
      await new Promise((r) => setTimeout(r, 300));
      conn = await rt.connect({ hostname: peerAddr, port: 5201 });
    }
    const chunk = new Uint8Array(128 * 1024);
    // `--consume`: bytes and reads so far (a typed array: a double in a closure's variable
    // would be a new heap number per read, the benchmark's own).
    const consumed = new Float64Array(2);
    const consuming = consume
      ? conn.consume(chunk, (n) => {
        consumed[0] += n;
        consumed[1]++;
      })
      : null;
    // `--node`: the `data` events of a node:net socket over the connection, counted as reads.
    const socket = node ? new Socket({ runtime: rt }, conn) : null;
    if (socket !== null) {
      socket.on("data", (b: Uint8Array) => {
        consumed[0] += b.length;
        consumed[1]++;
      });
    }
    // The readers that await (`read`, `--read-into`, `--readable`): the application's own
    // loop, one async function for the stream's life (no call per read), counted as above.
    let reading = receive && !consume && !node;
    const readLoop = async (): Promise<void> => {
      const reader = readable ? conn.readable.getReader() : null;
      while (reading) {
        let n: number;
        if (reader !== null) {
          const r = await reader.read();
          if (r.done) break;
          n = r.value.length;
        } else if (readInto) {
          n = conn.readInto(chunk, 0, chunk.length);
          if (n < 0) {
            await conn.waitReadable();
            continue;
          }
          if (n === 0) break;
        } else {
          const r = await conn.read(chunk);
          if (r === null) break;
          n = r;
        }
        consumed[0] += n;
        consumed[1]++;
      }
    };
    const reads = reading ? readLoop().catch(() => {}) : null;
    const byEvents = receive;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The send workload: 128 KiB writes, awaited in this function's loops as `uperf client`
    // does (an async function per write would be the benchmark's own allocation).
    let t0 = performance.now();
    if (byEvents) await sleep(warmSeconds * 1000);
    else while (performance.now() - t0 < warmSeconds * 1000) await conn.write(chunk);
    const tcp = rt.stack.stats.tcp;
    const drv = rt.nic.driver.stats;
    const segs0 = receive ? tcp.InSegs : tcp.OutSegs;
    const frames0 = receive ? drv.rxFrames : drv.txFrames;
    const loopStats = rt.loop.stats;
    const ticks0 = loopStats.ticks;
    const readHits0 = tcp.RcvReadViewHits;
    const readMisses0 = tcp.RcvReadViewMisses;
    const viewNames = ["RcvCopyView", "SndCopyView", "RcvReadView"];
    const views0 = viewNames.map((n) => [
      tcp[`${n}Hits`],
      tcp[`${n}Misses`],
      tcp[`${n}Replaced`],
    ]);
    const turns0 = loopStats.yields;
    let bytes = 0;
    let steps = 0;
    const s = new Session();
    s.connect();
    await startHeapSampling(s, 256);
    t0 = performance.now();
    const bytes0 = consumed[0];
    const reads0 = consumed[1];
    if (byEvents) await sleep(seconds * 1000);
    else {
      while (performance.now() - t0 < seconds * 1000) {
        bytes += await conn.write(chunk);
        steps++;
      }
    }
    const head = await stopHeapSampling(s);
    if (byEvents) {
      bytes = consumed[0] - bytes0;
      steps = consumed[1] - reads0;
    }
    const ticks = loopStats.ticks - ticks0;
    const turns = loopStats.yields - turns0;
    const segs = (receive ? tcp.InSegs : tcp.OutSegs) - segs0;
    const frames = (receive ? drv.rxFrames : drv.txFrames) - frames0;
    const wire = Math.round(bytes / (mtu - (v6 ? 72 : 52)));
    const by = new Map<string, number>();
    let total = 0;
    const path: HeapProfileNode[] = [];
    const walk = (n: HeapProfileNode): void => {
      path.push(n);
      if (n.selfSize > 0) {
        total += n.selfSize;
        const k = path.slice(-depth).reverse().map((f) => frameWhere(f.callFrame)).join("  < ");
        by.set(k, (by.get(k) ?? 0) + n.selfSize);
      }
      for (const c of n.children) walk(c);
      path.pop();
    };
    walk(head);
    console.log(
      `${
        receive ? (readerName === "read" ? "receive" : `receive (${readerName})`) : "send"
      }, MTU ${mtu}${v6 ? ", IPv6" : ""}: ${
        (bytes * 8 / seconds / 1e9).toFixed(2)
      } Gbit/s, ${segs} TCP segments, ` +
        `${frames} frames, ~${wire} wire packets; sampled ${total} B: ` +
        `${(total / segs).toFixed(1)} B per segment, ${(total / frames).toFixed(1)} per frame, ` +
        `${(total / wire).toFixed(2)} per wire packet; ${steps} ${receive ? "reads" : "writes"}, ` +
        `${(total / steps).toFixed(0)} B each; ${ticks} ticks, ${
          (total / ticks).toFixed(1)
        } B each; ${turns} turns of Deno's event loop`,
    );
    if (receive) {
      console.log(
        `receive-ring read views: ${tcp.RcvReadViewHits - readHits0} reused, ` +
          `${tcp.RcvReadViewMisses - readMisses0} made`,
      );
    }
    console.log(
      "views (reused/made, of those made how many replaced a view the table held): " +
        viewNames.map((n, i) =>
          `${n} ${tcp[`${n}Hits`] - views0[i][0]}/${tcp[`${n}Misses`] - views0[i][1]} (${
            tcp[`${n}Replaced`] - views0[i][2]
          } replacing one held)`
        ).join(", "),
    );
    for (const [k, b] of [...by.entries()].sort((x, y) => y[1] - x[1]).slice(0, 25)) {
      console.log(`${(b / wire).toFixed(3).padStart(9)} B/wire packet  ${k}`);
    }
    reading = false;
    socket?.destroy();
    conn.close();
    if (reads !== null) await reads;
    if (consuming !== null) await consuming.catch(() => {});
  } finally {
    listener?.close();
    try {
      sink.kill();
    } catch { /* gone */ }
    await sink.status;
  }
});
Deno.exit(0);
