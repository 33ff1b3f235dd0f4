/**
 * Checks on pcap files with tshark (nothing malformed, every IP/TCP/UDP/ICMP checksum good,
 * the sizes of the frames one address sent), and live tshark captures that are known to be
 * running before the test makes the traffic they should see.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCommand, terminate, type VethPair } from "./netns.ts";

/**
 * Assert tshark reads `pcap` and flags no malformed packet and no bad checksum (IPv4, TCP,
 * UDP, ICMP, ICMPv6).
 */
export async function assertCleanCapture(pcap: string): Promise<void> {
  const bad = await runCommand([
    "tshark",
    "-r",
    pcap,
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-Y",
    '_ws.malformed || ip.checksum.status == "Bad" || ' +
    // RFC 1624 §3: 0xffff is the other zero of one's complement; Linux writes it for a TCP
    // checksum that folds to 0 (skb_checksum_help, CSUM_MANGLED_0) and tshark calls it Bad.
    '(tcp.checksum.status == "Bad" && !tcp.checksum.ffff) || ' +
    'udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || ' +
    'icmpv6.checksum.status == "Bad"',
  ]);
  assert.equal(bad.code, 0, bad.stderr);
  assert.equal(bad.stdout.trim(), "", `tshark flagged:\n${bad.stdout.slice(0, 2000)}`);
}

/** Frame lengths of the TCP segments with payload that `src` sent, as tshark sees them. */
export async function tcpFrameSizes(pcap: string, src: string): Promise<number[]> {
  const r = await runCommand([
    "tshark",
    "-r",
    pcap,
    "-Y",
    `ip.src == ${src} && tcp.len > 0`,
    "-T",
    "fields",
    "-e",
    "frame.len",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter((l) => l !== "").map(Number);
}

/** EtherType of the capture-ready marker frames (IEEE 802 local experimental EtherType 1). */
const MARKER_ETHERTYPE = 0x88b5;

/**
 * Sends marker frames (broadcast, EtherType 0x88b5) out of `IFACE` every 20 ms until killed.
 * A raw AF_PACKET send passes the kernel's packet taps, so a capture on either end sees it.
 */
const MARKER_SENDER = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
frame = b"\\xff" * 6 + b"\\x02\\x00\\x00\\x00\\x00\\x99" + b"\\x88\\xb5" + b"ustack capture marker".ljust(46, b".")
while True:
    s.send(frame)
    time.sleep(0.02)
`;

/** Options of {@link startCapture}. */
export interface LiveCaptureOptions {
  /** BPF capture filter for the frames of interest (e.g. `tcp port 81`). */
  filter: string;
  /** tshark fields printed for each frame of interest (`-T fields -e …`). */
  fields: string[];
  /** Capture in the stack namespace on `stackIf` instead of the peer's `peerIf`. */
  stackSide?: boolean;
  /** Longest wait for the capture to be running [30 s]. */
  readyTimeoutMs?: number;
}

/**
 * A live tshark capture that is known to be running: {@link startCapture} returns only after
 * tshark printed a marker frame sent after it started, so no frame of interest sent afterwards
 * can be missed (tshark's own "Capturing on" line is printed before dumpcap has opened the
 * interface, so it proves nothing).
 */
export class LiveCapture {
  /** Each frame of interest so far: its fields, in the order asked for. */
  readonly frames: string[][] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stderr: string[] = [];
  readonly #pump: Promise<void>;
  #markers = 0;
  #ended = false;
  #wake: (() => void) | null = null;

  /** Wrap a spawned tshark whose first field is `eth.type`. */
  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#pump = this.#read();
    this.#drainStderr();
  }

  async #read(): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of this.#child.stdout) {
      rest += dec.decode(chunk, { stream: true });
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        const cols = rest.slice(0, i).split("\t");
        rest = rest.slice(i + 1);
        if (parseInt(cols[0], 16) === MARKER_ETHERTYPE) this.#markers++;
        else this.frames.push(cols.slice(1));
      }
      this.#notify();
    }
    this.#ended = true;
    this.#notify();
  }

  async #drainStderr(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.#child.stderr) this.#stderr.push(dec.decode(chunk));
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    if (w !== null) w();
  }

  /** Resolve when `done()` holds, checking after every output chunk; throws at `timeoutMs`. */
  async #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      const left = deadline - performance.now();
      if (this.#ended || left <= 0) {
        throw new Error(
          `capture: ${this.#ended ? "tshark exited" : "timed out"} waiting for ${what}; ` +
            `frames: ${JSON.stringify(this.frames)}; stderr: ${this.#stderr.join("").trim()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Wait until a marker frame was printed (the capture is running). */
  waitForMarker(timeoutMs: number): Promise<void> {
    return this.#until(() => this.#markers > 0, timeoutMs, "a marker frame");
  }

  /** Wait until `n` frames of interest were captured; returns the first `n`. */
  async waitForFrames(n: number, timeoutMs = 10_000): Promise<string[][]> {
    await this.#until(() => this.frames.length >= n, timeoutMs, `${n} frames`);
    return this.frames.slice(0, n);
  }

  /** Wait until `done` holds for the frames of interest captured so far; returns them all. */
  async waitUntil(
    done: (frames: string[][]) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<string[][]> {
    await this.#until(() => done(this.frames), timeoutMs, what);
    return this.frames.slice();
  }

  /** Stop tshark and wait for it. */
  async stop(): Promise<void> {
    await terminate(this.#child);
    await this.#pump;
  }
}

/**
 * Start tshark on the pair's peer end (or stack end) and return once it is capturing: marker
 * frames are sent until tshark prints one (bounded by `readyTimeoutMs`). Marker frames are
 * never reported as frames of interest. Needs `tshark` and `python3`.
 *
 * @example
 * ```ts
 * const cap = await startCapture(pair, { filter: "tcp port 81", fields: ["tcp.flags.str"] });
 * // … make traffic …
 * const [syn, rst] = await cap.waitForFrames(2);
 * await cap.stop();
 * ```
 */
export async function startCapture(
  pair: VethPair,
  opts: LiveCaptureOptions,
): Promise<LiveCapture> {
  const iface = opts.stackSide ? pair.stackIf : pair.peerIf;
  const args = [
    "tshark",
    "-l",
    "-n",
    "-i",
    iface,
    "-f",
    `(${opts.filter}) or (ether proto 0x${MARKER_ETHERTYPE.toString(16)})`,
    "-T",
    "fields",
    "-e",
    "eth.type",
    ...opts.fields.flatMap((f) => ["-e", f]),
  ];
  const spawn = (cmd: string[], o: Omit<Deno.CommandOptions, "args">) =>
    opts.stackSide ? pair.spawnInStackNs(cmd, o) : pair.spawn(cmd, o);
  const cap = new LiveCapture(spawn(args, { stdout: "piped", stderr: "piped" }));
  // The marker goes out of the peer end; the veth pair carries it to the stack end too.
  const sender = pair.spawn(["python3", "-c", MARKER_SENDER, pair.peerIf], {
    stdout: "null",
    stderr: "piped",
  });
  try {
    await cap.waitForMarker(opts.readyTimeoutMs ?? 30_000);
  } catch (e) {
    await cap.stop();
    throw e;
  } finally {
    try {
      sender.kill("SIGKILL");
    } catch { /* already gone */ }
    const out = await sender.output();
    if (out.code !== 0 && out.code !== 137) {
      console.error(`marker sender: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  return cap;
}
