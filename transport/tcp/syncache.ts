/**
 * The syncache (RFC 4987 §3.3, FreeBSD's name; Linux's request socks): a SYN to a listener
 * makes a compact half-open record — the four-tuple, both ISNs, the options the peer offered —
 * not a connection. The record sends the SYN-ACK, retransmits it with exponential backoff
 * (1 s, 2 s, 4 s, …, `synAckRetries` times; the record holds its timer), and only the ACK
 * that completes the handshake makes a connection (`TcpEndpoint`), which then takes that ACK
 * through the normal SYN_RECEIVED path to ESTABLISHED and the accept queue.
 *
 * When a listener's syncache (`max(backlog, 64)` records) or its accept queue is full, a SYN
 * gets a SYN cookie instead (`syn_cookie.ts`; Linux `tcp_syncookies = 1`; `syncookies: 2`
 * always sends cookies, 0 never and drops); the ACK of a cookie becomes a connection with the
 * options the cookie restores, a forged or stale one is dropped and counted. Counters (nstat
 * names): `SyncookiesSent`, `SyncookiesRecv`, `SyncookiesFailed`, `TCPReqQFullDoCookies`,
 * `TCPReqQFullDrop`, `ListenOverflows`, `ListenDrops`.
 *
 * Cookies cost a SYN-ACK each, and under a flood the SYN-ACKs are most of the work. They are
 * therefore answered at most `synCookieSourceRate` per second per source address (two token
 * buckets per source through hashes keyed with secrets drawn at start, `KeyedRateLimiter`;
 * beyond: dropped, `SyncookiesRateLimited`): a flood from a few hundred sources that answer
 * ARP is held to little more than the cost of receiving it, and clients at other addresses
 * are answered as before, also one that shares a bucket with a flooding source. An IPv6
 * source counts by its /64, both of its words keyed. A source that completed a handshake
 * (it receives our segments: no spoofer) is remembered (4,096, least recently seen out,
 * `SyncookiesKnownEvicted`) and charged to buckets of its own (`SyncookiesKnownSource`):
 * a spoofed flood from other addresses, however many, cannot drain a known client's buckets.
 * Not covered: SYNs spoofed with the known client's own address (or /64) are charged to its
 * own buckets, and a peer that completes real handshakes from thousands of addresses (a large
 * IPv6 prefix) can push known clients out of the set — they are then limited as strangers.
 * Records (not cookies) are not limited.
 *
 * A SYN that reopens a TIME_WAIT four-tuple (RFC 6191) always gets a record, never a cookie
 * (its ISS must lie beyond the old connection's, as in Linux).
 *
 * Why this file is over 600 lines: a half-open record and a cookie end the same way — the
 * same SYN-ACK writer, the same making of the connection from the peer's options — so the
 * two paths stay together; the cookie arithmetic itself is in `syn_cookie.ts`.
 *
 * @module
 */

