import assert from "node:assert/strict";
import { randomSipKey, siphash24, sipKeyFromBytes } from "../../core/siphash.ts";

/**
 * SipHash-2-4 reference vectors (the SipHash paper, Appendix A / the reference code's
 * vectors): key = bytes 00..0f, message i = bytes 00..(i-1), output bytes as hex.
 */
const VECTORS = [
  "310e0edd47db6f72",
  "fd67dc93c539f874",
  "5a4fa9d909806c0d",
  "2d7efbd796666785",
  "b7877127e09427cf",
  "8da699cd64557618",
  "cee3fe586e46c9cb",
  "37d1018bf50002ab",
  "6224939a79f5f593",
  "b0e4a90bdf82009e",
  "f3b9dd94c5bb5d7a",
  "a7ad6b22462fb3f4",
  "fbe50e86bc8f1e75",
  "903d84c02756ea14",
  "eef27a8e90ca23f7",
  "e545be4961ca29a1",
  "db9bc2577fcc2a3f",
  "9447be2cf5e99a69",
  "9cd38d96f0b3c14b",
  "bd6179a71dc96dbb",
  "98eea21af25cd6be",
  "c7673b2eb0cbf2d0",
  "883ea3e395675393",
  "c8ce5ccd8c030ca8",
  "94af49f6c650adb8",
  "eab8858ade92e1bc",
  "f315bb5bb835d817",
  "adcf6b0763612e2f",
  "a5c91da7acaa4dde",
  "716595876650a2a6",
  "28ef495c53a387ad",
  "42c341d8fa92d832",
  "ce7cf2722f512771",
  "e37859f94623f3a7",
  "381205bb1ab0e012",
  "ae97a10fd434e015",
  "b4a31508beff4d31",
  "81396229f0907902",
  "4d0cf49ee5d4dcca",
  "5c73336a76d8bf9a",
  "d0a704536ba93e0e",
  "925958fcd6420cad",
  "a915c29bc8067318",
  "952b79f3bc0aa6d4",
  "f21df2e41d4535f9",
  "87577519048f53a9",
  "10a56cf5dfcd9adb",
  "eb75095ccd986cd0",
  "51a9cb9ecba312e6",
  "96afadfc2ce666c7",
  "72fe52975a4364ee",
  "5a1645b276d592a1",
  "b274cb8ebf87870a",
  "6f9bb4203de7b381",
  "eaecb2a30b22a87f",
  "9924a43cc1315724",
  "bd838d3aafbf8db7",
  "0b1a2a3265d51aea",
  "135079a3231ce660",
  "932b2846e4d70666",
  "e1915f5cb1eca46c",
  "f325965ca16d629f",
  "575ff28e60381be5",
  "724506eb4c328a95",
];

function hexOf(out: Uint32Array): string {
  let s = "";
  for (const w of [out[0], out[1]]) {
    for (let i = 0; i < 4; i++) s += ((w >>> (8 * i)) & 0xff).toString(16).padStart(2, "0");
  }
  return s;
}

const KEY_BYTES = new Uint8Array(16).map((_, i) => i);

Deno.test("the 64 reference vectors (key 00..0f, messages 00..i-1)", () => {
  assert.equal(VECTORS.length, 64);
  const key = sipKeyFromBytes(KEY_BYTES);
  const msg = new Uint8Array(64).map((_, i) => i);
  const out = new Uint32Array(2);
  for (let i = 0; i < 64; i++) {
    siphash24(key, msg, 0, i, out);
    assert.equal(hexOf(out), VECTORS[i], `length ${i}`);
  }
});

Deno.test("result words: out[0] low, out[1] high (empty input = 0x726fdb47dd0e0e31)", () => {
  const out = new Uint32Array(2);
  siphash24(sipKeyFromBytes(KEY_BYTES), new Uint8Array(0), 0, 0, out);
  assert.equal(out[0], 0xdd0e0e31);
  assert.equal(out[1], 0x726fdb47);
});

Deno.test("key words are little-endian 32-bit words of the key bytes", () => {
  assert.deepEqual([...sipKeyFromBytes(KEY_BYTES)], [
    0x03020100,
    0x07060504,
    0x0b0a0908,
    0x0f0e0d0c,
  ]);
  assert.throws(() => sipKeyFromBytes(new Uint8Array(15)), RangeError);
});

Deno.test("hashing a slice at an offset equals hashing a copy", () => {
  const key = randomSipKey();
  const big = new Uint8Array(100).map((_, i) => (i * 31) & 0xff);
  const a = new Uint32Array(2), b = new Uint32Array(2);
  for (const [off, len] of [[0, 0], [3, 7], [5, 8], [17, 23], [1, 99]]) {
    siphash24(key, big, off, len, a);
    siphash24(key, big.slice(off, off + len), 0, len, b);
    assert.deepEqual([...a], [...b], `${off}/${len}`);
  }
});

Deno.test("different keys and messages give different hashes; random keys differ", () => {
  const k1 = randomSipKey(), k2 = randomSipKey();
  assert.notDeepEqual([...k1], [...k2]);
  const msg = new Uint8Array([1, 2, 3]);
  const a = new Uint32Array(2), b = new Uint32Array(2);
  siphash24(k1, msg, 0, 3, a);
  siphash24(k2, msg, 0, 3, b);
  assert.notDeepEqual([...a], [...b]);
  siphash24(k1, new Uint8Array([1, 2, 4]), 0, 3, b);
  assert.notDeepEqual([...a], [...b]);
  siphash24(k1, new Uint8Array([1, 2, 3, 0]), 0, 4, b); // length is part of the input
  assert.notDeepEqual([...a], [...b]);
});

/** Straightforward 64-bit BigInt SipHash-2-4, independent of the 32-bit-halves version. */
function referenceSipHash(key: Uint8Array, msg: Uint8Array): bigint {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M;
  const le = (b: Uint8Array, at: number, n: number) => {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]);
    return v;
  };
  const k0 = le(key, 0, 8), k1 = le(key, 8, 8);
  let v0 = k0 ^ 0x736f6d6570736575n, v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n, v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & M, v1 = rotl(v1, 13n), v1 ^= v0, v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M, v3 = rotl(v3, 16n), v3 ^= v2;
    v0 = (v0 + v3) & M, v3 = rotl(v3, 21n), v3 ^= v0;
    v2 = (v2 + v1) & M, v1 = rotl(v1, 17n), v1 ^= v2, v2 = rotl(v2, 32n);
  };
  const words = Math.floor(msg.length / 8);
  for (let w = 0; w <= words; w++) {
    let m = w < words ? le(msg, 8 * w, 8) : le(msg, 8 * w, msg.length - 8 * w);
    if (w === words) m |= BigInt(msg.length & 0xff) << 56n;
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

Deno.test("agrees with a BigInt reference for random keys and lengths up to 300", () => {
  const out = new Uint32Array(2);
  for (let t = 0; t < 300; t++) {
    const keyBytes = crypto.getRandomValues(new Uint8Array(16));
    const msg = crypto.getRandomValues(new Uint8Array(t));
    siphash24(sipKeyFromBytes(keyBytes), msg, 0, t, out);
    const want = referenceSipHash(keyBytes, msg);
    assert.equal((BigInt(out[1]) << 32n) | BigInt(out[0]), want, `length ${t}`);
  }
});
