import assert from "node:assert/strict";
import {
  COOKIE_MSS_TABLE,
  COOKIE_MSS_TABLE_V6,
  CookieOptions,
  decodeTimestampOptions,
  encodeTimestampOptions,
  SynCookies,
} from "../../transport/tcp/syn_cookie.ts";
import { TupleHash } from "../../transport/tcp/isn.ts";
import { type IpAddr, IpAddress } from "../../net/ip_address.ts";

const K1 = new Uint32Array([1, 2, 3, 4]);
const K2 = new Uint32Array([5, 6, 7, 8]);
const LA = 0xc6120002, LP = 80, RA = 0xc6120001, RP = 40000;
const H1 = new TupleHash(K1);

/** The cookie check with the tuple hash the layer would supply. */
function check(
  c: SynCookies,
  la: number | IpAddr,
  lp: number,
  ra: number | IpAddr,
  rp: number,
  irs: number,
  cookie: number,
  now: number,
  o: CookieOptions,
  tsEcr = -1,
  tsNow = 0,
): boolean {
  const l = typeof la === "number" ? IpAddress.v4(la) : la;
  const r = typeof ra === "number" ? IpAddress.v4(ra) : ra;
  return c.check(l, lp, r, rp, H1.hashIp(l, lp, r, rp, 0), irs, cookie, now, o, tsEcr, tsNow);
}

/** A cookie with the tuple hash the layer would supply (IPv4 `LA`, `RA` unless given). */
function make(
  c: SynCookies,
  irs: number,
  mss: number,
  now: number,
  rp = RP,
  la: IpAddr = IpAddress.v4(LA),
  ra: IpAddr = IpAddress.v4(RA),
): number {
  return c.make(la, LP, ra, rp, H1.hashIp(la, LP, ra, rp, 0), irs, mss, now);
}

Deno.test("SYN cookie over IPv6: the whole addresses are hashed, the MSS from the IPv6 table", () => {
  const c = new SynCookies(K2);
  const o = new CookieOptions();
  const la = IpAddress.parse("fd00:5::2"), ra = IpAddress.parse("fd00:5::1");
  for (const [peer, want] of [[1440, 1440], [1500, 1440], [9000, 8940], [1280, 1220], [0, 1220]]) {
    const iss = make(c, 77, peer, 120_000, RP, la, ra);
    assert.ok(check(c, la, LP, ra, RP, 77, iss, 120_000, o), `mss ${peer}`);
    assert.equal(o.mss, want);
    assert.ok(COOKIE_MSS_TABLE_V6.includes(o.mss));
  }
  const iss = make(c, 77, 1440, 120_000, RP, la, ra);
  // Another address differing only in the high words (the IPv4 low word alone would match).
  const other = IpAddress.parse("fd00:6::1");
  assert.equal(check(c, la, LP, other, RP, 77, iss, 120_000, o), false, "other prefix");
  assert.equal(check(c, la, LP, IpAddress.v4(1), RP, 77, iss, 120_000, o), false, "IPv4 peer");
});

Deno.test("SYN cookie: made and checked, carrying the largest table MSS not above the peer's", () => {
  const c = new SynCookies(K2);
  const o = new CookieOptions();
  for (const [peer, want] of [[0, 536], [536, 536], [1400, 1300], [1460, 1460], [8960, 1460]]) {
    const iss = make(c, 0xfffffff0, peer, 3_600_000);
    assert.ok(check(c, LA, LP, RA, RP, 0xfffffff0, iss, 3_600_000, o), `mss ${peer}`);
    assert.equal(o.mss, want);
    assert.equal(o.timestamps, false);
    assert.equal(o.windowScale, -1);
  }
  assert.deepEqual(COOKIE_MSS_TABLE, [536, 1300, 1440, 1460]);
});

Deno.test("SYN cookie: good for two minutes, then stale; another tuple, ISN or key fails", () => {
  const c = new SynCookies(K2);
  const o = new CookieOptions();
  const t0 = 10 * 60_000 + 59_000; // late in a minute
  const iss = make(c, 1000, 1460, t0);
  assert.ok(check(c, LA, LP, RA, RP, 1000, iss, t0 + 1_000, o)); // next minute
  assert.ok(check(c, LA, LP, RA, RP, 1000, iss, t0 + 60_000, o));
  assert.equal(check(c, LA, LP, RA, RP, 1000, iss, t0 + 61_001, o), false, "stale");
  assert.equal(check(c, LA, LP, RA, RP + 1, 1000, iss, t0, o), false, "other port");
  assert.equal(check(c, LA, LP, RA + 1, RP, 1000, iss, t0, o), false, "other address");
  assert.equal(check(c, LA, LP, RA, RP, 1100, iss, t0, o), false, "other ISN");
  assert.equal(check(c, LA, LP, RA, RP, 1000, iss + 1, t0, o), false, "forged");
  assert.equal(check(new SynCookies(), LA, LP, RA, RP, 1000, iss, t0, o), false, "other key");
  // A blind guess almost never passes: count over many random cookies.
  let passed = 0;
  for (let i = 0; i < 20_000; i++) {
    const guess = (Math.random() * 2 ** 32) >>> 0;
    if (check(c, LA, LP, RA, RP, 1000, guess, t0, o)) passed++;
  }
  assert.ok(passed <= 2, `${passed} of 20000 guesses passed`);
});

Deno.test("SYN cookie timestamps: window shift, SACK and ECN in TSval's low 6 bits, never ahead", () => {
  const o = new CookieOptions();
  for (const ts of [1_000_000, 0x7fffffc0, 0xffffffff, 5]) {
    for (const [ws, sack, ecn] of [[7, true, false], [-1, false, true], [0, true, true]] as const) {
      const v = encodeTimestampOptions(ts, ws, sack, ecn);
      assert.ok(((ts - v) >>> 0) < 64, "within 64 ticks before now, never after");
      assert.ok(decodeTimestampOptions(v, ts, o));
      assert.deepEqual([o.windowScale, o.sack, o.ecn, o.timestamps], [ws, sack, ecn, true]);
    }
  }
  // A TSecr from the future is not ours.
  assert.equal(decodeTimestampOptions(2000, 1000, o), false);
  // Through the cookie check with an echoed timestamp.
  const c = new SynCookies(K2);
  const iss = make(c, 7, 1460, 0);
  const tsVal = encodeTimestampOptions(123_456, 9, true, false);
  assert.ok(check(c, LA, LP, RA, RP, 7, iss, 0, o, tsVal, 123_460));
  assert.deepEqual([o.mss, o.windowScale, o.sack, o.timestamps], [1460, 9, true, true]);
});
