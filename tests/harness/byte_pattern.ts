/**
 * The `/bytes/N` body of `serve --http` (byte i is i % 251) checked from the kernel side:
 * its SHA-256 computed there independently of the stack, and the SHA-256 of what `curl`
 * downloads.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Runtime } from "../../stack/runtime.ts";
import type { TcpConn } from "../../stack/tcp_conn.ts";
import type { CommandRunner } from "./netns.ts";

/** SHA-256 of the first `n` bytes of the pattern, computed by the kernel side's Python. */
export async function expectedPatternSha(pair: CommandRunner, n: number): Promise<string> {
  const py = `import sys,hashlib;p=bytes(i%251 for i in range(251*4096));h=hashlib.sha256()\n` +
    `n=${n}\nwhile n>0:\n k=min(n,len(p));h.update(p[:k]);n-=k\nprint(h.hexdigest())`;
  const r = await pair.run(["python3", "-c", py]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/**
 * SHA-256 of what `curl` downloads from `url` on the peer (`-g`: IPv6 literals in brackets
 * and `%25` zones are taken as written).
 */
export async function curlSha(pair: CommandRunner, url: string, timeoutS = 60): Promise<string> {
  const r = await pair.run([
    "sh",
    "-c",
    `curl -sS --fail -g -m ${timeoutS} '${url}' | sha256sum`,
  ], { timeoutMs: (timeoutS + 10) * 1000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split(" ")[0];
}

/** Byte `i` of the stream {@link sendStreamFromPeer} sends: `(i * 7 + (i >> 11)) & 255`. */
export function streamByte(i: number): number {
  return ((i * 7) + (i >> 11)) & 255;
}

/** A kernel client: connect to argv[1]:argv[2] and send argv[3] bytes of {@link streamByte}. */
const STREAM_SENDER = `
import socket, sys
n = int(sys.argv[3])
data = bytes(((i * 7) + (i >> 11)) & 255 for i in range(n))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(data)
s.close()
`;

/** The peer's kernel connects to `addr`:`port` and sends `size` bytes of {@link streamByte}. */
export function sendStreamFromPeer(
  pair: CommandRunner,
  addr: string,
  port: number,
  size: number,
): ReturnType<CommandRunner["run"]> {
  return pair.run(["python3", "-c", STREAM_SENDER, addr, `${port}`, `${size}`]);
}

/** The index of the first of `got[0, size)` that is not {@link streamByte}, or -1. */
export function firstWrongStreamByte(got: Uint8Array, size: number): number {
  for (let i = 0; i < size; i++) if (got[i] !== streamByte(i)) return i;
  return -1;
}

/**
 * Read `conn` with `readPosted` into `got` until the peer's FIN, waiting while nothing is there
 * (bounded: 1,000,000 reads or waits); returns the bytes read. Fails if more than
 * `got.length - 1` arrive (size `got` one byte over what the peer sends).
 */
export async function readPostedToEnd(conn: TcpConn, got: Uint8Array): Promise<number> {
  let n = 0;
  for (let waits = 0; waits < 1_000_000; waits++) {
    const r = conn.readPosted(got, n, got.length - n);
    if (r === 0) break;
    if (r < 0) await conn.waitReadable();
    else n += r;
    assert.ok(n < got.length, "no more than was sent");
  }
  return n;
}

/**
 * The peer's kernel sends `size` bytes of {@link streamByte} to `rt`'s listener on `addr`:`port`
 * ({@link sendStreamFromPeer}); every byte is read and checked: exactly `size`, in order.
 */
export async function receiveStreamFromPeer(
  rt: Runtime,
  pair: CommandRunner,
  addr: string,
  port: number,
  size: number,
): Promise<void> {
  const server = rt.listen({ port });
  try {
    const client = sendStreamFromPeer(pair, addr, port, size);
    const conn = await server.accept();
    const got = new Uint8Array(size + 1);
    let n = 0;
    for (;;) {
      const r = await conn.read(got.subarray(n));
      if (r === null) break;
      n += r;
      assert.ok(n <= size, "no more than was sent");
    }
    conn.close();
    const done = await client;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(n, size);
    assert.equal(firstWrongStreamByte(got, size), -1, "first wrong byte");
  } finally {
    server.close();
  }
}
