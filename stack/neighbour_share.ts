/**
 * Neighbour knowledge shared between stacks on one link (a stack per core, `stack/workers.ts`).
 * The flow steering sends every ARP and ICMPv6 frame to one primary stack; what it learns
 * there must reach the others, whose own connections need the same neighbours. Each stack's
 * {@link NeighbourShare} collects what its ARP and NDP caches learn from the wire into a bounded
 * batch that leaves once per turn of the JS event loop (never a message per packet), and applies
 * the batches other stacks learned. A stack that starts resolving an IPv6 neighbour asks the
 * primary to resolve it too: the advertisement that answers reaches the primary, and NDP drops
 * an advertisement nobody asked for (RFC 4861 §7.2.5). ARP needs no such request: a reply
 * addressed to our address is learned by whoever receives it.
 *
 * @module
 */

import { formatIp, type IpAddress, tryParseIp } from "../net/ip_address.ts";
import { formatIpv4, parseIpv4 } from "../net/ipv4_address.ts";
import type { Stack } from "./stack.ts";

/** One neighbour learned: family, address text, MAC bytes, confirmed (a reply/solicited NA). */
export type SharedNeighbour = [4 | 6, string, number[], boolean];

/** What one stack tells the others: neighbours learned, IPv6 addresses to resolve. */
export interface NeighbourBatch {
  /** Neighbours learned from the wire. */
  learned: SharedNeighbour[];
  /** IPv6 neighbours this stack started resolving (for the primary to resolve too). */
  resolve: string[];
}

/** Most entries one batch holds; more in one turn are dropped and counted. */
export const NEIGHBOUR_BATCH_MAX = 256;

/**
 * The sharing end of one stack's NIC.
 *
 * @example
 * ```ts ignore
 * const share = new NeighbourShare(rt.stack, rt.nic.index, (b) => postMessage(b));
 * onBatchFromOthers((b) => share.apply(b));
 * ```
 */
export class NeighbourShare {
  /** Batches sent, entries sent, batches applied, entries applied, entries dropped (full batch). */
  readonly stats = { batchesOut: 0, learnedOut: 0, batchesIn: 0, learnedIn: 0, dropped: 0 };
  readonly #stack: Stack;
  readonly #nic: number;
  readonly #post: (batch: NeighbourBatch) => void;
  /** Learned this turn, by "family/address": a neighbour learned twice is sent once. */
  #learned = new Map<string, SharedNeighbour>();
  #resolve: string[] = [];
  #scheduled = false;

  /** Hook the ARP and NDP caches of `stack`'s NIC `nicIndex`; batches go to `post`. */
  constructor(stack: Stack, nicIndex: number, post: (batch: NeighbourBatch) => void) {
    this.#stack = stack;
    this.#nic = nicIndex;
    this.#post = post;
    stack.ipv4.arp(nicIndex).onLearned = (ip, mac, confirmed) =>
      this.#add([4, formatIpv4(ip), Array.from(mac), confirmed]);
    const ndp = stack.ipv6.iface(nicIndex).neighbours;
    ndp.onLearned = (ip: IpAddress, mac, confirmed) =>
      this.#add([6, formatIp(ip), Array.from(mac), confirmed]);
    ndp.onResolving = (ip: IpAddress) => {
      if (this.#room()) this.#resolve.push(formatIp(ip));
      this.#schedule();
    };
  }

  #room(): boolean {
    if (this.#learned.size + this.#resolve.length < NEIGHBOUR_BATCH_MAX) return true;
    this.stats.dropped++;
    return false;
  }

  #add(n: SharedNeighbour): void {
    const key = `${n[0]}/${n[1]}`;
    if (this.#learned.has(key) || this.#room()) this.#learned.set(key, n);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => this.flush(), 0);
  }

  /** Send what was collected now (normally done once per event-loop turn by itself). */
  flush(): void {
    this.#scheduled = false;
    if (this.#learned.size === 0 && this.#resolve.length === 0) return;
    const b: NeighbourBatch = { learned: [...this.#learned.values()], resolve: this.#resolve };
    this.#learned = new Map();
    this.#resolve = [];
    this.stats.batchesOut++;
    this.stats.learnedOut += b.learned.length;
    this.#post(b);
  }

  /**
   * Apply a batch another stack sent: learn its neighbours; with `primary`, also start
   * resolving the IPv6 addresses it asked for. Malformed entries are skipped.
   */
  apply(batch: NeighbourBatch, primary: boolean): void {
    this.stats.batchesIn++;
    const arp = this.#stack.ipv4.arp(this.#nic);
    const ndp = this.#stack.ipv6.iface(this.#nic).neighbours;
    const mac = new Uint8Array(6);
    for (const [family, text, bytes, confirmed] of batch.learned ?? []) {
      if (!Array.isArray(bytes) || bytes.length !== 6) continue;
      mac.set(bytes);
      if (family === 4) {
        let ip: number;
        try {
          ip = parseIpv4(text);
        } catch {
          continue;
        }
        arp.learn(ip, mac, confirmed === true);
      } else {
        const ip = tryParseIp(text);
        if (ip === null || ip.family !== 6) continue;
        ndp.share(ip, mac, confirmed === true);
      }
      this.stats.learnedIn++;
    }
    if (primary) {
      for (const text of batch.resolve ?? []) {
        const ip = tryParseIp(text);
        if (ip === null || ip.family !== 6) continue;
        const known = ndp.lookup(ip);
        // Known already: no advertisement will come to announce it, so pass it on now.
        if (known !== null) this.#add([6, text, Array.from(known), false]);
        else ndp.solicit(ip);
      }
    }
    // Packets that waited for these neighbours are staged in the driver: flush them.
    this.#stack.requestTick();
  }
}
