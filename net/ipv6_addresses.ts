/**
 * The IPv6 addresses of one interface (RFC 4862): each starts tentative and is probed by
 * duplicate address detection (§5.4: one neighbour solicitation from `::` to its
 * solicited-node group, then RetransTimer of silence) before it is used; a conflict makes it
 * `duplicate` for good. Addresses from router advertisements (SLAAC, §5.5.3) carry valid and
 * preferred lifetimes: past the preferred one an address is `deprecated` (kept for what uses
 * it, not chosen for new traffic), past the valid one it is removed.
 *
 * DAD probes carry a nonce option (RFC 7527 §4.1), so a probe of ours that the link reflects
 * back is recognised and not taken for a conflict.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { StackError } from "../core/errors.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";
import { type IpAddr, type IpAddress, ipEquals } from "./ip_address.ts";
import { solicitedNode } from "./ipv6_address.ts";

/** Where an address came from. */
export type Ipv6AddressOrigin = "static" | "link-local" | "slaac";
/** Life state of an address (RFC 4862 §2). */
export type Ipv6AddressState = "tentative" | "preferred" | "deprecated" | "duplicate";

/** Lifetime value meaning "forever" (0xffffffff seconds, RFC 4861 §4.6.2). */
export const LIFETIME_INFINITE = 0xffffffff;
/** RFC 4862 §5.5.3 (e): the valid lifetime an unauthenticated RA cannot cut below. */
const TWO_HOURS_MS = 2 * 3600 * 1000;

/** One address of an interface. */
export class Ipv6InterfaceAddress {
  /** State. */
  state: Ipv6AddressState = "tentative";
  /** When the address stops being valid (ms on the stack clock; Infinity = never). */
  validUntilMs: number = Infinity;
  /** When it becomes deprecated (Infinity = never). */
  preferredUntilMs: number = Infinity;
  /** DAD probes still to send. */
  probesLeft = 0;
  /** The nonce of this address's DAD probes (RFC 7527). */
  readonly nonce: Uint8Array = new Uint8Array(6);
  /** @internal */
  readonly dadTimer: Timer;

  /** Made by {@link Ipv6AddressList.add}. */
  constructor(
    readonly addr: IpAddress,
    readonly prefixLen: number,
    readonly nicIndex: number,
    readonly origin: Ipv6AddressOrigin,
    fire: (a: Ipv6InterfaceAddress) => void,
  ) {
    this.dadTimer = new Timer(() => fire(this));
  }

  /** True when packets may be sent from and accepted for it (preferred or deprecated). */
  get usable(): boolean {
    return this.state === "preferred" || this.state === "deprecated";
  }

  /** `addr/prefixLen`. */
  toString(): string {
    return `${this.addr}/${this.prefixLen}`;
  }
}

/** What the address list asks of the IPv6 layer. */
export interface Ipv6AddressOwner {
  /** Send a DAD probe: NS from `::` for `target` to its solicited-node group, with `nonce`. */
  sendDadProbe(nicIndex: number, target: IpAddr, nonce: Uint8Array): void;
  /** Join (reference-counted) the multicast group `group` on the interface. */
  joinGroup(nicIndex: number, group: IpAddress): void;
  /** Leave (reference-counted) the multicast group `group`. */
  leaveGroup(nicIndex: number, group: IpAddress): void;
  /** `a` changed: became usable, deprecated, duplicate, or `removed`. */
  addressChanged(a: Ipv6InterfaceAddress, event: Ipv6AddressState | "removed"): void;
}

/** Tunables of address configuration (Linux defaults in brackets). */
export interface Ipv6AddressOptions {
  /** DAD probes per address (DupAddrDetectTransmits, 0 turns DAD off) [1]. */
  dadTransmits?: number;
  /**
   * Largest random delay before the first DAD probe after the interface starts
   * (RFC 4862 §5.4.2, MAX_RTR_SOLICITATION_DELAY) [1000 ms].
   */
  dadDelayMaxMs?: number;
  /** Most addresses per interface; more are refused [16]. */
  maxAddresses?: number;
  /** Random source in [0, 1) [Math.random]. */
  random?: () => number;
}

/**
 * The address list of one interface.
 *
 * @example
 * ```ts ignore
 * const list = new Ipv6AddressList(nic, owner, timers, clock, stats.ndp);
 * list.add(IpAddress.parse("fd00:5::2"), 64, "static");
 * ```
 */
