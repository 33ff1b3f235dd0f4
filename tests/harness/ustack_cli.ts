/**
 * Run the `ustack` CLI as a child process inside a veth pair's stack namespace, the way users
 * do: wait for its `ready` line, collect its output lines, stop it with SIGTERM.
 *
 * @module
 */

import type { VethPair } from "./netns.ts";
import { runCommand } from "./netns.ts";

/** Absolute path of cli/ustack.ts. */
export const CLI_PATH = new URL("../../cli/ustack.ts", import.meta.url).pathname;

/**
 * The deno command line that runs the CLI, with `--allow-ffi --allow-write --allow-read` and
 * `flags` (e.g. `--allow-net`, which `serve --control`, `stats` and `ss` need for their Unix
 * socket). `cli` is another checkout's `cli/ustack.ts` (an A/B's base).
 */
export function cliCommand(args: string[], flags: string[] = [], cli: string = CLI_PATH): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-write",
    "--allow-read",
    ...flags,
    cli,
    ...args,
  ];
}

/** A running `ustack serve` (or any long-running command). */
export class CliProcess {
  /** Every stdout line so far. */
  readonly lines: string[] = [];
  /** Every stderr line so far. */
  readonly errors: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];
  #waiters: (() => void)[] = [];

  /** Wrap a spawned child with piped stdout/stderr. */
  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#pumps = [this.#pump(child.stdout, this.lines), this.#pump(child.stderr, this.errors)];
  }

  /** The process id (`ip netns exec` execs, so it is the CLI's own). */
  get pid(): number {
    return this.#child.pid;
  }

  async #pump(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += dec.decode(chunk, { stream: true });
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        into.push(rest.slice(0, i));
        rest = rest.slice(i + 1);
      }
      for (const w of this.#waiters.splice(0)) w();
    }
    if (rest !== "") into.push(rest);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolve with the first stdout line matching `re` (throws after `timeoutMs` or on exit). */
  async waitForLine(re: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    let exited = false;
    this.#child.status.then(() => (exited = true));
    for (;;) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (exited || performance.now() > deadline) {
        throw new Error(
          `no line matching ${re} (${exited ? "process exited" : "timeout"})\nstdout:\n` +
            this.lines.join("\n") + "\nstderr:\n" + this.errors.join("\n"),
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Write `text` to the process's stdin (spawned with `stdin: "piped"`). */
  async send(text: string): Promise<void> {
    const w = this.#child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(text));
    } finally {
      w.releaseLock();
    }
  }

  /** Send SIGTERM and wait for exit; returns the exit code. */
  async stop(): Promise<number> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await this.#child.status;
    await Promise.all(this.#pumps);
    return status.code;
  }

  /** Wait for the process to exit by itself. */
  async exited(): Promise<number> {
    const status = await this.#child.status;
    await Promise.all(this.#pumps);
    return status.code;
  }

  /** The parsed `{"event":"stats",…}` line (needs --json), or undefined. */
  statsEvent(): Record<string, Record<string, number>> | undefined {
    for (const l of this.lines) {
      if (l.startsWith('{"event":"stats"')) return JSON.parse(l);
    }
    return undefined;
  }
}

/** Start the CLI with `args` (and deno `flags`) in the pair's stack namespace. */
export function spawnCli(pair: VethPair, args: string[], flags: string[] = []): CliProcess {
  return new CliProcess(
    pair.spawnInStackNs(cliCommand(args, flags), { stdout: "piped", stderr: "piped" }),
  );
}

/** Start `ustack serve` on the pair's stack end and wait for its ready line. */
export async function startServe(
  pair: VethPair,
  extra: string[] = [],
  flags: string[] = [],
): Promise<CliProcess> {
  const p = spawnCli(pair, [
    "serve",
    "--if",
    pair.stackIf,
    "--addr",
    `${pair.stackAddr}/${pair.prefixLen}`,
    ...extra,
  ], flags);
  await p.waitForLine(/^ready |"event":"ready"/);
  return p;
}

/** Run the CLI to completion in the stack namespace. */
export function runCli(pair: VethPair, args: string[], timeoutMs = 60_000) {
  return runCommand(["ip", "netns", "exec", pair.stackNs, ...cliCommand(args)], { timeoutMs });
}
