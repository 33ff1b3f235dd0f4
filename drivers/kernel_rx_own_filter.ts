/**
 * The af_packet driver's default tcx program ({@link kernelRxOwnDropInsns}) kept in step with
 * the stack's addresses: the host kernel is kept off the frames to each address the stack
 * holds now — the configured ones, the IPv6 link-local and SLAAC addresses, and those added or
 * removed while it runs — and never off one the kernel holds itself.
 *
 * {@link KernelRxOwnFilter.update} is handed the whole set each time (the runtime calls it
 * once per burst of address changes, not per frame): it leaves out the addresses the kernel
 * holds on any interface of the namespace (`SIOCGIFCONF` for IPv4,
 * `/proc/thread-self/net/if_inet6` for IPv6, read in the interface's namespace), keeps at most
 * {@link KERNEL_RX_OWN_DROP_MAX_ADDRESSES} + {@link KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES}
 * (the rest counted in {@link KernelRxOwnFilter.leftOut}), and when the set differs from the
 * program's loads a new program and swaps it into the link (`BPF_LINK_UPDATE`: no frame goes
 * without a program in between), makes the link when there was none, or closes it when no
 * address is left. A kernel or a process that cannot (no tcx, no CAP_BPF, a seccomp filter)
 * leaves the kernel receiving as before: counted in {@link KernelRxOwnFilter.failures}, never
 * thrown.
 *
 * The kernel's own address changes are followed too: from the first update with an address
 * in it, a {@link KernelAddressWatch} (rtnetlink notifications, opened before the kernel's
 * addresses are read, so nothing falls between) tells {@link KernelRxOwnFilter.checkKernel}
 * when the kernel gained or gave up an address of the set — its IPv6 link-local once its IPv6
 * is switched on on the interface, an address an administrator adds or deletes — or lost
 * notifications; the set is then handed to {@link KernelRxOwnFilter.update} again, which
 * re-reads the kernel's addresses. Changes of addresses the stack does not hold load nothing.
 *
 * One update costs a `BPF_PROG_LOAD` (the verifier walks at most ~330 instructions) and a
 * `setns` pair when the interface is in another namespace — bench/README.md, branch
 * `v6drop13`, has the time it took.
 *
 * @module
 */

import { BPF_TCX_INGRESS, bpfLinkCreate, bpfLinkUpdate, bpfProgLoad } from "../ffi/bpf.ts";
import { BPF_PROG_TYPE_SCHED_CLS } from "../ffi/bpf.ts";
import { withNetns } from "../ffi/netns.ts";
import {
  close,
  type Ipv6Words,
  kernelIpv4Addresses,
  kernelIpv6Addresses,
} from "../ffi/syscalls.ts";
import { withControlSocket } from "./interface_open.ts";
import { KernelAddressWatch } from "./kernel_address_watch.ts";
import {
  KERNEL_RX_OWN_DROP_MAX_ADDRESSES,
  KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES,
  kernelRxOwnDropInsns,
} from "./kernel_rx_drop.ts";

/** What a {@link KernelRxOwnFilter} is asked to keep from the kernel. */
export interface KernelRxOwnAddresses {
  /** IPv4 addresses as numbers (`0xc6120002` for 198.18.0.2). */
  v4: readonly number[];
  /** Unicast IPv6 addresses as four words (`[0xfd000000, 0, 0, 2]` for fd00::2). */
  v6: readonly Ipv6Words[];
}

/**
 * The address program on one interface, following the address set it is given. Set-up path
 * only (every call allocates and makes system calls).
 *
 * @example
 * ```ts ignore
 * const f = new KernelRxOwnFilter(ifindex, "ustk-1-s");
 * f.update({ v4: [0xc6120002], v6: [[0xfd000000, 0, 0, 2]] }); // true: attached
 * f.close();
 * ```
 */
export class KernelRxOwnFilter {
  /** Device the program is attached to. */
  readonly ifindex: number;
  /** Named namespace of the device (undefined: the calling thread's). */
  readonly netns: string | undefined;
  /** Programs loaded and attached (the first included). */
  loads = 0;
  /** Updates the kernel refused (load, attach or the address lists: the program stayed as it was). */
  failures = 0;
  /** Addresses of the last update beyond the program's room (their frames reach the kernel). */
  leftOut = 0;
  /** Kernel notifications that named an address of the set (each re-read the kernel's set). */
  kernelChanges = 0;
  /** Re-reads because notifications were lost or cut (overrun, truncated, too many at once). */
  kernelResyncs = 0;
  /** The kernel's notifications could not be subscribed to (its changes are not followed). */
  watchFailures = 0;
  #linkFd = -1;
  #key = "";
  #v4: number[] = [];
  #v6: Ipv6Words[] = [];
  /** The set of the last update, handed over again when the kernel's addresses change. */
  #want: KernelRxOwnAddresses = { v4: [], v6: [] };
  #watch: KernelAddressWatch | null = null;
  #watchTried = false;

  /** A filter for device `ifindex` (in named namespace `netns`, if given); nothing attached. */
  constructor(ifindex: number, netns?: string) {
    this.ifindex = ifindex;
    this.netns = netns;
  }

  /** True while a program is attached. */
  get attached(): boolean {
    return this.#linkFd >= 0;
  }

  /** The IPv4 addresses in the attached program (none when detached). */
  get v4(): readonly number[] {
    return this.#v4;
  }

