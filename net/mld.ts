/**
 * The MLDv2 listener of one interface (RFC 3810 §6): the multicast groups we listen to, with
 * reference counts (several addresses can share a solicited-node group), reported so that
 * snooping switches forward them to us. Joining or leaving sends a state-change report, sent
 * again `robustness − 1` times at random intervals (§6.1); a query is answered after a random
 * part of its maximum response delay (§6.2) with the current state. ff02::1 is never reported
 * (§6), but always listened to.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import { type IpAddr, IpAddress, ipEquals, isUnspecified } from "./ip_address.ts";
import { IPV6_ALL_NODES, multicastScope } from "./ipv6_address.ts";
import {
  MLDV2_CHANGE_TO_EXCLUDE,
  MLDV2_CHANGE_TO_INCLUDE,
  MLDV2_MODE_IS_EXCLUDE,
} from "./mld_header.ts";

/** What the listener asks of the IPv6 layer. */
export interface MldOwner {
  /** Send an MLDv2 report with one source-less record of `recordType` per group. */
  sendMldReport(nicIndex: number, recordType: number, groups: readonly IpAddr[]): void;
}

/** Tunables of MLD (RFC 3810 §9 defaults). */
export interface MldOptions {
  /** Robustness variable: how many times a state change is reported [2]. */
  robustness?: number;
  /** Unsolicited report interval [1000 ms]. */
  unsolicitedReportIntervalMs?: number;
  /** Most groups joined per interface [64]. */
  maxGroups?: number;
  /** Random source in [0, 1) [Math.random]. */
  random?: () => number;
}

interface Membership {
  group: IpAddress;
  refs: number;
}

interface PendingChange {
  group: IpAddress;
  recordType: number;
  left: number;
}

/**
 * MLDv2 on one interface.
 *
 * @example
 * ```ts ignore
 * const mld = new MldListener(nic, owner, timers, clock, stats.icmp6);
 * mld.join(solicitedNode(addr));
 * mld.isMember(dst); // the receive path's multicast filter
 * ```
 */
export class MldListener {
  readonly #nic: number;
  readonly #owner: MldOwner;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #groups: Membership[] = [];
  readonly #changes: PendingChange[] = [];
  readonly #robustness: number;
  readonly #intervalMs: number;
  readonly #max: number;
  readonly #random: () => number;
  readonly #changeTimer: Timer;
  readonly #queryTimer: Timer;
  /** A pending query answer: null = none, `::` = general, else one group. */
  #queried: IpAddress | null = null;
  readonly #one: IpAddress[] = [IPV6_ALL_NODES];

  /** A listener for NIC `nicIndex`; `stats` is the stack's `ndp` counter group. */
  constructor(
    nicIndex: number,
    owner: MldOwner,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    opts: MldOptions = {},
  ) {
    this.#nic = nicIndex;
    this.#owner = owner;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#robustness = Math.max(1, opts.robustness ?? 2);
    this.#intervalMs = opts.unsolicitedReportIntervalMs ?? 1000;
    this.#max = opts.maxGroups ?? 64;
    this.#random = opts.random ?? Math.random;
    this.#changeTimer = new Timer(() => this.#sendChanges());
    this.#queryTimer = new Timer(() => this.#answerQuery());
  }

  /** The groups joined (all-nodes not included: it is implicit). */
  groups(): IpAddress[] {
    return this.#groups.map((m) => m.group);
  }

  /** True when packets to multicast `dst` are for us: all-nodes or a joined group. */
  isMember(dst: IpAddr): boolean {
    if (ipEquals(dst, IPV6_ALL_NODES)) return true;
    const g = this.#groups;
    for (let i = 0; i < g.length; i++) if (ipEquals(g[i].group, dst)) return true;
    return false;
  }

  /** Join `group` (reference-counted); the first join is reported. */
  join(group: IpAddress): boolean {
    if (ipEquals(group, IPV6_ALL_NODES)) return true;
    const m = this.#groups.find((x) => ipEquals(x.group, group));
    if (m !== undefined) {
      m.refs++;
      return true;
    }
    if (this.#groups.length >= this.#max) {
      this.#stats.GroupsRefused++;
      return false;
    }
    this.#groups.push({ group, refs: 1 });
    this.#stateChange(group, MLDV2_CHANGE_TO_EXCLUDE);
    return true;
  }

