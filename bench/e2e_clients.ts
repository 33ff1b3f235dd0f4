/**
 * The many-clients rows of `bench:e2e` (`bench/e2e.ts` wires them into its three columns):
 *
 * - **HTTP, a connection per request**: `ab -c 32` from the kernel on the peer end against a
 *   server on the stack end — `Deno.serve` on the kernel's sockets (kernel↔kernel) or
 *   `ustack serve --http` (ustack→kernel: the server is the stack, the client the kernel);
 * - **HTTP keep-alive**: `wrk -t2 -c64` against the same servers;
 * - **`pingpong --connect`**: a 64-byte round trip per connection, 32 in flight, between the
 *   kernels, the stack and a kernel server, and two stacks.
 *
 * @module
 */

import { DENO_SERVE, parseAb, parseWrk } from "./clients.ts";
import { mainThreadSched, type ThreadSched } from "./http_bench.ts";
import type { BenchLink, Finished } from "./netns.ts";
import { ustackCommand } from "./netns.ts";

/** The HTTP port when {@link ClientRowsOptions.httpPort} is not given. */
export const HTTP_PORT_BASE = 8080;
/** The path both servers answer with 64 bytes. */
const HTTP_PATH = "/bytes/64";
/** Connections in flight (ab, pingpong --connect). */
const CONC = 32;

/** Options of the many-clients measurements. */
export interface ClientRowsOptions {
  /** Requests of the `ab` run (a connection each). */
  abRequests: number;
  /** Seconds of the `wrk` run. */
  wrkSeconds: number;
  /** Connections of the `pingpong --connect` run. */
  connections: number;
  /** The HTTP servers' port ({@link HTTP_PORT_BASE} when absent). */
  httpPort?: number;
}

/** What one HTTP server measured. */
export interface HttpRates {
  /** Connections (= requests) per second under `ab`. */
  connPerS: number;
  /** Requests that failed under `ab`. */
  abFailed: number;
  /** Keep-alive requests per second under `wrk`. */
  keepAliveRps: number;
  /**
   * The server's main thread during the `ab` run (null when /proc did not tell): ms it ran,
   * and ms it was runnable but waited for a CPU. On this 2-vCPU machine a round where the
   * server shares a CPU with `ab` (other work on the other) waits ~30–60 ms per 1,000
   * connections against ~2–12 ms, and its rate halves — kernel server or stack alike
   * (bench/README.md, "http9o"): the wait tells such a round from a slow server.
   */
  abServerThread: ThreadSched | null;
}

function check(what: string, f: Finished): string {
  if (f.code !== 0 || f.timedOut) {
    throw new Error(
      `${what} failed (${f.code}${f.timedOut ? ", timed out" : ""}): ` +
        (f.stderr + f.stdout).slice(-600),
    );
  }
  return f.stdout;
}

/**
 * `ab` then `wrk` from the peer end against `http://<stack>:PORT/bytes/64`; `serverPid`: the
 * server process, whose main thread's scheduling over the `ab` run is recorded.
 */
async function measureHttp(
  link: BenchLink,
  o: ClientRowsOptions,
  serverPid: number,
): Promise<HttpRates> {
  const url = `http://${link.addr("stack")}:${o.httpPort ?? HTTP_PORT_BASE}${HTTP_PATH}`;
  const s0 = mainThreadSched(serverPid);
  const ab = parseAb(check(
    "ab",
    await link.run(
      "peer",
      ["ab", "-r", "-q", "-s", "10", "-n", String(o.abRequests), "-c", String(CONC), url],
      300_000,
    ),
  ));
  const s1 = mainThreadSched(serverPid);
  const abServerThread = Number.isNaN(s0[0] + s1[0]) ? null : {
    runMs: Math.round((s1[0] - s0[0]) / 1e4) / 100,
    waitMs: Math.round((s1[1] - s0[1]) / 1e4) / 100,
  };
  const wrk = parseWrk(check(
    "wrk",
    await link.run(
      "peer",
      ["wrk", "-t2", "-c64", `-d${o.wrkSeconds}s`, url],
      (o.wrkSeconds + 30) * 1000,
    ),
  ));
  return { connPerS: ab.perSecond, abFailed: ab.failed, keepAliveRps: wrk, abServerThread };
}

/** `Deno.serve` on the stack end's kernel sockets (the kernel address must be on). */
export async function httpDenoServe(link: BenchLink, o: ClientRowsOptions): Promise<HttpRates> {
  const p = link.start("stack", [
    Deno.execPath(),
    "eval",
    DENO_SERVE,
    link.addr("stack"),
    String(o.httpPort ?? HTTP_PORT_BASE),
  ]);
  try {
    await p.waitForLine(/^ready$/);
    return await measureHttp(link, o, p.pid);
  } finally {
    await p.stop(10_000);
  }
}

/** `ustack serve --http` on the stack end (`stackOpts`: its link options). */
export async function httpUstack(
  link: BenchLink,
  stackOpts: string[],
  o: ClientRowsOptions,
): Promise<HttpRates> {
  const p = link.start(
    "stack",
    ustackCommand([
      "serve",
      "--http",
      String(o.httpPort ?? HTTP_PORT_BASE),
      ...stackOpts,
      "--json",
    ]),
  );
  try {
    await p.waitForLine(/"event":"ready"/);
    return await measureHttp(link, o, p.pid);
  } finally {
    await p.stop(10_000);
  }
}

/** The `pingpong client --connect` arguments (`-l 64`, CONC in flight, `n` connections). */
export function connectArgs(host: string, port: number, n: number): string[] {
  return [
    "pingpong",
    "client",
    host,
    "-p",
    String(port),
    "--connect",
    "-C",
    String(CONC),
    "-n",
    String(n),
    "-l",
    "64",
  ];
}
