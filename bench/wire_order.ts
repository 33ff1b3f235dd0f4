/**
 * A sender's frames out of send order at its peer, counted from a classic pcap file (Ethernet,
 * as `dumpcap -P` writes it) taken on the peer's interface ahead of any drop rule: a TCP
 * segment whose sequence number is below the highest byte seen so far and that was not seen
 * before (a first transmission, not a resend) arrived after one sent later — the path
 * reordered it. Resends (their first byte seen before) count nothing, so loss adds nothing;
 * only reordering does. (Stacks before `gro11e` numbered a super-frame once and the kernel's
 * segmentation added each segment's index, so consecutive super-frames overlapped; the stack now
 * advances its identification by the segments, as Linux does.) One TCP flow per capture (filter
 * at capture).
 *
 * The other way, a kernel peer's ACKs: Linux numbers a connected socket's datagrams one by one,
 * so an ACK whose identification is behind the highest seen ({@link countIdInversions}) was
 * overtaken by a later one between the peer's TCP and the capture.
 *
 * @module
 */

/** What {@link countSeqInversions} found. */
export interface WireOrder {
  /** TCP segments with payload seen. */
  segments: number;
  /** Of those, resends: their first byte was the first byte of a segment seen before. */
  resends: number;
  /** First transmissions that came after a segment sent later (below the highest byte seen). */
  inversions: number;
  /** The furthest such a segment was behind the highest byte seen (bytes). */
  maxBehindBytes: number;
  /** Runs of consecutive inverted segments (one reordering event each). */
  events: number;
}

/** Classic pcap magic, microsecond stamps, as written on a little-endian host. */
const PCAP_MAGIC_LE = 0xa1b2c3d4;
/** The same with nanosecond stamps. */
const PCAP_MAGIC_NS_LE = 0xa1b23c4d;
/** Bytes of the file header. */
const FILE_HEADER = 24;
/** Bytes of a record header. */
const RECORD_HEADER = 16;
/** LINKTYPE_ETHERNET. */
const LINKTYPE_ETHERNET = 1;
/** TCP flags byte: SYN. */
const TCP_SYN = 0x02;
/** TCP flags byte: RST. */
const TCP_RST = 0x04;
/** Ethernet header bytes (no VLAN tag). */
const ETH = 14;

/**
 * Count the TCP-over-IPv4 segments of `pcap` (one flow; filter at capture) that arrived behind
 * a later-sent one. Throws on a file that is not a little-endian classic Ethernet pcap; snaps
 * of 64 bytes suffice (lengths come from the IP header).
 *
 * @example
 * ```ts ignore
 * const o = countSeqInversions(await Deno.readFile("/tmp/peer.pcap"));
 * console.log(o.inversions / o.segments);
 * ```
 */
export function countSeqInversions(pcap: Uint8Array): WireOrder {
  const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const out: WireOrder = { segments: 0, resends: 0, inversions: 0, maxBehindBytes: 0, events: 0 };
  const seen = new Set<number>();
  // The highest byte seen, unwrapped (an offset from the first segment's sequence number, which
  // may go negative when that segment was itself overtaken), and its sequence number on the
  // wire: each segment is placed by its signed 32-bit distance from it, so a flow past 4 GB
  // (the sequence space wrapping) and a first segment that arrived late both place right.
  let top = NaN;
  let topSeq = 0;
  let inRun = false;
  for (const d of tcpDataSegments(pcap, v, "countSeqInversions")) {
    const payload = d.payload;
    const seq = d.seq;
    const first = top !== top; // NaN: no segment yet
    if (first) {
      top = 0;
      topSeq = seq;
    }
    const at = top + ((seq - topSeq) | 0);
    out.segments++;
    if (seen.has(at)) {
      out.resends++;
      continue;
    }
    seen.add(at);
    const end = at + payload;
    if (!first && at < top) {
      out.inversions++;
      if (top - at > out.maxBehindBytes) out.maxBehindBytes = top - at;
      if (!inRun) out.events++;
      inRun = true;
    } else inRun = false;
    if (first || end > top) {
      top = end;
      topSeq = (seq + payload) >>> 0;
    }
  }
  return out;
}

/** What {@link countIdInversions} found. */
export interface IdOrder {
  /** IPv4 datagrams seen. */
  datagrams: number;
  /** Datagrams that came after one with a later identification. */
  inversions: number;
  /** The furthest an inverted datagram was behind (identifications). */
  maxBehind: number;
  /**
   * Datagrams more than {@link ID_JUMP} from the highest seen: another sender's (a reply from
   * outside the connection), skipped — they would make every later one look behind; or, when
   * {@link ID_REANCHOR} come in a row, the sender's own after a first datagram that was not.
   */
  jumps: number;
}

/**
 * An identification more than this far from the highest seen (ahead or behind) is not the same
 * sender's next one, nor one it overtook.
 */
