/**
 * One AF_PACKET fanout group spreading an interface's frames over the packet sockets of
 * several stacks (one per worker thread), steered by the classic program of
 * `drivers/flow_steering.ts`.
 *
 * The group is anchored by a socket of its own ({@link FanoutGroup.open}): it creates the group
 * (`PACKET_FANOUT_FLAG_UNIQUEID`: the kernel picks a free id), is member 0, carries a filter
 * that accepts nothing, and is never chosen by the program. It keeps the group alive and
 * programmable whatever happens to the workers. The workers' drivers then join with the id
 * ({@link joinFanoutGroup}), one after the other, so that worker i is member `joinOrder(i)`.
 *
 * The group is made with `PACKET_FANOUT_FLAG_IGNORE_OUTGOING` (Linux ≥ 4.20): the kernel hands
 * a frame to a group through the group's one shared hook, whose `ignore_outgoing` comes from
 * that flag alone — a member's own `PACKET_IGNORE_OUTGOING` is not consulted. A frame a member
 * sends is not handed back to its own group (`skb_loop_sk`), and one sent with
 * PACKET_QDISC_BYPASS passes no tap at all; but segments the kernel cuts in software (a device
 * without TSO, where the ring driver keeps the qdisc) carry no socket, and without the flag
 * every one of them is copied back into some worker's ring (and skipped there,
 * `rxOutgoingSkipped`), as is whatever another socket sends on the interface. A kernel that
 * refuses the flag gets a group without it ({@link FanoutGroup.ignoresOutgoing} false); the
 * workers then skip those copies themselves.
 *
 * The kernel keeps its members in join order and takes the program's return value modulo
 * their number (`fanout_demux_bpf`, net/packet/af_packet.c); a member that closes is replaced
 * by the last one. A worker thread that dies does not close its socket (a file descriptor
 * belongs to the process, not the thread), so the member array stays as it was; its slot is
 * handed to the primary worker with {@link FanoutGroup.workerDied}, which installs a new
 * program (`PACKET_FANOUT_DATA`). The dead worker's connections are lost (the primary answers
 * their next segment with a reset); every other connection keeps its worker.
 *
 * Set-up and control only: everything here allocates.
 *
 * @module
 */

import { setClassicProgram, SO_ATTACH_FILTER } from "../ffi/classic_bpf.ts";
import { BPF_K, BPF_RET, ClassicProgram } from "../ffi/classic_bpf.ts";
import {
  PACKET_FANOUT,
  PACKET_FANOUT_CBPF,
  PACKET_FANOUT_DATA,
  PACKET_FANOUT_FLAG_IGNORE_OUTGOING,
  PACKET_FANOUT_FLAG_UNIQUEID,
  SO_RCVBUF,
  SOL_PACKET,
  SOL_SOCKET,
} from "../ffi/constants.ts";
import { SyscallError } from "../ffi/errno.ts";
import { getsockoptInt, setsockoptInt } from "../ffi/syscalls.ts";
import { MAX_STEERED_WORKERS, steeringProgram } from "./flow_steering.ts";
import { openOnInterface, queryLink } from "./interface_open.ts";
import { AF_PACKET_CAPABILITIES, bindPacketSocket, openPacketSocket } from "./packet_socket.ts";
import type { ResourceStack } from "./resource_stack.ts";

/** Options of {@link FanoutGroup.open}. */
export interface FanoutGroupOptions {
  /** The interface whose frames are spread. */
  ifname: string;
  /** Named network namespace (`ip netns`) of the interface; default: the current one. */
  netns?: string;
  /** Workers that will join (1..64). */
  workers: number;
}

/**
 * The PACKET_FANOUT word of a steered group: `id | (CBPF | flags) << 16`. `fanout_add`
 * (net/packet/af_packet.c) stores the creator's flags without `UNIQUEID` and refuses (EINVAL)
 * a joiner whose flags differ, so joiners pass `IGNORE_OUTGOING` exactly when the group has it.
 */
function fanoutWord(id: number, ignoreOutgoing: boolean, uniqueId: boolean): number {
  let typeFlags = PACKET_FANOUT_CBPF;
  if (ignoreOutgoing) typeFlags |= PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
  if (uniqueId) typeFlags |= PACKET_FANOUT_FLAG_UNIQUEID;
  return (id & 0xffff) | (typeFlags << 16);
}

/** Set PACKET_FANOUT with `ignoreOutgoing` first, and without it if the kernel says EINVAL. */
function addToFanout(fd: number, id: number, uniqueId: boolean): boolean {
  try {
    setsockoptInt(fd, SOL_PACKET, PACKET_FANOUT, fanoutWord(id, true, uniqueId));
    return true;
  } catch (e) {
    // Before Linux 4.20 the flag is unknown; when joining, EINVAL also means the group was
    // made without it. Any other refusal is thrown (and EINVAL again below).
    if (!(e instanceof SyscallError && e.code === "EINVAL")) throw e;
  }
  setsockoptInt(fd, SOL_PACKET, PACKET_FANOUT, fanoutWord(id, false, uniqueId));
  return false;
}

