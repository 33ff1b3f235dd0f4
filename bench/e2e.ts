/**
 * `deno task bench:e2e`: ustack against the Linux kernel, measured in one run on one veth pair
 * per MTU (9000, then 1500), three ways:
 *
 * - **kernel↔kernel** — both ends are the kernel: a Python sender into the Python sink the
 *   next column uses (TCP and UDP: the figures ustack is compared with, same receiver), iperf3
 *   for reference rows, `pingpong --kernel` on both ends;
 * - **ustack→kernel** — `ustack uperf client` / `pingpong client` on the stack end against a
 *   kernel sink (Python) and `pingpong server --kernel`;
 * - **kernel→ustack** — the receive path: the Python sender on the peer end (kernel) into
 *   `ustack serve --discard` (TCP) and `ustack uperf server --udp` on the stack end;
 * - **ustack↔ustack** — the kernel's address is taken off the peer end too and a second stack
 *   runs there (`uperf server`, `pingpong server`).
 *
 * Measurements: TCP bulk (one stream; Gbit/s of acknowledged / received bytes), UDP 8900-byte
 * datagrams unthrottled (the figure is the bytes the receiving application got over the
 * sender's sending time; the sender's own rate is shown too), request/response latency
 * (64-byte pingpong, p50/p99, transactions/s), many clients (`bench/e2e_clients.ts`: HTTP a
 * connection per request under `ab` and keep-alive under `wrk` from the kernel peer against
 * `Deno.serve` on kernel sockets and against `ustack serve --http`; `pingpong --connect`
 * connections per second) and, for the ustack senders, syscalls per frame from the driver and
 * event-loop counters, and for the ustack TCP receivers (kernel→ustack `serve --discard`,
 * ustack↔ustack `uperf server`) syscalls per wire packet (`bench/rx_syscalls.ts`). The table
 * gives each figure with its ratio to kernel↔kernel; all figures and tool summaries are written
 * as JSON.
 *
 * Every row but iperf3's runs in interleaved rounds (`bench/e2e_rounds.ts`): each round runs
 * the kernel pair and the stack pairs one after the other on fresh processes, the order
 * rotating, and the cell is the median over the rounds; each round's figure and its ratio to
 * the same round's kernel pair are in the JSON (`rounds`, `roundRatioToKernel`) and summed up
 * under the table. First the bulk TCP, UDP and request/response rows in `--bulk-rounds N`
 * rounds (3): a 2-s run against one kernel run moved by more than the targets' margins
 * between runs of the same code (bench/README.md, `rx13b`, `e2e13c`). Each bulk sender runs
 * `--warmup S` seconds (1) before its measured ones and the row counts only the bytes after
 * that mark (`bench/e2e_warmup.ts`): a fresh stack's first second runs at a fraction of its
 * rate while V8 still compiles its hot path. Then the connection rows (`pingpong --connect`,
 * HTTP `ab`/`wrk`) in `--rounds N` rounds (3): a fresh pair's 1,000-connection
 * crowd lasts 50–350 ms and moves with how long its processes wait for a CPU
 * (bench/README.md, `conn9z`): one such slot no longer decides a cell. Last, the `--hold`
 * figure (ustack↔ustack only: the kernel's memory per connection is not a process's): two
 * `pingpong client --hold` runs against a stack's `pingpong server`, {@link HOLD_BASE} and
 * `--hold N` connections (100,000 with `--quick`, else 1,000,000 — issue 9's target; 0: not
 * run), and each side's process memory per connection, the difference of the two runs' peak
 * RSS (and heap) over the difference of connections, as `bench/hold.ts` takes it. (A stack
 * process's RSS moves by ±30 MB between runs: at 20,000 connections that was ±1,500 B a
 * connection, at 100,000 it is ±300.)
 *
 * ```
 * deno run --allow-all bench/e2e.ts [--seconds N] [--quick] [--driver NAME] [--mtu N] [--only NAME]
 *                                   ["--stack-flags=--rx-ring v3"] [--rounds N] [--bulk-rounds N]
 *                                   [--warmup S] [--hold N] [--out FILE]
 * ```
 *
 * Needs root, `ip`, `ss`, `iperf3`, `python3`, `ab`, `wrk`. Every wait is bounded; the
 * namespaces are deleted at the end, on errors, on Ctrl-C and on SIGTERM.
 *
 * Why this file is over 600 lines: one runner for the three columns, every measurement of
 * which needs the same link, servers and JSON record; the many-clients measurements live in
 * `e2e_clients.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { missingRequirements } from "../tests/harness/interop.ts";
import { BenchLink, type BenchProcess, type Side, ustackCommand } from "./netns.ts";
import {
  type ClientRowsOptions,
  connectArgs,
  HTTP_PORT_BASE,
  httpDenoServe,
  type HttpRates,
  httpUstack,
} from "./e2e_clients.ts";
import { countersFromServeStats, syscallsPerWirePacket } from "./rx_syscalls.ts";
import { setBigTcp } from "../tests/harness/big_tcp.ts";
import { holdRun } from "./hold.ts";
import { lastJson, mustSucceed } from "./proc_output.ts";
import { AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES } from "../mod.ts";
import { contentionText, type RunContention, watchRun } from "./run_contention.ts";
import {
  median,
  medianRound,
  RoundFigures,
  roundSchedule,
  type RoundSpread,
} from "./e2e_rounds.ts";
import {
  gbitPerS,
  intervalLines,
  markFromIntervals,
  splitAt,
  uperfSplit,
  type WarmSplit,
} from "./e2e_warmup.ts";

/** The four ways, as JSON keys. */
export const COLUMNS = [
  "kernel_kernel",
  "ustack_kernel",
  "kernel_ustack",
  "ustack_ustack",
] as const;
/** One of {@link COLUMNS}. */
export type Column = typeof COLUMNS[number];

/** Column titles of the table. */
const TITLES: Record<Column, string> = {
  kernel_kernel: "kernel↔kernel",
  ustack_kernel: "ustack→kernel",
  kernel_ustack: "kernel→ustack",
  ustack_ustack: "ustack↔ustack",
};

/** One row of the table: what is measured and how to print it. */
interface RowSpec {
  /** JSON key. */
  key: string;
  /** Label in the table. */
  label: string;
  /** Unit in the table. */
  unit: string;
  /** Which direction is good (for reading the ratio). */
  better: "higher" | "lower";
  /** Digits after the point. */
  digits: number;
}

/** UDP datagram size of the UDP measurements (fits one 9000-byte frame). */
const UDP_LEN = 8900;
/** Message size of the request/response measurement. */
const RR_LEN = 64;
/** Transactions before the request/response clock starts. */
const RR_WARMUP = 100;
/** Longest request/response measurement (it converges quickly). */
const RR_MAX_SECONDS = 3;
/**
 * `--quick`'s measured seconds per bulk run (after the warm-up: a sender runs 2 s, as main's
 * `--quick` runs did) and per request/response run. With 3 bulk rounds a run of both MTUs took
 * 375 s at 1.5 s and 398 s at 1 s with 5 connection rounds (~13 s a round and MTU), past the
 * measurement lock's 6 minutes: `--quick` now runs 3 connection rounds too (`--rounds 5` for
 * the old count).
 */
const QUICK_SECONDS = 1;
/** Interleaved rounds of the bulk rows by default (`--bulk-rounds`), with `--quick` too. */
const BULK_ROUNDS_DEFAULT = 3;
/** A bulk sender's warm-up by default (`--warmup`), seconds: see `bench/e2e_warmup.ts`. */
const WARMUP_DEFAULT_S = 1;
/** How long a command may take beyond its nominal duration before it is killed. */
const GRACE_MS = 20_000;
/** Python sinks stop this long after their last datagram / at EOF. */
const SINK_IDLE_S = 1;
/** A Python sink gives up when nothing arrives for this long. */
const SINK_FIRST_WAIT_S = 30;

/**
 * How long a stack client takes from its start to its first data (Deno's start-up, the
 * stack's, the handshake): the TCP rows' contention window ({@link MtuRun.watchTcp}) starts
 * this much later for a stack sender than for the Python one.
 */
const STACK_START_MS = 500;

/** A row spec in one line. */
function row(key: string, label: string, unit: string, better: "higher" | "lower", digits: number) {
  return { key, label, unit, better, digits };
}

export { lastJson, mustSucceed };

