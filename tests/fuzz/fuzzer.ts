/**
 * The fuzz loop. A run of N frames with seed S is cut into epochs of a few thousand frames;
 * each epoch builds a fresh host ({@link FuzzTarget}, its own seed derived from S and the
 * epoch number, its MTU and offloads drawn from it), feeds it frames from a
 * {@link FrameSource} tick by tick while virtual time passes, then drains it (everything
 * closed, every timer run out) and counts the packet buffers that did not come back.
 *
 * Every frame injected is logged for the epoch. When the epoch ends with an escape or a leak,
 * its log becomes a regression script (cut at the first escape, then shrunk by removing steps
 * and frames while it still reproduces) written as JSON for `fuzz_test.ts` to replay.
 *
 * @module
 */

import { SeededRandom } from "../../core/random.ts";
import { encodeScript, type Script, type ScriptStep, type TargetConfig } from "./corpus.ts";
import { SLOT_BYTES } from "./frame_queue.ts";
import { MAX_BATCH } from "./fuzz_driver.ts";
import { PeerModel } from "./peer_model.ts";
import { FrameSource } from "./source.ts";
import { type Escape, FuzzTarget } from "./target.ts";

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** Frames to inject in all. */
  frames: number;
  /** Seed: the same seed injects the same frames. */
  seed: number;
  /** The captured seed frames. */
  seeds: readonly Uint8Array[];
  /** Frames per epoch (one fresh host each) [4096]. */
  epochFrames?: number;
  /** Where to write regression scripts; null writes none. */
  crashDir?: string | URL | null;
  /** Self-test: plant a flaw in every host. */
  plant?: "escape" | "leak";
  /** Called about once a second with a progress line. */
  progress?: ((line: string) => void) | null;
  /** Wall-clock budget for shrinking one script [20 000 ms]. */
  shrinkMs?: number;
}

/** What a run found. */
export interface FuzzResult {
  /** Frames injected. */
  frames: number;
  /** Escapes: exceptions out of the stack, and bugs its NIC caught. */
  escapes: number;
  /** Packet buffers not returned after the hosts drained. */
  leaked: number;
  /** TCP endpoints and UDP sockets still alive after the drains. */
  stuckEndpoints: number;
  /** Frames per second of wall time. */
  framesPerSec: number;
  /** Wall time in seconds. */
  seconds: number;
  /** FNV-1a digest of every frame, flag and time step: equal for equal seeds. */
  digest: number;
  /** Largest JS heap seen (bytes). */
  peakHeapBytes: number;
  /** The first escapes found. */
  found: Escape[];
  /** Regression scripts written. */
  scripts: string[];
  /** The hosts' counters summed over epochs (`layer.Counter` → value): how deep frames got. */
  counters: Record<string, number>;
}

/** The contract's last line: `fuzz: <N> frames, <E> escapes, <L> leaked buffers, <R> frames/s`. */
export function resultLine(r: FuzzResult): string {
  return `fuzz: ${r.frames} frames, ${r.escapes} escapes, ${r.leaked} leaked buffers, ` +
    `${Math.round(r.framesPerSec)} frames/s`;
}

