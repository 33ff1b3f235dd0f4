/**
 * The TX ring's kick without a system call (`--tx-kick uring`): an io_uring whose submission
 * queue a kernel thread polls (`IORING_SETUP_SQPOLL`, the thread `iou-sqp-PID` of this process)
 * carries `IORING_OP_SEND` of zero bytes with `MSG_DONTWAIT` on the packet socket — the kernel
 * runs `packet_sendmsg` → `tpacket_snd`, which sends every SEND_REQUEST slot, the same as our
 * `sendto(fd, NULL, 0, MSG_DONTWAIT)`, but on the polling thread and with no syscall of ours.
 * Only a polling thread that went idle (`IORING_SQ_NEED_WAKEUP`, after `idleMs` without work)
 * needs `io_uring_enter(IORING_ENTER_SQ_WAKEUP)`: one syscall, counted (`syscalls`,
 * `txKickWakes`).
 *
 * Bounded: at most one send in flight. A kick asked for while one is in flight is merged
 * (`txKickMerges`): the in-flight send may have passed the newest slots already, so the ring's
 * owner asks again once it completes if its newest slot still waits (`TxRing.serviceKick`).
 * Completions are read from the CQ ring (no syscall); a failed send (other than
 * EAGAIN/ENOBUFS) counts in `txKickErrors`, as a failed `sendto` does.
 *
 * Close order: {@link UringTxKick.close} waits (bounded) for the send in flight, then closes
 * the ring, so no send of the polling thread runs once the TX ring is unmapped and the socket
 * closed.
 *
 * @module
 */

import { EAGAIN, ENOBUFS, SyscallError } from "../ffi/errno.ts";
import { MSG_DONTWAIT } from "../ffi/constants.ts";
import {
  IORING_OP_SEND,
  IoUringSqPoll,
  SQE_FD,
  SQE_MSG_FLAGS,
  SQE_OPCODE,
  SQE_SIZE,
  SQE_USER_DATA,
} from "../ffi/io_uring.ts";

/** Default milliseconds the polling thread spins after its last send before it sleeps. */
export const URING_KICK_DEFAULT_IDLE_MS = 1;
/** How long {@link UringTxKick.close} waits for the send in flight. */
const CLOSE_WAIT_MS = 2000;

/** Counters a {@link UringTxKick} adds to (part of the TX ring's counters). */
export interface UringKickCounters {
  /** Syscalls made: the polling thread's wake-ups. */
  syscalls: number;
  /** Kicks that failed with an error other than EAGAIN/ENOBUFS. */
  txKickErrors: number;
  /** Kicks handed to the polling thread (sends queued in the SQ ring). */
  txKickHandoffs: number;
  /** Handoffs that had to wake the sleeping polling thread (`io_uring_enter`). */
  txKickWakes: number;
  /** Kicks asked for while a send was in flight (merged into it). */
  txKickMerges?: number;
}

/** Options of {@link UringTxKick.open}. */
export interface UringTxKickOptions {
  /** Milliseconds the polling thread spins before it sleeps [1]. */
  idleMs?: number;
  /** Pin the polling thread to this CPU; -1: not pinned [-1]. */
  cpu?: number;
}

/**
 * Kicks of one packet socket's TX ring through a polling io_uring. Per-kick calls allocate
 * nothing and make no syscall unless the polling thread sleeps.
 *
 * @example
 * ```ts ignore
 * const u = UringTxKick.open(fd, { idleMs: 1 });
 * u.request(stats);   // frames published in the TX ring: have them sent
 * u.reap(stats);      // later: read completions (true when the send completed just now)
 * u.close();          // before the ring is unmapped and the socket closed
 * ```
 */
export class UringTxKick {
  readonly #ring: IoUringSqPoll;
  #inFlight = 0;
  #seen = 0;
  /** errno of the last failed send other than EAGAIN/ENOBUFS, or 0. */
  lastErrno = 0;

  private constructor(ring: IoUringSqPoll, fd: number) {
    this.#ring = ring;
    // Every SQE is the same send: written once, a kick only moves the tail.
    const sqes = ring.sqes;
    for (let i = 0; i < ring.sqEntries; i++) {
      const at = i * SQE_SIZE;
      sqes.setUint8(at + SQE_OPCODE, IORING_OP_SEND);
      sqes.setInt32(at + SQE_FD, fd, true);
      sqes.setUint32(at + SQE_MSG_FLAGS, MSG_DONTWAIT, true);
      sqes.setBigUint64(at + SQE_USER_DATA, 1n, true);
    }
    this.#seen = ring.cqHead;
  }