  /** The IPv6 addresses in the attached program (none when detached). */
  get v6(): readonly Ipv6Words[] {
    return this.#v6;
  }

  /** The kernel's address notifications, once subscribed (null before, or when refused). */
  get kernelWatch(): KernelAddressWatch | null {
    return this.#watch;
  }

  /**
   * Read the kernel's address notifications that arrived since the last call; when one names
   * an address of the last update's set (the kernel gained or gave it up, on any interface:
   * it takes the frames to an address it holds on any of them as its own), or notifications
   * were lost, hand that set to {@link update} again. Returns true when it did. Nothing
   * pending costs one `recvfrom` and allocates nothing. Never throws.
   */
  checkKernel(): boolean {
    const watch = this.#watch;
    if (watch === null) return false;
    const news = watch.read();
    if (news === null) return false;
    let relevant = news.resync;
    if (relevant) this.kernelResyncs++;
    else {
      const want = this.#want;
      for (const c of news.changes) {
        const v6 = c.v6;
        if (
          v6 === null ? want.v4.includes(c.v4) : want.v6.some((w) => sameWords(w, v6))
        ) {
          relevant = true;
          this.kernelChanges++;
          break;
        }
      }
    }
    if (!relevant) return false;
    this.update(this.#want);
    return true;
  }

  /**
   * Make the program drop the frames to `want` (less the kernel's own addresses and those
   * beyond the program's room) and nothing else; returns {@link attached}. A set equal to the
   * program's loads nothing. Never throws: a refusal (SyscallError) or any other failure leaves
   * the program as it was and counts in {@link failures}.
   */
  update(want: KernelRxOwnAddresses): boolean {
    this.#want = want;
    let v4: number[] = [];
    let v6: Ipv6Words[] = [];
    try {
      if (want.v4.length + want.v6.length > 0) {
        [v4, v6] = this.#inNamespace(() => {
          // Subscribed before the kernel's addresses are read: a change after the read is
          // in the socket.
          this.#subscribe();
          // The kernel's own addresses, on any interface: it would take their frames as
          // its own (and their NDP).
          const k4 = withControlSocket((ctl) => kernelIpv4Addresses(ctl));
          const k6 = kernelIpv6Addresses();
          return [
            want.v4.filter((a) => !k4.includes(a)),
            want.v6.filter((a) => (a[0] >>> 24) !== 0xff && !k6.some((k) => sameWords(k, a))),
          ];
        });
      }
    } catch {
      // A SyscallError (or a namespace gone): counted, the program stays. This runs from the
      // event loop (a microtask per burst of address changes): nothing may escape it.
      this.failures++;
      return this.attached;
    }
    v4 = [...new Set(v4)];
    v6 = v6.filter((a, i) => v6.findIndex((b) => sameWords(a, b)) === i);
    this.leftOut = Math.max(0, v4.length - KERNEL_RX_OWN_DROP_MAX_ADDRESSES) +
      Math.max(0, v6.length - KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES);
    v4 = v4.slice(0, KERNEL_RX_OWN_DROP_MAX_ADDRESSES);
    v6 = v6.slice(0, KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES);
    const key = `${v4.join(",")}/${v6.map((a) => a.join(":")).join(",")}`;
    if (key === this.#key && (this.attached || key === "/")) return this.attached;
    if (v4.length + v6.length === 0) {
      this.#detach();
      this.#key = key;
      return false;
    }
    let progFd = -1;
    try {
      progFd = bpfProgLoad({
        type: BPF_PROG_TYPE_SCHED_CLS,
        insns: kernelRxOwnDropInsns(v4, v6),
        license: "GPL",
        expectedAttachType: BPF_TCX_INGRESS,
        name: "ustack_rx_addr",
      });
      if (this.attached) bpfLinkUpdate(this.#linkFd, progFd);
      else {
        // BPF_LINK_CREATE finds the device by index in the calling thread's namespace.
        this.#linkFd = this.#inNamespace(() =>
          bpfLinkCreate(progFd, this.ifindex, BPF_TCX_INGRESS, 0)
        );
      }
    } catch {
      this.failures++;
      return this.attached;
    } finally {
      if (progFd >= 0) close(progFd); // the link holds the program
    }
    this.loads++;
    this.#key = key;
    this.#v4 = v4;
    this.#v6 = v6;
    return true;
  }

  /** Detach the program (the kernel receives every frame again), stop following. Idempotent. */
  close(): void {
    this.#detach();
    this.#watch?.close();
    this.#watch = null;
    this.#watchTried = true;
  }

  /** Open the kernel's address notifications once (in the current namespace). */
  #subscribe(): void {
    if (this.#watchTried) return;
    this.#watchTried = true;
    try {
      this.#watch = KernelAddressWatch.open();
    } catch {
      // No netlink (a sandbox): the program still works, the kernel's changes are not seen.
      this.watchFailures++;
    }
  }

  #detach(): void {
    if (this.#linkFd >= 0) close(this.#linkFd);
    this.#linkFd = -1;
    this.#v4 = [];
    this.#v6 = [];
  }

  #inNamespace<T>(fn: () => T): T {
    return this.netns === undefined ? fn() : withNetns(this.netns, fn);
  }
}

/** True when two IPv6 addresses' words are equal. */
function sameWords(a: Ipv6Words, b: Ipv6Words): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
