import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { makeCounters } from "../../core/counters.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { writeFragmentHeader } from "../../net/ipv6_ext_headers.ts";
import { Ipv6Repr } from "../../net/ipv6_header.ts";
import { Ipv6Reassembler, type ReassembledIpv6 } from "../../net/ipv6_reassembly.ts";
import { IP6_COUNTERS } from "../../stack/stats.ts";

const SRC = IpAddress.parse("fd00:5::99");
const DST = IpAddress.parse("fd00:5::1");

/** A fragment: fixed header (next header 44) + fragment header + data[from, to). */
function fragment(
  data: Uint8Array,
  from: number,
  to: number,
  more: boolean,
  id: number,
  src = SRC,
) {
  const b = new Uint8Array(48 + to - from);
  const r = new Ipv6Repr();
  r.src = src;
  r.dst = DST;
  r.nextHeader = 44;
  r.payloadLength = 8 + to - from;
  r.emit(b, 0);
  writeFragmentHeader(b, 40, 17, from, more, id);
  b.set(data.subarray(from, to), 48);
  return b;
}

function setup(opts = {}) {
  const clock = new VirtualClock(1000);
  const timers = new TimerWheel({ startMs: 1000 });
  const stats = makeCounters(IP6_COUNTERS);
  const r = new Ipv6Reassembler(timers, clock, stats, opts);
  const add = (f: Uint8Array) => r.add(f, 0, 6, 40, f.length);
  const tick = (ms: number) => {
    clock.advance(ms);
    timers.advance(clock.nowMs());
  };
  return { r, stats, add, tick };
}

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);

function check(whole: ReassembledIpv6 | null, data: Uint8Array) {
  assert.ok(whole !== null);
  const b = whole.buf.subarray(whole.off, whole.off + whole.len);
  assert.equal(whole.unfragBytes, 40);
  assert.equal(whole.nextHeader, 17);
  assert.equal(b[6], 17, "the fixed header's next header now names the upper layer");
  assert.equal((b[4] << 8) | b[5], data.length);
  assert.deepEqual(b.subarray(40), data);
}

Deno.test("ipv6 reassembly: in order, out of order, exact duplicates ignored", () => {
  const { add, stats } = setup();
  const d = payload(3000);
  assert.equal(add(fragment(d, 0, 1448, true, 1)), null);
  assert.equal(add(fragment(d, 1448, 2896, true, 1)), null);
  check(add(fragment(d, 2896, 3000, false, 1)), d);
  assert.equal(add(fragment(d, 2896, 3000, false, 2)), null);
  assert.equal(add(fragment(d, 2896, 3000, false, 2)), null, "duplicate");
  assert.equal(add(fragment(d, 1448, 2896, true, 2)), null);
  check(add(fragment(d, 0, 1448, true, 2)), d);
  assert.equal(stats.ReasmFails, 0);
});

Deno.test("ipv6 reassembly: an overlap kills the datagram and its later fragments (RFC 5722)", () => {
  const { add, r, stats, tick } = setup();
  const d = payload(64);
  assert.equal(add(fragment(d, 0, 32, true, 7)), null);
  assert.equal(add(fragment(d, 16, 48, true, 7)), null);
  assert.equal(stats.ReasmOverlaps, 1);
  assert.equal(add(fragment(d, 32, 64, false, 7)), null, "completing fragments are dropped too");
  assert.equal(add(fragment(d, 0, 32, true, 7)), null);
  assert.equal(r.pending, 1);
  tick(60_000);
  assert.equal(r.pending, 0);
  assert.equal(stats.ReasmTimeout, 0, "a dead datagram is not a timeout");
  // A last fragment shorter than data already there is an inconsistency, not an overlap.
  assert.equal(add(fragment(d, 32, 64, true, 8)), null);
  assert.equal(add(fragment(d, 0, 24, false, 8)), null);
  assert.equal(stats.ReasmOverlaps, 1);
});

Deno.test("ipv6 reassembly: 60 s timeout reports the first fragment", () => {
  const { add, r, stats, tick } = setup();
  const quoted: number[] = [];
  r.onTimeout = (buf, off, len) => quoted.push(len, buf[off + 6]);
  const d = payload(100);
  add(fragment(d, 0, 48, true, 3));
  add(fragment(d, 56, 100, false, 4)); // no first fragment: no report
  tick(59_999);
  assert.equal(stats.ReasmTimeout, 0);
  tick(2);
  assert.equal(stats.ReasmTimeout, 2);
  assert.deepEqual(quoted, [96, 44]);
});

Deno.test("ipv6 reassembly: bounded; a new datagram evicts the oldest instead of being refused", () => {
  const { add, r, stats, tick } = setup({ maxDatagrams: 2 });
  const d = payload(64);
  add(fragment(d, 0, 32, true, 1));
  tick(1);
  add(fragment(d, 0, 32, true, 2));
  tick(1);
  add(fragment(d, 0, 32, true, 3)); // evicts datagram 1
  assert.equal(r.pending, 2);
  assert.equal(stats.ReasmEvictions, 1);
  assert.equal(add(fragment(d, 32, 64, false, 1)), null, "datagram 1 is gone");
  check(add(fragment(d, 32, 64, false, 3)), d);
  // Keys include the source: same id from another host is another datagram.
  add(fragment(d, 0, 32, true, 9));
  assert.equal(add(fragment(d, 32, 64, false, 9, IpAddress.parse("fd00:5::98"))), null);
});