/** The rows, in table order. */
const ROWS: RowSpec[] = [
  row("tcpGbps", "TCP bulk, 1 stream", "Gbit/s", "higher", 2),
  row("tcpIperf3Gbps", "TCP bulk, iperf3", "Gbit/s", "higher", 2),
  row("udpRxGbps", `UDP ${UDP_LEN} B, received`, "Gbit/s", "higher", 2),
  row("udpTxGbps", `UDP ${UDP_LEN} B, sent`, "Gbit/s", "higher", 2),
  row("udpIperf3RxGbps", `UDP ${UDP_LEN} B, iperf3 received`, "Gbit/s", "higher", 2),
  row("rrP50Us", `req/resp ${RR_LEN} B, p50`, "µs", "lower", 1),
  row("rrP99Us", `req/resp ${RR_LEN} B, p99`, "µs", "lower", 1),
  row("rrTps", `req/resp ${RR_LEN} B`, "trans/s", "higher", 0),
  row("httpConnPerS", "HTTP conn/request, ab -c32", "conn/s", "higher", 0),
  row("httpKeepAliveRps", "HTTP keep-alive, wrk -c64", "req/s", "higher", 0),
  row("connPerS", `pingpong --connect ${RR_LEN} B`, "conn/s", "higher", 0),
  row("connPerSTwReuse", `pingpong --connect, kernel tw_reuse=1`, "conn/s", "higher", 0),
  row("holdClientBytes", "pingpong --hold, client RSS per connection", "B", "lower", 0),
  row("holdServerBytes", "pingpong --hold, server RSS per connection", "B", "lower", 0),
  row("holdClientHeapBytes", "pingpong --hold, client heap per connection", "B", "lower", 0),
  row("holdServerHeapBytes", "pingpong --hold, server heap per connection", "B", "lower", 0),
  row("tcpSyscallsPerFrame", "TCP sender syscalls", "per frame", "lower", 3),
  row("udpSyscallsPerFrame", "UDP sender syscalls", "per frame", "lower", 3),
  row("tcpRxSyscallsPerWire", "TCP receiver syscalls", "per wire packet", "lower", 3),
];

/** The measurement names `--only` takes. */
export const MEASUREMENTS = [
  "tcp",
  "tcpIperf3",
  "udp",
  "udpIperf3",
  "rr",
  "connect",
  "http",
  "hold",
] as const;

/** Options of a run. */
export interface E2eOptions {
  /** Seconds per bulk measurement. */
  seconds: number;
  /** Seconds of each request/response measurement. */
  rrSeconds: number;
  /** The stack's driver. */
  driver: string;
  /** Extra link flags for every stack this runs (e.g. `--rx-ring v3`). */
  stackFlags: string[];
  /** MTUs to measure, in order. */
  mtus: number[];
  /** Measurements to run ({@link MEASUREMENTS}); empty for all. */
  only: string[];
  /** Where the JSON goes. */
  out: string;
  /** Interleaved rounds of the connection rows (`connect`, `http`). */
  rounds: number;
  /** Interleaved rounds of the bulk TCP, UDP and request/response rows (`tcp`, `udp`, `rr`). */
  bulkRounds: number;
  /**
   * Seconds each bulk sender runs before its measured {@link seconds} (0: none); the row counts
   * the bytes after the mark only (`bench/e2e_warmup.ts`).
   */
  warmupSeconds: number;
  /** Connections the `--hold` row holds (0: the row is not run). */
  holdConnections: number;
  /**
   * BIG TCP: both veth ends' GSO/GRO limits (IPv4 and IPv6) at this many bytes, and
   * `--rx-large-frame` for every af_packet stack; absent: Linux's 64 KB (the default rig).
   */
  bigTcp?: number;
}

/** The figures of one MTU. */
export interface MtuResult {
  /** MTU of both veth ends. */
  mtu: number;
  /** Figures by row key and column (null where not measured or failed). */
  values: Record<string, Record<Column, number | null>>;
  /** Tool summaries by column and measurement. */
  details: Record<Column, Record<string, unknown>>;
  /** What failed, one message each. */
  errors: string[];
  /** The rows' figures over the rounds (connection and bulk rows), by row key and column. */
  rounds?: Record<string, Partial<Record<Column, RoundSpread>>>;
  /** The same, each round's ratio to that round's kernel↔kernel figure. */
  roundRatios?: Record<string, Partial<Record<Column, RoundSpread>>>;
}

/**
 * Python kernel-socket sink: `sink.py tcp|udp PORT IDLE_S FIRST_WAIT_S [WARM_S]`; prints one JSON
 * (bytes, reads, seconds, and its own CPU seconds, sleeps and preemptions from `getrusage`: a
 * sink that sleeps once per datagram is woken once per datagram, by the sender's CPU; with
 * WARM_S, `warmBytes` received before the first read WARM_S after its first, at `warmSeconds`).
 */
export const PY_SINK = `
import json, resource, socket, sys, time
proto, port, idle, first_wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
warm = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
buf = bytearray(1 << 20)
total = count = 0
first = last = 0.0
warm_bytes = -1
warm_at = 0.0
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    s.settimeout(first_wait)
    try:
        n = s.recv_into(buf)
        first = last = time.monotonic()
        total, count = n, 1
        s.settimeout(idle)
        while True:
            n = s.recv_into(buf)
            last = time.monotonic()
            if warm_bytes < 0 and last - first >= warm:
                warm_bytes, warm_at = total, last - first
            total += n
            count += 1
    except (socket.timeout, KeyboardInterrupt):
        pass
else:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    print("ready", flush=True)
    ls.settimeout(first_wait)
    try:
        c, _ = ls.accept()
        c.settimeout(first_wait)
        first = time.monotonic()
        while True:
            n = c.recv_into(buf)
            if n == 0:
                break
            now = time.monotonic()
            if warm_bytes < 0 and now - first >= warm:
                warm_bytes, warm_at = total, now - first
            total += n
            count += 1
            last = now
    except (socket.timeout, KeyboardInterrupt):
        pass
ru = resource.getrusage(resource.RUSAGE_SELF)
if warm_bytes < 0:
    warm_bytes, warm_at = total, last - first
print(json.dumps({"bytes": total, "reads": count, "seconds": last - first,
    "warmBytes": warm_bytes if warm > 0 else 0, "warmSeconds": warm_at if warm > 0 else 0,
    "cpuSeconds": ru.ru_utime + ru.ru_stime, "sleeps": ru.ru_nvcsw, "preempted": ru.ru_nivcsw}), flush=True)
`;

/**
 * Python kernel-socket sender: `send.py tcp|udp HOST PORT SECONDS LEN [WARM_S]`; prints one JSON.
 * It sends for WARM_S + SECONDS. TCP writes LEN-byte chunks, then half-closes and waits for the
 * sink's close, so its time runs until every byte has arrived. The warm-up mark: `warmBytes`
 * at `warmSeconds` from the start, the first check past WARM_S — for TCP the bytes acknowledged
 * then (written less the send queue, `SIOCOUTQ`), for UDP the bytes sent; `curve` the same
 * every 0.25 s, `[seconds, bytes]` (how the rate rose).
 */
export const PY_SENDER = `
import fcntl, json, socket, struct, sys, termios, time
proto, host, port, seconds, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
warm = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
s.connect((host, port))
b = memoryview(bytes(length))
sent = errors = 0
def delivered():
    if proto != "tcp":
        return sent
    return sent - struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, bytes(4)))[0]
start = time.monotonic()
end = start + warm + seconds
now = start
warm_bytes, warm_at = 0, 0.0
curve = []
step = 0.25
next_at = start + step
while now < end:
    for _ in range(64):
        try:
            n = s.send(b)
            sent += n
        except OSError:
            errors += 1
    now = time.monotonic()
    if now >= next_at:
        curve.append([round(now - start, 4), delivered()])
        while next_at <= now:
            next_at += step
    if warm > 0 and warm_at == 0.0 and now - start >= warm:
        warm_bytes, warm_at = delivered(), now - start
if proto == "tcp":
    s.shutdown(socket.SHUT_WR)
    s.settimeout(30)
    s.recv(1)
    now = time.monotonic()
print(json.dumps({"bytes": sent, "errors": errors, "seconds": now - start,
    "warmBytes": warm_bytes, "warmSeconds": warm_at, "curve": curve}), flush=True)
`;

/**
 * Ports, one per measurement so no TIME_WAIT or late datagram of one run reaches the next; the
 * connection rows add {@link ROUND_PORT_STEP} per round, the bulk and request/response rows run
 * at {@link bulkPort} of theirs (the iperf3 rows, run once, at theirs).
 */
export const PORTS = {
  kernel_kernel: { tcp: 5200, tcpIperf3: 5201, udp: 5202, udpIperf3: 5203, rr: 5300, conn: 5301 },
  ustack_kernel: { tcp: 5211, udp: 5212, rr: 5310, conn: 5311 },
  kernel_ustack: { tcp: 5231, udp: 5232, rr: 5330, conn: 5331 },
  ustack_ustack: { tcp: 5221, udp: 5222, rr: 5320, conn: 5321 },
} as const;

