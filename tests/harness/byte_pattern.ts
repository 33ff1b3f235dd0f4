/**
 * The `/bytes/N` body of `serve --http` (byte i is i % 251) checked from the kernel side:
 * its SHA-256 computed there independently of the stack, and the SHA-256 of what `curl`
 * downloads.
 *
 * @module
 */

import assert from "node:assert/strict";
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