import type { Counters } from "../../core/counters.ts";
import type { DenseSet } from "../../core/dense_set.ts";
import { KeyedRateLimiter, RateLimitKey } from "../../core/keyed_rate_limiter.ts";
import { KnownKeySet } from "../../core/known_key_set.ts";
import { Timer } from "../../core/timer_wheel.ts";
import type { IpAddr, IpAddress } from "../../net/ip_address.ts";
import type { NetRoute } from "../../net/network_layer.ts";
import type { Flow, FlowTable } from "../flow_table.ts";
import type { ConnectionLayer, ConnectionListener, PeerOptions } from "./endpoint.ts";
import { ecnAgreed, EndpointOpenRecord, TcpEndpoint } from "./endpoint.ts";
import { TCP_FLAG_ACK, TCP_FLAG_ECE, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import { endpointInput } from "./input.ts";
import { advertisedMss } from "./mss.ts";
import { admitSegment, type RxSegment } from "./segment.ts";
import { seqAdd, seqGt, seqLt } from "./seq.ts";
import { TcpEvent, TcpState } from "./state.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import type { TupleHashes } from "./isn.ts";
import {
  COOKIE_VALID_MS,
  type CookieFields,
  CookieOptions,
  encodeTimestampOptions,
  SynCookies,
} from "./syn_cookie.ts";
import { FLOW_SYN_RECEIVED, type TcpFlow } from "./time_wait.ts";
import { MAX_WINDOW_FIELD, windowShiftFor } from "./window_scale.ts";

/** Buckets of the SYN-cookie per-source limiter (two per source; 128 KiB of tokens and times). */
export const SYN_COOKIE_SOURCE_SLOTS = 16384;

/** Half-open records a listener keeps at least (beyond a smaller backlog). */
export const MIN_SYN_QUEUE = 64;

/** What the syncache needs of a listener; `TcpListener` provides it. */
export interface SynListener extends ConnectionListener {
  /** Bound address (a wildcard for any). */
  readonly localAddr: IpAddress;
  /** Bound port. */
  readonly localPort: number;
  /** Most connections waiting to be accepted. */
  readonly backlog: number;
  /** Its half-open records (a dense array, not a `Set`: see core/dense_set.ts). */
  readonly synEntries: DenseSet<SynEntry>;
  /** When it last sent a SYN cookie (ms; -Infinity for never): cookie ACKs are checked until two minutes after. */
  lastCookieMs: number;
}

/** What the syncache needs of its TCP layer; `TcpLayer` provides it. */
export interface SynCacheLayer extends ConnectionLayer {
  /** Connections, TIME_WAIT records and syncache records by four-tuple. */
  readonly flows: FlowTable<TcpFlow>;
  /** The (shared) route to `dst` (a link-local one on NIC `zoneNic`), or null. */
  routeTo(dst: IpAddr, zoneNic: number): NetRoute | null;
  /** The shared immutable copy of an address. */
  readonly shared: { address(a: IpAddr): IpAddress };
  /** Add a connection to the flow table (its four-tuple vacant); false when refused. */
  register(ep: TcpEndpoint): boolean;
}

/** What a peer's SYN offered, kept for the SYN-ACK and for the connection made later. */
export interface PeerSyn extends PeerOptions {
  /** The window field of the SYN. */
  peerWindow: number;
}

/** What a SYN-ACK carries besides the options ({@link SynCache}'s writer reads them as fields). */
interface SynAckFields extends PeerSyn {
  /** Our ISS (a record's, or a cookie). */
  iss: number;
  /** The peer's ISN. */
  irs: number;
  /** Our TSval. */
  tsVal: number;
}

/**
 * What a completed handshake hands its connection besides the peer's options: a record's, or
 * a cookie's (in the scratch record). Read as fields: numbers passed as arguments to a call
 * V8 does not inline are boxed (a uint32 ≥ 2**30, a fractional time), one per connection.
 */
interface HandshakeFields extends PeerSyn {
  /** Our ISS. */
  iss: number;
  /** Our TSval offset (RFC 7323 §5.4). */
  tsOffset: number;
  /** When the first SYN-ACK left (ms). */
  firstSentMs: number;
  /** SYN-ACKs retransmitted. */
  retries: number;
}

/**
 * A {@link PeerSyn} filled from a segment or a cookie, with the numbers of a cookie's SYN-ACK
 * (one scratch record per syncache). Fields, not arguments: a uint32 ≥ 2**30 or a time passed
 * to or returned from a call V8 does not inline is a new heap number each time; the numbers
 * that may be start as doubles (core/v8_shapes.ts).
 */
class PeerSynRecord implements SynAckFields, HandshakeFields, CookieFields, TupleHashes {
  peerWindow = 0;
  peerMss = 0;
  peerWindowScale = -1;
  peerSack = false;
  peerTimestamps = false;
  peerEcn = false;
  tsRecent: number = DOUBLE_ZERO;
  iss: number = DOUBLE_ZERO;
  irs: number = DOUBLE_ZERO;
  tsVal: number = DOUBLE_ZERO;
  tsOffset: number = DOUBLE_ZERO;
  tupleTag: number = DOUBLE_ZERO;
  nowMs: number = DOUBLE_ZERO;
  firstSentMs: number = DOUBLE_ZERO;
  retries = 0;
}

/**
 * One half-open connection: a SYN answered, its ACK awaited. It holds its SYN-ACK timer.
 * Valid while it is in its listener's `synEntries`: once it leaves them (completed, reset,
 * expired) it may be taken for another SYN's record (a bounded free list), so a record kept
 * after that describes whichever half-open connection holds it then.
 */
export class SynEntry implements TcpFlow, SynAckFields, HandshakeFields {
  /** Always {@link FLOW_SYN_RECEIVED} (on the prototype: no field per record). */
  get flowKind(): number {
    return FLOW_SYN_RECEIVED;
  }
  /** @internal Flow-table bucket link. */
  flowNext: Flow | null = null;
  /** @internal Position in its listener's `synEntries`. */
  denseIndex = -1;
  /** Local address (either family). */
  readonly localAddr: IpAddress;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddr: IpAddress;
  /** Remote port. */
  readonly remotePort: number;
  /** The NIC the SYN came in on (where a link-local peer is). */
  nicIndex = 0;
  /** The listener the SYN came to. */
  readonly listener: SynListener;
  /** Our ISS. */
  iss: number = DOUBLE_ZERO;
  /** The peer's ISN. */
  irs: number = DOUBLE_ZERO;
  /** The window field of the peer's SYN. */
  peerWindow = 0;
  /** The peer's MSS option (0 when absent). */
  peerMss = 0;
  /** The peer's window shift, -1 when it offered none. */
  peerWindowScale = -1;
  /** The peer offered SACK. */
  peerSack = false;
  /** The peer sent timestamps. */
  peerTimestamps = false;
  /** ECN agreed (RFC 3168 §6.1.1: the SYN asked with ECE and CWR, and we accept it). */
  peerEcn = false;
  /** The peer's TSval (TS.Recent). */
  tsRecent: number = DOUBLE_ZERO;
  /** Our TSval offset for the four-tuple (RFC 7323 §5.4), computed once. */
  tsOffset: number = DOUBLE_ZERO;
  /** Our TSval on the last SYN-ACK. */
  tsVal: number = DOUBLE_ZERO;
  /** SYN-ACKs retransmitted. */
  retries = 0;
  /** When the first SYN-ACK left (ms). */
  firstSentMs: number = DOUBLE_ZERO;
  /** The ACK arrived while the accept queue was full (the SYN-ACK is resent to draw it again). */
  acked = false;
  /** @internal The syncache holding it (the timer's way back). */
  readonly cache: SynCache;
  /**
   * @internal Its SYN-ACK timer: a plain {@link Timer}, so that every record on the wheel is
   * one class (one map for the wheel's code; bench/README.md, "jit13k").
   */
  readonly timer: Timer;

  /** A record for a SYN from (`ra`, `rp`) to `listener` at (`la`, `lp`). */
  constructor(
    cache: SynCache,
    listener: SynListener,
    la: IpAddress,
    lp: number,
    ra: IpAddress,
    rp: number,
  ) {
    this.cache = cache;
    this.listener = listener;
    this.localAddr = la;
    this.localPort = lp;
    this.remoteAddr = ra;
    this.remotePort = rp;
    this.timer = new Timer(fireSynAckTimer, this);
  }

  /**
   * @internal A record back from the syncache's free list takes a SYN from (`ra`, `rp`) to
   * `listener` at (`la`, `lp`): every field a new record's (the caller then fills the peer's).
   */
  reuseFor(listener: SynListener, la: IpAddress, lp: number, ra: IpAddress, rp: number): void {
    // Read-only to everyone else (the record's public type); written here alone.
    const w = this as { -readonly [K in keyof SynEntry]: SynEntry[K] };
    w.listener = listener;
    w.localAddr = la;
    w.localPort = lp;
    w.remoteAddr = ra;
    w.remotePort = rp;
    this.flowNext = null;
    this.denseIndex = -1;
    this.nicIndex = 0;
    this.retries = 0;
    this.acked = false;
  }
}

/**
 * Half-open records the syncache keeps for reuse once they leave it: a SYN takes one instead
 * of a new record (with its timer and its double fields' boxes, ~400 B). Bounded (the rest go
 * to the collector); a listener's records are bounded by its own limit before that.
 */
export const FREE_SYN_ENTRIES_MAX = 1024;

/**
 * The per-source key of `src` into `k`: an IPv4 source by its address, an IPv6 one by its /64
 * prefix (one host may use every address of its /64, RFC 4291 §2.5.1) as two words, which the
 * limiter's keyed hash takes both of — not folded into 32 bits first, which anybody could
 * match with a /64 of their choosing. Fields, not a returned number: no heap number per SYN.
 */
function sourceKey(k: RateLimitKey, src: IpAddr): void {
  if (src.family === 4) {
    k.lo = src.w3;
    k.hi = 0;
  } else {
    k.lo = src.w1;
    k.hi = src.w0;
  }
}

function fireSynAckTimer(e: SynEntry): void {
  e.cache.onTimer(e);
}

/**
 * The syncache of one TCP layer, with its SYN cookies.
 *
 * @example
 * ```ts ignore
 * const cache = new SynCache(layer);
 * cache.onSyn(listener, seg); // a record (and its SYN-ACK), a cookie, or a drop
 * ```
 */
export class SynCache {
  readonly #layer: SynCacheLayer;
  readonly #cookies: SynCookies;
  readonly #cookieOpts = new CookieOptions();
  readonly #peer = new PeerSynRecord();
  /**
   * The numbers a completed handshake hands its connection, copied out of the record or the
   * cookie's scratch record: the builders then read fields of one class (`connect` fills
   * another of it), not of two or three.
   */
  readonly #open = new EndpointOpenRecord();
  /** SYN cookies per second per source (null: no limit). */
  readonly #perSource: KeyedRateLimiter | null;
  /** The source and time of a SYN for {@link SynCache.#perSource}. */
  readonly #sourceKey = new RateLimitKey();
  /**
   * Sources that completed a handshake (an ACK of our SYN-ACK, its ISS or cookie, came back:
   * they receive what we send them, which a spoofer does not), 4,096 of them, least recently
   * seen out (null: no limit).
   */
  readonly #known: KnownKeySet | null;
  /** The cookie limit of known sources: buckets of their own, out of a spoofed flood's reach. */
  readonly #knownLimiter: KeyedRateLimiter | null;
  /** Our window shift on a SYN-ACK (fixed by the buffer sizes, as a connection would choose). */
  readonly #shift: number;
  /** The window field of our SYN-ACKs. */
  readonly #synWindow: number;
  #count = 0;
  /** Records that left the cache, for the next SYN (at most {@link FREE_SYN_ENTRIES_MAX}). */
  readonly #free: SynEntry[] = [];
  /** Records made so far (not taken from the free list): tests and tools. */
  recordsMade = 0;
  /** Records that left the cache with the free list full (left to the collector). */
  recordsNotKept = 0;

  /**
   * The syncache of `layer` (the cookie key and the per-source limiter's secrets drawn here,
   * or given for tests).
   */
  constructor(
    layer: SynCacheLayer,
    cookieKey?: Uint32Array,
    sourceSecrets?: readonly [number, number],
  ) {
    this.#layer = layer;
    this.#cookies = new SynCookies(cookieKey);
    const o = layer.opts;
    const cap = o.receiveBufferBytes;
    this.#shift = windowShiftFor(o.maxReceiveBufferBytes > cap ? o.maxReceiveBufferBytes : cap);
    this.#synWindow = cap < MAX_WINDOW_FIELD ? cap : MAX_WINDOW_FIELD;
    // Whole tokens per second (the limiter counts in integers), a burst of as many.
    const rate = Math.min(Math.ceil(o.synCookieSourceRate), 1_000_000);
    this.#perSource = rate > 0
      ? new KeyedRateLimiter({
        slots: SYN_COOKIE_SOURCE_SLOTS,
        ratePerSecond: rate,
        burst: rate,
        secrets: sourceSecrets,
      })
      : null;
    this.#known = rate > 0
      ? new KnownKeySet({
        sets: 1024,
        ways: 4,
        secret: sourceSecrets === undefined ? undefined : sourceSecrets[0] ^ sourceSecrets[1],
      })
      : null;
    this.#knownLimiter = rate > 0
      ? new KeyedRateLimiter({
        slots: 8192, // two buckets per known source, twice the set's 4,096: few shared
        ratePerSecond: rate,
        burst: rate,
        secrets: sourceSecrets,
      })
      : null;
  }

  /** Half-open records held (every listener). */
  get size(): number {
    return this.#count;
  }

  /** The most records `l` may hold. */
  static limitOf(l: SynListener): number {
    return l.backlog > MIN_SYN_QUEUE ? l.backlog : MIN_SYN_QUEUE;
  }

  /**
   * A SYN for `listener` (no connection or record has its four-tuple): a record and its
   * SYN-ACK, or — syncache or accept queue full — a SYN cookie, or a drop when cookies are off.
   * `seg` may come unchecked: its checksum is verified and its options parsed
   * (`admitSegment`) only once it is to be answered, after the per-source cookie limit.
   */
  onSyn(listener: SynListener, seg: RxSegment): void {
    const layer = this.#layer;
    const stats = layer.stats;
    const mode = layer.opts.syncookies;
    const acceptFull = !listener.hasRoom();
    const cacheFull = listener.synEntries.size >= SynCache.limitOf(listener);
    if (!seg.reuse && (acceptFull || cacheFull || mode === 2)) {
      // The queue counters follow the checksum (a damaged SYN counts InCsumErrors alone), but
      // for a SYN the per-source limit refuses, which is dropped unsummed.
      if (mode === 0) {
        if (!admitSegment(seg, stats)) return;
        if (acceptFull) stats.ListenOverflows++;
        else stats.TCPReqQFullDrop++;
        stats.ListenDrops++;
        return;
      }
      const limiter = this.#perSource;
      if (limiter !== null) {
        const key = this.#sourceKey;
        sourceKey(key, seg.src);
        key.nowMs = layer.ctx.clock.nowMs();
        // A source that completed a handshake before has buckets no spoofer can reach.
        let ok: boolean;
        if (this.#known!.has(key)) {
          stats.SyncookiesKnownSource++;
          ok = this.#knownLimiter!.takeFor(key);
        } else ok = limiter.takeFor(key);
        if (!ok) {
          countCookieQueue(stats, acceptFull, cacheFull);
          stats.SyncookiesRateLimited++;
          return;
        }
      }
      // Only now the checksum and the options: a refused SYN is dropped without either (a
      // damaged one from a source with tokens left spends one, as a spoofer's valid SYN would).
      if (!admitSegment(seg, stats)) return;
      countCookieQueue(stats, acceptFull, cacheFull);
      this.#sendCookie(listener, seg);
      return;
    }
    if (!admitSegment(seg, stats)) return;
    const e = this.#take(listener, seg);
    e.nicIndex = seg.nicIndex;
    // ISS and TSval offset (the two halves of one SipHash) into the record's fields.
    layer.isn.nextInto(seg.dst, seg.dstPort, seg.src, seg.srcPort, e);
    if (seg.reuse && !seqGt(e.iss, seg.reuseIsnAfter)) e.iss = seg.reuseIsnAfter;
    e.irs = seg.seq;
    e.peerWindow = seg.window;
    const o = seg.opts;
    e.peerMss = o.mss;
    e.peerWindowScale = o.windowScale;
    e.peerSack = o.sackPermitted;
    e.peerTimestamps = o.hasTimestamps;
    e.peerEcn = ecnAgreed(seg.flags, layer.opts.ecn);
    e.tsRecent = o.tsVal;
    if (!layer.flows.insert(e)) {
      stats.ListenDrops++;
      this.#recycle(e);
      return;
    }
    listener.synEntries.add(e);
    this.#count++;
    const now = layer.ctx.clock.nowMs();
    e.firstSentMs = now;
    this.#sendEntrySynAck(e);
    // The deadline in the timer's field: a fractional time passed to a call is boxed.
    e.timer.armAtMs = now + layer.opts.initialRtoMs;
    layer.ctx.timers.arm(e.timer);
  }

  /** A record for a SYN to `listener`: one from the free list, else a new one. */
  #take(listener: SynListener, seg: RxSegment): SynEntry {
    const shared = this.#layer.shared;
    const la = shared.address(seg.dst);
    const ra = shared.address(seg.src);
    const e = this.#free.pop();
    if (e !== undefined) {
      e.reuseFor(listener, la, seg.dstPort, ra, seg.srcPort);
      return e;
    }
    this.recordsMade++;
    return new SynEntry(this, listener, la, seg.dstPort, ra, seg.srcPort);
  }

  /** `e` left the cache (and the flow table, and the timer wheel): the next SYN may take it. */
  #recycle(e: SynEntry): void {
    if (this.#free.length < FREE_SYN_ENTRIES_MAX) this.#free.push(e);
    else this.recordsNotKept++;
  }

  /**
   * A segment for the half-open record `e` (RFC 9293 §3.10.7.4 in SYN_RECEIVED): a RST on
   * RCV.NXT drops it; the peer's retransmitted SYN draws the SYN-ACK again; an ACK of our
   * SYN-ACK (at RCV.NXT, timestamp not older) makes the connection — unless the accept queue
   * is full, then it is dropped (the peer retries); an ACK of anything else draws a RST.
   */
  input(e: SynEntry, seg: RxSegment): void {
    const layer = this.#layer;
    const flags = seg.flags;
    const rcvNxt = seqAdd(e.irs, 1);
    if ((flags & TCP_FLAG_RST) !== 0) {
      layer.stats.InRsts++;
      if (seg.seq === rcvNxt) {
        layer.stats.AttemptFails++; // back to LISTEN (RFC 9293 §3.10.7.4), as Linux counts it
        this.remove(e);
      }
      return;
    }
    if ((flags & TCP_FLAG_SYN) !== 0) {
      if ((flags & TCP_FLAG_ACK) === 0 && seg.seq === e.irs) this.#sendEntrySynAck(e);
      return;
    }
    if ((flags & TCP_FLAG_ACK) === 0) return;
    if (seg.ack !== seqAdd(e.iss, 1)) {
      layer.tx.replyRst(seg); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (seg.seq !== rcvNxt) return;
    if (e.peerTimestamps && seg.opts.hasTimestamps && seqLt(seg.opts.tsVal, e.tsRecent)) {
      layer.stats.PAWSEstab++;
      return;
    }
    const listener = e.listener;
    if (!listener.hasRoom()) {
      layer.stats.ListenOverflows++;
      layer.stats.ListenDrops++;
      e.acked = true;
      return;
    }
    // Out of the flow table before the connection takes its four-tuple; back to the free list
    // only once the connection has read what it needs of the record.
    if (!this.#unlink(e)) return;
    const ep = this.#materialize(listener, seg, e);
    this.#recycle(e);
    if (ep !== null) {
      this.#remember(seg.src);
      this.#complete(ep, seg);
    }
  }

  /** `src` completed a handshake: its SYN cookies are charged to the known sources' buckets. */
  #remember(src: IpAddr): void {
    const known = this.#known;
    if (known === null) return;
    const key = this.#sourceKey;
    sourceKey(key, src);
    const evicted = known.evicted;
    known.add(key);
    if (known.evicted !== evicted) this.#layer.stats.SyncookiesKnownEvicted++;
  }

  /**
   * An ACK (no SYN, no RST) for `listener` with no record: a SYN cookie's ACK, if `listener`
   * sent cookies in the last two minutes. Returns false when it is not (the caller answers
   * with a RST); true when handled — a connection made (`SyncookiesRecv`), or a forged or
   * stale cookie dropped (`SyncookiesFailed`), or dropped for a full accept queue.
   */
  onCookieAck(listener: SynListener, seg: RxSegment): boolean {
    const layer = this.#layer;
    const stats = layer.stats;
    const now = layer.ctx.clock.nowMs();
    if (layer.opts.syncookies === 0 || now - listener.lastCookieMs > COOKIE_VALID_MS) return false;
    const o = this.#cookieOpts;
    const tsEcr = seg.opts.hasTimestamps ? seg.opts.tsEcr : -1;
    // One SipHash gives the timestamp offset and the cookie's tuple hash (its other half).
    const isn = layer.isn;
    const tsOffset = isn.timestampOffset(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    const h1 = isn.tupleTag;
    const tsNow = (Math.floor(now) + tsOffset) >>> 0;
    const irs = (seg.seq - 1) >>> 0;
    const iss = (seg.ack - 1) >>> 0;
    if (
      !this.#cookies.check(
        seg.dst,
        seg.dstPort,
        seg.src,
        seg.srcPort,
        h1,
        irs,
        iss,
        now,
        o,
        tsEcr,
        tsNow,
      )
    ) {
      stats.SyncookiesFailed++;
      return true;
    }
    if (!listener.hasRoom()) {
      stats.ListenOverflows++;
      stats.ListenDrops++;
      return true;
    }
    stats.SyncookiesRecv++;
    const ts = o.timestamps && seg.opts.hasTimestamps;
    const p = this.#peer;
    p.peerWindow = seg.window;
    p.peerMss = o.mss;
    p.peerWindowScale = o.windowScale;
    p.peerSack = o.sack;
    p.peerTimestamps = ts;
    p.peerEcn = ts && o.ecn && layer.opts.ecn !== "off";
    p.tsRecent = ts ? seg.opts.tsVal : 0;
    p.iss = iss;
    p.tsOffset = tsOffset;
    p.firstSentMs = now;
    p.retries = 0;
    const ep = this.#materialize(listener, seg, p);
    if (ep !== null) {
      this.#remember(seg.src);
      this.#complete(ep, seg);
    }
    return true;
  }

  /**
   * Take `e` out (completed, reset, expired, or its listener closed). The record goes back to
   * the free list: read what is needed of it before (the next SYN may take it).
   */
  remove(e: SynEntry): void {
    if (this.#unlink(e)) this.#recycle(e);
  }

  /** `e` out of its listener, the flow table and the timer wheel; false when it was not in. */
  #unlink(e: SynEntry): boolean {
    if (!e.listener.synEntries.delete(e)) return false;
    this.#count--;
    const layer = this.#layer;
    layer.flows.remove(e);
    e.flowNext = null;
    layer.ctx.timers.cancel(e.timer);
    return true;
  }

  /** `listener` closes: its half-open records are reset and dropped. */
  dropListener(listener: SynListener): void {
    for (const e of listener.synEntries.toArray()) {
      this.#layer.tx.sendRst(
        e.localAddr,
        e.localPort,
        e.remoteAddr,
        e.remotePort,
        seqAdd(e.iss, 1),
        seqAdd(e.irs, 1),
        true,
        e.nicIndex,
      );
      this.remove(e);
    }
  }

  /** @internal The SYN-ACK timer of `e` fired: resend with backoff, or give up. */
  onTimer(e: SynEntry): void {
    const layer = this.#layer;
    const o = layer.opts;
    if (++e.retries > o.synAckRetries) {
      this.remove(e);
      return;
    }
    layer.stats.RetransSegs++;
    layer.stats.TCPSynRetrans++;
    this.#sendEntrySynAck(e);
    const backoff = o.initialRtoMs * 2 ** e.retries;
    const now = layer.ctx.clock.nowMs();
    e.timer.armAtMs = now + (backoff < o.maxRtoMs ? backoff : o.maxRtoMs);
    layer.ctx.timers.arm(e.timer);
  }

  #sendEntrySynAck(e: SynEntry): void {
    const now = this.#layer.ctx.clock.nowMs();
    // Our TSval: what the connection's clock will read.
    e.tsVal = (Math.floor(now) + e.tsOffset) >>> 0;
    this.#sendSynAck(e.localAddr, e.localPort, e.remoteAddr, e.remotePort, e.nicIndex, e);
  }

  /** A SYN-ACK whose ISS is a cookie; the options ride in our timestamp when the peer sent one. */
  #sendCookie(listener: SynListener, seg: RxSegment): void {
    const layer = this.#layer;
    const lo = layer.opts;
    const o = seg.opts;
    // The numbers go through `p`'s fields, never as arguments or return values: no heap
    // number per cookie (tests/sim/syn_flood_alloc_test.ts).
    const p = this.#peer;
    p.nowMs = layer.ctx.clock.nowMs();
    // One SipHash gives the timestamp offset and the cookie's tuple hash (its other half).
    layer.isn.timestampOffsetInto(seg.dst, seg.dstPort, seg.src, seg.srcPort, p);
    p.irs = seg.seq;
    p.peerMss = o.mss;
    this.#cookies.makeInto(seg.dst, seg.dstPort, seg.src, seg.srcPort, p);
    // Without timestamps the options have nowhere to ride: no scaling, SACK or ECN (Linux).
    const ts = o.hasTimestamps && lo.timestamps;
    p.peerWindow = seg.window;
    p.peerWindowScale = ts && lo.windowScaling ? o.windowScale : -1;
    p.peerSack = ts && lo.sack && o.sackPermitted;
    p.peerTimestamps = ts;
    p.peerEcn = ts && ecnAgreed(seg.flags, lo.ecn);
    p.tsRecent = o.tsVal;
    p.tsVal = ts
      ? encodeTimestampOptions(
        (Math.floor(p.nowMs) + p.tsOffset) >>> 0,
        p.peerWindowScale,
        p.peerSack,
        p.peerEcn,
      )
      : 0;
    if (this.#sendSynAck(seg.dst, seg.dstPort, seg.src, seg.srcPort, seg.nicIndex, p)) {
      layer.stats.SyncookiesSent++;
      listener.lastCookieMs = p.nowMs;
    }
  }

  /**
   * Send `<SEQ=p.iss><ACK=p.irs+1><CTL=SYN,ACK>` with our MSS, window and the options the
   * peer offered (`p`) and we allow (RFC 7323, RFC 2018), ECE when ECN is agreed (RFC 3168
   * §6.1.1), our timestamp `p.tsVal`. False when no route or buffer.
   */
  #sendSynAck(
    la: IpAddr,
    lp: number,
    ra: IpAddr,
    rp: number,
    zoneNic: number,
    p: SynAckFields,
  ): boolean {
    const layer = this.#layer;
    const lo = layer.opts;
    const tx = layer.tx;
    const pb = tx.beginTo(ra, zoneNic);
    if (pb === null) return false;
    const s = tx.seg;
    s.src = la;
    s.dst = ra;
    s.srcPort = lp;
    s.dstPort = rp;
    s.seq = p.iss;
    s.ack = seqAdd(p.irs, 1);
    s.flags = p.peerEcn ? TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_ECE : TCP_FLAG_SYN | TCP_FLAG_ACK;
    s.window = this.#synWindow;
    const o = s.opts;
    // RFC 9293 §3.7.1, RFC 8200 §8.3: MTU − 40 over IPv4, MTU − 60 over IPv6.
    o.mss = advertisedMss(s.route.linkMtu, s.route.net!);
    if (p.peerWindowScale >= 0 && lo.windowScaling) o.windowScale = this.#shift;
    o.sackPermitted = p.peerSack && lo.sack;
    if (p.peerTimestamps && lo.timestamps) {
      o.hasTimestamps = true;
      o.tsVal = p.tsVal;
      o.tsEcr = p.tsRecent;
    }
    tx.write(pb, s);
    tx.send(pb, s);
    return true;
  }

  /**
   * The connection of a completed handshake, in SYN_RECEIVED as if it had sent the SYN-ACK
   * itself (`p`: our ISS, the peer's options; the window our SYN-ACK offered), registered;
   * null when there is no route or the flow table refuses it.
   */
  #materialize(listener: SynListener, seg: RxSegment, p: HandshakeFields): TcpEndpoint | null {
    const layer = this.#layer;
    const route = layer.routeTo(seg.src, seg.nicIndex);
    if (route === null) {
      layer.stats.ListenDrops++;
      return null;
    }
    // The record's numbers are read as fields by the callees (no heap number per argument).
    const open = this.#open;
    open.iss = p.iss;
    open.firstSentMs = p.firstSentMs;
    open.tsOffset = p.tsOffset;
    const ep = new TcpEndpoint(
      layer,
      layer.shared.address(seg.dst),
      seg.dstPort,
      layer.shared.address(seg.src),
      seg.srcPort,
      route,
      listener,
      open,
    );
    const irs = (seg.seq - 1) >>> 0;
    ep.rcv.init(irs);
    ep.negotiateOptions(p);
    if (ep.wsOk) ep.rcv.chooseWindowShift();
    ep.snd.start(open);
    ep.snd.peerSyn(p.peerWindow, irs, 0);
    ep.snd.synAckSent(p.retries);
    ep.rcv.synWindowField(true);
    ep.transition(TcpEvent.RCV_SYN);
    if (!layer.register(ep)) {
      layer.stats.ListenDrops++;
      ep.listener = null;
      ep.destroy();
      return null;
    }
    return ep;
  }

  /** Hand the completing ACK to the new connection; it must come out established. */
  #complete(ep: TcpEndpoint, seg: RxSegment): void {
    endpointInput(ep, seg);
    if (ep.state === TcpState.SYN_RECEIVED) ep.destroy(); // never happens: checked before
  }
}

/** A SYN met a full accept queue or syncache on the way to a cookie: the queue's counters. */
function countCookieQueue(stats: Counters, acceptFull: boolean, cacheFull: boolean): void {
  if (acceptFull) stats.ListenOverflows++;
  else if (cacheFull) stats.TCPReqQFullDoCookies++;
}
