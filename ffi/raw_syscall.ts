/**
 * libc's `syscall(2)` with integer arguments, for the calls libc has no fitting symbol for:
 * `bpf(2)`, `io_uring_setup(2)`, `sched_getattr(2)`/`sched_setattr(2)`,
 * `sched_getaffinity(2)`/`sched_setaffinity(2)` and `ioctl(2)` requests that take a plain
 * integer (`TUNSETOFFLOAD`). Set-up only: every call converts its arguments to BigInt.
 *
 * @module
 */

import { errno, libc } from "./libc.ts";

/** `__NR_ioctl` on x86-64 (for {@link rawSyscall}). */
export const SYS_IOCTL = 16;

/**
 * `syscall(nr, a1, a2, a3[, a4])` with up to four integer arguments (a pointer goes as the
 * address of an `allocStruct` block, which never moves): the result, or `-errno`. Never throws.
 *
 * @example
 * ```ts
 * const r = rawSyscall(SYS_IOCTL, tapFd, TUNSETOFFLOAD, TUN_F_CSUM);
 * if (r < 0) throw new SyscallError("ioctl", -r);
 * ```
 */
export function rawSyscall(
  nr: number,
  a1: number | bigint,
  a2: number | bigint,
  a3: number | bigint,
  a4: number | bigint = 0,
): number {
  const r = Number(libc().syscall(BigInt(nr), BigInt(a1), BigInt(a2), BigInt(a3), BigInt(a4)));
  return r < 0 ? -errno() : r;
}
