import assert from "node:assert/strict";
import { PEER_ADDR, RIG_ADDR, TcpRig } from "../harness/tcp_rig.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { isPartialChecksum, type TxOffload } from "../../link/driver.ts";
import {
  finishPartialChecksum,
  foldSum,
  pseudoHeaderSumV4,
  verifyChecksum,
} from "../../net/checksum.ts";
import { ETH_HEADER_BYTES } from "../../link/ethernet.ts";

/** A UDP frame the rig's link was handed, with the offload it asked for. */
interface UdpFrame {
  frame: Uint8Array;
  needsCsum: boolean;
  csumStart: number;
  csumOffset: number;
  gsoType: number;
  gsoSize: number;
}

/** A rig whose link offloads checksums, recording every IPv4/UDP frame it transmits. */
function udpRig(ufo = false): { rig: TcpRig; frames: UdpFrame[] } {
  const rig = new TcpRig({ tsoBytes: 65_536, ufo });
  assert.equal(rig.link.capabilities.txChecksumOffload, true);
  const frames: UdpFrame[] = [];
  const transmit = rig.link.transmit.bind(rig.link);
  rig.link.transmit = (frame: Uint8Array, off: number, len: number, o: TxOffload | null) => {
    if (frame[off + 12] === 0x08 && frame[off + 13] === 0x00 && frame[off + 23] === 17) {
      frames.push({
        frame: frame.slice(off, off + len),
        needsCsum: o !== null && o.needsCsum,
        csumStart: o?.csumStart ?? 0,
        csumOffset: o?.csumOffset ?? 0,
        gsoType: o?.gsoType ?? 0,
        gsoSize: o?.gsoSize ?? 0,
      });
    }
    return transmit(frame, off, len, o);
  };
  return { rig, frames };
}

const UDP_AT = ETH_HEADER_BYTES + 20;

/** True when the UDP checksum of an unfragmented frame verifies. */
function udpChecksumOk(f: Uint8Array): boolean {
  const udpLen = (f[UDP_AT + 4] << 8) | f[UDP_AT + 5];
  const pseudo = pseudoHeaderSumV4(RIG_ADDR, PEER_ADDR, 17, udpLen);
  return verifyChecksum(f, UDP_AT, udpLen, pseudo);
}

Deno.test("udp: a datagram that fits one frame leaves its checksum to the link's offload", () => {
  const { rig, frames } = udpRig();
  const ep = rig.stack.udp.open(4);
  ep.bind(null, 0);
  const dst = IpAddress.v4(PEER_ADDR);
  const payload = new Uint8Array(1000).map((_, i) => i * 7);

  // Neighbour unknown: the datagram waits for ARP with its checksum finished in software
  // (the neighbour queue keeps no offload request), and is not lost.
  ep.sendto(payload, 0, payload.length, dst, 9);
  rig.tick();
  assert.equal(frames.length, 1);
  assert.equal(frames[0].needsCsum, false);
  assert.ok(udpChecksumOk(frames[0].frame), "finished checksum verifies");

  // Neighbour known: the frame goes out with a partial checksum and NEEDS_CSUM offsets.
  ep.sendto(payload, 0, payload.length, dst, 9);
  rig.tick();
  assert.equal(frames.length, 2);
  const f = frames[1];
  assert.equal(f.needsCsum, true);
  assert.equal(f.gsoType, 0);
  assert.equal(f.csumStart, UDP_AT);
  assert.equal(f.csumOffset, 6);
  const field = (f.frame[UDP_AT + 6] << 8) | f.frame[UDP_AT + 7];
  const pseudo = pseudoHeaderSumV4(RIG_ADDR, PEER_ADDR, 17, payload.length + 8);
  assert.ok(isPartialChecksum(field, foldSum(pseudo)), "field holds the pseudo-header sum");
  assert.equal(udpChecksumOk(f.frame), false, "not a finished checksum");
  finishPartialChecksum(f.frame, 0, f.frame.length, f.csumStart, f.csumOffset);
  assert.ok(udpChecksumOk(f.frame), "what the link finishes verifies");
  assert.deepEqual(f.frame.subarray(UDP_AT + 8), payload);
  assert.equal(rig.stack.stats.ip.OutDiscards, 0);
});

