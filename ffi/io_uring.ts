/**
 * io_uring's kernel ABI (`linux/io_uring.h`, x86-64) for one use: a ring whose submission
 * queue is polled by a kernel thread (`IORING_SETUP_SQPOLL`), so that queueing a request is a
 * store into shared memory, not a system call. `io_uring_setup(2)` and `io_uring_enter(2)`
 * have no libc wrapper: they go through libc's `syscall`.
 *
 * Layout: the SQ ring (head, tail, mask, flags, the index array) and the CQ ring (head, tail,
 * mask, the CQEs) share one mapping when the kernel says `IORING_FEAT_SINGLE_MMAP` (every
 * kernel since 5.4), else two; the SQE array is a mapping of its own.
 *
 * Memory ordering (the io_uring ABI, as liburing does it): the producer fills an SQE, then
 * publishes it with a release store of the SQ tail; the kernel publishes a CQE, then a release
 * store of the CQ tail, which we read with an acquire load before reading the CQE, and we hand
 * the CQE back with a store of the CQ head. With a polling SQ thread, the tail store and the
 * read of `IORING_SQ_NEED_WAKEUP` need a full barrier between them (else we may read "awake"
 * while the thread is going to sleep without seeing our tail): x86-64 is TSO, where only a
 * store followed by a load can be reordered, and V8 compiles `Atomics.store` to `xchg`, a full
 * barrier there — so every shared word here is written with `Atomics.store` and read with
 * `Atomics.load` (plain typed-array accesses could also be reordered by the compiler).
 *
 * @module
 */

