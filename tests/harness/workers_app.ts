/**
 * The application the stack-per-core tests run in every worker (`workerModule`): an HTTP server
 * (`GET /bytes/N` answers N pattern bytes, `GET /crash` throws an uncaught error in this worker
 * a moment after answering, `GET /worker` answers the worker's number), and, when
 * `data.echo` names a kernel echo server, that many connections opened from the worker, each
 * writing a pattern and checking the echo byte for byte.
 *
 * @module
 */

import {
  AF_INET,
  flowWorker,
  POLLIN,
  type Runtime,
  SOCK_DGRAM,
  type WorkerApp,
  type WorkerContext,
} from "../../mod.ts";
import { httpRoutes } from "../../cli/http_routes.ts";

/** What the tests pass as `workerData`. */
export interface WorkersAppData {
  /** HTTP port every worker listens on. */
  httpPort: number;
  /** Kernel echo server to open connections to. */
  echo?: { host: string; port: number; connections: number; bytes: number };
  /** Kernel UDP echo server to send datagrams to, each from its own connected socket. */
  udpEcho?: { host: string; port: number; sockets: number };
}

/** Send one datagram from a new connected socket and wait (bounded) for its echo. */
async function udpOnce(rt: Runtime, e: NonNullable<WorkersAppData["udpEcho"]>, seed: number) {
  const s = rt.sockets;
  const fd = s.socket(AF_INET, SOCK_DGRAM);
  try {
    s.connect(fd, e.host, e.port);
    const out = pattern(100, seed);
    s.sendto(fd, out);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ready = await Promise.race([
      s.wait(fd, POLLIN),
      new Promise<number>((r) => (timer = setTimeout(() => r(0), 3000))),
    ]);
    clearTimeout(timer);
    const got = new Uint8Array(200);
    const n = ready === 0 ? -1 : s.recvfrom(fd, got).bytes;
    return {
      ok: n === out.length && out.every((v, i) => v === got[i]),
      port: s.getsockname(fd).port,
    };
  } finally {
    s.close(fd);
  }
}

/** Byte i of a connection's payload. */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

async function echoOnce(rt: Runtime, e: NonNullable<WorkersAppData["echo"]>, seed: number) {
  const conn = await rt.connect({ hostname: e.host, port: e.port });
  try {
    const out = pattern(e.bytes, seed);
    await conn.write(out);
    const got = new Uint8Array(e.bytes);
    let have = 0;
    while (have < got.length) {
      const n = await conn.read(got.subarray(have));
      if (n === null) break;
      have += n;
    }
    return {
      ok: have === out.length && got.every((v, i) => v === out[i]),
      port: conn.localAddr.port,
    };
  } finally {
    conn.close();
  }
}

/** Start the app in one worker. */
export default function workersApp(rt: Runtime, ctx: WorkerContext): WorkerApp {
  const data = ctx.data as WorkersAppData;
  const stats = {
    Requests: 0,
    EchoOk: 0,
    EchoFailed: 0,
    EchoPortOther: 0,
    UdpOk: 0,
    UdpFailed: 0,
    UdpPortOther: 0,
  };
  const server = rt.serve({ port: data.httpPort, onListen() {} }, (req) => {
    stats.Requests++;
    const path = new URL(req.url).pathname;
    if (path === "/worker") return new Response(`${ctx.index}`);
    if (path === "/crash") {
      setTimeout(() => {
        throw new Error(`worker ${ctx.index} crashed on request`);
      }, 50);
      return new Response("crashing\n");
    }
    return httpRoutes(req);
  });
  const echo = data.echo;
  if (echo !== undefined) {
    void (async () => {
      await Promise.all(Array.from({ length: echo.connections }, async (_, i) => {
        try {
          const r = await echoOnce(rt, echo, ctx.index * 1000 + i);
          if (r.ok) stats.EchoOk++;
          else stats.EchoFailed++;
          // The port the stack chose must be one the steering sends back to this worker.
          if (flowWorker(r.port, echo.port, ctx.count) !== ctx.index) stats.EchoPortOther++;
        } catch {
          stats.EchoFailed++;
        }
      }));
    })();
  }
  const udp = data.udpEcho;
  if (udp !== undefined) {
    void (async () => {
      await Promise.all(Array.from({ length: udp.sockets }, async (_, i) => {
        try {
          const r = await udpOnce(rt, udp, ctx.index * 1000 + i);
          if (r.ok) stats.UdpOk++;
          else stats.UdpFailed++;
          if (flowWorker(r.port, udp.port, ctx.count) !== ctx.index) stats.UdpPortOther++;
        } catch {
          stats.UdpFailed++;
        }
      }));
    })();
  }
  return {
    counters: () => ({ App: { ...stats } }),
    close: () => server.shutdown(),
  };
}
