/**
 * The kernel's own address changes, as they happen: a {@link KernelAddressWatch} holds a
 * non-blocking `NETLINK_ROUTE` socket subscribed to the IPv4 and IPv6 interface-address
 * notifications of one network namespace and hands out, when asked, what arrived since the
 * last time — the addresses the kernel gained or gave up (`RTM_NEWADDR`/`RTM_DELADDR`), or
 * "re-read everything" when notifications were lost.
 *
 * The socket is read only when asked ({@link KernelAddressWatch.read}; the runtime asks at a low
 * fixed rate, not per tick): nothing pending costs one `recvfrom` that says `EAGAIN` and
 * allocates nothing. One read takes at most {@link KERNEL_ADDRESS_WATCH_READS} datagrams into
 * one buffer of {@link KERNEL_ADDRESS_WATCH_BUFFER_BYTES}; a datagram longer than the buffer
 * (`MSG_TRUNC`), a receive queue the kernel overran (`ENOBUFS`), an `NLMSG_OVERRUN` or a read
 * that hit its bound asks for a full re-read (`resync`) instead of guessing; malformed messages
 * are dropped and counted.
 *
 * @module
 */

import { EAGAIN, ENOBUFS } from "../ffi/errno.ts";
import { MSG_DONTWAIT, MSG_TRUNC, SO_RCVBUF, SOL_SOCKET } from "../ffi/constants.ts";
import { withNetns } from "../ffi/netns.ts";
import {
  type KernelAddressChange,
  NLMSG_HDRLEN,
  openAddressNotifications,
  parseAddressMessages,
} from "../ffi/rtnetlink.ts";
import { close, recvfrom, setsockoptInt } from "../ffi/syscalls.ts";

/** Bytes of the buffer one notification datagram is read into (one is ~60–100 bytes). */
export const KERNEL_ADDRESS_WATCH_BUFFER_BYTES = 16 * 1024;

/** Most datagrams one {@link KernelAddressWatch.read} takes; the rest wait for the next. */
export const KERNEL_ADDRESS_WATCH_READS = 64;

/** Options of {@link KernelAddressWatch.open} (the defaults are what the driver uses). */
export interface KernelAddressWatchOptions {
  /** Named namespace to subscribe in (undefined: the calling thread's). */
  netns?: string;
  /** Bytes of the read buffer [{@link KERNEL_ADDRESS_WATCH_BUFFER_BYTES}]. */
  bufferBytes?: number;
  /** The socket's receive queue (`SO_RCVBUF`, bytes) [the kernel's default, ~208 KiB]. */
  receiveQueueBytes?: number;
}

/** What {@link KernelAddressWatch.read} found. Reused: valid until the next read. */
export interface KernelAddressNews {
  /** The kernel's address changes in arrival order (this namespace, every interface). */
  readonly changes: readonly KernelAddressChange[];
  /** Notifications were lost or left unread: re-read the kernel's whole address set. */
  readonly resync: boolean;
}

/**
 * A subscription to the kernel's interface-address notifications. Set-up path: opened once,
 * read at a low rate, closed with the driver.
 *
 * @example
 * ```ts ignore
 * const watch = KernelAddressWatch.open({ netns: "ustk-1-s" });
 * // … later, from the event loop:
 * const news = watch.read(); // null: nothing happened
 * if (news !== null && news.resync) console.log("re-read the kernel's addresses");
 * watch.close();
 * ```
 */
export class KernelAddressWatch {
  /** Address messages read (`RTM_NEWADDR`/`RTM_DELADDR`, IPv4 and IPv6). */
  messages = 0;
  /** Messages dropped as malformed (a length that does not fit). */
  malformed = 0;
  /** Datagrams longer than the buffer (cut by the kernel, so re-read instead). */
  truncated = 0;
  /** Times the kernel overran the socket's receive queue (`ENOBUFS`, `NLMSG_OVERRUN`). */
  overruns = 0;
  /** Reads that failed with another errno (counted, then a re-read is asked for). */
  failures = 0;
  #fd: number;
  readonly #buf: Uint8Array;
  readonly #changes: KernelAddressChange[] = [];
  readonly #news: { changes: KernelAddressChange[]; resync: boolean };

  private constructor(fd: number, bufferBytes: number) {
    this.#fd = fd;
    this.#buf = new Uint8Array(bufferBytes);
    this.#news = { changes: this.#changes, resync: false };
  }

  /**
   * Subscribe (in `opts.netns`, if given). Throws SyscallError (no netlink in a sandbox, say),
   * RangeError for a buffer of less than a netlink header.
   */
  static open(opts: KernelAddressWatchOptions = {}): KernelAddressWatch {
    const bufferBytes = opts.bufferBytes ?? KERNEL_ADDRESS_WATCH_BUFFER_BYTES;
    if (!(Number.isInteger(bufferBytes) && bufferBytes >= NLMSG_HDRLEN)) {
      throw new RangeError(`KernelAddressWatch: bufferBytes ${bufferBytes} < ${NLMSG_HDRLEN}`);
    }
    const subscribe = () => {
      const fd = openAddressNotifications();
      if (opts.receiveQueueBytes !== undefined) {
        try {
          setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, opts.receiveQueueBytes);
        } catch (e) {
          close(fd);
          throw e;
        }
      }
      return fd;
    };
    const fd = opts.netns === undefined ? subscribe() : withNetns(opts.netns, subscribe);
    return new KernelAddressWatch(fd, bufferBytes);
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#fd >= 0;
  }

  /**
   * What arrived since the last read: null when nothing did (one `recvfrom`, no allocation).
   * Never throws.
   */
  read(): KernelAddressNews | null {
    if (this.#fd < 0) return null;
    const buf = this.#buf;
    const changes = this.#changes;
    changes.length = 0;
    let resync = false;
    let got = 0;
    let reads = 0;
    for (; reads < KERNEL_ADDRESS_WATCH_READS; reads++) {
      // MSG_TRUNC: the datagram's whole length, even when the buffer took less of it.
      const n = recvfrom(this.#fd, buf, buf.length, MSG_DONTWAIT | MSG_TRUNC, null, null);
      if (n === -EAGAIN) break;
      got++;
      if (n === -ENOBUFS) {
        // The queue overflowed and notifications are gone; the socket goes on with the next.
        this.overruns++;
        resync = true;
        continue;
      }
      if (n < 0) {
        this.failures++;
        resync = true;
        break;
      }
      if (n > buf.length) {
        this.truncated++;
        resync = true;
        continue;
      }
      const r = parseAddressMessages(buf, n, changes);
      this.messages += r.changes;
      this.malformed += r.malformed;
      if (r.overrun) {
        this.overruns++;
        resync = true;
      }
    }
    // The bound was hit: what is left is read next time, but this answer may be stale.
    if (reads === KERNEL_ADDRESS_WATCH_READS) resync = true;
    if (got === 0) return null;
    this.#news.resync = resync;
    return this.#news;
  }

  /** Close the socket. Idempotent. */
  close(): void {
    if (this.#fd >= 0) close(this.#fd);
    this.#fd = -1;
  }
}
