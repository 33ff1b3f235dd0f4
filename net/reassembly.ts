/**
 * Fragment reassembly for either IP family (RFC 791 §3.2 and RFC 815 for IPv4, RFC 8200 §4.5
 * for IPv6): the family code parses its header into a key and hands over each fragment's
 * offset, length and payload; this module keeps the incomplete datagrams.
 *
 * Memory is bounded in bytes, like Linux's `ipfrag_high_thresh`: every incomplete datagram is
 * charged for its buffer and its bookkeeping. A datagram's buffer starts small (2 KiB) and
 * doubles as fragments further into it arrive, so a lone first fragment costs ~2.3 KB, not
 * 64 KB; when it must grow, it grows at once to the size of the last datagram completed if
 * that is larger (a train of same-sized datagrams copies its first fragment once, not at every
 * doubling). When a new fragment needs room:
 *
 * 1. its source is over its own cap (`maxBytesPerSource`): that source's oldest incomplete
 *    datagrams are evicted (`ReasmSourceEvictions`), so one peer cannot take everything and a
 *    peer's stream of incomplete trains only ever displaces its own;
 * 2. all datagrams together are over `maxBytes`: the oldest incomplete datagrams anywhere are
 *    evicted (`ReasmEvictions`), so new traffic is never refused because old junk fills the
 *    table (Linux refuses new fragments above the threshold; evicting the oldest keeps a
 *    flood of lone first fragments from making the host deaf to fragmented traffic).
 *
 * Fragments that partly overlap data already received drop the whole datagram
 * (`ReasmOverlaps`, RFC 5722's rule, which Linux applies to IPv4 too); exact duplicates are
 * ignored (`ReasmDuplicates`; only a fragment with the same start and end as one received is a
 * duplicate). A datagram not complete within `timeoutMs` is discarded
 * (`ReasmTimeout`). Fragments that cannot be part of any datagram (empty, a non-final one that
 * is not a multiple of 8 bytes, reaching past the largest datagram) are refused
 * (`ReasmMalformed`). Every datagram lost counts `ReasmFails` once.
 *
 * Datagrams are found by a keyed hash (SipHash, so a peer cannot aim fragments at one bucket)
 * of the key bytes plus an exact compare — except that the datagram of the previous fragment is
 * compared first, unhashed, as a datagram's fragments mostly arrive back to back (measured,
 * `bench/reassembly_bench.ts`: 8,908 B in 7 fragments 5.0 µs → 1.5 µs with this, whole-word
 * block bitmaps and the one-step growth); the key's first `sourceBytes` bytes are the source
 * address. IPv4 uses 11 key bytes, IPv6 will use 36 (two 128-bit addresses, a 32-bit id).
 * Buffers and records are reused through free lists; memory held, including the free lists,
 * never exceeds `maxBytes`.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Counters } from "../core/counters.ts";
import { SubarrayCache } from "../core/subarray_cache.ts";
import { RX_CSUM_VALID } from "../link/driver.ts";
import { randomSipKey, siphash24 } from "../core/siphash.ts";
import { Timer, type TimerWheel } from "../core/timer_wheel.ts";

/** Tunables of reassembly (either IP family). */
export interface ReassemblyOptions {
  /**
   * Bytes all incomplete datagrams may hold together (Linux `ipfrag_high_thresh`) [4 MiB];
   * at least 4 × the largest datagram's charge (~270 KB for IPv4).
   */
  maxBytes?: number;
  /**
   * Bytes the incomplete datagrams of one source may hold [maxBytes / 4]; at least 2 × the
   * largest datagram's charge.
   */
  maxBytesPerSource?: number;
  /** Time a datagram may take to complete (Linux `ipfrag_time`) [30 000 ms]. */
  timeoutMs?: number;
}

/** What an address family tells the reassembler about its datagrams. */
export interface ReassemblyFormat {
  /** Largest header copied in front of the payload (60 for IPv4). */
  headerRoom: number;
  /** Largest reassembled payload in bytes (65 515 for IPv4: 65 535 minus a 20-byte header). */
  maxPayloadBytes: number;
}

