/**
 * `sched_setattr(2)` for one thing: the calling thread's time slice under the fair scheduler
 * (EEVDF, Linux ≥ 6.12 reads `sched_runtime` of a `SCHED_OTHER` thread as its requested slice,
 * clamped by the kernel to 0.1–100 ms).
 *
 * Why a network stack cares: a thread woken by a frame preempts the thread running on its CPU
 * only if its virtual deadline is the earlier one, and the deadline is its eligible time plus
 * its slice. With the default slice (0.7 ms × (1 + log2 CPUs): 1.4 ms on 2 CPUs) a woken stack thread behind a CPU-bound
 * task waits for that task's protected slice; with a short one it runs at once, the way the
 * kernel's own sleeping `recv` callers of a request/response exchange get the CPU back.
 *
 * @module
 */

import { rawSyscall } from "./raw_syscall.ts";
import { addressOf, allocStruct } from "./structs.ts";

/** `__NR_sched_setattr` on x86-64. */
export const SYS_SCHED_SETATTR = 314;
/** `__NR_sched_getattr` on x86-64. */
export const SYS_SCHED_GETATTR = 315;

/** `sizeof(struct sched_attr)` of its first version (`SCHED_ATTR_SIZE_VER0`, 48 bytes). */
export const SCHED_ATTR_SIZE = 48;

/** `struct sched_attr` field offsets (include/uapi/linux/sched/types.h). */
const ATTR = {
  size: 0, // u32
  policy: 4, // u32
  flags: 8, // u64
  nice: 16, // s32
  priority: 20, // u32
  runtime: 24, // u64: SCHED_DEADLINE's budget; a fair thread's requested slice (ns)
} as const;

/** `SCHED_FLAG_KEEP_POLICY`: leave the policy as it is. */
const SCHED_FLAG_KEEP_POLICY = 0x08;

/** The kernel's bounds of a requested slice (ns): `kernel/sched/syscalls.c`. */
const SLICE_MIN_NS = 100_000;
const SLICE_MAX_NS = 100_000_000;

/**
 * The calling thread's fair-scheduler slice in µs as `sched_getattr` reports it (the default
 * one when none was requested), or `-errno`.
 *
 * @example
 * ```ts
 * const us = schedSliceUs();
 * ```
 */
export function schedSliceUs(): number {
  const attr = allocStruct(SCHED_ATTR_SIZE);
  const r = rawSyscall(SYS_SCHED_GETATTR, 0, addressOf(attr), SCHED_ATTR_SIZE, 0);
  if (r < 0) return r;
  return Number(new DataView(attr.buffer).getBigUint64(ATTR.runtime, true)) / 1000;
}

/**
 * Ask for a fair-scheduler slice of `us` µs for the calling thread (clamped to the kernel's
 * 100 µs–100 ms; 0 goes back to the kernel's default) and keep its policy and nice value. Returns 0, or `-errno` (`EINVAL` from a
 * kernel older than 6.12 that rejects a runtime for a fair thread; `EPERM` cannot happen for
 * a longer or shorter slice: it asks for no more CPU, only for it sooner and in smaller
 * pieces). Set-up only: it allocates.
 *
 * @example
 * ```ts
 * const r = setSchedSliceUs(100);
 * if (r < 0) console.warn("no custom slice on this kernel");
 * ```
 */
export function setSchedSliceUs(us: number): number {
  const ns = us <= 0 ? 0 : Math.min(SLICE_MAX_NS, Math.max(SLICE_MIN_NS, Math.round(us * 1000)));
  const attr = allocStruct(SCHED_ATTR_SIZE);
  const view = new DataView(attr.buffer);
  const got = rawSyscall(SYS_SCHED_GETATTR, 0, addressOf(attr), SCHED_ATTR_SIZE, 0);
  if (got < 0) return got;
  view.setUint32(ATTR.size, SCHED_ATTR_SIZE, true);
  view.setBigUint64(ATTR.flags, BigInt(SCHED_FLAG_KEEP_POLICY), true);
  view.setBigUint64(ATTR.runtime, BigInt(ns), true);
  // nice stays what getattr read; the policy is kept by the flag.
  return rawSyscall(SYS_SCHED_SETATTR, 0, addressOf(attr), 0);
}

/** `__NR_sched_setaffinity` on x86-64. */
export const SYS_SCHED_SETAFFINITY = 203;
/** `__NR_sched_getaffinity` on x86-64. */
export const SYS_SCHED_GETAFFINITY = 204;

/** Bytes of the CPU masks passed to the kernel: 1,024 CPUs, glibc's `cpu_set_t`. */
const CPU_MASK_BYTES = 128;

/**
 * The CPUs the calling thread may run on (`sched_getaffinity(2)`), ascending, or `-errno`.
 * Set-up only: it allocates.
 *
 * @example
 * ```ts
 * const cpus = cpuAffinity(); // e.g. [0, 1]
 * ```
 */
export function cpuAffinity(): number[] | number {
  const mask = allocStruct(CPU_MASK_BYTES);
  const r = rawSyscall(SYS_SCHED_GETAFFINITY, 0, CPU_MASK_BYTES, addressOf(mask));
  if (r < 0) return r;
  const cpus: number[] = [];
  // The syscall returns the kernel's mask size in bytes.
  for (let i = 0; i < r * 8; i++) if ((mask[i >> 3] & (1 << (i & 7))) !== 0) cpus.push(i);
  return cpus;
}

/**
 * Restrict the calling thread to `cpus` (`sched_setaffinity(2)`; an empty list allows every CPU
 * up to 1,023 again). Returns 0 or `-errno` (`EINVAL` when none of them is online).
 *
 * Why a network stack may want it: two spinning stacks of a request/response exchange on a
 * 2-CPU machine end up on one CPU — a frame delivered inside the peer's `sendto` wakes a
 * blocked stack with a *sync* wake-up, which the scheduler places on the waker's CPU on the
 * assumption that the waker goes to sleep — and then take turns through their `sched_yield`
 * while the other CPU idles. A stack pinned to a CPU of its own cannot be moved there.
 * Set-up only: it allocates.
 *
 * @example
 * ```ts
 * if (setCpuAffinity([1]) < 0) console.warn("could not pin to CPU 1");
 * ```
 */
export function setCpuAffinity(cpus: readonly number[]): number {
  const mask = allocStruct(CPU_MASK_BYTES);
  if (cpus.length === 0) mask.fill(0xff);
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= CPU_MASK_BYTES * 8) return -22; // EINVAL
    mask[c >> 3] |= 1 << (c & 7);
  }
  return rawSyscall(SYS_SCHED_SETAFFINITY, 0, CPU_MASK_BYTES, addressOf(mask));
}
