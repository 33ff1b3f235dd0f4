// `bench/tx_ab.ts --streams N`: the value's parsing and the `uperf client` flags it adds (none
// for one connection, so other checkouts' command lines stay as they were).

import assert from "node:assert/strict";
import { MAX_STREAMS, streamFlags, streamsOption } from "../../bench/tx_ab.ts";

Deno.test("tx_ab --streams: whole numbers from 1 to the cap, 1 when not given", () => {
  assert.equal(streamsOption(undefined), 1);
  assert.equal(streamsOption("1"), 1);
  assert.equal(streamsOption("16"), 16);
  assert.equal(streamsOption(String(MAX_STREAMS)), MAX_STREAMS);
  for (const bad of ["0", "-4", "2.5", "4x", "", " ", "1e1", String(MAX_STREAMS + 1)]) {
    assert.throws(() => streamsOption(bad), /--streams/, `"${bad}"`);
  }
});

Deno.test("tx_ab --streams: uperf client's -P only for several connections", () => {
  assert.deepEqual(streamFlags(1), []);
  assert.deepEqual(streamFlags(4), ["-P", "4"]);
  assert.deepEqual(streamFlags(16), ["-P", "16"]);
});