import { errno, libc } from "./libc.ts";
import { rawSyscall } from "./raw_syscall.ts";
import { EOPNOTSUPP, SyscallError } from "./errno.ts";
import { MAP_POPULATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "./constants.ts";
import { addressOf, allocStruct } from "./structs.ts";
import { close, mmap, munmap } from "./syscalls.ts";

/** `__NR_io_uring_setup` on x86-64. */
export const SYS_IO_URING_SETUP = 425;
/** `__NR_io_uring_enter` on x86-64. */
export const SYS_IO_URING_ENTER = 426;

/** Setup flag: a kernel thread polls the submission queue. */
export const IORING_SETUP_SQPOLL = 1 << 1;
/** Setup flag: pin the polling thread to `sq_thread_cpu`. */
export const IORING_SETUP_SQ_AFF = 1 << 2;
/** Feature: the SQ and CQ rings share one mapping. */
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
/** SQ ring flag: the polling thread sleeps; wake it with `IORING_ENTER_SQ_WAKEUP`. */
export const IORING_SQ_NEED_WAKEUP = 1 << 0;
/** `io_uring_enter` flag: wake the polling thread. */
export const IORING_ENTER_SQ_WAKEUP = 1 << 1;
/** Opcode: `send(2)` on a socket (kernel 5.6+). */
export const IORING_OP_SEND = 26;
/** Opcode: no operation (completes at once). */
export const IORING_OP_NOP = 0;

/** mmap offset of the SQ ring. */
export const IORING_OFF_SQ_RING = 0n;
/** mmap offset of the CQ ring (without SINGLE_MMAP). */
export const IORING_OFF_CQ_RING = 0x8000000n;
/** mmap offset of the SQE array. */
export const IORING_OFF_SQES = 0x10000000n;

// --- struct io_uring_params, 120 bytes --------------------------------------------------------

/** `sizeof(struct io_uring_params)`. */
export const IO_URING_PARAMS_SIZE = 120;
const P_SQ_ENTRIES = 0;
const P_CQ_ENTRIES = 4;
const P_FLAGS = 8;
const P_SQ_THREAD_CPU = 12;
const P_SQ_THREAD_IDLE = 16;
const P_FEATURES = 20;
/** `struct io_sqring_offsets` inside the params. */
const P_SQ_OFF = 40;
/** `struct io_cqring_offsets` inside the params. */
const P_CQ_OFF = 80;
// io_sqring_offsets: head, tail, ring_mask, ring_entries, flags, dropped, array (u32 each).
const SQ_OFF_HEAD = 0;
const SQ_OFF_TAIL = 4;
const SQ_OFF_RING_MASK = 8;
const SQ_OFF_FLAGS = 16;
const SQ_OFF_ARRAY = 24;
// io_cqring_offsets: head, tail, ring_mask, ring_entries, overflow, cqes (u32 each).
const CQ_OFF_HEAD = 0;
const CQ_OFF_TAIL = 4;
const CQ_OFF_RING_MASK = 8;
const CQ_OFF_CQES = 20;

// --- struct io_uring_sqe, 64 bytes; struct io_uring_cqe, 16 bytes ------------------------------

/** `sizeof(struct io_uring_sqe)`. */
export const SQE_SIZE = 64;
/** SQE: `opcode` (u8). */
export const SQE_OPCODE = 0;
/** SQE: `fd` (s32). */
export const SQE_FD = 4;
/** SQE: `addr` (u64): the buffer. */
export const SQE_ADDR = 16;
/** SQE: `len` (u32). */
export const SQE_LEN = 24;
/** SQE: `msg_flags` (u32) for send. */
export const SQE_MSG_FLAGS = 28;
/** SQE: `user_data` (u64), handed back in the CQE. */
export const SQE_USER_DATA = 32;
/** `sizeof(struct io_uring_cqe)`. */
export const CQE_SIZE = 16;
/** CQE: `res` (s32): the result, or `-errno`. */
export const CQE_RES = 8;

/** How to set a ring up ({@link IoUringSqPoll.setup}). */
export interface IoUringSqPollOptions {
  /** Submission-queue entries (a power of two, 1..4096). */
  entries: number;
  /** Milliseconds the polling thread spins after its last work before it sleeps (≥ 1). */
  idleMs: number;
  /** Pin the polling thread to this CPU (`IORING_SETUP_SQ_AFF`); -1 or absent: not pinned. */
  cpu?: number;
}

/**
 * A ring with a kernel thread polling its submission queue (`iou-sqp-PID`, a thread of this
 * process): the SQ and CQ ring words, the SQE and CQE arrays, mapped. Set-up and close throw
 * {@link SyscallError}; the per-request calls neither throw nor allocate.
 *
 * @example
 * ```ts ignore
 * const ring = IoUringSqPoll.setup({ entries: 2, idleMs: 1 });
 * const i = ring.sqTail & ring.sqMask; // fill ring.sqes at i * SQE_SIZE, then:
 * ring.publishSqTail(ring.sqTail + 1);
 * if (ring.needsWakeup()) ring.wakeup();
 * ring.close();
 * ```
 */
export class IoUringSqPoll {
  /** The ring's fd. */
  readonly fd: number;
  /** SQ and CQ entries. */
  readonly sqEntries: number;
  /** CQ entries. */
  readonly cqEntries: number;
  /** Index mask of the SQ (entries - 1). */
  readonly sqMask: number;
  /** Index mask of the CQ. */
  readonly cqMask: number;
  /** The SQE array (`sqEntries * SQE_SIZE` bytes). */
  readonly sqes: DataView;
  /** The CQE array (`cqEntries * CQE_SIZE` bytes). */
  readonly cqes: DataView;
  /** The SQ tail as we last published it (only we write it). */
  sqTail = 0;
  readonly #ring: Int32Array;
  readonly #sqHead: number;
  readonly #sqTailWord: number;
  readonly #sqFlags: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #maps: { p: Deno.PointerObject; bytes: number }[];
  #open = true;
  // io_uring_enter's arguments as BigInts made once: a wake-up allocates nothing of ours.
  readonly #enterArgs: bigint[];

  private constructor(
    fd: number,
    params: DataView,
    ring: ArrayBuffer,
    cqRing: ArrayBuffer,
    sqes: ArrayBuffer,
    maps: { p: Deno.PointerObject; bytes: number }[],
  ) {
    this.fd = fd;
    this.#maps = maps;
    this.sqEntries = params.getUint32(P_SQ_ENTRIES, true);
    this.cqEntries = params.getUint32(P_CQ_ENTRIES, true);
    const sqRing = new DataView(ring);
    this.sqMask = sqRing.getUint32(params.getUint32(P_SQ_OFF + SQ_OFF_RING_MASK, true), true);
    this.#ring = new Int32Array(ring);
    const cqWords = new Int32Array(cqRing);
    if (cqRing !== ring) throw new Error("io_uring: separate CQ ring mapping not supported");
    this.#sqHead = params.getUint32(P_SQ_OFF + SQ_OFF_HEAD, true) >>> 2;
    this.#sqTailWord = params.getUint32(P_SQ_OFF + SQ_OFF_TAIL, true) >>> 2;
    this.#sqFlags = params.getUint32(P_SQ_OFF + SQ_OFF_FLAGS, true) >>> 2;
    this.#cqHead = params.getUint32(P_CQ_OFF + CQ_OFF_HEAD, true) >>> 2;
    this.#cqTail = params.getUint32(P_CQ_OFF + CQ_OFF_TAIL, true) >>> 2;
    this.cqMask = cqWords[params.getUint32(P_CQ_OFF + CQ_OFF_RING_MASK, true) >>> 2];
    this.cqes = new DataView(
      ring,
      params.getUint32(P_CQ_OFF + CQ_OFF_CQES, true),
      this.cqEntries * CQE_SIZE,
    );
    this.sqes = new DataView(sqes);
    // The SQ's index array: slot i names SQE i, once for all (SQEs are used in ring order).
    const array = params.getUint32(P_SQ_OFF + SQ_OFF_ARRAY, true) >>> 2;
    for (let i = 0; i < this.sqEntries; i++) Atomics.store(this.#ring, array + i, i);
    this.sqTail = Atomics.load(this.#ring, this.#sqTailWord) >>> 0;
    this.#enterArgs = [
      BigInt(SYS_IO_URING_ENTER),
      BigInt(fd),
      0n,
      0n,
      BigInt(IORING_ENTER_SQ_WAKEUP),
    ];
  }

  /**
   * `io_uring_setup(2)` with `IORING_SETUP_SQPOLL` (and `SQ_AFF` when `cpu` ≥ 0), then the
   * mappings. Throws a {@link SyscallError} ("io_uring_setup": ENOSYS where the kernel has no
   * io_uring, EPERM where `kernel.io_uring_disabled` forbids it, EINVAL for a bad option).
   */
  static setup(o: IoUringSqPollOptions): IoUringSqPoll {
    if (!Number.isInteger(o.entries) || o.entries < 1 || o.entries > 4096) {
      throw new RangeError(`io_uring: entries must be 1..4096, got ${o.entries}`);
    }
    if (!Number.isInteger(o.idleMs) || o.idleMs < 1 || o.idleMs > 60_000) {
      throw new RangeError(`io_uring: idleMs must be an integer 1..60000, got ${o.idleMs}`);
    }
    const cpu = o.cpu ?? -1;
    const p = allocStruct(IO_URING_PARAMS_SIZE);
    const v = new DataView(p.buffer);
    v.setUint32(P_FLAGS, IORING_SETUP_SQPOLL | (cpu >= 0 ? IORING_SETUP_SQ_AFF : 0), true);
    v.setUint32(P_SQ_THREAD_CPU, cpu >= 0 ? cpu : 0, true);
    v.setUint32(P_SQ_THREAD_IDLE, o.idleMs, true);
    const fd = rawSyscall(SYS_IO_URING_SETUP, o.entries, addressOf(p), 0);
    if (fd < 0) throw new SyscallError("io_uring_setup", -fd, "SQPOLL");
    const maps: { p: Deno.PointerObject; bytes: number }[] = [];
    try {
      if ((v.getUint32(P_FEATURES, true) & IORING_FEAT_SINGLE_MMAP) === 0) {
        throw new SyscallError(
          "io_uring_setup",
          EOPNOTSUPP,
          "no IORING_FEAT_SINGLE_MMAP (kernel < 5.4)",
        );
      }
      const sqBytes = v.getUint32(P_SQ_OFF + SQ_OFF_ARRAY, true) +
        v.getUint32(P_SQ_ENTRIES, true) * 4;
      const cqBytes = v.getUint32(P_CQ_OFF + CQ_OFF_CQES, true) +
        v.getUint32(P_CQ_ENTRIES, true) * CQE_SIZE;
      const ringBytes = Math.max(sqBytes, cqBytes);
      const flags = MAP_SHARED | MAP_POPULATE;
      const ringPtr = mmap(ringBytes, PROT_READ | PROT_WRITE, flags, fd, IORING_OFF_SQ_RING);
      maps.push({ p: ringPtr, bytes: ringBytes });
      const sqeBytes = v.getUint32(P_SQ_ENTRIES, true) * SQE_SIZE;
      const sqePtr = mmap(sqeBytes, PROT_READ | PROT_WRITE, flags, fd, IORING_OFF_SQES);
      maps.push({ p: sqePtr, bytes: sqeBytes });
      const ring = Deno.UnsafePointerView.getArrayBuffer(ringPtr, ringBytes);
      const sqes = Deno.UnsafePointerView.getArrayBuffer(sqePtr, sqeBytes);
      return new IoUringSqPoll(fd, v, ring, ring, sqes, maps);
    } catch (e) {
      for (let i = maps.length - 1; i >= 0; i--) munmap(maps[i].p, maps[i].bytes);
      close(fd);
      throw e;
    }
  }

  /** The kernel's SQ head: SQEs below it were taken by the polling thread. */
  get sqHead(): number {
    return Atomics.load(this.#ring, this.#sqHead) >>> 0;
  }

  /** Publish SQEs up to `tail` (release store; a full barrier on x86-64, see the module). */
  publishSqTail(tail: number): void {
    this.sqTail = tail >>> 0;
    Atomics.store(this.#ring, this.#sqTailWord, this.sqTail | 0);
  }

  /** True when the polling thread sleeps and must be woken ({@link wakeup}) to see new SQEs. */
  needsWakeup(): boolean {
    return (Atomics.load(this.#ring, this.#sqFlags) & IORING_SQ_NEED_WAKEUP) !== 0;
  }

  /** `io_uring_enter(fd, 0, 0, IORING_ENTER_SQ_WAKEUP)`: 0, or `-errno`. One system call. */
  wakeup(): number {
    const a = this.#enterArgs;
    const r = Number(libc().syscall(a[0], a[1], a[2], a[3], a[4]));
    return r < 0 ? -errno() : r;
  }

  /** The kernel's CQ tail (acquire load): CQEs below it are complete. */
  get cqTail(): number {
    return Atomics.load(this.#ring, this.#cqTail) >>> 0;
  }

  /** Our CQ head: CQEs below it were read. */
  get cqHead(): number {
    return Atomics.load(this.#ring, this.#cqHead) >>> 0;
  }

  /** The `res` of the CQE at ring position `n` (not yet handed back). */
  cqeResult(n: number): number {
    return this.cqes.getInt32((n & this.cqMask) * CQE_SIZE + CQE_RES, true);
  }

  /** Hand the CQEs below `head` back to the kernel. */
  releaseCq(head: number): void {
    Atomics.store(this.#ring, this.#cqHead, head | 0);
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#open;
  }

  /**
   * Unmap the rings and close the ring's fd; the kernel then stops the polling thread (after
   * requests in flight complete: each holds its own reference to its file). Idempotent.
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (let i = this.#maps.length - 1; i >= 0; i--) munmap(this.#maps[i].p, this.#maps[i].bytes);
    close(this.fd);
  }
}