export const ID_JUMP = 1024;

/**
 * Far datagrams in a row, each a little ahead of the last, after which they are taken as the
 * sender's own numbering (the first datagram of the capture was another's).
 */
export const ID_REANCHOR = 3;

/**
 * Count the IPv4 datagrams of `pcap` (one sender that numbers its datagrams one by one, as
 * Linux does a connected socket's; filter at capture) that came after one with a later
 * identification (modulo 2^16, at most {@link ID_JUMP} behind). TCP SYNs and RSTs are left
 * out: Linux sends them from other sockets, numbered apart.
 *
 * @example
 * ```ts ignore
 * const acks = countIdInversions(await Deno.readFile("/tmp/stack.pcap"));
 * ```
 */
export function countIdInversions(pcap: Uint8Array): IdOrder {
  const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const out: IdOrder = { datagrams: 0, inversions: 0, maxBehind: 0, jumps: 0 };
  let max = -1;
  // Far datagrams in a row, each a little ahead of the one before: the sender's own numbering
  // (the first datagram was another's); after ID_REANCHOR of them the count follows them.
  let far = -1;
  let farRun = 0;
  for (const f of ipv4Frames(pcap, v, "countIdInversions")) {
    const caught = v.getUint32(f - RECORD_HEADER + 8, true);
    const ihl = (v.getUint8(f + ETH) & 0xf) * 4;
    // A SYN-ACK or RST goes out from another socket (the listener's request, a control
    // socket) with its own numbering; Linux starts the connection's own at random.
    if (
      v.getUint8(f + ETH + 9) === 6 && caught >= ETH + ihl + 14 &&
      (v.getUint8(f + ETH + ihl + 13) & (TCP_SYN | TCP_RST)) !== 0
    ) continue;
    const id = v.getUint16(f + ETH + 4);
    out.datagrams++;
    if (max < 0) {
      max = id;
      continue;
    }
    const ahead = (id - max) & 0xffff;
    if (ahead <= ID_JUMP) {
      if (ahead !== 0) max = id;
      farRun = 0;
    } else if (ahead >= 0x10000 - ID_JUMP) {
      out.inversions++;
      if (0x10000 - ahead > out.maxBehind) out.maxBehind = 0x10000 - ahead;
      farRun = 0;
    } else {
      out.jumps++;
      const step = (id - far) & 0xffff;
      farRun = farRun > 0 && step !== 0 && step <= ID_JUMP ? farRun + 1 : 1;
      far = id;
      if (farRun >= ID_REANCHOR) {
        max = id;
        farRun = 0;
      }
    }
  }
  return out;
}

/** One TCP segment with data in a capture: its frame's offset, SEG.SEQ and payload length. */
interface TcpData {
  frame: number;
  seq: number;
  payload: number;
}

/** The TCP segments with data among `pcap`'s IPv4 frames ({@link ipv4Frames}), one record reused. */
function* tcpDataSegments(pcap: Uint8Array, v: DataView, who: string): Generator<TcpData> {
  const d: TcpData = { frame: 0, seq: 0, payload: 0 };
  for (const f of ipv4Frames(pcap, v, who)) {
    const caught = v.getUint32(f - RECORD_HEADER + 8, true);
    const ihl = (v.getUint8(f + ETH) & 0xf) * 4;
    if (v.getUint8(f + ETH + 9) !== 6 || caught < ETH + ihl + 14) continue;
    const tcp = f + ETH + ihl;
    const payload = v.getUint16(f + ETH + 2) - ihl - (v.getUint8(tcp + 12) >> 4) * 4;
    if (payload <= 0) continue;
    d.frame = f;
    d.seq = v.getUint32(tcp + 4);
    d.payload = payload;
    yield d;
  }
}

/**
 * The offsets in `pcap` (viewed by `v`) of its frames that hold at least an IPv4 header's 20
 * bytes; a record cut off at the file's end ends the walk. Throws (naming `who`) on a file that
 * is not a little-endian classic Ethernet pcap; an empty one has no frames.
 */
function* ipv4Frames(pcap: Uint8Array, v: DataView, who: string): Generator<number> {
  if (pcap.byteLength < FILE_HEADER) return;
  const magic = v.getUint32(0, true);
  if (magic !== PCAP_MAGIC_LE && magic !== PCAP_MAGIC_NS_LE) {
    throw new Error(`${who}: not a little-endian classic pcap file`);
  }
  if (v.getUint32(20, true) !== LINKTYPE_ETHERNET) {
    throw new Error(`${who}: not an Ethernet capture`);
  }
  for (let p = FILE_HEADER; p + RECORD_HEADER <= pcap.byteLength;) {
    const caught = v.getUint32(p + 8, true);
    const f = p + RECORD_HEADER;
    p = f + caught;
    if (p > pcap.byteLength) return;
    if (caught >= ETH + 20 && v.getUint16(f + 12) === 0x0800) yield f;
  }
}