export class Ipv6AddressList {
  /** RetransTimer: the wait after the last DAD probe (set from router advertisements). */
  retransMs = 1000;
  readonly #nic: number;
  readonly #owner: Ipv6AddressOwner;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #addrs: Ipv6InterfaceAddress[] = [];
  readonly #dadTransmits: number;
  readonly #dadDelayMaxMs: number;
  readonly #max: number;
  readonly #random: () => number;
  readonly #lifeTimer: Timer;
  #sentAny = false;

  /** An empty list for NIC `nicIndex`; `stats` is the `ndp` counter group. */
  constructor(
    nicIndex: number,
    owner: Ipv6AddressOwner,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    opts: Ipv6AddressOptions = {},
  ) {
    this.#nic = nicIndex;
    this.#owner = owner;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#dadTransmits = opts.dadTransmits ?? 1;
    this.#dadDelayMaxMs = opts.dadDelayMaxMs ?? 1000;
    this.#max = opts.maxAddresses ?? 16;
    this.#random = opts.random ?? Math.random;
    this.#lifeTimer = new Timer(() => this.#onLifetimes());
  }

  /** Every address, in the order added (duplicates included). */
  list(): readonly Ipv6InterfaceAddress[] {
    return this.#addrs;
  }

  /** The entry of `addr`, or undefined. */
  find(addr: IpAddr): Ipv6InterfaceAddress | undefined {
    const a = this.#addrs;
    for (let i = 0; i < a.length; i++) if (ipEquals(a[i].addr, addr)) return a[i];
    return undefined;
  }

  /** True when `addr` is a usable (preferred or deprecated) address here. */
  isUsable(addr: IpAddr): boolean {
    const a = this.#addrs;
    for (let i = 0; i < a.length; i++) {
      if (ipEquals(a[i].addr, addr)) return a[i].usable;
    }
    return false;
  }

  /** True while some address of an origin in `origins` is still tentative. */
  hasTentative(origins: readonly Ipv6AddressOrigin[] = ["static", "link-local", "slaac"]): boolean {
    for (const a of this.#addrs) {
      if (a.state === "tentative" && origins.includes(a.origin)) return true;
    }
    return false;
  }

