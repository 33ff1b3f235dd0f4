/**
 * The fuzzer's files: the seed corpus (real frames captured between the Linux kernel and
 * `ustack serve`, in `corpus/seeds.pcap`, made by `capture_seeds.ts`) and the regression
 * scripts (`corpus/regressions/*.json`): the exact steps that once made the stack throw or
 * leak, replayed by `fuzz_test.ts`.
 *
 * @module
 */

/** Where the seed capture lives. */
export const SEEDS_PCAP: URL = new URL("./corpus/seeds.pcap", import.meta.url);
/** Where regression scripts live (committed). */
export const REGRESSIONS_DIR: URL = new URL("./corpus/regressions/", import.meta.url);

/**
 * Read the frames of a classic pcap file (either byte order, microsecond or nanosecond
 * magic). Throws on a file that is not one.
 */
export function readPcapFrames(bytes: Uint8Array): Uint8Array[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new Error("pcap: shorter than its header");
  const magic = v.getUint32(0, true);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = false;
  else throw new Error("pcap: bad magic");
  if (v.getUint32(20, little) !== 1) throw new Error("pcap: not Ethernet");
  const frames: Uint8Array[] = [];
  let at = 24;
  while (at + 16 <= bytes.length) {
    const incl = v.getUint32(at + 8, little);
    at += 16;
    if (at + incl > bytes.length) throw new Error("pcap: truncated record");
    frames.push(bytes.slice(at, at + incl));
    at += incl;
  }
  return frames;
}

/** Load the seed frames. */
export function loadSeeds(): Uint8Array[] {
  return readPcapFrames(Deno.readFileSync(SEEDS_PCAP));
}

/** One step of a script: let `advanceMs` pass, then inject `frames` in one tick. */
export interface ScriptStep {
  /** Virtual milliseconds to advance before the tick. */
  advanceMs: number;
  /** Frames injected in that tick. */
  frames: Uint8Array[];
  /** The driver's receive flags of each frame (`RX_*`; absent: all 0). */
  flags?: number[];
}

/** How the fuzzed host is set up; part of every script. */
export interface TargetConfig {
  /** Seed of the host's own randomness (ISNs, IP ids) and of its applications' choices. */
  seed: number;
  /** Link MTU. */
  mtu: number;
  /** The driver offers checksum and segmentation offloads. */
  offloads: boolean;
  /**
   * Small tables: reassembly at its smallest memory bound, an ARP cache of 8 with 2 queued
   * packets each, UDP receive queues of 4, TCP buffers of 8 KiB with 2 out-of-order ranges —
   * so the fuzz reaches every bound.
   */
  small?: boolean;
  /** TCP offers no timestamps, SACK or window scaling. */
  plainTcp?: boolean;
  /** Self-test only: plant a handler that throws or leaks (see target.ts). */
  plant?: "escape" | "leak";
}

/** A regression script: what was found, and the steps that reproduce it. */
export interface Script {
  /** What went wrong, e.g. the exception's first line. */
  found: string;
  /** The fuzzer's seed and epoch that found it (for the record). */
  origin: { seed: number; epoch: number };
  /** The host it happened on. */
  target: TargetConfig;
  /** The steps. */
  steps: ScriptStep[];
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * A script as JSON text, one step per line: `[advanceMs, frame, …]`, each frame in hex,
 * prefixed `f<flags>:` when its receive flags are not 0.
 */
export function encodeScript(s: Script): string {
  const frame = (st: ScriptStep, i: number) => {
    const flags = st.flags?.[i] ?? 0;
    return (flags !== 0 ? `f${flags}:` : "") + toHex(st.frames[i]);
  };
  const steps = s.steps.map((st) =>
    "    " + JSON.stringify([st.advanceMs, ...st.frames.map((_, i) => frame(st, i))])
  );
  return "{\n" +
    `  "found": ${JSON.stringify(s.found)},\n` +
    `  "origin": ${JSON.stringify(s.origin)},\n` +
    `  "target": ${JSON.stringify(s.target)},\n` +
    `  "steps": [\n${steps.join(",\n")}\n  ]\n}\n`;
}

/** Parse what {@link encodeScript} wrote. */
export function decodeScript(text: string): Script {
  const j = JSON.parse(text);
  return {
    found: String(j.found),
    origin: j.origin,
    target: j.target,
    steps: (j.steps as [number, ...string[]][]).map(([advanceMs, ...frames]) => {
      const flags = frames.map((f) => /^f(\d+):/.exec(f)?.[1] ?? "0").map(Number);
      return { advanceMs, frames: frames.map((f) => fromHex(f.replace(/^f\d+:/, ""))), flags };
    }),
  };
}

/** Every regression script, with its file name. */
export function loadRegressions(): { name: string; script: Script }[] {
  const out: { name: string; script: Script }[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(REGRESSIONS_DIR)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    const text = Deno.readTextFileSync(new URL(e.name, REGRESSIONS_DIR));
    out.push({ name: e.name, script: decodeScript(text) });
  }
  return out;
}
