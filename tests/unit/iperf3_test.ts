// The iperf3 protocol pieces that must match the real tool byte for byte and number for number.

import assert from "node:assert/strict";
import {
  makeCookie,
  paramsFromJson,
  paramsToJson,
  streamIds,
  UdpReceiveStats,
  writeUdpHeader,
} from "../../cli/iperf3_protocol.ts";
import { formatBytes, formatRate } from "../../cli/iperf3_report.ts";
import { parseSuffixed } from "../../cli/iperf3.ts";

Deno.test("iperf3: cookies, stream numbers and parameters as iperf3 3.x has them", () => {
  const c = makeCookie();
  assert.equal(c.length, 37);
  assert.equal(c[36], 0);
  assert.match(new TextDecoder().decode(c.subarray(0, 36)), /^[a-z2-7]{36}$/);
  assert.deepEqual(streamIds(4), [1, 3, 4, 5]);
  const p = paramsFromJson({
    udp: true,
    time: 3,
    parallel: 2,
    len: 1400,
    bandwidth: 5e6,
    reverse: true,
  });
  assert.deepEqual(p, {
    protocol: "udp",
    time: 3,
    parallel: 2,
    len: 1400,
    reverse: true,
    bandwidth: 5e6,
    udpCounters64: false,
  });
  assert.deepEqual(paramsFromJson(paramsToJson(p)), p);
  assert.equal(paramsFromJson({ tcp: true }).len, 131072);
});

Deno.test("iperf3: UDP loss, reordering and jitter accounting", () => {
  const s = new UdpReceiveStats();
  const d = new Uint8Array(100);
  for (const seq of [1, 2, 4, 5, 3, 8]) {
    writeUdpHeader(d, performance.now(), seq, false);
    s.receive(d, d.length, performance.now(), false);
  }
  assert.equal(s.packetCount, 8);
  assert.equal(s.outOfOrder, 1);
  assert.equal(s.lost, 2, "3 came late (not lost), 6 and 7 are missing");
  assert.equal(s.bytes, 600);
  assert.ok(s.jitter >= 0 && s.jitter < 0.1);
});

Deno.test("iperf3: units as iperf3 prints them", () => {
  assert.equal(formatBytes(870318080), " 830 MBytes");
  assert.equal(formatBytes(1.63 * 2 ** 30), "1.63 GBytes");
  assert.equal(formatRate(6.95e9), "6.95 Gbits/sec");
  assert.equal(formatRate(941e6), " 941 Mbits/sec");
  assert.equal(parseSuffixed("10M", 1000), 10_000_000);
  assert.equal(parseSuffixed("128K", 1024), 131072);
  assert.ok(Number.isNaN(parseSuffixed("fast", 1000)));
});
