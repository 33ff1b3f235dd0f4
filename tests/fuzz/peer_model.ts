/**
 * What the fuzzer's peers know from watching the fuzzed host transmit: which addresses it is
 * resolving with ARP, the sequence numbers, windows and timestamps of its TCP connections, and
 * its last few frames (to quote in ICMP errors or reflect). The generators use it to make
 * frames that get past the first checks: an ARP reply the host is waiting for, a segment
 * inside the window, a SYN-ACK for its own SYN.
 *
 * @module
 */

import type { TxOffload } from "../../link/driver.ts";
import type { TxObserver } from "./fuzz_driver.ts";
import { ETH, ETHERTYPE_ARP, ETHERTYPE_IPV4, get16, get32, SYN } from "./frames.ts";

/** One TCP connection as seen from the wire. */
export class TcpSession {
  /** Peer (remote) address and port, the host's port. */
  peerIp = 0;
  peerPort = 0;
  hostPort = 0;
  /** Next sequence number the host will send (its last segment's seq + length). */
  hostNext = 0;
  /** What the host acknowledges: the next byte it expects from the peer. */
  hostAck = 0;
  /** The host's advertised window. */
  hostWindow = 0;
  /** The host's last TSval, or -1 without timestamps. */
  hostTsVal = -1;
  /** The host sent a SYN (active open) that we may answer. */
  hostSyn = false;
  /** The peer's next sequence number, as far as the generator knows. */
  peerNext = 0;
  /** The last acknowledgment number the peer sent (repeated for duplicate ACKs). */
  peerAck = 0;
  /** The peer's own timestamp clock (TSval). */
  peerTsVal = 0;
  /** Last time (frame count) this session moved, for replacing the stalest. */
  touched = 0;
}

/** Most sessions tracked. */
const SESSIONS = 16;
/** Frames of the host kept for quoting. */
const RECENT = 8;
/** Bytes kept of each recent frame. */
const RECENT_BYTES = 128;

/** The peers' view of the host. */
export class PeerModel implements TxObserver {
  /** TCP sessions seen. */
  readonly sessions: TcpSession[] = [];
  /** Addresses the host asked for with ARP (most recent last, at most 16). */
  readonly arpAsked: number[] = [];
  /** The host's last frames, truncated; `recentLen[i]` bytes of `recent[i]` are valid. */
  readonly recent: Uint8Array[] = [];
  /** Valid length of each recent frame. */
  readonly recentLen = new Int32Array(RECENT);
  #recentNext = 0;
  #clock = 0;

  /** An empty model. */
  constructor() {
    for (let i = 0; i < RECENT; i++) this.recent.push(new Uint8Array(RECENT_BYTES));
  }

  /** How many recent frames are held. */
  get recentCount(): number {
    return Math.min(this.#recentNext, RECENT);
  }

  /** Find or add the session for `peerIp:peerPort` ↔ host port `hostPort`. */
  session(peerIp: number, peerPort: number, hostPort: number): TcpSession {
    this.#clock++;
    let stalest: TcpSession | null = null;
    for (const s of this.sessions) {
      if (s.peerIp === peerIp && s.peerPort === peerPort && s.hostPort === hostPort) {
        s.touched = this.#clock;
        return s;
      }
      if (stalest === null || s.touched < stalest.touched) stalest = s;
    }
    let s: TcpSession;
    if (this.sessions.length < SESSIONS) {
      s = new TcpSession();
      this.sessions.push(s);
    } else {
      s = stalest!;
    }
    s.peerIp = peerIp;
    s.peerPort = peerPort;
    s.hostPort = hostPort;
    s.hostNext = 0;
    s.hostAck = 0;
    s.hostWindow = 0;
    s.hostTsVal = -1;
    s.hostSyn = false;
    s.peerNext = 0;
    s.peerAck = 0;
    s.peerTsVal = 0;
    s.touched = this.#clock;
    return s;
  }

  /** Learn from one transmitted frame. Never throws on what it cannot parse. */
  onTransmit(frame: Uint8Array, off: number, len: number, _offload: TxOffload | null): void {
    const keep = Math.min(len, RECENT_BYTES);
    const slot = this.#recentNext % RECENT;
    this.recent[slot].set(frame.subarray(off, off + keep));
    this.recentLen[slot] = keep;
    this.#recentNext++;
    if (len < ETH + 20) return;
    const type = get16(frame, off + 12);
    if (type === ETHERTYPE_ARP && len >= ETH + 28 && get16(frame, off + ETH + 6) === 1) {
      if (this.arpAsked.length >= 16) this.arpAsked.shift();
      this.arpAsked.push(get32(frame, off + ETH + 24));
      return;
    }
    if (type !== ETHERTYPE_IPV4) return;
    const ip = off + ETH;
    const hb = (frame[ip] & 15) * 4;
    if (frame[ip + 9] !== 6 || (get16(frame, ip + 6) & 0x3fff) !== 0 || len < ETH + hb + 20) return;
    const t = ip + hb;
    const total = Math.min(get16(frame, ip + 2), len - ETH);
    const doff = (frame[t + 12] >> 4) * 4;
    const flags = frame[t + 13];
    const s = this.session(get32(frame, ip + 16), get16(frame, t + 2), get16(frame, t));
    const dataLen = Math.max(0, total - hb - doff);
    const seq = get32(frame, t + 4);
    s.hostNext = (seq + dataLen + ((flags & SYN) !== 0 ? 1 : 0) + (flags & 1)) >>> 0;
    s.hostAck = get32(frame, t + 8);
    s.hostWindow = get16(frame, t + 14);
    if ((flags & SYN) !== 0 && (flags & 0x10) === 0) s.hostSyn = true;
    if ((flags & 0x10) !== 0 && s.peerNext === 0) s.peerNext = s.hostAck;
    // Timestamps: walk the options for kind 8.
    for (let o = t + 20; o + 1 < t + doff && o < off + len;) {
      const kind = frame[o];
      if (kind === 0) break;
      if (kind === 1) {
        o++;
        continue;
      }
      const l = frame[o + 1];
      if (l < 2) break;
      if (kind === 8 && l === 10 && o + 10 <= off + len) s.hostTsVal = get32(frame, o + 2);
      o += l;
    }
  }
}
