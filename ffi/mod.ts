/**
 * libc bindings for ustack: one lazy `dlopen`, typed syscall wrappers (set-up calls throw a
 * {@link SyscallError}; hot-path calls return `-errno`), struct layouts, constants (AF_XDP's in
 * `if_xdp.ts`), errno names and network-namespace switching.
 *
 * @example
 * ```ts
 * import { eventfdCreate, eventfdSignal, pollfds, setPollfd, POLLIN, pollAsync } from "./mod.ts";
 * const wake = eventfdCreate();
 * const fds = pollfds(1);
 * setPollfd(fds, 0, wake, POLLIN);
 * eventfdSignal(wake);
 * await pollAsync(fds, 100); // 1
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./errno.ts";
export * from "./if_xdp.ts";
export * from "./libc.ts";
export * from "./netns.ts";
export * from "./structs.ts";
export * from "./syscalls.ts";