/** Derive an epoch's seed from the run's seed (splitmix32-style). */
function epochSeed(seed: number, epoch: number): number {
  let z = (seed + Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The steps of one epoch, logged into one growing byte buffer (no object per frame). */
class StepLog {
  #buf = new Uint8Array(1 << 20);
  #len = 0;

  reset(): void {
    this.#len = 0;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Start a step: time advance and frame count. */
  step(advanceMs: number, frames: number): void {
    this.#room(5);
    const b = this.#buf;
    const at = this.#len;
    b[at] = advanceMs >>> 24;
    b[at + 1] = (advanceMs >>> 16) & 0xff;
    b[at + 2] = (advanceMs >>> 8) & 0xff;
    b[at + 3] = advanceMs & 0xff;
    b[at + 4] = frames;
    this.#len += 5;
  }

  /** One frame of the current step. */
  frame(f: Uint8Array, len: number, flags: number): void {
    this.#room(len + 3);
    const b = this.#buf;
    const at = this.#len;
    b[at] = len >>> 8;
    b[at + 1] = len & 0xff;
    b[at + 2] = flags;
    b.set(f.subarray(0, len), at + 3);
    this.#len += len + 3;
  }

  /** The first `steps` steps, as script steps. */
  decode(steps: number): ScriptStep[] {
    const out: ScriptStep[] = [];
    const b = this.#buf;
    let at = 0;
    while (at < this.#len && out.length < steps) {
      const advanceMs = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
      const n = b[at + 4];
      at += 5;
      const frames: Uint8Array[] = [];
      const flags: number[] = [];
      for (let i = 0; i < n; i++) {
        const len = (b[at] << 8) | b[at + 1];
        flags.push(b[at + 2]);
        frames.push(b.slice(at + 3, at + 3 + len));
        at += len + 3;
      }
      out.push({ advanceMs, frames, flags });
    }
    return out;
  }
}

/** FNV-1a over bytes, continuing from `h`. */
function fnv(h: number, b: Uint8Array, len: number): number {
  let x = h;
  for (let i = 0; i < len; i++) x = Math.imul(x ^ b[i], 0x01000193);
  return x >>> 0;
}

/** What one replay of a script did. */
export interface ReplayResult {
  /** Escapes. */
  escapes: number;
  /** The first escapes. */
  found: Escape[];
  /** Buffers not returned after the drain. */
  leaked: number;
}

/** Replay `steps` on a fresh host built from `config`, then drain it. */
export function replay(config: TargetConfig, steps: readonly ScriptStep[]): ReplayResult {
  const t = new FuzzTarget(config);
  try {
    for (const st of steps) {
      for (let i = 0; i < st.frames.length; i++) {
        t.driver.queue(st.frames[i], st.frames[i].length, st.flags?.[i] ?? 0);
      }
      t.step(st.advanceMs);
    }
    const leaked = t.drain();
    return { escapes: t.escapeCount, found: t.escapes, leaked };
  } finally {
    t.close();
  }
}

/** The first line of what went wrong: compared to tell one bug from another while shrinking. */
function signature(e: Escape | undefined): string {
  return e === undefined ? "" : `${e.where}: ${e.message.split(" | ")[0]}`;
}

/** Remove steps, then frames, while `still` holds; stops at the time budget. */
function shrink(
  steps: ScriptStep[],
  still: (s: ScriptStep[]) => boolean,
  budgetMs: number,
): ScriptStep[] {
  const deadline = performance.now() + budgetMs;
  let cur = steps;
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1; chunk = chunk >> 1) {
    for (let at = 0; at < cur.length && performance.now() < deadline;) {
      const cand = [...cur.slice(0, at), ...cur.slice(at + chunk)];
      if (cand.length > 0 && still(cand)) cur = cand;
      else at += chunk;
    }
    if (chunk === 1 || performance.now() >= deadline) break;
  }
  for (let s = 0; s < cur.length && performance.now() < deadline; s++) {
    for (let f = 0; f < cur[s].frames.length && cur[s].frames.length > 1;) {
      const step = cur[s];
      const smaller: ScriptStep = {
        advanceMs: step.advanceMs,
        frames: step.frames.filter((_, i) => i !== f),
        flags: step.flags?.filter((_, i) => i !== f),
      };
      const cand = [...cur.slice(0, s), smaller, ...cur.slice(s + 1)];
      if (still(cand)) cur = cand;
      else f++;
    }
  }
  return cur;
}

/** Run the fuzzer. */
export function runFuzz(opts: FuzzOptions): FuzzResult {
  const epochFrames = opts.epochFrames ?? 4096;
  const slots: Uint8Array[] = [];
  for (let i = 0; i < MAX_BATCH; i++) slots.push(new Uint8Array(SLOT_BYTES));
  const log = new StepLog();
  const result: FuzzResult = {
    frames: 0,
    escapes: 0,
    leaked: 0,
    stuckEndpoints: 0,
    framesPerSec: 0,
    seconds: 0,
    digest: 0x811c9dc5,
    peakHeapBytes: 0,
    found: [],
    scripts: [],
    counters: {},
  };
  const t0 = performance.now();
  let lastReport = t0;
  let digest = 0x811c9dc5;
  const word = new Uint8Array(4);
  for (let epoch = 0; result.frames < opts.frames; epoch++) {
    const seed = epochSeed(opts.seed, epoch);
    const rng = new SeededRandom(seed);
    const config: TargetConfig = {
      seed,
      mtu: [1500, 1500, 1500, 1500, 9000, 576, 1280][rng.nextInt(7)],
      offloads: rng.chance(0.3),
      small: rng.chance(0.3),
      plainTcp: rng.chance(0.15),
      ...(opts.plant ? { plant: opts.plant } : {}),
    };
    const target = new FuzzTarget(config);
    const model = new PeerModel();
    target.driver.observer = model;
    const source = new FrameSource(rng, opts.seeds, model, config.mtu);
    log.reset();
    const n = Math.min(epochFrames, opts.frames - result.frames);
    let steps = 0;
    let firstEscapeStep = -1;
    for (let i = 0; i < n;) {
      const advance = source.advanceMs();
      const k = Math.min(source.batch(), n - i);
      log.step(advance, k);
      word[0] = advance >>> 8;
      word[1] = advance & 0xff;
      word[2] = k;
      digest = fnv(digest, word, 3);
      for (let j = 0; j < k; j++) {
        const len = source.next(slots[j]);
        const flags = source.flags();
        target.driver.queue(slots[j], len, flags);
        log.frame(slots[j], len, flags);
        word[0] = flags;
        digest = fnv(fnv(digest, word, 1), slots[j], len);
      }
      target.step(advance);
      steps++;
      if (firstEscapeStep < 0 && target.escapeCount > 0) firstEscapeStep = steps;
      i += k;
    }
    result.frames += n;
    const leaked = target.drain();
    const stuck = target.stack.tcp.endpoints + target.stack.udp.sockets;
    result.escapes += target.escapeCount;
    result.leaked += leaked;
    result.stuckEndpoints += stuck;
    for (const e of target.escapes) if (result.found.length < 8) result.found.push(e);
    for (const [layer, group] of Object.entries(target.stack.stats.snapshot())) {
      for (const [k, v] of Object.entries(group)) {
        if (v !== 0) result.counters[`${layer}.${k}`] = (result.counters[`${layer}.${k}`] ?? 0) + v;
      }
    }
    target.close();
    if ((target.escapeCount > 0 || leaked > 0) && opts.crashDir) {
      const file = writeScript(
        opts,
        config,
        epoch,
        target.escapes[0],
        leaked,
        log,
        firstEscapeStep,
      );
      if (file !== null) result.scripts.push(file);
    }
    const now = performance.now();
    if (epoch % 8 === 0) {
      const heap = Deno.memoryUsage().heapUsed;
      if (heap > result.peakHeapBytes) result.peakHeapBytes = heap;
    }
    if (opts.progress && now - lastReport >= 1000) {
      lastReport = now;
      const rate = result.frames / ((now - t0) / 1000);
      opts.progress(
        `fuzz: … ${result.frames} frames, ${result.escapes} escapes, ${result.leaked} leaked ` +
          `buffers, ${Math.round(rate)} frames/s, heap ${
            (result.peakHeapBytes / 2 ** 20).toFixed(0)
          } MiB`,
      );
    }
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.framesPerSec = result.frames / Math.max(result.seconds, 1e-9);
  result.digest = digest;
  return result;
}

/** Turn the epoch's log into a shrunk script and write it; returns the file path. */
function writeScript(
  opts: FuzzOptions,
  config: TargetConfig,
  epoch: number,
  first: Escape | undefined,
  leaked: number,
  log: StepLog,
  firstEscapeStep: number,
): string | null {
  const kind = first !== undefined ? "escape" : "leak";
  const sig = signature(first);
  let steps = log.decode(firstEscapeStep > 0 ? firstEscapeStep : Number.MAX_SAFE_INTEGER);
  const still = (s: ScriptStep[]) => {
    const r = replay(config, s);
    return kind === "escape" ? signature(r.found[0]) === sig : r.leaked > 0;
  };
  if (!still(steps)) {
    // Not reproducible from the log alone: keep it whole, say so.
    opts.progress?.(
      `fuzz: epoch ${epoch}'s ${kind} did not reproduce on replay; script kept whole`,
    );
  } else {
    steps = shrink(steps, still, opts.shrinkMs ?? 20_000);
  }
  const script: Script = {
    found: kind === "escape" ? sig : `${leaked} packet buffers leaked`,
    origin: { seed: opts.seed, epoch },
    target: config,
    steps,
  };
  const dir = opts.crashDir!;
  Deno.mkdirSync(dir, { recursive: true });
  const base = dir instanceof URL ? dir : new URL(`file://${Deno.realPathSync(dir)}/`);
  const url = new URL(`${kind}-s${opts.seed}-e${epoch}.json`, base);
  Deno.writeTextFileSync(url, encodeScript(script));
  return url.pathname;
}