/**
 * Join the fanout group `id` (a `PACKET_FANOUT_CBPF` group made by {@link FanoutGroup.open}) with
 * the bound packet socket `fd`, with the group's flags: `PACKET_FANOUT_FLAG_IGNORE_OUTGOING`,
 * or none when the group was made without it. Returns true when the group does not hand this
 * host's transmissions back. Its rings must exist already: changing them later would take the
 * socket out of the group. Throws SyscallError.
 *
 * @example
 * ```ts ignore
 * const ignoresOutgoing = joinFanoutGroup(fd, groupId);
 * ```
 */
export function joinFanoutGroup(fd: number, id: number): boolean {
  return addToFanout(fd, id, false);
}

/**
 * A fanout group and its steering.
 *
 * @example
 * ```ts ignore
 * const group = FanoutGroup.open({ ifname: "us0", workers: 2 });
 * // start worker 0 with group.id, wait until its driver joined, then:
 * group.joined(0);
 * // … worker 1 likewise; if worker 1 dies:
 * group.workerDied(1);
 * group.close();
 * ```
 */
export class FanoutGroup {
  /** The group id the workers' drivers join with. */
  readonly id: number;
  /** Workers steered. */
  readonly workers: number;
  /**
   * True when the group was made with `PACKET_FANOUT_FLAG_IGNORE_OUTGOING` (the kernel does not
   * copy the workers' own transmissions back to them); false when the kernel refused it.
   */
  readonly ignoresOutgoing: boolean;
  /** Member index of each worker (0: not joined, or dead and handed to the primary). */
  readonly #slots: number[];
  readonly #alive: boolean[];
  readonly #fd: number;
  readonly #resources: ResourceStack;
  #members = 1;
  #closed = false;

  private constructor(
    fd: number,
    id: number,
    workers: number,
    ignoresOutgoing: boolean,
    res: ResourceStack,
  ) {
    this.#fd = fd;
    this.id = id;
    this.ignoresOutgoing = ignoresOutgoing;
    this.workers = workers;
    this.#resources = res;
    this.#slots = new Array(workers).fill(0);
    this.#alive = new Array(workers).fill(false);
  }

  /**
   * Create the group on `opts.ifname` with its anchor socket. Throws SyscallError (EPERM
   * without CAP_NET_RAW, ENODEV) or RangeError for a bad worker count.
   */
  static open(opts: FanoutGroupOptions): FanoutGroup {
    const n = opts.workers;
    if (!(Number.isInteger(n) && n >= 1 && n <= MAX_STEERED_WORKERS)) {
      throw new RangeError(`workers must be an integer 1..${MAX_STEERED_WORKERS}, got ${n}`);
    }
    const o = { driver: "FanoutGroup", netns: opts.netns, capabilities: AF_PACKET_CAPABILITIES };
    return openOnInterface(o, (res) => {
      const link = queryLink("FanoutGroup", opts.ifname, undefined);
      const fd = openPacketSocket(res);
      // The anchor accepts nothing, should the program ever pick it.
      setClassicProgram(
        fd,
        SOL_SOCKET,
        SO_ATTACH_FILTER,
        new ClassicProgram().op(BPF_RET | BPF_K, 0).assemble(),
      );
      setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, 4096);
      bindPacketSocket(fd, link.ifindex);
      const ignoresOutgoing = addToFanout(fd, 0, true);
      const id = getsockoptInt(fd, SOL_PACKET, PACKET_FANOUT) & 0xffff;
      const group = new FanoutGroup(fd, id, n, ignoresOutgoing, res);
      group.#install();
      return group;
    });
  }

  /** The primary worker (gets ARP, ICMP, fragments): the lowest-numbered live one, or -1. */
  get primary(): number {
    return this.#alive.indexOf(true);
  }

  /** True while worker `i` is joined and alive. */
  alive(i: number): boolean {
    return this.#alive[i] === true;
  }

  /**
   * Worker `i`'s driver has joined (workers join one at a time, in any order, each call right
   * after its join): it is the next member. Its flows are steered to it from now on.
   */
  joined(i: number): void {
    this.#check(i);
    this.#slots[i] = this.#members++;
    this.#alive[i] = true;
    this.#install();
  }

  /**
   * Worker `i` died with its socket still open: steer its flows (and, if it was the primary,
   * everything else) to the primary. Returns the new primary (-1 when none is left).
   */
  workerDied(i: number): number {
    this.#check(i);
    if (!this.#alive[i]) return this.primary;
    this.#alive[i] = false;
    this.#install();
    return this.primary;
  }

  #check(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.workers)) {
      throw new RangeError(`worker ${i} is not 0..${this.workers - 1}`);
    }
  }

  #install(): void {
    if (this.#closed) return;
    const primary = this.primary;
    const primarySlot = primary < 0 ? 0 : this.#slots[primary];
    const slots = this.#slots.map((s, i) => (this.#alive[i] ? s : primarySlot));
    setClassicProgram(
      this.#fd,
      SOL_PACKET,
      PACKET_FANOUT_DATA,
      steeringProgram(slots, primarySlot),
    );
  }

  /** Close the anchor socket (the group ends when its last member closes). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resources.close();
  }
}
