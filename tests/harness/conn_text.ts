/**
 * Reading a test connection as text: everything until EOF, or until a pattern matches,
 * bounded in time. Bytes become chars one to one (latin1), so binary bodies compare exactly.
 */

import type { TcpConn } from "../../mod.ts";

/** Bytes as text, one char per byte (TextDecoder's "latin1" is windows-1252). */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 4096)));
  }
  return s;
}

/** Read until EOF, or until `until` matches the text so far; bounded by `timeoutMs`. */
export async function readText(
  conn: TcpConn,
  until?: RegExp,
  timeoutMs = 5000,
): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (until?.test(text)) return text;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf),
      new Promise<"t">((r) => timer = setTimeout(() => r("t"), deadline - performance.now())),
    ]);
    clearTimeout(timer);
    if (n === "t" || n === null) return text;
    text += latin1(buf.subarray(0, n));
  }
  return text;
}
