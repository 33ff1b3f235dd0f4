// The SYN-ACK bytes the syncache writes, pinned: the same four-tuples, sequence numbers,
// options, secrets and time give the same TCP segment, byte for byte, as the code before
// `cookie9s` (which moved the cookie path's numbers from arguments into a record's fields:
// bench/README.md). A cookie (with and without timestamps, with ECN) and a half-open record's
// SYN-ACK and its retransmission, sequence numbers and TSvals above 2**31. The expected bytes
// were written by this test on the code before that change (`WRITE_GOLDEN=1` prints them).

import assert from "node:assert/strict";
import { PEER_ADDR, SERVICE_PORT, TcpRig } from "../harness/tcp_rig.ts";
import { TCP_FLAG_SYN } from "../../transport/tcp/header.ts";

const ISN_SECRET = new Uint32Array([0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210]);
const COOKIE_SECRET = new Uint32Array([0x0badf00d, 0xdeadbeef, 0x13579bdf, 0x2468ace0]);
/** SYN with ECE and CWR (RFC 3168 §6.1.1: asks for ECN). */
const SYN_ECN = TCP_FLAG_SYN | 0x40 | 0x80;

/** The TCP segments (from the IP payload on) of the IPv4 frames `rig` sends, in hex. */
function capture(rig: TcpRig): string[] {
  const out: string[] = [];
  const link = rig.link;
  const record = link.transmit.bind(link);
  link.transmit = (frame, off, len, offload) => {
    if (frame[off + 12] === 0x08 && frame[off + 13] === 0x00) {
      const ihl = (frame[off + 14] & 0x0f) * 4;
      const tcp = frame.subarray(off + 14 + ihl, off + len);
      out.push([...tcp].map((b) => b.toString(16).padStart(2, "0")).join(""));
    }
    return record(frame, off, len, offload);
  };
  return out;
}

function rigWith(syncookies: 0 | 1 | 2): TcpRig {
  const rig = new TcpRig({
    tcp: { syncookies, isnSecret: ISN_SECRET, synCookieSecret: COOKIE_SECRET },
  });
  rig.stack.tcp.listen(null, SERVICE_PORT, 8);
  rig.advance(0.5); // fractional milliseconds, as the real clock reads
  return rig;
}

const OPTS = { mss: 1460, sackPermitted: true, windowScale: 7 } as const;

function cookieSegments(): string[] {
  const rig = rigWith(2);
  const out = capture(rig);
  rig.inject({
    src: PEER_ADDR,
    srcPort: 40001,
    seq: 0x9e3779b9,
    flags: TCP_FLAG_SYN,
    ...OPTS,
    ts: [0xc0000001, 0],
  });
  rig.advance(61_000); // the next cookie minute
  rig.inject({
    src: PEER_ADDR,
    srcPort: 40002,
    seq: 0xfffffff0,
    flags: SYN_ECN,
    ...OPTS,
    ts: [0x80000000, 0],
  });
  rig.inject({ src: PEER_ADDR, srcPort: 40003, seq: 0x7fffffff, flags: TCP_FLAG_SYN, mss: 1300 });
  rig.inject({ src: PEER_ADDR, srcPort: 40004, seq: 0x40000000, flags: TCP_FLAG_SYN });
  rig.tick();
  return out;
}

function recordSegments(): string[] {
  const rig = rigWith(1);
  const out = capture(rig);
  rig.inject({
    src: PEER_ADDR,
    srcPort: 40005,
    seq: 0xdeadbeef,
    flags: SYN_ECN,
    ...OPTS,
    ts: [0xf0000000, 0],
  });
  rig.inject({ src: PEER_ADDR, srcPort: 40006, seq: 0x12345678, flags: TCP_FLAG_SYN, mss: 536 });
  rig.advance(1_000); // the SYN-ACKs' first retransmission
  rig.tick();
  return out;
}

const GOLDEN_COOKIE: string[] = [
  "00509c41e8e73a8d9e3779baa012ffff04fc0000020405b40402080afa3a2497c000000101030307",
  "00509c42441a3b53fffffff1a052ffff6abf0000020405b40402080a7b5f39778000000001030307",
  "00509c438ae1164d800000006012ffff4e2c0000020405b4",
  "00509c44b369e99b400000016012ffff92530000020405b4",
];
const GOLDEN_RECORD: string[] = [
  "00509c455899daeedeadbef0a052ffffecaf0000020405b40402080a7720f9faf000000001030307",
  "00509c464db48c0b123456796012ffff2ceb0000020405b4",
  "00509c455899daeedeadbef0a052ffffe8c70000020405b40402080a7720fde2f000000001030307",
  "00509c464db48c0b123456796012ffff2ceb0000020405b4",
];

Deno.test("syn-ack wire: a SYN cookie's SYN-ACK is byte for byte the earlier code's", () => {
  const got = cookieSegments();
  if (Deno.env.get("WRITE_GOLDEN")) console.log("COOKIE", JSON.stringify(got));
  assert.equal(got.length, 4);
  assert.deepEqual(got, GOLDEN_COOKIE);
});

Deno.test("syn-ack wire: a half-open record's SYN-ACK and its resend are the earlier code's", () => {
  const got = recordSegments();
  if (Deno.env.get("WRITE_GOLDEN")) console.log("RECORD", JSON.stringify(got));
  assert.equal(got.length, 4);
  assert.deepEqual(got, GOLDEN_RECORD);
});
