/**
 * Kernel → stack over TCP in the interop tests: the peer namespace sends zeros with `socat` to
 * a listener of the stack, which reads them to the end.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Runtime } from "../../stack/runtime.ts";
import type { VethPair } from "./netns.ts";

/**
 * `total` zero bytes from the peer's kernel to the stack's port `port` at `to` (IPv4 or IPv6;
 * default the pair's IPv4 address) (`socat`); resolves to the bytes the stack read before the
 * peer's FIN. Asserts that `socat` exited cleanly.
 */
export async function uploadFromPeer(
  pair: VethPair,
  rt: Runtime,
  port: number,
  total: number,
  to: string = pair.stackAddr,
): Promise<number> {
  const server = rt.listen({ port });
  const target = to.includes(":") ? `TCP6:[${to}]` : `TCP:${to}`;
  const upload = pair.run([
    "sh",
    "-c",
    `head -c ${total} /dev/zero | socat -u - ${target}:${port}`,
  ]);
  const conn = await server.accept();
  const buf = new Uint8Array(65_536);
  let got = 0;
  for (let n; (n = await conn.read(buf)) !== null;) got += n;
  conn.close();
  server.close();
  const up = await upload;
  assert.equal(up.code, 0, up.stderr);
  return got;
}
