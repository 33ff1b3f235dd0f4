import assert from "node:assert/strict";
import {
  checksumAdjust,
  checksumAdjust32,
  foldChecksum,
  foldSum,
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  transportChecksumOk,
  udpChecksumToWire,
  verifyChecksum,
} from "../../net/checksum.ts";
import { RX_CSUM_MAYBE_PARTIAL, RX_CSUM_PARTIAL, RX_CSUM_VALID } from "../../link/driver.ts";

/** The obvious RFC 1071 definition: big-endian byte pairs, end-around carry, complement. */
function naiveChecksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) {
    s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

/** A deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(n: number, rand: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

Deno.test("checksum: RFC 1071 §3 numerical example", () => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(foldSum(onesComplementSum(b, 0, 8)), 0xddf2);
  assert.equal(internetChecksum(b, 0, 8), 0x220d);
});

Deno.test("checksum: a real IPv4 header (0xb861)", () => {
  const hdr = new Uint8Array([
    0x45,
    0x00,
    0x00,
    0x73,
    0x00,
    0x00,
    0x40,
    0x00,
    0x40,
    0x11,
    0xb8,
    0x61,
    0xc0,
    0xa8,
    0x00,
    0x01,
    0xc0,
    0xa8,
    0x00,
    0xc7,
  ]);
  assert.ok(verifyChecksum(hdr, 0, 20));
  const copy = hdr.slice();
  copy[10] = 0;
  copy[11] = 0;
  assert.equal(internetChecksum(copy, 0, 20), 0xb861);
  assert.equal(foldChecksum(onesComplementSum(copy, 0, 20)), 0xb861);
  copy[10] = 0xb8;
  copy[11] = 0x62;
  assert.ok(!verifyChecksum(copy, 0, 20));
});

Deno.test("checksum: matches the naive definition, every alignment, lengths 0..300", () => {
  const rand = rng(1);
  const ab = new ArrayBuffer(1024);
  const whole = new Uint8Array(ab);
  whole.set(randomBytes(1024, rand));
  for (let byteOffset = 0; byteOffset < 4; byteOffset++) {
    const view = new Uint8Array(ab, byteOffset, 1024 - byteOffset);
    for (let off = 0; off < 4; off++) {
      for (let len = 0; len <= 300; len++) {
        const want = naiveChecksum(view, off, len);
        assert.equal(
          internetChecksum(view, off, len),
          want,
          `bo=${byteOffset} off=${off} len=${len}`,
        );
      }
    }
  }
});

Deno.test("checksum: all-0xff and all-0x00 data (carry extremes)", () => {
  for (const fill of [0x00, 0xff]) {
    for (const len of [0, 1, 2, 3, 47, 48, 49, 64, 1500, 9000, 65535, 65536, 200_001]) {
      const b = new Uint8Array(len + 3).fill(fill);
      for (let off = 0; off < 4 && off <= 3; off++) {
        assert.equal(internetChecksum(b, off, len), naiveChecksum(b, off, len), `${fill} ${len}`);
      }
    }
  }
});

Deno.test("checksum: large random buffers (up to 1 MiB) at every alignment", () => {
  const rand = rng(2);
  for (const len of [1499, 1500, 8999, 9000, 65535, 65536, 65537, 131_071, 1 << 20]) {
    const b = randomBytes(len + 8, rand);
    for (let off = 0; off < 4; off++) {
      assert.equal(internetChecksum(b, off, len), naiveChecksum(b, off, len), `${len} ${off}`);
    }
  }
});

Deno.test("checksum: chained even pieces equal the whole, odd last piece", () => {
  const rand = rng(3);
  const b = randomBytes(3000, rand);
  for (let trial = 0; trial < 500; trial++) {
    const len = 1 + ((rand() * 2900) | 0);
    const off = (rand() * 50) | 0;
    const cut1 = ((rand() * len) | 0) & ~1;
    const cut2 = cut1 + (((rand() * (len - cut1)) | 0) & ~1);
    let acc = onesComplementSum(b, off, cut1);
    acc = onesComplementSum(b, off + cut1, cut2 - cut1, acc);
    acc = onesComplementSum(b, off + cut2, len - cut2, acc);
    assert.equal(foldChecksum(acc), naiveChecksum(b, off, len));
  }
});

Deno.test("checksum: accumulators stay small and huge accs are reduced", () => {
  const b = new Uint8Array(70_000).fill(0xff);
  const acc = onesComplementSum(b, 0, b.length);
  assert.ok(acc < 1 << 17);
  // Feeding a big non-negative acc gives the same one's complement value as a folded one.
  const big = 0x1234 + 0xffff * 1_000_000;
  assert.equal(foldSum(big), 0x1234);
  assert.equal(foldSum(0xffff * 1_000_000), 0xffff);
  assert.equal(
    foldChecksum(onesComplementSum(b, 0, 100, big)),
    foldChecksum(onesComplementSum(b, 0, 100, 0x1234)),
  );
  assert.equal(
    foldChecksum(onesComplementSum(b, 0, 100, 0xffffffff)),
    foldChecksum(onesComplementSum(b, 0, 100, 0xffff)),
  );
});

Deno.test("checksum: ranges past the end are clamped, empty ranges add nothing", () => {
  const b = new Uint8Array([1, 2, 3, 4]);
  assert.equal(internetChecksum(b, 0, 100), naiveChecksum(b, 0, 4));
  assert.equal(onesComplementSum(b, 2, 0, 7), 7);
  assert.equal(onesComplementSum(b, 4, 10, 7), 7);
  assert.equal(foldChecksum(0), 0xffff);
});

Deno.test("checksum: many buffers (view cache churn) and a resized buffer", () => {
  const rand = rng(4);
  const bufs = Array.from({ length: 10 }, () => randomBytes(200, rand));
  for (let round = 0; round < 3; round++) {
    for (const b of bufs) assert.equal(internetChecksum(b, 1, 150), naiveChecksum(b, 1, 150));
  }
  const ab = new ArrayBuffer(64, { maxByteLength: 4096 });
  const fixed = new Uint8Array(ab, 0, 64);
  fixed.set(randomBytes(64, rand));
  assert.equal(internetChecksum(fixed, 0, 64), naiveChecksum(fixed, 0, 64));
  ab.resize(4096);
  const grown = new Uint8Array(ab);
  grown.set(randomBytes(4096, rand));
  for (let i = 0; i < 3; i++) {
    assert.equal(internetChecksum(grown, 0, 4096), naiveChecksum(grown, 0, 4096));
    assert.equal(internetChecksum(grown, 3, 4000), naiveChecksum(grown, 3, 4000));
  }
  ab.resize(128);
  const shrunk = new Uint8Array(ab);
  assert.equal(internetChecksum(shrunk, 1, 127), naiveChecksum(shrunk, 1, 127));
});

Deno.test("checksum: IPv4 pseudo-header sum equals summing its 12 bytes", () => {
  const rand = rng(5);
  for (let i = 0; i < 200; i++) {
    const src = (rand() * 2 ** 32) >>> 0;
    const dst = (rand() * 2 ** 32) >>> 0;
    const proto = rand() < 0.5 ? 6 : 17;
    const l4 = (rand() * 65536) | 0;
    const ph = new Uint8Array(12);
    const dv = new DataView(ph.buffer);
    dv.setUint32(0, src);
    dv.setUint32(4, dst);
    ph[9] = proto;
    dv.setUint16(10, l4);
    assert.equal(
      foldSum(pseudoHeaderSumV4(src, dst, proto, l4)),
      foldSum(onesComplementSum(ph, 0, 12)),
    );
  }
});

Deno.test("checksum: IPv6 pseudo-header sum equals summing its 40 bytes", () => {
  const rand = rng(6);
  for (let i = 0; i < 200; i++) {
    const pkt = randomBytes(64, rand);
    const l4 = (rand() * 2 ** 32) >>> 0;
    const ph = new Uint8Array(40);
    ph.set(pkt.subarray(8, 24), 0);
    ph.set(pkt.subarray(24, 40), 16);
    new DataView(ph.buffer).setUint32(32, l4);
    ph[39] = 58;
    assert.equal(
      foldSum(pseudoHeaderSumV6(pkt, 8, pkt, 24, 58, l4)),
      foldSum(onesComplementSum(ph, 0, 40)),
    );
  }
});

Deno.test("checksum: a UDP datagram over IPv4 verifies with the pseudo-header", () => {
  // 198.18.0.1:1234 → 198.18.0.2:5678, payload "hi!"
  const udp = new Uint8Array([0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0b, 0x00, 0x00, 0x68, 0x69, 0x21]);
  const ph = pseudoHeaderSumV4(0xc6120001, 0xc6120002, 17, 11);
  const c = udpChecksumToWire(foldChecksum(onesComplementSum(udp, 0, 11, ph)));
  udp[6] = c >>> 8;
  udp[7] = c & 0xff;
  assert.ok(verifyChecksum(udp, 0, 11, ph));
  assert.equal(udpChecksumToWire(0), 0xffff);
  assert.equal(udpChecksumToWire(0x1234), 0x1234);
});

Deno.test("checksum: RFC 1624 incremental update equals recomputation", () => {
  const rand = rng(7);
  for (let i = 0; i < 2000; i++) {
    const len = 2 * (2 + ((rand() * 40) | 0));
    const b = randomBytes(len, rand);
    b[0] = 0;
    b[1] = 0;
    const c = internetChecksum(b, 0, len);
    b[0] = c >>> 8;
    b[1] = c & 0xff;
    const at = 2 + 2 * ((rand() * (len / 2 - 1)) | 0);
    const oldV = (b[at] << 8) | b[at + 1];
    const newV = rand() < 0.1 ? 0 : (rand() * 65536) | 0;
    b[at] = newV >>> 8;
    b[at + 1] = newV & 0xff;
    // All-zero data is the one case eqn. 3 answers with the other zero (0 instead of 0xffff);
    // no protocol checksums all-zero data (the IPv4 version, the pseudo-header protocol).
    if (b.subarray(2).every((x) => x === 0)) continue;
    const adjusted = checksumAdjust(c, oldV, newV);
    b[0] = adjusted >>> 8;
    b[1] = adjusted & 0xff;
    assert.ok(verifyChecksum(b, 0, len), `trial ${i}`);
  }
});

Deno.test("checksum: RFC 1624 32-bit update (address rewrite)", () => {
  const rand = rng(8);
  for (let i = 0; i < 1000; i++) {
    const b = randomBytes(20, rand);
    b[10] = 0;
    b[11] = 0;
    const c = internetChecksum(b, 0, 20);
    const dv = new DataView(b.buffer);
    const oldA = dv.getUint32(12);
    const newA = (rand() * 2 ** 32) >>> 0;
    dv.setUint32(12, newA);
    dv.setUint16(10, checksumAdjust32(c, oldA, newA));
    assert.ok(verifyChecksum(b, 0, 20));
  }
});

Deno.test("transportChecksumOk: trusts kernel flags, verifies otherwise, MAYBE_PARTIAL accepts only the pseudo sum", () => {
  // A UDP datagram 198.18.0.1:1000 → 198.18.0.2:2000 with 4 payload bytes.
  const b = new Uint8Array([0x03, 0xe8, 0x07, 0xd0, 0, 12, 0, 0, 1, 2, 3, 4]);
  const pseudo = pseudoHeaderSumV4(0xc6120001, 0xc6120002, 17, 12);
  const good = foldChecksum(onesComplementSum(b, 0, 12, pseudo));
  b[6] = good >>> 8;
  b[7] = good & 0xff;
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, 0), true);
  b[11] ^= 1; // corrupt the payload
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, 0), false);
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, RX_CSUM_VALID), true);
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, RX_CSUM_PARTIAL), true);
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, RX_CSUM_MAYBE_PARTIAL), false);
  // What an offloading sender leaves: the folded pseudo-header sum in the field.
  const partial = foldSum(pseudo);
  b[6] = partial >>> 8;
  b[7] = partial & 0xff;
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, 0), false);
  assert.equal(transportChecksumOk(b, 0, 12, 6, pseudo, RX_CSUM_MAYBE_PARTIAL), true);
});