  /**
   * Add `addr/prefixLen` as tentative and start DAD (RFC 4862 §5.4). Lifetimes are in ms from
   * now (Infinity = forever). Throws EEXIST when present, ENOSPC past `maxAddresses`.
   */
  add(
    addr: IpAddress,
    prefixLen: number,
    origin: Ipv6AddressOrigin,
    validMs = Infinity,
    preferredMs = Infinity,
  ): Ipv6InterfaceAddress {
    if (this.find(addr) !== undefined) {
      throw new StackError("EEXIST", `address ${addr} exists`);
    }
    if (this.#addrs.length >= this.#max) {
      this.#stats.AddressesRefused++;
      throw new StackError("ENOSPC", "too many IPv6 addresses");
    }
    const e = new Ipv6InterfaceAddress(addr, prefixLen, this.#nic, origin, (x) => this.#dadStep(x));
    const now = this.#clock.nowMs();
    e.validUntilMs = now + validMs;
    e.preferredUntilMs = now + preferredMs;
    for (let i = 0; i < e.nonce.length; i++) e.nonce[i] = Math.floor(this.#random() * 256);
    this.#addrs.push(e);
    // RFC 4862 §5.4.2: join the solicited-node group before probing.
    this.#owner.joinGroup(this.#nic, solicitedNode(addr));
    if (this.#dadTransmits <= 0) {
      this.#finishDad(e);
    } else {
      e.probesLeft = this.#dadTransmits;
      // The first message after the interface starts waits a random delay (§5.4.2).
      const delay = this.#sentAny ? 0 : Math.floor(this.#random() * this.#dadDelayMaxMs);
      this.#sentAny = true;
      this.#timers.schedule(e.dadTimer, now + delay);
    }
    this.#armLifetimes();
    return e;
  }

  /** Remove `addr` (leaves its solicited-node group). */
  remove(addr: IpAddr): boolean {
    const i = this.#addrs.findIndex((a) => ipEquals(a.addr, addr));
    if (i < 0) return false;
    const e = this.#addrs[i];
    this.#addrs.splice(i, 1);
    this.#timers.cancel(e.dadTimer);
    if (e.state !== "duplicate") this.#owner.leaveGroup(this.#nic, solicitedNode(e.addr));
    this.#owner.addressChanged(e, "removed");
    return true;
  }

  /**
   * A neighbour solicitation from `::` or an advertisement named `target` (RFC 4862 §5.4.3–4).
   * `nonce` is the probe's nonce option (null when absent): our own reflected probe is
   * ignored. Returns true when `target` was tentative here and is now duplicate.
   */
  dadConflict(target: IpAddr, nonce: Uint8Array | null, nonceOff = 0): boolean {
    const e = this.find(target);
    if (e === undefined || e.state !== "tentative") return false;
    if (nonce !== null) {
      let same = true;
      for (let i = 0; i < 6; i++) if (nonce[nonceOff + i] !== e.nonce[i]) same = false;
      if (same) {
        this.#stats.DadLoopedBack++;
        return false;
      }
    }
    this.#timers.cancel(e.dadTimer);
    e.state = "duplicate";
    this.#stats.DadFailures++;
    this.#owner.leaveGroup(this.#nic, solicitedNode(e.addr));
    this.#owner.addressChanged(e, "duplicate");
    return true;
  }

  /**
   * A prefix information option with the A flag (RFC 4862 §5.5.3): make `addr` (the prefix
   * plus our interface identifier) or refresh its lifetimes (in seconds) by rule (e).
   */
  slaacPrefix(addr: IpAddress, prefixLen: number, validS: number, preferredS: number): void {
    const validMs = validS === LIFETIME_INFINITE ? Infinity : validS * 1000;
    const preferredMs = preferredS === LIFETIME_INFINITE ? Infinity : preferredS * 1000;
    const now = this.#clock.nowMs();
    const e = this.find(addr);
    if (e === undefined) {
      if (validS === 0) return;
      try {
        this.add(addr, prefixLen, "slaac", validMs, preferredMs);
      } catch {
        // counted by add (refused); an RA cannot make us throw
      }
      return;
    }
    if (e.origin !== "slaac" || e.state === "duplicate") return;
    e.preferredUntilMs = now + preferredMs;
    const remaining = e.validUntilMs - now;
    if (validMs > TWO_HOURS_MS || validMs > remaining) e.validUntilMs = now + validMs;
    else if (remaining > TWO_HOURS_MS) e.validUntilMs = now + TWO_HOURS_MS;
    if (e.state === "deprecated" && now < e.preferredUntilMs) {
      e.state = "preferred";
      this.#owner.addressChanged(e, "preferred");
    }
    this.#armLifetimes();
  }

  #dadStep(e: Ipv6InterfaceAddress): void {
    if (e.state !== "tentative") return;
    if (e.probesLeft > 0) {
      e.probesLeft--;
      this.#stats.DadProbes++;
      this.#owner.sendDadProbe(this.#nic, e.addr, e.nonce);
      this.#timers.schedule(e.dadTimer, this.#clock.nowMs() + this.retransMs);
      return;
    }
    this.#finishDad(e);
  }

  #finishDad(e: Ipv6InterfaceAddress): void {
    const now = this.#clock.nowMs();
    e.state = now >= e.preferredUntilMs ? "deprecated" : "preferred";
    this.#stats.DadSuccesses++;
    this.#owner.addressChanged(e, e.state);
  }

  #armLifetimes(): void {
    let next = Infinity;
    for (const a of this.#addrs) {
      if (a.state === "duplicate") continue;
      next = Math.min(next, a.validUntilMs);
      if (a.state !== "deprecated") next = Math.min(next, a.preferredUntilMs);
    }
    if (next === Infinity) this.#timers.cancel(this.#lifeTimer);
    else this.#timers.schedule(this.#lifeTimer, Math.max(next, this.#clock.nowMs() + 1));
  }

  #onLifetimes(): void {
    const now = this.#clock.nowMs();
    for (const a of [...this.#addrs]) {
      if (a.state === "duplicate") continue;
      if (now >= a.validUntilMs) {
        this.#stats.AddressesExpired++;
        this.remove(a.addr);
      } else if (now >= a.preferredUntilMs && a.state === "preferred") {
        a.state = "deprecated";
        this.#owner.addressChanged(a, "deprecated");
      }
    }
    this.#armLifetimes();
  }
}