/** A reassembled datagram (header + payload), valid until the next call into the reassembler. */
export interface ReassembledDatagram {
  /** Buffer holding it. */
  buf: Uint8Array;
  /** Offset of the header (the first fragment's, as received). */
  off: number;
  /** Header length. */
  headerBytes: number;
  /** Header + payload length. */
  len: number;
  /**
   * `RX_CSUM_VALID` when every fragment arrived with it (the link vouched for each piece:
   * Linux's `ip_frag_reasm` keeps CHECKSUM_UNNECESSARY only when all fragments had it), else 0.
   */
  rxFlags: number;
}

/** Longest key: IPv6 source + destination (32 bytes) + identification (4). */
export const MAX_REASSEMBLY_KEY_BYTES = 40;
/** Bookkeeping charged per datagram besides its buffer (like the skb overhead Linux charges). */
export const REASSEMBLY_ENTRY_OVERHEAD_BYTES = 256;
/** Smallest datagram buffer. */
const MIN_BUFFER_BYTES = 2048;
/**
 * Fragment-copy views kept: room for one per slot of an AF_PACKET ring at MTU 1500 (20,960
 * slots, 97 % found again at this size, 87 % at half of it); ~100 bytes each once made.
 */
const REASSEMBLY_COPY_VIEWS = 65536;
/** Default `maxBytes`: Linux's `ipfrag_high_thresh`. */
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Words of one block bitmap for `payloadBytes`: one bit per 8 bytes, with the block just past
 * the end readable too (the duplicate check looks at it).
 */
function bitmapWords(payloadBytes: number): number {
  return ((payloadBytes + 7) >>> 8) + 1;
}

/**
 * A datagram buffer: header room + payload, one bit per 8-byte payload block received and
 * one per block where a received fragment starts (to tell exact duplicates from overlaps).
 */
class Chunk {
  readonly data: Uint8Array;
  readonly blocks: Uint32Array;
  readonly starts: Uint32Array;
  /** Memory this chunk holds. */
  readonly bytes: number;
  /** Index of its size class. */
  readonly sizeClass: number;
  constructor(dataBytes: number, payloadBytes: number, sizeClass: number) {
    this.data = new Uint8Array(dataBytes);
    this.blocks = new Uint32Array(bitmapWords(payloadBytes));
    this.starts = new Uint32Array(bitmapWords(payloadBytes));
    this.bytes = dataBytes + 2 * this.blocks.byteLength;
    this.sizeClass = sizeClass;
  }

  /** Forget which blocks arrived. */
  clear(): void {
    this.blocks.fill(0);
    this.starts.fill(0);
  }
}

/** Set bits in a 32-bit word. */
function bitCount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** True when `e`'s key is `key[0, keyLen)`. */
function sameKey(e: Entry, key: Uint8Array, keyLen: number): boolean {
  if (e.keyLen !== keyLen) return false;
  const k = e.key;
  for (let i = 0; i < keyLen; i++) if (k[i] !== key[i]) return false;
  return true;
}

/** One source's share: its incomplete datagrams, oldest first, and the bytes they hold. */
class Source {
  readonly addr = new Uint8Array(MAX_REASSEMBLY_KEY_BYTES);
  len = 0;
  hash = 0;
  chain: Source | null = null;
  bytes = 0;
  oldest: Entry | null = null;
  newest: Entry | null = null;
}

/** One incomplete datagram. */
class Entry {
  readonly key = new Uint8Array(MAX_REASSEMBLY_KEY_BYTES);
  keyLen = 0;
  hash = 0;
  /** Next entry in the same hash bucket. */
  chain: Entry | null = null;
  /** Neighbours in the global age list (creation order = deadline order). */
  older: Entry | null = null;
  newer: Entry | null = null;
  /** Neighbours in its source's age list. */
  srcOlder: Entry | null = null;
  srcNewer: Entry | null = null;
  source: Source | null = null;
  chunk: Chunk | null = null;
  /** Bytes charged: the chunk plus the fixed overhead. */
  charge = 0;
  /** Payload bytes received. */
  received = 0;
  /** Payload length, known once the last fragment arrived, else -1. */
  total = -1;
  /** Highest payload end seen. */
  maxEnd = 0;
  /** Header length of the first fragment, 0 until it arrived. */
  headerBytes = 0;
  /** True while every fragment taken arrived with RX_CSUM_VALID. */
  csumValid = true;
  deadlineMs = 0;
}

