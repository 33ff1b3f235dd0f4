import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { PathMtuCache, plateauBelow } from "../../net/path_mtu.ts";

const V4 = IpAddress.parse("198.18.1.1");
const V6 = IpAddress.parse("fd00:9::1");

Deno.test("path mtu: lowered, never raised, floored per family; counted", () => {
  const clock = new VirtualClock(1000);
  const c = new PathMtuCache(clock);
  assert.equal(c.mtuFor(V4, 1500), 1500);
  assert.equal(c.lower(V4, 1400, 1500), 1400);
  assert.equal(c.lower(V4, 1450, 1500), 0, "not lower than what is in force");
  assert.equal(c.lower(V4, 1600, 1500), 0);
  assert.equal(c.mtuFor(V4, 1500), 1400);
  assert.equal(c.mtuFor(V4, 1300), 1300, "a smaller link wins");
  assert.equal(c.lower(V4, 100, 1500), 552, "IPv4 floor: Linux min_pmtu");
  assert.equal(c.lower(V6, 600, 1500), 0, "RFC 8201 §4: below 1280 is discarded");
  assert.equal(c.mtuFor(V6, 1500), 1500);
  assert.equal(c.lower(V6, 1280, 1500), 1280);
  assert.equal(c.lower(V6, 1400, 1500), 0);
  assert.deepEqual(
    { ...c.stats },
    { Updates: 3, Ignored: 4, Floored: 1, PlateauGuesses: 0, Expired: 0, Evictions: 0 },
  );
  assert.equal(new PathMtuCache(clock, { floorV4: 68 }).lower(V4, 68, 1500), 68);
});

Deno.test("path mtu: an entry expires after 10 minutes (RFC 1191 §6.3)", () => {
  const clock = new VirtualClock(1000);
  const c = new PathMtuCache(clock);
  c.lower(V4, 1200, 1500);
  clock.advance(599_999);
  assert.equal(c.mtuFor(V4, 1500), 1200);
  clock.advance(1);
  assert.equal(c.mtuFor(V4, 1500), 1500);
  assert.equal(c.size, 0);
  assert.equal(c.stats.Expired, 1);
  // Lowering again restarts the 10 minutes.
  c.lower(V4, 1200, 1500);
  clock.advance(300_000);
  c.lower(V4, 1100, 1500);
  clock.advance(500_000);
  assert.equal(c.mtuFor(V4, 1500), 1100);
});

Deno.test("path mtu: bounded; the least recently lowered destination makes room", () => {
  const clock = new VirtualClock(1000);
  const c = new PathMtuCache(clock, { maxEntries: 3 });
  const dst = (i: number) => IpAddress.parse(`198.18.2.${i}`);
  for (let i = 1; i <= 3; i++) {
    c.lower(dst(i), 1400, 1500);
    clock.advance(10);
  }
  c.lower(dst(1), 1300, 1500); // refreshed: now the newest
  clock.advance(10);
  c.lower(dst(4), 1400, 1500);
  assert.equal(c.size, 3);
  assert.equal(c.stats.Evictions, 1);
  assert.equal(c.mtuFor(dst(2), 1500), 1500, "the oldest went");
  assert.equal(c.mtuFor(dst(1), 1500), 1300);
  assert.equal(c.mtuFor(dst(3), 1500), 1400);
  assert.equal(c.mtuFor(dst(4), 1500), 1400);
});

Deno.test("path mtu: RFC 1191 plateaus for a router that reports no MTU", () => {
  assert.equal(plateauBelow(1500), 1492);
  assert.equal(plateauBelow(1492), 1006);
  assert.equal(plateauBelow(9000), 8166);
  assert.equal(plateauBelow(68), 68);
  const c = new PathMtuCache(new VirtualClock());
  assert.equal(c.reportedMtuV4(1200, 1500), 1200);
  assert.equal(c.reportedMtuV4(0, 1500), 1492, "RFC 792 router: no MTU");
  assert.equal(c.reportedMtuV4(1500, 1500), 1492, "not below the datagram: bogus");
  assert.equal(c.stats.PlateauGuesses, 2);
});