/** Port offset of each further round of the connection rows (`conn` ports; HTTP adds 1). */
const ROUND_PORT_STEP = 100;

/** The `--hold` row's smaller run: its memory is the start-up the figure leaves out. */
export const HOLD_BASE = 1_000;
/** Connections the `--hold` row holds by default, and with `--quick`. */
const HOLD_DEFAULT = 1_000_000;
const HOLD_QUICK = 100_000;
/** Connections connecting at once in the `--hold` row (as `bench/hold.ts`). */
const HOLD_CONC = 512;

/**
 * A bulk or request/response port of round `round`: above the connection rows' (which step by
 * {@link ROUND_PORT_STEP} from 5301 over at most 20 rounds), 500 apart per round.
 */
export function bulkPort(base: number, round: number): number {
  return base + 10_000 + 500 * round;
}

/** The request/response rows' steps of a round (no kernel→ustack pingpong). */
const RR_STEPS: readonly Column[] = ["kernel_kernel", "ustack_kernel", "ustack_ustack"];
/** Rows the bulk rounds measure. */
const BULK_ROUND_ROWS = [
  "tcpGbps",
  "udpRxGbps",
  "udpTxGbps",
  "rrP50Us",
  "rrP99Us",
  "rrTps",
  "tcpSyscallsPerFrame",
  "udpSyscallsPerFrame",
  "tcpRxSyscallsPerWire",
] as const;
/** The row whose median round's summaries stand for each bulk detail. */
const BULK_DETAIL_ROWS: Record<string, string> = {
  tcp: "tcpGbps",
  udp: "udpRxGbps",
  rr: "rrP50Us",
};
/** The connection rows' detail → the row whose median round stands for it. */
const CLIENT_DETAIL_ROWS: Record<string, string> = {
  connect: "connPerS",
  connectTwReuse: "connPerSTwReuse",
  http: "httpConnPerS",
};

/** One bulk or request/response run: its rows' figures and its tool summaries. */
interface BulkRun {
  /** Figures by row key. */
  figures: Record<string, unknown>;
  /** Tool summaries. */
  detail: Record<string, unknown>;
}
/** Runs one step of a bulk round. */
type BulkRunner = (col: Column, round: number) => Promise<BulkRun>;
/** Each round's tool summaries, by column and detail. */
type KeptDetails = Partial<Record<Column, Record<string, unknown[]>>>;

/** Keep `value` as round `round`'s summary of `detail` in `col`. */
function keepDetail(
  kept: KeptDetails,
  rounds: number,
  col: Column,
  detail: string,
  round: number,
  value: unknown,
): void {
  const byDetail = kept[col] ??= {};
  (byDetail[detail] ??= new Array(rounds).fill(null))[round] = value;
}

/**
 * A UDP receiver's Gbit/s after its warm-up mark (`got.warmBytes` of `got.bytes` then) over the
 * sender's measured seconds; without a sender mark, all it got over the sender's whole time.
 */
export function receivedAfterMark(
  got: Record<string, number>,
  sent: WarmSplit,
): number | null {
  const warm = sent.warmSeconds > 0 ? Math.min(got.warmBytes ?? 0, got.bytes) : 0;
  return gbitPerS(got.bytes - warm, sent.seconds);
}

/** The connection rows' steps of a round, in their order of round 0. */
const CONNECT_STEPS: readonly Column[] = ["kernel_kernel", "ustack_kernel", "ustack_ustack"];
/** The HTTP rows' steps of a round (the server's column). */
const HTTP_STEPS: readonly Column[] = ["kernel_kernel", "ustack_kernel"];
/** Rows the rounds measure. */
const ROUND_ROWS = ["connPerS", "connPerSTwReuse", "httpConnPerS", "httpKeepAliveRps"] as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function progress(msg: string): void {
  console.error(`bench:e2e ${msg}`);
}

/**
 * An argument vector: `argv\`uperf client ${host} -p ${port} ${opts}\`` — the literal text is
 * split at white space, each value stays one argument (an array value is spread).
 */
function argv(strings: TemplateStringsArray, ...values: (string | number | string[])[]): string[] {
  const out: string[] = [];
  strings.forEach((text, i) => {
    out.push(...text.split(/\s+/).filter((w) => w !== ""));
    if (i < values.length) {
      const v = values[i];
      if (Array.isArray(v)) out.push(...v);
      else out.push(String(v));
    }
  });
  return out;
}

/** Every row's figures, all null (not measured yet). */
export function emptyValues(): MtuResult["values"] {
  const values: MtuResult["values"] = {};
  for (const r of ROWS) {
    values[r.key] = {
      kernel_kernel: null,
      ustack_kernel: null,
      kernel_ustack: null,
      ustack_ustack: null,
    };
  }
  return values;
}

/** Measures one MTU: owns the link, the result record and the three phases. */
class MtuRun {
  readonly result: MtuResult;
  readonly #s: number;
  readonly #peer: string;
  /** TCP MSS on the link (timestamps on): the wire packets a received byte count stands for. */
  readonly #mss: number;
  /** Whether the kernel has its address on each end (a fresh link: the peer end's only). */
  readonly #kernelAddr: Record<Side, boolean> = { stack: false, peer: true };

  constructor(readonly link: BenchLink, readonly o: E2eOptions) {
    this.result = {
      mtu: link.mtu,
      values: emptyValues(),
      details: { kernel_kernel: {}, ustack_kernel: {}, kernel_ustack: {}, ustack_ustack: {} },
      errors: [],
      rounds: {},
      roundRatios: {},
    };
    this.#s = o.seconds;
    this.#peer = link.addr("peer");
    this.#mss = link.mtu - 52;
  }

  /** Record a figure (non-numbers become null). */
  set(key: string, col: Column, value: unknown): void {
    this.result.values[key][col] = typeof value === "number" && Number.isFinite(value)
      ? value
      : null;
  }

  /**
   * Watch a TCP bulk run that starts now ({@link watchRun}): the middle half of its measured
   * time (after the warm-up), later by `startMs` (a stack sender's start-up), the processes of
   * both namespaces.
   * What it saw goes beside the row (`details[col].tcp.contention`, and a line under the
   * table): a row the machine slowed (others' niced CPU, the run's threads packed on one CPU)
   * can be told from a regression. The UDP 8,900 B rows kernel↔kernel and ustack→kernel are
   * watched the same way (`details[col].udp.contention`, no line): whether sender and sink
   * shared a CPU decides those rows (bench/README.md, branch `udp13s`).
   */
  watchTcp(startMs: number): Promise<RunContention | null> {
    const s = this.#s * 1000;
    const from = startMs + this.o.warmupSeconds * 1000 + s / 4;
    return watchRun(() => this.link.pidsBySide(), from, s / 2).catch(() => null);
  }

  /** Whether `--only` lets measurement `name` run. */
  wanted(name: string): boolean {
    return this.o.only.length === 0 || this.o.only.includes(name);
  }

  /**
   * Run one measurement (`--only` names it `name`; its details go under `detail`, by default
   * `name`); a failure is recorded and the run goes on.
   */
  async measure(
    col: Column,
    name: string,
    fn: () => Promise<unknown>,
    detail: string = name,
  ): Promise<void> {
    if (this.o.only.length > 0 && !this.o.only.includes(name)) return;
    progress(`[mtu ${this.link.mtu}] ${TITLES[col]}: ${detail}`);
    try {
      this.result.details[col][detail] = await fn();
    } catch (e) {
      const msg = `${TITLES[col]} ${detail}: ${(e as Error).message ?? e}`;
      this.result.errors.push(msg);
      progress(`[mtu ${this.link.mtu}] FAILED ${msg}`);
    }
  }

  /** A Python sink on the peer end, ready to receive. */
  async startSink(proto: "tcp" | "udp", port: number): Promise<BenchProcess> {
    const p = this.link.start(
      "peer",
      argv`python3 -c ${PY_SINK} ${proto} ${port} ${SINK_IDLE_S} ${SINK_FIRST_WAIT_S} ${this.o.warmupSeconds}`,
    );
    await p.waitForLine(/^ready$/);
    return p;
  }

  /**
   * Start a Python sink on the peer end, run `send`, then wait for the sink to report (it
   * stops by itself once idle); the sink is killed if anything goes wrong.
   */
  async withSink<T>(
    proto: "tcp" | "udp",
    port: number,
    send: () => Promise<T>,
  ): Promise<[T, Record<string, any>]> {
    const sink = await this.startSink(proto, port);
    try {
      const sent = await send();
      const f = await sink.finish((SINK_FIRST_WAIT_S + 5) * 1000);
      mustSucceed("python sink", f);
      return [sent, lastJson(f.stdout)];
    } finally {
      sink.signal("SIGKILL");
    }
  }

