/**
 * TCP options (RFC 9293 §3.1–3.2, RFC 7323 window scale and timestamps, RFC 2018 SACK): a
 * reusable decoded record, a parser that survives any byte soup, and a writer that lays the
 * options out the way Linux does (`tcp_options_write`), so every option starts where a
 * receiver expects it and the timestamps stay 4-byte aligned.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";

/** Kind: end of option list (RFC 9293 §3.2). */
export const TCP_OPT_EOL = 0;
/** Kind: no-operation (padding/alignment). */
export const TCP_OPT_NOP = 1;
/** Kind: maximum segment size (RFC 9293 §3.7.1), SYN only. */
export const TCP_OPT_MSS = 2;
/** Kind: window scale (RFC 7323 §2), SYN only. */
export const TCP_OPT_WINDOW_SCALE = 3;
/** Kind: SACK permitted (RFC 2018 §2), SYN only. */
export const TCP_OPT_SACK_PERMITTED = 4;
/** Kind: SACK blocks (RFC 2018 §3). */
export const TCP_OPT_SACK = 5;
/** Kind: timestamps (RFC 7323 §3). */
export const TCP_OPT_TIMESTAMPS = 8;

/** Length of the MSS option. */
export const TCP_OPT_MSS_BYTES = 4;
/** Length of the window scale option. */
export const TCP_OPT_WINDOW_SCALE_BYTES = 3;
/** Length of the SACK-permitted option. */
export const TCP_OPT_SACK_PERMITTED_BYTES = 2;
/** Length of the timestamps option. */
export const TCP_OPT_TIMESTAMPS_BYTES = 10;
/** Length of the SACK option without blocks; each block adds 8. */
export const TCP_OPT_SACK_BASE_BYTES = 2;
/** Bytes of one SACK block (left and right edge, RFC 2018 §3). */
export const TCP_OPT_SACK_BLOCK_BYTES = 8;
/**
 * Bytes the timestamps option takes in a segment as written here: two NOPs (or, on a SYN,
 * SACK-permitted) in front keep the values 4-byte aligned (RFC 7323 Appendix A).
 */
export const TCP_OPT_TIMESTAMPS_ALIGNED_BYTES = 12;
/** Bytes of each other option as written here, padded with NOPs to a 32-bit word. */
export const TCP_OPT_WORD_BYTES = 4;
/** Most option bytes a header can carry (data offset 15). */
export const TCP_OPTIONS_MAX_BYTES = 40;
/** Most SACK blocks an option can carry (2 + 4 × 8 = 34 ≤ 40). */
export const TCP_MAX_SACK_BLOCKS = 4;
/** Largest window shift (RFC 7323 §2.3: a larger value is used as 14). */
export const TCP_MAX_WINDOW_SCALE = 14;

/**
 * Drop reason: the option list is structurally broken — an option length below 2 or past the
 * end of the options, or a kind byte with no room for its length (the `tcp` counter `InErrs`).
 */
export const TCP_OPTIONS_DROP_ERRORS = "InErrs";
/** Every reason {@link parseTcpOptions} can return. */
export type TcpOptionsDropReason = typeof TCP_OPTIONS_DROP_ERRORS;

/**
 * The decoded options of one segment, or the options to send. One record is reused.
 *
 * @example
 * ```ts
 * const opts = new TcpHeaderOptions();
 * if (parseTcpOptions(buf, tcp.optionsOffset, tcp.optionsLength, opts) === null && opts.mss) {
 *   peerMss = opts.mss;
 * }
 * ```
 */
export class TcpHeaderOptions {
  /** Maximum segment size; 0 = absent. */
  mss = 0;
  /** Window shift 0..14; -1 = absent. */
  windowScale: number = -1;
  /** The SACK-permitted option is present. */
  sackPermitted = false;
  /** The timestamps option is present (then `tsVal`/`tsEcr` are set). */
  hasTimestamps = false;
  /** Timestamp value (unsigned 32-bit; a double from the start). */
  tsVal: number = DOUBLE_ZERO;
  /** Timestamp echo reply (unsigned 32-bit; a double from the start). */
  tsEcr: number = DOUBLE_ZERO;
  /** Number of SACK blocks in `sackBlocks` (0..4). */
  sackBlockCount = 0;
  /** SACK blocks as (left edge, right edge) pairs: block i is [2i], [2i + 1]. */
  readonly sackBlocks: Uint32Array = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);

  /** Reset to "no options". */
  clear(): void {
    this.mss = 0;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.hasTimestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.sackBlockCount = 0;
  }
}

// The readers below store the 32-bit words where they go and return nothing: V8's mid tier
// does not inline a call on a path under ~95 % of the calls (the SACK case, or the timestamps
// when some segments lack them), and a returned word at or above 2**30 is a new heap number.

