/**
 * The test runner behind `deno task test`: runs `deno test --allow-all tests/` (extra
 * arguments are passed through; when one of them names a test file or folder, `tests/` is not
 * added), streams its output live, and ends with exactly one summary line:
 *
 * ```
 * tests: 12 passed, 0 failed, 2 skipped
 * ```
 *
 * (`, N skipped` only when tests were ignored). The exit code is deno test's; when its summary
 * cannot be found the runner prints `tests: 0 passed, 1 failed` and exits 1.
 *
 * @module
 */

/** Counts from deno test's final summary line. */
export interface TestSummary {
  /** Tests that passed. */
  passed: number;
  /** Tests that failed. */
  failed: number;
  /** Tests that were ignored. */
  ignored: number;
}

// deno test ends with e.g. `ok | 3 passed (2 steps) | 0 failed | 1 ignored (9ms)` or
// `FAILED | 2 passed | 1 failed (1 step) (1s)`.
const SUMMARY =
  /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(.*)$/;
const IGNORED = /\| (\d+) ignored/;
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Find the last summary line of `deno test` output, or null.
 *
 * @example
 * ```ts
 * parseSummary("ok | 3 passed | 0 failed | 1 ignored (9ms)"); // { passed: 3, failed: 0, ignored: 1 }
 * ```
 */
export function parseSummary(output: string): TestSummary | null {
  const lines = output.replace(ANSI, "").split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = SUMMARY.exec(lines[i].trim());
    if (m === null) continue;
    const ignored = IGNORED.exec(m[3]);
    return {
      passed: Number(m[1]),
      failed: Number(m[2]),
      ignored: ignored ? Number(ignored[1]) : 0,
    };
  }
  return null;
}

/**
 * The runner's final line.
 *
 * @example
 * ```ts
 * formatSummary({ passed: 12, failed: 0, ignored: 2 }); // "tests: 12 passed, 0 failed, 2 skipped"
 * ```
 */
export function formatSummary(s: TestSummary): string {
  const line = `tests: ${s.passed} passed, ${s.failed} failed`;
  return s.ignored > 0 ? `${line}, ${s.ignored} skipped` : line;
}

/** True when `arg` names test files or folders rather than being a flag or a flag's value. */
function isPathArg(arg: string): boolean {
  return !arg.startsWith("-") &&
    (arg.endsWith(".ts") || arg === "tests" || arg.startsWith("tests/"));
}

/** Copy `stream` to `sink` as it arrives, keeping a copy of the text; resolves at its end. */
async function pump(
  stream: ReadableStream<Uint8Array>,
  sink: { writeSync(p: Uint8Array): number },
  keep: string[],
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    let written = 0;
    while (written < chunk.length) written += sink.writeSync(chunk.subarray(written));
    keep.push(decoder.decode(chunk, { stream: true }));
  }
  keep.push(decoder.decode());
}

/** Run deno test; return its exit code and the summary found in its output. */
async function main(args: string[]): Promise<number> {
  const targets = args.some(isPathArg) ? [] : ["tests/"];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", ...targets, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const err: string[] = [];
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout, out),
    pump(child.stderr, Deno.stderr, err),
  ]);
  const summary = parseSummary(out.join("")) ?? parseSummary(err.join(""));
  if (summary === null) {
    console.log("tests: 0 passed, 1 failed");
    return 1;
  }
  console.log(formatSummary(summary));
  return status.code === 0 ? 0 : (status.code || 1);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