Deno.test("udp: a fragmented datagram is summed in software (fragments cannot be offloaded)", () => {
  const { rig, frames } = udpRig();
  const ep = rig.stack.udp.open(4);
  ep.bind(null, 0);
  const dst = IpAddress.v4(PEER_ADDR);
  ep.sendto(new Uint8Array(1), 0, 1, dst, 9); // resolve the neighbour first
  rig.tick();
  frames.length = 0;
  const payload = new Uint8Array(3000).map((_, i) => i * 13);
  ep.sendto(payload, 0, payload.length, dst, 9);
  rig.tick();
  assert.equal(frames.length, 3, "1500-byte MTU: three fragments");
  for (const f of frames) assert.equal(f.needsCsum, false);
  // Reassemble the UDP datagram from the fragments' payloads and verify its checksum.
  const udp = new Uint8Array(payload.length + 8);
  for (const f of frames) {
    const fragOff =
      (((f.frame[ETH_HEADER_BYTES + 6] & 0x1f) << 8) | f.frame[ETH_HEADER_BYTES + 7]) *
      8;
    const ipLen = (f.frame[ETH_HEADER_BYTES + 2] << 8) | f.frame[ETH_HEADER_BYTES + 3];
    udp.set(f.frame.subarray(UDP_AT, ETH_HEADER_BYTES + ipLen), fragOff);
  }
  const pseudo = pseudoHeaderSumV4(RIG_ADDR, PEER_ADDR, 17, udp.length);
  assert.ok(verifyChecksum(udp, 0, udp.length, pseudo));
  assert.deepEqual(udp.subarray(8), payload);
});

Deno.test("udp: over a UFO link a datagram longer than the MTU leaves as one frame", () => {
  const { rig, frames } = udpRig(true);
  const ep = rig.stack.udp.open(4);
  ep.bind(null, 0);
  const dst = IpAddress.v4(PEER_ADDR);
  const payload = new Uint8Array(8900).map((_, i) => i * 11);
  // Neighbour unknown: the ARP queue keeps no offload request, so the datagram is summed and
  // fragmented here (seven fragments at MTU 1500), not lost.
  ep.sendto(payload, 0, payload.length, dst, 9);
  rig.tick();
  assert.equal(frames.length, 7);
  for (const f of frames) assert.deepEqual([f.needsCsum, f.gsoType], [false, 0]);
  frames.length = 0;
  // Neighbour known: one frame of 14 + 20 + 8 + 8,900 bytes, GSO_UDP (3) with 1,480-byte
  // fragments, the checksum partial; the IPv4 header is that of the whole datagram.
  ep.sendto(payload, 0, payload.length, dst, 9);
  rig.tick();
  assert.equal(frames.length, 1);
  const f = frames[0];
  assert.equal(f.frame.length, ETH_HEADER_BYTES + 20 + 8 + 8900);
  assert.deepEqual([f.gsoType, f.gsoSize, f.needsCsum], [3, 1480, true]);
  assert.deepEqual([f.csumStart, f.csumOffset], [UDP_AT, 6]);
  const ip = ETH_HEADER_BYTES;
  assert.equal((f.frame[ip + 2] << 8) | f.frame[ip + 3], 20 + 8 + 8900, "total length");
  assert.equal((f.frame[ip + 6] << 8) | f.frame[ip + 7], 0, "no DF, no MF, offset 0");
  finishPartialChecksum(f.frame, 0, f.frame.length, f.csumStart, f.csumOffset);
  assert.ok(udpChecksumOk(f.frame));
  assert.deepEqual(f.frame.subarray(UDP_AT + 8), payload);
  // A socket that does not let its datagrams be fragmented gets EMSGSIZE, as before.
  ep.dontFragment = true;
  assert.throws(() => ep.sendto(payload, 0, payload.length, dst, 9), /EMSGSIZE/);
  // Without UFO on the link the same datagram is fragmented here.
  const plain = udpRig(false);
  const ep2 = plain.rig.stack.udp.open(4);
  ep2.bind(null, 0);
  ep2.sendto(new Uint8Array(1), 0, 1, dst, 9);
  plain.rig.tick();
  plain.frames.length = 0;
  ep2.sendto(payload, 0, payload.length, dst, 9);
  plain.rig.tick();
  assert.equal(plain.frames.length, 7);
});