  /** Leave `group` once; the last leave is reported. */
  leave(group: IpAddr): void {
    const i = this.#groups.findIndex((x) => ipEquals(x.group, group));
    if (i < 0) return;
    const m = this.#groups[i];
    if (--m.refs > 0) return;
    this.#groups.splice(i, 1);
    this.#stateChange(m.group, MLDV2_CHANGE_TO_INCLUDE);
  }

  /**
   * A query arrived for `group` (`::` for a general query) with maximum response delay
   * `maxResponseMs`: answer after a random part of it (RFC 3810 §6.2), unless an answer that
   * covers it is already pending.
   */
  query(group: IpAddr, maxResponseMs: number): void {
    const general = isUnspecified(group);
    if (!general && !this.isMember(group)) return;
    if (this.#queried !== null) {
      if (isUnspecified(this.#queried) || ipEquals(this.#queried, group)) return;
      // Two different pending answers: fold them into one general answer.
      this.#queried = new IpAddress(0, 0, 0, 0);
    } else this.#queried = IpAddress.from(group);
    const at = this.#clock.nowMs() + Math.floor(this.#random() * Math.max(1, maxResponseMs));
    if (!this.#queryTimer.armed || this.#queryTimer.deadlineMs > at) {
      this.#timers.schedule(this.#queryTimer, at);
    }
  }

  /** Report every joined group again (e.g. once a link-local source address is usable). */
  reportAll(): void {
    const groups = this.#reportable();
    if (groups.length > 0) this.#send(MLDV2_CHANGE_TO_EXCLUDE, groups);
  }

  #reportable(): IpAddress[] {
    const out: IpAddress[] = [];
    for (const m of this.#groups) if (multicastScope(m.group) > 1) out.push(m.group);
    return out;
  }

  #stateChange(group: IpAddress, recordType: number): void {
    if (multicastScope(group) <= 1) return;
    const i = this.#changes.findIndex((c) => ipEquals(c.group, group));
    if (i >= 0) this.#changes.splice(i, 1);
    this.#one[0] = group;
    this.#send(recordType, this.#one);
    if (this.#robustness > 1) {
      this.#changes.push({ group, recordType, left: this.#robustness - 1 });
      const at = this.#clock.nowMs() + 1 + Math.floor(this.#random() * this.#intervalMs);
      if (!this.#changeTimer.armed || this.#changeTimer.deadlineMs > at) {
        this.#timers.schedule(this.#changeTimer, at);
      }
    }
  }

  #sendChanges(): void {
    const byType = new Map<number, IpAddress[]>();
    for (const c of this.#changes) {
      let list = byType.get(c.recordType);
      if (list === undefined) byType.set(c.recordType, list = []);
      list.push(c.group);
      c.left--;
    }
    for (const [type, groups] of byType) this.#send(type, groups);
    for (let i = this.#changes.length - 1; i >= 0; i--) {
      if (this.#changes[i].left <= 0) this.#changes.splice(i, 1);
    }
    if (this.#changes.length > 0) {
      const at = this.#clock.nowMs() + 1 + Math.floor(this.#random() * this.#intervalMs);
      this.#timers.schedule(this.#changeTimer, at);
    }
  }

  #answerQuery(): void {
    const q = this.#queried;
    this.#queried = null;
    if (q === null) return;
    if (isUnspecified(q)) {
      const groups = this.#reportable();
      if (groups.length > 0) this.#send(MLDV2_MODE_IS_EXCLUDE, groups);
    } else if (this.isMember(q) && multicastScope(q) > 1) {
      this.#one[0] = q;
      this.#send(MLDV2_MODE_IS_EXCLUDE, this.#one);
    }
  }

  #send(recordType: number, groups: readonly IpAddr[]): void {
    this.#owner.sendMldReport(this.#nic, recordType, groups);
  }
}
