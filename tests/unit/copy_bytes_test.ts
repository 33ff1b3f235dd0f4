import assert from "node:assert/strict";
import { copyBytes, SMALL_COPY_BYTES } from "../../core/copy_bytes.ts";

Deno.test("copyBytes: loop, view and whole-array paths copy the same bytes, nothing else", () => {
  for (const len of [1, SMALL_COPY_BYTES, SMALL_COPY_BYTES + 1, 1500]) {
    const src = Uint8Array.from({ length: len + 7 }, (_, i) => (i * 31 + 7) & 255);
    const dst = new Uint8Array(len + 20).fill(0xee);
    copyBytes(src, 3, dst, 5, len);
    assert.deepEqual(dst.subarray(5, 5 + len), src.subarray(3, 3 + len), `len ${len}`);
    assert.ok(dst.subarray(0, 5).every((b) => b === 0xee), "nothing before");
    assert.ok(dst.subarray(5 + len).every((b) => b === 0xee), "nothing after");
    const whole = src.subarray(0, len).slice();
    const dst2 = new Uint8Array(len + 2);
    copyBytes(whole, 0, dst2, 2, len);
    assert.deepEqual(dst2.subarray(2), whole);
  }
});
