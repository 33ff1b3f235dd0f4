import assert from "node:assert/strict";
import { SeededRandom } from "../../core/random.ts";

Deno.test("SeededRandom: fillFloats draws the same stream as nextFloat, in order", () => {
  const a = new SeededRandom(7);
  const b = new SeededRandom(7);
  const out = new Float64Array(4);
  for (let round = 0; round < 1000; round++) {
    b.fillFloats(out, 4);
    for (let i = 0; i < 4; i++) assert.equal(out[i], a.nextFloat());
  }
  // …and leaves the stream where four nextFloat calls would.
  assert.equal(b.nextU32(), a.nextU32());
});

Deno.test("SeededRandom: outputs stay unsigned 32-bit words and floats in [0, 1)", () => {
  const r = new SeededRandom(1);
  let high = 0;
  for (let i = 0; i < 10_000; i++) {
    const u = r.nextU32();
    assert.ok(Number.isInteger(u) && u >= 0 && u < 2 ** 32, `${u}`);
    if (u >= 2 ** 31) high++;
    const f = r.nextFloat();
    assert.ok(f >= 0 && f < 1, `${f}`);
  }
  assert.ok(high > 4_000 && high < 6_000, `${high} of 10000 at or above 2**31`);
});