/** What {@link countSendOrder} found. */
export interface SendOrder {
  /** The sender's frames, rebuilt from their segments (see {@link countSendOrder}). */
  frames: number;
  /** Segments that came after a segment of a frame sent later (by the frames' numbers). */
  behindLater: number;
  /** Of those, first transmissions that came after a resend sent later than them. */
  behindResend: number;
  /** Of those, resends (a resend behind new data sent after it). */
  resendsBehind: number;
  /** Resends ahead of at least one first transmission sent before them. */
  resendsAhead: number;
  /** The furthest a segment was behind in send order (frames). */
  maxBehindFrames: number;
}

/** Resends remembered for {@link countSendOrder}'s count of those that overtook. */
const RECENT_RESENDS = 64;

/**
 * Count, in the sender's send order, the segments of `pcap` (one TCP-over-IPv4 flow from the
 * stack; filter at capture) that arrived behind a later-sent one — in particular first
 * transmissions behind a later resend, which a count by sequence number cannot see (the resend's
 * bytes are below them). The kernel's segmentation numbers a super-frame's segments on from its
 * identification; so segments that follow each other both by identification (+1) and by
 * sequence (the next byte) are one frame, and the frame's number is its first segment's. (A
 * stack before `gro11e` numbered the next datagram +1 after a super-frame, so a frame of n
 * segments followed at once by the next new data sent n frames later — n − 1 resends sent
 * between — joined it. The stack now numbers the next datagram after the last segment, as
 * Linux does: consecutive frames of new data join into one run, numbered by its first segment;
 * a resend between them, sent or arriving, still starts a frame of its own, so the order
 * counts hold.)
 * Frames more than {@link ID_JUMP} apart are not compared.
 *
 * @example
 * ```ts ignore
 * const o = countSendOrder(await Deno.readFile("/tmp/peer.pcap"));
 * console.log(o.behindResend, o.resendsAhead);
 * ```
 */
export function countSendOrder(pcap: Uint8Array): SendOrder {
  const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const out: SendOrder = {
    frames: 0,
    behindLater: 0,
    behindResend: 0,
    resendsBehind: 0,
    resendsAhead: 0,
    maxBehindFrames: 0,
  };
  const seen = new Set<number>();
  let base0 = NaN; // the first segment's sequence number: bytes are placed from it, as above
  let prevId = -1;
  let prevEnd = 0;
  let frame = -1; // the current frame's number (its first segment's identification)
  let maxFrame = -1; // the latest-sent frame seen, unwrapped
  let maxResend = -Infinity; // the latest-sent resend seen, unwrapped
  // Recent resends' frame numbers (unwrapped) and whether one has been counted as ahead.
  const resendFrame = new Float64Array(RECENT_RESENDS).fill(-Infinity);
  const resendCounted = new Uint8Array(RECENT_RESENDS);
  let resendNext = 0;
  let lastUnwrapped = 0;
  for (const d of tcpDataSegments(pcap, v, "countSendOrder")) {
    const f = d.frame;
    const payload = d.payload;
    const seq = d.seq;
    const id = v.getUint16(f + ETH + 4);
    if (base0 !== base0) base0 = seq;
    const at = (seq - base0) | 0; // flows of up to 2 GB place right; enough for a 5 s run's tap
    const resend = seen.has(at);
    if (!resend) seen.add(at);
    const sameFrame = prevId >= 0 && id === ((prevId + 1) & 0xffff) && at === prevEnd;
    prevId = id;
    prevEnd = at + payload;
    if (!sameFrame) {
      // Unwrap the frame's number by its signed distance from the last one.
      let d = (id - (lastUnwrapped & 0xffff)) & 0xffff;
      if (d >= 0x8000) d -= 0x10000;
      if (frame >= 0 && (d > ID_JUMP || d < -ID_JUMP)) continue; // not comparable: skipped
      frame = frame < 0 ? id : lastUnwrapped + d;
      lastUnwrapped = frame;
      out.frames++;
    }
    if (frame < maxFrame) {
      out.behindLater++;
      if (maxFrame - frame > out.maxBehindFrames) out.maxBehindFrames = maxFrame - frame;
      if (resend) out.resendsBehind++;
      if (!resend && frame < maxResend) {
        out.behindResend++;
        for (let i = 0; i < RECENT_RESENDS; i++) {
          if (resendCounted[i] === 0 && resendFrame[i] > frame) {
            resendCounted[i] = 1;
            out.resendsAhead++;
          }
        }
      }
    } else maxFrame = frame;
    if (resend && !sameFrame) {
      if (frame > maxResend) maxResend = frame;
      resendFrame[resendNext] = frame;
      resendCounted[resendNext] = 0;
      resendNext = (resendNext + 1) % RECENT_RESENDS;
    }
  }
  return out;
}
