/**
 * The one cleanup idiom of the drivers: every kernel resource a driver acquires (an fd, a
 * mapping, an attached program) is pushed onto a {@link ResourceStack} with the call that
 * releases it, the moment it is acquired. If set-up fails half-way the stack is unwound —
 * released in reverse order — and the error that stopped the set-up is what the caller sees.
 * If set-up succeeds the driver keeps the stack, and its `close()` closes it: the same
 * releases, in the same reverse order, each attempted even when an earlier one throws.
 *
 * Set-up and close only: pushing allocates a closure.
 *
 * @module
 */

import { close, munmap } from "../ffi/syscalls.ts";

/**
 * Release actions in the order their resources were acquired; run last-first.
 *
 * @example
 * ```ts
 * const res = new ResourceStack();
 * try {
 *   const fd = res.fd(socket(AF_PACKET, SOCK_RAW, 0));
 *   const ring = res.mapping(mmap(bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd), bytes);
 *   bind(fd, sockaddrLl(ifindex));
 * } catch (e) {
 *   res.unwind(); // munmap, then close
 *   throw e;
 * }
 * // ... later, in the driver's close():
 * res.close();
 * ```
 */
export class ResourceStack {
  readonly #releases: (() => void)[] = [];

  /** Number of resources held. */
  get size(): number {
    return this.#releases.length;
  }

  /** Hold a resource: `release` frees it (runs once, in reverse order of `defer` calls). */
  defer(release: () => void): void {
    this.#releases.push(release);
  }

  /** Hold file descriptor `fd` (released with `close(2)`); returns `fd`. */
  fd(fd: number): number {
    this.defer(() => close(fd));
    return fd;
  }

  /** Hold the mapping of `bytes` bytes at `ptr` (released with `munmap(2)`); returns `ptr`. */
  mapping(ptr: Deno.PointerObject, bytes: number): Deno.PointerObject {
    this.defer(() => munmap(ptr, bytes));
    return ptr;
  }

  /**
   * Release, last-first, every resource held beyond the first `keep` (default: all), and
   * forget them. Every release is attempted; the first error is thrown once all have run.
   */
  close(keep = 0): void {
    let first: unknown = null;
    let failed = false;
    while (this.#releases.length > keep) {
      const release = this.#releases.pop()!;
      try {
        release();
      } catch (e) {
        if (!failed) first = e;
        failed = true;
      }
    }
    if (failed) throw first;
  }

  /**
   * Like {@link close}, but errors are swallowed: for the failure path of a set-up, where the
   * error that stopped it matters more than one met while undoing it.
   */
  unwind(keep = 0): void {
    try {
      this.close(keep);
    } catch { /* the original error matters more */ }
  }
}
