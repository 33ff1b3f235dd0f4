/**
 * The one `Deno.dlopen` of libc, opened lazily on first use (importing this module has no side
 * effects), and the thread's `errno`.
 *
 * Type choices (see docs/linux-ffi-facts.md): `size_t`/`unsigned long`/`off_t` parameters are
 * declared 64-bit and must be passed as BigInt; `ssize_t` results are declared `i32` (safe on
 * x86-64 for the lengths we use, and faster). Callers never use these symbols directly: use the
 * wrappers of `ffi/syscalls.ts`.
 *
 * @module
 */

/** The libc the bindings open: an absolute path, so `--allow-ffi=<path>` can scope to it. */
export const LIBC_PATH = "/lib/x86_64-linux-gnu/libc.so.6";

/** The symbols bound from libc. */
const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  // int ioctl(int fd, unsigned long request, ...): one pointer argument.
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout): timeout 0 (pollNow).
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo, const sigset_t
  // *mask): the event loop's short blocking slice (pollBlocking: ≤ 10 ms, to the microsecond),
  // the signal mask NULL (unchanged).
  ppoll: { parameters: ["buffer", "u64", "buffer", "pointer"], result: "i32" },
  // The same poll on Deno's helper thread, for idle waits (errno is not ours after it).
  poll_nonblocking: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // int epoll_create1(int flags); int epoll_ctl(int epfd, int op, int fd, struct epoll_event *)
  // (set-up only: a driver with two sockets gives the event loop one fd to poll).
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // int sched_yield(void): the busy-poll loop hands the CPU to a runnable thread waiting for it.
  sched_yield: { parameters: [], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // int recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, struct timespec *t)
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  // int open(const char *path, int flags, ...): the optional mode_t as a third argument.
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // int fcntl(int fd, int cmd, ...): the optional argument passed as a long.
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  // long syscall(long number, ...): four long arguments (pointers passed as addresses; unused
  // ones 0); for calls without a fitting symbol: bpf(2), ioctl(2) with an integer argument,
  // sched_getattr(2) and sched_setattr(2).
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
  // int clock_gettime(clockid_t clk, struct timespec *tp): the event loop's clock (vDSO, no
  // syscall), an integer result and the time written to a buffer: no heap number per read.
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The typed libc symbols. */
export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let symbols: LibcSymbols | null = null;
let errnoCell: Int32Array | null = null;

/**
 * The libc symbols, opening the library on first call (needs `--allow-ffi`).
 *
 * @example
 * ```ts
 * const fd = libc().socket(17, 3, 0);
 * ```
 */
export function libc(): LibcSymbols {
  if (symbols === null) {
    const lib = Deno.dlopen(LIBC_PATH, SYMBOLS);
    // errno is thread-local: `__errno_location()` of the JS thread never changes, so one view
    // over it serves every later read (zero-copy, allocation-free).
    const location = lib.symbols.__errno_location();
    if (location === null) throw new Error("libc: __errno_location() returned NULL");
    errnoCell = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(location, 4));
    symbols = lib.symbols;
  }
  return symbols;
}

/**
 * The calling thread's `errno`. Meaningful only right after a failed *synchronous* call (a
 * non-blocking call runs on another thread and leaves this one's errno alone).
 *
 * @example
 * ```ts
 * if (libc().close(fd) < 0) console.log(errno());
 * ```
 */
export function errno(): number {
  if (errnoCell === null) libc();
  return errnoCell![0];
}
