/**
 * The rtnetlink address-notification parser (`ffi/rtnetlink.ts`) on hand-built messages:
 * `RTM_NEWADDR`/`RTM_DELADDR` for both families, several messages in one datagram, and every
 * kind of length that does not fit — dropped and counted, never thrown.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  IFA_ADDRESS,
  IFA_LOCAL,
  type KernelAddressChange,
  NLMSG_DONE,
  NLMSG_OVERRUN,
  parseAddressMessages,
  RTM_DELADDR,
  RTM_NEWADDR,
} from "../../ffi/rtnetlink.ts";

const IFA_LABEL = 3;
const IFA_CACHEINFO = 6;
const IFA_FLAGS = 8;

/** One `rtattr`: its header, the payload, padding to 4 bytes. */
function attr(type: number, payload: number[]): number[] {
  const len = 4 + payload.length;
  const out = [len & 0xff, len >> 8, type & 0xff, type >> 8, ...payload];
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

/** One netlink message: `nlmsghdr` (its length = 16 + body) and the body, padded. */
function msg(type: number, body: number[], lenOverride?: number): number[] {
  const len = lenOverride ?? 16 + body.length;
  const le32 = (x: number) => [x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, (x >>> 24) & 0xff];
  const out = [...le32(len), type & 0xff, type >> 8, 0, 0, ...le32(7), ...le32(0), ...body];
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

/** An `ifaddrmsg` and attributes. */
function ifaddr(family: number, prefixLen: number, ifindex: number, attrs: number[][]): number[] {
  return [
    family,
    prefixLen,
    0,
    0,
    ifindex & 0xff,
    (ifindex >> 8) & 0xff,
    0,
    0,
    ...attrs.flat(),
  ];
}

const V4 = [198, 18, 0, 2];
const V4_PEER = [198, 18, 0, 1];
const LL6 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];
const FD6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

function parse(bytes: number[]) {
  const out: KernelAddressChange[] = [];
  const r = parseAddressMessages(new Uint8Array(bytes), bytes.length, out);
  return { ...r, out };
}

Deno.test("rtnetlink: RTM_NEWADDR and RTM_DELADDR of both families, in one datagram", () => {
  const bytes = [
    ...msg(
      RTM_NEWADDR,
      ifaddr(2, 24, 5, [
        attr(IFA_ADDRESS, V4),
        attr(IFA_LOCAL, V4),
        attr(IFA_LABEL, [...new TextEncoder().encode("us0"), 0]),
        attr(IFA_FLAGS, [0x80, 0, 0, 0]),
        attr(IFA_CACHEINFO, new Array(16).fill(0xff)),
      ]),
    ),
    ...msg(
      RTM_NEWADDR,
      ifaddr(10, 64, 5, [attr(IFA_ADDRESS, LL6), attr(IFA_FLAGS, [0x40, 0, 0, 0])]),
    ),
    ...msg(RTM_DELADDR, ifaddr(10, 64, 300, [attr(IFA_ADDRESS, FD6)])),
    ...msg(NLMSG_DONE, [0, 0, 0, 0]),
  ];
  const r = parse(bytes);
  assert.deepEqual({ changes: r.changes, ignored: r.ignored, malformed: r.malformed }, {
    changes: 3,
    ignored: 1,
    malformed: 0,
  });
  assert.equal(r.overrun, false);
  assert.deepEqual(r.out, [
    { deleted: false, family: 4, ifindex: 5, prefixLen: 24, v4: 0xc6120002, v6: null },
    {
      deleted: false,
      family: 6,
      ifindex: 5,
      prefixLen: 64,
      v4: 0,
      v6: [0xfe800000, 0, 0x001122ff, 0xfe334455],
    },
    { deleted: true, family: 6, ifindex: 300, prefixLen: 64, v4: 0, v6: [0xfd000000, 0, 0, 2] },
  ]);
});

Deno.test("rtnetlink: a point-to-point address is IFA_LOCAL, not the peer's IFA_ADDRESS", () => {
  for (const order of [[IFA_ADDRESS, IFA_LOCAL], [IFA_LOCAL, IFA_ADDRESS]]) {
    const attrs = order.map((t) => attr(t, t === IFA_LOCAL ? V4 : V4_PEER));
    const r = parse(msg(RTM_NEWADDR, ifaddr(2, 32, 1, attrs)));
    assert.equal(r.out[0].v4, 0xc6120002);
  }
});

Deno.test("rtnetlink: other families and message types are ignored, an overrun is reported", () => {
  // AF_PACKET (17) address message, an RTM_NEWLINK (16), NLMSG_OVERRUN.
  const r = parse([
    ...msg(RTM_NEWADDR, ifaddr(17, 0, 1, [attr(IFA_ADDRESS, [1, 2, 3, 4, 5, 6])])),
    ...msg(16, new Array(16).fill(0)),
    ...msg(NLMSG_OVERRUN, []),
  ]);
  assert.deepEqual([r.changes, r.ignored, r.malformed, r.overrun], [0, 2, 0, true]);
  assert.deepEqual(r.out, []);
});

Deno.test("rtnetlink: truncated and garbage datagrams are dropped and counted, never thrown", () => {
  const good = msg(RTM_NEWADDR, ifaddr(2, 24, 5, [attr(IFA_LOCAL, V4)]));
  // Cut anywhere inside the message: the header's length runs past the bytes.
  for (let cut = 1; cut < good.length; cut++) {
    const r = parse(good.slice(0, cut));
    assert.deepEqual([r.changes, r.malformed], [0, 1], `cut at ${cut}`);
  }
  // A good message, then a cut one: the first is kept.
  let r = parse([...good, ...good.slice(0, 20)]);
  assert.deepEqual([r.changes, r.malformed], [1, 1]);
  // nlmsg_len shorter than a header (would loop forever if taken), or zero.
  for (const len of [0, 4, 15]) {
    r = parse(msg(RTM_NEWADDR, ifaddr(2, 24, 5, [attr(IFA_LOCAL, V4)]), len));
    assert.deepEqual([r.changes, r.malformed], [0, 1], `nlmsg_len ${len}`);
  }
  // Too short for an ifaddrmsg: this message dropped, the next one still read.
  r = parse([...msg(RTM_NEWADDR, [2, 24, 0, 0]), ...good]);
  assert.deepEqual([r.changes, r.malformed], [1, 1]);
  // An attribute whose length runs past the message, or is below its header.
  for (const rtaLen of [200, 3, 0]) {
    const bad = ifaddr(2, 24, 5, [attr(IFA_LOCAL, V4)]);
    bad[8] = rtaLen;
    r = parse([...msg(RTM_NEWADDR, bad), ...good]);
    assert.deepEqual([r.changes, r.malformed], [1, 1], `rta_len ${rtaLen}`);
  }
  // An address of the wrong length for its family, and a message with no address.
  r = parse([
    ...msg(RTM_NEWADDR, ifaddr(2, 24, 5, [attr(IFA_LOCAL, FD6)])),
    ...msg(RTM_DELADDR, ifaddr(10, 64, 5, [attr(IFA_ADDRESS, V4)])),
    ...msg(RTM_NEWADDR, ifaddr(10, 64, 5, [attr(IFA_FLAGS, [0, 0, 0, 0])])),
  ]);
  assert.deepEqual([r.changes, r.malformed], [0, 3]);
  // A length beyond the buffer handed in (len larger than the bytes): only the bytes count.
  const out: KernelAddressChange[] = [];
  r = { ...parseAddressMessages(new Uint8Array(good.slice(0, 10)), 4096, out), out };
  assert.deepEqual([r.changes, r.malformed], [0, 1]);
  // Seeded garbage: never throws, every change it finds is well-formed.
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 2000; i++) {
    const bytes = Array.from({ length: 16 + (rand() % 96) }, rand);
    // Half of them with a plausible header, so the parser gets past the first check.
    if (i % 2 === 0) {
      bytes[0] = bytes.length;
      bytes[1] = bytes[2] = bytes[3] = 0;
      bytes[4] = i % 4 === 0 ? RTM_NEWADDR : RTM_DELADDR;
      bytes[5] = 0;
      bytes[16] = i % 8 === 0 ? 2 : 10;
    }
    const got = parse(bytes);
    for (const c of got.out) {
      assert.ok(c.family === 4 ? c.v6 === null : c.v6 !== null && c.v6.length === 4);
    }
  }
});