  /**
   * Set up the ring for socket `fd`. Throws `SyscallError` ("io_uring_setup: ENOSYS …",
   * "… EPERM …" where `kernel.io_uring_disabled` forbids it) where io_uring cannot run.
   */
  static open(fd: number, o: UringTxKickOptions = {}): UringTxKick {
    const ring = IoUringSqPoll.setup({
      entries: 2,
      idleMs: o.idleMs ?? URING_KICK_DEFAULT_IDLE_MS,
      cpu: o.cpu ?? -1,
    });
    return new UringTxKick(ring, fd);
  }

  /**
   * {@link open}, or null where io_uring cannot run here (no io_uring, `kernel.io_uring_disabled`,
   * a CPU that does not exist): the caller kicks with `sendto` then. The reason goes to
   * `report`, by default stderr: "ustack: --tx-kick uring unavailable: io_uring_setup: EPERM
   * (Operation not permitted) SQPOLL; kicks stay synchronous".
   */
  static tryOpen(
    fd: number,
    o: UringTxKickOptions = {},
    report: (message: string) => void = (m) => console.error(m),
  ): UringTxKick | null {
    try {
      return UringTxKick.open(fd, o);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      report(`ustack: --tx-kick uring unavailable: ${e.message}; kicks stay synchronous`);
      return null;
    }
  }

  /** True while a send is queued or running (its completion not read yet). */
  get inFlight(): boolean {
    return this.#inFlight !== 0;
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#ring.open;
  }

  /**
   * Have the kernel send the ring's SEND_REQUEST slots: queue a send, or merge into the one in
   * flight (returns false then: the caller asks again after it completes if frames still wait).
   */
  request(stats: UringKickCounters): boolean {
    const ring = this.#ring;
    if (this.#inFlight !== 0 && !this.reap(stats)) {
      if (stats.txKickMerges !== undefined) stats.txKickMerges++;
      return false;
    }
    this.#inFlight = 1;
    ring.publishSqTail(ring.sqTail + 1);
    stats.txKickHandoffs++;
    if (ring.needsWakeup()) {
      stats.txKickWakes++;
      stats.syscalls++;
      const r = ring.wakeup();
      if (r < 0) {
        stats.txKickErrors++;
        this.lastErrno = -r;
      }
    }
    return true;
  }

  /**
   * Read completions: count failed sends; true when the send in flight completed in this call
   * (none is in flight now).
   */
  reap(stats: UringKickCounters): boolean {
    if (this.#inFlight === 0) return false;
    const ring = this.#ring;
    const tail = ring.cqTail;
    let head = this.#seen;
    if (head === tail) return false;
    while (head !== tail) {
      const res = ring.cqeResult(head);
      if (res < 0 && res !== -EAGAIN && res !== -ENOBUFS) {
        stats.txKickErrors++;
        this.lastErrno = -res;
      }
      head = (head + 1) >>> 0;
    }
    this.#seen = head;
    ring.releaseCq(head);
    this.#inFlight = 0;
    return true;
  }

  /**
   * Wait (at most two seconds, spinning) for the send in flight, then close the ring. After
   * this no send of the polling thread touches the socket: the TX ring may be unmapped and the
   * socket closed. Idempotent. Throws if the send did not complete in time (the ring is closed
   * anyway; the kernel keeps the socket alive until the send ends).
   */
  close(stats?: UringKickCounters): void {
    if (!this.#ring.open) return;
    const counters = stats ?? { syscalls: 0, txKickErrors: 0, txKickHandoffs: 0, txKickWakes: 0 };
    const deadline = performance.now() + CLOSE_WAIT_MS;
    while (this.#inFlight !== 0 && !this.reap(counters) && performance.now() < deadline) {
      // A sleeping polling thread that has not taken the send yet needs its wake-up.
      if (this.#ring.needsWakeup() && this.#ring.sqHead !== this.#ring.sqTail) this.#ring.wakeup();
    }
    const stuck = this.#inFlight !== 0;
    this.#ring.close();
    if (stuck) throw new Error("UringTxKick: the send in flight did not complete within 2 s");
  }
}