/** Why a datagram is thrown away: the counter it adds to besides `ReasmFails`. */
type LossReason = "ReasmOverlaps" | "ReasmTimeout" | "ReasmEvictions" | "ReasmSourceEvictions";

/**
 * Reassembly of one address family's fragments, bounded in bytes.
 *
 * @example
 * ```ts ignore
 * const r = new FragmentReassembler(timers, clock, stats.ip, { headerRoom: 60, maxPayloadBytes: 65515 });
 * // key[0..4) = source, then the rest of the datagram's identity
 * const whole = r.add(key, 11, 4, offset, len, more, buf, payloadOff, headerOff, headerBytes);
 * ```
 */
export class FragmentReassembler {
  /**
   * Called when a datagram whose first fragment arrived times out, with that fragment's
   * header at `buf[off, off + headerBytes)` followed by its first payload bytes.
   */
  onTimeout: ((buf: Uint8Array, off: number, headerBytes: number) => void) | null = null;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #maxPerSource: number;
  readonly #headerRoom: number;
  readonly #maxPayload: number;
  /** Buffer sizes by class: powers of two from 2 KiB, the last exactly the largest datagram. */
  readonly #classBytes: number[] = [];
  readonly #freeChunks: Chunk[][] = [];
  readonly #freeEntries: Entry[] = [];
  readonly #freeSources: Source[] = [];
  readonly #buckets: (Entry | null)[];
  readonly #sourceBuckets: (Source | null)[];
  readonly #mask: number;
  /** Views of the fragments' payloads, reused (a ring's slots repeat; no view per copy). */
  readonly #views: SubarrayCache;
  readonly #sipKey = randomSipKey();
  readonly #hashOut = new Uint32Array(2);
  readonly #timer: Timer;
  readonly #result: ReassembledDatagram = {
    buf: new Uint8Array(0),
    off: 0,
    headerBytes: 0,
    len: 0,
    rxFlags: 0,
  };
  #oldest: Entry | null = null;
  #newest: Entry | null = null;
  /** The datagram the last fragment belonged to, if it is still incomplete. */
  #recent: Entry | null = null;
  /** Payload length of the last datagram completed (a buffer size hint), 0 before any. */
  #lastTotal = 0;
  #count = 0;
  /** Bytes charged to incomplete datagrams. */
  #usedBytes = 0;
  /** Bytes held by free chunks. */
  #cachedBytes = 0;

  /** Make an empty reassembler; memory is taken as fragments arrive. */
  constructor(
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    format: ReassemblyFormat,
    opts: ReassemblyOptions = {},
  ) {
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#views = new SubarrayCache(REASSEMBLY_COPY_VIEWS, stats, "ReasmCopyView");
    this.#headerRoom = format.headerRoom;
    this.#maxPayload = format.maxPayloadBytes;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    const largest = format.headerRoom + format.maxPayloadBytes;
    for (let b = MIN_BUFFER_BYTES; b < largest; b *= 2) this.#classBytes.push(b);
    this.#classBytes.push(largest);
    for (let i = 0; i < this.#classBytes.length; i++) this.#freeChunks.push([]);
    // The largest datagram's charge; the bounds must leave room to grow one while others wait.
    const largestCharge = largest + 2 * 4 * bitmapWords(format.maxPayloadBytes) +
      REASSEMBLY_ENTRY_OVERHEAD_BYTES;
    this.#maxBytes = Math.max(opts.maxBytes ?? DEFAULT_MAX_BYTES, 4 * largestCharge);
    this.#maxPerSource = Math.min(
      this.#maxBytes,
      Math.max(opts.maxBytesPerSource ?? this.#maxBytes / 4, 2 * largestCharge),
    );
    // Enough buckets for the most datagrams the byte bound allows, about one per bucket.
    const most = Math.ceil(this.#maxBytes / (MIN_BUFFER_BYTES + REASSEMBLY_ENTRY_OVERHEAD_BYTES));
    let buckets = 16;
    while (buckets < most) buckets *= 2;
    this.#buckets = new Array<Entry | null>(buckets).fill(null);
    this.#sourceBuckets = new Array<Source | null>(buckets).fill(null);
    this.#mask = buckets - 1;
    this.#timer = new Timer(() => this.#expire());
  }

  /** Incomplete datagrams held. */
  get pending(): number {
    return this.#count;
  }

  /**
   * The reused views of the fragment copies (hits, misses and replacements counted in the stats
   * group as `ReasmCopyViewHits`, `ReasmCopyViewMisses`, `ReasmCopyViewReplaced`).
   */
  get copyViews(): SubarrayCache {
    return this.#views;
  }

  /** Bytes charged to incomplete datagrams (compare with `maxBytes`). */
  get memoryBytes(): number {
    return this.#usedBytes;
  }

  /** Bytes held in all, incomplete datagrams plus reusable free buffers; ≤ `maxBytes`. */
  get heldBytes(): number {
    return this.#usedBytes + this.#cachedBytes;
  }

  /** The effective byte bound (options clamped to their minimum). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** The effective per-source byte bound. */
  get maxBytesPerSource(): number {
    return this.#maxPerSource;
  }

  /**
   * Add one fragment. The datagram is identified by `key[0, keyLen)`, whose first `sourceBytes`
   * bytes are its source address. The fragment carries payload bytes `[start, start + len)` at
   * `buf[payloadOff ..]`; `more` is its more-fragments flag; when `start` is 0 its header
   * `buf[headerOff, headerOff + headerBytes)` is kept to head the whole datagram. `rxFlags`
   * are the fragment's `RX_*` flags (only RX_CSUM_VALID matters). Returns the whole datagram
   * when this fragment completed it, else null (every drop counted).
   */
  add(
    key: Uint8Array,
    keyLen: number,
    sourceBytes: number,
    start: number,
    len: number,
    more: boolean,
    buf: Uint8Array,
    payloadOff: number,
    headerOff: number,
    headerBytes: number,
    rxFlags = 0,
  ): ReassembledDatagram | null {
    const st = this.#stats;
    const end = start + len;
    // Every fragment but the last carries a multiple of 8 bytes (RFC 791 §3.2, RFC 8200 §4.5).
    if (
      len <= 0 || (more && (len & 7) !== 0) || end > this.#maxPayload ||
      (start === 0 && headerBytes > this.#headerRoom)
    ) {
      st.ReasmMalformed++;
      st.ReasmFails++;
      return null;
    }
    // The fragments of one datagram mostly arrive back to back: the datagram of the previous
    // fragment is compared first, without hashing the key.
    let e = this.#recent;
    if (e === null || !sameKey(e, key, keyLen)) {
      siphash24(this.#sipKey, key, 0, keyLen, this.#hashOut);
      const hash = this.#hashOut[0];
      e = this.#find(key, keyLen, hash);
      if (e === null) e = this.#create(key, keyLen, sourceBytes, hash);
      this.#recent = e;
    }
    // The last fragment fixes the length: it must not change, and no data may lie past it
    // (RFC 8200 §4.5; Linux treats a conflict as an overlap).
    if (
      more ? (e.total !== -1 && end > e.total) : (e.total !== -1 ? e.total !== end : end < e.maxEnd)
    ) {
      return this.#lose(e, "ReasmOverlaps");
    }
    if (!more) e.total = end;
    if (end > e.maxEnd) e.maxEnd = end;
    this.#fit(e);
    const c = e.chunk!;
    // Overlap check over 8-byte blocks. Only an exact repeat of a fragment received before
    // (same start, same end) is a duplicate, ignored; anything else touching received data is
    // an overlap (RFC 5722 §4, errata 3089).
    const b0 = start >>> 3;
    const b1 = (end + 7) >>> 3;
    const blocks = c.blocks;
    const starts = c.starts;
    // Blocks [b0, b1) a 32-bit word at a time: how many were received, and whether a received
    // fragment starts inside (after b0).
    let seen = 0;
    let inner = 0;
    for (let w = b0 >>> 5, last = (b1 - 1) >>> 5; w <= last; w++) {
      const lo = w === b0 >>> 5 ? b0 & 31 : 0;
      const hi = w === last ? ((b1 - 1) & 31) + 1 : 32;
      const mask = hi - lo === 32 ? -1 : ((1 << (hi - lo)) - 1) << lo;
      seen += bitCount(blocks[w] & mask);
      inner += bitCount(starts[w] & mask & (w === b0 >>> 5 ? ~(1 << lo) : -1));
    }
    const room = this.#headerRoom;
    if (seen !== 0) {
      const bit1 = 1 << (b1 & 31);
      const exact = seen === b1 - b0 && inner === 0 &&
        (starts[b0 >>> 5] & (1 << (b0 & 31))) !== 0 &&
        ((blocks[b1 >>> 5] & bit1) === 0 || (starts[b1 >>> 5] & bit1) !== 0);
      if (!exact) return this.#lose(e, "ReasmOverlaps");
      st.ReasmDuplicates++;
    } else {
      starts[b0 >>> 5] |= 1 << (b0 & 31);
      for (let w = b0 >>> 5, last = (b1 - 1) >>> 5; w <= last; w++) {
        const lo = w === b0 >>> 5 ? b0 & 31 : 0;
        const hi = w === last ? ((b1 - 1) & 31) + 1 : 32;
        blocks[w] |= hi - lo === 32 ? -1 : ((1 << (hi - lo)) - 1) << lo;
      }
      this.#views.copy(buf, payloadOff, c.data, room + start, len);
      e.received += len;
      if ((rxFlags & RX_CSUM_VALID) === 0) e.csumValid = false;
      if (start === 0) {
        e.headerBytes = headerBytes;
        const d = c.data;
        const h = room - headerBytes;
        for (let i = 0; i < headerBytes; i++) d[h + i] = buf[headerOff + i];
      }
    }
    if (e.total === -1 || e.received !== e.total || e.headerBytes === 0) return null;
    const r = this.#result;
    r.buf = c.data;
    r.off = room - e.headerBytes;
    r.headerBytes = e.headerBytes;
    r.len = e.headerBytes + e.total;
    r.rxFlags = e.csumValid ? RX_CSUM_VALID : 0;
    this.#lastTotal = e.total;
    this.#remove(e); // the chunk goes back to the free list; its bytes stay until the next add
    return r;
  }

  #find(key: Uint8Array, keyLen: number, hash: number): Entry | null {
    for (let e = this.#buckets[hash & this.#mask]; e !== null; e = e.chain) {
      if (e.hash !== hash || e.keyLen !== keyLen) continue;
      let i = 0;
      while (i < keyLen && e.key[i] === key[i]) i++;
      if (i === keyLen) return e;
    }
    return null;
  }

  /** A new, empty datagram (no chunk yet), newest in both age lists. */
  #create(key: Uint8Array, keyLen: number, sourceBytes: number, hash: number): Entry {
    const e = this.#freeEntries.pop() ?? new Entry();
    const ek = e.key;
    for (let i = 0; i < keyLen; i++) ek[i] = key[i]; // no view: a key is ≤ 40 bytes
    e.keyLen = keyLen;
    e.hash = hash;
    e.received = 0;
    e.total = -1;
    e.maxEnd = 0;
    e.headerBytes = 0;
    e.csumValid = true;
    e.chunk = null;
    e.charge = REASSEMBLY_ENTRY_OVERHEAD_BYTES;
    e.deadlineMs = this.#clock.nowMs() + this.#timeoutMs;
    const slot = hash & this.#mask;
    e.chain = this.#buckets[slot];
    this.#buckets[slot] = e;
    e.newer = null;
    e.older = this.#newest;
    if (this.#newest !== null) this.#newest.newer = e;
    else this.#oldest = e;
    this.#newest = e;
    const s = this.#sourceOf(key, sourceBytes);
    e.source = s;
    e.srcNewer = null;
    e.srcOlder = s.newest;
    if (s.newest !== null) s.newest.srcNewer = e;
    else s.oldest = e;
    s.newest = e;
    s.bytes += e.charge;
    this.#usedBytes += e.charge;
    this.#count++;
    if (!this.#timer.armed) this.#timers.schedule(this.#timer, e.deadlineMs);
    return e;
  }

  /**
   * Make sure `e` has a buffer for its payload so far (and up to its total, once known),
   * evicting other datagrams for room.
   */
  #fit(e: Entry): void {
    let need = this.#headerRoom + Math.max(e.maxEnd, e.total);
    const old = e.chunk;
    if (old !== null) {
      if (old.data.length >= need) return;
      // Growing past the first buffer: straight to the size of the last datagram completed
      // (if larger), not by doubling — a train of same-sized datagrams then copies its first
      // fragment once instead of re-copying at every size class. A lone first fragment still
      // gets the smallest buffer.
      need = Math.max(need, Math.min(this.#headerRoom + this.#lastTotal, this.#maxPayloadRoom()));
    }
    let cls = 0;
    while (this.#classBytes[cls] < need) cls++;
    const bytes = this.#chunkBytes(cls);
    const s = e.source!;
    // 1. The source's own cap: its oldest other datagrams go first. (The bounds are at least
    // twice the largest datagram's charge, so these loops always make room.)
    while (s.bytes + bytes > this.#maxPerSource) {
      const victim = s.oldest === e ? e.srcNewer : s.oldest;
      if (victim === null) break;
      this.#lose(victim, "ReasmSourceEvictions");
    }
    // 2. The global bound: the oldest other datagrams anywhere.
    while (this.#usedBytes + bytes > this.#maxBytes) {
      const victim = this.#oldest === e ? e.newer : this.#oldest;
      if (victim === null) break;
      this.#lose(victim, "ReasmEvictions");
    }
    const free = this.#freeChunks[cls];
    let c: Chunk;
    if (free.length > 0) {
      c = free.pop()!;
      this.#cachedBytes -= c.bytes;
      c.clear();
    } else {
      // Free buffers of other sizes give way so that memory held stays within the bound.
      this.#trimCache(this.#maxBytes - this.#usedBytes - bytes);
      c = new Chunk(this.#classBytes[cls], this.#classBytes[cls] - this.#headerRoom, cls);
    }
    e.chunk = c;
    e.charge += c.bytes;
    s.bytes += c.bytes;
    this.#usedBytes += c.bytes;
    if (old !== null) {
      // Growing: the payload, the header in front of it and the block bits move over.
      c.data.set(old.data);
      c.blocks.set(old.blocks);
      c.starts.set(old.starts);
      e.charge -= old.bytes;
      s.bytes -= old.bytes;
      this.#usedBytes -= old.bytes;
      this.#releaseChunk(old);
    }
  }

  /** Header room plus the largest payload: the biggest buffer there is. */
  #maxPayloadRoom(): number {
    return this.#headerRoom + this.#maxPayload;
  }

  #chunkBytes(cls: number): number {
    const data = this.#classBytes[cls];
    return data + 2 * 4 * bitmapWords(data - this.#headerRoom);
  }

  /** Drop free chunks, largest first, until they hold at most `limit` bytes. */
  #trimCache(limit: number): void {
    for (let cls = this.#freeChunks.length - 1; cls >= 0 && this.#cachedBytes > limit; cls--) {
      const free = this.#freeChunks[cls];
      while (free.length > 0 && this.#cachedBytes > limit) this.#cachedBytes -= free.pop()!.bytes;
    }
  }

  /** Keep `c` for reuse if memory held stays within the bound; else let it go. */
  #releaseChunk(c: Chunk): void {
    if (this.#usedBytes + this.#cachedBytes + c.bytes > this.#maxBytes) return;
    this.#freeChunks[c.sizeClass].push(c);
    this.#cachedBytes += c.bytes;
  }

  #sourceOf(key: Uint8Array, len: number): Source {
    siphash24(this.#sipKey, key, 0, len, this.#hashOut);
    const hash = this.#hashOut[0];
    const slot = hash & this.#mask;
    for (let s = this.#sourceBuckets[slot]; s !== null; s = s.chain) {
      if (s.hash !== hash || s.len !== len) continue;
      let i = 0;
      while (i < len && s.addr[i] === key[i]) i++;
      if (i === len) return s;
    }
    const s = this.#freeSources.pop() ?? new Source();
    const sa = s.addr;
    for (let i = 0; i < len; i++) sa[i] = key[i];
    s.len = len;
    s.hash = hash;
    s.bytes = 0;
    s.oldest = null;
    s.newest = null;
    s.chain = this.#sourceBuckets[slot];
    this.#sourceBuckets[slot] = s;
    return s;
  }

  /** Throw `e` away, counted. */
  #lose(e: Entry, reason: LossReason): null {
    this.#stats[reason]++;
    this.#stats.ReasmFails++;
    this.#remove(e);
    return null;
  }

  /** Unlink `e` from every list, give back its memory, recycle it. */
  #remove(e: Entry): void {
    if (this.#recent === e) this.#recent = null;
    const slot = e.hash & this.#mask;
    if (this.#buckets[slot] === e) this.#buckets[slot] = e.chain;
    else {
      let p = this.#buckets[slot]!;
      while (p.chain !== e) p = p.chain!;
      p.chain = e.chain;
    }
    e.chain = null;
    if (e.older !== null) e.older.newer = e.newer;
    else this.#oldest = e.newer;
    if (e.newer !== null) e.newer.older = e.older;
    else this.#newest = e.older;
    e.older = e.newer = null;
    const s = e.source!;
    if (e.srcOlder !== null) e.srcOlder.srcNewer = e.srcNewer;
    else s.oldest = e.srcNewer;
    if (e.srcNewer !== null) e.srcNewer.srcOlder = e.srcOlder;
    else s.newest = e.srcOlder;
    e.srcOlder = e.srcNewer = null;
    s.bytes -= e.charge;
    if (s.oldest === null) this.#dropSource(s);
    e.source = null;
    this.#usedBytes -= e.charge;
    e.charge = 0;
    this.#count--;
    if (e.chunk !== null) {
      this.#releaseChunk(e.chunk);
      e.chunk = null;
    }
    this.#freeEntries.push(e);
    if (this.#oldest === null) this.#timers.cancel(this.#timer);
  }

  #dropSource(s: Source): void {
    const slot = s.hash & this.#mask;
    if (this.#sourceBuckets[slot] === s) this.#sourceBuckets[slot] = s.chain;
    else {
      let p = this.#sourceBuckets[slot]!;
      while (p.chain !== s) p = p.chain!;
      p.chain = s.chain;
    }
    s.chain = null;
    this.#freeSources.push(s);
  }

  /** The timer of the oldest datagram fired: discard every datagram past its deadline. */
  #expire(): void {
    const now = this.#clock.nowMs();
    for (let e = this.#oldest; e !== null && e.deadlineMs <= now; e = this.#oldest) {
      // RFC 1122 §3.3.2 / RFC 8200 §4.5: report the timeout if fragment zero arrived.
      if (e.headerBytes !== 0 && this.onTimeout !== null) {
        this.onTimeout(e.chunk!.data, this.#headerRoom - e.headerBytes, e.headerBytes);
      }
      this.#lose(e, "ReasmTimeout");
    }
    if (this.#oldest !== null) this.#timers.schedule(this.#timer, this.#oldest.deadlineMs);
  }
}
