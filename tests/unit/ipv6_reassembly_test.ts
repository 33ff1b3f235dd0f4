import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { makeCounters } from "../../core/counters.ts";
import { TimerWheel } from "../../core/timer_wheel.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { writeFragmentHeader } from "../../net/ipv6_ext_headers.ts";
import { Ipv6Repr } from "../../net/ipv6_header.ts";
import { Ipv6Reassembler, type ReassembledIpv6 } from "../../net/ipv6_reassembly.ts";
import { IP6_COUNTERS } from "../../stack/stats.ts";
import { RX_CSUM_VALID } from "../../link/driver.ts";

const SRC = IpAddress.parse("fd00:5::99");
const DST = IpAddress.parse("fd00:5::1");

/**
 * A fragment: fixed header, optionally a destination options header (unfragmentable part),
 * then the fragment header and data[from, to).
 */
function fragment(
  data: Uint8Array,
  from: number,
  to: number,
  more: boolean,
  id: number,
  opts: { src?: IpAddress; destOpts?: boolean } = {},
) {
  const ext = opts.destOpts ? 8 : 0;
  const b = new Uint8Array(48 + ext + to - from);
  const r = new Ipv6Repr();
  r.src = opts.src ?? SRC;
  r.dst = DST;
  r.nextHeader = opts.destOpts ? 60 : 44;
  r.payloadLength = ext + 8 + to - from;
  r.emit(b, 0);
  if (opts.destOpts) b.set([44, 0, 1, 4, 0, 0, 0, 0], 40);
  writeFragmentHeader(b, 40 + ext, 17, from, more, id);
  b.set(data.subarray(from, to), 48 + ext);
  return b;
}

function setup(opts = {}) {
  const clock = new VirtualClock(1000);
  const timers = new TimerWheel({ startMs: 1000 });
  const stats = makeCounters(IP6_COUNTERS);
  const r = new Ipv6Reassembler(timers, clock, stats, opts);
  const add = (f: Uint8Array, fragOff = 40) => r.add(f, 0, fragOff, f.length);
  const tick = (ms: number) => {
    clock.advance(ms);
    timers.advance(clock.nowMs());
  };
  return { r, stats, add, tick };
}

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);

function check(whole: ReassembledIpv6 | null, data: Uint8Array, unfrag = 40) {
  assert.ok(whole !== null);
  const b = whole.buf.subarray(whole.off, whole.off + whole.len);
  assert.equal(whole.unfragBytes, unfrag);
  assert.equal(whole.nextHeader, 17);
  assert.equal(b[whole.nhFieldRel], 17, "the byte that named the fragment header names UDP");
  assert.equal((b[4] << 8) | b[5], unfrag - 40 + data.length);
  assert.deepEqual(b.subarray(unfrag), data);
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
  assert.equal(stats.ReasmDuplicates, 1);
  assert.equal(stats.ReasmFails, 0);
});

Deno.test("ipv6 reassembly: the fragment header is cut out behind an unfragmentable extension header", () => {
  const { add } = setup();
  const d = payload(100);
  assert.equal(add(fragment(d, 56, 100, false, 5, { destOpts: true }), 48), null);
  const whole = add(fragment(d, 0, 56, true, 5, { destOpts: true }), 48);
  check(whole, d, 48);
  assert.equal(whole!.nhFieldRel, 40, "the destination options header's next header");
  assert.equal(whole!.buf[whole!.off + 6], 60, "the fixed header still names it");
});

Deno.test("ipv6 reassembly: an overlap drops the datagram (RFC 5722)", () => {
  const { add, r, stats } = setup();
  const d = payload(64);
  assert.equal(add(fragment(d, 0, 32, true, 7)), null);
  assert.equal(add(fragment(d, 16, 48, true, 7)), null);
  assert.equal(stats.ReasmOverlaps, 1);
  assert.equal(r.pending, 0);
  assert.equal(add(fragment(d, 32, 64, false, 7)), null, "what is left cannot complete it");
  assert.equal(r.pending, 1);
});

Deno.test("ipv6 reassembly: 60 s timeout quotes the first fragment as it arrived", () => {
  const { add, r, stats, tick } = setup();
  const quoted: number[][] = [];
  r.onTimeout = (buf, off, len) => quoted.push([len, buf[off + 6], buf[off + 40]]);
  const d = payload(100);
  add(fragment(d, 0, 48, true, 3));
  add(fragment(d, 56, 100, false, 4)); // no first fragment: no report
  tick(59_999);
  assert.equal(stats.ReasmTimeout, 0);
  tick(2);
  assert.equal(stats.ReasmTimeout, 2);
  assert.deepEqual(quoted, [[56, 44, 17]], "fixed header, fragment header, 8 payload bytes");
});

Deno.test("ipv6 reassembly: bounded in bytes; new datagrams evict the oldest instead of being refused", () => {
  const { add, r, stats } = setup({ maxBytes: 1 });
  const d = payload(64);
  // Many sources each leave a lone first fragment; the bound (clamped to its minimum) holds.
  for (let i = 0; i < 2000; i++) {
    const src = new IpAddress(0xfd000005, 0, 0, 0x1000 + i);
    add(fragment(d, 0, 32, true, i, { src }));
  }
  assert.ok(stats.ReasmEvictions > 0);
  assert.ok(r.pending < 2000);
  // The newest one is still there and completes.
  const src = new IpAddress(0xfd000005, 0, 0, 0x1000 + 1999);
  check(add(fragment(d, 32, 64, false, 1999, { src })), d);
});

Deno.test("ipv6 reassembly: RX_CSUM_VALID stays only when every fragment had it (as IPv4)", () => {
  const { r } = setup();
  const data = payload(3000);
  const parts = [[0, 1448, true], [1448, 2896, true], [2896, 3000, false]] as const;
  for (
    const [id, flags, want] of [
      [1, [RX_CSUM_VALID, RX_CSUM_VALID, RX_CSUM_VALID], RX_CSUM_VALID],
      [2, [RX_CSUM_VALID, 0, RX_CSUM_VALID], 0],
      [3, [0, 0, 0], 0],
    ] as const
  ) {
    let whole: ReassembledIpv6 | null = null;
    parts.forEach(([from, to, more], i) => {
      const f = fragment(data, from, to, more, id);
      whole = r.add(f, 0, 40, f.length, flags[i]);
    });
    check(whole, data);
    assert.equal(whole!.rxFlags, want, `datagram ${id}`);
  }
});