/** The big-endian word at `b[o]` into `words[k]`. */
function loadWord(words: Uint32Array, k: number, b: Uint8Array, o: number): void {
  words[k] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/** TSval and TSecr from the option's body at `b[o]` into `out`. */
function loadTimestamps(out: TcpHeaderOptions, b: Uint8Array, o: number): void {
  out.tsVal = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  out.tsEcr = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
}

/**
 * Decode the options at `buf[off, off + len)` into `out` (cleared first).
 *
 * Never throws. Unknown kinds are skipped by their length; known kinds with a wrong length
 * (e.g. an MSS of 3 bytes, a SACK not 2 + 8n long) are skipped, as Linux does; a window shift
 * above 14 is read as 14 (RFC 7323 §2.3); an MSS of 0 reads as absent. Returns
 * {@link TCP_OPTIONS_DROP_ERRORS} only when the list cannot be walked (RFC 9293 §3.1 MUST-7:
 * an illegal option length, e.g. zero); `out` then holds what came before the break, which is
 * all Linux would use — the caller decides whether to drop the segment or go on with that.
 */
export function parseTcpOptions(
  buf: Uint8Array,
  off: number,
  len: number,
  out: TcpHeaderOptions,
): TcpOptionsDropReason | null {
  out.mss = 0;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.hasTimestamps = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  out.sackBlockCount = 0;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  let i = off;
  while (i < end) {
    const kind = buf[i];
    if (kind === TCP_OPT_EOL) break; // RFC 9293 §3.2: the rest is padding
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return TCP_OPTIONS_DROP_ERRORS; // no room for the length byte
    const optLen = buf[i + 1];
    if (optLen < 2 || i + optLen > end) return TCP_OPTIONS_DROP_ERRORS;
    switch (kind) {
      case TCP_OPT_MSS:
        if (optLen === TCP_OPT_MSS_BYTES) out.mss = (buf[i + 2] << 8) | buf[i + 3];
        break;
      case TCP_OPT_WINDOW_SCALE:
        if (optLen === TCP_OPT_WINDOW_SCALE_BYTES) {
          const shift = buf[i + 2];
          out.windowScale = shift > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : shift;
        }
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (optLen === TCP_OPT_SACK_PERMITTED_BYTES) out.sackPermitted = true;
        break;
      case TCP_OPT_TIMESTAMPS:
        if (optLen === TCP_OPT_TIMESTAMPS_BYTES) {
          out.hasTimestamps = true;
          loadTimestamps(out, buf, i + 2);
        }
        break;
      case TCP_OPT_SACK: {
        // RFC 2018 §3: length 2 + 8n, n ≥ 1; 40 option bytes fit at most 4 blocks.
        const body = optLen - TCP_OPT_SACK_BASE_BYTES;
        if (body >= 8 && (body & 7) === 0) {
          let n = body >>> 3;
          if (n > TCP_MAX_SACK_BLOCKS) n = TCP_MAX_SACK_BLOCKS;
          const blocks = out.sackBlocks;
          for (let k = 0; k < n; k++) {
            loadWord(blocks, 2 * k, buf, i + 2 + 8 * k);
            loadWord(blocks, 2 * k + 1, buf, i + 6 + 8 * k);
          }
          out.sackBlockCount = n;
        }
        break;
      }
      default:
        break; // unknown kind: skipped by its length (RFC 9293 §3.1 MUST-6)
    }
    i += optLen;
  }
  return null;
}

/** SACK blocks that fit beside the other non-SYN options (Linux: 4, or 3 with timestamps). */
function sackBlocksToWrite(opts: TcpHeaderOptions): number {
  const ts = opts.hasTimestamps ? TCP_OPT_TIMESTAMPS_ALIGNED_BYTES : 0;
  const room = ((TCP_OPTIONS_MAX_BYTES - ts - TCP_OPT_WORD_BYTES) / TCP_OPT_SACK_BLOCK_BYTES) | 0;
  let n = opts.sackBlockCount;
  if (n > room) n = room;
  return n > 0 ? n : 0;
}

/**
 * Bytes {@link writeTcpOptions} writes for `opts` (a multiple of 4, at most 40).
 *
 * @example
 * ```ts
 * const hdrBytes = 20 + tcpOptionsLength(opts, false);
 * ```
 */
export function tcpOptionsLength(opts: TcpHeaderOptions, isSyn: boolean): number {
  let n = opts.hasTimestamps ? TCP_OPT_TIMESTAMPS_ALIGNED_BYTES : 0;
  if (isSyn) {
    if (opts.mss > 0) n += TCP_OPT_WORD_BYTES;
    if (opts.sackPermitted && !opts.hasTimestamps) n += TCP_OPT_WORD_BYTES;
    if (opts.windowScale >= 0) n += TCP_OPT_WORD_BYTES;
  } else {
    const blocks = sackBlocksToWrite(opts);
    if (blocks > 0) n += TCP_OPT_WORD_BYTES + TCP_OPT_SACK_BLOCK_BYTES * blocks;
  }
  return n;
}

/**
 * Write `opts` at `buf[off..]` and return the bytes written (a multiple of 4, at most 40).
 *
 * SYN and SYN-ACK (`isSyn`): MSS (if > 0), then timestamps (with SACK-permitted in front of
 * them instead of two NOPs when both are on), SACK-permitted alone after two NOPs, and the
 * window scale (if ≥ 0) after one NOP — Linux's order, e.g.
 * `02 04 05 b4 | 04 02 08 0a | tsval | tsecr | 01 03 03 07`. Other segments: timestamps after
 * two NOPs, then SACK blocks after two NOPs, as many as fit (RFC 2018 §3: 4, or 3 beside
 * timestamps). MSS, window scale and SACK-permitted are only legal on SYNs and are not written
 * otherwise; SACK blocks are not written on SYNs.
 *
 * @example
 * ```ts
 * const opts = new TcpHeaderOptions();
 * opts.mss = 1460; opts.windowScale = 7; opts.sackPermitted = true;
 * const n = writeTcpOptions(buf, tcpOff + 20, opts, true); // 12
 * ```
 */
export function writeTcpOptions(
  buf: Uint8Array,
  off: number,
  opts: TcpHeaderOptions,
  isSyn: boolean,
): number {
  let o = off;
  if (isSyn && opts.mss > 0) {
    buf[o] = TCP_OPT_MSS;
    buf[o + 1] = TCP_OPT_MSS_BYTES;
    buf[o + 2] = opts.mss >>> 8;
    buf[o + 3] = opts.mss;
    o += 4;
  }
  if (opts.hasTimestamps) {
    // RFC 7323 Appendix A: NOP NOP in front keeps the two 32-bit values aligned.
    if (isSyn && opts.sackPermitted) {
      buf[o] = TCP_OPT_SACK_PERMITTED;
      buf[o + 1] = TCP_OPT_SACK_PERMITTED_BYTES;
    } else {
      buf[o] = TCP_OPT_NOP;
      buf[o + 1] = TCP_OPT_NOP;
    }
    buf[o + 2] = TCP_OPT_TIMESTAMPS;
    buf[o + 3] = TCP_OPT_TIMESTAMPS_BYTES;
    // Byte stores here, not write32(): a timestamp at or above 2**30 passed to a call V8 does
    // not inline would be a new heap number per segment.
    const tsVal = opts.tsVal;
    buf[o + 4] = tsVal >>> 24;
    buf[o + 5] = tsVal >>> 16;
    buf[o + 6] = tsVal >>> 8;
    buf[o + 7] = tsVal;
    const tsEcr = opts.tsEcr;
    buf[o + 8] = tsEcr >>> 24;
    buf[o + 9] = tsEcr >>> 16;
    buf[o + 10] = tsEcr >>> 8;
    buf[o + 11] = tsEcr;
    o += TCP_OPT_TIMESTAMPS_ALIGNED_BYTES;
  }
  if (isSyn) {
    if (opts.sackPermitted && !opts.hasTimestamps) {
      buf[o] = TCP_OPT_NOP;
      buf[o + 1] = TCP_OPT_NOP;
      buf[o + 2] = TCP_OPT_SACK_PERMITTED;
      buf[o + 3] = TCP_OPT_SACK_PERMITTED_BYTES;
      o += 4;
    }
    if (opts.windowScale >= 0) {
      buf[o] = TCP_OPT_NOP;
      buf[o + 1] = TCP_OPT_WINDOW_SCALE;
      buf[o + 2] = TCP_OPT_WINDOW_SCALE_BYTES;
      buf[o + 3] = opts.windowScale > TCP_MAX_WINDOW_SCALE
        ? TCP_MAX_WINDOW_SCALE
        : opts.windowScale;
      o += 4;
    }
  } else {
    const n = sackBlocksToWrite(opts);
    if (n > 0) {
      buf[o] = TCP_OPT_NOP;
      buf[o + 1] = TCP_OPT_NOP;
      buf[o + 2] = TCP_OPT_SACK;
      buf[o + 3] = TCP_OPT_SACK_BASE_BYTES + TCP_OPT_SACK_BLOCK_BYTES * n;
      o += TCP_OPT_WORD_BYTES;
      const blocks = opts.sackBlocks;
      // Byte stores, as the timestamps': an edge (≥ 2**30) passed to write32() not inlined
      // was a heap number per edge of every ACK a receiver holding a hole sends ("sack33").
      for (let k = 0; k < n; k++) {
        const l = blocks[2 * k];
        buf[o] = l >>> 24;
        buf[o + 1] = l >>> 16;
        buf[o + 2] = l >>> 8;
        buf[o + 3] = l;
        const r = blocks[2 * k + 1];
        buf[o + 4] = r >>> 24;
        buf[o + 5] = r >>> 16;
        buf[o + 6] = r >>> 8;
        buf[o + 7] = r;
        o += TCP_OPT_SACK_BLOCK_BYTES;
      }
    }
  }
  return o - off;
}
