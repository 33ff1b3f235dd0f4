/**
 * The TCP services of `ustack serve`: echo (until the client half-closes), discard, and a small
 * HTTP/1.1 server (`GET /`, `GET /bytes/N` where byte i is `i % 251`, keep-alive,
 * Content-Length, 400 for malformed requests).
 *
 * @module
 */

import {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  type Runtime,
  StackError,
  type TcpConn,
  type TcpServer,
} from "../mod.ts";
import type { ServeService } from "./service.ts";

/** A running TCP service: its listener and counters. */
export class TcpService implements ServeService {
  /** `kind/PORT`, e.g. `http/80`. */
  readonly name: string;
  /** The listening socket. */
  readonly server: TcpServer;
  /** Connections accepted, failed (reset/aborted), bytes received and sent. */
  readonly stats: Record<string, number> = { Connections: 0, Errors: 0, InBytes: 0, OutBytes: 0 };
  readonly #conns = new Set<TcpConn>();

  /** Listen on `port` and run `handle` for every connection. */
  constructor(
    rt: Runtime,
    kind: string,
    port: number,
    handle: (svc: TcpService, conn: TcpConn) => Promise<void>,
  ) {
    this.name = `${kind}/${port}`;
    const server = rt.listen({ port });
    this.server = server;
    (async () => {
      for await (const conn of server) {
        this.stats.Connections++;
        this.#conns.add(conn);
        handle(this, conn)
          .catch(() => {
            this.stats.Errors++;
            conn.abort();
          })
          .finally(() => {
            conn.close();
            this.#conns.delete(conn);
          });
      }
    })().catch(() => {});
  }

  /** Stop listening and close open connections. */
  close(): void {
    this.server.close();
    for (const c of this.#conns) c.close();
    this.#conns.clear();
  }
}

/**
 * Bytes moved per step by the echo and discard services: one buffer for every connection,
 * filled and emptied in one synchronous step (never across an await), so a crowd of idle
 * connections holds no buffer of its own.
 */
const SHARED_SCRATCH = new Uint8Array(64 * 1024);

/**
 * Echo every byte back until the client half-closes, send what remains, then close. Bytes go
 * from the receive buffer to the send buffer in synchronous steps as far as room allows, and
 * the connection waits for readiness in between.
 */
export function startTcpEcho(rt: Runtime, port: number): TcpService {
  return new TcpService(rt, "tcp-echo", port, async (svc, conn) => {
    const ep = conn.endpoint;
    const buf = SHARED_SCRATCH;
    for (;;) {
      const readable = ep.readableBytes;
      const room = ep.writableBytes;
      if (readable > 0 && room > 0) {
        const n = ep.read(buf, 0, Math.min(readable, room, buf.length));
        ep.write(buf, 0, n);
        svc.stats.InBytes += n;
        svc.stats.OutBytes += n;
        rt.stack.requestTick();
        continue;
      }
      if (readable === 0) {
        // EOF, or the pending error (thrown), or nothing yet.
        if (ep.read(buf, 0, 1) === 0) break;
        await ep.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
      } else {
        await ep.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
        if (ep.error !== null) throw new StackError(ep.takeError()!, "echo");
        if (ep.stateName() === "CLOSED") break;
      }
    }
    await conn.closeWrite();
  });
}

/** Read and drop everything; close our side after the peer's FIN. */
export function startDiscard(rt: Runtime, port: number): TcpService {
  return new TcpService(rt, "discard", port, async (svc, conn) => {
    const ep = conn.endpoint;
    const buf = SHARED_SCRATCH;
    for (;;) {
      const n = ep.read(buf, 0, buf.length);
      if (n > 0) {
        svc.stats.InBytes += n;
        rt.stack.requestTick(); // a window update may be due
        continue;
      }
      if (n === 0) break;
      await ep.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
    }
  });
}

/** 251 is prime, so `i % 251` never lines up with powers of two: a good integrity pattern. */
const PATTERN_PERIOD = 251;
const PATTERN = Uint8Array.from({ length: PATTERN_PERIOD * 256 }, (_, i) => i % PATTERN_PERIOD);
const enc = new TextEncoder();
const dec = new TextDecoder();
/** Largest request head accepted. */
const MAX_HEAD_BYTES = 16 * 1024;

const INDEX_PAGE = enc.encode(
  "<!doctype html><html><head><title>ustack</title></head><body>" +
    "<h1>Hello from ustack</h1><p>This page was served by a user-space TCP/IP stack " +
    'written in TypeScript.</p><p>Try <a href="/bytes/1000">/bytes/N</a>.</p></body></html>\n',
);

interface Request {
  method: string;
  path: string;
  keepAlive: boolean;
  bodyBytes: number;
}

/** Parse a request head (without the final CRLFCRLF); null if malformed. */
export function parseRequestHead(head: string): Request | null {
  const lines = head.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]);
  if (m === null) return null;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0 || /\s/.test(line.slice(0, i))) return null;
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  const connection = (headers.get("connection") ?? "").toLowerCase();
  const keepAlive = m[3] === "1" ? connection !== "close" : connection === "keep-alive";
  const cl = headers.get("content-length");
  let bodyBytes = 0;
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) return null;
    bodyBytes = Number(cl);
  }
  if (headers.has("transfer-encoding")) return null; // chunked request bodies: not supported
  return { method: m[1], path: m[2], keepAlive, bodyBytes };
}

