/**
 * SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed 64-bit
 * PRF for short inputs, used for TCP initial sequence numbers (RFC 6528), SYN cookies and
 * hash-flooding-resistant tables.
 *
 * The 64-bit lanes are computed as pairs of 32-bit halves (no BigInt) held in local
 * variables, so a call allocates nothing. Keys and results are little-endian
 * 32-bit words, matching the byte order of the reference implementation:
 *
 * - key: `Uint32Array(4)` = `[k0.lo, k0.hi, k1.lo, k1.hi]`, where k0 is key bytes 0..7 read
 *   little-endian and k1 bytes 8..15 ({@link sipKeyFromBytes} converts).
 * - result: `out[0]` = low 32 bits, `out[1]` = high 32 bits; the reference's 8 output bytes
 *   are `out[0]` then `out[1]`, each little-endian.
 *
 * @example
 * ```ts
 * import { sipKeyFromBytes, siphash24 } from "./siphash.ts";
 * const key = sipKeyFromBytes(new Uint8Array(16).map((_, i) => i));
 * const out = new Uint32Array(2);
 * siphash24(key, new Uint8Array(0), 0, 0, out);
 * // out = [0xdd0e0e31, 0x726fdb47]: the paper's vector for the empty input
 * ```
 *
 * @module
 */

/** Initialisation constants (the paper §2, "somepseudorandomlygeneratedbytes"), hi/lo halves. */
const C0_HI = 0x736f6d65, C0_LO = 0x70736575;
const C1_HI = 0x646f7261, C1_LO = 0x6e646f6d;
const C2_HI = 0x6c796765, C2_LO = 0x6e657261;
const C3_HI = 0x74656462, C3_LO = 0x79746573;

/** Compression rounds per message word (the "2" of SipHash-2-4). */
const C_ROUNDS = 2;
/** Finalisation rounds (the "4" of SipHash-2-4). */
const D_ROUNDS = 4;

/** Little-endian 32 bits at `data[i..i+4)`, as an int32. */
function le32(data: Uint8Array, i: number): number {
  return data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
}

/**
 * SipHash-2-4 of `data[off, off + len)` under `key`, written to `out[0]` (low 32 bits) and
 * `out[1]` (high 32 bits). Allocation-free. `off`/`len` must lie inside `data` (bytes past the
 * end read as 0).
 *
 * @example
 * ```ts
 * const key = randomSipKey();
 * const bytes = new TextEncoder().encode("hello");
 * const out = new Uint32Array(2);
 * siphash24(key, bytes, 0, bytes.length, out); // out[0] low word, out[1] high word
 * ```
 */
export function siphash24(
  key: Uint32Array,
  data: Uint8Array,
  off: number,
  len: number,
  out: Uint32Array,
): void {
  // State v0..v3 as (hi, lo) halves held in int32 locals: the 64-bit operations below are
  // add-with-carry, rotate and xor on the halves (all values stay int32, so V8 keeps them
  // unboxed). The carry out of a low half is `Number(sum < addend)` (unsigned): V8 turns
  // that into a flag read, where `cond ? 1 : 0` was a branch — and on varied input (a flood's
  // four-tuples) the 40 carries of a 16-byte hash are coin flips: mispredicted, the branches
  // made such a hash ~3× slower than the same hash repeated (bench/siphash_bench.ts).
  const k0l = key[0] | 0, k0h = key[1] | 0, k1l = key[2] | 0, k1h = key[3] | 0;
  let v0h = k0h ^ C0_HI, v0l = k0l ^ C0_LO;
  let v1h = k1h ^ C1_HI, v1l = k1l ^ C1_LO;
  let v2h = k0h ^ C2_HI, v2l = k0l ^ C2_LO;
  let v3h = k1h ^ C3_HI, v3l = k1l ^ C3_LO;
  let a = 0, b = 0, lo = 0;

  const words = len >>> 3; // full 8-byte words
  const tail = off + 8 * words;
  // Steps 0..words-1 absorb full words, step `words` the last (partial) word, and step
  // words + 1 is the finalisation; one copy of the SipRound serves them all.
  for (let w = 0; w <= words + 1; w++) {
    let mHi = 0, mLo = 0, rounds = C_ROUNDS;
    if (w < words) {
      const i = off + 8 * w;
      mLo = le32(data, i);
      mHi = le32(data, i + 4);
    } else if (w === words) {
      // Remaining 0..7 bytes little-endian, with (len mod 256) in the top byte (paper §2).
      mHi = (len & 0xff) << 24;
      const rest = off + len - tail;
      for (let j = 0; j < rest; j++) {
        const byte = data[tail + j] | 0;
        if (j < 4) mLo |= byte << (8 * j);
        else mHi |= byte << (8 * (j - 4));
      }
    } else {
      v2l ^= 0xff; // finalisation: v2 ^= 0xff, then d rounds
      rounds = D_ROUNDS;
    }
    v3h ^= mHi;
    v3l ^= mLo;
    for (let r = 0; r < rounds; r++) {
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      lo = (v0l + v1l) | 0;
      v0h = (v0h + v1h + Number((lo >>> 0) < (v0l >>> 0))) | 0;
      v0l = lo;
      a = (v1h << 13) | (v1l >>> 19);
      b = (v1l << 13) | (v1h >>> 19);
      v1h = a ^ v0h;
      v1l = b ^ v0l;
      a = v0h;
      v0h = v0l;
      v0l = a;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      lo = (v2l + v3l) | 0;
      v2h = (v2h + v3h + Number((lo >>> 0) < (v2l >>> 0))) | 0;
      v2l = lo;
      a = (v3h << 16) | (v3l >>> 16);
      b = (v3l << 16) | (v3h >>> 16);
      v3h = a ^ v2h;
      v3l = b ^ v2l;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      lo = (v0l + v3l) | 0;
      v0h = (v0h + v3h + Number((lo >>> 0) < (v0l >>> 0))) | 0;
      v0l = lo;
      a = (v3h << 21) | (v3l >>> 11);
      b = (v3l << 21) | (v3h >>> 11);
      v3h = a ^ v0h;
      v3l = b ^ v0l;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      lo = (v2l + v1l) | 0;
      v2h = (v2h + v1h + Number((lo >>> 0) < (v2l >>> 0))) | 0;
      v2l = lo;
      a = (v1h << 17) | (v1l >>> 15);
      b = (v1l << 17) | (v1h >>> 15);
      v1h = a ^ v2h;
      v1l = b ^ v2l;
      a = v2h;
      v2h = v2l;
      v2l = a;
    }
    v0h ^= mHi;
    v0l ^= mLo;
  }
  out[0] = v0l ^ v1l ^ v2l ^ v3l;
  out[1] = v0h ^ v1h ^ v2h ^ v3h;
}

/**
 * The {@link siphash24} key words for a 16-byte key (bytes 0..15, as in the reference code).
 *
 * @throws {RangeError} if `bytes` is shorter than 16.
 */
export function sipKeyFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length < 16) throw new RangeError("sipKeyFromBytes: need 16 bytes");
  return new Uint32Array([le32(bytes, 0), le32(bytes, 4), le32(bytes, 8), le32(bytes, 12)]);
}

/** A fresh random key from `crypto.getRandomValues`. */
export function randomSipKey(): Uint32Array {
  return crypto.getRandomValues(new Uint32Array(4));
}
