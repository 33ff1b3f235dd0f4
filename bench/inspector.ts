/**
 * What the benchmarks that profile a stack in their own process (`heap_sample.ts`,
 * `seq_alloc.ts`, `rr_profile.ts`, `cpu_window.ts`) share of V8's inspector: a
 * promise-returning `post`, the sampling heap profiler's start and stop, the CPU profile's self
 * times, and a profile frame's name as `function file:line` with the file relative to this
 * checkout.
 *
 * @module
 */

import type { Session } from "node:inspector";

/** A profile node's call frame (CPU and sampling heap profiles alike). */
export interface CallFrame {
  /** The function's name ("" for an anonymous one). */
  functionName: string;
  /** The script's URL. */
  url: string;
  /** Zero-based line. */
  lineNumber: number;
}

/** `file://…/` of this checkout's root: stripped from the frames' URLs. */
const ROOT = new URL("../", import.meta.url).href;

/** Call `method` on the inspector session `s`; resolves with its result. */
export function inspectorPost<T>(
  s: Session,
  method: string,
  params?: Record<string, unknown>,
): Promise<T> {
  return new Promise((resolve, reject) =>
    s.post(method, params ?? {}, (err, res) => err ? reject(err) : resolve(res as T))
  );
}

/** `function file:line` of a frame, the file relative to this checkout when it is in it. */
export function frameWhere(f: CallFrame): string {
  const file = f.url.startsWith(ROOT) ? f.url.slice(ROOT.length) : f.url;
  return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
}

/**
 * A heap profile's bytes by site: a site is the allocating function and its callers, `depth`
 * frames in all (frames without a file or a name left out), as `frameWhere`s joined by ` < `.
 */
export function sitesByDepth(
  head: HeapProfileNode,
  depth: number,
): { sites: Map<string, number>; total: number } {
  const sites = new Map<string, number>();
  let total = 0;
  const path: CallFrame[] = [];
  const walk = (n: HeapProfileNode): void => {
    path.push(n.callFrame);
    if (n.selfSize > 0) {
      total += n.selfSize;
      const frames = path.slice(-depth).reverse().filter((f) => f.url !== "" || f.functionName);
      const k = frames.map(frameWhere).join("  < ");
      sites.set(k, (sites.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
    path.pop();
  };
  walk(head);
  return { sites, total };
}

/** A node of a `.cpuprofile`. */
export interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** A `.cpuprofile` (V8's CPU profiler). */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time (µs) by function of a CPU profile, and the whole of it. */
export function selfTimes(p: CpuProfile): { total: number; by: Map<string, number> } {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const by = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    const n = byId.get(p.samples[i]);
    if (n === undefined) continue;
    const k = frameWhere(n.callFrame);
    by.set(k, (by.get(k) ?? 0) + dt);
    total += dt;
  }
  return { total, by };
}

/** A node of a sampling heap profile (`HeapProfiler.stopSampling`). */
export interface HeapProfileNode {
  /** The allocating function. */
  callFrame: CallFrame;
  /** Bytes sampled as allocated by this function at this call path. */
  selfSize: number;
  /** Callees. */
  children: HeapProfileNode[];
}

/**
 * Start V8's sampling heap profiler on `s`, one sample every `intervalBytes`, counting objects
 * that scavenges and full collections took back too (short-lived garbage is what we look for).
 */
export async function startHeapSampling(s: Session, intervalBytes: number): Promise<void> {
  await inspectorPost(s, "HeapProfiler.enable");
  await inspectorPost(s, "HeapProfiler.startSampling", {
    samplingInterval: intervalBytes,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

/** Stop the sampling heap profiler started by {@link startHeapSampling}; its root node. */
export async function stopHeapSampling(s: Session): Promise<HeapProfileNode> {
  const { profile } = await inspectorPost<{ profile: { head: HeapProfileNode } }>(
    s,
    "HeapProfiler.stopSampling",
  );
  return profile.head;
}
