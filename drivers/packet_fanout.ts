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
  PACKET_FANOUT_FLAG_UNIQUEID,
  SO_RCVBUF,
  SOL_PACKET,
  SOL_SOCKET,
} from "../ffi/constants.ts";
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
 * Join the fanout group `id` (a `PACKET_FANOUT_CBPF` group made by {@link FanoutGroup.open}) with
 * the bound packet socket `fd`. Its rings must exist already: changing them later would take
 * the socket out of the group. Throws SyscallError.
 *
 * @example
 * ```ts ignore
 * joinFanoutGroup(fd, groupId);
 * ```
 */
export function joinFanoutGroup(fd: number, id: number): void {
  setsockoptInt(fd, SOL_PACKET, PACKET_FANOUT, (id & 0xffff) | (PACKET_FANOUT_CBPF << 16));
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
  /** Member index of each worker (0: not joined, or dead and handed to the primary). */
  readonly #slots: number[];
  readonly #alive: boolean[];
  readonly #fd: number;
  readonly #resources: ResourceStack;
  #members = 1;
  #closed = false;

  private constructor(fd: number, id: number, workers: number, res: ResourceStack) {
    this.#fd = fd;
    this.id = id;
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
      setsockoptInt(
        fd,
        SOL_PACKET,
        PACKET_FANOUT,
        (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
      );
      const id = getsockoptInt(fd, SOL_PACKET, PACKET_FANOUT) & 0xffff;
      const group = new FanoutGroup(fd, id, n, res);
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
