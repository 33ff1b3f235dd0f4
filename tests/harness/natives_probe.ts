/**
 * A probe script run in a child `deno` with `--allow-natives-syntax` (V8's `%` functions, such
 * as `%HasFastProperties`, exist only in a process started with it); the probe prints its
 * findings as one JSON line, the last of its output.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Run the probe `file` (a URL or path next to the caller) with `permissions` (read only by
 * default), the probe's own `args` and V8 flags besides `--allow-natives-syntax` (`v8Flags`,
 * e.g. `--expose-gc`), and return its last JSON line.
 */
export async function runNativesProbe(
  file: URL,
  permissions: string[] = ["--allow-read"],
  args: string[] = [],
  v8Flags: string[] = [],
): Promise<Record<string, unknown>> {
  const v8 = ["--allow-natives-syntax", ...v8Flags].join(",");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, `--v8-flags=${v8}`, file.pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const text = new TextDecoder().decode(out.stdout);
  return JSON.parse(text.trim().split("\n").at(-1)!);
}
