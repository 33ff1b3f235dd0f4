// The IPv6 neighbour cache's bounds for floods: O(1) LRU eviction of resolved entries,
// unresolved entries kept, packets waiting for resolution bounded in all.

import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { makeCounters } from "../../core/counters.ts";
import { LruList } from "../../core/lru_list.ts";
import { BufferPool, HEADROOM_BYTES, type PacketBuffer } from "../../core/packet_buffer.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import type { LinkEndpoint } from "../../link/link_endpoint.ts";
import { type IpAddr, IpAddress } from "../../net/ip_address.ts";
import { NdpCache, type NdpCacheOptions } from "../../net/ndp_cache.ts";
import { NDP_COUNTERS } from "../../stack/stats.ts";

const MAC = new Uint8Array([2, 0, 0, 0, 0, 9]);
const ETHERTYPE_IPV6 = 0x86dd;

function rig(opts: NdpCacheOptions) {
  const clock = new VirtualClock(0);
  const timers = new TimerWheel();
  const pool = new BufferPool({ count: 64, bufferBytes: 2048 });
  const stats = makeCounters(NDP_COUNTERS);
  const sent: PacketBuffer[] = [];
  const link = {
    index: 1,
    output(pb: PacketBuffer) {
      sent.push(pb);
      return true;
    },
  } as unknown as LinkEndpoint;
  const solicits: IpAddr[] = [];
  const owner = {
    sendSolicit: (_nic: number, target: IpAddr) => solicits.push(target),
    unreachable: (_nic: number, pb: PacketBuffer) => pool.free(pb),
  };
  const cache = new NdpCache(link, owner, pool, timers, clock, stats, opts);
  const advance = (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      timers.advance(clock.nowMs());
    }
  };
  return { cache, pool, stats, sent, solicits, advance };
}

const host = (n: number) => IpAddress.parse(`fd00:5::${n.toString(16)}`);

Deno.test("NDP cache: full, the least recently used resolved neighbour makes room (O(1) LRU)", () => {
  const r = rig({ maxEntries: 4 });
  const { cache } = r;
  for (let n = 10; n < 14; n++) cache.learn(host(n), MAC, 0, true, null); // four, resolved
  assert.equal(cache.size, 4);
  // 10 is used now: 11 becomes the least recently used.
  const pb = r.pool.alloc(HEADROOM_BYTES)!;
  assert.ok(cache.send(pb, host(10), ETHERTYPE_IPV6));
  cache.learn(host(14), MAC, 0, true, null);
  assert.equal(cache.size, 4);
  assert.ok(cache.stateOf(host(10)) !== undefined, "the neighbour in use stays");
  assert.equal(cache.stateOf(host(11)), undefined, "the least recently used one went");
  assert.equal(r.stats.CacheFull, 0);
  // Every entry unresolved: nothing to evict, a new resolution fails and is counted.
  const r2 = rig({ maxEntries: 2 });
  for (let n = 20; n < 22; n++) r2.cache.solicit(host(n));
  r2.cache.solicit(host(22));
  assert.equal(r2.cache.size, 2);
  assert.equal(r2.stats.CacheFull, 1);
  assert.equal(r2.cache.stateOf(host(22)), undefined);
});

Deno.test("NDP cache: packets waiting for resolution are bounded per neighbour and in all", () => {
  const r = rig({ maxEntries: 64, queuePerEntry: 4, maxPending: 6 });
  // Three neighbours that never answer, five packets each.
  for (let n = 30; n < 33; n++) {
    for (let k = 0; k < 5; k++) {
      r.cache.send(r.pool.alloc(HEADROOM_BYTES)!, host(n), ETHERTYPE_IPV6);
    }
  }
  assert.equal(r.cache.pending, 6);
  assert.equal(r.pool.inUse, 6);
  assert.equal(r.stats.QueueDrops, 9);
  r.advance(5_000); // they give up: the packets go back to the pool
  assert.equal(r.cache.pending, 0);
  assert.equal(r.cache.size, 0);
  assert.equal(r.pool.inUse, 0);
  // One that answers gets its queue sent and the count goes down with it.
  r.cache.send(r.pool.alloc(HEADROOM_BYTES)!, host(40), ETHERTYPE_IPV6);
  assert.equal(r.cache.pending, 1);
  assert.ok(r.cache.advertised(host(40), MAC, 0, true, true, false));
  assert.equal(r.cache.pending, 0);
  assert.equal(r.sent.length, 1);
});

Deno.test("LruList: touch moves to the tail, the head is the least recently used", () => {
  class E {
    lruPrev: E | null = null;
    lruNext: E | null = null;
    inLru = false;
    constructor(readonly n: number) {}
  }
  const lru = new LruList<E>();
  const e = [new E(0), new E(1), new E(2)];
  for (const x of e) lru.touch(x);
  assert.equal(lru.head, e[0]);
  lru.touch(e[0]);
  assert.equal(lru.head, e[1]);
  lru.remove(e[1]);
  lru.remove(e[1]); // not on the list: nothing
  assert.equal(lru.head, e[2]);
  assert.equal(lru.size, 2);
  lru.remove(e[2]);
  lru.remove(e[0]);
  assert.equal(lru.head, null);
  assert.equal(lru.size, 0);
});

Deno.test("NDP cache: onLearned for what the wire says, onResolving when resolution starts; share() fires neither and sends what waited", () => {
  const r = rig({});
  const { cache } = r;
  const learned: [string, number[], boolean][] = [];
  const resolving: string[] = [];
  cache.onLearned = (ip, mac, confirmed) => learned.push([`${ip}`, Array.from(mac), confirmed]);
  cache.onResolving = (ip) => resolving.push(`${ip}`);
  // A solicitation's source link-layer address: STALE, not confirmed.
  cache.learn(host(1), MAC, 0, true, null);
  assert.deepEqual(learned, [[`${host(1)}`, Array.from(MAC), false]]);
  cache.learn(host(1), MAC, 0, true, null); // nothing new
  assert.equal(learned.length, 1);
  // Resolution started by a packet; a solicited advertisement completes it.
  const pb = r.pool.alloc(HEADROOM_BYTES)!;
  assert.ok(cache.send(pb, host(2), ETHERTYPE_IPV6));
  assert.deepEqual(resolving, [`${host(2)}`]);
  assert.ok(cache.advertised(host(2), MAC, 0, true, true, false));
  assert.deepEqual(learned[1], [`${host(2)}`, Array.from(MAC), true]);
  // Shared from another stack: a packet waiting for host 3 leaves, no hook fires.
  const waiting = r.pool.alloc(HEADROOM_BYTES)!;
  cache.send(waiting, host(3), ETHERTYPE_IPV6);
  const sentBefore = r.sent.length;
  cache.share(host(3), MAC, true);
  assert.equal(r.sent.length, sentBefore + 1);
  assert.equal(cache.stateOf(host(3)), "REACHABLE");
  assert.equal(learned.length, 2);
  cache.share(host(4), MAC, false);
  assert.equal(cache.stateOf(host(4)), "STALE");
  assert.equal(learned.length, 2);
});