async function writePattern(conn: TcpConn, n: number): Promise<void> {
  let i = 0;
  while (i < n) {
    const start = i % PATTERN_PERIOD;
    const len = Math.min(n - i, PATTERN.length - start);
    await conn.write(PATTERN.subarray(start, start + len));
    i += len;
  }
}

function head(status: string, contentType: string, length: number, keepAlive: boolean): Uint8Array {
  return enc.encode(
    `HTTP/1.1 ${status}\r\nServer: ustack\r\nContent-Type: ${contentType}\r\n` +
      `Content-Length: ${length}\r\nConnection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`,
  );
}

/** HTTP/1.1 with keep-alive and Content-Length. */
export function startHttp(rt: Runtime, port: number): TcpService {
  return new TcpService(rt, "http", port, async (svc, conn) => {
    const buf = new Uint8Array(MAX_HEAD_BYTES);
    let have = 0;
    for (;;) {
      // Read until the end of the request head.
      let end = -1;
      for (;;) {
        end = indexOfCrlfCrlf(buf, have);
        if (end >= 0) break;
        if (have === buf.length) {
          await conn.write(head("431 Request Header Fields Too Large", "text/plain", 0, false));
          return;
        }
        const n = await conn.read(buf.subarray(have));
        if (n === null) return;
        have += n;
        svc.stats.InBytes += n;
      }
      const req = parseRequestHead(dec.decode(buf.subarray(0, end)));
      if (req === null) {
        const body = enc.encode("bad request\n");
        await conn.write(head("400 Bad Request", "text/plain", body.length, false));
        await conn.write(body);
        return;
      }
      // Drop the request body, if any.
      // Keep what follows the head (a body, or pipelined requests) at the front.
      buf.copyWithin(0, end + 4, have);
      have -= end + 4;
      let skip = req.bodyBytes;
      while (skip > 0) {
        if (have > 0) {
          const k = Math.min(have, skip);
          buf.copyWithin(0, k, have);
          have -= k;
          skip -= k;
          continue;
        }
        const n = await conn.read(buf);
        if (n === null) return;
        have = n;
        svc.stats.InBytes += n;
      }
      const isHead = req.method === "HEAD";
      const bytes = /^\/bytes\/(\d{1,12})$/.exec(req.path);
      if (req.method !== "GET" && !isHead) {
        await conn.write(head("405 Method Not Allowed", "text/plain", 0, req.keepAlive));
      } else if (req.path === "/") {
        await conn.write(
          head("200 OK", "text/html; charset=utf-8", INDEX_PAGE.length, req.keepAlive),
        );
        if (!isHead) await conn.write(INDEX_PAGE);
        svc.stats.OutBytes += INDEX_PAGE.length;
      } else if (bytes !== null) {
        const n = Number(bytes[1]);
        await conn.write(head("200 OK", "application/octet-stream", n, req.keepAlive));
        if (!isHead) await writePattern(conn, n);
        svc.stats.OutBytes += n;
      } else {
        const body = enc.encode("not found\n");
        await conn.write(head("404 Not Found", "text/plain", body.length, req.keepAlive));
        if (!isHead) await conn.write(body);
      }
      if (!req.keepAlive) {
        await conn.closeWrite();
        // Let the client close first; drain until its FIN so no RST destroys the tail.
        while ((await conn.read(buf)) !== null) { /* discard */ }
        return;
      }
    }
  });
}

function indexOfCrlfCrlf(buf: Uint8Array, len: number): number {
  for (let i = 0; i + 3 < len; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}