  /** A ustack server (uperf or pingpong, `--kernel` or not) on the peer end, ready. */
  async startServer(args: string[]): Promise<BenchProcess> {
    const p = this.link.start("peer", ustackCommand([...args, "--json"]));
    await p.waitForLine(/"event":"ready"/);
    return p;
  }

  /** A ustack command on the stack end, run to its end; its JSON summary. */
  async runClient(args: string[], seconds: number): Promise<Record<string, any>> {
    return (await this.runClientOut(args, seconds)).summary;
  }

  /** {@link runClient}, with its whole stdout (`interval` lines). */
  async runClientOut(
    args: string[],
    seconds: number,
  ): Promise<{ summary: Record<string, any>; stdout: string }> {
    const cmd = ustackCommand([...args, "--json"]);
    const f = await this.link.run("stack", cmd, seconds * 1000 + GRACE_MS);
    mustSucceed(`ustack ${args.slice(0, 2).join(" ")}`, f);
    return { summary: lastJson(f.stdout, "summary"), stdout: f.stdout };
  }

  /**
   * iperf3 server on the peer end, client on the stack end; the client's JSON. Its first
   * `--warmup` seconds are omitted (`-O`), as the other bulk rows' are.
   */
  async iperf3(port: number, args: string[]): Promise<Record<string, any>> {
    const server = this.link.start("peer", argv`iperf3 -s -1 -p ${port}`);
    try {
      await this.link.waitForKernelPort("peer", "tcp", port);
      const w = this.o.warmupSeconds;
      const omit = w > 0 ? ["-O", String(w)] : [];
      const cmd = argv`iperf3 -c ${this.#peer} -p ${port} -J -t ${this.#s} ${omit} ${args}`;
      const f = await this.link.run("stack", cmd, (this.#s + w) * 1000 + GRACE_MS);
      mustSucceed("iperf3 client", f);
      const j = JSON.parse(f.stdout);
      if (j.error !== undefined) throw new Error(`iperf3: ${j.error}`);
      return j;
    } finally {
      await server.finish(5_000);
    }
  }

  /** Request/response: a server on the peer end, the client on the stack end. */
  async requestResponse(
    col: Column,
    server: string[],
    client: string[],
    round: number,
  ): Promise<BulkRun> {
    const port = bulkPort(PORTS[col].rr, round);
    const srv = await this.startServer(
      argv`pingpong server --once -p ${port} -l ${RR_LEN} ${server}`,
    );
    try {
      const j = await this.runClient(
        argv`pingpong client ${this.#peer} -p ${port} -l ${RR_LEN} -t ${this.o.rrSeconds}
          -w ${RR_WARMUP} ${client}`,
        this.o.rrSeconds,
      );
      if (!(j.transactions > 0)) throw new Error("no transaction completed");
      return {
        figures: { rrP50Us: j.p50Us, rrP99Us: j.p99Us, rrTps: j.tps },
        detail: { client: j, server: lastJson((await srv.stop()).stdout, "summary") },
      };
    } finally {
      await srv.stop();
    }
  }

  /** The many-clients sizes: smaller with --quick. */
  get clientRows(): ClientRowsOptions {
    const quick = this.o.seconds <= 2;
    return {
      abRequests: quick ? 1_000 : 20_000,
      wrkSeconds: Math.min(Math.max(this.#s, 2), 5),
      connections: quick ? 1_000 : 20_000,
    };
  }

  /**
   * The connection rows in {@link E2eOptions.rounds} interleaved rounds: each round runs
   * `pingpong --connect` for kernel↔kernel (then again with `tcp_tw_reuse=1`), ustack→kernel
   * and ustack↔ustack, then HTTP (`ab`, `wrk`) against `Deno.serve` and `ustack serve --http`,
   * each list starting one step later every round ({@link roundSchedule}), every run on fresh
   * processes and its own ports. A cell is its median over the rounds; each round's figures
   * and ratios go to {@link MtuResult.rounds} / {@link MtuResult.roundRatios}, the median
   * round's tool summaries to `details[col].connect` / `.http`, every round's to
   * `details[col].connectRounds` / `.httpRounds`.
   */
  async clientRounds(): Promise<void> {
    const rounds = this.o.rounds;
    const connect = this.wanted("connect") ? roundSchedule(CONNECT_STEPS, rounds) : [];
    const http = this.wanted("http") ? roundSchedule(HTTP_STEPS, rounds) : [];
    if (connect.length + http.length === 0) return;
    const figs = new RoundFigures<Column>(rounds);
    const kept: KeptDetails = {};
    const keep = (col: Column, detail: string, round: number, value: unknown) =>
      keepDetail(kept, rounds, col, detail, round, value);
    for (let round = 0; round < rounds; round++) {
      for (const { slot, step: col } of connect.filter((s) => s.round === round)) {
        await this.attempt(col, `connect, round ${round + 1}, slot ${slot + 1}`, async () => {
          const j = await this.connectRun(col, round);
          figs.set("connPerS", col, round, j.client.conn_per_s);
          if (col !== "kernel_kernel") figs.set("connPerSTwReuse", col, round, j.client.conn_per_s);
          keep(col, "connect", round, { round, slot, ...j });
        });
        if (col !== "kernel_kernel") continue;
        // After the default run (its TIME_WAIT ports would starve a default client after this one).
        await this.attempt(col, `connectTwReuse, round ${round + 1}`, async () => {
          await this.setTwReuse(1);
          try {
            const j = await this.connectRun(col, round);
            figs.set("connPerSTwReuse", col, round, j.client.conn_per_s);
            keep(col, "connectTwReuse", round, { round, slot, ...j, tcpTwReuse: 1 });
          } finally {
            await this.setTwReuse(2);
          }
        });
      }
      for (const { slot, step: col } of http.filter((s) => s.round === round)) {
        await this.attempt(col, `http, round ${round + 1}, slot ${slot + 1}`, async () => {
          const r = await this.httpRun(col, round);
          if (r.abFailed > 0) throw new Error(`ab: ${r.abFailed} requests failed`);
          figs.set("httpConnPerS", col, round, r.connPerS);
          figs.set("httpKeepAliveRps", col, round, r.keepAliveRps);
          keep(col, "http", round, { round, slot, ...r });
        });
      }
    }
    this.recordRounds(figs, kept, ROUND_ROWS, CLIENT_DETAIL_ROWS);
  }

  /**
   * The rounds' medians of `rows` into the cells, their spreads and the median rounds' details
   * (`rowOf`: the row whose median round stands for each detail).
   */
  recordRounds(
    figs: RoundFigures<Column>,
    kept: KeptDetails,
    rows: readonly string[],
    rowOf: Record<string, string>,
  ): void {
    for (const key of rows) {
      for (const col of figs.columns(key)) {
        const spread = figs.spread(key, col);
        this.set(key, col, spread.median);
        ((this.result.rounds ??= {})[key] ??= {})[col] = spread;
        if (col === "kernel_kernel") continue;
        const q = figs.ratioSpread(key, col, "kernel_kernel");
        ((this.result.roundRatios ??= {})[key] ??= {})[col] = q;
      }
    }
    for (const col of COLUMNS) {
      for (const [detail, perRound] of Object.entries(kept[col] ?? {})) {
        const i = medianRound(figs.perRound(rowOf[detail], col));
        this.result.details[col][`${detail}Rounds`] = perRound;
        if (i >= 0) this.result.details[col][detail] = { ...(perRound[i] as object), median: true };
      }
    }
  }

  /**
   * Run `fn`, recording a failure under `col` and going on (the connection rounds' steps).
   */
  async attempt(col: Column, what: string, fn: () => Promise<void>): Promise<void> {
    progress(`[mtu ${this.link.mtu}] ${TITLES[col]}: ${what}`);
    try {
      await fn();
    } catch (e) {
      const msg = `${TITLES[col]} ${what}: ${(e as Error).message ?? e}`;
      this.result.errors.push(msg);
      progress(`[mtu ${this.link.mtu}] FAILED ${msg}`);
    }
  }

  /**
   * The kernel's addresses for a column's connection run: the stack end's for kernel↔kernel
   * only, the peer end's for all but ustack↔ustack (changed only where they differ).
   */
  async addressesFor(col: Column): Promise<void> {
    await this.kernelAddress("stack", col === "kernel_kernel");
    await this.kernelAddress("peer", col !== "ustack_ustack");
  }

  /** The kernel's address on `side` on or off (nothing when it already is). */
  async kernelAddress(side: Side, on: boolean): Promise<void> {
    if (this.#kernelAddr[side] === on) return;
    await this.link.setKernelAddress(side, on);
    this.#kernelAddr[side] = on;
  }

  /** One HTTP run of round `round`: `Deno.serve` (kernel↔kernel) or `ustack serve --http`. */
  httpRun(col: Column, round: number): Promise<HttpRates & { tool: string }> {
    const o = { ...this.clientRows, httpPort: HTTP_PORT_BASE + round };
    return this.addressesFor(col).then(async () =>
      col === "kernel_kernel"
        ? { tool: "ab, wrk -> Deno.serve", ...await httpDenoServe(this.link, o) }
        : {
          tool: "ab, wrk (kernel) -> ustack serve --http",
          ...await httpUstack(this.link, this.stackOpts("stack"), o),
        }
    );
  }

  /** A stack's link options on `side`. */
  stackOpts(side: Side): string[] {
    return [...this.link.stackOptions(side, this.o.driver), ...this.o.stackFlags];
  }

  /**
   * One `pingpong --connect` run of round `round`: a server on the peer end (the kernel's for
   * kernel↔kernel and ustack→kernel, a stack's for ustack↔ustack), the client on the stack end;
   * both ends' summaries. The row `connPerSTwReuse` compares the same ustack figures with a
   * second kernel↔kernel run whose client namespace has `net.ipv4.tcp_tw_reuse=1` (Linux's
   * default, 2, lets a connect take over a TIME_WAIT four-tuple on loopback only; 1 allows it
   * once the record's last timestamp is a second old, the rule the stack's client follows):
   * past ~20,000 connections from one address the default kernel client searches a port range
   * full of TIME_WAIT, so the first row's kernel figure is its port search, the second's its
   * steady connection rate. Each round has its own server port.
   */
  async connectRun(
    col: Column,
    round: number,
  ): Promise<{ client: Record<string, any>; server: Record<string, any> }> {
    await this.addressesFor(col);
    const server = col === "ustack_ustack" ? this.stackOpts("peer") : ["--kernel"];
    const client = col === "kernel_kernel" ? ["--kernel"] : this.stackOpts("stack");
    const port = PORTS[col].conn + ROUND_PORT_STEP * round;
    const n = this.clientRows.connections;
    const srv = await this.startServer(argv`pingpong server -p ${port} -l ${RR_LEN} ${server}`);
    try {
      const j = await this.runClient([...connectArgs(this.#peer, port, n), ...client], 120);
      if (j.failed > 0) throw new Error(`${j.failed} of ${n} connections failed`);
      return { client: j, server: lastJson((await srv.stop()).stdout, "summary") };
    } finally {
      await srv.stop();
    }
  }

  /**
   * The `--hold` row (ustack↔ustack): {@link HOLD_BASE}, then
   * {@link E2eOptions.holdConnections} connections held between a stack's `pingpong server`
   * and `pingpong client --hold 1` (fresh processes each; the client takes one more source
   * address per 28,000 connections), and each side's RSS per connection: the difference of
   * the two runs' peaks over the difference of connections. Every connection must be held and
   * every sampled round trip answered.
   */
  async holdRow(): Promise<void> {
    const n = this.o.holdConnections;
    if (n === 0 || !this.wanted("hold")) return;
    const col: Column = "ustack_ustack";
    await this.measure(col, "hold", async () => {
      await this.addressesFor(col);
      const serverOpts = this.stackOpts("peer");
      const clientOpts = this.stackOpts("stack");
      const small = await holdRun(this.link, HOLD_BASE, HOLD_CONC, serverOpts, clientOpts);
      const big = await holdRun(this.link, n, HOLD_CONC, serverOpts, clientOpts);
      for (const r of [small, big]) {
        if (r.held.connections !== r.connections || r.held.failed !== 0) {
          throw new Error(
            `${r.held.connections} of ${r.connections} held, ${r.held.failed} failed`,
          );
        }
        if (r.client.round_trip_failed > 0) {
          throw new Error(`${r.client.round_trip_failed} sampled round trips failed`);
        }
      }
      const dn = big.held.connections - small.held.connections;
      const client = (big.held.rss_bytes - small.held.rss_bytes) / dn;
      const server = (big.server.rss_bytes - small.server.rss_bytes) / dn;
      this.set("holdClientBytes", col, client);
      this.set("holdServerBytes", col, server);
      this.set("holdClientHeapBytes", col, (big.held.heap_bytes - small.held.heap_bytes) / dn);
      this.set("holdServerHeapBytes", col, (big.server.heap_bytes - small.server.heap_bytes) / dn);
      return { connections: n, base: HOLD_BASE, small, big };
    });
  }

  /** `net.ipv4.tcp_tw_reuse` of the stack end's (the clients') namespace; 2 is Linux's default. */
  async setTwReuse(value: number): Promise<void> {
    const f = await this.link.run(
      "stack",
      ["sysctl", "-qw", `net.ipv4.tcp_tw_reuse=${value}`],
      5_000,
    );
    if (f.code !== 0) throw new Error(`sysctl tcp_tw_reuse=${value}: ${f.stderr}`);
  }

  /**
   * The iperf3 reference rows (kernel↔kernel only, one run each, before the rounds): the stack
   * end has its kernel address.
   */
  async iperf3Rows(): Promise<void> {
    const col: Column = "kernel_kernel";
    const ports = PORTS[col];
    if (!this.wanted("tcpIperf3") && !this.wanted("udpIperf3")) return;
    await this.addressesFor(col);
    await this.measure(col, "tcpIperf3", async () => {
      const j = await this.iperf3(ports.tcpIperf3, []);
      this.set("tcpIperf3Gbps", col, j.end?.sum_received?.bits_per_second / 1e9);
      return { tool: "iperf3", received: j.end?.sum_received, sent: j.end?.sum_sent };
    });
    await this.measure(col, "udpIperf3", async () => {
      const j = await this.iperf3(ports.udpIperf3, argv`-u -l ${UDP_LEN} -b 0`);
      const sum = j.end?.sum ?? {};
      const received = j.end?.sum_received?.bits_per_second ??
        sum.bits_per_second * (1 - (sum.lost_percent ?? 0) / 100);
      this.set("udpIperf3RxGbps", col, received / 1e9);
      return { tool: "iperf3 -u", sum, received: j.end?.sum_received };
    });
  }

  /**
   * The Python sender (TCP chunks of 128 KiB, UDP datagrams of 8900 B) for the warm-up and the
   * measured seconds, on the stack end to the peer (kernel↔kernel), or on the peer end to the
   * stack (kernel→ustack); its JSON carries the warm-up mark (`warmBytes`, `warmSeconds`).
   */
  async pySend(proto: "tcp" | "udp", port: number, from: Side): Promise<Record<string, any>> {
    const len = proto === "tcp" ? 128 * 1024 : UDP_LEN;
    const to = from === "stack" ? this.#peer : this.link.addr("stack");
    const w = this.o.warmupSeconds;
    const cmd = argv`python3 -c ${PY_SENDER} ${proto} ${to} ${port} ${this.#s} ${len} ${w}`;
    const f = await this.link.run(from, cmd, (this.#s + w) * 1000 + GRACE_MS);
    mustSucceed(`python ${proto} sender`, f);
    return lastJson(f.stdout);
  }

  /** The Python sender's figures split at its own warm-up mark. */
  pySplit(sent: Record<string, number>): WarmSplit {
    return splitAt(sent.bytes, sent.seconds, sent.warmBytes ?? 0, sent.warmSeconds ?? 0);
  }

  /** A stack's bulk sender: `uperf client` for the warm-up and the measured seconds. */
  async uperfClient(args: string[]): Promise<{ summary: Record<string, any>; split: WarmSplit }> {
    const w = this.o.warmupSeconds;
    const { summary, stdout } = await this.runClientOut(
      [...args, "-t", String(this.#s + w)],
      this.#s + w,
    );
    return { summary, split: uperfSplit(summary as { bytes: number; seconds: number }, stdout, w) };
  }

  /**
   * One TCP bulk run of round `round` in column `col`: one stream for the warm-up and the
   * measured seconds; the row's Gbit/s is the sender's after its warm-up mark (bytes
   * acknowledged, all of them by the end).
   */
  async tcpRun(col: Column, round: number): Promise<BulkRun> {
    const port = bulkPort(PORTS[col].tcp, round);
    const opts = this.stackOpts("stack");
    if (col === "kernel_kernel" || col === "ustack_kernel") {
      let watching: Promise<RunContention | null> = Promise.resolve(null);
      if (col === "kernel_kernel") {
        const [sent, got] = await this.withSink("tcp", port, () => {
          watching = this.watchTcp(0);
          return this.pySend("tcp", port, "stack");
        });
        if (got.bytes !== sent.bytes) {
          throw new Error(`the sink got ${got.bytes} bytes of the ${sent.bytes} sent`);
        }
        const split = this.pySplit(sent);
        return {
          figures: { tcpGbps: split.gbps },
          detail: {
            tool: "python3 sender -> python3 sink",
            sender: sent,
            sink: got,
            warmup: split,
            contention: await watching,
          },
        };
      }
      const [c, got] = await this.withSink("tcp", port, () => {
        watching = this.watchTcp(STACK_START_MS);
        return this.uperfClient(argv`uperf client ${this.#peer} -p ${port} ${opts}`);
      });
      if (got.bytes !== c.summary.bytes) {
        throw new Error(
          `the sink got ${got.bytes} bytes, uperf says ${c.summary.bytes} were acknowledged`,
        );
      }
      return {
        figures: { tcpGbps: c.split.gbps, tcpSyscallsPerFrame: c.summary.driver?.syscallsPerFrame },
        detail: {
          tool: "uperf client -> python3 sink",
          client: c.summary,
          sink: got,
          warmup: c.split,
          contention: await watching,
        },
      };
    }
    if (col === "kernel_ustack") {
      const server = this.link.start(
        "stack",
        ustackCommand([...argv`serve --discard ${port}`, ...opts]),
      );
      try {
        await server.waitForLine(/^ready /);
        const watching = this.watchTcp(0);
        const sent = await this.pySend("tcp", port, "peer");
        const f = await server.stop(10_000);
        const got = Number(/InBytes=(\d+)/.exec(f.stdout)?.[1] ?? NaN);
        if (got !== sent.bytes) {
          throw new Error(`serve --discard got ${got} bytes of the ${sent.bytes} sent`);
        }
        const split = this.pySplit(sent);
        const counters = countersFromServeStats(f.stdout);
        return {
          figures: {
            tcpGbps: split.gbps,
            tcpRxSyscallsPerWire: counters === null
              ? null
              : syscallsPerWirePacket(counters, this.#mss),
          },
          detail: {
            tool: "python3 sender -> serve --discard",
            sender: sent,
            received: got,
            receiver: counters,
            warmup: split,
            contention: await watching,
          },
        };
      } finally {
        await server.stop();
      }
    }
    // ustack↔ustack; the server gets a generous -t: it ends with its connection.
    const server = await this.startServer(
      argv`uperf server -p ${port} -t ${this.serverSeconds} ${this.stackOpts("peer")}`,
    );
    try {
      const watching = this.watchTcp(STACK_START_MS);
      const c = await this.uperfClient(argv`uperf client ${this.#peer} -p ${port} ${opts}`);
      const f = await server.finish(10_000);
      mustSucceed("uperf server", f);
      const sj = lastJson(f.stdout, "summary");
      return {
        figures: {
          tcpGbps: c.split.gbps,
          tcpSyscallsPerFrame: c.summary.driver?.syscallsPerFrame,
          tcpRxSyscallsPerWire: sj.driver === undefined
            ? null
            : syscallsPerWirePacket(sj.driver, this.#mss),
        },
        detail: {
          tool: "uperf client -> uperf server",
          client: c.summary,
          server: sj,
          warmup: c.split,
          contention: await watching,
        },
      };
    } finally {
      await server.stop();
    }
  }

  /** Servers' `-t`: the warm-up and measured seconds and room (a UDP server is stopped). */
  get serverSeconds(): number {
    return this.#s + this.o.warmupSeconds + 30;
  }

  /**
   * One UDP 8,900 B run of round `round` in column `col`, unthrottled: the sent Gbit/s is the
   * sender's after its warm-up mark, the received one the receiver's bytes after its own mark
   * (its first datagram plus the warm-up) over the same measured seconds.
   */
  async udpRun(col: Column, round: number): Promise<BulkRun> {
    const port = bulkPort(PORTS[col].udp, round);
    const opts = this.stackOpts("stack");
    const w = this.o.warmupSeconds;
    if (col === "kernel_kernel" || col === "ustack_kernel") {
      const before = await this.link.udpCounters("peer");
      let watching: Promise<RunContention | null> = Promise.resolve(null);
      if (col === "kernel_kernel") {
        const [sent, got] = await this.withSink("udp", port, () => {
          watching = this.watchTcp(0);
          return this.pySend("udp", port, "stack");
        });
        const after = await this.link.udpCounters("peer");
        const split = this.pySplit(sent);
        return {
          figures: { udpTxGbps: split.gbps, udpRxGbps: receivedAfterMark(got, split) },
          detail: {
            tool: "python3 sender -> python3 sink",
            sender: sent,
            sink: got,
            warmup: split,
            ...udpDelta(before, after),
            contention: await watching,
          },
        };
      }
      const [c, got] = await this.withSink("udp", port, () => {
        watching = this.watchTcp(STACK_START_MS);
        return this.uperfClient(
          argv`uperf client ${this.#peer} --udp -l ${UDP_LEN} -p ${port} ${opts}`,
        );
      });
      const after = await this.link.udpCounters("peer");
      return {
        figures: {
          udpTxGbps: c.split.gbps,
          udpRxGbps: receivedAfterMark(got, c.split),
          udpSyscallsPerFrame: c.summary.driver?.syscallsPerFrame,
        },
        detail: {
          tool: "uperf client --udp -> python3 sink",
          client: c.summary,
          sink: got,
          warmup: c.split,
          ...udpDelta(before, after),
          contention: await watching,
        },
      };
    }
    const side: Side = col === "kernel_ustack" ? "stack" : "peer";
    const server = this.link.start(
      side,
      ustackCommand([
        ...argv`uperf server --udp -p ${port} -t ${this.serverSeconds}`,
        ...this.stackOpts(side),
        "--json",
      ]),
    );
    try {
      await server.waitForLine(/"event":"ready"/);
      let tx: WarmSplit;
      let sender: Record<string, unknown>;
      let figures: BulkRun["figures"] = {};
      if (col === "kernel_ustack") {
        const sent = await this.pySend("udp", port, "peer");
        tx = this.pySplit(sent);
        sender = { sender: sent };
      } else {
        const c = await this.uperfClient(
          argv`uperf client ${this.#peer} --udp -l ${UDP_LEN} -p ${port} ${opts}`,
        );
        tx = c.split;
        sender = { client: c.summary };
        figures = { udpSyscallsPerFrame: c.summary.driver?.syscallsPerFrame };
      }
      // Let the last datagrams in; stopped by a signal it measures up to its last datagram.
      await sleep(300);
      const f = await server.stop(10_000);
      mustSucceed("uperf server --udp", f);
      const sj = lastJson(f.stdout, "summary");
      const mark = markFromIntervals(intervalLines(f.stdout), w);
      const got = { bytes: sj.bytes, warmBytes: mark.warmBytes, warmSeconds: mark.warmSeconds };
      return {
        figures: { ...figures, udpTxGbps: tx.gbps, udpRxGbps: receivedAfterMark(got, tx) },
        detail: {
          tool: col === "kernel_ustack"
            ? "python3 sender -> uperf server --udp"
            : "uperf client --udp -> uperf server --udp",
          ...sender,
          server: sj,
          warmup: tx,
          receiverMark: mark,
        },
      };
    } finally {
      await server.stop();
    }
  }

  /** One request/response run of round `round` (`pingpong` warms itself up before it counts). */
  async rrRun(col: Column, round: number): Promise<BulkRun> {
    const server = col === "ustack_ustack" ? this.stackOpts("peer") : ["--kernel"];
    const client = col === "kernel_kernel" ? ["--kernel"] : this.stackOpts("stack");
    const tool = {
      kernel_kernel: "pingpong --kernel on both ends",
      ustack_kernel: "pingpong client (ustack) -> pingpong server --kernel",
      kernel_ustack: "",
      ustack_ustack: "pingpong client (ustack) -> pingpong server (ustack)",
    }[col];
    const r = await this.requestResponse(col, server, client, round);
    return { figures: r.figures, detail: { tool, ...r.detail } };
  }

  /**
   * The bulk TCP, UDP and request/response rows in {@link E2eOptions.bulkRounds} interleaved
   * rounds: each round runs the four columns' TCP runs, then their UDP runs, then the three
   * request/response runs, each list starting one step later every round
   * ({@link roundSchedule}), every run on fresh processes and its own ports. A cell is its
   * median over the rounds; each round's figures and ratios go to {@link MtuResult.rounds} /
   * {@link MtuResult.roundRatios}, the median round's tool summaries to `details[col].tcp` /
   * `.udp` / `.rr`, every round's to `details[col].tcpRounds` / `.udpRounds` / `.rrRounds`.
   */
  async bulkRounds(): Promise<void> {
    const rounds = this.o.bulkRounds;
    const all: { name: string; steps: readonly Column[]; run: BulkRunner }[] = [
      { name: "tcp", steps: COLUMNS, run: (c, r) => this.tcpRun(c, r) },
      { name: "udp", steps: COLUMNS, run: (c, r) => this.udpRun(c, r) },
      { name: "rr", steps: RR_STEPS, run: (c, r) => this.rrRun(c, r) },
    ];
    const kinds = all.filter((k) => this.wanted(k.name));
    if (kinds.length === 0) return;
    const figs = new RoundFigures<Column>(rounds);
    const kept: KeptDetails = {};
    for (let round = 0; round < rounds; round++) {
      for (const kind of kinds) {
        const plan = roundSchedule(kind.steps, rounds).filter((s) => s.round === round);
        for (const { slot, step: col } of plan) {
          await this.attempt(
            col,
            `${kind.name}, round ${round + 1}, slot ${slot + 1}`,
            async () => {
              await this.addressesFor(col);
              const r = await kind.run(col, round);
              for (const [key, v] of Object.entries(r.figures)) figs.set(key, col, round, v);
              keepDetail(kept, rounds, col, kind.name, round, { round, slot, ...r.detail });
            },
          );
        }
      }
    }
    this.recordRounds(figs, kept, BULK_ROUND_ROWS, BULK_DETAIL_ROWS);
  }
}

/** The kernel UDP counter changes between two readings. */
function udpDelta(
  before: { InDatagrams: number; RcvbufErrors: number },
  after: { InDatagrams: number; RcvbufErrors: number },
): Record<string, number> {
  return {
    kernelInDatagrams: after.InDatagrams - before.InDatagrams,
    kernelRcvbufErrors: after.RcvbufErrors - before.RcvbufErrors,
  };
}

/** Measure one MTU on a fresh link; the link is always deleted. */
export async function measureMtu(mtu: number, o: E2eOptions): Promise<MtuResult> {
  const link = await BenchLink.create(mtu);
  let opts = o;
  try {
    if (o.bigTcp !== undefined) {
      for (const side of ["stack", "peer"] as const) {
        await setBigTcp(link.ns(side), link.ifname(side), o.bigTcp);
      }
      if (o.driver === "af_packet") {
        const frame = Math.min(o.bigTcp + 18, AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES);
        opts = { ...o, stackFlags: ["--rx-large-frame", String(frame), ...o.stackFlags] };
      }
    }
  } catch (e) {
    await link.destroy();
    throw e;
  }
  const run = new MtuRun(link, opts);
  try {
    await run.iperf3Rows();
    await run.bulkRounds();
    await run.clientRounds();
    await run.holdRow();
  } catch (e) {
    run.result.errors.push(`set-up: ${(e as Error).message ?? e}`);
  } finally {
    await link.destroy();
  }
  return run.result;
}

/** `value` formatted with `digits`, or "—". */
function fmt(value: number | null, digits: number): string {
  if (value === null) return "—";
  return digits === 0 ? String(Math.round(value)) : value.toFixed(digits);
}

/** `value / base` as a percentage, or null. */
export function ratio(value: number | null, base: number | null): number | null {
  if (value === null || base === null || base === 0) return null;
  return value / base;
}

/**
 * The table of one MTU: a row per measurement, a column per way, each ustack figure followed
 * by its ratio to kernel↔kernel (for latencies a ratio above 100 % means slower).
 */
export function formatTable(r: MtuResult): string {
  const header = [`MTU ${r.mtu}`, ...COLUMNS.map((c) => TITLES[c])];
  const body: string[][] = [];
  for (const spec of ROWS) {
    const v = r.values[spec.key];
    if (v === undefined || COLUMNS.every((c) => v[c] === null)) continue;
    const cells = COLUMNS.map((c) => {
      const text = fmt(v[c], spec.digits);
      const q = c === "kernel_kernel" ? null : ratio(v[c], v.kernel_kernel);
      return q === null ? text : `${text} (${Math.round(q * 100)}%)`;
    });
    body.push([`${spec.label} (${spec.unit})`, ...cells]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(
      "   ",
    );
  return [
    line(header),
    ...body.map(line),
    ...contentionLines(r),
    ...roundLines(r),
    ...warmupLines(r),
  ].join("\n");
}

/**
 * Lines under a table: the rows measured in rounds (bulk, request/response, connections) — per
 * cell the median and range, for the stacks the median (range) of each round's ratio to its
 * kernel↔kernel figure.
 */
export function roundLines(r: MtuResult): string[] {
  const out: string[] = [];
  for (const spec of ROWS) {
    const byCol = r.rounds?.[spec.key];
    if (byCol === undefined) continue;
    const cells = COLUMNS.flatMap((c) => {
      const s = byCol[c];
      if (s === undefined || s.n === 0) return [];
      const q = r.roundRatios?.[spec.key]?.[c];
      const ratioText = q === undefined || q.n === 0
        ? ""
        : `, ×${q.median!.toFixed(2)} (${q.min!.toFixed(2)}–${q.max!.toFixed(2)})`;
      return [
        `${TITLES[c]} ${fmt(s.median, spec.digits)} (${fmt(s.min, spec.digits)}–` +
        `${fmt(s.max, spec.digits)}, ${s.n})${ratioText}`,
      ];
    });
    if (cells.length > 0) out.push(`  ${spec.label}: ${cells.join("; ")}`);
  }
  return out.length === 0 ? [] : [
    "Rows in rounds: median (range, rounds) of interleaved rounds; ×: each round's ratio to " +
    "its kernel↔kernel, median (range):",
    ...out,
  ];
}

/**
 * Lines under a table: the bulk senders' Gbit/s in their warm-up against the measured seconds
 * after it (medians over the rounds, `details[col][kind + "Rounds"][i].warmup`): what counting
 * the start would have added to each cell.
 */
export function warmupLines(r: MtuResult): string[] {
  const out: string[] = [];
  for (const [kind, label] of [["tcp", "TCP bulk"], ["udp", `UDP ${UDP_LEN} B, sent`]]) {
    const cells = COLUMNS.flatMap((c) => {
      const perRound = r.details[c]?.[`${kind}Rounds`] as
        | ({ warmup?: WarmSplit } | null)[]
        | undefined;
      const splits = (perRound ?? []).map((d) => d?.warmup).filter((w) =>
        w !== undefined && w.warmSeconds > 0 && w.warmGbps !== null && w.gbps !== null
      ) as WarmSplit[];
      if (splits.length === 0) return [];
      const warm = median(splits.map((w) => w.warmGbps));
      const after = median(splits.map((w) => w.gbps));
      const at = median(splits.map((w) => w.warmSeconds));
      return [
        `${TITLES[c]} ${fmt(warm, 2)} → ${fmt(after, 2)} (${fmt(at, 2)} s, ${splits.length})`,
      ];
    });
    if (cells.length > 0) out.push(`  ${label}: ${cells.join("; ")}`);
  }
  return out.length === 0 ? [] : [
    "Bulk senders' Gbit/s in the warm-up → after it, medians (warm-up s, rounds); the cells count " +
    "only after it:",
    ...out,
  ];
}

/** Row → column → value, as column → row → value (the JSON's ratio layout). */
function invert<T>(byRow: Record<string, Partial<Record<Column, T>>>) {
  const out: Partial<Record<Column, Record<string, T>>> = {};
  for (const [key, byCol] of Object.entries(byRow)) {
    for (const [col, v] of Object.entries(byCol) as [Column, T][]) (out[col] ??= {})[key] = v;
  }
  return out;
}

/**
 * Lines under a table: what the machine did during each TCP bulk run (`contention` in the TCP
 * details, {@link contentionText}); none when no TCP row watched it.
 */
export function contentionLines(r: MtuResult): string[] {
  const cells = COLUMNS.flatMap((c) => {
    const d = r.details[c]?.tcp as { contention?: RunContention | null } | undefined;
    return d?.contention ? [`  ${TITLES[c]}: ${contentionText(d.contention)}`] : [];
  });
  return cells.length === 0
    ? []
    : ["TCP bulk, the machine meanwhile (% of one CPU; middle half of each run):", ...cells];
}

/** The JSON record of a run. */
export function toRecord(
  o: E2eOptions,
  results: MtuResult[],
  startedAt: Date,
  host: Record<string, unknown>,
): Record<string, unknown> {
  return {
    benchmark: "ustack bench:e2e",
    date: startedAt.toISOString(),
    host,
    options: {
      driver: o.driver,
      stackFlags: o.stackFlags,
      ...(o.bigTcp !== undefined ? { bigTcp: o.bigTcp } : {}),
      only: o.only,
      seconds: o.seconds,
      rrSeconds: o.rrSeconds,
      udpLen: UDP_LEN,
      rrLen: RR_LEN,
      rrWarmup: RR_WARMUP,
      rounds: o.rounds,
      bulkRounds: o.bulkRounds,
      warmupSeconds: o.warmupSeconds,
      holdConnections: o.holdConnections,
    },
    columns: TITLES,
    rows: Object.fromEntries(
      ROWS.map((r) => [r.key, { label: r.label, unit: r.unit, better: r.better }]),
    ),
    mtus: results.map((r) => ({
      mtu: r.mtu,
      results: Object.fromEntries(COLUMNS.map((c) => [
        c,
        Object.fromEntries(ROWS.map((row) => [row.key, r.values[row.key][c]])),
      ])),
      ratioToKernel: Object.fromEntries(
        COLUMNS.filter((c) => c !== "kernel_kernel").map((c) => [
          c,
          Object.fromEntries(
            ROWS.map((row) => {
              const q = ratio(r.values[row.key][c], r.values[row.key].kernel_kernel);
              return [row.key, q === null ? null : Math.round(q * 10000) / 10000];
            }),
          ),
        ]),
      ),
      rounds: r.rounds ?? {},
      roundRatioToKernel: invert(r.roundRatios ?? {}),
      details: r.details,
      errors: r.errors,
    })),
  };
}

const USAGE = `usage: deno run --allow-all bench/e2e.ts [options]
  --seconds N    measured seconds per bulk measurement (10; --quick: 1), after --warmup
  --warmup S     seconds every bulk sender runs before its measured ones, left out of the
                 figure (1; 0: none, the run's start counts)
  --quick        1 s per measurement, 3 rounds of each kind, smaller connection counts
  --driver NAME  the stack's driver (af_packet)
  --stack-flags=FLAGS  extra link flags for every stack, e.g. "--stack-flags=--rx-ring v3"
  --mtu N        measure only this MTU (repeatable; default 9000 and 1500)
  --big-tcp BYTES  BIG TCP on the veth pair: GSO/GRO limits of both ends at BYTES
                 (65536..524280; kernel senders' super-frames grow past 64 KB), every
                 af_packet stack with --rx-large-frame to match (default: off)
  --only NAME    run only this measurement (repeatable): ${MEASUREMENTS.join(", ")}
  --rounds N     interleaved rounds of the connection rows (connect, http): each runs the
                 kernel pair and the stacks in turn, the cell is the median (3)
  --bulk-rounds N  interleaved rounds of the TCP, UDP and request/response rows, the same
                 way (3)
  --hold N       connections the pingpong --hold row holds, ustack↔ustack (1000000;
                 --quick: 100000; 0: not run)
  --out FILE     JSON record (bench/results/e2e-<date>.json)`;

/** Parse the command line; null for --help. Throws on bad values. */
export function parseE2eArgs(args: string[], now = new Date()): E2eOptions | null {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string" },
      quick: { type: "boolean" },
      driver: { type: "string" },
      "stack-flags": { type: "string" },
      mtu: { type: "string", multiple: true },
      only: { type: "string", multiple: true },
      out: { type: "string" },
      "big-tcp": { type: "string" },
      rounds: { type: "string" },
      "bulk-rounds": { type: "string" },
      warmup: { type: "string" },
      hold: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  const seconds = values.seconds === undefined
    ? (values.quick ? QUICK_SECONDS : 10)
    : Number(values.seconds);
  if (!(seconds > 0 && seconds <= 3600)) {
    throw new Error(`--seconds ${values.seconds}: 0 < N <= 3600`);
  }
  const mtus = (values.mtu ?? ["9000", "1500"]).map(Number);
  for (const m of mtus) {
    if (!(Number.isInteger(m) && m >= 1280 && m <= 65_535)) {
      throw new Error(`--mtu ${m}: must be an integer 1280..65535`);
    }
  }
  const only = values.only ?? [];
  for (const m of only) {
    if (!(MEASUREMENTS as readonly string[]).includes(m)) {
      throw new Error(`--only ${m}: one of ${MEASUREMENTS.join(", ")}`);
    }
  }
  const bigTcp = values["big-tcp"] === undefined ? undefined : Number(values["big-tcp"]);
  if (
    bigTcp !== undefined && !(Number.isInteger(bigTcp) && bigTcp >= 65_536 && bigTcp <= 524_280)
  ) {
    throw new Error(`--big-tcp ${values["big-tcp"]}: an integer 65536..524280`);
  }
  const rounds = values.rounds === undefined ? 3 : Number(values.rounds);
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) {
    throw new Error(`--rounds ${values.rounds}: an integer 1..20`);
  }
  const bulkRounds = values["bulk-rounds"] === undefined
    ? BULK_ROUNDS_DEFAULT
    : Number(values["bulk-rounds"]);
  if (!(Number.isInteger(bulkRounds) && bulkRounds >= 1 && bulkRounds <= 20)) {
    throw new Error(`--bulk-rounds ${values["bulk-rounds"]}: an integer 1..20`);
  }
  const warmupSeconds = values.warmup === undefined ? WARMUP_DEFAULT_S : Number(values.warmup);
  if (!(warmupSeconds >= 0 && warmupSeconds <= 60)) {
    throw new Error(`--warmup ${values.warmup}: 0 <= S <= 60`);
  }
  const holdConnections = values.hold === undefined
    ? (values.quick ? HOLD_QUICK : HOLD_DEFAULT)
    : Number(values.hold);
  if (
    !(Number.isInteger(holdConnections) &&
      (holdConnections === 0 || (holdConnections > HOLD_BASE && holdConnections <= 1_000_000)))
  ) {
    throw new Error(`--hold ${values.hold}: 0 or an integer ${HOLD_BASE + 1}..1000000`);
  }
  const date = now.toISOString().slice(0, 10);
  return {
    rounds,
    holdConnections,
    bulkRounds,
    warmupSeconds,
    ...(bigTcp !== undefined ? { bigTcp } : {}),
    seconds,
    rrSeconds: Math.min(seconds, RR_MAX_SECONDS),
    driver: values.driver ?? "af_packet",
    stackFlags: (values["stack-flags"] ?? "").split(/\s+/).filter((f) => f !== ""),
    mtus,
    only,
    out: values.out ?? new URL(`./results/e2e-${date}.json`, import.meta.url).pathname,
  };
}

/** What machine this ran on. */
async function hostInfo(): Promise<Record<string, unknown>> {
  let iperf3 = "";
  try {
    const out = await new Deno.Command("iperf3", { args: ["--version"], stdout: "piped" }).output();
    iperf3 = new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch { /* reported as "" */ }
  return {
    kernel: Deno.osRelease(),
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    iperf3,
  };
}

/** Run the benchmark; resolves to the exit status (1 when any measurement failed). */
export async function main(args: string[]): Promise<number> {
  let o: E2eOptions | null;
  try {
    o = parseE2eArgs(args);
  } catch (e) {
    console.error(`bench:e2e: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (o === null) {
    console.log(USAGE);
    return 0;
  }
  const missing = missingRequirements(["ss", "iperf3", "python3", "ab", "wrk"]);
  if (missing.length > 0) {
    console.error(`bench:e2e: cannot run: missing ${missing.join(", ")}`);
    return 1;
  }
  const startedAt = new Date();
  const t0 = performance.now();
  const results: MtuResult[] = [];
  for (const mtu of o.mtus) results.push(await measureMtu(mtu, o));
  const elapsed = (performance.now() - t0) / 1000;
  console.log(
    `ustack bench:e2e — driver ${o.driver}, ${o.seconds} s per bulk measurement ` +
      `(after a ${o.warmupSeconds}-s warm-up; ${o.bulkRounds} bulk, ${o.rounds} connection ` +
      `rounds), ` +
      `${RR_LEN}-byte request/response for ${o.rrSeconds} s; ratios are to kernel↔kernel ` +
      `(latency: above 100% is slower)`,
  );
  for (const r of results) console.log(`\n${formatTable(r)}`);
  const errors = results.flatMap((r) => r.errors.map((e) => `MTU ${r.mtu}: ${e}`));
  if (errors.length > 0) console.log(`\nfailed:\n  ${errors.join("\n  ")}`);
  const record = toRecord(o, results, startedAt, {
    ...(await hostInfo()),
    elapsedSeconds: Math.round(elapsed),
  });
  const dir = o.out.slice(0, o.out.lastIndexOf("/"));
  if (dir !== "") await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(o.out, JSON.stringify(record, null, 2) + "\n");
  console.log(`\nwrote ${o.out} (${elapsed.toFixed(0)} s)`);
  return errors.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
